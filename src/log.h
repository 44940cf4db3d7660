/*
 * log.h - one line per event on stderr, as text or JSON. Never pass a
 * password, token or secret to these functions.
 */
#ifndef JWTGATE_LOG_H
#define JWTGATE_LOG_H

#include <stdint.h>

#include "config.h"

#define LOG_PRINTF(a, b) __attribute__((format(printf, a, b)))

void log_init(enum log_level level, enum log_format format);

void log_debug(const char *fmt, ...) LOG_PRINTF(1, 2);
void log_info(const char *fmt, ...) LOG_PRINTF(1, 2);
void log_warn(const char *fmt, ...) LOG_PRINTF(1, 2);
void log_error(const char *fmt, ...) LOG_PRINTF(1, 2);
/* Printed whatever the level: lines operators and tools rely on. */
void log_notice(const char *fmt, ...) LOG_PRINTF(1, 2);
void fatal(const char *fmt, ...) LOG_PRINTF(1, 2) __attribute__((noreturn));

/* Write out the access-log lines threads still hold (see log.c). */
void log_flush(void);

/* One access-log line; user may be NULL. Written within a second. */
void log_access(const char *method, const char *path, unsigned status,
    uint64_t duration_us, const char *client, const char *user);

#endif
