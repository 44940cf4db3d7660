/*
 * store_sqlite.c - the sqlite driver, the embedded default; the only file
 * that includes <sqlite3.h>.
 *
 * A small pool of connections, each with its prepared statements, serves
 * the worker threads: WAL lets readers (is_revoked, on the hot path) run
 * beside the one writer, and busy_timeout makes writers wait for each
 * other, here or in another process sharing the file. Every connection
 * runs with synchronous=FULL, so a write that returned 0 survives kill -9
 * and power loss. Read-modify-write operations (refresh use, counters) run
 * in BEGIN IMMEDIATE transactions, so they are atomic across processes.
 *
 * Table sizes: revocations and refresh tokens live until their expiry
 * (they need an authenticated user to be created, and dropping a live one
 * would undo a logout); the driver purges expired rows at most once a
 * minute as it writes. Counters are capped at limits.max_counters rows (a
 * row is about 100 bytes): past the cap, expired rows go first, then the
 * rows whose window ends first, bans last. Between two purges, the table
 * may exceed the cap by the failures of that minute at most.
 */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "log.h"
#include "store_impl.h"
#include "xmalloc.h"

#define SQ_SCHEMA_VERSION 1
#define SQ_MAX_CONN       32
#define SQ_BUSY_MS        5000

static const char sq_schema[] =
    "CREATE TABLE IF NOT EXISTS revoked ("
    " jti TEXT PRIMARY KEY, exp INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS revoked_exp ON revoked(exp);"
    "CREATE TABLE IF NOT EXISTS refresh ("
    " hash BLOB PRIMARY KEY, family TEXT NOT NULL, sub TEXT NOT NULL,"
    " scope TEXT NOT NULL, exp INTEGER NOT NULL,"
    " used INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS refresh_exp ON refresh(exp);"
    "CREATE TABLE IF NOT EXISTS families ("
    " family TEXT PRIMARY KEY, exp INTEGER NOT NULL,"
    " revoked INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS families_exp ON families(exp);"
    "CREATE TABLE IF NOT EXISTS counters ("
    " key TEXT PRIMARY KEY, first INTEGER NOT NULL,"
    " banned_until INTEGER NOT NULL, expires INTEGER NOT NULL,"
    " fails INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS counters_expires ON counters(expires);";

enum sq_stmt {
	SQ_BEGIN = 0,
	SQ_COMMIT,
	SQ_ROLLBACK,
	SQ_REVOKE,
	SQ_IS_REVOKED,
	SQ_RT_ADD,
	SQ_RT_GET,
	SQ_RT_MARK,
	SQ_FAM_KEEP,
	SQ_CTR_GET,
	SQ_CTR_PUT,
	SQ_CTR_DROP,
	SQ_CTR_CLEAR,
	SQ_PURGE_REVOKED,
	SQ_PURGE_REFRESH,
	SQ_PURGE_FAMILIES,
	SQ_PURGE_COUNTERS,
	SQ_CTR_COUNT,
	SQ_CTR_TRIM,
	SQ_PING,
	SQ_NSTMT,
};

static const char *const sq_sql[SQ_NSTMT] = {
    [SQ_BEGIN] = "BEGIN IMMEDIATE",
    [SQ_COMMIT] = "COMMIT",
    [SQ_ROLLBACK] = "ROLLBACK",
    [SQ_REVOKE] =
        "INSERT INTO revoked (jti, exp) VALUES (?1, ?2)"
        " ON CONFLICT (jti) DO UPDATE SET exp = max(exp, excluded.exp)",
    [SQ_IS_REVOKED] = "SELECT 1 FROM revoked WHERE jti = ?1 AND exp > ?2",
    [SQ_RT_ADD] = "INSERT INTO refresh (hash, family, sub, scope, exp)"
                  " VALUES (?1, ?2, ?3, ?4, ?5)",
    [SQ_RT_GET] = "SELECT r.family, r.sub, r.scope, r.exp, r.used,"
                  " coalesce(f.revoked, 0) FROM refresh AS r"
                  " LEFT JOIN families AS f ON f.family = r.family"
                  " WHERE r.hash = ?1",
    [SQ_RT_MARK] = "UPDATE refresh SET used = 1 WHERE hash = ?1",
    [SQ_FAM_KEEP] = "INSERT INTO families (family, exp, revoked)"
                    " VALUES (?1, ?2, ?3) ON CONFLICT (family) DO UPDATE SET"
                    " exp = max(exp, excluded.exp),"
                    " revoked = max(revoked, excluded.revoked)",
    [SQ_CTR_GET] = "SELECT first, banned_until, expires, fails"
                   " FROM counters WHERE key = ?1",
    [SQ_CTR_PUT] =
        "INSERT INTO counters"
        " (key, first, banned_until, expires, fails)"
        " VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (key) DO UPDATE SET"
        " first = excluded.first, banned_until = excluded.banned_until,"
        " expires = excluded.expires, fails = excluded.fails",
    [SQ_CTR_DROP] = "DELETE FROM counters WHERE key = ?1"
                    " AND banned_until = 0",
    [SQ_CTR_CLEAR] = "UPDATE counters SET first = 0, fails = 0,"
                     " expires = banned_until WHERE key = ?1",
    [SQ_PURGE_REVOKED] = "DELETE FROM revoked WHERE exp <= ?1",
    [SQ_PURGE_REFRESH] = "DELETE FROM refresh WHERE exp <= ?1",
    [SQ_PURGE_FAMILIES] = "DELETE FROM families WHERE exp <= ?1",
    [SQ_PURGE_COUNTERS] = "DELETE FROM counters WHERE expires <= ?1",
    [SQ_CTR_COUNT] = "SELECT count(*) FROM counters",
    [SQ_CTR_TRIM] = "DELETE FROM counters WHERE key IN"
                    " (SELECT key FROM counters"
                    " ORDER BY banned_until > ?1, expires LIMIT ?2)",
    [SQ_PING] = "SELECT count(*) FROM sqlite_schema",
};

