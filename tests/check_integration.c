/*
 * check_integration.c - the real binary over real HTTP: routing, limits,
 * keep-alive, timeouts, malformed requests, logging, start-up refusal.
 */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

#define BASE                                                                   \
	"[server]\nthreads = 2\n[token]\nsecret_file = secret.key\n"           \
	"[store]\ndriver = memory\n" SCOPES
#define SCOPES "[oauth2]\nscopes = read, write\n"

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

static void
setup_default(void)
{
	start(BASE);
}

START_TEST(test_healthz)
{
	struct reply r;

	ck_assert_int_eq(jg_request(&jg, "GET", "/healthz", NULL, NULL, &r), 0);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.body, "{\"status\":\"ok\"}");
	ck_assert_str_eq(reply_header(&r, "Content-Type"), "application/json");
	ck_assert_str_eq(reply_header(&r, "X-Content-Type-Options"), "nosniff");
	reply_free(&r);

	ck_assert_int_eq(jg_request(&jg, "HEAD", "/healthz", NULL, NULL, &r),
	    0);
	ck_assert_int_eq(r.status, 200);
	ck_assert_int_eq(r.body_len, 0);
	reply_free(&r);
}
END_TEST

START_TEST(test_not_found)
{
	static const char *const paths[] = {"/", "/nope", "/healthz/",
	    "/HEALTHZ", "/healthz/x", "//healthz"};
	struct reply             r;
	size_t                   i;

	for (i = 0; i < sizeof paths / sizeof paths[0]; i++) {
		ck_assert_int_eq(jg_request(&jg, "GET", paths[i], NULL, NULL,
		                     &r),
		    0);
		ck_assert_msg(r.status == 404, "%s: %ld", paths[i], r.status);
		ck_assert_str_eq(r.body,
		    "{\"status_code\":404,\"detail\":\"Not Found\"}");
		ck_assert_str_eq(reply_header(&r, "X-Content-Type-Options"),
		    "nosniff");
		reply_free(&r);
	}
}
END_TEST

START_TEST(test_method_not_allowed)
{
	static const char *const methods[] = {"POST", "PUT", "DELETE", "PATCH",
	    "FOO"};
	struct reply             r;
	size_t                   i;

	for (i = 0; i < sizeof methods / sizeof methods[0]; i++) {
		ck_assert_int_eq(jg_request(&jg, methods[i], "/healthz", NULL,
		                     NULL, &r),
		    0);
		ck_assert_msg(r.status == 405, "%s: %ld", methods[i], r.status);
		ck_assert_str_eq(r.body,
		    "{\"status_code\":405,\"detail\":\"Method Not Allowed\"}");
		ck_assert_str_eq(reply_header(&r, "Allow"),
		    "GET, HEAD, OPTIONS");
		reply_free(&r);
	}
}
END_TEST

START_TEST(test_options)
{
	struct reply r;

	ck_assert_int_eq(jg_request(&jg, "OPTIONS", "/healthz", NULL, NULL, &r),
	    0);
	ck_assert_int_eq(r.status, 204);
	ck_assert_str_eq(reply_header(&r, "Allow"), "GET, HEAD, OPTIONS");
	ck_assert_int_eq(r.body_len, 0);
	reply_free(&r);
	/* Unknown paths stay 404 for OPTIONS too. */
	ck_assert_int_eq(jg_request(&jg, "OPTIONS", "/nope", NULL, NULL, &r),
	    0);
	ck_assert_int_eq(r.status, 404);
	reply_free(&r);
}
END_TEST

START_TEST(test_options_not_excluded)
{
	struct reply r;

	stop();
	start(BASE "[auth]\nexclude_methods = HEAD\n");
	ck_assert_int_eq(jg_request(&jg, "OPTIONS", "/healthz", NULL, NULL, &r),
	    0);
	ck_assert_int_eq(r.status, 405);
	ck_assert_str_eq(reply_header(&r, "Allow"), "GET, HEAD");
	reply_free(&r);
}
END_TEST

START_TEST(test_body_too_large)
{
	struct reply r;
	char        *big = malloc(20000);

	memset(big, 'a', 19999);
	big[19999] = '\0';
	ck_assert_int_eq(jg_request(&jg, "POST", "/healthz", NULL, big, &r), 0);
	ck_assert_int_eq(r.status, 413);
	ck_assert_str_eq(r.body,
	    "{\"status_code\":413,\"detail\":\"Request Entity Too Large\"}");
	reply_free(&r);
	/* Unknown paths too: the size is judged before anything else. */
	ck_assert_int_eq(jg_request(&jg, "POST", "/nope", NULL, big, &r), 0);
	ck_assert_int_eq(r.status, 413);
	reply_free(&r);
	free(big);
}
END_TEST

