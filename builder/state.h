/* Registered recipes under <root>/var/lib/kbuildd/recipes/NAME/VERSION/. */
#pragma once

#include "ctx.h"
#include "recipe.h"
#include "signing/keystore.h"

#define KB_STATE_DIR "var/lib/kbuildd"
#define KB_RECIPES_DIR KB_STATE_DIR "/recipes"
/* kbuildd's own key pair, inside the root (the key store's, in the state directory). */
#define KB_OWN_KEY KB_STATE_DIR "/" KB_OWN_KEY_IN_STATE
#define KB_OWN_CERT KB_STATE_DIR "/" KB_OWN_CERT_IN_STATE
#define KB_KEYS_DIR KB_STATE_DIR "/keys"

/*
 * Beside recipes/N/V while it changes: a registration being made, the one
 * it replaces, one being removed. No recipe name or version starts with a
 * dot (recipe.c), so none can be taken for these; recovery looks for them
 * at that depth only.
 */
#define KB_STAGING_NEW ".kbuildd-new."
#define KB_STAGING_OLD ".kbuildd-old."
#define KB_STAGING_GONE ".kbuildd-gone."

struct kb_recipe_set {
	struct kb_recipe **v;
	size_t n;
};

/*
 * Register the recipe at host @path (a recipe file, or a directory holding
 * kbuildd.recipe): snapshot its source tree and patches into the state, so
 * later builds never depend on the original files. Registering identical
 * content again is a no-op; different content under the same version
 * needs --force. On success *@out_id receives "NAME/VERSION" (caller frees).
 */
int kb_state_add(struct kb_ctx *ctx, const char *path, char **out_id);
/*
 * Register several at once: their downloads run concurrently. Pushes
 * "NAME/VERSION" of each registered recipe onto @ids; returns the first
 * error (bad input wins), having registered every recipe it could.
 */
int kb_state_add_many(struct kb_ctx *ctx, char *const *paths, size_t n, struct kb_strv *ids);

/* Load every registered recipe. */
int kb_state_load(struct kb_ctx *ctx, struct kb_recipe_set *set);
void kb_recipe_set_release(struct kb_recipe_set *set);

/*
 * Find "NAME" (newest version) or "NAME/VERSION" in @set; NULL when absent.
 * Versions compare with strverscmp().
 */
struct kb_recipe *kb_recipe_set_find(const struct kb_recipe_set *set, const char *id);
/* The newest registered version of each name is "current". */
bool kb_recipe_set_is_newest(const struct kb_recipe_set *set, const struct kb_recipe *r);

/* Remove the registration of @r (recipe, snapshot, builds). */
int kb_state_forget(struct kb_ctx *ctx, const struct kb_recipe *r);
/* Host paths of @r's snapshot source tree and of a patch; caller frees. */
char *kb_state_source_path(const struct kb_ctx *ctx, const struct kb_recipe *r);
char *kb_state_patch_path(const struct kb_ctx *ctx, const struct kb_recipe *r, const char *patch);
