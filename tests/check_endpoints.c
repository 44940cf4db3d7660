/*
 * check_endpoints.c - the three backends, login, /token, /logout, /me and
 * /verify against the real binary, with tokens from jwtgate itself and
 * from PyJWT (Debian's python3-jwt).
 */
#include <check.h>
#include <curl/curl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define SECRET "0123456789abcdef0123456789abcdef0123456789abcdef"

#define SCOPES "[oauth2]\nscopes = read, write, admin\n"

/* No [server] here: tests add theirs (the harness adds the listen line). */
#define BASE                                                                   \
	"[token]\nsecret_file = secret.key\n"                                  \
	"[store]\ndriver = memory\n[oauth2]\nscopes = read, write, admin\n"

static struct jg jg;

static void
start(const char *ini)
{
	jg_check_start(&jg, ini);
}

/* Stop the daemon; a sanitizer report in its log fails the test. */
static void
stop(void)
{
	jg_check_stop(&jg);
}

/* A request whose answer the test checks; fails the test on transport errors. */
static void
req(const char *method, const char *path, const char *const *headers,
    const char *body, struct reply *r)
{
	ck_assert_msg(jg_request(&jg, method, path, headers, body, r) == 0,
	    "%s %s: no answer", method, path);
}

static void
expect(struct reply *r, long status, const char *body)
{
	ck_assert_msg(r->status == status, "status %ld, want %ld; body %s",
	    r->status, status, r->body);
	if (body != NULL)
		ck_assert_str_eq(r->body, body);
}

/* Log in through /login (JSON); returns the token of the header. */
static char *
login(const char *user, const char *password)
{
	static const char *const h[] = {"Content-Type: application/json", NULL};
	struct reply             r;
	char                     body[256];
	const char              *auth;
	char                    *tok;

	snprintf(body, sizeof body, "{\"username\":\"%s\",\"password\":\"%s\"}",
	    user, password);
	req("POST", "/login", h, body, &r);
	ck_assert_msg(r.status == 201, "login: %ld %s", r.status, r.body);
	auth = reply_header(&r, "Authorization");
	ck_assert_ptr_nonnull(auth);
	ck_assert_int_eq(strncmp(auth, "Bearer ", 7), 0);
	tok = strdup(auth + 7);
	reply_free(&r);
	return tok;
}

static char *
hdr(const char *name, const char *value)
{
	static char buf[4][16384];
	static int  i;

	i = (i + 1) % 4;
	snprintf(buf[i], sizeof buf[i], "%s: %s", name, value);
	return buf[i];
}

/*
 * Mint a token with PyJWT: payload and header are JSON texts; "now+N" in a
 * payload string value is not supported, so callers compute times.
 */
static char *
pyjwt(const char *alg, const char *payload, const char *header)
{
	char   cmd[8192], out[8192];
	FILE  *fp;
	size_t n;

	snprintf(cmd, sizeof cmd,
	    "/usr/bin/python3 -c 'import jwt,json,sys; "
	    "print(jwt.encode(json.loads(sys.argv[1]), sys.argv[3], algorithm=sys.argv[2], "
	    "headers=json.loads(sys.argv[4])))' '%s' '%s' '%s' '%s'",
	    payload, alg, SECRET, header != NULL ? header : "{}");
	fp = popen(cmd, "r");
	ck_assert_ptr_nonnull(fp);
	n = fread(out, 1, sizeof out - 1, fp);
	ck_assert_int_eq(pclose(fp), 0);
	out[n] = '\0';
	out[strcspn(out, "\n")] = '\0';
	ck_assert_uint_gt(strlen(out), 20);
	return strdup(out);
}

static long
now(void)
{
	return (long)time(NULL);
}

/* /verify with a bearer token; the status. */
static long
verify_status(const char *tok, const char *uri)
{
	const char  *h[4] = {NULL, NULL, NULL, NULL};
	struct reply r;
	long         status;
	int          n = 0;

	if (tok != NULL)
		h[n++] = hdr("Authorization", tok);
	if (uri != NULL)
		h[n++] = hdr("X-Forwarded-Uri", uri);
	req("GET", "/verify", h, NULL, &r);
	status = r.status;
	reply_free(&r);
	return status;
}

static char *
bearer(const char *tok)
{
	static char buf[2][8192];
	static int  i;

	i ^= 1;
	snprintf(buf[i], sizeof buf[i], "Bearer %s", tok);
	return buf[i];
}

/* ---- the jwt (header) backend ---- */

START_TEST(test_jwt_backend_flow)
{
	struct reply r;
	char        *tok;
	const char  *h[3] = {NULL, NULL, NULL};

	start(BASE);
	tok = login("alice", "alice-password");
	/* Header backend: no cookie is set. */
	{
		static const char *const ct[] =
		    {"Content-Type: application/json", NULL};

		req("POST", "/login", ct,
		    "{\"username\":\"alice\",\"password\":\"alice-password\"}",
		    &r);
		expect(&r, 201, "null");
		ck_assert_ptr_null(reply_header(&r, "Set-Cookie"));
		ck_assert_str_eq(reply_header(&r, "Cache-Control"), "no-store");
		reply_free(&r);
	}
	h[0] = hdr("Authorization", bearer(tok));
	req("GET", "/me", h, NULL, &r);
	expect(&r, 200, NULL);
	ck_assert_ptr_nonnull(strstr(r.body, "\"sub\":\"alice\""));
	ck_assert_ptr_nonnull(strstr(r.body, "\"roles\":[\"admin\",\"dev\"]"));
	ck_assert_ptr_nonnull(strstr(r.body, "\"name\":\"Alice Liddell\""));
	ck_assert_ptr_nonnull(
	    strstr(r.body, "\"email\":\"alice@example.com\""));
	ck_assert_ptr_nonnull(strstr(r.body, "\"scope\":\"read write\""));
	ck_assert_ptr_nonnull(strstr(r.body, "\"claims\":{"));
	ck_assert_str_eq(reply_header(&r, "Cache-Control"), "no-store");
	reply_free(&r);

	req("POST", "/logout", h, NULL, &r);
	expect(&r, 200, "{\"detail\":\"Logged out\"}");
	ck_assert_ptr_null(reply_header(&r, "Set-Cookie"));
	reply_free(&r);

	req("GET", "/me", h, NULL, &r);
	expect(&r, 401, "{\"status_code\":401,\"detail\":\"Unauthorized\"}");
	ck_assert_str_eq(reply_header(&r, "WWW-Authenticate"),
	    "Bearer realm=\"jwtgate\", error=\"invalid_token\"");
	reply_free(&r);
	ck_assert_int_eq(verify_status(bearer(tok), "/x"), 401);
	free(tok);
}
END_TEST

START_TEST(test_jwt_extraction)
{
	struct reply r;
	char        *tok;
	const char  *h[2] = {NULL, NULL};
	char         v[8192];

	start(BASE);
	tok = login("alice", "alice-password");
	req("GET", "/me", NULL, NULL, &r);
	expect(&r, 401,
	    "{\"status_code\":401,\"detail\":\"No JWT token found in request header\"}");
	ck_assert_str_eq(reply_header(&r, "WWW-Authenticate"),
	    "Bearer realm=\"jwtgate\"");
	reply_free(&r);
	/* Case-insensitive scheme. */
	snprintf(v, sizeof v, "bEaReR %s", tok);
	h[0] = hdr("Authorization", v);
	req("GET", "/me", h, NULL, &r);
	expect(&r, 200, NULL);
	reply_free(&r);
	/* A raw token, another scheme, an empty token: no token. */
	{
		static const char *const none[] = {"Basic YWxpY2U6eA==",
		    "Bearer", "Bearer ", "Token abc"};
		size_t                   i;

		for (i = 0; i < sizeof none / sizeof none[0]; i++) {
			h[0] = hdr("Authorization", none[i]);
			req("GET", "/me", h, NULL, &r);
			expect(&r, 401,
			    "{\"status_code\":401,\"detail\":\"No JWT token found in request header\"}");
			reply_free(&r);
		}
		h[0] = hdr("Authorization", tok);
		req("GET", "/me", h, NULL, &r);
		expect(&r, 401,
		    "{\"status_code\":401,\"detail\":\"No JWT token found in request header\"}");
		reply_free(&r);
	}
	/* A cookie is never read by the header backend. */
	snprintf(v, sizeof v, "token=%s", tok);
	h[0] = hdr("Cookie", v);
	req("GET", "/me", h, NULL, &r);
	expect(&r, 401,
	    "{\"status_code\":401,\"detail\":\"No JWT token found in request header\"}");
	reply_free(&r);
	/* Garbage after the scheme is a token, and an invalid one. */
	h[0] = hdr("Authorization", "Bearer not.a.jwt");
	req("GET", "/me", h, NULL, &r);
	expect(&r, 401, "{\"status_code\":401,\"detail\":\"Invalid token\"}");
	ck_assert_str_eq(reply_header(&r, "WWW-Authenticate"),
	    "Bearer realm=\"jwtgate\", error=\"invalid_token\"");
	reply_free(&r);
	free(tok);
}
END_TEST

