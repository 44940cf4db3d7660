/*
 * regulation.h - failed-login counters and bans, per user name and per
 * client address, as [login] max_retries, find_time and ban_time say.
 * Thread-safe; memory is fixed at creation whatever names attackers try.
 *
 * Semantics:
 * - max_retries failures within find_time of the first one ban the name
 *   (or the address) for ban_time; the window restarts after find_time.
 *   max_retries = 0 turns regulation off.
 * - Unknown user names are counted like known ones.
 * - IPv6 addresses are counted per /64, the block one host usually holds.
 * - A successful login clears its user's counter (a typo earlier in the
 *   window is forgiven), never the address's: otherwise one valid account
 *   would let an attacker reset the address counter between guesses at
 *   other accounts. A ban is never cleared early.
 *
 * This is the in-memory implementation; the store-backed one (shared by
 * nodes) will keep these functions.
 */
#ifndef JWTGATE_REGULATION_H
#define JWTGATE_REGULATION_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

/* Entries per table (users, addresses): about 3 MiB each. */
#define REGULATION_CAPACITY 65536

/* regulation_fail() results, or-ed */
#define REGULATION_BANNED_USER 0x1
#define REGULATION_BANNED_ADDR 0x2

struct regulation;

struct regulation_stats {
	size_t   capacity;  /* per table */
	size_t   users;     /* entries in use */
	size_t   addrs;
	uint64_t bans;
	uint64_t evictions; /* entries dropped to make room */
	uint64_t evicted_bans;
};

struct regulation *regulation_new(const struct config *cfg);

/* The same with capacity entries per table (rounded up to a power of 2). */
struct regulation *regulation_new_sized(const struct config *cfg,
    size_t capacity);

/*
 * 0 allowed, 1 banned: *retry_after is then the seconds until every ban
 * on user and addr ends. Either may be NULL (not checked).
 */
int  regulation_check(struct regulation *reg, const char *user,
	 const char *addr, int64_t now, int64_t *retry_after);

/* Count a failed login; returns the REGULATION_BANNED_* bans it started. */
int  regulation_fail(struct regulation *reg, const char *user,
	 const char *addr, int64_t now);

/* A successful login: clears user's counter (see above). */
void regulation_success(struct regulation *reg, const char *user,
	 const char *addr, int64_t now);

void regulation_stats(struct regulation *reg, struct regulation_stats *st);

void regulation_free(struct regulation *reg);

#endif
