/*
 * import-dkms: take over what DKMS has registered on this machine.
 *
 * DKMS's tree (DKMS.md §6): NAME/VERSION/source -> /usr/src/NAME-VERSION
 * marks a registered driver, and NAME/kernel-K-ARCH -> VERSION/K/ARCH the
 * version installed for kernel K. Each source is registered from its
 * dkms.conf. For each installed version, DKMS's build (its module/ copy,
 * when that is the file installed) becomes kbuildd's kept build for that
 * kernel, nothing compiled, and is installed over the files DKMS put
 * there: left in place when kbuildd's signing gives the same bytes. Where
 * DKMS's copy is not what is installed, the driver is compiled again.
 * DKMS's own tree is left as it was.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "adopt.h"
#include "base/atomic.h"
#include "base/limits.h"
#include "base/log.h"
#include "compress.h"
#include "dkms/import.h"
#include "engine.h"
#include "signing/modsig.h"
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

/* Where DKMS had a driver installed: its kernel-K-ARCH link's VERSION/K/ARCH. */
struct dkms_install {
	const struct kb_import_ops *ops;
	const char *tree, *name;
	char version[NAME_MAX + 1], kernel[NAME_MAX + 1], arch[NAME_MAX + 1];
};

/* @entry (kernel-K-ARCH) of @name in DKMS's tree, read into @in; false when it is no such link. */
static bool read_install(struct kb_ctx *ctx, const char *entry, struct dkms_install *in)
{
	_cleanup_free_ char *target = NULL;
	char rel[PATH_MAX];

	if (!kb_str_startswith(entry, "kernel-"))
		return false;
	kb_pathf(rel, sizeof(rel), "%s/%s/%s", in->tree, in->name, entry);
	target = link_in_root(ctx, rel);
	/* The link is DKMS's tree's, so each part is checked before it names a path. */
	return target &&
	       sscanf(target, "%255[^/]/%255[^/]/%255[^/]", in->version, in->kernel, in->arch) ==
		       3 &&
	       in->version[0] != '.' && in->arch[0] != '.' && kb_kernel_release_valid(in->kernel);
}

/* Read root file @rel through no symlink into @out (at most a module's size). */
static int read_plain(struct kb_ctx *ctx, const char *rel, struct kb_buf *out)
{
	int fd = kb_root_openat(&ctx->root, rel, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0);
	struct stat st;
	int r;

	if (fd < 0)
		return fd;
	r = fstat(fd, &st) < 0 ? -errno : S_ISREG(st.st_mode) ? 0 : -EINVAL;
	if (r == 0)
		r = kb_read_fd(fd, KB_MAX_MODULE_SIZE, out);
	close(fd);
	return r;
}

static const char *const suffixes[] = { "", ".xz", ".zst", ".gz" };

/*
 * Module @m as DKMS built it for the install @in, from its module/ copy,
 * when that is what is installed: into @image, signature and compression
 * undone (what make produced, after DKMS's strip). 1, 0 with *@why, or
 * a negative error.
 */
static int dkms_module(struct kb_ctx *ctx, const struct dkms_install *in,
		       const struct kb_module_spec *m, struct kb_buf *image, char **why)
{
	struct kb_buf copy = KB_BUF_INIT_MAX(KB_MAX_MODULE_SIZE);
	struct kb_buf there = KB_BUF_INIT_MAX(KB_MAX_MODULE_SIZE);
	char built[PATH_MAX], installed[PATH_MAX];
	struct kb_modsig sig;
	const char *bad = NULL;
	bool found;
	int r = -ENOENT;

	for (size_t i = 0; r == -ENOENT && i < ARRAY_SIZE(suffixes); i++) {
		kb_pathf(built, sizeof(built), "%s/%s/%s/%s/%s/module/%s.ko%s", in->tree, in->name,
			 in->version, in->kernel, in->arch, m->name, suffixes[i]);
		kb_pathf(installed, sizeof(installed), "lib/modules/%s/%s/%s.ko%s", in->kernel,
			 m->dest ? m->dest : kb_ctx_dest(ctx), m->name, suffixes[i]);
		kb_buf_reset(&copy);
		r = read_plain(ctx, built, &copy);
	}
	found = r >= 0;
	r = 0;
	if (!found && asprintf(why, "DKMS's tree has no copy of module %s", m->name) < 0)
		r = -ENOMEM;
	if (*why || r < 0)
		goto out;
	if ((read_plain(ctx, installed, &there) < 0 || there.len != copy.len ||
	     memcmp(there.buf, copy.buf, copy.len)) &&
	    asprintf(why, "'/%s' is not the copy of module %s DKMS built ('/%s')", installed,
		     m->name, built) < 0)
		r = -ENOMEM;
	if (*why || r < 0)
		goto out;
	r = kb_decompress(&copy, image);
	if (r >= 0)
		r = kb_modsig_parse(image->buf, image->len, &sig, &bad);
	if (r >= 0 && !kb_modsig_is_elf(image->buf, sig.content_len))
		bad = "it is not a kernel module";
	if (r < 0 || bad) {
		r = asprintf(why, "DKMS's '/%s' cannot be read: %s", built,
			     bad ? bad : "it does not decompress") < 0 ?
			    -ENOMEM :
			    0;
		goto out;
	}
	image->len = sig.content_len;
	r = 1;
out:
	kb_buf_release(&copy);
	kb_buf_release(&there);
	return r;
}

