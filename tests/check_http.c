/*
 * check_http.c - response helpers, body cap, trusted proxies and
 * X-Forwarded-For, and the router's table.
 */
#include <arpa/inet.h>
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "http.h"
#include "router.h"

START_TEST(test_reply_error)
{
	struct response res;

	memset(&res, 0, sizeof res);
	http_reply_error(&res, 401, "Invalid token");
	ck_assert_uint_eq(res.status, 401);
	ck_assert_str_eq(res.content_type, "application/json");
	ck_assert_str_eq(res.body,
	    "{\"status_code\":401,\"detail\":\"Invalid token\"}");
	ck_assert_uint_eq(res.body_len, strlen(res.body));
	/* A later answer replaces the earlier one. */
	http_reply_error(&res, 404, "Not \"Found\"");
	ck_assert_str_eq(res.body,
	    "{\"status_code\":404,\"detail\":\"Not \\\"Found\\\"\"}");
	http_response_free(&res);
	ck_assert_ptr_null(res.body);
}
END_TEST

START_TEST(test_reply_json_null)
{
	struct response res;

	memset(&res, 0, sizeof res);
	http_reply_json(&res, 201, json_null());
	ck_assert_str_eq(res.body, "null");
	http_response_free(&res);
}
END_TEST

START_TEST(test_set_header)
{
	struct response res;

	memset(&res, 0, sizeof res);
	http_set_header(&res, "Allow", "GET");
	http_set_header(&res, "X-A", "1");
	http_set_header(&res, "allow", "POST");
	ck_assert_uint_eq(res.nheaders, 2);
	ck_assert_str_eq(res.headers[0].name, "Allow");
	ck_assert_str_eq(res.headers[0].value, "POST");
	http_response_free(&res);
	ck_assert_uint_eq(res.nheaders, 0);
}
END_TEST

START_TEST(test_body_cap)
{
	struct request req;

	memset(&req, 0, sizeof req);
	http_body_append(&req, "abc", 3, 8);
	http_body_append(&req, "defgh", 5, 8);
	ck_assert(!req.body_too_large);
	ck_assert_uint_eq(req.body_len, 8);
	ck_assert_str_eq(req.body, "abcdefgh");
	http_body_append(&req, "i", 1, 8);
	ck_assert(req.body_too_large);
	ck_assert_ptr_null(req.body);
	ck_assert_uint_eq(req.body_len, 0);
	/* Nothing more is kept once too large. */
	http_body_append(&req, "j", 1, 8);
	ck_assert_ptr_null(req.body);
	/* Overflow of len + body_len cannot wrap around the cap. */
	memset(&req, 0, sizeof req);
	http_body_append(&req, "ab", 2, 8);
	http_body_append(&req, "x", SIZE_MAX, 8);
	ck_assert(req.body_too_large);
}
END_TEST

static struct config *
proxies(const char *list)
{
	static struct config cfg;
	struct strlist       l;
	size_t               i;

	free(cfg.server.trusted_proxies);
	memset(&cfg, 0, sizeof cfg);
	ck_assert_int_eq(config_split_list(list, &l), 0);
	cfg.server.trusted_proxies = calloc(l.n + 1, sizeof(struct cidr));
	for (i = 0; i < l.n; i++) {
		struct cidr *c = &cfg.server.trusted_proxies[i];
		char        *slash = strchr(l.v[i], '/');

		c->family = strchr(l.v[i], ':') ? AF_INET6 : AF_INET;
		c->prefix = c->family == AF_INET ? 32 : 128;
		if (slash != NULL) {
			*slash = '\0';
			c->prefix = (unsigned)atoi(slash + 1);
		}
		ck_assert_int_eq(inet_pton(c->family, l.v[i], c->addr), 1);
	}
	cfg.server.ntrusted_proxies = l.n;
	strlist_free(&l);
	return &cfg;
}

