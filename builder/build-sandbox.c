/* A build's sandbox: what of kbuildd's state and the host its driver code sees and writes. */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "base/limits.h"
#include "build.h"
#include "sandbox.h"
#include "sources/tree.h"

/* The top directories of @r's layout, each once: what its sandbox shows besides src/. */
static int layout_tops(const struct kb_recipe *r, struct kb_strv *tops)
{
	const struct kb_build_layout *l = &r->layout;
	int ret = 0;

	for (size_t i = 0; ret >= 0 && i < l->source_links.n + !!l->tree; i++) {
		const char *p = i < l->source_links.n ? l->source_links.v[i] : l->tree;
		_cleanup_free_ char *top = strndup(p, strcspn(p, "/"));

		if (!top)
			ret = -ENOMEM;
		else if (!kb_strv_contains(tops, top))
			ret = kb_strv_push(tops, top);
	}
	return ret;
}

/*
 * The paths DKMS lets a conf write by absolute path, made the build's own:
 * /usr/src/NAME-VERSION a private copy of the source (usrsrc/ of the
 * staging directory, gone with it), /var/lib/dkms/N/V/build the build's
 * tree and .../source the pristine source.
 */
static int place_dkms(struct kb_ctx *ctx, struct kb_task *t, const char *dir, const char *src,
		      const char *snapshot)
{
	const struct kb_build_layout *l = &t->recipe->layout;
	struct kb_sandbox *sb = &t->sandbox;
	char at[PATH_MAX], rel[PATH_MAX];
	const char *from = src;
	int r = 0;

	if (!sb->isolate || sb->shared_fs || !l->tree || strncmp(l->tree, "dkms/", 5))
		return 0;
	for (size_t i = 0; r >= 0 && i < l->source_links.n; i++) {
		const char *link = l->source_links.v[i];

		if (!strncmp(link, "source-tree/", 12)) {
			if (kb_pathf(at, sizeof(at), "/usr/src/%s", link + 12) < 0 ||
			    kb_pathf(rel, sizeof(rel), "%s/usrsrc/%s", dir, link + 12) < 0)
				return kb_task_fail(t, "/usr/src/%s: path too long", link + 12);
			from = rel;
			r = kb_copy_tree(snapshot, &ctx->root, rel, NULL);
			if (r >= 0 && sb->uid)
				r = kb_chown_tree(&ctx->root, rel, sb->uid, sb->gid);
			if (r >= 0)
				r = kb_sandbox_place(ctx, sb, at, rel, true);
		} else if (!strncmp(link, "dkms/", 5)) {
			if (kb_pathf(at, sizeof(at), "/var/lib/%s", link) < 0)
				return kb_task_fail(t, "/var/lib/%s: path too long", link);
			from = snapshot + strlen(ctx->root.path);
			r = kb_sandbox_place(ctx, sb, at, from, false);
		}
	}
	if (r >= 0) {
		from = src;
		if (kb_pathf(at, sizeof(at), "/var/lib/%s", l->tree) < 0)
			return kb_task_fail(t, "/var/lib/%s: path too long", l->tree);
		r = kb_sandbox_place(ctx, sb, at, src, true);
	}
	if (r < 0)
		return kb_task_fail(t, "cannot give the build its own '%s' (from '%s%s'): %s", at,
				    from[0] == '/' ? "" : "/", from, strerror(-r));
	return 0;
}

/*
 * The build's sandbox: it writes src/ alone, and sees of kbuildd's state
 * only its DKMS layout, the registered source and its dependencies' builds;
 * the kernel's trees stay in view wherever they are (below /tmp, or a home
 * the build user cannot enter). While it runs, K.new is root's and private,
 * so no one outside the sandbox reaches what the build makes (a set-uid
 * file, say) either.
 */
int kb_build_contain(struct kb_ctx *ctx, struct kb_task *t, const char *dir, const char *src,
		     const char *snapshot)
{
	struct kb_sandbox *sb = &t->sandbox;
	struct kb_strv tops = KB_STRV_INIT;
	char rel[PATH_MAX];
	int r;

	kb_sandbox_release(sb);
	r = kb_sandbox_setup(ctx, sb);
	if (r == -ESRCH)
		return kb_task_fail(t,
				    "no unprivileged user to build as: create the user '%s' "
				    "([build] user in kbuildd.conf)",
				    ctx->settings.user ? ctx->settings.user : "kbuildd");
	if (r >= 0)
		r = kb_sandbox_rw(ctx, sb, src);
	if (r >= 0)
		r = layout_tops(t->recipe, &tops);
	for (size_t i = 0; r >= 0 && i < tops.n; i++)
		r = kb_pathf(rel, sizeof(rel), "%s/%s", dir, tops.v[i]) < 0 ?
			    -ENAMETOOLONG :
			    kb_sandbox_ro(ctx, sb, rel);
	if (r >= 0 && tops.n)
		r = kb_strv_push(&sb->ro, snapshot);
	kb_strv_clear(&tops);
	for (size_t i = 0; r >= 0 && i < t->nr_deps; i++)
		r = kb_task_build_rel(t->deps[i], "", rel, sizeof(rel)) < 0 ?
			    -ENAMETOOLONG :
			    kb_sandbox_ro(ctx, sb, rel);
	for (size_t i = 0; r >= 0 && i < t->kernel->trees.n; i++)
		r = kb_strv_push(&sb->ro, t->kernel->trees.v[i]);
	if (r >= 0 && sb->isolate && sb->uid)
		r = kb_chown_tree(&ctx->root, src, sb->uid, sb->gid);
	/* without a mount of its own, the build reaches src/ through K.new: its group may */
	if (r >= 0 && sb->isolate && sb->shared_fs)
		r = kb_root_chmod_owner(&ctx->root, dir, 0, sb->gid, 0710);
	if (r < 0)
		return kb_task_fail(t, "cannot prepare the sandbox of '/%s': %s", dir,
				    strerror(-r));
	return place_dkms(ctx, t, dir, src, snapshot);
}
