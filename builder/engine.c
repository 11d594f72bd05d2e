/* The path of a request (doc/design.md): state, kernels, plan, build, install, depmod, results. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cache/cache.h"
#include "depmod.h"
#include "base/atomic.h"
#include "engine.h"
#include "initramfs-job.h"
#include "install.h"
#include "jobs.h"
#include "base/log.h"
#include "sign-choice.h"

static const char *const outcome_names[KB_OUT_COUNT] = {
	[KB_OUT_INSTALLED] = "installed",   [KB_OUT_BUILT] = "built",
	[KB_OUT_UPTODATE] = "up to date",   [KB_OUT_EXCLUDED] = "excluded",
	[KB_OUT_NO_HEADERS] = "no headers", [KB_OUT_FAILED] = "failed",
	[KB_OUT_SKIPPED] = "skipped",	    [KB_OUT_ERROR] = "error",
	[KB_OUT_NOT_BUILT] = "not built",
};

const char *kb_outcome_name(enum kb_outcome o)
{
	return o < KB_OUT_COUNT ? outcome_names[o] : "unknown";
}

enum kb_outcome kb_task_outcome_of(const struct kb_task *t)
{
	switch (t->action) {
	case KB_ACT_EXCLUDED:
		return KB_OUT_EXCLUDED;
	case KB_ACT_NO_HEADERS:
		return KB_OUT_NO_HEADERS;
	case KB_ACT_ERROR:
		return KB_OUT_ERROR;
	default:
		break;
	}
	switch (t->state) {
	case KB_TASK_BUILT:
		return t->action == KB_ACT_UPTODATE ? KB_OUT_UPTODATE : KB_OUT_BUILT;
	case KB_TASK_INSTALLED:
		return KB_OUT_INSTALLED;
	case KB_TASK_CURRENT:
		return KB_OUT_UPTODATE;
	case KB_TASK_FAILED:
		return KB_OUT_FAILED;
	case KB_TASK_SKIPPED:
		return KB_OUT_SKIPPED;
	default:
		return KB_OUT_NOT_BUILT;
	}
}

const char *kb_task_outcome(const struct kb_task *t)
{
	return kb_outcome_name(kb_task_outcome_of(t));
}

bool kb_result_failed(const struct kb_result *r)
{
	return r->outcome == KB_OUT_ERROR || r->outcome == KB_OUT_FAILED ||
	       r->outcome == KB_OUT_SKIPPED;
}

void kb_results_release(struct kb_results *res)
{
	for (size_t i = 0; i < res->n; i++) {
		struct kb_result *r = &res->v[i];

		free(r->name);
		free(r->version);
		free(r->kernel);
		free(r->arch);
		free(r->reason);
		free(r->build_id);
		free(r->log);
		free(r->missing);
	}
	free(res->v);
	res->v = NULL;
	res->n = 0;
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

/* The plan as the result table the caller renders. */
static int fill_results(struct kb_ctx *ctx, const struct kb_plan *plan, struct kb_results *res)
{
	res->v = calloc(plan->n + 1, sizeof(*res->v));
	if (!res->v)
		return -ENOMEM;
	for (size_t i = 0; i < plan->n; i++) {
		const struct kb_task *t = &plan->tasks[i];
		struct kb_result *r = &res->v[res->n++];
		char log[PATH_MAX];

		kb_task_build_rel(t, ".log", log, sizeof(log));
		*r = (struct kb_result){
			.name = strdup(t->recipe->name),
			.version = strdup(t->recipe->version),
			.kernel = strdup(t->kernel->release),
			.arch = dup_or_null(t->kernel->arch),
			.outcome = kb_task_outcome_of(t),
			.reason = dup_or_null(t->reason),
			.build_id = strdup(t->build_id),
			.log = kb_root_path(&ctx->root, log),
			.missing = dup_or_null(t->missing),
			.failure = t->failure,
			.selected = t->selected,
		};
		if (!r->name || !r->version || !r->kernel || !r->build_id || !r->log ||
		    (t->kernel->arch && !r->arch) || (t->reason && !r->reason) ||
		    (t->missing && !r->missing))
			return -ENOMEM;
	}
	return 0;
}

static bool task_failed(const struct kb_task *t)
{
	return t->action == KB_ACT_ERROR || t->state == KB_TASK_FAILED ||
	       t->state == KB_TASK_SKIPPED;
}

/*
 * Regenerate @k's initramfs (once) when a module it must carry changed. A
 * kernel hook (--hook) leaves it to the distribution's own hook, which runs
 * next, unless told --initramfs (headers that came after the image).
 */
