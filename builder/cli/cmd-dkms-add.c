/*
 * dkms add: register a DKMS source tree where DKMS keeps it. DKMS copies an
 * added tree to /usr/src/NAME-VERSION, where admins and other tools look,
 * and refuses a module/version it has already.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/atomic.h"
#include "base/log.h"
#include "cli/cmd.h"
#include "dkms/dkms.h"
#include "recipe.h"
#include "sources/tree.h"
#include "state.h"

static bool is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/*
 * Replace root's usr/src/NAME-VERSION with a copy of @src in one step: a
 * copy made beside it is swapped in (RENAME_EXCHANGE), so the old tree or
 * the new one is there at any instant; a copy left by a killed run is
 * removed by the next.
 */
static int copy_to_usr_src(struct kb_ctx *ctx, const char *src, const char *name,
			   const char *version)
{
	char dest[PATH_MAX], next[PATH_MAX];
	int r;

	if (kb_pathf(dest, sizeof(dest), "usr/src/%s-%s", name, version) < 0 ||
	    kb_pathf(next, sizeof(next), "usr/src/" KB_STAGING_NEW "%s-%s", name, version) < 0)
		return kb_err(-KB_E_INPUT, "%s/%s: name too long", name, version);
	r = kb_mkdirs(&ctx->root, "usr/src", 0755);
	if (r >= 0)
		r = kb_rm_rf(&ctx->root, next);
	if (r >= 0)
		r = kb_copy_tree(src, &ctx->root, next, NULL);
	if (r >= 0)
		r = kb_root_exists(&ctx->root, dest) ? kb_durable_exchange(&ctx->root, next, dest) :
						       kb_durable_rename(&ctx->root, next, dest);
	if (r >= 0)
		r = kb_rm_rf(&ctx->root, next); /* the old tree, when there was one */
	if (r < 0) {
		kb_rm_rf(&ctx->root, next);
		return r == -KB_E_INPUT ? r : kb_err_errno(r, "cannot copy '%s' to /%s", src, dest);
	}
	kb_info("copied %s to /%s", src, dest);
	return 0;
}

/*
 * The path to register for @arg: a kbuildd recipe as it is; a DKMS tree (or
 * its dkms.conf) as its copy in usr/src. For build and install (@add false)
 * a tree registered already is not placed again: *@id is then its NAME/VERSION.
 * Caller frees *@out and *@id; one of them is set.
 */
static int place(struct kb_ctx *ctx, const char *arg, bool add, char **out, char **id)
{
	_cleanup_free_ char *conf = NULL, *dir = NULL, *real = NULL, *dest = NULL;
	struct kb_recipe r;
	char rel[PATH_MAX];
	int ret;

	if (access(arg, F_OK) < 0)
		return kb_err(-KB_E_INPUT,
			      "could not find module source directory: '%s' does not "
			      "exist",
			      arg);
	if (is_dir(arg)) {
		if (asprintf(&conf, "%s/kbuildd.recipe", arg) >= 0 && access(conf, F_OK) == 0)
			return (*out = strdup(arg)) ? 0 : -ENOMEM;
		free(conf);
		if (asprintf(&conf, "%s/dkms.conf", arg) < 0)
			return -ENOMEM;
		if (access(conf, F_OK) < 0) {
			kb_dkms_exit(ctx, 1);
			return kb_err(-KB_E_INPUT,
				      "'%s' holds no dkms.conf: give a DKMS source tree, "
				      "or -m MODULE -v VERSION for /usr/src/MODULE-VERSION",
				      arg);
		}
	} else {
		const char *base = strrchr(arg, '/');

		if (strcmp(base ? base + 1 : arg, "dkms.conf"))
			return (*out = strdup(arg)) ? 0 : -ENOMEM;
		conf = strdup(arg);
	}
	kb_recipe_init(&r);
	ret = conf ? kb_dkms_load(ctx, conf, &r) : -ENOMEM;
	if (ret >= 0 &&
	    kb_pathf(rel, sizeof(rel), "%s/recipes/%s/%s", KB_STATE_DIR, r.name, r.version) >= 0 &&
	    kb_root_exists(&ctx->root, rel)) {
		if (!add) { /* as DKMS's build: what is added is not added again */
			ret = asprintf(id, "%s/%s", r.name, r.version) < 0 ? -ENOMEM : 0;
			kb_recipe_release(&r);
			return ret;
		}
		kb_dkms_exit(ctx, 3);
		ret = kb_err(-KB_E_INPUT,
			     "DKMS tree already contains: %s/%s; the same module and "
			     "version cannot be added twice",
			     r.name, r.version);
	}
	if (ret >= 0 && kb_pathf(rel, sizeof(rel), "usr/src/%s-%s", r.name, r.version) < 0)
		ret = -ENAMETOOLONG;
	dir = ret >= 0 ? strdup(conf) : NULL;
	if (dir)
		*(strrchr(dir, '/') ? strrchr(dir, '/') : dir) = '\0';
	real = dir ? realpath(*dir ? dir : ".", NULL) : NULL;
	dest = ret >= 0 ? kb_root_path(&ctx->root, rel) : NULL;
	if (ret >= 0 && (!real || !dest))
		ret = -ENOMEM;
	if (ret >= 0 && !ctx->dry_run && strcmp(real, dest))
		ret = copy_to_usr_src(ctx, real, r.name, r.version);
	if (ret >= 0 && !(*out = strdup(ctx->dry_run ? arg : dest)))
		ret = -ENOMEM;
	kb_recipe_release(&r);
	return ret;
}

