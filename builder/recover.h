/*
 * Finish or roll back what an interrupted run left, before any command
 * changes state: temp files of atomic writes (outside the state directory
 * exactly those an intent journal lists), half-made build and staging
 * directories, a build directory caught mid-swap, partial downloads, and
 * a depmod that was owed or killed (its own temp files, then depmod again).
 * Manifests need nothing: they are written before and after the files
 * they list, so every file is owned and the next install or remove
 * completes the change.
 */
#pragma once

#include "ctx.h"

/* Returns how many leftovers were cleaned; never fails the command. */
unsigned kb_state_recover(struct kb_ctx *ctx);

/*
 * status --check: every file kbuildd installed is listed by a manifest with
 * the right sha256, every listed file exists, and no leftovers remain.
 * Prints one line per problem; returns how many.
 */
unsigned kb_state_check(struct kb_ctx *ctx, void (*report)(void *data, const char *msg),
			void *data);
