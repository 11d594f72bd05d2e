/* The plan: for each (recipe, kernel), excluded with a reason, up to date, or to build. */
#include <errno.h>
#include <fcntl.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "manifest.h"
#include "plan.h"
#include "reuse.h"

const char *kb_task_id(const struct kb_task *t, char *buf, size_t size)
{
	return kb_recipe_id(t->recipe, buf, size);
}

/* Sized to the widest entry, as ps does, so a long version does not shift its row. */
struct kb_plan_columns kb_plan_columns(const struct kb_plan *plan, bool selected)
{
	struct kb_plan_columns w = { .id = 24, .kernel = 28 };

	for (size_t i = 0; i < plan->n; i++) {
		const struct kb_task *t = &plan->tasks[i];
		char id[160];
		int len;

		if (selected && !t->selected)
			continue;
		len = (int)strlen(kb_task_id(t, id, sizeof(id)));
		w.id = len > w.id ? len : w.id;
		len = (int)strlen(t->kernel->release);
		w.kernel = len > w.kernel ? len : w.kernel;
	}
	return w;
}

int kb_task_fail(struct kb_task *t, const char *fmt, ...)
{
	va_list ap;

	free(t->reason);
	va_start(ap, fmt);
	if (vasprintf(&t->reason, fmt, ap) < 0)
		t->reason = NULL;
	va_end(ap);
	t->state = KB_TASK_FAILED;
	return -KB_E_BUILD;
}

int kb_task_build_rel(const struct kb_task *t, const char *suffix, char *buf, size_t size)
{
	return kb_pathf(buf, size, "%s/builds/%s/%s/%s%s", KB_STATE_DIR, t->recipe->name,
			t->recipe->version, t->kernel->release, suffix ? suffix : "");
}

int kb_task_staging_rel(const struct kb_task *t, const char *prefix, const char *suffix, char *buf,
			size_t size)
{
	return kb_pathf(buf, size, "%s/builds/%s/%s/%s%s%s", KB_STATE_DIR, t->recipe->name,
			t->recipe->version, prefix, t->kernel->release, suffix ? suffix : "");
}

char *kb_plan_exclusion(const struct kb_recipe *r, const struct kb_kernel *k)
{
	char *why = NULL;

	if (r->has_kernels && (!k->has_ver || !kb_range_match(&r->kernels, &k->ver))) {
		if (asprintf(&why, "kernel %s is outside 'kernels = %s'", k->release,
			     r->kernels_text) < 0)
			return NULL;
		return why;
	}
	if (r->exclusive_kernel) {
		regex_t re;
		bool match = false;

		if (regcomp(&re, r->exclusive_kernel, REG_EXTENDED | REG_NOSUB) == 0) {
			match = regexec(&re, k->release, 0, NULL, 0) == 0;
			regfree(&re);
		}
		if (!match) {
			if (asprintf(&why, "kernel %s does not match 'exclusive_kernel = %s'",
				     k->release, r->exclusive_kernel) < 0)
				return NULL;
			return why;
		}
	}
	if (r->arch.n && !kb_strv_contains(&r->arch, k->arch)) {
		if (asprintf(&why, "architecture %s is not in 'arch ='", k->arch) < 0)
			return NULL;
		return why;
	}
	for (size_t i = 0; i < r->requires_config.n; i++) {
		_cleanup_free_ char *v = kb_kernel_config(k, r->requires_config.v[i]);

		if (!v || (strcmp(v, "y") && strcmp(v, "m"))) {
			if (asprintf(&why, "%s is not set in kernel %s", r->requires_config.v[i],
				     k->release) < 0)
				return NULL;
			return why;
		}
	}
	return NULL;
}

static struct kb_task *find_task(struct kb_plan *plan, const struct kb_recipe *r,
				 const struct kb_kernel *k)
{
	for (size_t i = 0; i < plan->n; i++)
		if (plan->tasks[i].recipe == r && plan->tasks[i].kernel == k)
			return &plan->tasks[i];
	return NULL;
}

static struct kb_task *find_task_by_name(struct kb_plan *plan, const char *name,
					 const struct kb_kernel *k)
{
	for (size_t i = 0; i < plan->n; i++)
		if (!strcmp(plan->tasks[i].recipe->name, name) && plan->tasks[i].kernel == k)
			return &plan->tasks[i];
	return NULL;
}

/* Add a task for (r, k) and, recursively, for its dependencies. */
static int add_task(struct kb_plan *plan, struct kb_recipe_set *set, struct kb_recipe *r,
		    struct kb_kernel *k, size_t cap)
{
	struct kb_task *t;

