/* The path of a request (doc/design.md): state, kernels, plan, build, install, depmod, results. */
#pragma once

#include "ctx.h"
#include "kernel.h"
#include "plan.h"

struct kb_signer;

/* How a (recipe, kernel) ended, in the order a summary counts them. */
enum kb_outcome {
	KB_OUT_INSTALLED,
	KB_OUT_BUILT,
	KB_OUT_UPTODATE,
	KB_OUT_EXCLUDED,
	KB_OUT_NO_HEADERS,
	KB_OUT_FAILED,
	KB_OUT_SKIPPED,
	KB_OUT_ERROR,
	KB_OUT_NOT_BUILT,
	KB_OUT_COUNT
};

/* One row of what a run did; the strings are the result's own. */
struct kb_result {
	char *name, *version, *kernel, *arch; /* arch: NULL for a kernel without headers */
	enum kb_outcome outcome;
	char *reason; /* why it failed, was skipped or excluded; NULL if nothing to say */
	char *build_id;
	char *log;		 /* the build's log, a host path */
	char *missing;		 /* a dependency that is not registered, or NULL */
	enum kb_failure failure; /* the kind of a failure, beyond a build's */
	bool selected;		 /* asked for, not brought in as a dependency or dependent */
};

/* The result table a run returns, one row per (recipe, kernel) in plan order. */
struct kb_results {
	struct kb_result *v;
	size_t n;
	bool autoinstall; /* a run over every registered recipe that installs */
	bool no_kernel;	  /* a kernel asked for with -k is not there at all */
};

void kb_results_release(struct kb_results *res);
/* Did the row fail (failed, skipped, or an error that stopped it)? */
bool kb_result_failed(const struct kb_result *r);
/* Human words for an outcome ("installed", "up to date", ...). */
const char *kb_outcome_name(enum kb_outcome o);

/*
 * Build (and with KB_PLAN_INSTALL install) @ids, or every registered
 * recipe's newest version when @ids is NULL, for the kernels in ctx, and
 * fill @res with what happened to each (recipe, kernel) (cli/ renders it).
 * Returns 0 when all held, -KB_E_BUILD when some failed, or another
 * negative error (@res may then hold nothing).
 */
int kb_engine_run(struct kb_ctx *ctx, const struct kb_strv *ids, enum kb_plan_mode mode,
		  struct kb_results *res);

/* The outcome of a task, as a result row says it. */
enum kb_outcome kb_task_outcome_of(const struct kb_task *t);

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