struct sq_conn {
	struct sq_conn *next;
	sqlite3        *db;
	sqlite3_stmt   *stmt[SQ_NSTMT];
};

/*
 * Fingerprints of the revoked jtis, with their expiry. Nearly every token
 * checked is not revoked: with this set such a check costs no SQL and no
 * file lock (a WAL read takes two fcntl calls), which matters on the
 * /verify path. One process owns the file (the sqlite driver is for one
 * node), so the set is complete: it is loaded at open, a jti is added
 * before its row is written, and entries leave only once expired (pruned
 * in memory when the table is purged), so a revocation is never missed; a
 * fingerprint that matches is confirmed in SQL.
 */
struct sq_fp {
	uint64_t fp; /* 0: empty slot */
	int64_t  exp;
};

struct sq_filter {
	struct sq_fp *slot; /* open addressing */
	size_t        cap;  /* a power of two */
	size_t        n;
};

struct store_sqlite {
	struct store     base;
	char            *path;
	pthread_rwlock_t flock; /* guards filter */
	struct sq_filter filter;
	dev_t dev; /* the file opened, to notice it removed or replaced */
	ino_t ino;
	pthread_mutex_t lock; /* guards what follows */
	pthread_cond_t  cond;
	struct sq_conn *idle;
	size_t          nconn;
	int64_t         last_purge;
	bool            purging;
	size_t          counters; /* rows, counted at purge, then estimated */
};

static int sq_run(struct sq_conn *, enum sq_stmt);

/* FNV-1a: a weak hash is enough, a collision only costs an SQL query. */
static uint64_t
sq_fingerprint(const char *jti)
{
	uint64_t h = 14695981039346656037ULL;

	for (; *jti != '\0'; jti++)
		h = (h ^ (unsigned char)*jti) * 1099511628211ULL;
	return h != 0 ? h : 1;
}

static struct sq_fp *
sq_filter_find(const struct sq_filter *f, uint64_t h)
{
	size_t i;

	if (f->cap == 0)
		return NULL;
	for (i = h & (f->cap - 1); f->slot[i].fp != 0;
	     i = (i + 1) & (f->cap - 1))
		if (f->slot[i].fp == h)
			return &f->slot[i];
	return NULL;
}

static void
sq_filter_add(struct sq_filter *f, uint64_t h, int64_t exp)
{
	struct sq_fp *e = sq_filter_find(f, h);
	size_t        i;

	if (e != NULL) {
		if (exp > e->exp)
			e->exp = exp;
		return;
	}
	if ((f->n + 1) * 2 > f->cap) {
		struct sq_filter g = {NULL, f->cap ? f->cap * 2 : 1024, 0};

		g.slot = xcalloc(g.cap, sizeof *g.slot);
		for (i = 0; i < f->cap; i++)
			if (f->slot[i].fp != 0)
				sq_filter_add(&g, f->slot[i].fp,
				    f->slot[i].exp);
		free(f->slot);
		*f = g;
	}
	for (i = h & (f->cap - 1); f->slot[i].fp != 0;
	     i = (i + 1) & (f->cap - 1))
		;
	f->slot[i].fp = h;
	f->slot[i].exp = exp;
	f->n++;
}

/* Drop what expired by now (the rows the purge deleted). */
static void
sq_filter_prune(struct sq_filter *f, int64_t now)
{
	struct sq_filter g = {NULL, 0, 0};
	size_t           i;

	for (i = 0; i < f->cap; i++)
		if (f->slot[i].fp != 0 && f->slot[i].exp > now)
			sq_filter_add(&g, f->slot[i].fp, f->slot[i].exp);
	free(f->slot);
	*f = g;
}