START_TEST(test_body_too_large_chunked)
{
	static const char *const hdr[] = {"Transfer-Encoding: chunked", NULL};
	struct reply             r;
	char                    *big = malloc(20000);

	memset(big, 'a', 19999);
	big[19999] = '\0';
	ck_assert_int_eq(jg_request(&jg, "POST", "/healthz", hdr, big, &r), 0);
	ck_assert_int_eq(r.status, 413);
	reply_free(&r);
	free(big);
}
END_TEST

START_TEST(test_body_limit_configurable)
{
	struct reply r;
	char         body[600];

	memset(body, 'b', sizeof body - 1);
	body[sizeof body - 1] = '\0';
	/* 599 bytes are within the default 16384: a normal 405. */
	ck_assert_int_eq(jg_request(&jg, "POST", "/healthz", NULL, body, &r),
	    0);
	ck_assert_int_eq(r.status, 405);
	reply_free(&r);
	stop();
	start(
	    "[server]\nmax_body_bytes = 512\n[token]\nsecret_file = secret.key\n"
	    "[store]\ndriver = memory\n" SCOPES);
	ck_assert_int_eq(jg_request(&jg, "POST", "/healthz", NULL, body, &r),
	    0);
	ck_assert_int_eq(r.status, 413);
	reply_free(&r);
}
END_TEST

START_TEST(test_keepalive_reused)
{
	struct reply r;
	int          i;

	jg_reset_connection();
	ck_assert_int_eq(jg_request(&jg, "GET", "/healthz", NULL, NULL, &r), 0);
	ck_assert_int_eq(r.new_conns, 1);
	reply_free(&r);
	/* Successes and errors alike keep the connection. */
	for (i = 0; i < 5; i++) {
		const char *path = i % 2 ? "/nope" : "/healthz";

		ck_assert_int_eq(jg_request(&jg, "GET", path, NULL, NULL, &r),
		    0);
		ck_assert_msg(r.new_conns == 0,
		    "request %d opened a new connection", i);
		reply_free(&r);
	}
	ck_assert_int_eq(jg_request(&jg, "POST", "/healthz", NULL, "x=1", &r),
	    0);
	ck_assert_int_eq(r.status, 405);
	ck_assert_int_eq(r.new_conns, 0);
	reply_free(&r);
}
END_TEST

START_TEST(test_slow_client_cut_off)
{
	static const char partial[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n";
	char              out[512];

	stop();
	start(
	    "[server]\nconnection_timeout = 1s\n[token]\nsecret_file = secret.key\n"
	    "[store]\ndriver = memory\n" SCOPES);
	/* An unfinished request: closed after ~1 s, well before 5 s. */
	ck_assert_int_eq(jg_raw(&jg, partial, sizeof partial - 1, 5000, out,
	                     sizeof out),
	    0);
	ck_assert_int_eq(strlen(out), 0);
	/* A connection that never sends anything is closed too. */
	ck_assert_int_eq(jg_raw(&jg, "", 0, 5000, out, sizeof out), 0);
}
END_TEST

/*
 * Protocol errors are libmicrohttpd's to answer: a request line it cannot
 * parse is closed without an answer, other errors get its own 4xx.
 */
START_TEST(test_malformed_requests)
{
	static const struct {
		const char *request;
		const char *answer; /* "" = closed without an answer */
	} bad[] = {
	    {"GARBAGE\r\n\r\n", ""},
	    {"GET\r\n\r\n", ""},
	    {"GET /healthz\r\n\r\n", "HTTP/1.1 400 "},
	    {"GET /healthz HTTP/1.1\r\nHost: x\r\nNoColonHere\r\n\r\n",
	        "HTTP/1.1 400 "},
	};
	struct reply r;
	char         out[2048];
	size_t       i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ck_assert_int_eq(jg_raw(&jg, bad[i].request,
		                     strlen(bad[i].request), 3000, out,
		                     sizeof out),
		    0);
		ck_assert_msg(strncmp(out, bad[i].answer,
		                  strlen(bad[i].answer)) == 0 &&
		        (bad[i].answer[0] != '\0' || out[0] == '\0'),
		    "request %zu answered: %.40s", i, out);
	}
	/* The server is still fine afterwards. */
	ck_assert_int_eq(jg_request(&jg, "GET", "/healthz", NULL, NULL, &r), 0);
	ck_assert_int_eq(r.status, 200);
	reply_free(&r);
}
END_TEST

