/* One (recipe, kernel) build: its directory, its command line, its outcome. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/atomic.h"
#include "build.h"
#include "reuse.h"
#include "base/limits.h"
#include "base/log.h"
#include "sources/tree.h"
#include "outputs.h"
#include "sandbox.h"

static const char *const default_make[] = {
	"make", "-C", "{kernel_build}", "M={build_dir}", "modules", NULL,
};

static void log_line(struct kb_task *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void log_line(struct kb_task *t, const char *fmt, ...)
{
	struct kb_buf b = KB_BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	kb_buf_vaddf(&b, fmt, ap);
	va_end(ap);
	kb_buf_addch(&b, '\n');
	if (t->log_fd >= 0)
		kb_write_all(t->log_fd, b.buf, b.len);
	kb_buf_release(&b);
}

static void record_failure(struct kb_ctx *ctx, struct kb_task *t);

/* Each patch runs in the build's sandbox, reading the patch (opened here) on stdin. */
static int apply_patches(struct kb_ctx *ctx, struct kb_task *t, const char *src_dir)
{
	int r;

	for (size_t i = 0; i < t->recipe->patches.n; i++) {
		_cleanup_free_ char *patch = kb_state_patch_path(ctx, t->recipe,
								 t->recipe->patches.v[i]);
		struct kb_child c;
		int status, fd = patch ? open(patch, O_RDONLY | O_NOFOLLOW | O_CLOEXEC) : -ENOMEM;

		if (fd < 0)
			return kb_task_fail(t, "cannot open patch '%s': %s",
					    t->recipe->patches.v[i], strerror(errno));
		kb_child_init(&c);
		kb_strv_push(&c.args, "patch");
		kb_strv_push(&c.args, "-p1");
		kb_strv_push(&c.args, "--batch");
		kb_strv_push(&c.args, "--forward");
		kb_strv_push(&c.args, "--no-backup-if-mismatch");
		c.dir = strdup(src_dir);
		c.in_fd = fd;
		c.out_fd = t->log_fd;
		kb_sandbox_attach(&c, &t->sandbox);
		log_line(t, "# applying %s", t->recipe->patches.v[i]);
		status = kb_child_run(&c);
		kb_child_release(&c);
		close(fd);
		if (status != 0) {
			r = kb_task_fail(t, "patch '%s' does not apply", t->recipe->patches.v[i]);
			record_failure(ctx, t); /* same inputs, same failure */
			return r;
		}
	}
	return 0;
}

/* Where the build's tree is while it builds, inside builds/N/V/K.new: src/, or its layout's. */
static int tree_rel(const struct kb_task *t, char *buf, size_t size)
{
	const char *tree = t->recipe->layout.tree;
	char suffix[PATH_MAX];

	if (kb_pathf(suffix, sizeof(suffix), "/%s", tree ? tree : "src") < 0)
		return -ENAMETOOLONG;
	return kb_task_staging_rel(t, KB_STAGING_NEW, suffix, buf, size);
}

/* The rest of the recipe's layout: its links to the pristine source. */
static int lay_out(struct kb_ctx *ctx, struct kb_task *t, const char *snapshot)
{
	const struct kb_strv *links = &t->recipe->layout.source_links;
	char rel[PATH_MAX], suffix[PATH_MAX];
	int ret;

	for (size_t i = 0; i < links->n; i++) {
		_cleanup_free_ char *link = NULL;

		if (kb_pathf(suffix, sizeof(suffix), "/%s", links->v[i]) < 0 ||
		    kb_task_staging_rel(t, KB_STAGING_NEW, suffix, rel, sizeof(rel)) < 0)
			return -ENAMETOOLONG;
		*strrchr(rel, '/') = '\0';
		ret = kb_mkdirs(&ctx->root, rel, 0755);
		rel[strlen(rel)] = '/';
		link = kb_root_path(&ctx->root, rel);
		if (ret < 0 || !link)
			return ret < 0 ? ret : -ENOMEM;
		if (symlink(snapshot, link) < 0)
			return -errno;
	}
	return 0;
}

/*
 * A tree the layout put elsewhere goes to src/ when the build ends, and
 * becomes a link to it there, for what runs after.
 */
