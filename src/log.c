/*
 * log.c - levelled logging to stderr. Each event is formatted into one buffer
 * and written with a single write(2), so lines from worker threads never mix.
 *
 * Access-log lines are the exception that the hot path needs: under load,
 * each thread gathers its lines in a buffer of PIPE_BUF bytes (one write of
 * it stays atomic on a pipe or a journal stream) and writes them together
 * when it is full, before any other line is logged, and at each
 * log_flush() (the server calls it four times a second and when it stops).
 * A line that comes LOG_HOLD_US or more after its thread's previous one is
 * written at once, so a lightly used server logs every request as it ends.
 * Under load, lines of different threads can thus come out of time order,
 * by up to the quarter second between two flushes; each has its time.
 */
#include "log.h"

#include "text.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LOG_LINE_MAX  2048
#define LOG_BUF_BYTES PIPE_BUF
#define LOG_HOLD_US   100000 /* quiet after which a line goes out at once */

/* One thread's access-log lines not yet written. */
struct log_buf {
	struct log_buf *next;
	pthread_mutex_t lock; /* the owner, and log_flush() */
	size_t          len;
	uint64_t        last_line_us; /* time of this thread's previous line */
	char            data[LOG_BUF_BYTES];
};

static pthread_once_t           log_once = PTHREAD_ONCE_INIT;
static pthread_key_t            log_key;
static pthread_mutex_t          log_bufs_lock = PTHREAD_MUTEX_INITIALIZER;
static struct log_buf          *log_bufs;
static __thread struct log_buf *log_mine;

static enum log_level  log_min = LOG_LEVEL_INFO;
static enum log_format log_fmt = LOG_FORMAT_TEXT;

static const char *const log_names[] = {"debug", "info", "warning", "error"};

void
log_init(enum log_level level, enum log_format format)
{
	/* A reload may change them while workers log: atomics, read once. */
	__atomic_store_n(&log_min, level, __ATOMIC_RELAXED);
	__atomic_store_n(&log_fmt, format, __ATOMIC_RELAXED);
}

/*
 * Append s to buf as the inside of a JSON string: always valid UTF-8 (a
 * bad byte becomes U+FFFD) and cut only between characters.
 */
static size_t
log_json_escape(char *buf, size_t off, size_t cap, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;

	while (*s != '\0' && off + 8 < cap) {
		size_t n = text_utf8_len(s);

		if (*s == '"' || *s == '\\') {
			buf[off++] = '\\';
			buf[off++] = (char)*s++;
		} else if (*s < 0x20 || *s == 0x7f) {
			off += (size_t)snprintf(buf + off, cap - off, "\\u%04x",
			    *s++);
		} else if (n == 0) {
			off +=
			    (size_t)snprintf(buf + off, cap - off, "\\ufffd");
			s++;
		} else {
			memcpy(buf + off, s, n);
			off += n;
			s += n;
		}
	}
	return off;
}

/*
 * Text lines replace control characters so a value cannot forge a line,
 * and cut only between characters. With space_escape, a space becomes
 * "%20", so a request target cannot forge the fields after it.
 */
static size_t
log_text_put(char *buf, size_t off, size_t cap, const char *str,
    bool space_escape)
{
	const unsigned char *s = (const unsigned char *)str;

	while (*s != '\0' && off < cap) {
		size_t n = *s < 0x80 ? 1 : text_utf8_len(s);

		if (*s < 0x20 || *s == 0x7f) {
			buf[off++] = '?';
			s++;
		} else if (*s == ' ' && space_escape) {
			if (off + 3 > cap)
				break;
			memcpy(buf + off, "%20", 3);
			off += 3;
			s++;
		} else if (n <= 1) {
			buf[off++] = (char)*s++; /* ASCII, or a stray byte */
		} else {
			if (off + n > cap)
				break;
			memcpy(buf + off, s, n);
			off += n;
			s += n;
		}
	}
	return off;
}

static size_t
log_text_clean(char *buf, size_t off, size_t cap, const char *s)
{
	return log_text_put(buf, off, cap, s, false);
}

/* Write all of buf, as far as stderr takes it (a log line is never fatal). */
static void
log_write(const char *buf, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = write(STDERR_FILENO, buf, len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		buf += n;
		len -= (size_t)n;
	}
}

static void
log_buf_flush(struct log_buf *b)
{
	if (b->len > 0)
		log_write(b->data, b->len);
	b->len = 0;
}

/* Thread exit: what is left goes out, and the buffer leaves the list. */
static void
log_buf_release(void *arg)
{
	struct log_buf *b = arg, **pp;

	pthread_mutex_lock(&log_bufs_lock);
	for (pp = &log_bufs; *pp != NULL; pp = &(*pp)->next)
		if (*pp == b) {
			*pp = b->next;
			break;
		}
	pthread_mutex_unlock(&log_bufs_lock);
	log_buf_flush(b);
	pthread_mutex_destroy(&b->lock);
	free(b);
	log_mine = NULL;
}

