/*
 * issue.c - access and refresh tokens for a user.
 */
#include "issue.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "b64url.h"
#include "clock.h"
#include "context.h"
#include "log.h"
#include "metrics.h"
#include "store.h"
#include "token.h"
#include "users.h"
#include "xmalloc.h"

void
issue_refresh_hash(const char *token, unsigned char hash[32])
{
	unsigned int len = 32;

	EVP_Digest(token, strlen(token), hash, &len, EVP_sha256(), NULL);
}

static char *
issue_random(size_t bytes)
{
	unsigned char buf[32];

	if (bytes > sizeof buf || RAND_bytes(buf, (int)bytes) != 1)
		return NULL;
	return b64url_encode_new(buf, bytes);
}

char *
issue_join(const struct strlist *l)
{
	size_t len = 1, i;
	char  *s;

	for (i = 0; i < l->n; i++)
		len += strlen(l->v[i]) + 1;
	s = xcalloc(1, len);
	for (i = 0; i < l->n; i++) {
		if (i > 0)
			strcat(s, " ");
		strcat(s, l->v[i]);
	}
	return s;
}

int
issue_scope_subset(const char *want, const char *have)
{
	const char *w = want;

	while (*w != '\0') {
		size_t      n = strcspn(w, " ");
		const char *h = have;
		int         found = 0;

		while (*h != '\0' && !found) {
			size_t m = strcspn(h, " ");

			found = m == n && strncmp(h, w, n) == 0;
			h += m;
			h += strspn(h, " ");
		}
		if (n > 0 && !found)
			return 0;
		w += n;
		w += strspn(w, " ");
	}
	return 1;
}

char *
issue_scope_within(const char *scope, const struct strlist *allowed)
{
	char *out = xcalloc(1, strlen(scope) + 1);
	char *copy = xstrdup(scope), *tok, *save;

	for (tok = strtok_r(copy, " ", &save); tok != NULL;
	     tok = strtok_r(NULL, " ", &save)) {
		if (!strlist_contains(allowed, tok))
			continue;
		if (*out != '\0')
			strcat(out, " ");
		strcat(out, tok);
	}
	free(copy);
	return out;
}

json_t *
issue_json_list(const struct strlist *l)
{
	json_t *a = json_array();
	size_t  i;

	for (i = 0; i < l->n; i++)
		json_array_append_new(a, json_string(l->v[i]));
	return a;
}

json_t *
issue_extras(const struct user *user)
{
	return json_pack("{s:o, s:s?, s:s?}", "roles",
	    issue_json_list(&user->roles), "name", user->display_name, "email",
	    user->email);
}

int
issue_tokens(struct context *ctx, const struct user *user, const char *scope,
    int with_refresh, const char *family, struct issued *out)
{
	const struct config *cfg = ctx->cfg;
	struct token_params  p;
	const char          *errstr;
	char                *jti = NULL, *fam = NULL;
	int64_t              now = clock_now();
	int                  rc = ISSUE_FAILED;

	memset(out, 0, sizeof *out);
	memset(&p, 0, sizeof p);
	out->scope = scope != NULL ? xstrdup(scope) : issue_join(&user->scopes);
	p.sub = user->name;
	p.scope = out->scope[0] != '\0' ? out->scope : NULL;
	p.extras = issue_extras(user);
	if (token_issue(ctx->verifier, &p, now, &out->access, &jti, &errstr) !=
	    TOKEN_OK) {
		log_error("cannot issue a token: %s", errstr);
		goto out;
	}
	out->expires_in = cfg->token.ttl;
	metrics_token(METRICS_TOKEN_ACCESS);
	if (with_refresh) {
		struct store_refresh r;
		unsigned char        hash[32];

		memset(&r, 0, sizeof r);
		fam = family != NULL ? xstrdup(family) : issue_random(16);
		out->refresh = issue_random(32);
		if (fam == NULL || out->refresh == NULL) {
			log_error("no randomness for a refresh token");
			goto out;
		}
		snprintf(r.family, sizeof r.family, "%s", fam);
		snprintf(r.sub, sizeof r.sub, "%s", user->name);
		snprintf(r.scope, sizeof r.scope, "%s", out->scope);
		r.exp = now + cfg->oauth2.refresh_ttl;
		issue_refresh_hash(out->refresh, hash);
		if (store_refresh_add(ctx->services->store, hash, &r, now) ==
		    -1) {
			log_error("store: cannot record a refresh token");
			rc = ISSUE_STORE;
			goto out;
		}
		metrics_token(METRICS_TOKEN_REFRESH);
	}
	rc = 0;
out:
	json_decref(p.extras);
	free(jti);
	free(fam);
	if (rc != 0)
		issued_free(out);
	return rc;
}

void
issued_free(struct issued *is)
{
	free(is->access);
	free(is->refresh);
	free(is->scope);
	memset(is, 0, sizeof *is);
}

json_t *
issue_oauth2_body(const struct issued *is, int with_scope_always)
{
	json_t *o = json_pack("{s:s, s:s, s:I}", "access_token", is->access,
	    "token_type", "bearer", "expires_in", (json_int_t)is->expires_in);

	if (is->refresh != NULL)
		json_object_set_new(o, "refresh_token",
		    json_string(is->refresh));
	if (with_scope_always || (is->scope != NULL && is->scope[0] != '\0'))
		json_object_set_new(o, "scope", json_string(is->scope));
	return o;
}