/* The fingerprints of the rows of revoked live at now: 0, or -1. */
static int
sq_filter_load(sqlite3 *db, struct sq_filter *f, int64_t now)
{
	sqlite3_stmt *s;
	int           rc;

	if (sqlite3_prepare_v2(db,
	        "SELECT jti, exp FROM revoked WHERE exp > ?1", -1, &s,
	        NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(s, 1, now);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		sq_filter_add(f,
		    sq_fingerprint((const char *)sqlite3_column_text(s, 0)),
		    sqlite3_column_int64(s, 1));
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : -1;
}

/*
 * Is the file at path still the one opened? A removed or replaced database
 * would take writes that no restart sees again: refuse them (and readiness)
 * instead. Checked on writes and pings, not on the is_revoked hot path.
 */
static bool
sq_same_file(struct store_sqlite *sq)
{
	struct stat st;

	if (stat(sq->path, &st) == 0 && st.st_dev == sq->dev &&
	    st.st_ino == sq->ino)
		return true;
	log_error("store: %s was removed or replaced; restart jwtgate",
	    sq->path);
	return false;
}

static void
sq_conn_free(struct sq_conn *c)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < SQ_NSTMT; i++)
		sqlite3_finalize(c->stmt[i]);
	sqlite3_close(c->db);
	free(c);
}

/* "PATH: reason" for the last error of db, with the system error if any. */
static void
sq_errmsg(const char *path, sqlite3 *db, int rc, char *err, size_t errlen)
{
	int sys = db != NULL ? sqlite3_system_errno(db) : 0;

	if (sys != 0 && (rc & 0xff) == SQLITE_CANTOPEN)
		snprintf(err, errlen, "%s: %s (%s)", path,
		    db != NULL ? sqlite3_errmsg(db) : sqlite3_errstr(rc),
		    strerror(sys));
	else
		snprintf(err, errlen, "%s: %s", path,
		    db != NULL ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
}

static int
sq_exec(sqlite3 *db, const char *sql)
{
	return sqlite3_exec(db, sql, NULL, NULL, NULL);
}

/*
 * Create the schema on the first connection: WAL (persistent in the
 * file), the tables, and the schema version. 0, or -1 with err filled.
 */
static int
sq_schema_init(const char *path, sqlite3 *db, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	const char   *mode;
	int           rc, version, rv = -1;

	rc = sqlite3_prepare_v2(db, "PRAGMA journal_mode = WAL", -1, &st, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		sq_errmsg(path, db, rc, err, errlen);
		goto out;
	}
	mode = (const char *)sqlite3_column_text(st, 0);
	if (mode == NULL || strcmp(mode, "wal") != 0) {
		snprintf(err, errlen,
		    "%s: cannot use WAL mode (journal mode %s)", path,
		    mode != NULL ? mode : "unknown");
		goto out;
	}
	sqlite3_finalize(st);
	st = NULL;
	if ((rc = sq_exec(db, "BEGIN IMMEDIATE")) != SQLITE_OK ||
	    (rc = sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st,
	         NULL)) != SQLITE_OK ||
	    (rc = sqlite3_step(st)) != SQLITE_ROW) {
		sq_errmsg(path, db, rc, err, errlen);
		goto out;
	}
	version = sqlite3_column_int(st, 0);
	if (version > SQ_SCHEMA_VERSION) {
		snprintf(err, errlen,
		    "%s: schema version %d is newer than "
		    "this jwtgate's (%d)",
		    path, version, SQ_SCHEMA_VERSION);
		goto out;
	}
	if ((rc = sq_exec(db, sq_schema)) != SQLITE_OK ||
	    (rc = sq_exec(db, "PRAGMA user_version = 1")) != SQLITE_OK ||
	    (rc = sq_exec(db, "COMMIT")) != SQLITE_OK) {
		sq_errmsg(path, db, rc, err, errlen);
		goto out;
	}
	rv = 0;
out:
	sqlite3_finalize(st);
	if (!sqlite3_get_autocommit(db))
		sq_exec(db, "ROLLBACK");
	return rv;
}

/* A new connection with its statements; on the first, the schema. */
static struct sq_conn *
sq_conn_new(const char *path, bool first, char *err, size_t errlen)
{
	struct sq_conn *c;
	size_t          i;
	int             rc;

	c = xcalloc(1, sizeof *c);
	rc = sqlite3_open_v2(path, &c->db,
	    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
	    NULL);
	if (rc != SQLITE_OK)
		goto fail;
	sqlite3_extended_result_codes(c->db, 1);
	if ((rc = sqlite3_busy_timeout(c->db, SQ_BUSY_MS)) != SQLITE_OK ||
	    (rc = sq_exec(c->db, "PRAGMA synchronous = FULL")) != SQLITE_OK ||
	    (rc = sq_exec(c->db, "PRAGMA foreign_keys = OFF")) != SQLITE_OK)
		goto fail;
	if (first && sq_schema_init(path, c->db, err, errlen) == -1) {
		sq_conn_free(c);
		return NULL;
	}
	for (i = 0; i < SQ_NSTMT; i++) {
		rc = sqlite3_prepare_v3(c->db, sq_sql[i], -1,
		    SQLITE_PREPARE_PERSISTENT, &c->stmt[i], NULL);
		if (rc != SQLITE_OK)
			goto fail;
	}
	return c;
fail:
	sq_errmsg(path, c->db, rc, err, errlen);
	sq_conn_free(c);
	return NULL;
}

