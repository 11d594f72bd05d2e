/* One (recipe, kernel) build: its directory, its command line, its outcome. */
#pragma once

#include "plan.h"

/*
 * Fresh build dir builds/N/V/K.new/ with a copy of the registered source
 * and the recipe's patches applied; opens the log builds/N/V/K.log into
 * t->log_fd. On failure the reason is in t->reason.
 */
int kb_build_prepare(struct kb_ctx *ctx, struct kb_task *t);
/*
 * The sandbox of @t's build in K.new @dir (build-sandbox.c): it writes its
 * tree @src alone, sees of kbuildd's state only its layout, the source
 * @snapshot and its dependencies' builds, and a dkms.conf build gets its
 * own /usr/src/NAME-VERSION and /var/lib/dkms tree. 0, or t->reason set.
 */
int kb_build_contain(struct kb_ctx *ctx, struct kb_task *t, const char *dir, const char *src,
		     const char *snapshot);
/* Fill t->child with the make command and clean environment, using jobserver fds @rfd,@wfd. */
int kb_build_command(struct kb_ctx *ctx, struct kb_task *t, int rfd, int wfd);
/*
 * After the command exited with @status: on success check the modules
 * exist, record the build id and make K.new the kept build; otherwise drop
 * K.new and keep the log. Sets t->state.
 */
void kb_build_finish(struct kb_ctx *ctx, struct kb_task *t, int status);
/*
 * Make the sealed K.new (kb_outputs_seal()) the kept build of @t, with
 * t->build_id recorded: the kept one it replaces goes in the same step.
 * 0 or negative errno.
 */
int kb_build_keep(struct kb_ctx *ctx, struct kb_task *t);
/* Remove a half-made build dir after an interruption. */
void kb_build_abandon(struct kb_ctx *ctx, struct kb_task *t);
/*
 * The last @lines lines of @t's log, ending in a newline, into @out, and
 * the log's host path into *@path (the caller frees it). 0, or negative
 * errno (no log, or an empty one).
 */
int kb_build_log_tail(struct kb_ctx *ctx, const struct kb_task *t, unsigned lines,
		      struct kb_buf *out, char **path);