START_TEST(test_custom_auth_header)
{
	struct reply             r;
	char                    *tok;
	const char              *h[2] = {NULL, NULL};
	static const char *const ct[] = {"Content-Type: application/json",
	    NULL};

	start(BASE "[auth]\nauth_header = X-Api-Token\n");
	req("POST", "/login", ct,
	    "{\"username\":\"alice\",\"password\":\"alice-password\"}", &r);
	expect(&r, 201, "null");
	ck_assert_ptr_null(reply_header(&r, "Authorization"));
	ck_assert_ptr_nonnull(reply_header(&r, "X-Api-Token"));
	tok = strdup(reply_header(&r, "X-Api-Token"));
	reply_free(&r);
	h[0] = hdr("X-Api-Token", tok);
	req("GET", "/me", h, NULL, &r);
	expect(&r, 200, NULL);
	reply_free(&r);
	h[0] = hdr("Authorization", tok);
	req("GET", "/me", h, NULL, &r);
	expect(&r, 401, NULL);
	reply_free(&r);
	free(tok);
}
END_TEST

/* ---- the cookie backends ---- */

static void
cookie_flow(const char *backend, const char *want_body_prefix)
{
	struct reply             r;
	char                     ini[1024], v[8192], cookie[8192], *tok;
	const char              *h[3] = {NULL, NULL, NULL};
	static const char *const ct[] =
	    {"Content-Type: application/x-www-form-urlencoded", NULL};
	const char *sc;

	snprintf(ini, sizeof ini,
	    BASE "[auth]\nbackend = %s\n[cookie]\n"
	         "secure = false\nsamesite = strict\ndomain = example.test\n",
	    backend);
	start(ini);
	req("POST", "/login", ct, "username=alice&password=alice-password", &r);
	expect(&r, 201, NULL);
	ck_assert_msg(strncmp(r.body, want_body_prefix,
	                  strlen(want_body_prefix)) == 0,
	    "body %s", r.body);
	tok = strdup(reply_header(&r, "Authorization") + 7);
	sc = reply_header(&r, "Set-Cookie");
	ck_assert_ptr_nonnull(sc);
	snprintf(v, sizeof v,
	    "token=%s; Domain=example.test; HttpOnly; Max-Age=86400; "
	    "Path=/; SameSite=Strict",
	    tok);
	ck_assert_str_eq(sc, v);
	/* Exactly one cookie. */
	ck_assert_ptr_null(
	    strstr(strstr(r.headers, "Set-Cookie") + 10, "Set-Cookie"));
	reply_free(&r);

	/* Cookie only: raw, quoted, and the legacy "Bearer <jwt>" value. */
	snprintf(cookie, sizeof cookie, "a=b; token=%s; c=d", tok);
	h[0] = hdr("Cookie", cookie);
	req("GET", "/me", h, NULL, &r);
	expect(&r, 200, NULL);
	reply_free(&r);
	snprintf(cookie, sizeof cookie, "token=\"Bearer %s\"", tok);
	h[0] = hdr("Cookie", cookie);
	req("GET", "/me", h, NULL, &r);
	expect(&r, 200, NULL);
	reply_free(&r);
	/* Header only. */
	h[0] = hdr("Authorization", bearer(tok));
	req("GET", "/me", h, NULL, &r);
	expect(&r, 200, NULL);
	reply_free(&r);
	/* A bad Bearer header is used, and the good cookie is not consulted. */
	snprintf(cookie, sizeof cookie, "token=%s", tok);
	h[0] = hdr("Authorization", "Bearer bad.token.here");
	h[1] = hdr("Cookie", cookie);
	req("GET", "/me", h, NULL, &r);
	expect(&r, 401, "{\"status_code\":401,\"detail\":\"Invalid token\"}");
	reply_free(&r);
	/* Another scheme in the header is no token: the cookie is read. */
	h[0] = hdr("Authorization", "Basic YWxpY2U6eA==");
	req("GET", "/me", h, NULL, &r);
	expect(&r, 200, NULL);
	reply_free(&r);
	/* Neither. */
	h[1] = NULL;
	req("GET", "/me", h, NULL, &r);
	expect(&r, 401,
	    "{\"status_code\":401,\"detail\":\"No JWT token found in request header or cookies\"}");
	reply_free(&r);
	/* Another cookie name is not ours. */
	snprintf(cookie, sizeof cookie, "tokenx=%s; xtoken=%s", tok, tok);
	h[0] = hdr("Cookie", cookie);
	req("GET", "/me", h, NULL, &r);
	expect(&r, 401,
	    "{\"status_code\":401,\"detail\":\"No JWT token found in request header or cookies\"}");
	reply_free(&r);

	/* Logout with the cookie: revoked, and the cookie cleared. */
	snprintf(cookie, sizeof cookie, "token=%s", tok);
	h[0] = hdr("Cookie", cookie);
	req("POST", "/logout", h, NULL, &r);
	expect(&r, 200, "{\"detail\":\"Logged out\"}");
	ck_assert_str_eq(reply_header(&r, "Set-Cookie"),
	    "token=; Domain=example.test; HttpOnly; Max-Age=0; Path=/; SameSite=Strict");
	reply_free(&r);
	req("GET", "/me", h, NULL, &r);
	expect(&r, 401, "{\"status_code\":401,\"detail\":\"Unauthorized\"}");
	reply_free(&r);
	free(tok);
}

START_TEST(test_cookie_backend_flow)
{
	cookie_flow("jwt_cookie", "null");
}
END_TEST

START_TEST(test_oauth2_backend_flow)
{
	cookie_flow("oauth2_password_bearer", "{\"access_token\":\"");
}
END_TEST

START_TEST(test_cookie_secure_attributes)
{
	struct reply             r;
	static const char *const ct[] = {"Content-Type: application/json",
	    NULL};
	const char              *sc;

	start(BASE "[auth]\nbackend = jwt_cookie\n[cookie]\nname = __Host-jwt\n"
	           "samesite = none\n");
	req("POST", "/login", ct,
	    "{\"username\":\"alice\",\"password\":\"alice-password\"}", &r);
	expect(&r, 201, "null");
	sc = reply_header(&r, "Set-Cookie");
	ck_assert_int_eq(strncmp(sc, "__Host-jwt=ey", 13), 0);
	ck_assert_ptr_nonnull(strstr(sc,
	    "; HttpOnly; Max-Age=86400; Path=/; SameSite=None; Secure"));
	ck_assert_ptr_null(strstr(sc, "Domain="));
	reply_free(&r);
}
END_TEST

/* ---- login ---- */

START_TEST(test_login_failures)
{
	static const char *const json[] = {"Content-Type: application/json",
	    NULL};
	static const char *const form[] =
	    {"Content-Type: application/x-www-form-urlencoded", NULL};
	static const char *const text[] = {"Content-Type: text/plain", NULL};
	static const char *const bodies[] = {
	    "{\"username\":\"alice\",\"password\":\"wrong\"}",
	    "{\"username\":\"nobody\",\"password\":\"alice-password\"}",
	    "{\"username\":\"bob\",\"password\":\"bob-password\"}",
	};
	struct reply r;
	size_t       i;

	start(BASE);
	for (i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
		req("POST", "/login", json, bodies[i], &r);
		expect(&r, 401,
		    "{\"status_code\":401,\"detail\":\"Invalid credentials\"}");
		ck_assert_ptr_null(reply_header(&r, "Authorization"));
		reply_free(&r);
	}
	req("POST", "/login", text, "username=alice&password=alice-password",
	    &r);
	expect(&r, 415,
	    "{\"status_code\":415,\"detail\":\"Unsupported Media Type\"}");
	reply_free(&r);
	req("POST", "/login", NULL, NULL, &r);
	expect(&r, 415, NULL);
	reply_free(&r);
	{
		static const char *const bad[] = {"", "{", "[]", "\"x\"",
		    "null",
		    "{\"username\":\"a\",\"username\":\"b\",\"password\":\"x\"}"};

		for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
			req("POST", "/login", json, bad[i], &r);
			expect(&r, 400,
			    "{\"status_code\":400,\"detail\":\"Malformed request body\"}");
			reply_free(&r);
		}
	}
	{
		static const char *const missing[] = {"{}",
		    "{\"username\":\"alice\"}", "{\"password\":\"x\"}",
		    "{\"username\":1,\"password\":\"x\"}",
		    "{\"username\":\"\",\"password\":\"x\"}"};

		for (i = 0; i < sizeof missing / sizeof missing[0]; i++) {
			req("POST", "/login", json, missing[i], &r);
			expect(&r, 400,
			    "{\"status_code\":400,\"detail\":\"username and password are required strings\"}");
			reply_free(&r);
		}
	}
	req("POST", "/login", form, "username=alice&password=%zz", &r);
	expect(&r, 400,
	    "{\"status_code\":400,\"detail\":\"Malformed request body\"}");
	reply_free(&r);
	req("POST", "/login", form, "username=alice&password=a%00b", &r);
	expect(&r, 400,
	    "{\"status_code\":400,\"detail\":\"Malformed request body\"}");
	reply_free(&r);
	req("GET", "/login", NULL, NULL, &r);
	expect(&r, 405, NULL);
	ck_assert_str_eq(reply_header(&r, "Allow"), "POST, OPTIONS");
	reply_free(&r);
	{
		char *big = malloc(20000);

		memset(big, 'x', 19999);
		big[19999] = '\0';
		req("POST", "/login", json, big, &r);
		expect(&r, 413, NULL);
		reply_free(&r);
		free(big);
	}
	/* Form bodies with '+' and escapes log in. */
	req("POST", "/login", form, "username=carol&password=carol%2Dpassword",
	    &r);
	expect(&r, 201, "null");
	reply_free(&r);
}
END_TEST