START_TEST(test_access_log_without_query)
{
	struct reply r;
	int          i;

	ck_assert_int_eq(jg_request(&jg, "GET", "/healthz?token=sekrit", NULL,
	                     NULL, &r),
	    0);
	ck_assert_int_eq(r.status, 200);
	reply_free(&r);
	/* The line is written after the response; allow it a moment. */
	for (i = 0; i < 100 && !jg_file_contains(jg.log, "GET /healthz 200");
	     i++)
		usleep(10000);
	ck_assert(jg_file_contains(jg.log, "GET /healthz 200"));
	ck_assert(jg_file_contains(jg.log, "client=127.0.0.1"));
	ck_assert(!jg_file_contains(jg.log, "sekrit"));
}
END_TEST

/*
 * Under load, access lines are held and written in batches: a burst of
 * requests still has every line in the log within a second of its end,
 * without a further request or a stop to push them out.
 */
START_TEST(test_access_log_burst_written)
{
	struct reply r;
	char         path[64], last[80];
	int          i, n = 300;

	for (i = 0; i < n; i++) {
		snprintf(path, sizeof path, "/burst-%d", i);
		ck_assert_int_eq(jg_request(&jg, "GET", path, NULL, NULL, &r),
		    0);
		ck_assert_int_eq(r.status, 404);
		reply_free(&r);
	}
	snprintf(last, sizeof last, "GET /burst-%d 404", n - 1);
	for (i = 0; i < 100 && !jg_file_contains(jg.log, last); i++)
		usleep(10000);
	ck_assert_int_eq(jg_file_count(jg.log, "GET /burst-"), n);
	ck_assert(jg_file_contains(jg.log, last));
	/* One line each, whole: no line cut by a batch boundary. */
	ck_assert_int_eq(jg_file_count(jg.log, " 404 "), n);
	ck_assert_int_eq(jg_file_count(jg.log, "client=127.0.0.1 user=-\n"), n);
}
END_TEST

/*
 * A request after a quiet spell has its line written at once, whatever the
 * phase of the periodic flush: within 100 ms, where a held line would wait
 * for the next flush (up to 250 ms; caught in most of the 6 tries).
 */
START_TEST(test_access_log_quiet_line_at_once)
{
	struct reply r;
	char         path[64], line[80];
	int          i, j;

	for (i = 0; i < 6; i++) {
		usleep(150000 + 40000 * (useconds_t)i); /* > 0.1 s of quiet */
		snprintf(path, sizeof path, "/quiet-%d", i);
		ck_assert_int_eq(jg_request(&jg, "GET", path, NULL, NULL, &r),
		    0);
		reply_free(&r);
		snprintf(line, sizeof line, "GET /quiet-%d 404", i);
		for (j = 0; j < 20 && !jg_file_contains(jg.log, line); j++)
			usleep(5000);
		ck_assert_msg(jg_file_contains(jg.log, line),
		    "'%s' not written within 100 ms", line);
	}
}
END_TEST

/* A request target with spaces cannot forge the fields of a text line. */
START_TEST(test_access_log_spaces_escaped)
{
	static const char raw[] =
	    "GET /a b 404 0.001ms client=10.0.0.1 user=alice HTTP/1.1\r\n"
	    "Host: x\r\nConnection: close\r\n\r\n";
	char out[1024];
	int  i;

	ck_assert_int_ge(jg_raw(&jg, raw, sizeof raw - 1, 5000, out,
	                     sizeof out),
	    0);
	for (i = 0; i < 100 && !jg_file_contains(jg.log, "GET /a%20b%20404");
	     i++)
		usleep(10000);
	ck_assert(jg_file_contains(jg.log,
	    "GET /a%20b%20404%200.001ms%20client=10.0.0.1%20user=alice 404 "));
	ck_assert(!jg_file_contains(jg.log, "client=10.0.0.1 user=alice"));
}
END_TEST

