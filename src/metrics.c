/*
 * metrics.c - counters kept in fixed arrays: one per endpoint and status
 * code, so no label set is ever allocated at run time.
 */
#include "metrics.h"

#include <stdarg.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xmalloc.h"

#define METRICS_ENDPOINTS_MAX 16
#define METRICS_STATUS_MAX    600

static const double metrics_bounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01,
    0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};
#define METRICS_NBUCKETS (sizeof metrics_bounds / sizeof metrics_bounds[0])

static const char *const *metrics_names;
static size_t             metrics_nendpoints;
static uint64_t metrics_requests[METRICS_ENDPOINTS_MAX + 1][METRICS_STATUS_MAX];
static uint64_t metrics_buckets[METRICS_NBUCKETS + 1]; /* last: +Inf */
static uint64_t metrics_duration_us;
static uint64_t metrics_logins[METRICS_LOGIN_MAX];
static uint64_t metrics_verifications[METRICS_VERIFY_MAX];
static uint64_t metrics_tokens[METRICS_TOKEN_MAX];
static uint64_t metrics_ban_count;

#define ADD(var, n) __atomic_add_fetch(&(var), (n), __ATOMIC_RELAXED)
#define GET(var)    __atomic_load_n(&(var), __ATOMIC_RELAXED)

void
metrics_init(const char *const *endpoints, size_t nendpoints)
{
	metrics_names = endpoints;
	metrics_nendpoints = nendpoints < METRICS_ENDPOINTS_MAX
	    ? nendpoints
	    : METRICS_ENDPOINTS_MAX;
}

void
metrics_request(size_t endpoint, unsigned status, uint64_t duration_us)
{
	double s = (double)duration_us / 1e6;
	size_t b;

	if (endpoint > metrics_nendpoints)
		endpoint = metrics_nendpoints;
	if (status >= METRICS_STATUS_MAX)
		status = 0;
	ADD(metrics_requests[endpoint][status], 1);
	for (b = 0; b < METRICS_NBUCKETS && s > metrics_bounds[b]; b++)
		;
	ADD(metrics_buckets[b], 1);
	ADD(metrics_duration_us, duration_us);
}

void
metrics_login(enum metrics_login result)
{
	ADD(metrics_logins[result], 1);
}

void
metrics_verify(enum metrics_verify result)
{
	ADD(metrics_verifications[result], 1);
}

void
metrics_token(enum metrics_token kind)
{
	ADD(metrics_tokens[kind], 1);
}

void
metrics_bans(unsigned n)
{
	ADD(metrics_ban_count, n);
}

struct metrics_buf {
	char  *p;
	size_t len, cap;
};

static void metrics_printf(struct metrics_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
metrics_printf(struct metrics_buf *b, const char *fmt, ...)
{
	va_list ap;
	int     n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
		if (n >= 0 && (size_t)n < b->cap - b->len)
			break;
		b->cap *= 2;
		b->p = xrealloc(b->p, b->cap);
	}
	b->len += (size_t)n;
}

char *
metrics_render(size_t *len)
{
	static const char *const logins[] = {"success", "failure", "banned"};
	static const char *const verifs[] = {"allowed", "public", "denied",
	    "failed"};
	static const char *const tokens[] = {"access", "refresh"};
	struct metrics_buf       b = {xmalloc(8192), 0, 8192};
	uint64_t                 cum = 0;
	size_t                   e, s, i;

	metrics_printf(&b,
	    "# HELP jwtgate_http_requests_total HTTP requests answered, by endpoint and status code.\n"
	    "# TYPE jwtgate_http_requests_total counter\n");
	for (e = 0; e <= metrics_nendpoints; e++)
		for (s = 0; s < METRICS_STATUS_MAX; s++)
			if (GET(metrics_requests[e][s]) > 0)
				metrics_printf(&b,
				    "jwtgate_http_requests_total{endpoint=\"%s\",code=\"%zu\"} %llu\n",
				    e < metrics_nendpoints ? metrics_names[e]
				                           : "other",
				    s,
				    (unsigned long long)GET(
				        metrics_requests[e][s]));
	metrics_printf(&b,
	    "# HELP jwtgate_http_request_duration_seconds Time from a request's headers to its answer.\n"
	    "# TYPE jwtgate_http_request_duration_seconds histogram\n");
	for (i = 0; i < METRICS_NBUCKETS; i++) {
		cum += GET(metrics_buckets[i]);
		metrics_printf(&b,
		    "jwtgate_http_request_duration_seconds_bucket{le=\"%g\"} %llu\n",
		    metrics_bounds[i], (unsigned long long)cum);
	}
	cum += GET(metrics_buckets[METRICS_NBUCKETS]);
	metrics_printf(&b,
	    "jwtgate_http_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n"
	    "jwtgate_http_request_duration_seconds_sum %.6f\n"
	    "jwtgate_http_request_duration_seconds_count %llu\n",
	    (unsigned long long)cum, (double)GET(metrics_duration_us) / 1e6,
	    (unsigned long long)cum);
	metrics_printf(&b,
	    "# HELP jwtgate_logins_total Password logins (/login and password grants), by result.\n"
	    "# TYPE jwtgate_logins_total counter\n");
	for (i = 0; i < METRICS_LOGIN_MAX; i++)
		metrics_printf(&b, "jwtgate_logins_total{result=\"%s\"} %llu\n",
		    logins[i], (unsigned long long)GET(metrics_logins[i]));
	metrics_printf(&b,
	    "# HELP jwtgate_verifications_total Guarded requests and /verify calls, by result.\n"
	    "# TYPE jwtgate_verifications_total counter\n");
	for (i = 0; i < METRICS_VERIFY_MAX; i++)
		metrics_printf(&b,
		    "jwtgate_verifications_total{result=\"%s\"} %llu\n",
		    verifs[i],
		    (unsigned long long)GET(metrics_verifications[i]));
	metrics_printf(&b,
	    "# HELP jwtgate_tokens_issued_total Tokens issued, by kind.\n"
	    "# TYPE jwtgate_tokens_issued_total counter\n");
	for (i = 0; i < METRICS_TOKEN_MAX; i++)
		metrics_printf(&b,
		    "jwtgate_tokens_issued_total{kind=\"%s\"} %llu\n",
		    tokens[i], (unsigned long long)GET(metrics_tokens[i]));
	metrics_printf(&b,
	    "# HELP jwtgate_bans_total Bans started (per user name and per address).\n"
	    "# TYPE jwtgate_bans_total counter\n"
	    "jwtgate_bans_total %llu\n",
	    (unsigned long long)GET(metrics_ban_count));
	*len = b.len;
	return b.p;
}
