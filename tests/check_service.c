/*
 * check_service.c - running jwtgate for years: key rotation with JWKS
 * checked by PyJWT, and reloads under load with no failed request.
 */
#include <check.h>
#include <curl/curl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

static struct jg jg;

/* Stop the daemon; a sanitizer report in its log fails the test. */
static void
stop(void)
{
	jg_check_stop(&jg);
}

static void
run(const char *cmd)
{
	ck_assert_msg(system(cmd) == 0, "failed: %s", cmd);
}

static void
keygen(const char *alg, const char *name)
{
	char cmd[1024];

	snprintf(cmd, sizeof cmd, "%s keygen -a %s -o %s/%s", JWTGATE_BIN, alg,
	    jg.dir, name);
	run(cmd);
}

static void
write_conf(const char *text)
{
	FILE *fp = fopen(jg.conf, "w");

	ck_assert_ptr_nonnull(fp);
	fputs(text, fp);
	fclose(fp);
}

static void
reload(const char *marker_text, int nth)
{
	int i, found = 0;

	kill(jg.pid, SIGHUP);
	for (i = 0; i < 300 && found < nth; i++) {
		char  cmd[600];
		FILE *fp;

		snprintf(cmd, sizeof cmd, "grep -c '%s' %s", marker_text,
		    jg.log);
		fp = popen(cmd, "r");
		if (fscanf(fp, "%d", &found) != 1)
			found = 0;
		pclose(fp);
		if (found < nth)
			usleep(10000);
	}
	ck_assert_msg(found >= nth, "no '%s' in %s", marker_text, jg.log);
}

static char *
login(void)
{
	static const char *const h[] = {"Content-Type: application/json", NULL};
	struct reply             r;
	char                    *tok;

	ck_assert_int_eq(
	    jg_request(&jg, "POST", "/login", h,
	        "{\"username\":\"alice\",\"password\":\"alice-password\"}", &r),
	    0);
	ck_assert_msg(r.status == 201, "login %ld %s", r.status, r.body);
	tok = strdup(reply_header(&r, "Authorization") + 7);
	reply_free(&r);
	return tok;
}

static long
verify(const char *tok)
{
	char         auth[4096];
	const char  *h[] = {auth, NULL};
	struct reply r;
	long         s;

	snprintf(auth, sizeof auth, "Authorization: Bearer %s", tok);
	ck_assert_int_eq(jg_request(&jg, "GET", "/verify", h, NULL, &r), 0);
	s = r.status;
	reply_free(&r);
	return s;
}

/* PyJWT verifies tok with the JWK of the set whose kid the token names. */
static int
pyjwt_verifies(const char *tok, const char *jwks)
{
	char path[] = "/tmp/jwtgate-jwks.XXXXXX", cmd[8192];
	int  fd = mkstemp(path), rc;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, jwks, strlen(jwks)), (ssize_t)strlen(jwks));
	close(fd);
	snprintf(cmd, sizeof cmd,
	    "/usr/bin/python3 -c '"
	    "import jwt, json, sys\n"
	    "keys = {k[\"kid\"]: k for k in json.load(open(sys.argv[1]))[\"keys\"]}\n"
	    "kid = jwt.get_unverified_header(sys.argv[2])[\"kid\"]\n"
	    "k = jwt.PyJWK(keys[kid])\n"
	    "assert keys[kid][\"use\"] == \"sig\"\n"
	    "jwt.decode(sys.argv[2], k.key, algorithms=[keys[kid][\"alg\"]])\n"
	    "' %s '%s'",
	    path, tok);
	rc = system(cmd);
	unlink(path);
	return rc == 0;
}

static char *
jwks(void)
{
	struct reply r;
	char        *body;

	ck_assert_int_eq(jg_request(&jg, "GET", "/.well-known/jwks.json", NULL,
	                     NULL, &r),
	    0);
	ck_assert_int_eq(r.status, 200);
	body = strdup(r.body);
	reply_free(&r);
	return body;
}

static const char *
kid_of(const char *tok, char *buf, size_t len)
{
	char   cmd[4096];
	FILE  *fp;
	size_t n;

	snprintf(cmd, sizeof cmd,
	    "/usr/bin/python3 -c 'import jwt,sys; "
	    "print(jwt.get_unverified_header(sys.argv[1])[\"kid\"])' '%s'",
	    tok);
	fp = popen(cmd, "r");
	n = fread(buf, 1, len - 1, fp);
	pclose(fp);
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return buf;
}

