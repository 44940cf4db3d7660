/*
 * handler_verify.c - forward auth (SPEC section 5): may the original
 * request, described by a trusted reverse proxy, pass?
 */
#include <jansson.h>
#include <pthread.h>
#include <stdint.h>
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

#define VERIFY_PATH_STACK  1024 /* longer forwarded paths are allocated */
#define VERIFY_CACHE_SLOTS 256
#define VERIFY_CACHE_LOCKS 16

/*
 * The answers "pass" already built, by verified claims and user: the
 * identity headers are a function of the two alone, so a token presented
 * again is answered with the same shared response, not a new one with six
 * headers. Only the building is saved: every request still goes through
 * the rules, verification, revocation, the user check and roles and scopes.
 * A slot holds a reference to its claims, so their address cannot be
 * reused for other claims while the slot names them; the user records
 * belong to the context, and so does this cache (a reload starts empty).
 */
struct verify_slot {
	json_t               *claims; /* a reference; NULL: empty */
	const struct user    *user;
	struct http_prepared *answer;
};

struct verify_cache {
	pthread_mutex_t    lock[VERIFY_CACHE_LOCKS];
	struct verify_slot slot[VERIFY_CACHE_SLOTS];
};

struct verify_cache *
verify_cache_new(void)
{
	struct verify_cache *c = xcalloc(1, sizeof *c);
	size_t               i;

	for (i = 0; i < VERIFY_CACHE_LOCKS; i++)
		pthread_mutex_init(&c->lock[i], NULL);
	return c;
}

void
verify_cache_free(struct verify_cache *c)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < VERIFY_CACHE_LOCKS; i++)
		pthread_mutex_destroy(&c->lock[i]);
	for (i = 0; i < VERIFY_CACHE_SLOTS; i++) {
		json_decref(c->slot[i].claims);
		http_prepared_unref(c->slot[i].answer);
	}
	free(c);
}

static size_t
verify_cache_index(const json_t *claims, const struct user *user)
{
	uint64_t h =
	    (uint64_t)(uintptr_t)claims ^ ((uint64_t)(uintptr_t)user << 17);

	return (size_t)((h * 0x9e3779b97f4a7c15ULL) >> 56) % VERIFY_CACHE_SLOTS;
}

/* The answer built for these claims and user (a reference), or NULL. */
static struct http_prepared *
verify_cache_get(struct verify_cache *c, json_t *claims,
    const struct user *user)
{
	size_t                i = verify_cache_index(claims, user);
	struct verify_slot   *sl = &c->slot[i];
	struct http_prepared *p = NULL;

	pthread_mutex_lock(&c->lock[i % VERIFY_CACHE_LOCKS]);
	if (sl->claims == claims && sl->user == user && sl->answer != NULL)
		p = http_prepared_ref(sl->answer);
	pthread_mutex_unlock(&c->lock[i % VERIFY_CACHE_LOCKS]);
	return p;
}

static void
verify_cache_put(struct verify_cache *c, json_t *claims,
    const struct user *user, struct http_prepared *p)
{
	size_t                i = verify_cache_index(claims, user);
	struct verify_slot   *sl = &c->slot[i];
	json_t               *oldclaims;
	struct http_prepared *old;

	pthread_mutex_lock(&c->lock[i % VERIFY_CACHE_LOCKS]);
	oldclaims = sl->claims;
	old = sl->answer;
	sl->claims = json_incref(claims);
	sl->user = user;
	sl->answer = http_prepared_ref(p);
	pthread_mutex_unlock(&c->lock[i % VERIFY_CACHE_LOCKS]);
	json_decref(oldclaims);
	http_prepared_unref(old);
}

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

/* The verdict "pass": a constant body. */
static void
verify_ok(struct request *req)
{
	static const char ok[] = "{\"detail\":\"OK\"}";

	http_reply_static(&req->res, 200, "application/json", ok,
	    sizeof ok - 1);
}

/* The answer "pass" for a user, with its identity headers. */
static void
verify_build(struct request *req, const struct auth_result *r)
{
	verify_ok(req);
	http_set_header(&req->res, "Cache-Control", "no-store");
	verify_identity(req, r);
}

/* "pass" for a user: from the cache, or built and remembered. */
static void
verify_pass(struct request *req, const struct auth_result *r)
{
	struct verify_cache  *c = req->ctx->verdicts;
	struct http_prepared *p;

	if ((p = verify_cache_get(c, r->claims, r->user)) != NULL) {
		http_reply_prepared(&req->res, p);
		return;
	}
	verify_build(req, r);
	if ((p = http_prepare(&req->res)) == NULL) {
		verify_build(req, r); /* out of memory: without the cache */
		return;
	}
	verify_cache_put(c, r->claims, r->user, p);
	http_reply_prepared(&req->res, p);
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
	verify_pass(req, &r);
	auth_result_free(&r);
}
