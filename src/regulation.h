/*
 * regulation.h - the login-failure policy, per user name and per client
 * address, as [login] max_retries, find_time and ban_time say. Counters
 * and bans live in the store ([store] driver): with sqlite they survive a
 * restart, with redis every node honours them (SPEC section 9).
 *
 * Semantics:
 * - max_retries failures within find_time of the first one ban the name
 *   (or the address) for ban_time; the window restarts after find_time.
 *   max_retries = 0 turns regulation off (the store is never asked).
 * - Unknown user names are counted like known ones.
 * - IPv6 addresses are counted per /64, the block one host usually holds;
 *   an IPv4-mapped IPv6 address is its IPv4 address.
 * - A successful login clears its user's counter (a typo earlier in the
 *   window is forgiven), never the address's: otherwise one valid account
 *   would let an attacker reset the address counter between guesses at
 *   other accounts. A ban is never cleared early.
 *
 * Store keys: "u:" and the base64url SHA-256 of the user name (fixed
 * length whatever the name, and the same on every node), "a:" and the
 * address in canonical text (an IPv6 one as its /64, "2001:db8::/64"),
 * or "a:~" and the digest of anything that is no address (e.g. "unix").
 * What the store holds, and how much, is the driver's business.
 *
 * Thread-safe. Store errors are never silent: they are -1 here, logged by
 * the store, and a 503 for the caller.
 */
#ifndef JWTGATE_REGULATION_H
#define JWTGATE_REGULATION_H

#include <stdint.h>

#include "config.h"

/* regulation_fail() results, or-ed */
#define REGULATION_BANNED_USER 0x1
#define REGULATION_BANNED_ADDR 0x2

struct regulation;
struct store;

struct regulation_stats {
	uint64_t bans;   /* bans regulation_fail() reported starting */
	uint64_t errors; /* calls that got -1 from the store */
};

/* Reads [login] from cfg once; st is not owned and must outlive reg. */
struct regulation *regulation_new(const struct config *cfg, struct store *st);

/*
 * 0 allowed, 1 banned: *retry_after is then the seconds until every ban
 * on user and addr ends; -1 the store failed (answer 503). user and addr
 * may be NULL (not checked), addr also "".
 */
int regulation_check(struct regulation *reg, const char *user, const char *addr,
    int64_t now, int64_t *retry_after);

/*
 * Count a failed login: the REGULATION_BANNED_* bans it started, or -1
 * when the store failed (the counts that could be written are kept). A key
 * already banned is not counted (the store would not count it either).
 */
int regulation_fail(struct regulation *reg, const char *user, const char *addr,
    int64_t now);

/* A successful login: clears user's counter (see above). 0, or -1. */
int regulation_success(struct regulation *reg, const char *user,
    const char *addr, int64_t now);

void regulation_stats(struct regulation *reg, struct regulation_stats *st);

void regulation_free(struct regulation *reg);

#endif
