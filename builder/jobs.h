/* Runs a plan's builds in parallel under one GNU make jobserver that kbuildd owns. */
#pragma once

#include "plan.h"

/*
 * Build every task whose action is KB_ACT_BUILD once its dependencies are
 * built; all makes share -j N slots (kb_ctx_jobs). A failed build marks
 * its dependents skipped and never stops the others. SIGINT/SIGTERM stop
 * every build and return -KB_E_INTERRUPTED with no half-made build kept.
 */
int kb_jobs_run(struct kb_ctx *ctx, struct kb_plan *plan);

/*
 * Called for a kernel whose builds have all ended while other kernels'
 * builds still run and a slot has nothing to start, so its install and
 * depmod overlap them instead of following them. Each kernel is handed
 * over at most once.
 */
struct kb_jobs_hook {
	void (*kernel_done)(struct kb_ctx *ctx, struct kb_plan *plan, struct kb_kernel *k,
			    void *data);
	void *data;
};

int kb_jobs_run_hooked(struct kb_ctx *ctx, struct kb_plan *plan, const struct kb_jobs_hook *hook);
