/*
 * store_impl.h - the driver vtable behind store.h, private to store*.c.
 *
 * store.c checks arguments (lengths, NULLs) once, so drivers may rely on
 * NUL-terminated strings that fit their limits. Each driver embeds
 * struct store as the first member of its own state.
 */
#ifndef JWTGATE_STORE_IMPL_H
#define JWTGATE_STORE_IMPL_H

#include "store.h"

/* Keep a revoked family at least this long when nothing says longer. */
#define STORE_FAMILY_TTL_DEFAULT (30 * 86400)

/* Drivers purge on their own at most this often (seconds of `now`). */
#define STORE_PURGE_INTERVAL 60

struct store_ops {
	const char *name;
	void (*close)(struct store *);
	int (*ping)(struct store *);
	int (*revoke)(struct store *, const char *, int64_t, int64_t);
	int (*is_revoked)(struct store *, const char *, int64_t);
	int (*refresh_add)(struct store *, const unsigned char *,
	    const struct store_refresh *, int64_t);
	int (*refresh_use)(struct store *, const unsigned char *, int64_t,
	    struct store_refresh *);
	int (*refresh_peek)(struct store *, const unsigned char *, int64_t,
	    struct store_refresh *);
	int (*family_revoke)(struct store *, const char *, int64_t);
	int (*refresh_revoke)(struct store *, const unsigned char *, int64_t);
	int (*fail)(struct store *, const char *, int64_t, int64_t, unsigned,
	    int64_t, int64_t *);
	int (*banned)(struct store *, const char *, int64_t, int64_t *);
	int (*clear)(struct store *, const char *);
	int (*purge)(struct store *, int64_t);
};

struct store {
	const struct store_ops *ops;
	struct store_limits     limits; /* defaults filled in */
	int64_t family_ttl;             /* keep a revoked family this long */
	int64_t leeway;                 /* [token] leeway, added to exp */
};

/*
 * One failure counter, as every driver computes it. The entry may be
 * forgotten once now >= expires.
 */
struct store_counter {
	int64_t  first;        /* start of the window; 0: none open */
	int64_t  banned_until; /* 0: never banned */
	int64_t  expires;
	uint32_t fails;
};

void store_counter_fail(struct store_counter *c, int64_t now, int64_t find_time,
    unsigned max_retries, int64_t ban_time);

/* Driver constructors: 0, or -1 with err filled. */
int store_sqlite_open(const struct config *cfg, struct store *base,
    struct store **out, char *err, size_t errlen);
int store_memory_open(const struct config *cfg, struct store *base,
    struct store **out, char *err, size_t errlen);
int store_redis_open(const struct config *cfg, struct store *base,
    struct store **out, char *err, size_t errlen);

#endif
