/*
 * check_config.c - every key with a good value, a bad value and its exact
 * message; defaults; cross-key rules; line and syntax handling.
 */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"

static char dir[] = "/tmp/jwtgate-config.XXXXXX";
static char path[256];

static void
write_text(const char *p, const char *text)
{
	FILE *fp = fopen(p, "w");

	ck_assert_ptr_nonnull(fp);
	fputs(text, fp);
	fclose(fp);
}

static void
setup(void)
{
	char p[300];

	strcpy(dir, "/tmp/jwtgate-config.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/jwtgate.ini", dir);
	snprintf(p, sizeof p, "%s/secret.key", dir);
	write_text(p, "0123456789abcdef0123456789abcdef0123456789abcdef\n");
	snprintf(p, sizeof p, "%s/other.key", dir);
	write_text(p, "fedcba9876543210fedcba9876543210fedcba9876543210\n");
	snprintf(p, sizeof p, "%s/users.ini", dir);
	write_text(p, "[alice]\npassword = $6$x$y\n");
}

static void
teardown(void)
{
	char cmd[300];

	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

/* Load text; returns config_load's result. */
static int
load(const char *text, struct config **cfg, struct config_errors *errs)
{
	write_text(path, text);
	return config_load(path, cfg, errs);
}

static struct config *
load_ok(const char *text)
{
	struct config       *cfg;
	struct config_errors errs;

	if (load(text, &cfg, &errs) != 0)
		ck_abort_msg("unexpected error: %s", errs.msg[0]);
	return cfg;
}

/* The first error must be exactly "PATH" + suffix. */
static void
expect_error(const char *text, const char *suffix)
{
	struct config       *cfg = NULL;
	struct config_errors errs;
	char                 want[1024];

	ck_assert_int_eq(load(text, &cfg, &errs), -1);
	ck_assert_ptr_null(cfg);
	ck_assert_uint_ge(errs.n, 1);
	snprintf(want, sizeof want, "%s%s", path, suffix);
	ck_assert_str_eq(errs.msg[0], want);
}

#define MIN "[token]\nsecret_file = secret.key\n"

struct key_case {
	const char *section;
	const char *key;
	const char *good;
	const char *bad;
	const char *why; /* the message after "[section] key: " */
};

static const struct key_case key_cases[] = {
    {"server", "public_url", "https://auth.example.com/", "ftp://x",
        "must be an http:// or https:// URL without query or fragment"},
    {"server", "listen", "[::1]:8080", "127.0.0.1",
        "expected HOST:PORT, [IPv6]:PORT or unix:/path"},
    {"server", "threads", "4", "-1", "must be an integer from 0 to 256"},
    {"server", "max_connections", "10", "0",
        "must be an integer from 1 to 1000000"},
    {"server", "max_connections_per_ip", "5", "x",
        "must be an integer from 0 to 1000000"},
    {"server", "connection_timeout", "1m", "0", "must be from 1s to 3600s"},
    {"server", "max_body_bytes", "1024", "16777217",
        "must be an integer from 256 to 16777216"},
    {"server", "trusted_proxies", "10.0.0.0/8, fd00::/8", "10.0.0.0/33",
        "'10.0.0.0/33' is not an address or CIDR block"},
    {"server", "log_level", "debug", "verbose",
        "must be one of debug, info, warning, error"},
    {"server", "log_format", "json", "xml", "must be one of text, json"},
    {"server", "access_log", "off", "maybe",
        "must be true/false, yes/no, on/off or 1/0"},
    {"token", "algorithm", "HS512", "none",
        "must be one of HS256, HS384, HS512, RS256, RS384, RS512, ES256, ES384, ES512"},
    {"token", "retired_key_files", "other.key", "other.key, nope.key", NULL},
    {"token", "ttl", "15m", "1w",
        "must be a duration: an integer with an optional unit s, m, h or d"},
    {"token", "issuer", "https://issuer", "a\tb",
        "must be a non-empty string without control characters"},
    {"token", "audience", "a, b", "a,,b", "list has an empty item"},
    {"token", "accepted_issuers", "x, y", ",", "list has an empty item"},
    {"token", "accepted_audiences", "x", "x,", "list has an empty item"},
    {"token", "strict_audience", "no", "2",
        "must be true/false, yes/no, on/off or 1/0"},
    {"token", "require_claims", "jti, email", "a, ,b",
        "list has an empty item"},
    {"token", "verify_expiry", "false", "nope",
        "must be true/false, yes/no, on/off or 1/0"},
    {"token", "verify_not_before", "0", "-",
        "must be true/false, yes/no, on/off or 1/0"},
    {"token", "leeway", "30s", "2d", "must be from 0s to 86400s"},
    {"token", "max_token_bytes", "4096", "100",
        "must be an integer from 256 to 65536"},
    {"auth", "backend", "jwt_cookie", "cookie",
        "must be one of jwt, jwt_cookie, oauth2_password_bearer"},
    {"auth", "auth_header", "X-Token", "Bad Header",
        "must be an HTTP header name"},
    {"auth", "exclude", "^/public/", "(",
        "invalid pattern at offset 1: missing closing parenthesis"},
    {"auth", "exclude_methods", "OPTIONS, head", "GET, P O",
        "'P O': not an HTTP method"},
    {"auth", "require_known_user", "yes", "sometimes",
        "must be true/false, yes/no, on/off or 1/0"},
    {"cookie", "name", "__Secure-token", "a=b",
        "must be a cookie name (RFC 6265 token characters)"},
    {"cookie", "path", "/app", "app",
        "must be a path starting with '/' (no spaces, ';', ',', '?' or '#')"},
    {"cookie", "domain", "example.com", "a\x01b",
        "must be a non-empty string without control characters"},
    {"cookie", "secure", "true", "secure",
        "must be true/false, yes/no, on/off or 1/0"},
    {"cookie", "samesite", "strict", "Lax", "must be one of lax, strict, none"},
    {"login", "status", "200", "302", "must be an integer from 200 to 299"},
    {"login", "response_body", "user", "json",
        "must be one of default, null, token, oauth2, user"},
    {"login", "max_retries", "3", "0", "must be an integer from 1 to 1000000"},
    {"login", "find_time", "10m", "10y",
        "must be a duration: an integer with an optional unit s, m, h or d"},
    {"login", "ban_time", "1h", "0", "must be from 1s to 2592000s"},
    {"login", "hash_workers", "2", "1000", "must be an integer from 0 to 256"},
    {"oauth2", "token_url", "/oauth/token", "token",
        "must be a path starting with '/' (no spaces, ';', ',', '?' or '#')"},
    {"oauth2", "scopes", "read, write", "read, a b",
        "'a b': scope names cannot contain spaces, quotes or backslashes"},
    {"oauth2", "password_grant", "off", "of",
        "must be true/false, yes/no, on/off or 1/0"},
    {"oauth2", "refresh_tokens", "on", "0n",
        "must be true/false, yes/no, on/off or 1/0"},
    {"oauth2", "refresh_ttl", "7d", "7 d",
        "must be a duration: an integer with an optional unit s, m, h or d"},
    {"users", "file", "users.ini", "nope.ini", NULL},
    {"users", "format", "htpasswd", "passwd", "must be one of ini, htpasswd"},
    {"store", "driver", "memory", "postgres",
        "must be one of sqlite, memory, redis"},
    {"store", "path", "state.db", "/nonexistent/dir/x.db",
        "directory /nonexistent/dir does not exist"},
    {"store", "url", "redis://127.0.0.1:6379/0", "http://x",
        "must be redis://HOST:PORT/DB or unix:/path"},
    {"route /api", "backend", "jwt_cookie", "header",
        "must be one of jwt, jwt_cookie, oauth2_password_bearer"},
    {"route /api", "public", "true", "public",
        "must be true/false, yes/no, on/off or 1/0"},
    {"route /api", "methods", "GET, POST", "GET POST",
        "'GET POST': not an HTTP method"},
    {"route /api", "require_roles", "admin", "admin,",
        "list has an empty item"},
    {"route /api", "require_scopes", "read", "read write",
        "'read write': scope names cannot contain spaces, quotes or backslashes"},
};

static void
key_text(const struct key_case *kc, const char *value, char *buf, size_t len,
    int *line)
{
	if (strcmp(kc->section, "token") == 0) {
		snprintf(buf, len, MIN "%s = %s\n", kc->key, value);
		*line = 3;
	} else {
		/* Scopes a route requires must be declared (after: lines stay). */
		snprintf(buf, len, MIN "[%s]\n%s = %s\n%s", kc->section,
		    kc->key, value,
		    strncmp(kc->section, "route", 5) == 0
		        ? "[oauth2]\nscopes = read, write\n"
		        : "");
		*line = 4;
	}
}

START_TEST(test_key_good_and_bad)
{
	const struct key_case *kc = &key_cases[_i];
	struct config         *cfg;
	struct config_errors   errs;
	char                   text[512], want[1024];
	int                    line;

	key_text(kc, kc->good, text, sizeof text, &line);
	/* A good HS512 needs a longer secret; that is keys.c's business. */
	cfg = load_ok(text);
	config_free(cfg);

	key_text(kc, kc->bad, text, sizeof text, &line);
	ck_assert_int_eq(load(text, &cfg, &errs), -1);
	if (kc->why != NULL) {
		snprintf(want, sizeof want, "%s:%d: [%s] %s: %s", path, line,
		    kc->section, kc->key, kc->why);
		ck_assert_str_eq(errs.msg[0], want);
	} else {
		snprintf(want, sizeof want, "%s:%d: [%s] %s: cannot read %s/",
		    path, line, kc->section, kc->key, dir);
		ck_assert_msg(strncmp(errs.msg[0], want, strlen(want)) == 0,
		    "'%s' does not start with '%s'", errs.msg[0], want);
		ck_assert_ptr_nonnull(
		    strstr(errs.msg[0], ": No such file or directory"));
	}
}
END_TEST

START_TEST(test_defaults)
{
	struct config *cfg = load_ok(MIN);
	char           want[300];

	ck_assert_int_eq(cfg->server.listen.family, AF_INET);
	ck_assert_str_eq(cfg->server.listen.host, "127.0.0.1");
	ck_assert_int_eq(cfg->server.listen.port, 8080);
	ck_assert_uint_eq(cfg->server.threads, 0);
	ck_assert_uint_eq(cfg->server.max_connections, 1024);
	ck_assert_uint_eq(cfg->server.max_connections_per_ip, 0);
	ck_assert_int_eq(cfg->server.connection_timeout, 30);
	ck_assert_uint_eq(cfg->server.max_body_bytes, 16384);
	ck_assert_uint_eq(cfg->server.ntrusted_proxies, 2);
	ck_assert_int_eq(cfg->server.log_level, LOG_LEVEL_INFO);
	ck_assert_int_eq(cfg->server.log_format, LOG_FORMAT_TEXT);
	ck_assert(cfg->server.access_log);
	ck_assert_ptr_null(cfg->server.public_url);
	ck_assert_int_eq(cfg->token.algorithm, ALG_HS256);
	snprintf(want, sizeof want, "%s/secret.key", dir);
	ck_assert_str_eq(cfg->token.secret_file, want);
	ck_assert_int_eq(cfg->token.ttl, 86400);
	ck_assert_uint_eq(cfg->token.accepted_issuers.n, 0);
	ck_assert(!cfg->token.strict_audience);
	ck_assert(cfg->token.verify_expiry);
	ck_assert(cfg->token.verify_not_before);
	ck_assert_int_eq(cfg->token.leeway, 0);
	ck_assert_uint_eq(cfg->token.max_token_bytes, 8192);
	ck_assert_int_eq(cfg->auth.backend, BACKEND_JWT);
	ck_assert_str_eq(cfg->auth.auth_header, "Authorization");
	ck_assert_uint_eq(cfg->auth.exclude.n, 0);
	ck_assert_uint_eq(cfg->auth.exclude_methods.n, 1);
	ck_assert_str_eq(cfg->auth.exclude_methods.v[0], "OPTIONS");
	ck_assert(cfg->auth.require_known_user);
	ck_assert_str_eq(cfg->cookie.name, "token");
	ck_assert_str_eq(cfg->cookie.path, "/");
	ck_assert_ptr_null(cfg->cookie.domain);
	ck_assert(cfg->cookie.secure);
	ck_assert_int_eq(cfg->cookie.samesite, SAMESITE_LAX);
	ck_assert_uint_eq(cfg->login.status, 201);
	ck_assert_int_eq(cfg->login.response_body, LOGIN_BODY_DEFAULT);
	ck_assert_uint_eq(cfg->login.max_retries, 5);
	ck_assert_int_eq(cfg->login.find_time, 120);
	ck_assert_int_eq(cfg->login.ban_time, 300);
	ck_assert_uint_eq(cfg->login.hash_workers, 0);
	ck_assert_str_eq(cfg->oauth2.token_url, "/token");
	ck_assert(cfg->oauth2.password_grant);
	ck_assert(cfg->oauth2.refresh_tokens);
	ck_assert_int_eq(cfg->oauth2.refresh_ttl, 30 * 86400);
	snprintf(want, sizeof want, "%s/users.ini", dir);
	ck_assert_str_eq(cfg->users.file, want);
	ck_assert_int_eq(cfg->users.format, USERS_FORMAT_INI);
	ck_assert_int_eq(cfg->store.driver, STORE_SQLITE);
	snprintf(want, sizeof want, "%s/jwtgate.db", dir);
	ck_assert_str_eq(cfg->store.path, want);
	ck_assert_uint_eq(cfg->nroutes, 0);
	config_free(cfg);
}
END_TEST

START_TEST(test_values_parsed)
{
	struct config *cfg = load_ok(
	    "[server]\nlisten = unix:/run/jwtgate.sock\n"
	    "trusted_proxies = 10.1.0.0/16\npublic_url = https://a.example/x/\n" MIN
	    "issuer = me\naudience = a, b\nttl = 2h\n"
	    "[auth]\nexclude = ^/a\nexclude = ^/b\nexclude_methods = get, Head\n"
	    "[route /api]\npublic = yes\nmethods = get\n[route /]\nrequire_roles = x\n");

	ck_assert_int_eq(cfg->server.listen.family, AF_UNIX);
	ck_assert_str_eq(cfg->server.listen.path, "/run/jwtgate.sock");
	ck_assert_str_eq(cfg->server.public_url, "https://a.example/x");
	ck_assert_uint_eq(cfg->server.ntrusted_proxies, 1);
	ck_assert_uint_eq(cfg->server.trusted_proxies[0].prefix, 16);
	ck_assert_int_eq(cfg->token.ttl, 7200);
	/* accepted_* default to what is issued. */
	ck_assert_uint_eq(cfg->token.accepted_issuers.n, 1);
	ck_assert_str_eq(cfg->token.accepted_issuers.v[0], "me");
	ck_assert_uint_eq(cfg->token.accepted_audiences.n, 2);
	ck_assert_str_eq(cfg->token.accepted_audiences.v[1], "b");
	ck_assert_uint_eq(cfg->auth.exclude.n, 2);
	ck_assert_int_eq(cfg->auth.exclude_lines[1], 12);
	ck_assert_str_eq(cfg->auth.exclude_methods.v[0], "GET");
	ck_assert_str_eq(cfg->auth.exclude_methods.v[1], "HEAD");
	ck_assert_uint_eq(cfg->nroutes, 2);
	ck_assert_str_eq(cfg->routes[0].prefix, "/api");
	ck_assert(cfg->routes[0].public);
	ck_assert_str_eq(cfg->routes[0].methods.v[0], "GET");
	ck_assert_int_eq(cfg->routes[0].backend, BACKEND_JWT);
	ck_assert_str_eq(cfg->routes[1].prefix, "/");
	config_free(cfg);
}
END_TEST

/* "key =" on an optional key is the same as leaving it out. */
START_TEST(test_empty_optional_values)
{
	struct config *cfg =
	    load_ok(MIN "issuer =\n[cookie]\ndomain =\n"
	                "[server]\npublic_url =\n[store]\nurl =\n");

	ck_assert_ptr_null(cfg->token.issuer);
	ck_assert_ptr_null(cfg->cookie.domain);
	ck_assert_ptr_null(cfg->server.public_url);
	ck_assert_ptr_null(cfg->store.url);
	config_free(cfg);
	/* Keys with a default still need a value. */
	expect_error(MIN "[cookie]\nname =\n",
	    ":4: [cookie] name: must be a cookie name (RFC 6265 token characters)");
}
END_TEST

START_TEST(test_durations)
{
	int64_t v;

	ck_assert_int_eq(config_parse_duration("90", &v), 0);
	ck_assert_int_eq(v, 90);
	ck_assert_int_eq(config_parse_duration("15m", &v), 0);
	ck_assert_int_eq(v, 900);
	ck_assert_int_eq(config_parse_duration("1d", &v), 0);
	ck_assert_int_eq(v, 86400);
	ck_assert_int_eq(config_parse_duration("2h", &v), 0);
	ck_assert_int_eq(v, 7200);
	ck_assert_int_eq(config_parse_duration("3s", &v), 0);
	ck_assert_int_eq(v, 3);
	ck_assert_int_eq(config_parse_duration("", &v), -1);
	ck_assert_int_eq(config_parse_duration("-1", &v), -1);
	ck_assert_int_eq(config_parse_duration("1ms", &v), -1);
	ck_assert_int_eq(config_parse_duration("1.5h", &v), -1);
	ck_assert_int_eq(config_parse_duration("m", &v), -1);
	ck_assert_int_eq(config_parse_duration("99999999999999999999", &v), -1);
	ck_assert_int_eq(config_parse_duration("9223372036854775807d", &v), -1);
}
END_TEST

START_TEST(test_bools)
{
	static const char *const yes[] = {"true", "yes", "on", "1", "TRUE",
	    "Yes"};
	static const char *const no[] = {"false", "no", "off", "0", "Off"};
	bool                     b;
	size_t                   i;

	for (i = 0; i < sizeof yes / sizeof yes[0]; i++) {
		ck_assert_int_eq(config_parse_bool(yes[i], &b), 0);
		ck_assert(b);
	}
	for (i = 0; i < sizeof no / sizeof no[0]; i++) {
		ck_assert_int_eq(config_parse_bool(no[i], &b), 0);
		ck_assert(!b);
	}
	ck_assert_int_eq(config_parse_bool("", &b), -1);
	ck_assert_int_eq(config_parse_bool("2", &b), -1);
	ck_assert_int_eq(config_parse_bool("y", &b), -1);
}
END_TEST

START_TEST(test_syntax_errors)
{
	expect_error("[server\nthreads = 1\n" MIN,
	    ":1: section header without ']'");
	expect_error(MIN "[server] junk\n", ":3: text after section header");
	expect_error("threads = 1\n" MIN,
	    ":1: threads: key outside any section");
	expect_error(MIN "  indented = 1\n",
	    ":3: indented line (continuation lines are not supported)");
	expect_error(MIN "[route]\n",
	    ":3: [route]: unknown section (write [route PREFIX])");
	expect_error(MIN "[server]\n[server]\n",
	    ":4: [server]: section appears twice (first at line 3)");
	expect_error(MIN "[route /a]\n[route /a]\n",
	    ":4: [route /a]: the same [route] appears twice");
	expect_error(MIN "[route /a/]\n",
	    ":3: [route /a/]: PREFIX must not end with '/' (write [route /api], which covers /api/x)");
	expect_error(MIN "[route /a/../b]\n",
	    ":3: [route /a/../b]: PREFIX must be a normalised path (no '//', '.' or '..' segments)");
	expect_error(MIN "[route /a%2e]\n",
	    ":3: [route /a%2e]: PREFIX must be a plain decoded path (no '?', '#', '%' or spaces)");
	expect_error(MIN "[route /a]\nbogus = 1\n",
	    ":4: [route /a] bogus: unknown key");
}
END_TEST

START_TEST(test_long_line)
{
	char text[600];

	snprintf(text, sizeof text, MIN "issuer = %0300d\nttl = 1\n", 7);
	expect_error(text, ":3: line longer than 199 bytes");
	snprintf(text, sizeof text, MIN "[route /%060d]\n", 1);
	expect_error(text, ":3: section name longer than 49 bytes");
}
END_TEST

START_TEST(test_comments)
{
	struct config *cfg = load_ok(
	    "; comment\n# comment\n\n" MIN "issuer = me ; trailing comment\n"
	    "[server]\n  ; indented comment\nthreads = 3\n");

	ck_assert_str_eq(cfg->token.issuer, "me");
	ck_assert_uint_eq(cfg->server.threads, 3);
	config_free(cfg);
}
END_TEST

START_TEST(test_cross_key_rules)
{
	expect_error("[token]\nalgorithm = HS256\n",
	    ":2: [token] secret_file: required for HS256");
	expect_error("[token]\nalgorithm = RS256\nsecret_file = secret.key\n",
	    ":2: [token] private_key_file: required for RS256");
	expect_error(MIN "private_key_file = other.key\n",
	    ":3: [token] private_key_file: not used by HS256 (use secret_file)");
	expect_error(MIN "strict_audience = true\n",
	    ":3: [token] strict_audience: needs exactly one accepted audience (has 0)");
	expect_error(MIN "strict_audience = true\naudience = a, b\n",
	    ":3: [token] strict_audience: needs exactly one accepted audience (has 2)");
	expect_error(MIN "[cookie]\nsecure = false\nname = __Host-t\n",
	    ":5: [cookie] name: a __Host- cookie requires secure = true, path = / and no domain");
	expect_error(MIN "[cookie]\npath = /x\nname = __Host-t\n",
	    ":5: [cookie] name: a __Host- cookie requires secure = true, path = / and no domain");
	expect_error(MIN "[cookie]\nsecure = no\nname = __Secure-t\n",
	    ":5: [cookie] name: a __Secure- cookie requires secure = true");
	expect_error(MIN "[cookie]\nsecure = no\nname = __HOST-t\n",
	    ":5: [cookie] name: a __Host- cookie requires secure = true, path = / and no domain");
	expect_error(MIN "[cookie]\nsamesite = none\nsecure = off\n",
	    ":4: [cookie] samesite: none requires secure = true");
	expect_error(MIN "[store]\ndriver = redis\n",
	    ":4: [store] url: required for the redis driver");
	expect_error(MIN
	    "[oauth2]\nscopes = read\n[route /x]\nrequire_scopes = write\n",
	    ":5: [route /x] require_scopes: 'write' is not in [oauth2] scopes");
	expect_error(MIN "[route /x]\nrequire_scopes = write\n",
	    ":3: [route /x] require_scopes: 'write' is not in [oauth2] scopes");
}
END_TEST

START_TEST(test_default_users_file_missing)
{
	char                 p[300], want[1024];
	struct config       *cfg;
	struct config_errors errs;

	snprintf(p, sizeof p, "%s/users.ini", dir);
	unlink(p);
	ck_assert_int_eq(load(MIN, &cfg, &errs), -1);
	snprintf(want, sizeof want,
	    "%s: [users] file: cannot read %s: No such file or directory", path,
	    p);
	ck_assert_str_eq(errs.msg[0], want);
}
END_TEST

START_TEST(test_all_errors_reported)
{
	struct config       *cfg;
	struct config_errors errs;

	ck_assert_int_eq(
	    load("[server]\nthreads = x\nlisten = y\n[bad]\nk = v\n"
	         "[auth]\nbackend = z\nnonsense\n",
	        &cfg, &errs),
	    -1);
	ck_assert_uint_eq(errs.n, 5);
	ck_assert_ptr_nonnull(strstr(errs.msg[0], ":2: [server] threads"));
	ck_assert_ptr_nonnull(strstr(errs.msg[1], ":3: [server] listen"));
	ck_assert_ptr_nonnull(
	    strstr(errs.msg[2], ":4: [bad]: unknown section"));
	ck_assert_ptr_nonnull(strstr(errs.msg[3], ":7: [auth] backend"));
	ck_assert_ptr_nonnull(
	    strstr(errs.msg[4], ":8: expected 'key = value'"));
}
END_TEST

START_TEST(test_error_cap)
{
	struct config       *cfg;
	struct config_errors errs;
	char                 text[4096];
	size_t               off, i;

	off = (size_t)snprintf(text, sizeof text, "[server]\n");
	for (i = 0; i < 40; i++)
		off += (size_t)snprintf(text + off, sizeof text - off,
		    "bad%zu = 1\n", i);
	ck_assert_int_eq(load(text, &cfg, &errs), -1);
	ck_assert_uint_eq(errs.n, CONFIG_ERR_MAX);
	ck_assert_uint_eq(errs.dropped, 40 - CONFIG_ERR_MAX);
}
END_TEST

START_TEST(test_missing_file)
{
	struct config       *cfg;
	struct config_errors errs;

	ck_assert_int_eq(config_load("/nonexistent/jwtgate.ini", &cfg, &errs),
	    -1);
	ck_assert_str_eq(errs.msg[0],
	    "/nonexistent/jwtgate.ini: cannot open: No such file or directory");
}
END_TEST

START_TEST(test_binary_garbage)
{
	struct config       *cfg;
	struct config_errors errs;
	FILE                *fp = fopen(path, "w");
	int                  i;

	/* Random bytes must give errors, never a crash. */
	srand(42);
	for (i = 0; i < 20000; i++)
		fputc(rand() % 256, fp);
	fclose(fp);
	ck_assert_int_eq(config_load(path, &cfg, &errs), -1);
	ck_assert_uint_ge(errs.n, 1);
}
END_TEST

START_TEST(test_split_list)
{
	struct strlist l;

	ck_assert_int_eq(config_split_list(" a , b,c ", &l), 0);
	ck_assert_uint_eq(l.n, 3);
	ck_assert_str_eq(l.v[0], "a");
	ck_assert_str_eq(l.v[2], "c");
	ck_assert(strlist_contains(&l, "b"));
	ck_assert(!strlist_contains(&l, "B"));
	strlist_free(&l);
	ck_assert_int_eq(config_split_list("", &l), 0);
	ck_assert_uint_eq(l.n, 0);
	ck_assert_int_eq(config_split_list("a,", &l), -1);
}
END_TEST

/* Write raw bytes (NULs included) as the configuration. */
static int
load_bytes(const char *bytes, size_t len, struct config **cfg,
    struct config_errors *errs)
{
	FILE *fp = fopen(path, "w");

	ck_assert_uint_eq(fwrite(bytes, 1, len, fp), len);
	fclose(fp);
	return config_load(path, cfg, errs);
}

START_TEST(test_nul_bytes)
{
	static const char a[] = MIN "[server]\nlisten = 127.0.0.1:0\0garbage\n";
	static const char b[] = MIN "[server]\n\0listen = bogus\n";
	struct config    *cfg;
	struct config_errors errs;
	char                 want[512];

	ck_assert_int_eq(load_bytes(a, sizeof a - 1, &cfg, &errs), -1);
	snprintf(want, sizeof want, "%s:4: NUL byte in line", path);
	ck_assert_str_eq(errs.msg[0], want);
	ck_assert_int_eq(load_bytes(b, sizeof b - 1, &cfg, &errs), -1);
	ck_assert_str_eq(errs.msg[0], want);
}
END_TEST

START_TEST(test_hash_comments)
{
	struct config *cfg = load_ok(
	    MIN "issuer = me # a comment\naudience = a, b #c\n"
	        "[server]\nlisten = 127.0.0.1:0 # port 0\n# full line\n");

	ck_assert_str_eq(cfg->token.issuer, "me");
	ck_assert_uint_eq(cfg->token.audience.n, 2);
	ck_assert_str_eq(cfg->token.audience.v[1], "b");
	ck_assert_int_eq(cfg->server.listen.port, 0);
	config_free(cfg);
	/* A '#' inside a value, not after whitespace, is part of it. */
	cfg = load_ok(MIN "issuer = a#b\n");
	ck_assert_str_eq(cfg->token.issuer, "a#b");
	config_free(cfg);
}
END_TEST

START_TEST(test_whitespace_continuations)
{
	expect_error(MIN "[auth]\nexclude = ^/public\n\f.*=\n",
	    ":5: indented line (continuation lines are not supported)");
	expect_error(MIN "[auth]\nexclude = ^/public\n\v.*=\n",
	    ":5: indented line (continuation lines are not supported)");
}
END_TEST

START_TEST(test_line_lengths_and_crlf)
{
	char           text[1024], value[200];
	struct config *cfg;

	/* "issuer = " is 9 bytes: a 199-byte line is fine, CRLF or not. */
	memset(value, 'x', 190);
	value[190] = '\0';
	snprintf(text, sizeof text, MIN "issuer = %s\r\n", value);
	cfg = load_ok(text);
	ck_assert_uint_eq(strlen(cfg->token.issuer), 190);
	config_free(cfg);
	value[191 - 1] = 'y';
	value[191] = '\0';
	snprintf(text, sizeof text, MIN "issuer = %s\n", value);
	expect_error(text, ":3: line longer than 199 bytes");
	cfg = load_ok(
	    "[token]\r\nsecret_file = secret.key\r\n[server]\r\nthreads = 1\r\n");
	ck_assert_uint_eq(cfg->server.threads, 1);
	config_free(cfg);
}
END_TEST

START_TEST(test_section_spacing)
{
	struct config *cfg = load_ok(
	    MIN "[ server ]\nthreads = 3\n[route   /api ]\npublic = yes\n");

	ck_assert_uint_eq(cfg->server.threads, 3);
	ck_assert_str_eq(cfg->routes[0].prefix, "/api");
	ck_assert(cfg->routes[0].public);
	config_free(cfg);
}
END_TEST

START_TEST(test_not_regular_files)
{
	struct config       *cfg;
	struct config_errors errs;
	char                 want[600], fifo[300];

	/* The configuration itself: a directory, a FIFO, a device. */
	ck_assert_int_eq(config_load(dir, &cfg, &errs), -1);
	snprintf(want, sizeof want, "%s: not a regular file", dir);
	ck_assert_str_eq(errs.msg[0], want);
	snprintf(fifo, sizeof fifo, "%s/fifo", dir);
	ck_assert_int_eq(mkfifo(fifo, 0600), 0);
	ck_assert_int_eq(config_load(fifo, &cfg, &errs), -1);
	snprintf(want, sizeof want, "%s: not a regular file", fifo);
	ck_assert_str_eq(errs.msg[0], want);
	ck_assert_int_eq(config_load("/dev/zero", &cfg, &errs), -1);
	ck_assert_str_eq(errs.msg[0], "/dev/zero: not a regular file");
	/* Referenced files. */
	snprintf(want, sizeof want,
	    ":3: [token] retired_key_files: %s is not a regular file", dir);
	{
		char text[600];

		snprintf(text, sizeof text, MIN "retired_key_files = %s\n",
		    dir);
		expect_error(text, want);
		snprintf(text, sizeof text, MIN "[store]\npath = %s\n", dir);
		snprintf(want, sizeof want,
		    ":4: [store] path: %s exists and is not a file", dir);
		expect_error(text, want);
	}
}
END_TEST

START_TEST(test_huge_file)
{
	struct config       *cfg;
	struct config_errors errs;
	FILE                *fp = fopen(path, "w");
	char                 want[512];
	int                  i;

	fputs(MIN, fp);
	for (i = 0; i < 120000; i++)
		fputs("; padding\n", fp);
	fclose(fp);
	ck_assert_int_eq(config_load(path, &cfg, &errs), -1);
	snprintf(want, sizeof want, "%s: larger than 1048576 bytes", path);
	ck_assert_str_eq(errs.msg[0], want);
}
END_TEST

START_TEST(test_listen_checks)
{
	expect_error(MIN "[server]\nlisten = unix:/nonexistent/dir/s.sock\n",
	    ":4: [server] listen: unix: the socket's directory must exist and the path name a file");
	expect_error(MIN "[server]\nlisten = unix:/\n",
	    ":4: [server] listen: unix: the socket's directory must exist and the path name a file");
	expect_error(MIN "[server]\nlisten = [::ffff:127.0.0.1]:0\n",
	    ":4: [server] listen: not an IPv6 address");
}
END_TEST

static Suite *
config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("config");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_key_good_and_bad, 0,
	    sizeof key_cases / sizeof key_cases[0]);
	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_values_parsed);
	tcase_add_test(tc, test_durations);
	tcase_add_test(tc, test_empty_optional_values);
	tcase_add_test(tc, test_bools);
	tcase_add_test(tc, test_syntax_errors);
	tcase_add_test(tc, test_long_line);
	tcase_add_test(tc, test_comments);
	tcase_add_test(tc, test_cross_key_rules);
	tcase_add_test(tc, test_default_users_file_missing);
	tcase_add_test(tc, test_all_errors_reported);
	tcase_add_test(tc, test_error_cap);
	tcase_add_test(tc, test_missing_file);
	tcase_add_test(tc, test_binary_garbage);
	tcase_add_test(tc, test_split_list);
	tcase_add_test(tc, test_nul_bytes);
	tcase_add_test(tc, test_hash_comments);
	tcase_add_test(tc, test_whitespace_continuations);
	tcase_add_test(tc, test_line_lengths_and_crlf);
	tcase_add_test(tc, test_section_spacing);
	tcase_add_test(tc, test_not_regular_files);
	tcase_add_test(tc, test_huge_file);
	tcase_add_test(tc, test_listen_checks);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(config_suite());
	int      failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