/* A connection for this thread, waiting when all SQ_MAX_CONN are busy. */
static struct sq_conn *
sq_acquire(struct store_sqlite *sq)
{
	struct sq_conn *c;
	char            err[512];

	pthread_mutex_lock(&sq->lock);
	while (sq->idle == NULL && sq->nconn >= SQ_MAX_CONN)
		pthread_cond_wait(&sq->cond, &sq->lock);
	if ((c = sq->idle) != NULL) {
		sq->idle = c->next;
		pthread_mutex_unlock(&sq->lock);
		return c;
	}
	sq->nconn++;
	pthread_mutex_unlock(&sq->lock);

	c = sq_conn_new(sq->path, false, err, sizeof err);
	if (c == NULL) {
		log_error("store: sqlite: %s", err);
		pthread_mutex_lock(&sq->lock);
		sq->nconn--;
		pthread_cond_signal(&sq->cond);
		pthread_mutex_unlock(&sq->lock);
	}
	return c;
}

static void
sq_release(struct store_sqlite *sq, struct sq_conn *c)
{
	/* An operation that gave up inside its transaction ends it here. */
	if (!sqlite3_get_autocommit(c->db))
		sq_run(c, SQ_ROLLBACK);
	pthread_mutex_lock(&sq->lock);
	c->next = sq->idle;
	sq->idle = c;
	pthread_cond_signal(&sq->cond);
	pthread_mutex_unlock(&sq->lock);
}

static void
sq_log(struct store_sqlite *sq, struct sq_conn *c, const char *what)
{
	log_error("store: sqlite: %s: %s: %s", sq->path, what,
	    sqlite3_errmsg(c->db));
}

/* Step statement i, which returns no row, and reset it. SQLITE_DONE or
 * the error. */
static int
sq_run(struct sq_conn *c, enum sq_stmt i)
{
	int rc = sqlite3_step(c->stmt[i]);

	sqlite3_reset(c->stmt[i]);
	sqlite3_clear_bindings(c->stmt[i]);
	return rc;
}

static void
sq_done(struct sq_conn *c, enum sq_stmt i)
{
	sqlite3_reset(c->stmt[i]);
	sqlite3_clear_bindings(c->stmt[i]);
}

static int
sq_begin(struct store_sqlite *sq, struct sq_conn *c)
{
	if (sq_run(c, SQ_BEGIN) != SQLITE_DONE) {
		sq_log(sq, c, "begin");
		return -1;
	}
	return 0;
}

static int
sq_commit(struct store_sqlite *sq, struct sq_conn *c)
{
	if (sq_run(c, SQ_COMMIT) != SQLITE_DONE) {
		sq_log(sq, c, "commit");
		return -1;
	}
	return 0;
}

static int
sq_text(sqlite3_stmt *st, int col, const char *s)
{
	return sqlite3_bind_text(st, col, s, -1, SQLITE_STATIC);
}

static int
sq_purge_conn(struct store_sqlite *sq, struct sq_conn *c, int64_t now)
{
	static const enum sq_stmt purges[] = {SQ_PURGE_REVOKED,
	    SQ_PURGE_REFRESH, SQ_PURGE_FAMILIES, SQ_PURGE_COUNTERS};
	sqlite3_stmt             *st;
	int64_t                   rows, over;
	size_t                    i;

	if (sq_begin(sq, c) == -1)
		return -1;
	for (i = 0; i < sizeof purges / sizeof purges[0]; i++) {
		sqlite3_bind_int64(c->stmt[purges[i]], 1, now);
		if (sq_run(c, purges[i]) != SQLITE_DONE)
			goto fail;
	}
	st = c->stmt[SQ_CTR_COUNT];
	if (sqlite3_step(st) != SQLITE_ROW) {
		sq_done(c, SQ_CTR_COUNT);
		goto fail;
	}
	rows = sqlite3_column_int64(st, 0);
	sq_done(c, SQ_CTR_COUNT);
	/* Trim to 90% of the cap, so that a flood does not purge each time. */
	over = rows -
	    (int64_t)(sq->base.limits.max_counters -
	        sq->base.limits.max_counters / 10);
	if (rows > (int64_t)sq->base.limits.max_counters) {
		log_warn("store: sqlite: %lld failure counters over the cap of "
		         "%zu: dropping the oldest",
		    (long long)over, sq->base.limits.max_counters);
		sqlite3_bind_int64(c->stmt[SQ_CTR_TRIM], 1, now);
		sqlite3_bind_int64(c->stmt[SQ_CTR_TRIM], 2, over);
		if (sq_run(c, SQ_CTR_TRIM) != SQLITE_DONE)
			goto fail;
		rows -= over;
	}
	if (sq_commit(sq, c) == -1)
		return -1;
	pthread_mutex_lock(&sq->lock);
	sq->counters = (size_t)rows;
	pthread_mutex_unlock(&sq->lock);
	return 0;
fail:
	sq_log(sq, c, "purge");
	return -1;
}