	if (find_task_by_name(plan, r->name, k))
		return 0;
	if (plan->n == cap)
		return -E2BIG;
	t = &plan->tasks[plan->n++];
	memset(t, 0, sizeof(*t));
	t->recipe = r;
	t->kernel = k;
	t->log_fd = -1;
	kb_child_init(&t->child);
	kb_sandbox_init(&t->sandbox);
	for (size_t i = 0; i < r->depends.n; i++) {
		struct kb_recipe *dep = kb_recipe_set_find(set, r->depends.v[i]);
		int ret;

		if (!dep)
			continue; /* reported when resolving */
		ret = add_task(plan, set, dep, k, cap);
		if (ret < 0)
			return ret;
	}
	return 0;
}

static int resolve(struct kb_ctx *ctx, struct kb_plan *plan, struct kb_recipe_set *set,
		   struct kb_task *t);

static int set_reason(struct kb_task *t, enum kb_action action, char *reason)
{
	t->action = action;
	free(t->reason);
	t->reason = reason;
	return reason ? 0 : -ENOMEM;
}

/*
 * Dependencies that are not registered: an error (DKMS's 13), unless
 * --force builds without their symbols, as DKMS's does, or did: such a
 * build is kept and installed until its inputs change.
 */
static int settle_missing(struct kb_ctx *ctx, struct kb_task *t, struct kb_strv *missing)
{
	struct kb_buf names = KB_BUF_INIT;
	char *why = NULL;
	bool kept = ctx->force || t->action == KB_ACT_UPTODATE;

	for (size_t i = 0; i < missing->n; i++)
		kb_buf_addf(&names, "%s%s", i ? " " : "", missing->v[i]);
	t->missing = strdup(kb_buf_str(&names));
	kb_buf_reset(&names);
	for (size_t i = 0; i < missing->n; i++)
		kb_buf_addf(&names, "%s'%s'", i ? ", " : "", missing->v[i]);
	if (asprintf(&why,
		     kept ? "without %s, which %s not registered (--force)" :
			    "depends on %s, which %s not registered (--force builds without it)",
		     kb_buf_str(&names), missing->n > 1 ? "are" : "is") < 0)
		why = NULL;
	kb_buf_release(&names);
	if (!t->missing || !why) {
		free(why);
		return -ENOMEM;
	}
	free(t->reason);
	t->reason = why;
	if (kept)
		return 0;
	t->state = KB_TASK_PENDING;
	t->action = KB_ACT_ERROR;
	t->failure = KB_FAIL_MISSING_DEP;
	return 0;
}

/*
 * Resolve @t's dependencies into t->deps, names not registered into
 * @missing. One that cannot be built here settles @t (t->visit = 2).
 */
static int resolve_deps(struct kb_ctx *ctx, struct kb_plan *plan, struct kb_recipe_set *set,
			struct kb_task *t, struct kb_strv *missing)
{
	struct kb_recipe *r = t->recipe;

	t->deps = calloc(r->depends.n + 1, sizeof(*t->deps));
	if (!t->deps)
		return -ENOMEM;
	for (size_t i = 0; i < r->depends.n; i++) {
		struct kb_recipe *dr = kb_recipe_set_find(set, r->depends.v[i]);
		struct kb_task *d = dr ? find_task_by_name(plan, dr->name, t->kernel) : NULL;
		char *msg = NULL;
		int ret;

		if (!d) {
			if (kb_strv_push(missing, r->depends.v[i]) < 0)
				return -ENOMEM;
			continue;
		}
		if (d->visit == 1) {
			t->visit = 2;
			if (asprintf(&msg, "dependency cycle through '%s'", dr->name) < 0)
				msg = NULL;
			return set_reason(t, KB_ACT_ERROR, msg);
		}
		ret = resolve(ctx, plan, set, d);
		if (ret < 0)
			return ret;
		if (d->action == KB_ACT_EXCLUDED || d->action == KB_ACT_ERROR ||
		    d->action == KB_ACT_NO_HEADERS) {
			t->visit = 2;
			if (asprintf(&msg, "depends on '%s', which is %s here: %s", dr->name,
				     d->action == KB_ACT_EXCLUDED ? "excluded" : "not buildable",
				     d->reason) < 0)
				msg = NULL;
			return set_reason(t,
					  d->action == KB_ACT_EXCLUDED ? KB_ACT_EXCLUDED :
									 KB_ACT_ERROR,
					  msg);
		}
		t->deps[t->nr_deps++] = d;
	}
	return 0;
}

