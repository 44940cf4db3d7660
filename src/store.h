/*
 * store.h - the state jwtgate writes at run time: revoked token ids,
 * refresh-token families and failed-login counters, behind one interface
 * with three drivers ([store] driver = sqlite, memory or redis).
 *
 * Every function is thread-safe and takes `now` from its caller. Each one
 * returns -1 on a store failure, distinct from every "no" answer: a broken
 * store must become a 5xx at the caller, never a silent allow or deny.
 * A revocation or rotation that returned 0 is durable (SQLite: WAL with
 * synchronous=FULL; Redis: as the server's persistence is configured).
 */
#ifndef JWTGATE_STORE_H
#define JWTGATE_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

#define STORE_HASH_LEN 32  /* SHA-256 of a refresh token */
#define STORE_JTI_MAX  256 /* longest jti accepted, in bytes */
#define STORE_KEY_MAX  512 /* longest counter key accepted, in bytes */

struct store;

/* A refresh token: fields are NUL-terminated and fit (else -1). */
struct store_refresh {
	char    family[64];
	char    sub[128];
	char    scope[512];
	int64_t exp;
};

/*
 * Capacities; 0 takes the default. Revocations and refresh tokens are
 * never dropped while live: when full of live entries, adding one fails
 * (-1). Counters are: expired first, then the longest idle, then, only when
 * every entry is a live ban, the ban ending first.
 */
struct store_limits {
	size_t max_revoked;  /* memory driver */
	size_t max_refresh;  /* memory driver: tokens; families alike */
	size_t max_counters; /* memory and sqlite drivers */
};

#define STORE_DEFAULT_MAX_REVOKED  (1u << 20)
#define STORE_DEFAULT_MAX_REFRESH  (1u << 20)
#define STORE_DEFAULT_MAX_COUNTERS (1u << 17)

/* Opens the configured driver, creating the schema; err names the file or
 * URL and the reason. */
int store_open(const struct config *cfg, struct store **out, char *err,
    size_t errlen);
int
store_open_limits(const struct config *cfg, const struct store_limits *limits,
    struct store **out, char *err, size_t errlen);
void        store_close(struct store *st);
const char *store_driver_name(const struct store *st);

/* 0 the store answers, -1 it does not (GET /readyz). */
int store_ping(struct store *st);

/* Revoked token ids, kept until exp + [token] leeway. Revoking is idempotent (the later
 * exp wins): 0, or -1. is_revoked: 1 revoked, 0 not, -1 error. */
int store_revoke(struct store *st, const char *jti, int64_t exp, int64_t now);
int store_is_revoked(struct store *st, const char *jti, int64_t now);

/*
 * Refresh tokens, known by the SHA-256 of the opaque token only.
 *
 * add: 0, or -1 (also when r does not fit or is already stored). A token
 * added to a family already revoked is stored dead: its use gives 1.
 *
 * use consumes a token atomically, across threads, processes and nodes:
 *   0  it was valid and is now used; *out is filled
 *   1  unknown, expired, or its family is revoked; *out is zeroed
 *   2  it had been used already: its whole family is now revoked (reuse);
 *      *out is filled, for the log
 *  -1  error; *out is zeroed
 * out may be NULL.
 *
 * peek looks at a token without using it, and changes nothing (no reuse
 * detection, no family revoked): 0 exactly when a use at the same now
 * would give 0, barring a change in between (*out filled); 1 unknown,
 * expired, used or in a revoked family; -1 error. *out is zeroed unless 0;
 * out may be NULL.
 */
int store_refresh_add(struct store *st, const unsigned char hash[32],
    const struct store_refresh *r, int64_t now);
int store_refresh_use(struct store *st, const unsigned char hash[32],
    int64_t now, struct store_refresh *out);
int store_refresh_peek(struct store *st, const unsigned char hash[32],
    int64_t now, struct store_refresh *out);

/* Revoke a family: every later use of one of its tokens gives 1 (or 2 if
 * that token had been used). 0, or -1. */
int store_family_revoke(struct store *st, const char *family, int64_t now);

/* The family of the token with this hash, as store_family_revoke(): 0
 * done, 1 unknown or expired token, -1 error (logout with a refresh
 * token). */
int store_refresh_revoke(struct store *st, const unsigned char hash[32],
    int64_t now);

/*
 * Failed-login counters, keyed by an opaque string (the caller prefixes
 * "u:" or "a:"). A window opens at a key's first failure and lasts
 * find_time; when max_retries failures fall in one window, the key is
 * banned until now + ban_time and counting starts again after it.
 * max_retries 0 counts nothing.
 *
 * fail: records one failure; *banned_until is the end of the key's ban,
 * whether it began now or before, else 0. 0, or -1.
 * banned: 1 banned (*until set), 0 not (*until 0), -1 error.
 * clear: forgets the key's count (a success), never an active ban. 0, -1.
 */
int
store_fail(struct store *st, const char *key, int64_t now, int64_t find_time,
    unsigned max_retries, int64_t ban_time, int64_t *banned_until);
int
store_banned(struct store *st, const char *key, int64_t now, int64_t *until);
int store_clear(struct store *st, const char *key);

/* Drops expired revocations, refresh tokens, families and counters. The
 * drivers also purge on their own as they write; 0, or -1. */
int store_purge(struct store *st, int64_t now);

#endif
