/* Registering recipes: their source and patches snapshotted, then moved into place at once. */
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
#include "sources/fetch.h"
#include "sources/gitsrc.h"
#include "sources/tree.h"
#include "sources/unpack.h"
#include "state.h"

static bool is_file(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/*
 * A directory argument means its kbuildd.recipe, else the file a reader
 * reads (its dkms.conf); *@reader is the one that reads the result.
 */
static char *recipe_file_of(const struct kb_ctx *ctx, const char *path,
			    const struct kb_recipe_reader **reader)
{
	const char *base = strrchr(path, '/');
	struct stat st;
	char *file = NULL;

	*reader = NULL;
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
		int len = (int)strlen(path);

		while (len > 1 && path[len - 1] == '/')
			len--; /* "dir/" names dir/dkms.conf, not dir//dkms.conf */
		if (asprintf(&file, "%.*s/kbuildd.recipe", len, path) < 0)
			return NULL;
		for (size_t i = 0; ctx->readers && ctx->readers[i] && !is_file(file); i++) {
			char *other;

			if (asprintf(&other, "%.*s/%s", len, path, ctx->readers[i]->file) < 0) {
				free(file);
				return NULL;
			}
			if (!is_file(other)) {
				free(other);
				continue;
			}
			free(file);
			file = other;
			*reader = ctx->readers[i];
		}
		return file;
	}
	for (size_t i = 0; ctx->readers && ctx->readers[i]; i++)
		if (!strcmp(base ? base + 1 : path, ctx->readers[i]->file))
			*reader = ctx->readers[i];
	return strdup(path);
}

static bool is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/*
 * A patch is read as root and copied into the state (0600): it must be a
 * regular file inside the recipe's directory, reached through no symlink,
 * or a link to the signing key would be copied. A fd, or -KB_E_INPUT.
 */