/*
 * Purge now if it is due (or forced), by one thread at a time. A failed
 * automatic purge is logged; the write that triggered it goes on.
 */
static int
sq_maybe_purge(struct store_sqlite *sq, struct sq_conn *c, int64_t now,
    bool force)
{
	bool due;
	int  rv;

	pthread_mutex_lock(&sq->lock);
	due = !sq->purging &&
	    (force || now - sq->last_purge >= STORE_PURGE_INTERVAL ||
	        sq->counters > sq->base.limits.max_counters);
	if (due) {
		sq->purging = true;
		sq->last_purge = now;
	}
	pthread_mutex_unlock(&sq->lock);
	if (!due)
		return 0;
	rv = sq_purge_conn(sq, c, now);
	if (rv == 0) {
		pthread_rwlock_wrlock(&sq->flock);
		sq_filter_prune(&sq->filter, now);
		pthread_rwlock_unlock(&sq->flock);
	}
	pthread_mutex_lock(&sq->lock);
	sq->purging = false;
	pthread_mutex_unlock(&sq->lock);
	return rv;
}

static int
sq_revoke(struct store *st, const char *jti, int64_t exp, int64_t now)
{
	struct store_sqlite *sq = (struct store_sqlite *)st;
	struct sq_conn      *c;
	uint64_t             h = sq_fingerprint(jti);
	int                  rv = -1;

	/* Before the row: a check never misses a revocation being written. */
	pthread_rwlock_wrlock(&sq->flock);
	sq_filter_add(&sq->filter, h, exp);
	pthread_rwlock_unlock(&sq->flock);
	if (!sq_same_file(sq) || (c = sq_acquire(sq)) == NULL)
		return -1;
	sq_maybe_purge(sq, c, now, false);
	sq_text(c->stmt[SQ_REVOKE], 1, jti);
	sqlite3_bind_int64(c->stmt[SQ_REVOKE], 2, exp);
	if (sq_run(c, SQ_REVOKE) != SQLITE_DONE) {
		sq_log(sq, c, "revoke");
		goto out;
	}
	rv = 0;
out:
	sq_release(sq, c);
	return rv;
}

static int
sq_is_revoked(struct store *st, const char *jti, int64_t now)
{
	struct store_sqlite *sq = (struct store_sqlite *)st;
	struct sq_conn      *c;
	sqlite3_stmt        *s;
	bool                 maybe;
	int                  rc, rv = -1;

	pthread_rwlock_rdlock(&sq->flock);
	maybe = sq_filter_find(&sq->filter, sq_fingerprint(jti)) != NULL;
	pthread_rwlock_unlock(&sq->flock);
	if (!maybe)
		return 0;
	if ((c = sq_acquire(sq)) == NULL)
		return -1;
	s = c->stmt[SQ_IS_REVOKED];
	sq_text(s, 1, jti);
	sqlite3_bind_int64(s, 2, now);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		rv = 1;
	else if (rc == SQLITE_DONE)
		rv = 0;
	else
		sq_log(sq, c, "is_revoked");
	sq_done(c, SQ_IS_REVOKED);
	sq_release(sq, c);
	return rv;
}

/* Keep family until at least exp; revoked or not. SQLITE_DONE or error. */
static int
sq_family_keep(struct sq_conn *c, const char *family, int64_t exp, bool revoked)
{
	sqlite3_stmt *s = c->stmt[SQ_FAM_KEEP];

	sq_text(s, 1, family);
	sqlite3_bind_int64(s, 2, exp);
	sqlite3_bind_int(s, 3, revoked);
	return sq_run(c, SQ_FAM_KEEP);
}

