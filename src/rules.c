/*
 * rules.c - exclude patterns, route rules and path normalisation.
 *
 * Decisions are made on one canonical form of the path, so that "/a/../b",
 * "/a/%2e%2e/b" and "//b" cannot look public while the application behind
 * the proxy serves "/b".
 */
#define PCRE2_CODE_UNIT_WIDTH 8

#include "rules.h"

#include <ctype.h>
#include <pcre2.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "text.h"
#include "xmalloc.h"

/* Paths used to tell whether a pattern matches everything (SPEC 5). */
static const char *const rules_probe_paths[] = {
    "/",
    "/2f0c1e7a-5b64-4c1b-9d0e-6a8f3b2d7c51",
};

struct rules {
	const struct config *cfg;
	pcre2_match_context *mc; /* limits; read-only once built */
	pcre2_code         **exclude;
	size_t               nexclude;
	const struct route **routes; /* longest prefix first */
	size_t               nroutes;
};

int
rules_pattern_check(const char *pattern, char *err, size_t errlen)
{
	pcre2_code *re;
	int         code;
	PCRE2_SIZE  off;
	PCRE2_UCHAR msg[256];

	re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, 0, &code,
	    &off, NULL);
	if (re == NULL) {
		pcre2_get_error_message(code, msg, sizeof msg);
		snprintf(err, errlen, "invalid pattern at offset %zu: %s",
		    (size_t)off, (const char *)msg);
		return -1;
	}
	pcre2_code_free(re);
	return 0;
}

/*
 * Search re anywhere in path. A match limit keeps a pathological pattern
 * from spinning; an error (limit hit) counts as "no match", so a path is
 * never made public by a failing pattern.
 */
static pthread_key_t  rules_md_key;
static pthread_once_t rules_md_once = PTHREAD_ONCE_INIT;

static void
rules_md_free(void *md)
{
	pcre2_match_data_free(md);
}

static void
rules_md_init(void)
{
	if (pthread_key_create(&rules_md_key, rules_md_free) != 0)
		fatal("pthread_key_create failed");
}

static bool
rules_search(const struct rules *r, pcre2_code *re, const char *path)
{
	pcre2_match_data *md;

	/* One match block per thread: only "did it match" is asked. */
	pthread_once(&rules_md_once, rules_md_init);
	md = pthread_getspecific(rules_md_key);
	if (md == NULL) {
		if ((md = pcre2_match_data_create(1, NULL)) == NULL)
			fatal("out of memory (pcre2)");
		pthread_setspecific(rules_md_key, md);
	}
	return pcre2_match(re, (PCRE2_SPTR)path, strlen(path), 0, 0, md,
	           r->mc) >= 0;
}

/* Does pattern i match every path (the start-up warning)? */
static bool
rules_matches_all(const struct rules *r, size_t i)
{
	size_t j;

	for (j = 0; j < sizeof rules_probe_paths / sizeof rules_probe_paths[0];
	     j++)
		if (!rules_search(r, r->exclude[i], rules_probe_paths[j]))
			return false;
	return true;
}

static int
rules_route_cmp(const void *a, const void *b)
{
	const struct route *ra = *(const struct route *const *)a;
	const struct route *rb = *(const struct route *const *)b;

	if (ra->prefix_len != rb->prefix_len)
		return ra->prefix_len > rb->prefix_len ? -1 : 1;
	return strcmp(ra->prefix, rb->prefix);
}

int
rules_new(const struct config *cfg, struct rules **out, char *err,
    size_t errlen)
{
	struct rules *r = xcalloc(1, sizeof *r);
	size_t        i;

	r->cfg = cfg;
	r->mc = pcre2_match_context_create(NULL);
	if (r->mc == NULL)
		fatal("out of memory (pcre2)");
	pcre2_set_match_limit(r->mc, 100000);
	pcre2_set_depth_limit(r->mc, 1000);
	r->nexclude = cfg->auth.exclude.n;
	r->exclude = xcalloc(r->nexclude + 1, sizeof *r->exclude);
	for (i = 0; i < r->nexclude; i++) {
		int        code;
		PCRE2_SIZE off;

		r->exclude[i] =
		    pcre2_compile((PCRE2_SPTR)cfg->auth.exclude.v[i],
		        PCRE2_ZERO_TERMINATED, 0, &code, &off, NULL);
		if (r->exclude[i] == NULL) {
			snprintf(err, errlen,
			    "%s:%d: [auth] exclude: invalid pattern", cfg->path,
			    cfg->auth.exclude_lines[i]);
			rules_free(r);
			return -1;
		}
		pcre2_jit_compile(r->exclude[i], PCRE2_JIT_COMPLETE);
		if (rules_matches_all(r, i))
			log_warn(
			    "%s:%d: [auth] exclude: '%s' matches every path: "
			    "no request needs a token",
			    cfg->path, cfg->auth.exclude_lines[i],
			    cfg->auth.exclude.v[i]);
	}
	r->nroutes = cfg->nroutes;
	r->routes = xcalloc(r->nroutes + 1, sizeof *r->routes);
	for (i = 0; i < r->nroutes; i++)
		r->routes[i] = &cfg->routes[i];
	qsort(r->routes, r->nroutes, sizeof *r->routes, rules_route_cmp);
	*out = r;
	return 0;
}