START_TEST(test_login_response_bodies)
{
	static const char *const json[] = {"Content-Type: application/json",
	    NULL};
	static const char *const creds =
	    "{\"username\":\"alice\",\"password\":\"alice-password\"}";
	struct reply r;
	json_t      *j;

	start(BASE "[login]\nresponse_body = token\nstatus = 200\n");
	req("POST", "/login", json, creds, &r);
	expect(&r, 200, NULL);
	j = json_loads(r.body, 0, NULL);
	ck_assert_str_eq(json_string_value(json_object_get(j, "token")),
	    reply_header(&r, "Authorization") + 7);
	ck_assert_uint_eq(json_object_size(j), 1);
	json_decref(j);
	reply_free(&r);
	stop();

	start(BASE "[login]\nresponse_body = user\n");
	req("POST", "/login", json, creds, &r);
	expect(&r, 201,
	    "{\"sub\":\"alice\",\"name\":\"Alice Liddell\",\"email\":\"alice@example.com\",\"roles\":[\"admin\",\"dev\"]}");
	reply_free(&r);
	stop();

	start(BASE "[login]\nresponse_body = oauth2\n");
	req("POST", "/login", json, creds, &r);
	expect(&r, 201, NULL);
	j = json_loads(r.body, 0, NULL);
	ck_assert_str_eq(json_string_value(json_object_get(j, "token_type")),
	    "bearer");
	ck_assert_int_eq(json_integer_value(json_object_get(j, "expires_in")),
	    86400);
	ck_assert_str_eq(json_string_value(json_object_get(j, "scope")),
	    "read write");
	ck_assert_ptr_nonnull(
	    json_string_value(json_object_get(j, "refresh_token")));
	ck_assert_str_eq(json_string_value(json_object_get(j, "access_token")),
	    reply_header(&r, "Authorization") + 7);
	json_decref(j);
	reply_free(&r);
	stop();

	start(BASE
	    "[login]\nresponse_body = null\n[auth]\nbackend = oauth2_password_bearer\n"
	    "[cookie]\nsecure = false\n");
	req("POST", "/login", json, creds, &r);
	expect(&r, 201, "null");
	reply_free(&r);
}
END_TEST

START_TEST(test_login_ban)
{
	static const char *const json[] = {"Content-Type: application/json",
	    NULL};
	struct reply             r;
	int                      i;

	start(BASE "[login]\nmax_retries = 3\nban_time = 1m\n");
	for (i = 0; i < 3; i++) {
		req("POST", "/login", json,
		    "{\"username\":\"alice\",\"password\":\"nope\"}", &r);
		expect(&r, 401, NULL);
		reply_free(&r);
	}
	/* Banned: even the right password gets 429 with Retry-After. */
	req("POST", "/login", json,
	    "{\"username\":\"alice\",\"password\":\"alice-password\"}", &r);
	expect(&r, 429,
	    "{\"status_code\":429,\"detail\":\"Too Many Requests\"}");
	ck_assert_ptr_nonnull(reply_header(&r, "Retry-After"));
	ck_assert_int_gt(atoi(reply_header(&r, "Retry-After")), 0);
	ck_assert_int_le(atoi(reply_header(&r, "Retry-After")), 60);
	reply_free(&r);
	/* Failed password grants on /token count too (the address is banned). */
	req("POST", "/token",
	    (const char
	            *const[]){"Content-Type: application/x-www-form-urlencoded",
	        NULL},
	    "grant_type=password&username=carol&password=carol-password", &r);
	expect(&r, 429, NULL);
	reply_free(&r);
}
END_TEST

START_TEST(test_spoofed_forwarded_for_ignored)
{
	static const char *const h[] = {"Content-Type: application/json",
	    "X-Forwarded-For: 203.0.113.9", NULL};
	static const char *const h2[] = {"Content-Type: application/json",
	    "X-Forwarded-For: 203.0.113.10", NULL};
	struct reply             r;
	int                      i;

	/* 127.0.0.1 is not trusted here: X-Forwarded-For is ignored, so every
	 * attempt counts against the real address whatever the header says. */
	start(BASE "[server]\n"
	           "trusted_proxies = 10.9.9.9\n[login]\nmax_retries = 2\n");
	for (i = 0; i < 2; i++) {
		req("POST", "/login", i ? h : h2,
		    "{\"username\":\"x\",\"password\":\"y\"}", &r);
		reply_free(&r);
	}
	req("POST", "/login", h,
	    "{\"username\":\"carol\",\"password\":\"carol-password\"}", &r);
	expect(&r, 429, NULL);
	reply_free(&r);
}
END_TEST

/* ---- /token ---- */

static json_t *
token_call(const char *body, long want_status)
{
	static const char *const form[] =
	    {"Content-Type: application/x-www-form-urlencoded", NULL};
	struct reply r;
	json_t      *j;

	req("POST", "/token", form, body, &r);
	ck_assert_msg(r.status == want_status, "%s: %ld %s", body, r.status,
	    r.body);
	ck_assert_str_eq(reply_header(&r, "Cache-Control"), "no-store");
	ck_assert_str_eq(reply_header(&r, "Pragma"), "no-cache");
	j = json_loads(r.body, 0, NULL);
	ck_assert_ptr_nonnull(j);
	reply_free(&r);
	return j;
}

static void
token_error(const char *body, const char *error)
{
	json_t *j = token_call(body, 400);

	ck_assert_str_eq(json_string_value(json_object_get(j, "error")), error);
	ck_assert_ptr_nonnull(
	    json_string_value(json_object_get(j, "error_description")));
	json_decref(j);
}

START_TEST(test_token_errors)
{
	struct reply r;

	start(BASE);
	token_error("", "invalid_request");
	token_error("username=alice", "invalid_request");
	token_error(
	    "grant_type=password&grant_type=password&username=alice&password=alice-password",
	    "invalid_request");
	token_error("grant_type=client_credentials", "unsupported_grant_type");
	token_error("grant_type=authorization_code&code=x",
	    "unsupported_grant_type");
	token_error("grant_type=password&username=alice", "invalid_request");
	token_error("grant_type=password&password=x", "invalid_request");
	token_error("grant_type=password&username=alice&password=wrong",
	    "invalid_grant");
	token_error("grant_type=password&username=nobody&password=wrong",
	    "invalid_grant");
	token_error("grant_type=password&username=bob&password=bob-password",
	    "invalid_grant");
	token_error(
	    "grant_type=password&username=carol&password=carol-password&scope=write",
	    "invalid_scope");
	token_error("grant_type=refresh_token", "invalid_request");
	token_error("grant_type=refresh_token&refresh_token=bogus",
	    "invalid_grant");
	token_error("grant_type=password&username=alice&password=%zz",
	    "invalid_request");
	/* JSON is not a token request. */
	req("POST", "/token",
	    (const char *const[]){"Content-Type: application/json", NULL},
	    "{\"grant_type\":\"password\"}", &r);
	expect(&r, 400, NULL);
	ck_assert_ptr_nonnull(strstr(r.body, "\"error\":\"invalid_request\""));
	reply_free(&r);
	/* Same answer for unknown user and wrong password. */
	{
		json_t *a = token_call(
		    "grant_type=password&username=alice&password=wrong", 400);
		json_t *b = token_call(
		    "grant_type=password&username=nobody&password=wrong", 400);

		ck_assert(json_equal(a, b));
		json_decref(a);
		json_decref(b);
	}
}
END_TEST

