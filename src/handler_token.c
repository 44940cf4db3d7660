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
#include "xmalloc.h"

/* RFC 6749 5.2 error response. */
static void
token_error(struct request *req, unsigned status, const char *error,
    const char *description)
{
	http_reply_json(&req->res, status,
	    json_pack("{s:s, s:s}", "error", error, "error_description",
	        description));
	http_set_header(&req->res, "Cache-Control", "no-store");
	http_set_header(&req->res, "Pragma", "no-cache");
}

/* The answer to an issue_tokens() result; frees what it issued. */
static void
token_answer(struct request *req, int rc, struct issued *is)
{
	if (rc == ISSUE_STORE) {
		token_error(req, 503, "temporarily_unavailable",
		    "Store unavailable");
		http_set_header(&req->res, "Retry-After", "1");
	} else if (rc != 0)
		token_error(req, 500, "server_error", "Cannot issue a token");
	else {
		http_reply_json(&req->res, 200, issue_oauth2_body(is, 1));
		http_set_header(&req->res, "Cache-Control", "no-store");
		http_set_header(&req->res, "Pragma", "no-cache");
	}
	issued_free(is);
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
		token_error(req, 400, "invalid_grant",
		    "Invalid username or password");
		return;
	}
	allowed = issue_join(&user->scopes);
	if (token_scope(req, scope, allowed, &grant) == 0) {
		token_answer(req,
		    issue_tokens(ctx, user, grant,
		        ctx->cfg->oauth2.refresh_tokens, NULL, &is),
		    &is);
	}
	free(allowed);
}

/* Use the token: 0 used; else the request has been answered. */
static int
token_refresh_use(struct request *req, const unsigned char hash[32],
    struct store_refresh *r)
{
	int rc =
	    store_refresh_use(req->ctx->services->store, hash, clock_now(), r);

	if (rc == -1) {
		log_error("store: cannot use a refresh token");
		token_error(req, 503, "temporarily_unavailable",
		    "Store unavailable");
		http_set_header(&req->res, "Retry-After", "1");
		return -1;
	}
	if (rc == 2)
		log_warn("refresh token reused: family revoked (sub %s)",
		    r->sub);
	if (rc != 0) {
		token_error(req, 400, "invalid_grant",
		    "The refresh token is invalid, expired or revoked");
		return -1;
	}
	return 0;
}

/*
 * RFC 6749 section 6. The token is looked at first and used only once the
 * request is known to succeed, so a refused scope does not burn it; a
 * token that is not valid and unused is used anyway, which is what detects
 * its reuse and revokes its family.
 */
static void
token_refresh(struct request *req, json_t *form)
{
	struct context *ctx = req->ctx;
	struct store   *st = ctx->services->store;
	const char     *rt =
	    json_string_value(json_object_get(form, "refresh_token"));
	const char *scope = json_string_value(json_object_get(form, "scope"));
	const struct user   *user;
	struct store_refresh r;
	struct issued        is;
	unsigned char        hash[32];
	const char          *grant;
	char                *allowed;
	int                  rc;

	if (rt == NULL || *rt == '\0') {
		token_error(req, 400, "invalid_request",
		    "refresh_token is required");
		return;
	}
	issue_refresh_hash(rt, hash);
	rc = store_refresh_peek(st, hash, clock_now(), &r);
	if (rc == -1) {
		log_error("store: cannot look up a refresh token");
		token_error(req, 503, "temporarily_unavailable",
		    "Store unavailable");
		http_set_header(&req->res, "Retry-After", "1");
		return;
	}
	if (rc != 0) {
		(void)token_refresh_use(req, hash,
		    &r); /* answers invalid_grant */
		return;
	}
	/* The access log names the user of a known refresh token. */
	free(req->user);
	req->user = xstrdup(r.sub);
	user = users_find(ctx->users, r.sub);
	if (user == NULL || user->disabled) {
		store_family_revoke(st, r.family, clock_now());
		token_error(req, 400, "invalid_grant",
		    "The refresh token is invalid, expired or revoked");
		return;
	}
	/* What the family was granted, less what the user has lost since. */
	allowed = issue_scope_within(r.scope, &user->scopes);
	if (token_scope(req, scope, allowed, &grant) == 0 &&
	    token_refresh_use(req, hash, &r) == 0)
		token_answer(req,
		    issue_tokens(ctx, user, grant, 1, r.family, &is), &is);
	free(allowed);
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
		token_error(req, 400, "invalid_request",
		    "grant_type is required");
	else if (strcmp(grant, "password") == 0 && cfg->oauth2.password_grant) {
		user = json_string_value(json_object_get(form, "username"));
		pw = json_string_value(json_object_get(form, "password"));
		if (user == NULL || pw == NULL || *user == '\0')
			token_error(req, 400, "invalid_request",
			    "username and password are required");
		else
			login_start(req, user, pw, scope, true,
			    token_password_done);
		if (pw != NULL)
			explicit_bzero((char *)pw, strlen(pw));
	} else if (strcmp(grant, "refresh_token") == 0 &&
	    cfg->oauth2.refresh_tokens)
		token_refresh(req, form);
	else
		token_error(req, 400, "unsupported_grant_type",
		    "This grant type is not supported");
	if (req->body != NULL)
		explicit_bzero(req->body, req->body_len);
	json_decref(form);
}