static int keep_tree(struct kb_ctx *ctx, struct kb_task *t)
{
	char tree[PATH_MAX], src[PATH_MAX];
	struct kb_buf target = KB_BUF_INIT;
	_cleanup_free_ char *link = NULL;
	int r;

	if (!t->recipe->layout.tree)
		return 0;
	if (tree_rel(t, tree, sizeof(tree)) < 0 ||
	    kb_task_staging_rel(t, KB_STAGING_NEW, "/src", src, sizeof(src)) < 0)
		return -ENAMETOOLONG;
	r = kb_durable_rename(&ctx->root, tree, src);
	link = r >= 0 ? kb_root_path(&ctx->root, tree) : NULL;
	if (r >= 0 && !link)
		r = -ENOMEM;
	/* "dkms/N/V/build" -> "../../../src" */
	for (const char *c = t->recipe->layout.tree; r >= 0 && (c = strchr(c, '/')); c++)
		kb_buf_adds(&target, "../");
	kb_buf_adds(&target, "src");
	if (r >= 0 && symlink(kb_buf_str(&target), link) < 0)
		r = -errno;
	kb_buf_release(&target);
	return r;
}

int kb_build_prepare(struct kb_ctx *ctx, struct kb_task *t)
{
	char dir[PATH_MAX], src[PATH_MAX], log[PATH_MAX], parent[PATH_MAX];
	_cleanup_free_ char *snapshot = kb_state_source_path(ctx, t->recipe), *src_host = NULL;
	char id[160];
	int r;

	if (kb_task_staging_rel(t, KB_STAGING_NEW, NULL, dir, sizeof(dir)) < 0 ||
	    tree_rel(t, src, sizeof(src)) < 0 ||
	    kb_task_build_rel(t, ".log", log, sizeof(log)) < 0 ||
	    kb_pathf(parent, sizeof(parent), "%s/builds/%s/%s", KB_STATE_DIR, t->recipe->name,
		     t->recipe->version) < 0)
		return kb_task_fail(t, "build path too long");
	r = kb_mkdirs(&ctx->root, parent, 0755);
	if (r >= 0)
		r = kb_rm_rf(&ctx->root, dir);
	if (r >= 0)
		r = kb_mkdirs(&ctx->root, dir, 0700);
	if (r < 0)
		return kb_task_fail(t, "cannot prepare '%s': %s", dir, strerror(-r));
	t->log_fd = kb_root_openat(&ctx->root, log, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW,
				   0644);
	if (t->log_fd < 0)
		return kb_task_fail(t, "cannot create log '%s': %s", log, strerror(-t->log_fd));
	log_line(t, "# kbuildd: building %s for kernel %s", kb_task_id(t, id, sizeof(id)),
		 t->kernel->release);
	kb_plan_final_id(ctx, t);
	log_line(t, "# build id %s", t->build_id);
	/* the layout first: it makes the directory a laid-out tree goes in */
	r = lay_out(ctx, t, snapshot);
	if (r < 0)
		return kb_task_fail(t, "cannot lay out the build's tree in '%s': %s", dir,
				    strerror(-r));
	r = kb_copy_tree(snapshot, &ctx->root, src, NULL);
	if (r < 0)
		return kb_task_fail(t, "cannot copy the source into '%s': %s", src, strerror(-r));
	src_host = kb_root_path(&ctx->root, src);
	if (!src_host)
		return kb_task_fail(t, "out of memory");
	r = kb_build_contain(ctx, t, dir, src, snapshot);
	if (r < 0)
		return r;
	return apply_patches(ctx, t, src_host);
}

/* Replace every {placeholder} in @in; unknown ones are an error. */
static int substitute(const char *in, const char *const vars[][2], struct kb_buf *out,
		      const char **bad)
{
	while (*in) {
		const char *close;
		bool found = false;

		if (*in != '{' || !(close = strchr(in, '}'))) {
			kb_buf_addch(out, *in++);
			continue;
		}
		for (size_t i = 0; vars[i][0]; i++) {
			size_t len = strlen(vars[i][0]);

			if ((size_t)(close - in - 1) == len && !strncmp(in + 1, vars[i][0], len)) {
				kb_buf_adds(out, vars[i][1]);
				found = true;
				break;
			}
		}
		if (!found) {
			*bad = in;
			return -EINVAL;
		}
		in = close + 1;
	}
	return 0;
}

