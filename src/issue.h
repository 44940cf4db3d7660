/*
 * issue.h - what a successful login or grant hands out: the access token
 * with the user's extras, a refresh token recorded in the store, and the
 * OAuth2 token response.
 */
#ifndef JWTGATE_ISSUE_H
#define JWTGATE_ISSUE_H

#include <jansson.h>
#include <stdint.h>

#include "config.h"

struct context;
struct user;

#define ISSUE_FAILED (-1)
#define ISSUE_STORE  (-2)

struct issued {
	char   *access;  /* the JWT */
	char   *refresh; /* opaque refresh token, or NULL */
	char   *scope;   /* space separated, "" when none */
	int64_t expires_in;
};

/*
 * Mint an access token for user with scope (NULL: all the user's scopes),
 * and, with_refresh, a refresh token in family (NULL: a new family).
 * 0 done, ISSUE_FAILED (a key or randomness: 500) or ISSUE_STORE (the
 * store did not record the refresh token: 503), both logged.
 */
int
issue_tokens(struct context *ctx, const struct user *user, const char *scope,
    int with_refresh, const char *family, struct issued *out);
void issued_free(struct issued *is);

/* {"access_token","token_type","expires_in","refresh_token"?,"scope"?} */
json_t *issue_oauth2_body(const struct issued *is, int with_scope_always);

/* A list as a JSON array of strings (new reference). */
json_t *issue_json_list(const struct strlist *l);
/* The "extras" claim of a user's tokens: {roles, name?, email?}. */
json_t *issue_extras(const struct user *user);

/* A list as one space-separated string (free()). */
char *issue_join(const struct strlist *l);

/* SHA-256 of a refresh token, as the store keys it. */
void issue_refresh_hash(const char *token, unsigned char hash[32]);

/* The scopes of the space-separated scope that allowed holds (free()). */
char *issue_scope_within(const char *scope, const struct strlist *allowed);

/* Is every scope of the space-separated want in the space-separated have? */
int issue_scope_subset(const char *want, const char *have);

#endif
