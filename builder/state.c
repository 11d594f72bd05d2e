/* Registered recipes under <root>/var/lib/kbuildd/recipes/NAME/VERSION/. */
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
#include "state.h"

static int load_one(struct kb_ctx *ctx, struct kb_recipe_set *set, const char *name,
		    const char *version)
{
	struct kb_buf text = KB_BUF_INIT_MAX(KB_MAX_RECIPE_SIZE);
	struct kb_buf hash = KB_BUF_INIT_MAX(128);
	char dir[PATH_MAX], rel[PATH_MAX];
	_cleanup_free_ char *shown = NULL;
	struct kb_recipe *r = NULL, **v;
	int ret;

	kb_pathf(dir, sizeof(dir), "%s/%s/%s", KB_RECIPES_DIR, name, version);
	kb_pathf(rel, sizeof(rel), "%s/recipe", dir);
	shown = kb_root_path(&ctx->root, rel);
	ret = kb_root_read(&ctx->root, rel, KB_MAX_RECIPE_SIZE, &text);
	if (ret < 0) {
		if (ret != -KB_E_INPUT)
			ret = kb_err_errno(ret, "cannot read registered recipe '%s'", shown);
		goto out;
	}
	kb_pathf(rel, sizeof(rel), "%s/source-hash", dir);
	kb_root_read(&ctx->root, rel + 0, 128, &hash); /* optional */
	r = calloc(1, sizeof(*r));
	if (!r) {
		ret = -ENOMEM;
		goto out;
	}
	kb_recipe_init(r);
	ret = kb_recipe_parse(r, shown, kb_buf_str(&text), text.len);
	if (ret < 0)
		goto out;
	if (strcmp(r->name, name) || strcmp(r->version, version)) {
		ret = kb_err(-KB_E_INPUT, "%s: registered as %s/%s but names %s/%s", shown, name,
			     version, r->name, r->version);
		goto out;
	}
	r->state_dir = strdup(dir);
	r->source_hash = strndup(kb_buf_str(&hash), 64);
	v = realloc(set->v, (set->n + 1) * sizeof(*v));
	if (!v || !r->state_dir || !r->source_hash) {
		ret = -ENOMEM;
		goto out;
	}
	set->v = v;
	set->v[set->n++] = TAKE_PTR(r);
out:
	if (r) {
		kb_recipe_release(r);
		free(r);
	}
	kb_buf_release(&text);
	kb_buf_release(&hash);
	return ret;
}

/* Names in @rel, skipping dot entries (staging and removal in progress). */
static int list_dir(struct kb_ctx *ctx, const char *rel, struct kb_strv *names)
{
	struct kb_strv all = KB_STRV_INIT;
	int r = kb_root_list(&ctx->root, rel, &all);

	for (size_t i = 0; r >= 0 && i < all.n; i++)
		if (all.v[i][0] != '.')
			r = kb_strv_push(names, all.v[i]);
	kb_strv_clear(&all);
	return r == -ENOENT ? 0 : r;
}

static int recipe_cmp(const void *a, const void *b)
{
	const struct kb_recipe *x = *(struct kb_recipe *const *)a;
	const struct kb_recipe *y = *(struct kb_recipe *const *)b;
	int c = strcmp(x->name, y->name);

	return c ? c : strverscmp(x->version, y->version);
}

int kb_state_load(struct kb_ctx *ctx, struct kb_recipe_set *set)
{
	struct kb_strv names = KB_STRV_INIT;
	int ret, errors = 0;

	set->v = NULL;
	set->n = 0;
	ret = list_dir(ctx, KB_RECIPES_DIR, &names);
	for (size_t i = 0; ret >= 0 && i < names.n; i++) {
		struct kb_strv versions = KB_STRV_INIT;
		char rel[PATH_MAX];

		kb_pathf(rel, sizeof(rel), "%s/%s", KB_RECIPES_DIR, names.v[i]);
		ret = list_dir(ctx, rel, &versions);
		for (size_t j = 0; ret >= 0 && j < versions.n; j++)
			if (load_one(ctx, set, names.v[i], versions.v[j]) < 0)
				errors++;
		kb_strv_clear(&versions);
	}
	kb_strv_clear(&names);
	if (set->n)
		qsort(set->v, set->n, sizeof(*set->v), recipe_cmp);
	if (ret < 0)
		return kb_err_errno(ret, "cannot read '%s'", KB_RECIPES_DIR);
	return errors ? -KB_E_INPUT : 0;
}

