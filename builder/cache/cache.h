/*
 * The fleet's build cache (doc/design.md, "The build cache"): before a
 * build compiles, the store [cache] url names is asked for an artifact of
 * the same build id; one whose manifest a trusted certificate signed, whose
 * files are what the manifest says and whose modules' own signatures are
 * trusted is kept as the build, with no compiler run. With push = yes every
 * build this machine installs is pushed after the install.
 */
#pragma once

#include "ctx.h"
#include "plan.h"

/*
 * Open the cache [cache] names into ctx->cache (left NULL when none is
 * set): its store and the certificates it trusts. Bad settings are
 * -KB_E_INPUT, said. kb_cache_close() releases it.
 */
int kb_cache_open(struct kb_ctx *ctx);
void kb_cache_close(struct kb_ctx *ctx);

/*
 * Take from the cache every build of @plan it has: those whose
 * dependencies are built first, all lookups of a round at once, then
 * their dependents. A refused artifact is said (what failed) and the build
 * compiles; a store that cannot be reached is said once and asked no more.
 * Returns how many were taken, or a negative errno.
 */
int kb_cache_fetch(struct kb_ctx *ctx, struct kb_plan *plan);

/*
 * With push = yes, after the run: push each build of @plan installed in
 * this run and not taken from the cache, and each that failed here with
 * its inputs recorded as failing (the fleet need not compile it either).
 * A failed push warns; nothing installed changes.
 */
void kb_cache_push_run(struct kb_ctx *ctx, struct kb_plan *plan);

/*
 * Push what is installed of @t's recipe for its kernel, as its manifest
 * lists it. 0, -ENOENT when it is not installed, or -KB_E_BUILD with the
 * reason said.
 */
int kb_cache_push(struct kb_ctx *ctx, const struct kb_task *t);

/* Why the store failed in this run, or NULL while it works (or without a cache). */
const char *kb_cache_down(const struct kb_ctx *ctx);
/* The store's URL as configured, for messages ("" without a cache). */
const char *kb_cache_url(const struct kb_ctx *ctx);

struct kb_artifact;
/* Push @a, signed, to ctx's store; -KB_E_BUILD with @why. */
int kb_cache_store_push(struct kb_ctx *ctx, struct kb_artifact *a, char *why, size_t size);
