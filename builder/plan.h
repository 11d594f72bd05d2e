/* The plan: for each (recipe, kernel), excluded with a reason, up to date, or to build. */
#pragma once

#include <stdbool.h>
#include <time.h>

#include "base/child.h"
#include "ctx.h"
#include "kernel.h"
#include "sandbox.h"
#include "state.h"

enum kb_action {
	KB_ACT_EXCLUDED,   /* recipe does not apply to this kernel */
	KB_ACT_NO_HEADERS, /* kernel has no usable build tree */
	KB_ACT_BUILD,	   /* build id changed or never built */
	KB_ACT_UPTODATE,   /* the kept build has this build id */
	KB_ACT_ERROR,	   /* cannot be planned (missing dependency, cycle) */
};

enum kb_task_state {
	KB_TASK_PENDING,
	KB_TASK_RUNNING,
	KB_TASK_BUILT, /* built now or already up to date */
	KB_TASK_FAILED,
	KB_TASK_SKIPPED, /* a dependency failed */
	KB_TASK_INSTALLED,
	KB_TASK_CURRENT, /* already installed with this build id */
	KB_TASK_UNINSTALLED,
};

struct kb_task {
	struct kb_recipe *recipe; /* registered, or its view for this kernel (dkms.conf) */
	struct kb_recipe *view;	  /* owned: a dkms.conf recipe evaluated for the kernel */
	struct kb_kernel *kernel;
	enum kb_action action;
	enum kb_task_state state;
	char *reason; /* why excluded, failed or skipped */
	char build_id[KB_SHA256_HEX];
	char alt_build_id[KB_SHA256_HEX]; /* with a rotation's other key (sign-choice.h), or "" */
	bool resign;			/* the kept build has alt_build_id: re-signed, not built */
	char outputs_id[KB_SHA256_HEX]; /* sha256 of its kept build's outputs; "" until built */
	char *missing;			/* owned: dependencies not registered, space-separated */
	enum kb_failure failure;	/* what kind of failure it was, beyond a build's */
	struct kb_task **deps;
	size_t nr_deps;
	struct kb_task *leader; /* another kernel's build that may stand in: waited for (reuse.h) */
	bool install;		/* install after building */
	bool selected;		/* asked for, not just pulled in as a dependency */
	bool cache_asked;	/* looked up in the build cache this run (cache.h) */
	bool from_cache;	/* its build (or its failure) was taken from the build cache */
	bool failure_recorded;	/* it failed in this run, and .failed says these inputs fail */
	double expected;	/* seconds the build should take (jobs.c; 0: not known yet) */
	int visit;		/* cycle detection while planning */

	/* Set while building (jobs.c). */
	struct kb_child child;
	struct kb_sandbox sandbox; /* what its build, patches and scripts run in */
	int log_fd;
	struct timespec started;
	double seconds;
};

struct kb_reuse_cache;

struct kb_plan {
	struct kb_task *tasks;
	size_t n;
	size_t *order; /* indexes of tasks, each after its dependencies: install order */
	struct kb_reuse_cache *reuse; /* what reuse checks remember during the run */
};

enum kb_plan_mode { KB_PLAN_BUILD, KB_PLAN_INSTALL };

/*
 * Plan @ids ("NAME" or "NAME/VERSION"; NULL = every recipe's newest
 * version) on every kernel in @kernels. Dependencies are pulled in for the
 * same kernel; with KB_PLAN_INSTALL so are the recipes installed there that
 * depend on one being installed (their version installed there), so that
 * they are rebuilt against it. Returns 0, or -KB_E_INPUT when an id is not
 * registered.
 */
int kb_plan_make(struct kb_ctx *ctx, struct kb_recipe_set *set, struct kb_kernel_list *kernels,
		 const struct kb_strv *ids, enum kb_plan_mode mode, struct kb_plan *plan);
void kb_plan_release(struct kb_plan *plan);

/*
 * Is @r meant for @k? Returns NULL if so, else a reason the caller frees.
 * Pure: looks only at the recipe and the kernel facts.
 */
char *kb_plan_exclusion(const struct kb_recipe *r, const struct kb_kernel *k);

/*
 * The build id: SHA-256 over everything that changes the output (doc/design.md),
 * each dependency's version, build id and outputs_id among them.
 */
void kb_plan_build_id(const struct kb_recipe *r, const struct kb_kernel *k,
		      struct kb_task *const *deps, size_t nr_deps, const char *signing,
		      char out[KB_SHA256_HEX]);

/*
 * Before @t builds, its dependencies are built: take their outputs into
 * its build id (a dependency built in this run had none when planned).
 */
void kb_plan_final_id(struct kb_ctx *ctx, struct kb_task *t);
/* t->build_id, and t->alt_build_id during a key rotation (build-id.c). */
void kb_task_build_ids(struct kb_ctx *ctx, struct kb_task *t);
/*
 * Is @t's kept build the one its build id names (up to date), or the one
 * with its alt_build_id (up to date, t->resign), or did the last build
 * with this id fail (not retried without --force)?
 */
void kb_task_check_kept(struct kb_ctx *ctx, struct kb_task *t);

/* var/lib/kbuildd/builds/NAME/VERSION/KERNEL (in @buf). */
int kb_task_build_rel(const struct kb_task *t, const char *suffix, char *buf, size_t size);
/*
 * Its staging names beside it: builds/NAME/VERSION/@prefix KERNEL @suffix,
 * @prefix KB_STAGING_NEW (a build under way) or KB_STAGING_OLD (mid-swap).
 */
int kb_task_staging_rel(const struct kb_task *t, const char *prefix, const char *suffix, char *buf,
			size_t size);
/*
 * Did the install of a dependency of @t fail? Then @t is marked skipped:
 * it was built against that dependency's build, which is not installed.
 */
bool kb_task_dep_failed(struct kb_task *t);
/* Mark @t failed with a formatted reason; returns -KB_E_BUILD. */
int kb_task_fail(struct kb_task *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "NAME/VERSION" in @buf. */
const char *kb_task_id(const struct kb_task *t, char *buf, size_t size);

/* Widths of a table's RECIPE and KERNEL columns: the widest of @plan's rows, at least 24 and 28. */
struct kb_plan_columns {
	int id, kernel;
};
/* Over every task, or only the selected ones when @selected. */
struct kb_plan_columns kb_plan_columns(const struct kb_plan *plan, bool selected);
