/*
 * store_memory.c - the memory driver: four hash maps under one mutex.
 * Nothing survives a restart.
 *
 * Keys are hashed with SipHash under a random per-store key, so that names
 * an attacker chooses cannot pile up in one chain. Every map has a cap
 * (struct store_limits). Revocations and refresh tokens are never dropped
 * while live: a full map is purged of expired entries, and if it is still
 * full the write fails. Counters are evicted instead, from two lists kept
 * in order of expiry: an expired counter first, then the counter whose
 * window ends first, and only when every counter is a live ban, the ban
 * ending first.
 */
#include "store.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "log.h"
#include "store_impl.h"
#include "xmalloc.h"

struct mem_entry;

struct mem_list {
	struct mem_entry *head, *tail;
};

struct mem_entry {
	struct mem_entry *hnext;       /* hash chain */
	struct mem_entry *prev, *next; /* counters: their expiry list */
	struct mem_list  *list;        /* counters: the list they are on */
	uint64_t          h;
	size_t            klen;
	union {
		int64_t exp; /* revoked */
		struct {
			struct store_refresh r;
			bool                 used;
		} rt;
		struct {
			int64_t exp;
			bool    revoked;
		} fam;
		struct store_counter ctr;
	} v;
	unsigned char key[];
};

struct mem_map {
	struct mem_entry **b;
	size_t             nbuckets; /* a power of 2 */
	size_t             n, max;
};

struct store_memory {
	struct store    base;
	pthread_mutex_t lock;
	EVP_MAC_CTX    *mac; /* SipHash, keyed at open; under lock */
	struct mem_map  revoked, refresh, families, counters;
	struct mem_list counting; /* counters not banned, by expiry */
	struct mem_list banned;   /* counters banned, by expiry */
	int64_t         last_purge;
	uint64_t        evicted_bans;
};

static void mem_purge_locked(struct store_memory *, int64_t);

static uint64_t
mem_hash(struct store_memory *ms, const void *key, size_t klen)
{
	unsigned char out[8];
	size_t        outl = 0;
	uint64_t      h;

	if (EVP_MAC_init(ms->mac, NULL, 0, NULL) != 1 ||
	    EVP_MAC_update(ms->mac, key, klen) != 1 ||
	    EVP_MAC_final(ms->mac, out, &outl, sizeof out) != 1 ||
	    outl != sizeof out)
		fatal("store: SipHash failed");
	memcpy(&h, out, sizeof h);
	return h;
}

static void
mem_map_init(struct mem_map *m, size_t max)
{
	m->nbuckets = 64;
	m->b = xcalloc(m->nbuckets, sizeof *m->b);
	m->n = 0;
	m->max = max;
}

static void
mem_map_free(struct mem_map *m)
{
	struct mem_entry *e, *next;
	size_t            i;

	for (i = 0; i < m->nbuckets; i++) {
		for (e = m->b[i]; e != NULL; e = next) {
			next = e->hnext;
			free(e);
		}
	}
	free(m->b);
}

static struct mem_entry *
mem_find(struct mem_map *m, uint64_t h, const void *key, size_t klen)
{
	struct mem_entry *e;

	for (e = m->b[h & (m->nbuckets - 1)]; e != NULL; e = e->hnext) {
		if (e->h == h && e->klen == klen &&
		    memcmp(e->key, key, klen) == 0)
			return e;
	}
	return NULL;
}

static void
mem_grow(struct mem_map *m)
{
	struct mem_entry **nb, *e, *next;
	size_t             i, n = m->nbuckets * 2, slot;

	nb = xcalloc(n, sizeof *nb);
	for (i = 0; i < m->nbuckets; i++) {
		for (e = m->b[i]; e != NULL; e = next) {
			next = e->hnext;
			slot = e->h & (n - 1);
			e->hnext = nb[slot];
			nb[slot] = e;
		}
	}
	free(m->b);
	m->b = nb;
	m->nbuckets = n;
}

