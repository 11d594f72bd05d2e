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

#include "base/atomic.h"
#include "base/log.h"
#include "depmod.h"
#include "kernel.h"
#include "manifest.h"
#include "outputs.h"
#include "recover.h"
#include "signing/keystore.h"
#include "sources/fetch.h"
#include "state.h"

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

static const char *base_name(const char *rel)
{
	return strrchr(rel, '/') ? strrchr(rel, '/') + 1 : rel;
}

/*
 * Inside the state dir, which only kbuildd writes, the temp prefix is
 * enough. Recovery never fails the command, but says what it could not undo.
 */
static void drop_temp(struct kb_ctx *ctx, const char *rel, const struct stat *st, void *data)
{
	if (S_ISREG(st->st_mode) && kb_atomic_is_temp(base_name(rel)))
		kb_remove_leftover(&ctx->root, rel, data);
}

/* Partial downloads: only fetch's own names, only in the cache's tmp/. */
static void drop_partial_downloads(struct kb_ctx *ctx, unsigned *cleaned)
{
	const char *cache = ctx->settings.cache ? ctx->settings.cache : "var/cache/kbuildd/sources";
	struct kb_strv names = KB_STRV_INIT;
	char dir[PATH_MAX], rel[PATH_MAX];

	if (kb_pathf(dir, sizeof(dir), "%s/tmp", cache) < 0 ||
	    kb_root_list(&ctx->root, dir, &names) < 0)
		goto out;
	for (size_t i = 0; i < names.n; i++)
		if (kb_fetch_is_temp(names.v[i]) &&
		    kb_pathf(rel, sizeof(rel), "%s/%s", dir, names.v[i]) == 0)
			kb_remove_leftover(&ctx->root, rel, cleaned);
out:
	kb_strv_clear(&names);
}

enum staging {
	STAGING_NEW,  /* half made: drop it */
	STAGING_OLD,  /* mid-swap: the one to keep if the new one never landed */
	STAGING_GONE, /* a removal under way: finish it */
};

/* @rel is a staging directory for @kept. */
typedef void (*staging_fn)(struct kb_ctx *ctx, const char *rel, const char *kept, enum staging kind,
			   void *data);

static bool is_dir(struct kb_ctx *ctx, const char *rel)
{
	struct stat st;

	return lstat_in(ctx, rel, &st) == 0 && S_ISDIR(st.st_mode);
}

/* The names in @rel that pass @valid (never a staging name itself). */
static void list_valid(struct kb_ctx *ctx, const char *rel, bool (*valid)(const char *),
		       struct kb_strv *out)
{
	struct kb_strv names = KB_STRV_INIT;

	kb_root_list(&ctx->root, rel, &names);
	for (size_t i = 0; i < names.n; i++)
		if (valid(names.v[i]))
			kb_strv_push(out, names.v[i]);
	kb_strv_clear(&names);
}

/*
 * recipes/N/ holds V and, while one changes, .kbuildd-new.V, .kbuildd-old.V
 * or .kbuildd-gone.V (state.c); builds/N/V/ holds K and, while one builds,
 * .kbuildd-new.K and .kbuildd-old.K (build.c). No valid version or kernel
 * release starts with a dot, so these, at that depth only, are what
 * staging left; a source snapshot's own dot directories are never touched.
 */
static void staging_in(struct kb_ctx *ctx, const char *dir, bool (*valid)(const char *),
		       staging_fn fn, void *data)
{
	static const struct {
		const char *prefix;
		enum staging kind;
	} kinds[] = {
		{ KB_STAGING_NEW, STAGING_NEW },
		{ KB_STAGING_OLD, STAGING_OLD },
		{ KB_STAGING_GONE, STAGING_GONE },
	};
	struct kb_strv names = KB_STRV_INIT;

	kb_root_list(&ctx->root, dir, &names);
	for (size_t i = 0; i < names.n; i++)
		for (size_t j = 0; j < ARRAY_SIZE(kinds); j++) {
			const char *kept_name = names.v[i] + strlen(kinds[j].prefix);
			char rel[PATH_MAX], kept[PATH_MAX];

			if (!kb_str_startswith(names.v[i], kinds[j].prefix) || !valid(kept_name) ||
			    kb_pathf(rel, sizeof(rel), "%s/%s", dir, names.v[i]) < 0 ||
			    kb_pathf(kept, sizeof(kept), "%s/%s", dir, kept_name) < 0 ||
			    !is_dir(ctx, rel))
				continue;
			fn(ctx, rel, kept, kinds[j].kind, data);
		}
	kb_strv_clear(&names);
}