/* Access lines of answered /token requests that name no user. */
static int
token_200_lines_without_user(void)
{
	char *log, *line, *save = NULL;
	int   n = 0;

	usleep(400000); /* past the 0.25 s a held access line may wait */
	log = jg_file_read(jg.log);
	ck_assert_ptr_nonnull(log);
	for (line = strtok_r(log, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		size_t len = strlen(line);

		if (strstr(line, "POST /token 200 ") != NULL && len >= 7 &&
		    strcmp(line + len - 7, " user=-") == 0)
			n++;
	}
	free(log);
	return n;
}

START_TEST(test_token_password_and_refresh)
{
	json_t      *j, *k;
	char         body[512], *rt1, *rt2;
	const char  *h[2] = {NULL, NULL};
	struct reply r;

	start(BASE);
	j = token_call(
	    "grant_type=password&username=alice&password=alice-password", 200);
	ck_assert_str_eq(json_string_value(json_object_get(j, "token_type")),
	    "bearer");
	ck_assert_str_eq(json_string_value(json_object_get(j, "scope")),
	    "read write");
	ck_assert_int_eq(json_integer_value(json_object_get(j, "expires_in")),
	    86400);
	h[0] = hdr("Authorization",
	    bearer(json_string_value(json_object_get(j, "access_token"))));
	req("GET", "/me", h, NULL, &r);
	expect(&r, 200, NULL);
	reply_free(&r);
	rt1 = strdup(json_string_value(json_object_get(j, "refresh_token")));
	json_decref(j);

	/* Narrowing on a password grant. */
	j = token_call(
	    "grant_type=password&username=alice&password=alice-password&scope=read",
	    200);
	ck_assert_str_eq(json_string_value(json_object_get(j, "scope")),
	    "read");
	json_decref(j);

	/* Rotation: the refresh gives a new refresh token, narrowing allowed. */
	snprintf(body, sizeof body,
	    "grant_type=refresh_token&refresh_token=%s&scope=read", rt1);
	j = token_call(body, 200);
	ck_assert_str_eq(json_string_value(json_object_get(j, "scope")),
	    "read");
	rt2 = strdup(json_string_value(json_object_get(j, "refresh_token")));
	ck_assert_str_ne(rt1, rt2);
	json_decref(j);
	/* The access log names the refresh token's user, as for a password. */
	ck_assert_int_eq(token_200_lines_without_user(), 0);
	/* Widening beyond the original grant is refused. */
	snprintf(body, sizeof body,
	    "grant_type=refresh_token&refresh_token=%s&scope=admin", rt2);
	token_error(body, "invalid_scope");

	/* Reuse of the old token kills the family: rt2 is dead too. */
	snprintf(body, sizeof body, "grant_type=refresh_token&refresh_token=%s",
	    rt1);
	token_error(body, "invalid_grant");
	snprintf(body, sizeof body, "grant_type=refresh_token&refresh_token=%s",
	    rt2);
	token_error(body, "invalid_grant");
	free(rt1);
	free(rt2);

	/* A fresh family still works. */
	j = token_call(
	    "grant_type=password&username=carol&password=carol-password", 200);
	ck_assert_str_eq(json_string_value(json_object_get(j, "scope")),
	    "read");
	snprintf(body, sizeof body, "grant_type=refresh_token&refresh_token=%s",
	    json_string_value(json_object_get(j, "refresh_token")));
	json_decref(j);
	k = token_call(body, 200);
	json_decref(k);
}
END_TEST

START_TEST(test_token_grants_disabled)
{
	start(
	    "[server]\nthreads = 2\n[token]\nsecret_file = secret.key\n[store]\ndriver = memory\n"
	    "[oauth2]\npassword_grant = false\nrefresh_tokens = false\nscopes = read, write\n");
	token_error(
	    "grant_type=password&username=alice&password=alice-password",
	    "unsupported_grant_type");
	token_error("grant_type=refresh_token&refresh_token=x",
	    "unsupported_grant_type");
}
END_TEST

START_TEST(test_logout_revokes_refresh_family)
{
	json_t      *j;
	char         body[512], *rt, *at;
	const char  *h[3] = {NULL, NULL, NULL};
	struct reply r;

	start(BASE);
	j = token_call(
	    "grant_type=password&username=alice&password=alice-password", 200);
	rt = strdup(json_string_value(json_object_get(j, "refresh_token")));
	at = strdup(json_string_value(json_object_get(j, "access_token")));
	json_decref(j);
	h[0] = hdr("Authorization", bearer(at));
	h[1] = "Content-Type: application/json";
	snprintf(body, sizeof body, "{\"refresh_token\":\"%s\"}", rt);
	req("POST", "/logout", h, body, &r);
	expect(&r, 200, "{\"detail\":\"Logged out\"}");
	reply_free(&r);
	snprintf(body, sizeof body, "grant_type=refresh_token&refresh_token=%s",
	    rt);
	token_error(body, "invalid_grant");
	free(rt);
	free(at);
}
END_TEST

START_TEST(test_refresh_scope_refusal_keeps_token)
{
	json_t *j;
	char    body[512], *rt;

	start(BASE);
	j = token_call(
	    "grant_type=password&username=carol&password=carol-password", 200);
	rt = strdup(json_string_value(json_object_get(j, "refresh_token")));
	json_decref(j);
	/* A refused scope does not use the token up. */
	snprintf(body, sizeof body,
	    "grant_type=refresh_token&refresh_token=%s&scope=write", rt);
	token_error(body, "invalid_scope");
	snprintf(body, sizeof body,
	    "grant_type=refresh_token&refresh_token=%s&scope=nosuch", rt);
	token_error(body, "invalid_scope");
	snprintf(body, sizeof body, "grant_type=refresh_token&refresh_token=%s",
	    rt);
	j = token_call(body, 200);
	ck_assert_str_eq(json_string_value(json_object_get(j, "scope")),
	    "read");
	json_decref(j);
	free(rt);
}
END_TEST

START_TEST(test_refresh_drops_lost_scopes)
{
	json_t *j;
	char    body[512], *rt, path[512];
	FILE   *fp;
	int     i;

	start(BASE);
	j = token_call(
	    "grant_type=password&username=alice&password=alice-password", 200);
	ck_assert_str_eq(json_string_value(json_object_get(j, "scope")),
	    "read write");
	rt = strdup(json_string_value(json_object_get(j, "refresh_token")));
	json_decref(j);
	/* alice loses "write": a refresh no longer grants it. */
	snprintf(path, sizeof path, "%s/users.ini", jg.dir);
	fp = fopen(path, "w");
	fputs(
	    "[alice]\npassword = $6$q6BIxIkrpORsz66B$VJnrdsa4QsmCS5dcfAGYRxmQ6zf7tRsp6MZi9Wrt1ShRg1aYxa.ldeSnHON0ZoWcWS0pdUhiwP4ljtNYeS0i7/\n"
	    "scopes = read\n",
	    fp);
	fclose(fp);
	kill(jg.pid, SIGHUP);
	for (i = 0;
	     i < 200 && !jg_file_contains(jg.log, "configuration reloaded");
	     i++)
		usleep(10000);
	snprintf(body, sizeof body, "grant_type=refresh_token&refresh_token=%s",
	    rt);
	j = token_call(body, 200);
	ck_assert_str_eq(json_string_value(json_object_get(j, "scope")),
	    "read");
	json_decref(j);
	free(rt);
}
END_TEST

START_TEST(test_logout_bodies)
{
	json_t      *a, *c;
	char         body[512];
	const char  *h[3] = {NULL, "Content-Type: application/json", NULL};
	struct reply r;

	start(BASE);
	a = token_call(
	    "grant_type=password&username=alice&password=alice-password", 200);
	c = token_call(
	    "grant_type=password&username=carol&password=carol-password", 200);
	h[0] = hdr("Authorization",
	    bearer(json_string_value(json_object_get(a, "access_token"))));
	/* Another user's refresh token is not alice's to revoke. */
	snprintf(body, sizeof body, "{\"refresh_token\":\"%s\"}",
	    json_string_value(json_object_get(c, "refresh_token")));
	req("POST", "/logout", h, body, &r);
	expect(&r, 403, "{\"status_code\":403,\"detail\":\"Forbidden\"}");
	reply_free(&r);
	snprintf(body, sizeof body, "grant_type=refresh_token&refresh_token=%s",
	    json_string_value(json_object_get(c, "refresh_token")));
	json_decref(token_call(body, 200));
	req("POST", "/logout", h, "{\"refresh_token\":5}", &r);
	expect(&r, 400,
	    "{\"status_code\":400,\"detail\":\"refresh_token must be a non-empty string\"}");
	reply_free(&r);
	req("POST", "/logout", h, "{\"refresh_token\":", &r);
	expect(&r, 400,
	    "{\"status_code\":400,\"detail\":\"Malformed request body\"}");
	reply_free(&r);
	/* Still logged in after refused logouts; then out. */
	req("POST", "/logout", h, NULL, &r);
	expect(&r, 200, NULL);
	reply_free(&r);
	json_decref(a);
	json_decref(c);
}
END_TEST

/* ---- /verify ---- */

START_TEST(test_verify_rules)
{
	char *alice, *carol;

	start(BASE
	    "[auth]\nexclude = ^/static/\nexclude = \\.css$\nexclude_methods = OPTIONS, HEAD\n"
	    "[route /public]\npublic = true\n"
	    "[route /public/private]\npublic = false\n"
	    "[route /admin]\nrequire_roles = admin\n"
	    "[route /write]\nrequire_scopes = write\n"
	    "[route /ro]\nmethods = GET\npublic = true\n");
	{
		char *a = login("alice", "alice-password");
		char *c = login("carol", "carol-password");

		alice = strdup(bearer(a));
		carol = strdup(bearer(c));
		free(a);
		free(c);
	}

	/* Excluded and public paths need no token. */
	ck_assert_int_eq(verify_status(NULL, "/static/app.js"), 200);
	ck_assert_int_eq(verify_status(NULL, "/x/site.css"), 200);
	ck_assert_int_eq(verify_status(NULL, "/public"), 200);
	ck_assert_int_eq(verify_status(NULL, "/public/a/b"), 200);
	ck_assert_int_eq(verify_status(NULL, "/publicity"), 401);
	ck_assert_int_eq(verify_status(NULL, "/public/private/x"), 401);
	ck_assert_int_eq(verify_status(NULL, "/app/static/x"),
	    401); /* ^ anchors */
	ck_assert_int_eq(verify_status(NULL, "/"), 401);
	/* Roles and scopes. */
	ck_assert_int_eq(verify_status(alice, "/admin/x"), 200);
	ck_assert_int_eq(verify_status(carol, "/admin/x"), 403);
	ck_assert_int_eq(verify_status(carol, "/admin;jsessionid=1"), 403);
	ck_assert_int_eq(verify_status(carol, "/ADMIN/../admin/x"), 403);
	ck_assert_int_eq(verify_status(alice, "/write"), 200);
	ck_assert_int_eq(verify_status(carol, "/write/x"), 403);
	ck_assert_int_eq(verify_status(carol, "/other"), 200);
	/* Method-limited rules apply only to their methods. */
	ck_assert_int_eq(verify_status(NULL, "/ro/x"), 200);
	{
		const char  *h[] = {"X-Forwarded-Uri: /ro/x",
		     "X-Forwarded-Method: POST", NULL};
		const char  *o[] = {"X-Forwarded-Uri: /admin",
		     "X-Forwarded-Method: OPTIONS", NULL};
		const char  *hd[] = {"X-Original-URI: /admin",
		     "X-Original-Method: HEAD", NULL};
		struct reply r;

		req("GET", "/verify", h, NULL, &r);
		expect(&r, 401, NULL);
		reply_free(&r);
		req("GET", "/verify", o, NULL, &r);
		expect(&r, 200, NULL);
		reply_free(&r);
		req("GET", "/verify", hd, NULL, &r);
		expect(&r, 200, NULL);
		reply_free(&r);
	}
	/* 403 body. */
	{
		const char  *h[] = {hdr("Authorization", carol),
		     "X-Forwarded-Uri: /admin", NULL};
		struct reply r;

		req("POST", "/verify", h, NULL, &r);
		expect(&r, 403,
		    "{\"status_code\":403,\"detail\":\"Forbidden\"}");
		reply_free(&r);
	}
	free(alice);
	free(carol);
}
END_TEST

START_TEST(test_verify_identity_headers)
{
	struct reply r;
	char        *tok, *alice;
	const char  *h[3] = {NULL, "X-Forwarded-Uri: /app", NULL};
	const char  *p[] = {"X-Forwarded-Uri: /static/x", NULL};

	start(BASE);
	tok = login("alice", "alice-password");
	alice = strdup(bearer(tok));
	free(tok);
	h[0] = hdr("Authorization", alice);
	req("GET", "/verify", h, NULL, &r);
	expect(&r, 200, NULL);
	ck_assert_str_eq(reply_header(&r, "Remote-User"), "alice");
	ck_assert_str_eq(reply_header(&r, "Remote-Groups"), "admin,dev");
	ck_assert_str_eq(reply_header(&r, "Remote-Email"), "alice@example.com");
	ck_assert_str_eq(reply_header(&r, "Remote-Name"), "Alice Liddell");
	reply_free(&r);
	stop();
	start(BASE "[auth]\nexclude = ^/static/\n");
	req("GET", "/verify", p, NULL, &r);
	expect(&r, 200, NULL);
	ck_assert_ptr_null(reply_header(&r, "Remote-User"));
	reply_free(&r);
	free(alice);
}
END_TEST

START_TEST(test_verify_path_tricks)
{
	static const char *const closed[] = {
	    "/public/../admin",
	    "/public/%2e%2e/admin",
	    "/public/%2E%2E/admin",
	    "/public%2F..%2Fadmin",
	    "//admin",
	    "/./admin",
	    "/admin?/public/x",
	    "/admin#/public",
	    "/admin/?x=/public",
	    "/public/./../admin/",
	    "/static/../../admin",
	    "/public/..;/admin",
	    "/public/%2e%2e;/admin",
	    "/public/..%3b/admin",
	    "/public/..%5cadmin",
	    "/public\\..\\admin",
	    "/public/;x/../../admin",
	};
	static const char *const bad[] = {"/a%zz", "/a%0", "/a%00b", "admin",
	    "*",
	    "/a\x01"
	    "b",
	    "http://host", "https://h?x", "/public/%c0%ae%c0%ae/admin", "/a%ff",
	    "/a%ed%a0%80"};
	const char              *h[2] = {NULL, NULL};
	struct reply             r;
	size_t                   i;

	start(BASE
	    "[auth]\nexclude = ^/static/\n[route /public]\npublic = true\n");
	for (i = 0; i < sizeof closed / sizeof closed[0]; i++)
		ck_assert_msg(verify_status(NULL, closed[i]) == 401,
		    "%s was let through", closed[i]);
	ck_assert_int_eq(verify_status(NULL, "/public/x/../y"), 200);
	ck_assert_int_eq(verify_status(NULL, "http://example.com/public/x?q=1"),
	    200);
	ck_assert_int_eq(verify_status(NULL, "/%70ublic/x"), 200);
	ck_assert_int_eq(verify_status(NULL, "/public;jsessionid=1/x"), 200);
	ck_assert_int_eq(verify_status(NULL, "/caf%c3%a9/../public/x"), 200);
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		h[0] = hdr("X-Forwarded-Uri", bad[i]);
		req("GET", "/verify", h, NULL, &r);
		ck_assert_msg(r.status == 400, "'%s': %ld", bad[i], r.status);
		ck_assert_str_eq(r.body,
		    "{\"status_code\":400,\"detail\":\"Invalid forwarded URI\"}");
		reply_free(&r);
	}
}
END_TEST

