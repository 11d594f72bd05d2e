/* dkms.conf: evaluated by bash per kernel, as DKMS does, and mapped onto a recipe. */
#pragma once

#include <stdbool.h>

#include "ctx.h"
#include "kernel.h"
#include "recipe.h"

enum kb_dkms_script {
	KB_DKMS_PRE_BUILD,
	KB_DKMS_POST_BUILD,
	KB_DKMS_PRE_INSTALL,
	KB_DKMS_POST_INSTALL,
	KB_DKMS_POST_ADD,
	KB_DKMS_POST_REMOVE,
	KB_DKMS_NR_SCRIPTS,
};

/* "PRE_BUILD", ...: each script's directive. */
extern const char *const kb_dkms_script_names[KB_DKMS_NR_SCRIPTS];

/* What one evaluation of a dkms.conf gives beyond the recipe fields. */
struct kb_dkms_build {
	char *make; /* shell command, run by bash in the build dir */
	char *scripts[KB_DKMS_NR_SCRIPTS];
	struct kb_strv strip; /* built modules to strip -g, relative to the build dir */
	char *dkms_tree;      /* the $dkms_tree the conf saw (host path) */
	char *source_tree;
};

void kb_dkms_build_free(struct kb_dkms_build *b);

/* Does directory @dir hold a dkms.conf? */
bool kb_dkms_is_tree(const char *dir);

/*
 * `kbuildd add` of a DKMS source tree: evaluate @conf (a host path; the
 * tree is its directory) for the running kernel, check it as DKMS's strict
 * read does, and fill @r with a native recipe whose build is that conf.
 * Every problem names the file and line; returns 0 or -KB_E_INPUT.
 */
int kb_dkms_load(struct kb_ctx *ctx, const char *conf, struct kb_recipe *r);

/*
 * The reader of recipes with `[build] dkms`: `add` of a DKMS tree
 * (kb_dkms_load()), and the recipe a registered one becomes on a kernel:
 * modules, make command, patches, scripts and exclusions from the conf
 * evaluated for that kernel (cached per inputs). A bad conf is
 * KB_FAIL_PATCH for a patch, else KB_FAIL_RECIPE.
 */
extern const struct kb_recipe_reader kb_dkms_reader;

/*
 * Run @r's POST_ADD, PRE_INSTALL, POST_INSTALL or POST_REMOVE script as
 * DKMS does: in the registered source, with kernelver and friends set,
 * output to the terminal. A recipe without one returns 0. A failure is
 * -KB_E_BUILD; a script that is not executable is skipped with a warning.
 */
int kb_dkms_run_script(struct kb_ctx *ctx, const struct kb_recipe *r, enum kb_dkms_script which,
		       const char *kernel);
/* The reader's steps: the script of each. */
int kb_dkms_run_step(struct kb_ctx *ctx, const struct kb_recipe *r, enum kb_recipe_step step,
		     const char *kernel);

/* "updates/dkms", "extra", "updates" or @written: DKMS's place on the root's distribution. */
const char *kb_dkms_dest(struct kb_ctx *ctx, const char *written);
