/*
 * import-dkms: take over what DKMS has registered on this machine.
 *
 * DKMS's tree (DKMS.md §6): NAME/VERSION/source -> /usr/src/NAME-VERSION
 * marks a registered driver, and NAME/kernel-K-ARCH -> VERSION/K/ARCH the
 * version installed for kernel K. Each source is registered from its
 * dkms.conf, and each installed version is built and installed for its
 * kernel over the files DKMS put there. DKMS's own tree is left as it was.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "base/atomic.h"
#include "base/limits.h"
#include "base/log.h"
#include "dkms/import.h"
#include "engine.h"
#include "state.h"

/* Where a symlink in the root points, as a path inside the root; NULL if not a link. */
static char *link_in_root(struct kb_ctx *ctx, const char *rel)
{
	_cleanup_free_ char *host = kb_root_path(&ctx->root, rel);
	char target[PATH_MAX];
	ssize_t n;

	if (!host)
		return NULL;
	n = readlink(host, target, sizeof(target) - 1);
	if (n < 0)
		return NULL;
	target[n] = '\0';
	return strdup(target);
}

static bool is_link(struct kb_ctx *ctx, const char *rel)
{
	_cleanup_free_ char *target = link_in_root(ctx, rel);

	return target != NULL;
}

/* Register NAME/VERSION from the source DKMS recorded for it. */
static int import_version(struct kb_ctx *ctx, const struct kb_import_ops *ops, const char *tree,
			  const char *name, const char *version, struct kb_strv *ids)
{
	char rel[PATH_MAX];
	_cleanup_free_ char *target = NULL, *host = NULL;
	char *id = NULL;
	int r;

	kb_pathf(rel, sizeof(rel), "%s/%s/%s/source", tree, name, version);
	target = link_in_root(ctx, rel);
	if (!target) {
		kb_pathf(rel, sizeof(rel), "usr/src/%s-%s", name, version);
		target = strdup(rel); /* DKMS's fallback: the source tree by name */
	} else if (target[0] != '/') {
		char *abs = NULL;

		if (asprintf(&abs, "%s/%s/%s/%s", tree, name, version, target) < 0)
			return -ENOMEM;
		free(target);
		target = abs;
	}
	if (!target)
		return -ENOMEM;
	host = kb_root_path(&ctx->root, target[0] == '/' ? target + 1 : target);
	if (!host || access(host, F_OK) < 0) {
		/* reported like a failed build: the rest of the import goes on */
		return kb_err(-KB_E_BUILD,
			      "%s/%s is broken in DKMS's tree: its source '%s' is "
			      "missing; skipped",
			      name, version, target);
	}
	r = kb_state_add(ctx, host, &id);
	if (r >= 0 && id)
		ops->registered(id, target);
	if (r >= 0 && id && kb_strv_push(ids, id) < 0)
		r = -ENOMEM;
	free(id);
	return r;
}

/* A copy, so DKMS's tree keeps its archive. */
static int copy_file(struct kb_ctx *ctx, const char *from, const char *to)
{
	struct kb_buf data = KB_BUF_INIT_MAX(KB_MAX_MODULE_SIZE);
	char dir[PATH_MAX];
	int r;

	snprintf(dir, sizeof(dir), "%s", to);
	*strrchr(dir, '/') = '\0';
	r = kb_root_read(&ctx->root, from, KB_MAX_MODULE_SIZE, &data);
	if (r >= 0)
		r = kb_mkdirs(&ctx->root, dir, 0755);
	if (r >= 0)
		r = kb_atomic_write_buf(&ctx->root, to, &data, 0644);
	kb_buf_release(&data);
	return r;
}

/*
 * DKMS moved the in-tree module a driver replaced into original_module/;
 * kbuildd never hides one (its copy in updates/ comes first for depmod),
 * so put each back where its .origin says it was.
 */