/* Both kinds of forwarded headers, or one twice: a forgery, refused. */
START_TEST(test_verify_ambiguous_forwarding)
{
	static const char *const cases[][4] = {
	    {"X-Original-URI: /admin", "X-Forwarded-Uri: /public/x", NULL,
	        NULL},
	    {"X-Original-URI: /admin", "X-Forwarded-Method: OPTIONS", NULL,
	        NULL},
	    {"X-Original-URI: /admin", "X-Original-URL: http://x/public/x",
	        NULL, NULL},
	    {"X-Forwarded-Uri: /admin", "X-Forwarded-Uri: /public/x", NULL,
	        NULL},
	    {"X-Original-Method: GET", "X-Original-Method: OPTIONS", NULL,
	        NULL},
	};
	struct reply r;
	size_t       i;

	start(BASE "[route /public]\npublic = true\n");
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		req("GET", "/verify", cases[i], NULL, &r);
		ck_assert_msg(r.status == 400, "case %zu: %ld", i, r.status);
		ck_assert_str_eq(r.body,
		    "{\"status_code\":400,\"detail\":\"Ambiguous forwarded request\"}");
		reply_free(&r);
	}
	/* A method that is not an HTTP token fails closed. */
	{
		static const char *const methods[] = {
		    "X-Forwarded-Method: G ET", "X-Forwarded-Method: GET/1",
		    "X-Original-Method: (none)",
		    "X-Forwarded-Method: AVERYLONGMETHODNAMEOFMORETHAN32BYTES"};
		size_t k;

		for (k = 0; k < sizeof methods / sizeof methods[0]; k++) {
			const char *h[] = {methods[k], NULL};

			req("GET", "/verify", h, NULL, &r);
			ck_assert_msg(r.status == 400, "%s: %ld", methods[k],
			    r.status);
			ck_assert_str_eq(r.body,
			    "{\"status_code\":400,\"detail\":\"Invalid forwarded method\"}");
			reply_free(&r);
		}
	}
	/* One family alone is fine. */
	{
		const char *ok[] = {"X-Original-URL: http://x/public/y",
		    "X-Original-Method: GET", NULL};

		req("GET", "/verify", ok, NULL, &r);
		expect(&r, 200, NULL);
		reply_free(&r);
	}
}
END_TEST

START_TEST(test_verify_untrusted_peer)
{
	const char  *h[] = {"X-Forwarded-Uri: /public/x",
	     "X-Original-URL: /public/x", NULL};
	struct reply r;

	/* From an untrusted peer the headers are ignored: /verify is judged. */
	start(BASE
	    "[server]\ntrusted_proxies = 10.0.0.1\n[route /public]\npublic = true\n");
	req("GET", "/verify", h, NULL, &r);
	expect(&r, 401, NULL);
	reply_free(&r);
	stop();
	start(BASE
	    "[server]\ntrusted_proxies = 10.0.0.1\n[route /verify]\npublic = true\n");
	req("GET", "/verify", h, NULL, &r);
	expect(&r, 200, NULL);
	reply_free(&r);
}
END_TEST

/* ---- claims through /verify with PyJWT tokens ---- */

static long
py_verify(const char *payload)
{
	char *t = pyjwt("HS256", payload, NULL);
	long  s = verify_status(bearer(t), "/x");

	free(t);
	return s;
}

