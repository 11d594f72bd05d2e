/* The path of a request (DESIGN.md): state, kernels, plan, build, install, depmod, report. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "depmod.h"
#include "engine.h"
#include "initramfs-job.h"
#include "install.h"
#include "jobs.h"
#include "base/log.h"
#include "sign-choice.h"

const char *kb_task_outcome(const struct kb_task *t)
{
	switch (t->action) {
	case KB_ACT_EXCLUDED:
		return "excluded";
	case KB_ACT_NO_HEADERS:
		return "no headers";
	case KB_ACT_ERROR:
		return "error";
	default:
		break;
	}
	switch (t->state) {
	case KB_TASK_BUILT:
		return t->action == KB_ACT_UPTODATE ? "up to date" : "built";
	case KB_TASK_INSTALLED:
		return "installed";
	case KB_TASK_CURRENT:
		return "up to date";
	case KB_TASK_FAILED:
		return "failed";
	case KB_TASK_SKIPPED:
		return "skipped";
	default:
		return "not built";
	}
}

static bool task_failed(const struct kb_task *t)
{
	return t->action == KB_ACT_ERROR || t->state == KB_TASK_FAILED ||
	       t->state == KB_TASK_SKIPPED;
}

static void report_json(struct kb_ctx *ctx, const struct kb_plan *plan)
{
	struct kb_buf b = KB_BUF_INIT;

	kb_buf_adds(&b, "[");
	for (size_t i = 0; i < plan->n; i++) {
		const struct kb_task *t = &plan->tasks[i];
		char log[PATH_MAX];
		_cleanup_free_ char *log_path = NULL;

		kb_task_build_rel(t, ".log", log, sizeof(log));
		log_path = kb_root_path(&ctx->root, log);
		kb_buf_adds(&b, i ? ",\n " : "\n ");
		kb_buf_adds(&b, "{\"name\": ");
		kb_buf_add_json(&b, t->recipe->name);
		kb_buf_adds(&b, ", \"version\": ");
		kb_buf_add_json(&b, t->recipe->version);
		kb_buf_adds(&b, ", \"kernel\": ");
		kb_buf_add_json(&b, t->kernel->release);
		kb_buf_adds(&b, ", \"result\": ");
		kb_buf_add_json(&b, kb_task_outcome(t));
		kb_buf_adds(&b, ", \"reason\": ");
		if (t->reason)
			kb_buf_add_json(&b, t->reason);
		else
			kb_buf_adds(&b, "null");
		kb_buf_adds(&b, ", \"build_id\": ");
		kb_buf_add_json(&b, t->build_id);
		kb_buf_adds(&b, ", \"log\": ");
		kb_buf_add_json(&b, log_path ? log_path : "");
		kb_buf_adds(&b, "}");
	}
	kb_buf_adds(&b, plan->n ? "\n]\n" : "]\n");
	fputs(kb_buf_str(&b), stdout);
	kb_buf_release(&b);
}

static void report(struct kb_ctx *ctx, const struct kb_plan *plan)
{
	static const char *const names[] = { "installed",  "built",  "up to date", "excluded",
					     "no headers", "failed", "skipped",	   "error" };
	unsigned counts[ARRAY_SIZE(names)] = { 0 };
	struct kb_plan_columns w = kb_plan_columns(plan, false);
	struct kb_buf summary = KB_BUF_INIT;

	if (ctx->json) {
		report_json(ctx, plan);
		return;
	}
	for (size_t i = 0; i < plan->n; i++) {
		const struct kb_task *t = &plan->tasks[i];
		const char *outcome = kb_task_outcome(t);
		char id[160];

		for (size_t j = 0; j < ARRAY_SIZE(names); j++)
			if (!strcmp(names[j], outcome))
				counts[j]++;
		if (kb_log_get_level() < KB_LOG_NORMAL && !task_failed(t))
			continue;
		printf("%-*s %-*s %s%s%s\n", w.id, kb_task_id(t, id, sizeof(id)), w.kernel,
		       t->kernel->release, outcome, t->reason ? ": " : "",
		       t->reason ? t->reason : "");
	}
	for (size_t j = 0; j < ARRAY_SIZE(names); j++)
		if (counts[j])
			kb_buf_addf(&summary, "%s%u %s", summary.len ? ", " : "", counts[j],
				    names[j]);
	if (kb_log_get_level() >= KB_LOG_NORMAL)
		printf("%s\n", summary.len ? kb_buf_str(&summary) : "nothing to do");
	kb_buf_release(&summary);
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

/*
 * DKMS's exit status for the same outcome: autoinstall says 11 when any
 * module failed; build and install say what stopped the first that failed
 * (DKMS stops there): 13 a dependency not registered, 6 an install refused,
 * else 10; and 77 (all excluded, not for autoinstall) or 21 (no headers)
 * when nothing could be
 * attempted.
 */
