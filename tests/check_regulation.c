/*
 * check_regulation.c - bans per user and per address with an injected
 * clock, windows, success, IPv6 /64 grouping, and bounded memory under a
 * flood of distinct names.
 */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "regulation.h"

#define T0 1700000000

static struct config cfg;

static void
setup(void)
{
	memset(&cfg, 0, sizeof cfg);
	cfg.login.max_retries = 5;
	cfg.login.find_time = 120;
	cfg.login.ban_time = 300;
}

START_TEST(test_user_ban_and_lift)
{
	struct regulation *reg = regulation_new(&cfg);
	int64_t retry;
	int i;

	ck_assert_ptr_nonnull(reg);
	for (i = 0; i < 4; i++) {
		ck_assert_int_eq(regulation_check(reg, "alice", NULL, T0 + i,
		    &retry), 0);
		ck_assert_int_eq(regulation_fail(reg, "alice", NULL, T0 + i), 0);
	}
	ck_assert_int_eq(regulation_check(reg, "alice", NULL, T0 + 4, &retry),
	    0);
	/* the fifth failure bans, the sixth attempt is refused */
	ck_assert_int_eq(regulation_fail(reg, "alice", NULL, T0 + 4),
	    REGULATION_BANNED_USER);
	ck_assert_int_eq(regulation_check(reg, "alice", NULL, T0 + 4, &retry),
	    1);
	ck_assert_int_eq(retry, 300);
	ck_assert_int_eq(regulation_check(reg, "alice", NULL, T0 + 100,
	    &retry), 1);
	ck_assert_int_eq(retry, 204);
	/* a success during the ban changes nothing */
	regulation_success(reg, "alice", NULL, T0 + 100);
	ck_assert_int_eq(regulation_check(reg, "alice", NULL, T0 + 303,
	    &retry), 1);
	ck_assert_int_eq(retry, 1);
	/* other names are not affected */
	ck_assert_int_eq(regulation_check(reg, "Alice", NULL, T0 + 5, &retry),
	    0);
	ck_assert_int_eq(retry, 0);
	/* lifted after ban_time, with a fresh count */
	ck_assert_int_eq(regulation_check(reg, "alice", NULL, T0 + 304,
	    &retry), 0);
	ck_assert_int_eq(retry, 0);
	for (i = 0; i < 4; i++)
		ck_assert_int_eq(regulation_fail(reg, "alice", NULL, T0 + 305),
		    0);
	ck_assert_int_eq(regulation_check(reg, "alice", NULL, T0 + 305,
	    &retry), 0);
	ck_assert_int_eq(regulation_fail(reg, "alice", NULL, T0 + 305),
	    REGULATION_BANNED_USER);
	regulation_free(reg);
}
END_TEST

/* Failures further apart than find_time never add up to a ban. */
START_TEST(test_window)
{
	struct regulation *reg = regulation_new(&cfg);
	int64_t retry, now = T0;
	int i;

	for (i = 0; i < 20; i++) {
		ck_assert_int_eq(regulation_fail(reg, "bob", "192.0.2.1", now),
		    0);
		now += 31; /* four per find_time at most */
	}
	ck_assert_int_eq(regulation_check(reg, "bob", "192.0.2.1", now,
	    &retry), 0);
	/* five within find_time do */
	for (i = 0; i < 4; i++)
		regulation_fail(reg, "carol", NULL, now + i * 29);
	ck_assert_int_eq(regulation_fail(reg, "carol", NULL, now + 119),
	    REGULATION_BANNED_USER);
	regulation_free(reg);
}
END_TEST

