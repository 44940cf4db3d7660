/*
 * handler_token.c - POST /token, RFC 6749: the password grant (4.3) and
 * the refresh_token grant (6) with rotation and reuse detection.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "context.h"
#include "handlers.h"
#include "http.h"
#include "issue.h"
#include "log.h"
#include "login.h"
#include "store.h"
#include "users.h"

/* RFC 6749 5.2 error response. */
static void
token_error(struct request *req, unsigned status, const char *error,
    const char *description)
{
	http_reply_json(&req->res, status, json_pack("{s:s, s:s}", "error", error,
	    "error_description", description));
	http_set_header(&req->res, "Cache-Control", "no-store");
	http_set_header(&req->res, "Pragma", "no-cache");
}

static void
token_success(struct request *req, const struct issued *is)
{
	http_reply_json(&req->res, 200, issue_oauth2_body(is, 1));
	http_set_header(&req->res, "Cache-Control", "no-store");
	http_set_header(&req->res, "Pragma", "no-cache");
}

/* The scope to grant: the request's, which must be within allowed. */
static int
token_scope(struct request *req, const char *requested, const char *allowed,
    const char **grant)
{
	if (requested == NULL) {
		*grant = allowed;
		return 0;
	}
	if (!issue_scope_subset(requested, allowed)) {
		token_error(req, 400, "invalid_scope",
		    "The requested scope exceeds what was granted");
		return -1;
	}
	*grant = requested;
	return 0;
}

/* The login_done_fn of the password grant (on a hash worker). */
static void
token_password_done(struct request *req, const struct user *user,
    const char *scope)
{
	struct context *ctx = req->ctx;
	struct issued   is;
	const char     *grant;
	char           *allowed;

	if (user == NULL) {
		token_error(req, 400, "invalid_grant", "Invalid username or password");
		return;
	}
	allowed = issue_join(&user->scopes);
	if (token_scope(req, scope, allowed, &grant) == 0) {
		if (issue_tokens(ctx, user, grant, ctx->cfg->oauth2.refresh_tokens,
		    NULL, &is) == -1)
			token_error(req, 500, "server_error", "Cannot issue a token");
		else
			token_success(req, &is);
		issued_free(&is);
	}
	free(allowed);
}

static void
token_refresh(struct request *req, json_t *form)
{
	struct context      *ctx = req->ctx;
	const char          *rt = json_string_value(json_object_get(form, "refresh_token"));
	const char          *scope = json_string_value(json_object_get(form, "scope"));
	const struct user   *user;
	struct store_refresh r;
	struct issued        is;
	unsigned char        hash[32];
	const char          *grant;
	int                  rc;

	if (rt == NULL || *rt == '\0') {
		token_error(req, 400, "invalid_request", "refresh_token is required");
		return;
	}
	issue_refresh_hash(rt, hash);
	rc = store_refresh_use(ctx->services->store, hash, clock_now(), &r);
	if (rc == -1) {
		log_error("store: cannot use a refresh token");
		token_error(req, 503, "temporarily_unavailable", "Store unavailable");
		return;
	}
	if (rc == 2)
		log_warn("refresh token reused: family revoked (sub %s)", r.sub);
	if (rc != 0) {
		token_error(req, 400, "invalid_grant",
		    "The refresh token is invalid, expired or revoked");
		return;
	}
	user = users_find(ctx->users, r.sub);
	if (user == NULL || user->disabled) {
		store_family_revoke(ctx->services->store, r.family, clock_now());
		token_error(req, 400, "invalid_grant",
		    "The refresh token is invalid, expired or revoked");
		return;
	}
	if (token_scope(req, scope, r.scope, &grant) == -1)
		return;
	if (issue_tokens(ctx, user, grant, 1, r.family, &is) == -1)
		token_error(req, 500, "server_error", "Cannot issue a token");
	else
		token_success(req, &is);
	issued_free(&is);
}

void
handler_token(struct request *req)
{
	const struct config *cfg = req->ctx->cfg;
	char                 type[64];
	json_t              *form;
	const char          *grant, *user, *pw, *scope;

	http_media_type(req, type, sizeof type);
	if (strcmp(type, "application/x-www-form-urlencoded") != 0) {
		token_error(req, 400, "invalid_request",
		    "The body must be application/x-www-form-urlencoded");
		return;
	}
	form = http_form_parse(req->body, req->body_len);
	if (form == NULL) {
		token_error(req, 400, "invalid_request",
		    "Malformed form body or repeated parameter");
		return;
	}
	grant = json_string_value(json_object_get(form, "grant_type"));
	scope = json_string_value(json_object_get(form, "scope"));
	if (grant == NULL || *grant == '\0')
		token_error(req, 400, "invalid_request", "grant_type is required");
	else if (strcmp(grant, "password") == 0 && cfg->oauth2.password_grant) {
		user = json_string_value(json_object_get(form, "username"));
		pw = json_string_value(json_object_get(form, "password"));
		if (user == NULL || pw == NULL || *user == '\0')
			token_error(req, 400, "invalid_request",
			    "username and password are required");
		else
			login_start(req, user, pw, scope, true, token_password_done);
		if (pw != NULL)
			explicit_bzero((char *)pw, strlen(pw));
	} else if (strcmp(grant, "refresh_token") == 0 && cfg->oauth2.refresh_tokens)
		token_refresh(req, form);
	else
		token_error(req, 400, "unsupported_grant_type",
		    "This grant type is not supported");
	if (req->body != NULL)
		explicit_bzero(req->body, req->body_len);
	json_decref(form);
}
