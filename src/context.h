/*
 * context.h - everything a request handler may use.
 *
 * struct context is built from one configuration (config, keys, verifier,
 * rules, users) and is replaced whole by a reload; requests in flight keep
 * the one they started with (reference counted). struct services (store,
 * password-hash pool, login regulation) lives for the whole process, so a
 * reload neither loses bans nor drops the in-memory store.
 */
#ifndef JWTGATE_CONTEXT_H
#define JWTGATE_CONTEXT_H

#include <stdint.h>

#include "config.h"

struct services {
	struct store      *store;
	struct hashpool   *pool;
	struct regulation *regulation;
};

struct context {
	unsigned               refs;       /* atomic */
	uint64_t               generation; /* unique to this context */
	struct config         *cfg;
	struct keyring        *keys;
	struct token_verifier *verifier;
	struct rules          *rules;
	struct userdb         *users;
	struct verify_cache   *verdicts; /* /verify's built answers */
	struct services       *services; /* not owned */
};

int services_new(const struct config *cfg, struct services **out, char *err,
    size_t errlen);
/* Finish the queued password checks (their connections are resumed). */
void services_drain(struct services *sv);
void services_free(struct services *sv);

/* Takes ownership of cfg, also on failure. sv may be NULL (check). */
/* On failure errs holds every problem found (FILE:LINE: messages). */
int context_new(struct config *cfg, struct services *sv, struct context **out,
    struct config_errors *errs);
struct context *context_ref(struct context *ctx);
void            context_unref(struct context *ctx);

#endif
