/*
 * store.c - the store interface: argument checks, then the driver.
 *
 * Arguments are checked here once, so that a too long jti or key is the
 * same error (-1, logged) whatever the driver, and drivers can size their
 * buffers and columns from store.h.
 */
#include "store.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "store_impl.h"

static bool
store_str_ok(const char *what, const char *s, size_t max)
{
	size_t n;

	if (s == NULL || *s == '\0') {
		log_error("store: empty %s", what);
		return false;
	}
	n = strnlen(s, max + 1);
	if (n > max) {
		log_error("store: %s longer than %zu bytes", what, max);
		return false;
	}
	return true;
}

static bool
store_refresh_ok(const struct store_refresh *r)
{
	if (r == NULL)
		return false;
	if (memchr(r->family, '\0', sizeof r->family) == NULL ||
	    r->family[0] == '\0' ||
	    memchr(r->sub, '\0', sizeof r->sub) == NULL ||
	    memchr(r->scope, '\0', sizeof r->scope) == NULL) {
		log_error("store: malformed refresh token record");
		return false;
	}
	return true;
}

void
store_counter_fail(struct store_counter *c, int64_t now, int64_t find_time,
    unsigned max_retries, int64_t ban_time)
{
	int64_t window_end;

	if (c->banned_until > now)
		return; /* banned: nothing more to count */
	c->banned_until = 0;
	if (c->first == 0 || now - c->first >= find_time) {
		c->first = now;
		c->fails = 0;
	}
	c->fails++;
	if (c->fails >= max_retries) {
		c->banned_until = now + ban_time;
		c->first = 0;
		c->fails = 0;
	}
	window_end = c->first != 0 ? c->first + find_time : 0;
	c->expires =
	    window_end > c->banned_until ? window_end : c->banned_until;
}

int
store_open_limits(const struct config *cfg, const struct store_limits *limits,
    struct store **out, char *err, size_t errlen)
{
	struct store base;

	*out = NULL;
	memset(&base, 0, sizeof base);
	if (limits != NULL)
		base.limits = *limits;
	if (base.limits.max_revoked == 0)
		base.limits.max_revoked = STORE_DEFAULT_MAX_REVOKED;
	if (base.limits.max_refresh == 0)
		base.limits.max_refresh = STORE_DEFAULT_MAX_REFRESH;
	if (base.limits.max_counters == 0)
		base.limits.max_counters = STORE_DEFAULT_MAX_COUNTERS;
	base.leeway = cfg->token.leeway > 0 ? cfg->token.leeway : 0;
	base.family_ttl = cfg->oauth2.refresh_ttl > 0
	    ? cfg->oauth2.refresh_ttl
	    : STORE_FAMILY_TTL_DEFAULT;

	switch (cfg->store.driver) {
	case STORE_SQLITE:
		return store_sqlite_open(cfg, &base, out, err, errlen);
	case STORE_MEMORY:
		return store_memory_open(cfg, &base, out, err, errlen);
	case STORE_REDIS: return store_redis_open(cfg, &base, out, err, errlen);
	}
	snprintf(err, errlen, "unknown store driver %d",
	    (int)cfg->store.driver);
	return -1;
}

int
store_open(const struct config *cfg, struct store **out, char *err,
    size_t errlen)
{
	return store_open_limits(cfg, NULL, out, err, errlen);
}

void
store_close(struct store *st)
{
	if (st != NULL)
		st->ops->close(st);
}

const char *
store_driver_name(const struct store *st)
{
	return st->ops->name;
}

int
store_ping(struct store *st)
{
	return st->ops->ping(st);
}

int
store_revoke(struct store *st, const char *jti, int64_t exp, int64_t now)
{
	if (!store_str_ok("jti", jti, STORE_JTI_MAX))
		return -1;
	/* A token is accepted up to leeway after its exp: so is it revoked. */
	if (exp > INT64_MAX - st->leeway)
		exp = INT64_MAX;
	else
		exp += st->leeway;
	if (exp <= now)
		return 0; /* nothing would accept the token any more */
	return st->ops->revoke(st, jti, exp, now);
}

int
store_is_revoked(struct store *st, const char *jti, int64_t now)
{
	if (!store_str_ok("jti", jti, STORE_JTI_MAX))
		return -1;
	return st->ops->is_revoked(st, jti, now);
}

int
store_refresh_add(struct store *st, const unsigned char hash[32],
    const struct store_refresh *r, int64_t now)
{
	if (hash == NULL || !store_refresh_ok(r))
		return -1;
	if (r->exp <= now) {
		log_error("store: refresh token added already expired");
		return -1;
	}
	return st->ops->refresh_add(st, hash, r, now);
}

int
store_refresh_use(struct store *st, const unsigned char hash[32], int64_t now,
    struct store_refresh *out)
{
	struct store_refresh tmp;

	if (out == NULL)
		out = &tmp;
	memset(out, 0, sizeof *out);
	if (hash == NULL)
		return -1;
	return st->ops->refresh_use(st, hash, now, out);
}

int
store_refresh_peek(struct store *st, const unsigned char hash[32], int64_t now,
    struct store_refresh *out)
{
	struct store_refresh tmp;
	int                  rv;

	if (out == NULL)
		out = &tmp;
	memset(out, 0, sizeof *out);
	if (hash == NULL)
		return -1;
	rv = st->ops->refresh_peek(st, hash, now, out);
	if (rv != 0)
		memset(out, 0, sizeof *out); /* promised, whatever the driver */
	return rv;
}

int
store_family_revoke(struct store *st, const char *family, int64_t now)
{
	if (!store_str_ok("refresh family", family,
	        sizeof((struct store_refresh *)0)->family - 1))
		return -1;
	return st->ops->family_revoke(st, family, now);
}

int
store_refresh_revoke(struct store *st, const unsigned char hash[32],
    int64_t now)
{
	if (hash == NULL)
		return -1;
	return st->ops->refresh_revoke(st, hash, now);
}

int
store_fail(struct store *st, const char *key, int64_t now, int64_t find_time,
    unsigned max_retries, int64_t ban_time, int64_t *banned_until)
{
	*banned_until = 0;
	if (!store_str_ok("counter key", key, STORE_KEY_MAX))
		return -1;
	if (max_retries == 0)
		return 0;
	return st->ops->fail(st, key, now, find_time, max_retries, ban_time,
	    banned_until);
}

int
store_banned(struct store *st, const char *key, int64_t now, int64_t *until)
{
	*until = 0;
	if (!store_str_ok("counter key", key, STORE_KEY_MAX))
		return -1;
	return st->ops->banned(st, key, now, until);
}

int
store_clear(struct store *st, const char *key)
{
	if (!store_str_ok("counter key", key, STORE_KEY_MAX))
		return -1;
	return st->ops->clear(st, key);
}

int
store_purge(struct store *st, int64_t now)
{
	return st->ops->purge(st, now);
}
