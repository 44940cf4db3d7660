/*
 * router.c - jwtgate's endpoints: one const table, exact paths.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "router.h"

#include "auth.h"
#include "config.h"
#include "context.h"
#include "handlers.h"
#include "http.h"

static const struct route_entry router_table[] = {
    {"/login", "POST", handler_login, false},
    {"/token", "POST", handler_token, false},
    {"/logout", "POST", handler_logout, true},
    {"/me", "GET, HEAD", handler_me, true},
    {"/verify", NULL, handler_verify, false},
    {"/.well-known/jwks.json", "GET, HEAD", handler_jwks, false},
    {"/.well-known/oauth-authorization-server", "GET, HEAD",
        handler_oauth_metadata, false},
    {"/openapi.json", "GET, HEAD", handler_openapi, false},
    {"/healthz", "GET, HEAD", handler_healthz, false},
    {"/readyz", "GET, HEAD", handler_readyz, false},
    {"/metrics", "GET, HEAD", handler_metrics, false},
};

#define ROUTER_N (sizeof router_table / sizeof router_table[0])

size_t
router_count(void)
{
	return ROUTER_N;
}

const char *
router_path(size_t i)
{
	return router_table[i].path;
}

size_t
router_index(const struct route_entry *e)
{
	return e != NULL ? (size_t)(e - router_table) : ROUTER_N;
}

const struct route_entry *
router_find(const char *path)
{
	size_t i;

	for (i = 0; i < ROUTER_N; i++)
		if (strcmp(router_table[i].path, path) == 0)
			return &router_table[i];
	return NULL;
}

bool
router_allows(const struct route_entry *e, const char *method)
{
	const char *p = e->methods;
	size_t      n = strlen(method);

	if (p == NULL)
		return true;
	while ((p = strstr(p, method)) != NULL) {
		bool start = p == e->methods || p[-1] == ' ';
		bool end = p[n] == '\0' || p[n] == ',';

		if (start && end)
			return true;
		p += n;
	}
	return false;
}

void
router_allow_header(const struct route_entry *e, bool with_options, char *buf,
    size_t len)
{
	snprintf(buf, len, "%s%s", e->methods != NULL ? e->methods : "*",
	    with_options && e->methods != NULL ? ", OPTIONS" : "");
}

/* Guarded endpoints: the default backend and the checks of /verify. */
static int
router_guard(struct request *req)
{
	struct rule_decision d = {false, req->ctx->cfg->auth.backend, NULL};
	struct auth_result   r;

	if (auth_check(req, &d, &r) != AUTH_ALLOWED) {
		auth_reply(req, &r);
		auth_result_free(&r);
		return -1;
	}
	req->claims = r.claims;
	req->account = r.user;
	return 0;
}

/* OPTIONS answered 204 when [auth] exclude_methods lets it pass freely. */
static bool
router_options_free(const struct request *req)
{
	return strlist_contains(&req->ctx->cfg->auth.exclude_methods,
	    "OPTIONS");
}

/* 204 to a free OPTIONS, 405 to another method: both with Allow. */
static void
router_reply_allow(struct request *req, const struct route_entry *e,
    unsigned status)
{
	char allow[128];

	router_allow_header(e, router_options_free(req), allow, sizeof allow);
	if (status == 204)
		http_reply_text(&req->res, 204, NULL, NULL, 0);
	else
		http_reply_error(&req->res, 405, "Method Not Allowed");
	http_set_header(&req->res, "Allow", allow);
}

void
router_dispatch(struct request *req)
{
	const struct route_entry *e = req->route;

	if (req->body_too_large) {
		http_reply_error(&req->res, 413, "Request Entity Too Large");
		return;
	}
	if (e == NULL) {
		http_reply_error(&req->res, 404, "Not Found");
		return;
	}
	if (strcmp(req->method, "OPTIONS") == 0 && e->methods != NULL &&
	    router_options_free(req)) {
		router_reply_allow(req, e, 204);
		return;
	}
	if (!router_allows(e, req->method)) {
		router_reply_allow(req, e, 405);
		return;
	}
	if (e->guarded && router_guard(req) == -1)
		return;
	e->handler(req);
}