/* A new zeroed entry for key, linked into m; the caller checked room. */
static struct mem_entry *
mem_insert(struct mem_map *m, uint64_t h, const void *key, size_t klen)
{
	struct mem_entry *e;
	size_t            slot;

	if (m->n >= m->nbuckets)
		mem_grow(m);
	e = xcalloc(1, sizeof *e + klen);
	e->h = h;
	e->klen = klen;
	memcpy(e->key, key, klen);
	slot = h & (m->nbuckets - 1);
	e->hnext = m->b[slot];
	m->b[slot] = e;
	m->n++;
	return e;
}

static void
mem_list_remove(struct mem_entry *e)
{
	struct mem_list *l = e->list;

	if (l == NULL)
		return;
	if (e->prev != NULL)
		e->prev->next = e->next;
	else
		l->head = e->next;
	if (e->next != NULL)
		e->next->prev = e->prev;
	else
		l->tail = e->prev;
	e->prev = e->next = NULL;
	e->list = NULL;
}

static void
mem_list_append(struct mem_list *l, struct mem_entry *e)
{
	mem_list_remove(e);
	e->prev = l->tail;
	e->next = NULL;
	if (l->tail != NULL)
		l->tail->next = e;
	else
		l->head = e;
	l->tail = e;
	e->list = l;
}

/* Unlink e from m (and from its list) and free it. */
static void
mem_remove(struct mem_map *m, struct mem_entry *e)
{
	struct mem_entry **pp;

	for (pp = &m->b[e->h & (m->nbuckets - 1)]; *pp != NULL;
	     pp = &(*pp)->hnext) {
		if (*pp == e) {
			*pp = e->hnext;
			break;
		}
	}
	mem_list_remove(e);
	m->n--;
	free(e);
}

/* Room for one more entry in m: purge once if full. 0, or -1 still full. */
static int
mem_room(struct store_memory *ms, struct mem_map *m, const char *what,
    int64_t now)
{
	if (m->n < m->max)
		return 0;
	mem_purge_locked(ms, now);
	if (m->n < m->max)
		return 0;
	log_error("store: memory: %s full (%zu live entries)", what, m->max);
	return -1;
}

/* The entry for key in m, created (zeroed) if missing; NULL when full. */
static struct mem_entry *
mem_upsert(struct store_memory *ms, struct mem_map *m, const char *what,
    const void *key, size_t klen, int64_t now)
{
	struct mem_entry *e;
	uint64_t          h = mem_hash(ms, key, klen);

	if ((e = mem_find(m, h, key, klen)) != NULL)
		return e;
	if (mem_room(ms, m, what, now) == -1)
		return NULL;
	return mem_insert(m, h, key, klen);
}

static void
mem_maybe_purge(struct store_memory *ms, int64_t now)
{
	if (now - ms->last_purge >= STORE_PURGE_INTERVAL)
		mem_purge_locked(ms, now);
}

static int
mem_revoke(struct store *st, const char *jti, int64_t exp, int64_t now)
{
	struct store_memory *ms = (struct store_memory *)st;
	struct mem_entry    *e;
	int                  rv = -1;

	pthread_mutex_lock(&ms->lock);
	mem_maybe_purge(ms, now);
	e = mem_upsert(ms, &ms->revoked, "revocations", jti, strlen(jti), now);
	if (e != NULL) {
		if (exp > e->v.exp)
			e->v.exp = exp;
		rv = 0;
	}
	pthread_mutex_unlock(&ms->lock);
	return rv;
}

static int
mem_is_revoked(struct store *st, const char *jti, int64_t now)
{
	struct store_memory *ms = (struct store_memory *)st;
	struct mem_entry    *e;
	size_t               klen = strlen(jti);
	int                  rv;

	pthread_mutex_lock(&ms->lock);
	e = mem_find(&ms->revoked, mem_hash(ms, jti, klen), jti, klen);
	rv = e != NULL && e->v.exp > now;
	pthread_mutex_unlock(&ms->lock);
	return rv;
}

static struct mem_entry *
mem_family(struct store_memory *ms, const char *family)
{
	size_t klen = strlen(family);

	return mem_find(&ms->families, mem_hash(ms, family, klen), family,
	    klen);
}

