/*
 * handler_me.c - GET /me and POST /logout: what a guarded request knows of
 * its user, and the end of a session.
 */
#include <jansson.h>
#include <math.h>
#include <string.h>

#include "backend.h"
#include "clock.h"
#include "context.h"
#include "handlers.h"
#include "http.h"
#include "issue.h"
#include "log.h"
#include "store.h"
#include "users.h"

/* Revocations of tokens that expire later are kept until then (year 33658). */
#define LOGOUT_EXP_MAX 1e12

void
handler_me(struct request *req)
{
	const struct user *u = req->account;
	json_t            *extras = json_object_get(req->claims, "extras");
	json_t            *roles;

	if (u != NULL)
		roles = issue_json_list(&u->roles);
	else {
		roles = json_object_get(extras, "roles");
		roles =
		    json_is_array(roles) ? json_incref(roles) : json_array();
	}
	http_reply_json(&req->res, 200,
	    json_pack("{s:O, s:s?, s:s?, s:o, s:O?, s:O}", "sub",
	        json_object_get(req->claims, "sub"), "name",
	        u != NULL ? u->display_name
	                  : json_string_value(json_object_get(extras, "name")),
	        "email",
	        u != NULL ? u->email
	                  : json_string_value(json_object_get(extras, "email")),
	        "roles", roles, "scope", json_object_get(req->claims, "scope"),
	        "claims", req->claims));
	http_set_header(&req->res, "Cache-Control", "no-store");
}

/* The refresh_token of a logout body, JSON or form; NULL if none. */
static json_t *
logout_fields(struct request *req)
{
	char type[64];

	if (req->body_len == 0)
		return NULL;
	http_media_type(req, type, sizeof type);
	if (strcmp(type, "application/json") == 0)
		return http_json_parse(req->body, req->body_len);
	if (strcmp(type, "application/x-www-form-urlencoded") == 0)
		return http_form_parse(req->body, req->body_len);
	return NULL;
}

void
handler_logout(struct request *req)
{
	struct context *ctx = req->ctx;
	struct store   *st = ctx->services->store;
	const char     *jti =
	    json_string_value(json_object_get(req->claims, "jti"));
	json_t     *fields = logout_fields(req);
	json_t     *rtj = json_object_get(fields, "refresh_token");
	const char *rt = json_string_value(rtj);
	double  exp = json_number_value(json_object_get(req->claims, "exp"));
	int64_t now = clock_now();
	unsigned char hash[32];
	int           rc;

	if (req->body_len > 0 && fields == NULL) {
		http_reply_error(&req->res, 400, "Malformed request body");
		return;
	}
	if (rtj != NULL && (rt == NULL || *rt == '\0')) {
		json_decref(fields);
		http_reply_error(&req->res, 400,
		    "refresh_token must be a non-empty string");
		return;
	}
	/*
	 * Any JSON number is a valid exp: keep far ones within int64_t. Without
	 * verify_expiry an expired token still passes, so its revocation must
	 * outlive its exp.
	 */
	if (!(exp < LOGOUT_EXP_MAX) || !ctx->cfg->token.verify_expiry)
		exp = LOGOUT_EXP_MAX;
	if (rt != NULL) {
		struct store_refresh r;
		const char          *sub =
		    json_string_value(json_object_get(req->claims, "sub"));

		/* Only one's own family: a token of another user is refused. */
		issue_refresh_hash(rt, hash);
		rc = store_refresh_peek(st, hash, now, &r);
		if (rc == -1)
			goto fail;
		if (rc == 0 && strcmp(r.sub, sub) != 0) {
			json_decref(fields);
			http_reply_error(&req->res, 403, "Forbidden");
			return;
		}
	}
	if (jti == NULL)
		log_warn(
		    "logout of %s: the token has no jti and cannot be revoked",
		    req->user != NULL ? req->user : "?");
	else if (store_revoke(st, jti, (int64_t)ceil(exp), now) == -1)
		goto fail;
	if (rt != NULL && store_refresh_revoke(st, hash, now) == -1)
		goto fail;
	json_decref(fields);
	http_reply_json(&req->res, 200,
	    json_pack("{s:s}", "detail", "Logged out"));
	http_set_header(&req->res, "Cache-Control", "no-store");
	backend_get(ctx->cfg->auth.backend)->clear(&req->res, ctx->cfg);
	return;
fail:
	json_decref(fields);
	log_error("store: cannot record a logout");
	http_reply_error(&req->res, 503, "Service Unavailable");
}
