/*
 * store_redis.c - the redis driver, shared by many nodes (SPEC section 9);
 * the only file that includes hiredis.
 *
 * Keys, all under "jwtgate:", each with a TTL so that nothing outlives its
 * use:
 *   jwtgate:jti:JTI     string, the exp of a revoked token
 *   jwtgate:rt:HEX      hash {family, sub, scope, exp, used}, by the
 *                       SHA-256 of a refresh token, in hex
 *   jwtgate:fam:FAMILY  hash {exp, revoked}
 *   jwtgate:ctr:KEY     hash {first, banned_until, expires, fails}
 * Values carry their own times and are judged against the caller's `now`;
 * TTLs only reclaim memory. Every read-modify-write is one Lua script, so
 * it is atomic across nodes; refresh use and reuse detection read and
 * write a token key and a family key in one script, and refresh peek reads
 * the same two in one script that writes nothing (a single Redis primary
 * is supported, not Redis Cluster).
 *
 * Durability is the server's: with appendonly yes and appendfsync always,
 * Redis writes a command to disk before it answers, and an answered
 * revocation survives kill -9 of either process.
 *
 * Worker threads share a pool of connections (at most RD_MAX_CONN, then
 * they wait). A connection that fails is dropped and the next call opens
 * a new one, and the idle ones are dropped with it (they are likely cut
 * too); idempotent commands are retried once on a fresh connection, the
 * others surface as -1 (a retried refresh use could read as reuse).
 */
#include "store.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <hiredis/hiredis.h>

#include "log.h"
#include "store_impl.h"
#include "xmalloc.h"

#define RD_MAX_CONN   32
#define RD_TIMEOUT_MS 2000
#define RD_MAX_ARGS   12
#define RD_PREFIX     "jwtgate:"

/* Revoke the family key fk (exp at least now + ttl); a Lua fragment the
 * scripts that revoke share. */
#define RD_LUA_FAMILY_REVOKE                                                   \
	"local function family_revoke(fk, now, ttl)\n"                         \
	"  local keep = now + ttl\n"                                           \
	"  local e = tonumber(redis.call('HGET', fk, 'exp') or '0')\n"         \
	"  if keep > e then redis.call('HSET', fk, 'exp', keep) end\n"         \
	"  redis.call('HSET', fk, 'revoked', '1')\n"                           \
	"  if redis.call('TTL', fk) < ttl then\n"                              \
	"    redis.call('EXPIRE', fk, ttl)\n"                                  \
	"  end\n"                                                              \
	"end\n"

enum rd_script {
	RD_REVOKE = 0,
	RD_REFRESH_ADD,
	RD_REFRESH_USE,
	RD_REFRESH_PEEK,
	RD_FAMILY_REVOKE,
	RD_REFRESH_REVOKE,
	RD_FAIL,
	RD_CLEAR,
	RD_NSCRIPT,
};