static int push_substituted(struct kb_task *t, struct kb_strv *args, const char *word,
			    const char *const vars[][2])
{
	struct kb_buf b = KB_BUF_INIT;
	const char *bad = NULL;
	int r = substitute(word, vars, &b, &bad);

	if (r < 0)
		r = kb_task_fail(t,
				 "unknown placeholder in '%s'; known: {kernel_release} "
				 "{kernel_build} {build_dir} {arch} {jobs}",
				 word);
	else
		r = kb_strv_push(args, kb_buf_str(&b));
	kb_buf_release(&b);
	return r;
}

/*
 * Would the build's debug info be thrown away? So it is when its command
 * strips every module (a dkms.conf's STRIP), unless kbuild turns it into the
 * modules' BTF, which stays (the headers carry a vmlinux to build it on).
 * Then no make of the build needs to generate it: MAKEFLAGS carries the
 * override to every make the conf's command starts, as a command-line
 * variable, and compiling takes about a third less.
 */
static bool debug_info_unused(const struct kb_task *t)
{
	const struct kb_recipe *r = t->recipe;
	_cleanup_free_ char *btf = NULL, *vmlinux = NULL;

	if (!r->command.strips_debug)
		return false;
	btf = kb_kernel_config(t->kernel, "CONFIG_DEBUG_INFO_BTF_MODULES");
	if (!btf || strcmp(btf, "y"))
		return true;
	return asprintf(&vmlinux, "%s/vmlinux", t->kernel->build_dir) >= 0 &&
	       access(vmlinux, F_OK) < 0;
}

int kb_build_command(struct kb_ctx *ctx, struct kb_task *t, int rfd, int wfd)
{
	char src[PATH_MAX], jobs[32];
	_cleanup_free_ char *build_dir = NULL, *cmdline = NULL;
	struct kb_buf extra = KB_BUF_INIT;
	const struct kb_recipe *r = t->recipe;
	int ret = 0;

	if (tree_rel(t, src, sizeof(src)) < 0)
		return kb_task_fail(t, "build path too long");
	build_dir = kb_root_path(&ctx->root, src);
	snprintf(jobs, sizeof(jobs), "%u", kb_ctx_jobs(ctx));
	{
		const char *const vars[][2] = {
			{ "kernel_release", t->kernel->release },
			{ "kernel_build", t->kernel->build_dir },
			{ "build_dir", build_dir },
			{ "arch", t->kernel->arch },
			{ "jobs", jobs },
			{ NULL, NULL },
		};

		if (r->command.argv.n) {
			ret = kb_strv_push_all(&t->child.args, &r->command.argv);
			if (ret >= 0)
				ret = kb_strv_push_all(&t->child.env, &r->command.env);
		} else if (r->make_cmd.n) {
			for (size_t i = 0; ret >= 0 && i < r->make_cmd.n; i++)
				ret = push_substituted(t, &t->child.args, r->make_cmd.v[i], vars);
		} else {
			for (size_t i = 0; ret >= 0 && default_make[i]; i++)
				ret = push_substituted(t, &t->child.args, default_make[i], vars);
		}
		for (size_t i = 0; ret >= 0 && !r->command.argv.n && i < r->make_args.n; i++)
			ret = push_substituted(t, &t->child.args, r->make_args.v[i], vars);
	}
	for (size_t i = 0; ret >= 0 && i < t->nr_deps; i++) {
		char rel[PATH_MAX];
		_cleanup_free_ char *p = NULL;

		kb_task_build_rel(t->deps[i], "/src/Module.symvers", rel, sizeof(rel));
		p = kb_root_path(&ctx->root, rel);
		kb_buf_addf(&extra, "%s%s", extra.len ? " " : "", p);
	}
	/* a whole command takes no more arguments: the symbols go through the environment */
	if (ret >= 0 && extra.len)
		ret = kb_strv_pushf(r->command.argv.n ? &t->child.env : &t->child.args,
				    "KBUILD_EXTRA_SYMBOLS=%s", kb_buf_str(&extra));
	kb_buf_release(&extra);
	if (ret < 0)
		return ret;
	/* A clean environment: the build sees nothing of the caller's. */
	t->child.clean_env = true;
	if (!r->command.argv.n) { /* a whole command's environment has these */
		kb_strv_push(&t->child.env,
			     "PATH=/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin");
		kb_strv_push(&t->child.env, "LANG=C");
		kb_strv_push(&t->child.env, "LC_ALL=C");
	}
	kb_strv_pushf(&t->child.env, "HOME=%s", build_dir);
	kb_strv_pushf(&t->child.env, "MAKEFLAGS= -j --jobserver-auth=%d,%d%s", rfd, wfd,
		      debug_info_unused(t) ? " -- CONFIG_DEBUG_INFO=" : "");
	if (getenv("SOURCE_DATE_EPOCH"))
		kb_strv_pushf(&t->child.env, "SOURCE_DATE_EPOCH=%s", getenv("SOURCE_DATE_EPOCH"));
	t->child.keep_fds[0] = rfd;
	t->child.keep_fds[1] = wfd;
	t->child.out_fd = t->log_fd;
	t->child.new_pgrp = true;
	kb_sandbox_attach(&t->child, &t->sandbox);
	t->child.dir = strdup(build_dir);
	cmdline = r->command.shown ? strdup(r->command.shown) : kb_child_cmdline(&t->child);
	log_line(t, "# %s", cmdline);
	kb_verbose("%s: %s", t->kernel->release, cmdline);
	return 0;
}