static int
sq_refresh_add(struct store *st, const unsigned char *hash,
    const struct store_refresh *r, int64_t now)
{
	struct store_sqlite *sq = (struct store_sqlite *)st;
	struct sq_conn      *c;
	sqlite3_stmt        *s;
	int                  rv = -1;

	if (!sq_same_file(sq) || (c = sq_acquire(sq)) == NULL)
		return -1;
	sq_maybe_purge(sq, c, now, false);
	if (sq_begin(sq, c) == -1)
		goto out;
	if (sq_family_keep(c, r->family, r->exp, false) != SQLITE_DONE) {
		sq_log(sq, c, "refresh family");
		goto out;
	}
	s = c->stmt[SQ_RT_ADD];
	sqlite3_bind_blob(s, 1, hash, STORE_HASH_LEN, SQLITE_STATIC);
	sq_text(s, 2, r->family);
	sq_text(s, 3, r->sub);
	sq_text(s, 4, r->scope);
	sqlite3_bind_int64(s, 5, r->exp);
	if (sq_run(c, SQ_RT_ADD) != SQLITE_DONE) {
		sq_log(sq, c, "refresh add");
		goto out;
	}
	rv = sq_commit(sq, c);
out:
	sq_release(sq, c);
	return rv;
}

/* Copy column col into a buffer of size len; -1 if it does not fit. */
static int
sq_column_copy(sqlite3_stmt *s, int col, char *buf, size_t len)
{
	const unsigned char *t = sqlite3_column_text(s, col);
	size_t               n = (size_t)sqlite3_column_bytes(s, col);

	if (t == NULL || n >= len)
		return -1;
	memcpy(buf, t, n + 1);
	return 0;
}

/*
 * Read the token with this hash, inside the open transaction or as one
 * read of its own (peek): 1 unknown or expired; 0 found (*r, *used,
 * *revoked filled); -1 error.
 */
static int
sq_refresh_get(struct store_sqlite *sq, struct sq_conn *c,
    const unsigned char *hash, int64_t now, struct store_refresh *r, bool *used,
    bool *revoked)
{
	sqlite3_stmt *s = c->stmt[SQ_RT_GET];
	int           rc, rv = -1;

	sqlite3_bind_blob(s, 1, hash, STORE_HASH_LEN, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_DONE) {
		rv = 1;
		goto out;
	}
	if (rc != SQLITE_ROW) {
		sq_log(sq, c, "refresh get");
		goto out;
	}
	memset(r, 0, sizeof *r);
	if (sq_column_copy(s, 0, r->family, sizeof r->family) == -1 ||
	    sq_column_copy(s, 1, r->sub, sizeof r->sub) == -1 ||
	    sq_column_copy(s, 2, r->scope, sizeof r->scope) == -1) {
		log_error("store: sqlite: %s: malformed refresh token row",
		    sq->path);
		goto out;
	}
	r->exp = sqlite3_column_int64(s, 3);
	*used = sqlite3_column_int(s, 4) != 0;
	*revoked = sqlite3_column_int(s, 5) != 0;
	rv = r->exp > now ? 0 : 1;
out:
	sq_done(c, SQ_RT_GET);
	return rv;
}

static int
sq_refresh_use(struct store *st, const unsigned char *hash, int64_t now,
    struct store_refresh *out)
{
	struct store_sqlite *sq = (struct store_sqlite *)st;
	struct store_refresh r;
	struct sq_conn      *c;
	bool                 used = false, revoked = false;
	int                  found, rv = -1;

	if (!sq_same_file(sq) || (c = sq_acquire(sq)) == NULL)
		return -1;
	if (sq_begin(sq, c) == -1)
		goto out;
	found = sq_refresh_get(sq, c, hash, now, &r, &used, &revoked);
	if (found != 0) {
		rv = found;
		goto out; /* the release rolls back */
	}
	if (used) {
		if (sq_family_keep(c, r.family, now + st->family_ttl, true) !=
		    SQLITE_DONE) {
			sq_log(sq, c, "refresh family revoke");
			goto out;
		}
		if (sq_commit(sq, c) == 0) {
			*out = r;
			rv = 2;
		}
		goto out;
	}
	if (revoked) {
		rv = 1;
		goto out;
	}
	sqlite3_bind_blob(c->stmt[SQ_RT_MARK], 1, hash, STORE_HASH_LEN,
	    SQLITE_STATIC);
	if (sq_run(c, SQ_RT_MARK) != SQLITE_DONE) {
		sq_log(sq, c, "refresh use");
		goto out;
	}
	if (sq_commit(sq, c) == 0) {
		*out = r;
		rv = 0;
	}
out:
	sq_release(sq, c);
	return rv;
}

/*
 * One SELECT, outside any transaction: a consistent snapshot under WAL,
 * which neither takes the write lock nor waits for a writer. Judged by
 * sq_refresh_get() as use is, so that the two agree.
 */
static int
sq_refresh_peek(struct store *st, const unsigned char *hash, int64_t now,
    struct store_refresh *out)
{
	struct store_sqlite *sq = (struct store_sqlite *)st;
	struct store_refresh r;
	struct sq_conn      *c;
	bool                 used = false, revoked = false;
	int                  rv;