static const char *const rd_lua[RD_NSCRIPT] = {
    /* KEYS: jti key. ARGV: exp, ttl. The later exp wins. */
    [RD_REVOKE] = "local old = tonumber(redis.call('GET', KEYS[1]) or '0')\n"
                  "if tonumber(ARGV[1]) > old then\n"
                  "  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])\n"
                  "end\n"
                  "return 0\n",

    /* KEYS: token key, family key. ARGV: family, sub, scope, exp, ttl. */
    [RD_REFRESH_ADD] =
        "if redis.call('EXISTS', KEYS[1]) == 1 then\n"
        "  return redis.error_reply('refresh token stored twice')\n"
        "end\n"
        "redis.call('HSET', KEYS[1], 'family', ARGV[1], 'sub', ARGV[2],\n"
        "    'scope', ARGV[3], 'exp', ARGV[4], 'used', '0')\n"
        "redis.call('EXPIRE', KEYS[1], ARGV[5])\n"
        "local e = tonumber(redis.call('HGET', KEYS[2], 'exp') or '0')\n"
        "if tonumber(ARGV[4]) > e then\n"
        "  redis.call('HSET', KEYS[2], 'exp', ARGV[4])\n"
        "end\n"
        "if redis.call('TTL', KEYS[2]) < tonumber(ARGV[5]) then\n"
        "  redis.call('EXPIRE', KEYS[2], ARGV[5])\n"
        "end\n"
        "return 0\n",

    /* KEYS: token key. ARGV: now, family key prefix, family ttl.
	 * {0|2, family, sub, scope, exp} | {1}, as store_refresh_use(). */
    [RD_REFRESH_USE] = RD_LUA_FAMILY_REVOKE
    "local t = redis.call('HMGET', KEYS[1], 'family', 'sub', 'scope',\n"
    "    'exp', 'used')\n"
    "local now = tonumber(ARGV[1])\n"
    "if not t[1] or tonumber(t[4]) <= now then return {1} end\n"
    "local fk = ARGV[2] .. t[1]\n"
    "if t[5] == '1' then\n"
    "  family_revoke(fk, now, tonumber(ARGV[3]))\n"
    "  return {2, t[1], t[2], t[3], t[4]}\n"
    "end\n"
    "if redis.call('HGET', fk, 'revoked') == '1' then return {1} end\n"
    "redis.call('HSET', KEYS[1], 'used', '1')\n"
    "return {0, t[1], t[2], t[3], t[4]}\n",

    /* KEYS: token key. ARGV: now, family key prefix. Reads the keys
	 * refresh use reads, as it judges them, and writes nothing.
	 * {0, family, sub, scope, exp} | {1}, as store_refresh_peek(). */
    [RD_REFRESH_PEEK] =
        "local t = redis.call('HMGET', KEYS[1], 'family', 'sub', 'scope',\n"
        "    'exp', 'used')\n"
        "if not t[1] or tonumber(t[4]) <= tonumber(ARGV[1]) then\n"
        "  return {1}\n"
        "end\n"
        "if t[5] == '1' then return {1} end\n"
        "if redis.call('HGET', ARGV[2] .. t[1], 'revoked') == '1' then\n"
        "  return {1}\n"
        "end\n"
        "return {0, t[1], t[2], t[3], t[4]}\n",

    /* KEYS: family key. ARGV: now, ttl. */
    [RD_FAMILY_REVOKE] = RD_LUA_FAMILY_REVOKE
    "family_revoke(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]))\n"
    "return 0\n",

    /* KEYS: token key. ARGV: now, family key prefix, family ttl. */
    [RD_REFRESH_REVOKE] = RD_LUA_FAMILY_REVOKE
    "local t = redis.call('HMGET', KEYS[1], 'family', 'exp')\n"
    "local now = tonumber(ARGV[1])\n"
    "if not t[1] or tonumber(t[2]) <= now then return 1 end\n"
    "family_revoke(ARGV[2] .. t[1], now, tonumber(ARGV[3]))\n"
    "return 0\n",

    /* KEYS: counter key. ARGV: now, find_time, max_retries, ban_time.
	 * Returns the ban's end or 0. Mirrors store_counter_fail(). */
    [RD_FAIL] =
        "local c = redis.call('HMGET', KEYS[1], 'first', 'banned_until',\n"
        "    'fails')\n"
        "local now, find = tonumber(ARGV[1]), tonumber(ARGV[2])\n"
        "local first = tonumber(c[1] or '0')\n"
        "local banned = tonumber(c[2] or '0')\n"
        "local fails = tonumber(c[3] or '0')\n"
        "if banned > now then return banned end\n"
        "banned = 0\n"
        "if first == 0 or now - first >= find then\n"
        "  first = now\n"
        "  fails = 0\n"
        "end\n"
        "fails = fails + 1\n"
        "if fails >= tonumber(ARGV[3]) then\n"
        "  banned = now + tonumber(ARGV[4])\n"
        "  first = 0\n"
        "  fails = 0\n"
        "end\n"
        "local expires = banned\n"
        "if first ~= 0 and first + find > expires then\n"
        "  expires = first + find\n"
        "end\n"
        "redis.call('HSET', KEYS[1], 'first', first, 'banned_until', banned,\n"
        "    'expires', expires, 'fails', fails)\n"
        "local ttl = expires - now\n"
        "if ttl < 1 then ttl = 1 end\n"
        "redis.call('EXPIRE', KEYS[1], ttl)\n"
        "if banned > now then return banned end\n"
        "return 0\n",

    /* KEYS: counter key. Forget the count, keep a ban. */
    [RD_CLEAR] =
        "local b = tonumber(redis.call('HGET', KEYS[1], 'banned_until')\n"
        "    or '0')\n"
        "if b == 0 then\n"
        "  redis.call('DEL', KEYS[1])\n"
        "else\n"
        "  redis.call('HSET', KEYS[1], 'first', 0, 'fails', 0,\n"
        "      'expires', b)\n"
        "end\n"
        "return 0\n",
};

