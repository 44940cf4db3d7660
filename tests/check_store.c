/*
 * check_store.c - one table of tests run against every store driver
 * (memory, sqlite, and redis on a real redis-server this suite starts on
 * 127.0.0.1, on a free port, and stops by its PID), with `now` passed in;
 * then what is particular to each driver: sqlite durability and open
 * errors, memory caps, redis persistence across kill -9 and reconnection.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "redis_server.h"
#include "store.h"

#define T0 1700000000LL /* the tests' clock */

static enum store_driver driver;
static char              dir[64];
static char              dbpath[128];
static char              url[64];
static struct config     cfg;
static struct store     *st;

/* The shared redis-server, started by main() before any test. */
static pid_t redis_pid;
static int   redis_port;
static char  redis_dir[64];
static char  redis_why[256] = "not started";

/* ---- redis-server for the tests ---- */

static void
rm_rf(const char *path)
{
	char cmd[256];

	snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
	ck_assert_int_eq(system(cmd), 0);
}

/* ---- fixtures ---- */

static void
config_for(enum store_driver d)
{
	memset(&cfg, 0, sizeof cfg);
	cfg.store.driver = d;
	cfg.store.path = dbpath;
	cfg.store.url = url;
	cfg.oauth2.refresh_ttl = 30 * 86400;
}

static struct store *
open_store(const struct store_limits *lim)
{
	struct store *s = NULL;
	char          err[512] = "";

	ck_assert_msg(store_open_limits(&cfg, lim, &s, err, sizeof err) == 0,
	    "store_open: %s", err);
	return s;
}