void
rules_free(struct rules *r)
{
	size_t i;

	if (r == NULL)
		return;
	for (i = 0; i < r->nexclude; i++)
		pcre2_code_free(r->exclude[i]);
	free(r->exclude);
	free(r->routes);
	pcre2_match_context_free(r->mc);
	free(r);
}

static int
rules_hex(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Drop the last segment of out[0..*len) (RFC 3986 5.2.4 "..") */
static void
rules_pop_segment(char *out, size_t *len)
{
	while (*len > 0 && out[*len - 1] != '/')
		(*len)--;
	if (*len > 1)
		(*len)--; /* the slash before it, except the root */
	if (*len == 0)
		out[(*len)++] = '/';
}

int
rules_normalize(const char *target, char *out, size_t outlen)
{
	char       *dec;
	size_t      n, i, len = 0, end;
	const char *p = target;

	/* Absolute form: skip "scheme://authority". */
	if (strncasecmp(p, "http://", 7) == 0 ||
	    strncasecmp(p, "https://", 8) == 0) {
		p = strstr(p, "://") + 3;
		p += strcspn(p, "/?#");
		if (*p != '/')
			return -1;
	}
	if (*p != '/' || outlen < 2)
		return -1;
	end = strcspn(p, "?#");
	dec = xmalloc(end + 1);
	for (i = 0, n = 0; i < end; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c == '%') {
			int hi, lo;

			if (i + 2 >= end) {
				free(dec);
				return -1;
			}
			hi = rules_hex((unsigned char)p[i + 1]);
			lo = rules_hex((unsigned char)p[i + 2]);
			if (hi < 0 || lo < 0) {
				free(dec);
				return -1;
			}
			c = (unsigned char)(hi << 4 | lo);
			i += 2;
		}
		if (c < 0x20 || c == 0x7f) {
			free(dec);
			return -1;
		}
		/* Backslashes are separators to some servers (IIS): to us too. */
		dec[n++] = c == '\\' ? '/' : (char)c;
	}
	dec[n] = '\0';
	/* Bytes that are not UTF-8 (overlong dots...) fail closed. */
	for (i = 0; i < n;) {
		size_t l = text_utf8_len((const unsigned char *)dec + i);

		if (l == 0) {
			free(dec);
			return -1;
		}
		i += l;
	}

	/* Segment by segment: "." dropped, ".." pops, empty segments folded. */
	out[len++] = '/';
	for (i = 0; i < n;) {
		size_t seg, segl;

		while (i < n && dec[i] == '/')
			i++;
		seg = i;
		while (i < n && dec[i] != '/')
			i++;
		/*
		 * ";params" end a segment for servlet containers (Tomcat,
		 * Jetty): "/a/..;/b" is "/b" there, so it is here.
		 */
		segl = strcspn(dec + seg, ";/");
		if (i == seg)
			break; /* the end */
		if (segl == 0)
			continue; /* ";x" alone: an empty segment, folded */
		if (segl == 1 && dec[seg] == '.')
			continue;
		if (segl == 2 && dec[seg] == '.' && dec[seg + 1] == '.') {
			rules_pop_segment(out, &len);
			continue;
		}
		if (len + segl + 2 > outlen) {
			free(dec);
			return -1;
		}
		if (out[len - 1] != '/')
			out[len++] = '/';
		memcpy(out + len, dec + seg, segl);
		len += segl;
	}
	/* A trailing slash is part of the path ("/api/" is not "/api"). */
	if (n > 0 && dec[n - 1] == '/' && out[len - 1] != '/') {
		if (len + 2 > outlen) {
			free(dec);
			return -1;
		}
		out[len++] = '/';
	}
	out[len] = '\0';
	free(dec);
	return 0;
}

static bool
rules_route_covers(const struct route *rt, const char *path)
{
	if (rt->prefix_len == 1) /* [route /] */
		return true;
	return strncmp(path, rt->prefix, rt->prefix_len) == 0 &&
	    (path[rt->prefix_len] == '\0' || path[rt->prefix_len] == '/');
}

void
rules_decide(const struct rules *r, const char *method, const char *path,
    struct rule_decision *out)
{
	const struct config *cfg = r->cfg;
	size_t               i;

	out->public = false;
	out->backend = cfg->auth.backend;
	out->route = NULL;
	if (strlist_contains(&cfg->auth.exclude_methods, method)) {
		out->public = true;
		return;
	}
	for (i = 0; i < r->nexclude; i++) {
		if (rules_search(r, r->exclude[i], path)) {
			out->public = true;
			return;
		}
	}
	for (i = 0; i < r->nroutes; i++) {
		const struct route *rt = r->routes[i];

		if (!rules_route_covers(rt, path))
			continue;
		if (rt->methods.n > 0 &&
		    !strlist_contains(&rt->methods, method))
			continue;
		out->route = rt;
		out->public = rt->public;
		out->backend = rt->backend;
		return;
	}
}