/* Resolve dependencies, exclusions and build ids, depth first. */
static int resolve(struct kb_ctx *ctx, struct kb_plan *plan, struct kb_recipe_set *set,
		   struct kb_task *t)
{
	struct kb_recipe *r = t->recipe;
	struct kb_strv missing = KB_STRV_INIT;
	char *why;
	int ret;

	if (t->visit == 2)
		return 0;
	if (t->visit == 1)
		return set_reason(t, KB_ACT_ERROR, strdup("dependency cycle"));
	t->visit = 1;
	if (!t->kernel->usable) {
		t->visit = 2;
		return set_reason(t, KB_ACT_NO_HEADERS, strdup(t->kernel->reason));
	}
	if (r->dkms && !t->view) {
		const struct kb_recipe_reader *rd = kb_recipe_reader(ctx, r);

		ret = rd && rd->view ? rd->view(ctx, r, t->kernel, &t->view, &why, &t->failure) :
				       -KB_E_INPUT;
		if (ret == -ENOMEM)
			return ret;
		if (ret < 0) {
			t->visit = 2;
			if (!rd)
				why = strdup(
					"[build] dkms: this front end has no dkms.conf reader");
			return set_reason(t, KB_ACT_ERROR, why ? why : strdup("bad dkms.conf"));
		}
		t->recipe = r = t->view;
	}
	why = r->excluded ? strdup(r->excluded) : kb_plan_exclusion(r, t->kernel);
	if (why) {
		t->visit = 2;
		return set_reason(t, KB_ACT_EXCLUDED, why);
	}
	ret = resolve_deps(ctx, plan, set, t, &missing);
	if (ret >= 0 && t->visit != 2) {
		kb_task_build_ids(ctx, t);
		kb_task_check_kept(ctx, t);
		if (t->action == KB_ACT_UPTODATE && !kb_reuse_kept_holds(ctx, t))
			t->action = KB_ACT_BUILD;
		if (missing.n)
			ret = settle_missing(ctx, t, &missing);
	}
	kb_strv_clear(&missing);
	t->visit = 2;
	return ret;
}

static bool installed_on(struct kb_ctx *ctx, const struct kb_recipe *r, const struct kb_kernel *k)
{
	char rel[4096];

	return kb_manifest_rel(k->release, r->name, rel, sizeof(rel)) == 0 &&
	       kb_root_exists(&ctx->root, rel);
}

static int select_ids(struct kb_ctx *ctx, struct kb_plan *plan, struct kb_recipe_set *set,
		      struct kb_kernel_list *kernels, const struct kb_strv *ids, size_t cap)
{
	int ret = 0;

	for (size_t i = 0; ids && i < ids->n; i++) {
		struct kb_recipe *r = kb_recipe_set_find(set, ids->v[i]);

		if (!r) {
			ret = kb_err(-KB_E_INPUT, "'%s' is not registered; see 'kbuildd status'",
				     ids->v[i]);
			continue;
		}
		for (size_t k = 0; k < kernels->n; k++) {
			int r2 = add_task(plan, set, r, &kernels->v[k], cap);
			struct kb_task *t;

			if (r2 < 0)
				return r2;
			t = find_task(plan, r, &kernels->v[k]);
			if (t)
				t->selected = true;
		}
	}
	for (size_t i = 0; !ids && i < set->n; i++) {
		if (!kb_recipe_set_is_newest(set, set->v[i]))
			continue;
		for (size_t k = 0; k < kernels->n; k++) {
			int r2;

			/* AUTOINSTALL=no: kept where it is installed, never added on its own */
			if (!set->v[i]->autoinstall &&
			    !installed_on(ctx, set->v[i], &kernels->v[k]))
				continue;
			r2 = add_task(plan, set, set->v[i], &kernels->v[k], cap);

			if (r2 < 0)
				return r2;
			find_task(plan, set->v[i], &kernels->v[k])->selected = true;
		}
	}
	return ret;
}

/* Is @r the version of its recipe installed for @k? */
static bool installed_version(struct kb_ctx *ctx, const struct kb_recipe *r,
			      const struct kb_kernel *k)
{
	struct kb_manifest m;
	bool yes = kb_manifest_read(ctx, k->release, r->name, &m) == 0 &&
		   !strcmp(m.version, r->version);

	kb_manifest_release(&m);
	return yes;
}

/*
 * Add the recipes installed for a kernel that depend on a task of tasks
 * [@from, plan->n) to be built or installed there (DKMS's
 * BUILD_DEPENDS_REBUILD, always). *@from is moved past them: their own
 * dependents come next.
 */