static void
setup_common(enum store_driver d)
{
	driver = d;
	strcpy(dir, "/tmp/jwtgate-store.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(dbpath, sizeof dbpath, "%s/state.db", dir);
	snprintf(url, sizeof url, "redis://127.0.0.1:%d/0", redis_port);
	config_for(d);
}

static void
setup_memory(void)
{
	setup_common(STORE_MEMORY);
	st = open_store(NULL);
}

static void
setup_sqlite(void)
{
	setup_common(STORE_SQLITE);
	st = open_store(NULL);
}

static void
setup_redis(void)
{
	char cmd[128];

	setup_common(STORE_REDIS);
	ck_assert_msg(redis_pid > 0, "the redis tests need redis-server: %s",
	    redis_why);
	snprintf(cmd, sizeof cmd, "redis-cli -p %d flushall >/dev/null",
	    redis_port);
	ck_assert_int_eq(system(cmd), 0);
	st = open_store(NULL);
}

static void
teardown(void)
{
	store_close(st);
	st = NULL;
	rm_rf(dir);
}

static void
hash_of(unsigned char h[STORE_HASH_LEN], unsigned n)
{
	memset(h, 0, STORE_HASH_LEN);
	memcpy(h, &n, sizeof n);
	h[STORE_HASH_LEN - 1] = 0xa5;
}

static struct store_refresh
refresh(const char *family, const char *sub, int64_t exp)
{
	struct store_refresh r;

	memset(&r, 0, sizeof r);
	snprintf(r.family, sizeof r.family, "%s", family);
	snprintf(r.sub, sizeof r.sub, "%s", sub);
	snprintf(r.scope, sizeof r.scope, "read write");
	r.exp = exp;
	return r;
}

/* ---- the table, for every driver ---- */

START_TEST(test_ping)
{
	ck_assert_int_eq(store_ping(st), 0);
	ck_assert_str_eq(store_driver_name(st),
	    driver == STORE_MEMORY       ? "memory"
	        : driver == STORE_SQLITE ? "sqlite"
	                                 : "redis");
}
END_TEST

START_TEST(test_revoke)
{
	ck_assert_int_eq(store_is_revoked(st, "a", T0), 0);
	ck_assert_int_eq(store_revoke(st, "a", T0 + 100, T0), 0);
	ck_assert_int_eq(store_is_revoked(st, "a", T0), 1);
	ck_assert_int_eq(store_is_revoked(st, "b", T0), 0);
	ck_assert_int_eq(store_is_revoked(st, "a", T0 + 99), 1);
	ck_assert_int_eq(store_is_revoked(st, "a", T0 + 100), 0);

	/* Idempotent; the later exp wins, an earlier one changes nothing. */
	ck_assert_int_eq(store_revoke(st, "a", T0 + 100, T0), 0);
	ck_assert_int_eq(store_revoke(st, "a", T0 + 50, T0), 0);
	ck_assert_int_eq(store_is_revoked(st, "a", T0 + 99), 1);
	ck_assert_int_eq(store_revoke(st, "a", T0 + 200, T0 + 1), 0);
	ck_assert_int_eq(store_is_revoked(st, "a", T0 + 150), 1);

	/* Already expired: nothing to keep. */
	ck_assert_int_eq(store_revoke(st, "old", T0 - 1, T0), 0);
	ck_assert_int_eq(store_is_revoked(st, "old", T0 - 2), 0);
}
END_TEST

/* A token is accepted up to [token] leeway past exp: revoked as long. */
START_TEST(test_revoke_leeway)
{
	store_close(st);
	cfg.token.leeway = 30;
	st = open_store(NULL);
	ck_assert_int_eq(store_revoke(st, "l", T0 + 100, T0), 0);
	ck_assert_int_eq(store_is_revoked(st, "l", T0 + 129), 1);
	ck_assert_int_eq(store_is_revoked(st, "l", T0 + 130), 0);
	/* Expired, but still within the leeway: kept. */
	ck_assert_int_eq(store_revoke(st, "m", T0 - 10, T0), 0);
	ck_assert_int_eq(store_is_revoked(st, "m", T0 + 19), 1);
}
END_TEST

START_TEST(test_revoke_bad_args)
{
	char long_jti[STORE_JTI_MAX + 2];

	memset(long_jti, 'x', sizeof long_jti - 1);
	long_jti[sizeof long_jti - 1] = '\0';
	ck_assert_int_eq(store_revoke(st, "", T0 + 1, T0), -1);
	ck_assert_int_eq(store_revoke(st, long_jti, T0 + 1, T0), -1);
	ck_assert_int_eq(store_is_revoked(st, long_jti, T0), -1);
	long_jti[STORE_JTI_MAX] = '\0'; /* the longest accepted */
	ck_assert_int_eq(store_revoke(st, long_jti, T0 + 1, T0), 0);
	ck_assert_int_eq(store_is_revoked(st, long_jti, T0), 1);
}
END_TEST

START_TEST(test_revoke_purge)
{
	ck_assert_int_eq(store_revoke(st, "a", T0 + 100, T0), 0);
	ck_assert_int_eq(store_revoke(st, "b", T0 + 300, T0), 0);
	ck_assert_int_eq(store_purge(st, T0 + 200), 0);
	ck_assert_int_eq(store_is_revoked(st, "b", T0 + 200), 1);
	ck_assert_int_eq(store_is_revoked(st, "a", T0 + 200), 0);
	/* Gone, not only expired (redis leaves that to TTLs). */
	if (driver != STORE_REDIS)
		ck_assert_int_eq(store_is_revoked(st, "a", T0), 0);
}
END_TEST

START_TEST(test_refresh_rotation)
{
	struct store_refresh r = refresh("fam1", "alice", T0 + 1000), out;
	unsigned char        h1[32], h2[32], h3[32], h4[32];

	hash_of(h1, 1);
	hash_of(h2, 2);
	hash_of(h3, 3);
	hash_of(h4, 4);
	ck_assert_int_eq(store_refresh_add(st, h1, &r, T0), 0);
	memset(&out, 0, sizeof out);
	ck_assert_int_eq(store_refresh_use(st, h1, T0 + 1, &out), 0);
	ck_assert_str_eq(out.family, "fam1");
	ck_assert_str_eq(out.sub, "alice");
	ck_assert_str_eq(out.scope, "read write");
	ck_assert_int_eq(out.exp, T0 + 1000);

	/* Rotation: the next token of the family works once. */
	ck_assert_int_eq(store_refresh_add(st, h2, &r, T0 + 1), 0);
	ck_assert_int_eq(store_refresh_use(st, h2, T0 + 2, NULL), 0);
	ck_assert_int_eq(store_refresh_add(st, h3, &r, T0 + 2), 0);

	/* Reuse of h1: 2 (with the record, for the log), and the whole
	 * family is dead. */
	memset(&out, 0, sizeof out);
	ck_assert_int_eq(store_refresh_use(st, h1, T0 + 3, &out), 2);
	ck_assert_str_eq(out.sub, "alice");
	ck_assert_str_eq(out.family, "fam1");
	ck_assert_int_eq(store_refresh_use(st, h3, T0 + 3, &out), 1);
	ck_assert_str_eq(out.sub, "");
	ck_assert_int_eq(store_refresh_use(st, h2, T0 + 3, NULL), 2);
	/* A token added to the family later (a rotation in flight) too. */
	ck_assert_int_eq(store_refresh_add(st, h4, &r, T0 + 4), 0);
	ck_assert_int_eq(store_refresh_use(st, h4, T0 + 4, NULL), 1);
}
END_TEST

START_TEST(test_refresh_expiry)
{
	struct store_refresh r = refresh("fam1", "alice", T0 + 10);
	unsigned char        h1[32], h2[32], h9[32];

	hash_of(h1, 1);
	hash_of(h2, 2);
	hash_of(h9, 9);
	ck_assert_int_eq(store_refresh_add(st, h1, &r, T0), 0);
	ck_assert_int_eq(store_refresh_add(st, h2, &r, T0), 0);
	ck_assert_int_eq(store_refresh_add(st, h1, &r, T0), -1);  /* twice */
	ck_assert_int_eq(store_refresh_use(st, h9, T0, NULL), 1); /* unknown */
	ck_assert_int_eq(store_refresh_use(st, h1, T0 + 10, NULL), 1);
	ck_assert_int_eq(store_refresh_use(st, h2, T0 + 9, NULL), 0);
	/* Expired and used: reuse no longer matters. */
	ck_assert_int_eq(store_refresh_use(st, h2, T0 + 10, NULL), 1);
	/* Already expired when added: refused. */
	r.exp = T0;
	ck_assert_int_eq(store_refresh_add(st, h9, &r, T0), -1);

	ck_assert_int_eq(store_purge(st, T0 + 20), 0);
	if (driver != STORE_REDIS)
		ck_assert_int_eq(store_refresh_use(st, h1, T0, NULL), 1);
}
END_TEST

START_TEST(test_family_revoke)
{
	struct store_refresh a = refresh("famA", "alice", T0 + 100);
	struct store_refresh b = refresh("famB", "bob", T0 + 100);
	unsigned char        h1[32], h2[32], h3[32], h9[32];

	hash_of(h1, 1);
	hash_of(h2, 2);
	hash_of(h3, 3);
	hash_of(h9, 9);
	ck_assert_int_eq(store_refresh_add(st, h1, &a, T0), 0);
	ck_assert_int_eq(store_refresh_add(st, h2, &b, T0), 0);
	ck_assert_int_eq(store_family_revoke(st, "famA", T0 + 1), 0);
	ck_assert_int_eq(store_family_revoke(st, "famA", T0 + 1), 0);
	ck_assert_int_eq(store_refresh_use(st, h1, T0 + 2, NULL), 1);
	ck_assert_int_eq(store_refresh_use(st, h2, T0 + 2, NULL), 0);
	/* A family nobody knows yet can be revoked too. */
	ck_assert_int_eq(store_family_revoke(st, "famZ", T0), 0);

	/* Logout with a refresh token: its family, by the token's hash. */
	ck_assert_int_eq(store_refresh_add(st, h3, &b, T0 + 2), 0);
	ck_assert_int_eq(store_refresh_revoke(st, h9, T0 + 3), 1);
	ck_assert_int_eq(store_refresh_revoke(st, h3, T0 + 3), 0);
	ck_assert_int_eq(store_refresh_use(st, h3, T0 + 4, NULL), 1);
	ck_assert_int_eq(store_family_revoke(st, "", T0), -1);
}
END_TEST

/* Peek answers 0 exactly when a use at the same now would, and changes
 * nothing: no token used, no reuse detected, no family revoked. */
START_TEST(test_refresh_peek)
{
	struct store_refresh a = refresh("famA", "alice", T0 + 100), out;
	struct store_refresh b = refresh("famB", "bob", T0 + 100), zero;
	unsigned char        h1[32], h2[32], h3[32], h4[32], h9[32];

	memset(&zero, 0, sizeof zero);
	hash_of(h1, 1);
	hash_of(h2, 2);
	hash_of(h3, 3);
	hash_of(h4, 4);
	hash_of(h9, 9);
	ck_assert_int_eq(store_refresh_add(st, h1, &a, T0), 0);
	ck_assert_int_eq(store_refresh_add(st, h2, &a, T0), 0);
	ck_assert_int_eq(store_refresh_add(st, h3, &b, T0), 0);
	ck_assert_int_eq(store_refresh_add(st, h4, &b, T0), 0);

	/* Fresh: the record, as use would give it; twice, the same. */
	memset(&out, 0xff, sizeof out);
	ck_assert_int_eq(store_refresh_peek(st, h1, T0 + 1, &out), 0);
	ck_assert_str_eq(out.family, "famA");
	ck_assert_str_eq(out.sub, "alice");
	ck_assert_str_eq(out.scope, "read write");
	ck_assert_int_eq(out.exp, T0 + 100);
	ck_assert_int_eq(store_refresh_peek(st, h1, T0 + 1, NULL), 0);

	/* Unknown. */
	memset(&out, 0xff, sizeof out);
	ck_assert_int_eq(store_refresh_peek(st, h9, T0 + 1, &out), 1);
	ck_assert_mem_eq(&out, &zero, sizeof out);

	/* Peek does not consume: use still wins once, then is reuse. */
	memset(&out, 0, sizeof out);
	ck_assert_int_eq(store_refresh_use(st, h1, T0 + 2, &out), 0);
	ck_assert_str_eq(out.sub, "alice");

	/* Used: 1, and no reuse detected: the family lives on. */
	memset(&out, 0xff, sizeof out);
	ck_assert_int_eq(store_refresh_peek(st, h1, T0 + 3, &out), 1);
	ck_assert_mem_eq(&out, &zero, sizeof out);
	ck_assert_int_eq(store_refresh_peek(st, h2, T0 + 3, NULL), 0);
	ck_assert_int_eq(store_refresh_use(st, h2, T0 + 3, NULL), 0);
	ck_assert_int_eq(store_refresh_use(st, h1, T0 + 4, NULL), 2);
	/* Now famA is revoked by that reuse. */
	ck_assert_int_eq(store_refresh_peek(st, h1, T0 + 4, NULL), 1);
	ck_assert_int_eq(store_refresh_peek(st, h2, T0 + 4, NULL), 1);

	/* Expired: 1 from exp on, as for use. */
	ck_assert_int_eq(store_refresh_peek(st, h3, T0 + 99, NULL), 0);
	memset(&out, 0xff, sizeof out);
	ck_assert_int_eq(store_refresh_peek(st, h3, T0 + 100, &out), 1);
	ck_assert_mem_eq(&out, &zero, sizeof out);
	ck_assert_int_eq(store_refresh_use(st, h3, T0 + 100, NULL), 1);

	/* Family revoked: 1 for each of its tokens. */
	ck_assert_int_eq(store_family_revoke(st, "famB", T0 + 5), 0);
	memset(&out, 0xff, sizeof out);
	ck_assert_int_eq(store_refresh_peek(st, h4, T0 + 6, &out), 1);
	ck_assert_mem_eq(&out, &zero, sizeof out);
	ck_assert_int_eq(store_refresh_use(st, h4, T0 + 6, NULL), 1);
	ck_assert_int_eq(store_refresh_peek(st, h3, T0 + 6, NULL), 1);

	ck_assert_int_eq(store_refresh_peek(st, NULL, T0, &out), -1);
	ck_assert_mem_eq(&out, &zero, sizeof out);
}
END_TEST

/* A peek before a use, and many peeks of a used token, change nothing a
 * use can see. */
START_TEST(test_refresh_peek_read_only)
{
	struct store_refresh r = refresh("famP", "alice", T0 + 100);
	unsigned char        h1[32], h2[32];
	int                  i;

	hash_of(h1, 1);
	hash_of(h2, 2);
	ck_assert_int_eq(store_refresh_add(st, h1, &r, T0), 0);
	ck_assert_int_eq(store_refresh_add(st, h2, &r, T0), 0);
	for (i = 0; i < 3; i++)
		ck_assert_int_eq(store_refresh_peek(st, h1, T0 + 1, NULL), 0);
	ck_assert_int_eq(store_refresh_use(st, h1, T0 + 1, NULL), 0);
	for (i = 0; i < 3; i++)
		ck_assert_int_eq(store_refresh_peek(st, h1, T0 + 2, NULL), 1);
	/* Peeks of the used token did not revoke the family... */
	ck_assert_int_eq(store_refresh_peek(st, h2, T0 + 2, NULL), 0);
	/* ...but a second use does. */
	ck_assert_int_eq(store_refresh_use(st, h1, T0 + 2, NULL), 2);
	ck_assert_int_eq(store_refresh_peek(st, h2, T0 + 2, NULL), 1);
	ck_assert_int_eq(store_refresh_use(st, h2, T0 + 2, NULL), 1);
}
END_TEST

START_TEST(test_refresh_bad_args)
{
	struct store_refresh r = refresh("f", "alice", T0 + 100);
	unsigned char        h[32];

	hash_of(h, 1);
	r.family[0] = '\0';
	ck_assert_int_eq(store_refresh_add(st, h, &r, T0), -1);
	r = refresh("f", "alice", T0 + 100);
	memset(r.sub, 'x', sizeof r.sub); /* not terminated */
	ck_assert_int_eq(store_refresh_add(st, h, &r, T0), -1);
	ck_assert_int_eq(store_refresh_add(st, NULL, &r, T0), -1);
	ck_assert_int_eq(store_refresh_use(st, NULL, T0, NULL), -1);
}
END_TEST

/* max_retries 3, find_time 60, ban_time 300 */
static int64_t
fail3(const char *key, int64_t now)
{
	int64_t until = -1;

	ck_assert_int_eq(store_fail(st, key, now, 60, 3, 300, &until), 0);
	return until;
}

START_TEST(test_ban_within_window)
{
	int64_t until = -1;

	ck_assert_int_eq(fail3("u:alice", T0), 0);
	ck_assert_int_eq(fail3("u:alice", T0 + 10), 0);
	ck_assert_int_eq(store_banned(st, "u:alice", T0 + 10, &until), 0);
	ck_assert_int_eq(until, 0);
	ck_assert_int_eq(fail3("u:alice", T0 + 59), T0 + 359);
	ck_assert_int_eq(store_banned(st, "u:alice", T0 + 60, &until), 1);
	ck_assert_int_eq(until, T0 + 359);
	ck_assert_int_eq(store_banned(st, "a:10.0.0.1", T0 + 60, &until), 0);
	/* Failing while banned does not extend the ban. */
	ck_assert_int_eq(fail3("u:alice", T0 + 100), T0 + 359);
	ck_assert_int_eq(store_banned(st, "u:alice", T0 + 358, &until), 1);
	/* Lifted after ban_time, and counting starts afresh. */
	ck_assert_int_eq(store_banned(st, "u:alice", T0 + 359, &until), 0);
	ck_assert_int_eq(fail3("u:alice", T0 + 360), 0);
	ck_assert_int_eq(fail3("u:alice", T0 + 361), 0);
	ck_assert_int_eq(store_banned(st, "u:alice", T0 + 362, &until), 0);
	ck_assert_int_eq(fail3("u:alice", T0 + 362), T0 + 662);
}
END_TEST

START_TEST(test_no_ban_spread)
{
	int64_t until;

	/* Three failures, but never three within 60 s of a window's start. */
	ck_assert_int_eq(fail3("a:10.0.0.1", T0), 0);
	ck_assert_int_eq(fail3("a:10.0.0.1", T0 + 30), 0);
	ck_assert_int_eq(fail3("a:10.0.0.1", T0 + 60), 0); /* new window */
	ck_assert_int_eq(fail3("a:10.0.0.1", T0 + 100), 0);
	ck_assert_int_eq(fail3("a:10.0.0.1", T0 + 130), 0); /* new window */
	ck_assert_int_eq(store_banned(st, "a:10.0.0.1", T0 + 131, &until), 0);
	/* Keys are independent. */
	ck_assert_int_eq(fail3("u:bob", T0 + 131), 0);
	ck_assert_int_eq(fail3("a:10.0.0.1", T0 + 132), 0);
	ck_assert_int_eq(fail3("a:10.0.0.1", T0 + 133), T0 + 433);
}
END_TEST

START_TEST(test_clear)
{
	int64_t until;

	ck_assert_int_eq(fail3("u:carol", T0), 0);
	ck_assert_int_eq(fail3("u:carol", T0 + 1), 0);
	ck_assert_int_eq(store_clear(st, "u:carol"), 0);
	ck_assert_int_eq(fail3("u:carol", T0 + 2), 0);
	ck_assert_int_eq(fail3("u:carol", T0 + 3), 0);
	ck_assert_int_eq(fail3("u:carol", T0 + 4), T0 + 304);
	/* A ban is never cleared early. */
	ck_assert_int_eq(store_clear(st, "u:carol"), 0);
	ck_assert_int_eq(store_banned(st, "u:carol", T0 + 5, &until), 1);
	ck_assert_int_eq(until, T0 + 304);
	ck_assert_int_eq(store_clear(st, "u:nobody"), 0);
	ck_assert_int_eq(store_clear(st, ""), -1);
}
END_TEST

START_TEST(test_regulation_off)
{
	int64_t until = -1;

	ck_assert_int_eq(store_fail(st, "u:dave", T0, 60, 0, 300, &until), 0);
	ck_assert_int_eq(until, 0);
	ck_assert_int_eq(store_fail(st, "u:dave", T0, 60, 1, 300, &until), 0);
	ck_assert_int_eq(until, T0 + 300); /* one failure is enough */
}
END_TEST

START_TEST(test_counters_purge)
{
	int64_t until;

	ck_assert_int_eq(fail3("u:erin", T0), 0);
	ck_assert_int_eq(fail3("u:erin", T0 + 1), 0);
	ck_assert_int_eq(fail3("u:frank", T0), 0);
	ck_assert_int_eq(fail3("u:frank", T0 + 1), 0);
	ck_assert_int_eq(fail3("u:frank", T0 + 2), T0 + 302);
	ck_assert_int_eq(store_purge(st, T0 + 61), 0);
	ck_assert_int_eq(store_banned(st, "u:frank", T0 + 61, &until), 1);
	if (driver == STORE_REDIS)
		return;
	/* erin's window is over: her counter is gone, one failure is one. */
	ck_assert_int_eq(fail3("u:erin", T0 + 2), 0);
	ck_assert_int_eq(fail3("u:erin", T0 + 3), 0);
	ck_assert_int_eq(store_banned(st, "u:erin", T0 + 3, &until), 0);
}
END_TEST

/* ---- concurrency ---- */

#define CC_THREADS 6
#define CC_TOKENS  48
#define CC_JTIS    40

static struct store   *cc_stores[2];
static int             cc_wins[CC_TOKENS];
static int             cc_errors;
static pthread_mutex_t cc_lock = PTHREAD_MUTEX_INITIALIZER;

static void *
cc_worker(void *arg)
{
	long          id = (long)arg;
	struct store *s = cc_stores[id % 2];
	unsigned char h[32];
	char          jti[32];
	int           i, rv, wins[CC_TOKENS] = {0}, errors = 0;

	for (i = 0; i < CC_TOKENS; i++) {
		/* Start at a different token in each thread. */
		int t = (int)((i + id * 7) % CC_TOKENS);

		hash_of(h, (unsigned)t);
		rv = store_refresh_use(s, h, T0 + 1, NULL);
		if (rv == 0)
			wins[t]++;
		else if (rv != 2)
			errors++;
		if (i < CC_JTIS) {
			snprintf(jti, sizeof jti, "jti-%ld-%d", id, i);
			if (store_revoke(s, jti, T0 + 100, T0) != 0 ||
			    store_is_revoked(s, jti, T0 + 1) != 1 ||
			    store_is_revoked(s, "never", T0 + 1) != 0)
				errors++;
		}
	}
	pthread_mutex_lock(&cc_lock);
	for (i = 0; i < CC_TOKENS; i++)
		cc_wins[i] += wins[i];
	cc_errors += errors;
	pthread_mutex_unlock(&cc_lock);
	return NULL;
}

START_TEST(test_concurrency)
{
	pthread_t            th[CC_THREADS];
	struct store_refresh r;
	unsigned char        h[32];
	char                 fam[32];
	long                 i;

	/* Two handles on one file or server: two nodes; memory has one. */
	cc_stores[0] = st;
	cc_stores[1] = driver == STORE_MEMORY ? st : open_store(NULL);
	for (i = 0; i < CC_TOKENS; i++) {
		snprintf(fam, sizeof fam, "fam%ld", i);
		r = refresh(fam, "alice", T0 + 1000);
		hash_of(h, (unsigned)i);
		ck_assert_int_eq(store_refresh_add(st, h, &r, T0), 0);
	}
	for (i = 0; i < CC_THREADS; i++)
		ck_assert_int_eq(pthread_create(&th[i], NULL, cc_worker,
		                     (void *)i),
		    0);
	for (i = 0; i < CC_THREADS; i++)
		pthread_join(th[i], NULL);
	ck_assert_int_eq(cc_errors, 0);
	for (i = 0; i < CC_TOKENS; i++)
		ck_assert_msg(cc_wins[i] == 1, "token %ld won %d times", i,
		    cc_wins[i]);
	if (cc_stores[1] != st)
		store_close(cc_stores[1]);
}
END_TEST

/* ---- sqlite ---- */

START_TEST(test_sqlite_durable)
{
	struct store_refresh r = refresh("fam1", "alice", T0 + 1000), out;
	unsigned char        h1[32], h2[32];
	struct stat          sb;
	int64_t              until;

	hash_of(h1, 1);
	hash_of(h2, 2);
	ck_assert_int_eq(store_revoke(st, "gone", T0 + 100, T0), 0);
	ck_assert_int_eq(store_refresh_add(st, h1, &r, T0), 0);
	ck_assert_int_eq(store_refresh_add(st, h2, &r, T0), 0);
	ck_assert_int_eq(store_refresh_use(st, h1, T0, NULL), 0);
	ck_assert_int_eq(fail3("u:x", T0), 0);
	ck_assert_int_eq(fail3("u:x", T0), 0);
	ck_assert_int_eq(fail3("u:x", T0), T0 + 300);
	/* The file holds token hashes: owner only. */
	ck_assert_int_eq(stat(dbpath, &sb), 0);
	ck_assert_int_eq(sb.st_mode & 0777, 0600);
	store_close(st);

	st = open_store(NULL);
	ck_assert_int_eq(store_is_revoked(st, "gone", T0 + 1), 1);
	ck_assert_int_eq(store_banned(st, "u:x", T0 + 1, &until), 1);
	ck_assert_int_eq(until, T0 + 300);
	ck_assert_int_eq(store_refresh_use(st, h2, T0 + 1, &out), 0);
	ck_assert_str_eq(out.sub, "alice");
	ck_assert_int_eq(store_refresh_use(st, h1, T0 + 1, NULL), 2);
}
END_TEST

/* kill -9 right after the answers: the child revokes and dies. */
START_TEST(test_sqlite_kill9)
{
	unsigned char h[32];
	pid_t         pid;
	int           status;

	hash_of(h, 7);
	store_close(st);
	st = NULL;
	pid = fork();
	ck_assert_int_ne(pid, -1);
	if (pid == 0) {
		struct store_refresh r = refresh("famK", "alice", T0 + 1000);
		struct store        *s = open_store(NULL);

		if (store_revoke(s, "killed", T0 + 100, T0) != 0 ||
		    store_refresh_add(s, h, &r, T0) != 0 ||
		    store_refresh_use(s, h, T0, NULL) != 0)
			_exit(1);
		raise(SIGKILL);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	st = open_store(NULL);
	ck_assert_int_eq(store_is_revoked(st, "killed", T0 + 1), 1);
	ck_assert_int_eq(store_refresh_use(st, h, T0 + 1, NULL), 2);
}
END_TEST

START_TEST(test_sqlite_not_a_database)
{
	struct store *s = NULL;
	char          err[512] = "";
	FILE         *fp;

	store_close(st);
	st = NULL;
	unlink(dbpath);
	fp = fopen(dbpath, "w");
	ck_assert_ptr_nonnull(fp);
	for (int i = 0; i < 200; i++)
		fputs("this is not a database, only some text\n", fp);
	fclose(fp);
	ck_assert_int_eq(store_open(&cfg, &s, err, sizeof err), -1);
	ck_assert_ptr_null(s);
	ck_assert_msg(strstr(err, dbpath) != NULL, "%s", err);
	ck_assert_msg(strstr(err, "not a database") != NULL, "%s", err);
}
END_TEST

START_TEST(test_sqlite_unwritable_dir)
{
	char  ro[160], path[200];
	pid_t pid;
	int   status;

	snprintf(ro, sizeof ro, "%s/ro", dir);
	ck_assert_int_eq(chmod(dir, 0755), 0);
	ck_assert_int_eq(mkdir(ro, 0555), 0);
	ck_assert_int_eq(chmod(ro, 0555), 0);
	snprintf(path, sizeof path, "%s/state.db", ro);
	/* As root, permissions do not stop us: test as nobody. */
	pid = fork();
	ck_assert_int_ne(pid, -1);
	if (pid == 0) {
		struct store *s = NULL;
		char          err[512] = "";

		if (geteuid() == 0 && setuid(65534) != 0)
			_exit(2);
		cfg.store.path = path;
		if (store_open(&cfg, &s, err, sizeof err) != -1 || s != NULL)
			_exit(3);
		if (strstr(err, path) == NULL ||
		    strstr(err, "Permission denied") == NULL) {
			fprintf(stderr, "unexpected error: %s\n", err);
			_exit(4);
		}
		_exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);
}
END_TEST

START_TEST(test_sqlite_dir_missing)
{
	struct store *s = NULL;
	char          err[512] = "", path[200];

	snprintf(path, sizeof path, "%s/nope/state.db", dir);
	cfg.store.path = path;
	ck_assert_int_eq(store_open(&cfg, &s, err, sizeof err), -1);
	ck_assert_msg(strstr(err, path) != NULL &&
	        strstr(err, "No such file or directory") != NULL,
	    "%s", err);
}
END_TEST

/* ---- caps (memory and sqlite) ---- */

START_TEST(test_counters_capped)
{
	struct store_limits lim = {.max_counters = 10};
	char                key[32];
	int64_t             until;
	int                 i;

	store_close(st);
	rm_rf(dir);
	ck_assert_int_eq(mkdir(dir, 0700), 0);
	st = open_store(&lim);
	ck_assert_int_eq(fail3("u:old", T0), 0);
	ck_assert_int_eq(fail3("u:old", T0), 0);
	ck_assert_int_eq(fail3("u:victim", T0), 0);
	ck_assert_int_eq(fail3("u:victim", T0), 0);
	ck_assert_int_eq(fail3("u:victim", T0), T0 + 300);
	for (i = 0; i < 40; i++) {
		snprintf(key, sizeof key, "u:flood%d", i);
		ck_assert_int_eq(fail3(key, T0 + 1), 0);
	}
	ck_assert_int_eq(store_purge(st, T0 + 2), 0);
	/* The ban survives the flood; the oldest count does not. */
	ck_assert_int_eq(store_banned(st, "u:victim", T0 + 2, &until), 1);
	ck_assert_int_eq(fail3("u:old", T0 + 2), 0);
}
END_TEST

START_TEST(test_memory_full)
{
	struct store_limits  lim = {.max_revoked = 4, .max_refresh = 4};
	struct store_refresh r;
	unsigned char        h[32];
	char                 name[16];
	int                  i;

	store_close(st);
	st = open_store(&lim);
	for (i = 0; i < 4; i++) {
		snprintf(name, sizeof name, "j%d", i);
		ck_assert_int_eq(store_revoke(st, name, T0 + 10, T0), 0);
	}
	/* Full of live revocations: refused, never one silently dropped. */
	ck_assert_int_eq(store_revoke(st, "j4", T0 + 10, T0), -1);
	ck_assert_int_eq(store_is_revoked(st, "j0", T0), 1);
	ck_assert_int_eq(store_revoke(st, "j0", T0 + 20, T0), 0); /* known */
	/* Once some expire, there is room again. */
	ck_assert_int_eq(store_revoke(st, "j4", T0 + 20, T0 + 10), 0);

	for (i = 0; i < 4; i++) {
		snprintf(name, sizeof name, "f%d", i);
		r = refresh(name, "alice", T0 + 10);
		hash_of(h, (unsigned)i);
		ck_assert_int_eq(store_refresh_add(st, h, &r, T0), 0);
	}
	hash_of(h, 4);
	ck_assert_int_eq(store_refresh_add(st, h, &r, T0), -1);
	ck_assert_int_eq(store_refresh_add(st, h, &r, T0 + 10), -1); /* exp */
	r.exp = T0 + 20;
	ck_assert_int_eq(store_refresh_add(st, h, &r, T0 + 10), 0);
}
END_TEST

/* ---- redis ---- */

START_TEST(test_redis_open_errors)
{
	struct store *s = NULL;
	char          err[512] = "", bad[64];

	cfg.store.url = "redis://127.0.0.1:99999/0";
	ck_assert_int_eq(store_open(&cfg, &s, err, sizeof err), -1);
	ck_assert_msg(strstr(err, "redis://127.0.0.1:99999/0") != NULL, "%s",
	    err);
	snprintf(bad, sizeof bad, "redis://127.0.0.1:%d/0", free_port());
	cfg.store.url = bad;
	ck_assert_int_eq(store_open(&cfg, &s, err, sizeof err), -1);
	ck_assert_msg(strstr(err, bad) != NULL &&
	        strstr(err, "Connection refused") != NULL,
	    "%s", err);
	cfg.store.url = "unix:/nonexistent/redis.sock";
	ck_assert_int_eq(store_open(&cfg, &s, err, sizeof err), -1);
	ck_assert_msg(strstr(err, "unix:/nonexistent/redis.sock") != NULL, "%s",
	    err);
	ck_assert_ptr_null(s);
}
END_TEST

/*
 * A server of its own: answered writes survive kill -9 of the server;
 * while it is down every call is an error, never a "no"; the same handle
 * reconnects when it is back.
 */
START_TEST(test_redis_kill9)
{
	struct store_refresh r = refresh("famR", "alice", T0 + 1000);
	unsigned char        h[32];
	char                 rdir[160], myurl[64], why[256];
	struct store        *s;
	pid_t                pid;
	int64_t              until;
	int                  port = free_port();

	hash_of(h, 11);
	snprintf(rdir, sizeof rdir, "%s/redis", dir);
	ck_assert_int_eq(mkdir(rdir, 0700), 0);
	ck_assert_msg(redis_start(rdir, port, &pid, why, sizeof why) == 0, "%s",
	    why);
	snprintf(myurl, sizeof myurl, "redis://127.0.0.1:%d/3", port);
	cfg.store.url = myurl;
	s = open_store(NULL);
	ck_assert_int_eq(store_revoke(s, "k9", T0 + 100, T0), 0);
	ck_assert_int_eq(store_refresh_add(s, h, &r, T0), 0);
	ck_assert_int_eq(store_refresh_use(s, h, T0, NULL), 0);
	ck_assert_int_eq(store_fail(s, "u:z", T0, 60, 1, 300, &until), 0);
	ck_assert_int_eq(until, T0 + 300);

	redis_stop(pid, SIGKILL);
	ck_assert_int_eq(store_ping(s), -1);
	ck_assert_int_eq(store_is_revoked(s, "k9", T0 + 1), -1);
	ck_assert_int_eq(store_refresh_use(s, h, T0 + 1, NULL), -1);
	ck_assert_int_eq(store_banned(s, "u:z", T0 + 1, &until), -1);

	ck_assert_msg(redis_start(rdir, port, &pid, why, sizeof why) == 0, "%s",
	    why);
	ck_assert_int_eq(store_ping(s), 0);
	ck_assert_int_eq(store_is_revoked(s, "k9", T0 + 1), 1);
	ck_assert_int_eq(store_refresh_use(s, h, T0 + 1, NULL), 2);
	ck_assert_int_eq(store_banned(s, "u:z", T0 + 1, &until), 1);

	/* Restarted behind the pool's back: a read retries on a new
	 * connection and answers. */
	redis_stop(pid, SIGKILL);
	ck_assert_msg(redis_start(rdir, port, &pid, why, sizeof why) == 0, "%s",
	    why);
	ck_assert_int_eq(store_is_revoked(s, "k9", T0 + 1), 1);
	ck_assert_int_eq(store_revoke(s, "k10", T0 + 100, T0), 0);
	store_close(s);
	redis_stop(pid, SIGTERM);
}
END_TEST

/* Keys carry TTLs: nothing the store writes lives forever. */
START_TEST(test_redis_ttls)
{
	struct store_refresh r = refresh("famT", "alice", T0 + 1000);
	unsigned char        h[32];
	char                 cmd[160];
	FILE                *fp;
	char                 line[64];
	int                  n = 0;

	hash_of(h, 12);
	ck_assert_int_eq(store_revoke(st, "t", T0 + 100, T0), 0);
	ck_assert_int_eq(store_refresh_add(st, h, &r, T0), 0);
	ck_assert_int_eq(store_refresh_use(st, h, T0, NULL), 0);
	ck_assert_int_eq(store_refresh_use(st, h, T0, NULL), 2);
	ck_assert_int_eq(fail3("u:t", T0), 0);
	ck_assert_int_eq(fail3("a:t", T0), 0);
	ck_assert_int_eq(fail3("a:t", T0), 0);
	ck_assert_int_eq(fail3("a:t", T0), T0 + 300);
	snprintf(cmd, sizeof cmd,
	    "for k in $(redis-cli -p %d --scan); do "
	    "redis-cli -p %d ttl \"$k\"; done",
	    redis_port, redis_port);
	fp = popen(cmd, "r");
	ck_assert_ptr_nonnull(fp);
	while (fgets(line, sizeof line, fp) != NULL) {
		long ttl = strtol(line, NULL, 10);

		ck_assert_msg(ttl > 0, "a key without TTL (%ld)", ttl);
		n++;
	}
	pclose(fp);
	ck_assert_int_eq(n, 5); /* jti, rt, fam, ctr u:t, ctr a:t */
}
END_TEST

/* ---- the suite ---- */

static void
add_table(TCase *tc)
{
	tcase_add_test(tc, test_ping);
	tcase_add_test(tc, test_revoke);
	tcase_add_test(tc, test_revoke_leeway);
	tcase_add_test(tc, test_revoke_bad_args);
	tcase_add_test(tc, test_revoke_purge);
	tcase_add_test(tc, test_refresh_rotation);
	tcase_add_test(tc, test_refresh_expiry);
	tcase_add_test(tc, test_family_revoke);
	tcase_add_test(tc, test_refresh_peek);
	tcase_add_test(tc, test_refresh_peek_read_only);
	tcase_add_test(tc, test_refresh_bad_args);
	tcase_add_test(tc, test_ban_within_window);
	tcase_add_test(tc, test_no_ban_spread);
	tcase_add_test(tc, test_clear);
	tcase_add_test(tc, test_regulation_off);
	tcase_add_test(tc, test_counters_purge);
	tcase_add_test(tc, test_concurrency);
	tcase_set_timeout(tc, 30);
}

static Suite *
store_suite(void)
{
	Suite *s = suite_create("store");
	TCase *mem = tcase_create("memory");
	TCase *sql = tcase_create("sqlite");
	TCase *red = tcase_create("redis");

	tcase_add_checked_fixture(mem, setup_memory, teardown);
	add_table(mem);
	tcase_add_test(mem, test_counters_capped);
	tcase_add_test(mem, test_memory_full);
	suite_add_tcase(s, mem);

	tcase_add_checked_fixture(sql, setup_sqlite, teardown);
	add_table(sql);
	tcase_add_test(sql, test_counters_capped);
	tcase_add_test(sql, test_sqlite_durable);
	tcase_add_test(sql, test_sqlite_kill9);
	tcase_add_test(sql, test_sqlite_not_a_database);
	tcase_add_test(sql, test_sqlite_unwritable_dir);
	tcase_add_test(sql, test_sqlite_dir_missing);
	suite_add_tcase(s, sql);

	tcase_add_checked_fixture(red, setup_redis, teardown);
	add_table(red);
	tcase_add_test(red, test_redis_open_errors);
	tcase_add_test(red, test_redis_kill9);
	tcase_add_test(red, test_redis_ttls);
	suite_add_tcase(s, red);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(store_suite());
	char     cmd[128];
	int      failed;

	strcpy(redis_dir, "/tmp/jwtgate-redis.XXXXXX");
	if (mkdtemp(redis_dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	redis_port = free_port();
	if (redis_start(redis_dir, redis_port, &redis_pid, redis_why,
	        sizeof redis_why) == -1) {
		redis_pid = 0;
		fprintf(stderr, "check_store: %s\n", redis_why);
	}
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	redis_stop(redis_pid, SIGTERM);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", redis_dir);
	if (system(cmd) != 0)
		failed++;
	return failed == 0 ? 0 : 1;
}