/* A very long path is cut in the line; status, client and user remain. */
START_TEST(test_access_log_long_path)
{
	struct reply r;
	char         path[3002], want[1040];
	int          i;

	path[0] = '/';
	memset(path + 1, 'p', sizeof path - 2);
	path[sizeof path - 1] = '\0';
	ck_assert_int_eq(jg_request(&jg, "GET", path, NULL, NULL, &r), 0);
	ck_assert_int_eq(r.status, 404);
	reply_free(&r);
	for (i = 0; i < 100 && !jg_file_contains(jg.log, "ppp 404 "); i++)
		usleep(10000);
	ck_assert(jg_file_contains(jg.log, "ppp 404 "));
	ck_assert(jg_file_contains(jg.log, "ms client=127.0.0.1 user=-\n"));
	/* Exactly 1024 bytes of it: "/" and 1023 p. */
	memcpy(want, "GET ", 4);
	memcpy(want + 4, path, 1024);
	memcpy(want + 4 + 1024, " 404 ", 6);
	ck_assert(jg_file_contains(jg.log, want));
}
END_TEST

/* At a stop, held access lines are written before "stopping". */
START_TEST(test_access_log_before_stopping)
{
	struct jg    tmp;
	struct reply r;
	char         path[64], *log, *last, *stopping;
	int          i;

	ck_assert_int_eq(jg_start(&tmp,
	                     "[token]\nsecret_file = secret.key\n"
	                     "[store]\ndriver = memory\n" SCOPES),
	    0);
	for (i = 0; i < 200; i++) {
		snprintf(path, sizeof path, "/held-%d", i);
		ck_assert_int_eq(jg_request(&tmp, "GET", path, NULL, NULL, &r),
		    0);
		reply_free(&r);
	}
	/*
	 * An answer is sent before its line is made (the completion
	 * callback): give the last one 20 ms, far less than the 0.25 s a
	 * held line may wait for the periodic flush.
	 */
	usleep(20000);
	ck_assert_int_eq(jg_stop(&tmp), 0);
	log = jg_file_read(tmp.log);
	ck_assert_ptr_nonnull(log);
	last = strstr(log, "GET /held-199 404");
	stopping = strstr(log, "stopping (SIGTERM)");
	ck_assert_ptr_nonnull(last);
	ck_assert_ptr_nonnull(stopping);
	ck_assert_msg(last < stopping, "an access line after 'stopping'");
	ck_assert_int_eq(jg_file_count(tmp.log, "GET /held-"), 200);
	free(log);
	jg_cleanup(&tmp);
}
END_TEST

START_TEST(test_forwarded_for_headers)
{
	static const char *const two[] = {"X-Forwarded-For: 203.0.113.7",
	    "X-Forwarded-For: 127.0.0.1", NULL};
	static const char *const v6[] = {"X-Forwarded-For: 2001:DB8:0:0::1",
	    NULL};
	struct reply             r;
	int                      i;

	/* Several headers are one list: the right-most untrusted entry wins. */
	ck_assert_int_eq(jg_request(&jg, "GET", "/healthz?a", two, NULL, &r),
	    0);
	reply_free(&r);
	ck_assert_int_eq(jg_request(&jg, "GET", "/healthz?b", v6, NULL, &r), 0);
	reply_free(&r);
	for (i = 0; i < 100 && !jg_file_contains(jg.log, "client=2001:db8::1");
	     i++)
		usleep(10000);
	ck_assert(jg_file_contains(jg.log, "client=203.0.113.7"));
	ck_assert(jg_file_contains(jg.log, "client=2001:db8::1"));
}
END_TEST

/* One byte a second keeps an idle timer alive; the request deadline does not. */
START_TEST(test_dripping_client_cut_off)
{
	static const char line[] =
	    "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Drip: ";
	char               out[256];
	int                fd, i, closed = 0;
	struct sockaddr_in sin;

	stop();
	start(
	    "[server]\nconnection_timeout = 2s\n[token]\nsecret_file = secret.key\n"
	    "[store]\ndriver = memory\n" SCOPES);
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)jg.port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sin, sizeof sin), 0);
	ck_assert_int_eq(write(fd, line, sizeof line - 1),
	    (ssize_t)(sizeof line - 1));
	/* Up to 6 s of one byte every 0.5 s: closed after about 2 s. */
	for (i = 0; i < 12 && !closed; i++) {
		struct pollfd pfd = {fd, POLLIN, 0};

		if (write(fd, "a", 1) != 1)
			closed = 1;
		else if (poll(&pfd, 1, 500) == 1 &&
		    read(fd, out, sizeof out) <= 0)
			closed = 1;
	}
	close(fd);
	ck_assert_msg(closed,
	    "a dripping client was still connected after 6 s");
	ck_assert_int_le(i, 8);
}
END_TEST

