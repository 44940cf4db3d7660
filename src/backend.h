/*
 * backend.h - the three ways a token travels: the jwt (header),
 * jwt_cookie and oauth2_password_bearer backends of SPEC section 3.
 * Each extracts a token from a request, delivers one on login, clears it
 * on logout and describes itself for OpenAPI.
 */
#ifndef JWTGATE_BACKEND_H
#define JWTGATE_BACKEND_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

struct request;
struct response;

struct backend {
	const char *name;
	/* 401 detail when extract() finds nothing. */
	const char *missing_detail;
	/*
	 * Find the token: 1 with *tok and *len pointing into the request's
	 * headers, 0 when there is none.
	 */
	int (*extract)(const struct request *req, const struct config *cfg,
	    const char **tok, size_t *len);
	/* Set the response header (and cookie) of a login. */
	void (*deliver)(struct response *res, const struct config *cfg,
	    const char *jwt, int64_t ttl);
	/* Clear what deliver() set, on logout. */
	void (*clear)(struct response *res, const struct config *cfg);
	/* The OpenAPI security scheme object (new reference). */
	json_t *(*openapi)(const struct config *cfg);
};

const struct backend *backend_get(enum backend_kind kind);

/*
 * The pieces, exported for unit tests: "Bearer <token>" from a header
 * value, and a cookie's value from a raw Cookie header.
 */
int backend_bearer(const char *value, const char **tok, size_t *len);
int backend_cookie_value(const char *header, const char *name, const char **val,
    size_t *len);
/* The Set-Cookie value for jwt with max_age seconds (0 clears). */
char *
backend_set_cookie(const struct config *cfg, const char *jwt, int64_t max_age);

#endif