/* Every staging directory of the state, by the exact names and depths its writers use. */
static void for_each_staging(struct kb_ctx *ctx, staging_fn fn, void *data)
{
	struct kb_strv names = KB_STRV_INIT;

	list_valid(ctx, KB_STATE_DIR "/recipes", kb_recipe_name_valid, &names);
	for (size_t i = 0; i < names.n; i++) {
		char dir[PATH_MAX];

		if (kb_pathf(dir, sizeof(dir), "%s/recipes/%s", KB_STATE_DIR, names.v[i]) == 0)
			staging_in(ctx, dir, kb_recipe_version_valid, fn, data);
	}
	kb_strv_clear(&names);
	list_valid(ctx, KB_STATE_DIR "/builds", kb_recipe_name_valid, &names);
	for (size_t i = 0; i < names.n; i++) {
		struct kb_strv versions = KB_STRV_INIT;
		char dir[PATH_MAX];

		kb_pathf(dir, sizeof(dir), "%s/builds/%s", KB_STATE_DIR, names.v[i]);
		list_valid(ctx, dir, kb_recipe_version_valid, &versions);
		for (size_t j = 0; j < versions.n; j++)
			if (kb_pathf(dir, sizeof(dir), "%s/builds/%s/%s", KB_STATE_DIR, names.v[i],
				     versions.v[j]) == 0)
				staging_in(ctx, dir, kb_kernel_release_valid, fn, data);
		kb_strv_clear(&versions);
	}
	kb_strv_clear(&names);
}

static void fix_staging(struct kb_ctx *ctx, const char *rel, const char *kept, enum staging kind,
			void *data)
{
	unsigned *cleaned = data;
	int r;

	/* killed between the two renames: the old one is the one to keep */
	if (kind == STAGING_OLD && !kb_root_exists(&ctx->root, kept))
		r = kb_durable_rename(&ctx->root, rel, kept);
	else
		r = kb_rm_rf(&ctx->root, rel);
	if (r < 0)
		kb_err_errno(r, "cannot clean up '/%s', left by an interrupted run", rel);
	else
		(*cleaned)++;
}

static void add_dirs(const struct kb_manifest *v, size_t n, struct kb_strv *dirs)
{
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < v[i].n; j++) {
			char dir[PATH_MAX];

			kb_pathf(dir, sizeof(dir), "%s", v[i].files[j].path);
			*strrchr(dir, '/') = '\0';
			if (!kb_strv_contains(dirs, dir))
				kb_strv_push(dirs, dir);
		}
}

/* Every directory a manifest of any kernel installs into (a damaged one: what it still names). */
static void install_dirs(struct kb_ctx *ctx, struct kb_strv *dirs)
{
	_cleanup_free_ char *top = kb_root_path(&ctx->root, KB_STATE_DIR "/installed");
	DIR *dh = top ? opendir(top) : NULL;
	struct dirent *de;

	while (dh && (de = readdir(dh))) {
		struct kb_manifest_set set;

		if (de->d_name[0] == '.')
			continue;
		if (kb_manifest_read_all(ctx, de->d_name, &set) >= 0) {
			add_dirs(set.v, set.n, dirs);
			add_dirs(set.damaged, set.n_damaged, dirs);
		}
		kb_manifest_set_release(&set);
	}
	if (dh)
		closedir(dh);
}

/*
 * Remove the empty directories down to @levels below @rel, deepest first,
 * then @rel itself when emptied. Tidying only: a directory that stays is
 * harmless, and the next run tries again, so failures are not reported.
 */
static void prune_empty(struct kb_ctx *ctx, const char *rel, unsigned levels)
{
	struct kb_strv names = KB_STRV_INIT;
	char parent[PATH_MAX];

	if (levels)
		kb_root_list(&ctx->root, rel, &names);
	for (size_t i = 0; i < names.n; i++) {
		char child[PATH_MAX];

		if (kb_pathf(child, sizeof(child), "%s/%s", rel, names.v[i]) == 0 &&
		    is_dir(ctx, child))
			prune_empty(ctx, child, levels - 1);
	}
	kb_strv_clear(&names);
	/* rmdir @rel alone: it fails, harmlessly, unless @rel is empty */
	kb_pathf(parent, sizeof(parent), "%.*s/", (int)(strrchr(rel, '/') - rel), rel);
	kb_rmdir_parents(&ctx->root, rel, parent);
}

/*
 * A removal killed between deleting files and their directories leaves
 * empty directories a clean run would not: prune kbuildd's own, to the
 * depth it makes them (recipes/N, builds/N/V, installed/K), never inside
 * a source snapshot or a build, whose empty directories are theirs.
 */
