/* The path of a request (DESIGN.md): state, kernels, plan, build, install, depmod, report. */
#pragma once

#include "ctx.h"
#include "kernel.h"
#include "plan.h"

struct kb_signer;

/*
 * Build (and with KB_PLAN_INSTALL install) @ids, or every registered
 * recipe's newest version when @ids is NULL, for the kernels in ctx.
 * Prints one line per (recipe, kernel) and a summary. Returns 0 when all
 * held, -KB_E_BUILD when some failed, or another negative error.
 */
int kb_engine_run(struct kb_ctx *ctx, const struct kb_strv *ids, enum kb_plan_mode mode);

/*
 * The end of a run for kernel @k, once however many recipes changed it
 * (install, rebuild, remove): depmod when @changed or an earlier run's
 * depmod is still pending (its mark, kb_depmod_mark(), written before the
 * first file changed), not with --no-depmod; the shadowing check; then the
 * initramfs when a module @plan installed for @k must be in it. @plan may
 * be NULL when the run installed nothing. 0, or the first negative error
 * (reported).
 */
int kb_engine_finish_kernel(struct kb_ctx *ctx, const struct kb_plan *plan,
			    const struct kb_kernel *k, bool changed);

/* Human words for a task's outcome ("installed", "up to date", ...). */
const char *kb_task_outcome(const struct kb_task *t);

/*
 * Turn command arguments into recipe ids. With @register_paths, an
 * argument naming an existing file or directory is registered first
 * (`kbuildd install /usr/src/foo-1.2`). --all with arguments is an error;
 * neither is an error too. *@all is set for --all (ids stay empty).
 */
int kb_engine_args(struct kb_ctx *ctx, int argc, char **argv, bool register_paths,
		   struct kb_strv *ids);
