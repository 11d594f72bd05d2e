/* depmod once per changed kernel, then libkmod checks what modprobe would load. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libkmod.h>

#include "atomic.h"
#include "child.h"
#include "depmod.h"
#include "log.h"
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

static void depmod_done(struct kb_ctx *ctx, const struct kb_kernel *k)
{
	char rel[PATH_MAX];

	kb_pathf(rel, sizeof(rel), "%s/%s", PENDING_DIR, k->release);
	if (kb_root_exists(&ctx->root, rel)) {
		kb_durable_unlink(&ctx->root, rel);
		kb_rmdir_parents(&ctx->root, PENDING_DIR, "var/lib/kbuildd/");
	}
}

int kb_depmod(struct kb_ctx *ctx, const struct kb_kernel *k)
{
	struct kb_child c;
	_cleanup_free_ char *cmd = NULL, *conf = NULL;
	int status;

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
	kb_verbose("running %s", cmd);
	c.quiet = kb_log_get_level() < KB_LOG_VERBOSE;
	status = kb_child_run(&c);
	kb_child_release(&c);
	if (status != 0)
		return kb_err(-KB_E_BUILD, "'%s' failed (exit status %d)", cmd, status);
	depmod_done(ctx, k);
	return 0;
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
			if (!kctx || resolve(kctx, name, got, sizeof(got)) < 0 ||
			    !want || !strcmp(got, want))
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