/* One address trying many names is banned, and then for every name. */
START_TEST(test_address_ban)
{
	struct regulation *reg = regulation_new(&cfg);
	char name[32];
	int64_t retry;
	int i, r = 0;

	for (i = 0; i < 5; i++) {
		snprintf(name, sizeof name, "nobody%d", i);
		r = regulation_fail(reg, name, "198.51.100.7", T0);
	}
	ck_assert_int_eq(r, REGULATION_BANNED_ADDR);
	ck_assert_int_eq(regulation_check(reg, "alice", "198.51.100.7", T0 + 1,
	    &retry), 1);
	ck_assert_int_eq(retry, 299);
	ck_assert_int_eq(regulation_check(reg, NULL, "198.51.100.7", T0 + 1,
	    &retry), 1);
	/* the names themselves are not banned, nor other addresses */
	ck_assert_int_eq(regulation_check(reg, "nobody0", "198.51.100.8",
	    T0 + 1, &retry), 0);
	ck_assert_int_eq(regulation_check(reg, "alice", "::ffff:198.51.100.8",
	    T0 + 1, &retry), 0);
	/* an IPv4-mapped IPv6 address is the same address */
	ck_assert_int_eq(regulation_check(reg, "alice", "::ffff:198.51.100.7",
	    T0 + 1, &retry), 1);
	/* a success does not clear the address counter */
	regulation_success(reg, "alice", "198.51.100.7", T0 + 400);
	for (i = 0; i < 4; i++)
		regulation_fail(reg, "x", "198.51.100.7", T0 + 400);
	regulation_success(reg, "y", "198.51.100.7", T0 + 401);
	ck_assert_int_eq(regulation_fail(reg, "z", "198.51.100.7", T0 + 401),
	    REGULATION_BANNED_ADDR);
	regulation_free(reg);
}
END_TEST

/* One name attacked from many addresses is banned, whoever asks. */
START_TEST(test_user_many_addresses)
{
	struct regulation *reg = regulation_new(&cfg);
	char addr[32];
	int64_t retry;
	int i, r = 0;

	for (i = 0; i < 5; i++) {
		snprintf(addr, sizeof addr, "203.0.113.%d", i);
		r = regulation_fail(reg, "root", addr, T0);
	}
	ck_assert_int_eq(r, REGULATION_BANNED_USER);
	ck_assert_int_eq(regulation_check(reg, "root", "192.0.2.200", T0,
	    &retry), 1);
	ck_assert_int_eq(regulation_check(reg, "admin", "203.0.113.1", T0,
	    &retry), 0);
	regulation_free(reg);
}
END_TEST

/* A success forgives its user's earlier typos. */
START_TEST(test_success_clears_user)
{
	struct regulation *reg = regulation_new(&cfg);
	struct regulation_stats st;
	int i;

	for (i = 0; i < 4; i++)
		regulation_fail(reg, "dave", NULL, T0);
	regulation_success(reg, "dave", NULL, T0 + 1);
	regulation_stats(reg, &st);
	ck_assert_uint_eq(st.users, 0);
	for (i = 0; i < 4; i++)
		ck_assert_int_eq(regulation_fail(reg, "dave", NULL, T0 + 2), 0);
	ck_assert_int_eq(regulation_fail(reg, "dave", NULL, T0 + 2),
	    REGULATION_BANNED_USER);
	regulation_free(reg);
}
END_TEST

/* IPv6 addresses count per /64. */
START_TEST(test_ipv6_prefix)
{
	struct regulation *reg = regulation_new(&cfg);
	char addr[64];
	int64_t retry;
	int i;

	for (i = 0; i < 5; i++) {
		snprintf(addr, sizeof addr, "2001:db8:1:2:%x::%x", i, i + 1);
		regulation_fail(reg, NULL, addr, T0);
	}
	ck_assert_int_eq(regulation_check(reg, NULL, "2001:db8:1:2::99", T0,
	    &retry), 1);
	ck_assert_int_eq(regulation_check(reg, NULL, "2001:db8:1:3::1", T0,
	    &retry), 0);
	/* text that is no address is counted as text */
	for (i = 0; i < 5; i++)
		regulation_fail(reg, NULL, "unix:/run/jwtgate.sock", T0);
	ck_assert_int_eq(regulation_check(reg, NULL, "unix:/run/jwtgate.sock",
	    T0, &retry), 1);
	ck_assert_int_eq(regulation_check(reg, NULL, "", T0, &retry), 0);
	regulation_free(reg);
}
END_TEST

