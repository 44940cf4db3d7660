/*
 * rules.h - which requests need a token: [auth] exclude patterns (PCRE2),
 * exclude_methods and [route PREFIX] rules, and the path normalisation
 * every decision is made on.
 */
#ifndef JWTGATE_RULES_H
#define JWTGATE_RULES_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

struct rules;

struct rule_decision {
	bool public;                 /* no token needed */
	enum backend_kind   backend; /* where the token is read from */
	const struct route *route;   /* the rule applied, or NULL */
};

/* 0 when pattern compiles as PCRE2, else -1 with the reason in err. */
int rules_pattern_check(const char *pattern, char *err, size_t errlen);

/*
 * Compile [auth] exclude and order the routes; a pattern that matches every
 * path is logged as a warning. cfg must outlive the rules.
 */
int  rules_new(const struct config *cfg, struct rules **out, char *err,
     size_t errlen);
void rules_free(struct rules *r);

/*
 * Turn a request target (origin form "/p?q", or absolute "http://h/p") into
 * the path rules are matched on: query and fragment dropped, percent-decoded
 * once, dot segments removed, repeated slashes folded. -1 when it cannot be
 * parsed (bad escapes, NUL or control characters, not a path): the caller
 * fails closed.
 */
int rules_normalize(const char *target, char *out, size_t outlen);

/* Decide for a normalised path, in SPEC order: methods, patterns, route. */
void rules_decide(const struct rules *r, const char *method, const char *path,
    struct rule_decision *out);

#endif