struct rd_conn {
	struct rd_conn *next;
	redisContext   *ctx;
};

struct store_redis {
	struct store    base;
	char           *url;
	char           *host; /* NULL for a unix socket */
	char           *sockpath;
	int             port;
	int             db;
	char            sha[RD_NSCRIPT][41];
	pthread_mutex_t lock; /* guards what follows */
	pthread_cond_t  cond;
	struct rd_conn *idle;
	size_t          nconn;
};

/* The arguments of one command. */
struct rd_args {
	int         n;
	const char *v[RD_MAX_ARGS];
	size_t      len[RD_MAX_ARGS];
	char        num[RD_MAX_ARGS][24];
};

static void
rd_arg(struct rd_args *a, const char *s, size_t len)
{
	a->v[a->n] = s;
	a->len[a->n] = len;
	a->n++;
}

static void
rd_arg_str(struct rd_args *a, const char *s)
{
	rd_arg(a, s, strlen(s));
}

static void
rd_arg_int(struct rd_args *a, int64_t v)
{
	int n =
	    snprintf(a->num[a->n], sizeof a->num[a->n], "%lld", (long long)v);

	rd_arg(a, a->num[a->n], (size_t)n);
}

/*
 * Parse redis://HOST[:PORT][/DB] (HOST may be [V6]) or unix:/path.
 * 0, or -1 with err filled.
 */
static int
rd_parse_url(struct store_redis *rs, const char *url, char *err, size_t errlen)
{
	const char *p, *end, *colon;
	char       *ep;
	long        v;

	rs->port = 6379;
	if (strncmp(url, "unix:/", 6) == 0) {
		rs->sockpath = xstrdup(url + 5);
		return 0;
	}
	if (strncmp(url, "redis://", 8) != 0)
		goto bad;
	p = url + 8;
	end = p + strcspn(p, "/");
	if (*p == '[') {
		colon = memchr(p, ']', (size_t)(end - p));
		if (colon == NULL || colon == p + 1)
			goto bad;
		rs->host = xstrndup(p + 1, (size_t)(colon - p - 1));
		colon++;
		if (colon != end && *colon != ':')
			goto bad;
	} else {
		colon = memchr(p, ':', (size_t)(end - p));
		if (colon == NULL)
			colon = end;
		if (colon == p)
			goto bad;
		rs->host = xstrndup(p, (size_t)(colon - p));
	}
	if (colon != end) {
		errno = 0;
		v = strtol(colon + 1, &ep, 10);
		if (ep != end || colon + 1 == end || errno != 0 || v < 1 ||
		    v > 65535)
			goto bad;
		rs->port = (int)v;
	}
	if (*end == '/' && end[1] != '\0') {
		errno = 0;
		v = strtol(end + 1, &ep, 10);
		if (*ep != '\0' || errno != 0 || v < 0 || v > 65535)
			goto bad;
		rs->db = (int)v;
	}
	return 0;
bad:
	snprintf(err, errlen, "%s: not redis://HOST:PORT/DB or unix:/path",
	    url);
	return -1;
}

static struct timeval
rd_timeout(void)
{
	struct timeval tv;

	tv.tv_sec = RD_TIMEOUT_MS / 1000;
	tv.tv_usec = (RD_TIMEOUT_MS % 1000) * 1000;
	return tv;
}