START_TEST(test_claims_boundaries)
{
	char p[512];
	long t = now();

	start(BASE "[auth]\nrequire_known_user = false\n");
	snprintf(p, sizeof p, "{\"sub\":\"zed\",\"iat\":%ld,\"exp\":%ld}", t,
	    t + 60);
	ck_assert_int_eq(py_verify(p), 200);
	snprintf(p, sizeof p, "{\"sub\":\"zed\",\"iat\":%ld,\"exp\":%ld}",
	    t - 100, t - 1);
	ck_assert_int_eq(py_verify(p), 401);
	snprintf(p, sizeof p,
	    "{\"sub\":\"zed\",\"iat\":%ld,\"exp\":%ld,\"nbf\":%ld}", t, t + 60,
	    t + 30);
	ck_assert_int_eq(py_verify(p), 401);
	snprintf(p, sizeof p, "{\"sub\":\"zed\",\"iat\":%ld,\"exp\":%ld}",
	    t + 30, t + 60);
	ck_assert_int_eq(py_verify(p), 401);
	snprintf(p, sizeof p, "{\"sub\":\"zed\",\"exp\":%ld}", t + 60);
	ck_assert_int_eq(py_verify(p), 401);
	snprintf(p, sizeof p, "{\"iat\":%ld,\"exp\":%ld}", t, t + 60);
	ck_assert_int_eq(py_verify(p), 401);
	snprintf(p, sizeof p, "{\"sub\":\"zed\",\"iat\":%ld,\"exp\":\"%ld\"}",
	    t, t + 60);
	ck_assert_int_eq(py_verify(p), 401);
	/* A known user may pass; an unknown one needs require_known_user off. */
	stop();
	start(BASE);
	snprintf(p, sizeof p, "{\"sub\":\"zed\",\"iat\":%ld,\"exp\":%ld}", t,
	    t + 60);
	ck_assert_int_eq(py_verify(p), 401);
	snprintf(p, sizeof p, "{\"sub\":\"alice\",\"iat\":%ld,\"exp\":%ld}", t,
	    t + 60);
	ck_assert_int_eq(py_verify(p), 200);
	snprintf(p, sizeof p, "{\"sub\":\"bob\",\"iat\":%ld,\"exp\":%ld}", t,
	    t + 60);
	ck_assert_int_eq(py_verify(p), 401);
}
END_TEST

START_TEST(test_claims_leeway_and_switches)
{
	char p[512];
	long t = now();

	start(
	    "[server]\nthreads = 2\n[token]\nsecret_file = secret.key\nleeway = 2m\n"
	    "[store]\ndriver = memory\n[auth]\nrequire_known_user = false\n" SCOPES);
	snprintf(p, sizeof p, "{\"sub\":\"z\",\"iat\":%ld,\"exp\":%ld}",
	    t - 200, t - 60);
	ck_assert_int_eq(py_verify(p), 200);
	snprintf(p, sizeof p, "{\"sub\":\"z\",\"iat\":%ld,\"exp\":%ld}",
	    t - 300, t - 180);
	ck_assert_int_eq(py_verify(p), 401);
	snprintf(p, sizeof p,
	    "{\"sub\":\"z\",\"iat\":%ld,\"exp\":%ld,\"nbf\":%ld}", t, t + 600,
	    t + 60);
	ck_assert_int_eq(py_verify(p), 200);
	stop();
	start(
	    "[server]\nthreads = 2\n[token]\nsecret_file = secret.key\nverify_expiry = false\n"
	    "verify_not_before = false\n[store]\ndriver = memory\n[auth]\nrequire_known_user = false\n" SCOPES);
	snprintf(p, sizeof p,
	    "{\"sub\":\"z\",\"iat\":%ld,\"exp\":%ld,\"nbf\":%ld}", t - 900,
	    t - 600, t + 600);
	ck_assert_int_eq(py_verify(p), 200);
	/* exp is still required. */
	snprintf(p, sizeof p, "{\"sub\":\"z\",\"iat\":%ld}", t);
	ck_assert_int_eq(py_verify(p), 401);
}
END_TEST

START_TEST(test_claims_issuer_audience)
{
	char p[512];
	long t = now();

	start(
	    "[server]\nthreads = 2\n[token]\nsecret_file = secret.key\nissuer = https://iss\n"
	    "audience = api, web\nrequire_claims = jti\n[store]\ndriver = memory\n"
	    "[auth]\nrequire_known_user = false\n" SCOPES);
	snprintf(p, sizeof p,
	    "{\"sub\":\"z\",\"iat\":%ld,\"exp\":%ld,\"iss\":\"https://iss\",\"aud\":\"web\",\"jti\":\"j1\"}",
	    t, t + 60);
	ck_assert_int_eq(py_verify(p), 200);
	snprintf(p, sizeof p,
	    "{\"sub\":\"z\",\"iat\":%ld,\"exp\":%ld,\"iss\":\"https://iss\",\"aud\":[\"x\",\"api\"],\"jti\":\"j2\"}",
	    t, t + 60);
	ck_assert_int_eq(py_verify(p), 200);
	snprintf(p, sizeof p,
	    "{\"sub\":\"z\",\"iat\":%ld,\"exp\":%ld,\"iss\":\"https://other\",\"aud\":\"web\",\"jti\":\"j3\"}",
	    t, t + 60);
	ck_assert_int_eq(py_verify(p), 401);
	snprintf(p, sizeof p,
	    "{\"sub\":\"z\",\"iat\":%ld,\"exp\":%ld,\"aud\":\"web\",\"jti\":\"j4\"}",
	    t, t + 60);
	ck_assert_int_eq(py_verify(p), 401);
	snprintf(p, sizeof p,
	    "{\"sub\":\"z\",\"iat\":%ld,\"exp\":%ld,\"iss\":\"https://iss\",\"aud\":\"mobile\",\"jti\":\"j5\"}",
	    t, t + 60);
	ck_assert_int_eq(py_verify(p), 401);
	snprintf(p, sizeof p,
	    "{\"sub\":\"z\",\"iat\":%ld,\"exp\":%ld,\"iss\":\"https://iss\",\"aud\":\"web\"}",
	    t, t + 60);
	ck_assert_int_eq(py_verify(p), 401); /* require_claims = jti */
	stop();
	start(
	    "[server]\nthreads = 2\n[token]\nsecret_file = secret.key\naudience = api\n"
	    "strict_audience = true\n[store]\ndriver = memory\n[auth]\nrequire_known_user = false\n" SCOPES);
	snprintf(p, sizeof p,
	    "{\"sub\":\"z\",\"iat\":%ld,\"exp\":%ld,\"aud\":\"api\"}", t,
	    t + 60);
	ck_assert_int_eq(py_verify(p), 200);
	snprintf(p, sizeof p,
	    "{\"sub\":\"z\",\"iat\":%ld,\"exp\":%ld,\"aud\":[\"api\"]}", t,
	    t + 60);
	ck_assert_int_eq(py_verify(p), 401);
}
END_TEST

START_TEST(test_identity_from_extras)
{
	char         p[512], *t;
	struct reply r;
	long         n = now();
	const char  *h[3] = {NULL, "X-Forwarded-Uri: /x", NULL};

	start(BASE "[auth]\nrequire_known_user = false\n");
	snprintf(p, sizeof p,
	    "{\"sub\":\"zed\",\"iat\":%ld,\"exp\":%ld,\"extras\":"
	    "{\"roles\":[\"a\",\"b\"],\"name\":\"Zed\",\"email\":\"z@x\\ny\"}}",
	    n, n + 60);
	t = pyjwt("HS256", p, NULL);
	h[0] = hdr("Authorization", bearer(t));
	req("GET", "/verify", h, NULL, &r);
	expect(&r, 200, NULL);
	ck_assert_str_eq(reply_header(&r, "Remote-User"), "zed");
	ck_assert_str_eq(reply_header(&r, "Remote-Groups"), "a,b");
	ck_assert_str_eq(reply_header(&r, "Remote-Name"), "Zed");
	/* A value with a control character is left out. */
	ck_assert_ptr_null(reply_header(&r, "Remote-Email"));
	reply_free(&r);
	free(t);
}
END_TEST

START_TEST(test_odd_jti_and_exp)
{
	char         p[1024], jti[300], *t;
	struct reply r;
	const char  *h[2] = {NULL, NULL};
	long         n = now();

	start(BASE "[auth]\nrequire_known_user = false\n");
	snprintf(p, sizeof p,
	    "{\"sub\":\"z\",\"iat\":%ld,\"exp\":%ld,\"jti\":\"\"}", n, n + 60);
	ck_assert_int_eq(py_verify(p), 401);
	memset(jti, 'j', 257);
	jti[257] = '\0';
	snprintf(p, sizeof p,
	    "{\"sub\":\"z\",\"iat\":%ld,\"exp\":%ld,\"jti\":\"%s\"}", n, n + 60,
	    jti);
	ck_assert_int_eq(py_verify(p), 401);
	/* A far exp: logout still revokes. */
	snprintf(p, sizeof p,
	    "{\"sub\":\"z\",\"iat\":%ld,\"exp\":1e300,\"jti\":\"far\"}", n);
	t = pyjwt("HS256", p, NULL);
	h[0] = hdr("Authorization", bearer(t));
	req("GET", "/me", h, NULL, &r);
	expect(&r, 200, NULL);
	reply_free(&r);
	req("POST", "/logout", h, NULL, &r);
	expect(&r, 200, NULL);
	reply_free(&r);
	req("GET", "/me", h, NULL, &r);
	expect(&r, 401, "{\"status_code\":401,\"detail\":\"Unauthorized\"}");
	reply_free(&r);
	free(t);
}
END_TEST

