/*
 * rules.h - which requests need a token: [auth] exclude patterns (PCRE2),
 * exclude_methods and [route PREFIX] rules, and path normalisation.
 */
#ifndef JWTGATE_RULES_H
#define JWTGATE_RULES_H

#include <stddef.h>

/* 0 when pattern compiles as PCRE2, else -1 with the reason in err. */
int rules_pattern_check(const char *pattern, char *err, size_t errlen);

#endif