/* A connected context, database selected; NULL with err filled. */
static redisContext *
rd_connect(struct store_redis *rs, char *err, size_t errlen)
{
	redisContext *ctx;
	redisReply   *r = NULL;

	if (rs->sockpath != NULL)
		ctx = redisConnectUnixWithTimeout(rs->sockpath, rd_timeout());
	else
		ctx = redisConnectWithTimeout(rs->host, rs->port, rd_timeout());
	if (ctx == NULL) {
		snprintf(err, errlen, "%s: cannot allocate a connection",
		    rs->url);
		return NULL;
	}
	if (ctx->err != 0) {
		snprintf(err, errlen, "%s: %s", rs->url, ctx->errstr);
		goto fail;
	}
	if (redisSetTimeout(ctx, rd_timeout()) != REDIS_OK) {
		snprintf(err, errlen, "%s: %s", rs->url, ctx->errstr);
		goto fail;
	}
	if (rs->db == 0)
		return ctx;
	r = redisCommand(ctx, "SELECT %d", rs->db);
	if (r == NULL) {
		snprintf(err, errlen, "%s: %s", rs->url, ctx->errstr);
		goto fail;
	}
	if (r->type == REDIS_REPLY_ERROR) {
		snprintf(err, errlen, "%s: SELECT %d: %s", rs->url, rs->db,
		    r->str);
		goto fail;
	}
	freeReplyObject(r);
	return ctx;
fail:
	if (r != NULL)
		freeReplyObject(r);
	redisFree(ctx);
	return NULL;
}

/* A connection: an idle one (*fresh false), else a new one. */
static struct rd_conn *
rd_acquire(struct store_redis *rs, bool *fresh)
{
	struct rd_conn *c;
	char            err[512];

	pthread_mutex_lock(&rs->lock);
	while (rs->idle == NULL && rs->nconn >= RD_MAX_CONN)
		pthread_cond_wait(&rs->cond, &rs->lock);
	if ((c = rs->idle) != NULL) {
		rs->idle = c->next;
		pthread_mutex_unlock(&rs->lock);
		*fresh = false;
		return c;
	}
	rs->nconn++;
	pthread_mutex_unlock(&rs->lock);

	*fresh = true;
	c = xcalloc(1, sizeof *c);
	if ((c->ctx = rd_connect(rs, err, sizeof err)) != NULL)
		return c;
	log_error("store: redis: %s", err);
	free(c);
	pthread_mutex_lock(&rs->lock);
	rs->nconn--;
	pthread_cond_signal(&rs->cond);
	pthread_mutex_unlock(&rs->lock);
	return NULL;
}

/*
 * Back to the pool; or, if it failed, closed with every idle connection:
 * they were most likely cut by the same server restart or network fault,
 * and the next call should not find them first.
 */
static void
rd_release(struct store_redis *rs, struct rd_conn *c)
{
	struct rd_conn *stale = NULL, *next;

	pthread_mutex_lock(&rs->lock);
	if (c->ctx->err == 0) {
		c->next = rs->idle;
		rs->idle = c;
	} else {
		c->next = rs->idle;
		stale = c;
		rs->idle = NULL;
		for (next = stale; next != NULL; next = next->next)
			rs->nconn--;
	}
	pthread_cond_broadcast(&rs->cond);
	pthread_mutex_unlock(&rs->lock);
	for (; stale != NULL; stale = next) {
		next = stale->next;
		redisFree(stale->ctx);
		free(stale);
	}
}

/*
 * Run one command. NULL on any failure, logged (an error reply too); else
 * the reply, which the caller frees. retry: the command is idempotent and
 * may be sent again on a fresh connection when a pooled one has failed.
 */
