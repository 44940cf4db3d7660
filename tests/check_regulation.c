/*
 * check_regulation.c - the login-failure policy over real stores, with an
 * injected clock: bans per user and per address, windows, success, IPv6
 * /64 grouping, fixed-length keys for any name. One table of tests runs
 * against the memory, sqlite and redis drivers (redis-server started by
 * main() on 127.0.0.1, a free port, stopped by its PID); then bans that
 * survive a sqlite restart, are shared by two nodes, bounded memory under
 * a million names (memory driver) and store errors that are never silent.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "b64url.h"
#include "config.h"
#include "redis_server.h"
#include "regulation.h"
#include "store.h"

#define T0 1700000000

static enum store_driver  driver;
static char               dir[64];
static char               dbpath[128];
static char               url[64];
static struct config      cfg;
static struct store      *st;
static struct regulation *reg;

static pid_t redis_pid;
static int   redis_port;
static char  redis_dir[64];
static char  redis_why[256] = "not started";

/* ---- redis-server for the tests ---- */

/* Start redis-server (no persistence needed) on redis_port: 0, or -1 and why. */
static int
redis_start_shared(void)
{
	return redis_start(redis_dir, redis_port, &redis_pid, redis_why,
	    sizeof redis_why);
}

/* The output of a redis-cli command line, first line only. */
static void
redis_cli(const char *args, char *out, size_t outlen)
{
	char  cmd[512];
	FILE *fp;

	snprintf(cmd, sizeof cmd, "redis-cli -p %d %s", redis_port, args);
	ck_assert_ptr_nonnull(fp = popen(cmd, "r"));
	if (fgets(out, (int)outlen, fp) == NULL)
		out[0] = '\0';
	out[strcspn(out, "\n")] = '\0';
	pclose(fp);
}

/* ---- fixtures ---- */

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
	strcpy(dir, "/tmp/jwtgate-reg.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(dbpath, sizeof dbpath, "%s/state.db", dir);
	snprintf(url, sizeof url, "redis://127.0.0.1:%d/0", redis_port);
	memset(&cfg, 0, sizeof cfg);
	cfg.store.driver = d;
	cfg.store.path = dbpath;
	cfg.store.url = url;
	cfg.oauth2.refresh_ttl = 86400;
	cfg.login.max_retries = 5;
	cfg.login.find_time = 120;
	cfg.login.ban_time = 300;
	st = open_store(NULL);
	reg = regulation_new(&cfg, st);
}

static void
setup_memory(void)
{
	setup_common(STORE_MEMORY);
}

static void
setup_sqlite(void)
{
	setup_common(STORE_SQLITE);
}

static void
setup_redis(void)
{
	char out[64];

	ck_assert_msg(redis_pid > 0, "the redis tests need redis-server: %s",
	    redis_why);
	redis_cli("flushall", out, sizeof out);
	ck_assert_str_eq(out, "OK");
	setup_common(STORE_REDIS);
}

