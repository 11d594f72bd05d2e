/* depmod once per changed kernel, then libkmod checks what modprobe would load. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libkmod.h>

#include "base/atomic.h"
#include "base/child.h"
#include "base/log.h"
#include "depmod.h"
#include "manifest.h"

#define PENDING_DIR "var/lib/kbuildd/depmod-pending"

int kb_depmod_mark(struct kb_ctx *ctx, const struct kb_kernel *k)
{
	char rel[PATH_MAX];
	int r;

	if (ctx->dry_run || ctx->no_depmod || kb_depmod_pending(ctx, k))
		return 0;
	kb_pathf(rel, sizeof(rel), "%s/%s", PENDING_DIR, k->release);
	r = kb_mkdirs(&ctx->root, PENDING_DIR, 0755);
	if (r >= 0)
		r = kb_atomic_write(&ctx->root, rel, "", 0, 0644);
	return r;
}

bool kb_depmod_pending(struct kb_ctx *ctx, const struct kb_kernel *k)
{
	char rel[PATH_MAX];

	kb_pathf(rel, sizeof(rel), "%s/%s", PENDING_DIR, k->release);
	return kb_root_exists(&ctx->root, rel);
}

/* What the mark says once kb_depmod() started depmod: its temp files may be about. */
#define RUNNING "running\n"

static int depmod_done(struct kb_ctx *ctx, const struct kb_kernel *k)
{
	char rel[PATH_MAX];
	int r;

	kb_pathf(rel, sizeof(rel), "%s/%s", PENDING_DIR, k->release);
	r = kb_durable_unlink(&ctx->root, rel);
	if (r >= 0)
		r = kb_rmdir_parents(&ctx->root, PENDING_DIR, "var/lib/kbuildd/");
	if (r < 0)
		kb_err_errno(r, "cannot remove '/%s'; depmod will run again next time", rel);
	return r;
}

int kb_depmod(struct kb_ctx *ctx, const struct kb_kernel *k)
{
	struct kb_child c;
	_cleanup_free_ char *cmd = NULL, *conf = NULL;
	char rel[PATH_MAX];
	int status, r;

	kb_child_init(&c);
	kb_strv_push(&c.args, "depmod");
	if (ctx->root.path[0]) {
		/* a fake root: its own depmod.d, never the host's */
		conf = kb_root_path(&ctx->root, "etc/depmod.d");
		kb_strv_push(&c.args, "-b");
		kb_strv_push(&c.args, ctx->root.path);
		kb_strv_push(&c.args, "-C");
		kb_strv_push(&c.args, conf);
	}
	kb_strv_push(&c.args, "-a");
	kb_strv_push(&c.args, k->release);
	cmd = kb_child_cmdline(&c);
	if (ctx->dry_run) {
		kb_info("would run: %s", cmd);
		kb_child_release(&c);
		return 0;
	}
	/* before depmod writes a temp file: the next run must know to look for them */
	kb_pathf(rel, sizeof(rel), "%s/%s", PENDING_DIR, k->release);
	r = kb_mkdirs(&ctx->root, PENDING_DIR, 0755);
	if (r >= 0)
		r = kb_atomic_write(&ctx->root, rel, RUNNING, strlen(RUNNING), 0644);
	if (r < 0) {
		kb_child_release(&c);
		return kb_err_errno(r, "cannot write '/%s'", rel);
	}
	kb_verbose("running %s", cmd);
	c.quiet = kb_log_get_level() < KB_LOG_VERBOSE;
	/* an orphaned depmod would race the next run's */
	c.die_with_parent = true;
	status = kb_child_run(&c);
	kb_child_release(&c);
	/* the mark stays: the next run removes what depmod left and runs it again */
	if (status != 0)
		return kb_err(-KB_E_BUILD, "'%s' failed (exit status %d)", cmd, status);
	return depmod_done(ctx, k);
}