/* The family entry, created if missing, kept at least until exp. */
static struct mem_entry *
mem_family_get(struct store_memory *ms, const char *family, int64_t exp,
    int64_t now)
{
	struct mem_entry *e;

	e = mem_upsert(ms, &ms->families, "refresh families", family,
	    strlen(family), now);
	if (e != NULL && exp > e->v.fam.exp)
		e->v.fam.exp = exp;
	return e;
}

static int
mem_family_revoke_locked(struct store_memory *ms, const char *family,
    int64_t now)
{
	struct mem_entry *e;

	e = mem_family_get(ms, family, now + ms->base.family_ttl, now);
	if (e == NULL)
		return -1;
	e->v.fam.revoked = true;
	return 0;
}

static int
mem_refresh_add(struct store *st, const unsigned char *hash,
    const struct store_refresh *r, int64_t now)
{
	struct store_memory *ms = (struct store_memory *)st;
	struct mem_entry    *e;
	uint64_t             h;
	int                  rv = -1;

	pthread_mutex_lock(&ms->lock);
	mem_maybe_purge(ms, now);
	h = mem_hash(ms, hash, STORE_HASH_LEN);
	if (mem_find(&ms->refresh, h, hash, STORE_HASH_LEN) != NULL) {
		log_error("store: memory: refresh token stored twice");
		goto out;
	}
	if (mem_room(ms, &ms->refresh, "refresh tokens", now) == -1)
		goto out;
	/* The family first: a token is never live without it. */
	if (mem_family_get(ms, r->family, r->exp, now) == NULL)
		goto out;
	e = mem_insert(&ms->refresh, h, hash, STORE_HASH_LEN);
	e->v.rt.r = *r;
	rv = 0;
out:
	pthread_mutex_unlock(&ms->lock);
	return rv;
}

/*
 * The token with this hash if it is known and unexpired, else NULL; and
 * whether its family is revoked. Use and peek both judge by it, so that
 * they agree.
 */
static struct mem_entry *
mem_refresh_live(struct store_memory *ms, const unsigned char *hash,
    int64_t now, bool *revoked)
{
	struct mem_entry *e, *fam;

	e = mem_find(&ms->refresh, mem_hash(ms, hash, STORE_HASH_LEN), hash,
	    STORE_HASH_LEN);
	if (e == NULL || e->v.rt.r.exp <= now)
		return NULL;
	fam = mem_family(ms, e->v.rt.r.family);
	*revoked = fam != NULL && fam->v.fam.revoked;
	return e;
}

static int
mem_refresh_use(struct store *st, const unsigned char *hash, int64_t now,
    struct store_refresh *out)
{
	struct store_memory *ms = (struct store_memory *)st;
	struct mem_entry    *e;
	bool                 revoked;
	int                  rv = 1;

	pthread_mutex_lock(&ms->lock);
	if ((e = mem_refresh_live(ms, hash, now, &revoked)) == NULL)
		goto out;
	if (e->v.rt.used) {
		if (mem_family_revoke_locked(ms, e->v.rt.r.family, now) == 0) {
			*out = e->v.rt.r;
			rv = 2;
		} else {
			rv = -1;
		}
		goto out;
	}
	if (revoked)
		goto out;
	e->v.rt.used = true;
	*out = e->v.rt.r;
	rv = 0;
out:
	pthread_mutex_unlock(&ms->lock);
	return rv;
}

static int
mem_refresh_peek(struct store *st, const unsigned char *hash, int64_t now,
    struct store_refresh *out)
{
	struct store_memory *ms = (struct store_memory *)st;
	struct mem_entry    *e;
	bool                 revoked;
	int                  rv = 1;

	pthread_mutex_lock(&ms->lock);
	e = mem_refresh_live(ms, hash, now, &revoked);
	if (e != NULL && !e->v.rt.used && !revoked) {
		*out = e->v.rt.r;
		rv = 0;
	}
	pthread_mutex_unlock(&ms->lock);
	return rv;
}

static int
mem_family_revoke(struct store *st, const char *family, int64_t now)
{
	struct store_memory *ms = (struct store_memory *)st;
	int                  rv;

	pthread_mutex_lock(&ms->lock);
	rv = mem_family_revoke_locked(ms, family, now);
	pthread_mutex_unlock(&ms->lock);
	return rv;
}