static void prune_state_dirs(struct kb_ctx *ctx)
{
	static const struct {
		const char *dir;
		unsigned levels;
	} dirs[] = {
		{ "recipes", 1 },	 { "builds", 2 }, { "installed", 1 },
		{ "depmod-pending", 0 }, { "intent", 0 },
	};
	_cleanup_free_ char *modules = kb_root_path(&ctx->root, "lib/modules");
	DIR *dh = modules ? opendir(modules) : NULL;
	struct dirent *de;

	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
		char rel[PATH_MAX];

		kb_pathf(rel, sizeof(rel), "%s/%s", KB_STATE_DIR, dirs[i].dir);
		prune_empty(ctx, rel, dirs[i].levels);
	}
	while (dh && (de = readdir(dh))) {
		char dest[PATH_MAX], top[PATH_MAX];

		if (de->d_name[0] == '.')
			continue;
		kb_pathf(dest, sizeof(dest), "lib/modules/%s/%s", de->d_name, kb_ctx_dest(ctx));
		kb_pathf(top, sizeof(top), "lib/modules/%s/", de->d_name);
		/* the default destination only, emptied by a removal: as prune_empty() */
		kb_rmdir_parents(&ctx->root, dest, top);
	}
	if (dh)
		closedir(dh);
}

unsigned kb_state_recover(struct kb_ctx *ctx)
{
	unsigned cleaned = 0;

	/* temps outside the state dir: exactly those an intent journal lists */
	kb_stage_recover(&ctx->root, &cleaned);
	cleaned += kb_keys_recover(&ctx->root);
	walk(ctx, KB_STATE_DIR, drop_temp, &cleaned, 0);
	for_each_staging(ctx, fix_staging, &cleaned);
	drop_partial_downloads(ctx, &cleaned);
	/* last: depmod indexes the module tree once nothing half-made is left in it */
	kb_depmod_recover(ctx, &cleaned);
	prune_state_dirs(ctx);
	if (cleaned)
		kb_info("cleaned up %u leftover%s of an interrupted run", cleaned,
			cleaned == 1 ? "" : "s");
	return cleaned;
}

struct check {
	unsigned problems;
	void (*report)(void *data, const char *msg);
	void *data;
	struct kb_strv owned; /* every path some manifest lists */
};

static void __attribute__((format(printf, 2, 3))) problem(struct check *c, const char *fmt, ...)
{
	struct kb_buf msg = KB_BUF_INIT;
	va_list ap;

	c->problems++;
	va_start(ap, fmt);
	kb_buf_vaddf(&msg, fmt, ap);
	va_end(ap);
	c->report(c->data, kb_buf_str(&msg));
	kb_buf_release(&msg);
}

static void unowned(struct kb_ctx *ctx, const char *rel, const struct stat *st, void *data)
{
	const char *base = strrchr(rel, '/') ? strrchr(rel, '/') + 1 : rel;
	struct check *c = data;

	(void)ctx;
	if (S_ISDIR(st->st_mode))
		return;
	if (kb_atomic_is_temp(base))
		problem(c, "/%s: temporary file left by an interrupted run", rel);
	else if (!kb_strv_contains(&c->owned, rel))
		problem(c, "/%s: not listed in any manifest", rel);
}

/* An interrupted run's traces in the state directory (recover() removes them). */
static void leftover_temp(struct kb_ctx *ctx, const char *rel, const struct stat *st, void *data)
{
	(void)ctx;
	if (S_ISREG(st->st_mode) && kb_atomic_is_temp(base_name(rel)))
		problem(data, "/%s: temporary file left by an interrupted run", rel);
}

static void leftover_staging(struct kb_ctx *ctx, const char *rel, const char *kept,
			     enum staging kind, void *data)
{
	(void)ctx;
	(void)kept;
	(void)kind;
	problem(data, "/%s: half-made directory left by an interrupted run", rel);
}

static void check_manifests(struct kb_ctx *ctx, struct check *c, const char *kernel)
{
	struct kb_manifest_set set;

	if (kb_manifest_read_all(ctx, kernel, &set) < 0) {
		problem(c, "manifests of kernel %s cannot be read", kernel);
		kb_manifest_set_release(&set);
		return;
	}
	for (size_t i = 0; i < set.n_damaged; i++) {
		problem(c, "%s", set.damaged[i].damage);
		/* what it still names is not reported again as unowned */
		for (size_t j = 0; j < set.damaged[i].n; j++)
			kb_strv_push(&c->owned, set.damaged[i].files[j].path);
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

static void report_build(void *data, const char *msg)
{
	problem(data, "%s", msg);
}

unsigned kb_state_check(struct kb_ctx *ctx, void (*report)(void *data, const char *msg), void *data)
{
	_cleanup_free_ char *top = kb_root_path(&ctx->root, KB_STATE_DIR "/installed");
	struct check c = { .report = report, .data = data, .owned = KB_STRV_INIT };
	struct kb_strv dirs = KB_STRV_INIT, journals = KB_STRV_INIT;
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
	walk(ctx, KB_STATE_DIR, leftover_temp, &c, 0);
	for_each_staging(ctx, leftover_staging, &c);
	kb_stage_list_journals(&ctx->root, &journals);
	for (size_t i = 0; i < journals.n; i++)
		problem(&c, "/%s: intent journal of an interrupted install", journals.v[i]);
	kb_strv_clear(&journals);
	kb_outputs_check(ctx, report_build, &c);
	kb_strv_clear(&dirs);
	kb_strv_clear(&c.owned);
	return c.problems;
}