/* kmod's depmod (30) writes each index as NAME.PID.USEC.SEC beside it, then renames it. */
static const char *const depmod_indexes[] = {
	"modules.dep",	       "modules.dep.bin",
	"modules.alias",       "modules.alias.bin",
	"modules.softdep",     "modules.weakdep",
	"modules.symbols",     "modules.symbols.bin",
	"modules.builtin.bin", "modules.builtin.alias.bin",
	"modules.devname",
};

/* "123.456.789" and nothing else */
static bool three_numbers(const char *s)
{
	for (int i = 0; i < 3; i++) {
		if (!isdigit((unsigned char)*s))
			return false;
		while (isdigit((unsigned char)*s))
			s++;
		if (*s != (i < 2 ? '.' : '\0'))
			return false;
		s += i < 2;
	}
	return true;
}

bool kb_depmod_is_temp(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(depmod_indexes); i++) {
		size_t len = strlen(depmod_indexes[i]);

		if (!strncmp(name, depmod_indexes[i], len) && name[len] == '.' &&
		    three_numbers(name + len + 1))
			return true;
	}
	return false;
}

/* Only lib/modules/K itself: depmod writes nowhere else. */
static void drop_depmod_temps(struct kb_ctx *ctx, const char *release, unsigned *cleaned)
{
	struct kb_strv names = KB_STRV_INIT;
	char dir[PATH_MAX], rel[PATH_MAX];

	kb_pathf(dir, sizeof(dir), "lib/modules/%s", release);
	kb_root_list(&ctx->root, dir, &names);
	for (size_t i = 0; i < names.n; i++)
		if (kb_depmod_is_temp(names.v[i]) &&
		    kb_pathf(rel, sizeof(rel), "%s/%s", dir, names.v[i]) == 0)
			kb_remove_leftover(&ctx->root, rel, cleaned);
	kb_strv_clear(&names);
}

void kb_depmod_recover(struct kb_ctx *ctx, unsigned *cleaned)
{
	struct kb_strv kernels = KB_STRV_INIT;

	kb_root_list(&ctx->root, PENDING_DIR, &kernels);
	for (size_t i = 0; i < kernels.n; i++) {
		struct kb_buf mark = KB_BUF_INIT_MAX(64);
		struct kb_kernel k = { .release = kernels.v[i] };
		char rel[PATH_MAX], dir[PATH_MAX];

		if (kernels.v[i][0] == '.' ||
		    kb_pathf(rel, sizeof(rel), "%s/%s", PENDING_DIR, kernels.v[i]) < 0 ||
		    kb_pathf(dir, sizeof(dir), "lib/modules/%s", kernels.v[i]) < 0)
			continue;
		if (!kb_root_exists(&ctx->root, dir)) {
			depmod_done(ctx, &k); /* the kernel is gone, and its indexes with it */
			continue;
		}
		if (kb_root_read(&ctx->root, rel, mark.max, &mark) >= 0 &&
		    !strcmp(kb_buf_str(&mark), RUNNING))
			drop_depmod_temps(ctx, kernels.v[i], cleaned);
		kb_buf_release(&mark);
		if (!ctx->no_depmod && kb_depmod(ctx, &k) >= 0)
			(*cleaned)++;
	}
	kb_strv_clear(&kernels);
}

/* A libkmod context over <root>/lib/modules/@release, no modprobe.d: what depmod made. */
static struct kmod_ctx *modules_ctx(struct kb_ctx *ctx, const char *release)
{
	const char *no_config[] = { NULL };
	char rel[PATH_MAX];
	_cleanup_free_ char *dir = NULL;

	kb_pathf(rel, sizeof(rel), "lib/modules/%s", release);
	dir = kb_root_path(&ctx->root, rel);
	return dir ? kmod_new(dir, no_config) : NULL;
}