static int add_dependents(struct kb_ctx *ctx, struct kb_plan *plan, struct kb_recipe_set *set,
			  size_t *from, size_t cap)
{
	size_t end = plan->n;

	for (size_t i = *from; i < end; i++) {
		const struct kb_task *t = &plan->tasks[i];

		if (t->action != KB_ACT_BUILD && t->action != KB_ACT_UPTODATE)
			continue;
		for (size_t j = 0; j < set->n; j++) {
			struct kb_recipe *r = set->v[j];
			int ret;

			if (!kb_strv_contains(&r->depends, t->recipe->name) ||
			    find_task_by_name(plan, r->name, t->kernel) ||
			    !installed_version(ctx, r, t->kernel))
				continue;
			ret = add_task(plan, set, r, t->kernel, cap);
			if (ret < 0)
				return ret;
		}
	}
	*from = end;
	return 0;
}

/* Append @t's index to plan->order after its dependencies' (depth first; no cycles remain). */
static void order_task(struct kb_plan *plan, struct kb_task *t, bool *placed, size_t *n)
{
	size_t i = (size_t)(t - plan->tasks);

	if (placed[i])
		return;
	placed[i] = true;
	for (size_t d = 0; d < t->nr_deps; d++)
		order_task(plan, t->deps[d], placed, n);
	plan->order[(*n)++] = i;
}

static int order_plan(struct kb_plan *plan)
{
	bool *placed = calloc(plan->n + 1, sizeof(*placed));
	size_t n = 0;

	plan->order = calloc(plan->n + 1, sizeof(*plan->order));
	if (!placed || !plan->order) {
		free(placed);
		return -ENOMEM;
	}
	for (size_t i = 0; i < plan->n; i++)
		order_task(plan, &plan->tasks[i], placed, &n);
	free(placed);
	return 0;
}

int kb_plan_make(struct kb_ctx *ctx, struct kb_recipe_set *set, struct kb_kernel_list *kernels,
		 const struct kb_strv *ids, enum kb_plan_mode mode, struct kb_plan *plan)
{
	size_t cap = (set->n + 1) * (kernels->n + 1), resolved = 0, from = 0;
	int ret;

	plan->n = 0;
	/* an id lost would leave a recipe out, or select every one */
	if (ids && kb_strv_error(ids) < 0)
		return kb_err_errno(kb_strv_error(ids), "cannot hold the recipes named");
	plan->tasks = calloc(cap, sizeof(*plan->tasks));
	if (!plan->tasks)
		return -ENOMEM;
	ret = select_ids(ctx, plan, set, kernels, ids, cap);
	while (ret >= 0 && resolved < plan->n) {
		for (; ret >= 0 && resolved < plan->n; resolved++) {
			struct kb_task *t = &plan->tasks[resolved];

			ret = resolve(ctx, plan, set, t);
			t->install = mode ==
				     KB_PLAN_INSTALL; /* a dependency must be loadable too */
		}
		if (ret >= 0 && mode == KB_PLAN_INSTALL)
			ret = add_dependents(ctx, plan, set, &from, cap);
	}
	return ret < 0 ? ret : order_plan(plan);
}

bool kb_task_dep_failed(struct kb_task *t)
{
	for (size_t i = 0; i < t->nr_deps; i++) {
		const struct kb_task *d = t->deps[i];
		char id[160];

		if (!d->install || (d->state != KB_TASK_FAILED && d->state != KB_TASK_SKIPPED))
			continue;
		free(t->reason);
		if (asprintf(&t->reason,
			     "not installed: its dependency %s was not installed for %s",
			     kb_task_id(d, id, sizeof(id)), t->kernel->release) < 0)
			t->reason = NULL;
		t->state = KB_TASK_SKIPPED;
		return true;
	}
	return false;
}

void kb_plan_release(struct kb_plan *plan)
{
	for (size_t i = 0; i < plan->n; i++) {
		struct kb_task *t = &plan->tasks[i];

		free(t->reason);
		free(t->missing);
		free(t->deps);
		if (t->view) {
			kb_recipe_release(t->view);
			free(t->view);
		}
		kb_child_release(&t->child);
		kb_sandbox_release(&t->sandbox);
		if (t->log_fd >= 0)
			close(t->log_fd);
	}
	free(plan->tasks);
	free(plan->order);
	kb_reuse_cache_free(plan->reuse);
	plan->reuse = NULL;
	plan->tasks = NULL;
	plan->order = NULL;
	plan->n = 0;
}