static bool wants_initramfs(struct kb_ctx *ctx, const struct kb_plan *plan,
			    const struct kb_kernel *k)
{
	struct kb_strv replaced = KB_STRV_INIT;
	bool wanted = false;

	if (ctx->no_initramfs || (ctx->hook && !ctx->initramfs_now))
		return false;
	for (size_t i = 0; !wanted && i < plan->n; i++) {
		const struct kb_task *t = &plan->tasks[i];

		if (t->kernel != k || t->state != KB_TASK_INSTALLED)
			continue;
		for (size_t m = 0; m < t->recipe->nr_modules; m++) {
			wanted = wanted || t->recipe->modules[m].initramfs;
			kb_strv_push(&replaced, t->recipe->modules[m].name);
		}
	}
	/* an older copy of a module just replaced, carried by the current image */
	if (!wanted && kb_initramfs_backend_of(ctx) != KB_INITRAMFS_NONE)
		wanted = kb_initramfs_carries(&ctx->root, k->release, &replaced);
	kb_strv_clear(&replaced);
	return wanted;
}

int kb_engine_finish_kernel(struct kb_ctx *ctx, const struct kb_plan *plan,
			    const struct kb_kernel *k, bool changed)
{
	int r, initramfs = 0;

	/* a pending mark is an earlier run's depmod that never happened */
	if ((!changed && !kb_depmod_pending(ctx, k)) || ctx->no_depmod)
		return 0;
	/* once per kernel, however many recipes changed */
	r = kb_depmod(ctx, k);
	if (r >= 0)
		kb_depmod_check(ctx, k);
	/* a failed depmod still lets the image take what was installed */
	if (plan && wants_initramfs(ctx, plan, k))
		initramfs = kb_initramfs_update(ctx, k);
	return r < 0 ? r : initramfs;
}

/* Install what was built for @k, then finish it: depmod and the initramfs once. Returns failures. */
static int install_kernel(struct kb_ctx *ctx, struct kb_plan *plan, struct kb_kernel *k)
{
	bool changed = false;
	int failed = kb_install_kernel(ctx, plan, k, &changed);

	return failed + (kb_engine_finish_kernel(ctx, plan, k, changed) < 0);
}

/* Kernels installed while others still built (the jobs hook), and their failures. */
struct early_installs {
	struct kb_kernel_list *kernels;
	bool *done;
	int failed;
};

static void install_early(struct kb_ctx *ctx, struct kb_plan *plan, struct kb_kernel *k, void *data)
{
	struct early_installs *e = data;

	for (size_t i = 0; i < e->kernels->n; i++)
		if (&e->kernels->v[i] == k && !e->done[i]) {
			e->done[i] = true;
			e->failed += install_kernel(ctx, plan, k);
		}
}

static int install_all(struct kb_ctx *ctx, struct kb_plan *plan, struct kb_kernel_list *kernels,
		       struct early_installs *early)
{
	int failed = early ? early->failed : 0;

	for (size_t i = 0; i < kernels->n; i++)
		if (!early || !early->done[i])
			failed += install_kernel(ctx, plan, &kernels->v[i]);
	return failed;
}

/* --dry-run: what would be built is said, nothing is. */
static void show_dry_run(struct kb_plan *plan)
{
	for (size_t i = 0; i < plan->n; i++) {
		struct kb_task *t = &plan->tasks[i];
		char id[160];

		/* only what is already built can be shown installing */
		if (t->action == KB_ACT_BUILD && t->state == KB_TASK_PENDING) {
			kb_info("would build %s for %s", kb_task_id(t, id, sizeof(id)),
				t->kernel->release);
			free(t->reason);
			t->reason = strdup("would be built (dry run)");
		}
		if (t->action == KB_ACT_UPTODATE)
			t->state = KB_TASK_BUILT;
	}
}

/*
 * A key rotation switched keys: the kept builds are the same compiles, so
 * they take the new ids (install then signs them with the new key). A kill
 * after this leaves them up to date, and install still re-signs.
 */
static int take_new_ids(struct kb_ctx *ctx, struct kb_plan *plan)
{
	for (size_t i = 0; i < plan->n; i++) {
		struct kb_task *t = &plan->tasks[i];
		char rel[4096], line[KB_SHA256_HEX + 1], id[160];
		int r;

		if (!t->resign || t->action != KB_ACT_UPTODATE)
			continue;
		snprintf(line, sizeof(line), "%s\n", t->build_id);
		r = kb_task_build_rel(t, "/build-id", rel, sizeof(rel));
		if (r >= 0)
			r = kb_atomic_write(&ctx->root, rel, line, strlen(line), 0644);
		if (r < 0)
			return kb_err_errno(r, "cannot write '/%s'", rel);
		kb_verbose("%s for %s: re-signed with the new key, not rebuilt",
			   kb_task_id(t, id, sizeof(id)), t->kernel->release);
	}
	return 0;
}