static int resolve(struct kmod_ctx *kctx, const char *name, char *out, size_t size)
{
	struct kmod_module *mod = NULL;
	int r = kmod_module_new_from_name_lookup(kctx, name, &mod);

	out[0] = '\0';
	if (r >= 0 && mod) {
		const char *path = kmod_module_get_path(mod);

		snprintf(out, size, "%s", path ? path : "");
		kmod_module_unref(mod);
	}
	return r < 0 ? r : 0;
}

int kb_depmod_resolve(struct kb_ctx *ctx, const char *release, const char *name, char *out,
		      size_t size)
{
	struct kmod_ctx *kctx = modules_ctx(ctx, release);
	int r;

	out[0] = '\0';
	if (!kctx)
		return -ENOMEM;
	r = resolve(kctx, name, out, size);
	kmod_unref(kctx);
	return r;
}

/* Append @mod's dependencies below @dir (kmod's dirname) to @paths as lib/modules/@release/... */
static int push_needs(struct kmod_module *mod, const char *dir, const char *release,
		      struct kb_strv *paths)
{
	struct kmod_list *deps = kmod_module_get_dependencies(mod), *l;
	size_t len = strlen(dir);
	int r = 0;

	kmod_list_foreach(l, deps)
	{
		struct kmod_module *dep = kmod_module_get_module(l);
		const char *path = kmod_module_get_path(dep);
		char rel[PATH_MAX];

		if (!path || strncmp(path, dir, len) || path[len] != '/')
			kb_warn("'%s', which %s needs, is outside /lib/modules/%s: left out of the "
				"initramfs",
				path ? path : kmod_module_get_name(dep), kmod_module_get_name(mod),
				release);
		else if (kb_pathf(rel, sizeof(rel), "lib/modules/%s%s", release, path + len) < 0)
			r = -ENAMETOOLONG;
		else if (!kb_strv_contains(paths, rel))
			r = kb_strv_push(paths, rel);
		kmod_module_unref(dep);
		if (r < 0)
			break;
	}
	kmod_module_unref_list(deps);
	return r;
}

int kb_depmod_needs(struct kb_ctx *ctx, const char *release, const struct kb_strv *names,
		    struct kb_strv *paths)
{
	struct kmod_ctx *kctx = modules_ctx(ctx, release);
	int r = 0;

	if (!kctx)
		return -ENOMEM;
	for (size_t i = 0; r >= 0 && i < names->n; i++) {
		struct kmod_module *mod = NULL;

		if (kmod_module_new_from_name_lookup(kctx, names->v[i], &mod) < 0 || !mod)
			continue;
		r = push_needs(mod, kmod_get_dirname(kctx), release, paths);
		kmod_module_unref(mod);
	}
	kmod_unref(kctx);
	return r;
}

int kb_depmod_check(struct kb_ctx *ctx, const struct kb_kernel *k)
{
	struct kb_manifest_set set;
	struct kmod_ctx *kctx;
	int shadowed = 0;

	if (ctx->dry_run || kb_manifest_read_all(ctx, k->release, &set) < 0)
		return 0;
	/* one context for the kernel: its indexes are loaded once, not per module */
	kctx = modules_ctx(ctx, k->release);
	for (size_t i = 0; i < set.n; i++) {
		for (size_t j = 0; j < set.v[i].n; j++) {
			const char *path = set.v[i].files[j].path;
			_cleanup_free_ char *want = kb_root_path(&ctx->root, path);
			char name[NAME_MAX + 1], got[PATH_MAX];

			if (!kb_manifest_module_name(path, name, sizeof(name)))
				continue;
			if (!kctx || resolve(kctx, name, got, sizeof(got)) < 0 || !want ||
			    !strcmp(got, want))
				continue;
			shadowed++;
			kb_warn("module %s for %s resolves to '%s', which shadows kbuildd's '%s'",
				name, k->release, got[0] ? got : "(nothing)", want);
		}
	}
	kmod_unref(kctx);
	kb_manifest_set_release(&set);
	return shadowed;
}