static void
teardown(void)
{
	char cmd[128];

	regulation_free(reg);
	store_close(st);
	reg = NULL;
	st = NULL;
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

/* A regulation on a second handle to the same file or server: a node. */
static void
second_node(struct store **s2, struct regulation **r2)
{
	*s2 = open_store(NULL);
	*r2 = regulation_new(&cfg, *s2);
}

/* ---- the table, for every driver ---- */

START_TEST(test_user_ban_and_lift)
{
	int64_t retry;
	int     i;

	for (i = 0; i < 4; i++) {
		ck_assert_int_eq(regulation_check(reg, "alice", NULL, T0 + i,
		                     &retry),
		    0);
		ck_assert_int_eq(regulation_fail(reg, "alice", NULL, T0 + i),
		    0);
	}
	ck_assert_int_eq(regulation_check(reg, "alice", NULL, T0 + 4, &retry),
	    0);
	/* the fifth failure bans, the sixth attempt is refused */
	ck_assert_int_eq(regulation_fail(reg, "alice", NULL, T0 + 4),
	    REGULATION_BANNED_USER);
	ck_assert_int_eq(regulation_check(reg, "alice", NULL, T0 + 4, &retry),
	    1);
	ck_assert_int_eq(retry, 300);
	ck_assert_int_eq(regulation_check(reg, "alice", NULL, T0 + 100, &retry),
	    1);
	ck_assert_int_eq(retry, 204);
	/* failing or succeeding during the ban changes nothing */
	ck_assert_int_eq(regulation_fail(reg, "alice", NULL, T0 + 100), 0);
	ck_assert_int_eq(regulation_success(reg, "alice", NULL, T0 + 100), 0);
	ck_assert_int_eq(regulation_check(reg, "alice", NULL, T0 + 303, &retry),
	    1);
	ck_assert_int_eq(retry, 1);
	/* other names are not affected */
	ck_assert_int_eq(regulation_check(reg, "Alice", NULL, T0 + 5, &retry),
	    0);
	ck_assert_int_eq(retry, 0);
	/* lifted after ban_time, with a fresh count */
	ck_assert_int_eq(regulation_check(reg, "alice", NULL, T0 + 304, &retry),
	    0);
	ck_assert_int_eq(retry, 0);
	for (i = 0; i < 4; i++)
		ck_assert_int_eq(regulation_fail(reg, "alice", NULL, T0 + 305),
		    0);
	ck_assert_int_eq(regulation_check(reg, "alice", NULL, T0 + 305, &retry),
	    0);
	ck_assert_int_eq(regulation_fail(reg, "alice", NULL, T0 + 305),
	    REGULATION_BANNED_USER);
}
END_TEST

/* Failures further apart than find_time never add up to a ban. */
START_TEST(test_window)
{
	int64_t retry, now = T0;
	int     i;

	for (i = 0; i < 20; i++) {
		ck_assert_int_eq(regulation_fail(reg, "bob", "192.0.2.1", now),
		    0);
		now += 31; /* four per find_time at most */
	}
	ck_assert_int_eq(regulation_check(reg, "bob", "192.0.2.1", now, &retry),
	    0);
	/* five within find_time do */
	for (i = 0; i < 4; i++)
		ck_assert_int_eq(regulation_fail(reg, "carol", NULL,
		                     now + i * 29),
		    0);
	ck_assert_int_eq(regulation_fail(reg, "carol", NULL, now + 119),
	    REGULATION_BANNED_USER);
}
END_TEST

/* One address trying many (unknown) names is banned, then for any name. */
START_TEST(test_address_ban)
{
	char    name[32];
	int64_t retry;
	int     i, r = 0;

	for (i = 0; i < 5; i++) {
		snprintf(name, sizeof name, "nobody%d", i);
		r = regulation_fail(reg, name, "198.51.100.7", T0);
	}
	ck_assert_int_eq(r, REGULATION_BANNED_ADDR);
	ck_assert_int_eq(regulation_check(reg, "alice", "198.51.100.7", T0 + 1,
	                     &retry),
	    1);
	ck_assert_int_eq(retry, 299);
	ck_assert_int_eq(regulation_check(reg, NULL, "198.51.100.7", T0 + 1,
	                     &retry),
	    1);
	/* the names themselves are not banned, nor other addresses */
	ck_assert_int_eq(regulation_check(reg, "nobody0", "198.51.100.8",
	                     T0 + 1, &retry),
	    0);
	ck_assert_int_eq(regulation_check(reg, "alice", "::ffff:198.51.100.8",
	                     T0 + 1, &retry),
	    0);
	/* an IPv4-mapped IPv6 address is the same address */
	ck_assert_int_eq(regulation_check(reg, "alice", "::ffff:198.51.100.7",
	                     T0 + 1, &retry),
	    1);
	/* a success does not clear the address counter */
	ck_assert_int_eq(regulation_success(reg, "alice", "198.51.100.7",
	                     T0 + 400),
	    0);
	for (i = 0; i < 4; i++)
		ck_assert_int_eq(regulation_fail(reg, "x", "198.51.100.7",
		                     T0 + 400),
		    0);
	ck_assert_int_eq(regulation_success(reg, "y", "198.51.100.7", T0 + 401),
	    0);
	ck_assert_int_eq(regulation_fail(reg, "z", "198.51.100.7", T0 + 401),
	    REGULATION_BANNED_ADDR);
}
END_TEST

/* One name attacked from many addresses is banned, whoever asks. */
START_TEST(test_user_many_addresses)
{
	char    addr[32];
	int64_t retry;
	int     i, r = 0;

	for (i = 0; i < 5; i++) {
		snprintf(addr, sizeof addr, "203.0.113.%d", i);
		r = regulation_fail(reg, "root", addr, T0);
	}
	ck_assert_int_eq(r, REGULATION_BANNED_USER);
	ck_assert_int_eq(regulation_check(reg, "root", "192.0.2.200", T0,
	                     &retry),
	    1);
	ck_assert_int_eq(regulation_check(reg, "admin", "203.0.113.1", T0,
	                     &retry),
	    0);
	/* both at once: one call reports both bans */
	for (i = 0; i < 4; i++)
		regulation_fail(reg, "eve", "192.0.2.50", T0 + 1);
	ck_assert_int_eq(regulation_fail(reg, "eve", "192.0.2.50", T0 + 1),
	    REGULATION_BANNED_USER | REGULATION_BANNED_ADDR);
}
END_TEST

/* A success forgives its user's earlier typos. */
START_TEST(test_success_clears_user)
{
	int i;

	for (i = 0; i < 4; i++)
		ck_assert_int_eq(regulation_fail(reg, "dave", NULL, T0), 0);
	ck_assert_int_eq(regulation_success(reg, "dave", NULL, T0 + 1), 0);
	for (i = 0; i < 4; i++)
		ck_assert_int_eq(regulation_fail(reg, "dave", NULL, T0 + 2), 0);
	ck_assert_int_eq(regulation_fail(reg, "dave", NULL, T0 + 2),
	    REGULATION_BANNED_USER);
	/* a success for a name never seen is fine */
	ck_assert_int_eq(regulation_success(reg, "nobody", NULL, T0 + 2), 0);
}
END_TEST

/* IPv6 addresses count per /64. */
START_TEST(test_ipv6_prefix)
{
	char    addr[64];
	int64_t retry;
	int     i;

	for (i = 0; i < 5; i++) {
		snprintf(addr, sizeof addr, "2001:db8:1:2:%x::%x", i, i + 1);
		ck_assert_int_eq(regulation_fail(reg, NULL, addr, T0),
		    i < 4 ? 0 : REGULATION_BANNED_ADDR);
	}
	ck_assert_int_eq(regulation_check(reg, NULL, "2001:db8:1:2::99", T0,
	                     &retry),
	    1);
	ck_assert_int_eq(regulation_check(reg, NULL,
	                     "2001:0db8:0001:0002:ffff:ffff:ffff:ffff", T0,
	                     &retry),
	    1);
	ck_assert_int_eq(regulation_check(reg, NULL, "2001:db8:1:3::1", T0,
	                     &retry),
	    0);
	ck_assert_int_eq(regulation_check(reg, NULL, "2001:db8:1::1", T0,
	                     &retry),
	    0);
	/* text that is no address is counted as text */
	for (i = 0; i < 5; i++)
		regulation_fail(reg, NULL, "unix", T0);
	ck_assert_int_eq(regulation_check(reg, NULL, "unix", T0, &retry), 1);
	ck_assert_int_eq(regulation_check(reg, NULL, "", T0, &retry), 0);
	ck_assert_int_eq(regulation_check(reg, NULL, NULL, T0, &retry), 0);
}
END_TEST

/* Any name, however long, is one fixed-length key: counted and banned. */
START_TEST(test_long_names)
{
	enum { LEN = 100000 };
	char   *a = malloc(LEN + 1), *b = malloc(LEN + 1);
	int64_t retry;
	int     i;

	memset(a, 'x', LEN);
	a[LEN] = '\0';
	memcpy(b, a, LEN + 1);
	b[LEN - 1] = 'y'; /* differs in the last byte only */
	for (i = 0; i < 4; i++)
		ck_assert_int_eq(regulation_fail(reg, a, NULL, T0), 0);
	ck_assert_int_eq(regulation_fail(reg, a, NULL, T0),
	    REGULATION_BANNED_USER);
	ck_assert_int_eq(regulation_check(reg, a, NULL, T0, &retry), 1);
	ck_assert_int_eq(regulation_check(reg, b, NULL, T0, &retry), 0);
	ck_assert_int_eq(regulation_check(reg, "", NULL, T0, &retry), 0);
	free(a);
	free(b);
}
END_TEST

/* max_retries 0: nothing is counted, the store is never asked. */
START_TEST(test_disabled)
{
	struct regulation      *off;
	struct regulation_stats s;
	int64_t                 retry;
	int                     i;

	cfg.login.max_retries = 0;
	off = regulation_new(&cfg, st);
	for (i = 0; i < 100; i++)
		ck_assert_int_eq(regulation_fail(off, "eve", "192.0.2.9", T0),
		    0);
	ck_assert_int_eq(regulation_check(off, "eve", "192.0.2.9", T0, &retry),
	    0);
	regulation_stats(off, &s);
	ck_assert_uint_eq(s.bans, 0);
	regulation_free(off);
	/* the regulation in force finds no count left behind */
	for (i = 0; i < 4; i++)
		ck_assert_int_eq(regulation_fail(reg, "eve", "192.0.2.9", T0),
		    0);
}
END_TEST

/* Two nodes on one store: failures on either add up, a ban holds on both. */
START_TEST(test_two_nodes)
{
	struct store      *s2;
	struct regulation *r2;
	int64_t            retry;
	int                i;

	if (driver == STORE_MEMORY)
		return; /* one process by definition */
	second_node(&s2, &r2);
	for (i = 0; i < 4; i++)
		ck_assert_int_eq(regulation_fail(i % 2 ? r2 : reg, "frank",
		                     NULL, T0),
		    0);
	ck_assert_int_eq(regulation_fail(r2, "frank", NULL, T0 + 1),
	    REGULATION_BANNED_USER);
	ck_assert_int_eq(regulation_check(reg, "frank", NULL, T0 + 2, &retry),
	    1);
	ck_assert_int_eq(retry, 299);
	ck_assert_int_eq(regulation_check(r2, "frank", "192.0.2.1", T0 + 2,
	                     &retry),
	    1);
	/* a success on one node clears the count for both */
	for (i = 0; i < 4; i++)
		regulation_fail(reg, "grace", NULL, T0);
	ck_assert_int_eq(regulation_success(r2, "grace", NULL, T0), 0);
	ck_assert_int_eq(regulation_fail(reg, "grace", NULL, T0), 0);
	regulation_free(r2);
	store_close(s2);
}
END_TEST

/* Several threads on the same names: every name is banned, once each as
 * far as each thread can tell, and nothing fails. */
#define TH_N     4
#define TH_NAMES 50

static void *
hammer_run(void *arg)
{
	int *bans = arg;
	char name[16];
	int  i;

	for (i = 0; i < TH_NAMES * 10; i++) {
		int r;

		snprintf(name, sizeof name, "h%d", i % TH_NAMES);
		if ((r = regulation_fail(reg, name, NULL, T0)) == -1)
			return NULL;
		*bans += r != 0;
	}
	return NULL;
}

START_TEST(test_threads)
{
	struct regulation_stats s;
	pthread_t               t[TH_N];
	char                    name[16];
	int64_t                 retry;
	int                     i, bans[TH_N] = {0}, total = 0;

	for (i = 0; i < TH_N; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, hammer_run,
		                     &bans[i]),
		    0);
	for (i = 0; i < TH_N; i++) {
		pthread_join(t[i], NULL);
		total += bans[i];
	}
	regulation_stats(reg, &s);
	ck_assert_uint_eq(s.errors, 0);
	ck_assert_uint_eq(s.bans, (uint64_t)total);
	/* a race between check and count may report one ban per thread */
	ck_assert_int_ge(total, TH_NAMES);
	ck_assert_int_le(total, TH_NAMES * TH_N);
	for (i = 0; i < TH_NAMES; i++) {
		snprintf(name, sizeof name, "h%d", i);
		ck_assert_int_eq(regulation_check(reg, name, NULL, T0, &retry),
		    1);
		ck_assert_int_eq(retry, 300);
	}
}
END_TEST

