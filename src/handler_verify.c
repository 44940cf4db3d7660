/*
 * handler_verify.c - forward auth (SPEC section 5): may the original
 * request, described by a trusted reverse proxy, pass?
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "config.h"
#include "context.h"
#include "handlers.h"
#include "http.h"
#include "metrics.h"
#include "text.h"
#include "rules.h"
#include "users.h"
#include "xmalloc.h"

#define VERIFY_PATH_STACK 1024 /* longer forwarded paths are allocated */

static bool
verify_clean(const char *v)
{
	for (; v != NULL && *v != '\0'; v++)
		if ((unsigned char)*v < 0x20 || *v == 0x7f)
			return false;
	return true;
}

static void
verify_header(struct request *req, const char *name, const char *value)
{
	if (value != NULL && *value != '\0' && verify_clean(value))
		http_set_header(&req->res, name, value);
}

static const char *
verify_extra(json_t *claims, const char *key)
{
	return json_string_value(
	    json_object_get(json_object_get(claims, "extras"), key));
}

/* Append role to the comma-joined list *groups. */
static void
verify_join(char **groups, size_t *len, const char *role)
{
	size_t n = role != NULL ? strlen(role) : 0;

	if (n == 0)
		return;
	*groups = xrealloc(*groups, *len + n + 2);
	if (*len > 0)
		(*groups)[(*len)++] = ',';
	memcpy(*groups + *len, role, n);
	*len += n;
	(*groups)[*len] = '\0';
}

/* Remote-* headers from the user file, or from the token's extras. */
static void
verify_identity(struct request *req, const struct auth_result *r)
{
	const char *sub = json_string_value(json_object_get(r->claims, "sub"));
	char       *groups = NULL;
	size_t      len = 0, i;
	json_t     *v;

	verify_header(req, "Remote-User", sub);
	if (r->user != NULL) {
		for (i = 0; i < r->user->roles.n; i++)
			verify_join(&groups, &len, r->user->roles.v[i]);
		verify_header(req, "Remote-Email", r->user->email);
		verify_header(req, "Remote-Name", r->user->display_name);
	} else {
		json_array_foreach(json_object_get(json_object_get(r->claims,
		                                       "extras"),
		                       "roles"),
		    i, v)
			verify_join(&groups, &len, json_string_value(v));
		verify_header(req, "Remote-Email",
		    verify_extra(r->claims, "email"));
		verify_header(req, "Remote-Name",
		    verify_extra(r->claims, "name"));
	}
	verify_header(req, "Remote-Groups", groups);
	free(groups);
}

/*
 * The original method and target, from a trusted proxy only. A proxy sets
 * one family of headers (Traefik and Caddy X-Forwarded-*, nginx
 * X-Original-*) and passes the client's own headers along: a request that
 * carries headers of both families, or one of them twice, cannot be told
 * apart from a client's forgery and is refused (-1) rather than guessed.
 */
static int
verify_original(struct request *req, const char **method, const char **target)
{
	static const char *const names[] = {"X-Forwarded-Method",
	    "X-Forwarded-Uri", "X-Original-Method", "X-Original-URL",
	    "X-Original-URI"};
	unsigned                 n[5], i;
	bool                     fwd, orig;

	*method = req->method;
	*target = req->path;
	if (!req->peer_trusted)
		return 0;
	http_header_counts(req, names, 5, n);
	for (i = 0; i < 5; i++)
		if (n[i] > 1)
			return -1;
	fwd = n[0] + n[1] > 0;
	orig = n[2] + n[3] + n[4] > 0;
	if ((fwd && orig) || (n[3] && n[4]))
		return -1;
	if (fwd) {
		if (n[1])
			*target = http_header(req, names[1]);
		if (n[0])
			*method = http_header(req, names[0]);
	} else if (orig) {
		if (n[3] || n[4])
			*target = http_header(req, n[3] ? names[3] : names[4]);
		if (n[2])
			*method = http_header(req, names[2]);
	}
	return 0;
}

/* The verdict "pass": a constant body, built once (the hot path). */
static void
verify_ok(struct request *req)
{
	static const char ok[] = "{\"detail\":\"OK\"}";

	http_reply_text(&req->res, 200, "application/json", xstrdup(ok),
	    sizeof ok - 1);
}

void
handler_verify(struct request *req)
{
	struct rule_decision d;
	struct auth_result   r;
	const char          *method, *target;
	char                 stackpath[VERIFY_PATH_STACK], *path;
	size_t               len;
	int                  rc;

	if (verify_original(req, &method, &target) == -1) {
		http_reply_error(&req->res, 400, "Ambiguous forwarded request");
		return;
	}
	if (strlen(method) > 32 || !text_is_token(method)) {
		http_reply_error(&req->res, 400, "Invalid forwarded method");
		return;
	}
	/* The normal form is never longer than the target plus a slash. */
	len = strlen(target) + 2;
	path = len <= sizeof stackpath ? stackpath : xmalloc(len);
	rc = rules_normalize(target, path, len);
	if (rc == 0)
		rules_decide(req->ctx->rules, method, path, &d);
	if (path != stackpath)
		free(path);
	if (rc == -1) {
		http_reply_error(&req->res, 400, "Invalid forwarded URI");
		return;
	}
	if (d.public) {
		metrics_verify(METRICS_VERIFY_PUBLIC);
		verify_ok(req);
		return;
	}
	if (auth_check(req, &d, &r) != AUTH_ALLOWED) {
		auth_reply(req, &r);
		auth_result_free(&r);
		return;
	}
	verify_ok(req);
	http_set_header(&req->res, "Cache-Control", "no-store");
	verify_identity(req, &r);
	auth_result_free(&r);
}