/* ---- durability ---- */

START_TEST(test_revocation_survives_kill9)
{
	struct reply r;
	char        *tok, ini[512];
	const char  *h[2] = {NULL, NULL};
	int          status;

	snprintf(ini, sizeof ini,
	    "[server]\nthreads = 2\n[token]\nsecret_file = secret.key\n"
	    "[store]\ndriver = sqlite\npath = state.db\n" SCOPES);
	start(ini);
	tok = login("alice", "alice-password");
	h[0] = hdr("Authorization", bearer(tok));
	req("POST", "/logout", h, NULL, &r);
	expect(&r, 200, NULL);
	reply_free(&r);
	kill(jg.pid, SIGKILL);
	waitpid(jg.pid, &status, 0);
	jg.pid = 0;
	/* Same directory, same database. */
	jg_reset_connection();
	ck_assert_int_eq(jg_restart(&jg), 0);
	req("GET", "/me", h, NULL, &r);
	expect(&r, 401, "{\"status_code\":401,\"detail\":\"Unauthorized\"}");
	reply_free(&r);
	req("GET", "/readyz", NULL, NULL, &r);
	expect(&r, 200, NULL);
	reply_free(&r);
	/* The database removed under it: not ready, and a logout is 503. */
	{
		char  cmd[1024];
		char *t2 = login("alice", "alice-password");

		snprintf(cmd, sizeof cmd,
		    "rm -f %s/state.db %s/state.db-wal %s/state.db-shm", jg.dir,
		    jg.dir, jg.dir);
		ck_assert_int_eq(system(cmd), 0);
		req("GET", "/readyz", NULL, NULL, &r);
		expect(&r, 503,
		    "{\"status_code\":503,\"detail\":\"Store unavailable\"}");
		reply_free(&r);
		h[0] = hdr("Authorization", bearer(t2));
		req("POST", "/logout", h, NULL, &r);
		expect(&r, 503, NULL);
		reply_free(&r);
		free(t2);
	}
	free(tok);
}
END_TEST

START_TEST(test_wellknown)
{
	struct reply r;
	json_t      *j;

	start(BASE);
	req("GET", "/.well-known/jwks.json", NULL, NULL, &r);
	expect(&r, 200, "{\"keys\":[]}");
	reply_free(&r);
	req("GET", "/.well-known/oauth-authorization-server", NULL, NULL, &r);
	expect(&r, 404, "{\"status_code\":404,\"detail\":\"Not Found\"}");
	reply_free(&r);
	stop();
	start(BASE "[server]\npublic_url = https://auth.example.com/\n");
	req("GET", "/.well-known/oauth-authorization-server", NULL, NULL, &r);
	expect(&r, 200, NULL);
	j = json_loads(r.body, 0, NULL);
	ck_assert_str_eq(json_string_value(json_object_get(j, "issuer")),
	    "https://auth.example.com");
	ck_assert_str_eq(json_string_value(
	                     json_object_get(j, "token_endpoint")),
	    "https://auth.example.com/token");
	ck_assert_str_eq(json_string_value(json_object_get(j, "jwks_uri")),
	    "https://auth.example.com/.well-known/jwks.json");
	ck_assert_uint_eq(json_array_size(
	                      json_object_get(j, "scopes_supported")),
	    3);
	ck_assert_str_eq(json_string_value(json_array_get(
	                     json_object_get(j,
	                         "token_endpoint_auth_methods_supported"),
	                     0)),
	    "none");
	/* Required by RFC 8414; no authorization endpoint: none. */
	ck_assert(
	    json_is_array(json_object_get(j, "response_types_supported")));
	ck_assert_uint_eq(json_array_size(
	                      json_object_get(j, "response_types_supported")),
	    0);
	ck_assert_str_eq(json_string_value(
	                     json_array_get(json_object_get(j,
	                                        "grant_types_supported"),
	                         0)),
	    "password");
	json_decref(j);
	reply_free(&r);
	req("GET", "/openapi.json", NULL, NULL, &r);
	expect(&r, 200, NULL);
	j = json_loads(r.body, 0, NULL);
	ck_assert_str_eq(json_string_value(json_object_get(j, "openapi")),
	    "3.1.0");
	ck_assert_str_eq(json_string_value(json_object_get(
	                     json_object_get(json_object_get(json_object_get(j,
	                                                         "components"),
	                                         "securitySchemes"),
	                         "BearerToken"),
	                     "scheme")),
	    "bearer");
	json_decref(j);
	reply_free(&r);
	req("GET", "/readyz", NULL, NULL, &r);
	expect(&r, 200, "{\"status\":\"ready\"}");
	reply_free(&r);
}
END_TEST

/* Parse Prometheus text with the reference parser; the value of one sample. */
static double
prom_value(const char *text, const char *name, const char *labels)
{
	char   path[] = "/tmp/jwtgate-metrics.XXXXXX", cmd[1024], out[128];
	int    fd = mkstemp(path);
	FILE  *fp;
	size_t n;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	snprintf(cmd, sizeof cmd,
	    "/usr/bin/python3 -c '"
	    "import sys, json\n"
	    "from prometheus_client.parser import text_string_to_metric_families as p\n"
	    "want = json.loads(sys.argv[2])\n"
	    "v = [s.value for f in p(open(sys.argv[1]).read()) for s in f.samples"
	    " if s.name == sys.argv[3] and s.labels == want]\n"
	    "print(v[0] if v else -1)' %s '%s' %s",
	    path, labels, name);
	fp = popen(cmd, "r");
	n = fread(out, 1, sizeof out - 1, fp);
	ck_assert_int_eq(pclose(fp), 0);
	out[n] = '\0';
	unlink(path);
	return atof(out);
}

START_TEST(test_metrics)
{
	static const char *const json[] = {"Content-Type: application/json",
	    NULL};
	struct reply             r;
	char                    *tok;
	const char              *h[2] = {NULL, NULL};

	start(BASE);
	req("POST", "/login", json,
	    "{\"username\":\"alice\",\"password\":\"no\"}", &r);
	reply_free(&r);
	tok = login("alice", "alice-password");
	h[0] = hdr("Authorization", bearer(tok));
	req("GET", "/verify", h, NULL, &r);
	reply_free(&r);
	req("GET", "/verify", NULL, NULL, &r);
	reply_free(&r);
	req("GET", "/nope", NULL, NULL, &r);
	reply_free(&r);
	req("GET", "/metrics", NULL, NULL, &r);
	expect(&r, 200, NULL);
	ck_assert_str_eq(reply_header(&r, "Content-Type"),
	    "text/plain; version=0.0.4; charset=utf-8");
	ck_assert(prom_value(r.body, "jwtgate_logins_total",
	              "{\"result\":\"failure\"}") == 1);
	ck_assert(prom_value(r.body, "jwtgate_logins_total",
	              "{\"result\":\"success\"}") == 1);
	ck_assert(prom_value(r.body, "jwtgate_verifications_total",
	              "{\"result\":\"allowed\"}") == 1);
	ck_assert(prom_value(r.body, "jwtgate_verifications_total",
	              "{\"result\":\"denied\"}") == 1);
	ck_assert(prom_value(r.body, "jwtgate_tokens_issued_total",
	              "{\"kind\":\"access\"}") == 1);
	ck_assert(prom_value(r.body, "jwtgate_http_requests_total",
	              "{\"endpoint\":\"/login\",\"code\":\"401\"}") == 1);
	ck_assert(prom_value(r.body, "jwtgate_http_requests_total",
	              "{\"endpoint\":\"other\",\"code\":\"404\"}") == 1);
	ck_assert(
	    prom_value(r.body, "jwtgate_http_request_duration_seconds_count",
	        "{}") == 5);
	reply_free(&r);
	free(tok);
}
END_TEST

static void
write_text(const char *dir, const char *name, const char *text)
{
	char  path[512];
	FILE *fp;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	fp = fopen(path, "w");
	ck_assert_ptr_nonnull(fp);
	fputs(text, fp);
	fclose(fp);
}