static void
log_key_init(void)
{
	(void)pthread_key_create(&log_key, log_buf_release);
}

/* This thread's buffer, made on first use; NULL: write lines at once. */
static struct log_buf *
log_thread_buf(void)
{
	struct log_buf *b;

	if (log_mine != NULL)
		return log_mine;
	pthread_once(&log_once, log_key_init);
	if ((b = calloc(1, sizeof *b)) == NULL)
		return NULL;
	pthread_mutex_init(&b->lock, NULL);
	if (pthread_setspecific(log_key, b) != 0) {
		pthread_mutex_destroy(&b->lock);
		free(b);
		return NULL;
	}
	pthread_mutex_lock(&log_bufs_lock);
	b->next = log_bufs;
	log_bufs = b;
	pthread_mutex_unlock(&log_bufs_lock);
	return log_mine = b;
}

void
log_flush(void)
{
	struct log_buf *b;

	pthread_mutex_lock(&log_bufs_lock);
	for (b = log_bufs; b != NULL; b = b->next) {
		pthread_mutex_lock(&b->lock);
		log_buf_flush(b);
		pthread_mutex_unlock(&b->lock);
	}
	pthread_mutex_unlock(&log_bufs_lock);
}

/* An access line: held in this thread's buffer, or written now (see top). */
static void
log_buffered(const char *line, size_t len, uint64_t now_us)
{
	struct log_buf *b = log_thread_buf();
	bool            quiet;

	if (b == NULL) {
		log_write(line, len);
		return;
	}
	pthread_mutex_lock(&b->lock);
	/* A clock stepped back wraps around: a quiet line, written at once. */
	quiet = now_us - b->last_line_us >= LOG_HOLD_US;
	b->last_line_us = now_us;
	if (quiet || b->len + len > sizeof b->data)
		log_buf_flush(b);
	if (quiet || len > sizeof b->data) {
		log_write(line, len);
	} else {
		memcpy(b->data + b->len, line, len);
		b->len += len;
	}
	pthread_mutex_unlock(&b->lock);
}

/* Appenders: each returns the new end, never past cap. */
static size_t
log_put(char *buf, size_t off, size_t cap, const char *s)
{
	size_t n = strlen(s);

	if (n > cap - off)
		n = cap - off;
	memcpy(buf + off, s, n);
	return off + n;
}

