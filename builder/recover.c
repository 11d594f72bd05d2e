/* Recovery after an interruption, and the consistency check behind status --check. */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomic.h"
#include "keystore.h"
#include "log.h"
#include "manifest.h"
#include "recover.h"
#include "state.h"

static bool is_temp_name(const char *name)
{
	return name[0] == '.' && strstr(name, ".kbtmp-");
}

static bool has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n > m && !strcmp(s + n - m, suffix);
}

/* lstat() of @rel inside the root. */
static int lstat_in(struct kb_ctx *ctx, const char *rel, struct stat *st)
{
	int fd = kb_root_openat(&ctx->root, rel, O_PATH | O_NOFOLLOW, 0);
	int r = 0;

	if (fd < 0)
		return fd;
	if (fstat(fd, st) < 0)
		r = -errno;
	close(fd);
	return r;
}

typedef void (*visit_fn)(struct kb_ctx *ctx, const char *rel, const struct stat *st, void *data);

/* Walk @rel inside the root (no symlinks followed), calling @fn for each entry. */
static void walk(struct kb_ctx *ctx, const char *rel, visit_fn fn, void *data, unsigned depth)
{
	struct kb_strv names = KB_STRV_INIT;

	if (depth > 16 || kb_root_list(&ctx->root, rel, &names) < 0)
		goto out;
	for (size_t i = 0; i < names.n; i++) {
		char child[PATH_MAX];
		struct stat st;

		if (kb_pathf(child, sizeof(child), "%s/%s", rel, names.v[i]) < 0 ||
		    lstat_in(ctx, child, &st) < 0)
			continue;
		fn(ctx, child, &st, data);
		if (S_ISDIR(st.st_mode) && kb_root_exists(&ctx->root, child))
			walk(ctx, child, fn, data, depth + 1);
	}
out:
	kb_strv_clear(&names);
}

static void drop_temp(struct kb_ctx *ctx, const char *rel, const struct stat *st, void *data)
{
	const char *base = strrchr(rel, '/') ? strrchr(rel, '/') + 1 : rel;
	unsigned *cleaned = data;

	if (S_ISREG(st->st_mode) && (is_temp_name(base) || has_suffix(base, ".part"))) {
		kb_verbose("removing leftover '/%s'", rel);
		kb_durable_unlink(&ctx->root, rel);
		(*cleaned)++;
	}
}

/* builds/N/V/: K.new (half built), K.old (mid-swap) */
static void fix_builds(struct kb_ctx *ctx, const char *rel, const struct stat *st, void *data)
{
	unsigned *cleaned = data;
	char kept[PATH_MAX];
	size_t len = strlen(rel);

	if (!S_ISDIR(st->st_mode) || !kb_str_startswith(rel, KB_STATE_DIR "/builds/"))
		return;
	if (has_suffix(rel, ".new")) {
		kb_rm_rf(&ctx->root, rel);
		(*cleaned)++;
	} else if (has_suffix(rel, ".old") && kb_pathf(kept, sizeof(kept), "%.*s", (int)(len - 4),
						       rel) == 0) {
		/* killed between the two renames: the old build is the one to keep */
		if (!kb_root_exists(&ctx->root, kept))
			kb_durable_rename(&ctx->root, rel, kept);
		else
			kb_rm_rf(&ctx->root, rel);
		(*cleaned)++;
	}
}

/* recipes/N/.V.new (half registered), .V.old (mid-replace) */
static void fix_recipes(struct kb_ctx *ctx, const char *rel, const struct stat *st, void *data)
{
	const char *base = strrchr(rel, '/') + 1;
	unsigned *cleaned = data;
	char kept[PATH_MAX];

	if (!S_ISDIR(st->st_mode) || base[0] != '.')
		return;
	if (has_suffix(base, ".new")) {
		kb_rm_rf(&ctx->root, rel);
		(*cleaned)++;
	} else if (has_suffix(base, ".old") &&
		   kb_pathf(kept, sizeof(kept), "%.*s/%.*s", (int)(base - rel - 1), rel,
			    (int)(strlen(base) - 5), base + 1) == 0) {
		/* left by add --force: restore it when the new one never landed */
		if (!kb_root_exists(&ctx->root, kept))
			kb_durable_rename(&ctx->root, rel, kept);
		else
			kb_rm_rf(&ctx->root, rel);
		(*cleaned)++;
	} else if (has_suffix(base, ".gone")) {
		/* a removal under way: finish it */
		kb_rm_rf(&ctx->root, rel);
		(*cleaned)++;
	}
}

