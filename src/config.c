/*
 * config.c - the INI configuration: libinih reads lines, a schema table turns
 * them into struct config.
 *
 * Every key of every section is described once in config_schema[] with its
 * type, default and limits; defaults go through the same parser as values
 * from the file, so a default can never be something a user could not write.
 * A line reader wrapped around libinih counts lines (the Debian build has no
 * INI_HANDLER_LINENO), sees section headers (even empty ones) and turns lines
 * libinih would reject or mangle into reported errors, so that every problem
 * of a file is reported, each as "FILE:LINE: [section] key: why".
 */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "rules.h"
#include "text.h"
#include "xmalloc.h"

#define CONFIG_SECTION_MAX 49      /* libinih truncates longer section names */
#define CONFIG_READ_MAX    4096    /* longer lines are errors anyway */
#define CONFIG_FILE_MAX    1048576 /* a configuration is not a megabyte */

enum ctype {
	CT_STR, /* any non-empty string */
	CT_URL, /* http(s)://host[:port][/path], no trailing slash kept */
	CT_BOOL,
	CT_UINT,
	CT_DURATION, /* seconds */
	CT_LIST,
	CT_ENUM,
	CT_PATH, /* a readable file, made absolute */
	CT_PATHLIST,
	CT_DBPATH, /* a file whose directory exists, made absolute */
	CT_LISTEN,
	CT_CIDRS,
	CT_PATTERN, /* repeatable PCRE2 pattern */
	CT_METHODS,
	CT_HEADER, /* an HTTP header field name */
	CT_COOKIE, /* a cookie name */
	CT_ALG,
	CT_STATUS, /* a 2xx status */
	CT_SCOPES, /* list of scope tokens */
	CT_STORE_URL,
	CT_ROUTE_PATH, /* cookie path or token_url: starts with '/' */
};

#define CK_REPEATABLE 0x1
#define CK_ROUTE      0x2 /* offset into struct route, not struct config */
#define CK_SIZE       0x4 /* CT_UINT stored as size_t, not unsigned */

struct ckey {
	const char        *section;
	const char        *name;
	enum ctype         type;
	size_t             off;
	const char        *def;   /* NULL: no default (unset) */
	const char *const *names; /* CT_ENUM: values, index = enum value */
	long long          min, max;
	unsigned           flags;
};

static const char *const enum_log_level[] = {"debug", "info", "warning",
    "error", NULL};
static const char *const enum_log_format[] = {"text", "json", NULL};
static const char *const enum_backend[] = {"jwt", "jwt_cookie",
    "oauth2_password_bearer", NULL};
static const char *const enum_samesite[] = {"lax", "strict", "none", NULL};
static const char *const enum_login_body[] = {"default", "null", "token",
    "oauth2", "user", NULL};
static const char *const enum_users_format[] = {"ini", "htpasswd", NULL};
static const char *const enum_store[] = {"sqlite", "memory", "redis", NULL};
static const char *const enum_alg[] = {"HS256", "HS384", "HS512", "RS256",
    "RS384", "RS512", "ES256", "ES384", "ES512", NULL};

#define C(field) offsetof(struct config, field)
#define R(field) offsetof(struct route, field)
#define DAY      86400LL
#define YEARS10  (3650LL * DAY)