	if ((c = sq_acquire(sq)) == NULL)
		return -1;
	rv = sq_refresh_get(sq, c, hash, now, &r, &used, &revoked);
	if (rv == 0 && (used || revoked))
		rv = 1;
	if (rv == 0)
		*out = r;
	sq_release(sq, c);
	return rv;
}

static int
sq_family_revoke(struct store *st, const char *family, int64_t now)
{
	struct store_sqlite *sq = (struct store_sqlite *)st;
	struct sq_conn      *c;
	int                  rv = 0;

	if (!sq_same_file(sq) || (c = sq_acquire(sq)) == NULL)
		return -1;
	if (sq_family_keep(c, family, now + st->family_ttl, true) !=
	    SQLITE_DONE) {
		sq_log(sq, c, "family revoke");
		rv = -1;
	}
	sq_release(sq, c);
	return rv;
}

static int
sq_refresh_revoke(struct store *st, const unsigned char *hash, int64_t now)
{
	struct store_sqlite *sq = (struct store_sqlite *)st;
	struct store_refresh r;
	struct sq_conn      *c;
	bool                 used, revoked;
	int                  found, rv = -1;

	if (!sq_same_file(sq) || (c = sq_acquire(sq)) == NULL)
		return -1;
	if (sq_begin(sq, c) == -1)
		goto out;
	found = sq_refresh_get(sq, c, hash, now, &r, &used, &revoked);
	if (found != 0) {
		rv = found;
		goto out;
	}
	if (sq_family_keep(c, r.family, now + st->family_ttl, true) !=
	    SQLITE_DONE) {
		sq_log(sq, c, "family revoke");
		goto out;
	}
	rv = sq_commit(sq, c);
out:
	sq_release(sq, c);
	return rv;
}

/* Read key's counter in the open transaction: 1 found, 0 none, -1 error. */
static int
sq_counter_get(struct store_sqlite *sq, struct sq_conn *c, const char *key,
    struct store_counter *ctr)
{
	sqlite3_stmt *s = c->stmt[SQ_CTR_GET];
	int           rc, rv = -1;

	memset(ctr, 0, sizeof *ctr);
	sq_text(s, 1, key);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		ctr->first = sqlite3_column_int64(s, 0);
		ctr->banned_until = sqlite3_column_int64(s, 1);
		ctr->expires = sqlite3_column_int64(s, 2);
		ctr->fails = (uint32_t)sqlite3_column_int64(s, 3);
		rv = 1;
	} else if (rc == SQLITE_DONE) {
		rv = 0;
	} else {
		sq_log(sq, c, "counter get");
	}
	sq_done(c, SQ_CTR_GET);
	return rv;
}

static int
sq_fail(struct store *st, const char *key, int64_t now, int64_t find_time,
    unsigned max_retries, int64_t ban_time, int64_t *banned_until)
{
	struct store_sqlite *sq = (struct store_sqlite *)st;
	struct store_counter ctr;
	struct sq_conn      *c;
	sqlite3_stmt        *s;
	int                  found, rv = -1;

	if (!sq_same_file(sq) || (c = sq_acquire(sq)) == NULL)
		return -1;
	sq_maybe_purge(sq, c, now, false);
	if (sq_begin(sq, c) == -1)
		goto out;
	if ((found = sq_counter_get(sq, c, key, &ctr)) == -1)
		goto out;
	store_counter_fail(&ctr, now, find_time, max_retries, ban_time);
	s = c->stmt[SQ_CTR_PUT];
	sq_text(s, 1, key);
	sqlite3_bind_int64(s, 2, ctr.first);
	sqlite3_bind_int64(s, 3, ctr.banned_until);
	sqlite3_bind_int64(s, 4, ctr.expires);
	sqlite3_bind_int64(s, 5, ctr.fails);
	if (sq_run(c, SQ_CTR_PUT) != SQLITE_DONE) {
		sq_log(sq, c, "counter put");
		goto out;
	}
	if (sq_commit(sq, c) == -1)
		goto out;
	if (!found) {
		pthread_mutex_lock(&sq->lock);
		sq->counters++;
		pthread_mutex_unlock(&sq->lock);
	}
	if (ctr.banned_until > now)
		*banned_until = ctr.banned_until;
	rv = 0;
out:
	sq_release(sq, c);
	return rv;
}

static int
sq_banned(struct store *st, const char *key, int64_t now, int64_t *until)
{
	struct store_sqlite *sq = (struct store_sqlite *)st;
	struct store_counter ctr;
	struct sq_conn      *c;
	int                  rv;

	if ((c = sq_acquire(sq)) == NULL)
		return -1;
	rv = sq_counter_get(sq, c, key, &ctr);
	if (rv == 1 && ctr.banned_until > now)
		*until = ctr.banned_until;
	else if (rv == 1)
		rv = 0;
	sq_release(sq, c);
	return rv;
}

