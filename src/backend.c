/*
 * backend.c - token extraction and delivery for the three backends.
 *
 * The header rule is shared: "<auth_header>: Bearer <token>", the scheme
 * case-insensitive and followed by one space. The cookie backends consult
 * the header first; when it holds a Bearer token the cookie is never read,
 * even if that token then fails (no fallback an attacker could steer).
 */
#include "backend.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "xmalloc.h"

int
backend_bearer(const char *value, const char **tok, size_t *len)
{
	if (value == NULL || strncasecmp(value, "Bearer ", 7) != 0)
		return 0;
	*tok = value + 7;
	*len = strlen(*tok);
	return *len > 0;
}

/*
 * RFC 6265 cookie-string: "name=value" pairs separated by ";" and optional
 * whitespace. The first cookie called name wins; a value may be quoted.
 */
int
backend_cookie_value(const char *header, const char *name, const char **val,
    size_t *len)
{
	size_t      nlen = strlen(name);
	const char *p = header;

	if (header == NULL)
		return 0;
	while (*p != '\0') {
		const char *end;

		while (*p == ' ' || *p == '\t' || *p == ';')
			p++;
		end = strchr(p, ';');
		if (end == NULL)
			end = p + strlen(p);
		if ((size_t)(end - p) > nlen && strncmp(p, name, nlen) == 0 &&
		    p[nlen] == '=') {
			const char *v = p + nlen + 1;
			size_t      l = (size_t)(end - v);

			while (l > 0 && (v[l - 1] == ' ' || v[l - 1] == '\t'))
				l--;
			if (l >= 2 && v[0] == '"' && v[l - 1] == '"') {
				v++;
				l -= 2;
			}
			*val = v;
			*len = l;
			return l > 0;
		}
		p = end;
	}
	return 0;
}

static int
backend_header_extract(const struct request *req, const struct config *cfg,
    const char **tok, size_t *len)
{
	return backend_bearer(http_header(req, cfg->auth.auth_header), tok,
	    len);
}

static int
backend_cookie_extract(const struct request *req, const struct config *cfg,
    const char **tok, size_t *len)
{
	const char *v;
	size_t      l, i;

	if (backend_header_extract(req, cfg, tok, len))
		return 1;
	if (!backend_cookie_value(http_header(req, "Cookie"), cfg->cookie.name,
	        &v, &l))
		return 0;
	/* The legacy "Bearer <jwt>" value: the text after the last space. */
	for (i = l; i > 0; i--) {
		if (v[i - 1] == ' ') {
			l -= i;
			v += i;
			break;
		}
	}
	*tok = v;
	*len = l;
	return l > 0;
}

static void
backend_header_deliver(struct response *res, const struct config *cfg,
    const char *jwt, int64_t ttl)
{
	char *v;

	(void)ttl;
	xasprintf(&v, "Bearer %s", jwt);
	http_set_header(res, cfg->auth.auth_header, v);
	free(v);
}

char *
backend_set_cookie(const struct config *cfg, const char *jwt, int64_t max_age)
{
	static const char *const samesite[] = {"Lax", "Strict", "None"};
	char                    *c, *domain = NULL;

	if (cfg->cookie.domain != NULL)
		xasprintf(&domain, "Domain=%s; ", cfg->cookie.domain);
	xasprintf(&c, "%s=%s; %sHttpOnly; Max-Age=%lld; Path=%s; SameSite=%s%s",
	    cfg->cookie.name, jwt, domain != NULL ? domain : "",
	    (long long)max_age, cfg->cookie.path,
	    samesite[cfg->cookie.samesite],
	    cfg->cookie.secure ? "; Secure" : "");
	free(domain);
	return c;
}

static void
backend_cookie_deliver(struct response *res, const struct config *cfg,
    const char *jwt, int64_t ttl)
{
	char *c = backend_set_cookie(cfg, jwt, ttl);

	backend_header_deliver(res, cfg, jwt, ttl);
	http_set_header(res, "Set-Cookie", c);
	free(c);
}

static void
backend_header_clear(struct response *res, const struct config *cfg)
{
	(void)res;
	(void)cfg;
}

static void
backend_cookie_clear(struct response *res, const struct config *cfg)
{
	char *c = backend_set_cookie(cfg, "", 0);

	http_set_header(res, "Set-Cookie", c);
	free(c);
}

static json_t *
backend_header_openapi(const struct config *cfg)
{
	(void)cfg;
	return json_pack("{s:s, s:s, s:s, s:s}", "type", "http", "scheme",
	    "bearer", "bearerFormat", "JWT", "description",
	    "JWT api-key authentication and authorization.");
}

static json_t *
backend_cookie_openapi(const struct config *cfg)
{
	return json_pack("{s:s, s:s, s:s, s:s}", "type", "apiKey", "in",
	    "cookie", "name", cfg->cookie.name, "description",
	    "JWT cookie-based authentication and authorization.");
}

static json_t *
backend_oauth2_openapi(const struct config *cfg)
{
	json_t *scopes = json_object();
	size_t  i;

	for (i = 0; i < cfg->oauth2.scopes.n; i++)
		json_object_set_new(scopes, cfg->oauth2.scopes.v[i],
		    json_string(cfg->oauth2.scopes.v[i]));
	return json_pack("{s:s, s:s, s:{s:{s:s, s:o}}}", "type", "oauth2",
	    "description",
	    "OAuth2 password bearer authentication and authorization.", "flows",
	    "password", "tokenUrl", cfg->oauth2.token_url, "scopes", scopes);
}

static const struct backend backends[] = {
    [BACKEND_JWT] = {"jwt", "No JWT token found in request header",
        backend_header_extract, backend_header_deliver, backend_header_clear,
        backend_header_openapi},
    [BACKEND_JWT_COOKIE] = {"jwt_cookie",
        "No JWT token found in request header or cookies",
        backend_cookie_extract, backend_cookie_deliver, backend_cookie_clear,
        backend_cookie_openapi},
    [BACKEND_OAUTH2] = {"oauth2_password_bearer",
        "No JWT token found in request header or cookies",
        backend_cookie_extract, backend_cookie_deliver, backend_cookie_clear,
        backend_oauth2_openapi},
};

const struct backend *
backend_get(enum backend_kind kind)
{
	return &backends[kind];
}