/* A source tree, a dkms.conf or a recipe given by path, not a NAME[/VERSION]. */
static bool is_path(const char *arg)
{
	const char *base = strrchr(arg, '/');
	size_t len = strlen(arg);

	return access(arg, F_OK) == 0 &&
	       (is_dir(arg) || !strcmp(base ? base + 1 : arg, "dkms.conf") ||
		(len > 7 && !strcmp(arg + len - 7, ".recipe")));
}

int kb_dkms_register(struct kb_ctx *ctx, int argc, char **argv, bool add, struct kb_strv *ids)
{
	struct kb_strv paths = KB_STRV_INIT;
	int ret = 0;

	for (int i = 0; ret >= 0 && i < argc; i++) {
		char *path = NULL, *id = NULL;

		if (!add && !is_path(argv[i]))
			ret = kb_strv_push(ids, argv[i]);
		else
			ret = place(ctx, argv[i], add, &path, &id);
		if (ret >= 0 && (path || id))
			ret = path ? kb_strv_push(&paths, path) : kb_strv_push(ids, id);
		free(path);
		free(id);
	}
	if (ret >= 0 && paths.n)
		ret = kb_state_add_many(ctx, paths.v, paths.n, ids);
	kb_strv_clear(&paths);
	return ret;
}

static int cmd_dkms_add(struct kb_ctx *ctx, int argc, char **argv)
{
	struct kb_strv ids = KB_STRV_INIT;
	int ret = argc ? kb_dkms_register(ctx, argc, argv, true, &ids) :
			 kb_err(-KB_E_INPUT, "name a DKMS source tree or its dkms.conf");

	for (size_t i = 0; i < ids.n; i++)
		if (!ctx->dry_run && kb_log_get_level() >= KB_LOG_NORMAL)
			printf("registered %s\n", ids.v[i]);
	kb_strv_clear(&ids);
	return ret;
}

const struct kb_cmd kb_cmd_dkms_add = {
	.name = "dkms-add",
	.run = cmd_dkms_add,
	.usage = "PATH...",
	.summary = "what 'dkms add' does: copy the tree to /usr/src/NAME-VERSION and register it",
	.help = "What 'dkms add' becomes: a DKMS source tree (or its dkms.conf) is copied to\n"
		"/usr/src/NAME-VERSION unless it is there already, and registered from there as\n"
		"'kbuildd add' does. A module/version that is registered already is refused\n"
		"(DKMS's status 3).",
	.options = KB_OPT_DRY_RUN | KB_OPT_FORCE | KB_OPT_WAIT,
	.flags = KB_CMD_LOCK | KB_CMD_SETTINGS,
};
