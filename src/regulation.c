/*
 * regulation.c - the login-failure policy over the store's counters.
 *
 * The store does the counting (store_fail() applies the window and the
 * ban atomically, across threads, processes and nodes) and bounds its own
 * memory; this file turns names and addresses into store keys, asks about
 * both keys of a login, and tells which failures started a ban.
 */
#include "regulation.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include "b64url.h"
#include "log.h"
#include "store.h"
#include "xmalloc.h"

/* "a:" INET6_ADDRSTRLEN "/64", or "u:" / "a:~" and 43 characters. */
#define REG_KEY_MAX 64

struct regulation {
	struct store *store;
	unsigned      max_retries;
	int64_t       find_time, ban_time;
	uint64_t      bans, errors; /* atomic */
};

/* The store keys of one login: the user's, then the address's. */
struct reg_keys {
	char key[2][REG_KEY_MAX];
	int  flag[2]; /* REGULATION_BANNED_* */
	int  n;
};

struct regulation *
regulation_new(const struct config *cfg, struct store *st)
{
	struct regulation *reg = xcalloc(1, sizeof *reg);

	reg->store = st;
	reg->max_retries = cfg->login.max_retries;
	reg->find_time = cfg->login.find_time;
	reg->ban_time = cfg->login.ban_time;
	return reg;
}

static int
regulation_error(struct regulation *reg)
{
	__atomic_add_fetch(&reg->errors, 1, __ATOMIC_RELAXED);
	return -1;
}

/* prefix and the base64url SHA-256 of s: fixed length, the same on every
 * node, whatever s an attacker sends. */
static int
regulation_digest_key(const char *prefix, const char *s, char key[REG_KEY_MAX])
{
	unsigned char md[SHA256_DIGEST_LENGTH];
	size_t        n = strlen(prefix);

	if (EVP_Digest(s, strlen(s), md, NULL, EVP_sha256(), NULL) != 1) {
		log_error("regulation: SHA-256 failed");
		return -1;
	}
	memcpy(key, prefix, n);
	b64url_encode(md, sizeof md, key + n);
	return 0;
}

static int
regulation_addr_text(int af, const void *a, const char *suffix,
    char key[REG_KEY_MAX])
{
	char text[INET6_ADDRSTRLEN];

	if (inet_ntop(af, a, text, sizeof text) == NULL)
		return -1;
	snprintf(key, REG_KEY_MAX, "a:%s%s", text, suffix);
	return 0;
}

/* IPv4 as is, IPv6 by its /64, anything else (unix) by its digest. */
static int
regulation_addr_key(const char *addr, char key[REG_KEY_MAX])
{
	struct in_addr  a4;
	struct in6_addr a6;

	if (inet_pton(AF_INET, addr, &a4) == 1)
		return regulation_addr_text(AF_INET, &a4, "", key);
	if (inet_pton(AF_INET6, addr, &a6) != 1)
		return regulation_digest_key("a:~", addr, key);
	if (IN6_IS_ADDR_V4MAPPED(&a6)) {
		memcpy(&a4, &a6.s6_addr[12], sizeof a4);
		return regulation_addr_text(AF_INET, &a4, "", key);
	}
	memset(&a6.s6_addr[8], 0, 8);
	return regulation_addr_text(AF_INET6, &a6, "/64", key);
}

/* The keys of user and addr, each either absent (NULL, ""): 0, or -1. */
static int
regulation_keys(const char *user, const char *addr, struct reg_keys *k)
{
	k->n = 0;
	if (user != NULL) {
		if (regulation_digest_key("u:", user, k->key[k->n]) == -1)
			return -1;
		k->flag[k->n++] = REGULATION_BANNED_USER;
	}
	if (addr != NULL && *addr != '\0') {
		if (regulation_addr_key(addr, k->key[k->n]) == -1)
			return -1;
		k->flag[k->n++] = REGULATION_BANNED_ADDR;
	}
	return 0;
}

int
regulation_check(struct regulation *reg, const char *user, const char *addr,
    int64_t now, int64_t *retry_after)
{
	struct reg_keys k;
	int64_t         until, last = 0;
	int             i;

	*retry_after = 0;
	if (reg->max_retries == 0)
		return 0;
	if (regulation_keys(user, addr, &k) == -1)
		return regulation_error(reg);
	for (i = 0; i < k.n; i++) {
		int rv = store_banned(reg->store, k.key[i], now, &until);

		if (rv == -1)
			return regulation_error(reg);
		if (rv == 1 && until > last)
			last = until;
	}
	if (last <= now)
		return 0;
	*retry_after = last - now;
	return 1;
}

/*
 * One failure on key: 1 it started a ban, 0 not, -1 store error.
 * store_fail() gives a ban's end whether it began now or before, so a key
 * already banned is left alone (the store would not count it either).
 * Between the two calls another thread or node may start the ban: it is
 * told apart when it ends at another time than ours would.
 */
static int
regulation_count(struct regulation *reg, const char *key, int64_t now)
{
	int64_t until;
	int     rv;

	if ((rv = store_banned(reg->store, key, now, &until)) != 0)
		return rv == 1 ? 0 : -1;
	if (store_fail(reg->store, key, now, reg->find_time, reg->max_retries,
	        reg->ban_time, &until) == -1)
		return -1;
	return until > now && until == now + reg->ban_time;
}

int
regulation_fail(struct regulation *reg, const char *user, const char *addr,
    int64_t now)
{
	struct reg_keys k;
	bool            failed = false;
	int             i, banned = 0;

	if (reg->max_retries == 0)
		return 0;
	if (regulation_keys(user, addr, &k) == -1)
		return regulation_error(reg);
	for (i = 0; i < k.n; i++) {
		/* On an error, the other key is still counted. */
		int rv = regulation_count(reg, k.key[i], now);

		if (rv == -1)
			failed = true;
		else if (rv == 1) {
			banned |= k.flag[i];
			__atomic_add_fetch(&reg->bans, 1, __ATOMIC_RELAXED);
		}
	}
	return failed ? regulation_error(reg) : banned;
}

int
regulation_success(struct regulation *reg, const char *user, const char *addr,
    int64_t now)
{
	char key[REG_KEY_MAX];

	(void)addr; /* never cleared: see regulation.h */
	(void)now;
	if (reg->max_retries == 0 || user == NULL)
		return 0;
	if (regulation_digest_key("u:", user, key) == -1 ||
	    store_clear(reg->store, key) == -1)
		return regulation_error(reg);
	return 0;
}

void
regulation_stats(struct regulation *reg, struct regulation_stats *st)
{
	st->bans = __atomic_load_n(&reg->bans, __ATOMIC_RELAXED);
	st->errors = __atomic_load_n(&reg->errors, __ATOMIC_RELAXED);
}

void
regulation_free(struct regulation *reg)
{
	free(reg);
}