/* Remember which inputs failed, so an unchanged failure is not rebuilt by every hook. */
static void record_failure(struct kb_ctx *ctx, struct kb_task *t)
{
	char rel[PATH_MAX], line[80];

	int r;

	snprintf(line, sizeof(line), "%s\n", t->build_id);
	if (kb_task_build_rel(t, ".failed", rel, sizeof(rel)) == 0 &&
	    (r = kb_atomic_write(&ctx->root, rel, line, strlen(line), 0644)) < 0)
		kb_err_errno(r, "cannot record the failure in '/%s'", rel);
	else
		t->failure_recorded = true; /* a fleet's cache may tell the others (cache.h) */
}

int kb_build_keep(struct kb_ctx *ctx, struct kb_task *t)
{
	char dir[PATH_MAX], newdir[PATH_MAX], old[PATH_MAX], idfile[PATH_MAX], line[80];
	int r;

	kb_task_build_rel(t, "", dir, sizeof(dir));
	kb_task_staging_rel(t, KB_STAGING_NEW, NULL, newdir, sizeof(newdir));
	kb_task_staging_rel(t, KB_STAGING_OLD, NULL, old, sizeof(old));
	kb_task_staging_rel(t, KB_STAGING_NEW, "/build-id", idfile, sizeof(idfile));
	snprintf(line, sizeof(line), "%s\n", t->build_id);
	r = kb_atomic_write(&ctx->root, idfile, line, strlen(line), 0644);
	if (r < 0)
		return r;
	/* what another kernel's reuse of it must match (reuse.h) */
	kb_reuse_recipe_id(t->recipe, t->kernel->release, line);
	line[KB_SHA256_HEX - 1] = '\n';
	kb_task_staging_rel(t, KB_STAGING_NEW, "/recipe-id", idfile, sizeof(idfile));
	r = kb_atomic_write(&ctx->root, idfile, line, KB_SHA256_HEX, 0644);
	if (r < 0)
		return r;
	r = kb_rm_rf(&ctx->root, old);
	if (r < 0)
		return r;
	if (kb_root_exists(&ctx->root, dir)) {
		r = kb_durable_rename(&ctx->root, dir, old);
		if (r < 0)
			return r;
	}
	r = kb_durable_rename(&ctx->root, newdir, dir);
	if (r < 0)
		return r;
	return kb_rm_rf(&ctx->root, old);
}