/* The builds, under the jobserver; installing, a kernel whose builds are done installs early. */
static int run_builds(struct kb_ctx *ctx, struct kb_plan *plan, enum kb_plan_mode mode,
		      struct early_installs *early)
{
	struct kb_jobs_hook hook = { install_early, early };

	if (mode != KB_PLAN_INSTALL)
		return kb_jobs_run(ctx, plan);
	early->done = calloc(early->kernels->n + 1, sizeof(*early->done));
	return early->done ? kb_jobs_run_hooked(ctx, plan, &hook) : -ENOMEM;
}

int kb_engine_run(struct kb_ctx *ctx, const struct kb_strv *ids, enum kb_plan_mode mode,
		  struct kb_results *res)
{
	struct kb_recipe_set set = { 0 };
	struct kb_kernel_list kernels = { 0 };
	struct kb_plan plan = { 0 };
	struct kb_signing signing = { 0 };
	struct early_installs early = { .kernels = &kernels };
	int r, failed = 0;

	r = kb_state_load(ctx, &set);
	*res = (struct kb_results){ .autoinstall = !ids && mode == KB_PLAN_INSTALL };
	if (r >= 0 && (r = kb_kernels_discover(ctx, &kernels)) == -KB_E_INPUT)
		res->no_kernel = true;
	if (r >= 0)
		r = kb_signing_setup(ctx, &kernels, &signing, !ctx->dry_run);
	if (r >= 0)
		r = kb_cache_open(ctx);
	if (r >= 0)
		r = kb_plan_make(ctx, &set, &kernels, ids, mode, &plan);
	if (r < 0)
		goto out;
	if (ctx->dry_run) {
		show_dry_run(&plan);
	} else {
		r = take_new_ids(ctx, &plan);
		if (r < 0)
			goto out;
		/* what the fleet's cache has is compiled nowhere; a cache that failed is no stop */
		if (kb_cache_fetch(ctx, &plan) < 0)
			kb_warn("the build cache could not be asked; building here");
		r = run_builds(ctx, &plan, mode, &early);
		if (r < 0)
			goto out;
	}
	if (mode == KB_PLAN_INSTALL)
		failed += install_all(ctx, &plan, &kernels, early.done ? &early : NULL);
	kb_cache_push_run(ctx, &plan);
	r = fill_results(ctx, &plan, res);
	if (r < 0)
		goto out;
	for (size_t i = 0; i < plan.n; i++)
		if (task_failed(&plan.tasks[i]))
			failed++;
	r = failed ? -KB_E_BUILD : 0;
out:
	free(early.done);
	kb_cache_close(ctx);
	kb_plan_release(&plan);
	kb_kernel_list_release(&kernels);
	kb_recipe_set_release(&set);
	kb_signing_release(ctx, &signing);
	return r;
}

/* "./hello", "/usr/src/foo-1.2", "foo.recipe": not a bare NAME that a directory could shadow */
static bool looks_like_path(const char *arg)
{
	size_t len = strlen(arg);

	return strchr(arg, '/') || !strcmp(arg, ".") ||
	       (len > 7 && !strcmp(arg + len - 7, ".recipe"));
}

int kb_engine_args(struct kb_ctx *ctx, int argc, char **argv, bool register_paths,
		   struct kb_strv *ids)
{
	if (ctx->all && argc)
		return kb_err(-KB_E_INPUT, "give recipes or --all, not both");
	if (!ctx->all && !argc)
		return kb_err(-KB_E_INPUT, "name a recipe (NAME or NAME/VERSION%s) or use --all",
			      register_paths ? ", or a recipe file or source directory" : "");
	struct kb_strv paths = KB_STRV_INIT;
	int r = 0;

	for (int i = 0; r >= 0 && i < argc; i++) {
		if (register_paths && looks_like_path(argv[i]) && access(argv[i], F_OK) == 0)
			r = kb_strv_push(&paths, argv[i]);
		else
			r = kb_strv_push(ids, argv[i]);
	}
	/* register every path at once, so their downloads run concurrently */
	if (r >= 0 && paths.n)
		r = kb_state_add_many(ctx, paths.v, paths.n, ids);
	kb_strv_clear(&paths);
	return r;
}
