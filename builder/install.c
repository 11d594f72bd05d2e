/* Installing built modules into /lib/modules/K and removing exactly what was installed. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/atomic.h"
#include "base/limits.h"
#include "base/log.h"
#include "depmod.h"
#include "install-prepare.h"
#include "install.h"
#include "reuse.h"

/*
 * Files outside /lib/modules/K (the load-time configuration) are shared by
 * every kernel the recipe is installed for: owned if any of its manifests
 * lists them, or is damaged and so may.
 */
static bool owned_by_recipe_elsewhere(struct kb_ctx *ctx, const char *name, const char *path,
				      const char *skip_kernel)
{
	_cleanup_free_ char *dir = kb_root_path(&ctx->root, "var/lib/kbuildd/installed");
	DIR *dh = dir ? opendir(dir) : NULL;
	struct dirent *de;
	bool owned = false;

	while (dh && !owned && (de = readdir(dh))) {
		struct kb_manifest m;
		int r;

		if (de->d_name[0] == '.' || (skip_kernel && !strcmp(de->d_name, skip_kernel)))
			continue;
		r = kb_manifest_read(ctx, de->d_name, name, &m);
		owned = r == -KB_E_INPUT || (r >= 0 && kb_manifest_find(&m, path) != NULL);
		kb_manifest_release(&m);
	}
	if (dh)
		closedir(dh);
	return owned;
}

/*
 * Two modules of one name for one kernel shadow each other, whatever their
 * directories: which loads is depmod's choice. Refused without --force.
 */
static int check_module_names(struct kb_ctx *ctx, struct kb_task *t,
			      const struct kb_manifest_set *all)
{
	for (size_t i = 0; i < t->recipe->nr_modules; i++) {
		const char *name = t->recipe->modules[i].name, *path = NULL;
		const struct kb_manifest *other = kb_manifest_module_owner(all, name,
									   t->recipe->name, &path);

		if (!other)
			continue;
		if (!ctx->force)
			return kb_task_fail(t,
					    "module %s is already installed by recipe %s/%s as "
					    "'/%s'; one would shadow the other (--force installs "
					    "both)",
					    name, other->name, other->version, path);
		kb_warn("%s for %s: module %s is also installed by recipe %s/%s as '/%s'; which "
			"one loads is depmod's choice (--force)",
			t->recipe->name, t->kernel->release, name, other->name, other->version,
			path);
	}
	return 0;
}

/*
 * Every target must be ours, or free, or --force. A damaged manifest may
 * list any file: what it might own is never overwritten, even with --force.
 */
static int check_ownership(struct kb_ctx *ctx, struct kb_task *t, const struct kb_manifest_set *all,
			   const struct kb_prepared *st, size_t n)
{
	const struct kb_manifest *damaged = kb_manifest_set_damaged(all, t->recipe->name);
	int r = check_module_names(ctx, t, all);

	if (r < 0)
		return r;
	if (damaged)
		return kb_task_fail(t,
				    "%s; kbuildd cannot tell what it installed: repair or delete "
				    "that manifest, and remove what it listed",
				    damaged->damage);
	for (size_t i = 0; i < n; i++) {
		const struct kb_manifest *owner = kb_manifest_owner(all, st[i].path);

		if (owner && strcmp(owner->name, t->recipe->name))
			return kb_task_fail(t, "'/%s' belongs to recipe %s/%s", st[i].path,
					    owner->name, owner->version);
		if (owner || !kb_root_exists(&ctx->root, st[i].path))
			continue;
		damaged = kb_manifest_damaged_owner(all, st[i].path);
		if (damaged)
			return kb_task_fail(t,
					    "refusing to overwrite '/%s': it may belong to recipe %s, "
					    "whose manifest is damaged: %s",
					    st[i].path, damaged->name, damaged->damage);
		if (!ctx->force && !ctx->take_over &&
		    !owned_by_recipe_elsewhere(ctx, t->recipe->name, st[i].path, NULL))
			return kb_task_fail(t,
					    "refusing to overwrite '/%s', which kbuildd did not "
					    "install (use --force to take it over)",
					    st[i].path);
	}
	return 0;
}

static bool manifest_current(struct kb_ctx *ctx, const struct kb_manifest *m,
			     const struct kb_task *t)
{
	if (strcmp(m->version, t->recipe->version) || strcmp(m->build_id, t->build_id))
		return false;
	for (size_t i = 0; i < m->n; i++) {
		char sha[KB_SHA256_HEX];

		if (kb_root_sha256(&ctx->root, m->files[i].path, sha) < 0 ||
		    strcmp(sha, m->files[i].sha256))
			return false;
	}
	return m->n == t->recipe->nr_modules + kb_prepare_nr_config(t->recipe);
}

