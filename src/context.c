/*
 * context.c - build and release the per-configuration state and the
 * process-wide services.
 */
#include "context.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "handlers.h"
#include "hashpool.h"
#include "keys.h"
#include "regulation.h"
#include "rules.h"
#include "store.h"
#include "token.h"
#include "users.h"
#include "xmalloc.h"

#define HASH_QUEUE_MAX 256 /* logins waiting for a hash worker */

int
services_new(const struct config *cfg, struct services **out, char *err,
    size_t errlen)
{
	struct services *sv = xcalloc(1, sizeof *sv);
	unsigned         workers = cfg->login.hash_workers;

	if (store_open(cfg, &sv->store, err, errlen) == -1) {
		free(sv);
		return -1;
	}
	if (workers == 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);

		workers = n > 0 ? (unsigned)n : 1;
	}
	sv->pool = hashpool_new(workers, HASH_QUEUE_MAX);
	sv->regulation = regulation_new(cfg, sv->store);
	*out = sv;
	return 0;
}

void
services_drain(struct services *sv)
{
	hashpool_stop(sv->pool);
}

void
services_free(struct services *sv)
{
	if (sv == NULL)
		return;
	hashpool_free(sv->pool);
	regulation_free(sv->regulation);
	store_close(sv->store);
	free(sv);
}

int
context_new(struct config *cfg, struct services *sv, struct context **out,
    struct config_errors *errs)
{
	static uint64_t      generations; /* atomic */
	struct context      *ctx = xcalloc(1, sizeof *ctx);
	struct config_errors uerrs;
	char                 err[2048];

	/* Every problem is reported: keys, exclude patterns, the user file. */
	memset(errs, 0, sizeof *errs);
	ctx->refs = 1;
	ctx->generation = __atomic_add_fetch(&generations, 1, __ATOMIC_RELAXED);
	ctx->cfg = cfg;
	ctx->services = sv;
	if (keys_load(cfg, &ctx->keys, errs) == 0 &&
	    (ctx->verifier = token_verifier_new(cfg, ctx->keys)) == NULL)
		config_error(errs, "%s: cannot set up token verification",
		    cfg->path);
	if (rules_new(cfg, &ctx->rules, err, sizeof err) == -1)
		config_error(errs, "%s", err);
	if (users_load_all(cfg, &ctx->users, &uerrs) == -1)
		config_errors_merge(errs, &uerrs);
	if (errs->n > 0 || errs->dropped > 0) {
		context_unref(ctx);
		return -1;
	}
	ctx->verdicts = verify_cache_new();
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
	if (ctx == NULL ||
	    __atomic_sub_fetch(&ctx->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	if (ctx->users != NULL)
		users_unref(ctx->users);
	verify_cache_free(ctx->verdicts);
	rules_free(ctx->rules);
	token_verifier_free(ctx->verifier);
	keys_free(ctx->keys);
	config_free(ctx->cfg);
	free(ctx);
}
