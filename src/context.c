/*
 * context.c - build and release the per-configuration state.
 */
#include "context.h"

#include <stdlib.h>

#include "xmalloc.h"

int
context_new(struct config *cfg, struct context **out, char *err, size_t errlen)
{
	struct context *ctx = xcalloc(1, sizeof *ctx);

	(void)err;
	(void)errlen;
	ctx->refs = 1;
	ctx->cfg = cfg;
	*out = ctx;
	return 0;
}

struct context *
context_ref(struct context *ctx)
{
	__atomic_add_fetch(&ctx->refs, 1, __ATOMIC_RELAXED);
	return ctx;
}

void
context_unref(struct context *ctx)
{
	if (ctx == NULL || __atomic_sub_fetch(&ctx->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	config_free(ctx->cfg);
	free(ctx);
}