START_TEST(test_json_log)
{
	struct reply r;
	int          i;

	stop();
	start("[server]\nlog_format = json\n[token]\nsecret_file = secret.key\n"
	      "[store]\ndriver = memory\n" SCOPES);
	ck_assert(jg_file_contains(jg.log,
	    "\"level\":\"info\",\"msg\":\"listening on 127.0.0.1:"));
	ck_assert_int_eq(jg_request(&jg, "GET", "/nope?q=1", NULL, NULL, &r),
	    0);
	reply_free(&r);
	for (i = 0; i < 100 && !jg_file_contains(jg.log, "\"status\":404"); i++)
		usleep(10000);
	ck_assert(jg_file_contains(jg.log,
	    "\"method\":\"GET\",\"path\":\"/nope\",\"status\":404"));
}
END_TEST

START_TEST(test_no_access_log)
{
	struct reply r;

	stop();
	start(
	    "[server]\naccess_log = false\n[token]\nsecret_file = secret.key\n"
	    "[store]\ndriver = memory\n" SCOPES);
	ck_assert_int_eq(jg_request(&jg, "GET", "/healthz", NULL, NULL, &r), 0);
	reply_free(&r);
	usleep(600000); /* past the 0.25 s of a held access line */
	ck_assert(!jg_file_contains(jg.log, "GET /healthz"));
}
END_TEST

START_TEST(test_listen_ipv6)
{
	struct reply r;

	stop();
	start("[server]\nlisten = [::1]:0\n[token]\nsecret_file = secret.key\n"
	      "[store]\ndriver = memory\n" SCOPES);
	ck_assert_msg(strncmp(jg.addr, "[::1]:", 6) == 0, "%s", jg.addr);
	ck_assert_int_gt(jg.port, 0);
	ck_assert_int_eq(jg_request(&jg, "GET", "/healthz", NULL, NULL, &r), 0);
	ck_assert_int_eq(r.status, 200);
	reply_free(&r);
}
END_TEST

START_TEST(test_listen_unix)
{
	struct reply r;
	char         ini[512];
	char         dir[] = "/tmp/jwtgate-sock.XXXXXX";

	stop();
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(ini, sizeof ini,
	    "[server]\nlisten = unix:%s/s.sock\n[token]\n"
	    "secret_file = secret.key\n[store]\ndriver = memory\n" SCOPES,
	    dir);
	start(ini);
	ck_assert_int_eq(strncmp(jg.addr, "unix:", 5), 0);
	ck_assert_int_eq(jg_request(&jg, "GET", "/healthz", NULL, NULL, &r), 0);
	ck_assert_int_eq(r.status, 200);
	reply_free(&r);
	ck_assert_int_eq(jg_stop(&jg), 0);
	/* The socket file is removed on exit. */
	ck_assert_int_ne(access(jg.addr + 5, F_OK), 0);
	rmdir(dir);
}
END_TEST

START_TEST(test_sigterm_exits_zero)
{
	ck_assert_int_eq(jg_stop(&jg), 0);
	ck_assert(jg_file_contains(jg.log, "stopping (SIGTERM)"));
}
END_TEST

/* Start-up refusal: each bad file exits 2 and names FILE:LINE: and key. */
struct bad_config {
	const char *ini;
	const char *message; /* after "jwtgate.ini" */
};

static const struct bad_config bad_configs[] = {
    {"[server]\nlisten = nowhere\n", ":2: [server] listen: expected HOST:PORT"},
    {"[server]\nlisten = 127.0.0.1:99999\n",
        ":2: [server] listen: PORT must be 0-65535"},
    {"[server]\nthreads = many\n",
        ":2: [server] threads: must be an integer from 0 to 256"},
    {"[server]\nbogus = 1\n", ":2: [server] bogus: unknown key"},
    {"[nosuch]\nkey = 1\n", ":1: [nosuch]: unknown section"},
    {"[server]\naccess_log = maybe\n",
        ":2: [server] access_log: must be true/false"},
    {"[server]\nconnection_timeout = 10x\n",
        ":2: [server] connection_timeout: must be a duration"},
    {"[server]\nlog_level = loud\n",
        ":2: [server] log_level: must be one of debug, info, warning, error"},
    {"[server]\nthreads = 1\nthreads = 2\n",
        ":3: [server] threads: key given twice (first at line 2)"},
    {"[server]\nthis line is wrong\n", ":2: expected 'key = value'"},
    {"[token]\nsecret_file = missing.key\n",
        ":2: [token] secret_file: cannot read "},
    {"[token]\nalgorithm = hs256\n",
        ":2: [token] algorithm: must be one of HS256,"},
    {"[auth]\nexclude = ^/(unclosed\n",
        ":2: [auth] exclude: invalid pattern at offset"},
    {"[cookie]\nsamesite = none\nsecure = false\n",
        ":2: [cookie] samesite: none requires secure = true"},
    {"[route api]\npublic = true\n",
        ":1: [route api]: PREFIX must start with '/'"},
};

