/*
 * log.c - levelled logging to stderr. Each event is formatted into one buffer
 * and written with a single write(2), so lines from worker threads never mix.
 */
#include "log.h"

#include "text.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LOG_LINE_MAX 2048

static enum log_level  log_min = LOG_LEVEL_INFO;
static enum log_format log_fmt = LOG_FORMAT_TEXT;

static const char *const log_names[] = {"debug", "info", "warning", "error"};

void
log_init(enum log_level level, enum log_format format)
{
	log_min = level;
	log_fmt = format;
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

/* Text lines replace control characters so a value cannot forge a line. */
static size_t
log_text_clean(char *buf, size_t off, size_t cap, const char *s)
{
	for (; *s != '\0' && off + 1 < cap; s++) {
		unsigned char c = (unsigned char)*s;

		buf[off++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	return off;
}

static void
log_timestamp(char *ts, size_t len)
{
	/*
	 * The date part changes once a second: each thread formats it once
	 * per second (gmtime_r takes glibc's time-zone lock) and adds the
	 * milliseconds.
	 */
	static __thread time_t last = -1;
	static __thread char   date[64];
	struct timespec        now;
	struct tm              tm;

	clock_gettime(CLOCK_REALTIME, &now);
	if (now.tv_sec != last) {
		gmtime_r(&now.tv_sec, &tm);
		snprintf(date, sizeof date, "%04d-%02d-%02dT%02d:%02d:%02d",
		    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		    tm.tm_min, tm.tm_sec);
		last = now.tv_sec;
	}
	snprintf(ts, len, "%s.%03ldZ", date, now.tv_nsec / 1000000);
}

static void
log_emit(enum log_level level, const char *msg, const char *extra_json)
{
	char   line[LOG_LINE_MAX + 256];
	char   ts[96];
	size_t off;

	log_timestamp(ts, sizeof ts);
	if (log_fmt == LOG_FORMAT_JSON) {
		off = (size_t)snprintf(line, sizeof line,
		    "{\"time\":\"%s\",\"level\":\"%s\",\"msg\":\"", ts,
		    log_names[level]);
		off = log_json_escape(line, off, sizeof line - 200, msg);
		off += (size_t)snprintf(line + off, sizeof line - off,
		    "\"%s}\n", extra_json != NULL ? extra_json : "");
	} else {
		off = (size_t)snprintf(line, sizeof line, "%s %s: ", ts,
		    log_names[level]);
		off = log_text_clean(line, off, sizeof line - 2, msg);
		line[off++] = '\n';
	}
	if (off > sizeof line)
		off = sizeof line;
	(void)!write(STDERR_FILENO, line, off);
}

static void
log_vlog(enum log_level level, const char *fmt, va_list ap)
{
	char msg[LOG_LINE_MAX];

	if (level < log_min)
		return;
	vsnprintf(msg, sizeof msg, fmt, ap);
	log_emit(level, msg, NULL);
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
	log_emit(LOG_LEVEL_INFO, msg, NULL);
}

void
fatal(const char *fmt, ...)
{
	va_list ap;
	char    msg[LOG_LINE_MAX];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	log_emit(LOG_LEVEL_ERROR, msg, NULL);
	exit(1);
}

void
log_access(const char *method, const char *path, unsigned status,
    uint64_t duration_us, const char *client, const char *user)
{
	char   msg[LOG_LINE_MAX], who[128];
	size_t off = 0;

	if (LOG_LEVEL_INFO < log_min)
		return;
	if (log_fmt == LOG_FORMAT_JSON) {
		char extra[LOG_LINE_MAX];

		off = (size_t)snprintf(extra, sizeof extra, ",\"method\":\"");
		off = log_json_escape(extra, off, 128, method);
		off += (size_t)snprintf(extra + off, sizeof extra - off,
		    "\",\"path\":\"");
		off = log_json_escape(extra, off, off + 1024, path);
		off += (size_t)snprintf(extra + off, sizeof extra - off,
		    "\",\"status\":%u,\"duration_ms\":%.3f,\"client\":\"",
		    status, (double)duration_us / 1000.0);
		off = log_json_escape(extra, off, off + 128, client);
		off += (size_t)snprintf(extra + off, sizeof extra - off,
		    "\",\"user\":");
		if (user != NULL) {
			extra[off++] = '"';
			off = log_json_escape(extra, off, off + 256, user);
			extra[off++] = '"';
			extra[off] = '\0';
		} else
			off += (size_t)snprintf(extra + off, sizeof extra - off,
			    "null");
		log_emit(LOG_LEVEL_INFO, "request", extra);
		return;
	}
	/* A user name cannot add fields to the line. */
	snprintf(who, sizeof who, "%s", user != NULL ? user : "-");
	for (off = 0; who[off] != '\0'; off++)
		if (who[off] == ' ' || who[off] == '=')
			who[off] = '_';
	snprintf(msg, sizeof msg, "%s %s %u %.3fms client=%s user=%s", method,
	    path, status, (double)duration_us / 1000.0, client, who);
	log_emit(LOG_LEVEL_INFO, msg, NULL);
}