/* Every directory a manifest of any kernel installs into. */
static void install_dirs(struct kb_ctx *ctx, struct kb_strv *dirs)
{
	_cleanup_free_ char *top = kb_root_path(&ctx->root, KB_STATE_DIR "/installed");
	DIR *dh = top ? opendir(top) : NULL;
	struct dirent *de;

	while (dh && (de = readdir(dh))) {
		struct kb_manifest_set set;

		if (de->d_name[0] == '.')
			continue;
		if (kb_manifest_read_all(ctx, de->d_name, &set) < 0)
			continue;
		for (size_t i = 0; i < set.n; i++)
			for (size_t j = 0; j < set.v[i].n; j++) {
				char dir[PATH_MAX];

				kb_pathf(dir, sizeof(dir), "%s", set.v[i].files[j].path);
				*strrchr(dir, '/') = '\0';
				if (!kb_strv_contains(dirs, dir))
					kb_strv_push(dirs, dir);
			}
		kb_manifest_set_release(&set);
	}
	if (dh)
		closedir(dh);
}

/* Remove empty directories below @rel, deepest first, and @rel itself when emptied. */
static void prune_empty(struct kb_ctx *ctx, const char *rel, unsigned depth)
{
	struct kb_strv names = KB_STRV_INIT;

	if (depth > 8 || kb_root_list(&ctx->root, rel, &names) < 0) {
		kb_strv_clear(&names);
		return;
	}
	for (size_t i = 0; i < names.n; i++) {
		char child[PATH_MAX];
		struct stat st;

		if (kb_pathf(child, sizeof(child), "%s/%s", rel, names.v[i]) == 0 &&
		    lstat_in(ctx, child, &st) == 0 && S_ISDIR(st.st_mode))
			prune_empty(ctx, child, depth + 1);
	}
	kb_strv_clear(&names);
	if (depth) {
		char parent[PATH_MAX];

		/* rmdir @rel alone: it fails, harmlessly, unless @rel is empty */
		kb_pathf(parent, sizeof(parent), "%.*s/", (int)(strrchr(rel, '/') - rel), rel);
		kb_rmdir_parents(&ctx->root, rel, parent);
	}
}

/*
 * A removal killed between deleting files and their directories leaves
 * empty directories a clean run would not: prune kbuildd's own.
 */
static void prune_state_dirs(struct kb_ctx *ctx)
{
	static const char *const dirs[] = { "recipes", "builds", "installed", "depmod-pending" };
	_cleanup_free_ char *modules = kb_root_path(&ctx->root, "lib/modules");
	DIR *dh = modules ? opendir(modules) : NULL;
	struct dirent *de;

	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
		char rel[PATH_MAX];

		kb_pathf(rel, sizeof(rel), "%s/%s", KB_STATE_DIR, dirs[i]);
		prune_empty(ctx, rel, 1);
	}
	while (dh && (de = readdir(dh))) {
		char dest[PATH_MAX], top[PATH_MAX];

		if (de->d_name[0] == '.')
			continue;
		kb_pathf(dest, sizeof(dest), "lib/modules/%s/%s", de->d_name, kb_ctx_dest(ctx));
		kb_pathf(top, sizeof(top), "lib/modules/%s/", de->d_name);
		kb_rmdir_parents(&ctx->root, dest, top);
	}
	if (dh)
		closedir(dh);
}

/*
 * Every lib/modules/K except the distribution's own kernel/ tree (thousands
 * of files, never a kbuildd target by default) and the build/source links:
 * this runs before every command that changes state.
 */
static void sweep_module_dirs(struct kb_ctx *ctx, unsigned *cleaned)
{
	struct kb_strv kernels = KB_STRV_INIT;

	kb_root_list(&ctx->root, "lib/modules", &kernels);
	for (size_t k = 0; k < kernels.n; k++) {
		struct kb_strv names = KB_STRV_INIT;
		char dir[PATH_MAX], child[PATH_MAX];
		struct stat st;

		kb_pathf(dir, sizeof(dir), "lib/modules/%s", kernels.v[k]);
		kb_root_list(&ctx->root, dir, &names);
		for (size_t i = 0; i < names.n; i++) {
			if (!strcmp(names.v[i], "kernel") ||
			    kb_pathf(child, sizeof(child), "%s/%s", dir, names.v[i]) < 0 ||
			    lstat_in(ctx, child, &st) < 0)
				continue;
			drop_temp(ctx, child, &st, cleaned);
			if (S_ISDIR(st.st_mode))
				walk(ctx, child, drop_temp, cleaned, 10);
		}
		kb_strv_clear(&names);
	}
	kb_strv_clear(&kernels);
}

