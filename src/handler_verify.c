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
#include "rules.h"
#include "users.h"
#include "xmalloc.h"

#define VERIFY_PATH_MAX 8192

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
	return json_string_value(json_object_get(json_object_get(claims,
	    "extras"), key));
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
		    "extras"), "roles"), i, v)
			verify_join(&groups, &len, json_string_value(v));
		verify_header(req, "Remote-Email", verify_extra(r->claims, "email"));
		verify_header(req, "Remote-Name", verify_extra(r->claims, "name"));
	}
	verify_header(req, "Remote-Groups", groups);
	free(groups);
}

/* The original method and target, from a trusted proxy only. */
static void
verify_original(struct request *req, const char **method, const char **target)
{
	const char *fm, *fu, *om, *ou;

	*method = req->method;
	*target = req->path;
	if (!req->peer_trusted)
		return;
	fm = http_header(req, "X-Forwarded-Method");
	fu = http_header(req, "X-Forwarded-Uri");
	om = http_header(req, "X-Original-Method");
	ou = http_header(req, "X-Original-URL");
	if (ou == NULL)
		ou = http_header(req, "X-Original-URI");
	if (fu != NULL || fm != NULL) {
		*target = fu != NULL ? fu : *target;
		*method = fm != NULL ? fm : *method;
	} else if (ou != NULL || om != NULL) {
		*target = ou != NULL ? ou : *target;
		*method = om != NULL ? om : *method;
	}
}

static bool
verify_method_ok(const char *m)
{
	static const char extra[] = "!#$%&'*+-.^_`|~";

	if (*m == '\0' || strlen(m) > 32)
		return false;
	for (; *m != '\0'; m++)
		if (!((*m >= 'A' && *m <= 'Z') || (*m >= 'a' && *m <= 'z') ||
		    (*m >= '0' && *m <= '9') || strchr(extra, *m) != NULL))
			return false;
	return true;
}

void
handler_verify(struct request *req)
{
	struct rule_decision d;
	struct auth_result   r;
	const char          *method, *target;
	char                *path;

	verify_original(req, &method, &target);
	if (!verify_method_ok(method)) {
		http_reply_error(&req->res, 400, "Invalid forwarded method");
		return;
	}
	path = xmalloc(VERIFY_PATH_MAX);
	if (rules_normalize(target, path, VERIFY_PATH_MAX) == -1) {
		http_reply_error(&req->res, 400, "Invalid forwarded URI");
		free(path);
		return;
	}
	rules_decide(req->ctx->rules, method, path, &d);
	free(path);
	if (d.public) {
		metrics_verify(METRICS_VERIFY_PUBLIC);
		http_reply_json(&req->res, 200, json_pack("{s:s}", "detail", "OK"));
		return;
	}
	if (auth_check(req, &d, &r) != AUTH_ALLOWED) {
		auth_reply(req, &r);
		auth_result_free(&r);
		return;
	}
	http_reply_json(&req->res, 200, json_pack("{s:s}", "detail", "OK"));
	http_set_header(&req->res, "Cache-Control", "no-store");
	verify_identity(req, &r);
	auth_result_free(&r);
}