static int
sq_clear(struct store *st, const char *key)
{
	struct store_sqlite *sq = (struct store_sqlite *)st;
	struct sq_conn      *c;
	int                  rv = -1;

	if (!sq_same_file(sq) || (c = sq_acquire(sq)) == NULL)
		return -1;
	if (sq_begin(sq, c) == -1)
		goto out;
	sq_text(c->stmt[SQ_CTR_DROP], 1, key);
	sq_text(c->stmt[SQ_CTR_CLEAR], 1, key);
	if (sq_run(c, SQ_CTR_DROP) != SQLITE_DONE ||
	    sq_run(c, SQ_CTR_CLEAR) != SQLITE_DONE) {
		sq_log(sq, c, "counter clear");
		goto out;
	}
	rv = sq_commit(sq, c);
out:
	sq_release(sq, c);
	return rv;
}

static int
sq_purge(struct store *st, int64_t now)
{
	struct store_sqlite *sq = (struct store_sqlite *)st;
	struct sq_conn      *c;
	int                  rv;

	if ((c = sq_acquire(sq)) == NULL)
		return -1;
	rv = sq_maybe_purge(sq, c, now, true);
	sq_release(sq, c);
	return rv;
}

static int
sq_ping(struct store *st)
{
	struct store_sqlite *sq = (struct store_sqlite *)st;
	struct sq_conn      *c;
	int                  rc;

	if (!sq_same_file(sq) || (c = sq_acquire(sq)) == NULL)
		return -1;
	rc = sqlite3_step(c->stmt[SQ_PING]);
	if (rc != SQLITE_ROW)
		sq_log(sq, c, "ping");
	sq_done(c, SQ_PING);
	sq_release(sq, c);
	return rc == SQLITE_ROW ? 0 : -1;
}

static void
sq_close(struct store *st)
{
	struct store_sqlite *sq = (struct store_sqlite *)st;
	struct sq_conn      *c, *next;

	for (c = sq->idle; c != NULL; c = next) {
		next = c->next;
		sq_conn_free(c);
	}
	pthread_cond_destroy(&sq->cond);
	pthread_mutex_destroy(&sq->lock);
	pthread_rwlock_destroy(&sq->flock);
	free(sq->filter.slot);
	free(sq->path);
	free(sq);
}

static const struct store_ops sq_ops = {
    .name = "sqlite",
    .close = sq_close,
    .ping = sq_ping,
    .revoke = sq_revoke,
    .is_revoked = sq_is_revoked,
    .refresh_add = sq_refresh_add,
    .refresh_use = sq_refresh_use,
    .refresh_peek = sq_refresh_peek,
    .family_revoke = sq_family_revoke,
    .refresh_revoke = sq_refresh_revoke,
    .fail = sq_fail,
    .banned = sq_banned,
    .clear = sq_clear,
    .purge = sq_purge,
};

/*
 * The file holds hashes of live refresh tokens: create it 0600 ourselves
 * (SQLite would use 0644); its -wal and -shm files take its mode.
 */
static int
sq_create_file(const char *path, char *err, size_t errlen)
{
	int fd;

	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd == -1) {
		snprintf(err, errlen, "%s: cannot open or create: %s", path,
		    strerror(errno));
		return -1;
	}
	close(fd);
	return 0;
}

int
store_sqlite_open(const struct config *cfg, struct store *base,
    struct store **out, char *err, size_t errlen)
{
	struct store_sqlite *sq;
	struct sq_conn      *c;
	const char          *path = cfg->store.path;

	if (path == NULL || *path == '\0') {
		snprintf(err, errlen, "sqlite store: no [store] path");
		return -1;
	}
	if (sqlite3_threadsafe() == 0) {
		snprintf(err, errlen, "%s: SQLite is built without threads",
		    path);
		return -1;
	}
	if (sq_create_file(path, err, errlen) == -1)
		return -1;
	if ((c = sq_conn_new(path, true, err, errlen)) == NULL)
		return -1;
	sq = xcalloc(1, sizeof *sq);
	sq->base = *base;
	sq->base.ops = &sq_ops;
	sq->path = xstrdup(path);
	{
		struct stat st;

		if (stat(path, &st) == 0) {
			sq->dev = st.st_dev;
			sq->ino = st.st_ino;
		}
	}
	pthread_mutex_init(&sq->lock, NULL);
	pthread_cond_init(&sq->cond, NULL);
	pthread_rwlock_init(&sq->flock, NULL);
	sq->idle = c;
	sq->nconn = 1;
	/* Every row, expired or not: the first purge drops the expired. */
	if (sq_filter_load(c->db, &sq->filter, INT64_MIN) == -1) {
		snprintf(err, errlen, "%s: cannot read the revocations: %s",
		    path, sqlite3_errmsg(c->db));
		sq_close(&sq->base);
		return -1;
	}
	sq->last_purge = INT64_MIN / 2; /* the first write purges */
	*out = &sq->base;
	return 0;
}
