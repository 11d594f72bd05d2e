/*
 * What a build produced. When a build ends, the privileged parent freezes
 * its directory (root's, read-only to the build user) and records the
 * sha256 of each module in builds/N/V/K/outputs; install reads exactly
 * those bytes, and status --check finds a kept build changed since.
 */
#pragma once

#include "plan.h"

/*
 * Freeze @t's finished build dir (K.new) and record its modules' hashes.
 * A module that is missing, reached through a symlink or not a regular
 * file fails the build (t->reason says which); negative on failure.
 */
int kb_outputs_seal(struct kb_ctx *ctx, struct kb_task *t);
/*
 * Read module @m of @t's kept build into @raw (at most KB_MAX_MODULE_SIZE)
 * when it is a regular file with the sha256 recorded when the build
 * ended. -KB_E_INPUT (with t->reason) when it is not.
 */
int kb_outputs_read(struct kb_ctx *ctx, struct kb_task *t, const struct kb_module_spec *m,
		    struct kb_buf *raw);
/*
 * status --check: does every kept build under builds/ still hold what it
 * recorded, frozen? Calls @report once per problem; returns their count.
 */
unsigned kb_outputs_check(struct kb_ctx *ctx, void (*report)(void *data, const char *msg),
			  void *data);