START_TEST(test_bad_config_refused)
{
	const struct bad_config *bc = &bad_configs[_i];
	const char              *args[4] = {"serve", "-c", NULL, NULL};
	char                    *out, *err, expect[512];
	struct jg                tmp;
	int                      rc;

	ck_assert_int_eq(jg_prepare(&tmp, bc->ini), 0);
	/* jg_prepare may have added a listen line after [server]; use its file
	 * only for the key tests that do not count lines in [server]. */
	{
		FILE *fp = fopen(tmp.conf, "w");

		fputs(bc->ini, fp);
		fclose(fp);
	}
	args[2] = tmp.conf;
	rc = jg_run(args, NULL, &out, &err);
	ck_assert_msg(rc == 2, "exit %d for:\n%s\nstderr: %s", rc, bc->ini,
	    err);
	snprintf(expect, sizeof expect, "jwtgate: %s%s", tmp.conf, bc->message);
	ck_assert_msg(strstr(err, expect) != NULL, "expected '%s' in:\n%s",
	    expect, err);
	free(out);
	free(err);
	jg_cleanup(&tmp);
}
END_TEST

START_TEST(test_check_command)
{
	const char *args[4] = {"check", "-c", NULL, NULL};
	char       *out, *err, expect[512];
	struct jg   tmp;

	ck_assert_int_eq(jg_prepare(&tmp, BASE), 0);
	args[2] = tmp.conf;
	ck_assert_int_eq(jg_run(args, NULL, &out, &err), 0);
	snprintf(expect, sizeof expect, "%s: OK\n", tmp.conf);
	ck_assert_str_eq(out, expect);
	free(out);
	free(err);
	jg_cleanup(&tmp);
}
END_TEST

START_TEST(test_check_reports_all_errors)
{
	const char *args[4] = {"check", "-c", NULL, NULL};
	char       *out, *err;
	struct jg   tmp;
	FILE       *fp;

	ck_assert_int_eq(jg_prepare(&tmp, BASE), 0);
	fp = fopen(tmp.conf, "w");
	fputs("[server]\nthreads = x\nlisten = y\n[auth]\nbackend = z\n", fp);
	fclose(fp);
	args[2] = tmp.conf;
	ck_assert_int_eq(jg_run(args, NULL, &out, &err), 2);
	ck_assert_msg(strstr(err, ":2: [server] threads:") != NULL, "%s", err);
	ck_assert_msg(strstr(err, ":3: [server] listen:") != NULL, "%s", err);
	ck_assert_msg(strstr(err, ":5: [auth] backend:") != NULL, "%s", err);
	ck_assert_str_eq(out, "");
	free(out);
	free(err);
	jg_cleanup(&tmp);
}
END_TEST

/*
 * Every problem of the user file too, each as FILE:LINE:, and in the same
 * run a bad key file, named by the configuration line that gives it.
 */
START_TEST(test_check_reports_all_user_errors)
{
	const char *args[4] = {"check", "-c", NULL, NULL};
	char       *out, *err, users[512], where[1024];
	struct jg   tmp;
	FILE       *fp;

	ck_assert_int_eq(jg_prepare(&tmp,
	                     "[token]\nsecret_file = short.key\n"
	                     "[store]\ndriver = memory\n" SCOPES),
	    0);
	snprintf(users, sizeof users, "%s/short.key", tmp.dir);
	fp = fopen(users, "w");
	fputs("only-twenty-bytes-ok", fp);
	fclose(fp);
	chmod(users, 0600);
	snprintf(users, sizeof users, "%s/users.ini", tmp.dir);
	fp = fopen(users, "w");
	fputs("[eve]\npassword = plaintext\n[mallory]\npassword = {SHA}x\n",
	    fp);
	fclose(fp);
	args[2] = tmp.conf;
	ck_assert_int_eq(jg_run(args, NULL, &out, &err), 2);
	ck_assert_msg(strstr(err, "users.ini:2:") != NULL, "%s", err);
	ck_assert_msg(strstr(err, "users.ini:4:") != NULL, "%s", err);
	/* jg_prepare puts [server] listen first: secret_file is line 4. */
	snprintf(where, sizeof where,
	    "%s:4: [token] secret_file: %s/short.key: secret shorter than the "
	    "32 bytes HS256 requires",
	    tmp.conf, tmp.dir);
	ck_assert_msg(strstr(err, where) != NULL, "%s", err);
	ck_assert_str_eq(out, "");
	free(out);
	free(err);
	jg_cleanup(&tmp);
}
END_TEST