static void restore_originals(struct kb_ctx *ctx, const char *tree, const char *name)
{
	struct kb_strv kernels = KB_STRV_INIT;
	char rel[PATH_MAX];

	kb_pathf(rel, sizeof(rel), "%s/%s/original_module", tree, name);
	kb_root_list(&ctx->root, rel, &kernels);
	for (size_t k = 0; k < kernels.n; k++) {
		struct kb_strv arches = KB_STRV_INIT;

		kb_pathf(rel, sizeof(rel), "%s/%s/original_module/%s", tree, name, kernels.v[k]);
		kb_root_list(&ctx->root, rel, &arches);
		for (size_t a = 0; a < arches.n; a++) {
			struct kb_strv files = KB_STRV_INIT;
			char dir[PATH_MAX];

			kb_pathf(dir, sizeof(dir), "%s/%s", rel, arches.v[a]);
			kb_root_list(&ctx->root, dir, &files);
			for (size_t f = 0; f < files.n; f++) {
				struct kb_buf origin = KB_BUF_INIT_MAX(PATH_MAX);
				char src[PATH_MAX], orig[PATH_MAX], prefix[PATH_MAX];
				const char *to;
				size_t len = strlen(files.v[f]);

				if (len < 8 || strcmp(files.v[f] + len - 7, ".origin"))
					continue;
				kb_pathf(orig, sizeof(orig), "%s/%s", dir, files.v[f]);
				kb_pathf(src, sizeof(src), "%s/%.*s", dir, (int)(len - 7),
					 files.v[f]);
				kb_pathf(prefix, sizeof(prefix), "/lib/modules/%s/", kernels.v[k]);
				if (kb_root_read(&ctx->root, orig, PATH_MAX, &origin) == 0) {
					to = kb_strstrip((char *)kb_buf_str(&origin));
					/* only back into that kernel's tree, as DKMS checks */
					if (kb_str_startswith(to, prefix) && !strstr(to, "/../") &&
					    !kb_root_exists(&ctx->root, to + 1) && !ctx->dry_run &&
					    copy_file(ctx, src, to + 1) == 0)
						kb_info("restored the in-tree module %s that DKMS had "
							"moved aside",
							to);
				}
				kb_buf_release(&origin);
			}
			kb_strv_clear(&files);
		}
		kb_strv_clear(&arches);
	}
	kb_strv_clear(&kernels);
}

/* Install NAME/VERSION for each kernel DKMS had it installed on (kernel-K-ARCH links). */
static int install_as_dkms_did(struct kb_ctx *ctx, const struct kb_import_ops *ops,
			       const char *tree, const char *name)
{
	struct kb_strv entries = KB_STRV_INIT;
	char rel[PATH_MAX];
	int ret = 0;

	kb_pathf(rel, sizeof(rel), "%s/%s", tree, name);
	kb_root_list(&ctx->root, rel, &entries);
	for (size_t i = 0; i < entries.n; i++) {
		_cleanup_free_ char *target = NULL;
		struct kb_strv ids = KB_STRV_INIT, saved = ctx->kernels;
		char kernel[PATH_MAX], *slash;
		bool force = ctx->force;
		int r;

		if (!kb_str_startswith(entries.v[i], "kernel-"))
			continue;
		kb_pathf(rel, sizeof(rel), "%s/%s/%s", tree, name, entries.v[i]);
		target = link_in_root(ctx, rel); /* VERSION/K/ARCH */
		if (!target || !(slash = strchr(target, '/')))
			continue;
		snprintf(kernel, sizeof(kernel), "%s", slash + 1);
		*slash = '\0';
		if (strchr(kernel, '/'))
			*strchr(kernel, '/') = '\0';
		kb_pathf(rel, sizeof(rel), "lib/modules/%s", kernel);
		if (!kb_root_exists(&ctx->root, rel))
			continue; /* the kernel has gone since */
		kb_strv_pushf(&ids, "%s/%s", name, target);
		ctx->kernels = (struct kb_strv)KB_STRV_INIT;
		kb_strv_push(&ctx->kernels, kernel);
		/* the files in the way are DKMS's copies of this very driver */
		ctx->force = true;
		r = ops->install(ctx, &ids);
		ctx->force = force;
		kb_strv_clear(&ctx->kernels);
		ctx->kernels = saved;
		kb_strv_clear(&ids);
		if (r < 0 && ret >= 0)
			ret = r;
	}
	kb_strv_clear(&entries);
	return ret;
}

int kb_dkms_import(struct kb_ctx *ctx, const char *tree, const struct kb_import_ops *ops)
{
	struct kb_strv names = KB_STRV_INIT, ids = KB_STRV_INIT;
	int ret = 0;

	while (*tree == '/')
		tree++;
	if (kb_root_list(&ctx->root, tree, &names) < 0)
		return kb_err(-KB_E_INPUT, "no DKMS tree at '/%s' in the root", tree);
	for (size_t i = 0; i < names.n; i++) {
		struct kb_strv versions = KB_STRV_INIT;
		char rel[PATH_MAX];

		kb_pathf(rel, sizeof(rel), "%s/%s", tree, names.v[i]);
		if (kb_root_list(&ctx->root, rel, &versions) < 0)
			continue; /* mok.key and other files */
		for (size_t v = 0; v < versions.n; v++) {
			char src[PATH_MAX];
			int r;

			kb_pathf(src, sizeof(src), "%s/%s/source", rel, versions.v[v]);
			if (kb_str_startswith(versions.v[v], "kernel-") ||
			    !strcmp(versions.v[v], "original_module") || !is_link(ctx, src))
				continue;
			r = import_version(ctx, ops, tree, names.v[i], versions.v[v], &ids);
			if (r < 0 && ret >= 0)
				ret = r; /* a broken one must not stop the others */
		}
		kb_strv_clear(&versions);
		restore_originals(ctx, tree, names.v[i]);
		{
			int r = install_as_dkms_did(ctx, ops, tree, names.v[i]);

			if (r < 0 && ret >= 0)
				ret = r;
		}
	}
	ops->finished();
	kb_strv_clear(&names);
	kb_strv_clear(&ids);
	return ret;
}
