/*
 * regulation.c - in-memory counters in two fixed set-associative tables.
 *
 * A name or address is reduced to 128 bits of SHA-256 keyed with a random
 * per-process salt: entries have a fixed size however long the name, and
 * an attacker cannot choose names that land in the bucket of a victim.
 * Each bucket holds REG_WAYS entries; a new key takes a free slot, else
 * evicts, in this order, an idle entry (no ban, window over), the counting
 * entry idle the longest, and only when every entry of the bucket is a
 * live ban, the ban ending first. Flooding with fresh names therefore
 * pushes out other fresh names before it touches a ban.
 */
#include "regulation.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "xmalloc.h"

#define REG_WAYS 8
#define REG_KEY  16

struct reg_entry {
	uint8_t  key[REG_KEY];
	int64_t  first;        /* first failure of the current window */
	int64_t  last;         /* latest failure */
	int64_t  banned_until; /* 0: never banned in this window */
	uint32_t fails;
	bool     used;
};

struct reg_table {
	struct reg_entry *e;
	size_t            mask; /* buckets - 1 */
	size_t            used;
};

struct regulation {
	pthread_mutex_t  lock;
	struct reg_table users, addrs;
	unsigned         max_retries;
	int64_t          find_time, ban_time;
	uint8_t          salt[32];
	uint64_t         bans, evictions, evicted_bans;
};

static void
regulation_table_init(struct reg_table *t, size_t capacity)
{
	size_t buckets = 1;

	while (buckets * REG_WAYS < capacity)
		buckets *= 2;
	t->e = xcalloc(buckets * REG_WAYS, sizeof *t->e);
	t->mask = buckets - 1;
	t->used = 0;
}

struct regulation *
regulation_new_sized(const struct config *cfg, size_t capacity)
{
	struct regulation *reg;

	reg = xcalloc(1, sizeof *reg);
	if (RAND_bytes(reg->salt, sizeof reg->salt) != 1) {
		free(reg);
		return NULL;
	}
	pthread_mutex_init(&reg->lock, NULL);
	reg->max_retries = cfg->login.max_retries;
	reg->find_time = cfg->login.find_time;
	reg->ban_time = cfg->login.ban_time;
	regulation_table_init(&reg->users, capacity);
	regulation_table_init(&reg->addrs, capacity);
	return reg;
}

struct regulation *
regulation_new(const struct config *cfg)
{
	return regulation_new_sized(cfg, REGULATION_CAPACITY);
}

/* 128 bits of SHA-256(salt, tag, data). */
static int
regulation_digest(const struct regulation *reg, char tag, const void *data,
    size_t len, uint8_t key[REG_KEY])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen;
	EVP_MD_CTX *ctx;
	int ok;

	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return -1;
	ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
	    EVP_DigestUpdate(ctx, reg->salt, sizeof reg->salt) == 1 &&
	    EVP_DigestUpdate(ctx, &tag, 1) == 1 &&
	    EVP_DigestUpdate(ctx, data, len) == 1 &&
	    EVP_DigestFinal_ex(ctx, md, &mdlen) == 1;
	EVP_MD_CTX_free(ctx);
	if (!ok)
		return -1;
	memcpy(key, md, REG_KEY);
	return 0;
}

static int
regulation_user_key(const struct regulation *reg, const char *user,
    uint8_t key[REG_KEY])
{
	return regulation_digest(reg, 'u', user, strlen(user), key);
}

/* IPv4 as is, IPv6 by /64, anything else (unix:...) as its text. */
static int
regulation_addr_key(const struct regulation *reg, const char *addr,
    uint8_t key[REG_KEY])
{
	unsigned char a[16];

	if (inet_pton(AF_INET, addr, a) == 1)
		return regulation_digest(reg, '4', a, 4, key);
	if (inet_pton(AF_INET6, addr, a) == 1) {
		if (IN6_IS_ADDR_V4MAPPED((struct in6_addr *)a))
			return regulation_digest(reg, '4', a + 12, 4, key);
		return regulation_digest(reg, '6', a, 8, key);
	}
	return regulation_digest(reg, 's', addr, strlen(addr), key);
}

static struct reg_entry *
regulation_bucket(struct reg_table *t, const uint8_t key[REG_KEY])
{
	uint64_t h;

	memcpy(&h, key, sizeof h);
	return &t->e[(h & t->mask) * REG_WAYS];
}

static struct reg_entry *
regulation_find(struct reg_table *t, const uint8_t key[REG_KEY])
{
	struct reg_entry *b = regulation_bucket(t, key);
	int i;

	for (i = 0; i < REG_WAYS; i++)
		if (b[i].used && memcmp(b[i].key, key, REG_KEY) == 0)
			return &b[i];
	return NULL;
}

/* 0 idle, 1 counting, 2 banned: what eviction spares last. */
static int
regulation_class(const struct regulation *reg, const struct reg_entry *e,
    int64_t now)
{
	if (e->banned_until > now)
		return 2;
	if (e->banned_until == 0 && e->fails > 0 &&
	    now - e->first < reg->find_time)
		return 1;
	return 0;
}

