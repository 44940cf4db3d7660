/*
 * auth.c - one request judged in the order of SPEC sections 5 and 6.
 */
#include "auth.h"

#include <string.h>

#include "backend.h"
#include "clock.h"
#include "context.h"
#include "http.h"
#include "issue.h"
#include "log.h"
#include "metrics.h"
#include "store.h"
#include "token.h"
#include "users.h"
#include "xmalloc.h"

static enum auth_outcome
auth_deny(struct auth_result *out, unsigned status, const char *detail)
{
	out->status = status;
	out->detail = detail;
	metrics_verify(METRICS_VERIFY_DENIED);
	return AUTH_DENIED;
}

static enum auth_outcome
auth_fail(struct auth_result *out, unsigned status, const char *detail)
{
	out->status = status;
	out->detail = detail;
	metrics_verify(METRICS_VERIFY_FAILED);
	return AUTH_FAILED;
}

/* Does the token's space-separated scope claim hold scope? */
static bool
auth_has_scope(json_t *claims, const char *scope)
{
	const char *s = json_string_value(json_object_get(claims, "scope"));

	return s != NULL && issue_scope_subset(scope, s);
}

/* Roles of the user file, else (require_known_user = false) of extras. */
static bool
auth_has_role(const struct auth_result *r, const char *role)
{
	json_t *roles, *v;
	size_t  i;

	if (r->user != NULL)
		return strlist_contains(&r->user->roles, role);
	roles = json_object_get(json_object_get(r->claims, "extras"), "roles");
	json_array_foreach(roles, i, v)
		if (json_is_string(v) &&
		    strcmp(json_string_value(v), role) == 0)
			return true;
	return false;
}

static bool
auth_route_allows(const struct route *rt, const struct auth_result *r)
{
	size_t i;

	if (rt == NULL)
		return true;
	if (rt->require_roles.n > 0) {
		bool any = false;

		for (i = 0; i < rt->require_roles.n && !any; i++)
			any = auth_has_role(r, rt->require_roles.v[i]);
		if (!any)
			return false;
	}
	for (i = 0; i < rt->require_scopes.n; i++)
		if (!auth_has_scope(r->claims, rt->require_scopes.v[i]))
			return false;
	return true;
}

enum auth_outcome
auth_check(struct request *req, const struct rule_decision *d,
    struct auth_result *out)
{
	struct context       *ctx = req->ctx;
	const struct backend *be = backend_get(d->backend);
	const char           *tok, *why, *jti, *sub;
	size_t                len;
	enum token_status     ts;
	double                now;
	int                   rc;

	memset(out, 0, sizeof *out);
	if (!be->extract(req, ctx->cfg, &tok, &len))
		return auth_deny(out, 401, be->missing_detail);
	out->presented = true;
	now = clock_now_real();
	ts = token_verify(ctx->verifier, tok, len, now, &out->claims, &why);
	if (ts == TOKEN_ERROR) {
		log_error("token verification failed: %s", why);
		return auth_fail(out, 500, "Internal Server Error");
	}
	if (ts != TOKEN_OK) {
		log_debug("token refused: %s", why);
		return auth_deny(out, 401, "Invalid token");
	}
	sub = json_string_value(json_object_get(out->claims, "sub"));
	jti = json_string_value(json_object_get(out->claims, "jti"));
	if (jti != NULL) {
		rc = store_is_revoked(ctx->services->store, jti, (int64_t)now);
		if (rc == -1) {
			log_error("store: cannot check revocation");
			return auth_fail(out, 503, "Service Unavailable");
		}
		if (rc == 1)
			return auth_deny(out, 401, "Unauthorized");
	}
	/* A disabled user is refused even where unknown users may pass. */
	out->user = users_find(ctx->users, sub);
	if (out->user != NULL && out->user->disabled)
		return auth_deny(out, 401, "Unauthorized");
	if (out->user == NULL && ctx->cfg->auth.require_known_user)
		return auth_deny(out, 401, "Unauthorized");
	free(req->user);
	req->user = xstrdup(sub);
	if (!auth_route_allows(d->route, out))
		return auth_deny(out, 403, "Forbidden");
	metrics_verify(METRICS_VERIFY_ALLOWED);
	return AUTH_ALLOWED;
}

void
auth_reply(struct request *req, const struct auth_result *r)
{
	http_reply_error(&req->res, r->status, r->detail);
	if (r->status == 401)
		http_set_header(&req->res, "WWW-Authenticate",
		    r->presented
		        ? "Bearer realm=\"jwtgate\", error=\"invalid_token\""
		        : "Bearer realm=\"jwtgate\"");
}

void
auth_result_free(struct auth_result *r)
{
	json_decref(r->claims);
	r->claims = NULL;
}