void kb_build_finish(struct kb_ctx *ctx, struct kb_task *t, int status)
{
	char src[PATH_MAX], mod[PATH_MAX];
	int r;

	if (status != 0) {
		if (status > 128)
			kb_task_fail(t, "build killed by signal %d", status - 128);
		else if (status == KB_SANDBOX_FAILED)
			kb_task_fail(t,
				     "build failed (exit %d: its sandbox could not be made; the "
				     "log says why)",
				     status);
		else
			kb_task_fail(t, "build failed (make exited with %d)", status);
		log_line(t, "# kbuildd: %s", t->reason);
		kb_build_abandon(ctx, t);
		/* a sandbox that could not be made says nothing of the inputs */
		if (status <= 128 && status != KB_SANDBOX_FAILED)
			record_failure(ctx, t);
		return;
	}
	if ((r = keep_tree(ctx, t)) < 0) {
		kb_task_fail(t, "cannot move the build's tree to src/: %s", strerror(-r));
		kb_build_abandon(ctx, t);
		return;
	}
	/* the private /usr/src/NAME-VERSION copy (place_dkms) ends with the build */
	kb_task_staging_rel(t, KB_STAGING_NEW, "/usrsrc", src, sizeof(src));
	if ((r = kb_rm_rf(&ctx->root, src)) < 0) {
		kb_task_fail(t, "cannot remove '/%s': %s", src, strerror(-r));
		kb_build_abandon(ctx, t);
		return;
	}
	kb_task_staging_rel(t, KB_STAGING_NEW, "/src", src, sizeof(src));
	for (size_t i = 0; i < t->recipe->nr_modules; i++) {
		const struct kb_module_spec *m = &t->recipe->modules[i];

		if (kb_pathf(mod, sizeof(mod), "%s/%s", src, m->path) < 0 ||
		    !kb_root_exists(&ctx->root, mod)) {
			kb_task_fail(t, "the build did not produce '%s' (module %s)", m->path,
				     m->name);
			log_line(t, "# kbuildd: %s", t->reason);
			kb_build_abandon(ctx, t);
			record_failure(ctx, t);
			return;
		}
	}
	if (kb_outputs_seal(ctx, t) < 0) {
		log_line(t, "# kbuildd: %s", t->reason);
		kb_build_abandon(ctx, t);
		record_failure(ctx, t);
		return;
	}
	r = kb_build_keep(ctx, t);
	if (r < 0) {
		kb_task_fail(t, "cannot keep the build: %s", strerror(-r));
		kb_build_abandon(ctx, t);
		return;
	}
	if (kb_task_build_rel(t, ".failed", mod, sizeof(mod)) == 0 &&
	    (r = kb_durable_unlink(&ctx->root, mod)) < 0) {
		kb_task_fail(t, "cannot remove the failure record '/%s': %s", mod, strerror(-r));
		return;
	}
	log_line(t, "# kbuildd: build succeeded");
	t->state = KB_TASK_BUILT;
}

void kb_build_abandon(struct kb_ctx *ctx, struct kb_task *t)
{
	char dir[PATH_MAX];
	int r;

	if (kb_task_staging_rel(t, KB_STAGING_NEW, NULL, dir, sizeof(dir)) == 0 &&
	    (r = kb_rm_rf(&ctx->root, dir)) < 0)
		kb_err_errno(r, "cannot remove the unfinished build '/%s' (the next run will)",
			     dir);
}

int kb_build_log_tail(struct kb_ctx *ctx, const struct kb_task *t, unsigned lines,
		      struct kb_buf *out, char **path)
{
	struct kb_buf text = KB_BUF_INIT_MAX(KB_MAX_STRING);
	char log[PATH_MAX];
	const char *start;
	unsigned seen = 0;
	int r;

	*path = NULL;
	if (kb_task_build_rel(t, ".log", log, sizeof(log)) < 0)
		return -ENAMETOOLONG;
	r = kb_root_read(&ctx->root, log, KB_MAX_STRING, &text);
	if (r >= 0 && !text.len)
		r = -ENODATA;
	if (r >= 0 && !(*path = kb_root_path(&ctx->root, log)))
		r = -ENOMEM;
	if (r < 0)
		goto out;
	start = text.buf + text.len;
	if (start > text.buf && start[-1] == '\n')
		start--;
	while (start > text.buf) {
		if (start[-1] == '\n' && ++seen == lines)
			break;
		start--;
	}
	r = kb_buf_adds(out, start);
	if (r >= 0 && text.buf[text.len - 1] != '\n')
		r = kb_buf_adds(out, "\n");
out:
	kb_buf_release(&text);
	return r;
}