START_TEST(test_trusted)
{
	struct config *cfg =
	    proxies("127.0.0.1, ::1, 10.0.0.0/8, 192.168.1.128/25, fd00::/8");

	ck_assert(http_trusted(cfg, "127.0.0.1"));
	ck_assert(!http_trusted(cfg, "127.0.0.2"));
	ck_assert(http_trusted(cfg, "::1"));
	ck_assert(http_trusted(cfg, "::ffff:127.0.0.1")); /* v4-mapped */
	ck_assert(http_trusted(cfg, "10.255.255.255"));
	ck_assert(!http_trusted(cfg, "11.0.0.0"));
	ck_assert(http_trusted(cfg, "192.168.1.128"));
	ck_assert(!http_trusted(cfg, "192.168.1.127"));
	ck_assert(http_trusted(cfg, "fd12::1"));
	ck_assert(!http_trusted(cfg, "fe80::1"));
	ck_assert(!http_trusted(cfg, "not-an-address"));
	ck_assert(!http_trusted(cfg, ""));
	cfg = proxies("0.0.0.0/0");
	ck_assert(http_trusted(cfg, "8.8.8.8"));
	ck_assert(!http_trusted(cfg, "::1"));
}
END_TEST

START_TEST(test_xff)
{
	struct config *cfg = proxies("127.0.0.1, 10.0.0.0/8");
	char           out[64];

	ck_assert(http_xff_pick(cfg, "203.0.113.7", out, sizeof out));
	ck_assert_str_eq(out, "203.0.113.7");
	/* Right-most entry that is not a trusted proxy. */
	ck_assert(http_xff_pick(cfg, "1.1.1.1, 203.0.113.7, 10.0.0.5", out,
	    sizeof out));
	ck_assert_str_eq(out, "203.0.113.7");
	ck_assert(
	    http_xff_pick(cfg, " 2001:db8::1 ,10.1.1.1 ", out, sizeof out));
	ck_assert_str_eq(out, "2001:db8::1");
	/* All trusted, or garbage on the way: nothing is picked. */
	ck_assert(!http_xff_pick(cfg, "10.0.0.1, 127.0.0.1", out, sizeof out));
	ck_assert(
	    !http_xff_pick(cfg, "1.1.1.1, evil, 10.0.0.1", out, sizeof out));
	ck_assert(!http_xff_pick(cfg, "", out, sizeof out));
	ck_assert(!http_xff_pick(cfg, ",,,", out, sizeof out));
	ck_assert(!http_xff_pick(cfg, "1.1.1.1:80", out, sizeof out));
	/* Canonical spelling. */
	ck_assert(http_xff_pick(cfg, "2001:DB8:0:0::1", out, sizeof out));
	ck_assert_str_eq(out, "2001:db8::1");
}
END_TEST

START_TEST(test_router_table)
{
	const struct route_entry *e = router_find("/healthz");
	char                      allow[64];

	ck_assert_ptr_nonnull(e);
	ck_assert(router_allows(e, "GET"));
	ck_assert(router_allows(e, "HEAD"));
	ck_assert(!router_allows(e, "POST"));
	ck_assert(!router_allows(e, "GE"));
	ck_assert(!router_allows(e, "ET"));
	ck_assert(!router_allows(e, "get"));
	router_allow_header(e, true, allow, sizeof allow);
	ck_assert_str_eq(allow, "GET, HEAD, OPTIONS");
	router_allow_header(e, false, allow, sizeof allow);
	ck_assert_str_eq(allow, "GET, HEAD");
	ck_assert_ptr_null(router_find("/healthz/"));
	ck_assert_ptr_null(router_find(""));
}
END_TEST

static Suite *
http_suite(void)
{
	Suite *s = suite_create("http");
	TCase *tc = tcase_create("http");

	tcase_add_test(tc, test_reply_error);
	tcase_add_test(tc, test_reply_json_null);
	tcase_add_test(tc, test_set_header);
	tcase_add_test(tc, test_body_cap);
	tcase_add_test(tc, test_trusted);
	tcase_add_test(tc, test_xff);
	tcase_add_test(tc, test_router_table);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(http_suite());
	int      failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