static int dkms_status(const struct kb_plan *plan, bool autoinstall)
{
	bool attempted = false, excluded = false, no_headers = false;
	int failed = 0;

	for (size_t i = 0; i < plan->n; i++) {
		const struct kb_task *t = &plan->tasks[i];

		if (!t->selected)
			continue;
		if (task_failed(t) && !failed)
			failed = t->dkms_exit ? t->dkms_exit : 10;
		else if (t->action == KB_ACT_EXCLUDED)
			excluded = true;
		else if (t->action == KB_ACT_NO_HEADERS)
			no_headers = true;
		else
			attempted = true;
	}
	if (failed)
		return autoinstall ? 11 : failed;
	if (!attempted && no_headers)
		return 21;
	if (!attempted && excluded && !autoinstall)
		return 77;
	return 0;
}

/* Dependencies not registered: the build stops there, or goes on without them (--force). */
static void tell_missing(const struct kb_ctx *ctx, const struct kb_plan *plan)
{
	for (size_t i = 0; i < plan->n; i++) {
		const struct kb_task *t = &plan->tasks[i];
		bool stop = t->action == KB_ACT_ERROR;
		char id[160];

		if (!t->missing || (!stop && !ctx->force))
			continue;
		kb_task_id(t, id, sizeof(id));
		/* the front end's callers know DKMS's words */
		if (ctx->dkms_codes && stop)
			kb_err(-KB_E_BUILD,
			       "Aborting build of module %s for kernel %s (%s) due to "
			       "missing BUILD_DEPENDS: %s.\nYou may override by specifying --force.",
			       id, t->kernel->release, t->kernel->arch, t->missing);
		else if (ctx->dkms_codes)
			kb_warn("Trying to build module %s for kernel %s (%s) despite of missing "
				"BUILD_DEPENDS: %s.",
				id, t->kernel->release, t->kernel->arch, t->missing);
		else if (stop)
			kb_err(-KB_E_BUILD, "%s for %s: %s", id, t->kernel->release, t->reason);
		else
			kb_warn("building %s for %s without '%s', which is not registered (--force)",
				id, t->kernel->release, t->missing);
	}
}

int kb_engine_run(struct kb_ctx *ctx, const struct kb_strv *ids, enum kb_plan_mode mode)
{
	struct kb_recipe_set set = { 0 };
	struct kb_kernel_list kernels = { 0 };
	struct kb_plan plan = { 0 };
	struct kb_signing signing = { 0 };
	struct early_installs early = { 0 };
	int r, failed = 0;

	r = kb_state_load(ctx, &set);
	if (r >= 0 && (r = kb_kernels_discover(ctx, &kernels)) == -KB_E_INPUT)
		kb_dkms_exit(ctx, 21); /* a -k kernel is not there at all: no headers either */
	if (r >= 0)
		r = kb_signing_setup(ctx, &kernels, &signing, !ctx->dry_run);
	if (r >= 0)
		r = kb_plan_make(ctx, &set, &kernels, ids, mode, &plan);
	if (r < 0)
		goto out;
	tell_missing(ctx, &plan);
	if (ctx->dry_run) {
		for (size_t i = 0; i < plan.n; i++) {
			struct kb_task *t = &plan.tasks[i];
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
	} else if (mode == KB_PLAN_INSTALL) {
		/* a kernel whose builds are done installs while the others still build */
		struct kb_jobs_hook hook = { install_early, &early };

		early.kernels = &kernels;
		early.done = calloc(kernels.n + 1, sizeof(*early.done));
		r = early.done ? kb_jobs_run_hooked(ctx, &plan, &hook) : -ENOMEM;
		if (r < 0)
			goto out;
	} else {
		r = kb_jobs_run(ctx, &plan);
		if (r < 0)
			goto out;
	}
	if (mode == KB_PLAN_INSTALL)
		failed += install_all(ctx, &plan, &kernels, early.done ? &early : NULL);
	report(ctx, &plan);
	ctx->dkms_status = dkms_status(&plan, !ids && mode == KB_PLAN_INSTALL);
	for (size_t i = 0; i < plan.n; i++)
		if (task_failed(&plan.tasks[i]))
			failed++;
	r = failed ? -KB_E_BUILD : 0;
out:
	free(early.done);
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