static redisReply *
rd_call(struct store_redis *rs, struct rd_args *a, bool retry, const char *what)
{
	struct rd_conn *c;
	redisReply     *r;
	bool            fresh;

	for (;;) {
		if ((c = rd_acquire(rs, &fresh)) == NULL)
			return NULL;
		r = redisCommandArgv(c->ctx, a->n, a->v, a->len);
		if (r == NULL) {
			log_error("store: redis: %s: %s: %s", rs->url, what,
			    c->ctx->errstr);
			if (c->ctx->err == 0)
				c->ctx->err = REDIS_ERR_OTHER;
			rd_release(rs, c);
			if (retry && !fresh)
				continue;
			return NULL;
		}
		rd_release(rs, c);
		if (r->type == REDIS_REPLY_ERROR) {
			if (strncmp(r->str, "NOSCRIPT", 8) != 0)
				log_error("store: redis: %s: %s: %s", rs->url,
				    what, r->str);
			return r; /* the caller tells NOSCRIPT from others */
		}
		return r;
	}
}

/* Run script s with nkeys keys and the arguments in a (after the keys);
 * EVALSHA first, EVAL when the server has lost the script. */
static redisReply *
rd_eval(struct store_redis *rs, enum rd_script s, int nkeys,
    const struct rd_args *keys_args, bool retry, const char *what)
{
	struct rd_args a;
	redisReply    *r;
	int            i;

	memset(&a, 0, sizeof a);
	rd_arg_str(&a, "EVALSHA");
	rd_arg_str(&a, rs->sha[s]);
	rd_arg_int(&a, nkeys);
	for (i = 0; i < keys_args->n && a.n < RD_MAX_ARGS; i++)
		rd_arg(&a, keys_args->v[i], keys_args->len[i]);
	r = rd_call(rs, &a, retry, what);
	if (r != NULL && r->type == REDIS_REPLY_ERROR &&
	    strncmp(r->str, "NOSCRIPT", 8) == 0) {
		freeReplyObject(r);
		a.v[0] = "EVAL";
		a.len[0] = 4;
		a.v[1] = rd_lua[s];
		a.len[1] = strlen(rd_lua[s]);
		r = rd_call(rs, &a, retry, what);
	}
	if (r != NULL && r->type == REDIS_REPLY_ERROR) {
		freeReplyObject(r);
		return NULL;
	}
	return r;
}

/* An integer reply as an int64, for scripts; -1 on anything else. */
static int
rd_int(redisReply *r, int64_t *v)
{
	int rv = -1;

	if (r == NULL)
		return -1;
	if (r->type == REDIS_REPLY_INTEGER) {
		*v = r->integer;
		rv = 0;
	} else {
		log_error("store: redis: unexpected reply type %d", r->type);
	}
	freeReplyObject(r);
	return rv;
}

static void
rd_key(char *buf, size_t len, const char *kind, const char *name)
{
	snprintf(buf, len, RD_PREFIX "%s:%s", kind, name);
}

static void
rd_hash_key(char *buf, size_t len, const unsigned char *hash)
{
	static const char hex[] = "0123456789abcdef";
	char              h[STORE_HASH_LEN * 2 + 1];
	size_t            i;

	for (i = 0; i < STORE_HASH_LEN; i++) {
		h[2 * i] = hex[hash[i] >> 4];
		h[2 * i + 1] = hex[hash[i] & 0xf];
	}
	h[sizeof h - 1] = '\0';
	rd_key(buf, len, "rt", h);
}

static int
rd_revoke(struct store *st, const char *jti, int64_t exp, int64_t now)
{
	struct store_redis *rs = (struct store_redis *)st;
	struct rd_args      a;
	char                key[STORE_JTI_MAX + 32];
	int64_t             v;

	memset(&a, 0, sizeof a);
	rd_key(key, sizeof key, "jti", jti);
	rd_arg_str(&a, key);
	rd_arg_int(&a, exp);
	rd_arg_int(&a, exp - now);
	return rd_int(rd_eval(rs, RD_REVOKE, 1, &a, true, "revoke"), &v);
}