static int open_patch(const struct kb_recipe *r, const char *patch)
{
	int dfd = open(r->dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	int fd = dfd < 0 ? -errno : kb_openat_beneath(dfd, patch, O_RDONLY | O_NONBLOCK, 0);
	int ret;

	if (dfd >= 0)
		close(dfd);
	if (fd == -ELOOP)
		return kb_err(-KB_E_INPUT,
			      "%s: patch '%s' is a symbolic link, or lies behind one; "
			      "kbuildd copies only regular files inside the recipe's directory",
			      r->file, patch);
	if (fd == -ENOENT || fd == -ENOTDIR)
		return kb_err(-KB_E_INPUT, "%s: patch '%s/%s' not found", r->file, r->dir, patch);
	if (fd < 0)
		return kb_err_errno(fd, "%s: cannot open patch '%s'", r->file, patch);
	ret = kb_check_regular(fd, patch);
	if (ret < 0) {
		close(fd);
		return ret;
	}
	return fd;
}

static int check_inputs(const struct kb_recipe *r, char **src_out)
{
	char *src = NULL;
	struct stat st;

	*src_out = NULL;
	for (size_t i = 0; i < r->patches.n; i++) {
		int fd = open_patch(r, r->patches.v[i]);

		if (fd < 0)
			return -KB_E_INPUT;
		close(fd);
	}
	if (!r->source_path)
		return 0;
	if (r->source_path[0] == '/')
		src = strdup(r->source_path);
	else if (asprintf(&src, "%s/%s", r->dir, r->source_path) < 0)
		src = NULL;
	if (!src)
		return -ENOMEM;
	if (stat(src, &st) < 0 || !S_ISDIR(st.st_mode)) {
		kb_err(-KB_E_INPUT, "%s: source path '%s' is not a directory", r->file, src);
		free(src);
		return -KB_E_INPUT;
	}
	*src_out = src;
	return 0;
}

/*
 * Copy the patch files into <staging>/patches/, keeping their relative names,
 * and fold their contents into the source hash @hash (and so the build id).
 */
static int snapshot_patches(struct kb_ctx *ctx, const struct kb_recipe *r, const char *staging,
			    char hash[KB_SHA256_HEX])
{
	int ret = 0;

	for (size_t i = 0; ret >= 0 && i < r->patches.n; i++) {
		struct kb_buf data = KB_BUF_INIT_MAX(KB_MAX_RECIPE_SIZE * 64);
		char dst[PATH_MAX], *slash;
		int fd = open_patch(r, r->patches.v[i]);

		kb_pathf(dst, sizeof(dst), "%s/patches/%s", staging, r->patches.v[i]);
		ret = fd < 0 ? fd : kb_read_fd(fd, data.max, &data);
		if (fd >= 0)
			close(fd);
		slash = strrchr(dst, '/');
		*slash = '\0';
		if (ret >= 0)
			ret = kb_mkdirs(&ctx->root, dst, 0755);
		*slash = '/';
		if (ret >= 0)
			/* only root reads it again: the build gets it on stdin (build.c) */
			ret = kb_atomic_write_buf(&ctx->root, dst, &data, 0600);
		if (ret >= 0) {
			char sum[KB_SHA256_HEX], chain[2 * KB_SHA256_HEX + PATH_MAX];
			int n;

			kb_sha256_hex(data.buf ? data.buf : "", data.len, sum);
			n = snprintf(chain, sizeof(chain), "%s\npatch %s %s", hash, r->patches.v[i],
				     sum);
			kb_sha256_hex(chain, n < (int)sizeof(chain) ? (size_t)n : sizeof(chain) - 1,
				      hash);
		}
		if (ret < 0 && ret != -KB_E_INPUT)
			kb_err_errno(ret, "cannot copy patch '%s'", r->patches.v[i]);
		kb_buf_release(&data);
	}
	return ret;
}

/* Same recipe text and source hash as what is registered? */
static bool same_registration(struct kb_ctx *ctx, const char *dir, const struct kb_recipe *r,
			      const char *hash)
{
	struct kb_buf old_text = KB_BUF_INIT_MAX(KB_MAX_RECIPE_SIZE);
	struct kb_buf old_hash = KB_BUF_INIT_MAX(128);
	char path[PATH_MAX];
	bool same = false;

	kb_pathf(path, sizeof(path), "%s/recipe", dir);
	kb_root_read(&ctx->root, path, KB_MAX_RECIPE_SIZE, &old_text);
	kb_pathf(path, sizeof(path), "%s/source-hash", dir);
	kb_root_read(&ctx->root, path, 128, &old_hash);
	same = old_text.len == r->text.len &&
	       !memcmp(kb_buf_str(&old_text), r->text.buf, r->text.len) &&
	       !strncmp(kb_buf_str(&old_hash), hash, 64);
	kb_buf_release(&old_text);
	kb_buf_release(&old_hash);
	return same;
}

static int install_staging(struct kb_ctx *ctx, const struct kb_recipe *r, const char *staging,
			   const char *final, const char *hash)
{
	char old[PATH_MAX];
	int ret;

	if (!kb_root_exists(&ctx->root, final))
		return kb_durable_rename(&ctx->root, staging, final);
	if (same_registration(ctx, final, r, hash)) {
		kb_info("%s/%s is already registered", r->name, r->version);
		ret = kb_rm_rf(&ctx->root, staging);
		return ret < 0 ? ret : 1; /* nothing new */
	}
	if (!ctx->force) {
		/* one it cannot remove is a staging dir: the next run's recovery removes it */
		kb_rm_rf(&ctx->root, staging);
		return kb_err(-KB_E_INPUT,
			      "%s/%s is already registered with different contents; "
			      "use a new version, or --force to replace it",
			      r->name, r->version);
	}
	kb_pathf(old, sizeof(old), "%s/%s/%s%s", KB_RECIPES_DIR, r->name, KB_STAGING_OLD,
		 r->version);
	/* if this fails, so does the rename onto it, which is reported */
	kb_rm_rf(&ctx->root, old);
	ret = kb_durable_rename(&ctx->root, final, old);
	if (ret >= 0)
		ret = kb_durable_rename(&ctx->root, staging, final);
	if (ret >= 0)
		ret = kb_rm_rf(&ctx->root, old);
	kb_info("%s/%s: registration replaced (--force)", r->name, r->version);
	return ret;
}

/* Fill <staging>/source from the recipe's source: a copy, an archive or a git checkout. */
static int snapshot_source(struct kb_ctx *ctx, const struct kb_recipe *r, const char *staging,
			   const char *src, const struct kb_fetch *fetched,
			   char hash[KB_SHA256_HEX])
{
	_cleanup_free_ char *dest = NULL;
	char rel[PATH_MAX];
	int ret;

	kb_pathf(rel, sizeof(rel), "%s/source", staging);
	if (src) {
		ret = kb_copy_tree(src, &ctx->root, rel, hash);
		if (ret == -EFBIG) /* kb_read_file's cap on one file */
			return kb_err(-KB_E_INPUT,
				      "%s: a file in the source is larger than %d MiB; "
				      "refused",
				      r->file, KB_MAX_MODULE_SIZE >> 20);
		if (ret < 0 && ret != -KB_E_INPUT)
			kb_err_errno(ret, "cannot copy source tree '%s'", src);
		return ret;
	}
	ret = kb_mkdirs(&ctx->root, rel, 0755);
	dest = kb_root_path(&ctx->root, rel);
	if (ret < 0 || !dest)
		return kb_err_errno(ret < 0 ? ret : -ENOMEM, "cannot create '%s'", rel);
	if (r->url)
		ret = kb_unpack(fetched->path, dest, (unsigned)r->strip, r->file);
	else
		ret = kb_git_checkout(ctx, r->git, r->commit, r->ref, dest, r->file);
	if (ret >= 0) {
		ret = kb_hash_tree(dest, hash);
		if (ret == -EFBIG)
			ret = kb_err(-KB_E_INPUT,
				     "%s: a file in the source is larger than %d MiB; "
				     "refused",
				     r->file, KB_MAX_MODULE_SIZE >> 20);
		else if (ret < 0)
			ret = kb_err_errno(ret, "cannot read back '%s'", dest);
	}
	/* an archive refused for its contents is bad input: it leaves the cache too */
	if (r->url && ret == -KB_E_INPUT && unlink(fetched->path) == 0)
		kb_verbose("removed refused archive '%s' from the source cache", fetched->path);
	return ret;
}

/* Register one loaded recipe whose source (if downloaded) is in @fetched. */
static int register_one(struct kb_ctx *ctx, struct kb_recipe *r, const char *file,
			const struct kb_fetch *fetched, struct kb_strv *ids)
{
	char staging[PATH_MAX], final[PATH_MAX], rel[PATH_MAX], hash[KB_SHA256_HEX];
	_cleanup_free_ char *src = NULL;
	int ret;

	ret = check_inputs(r, &src);
	if (ret < 0)
		return ret;
	kb_pathf(final, sizeof(final), "%s/%s/%s", KB_RECIPES_DIR, r->name, r->version);
	kb_pathf(staging, sizeof(staging), "%s/%s/%s%s", KB_RECIPES_DIR, r->name, KB_STAGING_NEW,
		 r->version);
	if (ctx->dry_run) {
		kb_info("would register %s/%s from '%s'", r->name, r->version, file);
		return kb_strv_pushf(ids, "%s/%s", r->name, r->version);
	}
	ret = kb_rm_rf(&ctx->root, staging);
	if (ret >= 0)
		ret = kb_mkdirs(&ctx->root, staging, 0755);
	if (ret < 0)
		return kb_err_errno(ret, "cannot create '%s'", staging);
	ret = snapshot_source(ctx, r, staging, src, fetched, hash);
	if (ret >= 0)
		ret = snapshot_patches(ctx, r, staging, hash);
	if (ret < 0)
		goto fail;
	kb_pathf(rel, sizeof(rel), "%s/recipe", staging);
	ret = kb_atomic_write_buf(&ctx->root, rel, &r->text, 0644);
	if (ret >= 0) {
		char line[KB_SHA256_HEX + 1];

		kb_pathf(rel, sizeof(rel), "%s/source-hash", staging);
		snprintf(line, sizeof(line), "%s\n", hash);
		ret = kb_atomic_write(&ctx->root, rel, line, strlen(line), 0644);
	}
	if (ret >= 0)
		ret = install_staging(ctx, r, staging, final, hash);
	if (ret < 0) {
		if (ret != -KB_E_INPUT)
			kb_err_errno(ret, "cannot register %s/%s", r->name, r->version);
		goto fail;
	}
	/* DKMS does not fail the add for it either */
	if (ret != 1)
		kb_recipe_step(ctx, r, KB_STEP_POST_ADD, NULL);
	return kb_strv_pushf(ids, "%s/%s", r->name, r->version);
fail:
	/* the failure is reported; a staging dir left here is recovery's to remove */
	kb_rm_rf(&ctx->root, staging);
	kb_rmdir_parents(&ctx->root, staging, KB_STATE_DIR "/");
	return ret;
}

int kb_state_add_many(struct kb_ctx *ctx, char *const *paths, size_t n, struct kb_strv *ids)
{
	struct kb_recipe *recipes = calloc(n ? n : 1, sizeof(*recipes));
	struct kb_fetch *fetches = calloc(n ? n : 1, sizeof(*fetches));
	char **files = calloc(n ? n : 1, sizeof(*files));
	const struct kb_recipe_reader *reader;
	int ret = 0;

	if (!recipes || !fetches || !files) {
		ret = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		kb_recipe_init(&recipes[i]);
		kb_fetch_init(&fetches[i]);
		files[i] = recipe_file_of(ctx, paths[i], &reader);
		if (!files[i])
			ret = -ENOMEM;
		else if (access(files[i], F_OK) < 0 && is_dir(paths[i]))
			ret = kb_err(-KB_E_INPUT,
				     "'%s' holds neither %s nor a dkms.conf: name a "
				     "recipe file, or the driver's source directory",
				     paths[i], files[i]);
		else if (reader ? reader->load(ctx, files[i], &recipes[i]) < 0 :
				  kb_recipe_load(&recipes[i], files[i]) < 0)
			ret = -KB_E_INPUT;
	}
	if (ret < 0)
		goto out;
	/* every archive at once: the slowest download sets the pace, not the sum */
	for (size_t i = 0; i < n; i++) {
		struct kb_recipe *r = &recipes[i];

		if (!r->url)
			continue;
		kb_strv_push(&fetches[i].urls, r->url);
		for (size_t m = 0; m < r->mirrors.n; m++)
			kb_strv_push(&fetches[i].urls, r->mirrors.v[m]);
		memcpy(fetches[i].sha256, r->sha256, sizeof(fetches[i].sha256));
		fetches[i].what = r->file;
		if (kb_strv_error(&fetches[i].urls) < 0) {
			ret = kb_err_errno(kb_strv_error(&fetches[i].urls),
					   "cannot list where '%s' downloads from", r->file);
			goto out;
		}
	}
	{
		size_t nurl = 0;

		for (size_t i = 0; i < n; i++)
			nurl += recipes[i].url != NULL;
		if (nurl && !ctx->dry_run && kb_fetch_all(ctx, fetches, n) > 0)
			ret = -KB_E_INPUT;
	}
	for (size_t i = 0; i < n; i++) {
		int r;

		if (fetches[i].result < 0)
			continue;
		r = register_one(ctx, &recipes[i], files[i], &fetches[i], ids);
		if (r < 0 && ret != -KB_E_INPUT)
			ret = r;
	}
out:
	for (size_t i = 0; i < n && recipes && fetches && files; i++) {
		kb_recipe_release(&recipes[i]);
		kb_fetch_release(&fetches[i]);
		free(files[i]);
	}
	free(recipes);
	free(fetches);
	free(files);
	return ret;
}

int kb_state_add(struct kb_ctx *ctx, const char *path, char **out_id)
{
	struct kb_strv ids = KB_STRV_INIT;
	char *const paths[] = { (char *)path };
	int ret = kb_state_add_many(ctx, paths, 1, &ids);

	*out_id = NULL;
	if (ret >= 0 && ids.n) {
		*out_id = strdup(ids.v[0]);
		if (!*out_id)
			ret = -ENOMEM;
	}
	kb_strv_clear(&ids);
	return ret;
}