/* ---- sqlite ---- */

/* Counts and bans survive a restart: close and reopen the file. */
START_TEST(test_sqlite_restart)
{
	int64_t retry;
	int     i;

	for (i = 0; i < 5; i++)
		regulation_fail(reg, "henry", "192.0.2.7", T0);
	for (i = 0; i < 4; i++)
		regulation_fail(reg, "ivy", NULL, T0);
	regulation_free(reg);
	store_close(st);

	st = open_store(NULL);
	reg = regulation_new(&cfg, st);
	ck_assert_int_eq(regulation_check(reg, "henry", NULL, T0 + 10, &retry),
	    1);
	ck_assert_int_eq(retry, 290);
	ck_assert_int_eq(regulation_check(reg, "x", "::ffff:192.0.2.7", T0 + 10,
	                     &retry),
	    1);
	ck_assert_int_eq(regulation_fail(reg, "ivy", NULL, T0 + 10),
	    REGULATION_BANNED_USER);
}
END_TEST

/* ---- memory ---- */

static size_t
heap_used(void)
{
	return mallinfo2().uordblks;
}

/*
 * A million distinct names (unknown users, as an attacker would send)
 * from as many addresses: the heap stays within the store's cap, and bans
 * taken before the flood survive it.
 */
START_TEST(test_flood_bounded)
{
	enum { CAP = 4096, NAMES = 1000000 };
	struct store_limits     lim = {.max_counters = CAP};
	struct regulation_stats s;
	/* counters cost well under 4 KiB each, whatever the names */
	const size_t bound = (size_t)CAP * 4096;
	char         name[48], addr[32];
	size_t       base;
	int64_t      retry;
	int          i;

	regulation_free(reg);
	store_close(st);
	base = heap_used();
	st = open_store(&lim);
	reg = regulation_new(&cfg, st);
	for (i = 0; i < 5; i++)
		regulation_fail(reg, "victim", "192.0.2.66", T0);
	for (i = 0; i < NAMES; i++) {
		snprintf(name, sizeof name, "flood-%d-%x", i, i * 2654435761u);
		snprintf(addr, sizeof addr, "10.%d.%d.%d", (i >> 16) & 255,
		    (i >> 8) & 255, i & 255);
		ck_assert_int_eq(regulation_fail(reg, name, addr,
		                     T0 + 1 + i / 10000),
		    0);
		if (i % 100000 == 0)
			ck_assert_uint_lt(heap_used() - base, bound);
	}
	ck_assert_uint_lt(heap_used() - base, bound);
	regulation_stats(reg, &s);
	ck_assert_uint_eq(s.bans, 2);
	ck_assert_uint_eq(s.errors, 0);
	ck_assert_int_eq(regulation_check(reg, "victim", NULL, T0 + 101,
	                     &retry),
	    1);
	ck_assert_int_eq(regulation_check(reg, NULL, "192.0.2.66", T0 + 101,
	                     &retry),
	    1);
	ck_assert_int_eq(retry, 199);
}
END_TEST