static int
rd_is_revoked(struct store *st, const char *jti, int64_t now)
{
	struct store_redis *rs = (struct store_redis *)st;
	struct rd_args      a;
	redisReply         *r;
	char                key[STORE_JTI_MAX + 32];
	int                 rv = -1;

	memset(&a, 0, sizeof a);
	rd_key(key, sizeof key, "jti", jti);
	rd_arg_str(&a, "GET");
	rd_arg_str(&a, key);
	if ((r = rd_call(rs, &a, true, "is_revoked")) == NULL)
		return -1;
	if (r->type == REDIS_REPLY_NIL)
		rv = 0;
	else if (r->type == REDIS_REPLY_STRING)
		rv = strtoll(r->str, NULL, 10) > now;
	else
		log_error("store: redis: %s: is_revoked: unexpected reply",
		    rs->url);
	freeReplyObject(r);
	return rv;
}

static int
rd_refresh_add(struct store *st, const unsigned char *hash,
    const struct store_refresh *r, int64_t now)
{
	struct store_redis *rs = (struct store_redis *)st;
	struct rd_args      a;
	char                key[128], fkey[128];
	int64_t             v;

	memset(&a, 0, sizeof a);
	rd_hash_key(key, sizeof key, hash);
	rd_key(fkey, sizeof fkey, "fam", r->family);
	rd_arg_str(&a, key);
	rd_arg_str(&a, fkey);
	rd_arg_str(&a, r->family);
	rd_arg_str(&a, r->sub);
	rd_arg_str(&a, r->scope);
	rd_arg_int(&a, r->exp);
	rd_arg_int(&a, r->exp - now);
	return rd_int(rd_eval(rs, RD_REFRESH_ADD, 2, &a, false, "refresh add"),
	    &v);
}

/* Copy a string element of a reply; -1 if it is not one or too long. */
static int
rd_copy(const redisReply *e, char *buf, size_t len)
{
	if (e->type != REDIS_REPLY_STRING || e->len >= len)
		return -1;
	memcpy(buf, e->str, e->len);
	buf[e->len] = '\0';
	return 0;
}

/*
 * The reply of a refresh script, {0|2, family, sub, scope, exp} or {1},
 * freed: its code, *out filled for 0 and 2; or -1, logged.
 */
static int
rd_refresh_reply(struct store_redis *rs, redisReply *r,
    struct store_refresh *out, const char *what)
{
	redisReply **e;
	int          rv = -1;

	if (r == NULL)
		return -1;
	e = r->element;
	if (r->type != REDIS_REPLY_ARRAY || r->elements < 1 ||
	    e[0]->type != REDIS_REPLY_INTEGER)
		goto bad;
	if (e[0]->integer == 1) {
		rv = 1;
		goto out;
	}
	if ((e[0]->integer != 0 && e[0]->integer != 2) || r->elements != 5 ||
	    rd_copy(e[1], out->family, sizeof out->family) == -1 ||
	    rd_copy(e[2], out->sub, sizeof out->sub) == -1 ||
	    rd_copy(e[3], out->scope, sizeof out->scope) == -1 ||
	    e[4]->type != REDIS_REPLY_STRING)
		goto bad;
	out->exp = strtoll(e[4]->str, NULL, 10);
	rv = (int)e[0]->integer;
	goto out;
bad:
	memset(out, 0, sizeof *out);
	log_error("store: redis: %s: %s: unexpected reply", rs->url, what);
out:
	freeReplyObject(r);
	return rv;
}

static int
rd_refresh_use(struct store *st, const unsigned char *hash, int64_t now,
    struct store_refresh *out)
{
	struct store_redis *rs = (struct store_redis *)st;
	struct rd_args      a;
	char                key[128];

	memset(&a, 0, sizeof a);
	rd_hash_key(key, sizeof key, hash);
	rd_arg_str(&a, key);
	rd_arg_int(&a, now);
	rd_arg_str(&a, RD_PREFIX "fam:");
	rd_arg_int(&a, st->family_ttl);
	return rd_refresh_reply(rs,
	    rd_eval(rs, RD_REFRESH_USE, 1, &a, false, "refresh use"), out,
	    "refresh use");
}

/* Read-only, so retried on a fresh connection like the other reads. */
static int
rd_refresh_peek(struct store *st, const unsigned char *hash, int64_t now,
    struct store_refresh *out)
{
	struct store_redis *rs = (struct store_redis *)st;
	struct rd_args      a;
	char                key[128];
	int                 rv;