/* Unlink @path, then the directories under lib/modules/K/ it leaves empty. */
static int remove_file(struct kb_ctx *ctx, const char *path, const char *kernel)
{
	char stop[PATH_MAX], dir[PATH_MAX], *slash;
	int r = kb_durable_unlink(&ctx->root, path);

	if (r < 0)
		return kb_err_errno(r, "cannot remove '/%s'", path);
	snprintf(stop, sizeof(stop), "lib/modules/%s/", kernel);
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash) {
		*slash = '\0';
		r = kb_rmdir_parents(&ctx->root, dir, stop);
		if (r < 0)
			return kb_err_errno(r, "cannot remove directory '/%s'", dir);
	}
	return 0;
}

/*
 * Step 5 of an install: remove the files of @old that @next does not list.
 * One that cannot go (its error in *@left) stays listed in @next: owned,
 * and retried next time. A negative return: @next is not to be written.
 */
static int drop_old_files(struct kb_ctx *ctx, struct kb_task *t, const struct kb_manifest *old,
			  struct kb_manifest *next, int *left)
{
	for (size_t i = 0; old && i < old->n; i++) {
		int r;

		if (kb_manifest_find(next, old->files[i].path))
			continue;
		r = remove_file(ctx, old->files[i].path, t->kernel->release);
		*left = *left < 0 ? *left : r;
	}
	return *left < 0 ? kb_manifest_add_present(ctx, old, next) : 0;
}

/*
 * Make the directory @dir of an install: below lib/modules/K nothing may
 * redirect it (a symlink a driver or an earlier install left, or the
 * kernel's build and source links), so that part is made through none;
 * lib/modules/K itself, and the configuration directories, as usual.
 */
static int make_dir(struct kb_ctx *ctx, const char *release, char *dir)
{
	char top[PATH_MAX];
	int fd;

	if (kb_pathf(top, sizeof(top), "lib/modules/%s", release) < 0 ||
	    !kb_str_startswith(dir, top) || dir[strlen(top)] != '/')
		return kb_mkdirs(&ctx->root, dir, 0755);
	dir[strlen(top)] = '\0';
	fd = kb_root_mkdirs_beneath(&ctx->root, dir, dir + strlen(top) + 1, 0755);
	dir[strlen(top)] = '/';
	if (fd >= 0)
		close(fd);
	return fd < 0 ? fd : 0;
}

/*
 * Does module @path (below lib/modules/K, reached through no symlink) hold
 * exactly @sha256 already, as a file of its own? Then it is left in place
 * (DKMS's copy at the switch-over, a re-install of the same build): its
 * inode, and what has it open or mapped, are not disturbed.
 */
static bool already_in_place(struct kb_ctx *ctx, const char *release, const char *path,
			     const char *sha256)
{
	char top[PATH_MAX], hex[KB_SHA256_HEX];
	struct stat st;
	bool same;
	int dfd, fd;

	if (kb_pathf(top, sizeof(top), "lib/modules/%s", release) < 0 ||
	    !kb_str_startswith(path, top) || path[strlen(top)] != '/')
		return false;
	dfd = kb_root_openat(&ctx->root, top, O_PATH | O_DIRECTORY, 0);
	if (dfd < 0)
		return false;
	fd = kb_openat_beneath(dfd, path + strlen(top) + 1,
			       O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0);
	close(dfd);
	if (fd < 0)
		return false;
	same = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_nlink == 1 &&
	       kb_sha256_fd(fd, hex) == 0 && !strcmp(hex, sha256);
	close(fd);
	return same;
}

/*
 * Stage every file (write + fsync a temp file beside it) before any lands:
 * running out of space or a read-only target fails here, with nothing
 * changed. @stage keeps the temp names for commit_files(), in order, of
 * the files not already in place.
 */
static int stage_files(struct kb_ctx *ctx, const char *release, struct kb_stage *stage,
		       struct kb_prepared *st, size_t n)
{
	size_t j = 0;
	int r = 0;

	for (size_t i = 0; r >= 0 && i < n; i++)
		if (!st[i].in_place)
			r = kb_stage_add(stage, st[i].path);
	if (r < 0)
		return kb_err_errno(r, "cannot stage the files of an install; nothing was changed");
	for (size_t i = 0; i < n; i++) {
		char dir[PATH_MAX], *slash;

		if (st[i].in_place)
			continue;
		snprintf(dir, sizeof(dir), "%s", st[i].path);
		slash = strrchr(dir, '/');
		*slash = '\0';
		r = make_dir(ctx, release, dir);
		if (r >= 0)
			r = kb_buf_error(&st[i].data);
		if (r >= 0)
			r = kb_stage_write(stage, j++, kb_buf_str(&st[i].data), st[i].data.len,
					   0644);
		if (r == -ELOOP)
			return kb_err(r,
				      "cannot write '/%s': a symbolic link is in the way below "
				      "/lib/modules/%s; nothing was changed",
				      st[i].path, release);
		if (r < 0)
			return kb_err_errno(r, "cannot write '/%s'; nothing was changed",
					    st[i].path);
	}
	return 0;
}