/* ---- redis ---- */

/* The keys every node computes alike: a digest of the name, the /64. */
START_TEST(test_redis_keys)
{
	unsigned char md[32];
	char          b64[B64URL_ENCLEN(32) + 1], args[160], out[160];

	ck_assert_int_eq(regulation_fail(reg, "judy", "2001:db8:a:b:c:d:e:f",
	                     T0),
	    0);
	ck_assert_int_eq(EVP_Digest("judy", 4, md, NULL, EVP_sha256(), NULL),
	    1);
	b64url_encode(md, sizeof md, b64);
	snprintf(args, sizeof args, "hget 'jwtgate:ctr:u:%s' fails", b64);
	redis_cli(args, out, sizeof out);
	ck_assert_str_eq(out, "1");
	redis_cli("hget 'jwtgate:ctr:a:2001:db8:a:b::/64' fails", out,
	    sizeof out);
	ck_assert_str_eq(out, "1");
	redis_cli("dbsize", out, sizeof out);
	ck_assert_str_eq(out, "2");
}
END_TEST

/* A store that answers with errors: -1 everywhere, never allow or deny. */
START_TEST(test_redis_errors)
{
	struct regulation_stats s;
	unsigned char           md[32];
	char                    b64[B64URL_ENCLEN(32) + 1], args[160], out[64];
	int64_t                 retry = -1;
	int                     i;

	/* The user's counter is a string: every command on it fails. */
	ck_assert_int_eq(EVP_Digest("kim", 3, md, NULL, EVP_sha256(), NULL), 1);
	b64url_encode(md, sizeof md, b64);
	snprintf(args, sizeof args, "set 'jwtgate:ctr:u:%s' garbage", b64);
	redis_cli(args, out, sizeof out);
	ck_assert_str_eq(out, "OK");

	ck_assert_int_eq(regulation_check(reg, "kim", "192.0.2.3", T0, &retry),
	    -1);
	ck_assert_int_eq(retry, 0);
	ck_assert_int_eq(regulation_success(reg, "kim", NULL, T0), -1);
	/* the address is still counted, and its ban holds */
	for (i = 0; i < 5; i++)
		ck_assert_int_eq(regulation_fail(reg, "kim", "192.0.2.3", T0),
		    -1);
	ck_assert_int_eq(regulation_check(reg, NULL, "192.0.2.3", T0, &retry),
	    1);
	ck_assert_int_eq(regulation_check(reg, "leo", "192.0.2.4", T0, &retry),
	    0);
	regulation_stats(reg, &s);
	ck_assert_uint_eq(s.errors, 7);
}
END_TEST