static bool
regulation_spare(const struct regulation *reg, const struct reg_entry *a,
    const struct reg_entry *b, int64_t now)
{
	int ca = regulation_class(reg, a, now), cb = regulation_class(reg, b,
	    now);

	if (ca != cb)
		return ca > cb;
	if (ca == 2)
		return a->banned_until > b->banned_until;
	return a->last > b->last;
}

static struct reg_entry *
regulation_get(struct regulation *reg, struct reg_table *t,
    const uint8_t key[REG_KEY], int64_t now)
{
	struct reg_entry *b, *e, *victim = NULL;
	int i;

	if ((e = regulation_find(t, key)) != NULL)
		return e;
	b = regulation_bucket(t, key);
	for (i = 0; i < REG_WAYS && victim == NULL; i++)
		if (!b[i].used)
			victim = &b[i];
	if (victim == NULL) {
		victim = &b[0];
		for (i = 1; i < REG_WAYS; i++)
			if (regulation_spare(reg, victim, &b[i], now))
				victim = &b[i];
		reg->evictions++;
		if (regulation_class(reg, victim, now) == 2)
			reg->evicted_bans++;
	} else
		t->used++;
	memset(victim, 0, sizeof *victim);
	memcpy(victim->key, key, REG_KEY);
	victim->used = true;
	return victim;
}

static int64_t
regulation_banned(struct reg_table *t, const uint8_t key[REG_KEY],
    int64_t now)
{
	struct reg_entry *e = regulation_find(t, key);

	return e != NULL && e->banned_until > now ? e->banned_until - now : 0;
}

int
regulation_check(struct regulation *reg, const char *user, const char *addr,
    int64_t now, int64_t *retry_after)
{
	uint8_t ukey[REG_KEY], akey[REG_KEY];
	int64_t u = 0, a = 0;
	bool have_u, have_a;

	*retry_after = 0;
	if (reg->max_retries == 0)
		return 0;
	have_u = user != NULL && regulation_user_key(reg, user, ukey) == 0;
	have_a = addr != NULL && *addr != '\0' &&
	    regulation_addr_key(reg, addr, akey) == 0;
	pthread_mutex_lock(&reg->lock);
	if (have_u)
		u = regulation_banned(&reg->users, ukey, now);
	if (have_a)
		a = regulation_banned(&reg->addrs, akey, now);
	pthread_mutex_unlock(&reg->lock);
	*retry_after = u > a ? u : a;
	return *retry_after > 0;
}

/* One failure on one counter; true if it starts a ban. Lock held. */
static bool
regulation_count(struct regulation *reg, struct reg_table *t,
    const uint8_t key[REG_KEY], int64_t now)
{
	struct reg_entry *e = regulation_get(reg, t, key, now);

	if (e->banned_until > now)
		return false;
	if (e->banned_until != 0 || e->fails == 0 ||
	    now - e->first >= reg->find_time) {
		e->first = now;
		e->fails = 0;
		e->banned_until = 0;
	}
	e->fails++;
	e->last = now;
	if (e->fails < reg->max_retries)
		return false;
	e->banned_until = now + reg->ban_time;
	e->fails = 0;
	reg->bans++;
	return true;
}

int
regulation_fail(struct regulation *reg, const char *user, const char *addr,
    int64_t now)
{
	uint8_t ukey[REG_KEY], akey[REG_KEY];
	bool have_u, have_a;
	int banned = 0;

	if (reg->max_retries == 0)
		return 0;
	have_u = user != NULL && regulation_user_key(reg, user, ukey) == 0;
	have_a = addr != NULL && *addr != '\0' &&
	    regulation_addr_key(reg, addr, akey) == 0;
	pthread_mutex_lock(&reg->lock);
	if (have_u && regulation_count(reg, &reg->users, ukey, now))
		banned |= REGULATION_BANNED_USER;
	if (have_a && regulation_count(reg, &reg->addrs, akey, now))
		banned |= REGULATION_BANNED_ADDR;
	pthread_mutex_unlock(&reg->lock);
	return banned;
}

void
regulation_success(struct regulation *reg, const char *user, const char *addr,
    int64_t now)
{
	uint8_t ukey[REG_KEY];
	struct reg_entry *e;

	if (reg->max_retries == 0 || user == NULL ||
	    regulation_user_key(reg, user, ukey) == -1)
		return;
	pthread_mutex_lock(&reg->lock);
	e = regulation_find(&reg->users, ukey);
	if (e != NULL && e->banned_until <= now) {
		memset(e, 0, sizeof *e);
		reg->users.used--;
	}
	pthread_mutex_unlock(&reg->lock);
}

void
regulation_stats(struct regulation *reg, struct regulation_stats *st)
{
	pthread_mutex_lock(&reg->lock);
	st->capacity = (reg->users.mask + 1) * REG_WAYS;
	st->users = reg->users.used;
	st->addrs = reg->addrs.used;
	st->bans = reg->bans;
	st->evictions = reg->evictions;
	st->evicted_bans = reg->evicted_bans;
	pthread_mutex_unlock(&reg->lock);
}

void
regulation_free(struct regulation *reg)
{
	if (reg == NULL)
		return;
	free(reg->users.e);
	free(reg->addrs.e);
	OPENSSL_cleanse(reg->salt, sizeof reg->salt);
	pthread_mutex_destroy(&reg->lock);
	free(reg);
}