START_TEST(test_reload)
{
	static const char *const json[] = {"Content-Type: application/json",
	    NULL};
	struct reply             r;
	char                     users[2048], *old = NULL;
	FILE                    *fp;
	int                      i;

	start(BASE);
	/* A new user appears on SIGHUP. */
	snprintf(users, sizeof users, "%s/users.ini", jg.dir);
	fp = fopen(users, "a");
	fputs(
	    "\n[dave]\npassword = $6$q6BIxIkrpORsz66B$VJnrdsa4QsmCS5dcfAGYRxmQ6zf7tRsp6MZi9Wrt1ShRg1aYxa.ldeSnHON0ZoWcWS0pdUhiwP4ljtNYeS0i7/\n",
	    fp);
	fclose(fp);
	req("POST", "/login", json,
	    "{\"username\":\"dave\",\"password\":\"carol-password\"}", &r);
	expect(&r, 401, NULL);
	reply_free(&r);
	kill(jg.pid, SIGHUP);
	for (i = 0;
	     i < 200 && !jg_file_contains(jg.log, "configuration reloaded");
	     i++)
		usleep(10000);
	req("POST", "/login", json,
	    "{\"username\":\"dave\",\"password\":\"carol-password\"}", &r);
	expect(&r, 201, NULL);
	reply_free(&r);
	/* A broken configuration is refused and the old one keeps serving. */
	(void)old;
	write_text(jg.dir, "jwtgate.ini",
	    "[server]\nlisten = 127.0.0.1:0\nthreads = lots\n");
	kill(jg.pid, SIGHUP);
	for (i = 0; i < 200 && !jg_file_contains(jg.log, "reload refused"); i++)
		usleep(10000);
	ck_assert(jg_file_contains(jg.log, "reload refused: "));
	ck_assert(
	    jg_file_contains(jg.log, "[server] threads: must be an integer"));
	req("POST", "/login", json,
	    "{\"username\":\"dave\",\"password\":\"carol-password\"}", &r);
	expect(&r, 201, NULL);
	reply_free(&r);
	/* A broken user file is refused too. */
	write_text(jg.dir, "jwtgate.ini",
	    "[server]\nlisten = 127.0.0.1:0\n" BASE);
	write_text(jg.dir, "users.ini", "[eve]\npassword = plaintext\n");
	kill(jg.pid, SIGHUP);
	for (i = 0; i < 200 && !jg_file_contains(jg.log, "users.ini:2:"); i++)
		usleep(10000);
	ck_assert(jg_file_contains(jg.log, "users.ini:2:"));
	req("POST", "/login", json,
	    "{\"username\":\"alice\",\"password\":\"alice-password\"}", &r);
	expect(&r, 201, NULL);
	reply_free(&r);
}
END_TEST

/* GET /verify with auth ("Bearer ..."); the reply in r. */
static void
verify_as(const char *auth, struct reply *r)
{
	const char *h[3] = {NULL, "X-Forwarded-Uri: /app", NULL};

	h[0] = hdr("Authorization", auth);
	req("GET", "/verify", h, NULL, r);
}

static void
expect_identity(const char *auth, const char *user, const char *groups,
    const char *email, const char *name)
{
	struct reply r;
	const char  *v;

	verify_as(auth, &r);
	expect(&r, 200, "{\"detail\":\"OK\"}");
	ck_assert_str_eq(reply_header(&r, "Remote-User"), user);
	ck_assert_str_eq(reply_header(&r, "Remote-Groups"), groups);
	ck_assert_str_eq(reply_header(&r, "Cache-Control"), "no-store");
	v = reply_header(&r, "Remote-Email");
	if (email == NULL)
		ck_assert_ptr_null(v);
	else
		ck_assert_str_eq(v, email);
	ck_assert_str_eq(reply_header(&r, "Remote-Name"), name);
	reply_free(&r);
}

/*
 * A "pass" answer built once is sent again for the same token, never for
 * another user, never past a logout, and not past a reload that changed
 * the user.
 */
START_TEST(test_verify_answer_reused)
{
	static const char *const alice_file =
	    "[alice]\npassword = "
	    "$y$j9T$cEEBhIMAbqF/PwgxHvBbB/$x5f3shcEyqNaaJV9S9evGJj.YrYHrRV4ylbw2W8sIRD\n"
	    "name = Alice L.\nemail = alice@new.example\nroles = dev\n%s";
	struct reply r;
	char        *alice, *carol, *tok, text[512];
	const char  *h[3] = {NULL, NULL, NULL};
	int          i;

	start(BASE);
	tok = login("alice", "alice-password");
	alice = strdup(bearer(tok));
	free(tok);
	tok = login("carol", "carol-password");
	carol = strdup(bearer(tok));
	free(tok);
	for (i = 0; i < 3; i++) {
		expect_identity(alice, "alice", "admin,dev",
		    "alice@example.com", "Alice Liddell");
		expect_identity(carol, "carol", "dev", NULL, "Carol");
	}
	/* Logged out: refused, though its answer was built before. */
	h[0] = hdr("Authorization", carol);
	req("POST", "/logout", h, NULL, &r);
	expect(&r, 200, NULL);
	reply_free(&r);
	verify_as(carol, &r);
	expect(&r, 401, "{\"status_code\":401,\"detail\":\"Unauthorized\"}");
	ck_assert_ptr_null(reply_header(&r, "Remote-User"));
	reply_free(&r);
	/* The user changed: the same token, the new identity. */
	snprintf(text, sizeof text, alice_file, "");
	write_text(jg.dir, "users.ini", text);
	kill(jg.pid, SIGHUP);
	for (i = 0;
	     i < 200 && !jg_file_contains(jg.log, "configuration reloaded");
	     i++)
		usleep(10000);
	expect_identity(alice, "alice", "dev", "alice@new.example", "Alice L.");
	/* Disabled: refused. */
	snprintf(text, sizeof text, alice_file, "disabled = true\n");
	write_text(jg.dir, "users.ini", text);
	kill(jg.pid, SIGHUP);
	for (i = 0;
	     i < 200 && jg_file_count(jg.log, "configuration reloaded") < 2;
	     i++)
		usleep(10000);
	verify_as(alice, &r);
	expect(&r, 401, "{\"status_code\":401,\"detail\":\"Unauthorized\"}");
	reply_free(&r);
	free(alice);
	free(carol);
}
END_TEST

/*
 * Whether the peer is a trusted proxy is judged once per connection and
 * configuration: a reload that drops it from trusted_proxies applies to
 * the next request of a connection kept alive across the reload.
 */
START_TEST(test_trust_follows_reload)
{
	static const char *const fwd[] = {"X-Forwarded-Uri: /public/x", NULL};
	struct reply             r;
	char                     text[512];
	int                      i;

	start(BASE "[auth]\nexclude = ^/public/\n");
	req("GET", "/verify", fwd, NULL, &r);
	expect(&r, 200, NULL); /* trusted: the forwarded URI is judged */
	reply_free(&r);
	snprintf(text, sizeof text,
	    "[server]\nlisten = 127.0.0.1:%d\ntrusted_proxies = 10.0.0.0/8\n" BASE
	    "[auth]\nexclude = ^/public/\n",
	    jg.port);
	write_text(jg.dir, "jwtgate.ini", text);
	kill(jg.pid, SIGHUP);
	for (i = 0;
	     i < 200 && !jg_file_contains(jg.log, "configuration reloaded");
	     i++)
		usleep(10000);
	req("GET", "/verify", fwd, NULL, &r);
	ck_assert_int_eq(r.new_conns, 0); /* the same connection */
	expect(&r, 401, NULL); /* untrusted: /verify itself is judged */
	reply_free(&r);
}
END_TEST

static Suite *
endpoints_suite(void)
{
	Suite *s = suite_create("endpoints");
	TCase *tc = tcase_create("endpoints");

	tcase_add_checked_fixture(tc, NULL, stop);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_jwt_backend_flow);
	tcase_add_test(tc, test_jwt_extraction);
	tcase_add_test(tc, test_custom_auth_header);
	tcase_add_test(tc, test_cookie_backend_flow);
	tcase_add_test(tc, test_oauth2_backend_flow);
	tcase_add_test(tc, test_cookie_secure_attributes);
	tcase_add_test(tc, test_login_failures);
	tcase_add_test(tc, test_login_response_bodies);
	tcase_add_test(tc, test_login_ban);
	tcase_add_test(tc, test_spoofed_forwarded_for_ignored);
	tcase_add_test(tc, test_token_errors);
	tcase_add_test(tc, test_token_password_and_refresh);
	tcase_add_test(tc, test_token_grants_disabled);
	tcase_add_test(tc, test_logout_revokes_refresh_family);
	tcase_add_test(tc, test_refresh_scope_refusal_keeps_token);
	tcase_add_test(tc, test_refresh_drops_lost_scopes);
	tcase_add_test(tc, test_logout_bodies);
	tcase_add_test(tc, test_odd_jti_and_exp);
	tcase_add_test(tc, test_verify_rules);
	tcase_add_test(tc, test_verify_identity_headers);
	tcase_add_test(tc, test_verify_path_tricks);
	tcase_add_test(tc, test_verify_untrusted_peer);
	tcase_add_test(tc, test_verify_ambiguous_forwarding);
	tcase_add_test(tc, test_claims_boundaries);
	tcase_add_test(tc, test_claims_leeway_and_switches);
	tcase_add_test(tc, test_claims_issuer_audience);
	tcase_add_test(tc, test_identity_from_extras);
	tcase_add_test(tc, test_revocation_survives_kill9);
	tcase_add_test(tc, test_wellknown);
	tcase_add_test(tc, test_metrics);
	tcase_add_test(tc, test_reload);
	tcase_add_test(tc, test_verify_answer_reused);
	tcase_add_test(tc, test_trust_follows_reload);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return jg_run_suite(endpoints_suite());
}