/* v, at least width digits (zero-padded). */
static size_t
log_put_uint(char *buf, size_t off, size_t cap, uint64_t v, int width)
{
	char digits[24];
	int  n = 0;

	do {
		digits[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v > 0 || n < width);
	while (n > 0 && off < cap)
		buf[off++] = digits[--n];
	return off;
}

/* Microseconds as milliseconds with three decimals. */
static size_t
log_put_ms(char *buf, size_t off, size_t cap, uint64_t us)
{
	off = log_put_uint(buf, off, cap, us / 1000, 1);
	off = log_put(buf, off, cap, ".");
	return log_put_uint(buf, off, cap, us % 1000, 3);
}

/*
 * The time stamp "YYYY-MM-DDTHH:MM:SS.mmmZ" (24 characters) at buf; the
 * date part changes once a second, so each thread formats it once per
 * second (gmtime_r takes glibc's time-zone lock). Also gives that time in
 * microseconds, for the access-log buffer (a clock step only makes a line
 * go out early).
 */
static size_t
log_timestamp(char *buf, size_t cap, uint64_t *now_us)
{
	static __thread time_t last = -1;
	static __thread char   date[64];
	struct timespec        now;
	struct tm              tm;
	size_t                 off;

	clock_gettime(CLOCK_REALTIME, &now);
	if (now.tv_sec != last) {
		gmtime_r(&now.tv_sec, &tm);
		snprintf(date, sizeof date, "%04d-%02d-%02dT%02d:%02d:%02d.",
		    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		    tm.tm_min, tm.tm_sec);
		last = now.tv_sec;
	}
	off = log_put(buf, 0, cap, date);
	off = log_put_uint(buf, off, cap, (uint64_t)now.tv_nsec / 1000000, 3);
	off = log_put(buf, off, cap, "Z");
	if (now_us != NULL)
		*now_us = (uint64_t)now.tv_sec * 1000000 +
		    (uint64_t)now.tv_nsec / 1000;
	return off;
}

/* The line's start: time stamp and level; JSON leaves "msg" open. */
static size_t
log_head(char *line, size_t cap, enum log_format fmt, enum log_level level,
    uint64_t *now_us)
{
	size_t off = 0;

	if (fmt == LOG_FORMAT_JSON)
		off = log_put(line, off, cap, "{\"time\":\"");
	off += log_timestamp(line + off, cap - off, now_us);
	if (fmt == LOG_FORMAT_JSON) {
		off = log_put(line, off, cap, "\",\"level\":\"");
		off = log_put(line, off, cap, log_names[level]);
		return log_put(line, off, cap, "\",\"msg\":\"");
	}
	off = log_put(line, off, cap, " ");
	off = log_put(line, off, cap, log_names[level]);
	return log_put(line, off, cap, ": ");
}

static void
log_emit(enum log_level level, const char *msg)
{
	enum log_format fmt = __atomic_load_n(&log_fmt, __ATOMIC_RELAXED);
	char            line[LOG_LINE_MAX + 256];
	size_t          off;

	off = log_head(line, sizeof line, fmt, level, NULL);
	if (fmt == LOG_FORMAT_JSON) {
		off = log_json_escape(line, off, sizeof line - 8, msg);
		off = log_put(line, off, sizeof line, "\"}\n");
	} else {
		off = log_text_clean(line, off, sizeof line - 2, msg);
		line[off++] = '\n';
	}
	log_flush(); /* held access lines come first */
	log_write(line, off);
}

static void
log_vlog(enum log_level level, const char *fmt, va_list ap)
{
	char msg[LOG_LINE_MAX];

	if (level < __atomic_load_n(&log_min, __ATOMIC_RELAXED))
		return;
	vsnprintf(msg, sizeof msg, fmt, ap);
	log_emit(level, msg);
}

#define LOG_DEFINE(fn, level)                                                  \
	void fn(const char *fmt, ...)                                          \
	{                                                                      \
		va_list ap;                                                    \
		va_start(ap, fmt);                                             \
		log_vlog(level, fmt, ap);                                      \
		va_end(ap);                                                    \
	}

LOG_DEFINE(log_debug, LOG_LEVEL_DEBUG)
LOG_DEFINE(log_info, LOG_LEVEL_INFO)
LOG_DEFINE(log_warn, LOG_LEVEL_WARNING)
LOG_DEFINE(log_error, LOG_LEVEL_ERROR)

void
log_notice(const char *fmt, ...)
{
	va_list ap;
	char    msg[LOG_LINE_MAX];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	log_emit(LOG_LEVEL_INFO, msg);
}

void
fatal(const char *fmt, ...)
{
	va_list ap;
	char    msg[LOG_LINE_MAX];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	log_emit(LOG_LEVEL_ERROR, msg);
	log_flush();
	exit(1);
}

void
log_access(const char *method, const char *path, unsigned status,
    uint64_t duration_us, const char *client, const char *user)
{
	char            line[LOG_LINE_MAX + 256];
	size_t          off, cap = LOG_LINE_MAX, u;
	uint64_t        now_us;
	enum log_format fmt;

	if (LOG_LEVEL_INFO < __atomic_load_n(&log_min, __ATOMIC_RELAXED))
		return;
	fmt = __atomic_load_n(&log_fmt, __ATOMIC_RELAXED);
	off = log_head(line, sizeof line, fmt, LOG_LEVEL_INFO, &now_us);
	if (fmt == LOG_FORMAT_JSON) {
		off = log_put(line, off, cap, "request\",\"method\":\"");
		off = log_json_escape(line, off, off + 128, method);
		off = log_put(line, off, cap, "\",\"path\":\"");
		off = log_json_escape(line, off, off + 1024, path);
		off = log_put(line, off, cap, "\",\"status\":");
		off = log_put_uint(line, off, cap, status, 1);
		off = log_put(line, off, cap, ",\"duration_ms\":");
		off = log_put_ms(line, off, cap, duration_us);
		off = log_put(line, off, cap, ",\"client\":\"");
		off = log_json_escape(line, off, off + 128, client);
		if (user != NULL) {
			off = log_put(line, off, cap, "\",\"user\":\"");
			off = log_json_escape(line, off, off + 256, user);
			off = log_put(line, off, cap, "\"}\n");
		} else
			off = log_put(line, off, cap, "\",\"user\":null}\n");
	} else {
		off = log_text_put(line, off, off + 64, method, true);
		off = log_put(line, off, cap, " ");
		off = log_text_put(line, off, off + 1024, path, true);
		off = log_put(line, off, cap, " ");
		off = log_put_uint(line, off, cap, status, 1);
		off = log_put(line, off, cap, " ");
		off = log_put_ms(line, off, cap, duration_us);
		off = log_put(line, off, cap, "ms client=");
		off = log_text_put(line, off, off + 128, client, true);
		off = log_put(line, off, cap, " user=");
		/* A user name cannot add fields to the line. */
		u = off;
		off =
		    log_text_clean(line, off, off + 127 < cap ? off + 127 : cap,
		        user != NULL ? user : "-");
		for (; u < off; u++)
			if (line[u] == ' ' || line[u] == '=')
				line[u] = '_';
		line[off++] = '\n';
	}
	log_buffered(line, off, now_us);
}
