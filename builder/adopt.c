/* Builds taken instead of compiled: sealed and kept like the engine's own. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "adopt.h"
#include "base/atomic.h"
#include "base/log.h"
#include "build.h"
#include "outputs.h"
#include "sign-choice.h"
#include "state.h"

int kb_adopt_put(struct kb_ctx *ctx, const char *src, const char *path, const struct kb_buf *data)
{
	char dir[PATH_MAX], *slash;
	const char *base = path;
	int dfd, fd, r = 0;

	if (kb_pathf(dir, sizeof(dir), "%s", path) < 0)
		return -ENAMETOOLONG;
	slash = strrchr(dir, '/');
	if (slash) {
		*slash = '\0';
		base = path + (slash - dir) + 1;
	} else {
		snprintf(dir, sizeof(dir), ".");
	}
	dfd = kb_root_mkdirs_beneath(&ctx->root, src, dir, 0755);
	if (dfd < 0)
		return dfd;
	fd = openat(dfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		r = -errno;
	else if ((r = kb_write_all(fd, data->buf ? data->buf : "", data->len)) >= 0 &&
		 fsync(fd) < 0)
		r = -errno;
	if (fd >= 0 && close(fd) < 0 && r == 0)
		r = -errno;
	close(dfd);
	return r;
}

int kb_adopt_begin(struct kb_ctx *ctx, struct kb_task *t, char *dir, char *src, size_t size)
{
	int r;

	if (kb_task_staging_rel(t, KB_STAGING_NEW, NULL, dir, size) < 0 ||
	    kb_pathf(src, size, "%s/src", dir) < 0)
		return -ENAMETOOLONG;
	r = kb_rm_rf(&ctx->root, dir);
	if (r >= 0)
		r = kb_mkdirs(&ctx->root, src, 0755);
	return r < 0 ? kb_err_errno(r, "cannot make '/%s'", src) : 0;
}

/* The log a taken build keeps in place of make's: where it came from. */
static void write_log(struct kb_ctx *ctx, struct kb_task *t, const struct kb_buf *origin)
{
	struct kb_buf log = KB_BUF_INIT;
	char rel[PATH_MAX];
	int r;

	kb_buf_addf(&log, "# build id %s\n# kbuildd: nothing compiled: taken from %s", t->build_id,
		    kb_buf_str(origin));
	if (kb_task_build_rel(t, ".log", rel, sizeof(rel)) == 0 &&
	    (r = kb_atomic_write_buf(&ctx->root, rel, &log, 0644)) < 0)
		kb_err_errno(r, "cannot write '/%s'", rel);
	kb_buf_release(&log);
}

/* Seal what the provider put in K.new and keep it: the build @t would have made. */
int kb_adopt_keep(struct kb_ctx *ctx, struct kb_task *t, const char *dir, struct kb_buf *origin)
{
	char rel[PATH_MAX];
	int r;

	if (!origin->len || kb_buf_str(origin)[origin->len - 1] != '\n')
		kb_buf_adds(origin, "\n");
	r = kb_pathf(rel, sizeof(rel), "%s/origin", dir);
	if (r >= 0)
		r = kb_atomic_write_buf(&ctx->root, rel, origin, 0644);
	if (r < 0)
		return kb_task_fail(t, "cannot record where the build came from: %s", strerror(-r));
	if (kb_outputs_seal(ctx, t) < 0)
		return -KB_E_BUILD;
	r = kb_build_keep(ctx, t);
	if (r < 0)
		return kb_task_fail(t, "cannot keep the build: %s", strerror(-r));
	if (kb_task_build_rel(t, ".failed", rel, sizeof(rel)) == 0 &&
	    (r = kb_durable_unlink(&ctx->root, rel)) < 0)
		return kb_task_fail(t, "cannot remove the failure record '/%s': %s", rel,
				    strerror(-r));
	write_log(ctx, t, origin);
	return 0;
}

/* A dependency of @t still to compile, or NULL. */
static const struct kb_task *dep_to_build(const struct kb_task *t)
{
	for (size_t i = 0; i < t->nr_deps; i++)
		if (t->deps[i]->action != KB_ACT_UPTODATE)
			return t->deps[i];
	return NULL;
}

static int adopt_task(struct kb_ctx *ctx, struct kb_task *t, const struct kb_adopt_ops *ops)
{
	struct kb_buf origin = KB_BUF_INIT;
	const struct kb_task *dep = dep_to_build(t);
	char dir[PATH_MAX], src[PATH_MAX];
	char *why = NULL;
	int r;

	if (dep) {
		if (asprintf(&why, "its dependency %s is compiled first", dep->recipe->name) < 0)
			return -ENOMEM;
		ops->report(t, why, ops->data);
		free(why);
		return 0;
	}
	kb_plan_final_id(ctx, t);
	r = kb_adopt_begin(ctx, t, dir, src, sizeof(dir));
	if (r < 0)
		return r;
	r = ops->provide(ctx, t, src, &origin, &why, ops->data);
	if (r > 0)
		r = kb_adopt_keep(ctx, t, dir, &origin) < 0 ? 0 : 1;
	if (r <= 0)
		kb_build_abandon(ctx, t);
	if (r == 0 && !why && t->reason)
		why = strdup(t->reason);
	if (r >= 0) {
		ops->report(t, r ? NULL : why ? why : "it cannot be taken", ops->data);
		if (r)
			t->action = KB_ACT_UPTODATE; /* dependents read its outputs */
	}
	free(why);
	kb_buf_release(&origin);
	return r < 0 ? r : 0;
}

int kb_engine_adopt(struct kb_ctx *ctx, const struct kb_strv *ids, const struct kb_adopt_ops *ops)
{
	struct kb_recipe_set set = { 0 };
	struct kb_kernel_list kernels = { 0 };
	struct kb_plan plan = { 0 };
	struct kb_signing signing = { 0 };
	int r;

	r = kb_state_load(ctx, &set);
	if (r >= 0)
		r = kb_kernels_discover(ctx, &kernels);
	if (r >= 0)
		r = kb_signing_setup(ctx, &kernels, &signing, !ctx->dry_run);
	if (r >= 0)
		r = kb_plan_make(ctx, &set, &kernels, ids, KB_PLAN_BUILD, &plan);
	for (size_t i = 0; r >= 0 && i < plan.n; i++) {
		struct kb_task *t = &plan.tasks[plan.order[i]];

		/* a build whose last try failed may still be taken: DKMS's built */
		if (t->action == KB_ACT_BUILD && !ctx->dry_run)
			r = adopt_task(ctx, t, ops);
	}
	kb_plan_release(&plan);
	kb_kernel_list_release(&kernels);
	kb_recipe_set_release(&set);
	kb_signing_release(ctx, &signing);
	return r;
}