static int
mem_refresh_revoke(struct store *st, const unsigned char *hash, int64_t now)
{
	struct store_memory *ms = (struct store_memory *)st;
	struct mem_entry    *e;
	int                  rv = 1;

	pthread_mutex_lock(&ms->lock);
	e = mem_find(&ms->refresh, mem_hash(ms, hash, STORE_HASH_LEN), hash,
	    STORE_HASH_LEN);
	if (e != NULL && e->v.rt.r.exp > now)
		rv = mem_family_revoke_locked(ms, e->v.rt.r.family, now);
	pthread_mutex_unlock(&ms->lock);
	return rv;
}

/* Make room for one counter: see the top of the file. */
static void
mem_counter_evict(struct store_memory *ms, int64_t now)
{
	struct mem_entry *e;

	e = ms->banned.head;
	if (e == NULL || e->v.ctr.expires > now)
		e = ms->counting.head;
	if (e == NULL) {
		e = ms->banned.head;
		if (ms->evicted_bans++ % 1024 == 0)
			log_warn("store: memory: counters full of bans; "
			         "dropping the one ending first");
	}
	if (e != NULL)
		mem_remove(&ms->counters, e);
}

static struct mem_entry *
mem_counter(struct store_memory *ms, const char *key)
{
	size_t klen = strlen(key);

	return mem_find(&ms->counters, mem_hash(ms, key, klen), key, klen);
}

static int
mem_fail(struct store *st, const char *key, int64_t now, int64_t find_time,
    unsigned max_retries, int64_t ban_time, int64_t *banned_until)
{
	struct store_memory *ms = (struct store_memory *)st;
	struct mem_entry    *e;
	struct mem_list     *list;
	size_t               klen = strlen(key);
	uint64_t             h;
	int64_t              expires;

	pthread_mutex_lock(&ms->lock);
	mem_maybe_purge(ms, now);
	h = mem_hash(ms, key, klen);
	e = mem_find(&ms->counters, h, key, klen);
	if (e == NULL) {
		if (ms->counters.n >= ms->counters.max)
			mem_counter_evict(ms, now);
		e = mem_insert(&ms->counters, h, key, klen);
	}
	expires = e->v.ctr.expires;
	store_counter_fail(&e->v.ctr, now, find_time, max_retries, ban_time);
	list = e->v.ctr.banned_until > now ? &ms->banned : &ms->counting;
	if (e->list != list || e->v.ctr.expires != expires)
		mem_list_append(list, e);
	if (e->v.ctr.banned_until > now)
		*banned_until = e->v.ctr.banned_until;
	pthread_mutex_unlock(&ms->lock);
	return 0;
}

static int
mem_banned(struct store *st, const char *key, int64_t now, int64_t *until)
{
	struct store_memory *ms = (struct store_memory *)st;
	struct mem_entry    *e;
	int                  rv = 0;

	pthread_mutex_lock(&ms->lock);
	e = mem_counter(ms, key);
	if (e != NULL && e->v.ctr.banned_until > now) {
		*until = e->v.ctr.banned_until;
		rv = 1;
	}
	pthread_mutex_unlock(&ms->lock);
	return rv;
}

static int
mem_clear(struct store *st, const char *key)
{
	struct store_memory *ms = (struct store_memory *)st;
	struct mem_entry    *e;

	pthread_mutex_lock(&ms->lock);
	e = mem_counter(ms, key);
	if (e != NULL && e->v.ctr.banned_until == 0) {
		mem_remove(&ms->counters, e);
	} else if (e != NULL) {
		/* A ban stays; its entry goes when the ban ends. */
		e->v.ctr.first = 0;
		e->v.ctr.fails = 0;
		e->v.ctr.expires = e->v.ctr.banned_until;
	}
	pthread_mutex_unlock(&ms->lock);
	return 0;
}

static bool
mem_expired(const struct store_memory *ms, const struct mem_map *m,
    const struct mem_entry *e, int64_t now)
{
	if (m == &ms->revoked)
		return e->v.exp <= now;
	if (m == &ms->refresh)
		return e->v.rt.r.exp <= now;
	if (m == &ms->families)
		return e->v.fam.exp <= now;
	return e->v.ctr.expires <= now;
}