/* hash-password: a hash of the chosen kind; bad input exits 2, saying why. */
START_TEST(test_hash_password_cli)
{
	static const char *const dflt[] = {"hash-password", NULL};
	static const char *const bcrypt[] = {"hash-password", "-a", "bcrypt",
	    NULL};
	static const char *const bogus[] = {"hash-password", "-a", "md5", NULL};
	static const char *const sha512[] = {"hash-password", "-a",
	    "sha512crypt", NULL};
	static const struct {
		const char *input, *why;
	} bad[] = {
	    {"", "no password given"},
	    {"\n", "empty password"},
	    {"\r\n", "empty password"},
	};
	char  *out, *err, big[5000];
	size_t i;

	ck_assert_int_eq(jg_run(dflt, "s3cret-pass\n", &out, &err), 0);
	ck_assert_msg(strncmp(out, "$argon2id$v=19$m=65536,t=3,p=1$", 31) == 0,
	    "%s", out);
	ck_assert_ptr_null(strstr(out, "s3cret"));
	free(out), free(err);
	ck_assert_int_eq(jg_run(bcrypt, "s3cret-pass\n", &out, &err), 0);
	ck_assert_msg(strncmp(out, "$2b$", 4) == 0, "%s", out);
	free(out), free(err);
	ck_assert_int_eq(jg_run(bogus, "x\n", &out, &err), 2);
	ck_assert_ptr_nonnull(strstr(err, "-a takes argon2id"));
	free(out), free(err);
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ck_assert_int_eq(jg_run(dflt, bad[i].input, &out, &err), 2);
		ck_assert_msg(strstr(err, bad[i].why) != NULL, "%s", err);
		ck_assert_str_eq(out, "");
		free(out), free(err);
	}
	memset(big, 'a', sizeof big - 2);
	big[sizeof big - 2] = '\n';
	big[sizeof big - 1] = '\0';
	ck_assert_int_eq(jg_run(dflt, big, &out, &err), 2);
	ck_assert_ptr_nonnull(strstr(err, "password too long"));
	free(out), free(err);
	/* 600 bytes: fine for argon2id, too long for sha512crypt (exit 2). */
	big[600] = '\n';
	big[601] = '\0';
	ck_assert_int_eq(jg_run(dflt, big, &out, &err), 0);
	free(out), free(err);
	ck_assert_int_eq(jg_run(sha512, big, &out, &err), 2);
	ck_assert_ptr_nonnull(strstr(err, "at most 511 bytes"));
	free(out), free(err);
}
END_TEST

START_TEST(test_usage_errors)
{
	static const char *const a1[] = {NULL};
	static const char *const a2[] = {"frobnicate", NULL};
	static const char *const a3[] = {"serve", NULL};
	static const char *const a4[] = {"check", "-c", "/nonexistent/x.ini",
	    NULL};
	static const char *const a5[] = {"--version", NULL};
	char                    *out, *err;

	ck_assert_int_eq(jg_run(a1, NULL, &out, &err), 2);
	ck_assert_ptr_nonnull(strstr(err, "usage: jwtgate"));
	free(out), free(err);
	ck_assert_int_eq(jg_run(a2, NULL, &out, &err), 2);
	ck_assert_ptr_nonnull(strstr(err, "unknown command 'frobnicate'"));
	free(out), free(err);
	ck_assert_int_eq(jg_run(a3, NULL, &out, &err), 2);
	ck_assert_ptr_nonnull(strstr(err, "needs -c FILE"));
	free(out), free(err);
	ck_assert_int_eq(jg_run(a4, NULL, &out, &err), 2);
	ck_assert_ptr_nonnull(
	    strstr(err, "/nonexistent/x.ini: cannot open: No such file"));
	free(out), free(err);
	ck_assert_int_eq(jg_run(a5, NULL, &out, &err), 0);
	ck_assert_int_eq(strncmp(out, "jwtgate ", 8), 0);
	free(out), free(err);
}
END_TEST