static const struct ckey config_schema[] = {
    {"server", "public_url", CT_URL, C(server.public_url), NULL, NULL, 0, 0, 0},
    {"server", "listen", CT_LISTEN, C(server.listen), "127.0.0.1:8080", NULL, 0,
        0, 0},
    {"server", "threads", CT_UINT, C(server.threads), "0", NULL, 0, 256, 0},
    {"server", "max_connections", CT_UINT, C(server.max_connections), "1024",
        NULL, 1, 1000000, 0},
    {"server", "max_connections_per_ip", CT_UINT,
        C(server.max_connections_per_ip), "0", NULL, 0, 1000000, 0},
    {"server", "connection_timeout", CT_DURATION, C(server.connection_timeout),
        "30s", NULL, 1, 3600, 0},
    {"server", "max_body_bytes", CT_UINT, C(server.max_body_bytes), "16384",
        NULL, 256, 16777216, CK_SIZE},
    {"server", "trusted_proxies", CT_CIDRS, C(server.trusted_proxies),
        "127.0.0.1, ::1", NULL, 0, 0, 0},
    {"server", "log_level", CT_ENUM, C(server.log_level), "info",
        enum_log_level, 0, 0, 0},
    {"server", "log_format", CT_ENUM, C(server.log_format), "text",
        enum_log_format, 0, 0, 0},
    {"server", "access_log", CT_BOOL, C(server.access_log), "true", NULL, 0, 0,
        0},

    {"token", "algorithm", CT_ALG, C(token.algorithm), "HS256", enum_alg, 0, 0,
        0},
    {"token", "secret_file", CT_PATH, C(token.secret_file), NULL, NULL, 0, 0,
        0},
    {"token", "private_key_file", CT_PATH, C(token.private_key_file), NULL,
        NULL, 0, 0, 0},
    {"token", "retired_key_files", CT_PATHLIST, C(token.retired_key_files),
        NULL, NULL, 0, 0, 0},
    {"token", "ttl", CT_DURATION, C(token.ttl), "1d", NULL, 1, YEARS10, 0},
    {"token", "issuer", CT_STR, C(token.issuer), NULL, NULL, 0, 0, 0},
    {"token", "audience", CT_LIST, C(token.audience), NULL, NULL, 0, 0, 0},
    {"token", "accepted_issuers", CT_LIST, C(token.accepted_issuers), NULL,
        NULL, 0, 0, 0},
    {"token", "accepted_audiences", CT_LIST, C(token.accepted_audiences), NULL,
        NULL, 0, 0, 0},
    {"token", "strict_audience", CT_BOOL, C(token.strict_audience), "false",
        NULL, 0, 0, 0},
    {"token", "require_claims", CT_LIST, C(token.require_claims), NULL, NULL, 0,
        0, 0},
    {"token", "verify_expiry", CT_BOOL, C(token.verify_expiry), "true", NULL, 0,
        0, 0},
    {"token", "verify_not_before", CT_BOOL, C(token.verify_not_before), "true",
        NULL, 0, 0, 0},
    {"token", "leeway", CT_DURATION, C(token.leeway), "0", NULL, 0, DAY, 0},
    {"token", "max_token_bytes", CT_UINT, C(token.max_token_bytes), "8192",
        NULL, 256, 65536, CK_SIZE},

    {"auth", "backend", CT_ENUM, C(auth.backend), "jwt", enum_backend, 0, 0, 0},
    {"auth", "auth_header", CT_HEADER, C(auth.auth_header), "Authorization",
        NULL, 0, 0, 0},
    {"auth", "exclude", CT_PATTERN, C(auth.exclude), NULL, NULL, 0, 0,
        CK_REPEATABLE},
    {"auth", "exclude_methods", CT_METHODS, C(auth.exclude_methods), "OPTIONS",
        NULL, 0, 0, 0},
    {"auth", "require_known_user", CT_BOOL, C(auth.require_known_user), "true",
        NULL, 0, 0, 0},

    {"cookie", "name", CT_COOKIE, C(cookie.name), "token", NULL, 0, 0, 0},
    {"cookie", "path", CT_ROUTE_PATH, C(cookie.path), "/", NULL, 0, 0, 0},
    {"cookie", "domain", CT_STR, C(cookie.domain), NULL, NULL, 0, 0, 0},
    {"cookie", "secure", CT_BOOL, C(cookie.secure), "true", NULL, 0, 0, 0},
    {"cookie", "samesite", CT_ENUM, C(cookie.samesite), "lax", enum_samesite, 0,
        0, 0},

    {"login", "status", CT_STATUS, C(login.status), "201", NULL, 200, 299, 0},
    {"login", "response_body", CT_ENUM, C(login.response_body), "default",
        enum_login_body, 0, 0, 0},
    {"login", "max_retries", CT_UINT, C(login.max_retries), "5", NULL, 1,
        1000000, 0},
    {"login", "find_time", CT_DURATION, C(login.find_time), "2m", NULL, 1,
        30 * DAY, 0},
    {"login", "ban_time", CT_DURATION, C(login.ban_time), "5m", NULL, 1,
        30 * DAY, 0},
    {"login", "hash_workers", CT_UINT, C(login.hash_workers), "0", NULL, 0, 256,
        0},

    {"oauth2", "token_url", CT_ROUTE_PATH, C(oauth2.token_url), "/token", NULL,
        0, 0, 0},
    {"oauth2", "scopes", CT_SCOPES, C(oauth2.scopes), NULL, NULL, 0, 0, 0},
    {"oauth2", "password_grant", CT_BOOL, C(oauth2.password_grant), "true",
        NULL, 0, 0, 0},
    {"oauth2", "refresh_tokens", CT_BOOL, C(oauth2.refresh_tokens), "true",
        NULL, 0, 0, 0},
    {"oauth2", "refresh_ttl", CT_DURATION, C(oauth2.refresh_ttl), "30d", NULL,
        1, YEARS10, 0},

    {"users", "file", CT_PATH, C(users.file), "users.ini", NULL, 0, 0, 0},
    {"users", "format", CT_ENUM, C(users.format), "ini", enum_users_format, 0,
        0, 0},

    {"store", "driver", CT_ENUM, C(store.driver), "sqlite", enum_store, 0, 0,
        0},
    {"store", "path", CT_DBPATH, C(store.path), "jwtgate.db", NULL, 0, 0, 0},
    {"store", "url", CT_STORE_URL, C(store.url), NULL, NULL, 0, 0, 0},

    {"route", "backend", CT_ENUM, R(backend), NULL, enum_backend, 0, 0,
        CK_ROUTE},
    {"route", "public", CT_BOOL, R(public), "false", NULL, 0, 0, CK_ROUTE},
    {"route", "methods", CT_METHODS, R(methods), NULL, NULL, 0, 0, CK_ROUTE},
    {"route", "require_roles", CT_LIST, R(require_roles), NULL, NULL, 0, 0,
        CK_ROUTE},
    {"route", "require_scopes", CT_SCOPES, R(require_scopes), NULL, NULL, 0, 0,
        CK_ROUTE},
};

#define NSCHEMA (sizeof config_schema / sizeof config_schema[0])

static const char *const config_sections[] = {"server", "token", "auth",
    "cookie", "login", "oauth2", "users", "store", NULL};

/* State of one load. */
struct loader {
	struct config        *cfg;
	struct config_errors *errs;
	FILE                 *fp;
	int                   line;
	bool                  seen_section[8];
	int                   section_line[8];
	struct route         *route; /* the [route] being read, or NULL */
	bool   bad_section;          /* keys of an unknown section: skip */
	char   section_name[CONFIG_SECTION_MAX + 1];
	size_t bytes; /* read so far */
	bool   too_big;
	/* Which keys were given, and where. Routes keep their own marks. */
	int   key_line[NSCHEMA];
	int **route_key_line; /* per route, NSCHEMA ints */
};