unsigned kb_state_recover(struct kb_ctx *ctx)
{
	struct kb_strv dirs = KB_STRV_INIT;
	unsigned cleaned = 0;
	const char *cache = ctx->settings.cache ? ctx->settings.cache : "var/cache/kbuildd/sources";
	char tmp[PATH_MAX];

	cleaned += kb_keys_recover(ctx);
	walk(ctx, KB_STATE_DIR, drop_temp, &cleaned, 0);
	walk(ctx, KB_STATE_DIR "/builds", fix_builds, &cleaned, 0);
	walk(ctx, KB_STATE_DIR "/recipes", fix_recipes, &cleaned, 0);
	install_dirs(ctx, &dirs);
	for (size_t i = 0; i < dirs.n; i++)
		walk(ctx, dirs.v[i], drop_temp, &cleaned, 15);
	/* an install killed before its first manifest: temp files beside the targets */
	sweep_module_dirs(ctx, &cleaned);
	kb_pathf(tmp, sizeof(tmp), "%s/tmp", cache);
	walk(ctx, tmp, drop_temp, &cleaned, 15);
	prune_state_dirs(ctx);
	kb_strv_clear(&dirs);
	if (cleaned)
		kb_info("cleaned up %u leftover%s of an interrupted run", cleaned,
			cleaned == 1 ? "" : "s");
	return cleaned;
}

struct check {
	unsigned problems;
	struct kb_strv owned;	/* every path some manifest lists */
};

static void __attribute__((format(printf, 2, 3))) problem(struct check *c, const char *fmt, ...)
{
	va_list ap;

	c->problems++;
	fputs("check: ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
}

static void unowned(struct kb_ctx *ctx, const char *rel, const struct stat *st, void *data)
{
	const char *base = strrchr(rel, '/') ? strrchr(rel, '/') + 1 : rel;
	struct check *c = data;

	(void)ctx;
	if (S_ISDIR(st->st_mode))
		return;
	if (is_temp_name(base))
		problem(c, "/%s: temporary file left by an interrupted run", rel);
	else if (!kb_strv_contains(&c->owned, rel))
		problem(c, "/%s: not listed in any manifest", rel);
}

/* An interrupted run's traces in the state directory (recover() removes them). */
static void leftover(struct kb_ctx *ctx, const char *rel, const struct stat *st, void *data)
{
	const char *base = strrchr(rel, '/') ? strrchr(rel, '/') + 1 : rel;
	struct check *c = data;

	(void)ctx;
	if (S_ISREG(st->st_mode) && is_temp_name(base))
		problem(c, "/%s: temporary file left by an interrupted run", rel);
	else if (S_ISDIR(st->st_mode) && (has_suffix(base, ".new") || has_suffix(base, ".old") ||
					  has_suffix(base, ".gone")))
		problem(c, "/%s: half-made directory left by an interrupted run", rel);
}

static void check_manifests(struct kb_ctx *ctx, struct check *c, const char *kernel)
{
	struct kb_manifest_set set;

	if (kb_manifest_read_all(ctx, kernel, &set) < 0) {
		problem(c, "manifests of kernel %s cannot be read", kernel);
		return;
	}
	for (size_t i = 0; i < set.n; i++)
		for (size_t j = 0; j < set.v[i].n; j++) {
			const struct kb_manifest_file *f = &set.v[i].files[j];
			char sha[KB_SHA256_HEX];

			kb_strv_push(&c->owned, f->path);
			if (kb_root_sha256(&ctx->root, f->path, sha) < 0)
				problem(c, "/%s: listed by %s/%s for %s but missing", f->path,
					set.v[i].name, set.v[i].version, kernel);
			else if (strcmp(sha, f->sha256))
				problem(c, "/%s: sha256 %s, but %s/%s installed %s", f->path, sha,
					set.v[i].name, set.v[i].version, f->sha256);
		}
	kb_manifest_set_release(&set);
}

unsigned kb_state_check(struct kb_ctx *ctx)
{
	_cleanup_free_ char *top = kb_root_path(&ctx->root, KB_STATE_DIR "/installed");
	struct check c = { 0, KB_STRV_INIT };
	struct kb_strv dirs = KB_STRV_INIT;
	DIR *dh = top ? opendir(top) : NULL;
	struct dirent *de;

	while (dh && (de = readdir(dh)))
		if (de->d_name[0] != '.')
			check_manifests(ctx, &c, de->d_name);
	if (dh)
		closedir(dh);
	install_dirs(ctx, &dirs);
	for (size_t i = 0; i < dirs.n; i++)
		walk(ctx, dirs.v[i], unowned, &c, 15);
	walk(ctx, KB_STATE_DIR, leftover, &c, 0);
	kb_strv_clear(&dirs);
	kb_strv_clear(&c.owned);
	return c.problems;
}