/* ---- the suite ---- */

static void
add_table(TCase *tc)
{
	tcase_add_test(tc, test_user_ban_and_lift);
	tcase_add_test(tc, test_window);
	tcase_add_test(tc, test_address_ban);
	tcase_add_test(tc, test_user_many_addresses);
	tcase_add_test(tc, test_success_clears_user);
	tcase_add_test(tc, test_ipv6_prefix);
	tcase_add_test(tc, test_long_names);
	tcase_add_test(tc, test_disabled);
	tcase_add_test(tc, test_two_nodes);
	tcase_add_test(tc, test_threads);
	tcase_set_timeout(tc, 60);
}

static Suite *
regulation_suite(void)
{
	Suite *s = suite_create("regulation");
	TCase *mem = tcase_create("memory");
	TCase *sql = tcase_create("sqlite");
	TCase *red = tcase_create("redis");

	tcase_add_checked_fixture(mem, setup_memory, teardown);
	add_table(mem);
	tcase_add_test(mem, test_flood_bounded);
	suite_add_tcase(s, mem);

	tcase_add_checked_fixture(sql, setup_sqlite, teardown);
	add_table(sql);
	tcase_add_test(sql, test_sqlite_restart);
	suite_add_tcase(s, sql);

	tcase_add_checked_fixture(red, setup_redis, teardown);
	add_table(red);
	tcase_add_test(red, test_redis_keys);
	tcase_add_test(red, test_redis_errors);
	suite_add_tcase(s, red);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(regulation_suite());
	char     cmd[128];
	int      failed;

	strcpy(redis_dir, "/tmp/jwtgate-reg-redis.XXXXXX");
	if (mkdtemp(redis_dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	redis_port = free_port();
	if (redis_start_shared() == -1) {
		redis_pid = 0;
		fprintf(stderr, "check_regulation: %s\n", redis_why);
	}
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	if (redis_pid > 0) {
		kill(redis_pid, SIGTERM);
		waitpid(redis_pid, NULL, 0);
	}
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", redis_dir);
	if (system(cmd) != 0)
		failed++;
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