/* kb_adopt_ops.provide: DKMS's build of @t, when its copy is what is installed. */
static int dkms_provide(struct kb_ctx *ctx, struct kb_task *t, const char *src,
			struct kb_buf *origin, char **why, void *data)
{
	struct dkms_install in = *(const struct dkms_install *)data;

	/* a dependency it pulls in: what DKMS built of that for the same kernel */
	in.name = t->recipe->name;
	snprintf(in.version, sizeof(in.version), "%s", t->recipe->version);
	for (size_t i = 0; i < t->recipe->nr_modules; i++) {
		const struct kb_module_spec *m = &t->recipe->modules[i];
		struct kb_buf image = KB_BUF_INIT_MAX(KB_MAX_MODULE_SIZE);
		int r = dkms_module(ctx, &in, m, &image, why);

		if (r == 1 && (r = kb_adopt_put(ctx, src, m->path, &image)) < 0)
			kb_err_errno(r, "cannot take DKMS's build of module %s", m->name);
		else if (r == 0 && !*why)
			r = 1; /* put */
		kb_buf_release(&image);
		if (r <= 0)
			return r;
	}
	kb_buf_addf(origin, "DKMS's build in /%s/%s/%s/%s/%s/module", in.tree, in.name, in.version,
		    in.kernel, in.arch);
	return 1;
}

static void adopt_report(const struct kb_task *t, const char *why, void *data)
{
	const struct dkms_install *in = data;

	in->ops->taken(t->recipe->name, t->recipe->version, t->kernel->release, why);
}

/*
 * NAME/VERSION for the kernel DKMS installed it on, as @in says: DKMS's
 * build taken over where its copy is the one installed (nothing compiled),
 * compiled again where not; then installed over DKMS's files.
 */
static int take_over(struct kb_ctx *ctx, struct dkms_install *in)
{
	const struct kb_adopt_ops adopt = { dkms_provide, adopt_report, in };
	struct kb_strv ids = KB_STRV_INIT, saved = ctx->kernels;
	int r;

	if (ctx->dry_run) {
		/* nothing was registered to plan with */
		kb_info("would take over %s/%s for %s", in->name, in->version, in->kernel);
		return 0;
	}
	ctx->kernels = (struct kb_strv)KB_STRV_INIT;
	r = kb_strv_pushf(&ids, "%s/%s", in->name, in->version);
	if (r >= 0)
		r = kb_strv_push(&ctx->kernels, in->kernel);
	if (r >= 0)
		r = kb_engine_adopt(ctx, &ids, &adopt);
	if (r >= 0) {
		/* the files in the way are DKMS's copies of this very driver */
		ctx->take_over = true;
		r = in->ops->install(ctx, &ids);
		ctx->take_over = false;
	}
	kb_strv_clear(&ctx->kernels);
	ctx->kernels = saved;
	kb_strv_clear(&ids);
	return r;
}

/* Take over NAME for each kernel DKMS had it installed on (its kernel-K-ARCH links). */
static int install_as_dkms_did(struct kb_ctx *ctx, const struct kb_import_ops *ops,
			       const char *tree, const char *name)
{
	struct kb_strv entries = KB_STRV_INIT;
	char rel[PATH_MAX];
	int ret = 0;

	kb_pathf(rel, sizeof(rel), "%s/%s", tree, name);
	kb_root_list(&ctx->root, rel, &entries);
	for (size_t i = 0; i < entries.n; i++) {
		struct dkms_install in = { .ops = ops, .tree = tree, .name = name };
		int r;

		if (!read_install(ctx, entries.v[i], &in))
			continue;
		kb_pathf(rel, sizeof(rel), "lib/modules/%s", in.kernel);
		if (!kb_root_exists(&ctx->root, rel))
			continue; /* the kernel has gone since */
		r = take_over(ctx, &in);
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
