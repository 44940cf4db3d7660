/*
 * metrics.h - process-wide counters and the request-duration histogram,
 * written as Prometheus text by GET /metrics. Updates are lock-free
 * (relaxed atomics), so the hot path pays a few adds per request.
 */
#ifndef JWTGATE_METRICS_H
#define JWTGATE_METRICS_H

#include <stddef.h>
#include <stdint.h>

enum metrics_login {
	METRICS_LOGIN_SUCCESS = 0,
	METRICS_LOGIN_FAILURE,
	METRICS_LOGIN_BANNED,
	METRICS_LOGIN_MAX,
};

enum metrics_verify {
	METRICS_VERIFY_ALLOWED = 0,
	METRICS_VERIFY_PUBLIC,
	METRICS_VERIFY_DENIED,
	METRICS_VERIFY_FAILED,
	METRICS_VERIFY_MAX,
};

enum metrics_token {
	METRICS_TOKEN_ACCESS = 0,
	METRICS_TOKEN_REFRESH,
	METRICS_TOKEN_MAX,
};

/* endpoint: an index below nendpoints, or nendpoints for unknown paths. */
void metrics_init(const char *const *endpoints, size_t nendpoints);
void metrics_request(size_t endpoint, unsigned status, uint64_t duration_us);
void metrics_login(enum metrics_login result);
void metrics_verify(enum metrics_verify result);
void metrics_token(enum metrics_token kind);
void metrics_bans(unsigned n);

/* The Prometheus text exposition (free()). */
char *metrics_render(size_t *len);

#endif