#define CONF_HEAD                                                              \
	"[server]\nlisten = 127.0.0.1:0\n[store]\ndriver = memory\n"           \
	"[oauth2]\nscopes = read, write\n"

START_TEST(test_key_rotation_jwks)
{
	char conf[1024], *t1, *t2, *set, k1[64], k2[64];
	int  i;

	ck_assert_int_eq(jg_prepare(&jg, "[token]\nsecret_file = secret.key\n"),
	    0);
	keygen("ES256", "k1.pem");
	keygen("ES256", "k2.pem");
	snprintf(conf, sizeof conf,
	    CONF_HEAD "[token]\nalgorithm = ES256\n"
	              "private_key_file = k1.pem\n");
	write_conf(conf);
	ck_assert_int_eq(jg_restart(&jg), 0);

	t1 = login();
	ck_assert_int_eq(verify(t1), 200);
	set = jwks();
	ck_assert_ptr_nonnull(strstr(set, "\"alg\":\"ES256\""));
	ck_assert(pyjwt_verifies(t1, set));
	free(set);

	/* Rotate: k2 signs, k1 is retired but still accepted and published. */
	snprintf(conf, sizeof conf,
	    CONF_HEAD
	    "[token]\nalgorithm = ES256\n"
	    "private_key_file = k2.pem\nretired_key_files = k1.pem\n");
	write_conf(conf);
	reload("configuration reloaded", 1);
	t2 = login();
	ck_assert_str_ne(kid_of(t1, k1, sizeof k1), kid_of(t2, k2, sizeof k2));
	ck_assert_int_eq(verify(t1), 200);
	ck_assert_int_eq(verify(t2), 200);
	set = jwks();
	ck_assert_ptr_nonnull(strstr(set, k1));
	ck_assert_ptr_nonnull(strstr(set, k2));
	ck_assert(pyjwt_verifies(t1, set));
	ck_assert(pyjwt_verifies(t2, set));
	free(set);

	/* Drop k1: its tokens stop verifying, k2's go on. */
	snprintf(conf, sizeof conf,
	    CONF_HEAD "[token]\nalgorithm = ES256\n"
	              "private_key_file = k2.pem\n");
	write_conf(conf);
	reload("configuration reloaded", 2);
	ck_assert_int_eq(verify(t1), 401);
	ck_assert_int_eq(verify(t2), 200);
	set = jwks();
	ck_assert_ptr_null(strstr(set, k1));
	free(set);
	for (i = 0; i < 3; i++)
		ck_assert_int_eq(verify(t2), 200);
	free(t1);
	free(t2);
}
END_TEST

struct load {
	struct jg   *jg;
	const char  *tok;
	int          requests, failures;
	volatile int stop;
};

static size_t
load_discard(char *data, size_t size, size_t nmemb, void *cls)
{
	(void)data;
	(void)cls;
	return size * nmemb;
}

/* A bounded loop of /verify requests on its own connection. */
static void *
load_run(void *arg)
{
	struct load       *l = arg;
	char               url[128], auth[4096];
	CURL              *c = curl_easy_init();
	struct curl_slist *h = NULL;
	int                i;

	snprintf(url, sizeof url, "http://127.0.0.1:%d/verify", l->jg->port);
	snprintf(auth, sizeof auth, "Authorization: Bearer %s", l->tok);
	h = curl_slist_append(h, auth);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_NOBODY, 0L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, load_discard);
	for (i = 0; i < 20000 && !l->stop; i++) {
		long status = 0;

		if (curl_easy_perform(c) != CURLE_OK)
			l->failures++;
		else {
			curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
			if (status != 200)
				l->failures++;
		}
		l->requests++;
	}
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return NULL;
}