void kb_recipe_set_release(struct kb_recipe_set *set)
{
	for (size_t i = 0; i < set->n; i++) {
		kb_recipe_release(set->v[i]);
		free(set->v[i]);
	}
	free(set->v);
	set->v = NULL;
	set->n = 0;
}

struct kb_recipe *kb_recipe_set_find(const struct kb_recipe_set *set, const char *id)
{
	const char *slash = strchr(id, '/');
	size_t nlen = slash ? (size_t)(slash - id) : strlen(id);
	struct kb_recipe *best = NULL;

	for (size_t i = 0; i < set->n; i++) {
		struct kb_recipe *r = set->v[i];

		if (strlen(r->name) != nlen || strncmp(r->name, id, nlen))
			continue;
		if (slash && !strcmp(r->version, slash + 1))
			return r;
		if (!slash && (!best || strverscmp(r->version, best->version) > 0))
			best = r;
	}
	return best;
}

bool kb_recipe_set_is_newest(const struct kb_recipe_set *set, const struct kb_recipe *r)
{
	return kb_recipe_set_find(set, r->name) == r;
}

/* Rename @rel out of sight first, so a kill mid-removal never leaves half a registration. */
static int remove_dir(struct kb_ctx *ctx, const char *rel)
{
	char gone[PATH_MAX];
	const char *base = strrchr(rel, '/');
	int ret;

	if (!kb_root_exists(&ctx->root, rel))
		return 0;
	if (!base || kb_pathf(gone, sizeof(gone), "%.*s/%s%s", (int)(base - rel), rel,
			      KB_STAGING_GONE, base + 1) < 0)
		return -ENAMETOOLONG;
	/* if this fails, so does the rename onto it, which is reported */
	kb_rm_rf(&ctx->root, gone);
	ret = kb_durable_rename(&ctx->root, rel, gone);
	if (ret >= 0)
		ret = kb_rm_rf(&ctx->root, gone);
	return ret;
}

int kb_state_forget(struct kb_ctx *ctx, const struct kb_recipe *r)
{
	char rel[PATH_MAX];
	int ret;

	kb_pathf(rel, sizeof(rel), "%s/%s/%s", KB_RECIPES_DIR, r->name, r->version);
	ret = remove_dir(ctx, rel);
	if (ret >= 0)
		ret = kb_rmdir_parents(&ctx->root, rel, KB_STATE_DIR "/");
	if (ret < 0)
		return kb_err_errno(ret, "cannot remove '%s'", rel);
	kb_pathf(rel, sizeof(rel), "%s/builds/%s/%s", KB_STATE_DIR, r->name, r->version);
	ret = kb_rm_rf(&ctx->root, rel);
	if (ret >= 0)
		ret = kb_rmdir_parents(&ctx->root, rel, KB_STATE_DIR "/");
	if (ret < 0)
		return kb_err_errno(ret, "cannot remove '%s'", rel);
	return 0;
}

char *kb_state_source_path(const struct kb_ctx *ctx, const struct kb_recipe *r)
{
	char rel[PATH_MAX];

	kb_pathf(rel, sizeof(rel), "%s/source", r->state_dir);
	return kb_root_path(&ctx->root, rel);
}

char *kb_state_patch_path(const struct kb_ctx *ctx, const struct kb_recipe *r, const char *patch)
{
	char rel[PATH_MAX];

	kb_pathf(rel, sizeof(rel), "%s/%s/%s", r->state_dir,
		 r->layout.patches ? r->layout.patches : "patches", patch);
	return kb_root_path(&ctx->root, rel);
}