static void
mem_map_purge(struct store_memory *ms, struct mem_map *m, int64_t now)
{
	struct mem_entry **pp, *e;
	size_t             i;

	for (i = 0; i < m->nbuckets; i++) {
		pp = &m->b[i];
		while ((e = *pp) != NULL) {
			if (!mem_expired(ms, m, e, now)) {
				pp = &e->hnext;
				continue;
			}
			*pp = e->hnext;
			mem_list_remove(e);
			m->n--;
			free(e);
		}
	}
}

static void
mem_purge_locked(struct store_memory *ms, int64_t now)
{
	mem_map_purge(ms, &ms->revoked, now);
	mem_map_purge(ms, &ms->refresh, now);
	mem_map_purge(ms, &ms->families, now);
	mem_map_purge(ms, &ms->counters, now);
	ms->last_purge = now;
}

static int
mem_purge(struct store *st, int64_t now)
{
	struct store_memory *ms = (struct store_memory *)st;

	pthread_mutex_lock(&ms->lock);
	mem_purge_locked(ms, now);
	pthread_mutex_unlock(&ms->lock);
	return 0;
}

static int
mem_ping(struct store *st)
{
	(void)st;
	return 0;
}

static void
mem_close(struct store *st)
{
	struct store_memory *ms = (struct store_memory *)st;

	mem_map_free(&ms->counters);
	mem_map_free(&ms->families);
	mem_map_free(&ms->refresh);
	mem_map_free(&ms->revoked);
	EVP_MAC_CTX_free(ms->mac);
	pthread_mutex_destroy(&ms->lock);
	free(ms);
}

static const struct store_ops mem_ops = {
    .name = "memory",
    .close = mem_close,
    .ping = mem_ping,
    .revoke = mem_revoke,
    .is_revoked = mem_is_revoked,
    .refresh_add = mem_refresh_add,
    .refresh_use = mem_refresh_use,
    .refresh_peek = mem_refresh_peek,
    .family_revoke = mem_family_revoke,
    .refresh_revoke = mem_refresh_revoke,
    .fail = mem_fail,
    .banned = mem_banned,
    .clear = mem_clear,
    .purge = mem_purge,
};

/* A SipHash-2-4 context with a random key and 64-bit output. */
static EVP_MAC_CTX *
mem_mac_new(void)
{
	EVP_MAC      *mac;
	EVP_MAC_CTX  *ctx = NULL;
	unsigned char key[16];
	size_t        outlen = 8;
	OSSL_PARAM    params[2];

	mac = EVP_MAC_fetch(NULL, "SIPHASH", NULL);
	if (mac == NULL)
		return NULL;
	ctx = EVP_MAC_CTX_new(mac);
	EVP_MAC_free(mac);
	if (ctx == NULL)
		return NULL;
	params[0] = OSSL_PARAM_construct_size_t(OSSL_MAC_PARAM_SIZE, &outlen);
	params[1] = OSSL_PARAM_construct_end();
	if (RAND_bytes(key, sizeof key) != 1 ||
	    EVP_MAC_init(ctx, key, sizeof key, params) != 1) {
		EVP_MAC_CTX_free(ctx);
		ctx = NULL;
	}
	OPENSSL_cleanse(key, sizeof key);
	return ctx;
}

int
store_memory_open(const struct config *cfg, struct store *base,
    struct store **out, char *err, size_t errlen)
{
	struct store_memory *ms;

	(void)cfg;
	ms = xcalloc(1, sizeof *ms);
	ms->mac = mem_mac_new();
	if (ms->mac == NULL) {
		snprintf(err, errlen, "memory store: SipHash unavailable");
		free(ms);
		return -1;
	}
	ms->base = *base;
	ms->base.ops = &mem_ops;
	pthread_mutex_init(&ms->lock, NULL);
	mem_map_init(&ms->revoked, base->limits.max_revoked);
	mem_map_init(&ms->refresh, base->limits.max_refresh);
	mem_map_init(&ms->families, base->limits.max_refresh);
	mem_map_init(&ms->counters, base->limits.max_counters);
	*out = &ms->base;
	return 0;
}