START_TEST(test_reload_under_load)
{
	struct load l;
	pthread_t   t[1];
	char       *tok, conf[1024];
	FILE       *fp;
	char        users[512];
	int         i;

	ck_assert_int_eq(
	    jg_start(&jg,
	        "[server]\nthreads = 2\n[token]\n"
	        "secret_file = secret.key\n[store]\ndriver = memory\n"
	        "[oauth2]\nscopes = read, write\n"),
	    0);
	tok = login();
	memset(&l, 0, sizeof l);
	l.jg = &jg;
	l.tok = tok;
	ck_assert_int_eq(pthread_create(&t[0], NULL, load_run, &l), 0);
	/* Users change, and a retired key is added, while requests flow. */
	snprintf(users, sizeof users, "%s/users.ini", jg.dir);
	for (i = 1; i <= 5; i++) {
		fp = fopen(users, "a");
		fprintf(fp,
		    "\n[user%d]\npassword = $6$q6BIxIkrpORsz66B$VJnrdsa4QsmCS5dcfAGYRxmQ6zf7tRsp6MZi9Wrt1ShRg1aYxa.ldeSnHON0ZoWcWS0pdUhiwP4ljtNYeS0i7/\n",
		    i);
		fclose(fp);
		if (i == 3) {
			snprintf(conf, sizeof conf, "%s/old.key", jg.dir);
			fp = fopen(conf, "w");
			fputs(
			    "fedcba9876543210fedcba9876543210fedcba9876543210\n",
			    fp);
			fclose(fp);
			write_conf(
			    "[server]\nlisten = 127.0.0.1:0\nthreads = 2\n[token]\n"
			    "secret_file = secret.key\nretired_key_files = old.key\n"
			    "[store]\ndriver = memory\n[oauth2]\nscopes = read, write\n");
		}
		reload("configuration reloaded", i);
		usleep(100000);
	}
	l.stop = 1;
	pthread_join(t[0], NULL);
	ck_assert_int_gt(l.requests, 50);
	ck_assert_msg(l.failures == 0, "%d of %d requests failed", l.failures,
	    l.requests);
	free(tok);
}
END_TEST

/* Signals in quick succession: every one handled, never fatal. */
START_TEST(test_signal_storm)
{
	struct reply r;
	int          i;

	ck_assert_int_eq(
	    jg_start(&jg,
	        "[token]\nsecret_file = secret.key\n"
	        "[store]\ndriver = memory\n[oauth2]\nscopes = read, write\n"),
	    0);
	for (i = 0; i < 10; i++) {
		kill(jg.pid, SIGHUP);
		usleep(5000);
	}
	usleep(300000);
	ck_assert_int_eq(jg_request(&jg, "GET", "/healthz", NULL, NULL, &r), 0);
	ck_assert_int_eq(r.status, 200);
	reply_free(&r);
	kill(jg.pid, SIGHUP);
	usleep(2000);
	/* SIGTERM during a reload still stops gracefully with status 0. */
	ck_assert_int_eq(jg_stop(&jg), 0);
}
END_TEST

/* SIGTERM while logins are being hashed: they are answered, then exit 0. */
START_TEST(test_sigterm_during_logins)
{
	char cmd[1024];
	int  i;

	ck_assert_int_eq(
	    jg_start(&jg,
	        "[token]\nsecret_file = secret.key\n"
	        "[store]\ndriver = memory\n[oauth2]\nscopes = read, write\n"
	        "[login]\nhash_workers = 1\nmax_retries = 1000\n"),
	    0);
	for (i = 0; i < 40; i++) {
		snprintf(cmd, sizeof cmd,
		    "curl -s -m 10 -o /dev/null -H "
		    "'Content-Type: application/json' -d '{\"username\":\"alice\","
		    "\"password\":\"wrong%d\"}' http://127.0.0.1:%d/login &",
		    i, jg.port);
		ck_assert_int_eq(system(cmd), 0);
	}
	usleep(150000);
	ck_assert_int_eq(jg_stop(&jg), 0);
	ck_assert(jg_file_contains(jg.log, "stopped"));
	ck_assert(jg_file_contains(jg.log, "POST /login 401"));
}
END_TEST

static Suite *
service_suite(void)
{
	Suite *s = suite_create("service");
	TCase *tc = tcase_create("service");

	tcase_add_checked_fixture(tc, NULL, stop);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_key_rotation_jwks);
	tcase_add_test(tc, test_reload_under_load);
	tcase_add_test(tc, test_signal_storm);
	tcase_add_test(tc, test_sigterm_during_logins);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return jg_run_suite(service_suite());
}