	memset(&a, 0, sizeof a);
	rd_hash_key(key, sizeof key, hash);
	rd_arg_str(&a, key);
	rd_arg_int(&a, now);
	rd_arg_str(&a, RD_PREFIX "fam:");
	rv = rd_refresh_reply(rs,
	    rd_eval(rs, RD_REFRESH_PEEK, 1, &a, true, "refresh peek"), out,
	    "refresh peek");
	if (rv == 2) {
		log_error("store: redis: %s: refresh peek: unexpected reply",
		    rs->url);
		rv = -1;
	}
	return rv;
}

static int
rd_family_revoke(struct store *st, const char *family, int64_t now)
{
	struct store_redis *rs = (struct store_redis *)st;
	struct rd_args      a;
	char                fkey[128];
	int64_t             v;

	memset(&a, 0, sizeof a);
	rd_key(fkey, sizeof fkey, "fam", family);
	rd_arg_str(&a, fkey);
	rd_arg_int(&a, now);
	rd_arg_int(&a, st->family_ttl);
	return rd_int(rd_eval(rs, RD_FAMILY_REVOKE, 1, &a, true,
	                  "family revoke"),
	    &v);
}

static int
rd_refresh_revoke(struct store *st, const unsigned char *hash, int64_t now)
{
	struct store_redis *rs = (struct store_redis *)st;
	struct rd_args      a;
	char                key[128];
	int64_t             v;

	memset(&a, 0, sizeof a);
	rd_hash_key(key, sizeof key, hash);
	rd_arg_str(&a, key);
	rd_arg_int(&a, now);
	rd_arg_str(&a, RD_PREFIX "fam:");
	rd_arg_int(&a, st->family_ttl);
	if (rd_int(rd_eval(rs, RD_REFRESH_REVOKE, 1, &a, true,
	               "refresh revoke"),
	        &v) == -1)
		return -1;
	return v == 0 ? 0 : 1;
}

static int
rd_fail(struct store *st, const char *key, int64_t now, int64_t find_time,
    unsigned max_retries, int64_t ban_time, int64_t *banned_until)
{
	struct store_redis *rs = (struct store_redis *)st;
	struct rd_args      a;
	char                k[STORE_KEY_MAX + 32];
	int64_t             v;

	memset(&a, 0, sizeof a);
	rd_key(k, sizeof k, "ctr", key);
	rd_arg_str(&a, k);
	rd_arg_int(&a, now);
	rd_arg_int(&a, find_time);
	rd_arg_int(&a, max_retries);
	rd_arg_int(&a, ban_time);
	if (rd_int(rd_eval(rs, RD_FAIL, 1, &a, false, "fail"), &v) == -1)
		return -1;
	*banned_until = v;
	return 0;
}

static int
rd_banned(struct store *st, const char *key, int64_t now, int64_t *until)
{
	struct store_redis *rs = (struct store_redis *)st;
	struct rd_args      a;
	redisReply         *r;
	char                k[STORE_KEY_MAX + 32];
	int64_t             b;
	int                 rv = -1;

	memset(&a, 0, sizeof a);
	rd_key(k, sizeof k, "ctr", key);
	rd_arg_str(&a, "HGET");
	rd_arg_str(&a, k);
	rd_arg_str(&a, "banned_until");
	if ((r = rd_call(rs, &a, true, "banned")) == NULL)
		return -1;
	if (r->type == REDIS_REPLY_NIL) {
		rv = 0;
	} else if (r->type == REDIS_REPLY_STRING) {
		b = strtoll(r->str, NULL, 10);
		rv = b > now;
		if (rv)
			*until = b;
	} else {
		log_error("store: redis: %s: banned: unexpected reply",
		    rs->url);
	}
	freeReplyObject(r);
	return rv;
}

