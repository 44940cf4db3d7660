/*
 * token.h - issue and verify the access tokens of SPEC section 6: one
 * algorithm, pinned by the configuration; nothing in a token chooses how
 * it is checked. Both calls are thread-safe and parse no key.
 */
#ifndef JWTGATE_TOKEN_H
#define JWTGATE_TOKEN_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "config.h"
#include "keys.h"

enum token_status {
	TOKEN_OK = 0,
	TOKEN_INVALID, /* refused: 401 Invalid token */
	TOKEN_ERROR,   /* internal failure (unusable key, no randomness): 5xx */
};

struct token_verifier;

/* What one issued token says beyond what the configuration fixes. */
struct token_params {
	const char           *sub;      /* required, non-empty */
	int64_t               ttl;      /* seconds; 0: [token] ttl */
	const struct strlist *audience; /* NULL: [token] audience */
	const char           *scope;    /* space separated, or NULL */
	json_t               *extras;   /* object put under "extras", or NULL */
	json_t               *claims;   /* further top-level claims, or NULL */
};

/* cfg and keys must outlive the verifier. */
struct token_verifier      *
token_verifier_new(const struct config *cfg, const struct keyring *keys);
void token_verifier_free(struct token_verifier *v);

/*
 * Verify token (len bytes, need not be NUL-terminated) at time now, in the
 * order of SPEC section 6. On TOKEN_OK, *claims_out (if not NULL) gets the
 * verified payload object, to be json_decref'd. *why (if not NULL) always
 * gets a static reason for debug logs, never token content.
 */
enum token_status
token_verify(const struct token_verifier *v, const char *token, size_t len,
    double now, json_t **claims_out, const char **why);

/*
 * Steps 1 to 3 of SPEC section 6 only: form, header and signature. Never
 * enough to let anyone in; for tests and for tools that inspect tokens.
 */
enum token_status token_verify_signature(const struct token_verifier *v,
    const char *token, size_t len, const char **why);

/*
 * Mint a token signed with the active key. *jwt_out and *jti_out are new
 * strings (free()). Refuses (TOKEN_INVALID, *errstr says why) an empty
 * subject, a non-positive lifetime, an expiry in the past or a further
 * claim that jwtgate sets itself.
 */
enum token_status
token_issue(const struct token_verifier *v, const struct token_params *p,
    int64_t now, char **jwt_out, char **jti_out, const char **errstr);

/*
 * Add "KEY=VALUE" (`jwtgate token -C`) to the object claims: VALUE is taken
 * as JSON when it parses as JSON, else as a string. -1 and *errstr on a
 * malformed argument or a claim that jwtgate sets itself.
 */
int token_claim_arg(json_t *claims, const char *arg, const char **errstr);

#endif
