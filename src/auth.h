/*
 * auth.h - the guard shared by /verify and jwtgate's own guarded endpoints:
 * extract the token (backend), verify it (token), check revocation (store)
 * and the user (users), then roles and scopes (route rule). Three outcomes:
 * allowed, denied (401/403) and failed (a broken store or key: 5xx).
 */
#ifndef JWTGATE_AUTH_H
#define JWTGATE_AUTH_H

#include <jansson.h>
#include <stdbool.h>

#include "rules.h"

struct request;
struct user;

enum auth_outcome {
	AUTH_ALLOWED = 0,
	AUTH_DENIED,
	AUTH_FAILED,
};

struct auth_result {
	unsigned           status; /* 401 or 403 when denied, 5xx when failed */
	const char        *detail;
	bool               presented; /* a token was found */
	json_t            *claims;    /* the verified payload (allowed) */
	const struct user *user;      /* from the user file, or NULL */
};

enum auth_outcome auth_check(struct request *req, const struct rule_decision *d,
    struct auth_result *out);
/* Write the 401/403/5xx answer of a refused result. */
void auth_reply(struct request *req, const struct auth_result *r);
void auth_result_free(struct auth_result *r);

#endif