static int commit_files(struct kb_stage *stage, struct kb_prepared *st, size_t n)
{
	size_t j = 0;

	for (size_t i = 0; i < n; i++) {
		int r = st[i].in_place ? 0 : kb_stage_commit(stage, j++);

		if (r < 0)
			return kb_err_errno(r, "cannot move '/%s' into place", st[i].path);
	}
	return 0;
}

static int install_task(struct kb_ctx *ctx, struct kb_task *t, struct kb_manifest_set *all)
{
	size_t n = t->recipe->nr_modules + kb_prepare_nr_config(t->recipe);
	struct kb_prepared *st = calloc(n ? n : 1, sizeof(*st));
	struct kb_manifest *old = NULL, next = { 0 }, both = { 0 };
	struct kb_stage stage;
	int r, r2, left = 0;

	if (!st)
		return -ENOMEM;
	kb_stage_init(&stage, &ctx->root);
	for (size_t i = 0; i < all->n; i++)
		if (!strcmp(all->v[i].name, t->recipe->name))
			old = &all->v[i];
	r = kb_prepare_modules(ctx, t, all, st);
	if (r >= 0)
		r = kb_prepare_config(t->recipe, st + t->recipe->nr_modules);
	if (r >= 0)
		r = check_ownership(ctx, t, all, st, n);
	if (r < 0)
		goto out;
	for (size_t i = 0; i < t->recipe->nr_modules; i++)
		st[i].in_place = already_in_place(ctx, t->kernel->release, st[i].path,
						  st[i].sha256);
	next.name = t->recipe->name;
	next.version = t->recipe->version;
	memcpy(next.build_id, t->build_id, KB_SHA256_HEX);
	{
		struct kb_reuse_record rec;

		if (kb_reuse_record_read(ctx, t, &rec) == 0)
			snprintf(next.reused_from, sizeof(next.reused_from), "%s", rec.from);
	}
	both = next;
	for (size_t i = 0; i < n; i++) {
		kb_manifest_add_file(&next, st[i].path, st[i].sha256);
		kb_manifest_add_file(&both, st[i].path, st[i].sha256);
	}
	for (size_t i = 0; old && i < old->n; i++)
		if (!kb_manifest_find(&next, old->files[i].path))
			kb_manifest_add_file(&both, old->files[i].path, old->files[i].sha256);
	if (ctx->dry_run) {
		for (size_t i = 0; i < n; i++)
			kb_info("would install /%s", st[i].path);
		t->state = KB_TASK_INSTALLED;
		goto out_release;
	}
	/*
	 * 1: stage every file (what can fail for space) 2: depmod owed 3: own every
	 * path 4: move the files in 5: drop old files 6: final manifest
	 */
	r = stage_files(ctx, t->kernel->release, &stage, st, n);
	if (r >= 0) {
		r = kb_depmod_mark(ctx, t->kernel);
		if (r >= 0)
			r = kb_manifest_write(ctx, t->kernel->release, &both);
		if (r < 0)
			kb_err_errno(r,
				     "cannot record the install of %s for %s; nothing was changed",
				     t->recipe->name, t->kernel->release);
	}
	if (r >= 0)
		r = commit_files(&stage, st, n);
	/* when this fails, the manifest written first, listing old and new, stays */
	if (r >= 0)
		r = drop_old_files(ctx, t, old, &next, &left);
	if (r >= 0)
		r = kb_manifest_write(ctx, t->kernel->release, &next);
	if (r >= 0 && left < 0)
		r = left;
	/* temps not moved into place (a failure above), then the intent journal */
	r2 = kb_stage_release(&stage);
	if (r2 < 0)
		kb_err_errno(r2, "cannot remove the temp files of the install of %s for %s",
			     t->recipe->name, t->kernel->release);
	if (r >= 0)
		r = r2;
	if (r < 0)
		kb_task_fail(t, "install failed: %s", kb_strerror(r));
	else
		t->state = KB_TASK_INSTALLED;
out_release:
	/* name/version are borrowed from the recipe */
	kb_manifest_release_files(&next);
	kb_manifest_release_files(&both);
out:
	kb_prepared_release(st, n);
	return r;
}