void
config_error(struct config_errors *errs, const char *fmt, ...)
{
	va_list ap;

	if (errs->n >= CONFIG_ERR_MAX) {
		errs->dropped++;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(errs->msg[errs->n], sizeof errs->msg[0], fmt, ap);
	va_end(ap);
	errs->n++;
}

/* Value parsers shared with other modules. */

int
config_parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = {"true", "yes", "on", "1"};
	static const char *const no[] = {"false", "no", "off", "0"};
	size_t                   i;

	for (i = 0; i < 4; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -1;
}

int
config_parse_duration(const char *s, int64_t *out)
{
	long long   v = 0, mult = 1;
	const char *p = s;

	if (!isdigit((unsigned char)*p))
		return -1;
	for (; isdigit((unsigned char)*p); p++) {
		if (v > (LLONG_MAX - 9) / 10)
			return -1;
		v = v * 10 + (*p - '0');
	}
	switch (*p) {
	case '\0': break;
	case 's': break;
	case 'm': mult = 60; break;
	case 'h': mult = 3600; break;
	case 'd': mult = 86400; break;
	default: return -1;
	}
	if (*p != '\0' && p[1] != '\0')
		return -1;
	if (v > LLONG_MAX / mult)
		return -1;
	*out = v * mult;
	return 0;
}

static char *
config_trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/* Split a comma-separated list; empty items are an error. */
int
config_split_list(const char *s, struct strlist *out)
{
	char *copy, *item, *next;
	int   rc = 0;

	memset(out, 0, sizeof *out);
	copy = xstrdup(s);
	if (*config_trim(copy) == '\0')
		goto out;
	for (item = copy; item != NULL; item = next) {
		char *t;

		next = strchr(item, ',');
		if (next != NULL)
			*next++ = '\0';
		t = config_trim(item);
		if (*t == '\0') {
			rc = -1;
			strlist_free(out);
			goto out;
		}
		out->v = xreallocarray(out->v, out->n + 1, sizeof *out->v);
		out->v[out->n++] = xstrdup(t);
	}
out:
	free(copy);
	return rc;
}

void
strlist_free(struct strlist *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

bool
strlist_contains(const struct strlist *l, const char *s)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (strcmp(l->v[i], s) == 0)
			return true;
	return false;
}

static void
strlist_copy(struct strlist *dst, const struct strlist *src)
{
	size_t i;

	dst->n = src->n;
	dst->v = src->n ? xcalloc(src->n, sizeof *dst->v) : NULL;
	for (i = 0; i < src->n; i++)
		dst->v[i] = xstrdup(src->v[i]);
}

const char *
config_alg_name(enum token_alg alg)
{
	return enum_alg[alg];
}

static bool
config_has_ctl(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

/* A referenced file must be a readable regular file. */
static int
config_check_file(const char *abs, char *why, size_t len)
{
	struct stat st;

	if (access(abs, R_OK) == -1) {
		snprintf(why, len, "cannot read %.300s: %s", abs,
		    strerror(errno));
		return -1;
	}
	if (stat(abs, &st) == -1 || !S_ISREG(st.st_mode)) {
		snprintf(why, len, "%.300s is not a regular file", abs);
		return -1;
	}
	return 0;
}

static char *
config_abspath(const struct config *cfg, const char *p)
{
	char *abs;

	if (p[0] == '/')
		return xstrdup(p);
	xasprintf(&abs, "%s/%s", cfg->dir, p);
	return abs;
}

/* Parse "HOST:PORT", "[V6]:PORT" or "unix:/path". */
static int
config_parse_listen(const char *s, struct listen_addr *la, const char **why)
{
	const char   *host, *port, *end;
	size_t        hlen;
	char         *ep;
	long          p;
	unsigned char buf[16];

	memset(la, 0, sizeof *la);
	if (strncmp(s, "unix:", 5) == 0) {
		if (s[5] != '/' || strlen(s + 5) >= sizeof la->path) {
			*why =
			    "unix: needs an absolute path shorter than 108 bytes";
			return -1;
		}
		la->family = AF_UNIX;
		strcpy(la->path, s + 5);
		{
			char       *dir = xstrdup(la->path);
			struct stat st;
			int         ok;

			*strrchr(dir, '/') = '\0';
			ok = stat(dir[0] ? dir : "/", &st) == 0 &&
			    S_ISDIR(st.st_mode);
			free(dir);
			if (!ok || la->path[strlen(la->path) - 1] == '/') {
				*why =
				    "unix: the socket's directory must exist and the path name a file";
				return -1;
			}
		}
		return 0;
	}
	if (s[0] == '[') {
		end = strchr(s, ']');
		if (end == NULL || end[1] != ':') {
			*why = "expected [IPv6]:PORT";
			return -1;
		}
		host = s + 1;
		hlen = (size_t)(end - host);
		port = end + 2;
		la->family = AF_INET6;
	} else {
		end = strrchr(s, ':');
		if (end == NULL) {
			*why = "expected HOST:PORT, [IPv6]:PORT or unix:/path";
			return -1;
		}
		host = s;
		hlen = (size_t)(end - s);
		port = end + 1;
		la->family = AF_INET;
	}
	if (hlen == 0 || hlen >= sizeof la->host) {
		*why = "missing or overlong host";
		return -1;
	}
	memcpy(la->host, host, hlen);
	la->host[hlen] = '\0';
	if (la->family == AF_INET && strcmp(la->host, "localhost") == 0)
		strcpy(la->host, "127.0.0.1");
	if (inet_pton(la->family, la->host, buf) != 1 ||
	    (la->family == AF_INET6 && strchr(la->host, '.') != NULL)) {
		*why = la->family == AF_INET6
		    ? "not an IPv6 address"
		    : "HOST must be an IPv4 address or localhost (IPv6: [addr]:port)";
		return -1;
	}
	errno = 0;
	p = strtol(port, &ep, 10);
	if (*port == '\0' || *ep != '\0' || errno != 0 || p < 0 || p > 65535 ||
	    !isdigit((unsigned char)*port)) {
		*why = "PORT must be 0-65535";
		return -1;
	}
	la->port = (uint16_t)p;
	return 0;
}

static int
config_parse_cidr(const char *s, struct cidr *c)
{
	char        addr[64];
	const char *slash = strchr(s, '/');
	size_t      len = slash ? (size_t)(slash - s) : strlen(s);
	unsigned    max;
	char       *ep;
	long        pfx;

	if (len == 0 || len >= sizeof addr)
		return -1;
	memcpy(addr, s, len);
	addr[len] = '\0';
	memset(c, 0, sizeof *c);
	if (inet_pton(AF_INET, addr, c->addr) == 1) {
		c->family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, addr, c->addr) == 1) {
		c->family = AF_INET6;
		max = 128;
	} else
		return -1;
	c->prefix = max;
	if (slash != NULL) {
		errno = 0;
		pfx = strtol(slash + 1, &ep, 10);
		if (!isdigit((unsigned char)slash[1]) || *ep != '\0' ||
		    errno != 0 || pfx < 0 || pfx > (long)max)
			return -1;
		c->prefix = (unsigned)pfx;
	}
	return 0;
}

static bool
config_valid_url(const char *s)
{
	const char *host;

	if (strncmp(s, "https://", 8) == 0)
		host = s + 8;
	else if (strncmp(s, "http://", 7) == 0)
		host = s + 7;
	else
		return false;
	if (*host == '\0' || *host == '/' || strchr(s, '?') != NULL ||
	    strchr(s, '#') != NULL || strchr(s, ' ') != NULL)
		return false;
	return !config_has_ctl(s);
}

static bool
config_valid_store_url(const char *s)
{
	const char *p;

	if (strncmp(s, "unix:/", 6) == 0)
		return s[6] != '\0';
	if (strncmp(s, "redis://", 8) != 0)
		return false;
	p = s + 8;
	if (*p == '\0' || *p == '/' || *p == ':')
		return false;
	return !config_has_ctl(s) && strchr(s, ' ') == NULL;
}

/*
 * Parse one value into the field at `dst`. Returns 0, or -1 with *why set
 * (the why may point into `whybuf`).
 */
static int
config_set(struct config *cfg, const struct ckey *k, void *dst,
    const char *value, char *whybuf, size_t whylen, const char **why)
{
	struct strlist l;
	size_t         i;
	long long      v;
	char          *ep;

	/* "key =" for an optional key without a default: unset, as omitted. */
	if (*value == '\0' && k->def == NULL &&
	    (k->type == CT_STR || k->type == CT_URL ||
	        k->type == CT_STORE_URL)) {
		free(*(char **)dst);
		*(char **)dst = NULL;
		return 0;
	}
	switch (k->type) {
	case CT_STR:
		if (*value == '\0' || config_has_ctl(value)) {
			*why =
			    "must be a non-empty string without control characters";
			return -1;
		}
		*(char **)dst = xstrdup(value);
		return 0;
	case CT_URL: {
		char  *u;
		size_t n;

		if (!config_valid_url(value)) {
			*why =
			    "must be an http:// or https:// URL without query or fragment";
			return -1;
		}
		u = xstrdup(value);
		n = strlen(u);
		while (n > 0 && u[n - 1] == '/')
			u[--n] = '\0';
		*(char **)dst = u;
		return 0;
	}
	case CT_BOOL:
		if (config_parse_bool(value, (bool *)dst) == -1) {
			*why = "must be true/false, yes/no, on/off or 1/0";
			return -1;
		}
		return 0;
	case CT_UINT:
	case CT_STATUS:
		errno = 0;
		v = strtoll(value, &ep, 10);
		if (!isdigit((unsigned char)*value) || *ep != '\0' ||
		    errno != 0 || v < k->min || v > k->max) {
			snprintf(whybuf, whylen,
			    "must be an integer from %lld to %lld", k->min,
			    k->max);
			*why = whybuf;
			return -1;
		}
		if (k->flags & CK_SIZE)
			*(size_t *)dst = (size_t)v;
		else
			*(unsigned *)dst = (unsigned)v;
		return 0;
	case CT_DURATION: {
		int64_t d;

		if (config_parse_duration(value, &d) == -1) {
			*why =
			    "must be a duration: an integer with an optional unit s, m, h or d";
			return -1;
		}
		if (d < k->min || d > k->max) {
			snprintf(whybuf, whylen, "must be from %llds to %llds",
			    k->min, k->max);
			*why = whybuf;
			return -1;
		}
		*(int64_t *)dst = d;
		return 0;
	}
	case CT_ENUM:
	case CT_ALG:
		/* Exact, case-sensitive: "hs256" is not an algorithm. */
		for (i = 0; k->names[i] != NULL; i++) {
			if (strcmp(value, k->names[i]) == 0) {
				*(int *)dst = (int)i;
				return 0;
			}
		}
		{
			size_t off =
			    (size_t)snprintf(whybuf, whylen, "must be one of");

			for (i = 0; k->names[i] != NULL && off < whylen; i++)
				off +=
				    (size_t)snprintf(whybuf + off, whylen - off,
				        "%s %s", i ? "," : "", k->names[i]);
		}
		*why = whybuf;
		return -1;
	case CT_LIST:
	case CT_SCOPES:
	case CT_METHODS:
	case CT_PATHLIST:
		if (config_split_list(value, &l) == -1) {
			*why = "list has an empty item";
			return -1;
		}
		for (i = 0; i < l.n; i++) {
			const char *bad = NULL;

			if (k->type == CT_METHODS && !text_is_token(l.v[i]))
				bad = "not an HTTP method";
			else if (k->type == CT_SCOPES &&
			    strpbrk(l.v[i], " \"\\") != NULL)
				bad =
				    "scope names cannot contain spaces, quotes or backslashes";
			else if (config_has_ctl(l.v[i]))
				bad = "control characters are not allowed";
			if (bad != NULL) {
				snprintf(whybuf, whylen, "'%.64s': %s", l.v[i],
				    bad);
				*why = whybuf;
				strlist_free(&l);
				return -1;
			}
			if (k->type == CT_METHODS) {
				char *c;

				for (c = l.v[i]; *c != '\0'; c++)
					*c = (char)toupper((unsigned char)*c);
			}
			if (k->type == CT_PATHLIST) {
				char *abs = config_abspath(cfg, l.v[i]);

				if (config_check_file(abs, whybuf, whylen) ==
				    -1) {
					*why = whybuf;
					free(abs);
					strlist_free(&l);
					return -1;
				}
				free(l.v[i]);
				l.v[i] = abs;
			}
		}
		strlist_free((struct strlist *)dst);
		*(struct strlist *)dst = l;
		return 0;
	case CT_PATH: {
		char *abs;

		if (*value == '\0') {
			*why = "must be a file name";
			return -1;
		}
		abs = config_abspath(cfg, value);
		if (config_check_file(abs, whybuf, whylen) == -1) {
			*why = whybuf;
			free(abs);
			return -1;
		}
		free(*(char **)dst);
		*(char **)dst = abs;
		return 0;
	}
	case CT_DBPATH: {
		char       *abs, *slash;
		struct stat st;
		int         rc;

		if (*value == '\0') {
			*why = "must be a file name";
			return -1;
		}
		abs = config_abspath(cfg, value);
		slash = strrchr(abs, '/');
		*slash = '\0';
		rc = stat(abs[0] ? abs : "/", &st);
		if (rc == -1 || !S_ISDIR(st.st_mode)) {
			snprintf(whybuf, whylen,
			    "directory %.300s does not exist",
			    abs[0] ? abs : "/");
			*why = whybuf;
			free(abs);
			return -1;
		}
		*slash = '/';
		if (stat(abs, &st) == 0 && !S_ISREG(st.st_mode)) {
			snprintf(whybuf, whylen,
			    "%.300s exists and is not a file", abs);
			*why = whybuf;
			free(abs);
			return -1;
		}
		free(*(char **)dst);
		*(char **)dst = abs;
		return 0;
	}
	case CT_LISTEN:
		return config_parse_listen(value, (struct listen_addr *)dst,
		    why);
	case CT_CIDRS: {
		struct cidr *c;

		if (config_split_list(value, &l) == -1) {
			*why = "list has an empty item";
			return -1;
		}
		c = l.n ? xcalloc(l.n, sizeof *c) : NULL;
		for (i = 0; i < l.n; i++) {
			if (config_parse_cidr(l.v[i], &c[i]) == -1) {
				snprintf(whybuf, whylen,
				    "'%.64s' is not an address or CIDR block",
				    l.v[i]);
				*why = whybuf;
				free(c);
				strlist_free(&l);
				return -1;
			}
		}
		free(cfg->server.trusted_proxies);
		cfg->server.trusted_proxies = c;
		cfg->server.ntrusted_proxies = l.n;
		strlist_free(&l);
		return 0;
	}
	case CT_PATTERN: {
		struct strlist *pl = dst;

		if (*value == '\0') {
			*why = "must be a pattern";
			return -1;
		}
		if (rules_pattern_check(value, whybuf, whylen) == -1) {
			*why = whybuf;
			return -1;
		}
		pl->v = xreallocarray(pl->v, pl->n + 1, sizeof *pl->v);
		pl->v[pl->n++] = xstrdup(value);
		return 0;
	}
	case CT_HEADER:
		if (!text_is_token(value)) {
			*why = "must be an HTTP header name";
			return -1;
		}
		*(char **)dst = xstrdup(value);
		return 0;
	case CT_COOKIE:
		if (!text_is_token(value)) {
			*why =
			    "must be a cookie name (RFC 6265 token characters)";
			return -1;
		}
		*(char **)dst = xstrdup(value);
		return 0;
	case CT_ROUTE_PATH:
		if (value[0] != '/' || config_has_ctl(value) ||
		    strpbrk(value, " ;,?#") != NULL) {
			*why =
			    "must be a path starting with '/' (no spaces, ';', ',', '?' or '#')";
			return -1;
		}
		*(char **)dst = xstrdup(value);
		return 0;
	case CT_STORE_URL:
		if (!config_valid_store_url(value)) {
			*why = "must be redis://HOST:PORT/DB or unix:/path";
			return -1;
		}
		*(char **)dst = xstrdup(value);
		return 0;
	}
	*why = "unsupported type";
	return -1;
}

static void
config_free_field(const struct ckey *k, void *dst)
{
	switch (k->type) {
	case CT_STR:
	case CT_URL:
	case CT_PATH:
	case CT_DBPATH:
	case CT_HEADER:
	case CT_COOKIE:
	case CT_ROUTE_PATH:
	case CT_STORE_URL:
		free(*(char **)dst);
		*(char **)dst = NULL;
		break;
	case CT_LIST:
	case CT_SCOPES:
	case CT_METHODS:
	case CT_PATHLIST:
	case CT_PATTERN: strlist_free(dst); break;
	default: break;
	}
}

static void *
config_field(struct config *cfg, struct route *r, const struct ckey *k)
{
	if (k->flags & CK_ROUTE)
		return (char *)r + k->off;
	return (char *)cfg + k->off;
}

static int
config_section_index(const char *name)
{
	int i;

	for (i = 0; config_sections[i] != NULL; i++)
		if (strcmp(config_sections[i], name) == 0)
			return i;
	return -1;
}

static struct route *
config_find_route(struct config *cfg, const char *prefix)
{
	size_t i;

	for (i = 0; i < cfg->nroutes; i++)
		if (strcmp(cfg->routes[i].prefix, prefix) == 0)
			return &cfg->routes[i];
	return NULL;
}

/* A [route PREFIX] header: PREFIX must be a normalised absolute path. */
static void
config_route_section(struct loader *ld, const char *prefix)
{
	struct config *cfg = ld->cfg;
	struct route  *r;
	size_t         len = strlen(prefix);
	const char    *why = NULL;

	if (prefix[0] != '/')
		why = "PREFIX must start with '/'";
	else if (len > 1 && prefix[len - 1] == '/')
		why =
		    "PREFIX must not end with '/' (write [route /api], which covers /api/x)";
	else if (strstr(prefix, "//") != NULL ||
	    strstr(prefix, "/./") != NULL || strstr(prefix, "/../") != NULL ||
	    (len >= 2 && strcmp(prefix + len - 2, "/.") == 0) ||
	    (len >= 3 && strcmp(prefix + len - 3, "/..") == 0))
		why =
		    "PREFIX must be a normalised path (no '//', '.' or '..' segments)";
	else if (strpbrk(prefix, "?#% \t") != NULL || config_has_ctl(prefix))
		why =
		    "PREFIX must be a plain decoded path (no '?', '#', '%' or spaces)";
	else if (config_find_route(cfg, prefix) != NULL)
		why = "the same [route] appears twice";
	if (why != NULL) {
		config_error(ld->errs, "%s:%d: [route %s]: %s", cfg->path,
		    ld->line, prefix, why);
		ld->bad_section = true;
		return;
	}
	cfg->routes =
	    xreallocarray(cfg->routes, cfg->nroutes + 1, sizeof *cfg->routes);
	ld->route_key_line = xreallocarray(ld->route_key_line, cfg->nroutes + 1,
	    sizeof *ld->route_key_line);
	ld->route_key_line[cfg->nroutes] = xcalloc(NSCHEMA, sizeof(int));
	r = &cfg->routes[cfg->nroutes++];
	memset(r, 0, sizeof *r);
	r->prefix = xstrdup(prefix);
	r->prefix_len = len;
	r->line = ld->line;
	ld->route = r;
}

/* Called by the line reader for every "[...]" line, before libinih sees it. */
static void
config_section_line(struct loader *ld, char *line)
{
	char *end = strchr(line, ']');
	char *name, *rest;
	int   idx;

	ld->route = NULL;
	ld->bad_section = false;
	if (end == NULL) {
		config_error(ld->errs, "%s:%d: section header without ']'",
		    ld->cfg->path, ld->line);
		ld->bad_section = true;
		return;
	}
	*end = '\0';
	rest = config_trim(end + 1);
	if (*rest != '\0' && *rest != ';' && *rest != '#') {
		config_error(ld->errs, "%s:%d: text after section header",
		    ld->cfg->path, ld->line);
		ld->bad_section = true;
		return;
	}
	name = config_trim(line + 1);
	if (strlen(name) > CONFIG_SECTION_MAX) {
		config_error(ld->errs,
		    "%s:%d: section name longer than %d bytes", ld->cfg->path,
		    ld->line, CONFIG_SECTION_MAX);
		ld->bad_section = true;
		return;
	}
	if (strncmp(name, "route", 5) == 0 && isspace((unsigned char)name[5])) {
		char *prefix = config_trim(name + 6);

		snprintf(ld->section_name, sizeof ld->section_name, "route %s",
		    prefix);
		config_route_section(ld, prefix);
		return;
	}
	snprintf(ld->section_name, sizeof ld->section_name, "%s", name);
	idx = config_section_index(name);
	if (idx == -1) {
		config_error(ld->errs, "%s:%d: [%s]: unknown section%s",
		    ld->cfg->path, ld->line, name,
		    strcmp(name, "route") == 0 ? " (write [route PREFIX])"
		                               : "");
		ld->bad_section = true;
		return;
	}
	if (ld->seen_section[idx]) {
		config_error(ld->errs,
		    "%s:%d: [%s]: section appears twice (first at line %d)",
		    ld->cfg->path, ld->line, name, ld->section_line[idx]);
		ld->bad_section = true;
		return;
	}
	ld->seen_section[idx] = true;
	ld->section_line[idx] = ld->line;
}

/*
 * One physical line into buf (without its LF or CRLF). Returns its length,
 * -1 at the end of the file; *nul and *toolong report what the line held.
 */
static long
config_getline(struct loader *ld, char *buf, size_t cap, bool *nul,
    bool *toolong)
{
	size_t n = 0;
	int    c = EOF;

	*nul = *toolong = false;
	while (ld->bytes <= CONFIG_FILE_MAX && (c = getc(ld->fp)) != EOF) {
		ld->bytes++;
		if (c == '\n')
			break;
		if (c == '\0')
			*nul = true;
		if (n + 1 < cap)
			buf[n++] = (char)c;
		else
			*toolong = true;
	}
	if (c == EOF && n == 0 && !*nul && !*toolong)
		return -1;
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	buf[n] = '\0';
	return (long)n;
}

/* A comment starts at ';' or '#' at the start or after whitespace. */
static void
config_strip_comment(char *line)
{
	char *p;

	for (p = line; *p != '\0'; p++) {
		if ((*p == '#' || *p == ';') &&
		    (p == line || isspace((unsigned char)p[-1]))) {
			*p = '\0';
			return;
		}
	}
}

/*
 * libinih's reader: one physical line per call, so our count matches its
 * own. Lines it would reject or mangle are reported here and handed on as
 * comments, so that all errors of a file are collected; section headers
 * are handed on normalised ("[ server ]" is "[server]").
 */
static char *
config_reader(char *str, int num, void *stream)
{
	struct loader *ld = stream;
	char           line[CONFIG_READ_MAX];
	char          *p;
	bool           nul, toolong;
	long           len;

	len = config_getline(ld, line, sizeof line, &nul, &toolong);
	if (ld->bytes > CONFIG_FILE_MAX) {
		if (!ld->too_big)
			config_error(ld->errs, "%s: larger than %d bytes",
			    ld->cfg->path, CONFIG_FILE_MAX);
		ld->too_big = true;
		return NULL;
	}
	if (len == -1)
		return NULL;
	ld->line++;
	strcpy(str, ";");
	if (nul) {
		config_error(ld->errs, "%s:%d: NUL byte in line", ld->cfg->path,
		    ld->line);
		return str;
	}
	if (toolong || len > num - 1) {
		config_error(ld->errs, "%s:%d: line longer than %d bytes",
		    ld->cfg->path, ld->line, num - 1);
		return str;
	}
	p = line;
	if (ld->line == 1 && strncmp(p, "\xEF\xBB\xBF", 3) == 0)
		p += 3;
	if (isspace((unsigned char)*p)) {
		char *t = config_trim(p);

		if (*t != '\0' && *t != ';' && *t != '#')
			config_error(ld->errs,
			    "%s:%d: indented line (continuation lines are not supported)",
			    ld->cfg->path, ld->line);
		return str;
	}
	if (*p == ';' || *p == '#' || *p == '\0')
		return str;
	if (*p == '[') {
		config_section_line(ld, p);
		if (!ld->bad_section)
			snprintf(str, (size_t)num, "[%s]", ld->section_name);
		return str;
	}
	config_strip_comment(p);
	if (strpbrk(p, "=:") == NULL) {
		config_error(ld->errs, "%s:%d: expected 'key = value'",
		    ld->cfg->path, ld->line);
		return str;
	}
	snprintf(str, (size_t)num, "%s", p);
	return str;
}

static const struct ckey *
config_find_key(const char *section, const char *name, bool route)
{
	size_t i;

	for (i = 0; i < NSCHEMA; i++) {
		const struct ckey *k = &config_schema[i];

		if (route != ((k->flags & CK_ROUTE) != 0))
			continue;
		if ((route || strcmp(k->section, section) == 0) &&
		    strcmp(k->name, name) == 0)
			return k;
	}
	return NULL;
}

static int
config_handler(void *user, const char *section, const char *name,
    const char *value)
{
	struct loader     *ld = user;
	struct config     *cfg = ld->cfg;
	const struct ckey *k;
	int               *seen;
	char               whybuf[400];
	const char        *why = NULL;
	bool               route = ld->route != NULL;

	if (ld->bad_section)
		return 1;
	if (*section == '\0') {
		config_error(ld->errs, "%s:%d: %s: key outside any section",
		    cfg->path, ld->line, name);
		return 1;
	}
	k = config_find_key(section, name, route);
	if (k == NULL) {
		config_error(ld->errs, "%s:%d: [%s] %s: unknown key", cfg->path,
		    ld->line, section, name);
		return 1;
	}
	seen = route
	    ? &ld->route_key_line[ld->route - cfg->routes][k - config_schema]
	    : &ld->key_line[k - config_schema];
	if (*seen != 0 && !(k->flags & CK_REPEATABLE)) {
		config_error(ld->errs,
		    "%s:%d: [%s] %s: key given twice (first at line %d)",
		    cfg->path, ld->line, section, name, *seen);
		return 1;
	}
	if (k->type != CT_PATTERN && *seen == 0)
		config_free_field(k, config_field(cfg, ld->route, k));
	if (config_set(cfg, k, config_field(cfg, ld->route, k), value, whybuf,
	        sizeof whybuf, &why) == -1) {
		config_error(ld->errs, "%s:%d: [%s] %s: %s", cfg->path,
		    ld->line, section, name, why);
		return 1;
	}
	if (*seen == 0)
		*seen = ld->line;
	if (route && k->off == R(backend))
		ld->route->backend_set = true;
	if (k->type == CT_PATTERN) {
		cfg->auth.exclude_lines = xreallocarray(cfg->auth.exclude_lines,
		    cfg->auth.exclude.n, sizeof(int));
		cfg->auth.exclude_lines[cfg->auth.exclude.n - 1] = ld->line;
	}
	return 1;
}

/* Defaults of the main sections, applied before the file is read. */
static void
config_defaults(struct config *cfg, struct config_errors *errs)
{
	size_t i;
	char   whybuf[400];

	for (i = 0; i < NSCHEMA; i++) {
		const struct ckey *k = &config_schema[i];
		const char        *why;

		if (k->def == NULL || (k->flags & CK_ROUTE))
			continue;
		/* Files are checked after the load, only if still in use. */
		if (k->type == CT_PATH || k->type == CT_DBPATH) {
			*(char **)((char *)cfg + k->off) =
			    config_abspath(cfg, k->def);
			continue;
		}
		if (config_set(cfg, k, (char *)cfg + k->off, k->def, whybuf,
		        sizeof whybuf, &why) == -1)
			config_error(errs, "%s: [%s] %s: bad default: %s",
			    cfg->path, k->section, k->name, why);
	}
}

static int
config_line_of(const struct loader *ld, const char *section, const char *name)
{
	const struct ckey *k = config_find_key(section, name, false);

	return k != NULL ? ld->key_line[k - config_schema] : 0;
}

/* "FILE:LINE:" where the key was given, else "FILE:". */
static void
config_where(const struct loader *ld, const char *section, const char *name,
    char *buf, size_t len)
{
	int line = config_line_of(ld, section, name);

	if (line > 0)
		snprintf(buf, len, "%s:%d:", ld->cfg->path, line);
	else
		snprintf(buf, len, "%s:", ld->cfg->path);
}

/* Files given by default (users.ini, jwtgate.db) are checked only now. */
static void
config_check_default_files(struct loader *ld)
{
	struct config *cfg = ld->cfg;
	char           where[600];

	if (config_line_of(ld, "users", "file") == 0 &&
	    access(cfg->users.file, R_OK) == -1) {
		config_where(ld, "users", "file", where, sizeof where);
		config_error(ld->errs, "%s [users] file: cannot read %s: %s",
		    where, cfg->users.file, strerror(errno));
	}
	if (cfg->store.driver == STORE_SQLITE &&
	    config_line_of(ld, "store", "path") == 0) {
		char       *dir = xstrdup(cfg->store.path);
		struct stat st;

		*strrchr(dir, '/') = '\0';
		if (stat(dir[0] ? dir : "/", &st) == -1 || !S_ISDIR(st.st_mode))
			config_error(ld->errs,
			    "%s: [store] path: directory %s does not exist",
			    cfg->path, dir);
		free(dir);
	}
}

static bool
config_alg_is_hmac(enum token_alg alg)
{
	return alg <= ALG_HS512;
}

/* Rules that tie several keys together. */
static void
config_validate(struct loader *ld)
{
	struct config        *cfg = ld->cfg;
	struct config_errors *errs = ld->errs;
	char                  w[600];
	const char           *alg = config_alg_name(cfg->token.algorithm);
	const char           *name = cfg->cookie.name;
	size_t                i;

	config_check_default_files(ld);

	if (config_alg_is_hmac(cfg->token.algorithm)) {
		if (cfg->token.secret_file == NULL) {
			config_where(ld, "token", "algorithm", w, sizeof w);
			config_error(errs,
			    "%s [token] secret_file: required for %s", w, alg);
		}
		if (cfg->token.private_key_file != NULL) {
			config_where(ld, "token", "private_key_file", w,
			    sizeof w);
			config_error(errs,
			    "%s [token] private_key_file: not used by %s (use secret_file)",
			    w, alg);
		}
	} else {
		if (cfg->token.private_key_file == NULL) {
			config_where(ld, "token", "algorithm", w, sizeof w);
			config_error(errs,
			    "%s [token] private_key_file: required for %s", w,
			    alg);
		}
		if (cfg->token.secret_file != NULL) {
			config_where(ld, "token", "secret_file", w, sizeof w);
			config_error(errs,
			    "%s [token] secret_file: not used by %s (use private_key_file)",
			    w, alg);
		}
	}

	/* accepted_* default to what is issued. */
	if (config_line_of(ld, "token", "accepted_issuers") == 0 &&
	    cfg->token.issuer != NULL) {
		cfg->token.accepted_issuers.v = xcalloc(1, sizeof(char *));
		cfg->token.accepted_issuers.v[0] = xstrdup(cfg->token.issuer);
		cfg->token.accepted_issuers.n = 1;
	}
	if (config_line_of(ld, "token", "accepted_audiences") == 0)
		strlist_copy(&cfg->token.accepted_audiences,
		    &cfg->token.audience);
	if (cfg->token.strict_audience &&
	    cfg->token.accepted_audiences.n != 1) {
		config_where(ld, "token", "strict_audience", w, sizeof w);
		config_error(errs,
		    "%s [token] strict_audience: needs exactly one accepted audience (has %zu)",
		    w, cfg->token.accepted_audiences.n);
	}

	if (cfg->cookie.samesite == SAMESITE_NONE && !cfg->cookie.secure) {
		config_where(ld, "cookie", "samesite", w, sizeof w);
		config_error(errs,
		    "%s [cookie] samesite: none requires secure = true", w);
	}
	/* Browsers match the prefixes without regard to case. */
	if (strncasecmp(name, "__Secure-", 9) == 0 && !cfg->cookie.secure) {
		config_where(ld, "cookie", "name", w, sizeof w);
		config_error(errs,
		    "%s [cookie] name: a __Secure- cookie requires secure = true",
		    w);
	}
	if (strncasecmp(name, "__Host-", 7) == 0 &&
	    (!cfg->cookie.secure || strcmp(cfg->cookie.path, "/") != 0 ||
	        cfg->cookie.domain != NULL)) {
		config_where(ld, "cookie", "name", w, sizeof w);
		config_error(errs,
		    "%s [cookie] name: a __Host- cookie requires secure = true, path = / and no domain",
		    w);
	}
	if (cfg->cookie.domain != NULL &&
	    strpbrk(cfg->cookie.domain, " ;,") != NULL) {
		config_where(ld, "cookie", "domain", w, sizeof w);
		config_error(errs, "%s [cookie] domain: must be a host name",
		    w);
	}

	if (cfg->store.driver == STORE_REDIS && cfg->store.url == NULL) {
		config_where(ld, "store", "driver", w, sizeof w);
		config_error(errs,
		    "%s [store] url: required for the redis driver", w);
	}

	/* Scopes a route requires must be scopes the server knows. */
	for (i = 0; i < cfg->nroutes; i++) {
		struct route *r = &cfg->routes[i];
		size_t        j;

		for (j = 0; j < r->require_scopes.n; j++)
			if (!strlist_contains(&cfg->oauth2.scopes,
			        r->require_scopes.v[j]))
				config_error(errs,
				    "%s:%d: [route %s] require_scopes: '%s' is not in [oauth2] scopes",
				    cfg->path, r->line, r->prefix,
				    r->require_scopes.v[j]);
	}
}

static void
config_route_defaults(struct config *cfg)
{
	size_t i;

	for (i = 0; i < cfg->nroutes; i++) {
		if (!cfg->routes[i].backend_set)
			cfg->routes[i].backend = cfg->auth.backend;
	}
}

/* Open a regular file only: a FIFO or a device would block or never end. */
static int
config_open(const char *path, FILE **fp, struct config_errors *errs)
{
	struct stat st;
	int         fd;

	fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd == -1) {
		config_error(errs, "%s: cannot open: %s", path,
		    strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		config_error(errs, "%s: not a regular file", path);
		close(fd);
		return -1;
	}
	*fp = fdopen(fd, "r");
	if (*fp == NULL)
		fatal("out of memory (fdopen)");
	return 0;
}

int
config_load(const char *path, struct config **out, struct config_errors *errs)
{
	struct loader  ld;
	struct config *cfg;
	char          *slash;
	size_t         i;

	memset(errs, 0, sizeof *errs);
	memset(&ld, 0, sizeof ld);
	*out = NULL;
	cfg = xcalloc(1, sizeof *cfg);
	cfg->path = xstrdup(path);
	slash = strrchr(path, '/');
	if (slash == NULL)
		cfg->dir = xstrdup(".");
	else if (slash == path)
		cfg->dir = xstrdup("/");
	else
		cfg->dir = xstrndup(path, (size_t)(slash - path));
	ld.cfg = cfg;
	ld.errs = errs;

	if (config_open(path, &ld.fp, errs) == -1)
		goto out;
	config_defaults(cfg, errs);
	/*
	 * Our reader hands libinih only lines it can parse, so its own error
	 * return is a safety net for anything we did not foresee.
	 */
	{
		int rc =
		    ini_parse_stream(config_reader, &ld, config_handler, &ld);

		if (rc > 0 && errs->n == 0)
			config_error(errs, "%s:%d: syntax error", path, rc);
		else if (rc < 0 && errs->n == 0)
			config_error(errs, "%s: cannot parse", path);
	}
	if (ferror(ld.fp))
		config_error(errs, "%s: read error", path);
	fclose(ld.fp);
	config_route_defaults(cfg);
	if (errs->n == 0)
		config_validate(&ld);
out:
	for (i = 0; i < cfg->nroutes; i++)
		free(ld.route_key_line[i]);
	free(ld.route_key_line);
	if (errs->n > 0) {
		config_free(cfg);
		return -1;
	}
	cfg->key_lines = xcalloc(NSCHEMA, sizeof(int));
	memcpy(cfg->key_lines, ld.key_line, sizeof ld.key_line);
	*out = cfg;
	return 0;
}

void
config_key_where(const struct config *cfg, const char *section,
    const char *name, char *buf, size_t len)
{
	const struct ckey *k = config_find_key(section, name, false);
	int                line = k != NULL && cfg->key_lines != NULL
	                   ? cfg->key_lines[k - config_schema]
	                   : 0;

	if (cfg->path == NULL)
		snprintf(buf, len, "%s", "");
	else if (line > 0)
		snprintf(buf, len, "%s:%d: ", cfg->path, line);
	else
		snprintf(buf, len, "%s: ", cfg->path);
}

void
config_errors_merge(struct config_errors *dst, const struct config_errors *src)
{
	size_t i;

	for (i = 0; i < src->n; i++)
		config_error(dst, "%s", src->msg[i]);
	dst->dropped += src->dropped;
}

void
config_free(struct config *cfg)
{
	size_t i, j;

	if (cfg == NULL)
		return;
	for (i = 0; i < NSCHEMA; i++) {
		const struct ckey *k = &config_schema[i];

		if (k->flags & CK_ROUTE) {
			for (j = 0; j < cfg->nroutes; j++)
				config_free_field(k,
				    (char *)&cfg->routes[j] + k->off);
			continue;
		}
		config_free_field(k, (char *)cfg + k->off);
	}
	for (j = 0; j < cfg->nroutes; j++)
		free(cfg->routes[j].prefix);
	free(cfg->routes);
	free(cfg->server.trusted_proxies);
	free(cfg->auth.exclude_lines);
	free(cfg->path);
	free(cfg->dir);
	free(cfg->key_lines);
	free(cfg);
}