static int
rd_clear(struct store *st, const char *key)
{
	struct store_redis *rs = (struct store_redis *)st;
	struct rd_args      a;
	char                k[STORE_KEY_MAX + 32];
	int64_t             v;

	memset(&a, 0, sizeof a);
	rd_key(k, sizeof k, "ctr", key);
	rd_arg_str(&a, k);
	return rd_int(rd_eval(rs, RD_CLEAR, 1, &a, true, "clear"), &v);
}

static int
rd_purge(struct store *st, int64_t now)
{
	(void)st;
	(void)now;
	return 0; /* keys expire on their own */
}

static int
rd_ping(struct store *st)
{
	struct store_redis *rs = (struct store_redis *)st;
	struct rd_args      a;
	redisReply         *r;
	int                 rv;

	memset(&a, 0, sizeof a);
	rd_arg_str(&a, "PING");
	if ((r = rd_call(rs, &a, true, "ping")) == NULL)
		return -1;
	rv = r->type == REDIS_REPLY_STATUS ? 0 : -1;
	freeReplyObject(r);
	return rv;
}

static void
rd_close(struct store *st)
{
	struct store_redis *rs = (struct store_redis *)st;
	struct rd_conn     *c, *next;

	for (c = rs->idle; c != NULL; c = next) {
		next = c->next;
		redisFree(c->ctx);
		free(c);
	}
	pthread_cond_destroy(&rs->cond);
	pthread_mutex_destroy(&rs->lock);
	free(rs->sockpath);
	free(rs->host);
	free(rs->url);
	free(rs);
}

static const struct store_ops rd_ops = {
    .name = "redis",
    .close = rd_close,
    .ping = rd_ping,
    .revoke = rd_revoke,
    .is_revoked = rd_is_revoked,
    .refresh_add = rd_refresh_add,
    .refresh_use = rd_refresh_use,
    .refresh_peek = rd_refresh_peek,
    .family_revoke = rd_family_revoke,
    .refresh_revoke = rd_refresh_revoke,
    .fail = rd_fail,
    .banned = rd_banned,
    .clear = rd_clear,
    .purge = rd_purge,
};

/* SCRIPT LOAD every script on the first connection, keeping their SHAs. */
static int
rd_load_scripts(struct store_redis *rs, redisContext *ctx, char *err,
    size_t errlen)
{
	redisReply *r;
	size_t      i;

	for (i = 0; i < RD_NSCRIPT; i++) {
		r = redisCommand(ctx, "SCRIPT LOAD %s", rd_lua[i]);
		if (r == NULL) {
			snprintf(err, errlen, "%s: %s", rs->url, ctx->errstr);
			return -1;
		}
		if (r->type != REDIS_REPLY_STRING || r->len != 40) {
			snprintf(err, errlen, "%s: SCRIPT LOAD: %s", rs->url,
			    r->type == REDIS_REPLY_ERROR ? r->str
			                                 : "unexpected reply");
			freeReplyObject(r);
			return -1;
		}
		memcpy(rs->sha[i], r->str, 41);
		freeReplyObject(r);
	}
	return 0;
}

int
store_redis_open(const struct config *cfg, struct store *base,
    struct store **out, char *err, size_t errlen)
{
	struct store_redis *rs;
	struct rd_conn     *c;

	if (cfg->store.url == NULL) {
		snprintf(err, errlen, "redis store: no [store] url");
		return -1;
	}
	rs = xcalloc(1, sizeof *rs);
	rs->base = *base;
	rs->base.ops = &rd_ops;
	rs->url = xstrdup(cfg->store.url);
	pthread_mutex_init(&rs->lock, NULL);
	pthread_cond_init(&rs->cond, NULL);
	if (rd_parse_url(rs, rs->url, err, errlen) == -1)
		goto fail;
	c = xcalloc(1, sizeof *c);
	if ((c->ctx = rd_connect(rs, err, errlen)) == NULL) {
		free(c);
		goto fail;
	}
	rs->idle = c;
	rs->nconn = 1;
	if (rd_load_scripts(rs, c->ctx, err, errlen) == -1)
		goto fail;
	*out = &rs->base;
	return 0;
fail:
	rd_close(&rs->base);
	return -1;
}
