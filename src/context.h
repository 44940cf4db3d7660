/*
 * context.h - everything a request handler may use, built from one
 * configuration. A reload builds a new context and swaps it in; requests
 * in flight keep the one they started with.
 */
#ifndef JWTGATE_CONTEXT_H
#define JWTGATE_CONTEXT_H

#include "config.h"

struct context {
	unsigned       refs; /* atomic */
	struct config *cfg;
};

/* Takes ownership of cfg, also on failure. */
int  context_new(struct config *cfg, struct context **out, char *err,
    size_t errlen);
struct context *context_ref(struct context *ctx);
void context_unref(struct context *ctx);

#endif