START_TEST(test_disabled)
{
	struct regulation *reg;
	int64_t retry;
	int i;

	cfg.login.max_retries = 0;
	reg = regulation_new(&cfg);
	for (i = 0; i < 100; i++)
		ck_assert_int_eq(regulation_fail(reg, "eve", "192.0.2.9", T0),
		    0);
	ck_assert_int_eq(regulation_check(reg, "eve", "192.0.2.9", T0,
	    &retry), 0);
	regulation_free(reg);
}
END_TEST

/*
 * A million distinct names (unknown users, as an attacker would send)
 * from rotating addresses: memory stays at the fixed capacity, and bans
 * taken before the flood survive it.
 */
START_TEST(test_flood_bounded)
{
	enum { CAP = 4096, NAMES = 1000000 };
	struct regulation *reg = regulation_new_sized(&cfg, CAP);
	struct regulation_stats st;
	char name[48], addr[32];
	int64_t retry;
	int i;

	for (i = 0; i < 5; i++)
		regulation_fail(reg, "victim", "192.0.2.66", T0);
	ck_assert_int_eq(regulation_check(reg, "victim", "192.0.2.1", T0,
	    &retry), 1);
	for (i = 0; i < NAMES; i++) {
		snprintf(name, sizeof name, "flood-%d-%x", i, i * 2654435761u);
		snprintf(addr, sizeof addr, "10.%d.%d.%d", (i >> 16) & 255,
		    (i >> 8) & 255, i & 255);
		regulation_fail(reg, name, addr, T0 + 1 + i / 10000);
		regulation_stats(reg, &st);
		if (i % 100000 == 0) {
			ck_assert_uint_le(st.users, st.capacity);
			ck_assert_uint_le(st.addrs, st.capacity);
		}
	}
	regulation_stats(reg, &st);
	ck_assert_uint_eq(st.capacity, CAP);
	ck_assert_uint_eq(st.users, CAP);
	ck_assert_uint_le(st.addrs, CAP);
	ck_assert_uint_ge(st.evictions, NAMES - CAP);
	ck_assert_uint_eq(st.evicted_bans, 0);
	ck_assert_int_eq(regulation_check(reg, "victim", NULL, T0 + 101,
	    &retry), 1);
	ck_assert_int_eq(regulation_check(reg, NULL, "192.0.2.66", T0 + 101,
	    &retry), 1);
	ck_assert_int_eq(retry, 199);
	regulation_free(reg);
}
END_TEST

/* Several threads on the same names: counts are not lost. */
struct hammer {
	struct regulation *reg;
	int                bans;
};

static void *
hammer_run(void *arg)
{
	struct hammer *h = arg;
	char name[16];
	int i;

	for (i = 0; i < 20000; i++) {
		snprintf(name, sizeof name, "h%d", i % 100);
		if (regulation_fail(h->reg, name, NULL, T0) != 0)
			h->bans++;
	}
	return NULL;
}

START_TEST(test_threads)
{
	struct regulation *reg = regulation_new(&cfg);
	struct hammer h[4];
	pthread_t t[4];
	struct regulation_stats st;
	int i, bans = 0;

	for (i = 0; i < 4; i++) {
		h[i].reg = reg;
		h[i].bans = 0;
		ck_assert_int_eq(pthread_create(&t[i], NULL, hammer_run, &h[i]),
		    0);
	}
	for (i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		bans += h[i].bans;
	}
	/* each of the 100 names is banned exactly once at T0 */
	ck_assert_int_eq(bans, 100);
	regulation_stats(reg, &st);
	ck_assert_uint_eq(st.bans, 100);
	ck_assert_uint_eq(st.users, 100);
	regulation_free(reg);
}
END_TEST

static Suite *
regulation_suite(void)
{
	Suite *s = suite_create("regulation");
	TCase *tc = tcase_create("memory");

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_user_ban_and_lift);
	tcase_add_test(tc, test_window);
	tcase_add_test(tc, test_address_ban);
	tcase_add_test(tc, test_user_many_addresses);
	tcase_add_test(tc, test_success_clears_user);
	tcase_add_test(tc, test_ipv6_prefix);
	tcase_add_test(tc, test_disabled);
	tcase_add_test(tc, test_flood_bounded);
	tcase_add_test(tc, test_threads);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(regulation_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