int kb_install_kernel(struct kb_ctx *ctx, struct kb_plan *plan, struct kb_kernel *k, bool *changed)
{
	struct kb_manifest_set all;
	int failed = 0, r;

	*changed = false;
	r = kb_manifest_read_all(ctx, k->release, &all);
	if (r < 0) {
		kb_err_errno(r, "cannot read the manifests of kernel %s", k->release);
		return 1;
	}
	/* dependencies first: none is installed against one whose install failed */
	for (size_t i = 0; i < plan->n; i++) {
		struct kb_task *t = &plan->tasks[plan->order[i]];
		bool current = false;
		char id[160];

		if (t->kernel != k || !t->install || t->state != KB_TASK_BUILT)
			continue;
		for (size_t j = 0; j < all.n; j++)
			if (!strcmp(all.v[j].name, t->recipe->name) && !ctx->force)
				current = manifest_current(ctx, &all.v[j], t);
		if (current) {
			t->state = KB_TASK_CURRENT;
			continue;
		}
		/*
		 * Not against a dependency whose install failed; DKMS's PRE_INSTALL
		 * may veto the install, and --force overrides that, as there.
		 */
		if (kb_task_dep_failed(t))
			r = -KB_E_BUILD;
		else if (kb_recipe_step(ctx, t->recipe, KB_STEP_PRE_INSTALL, k->release) < 0 &&
			 !ctx->force)
			kb_task_fail(t, "its PRE_INSTALL script failed; --force installs anyway");
		else
			r = install_task(ctx, t, &all);
		if (t->state == KB_TASK_INSTALLED)
			kb_recipe_step(ctx, t->recipe, KB_STEP_POST_INSTALL, k->release);
		if (t->state == KB_TASK_FAILED || t->state == KB_TASK_SKIPPED) {
			failed++;
			kb_err(-KB_E_BUILD, "%s for %s: %s", kb_task_id(t, id, sizeof(id)),
			       k->release, t->reason);
		} else if (r >= 0) {
			*changed = *changed || !ctx->dry_run;
		}
		/* later tasks must see this recipe's files (even a failed install's) as owned */
		kb_manifest_set_release(&all);
		kb_manifest_read_all(ctx, k->release, &all);
	}
	kb_manifest_set_release(&all);
	return failed;
}

/*
 * Some files could not be removed: rewrite the manifest to list exactly
 * those still there, so they stay owned, status --check holds and the next
 * remove retries just them. If even that fails, it stays as it was.
 */
static int keep_what_is_left(struct kb_ctx *ctx, const char *kernel, const struct kb_manifest *m)
{
	struct kb_manifest left = { .name = m->name, .version = m->version };
	char rel[PATH_MAX];
	int r;

	memcpy(left.build_id, m->build_id, KB_SHA256_HEX);
	r = kb_manifest_add_present(ctx, m, &left);
	if (r >= 0)
		r = kb_manifest_write(ctx, kernel, &left);
	if (r < 0) {
		kb_manifest_rel(kernel, m->name, rel, sizeof(rel));
		kb_err_errno(r, "cannot rewrite '/%s'; it is kept as it was", rel);
	}
	/* name and version are borrowed from @m */
	kb_manifest_release_files(&left);
	return r;
}

int kb_uninstall(struct kb_ctx *ctx, const char *kernel, const char *name)
{
	struct kb_manifest m;
	char rel[PATH_MAX], dir[PATH_MAX];
	int r, ret = 0;

	r = kb_manifest_read(ctx, kernel, name, &m);
	if (r == -KB_E_INPUT)
		kb_err(r, "%s; its files and the manifest are kept", m.damage);
	if (r < 0)
		goto out;
	if (ctx->dry_run) {
		for (size_t i = 0; i < m.n; i++)
			kb_info("would remove /%s", m.files[i].path);
		goto out;
	}
	for (size_t i = 0; i < m.n; i++) {
		/* configuration shared with the recipe's other kernels stays while they do */
		if (!kb_str_startswith(m.files[i].path, "lib/modules/") &&
		    owned_by_recipe_elsewhere(ctx, name, m.files[i].path, kernel))
			continue;
		r = remove_file(ctx, m.files[i].path, kernel);
		if (r < 0 && ret >= 0)
			ret = r;
	}
	if (ret < 0) {
		/* a manifest goes only once every file it lists is gone */
		keep_what_is_left(ctx, kernel, &m);
		r = ret;
		goto out;
	}
	kb_manifest_rel(kernel, name, rel, sizeof(rel));
	r = kb_durable_unlink(&ctx->root, rel);
	if (r < 0) {
		kb_err_errno(r, "cannot remove '/%s'", rel);
		goto out;
	}
	snprintf(dir, sizeof(dir), "%s", rel);
	*strrchr(dir, '/') = '\0';
	r = kb_rmdir_parents(&ctx->root, dir, "var/lib/kbuildd/");
	if (r < 0)
		kb_err_errno(r, "cannot remove directory '/%s'", dir);
out:
	kb_manifest_release(&m);
	return r;
}