START_TEST(test_exclude_everything_warns)
{
	stop();
	start(
	    "[server]\n[token]\nsecret_file = secret.key\n[store]\ndriver = memory\n" SCOPES
	    "[auth]\nexclude = ^/public/\nexclude = .*\n");
	ck_assert(jg_file_contains(jg.log, "warning: "));
	ck_assert(jg_file_contains(jg.log,
	    ":11: [auth] exclude: '.*' matches every path"));
	ck_assert(!jg_file_contains(jg.log, "'^/public/' matches every path"));
}
END_TEST

/* A store that cannot be opened is a runtime failure (exit 1), not bad usage. */
START_TEST(test_store_unavailable_exit_status)
{
	const char *args[4] = {"serve", "-c", NULL, NULL};
	char       *out, *err;
	struct jg   tmp;

	ck_assert_int_eq(
	    jg_prepare(&tmp,
	        "[token]\nsecret_file = secret.key\n"
	        "[store]\ndriver = redis\nurl = redis://127.0.0.1:1/0\n" SCOPES),
	    0);
	args[2] = tmp.conf;
	ck_assert_int_eq(jg_run(args, NULL, &out, &err), 1);
	ck_assert_msg(strstr(err, "redis://127.0.0.1:1/0") != NULL, "%s", err);
	free(out);
	free(err);
	jg_cleanup(&tmp);
}
END_TEST

START_TEST(test_port_in_use)
{
	const char *args[4] = {"serve", "-c", NULL, NULL};
	char       *out, *err, ini[256];
	struct jg   tmp;

	snprintf(ini, sizeof ini,
	    "[server]\nlisten = 127.0.0.1:%d\n"
	    "[token]\n"
	    "secret_file = secret.key\n[store]\ndriver = memory\n" SCOPES,
	    jg.port);
	ck_assert_int_eq(jg_prepare(&tmp, ini), 0);
	args[2] = tmp.conf;
	ck_assert_int_eq(jg_run(args, NULL, &out, &err), 1);
	ck_assert_msg(strstr(err, "cannot listen on 127.0.0.1:") != NULL, "%s",
	    err);
	ck_assert_msg(strstr(err, "Address already in use") != NULL, "%s", err);
	free(out);
	free(err);
	jg_cleanup(&tmp);
}
END_TEST

static Suite *
integration_suite(void)
{
	Suite *s = suite_create("integration");
	TCase *tc = tcase_create("http");
	TCase *tcf = tcase_create("startup");

	tcase_add_checked_fixture(tc, setup_default, stop);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_healthz);
	tcase_add_test(tc, test_not_found);
	tcase_add_test(tc, test_method_not_allowed);
	tcase_add_test(tc, test_options);
	tcase_add_test(tc, test_options_not_excluded);
	tcase_add_test(tc, test_body_too_large);
	tcase_add_test(tc, test_body_too_large_chunked);
	tcase_add_test(tc, test_body_limit_configurable);
	tcase_add_test(tc, test_keepalive_reused);
	tcase_add_test(tc, test_slow_client_cut_off);
	tcase_add_test(tc, test_malformed_requests);
	tcase_add_test(tc, test_access_log_without_query);
	tcase_add_test(tc, test_access_log_burst_written);
	tcase_add_test(tc, test_access_log_quiet_line_at_once);
	tcase_add_test(tc, test_access_log_spaces_escaped);
	tcase_add_test(tc, test_access_log_before_stopping);
	tcase_add_test(tc, test_access_log_long_path);
	tcase_add_test(tc, test_json_log);
	tcase_add_test(tc, test_forwarded_for_headers);
	tcase_add_test(tc, test_dripping_client_cut_off);
	tcase_add_test(tc, test_no_access_log);
	tcase_add_test(tc, test_listen_ipv6);
	tcase_add_test(tc, test_listen_unix);
	tcase_add_test(tc, test_sigterm_exits_zero);
	tcase_add_test(tc, test_port_in_use);
	tcase_add_test(tc, test_exclude_everything_warns);
	tcase_add_test(tc, test_store_unavailable_exit_status);
	suite_add_tcase(s, tc);

	tcase_set_timeout(tcf, 30);
	tcase_add_loop_test(tcf, test_bad_config_refused, 0,
	    sizeof bad_configs / sizeof bad_configs[0]);
	tcase_add_test(tcf, test_check_command);
	tcase_add_test(tcf, test_check_reports_all_errors);
	tcase_add_test(tcf, test_check_reports_all_user_errors);
	tcase_add_test(tcf, test_usage_errors);
	tcase_add_test(tcf, test_hash_password_cli);
	suite_add_tcase(s, tcf);
	return s;
}

int
main(void)
{
	return jg_run_suite(integration_suite());
}
