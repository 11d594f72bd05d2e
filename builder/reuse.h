/*
 * Reuse (doc/design.md, "Reuse"): a build made for kernel A installed for
 * kernel B instead of compiling, when B's build environment is A's but for
 * the release strings ([build] reuse = exact), or, opted into, when B
 * gives every symbol the modules import the CRC they were built against
 * and the same vermagic flags (kabi, SUSE's weak-updates rule). A reused
 * build is kept for B like any other, with a `reused` record saying which
 * build it came from and what was checked; it keeps A's vermagic.
 */
#pragma once

#include <stdint.h>

#include "base/limits.h"
#include "plan.h"

/* builds/N/V/B/reused: where B's kept build came from */
struct kb_reuse_record {
	char from[KB_MAX_RELEASE + 1]; /* kernel A, whose build it is */
	enum kb_reuse_rule rule;
	unsigned long symbols;	    /* imported symbols whose CRC was checked */
	char source[KB_SHA256_HEX]; /* sha256 of A's outputs record when it was taken */
};

/* "exact", "kabi" or "no". */
const char *kb_reuse_rule_name(enum kb_reuse_rule rule);

/*
 * The recipe as built for @release, the release itself masked: two kernels
 * whose views of a recipe differ only in their release have the same id
 * (a dkms.conf evaluates $kernelver into its make line). Kept in each
 * build's recipe-id, which a reuse must match.
 */
void kb_reuse_recipe_id(const struct kb_recipe *r, const char *release, char out[KB_SHA256_HEX]);

/*
 * Before @plan's builds start: each build that another kernel's build of
 * the same recipe in the plan will likely stand in for waits for that one
 * (t->leader), the newest kernel's compiling first.
 */
void kb_reuse_pair(struct kb_ctx *ctx, struct kb_plan *plan);

/*
 * Instead of compiling @t (its dependencies built): find a kept build of
 * the same recipe for another kernel that the rule lets stand in for it,
 * put its modules in @t's staging directory and keep it as @t's build. 1
 * when reused (t->state KB_TASK_BUILT), 0 when @t must compile (why at -v),
 * or a negative error (t->reason set).
 */
int kb_reuse_try(struct kb_ctx *ctx, struct kb_plan *plan, struct kb_task *t);

/*
 * Read the reuse record of @t's kept build. 0, -ENOENT when it was not
 * reused, -KB_E_INPUT when the record is damaged.
 */
int kb_reuse_record_read(struct kb_ctx *ctx, const struct kb_task *t, struct kb_reuse_record *rec);

/*
 * Does the reuse of @t's kept build still hold against its kernel: every
 * imported symbol's CRC in the kernel's and its dependencies' Module.symvers
 * and the vermagic flags, as the kernel checks when loading it? 0 with
 * *@symbols counted, or -KB_E_BUILD with @why saying which symbol, file or
 * flag differs, or another negative error.
 */
int kb_reuse_recheck(struct kb_ctx *ctx, const struct kb_task *t, unsigned long *symbols, char *why,
		     size_t size);

/*
 * Planning @t up to date: when its kept build is a reuse whose source
 * changed since (rebuilt, or removed), check it again as kb_reuse_recheck()
 * does. False when it no longer holds (said): @t is to be built.
 */
bool kb_reuse_kept_holds(struct kb_ctx *ctx, const struct kb_task *t);

/* Release what reuse checks remember during a run (plan->reuse). */
void kb_reuse_cache_free(struct kb_reuse_cache *cache);
