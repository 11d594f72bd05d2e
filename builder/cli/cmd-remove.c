/* kbuildd remove: uninstall exactly what was installed, and unregister. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/atomic.h"
#include "base/log.h"
#include "cli/cmd.h"
#include "depmod.h"
#include "engine.h"
#include "install.h"
#include "kernel.h"
#include "manifest.h"
#include "state.h"

/* A recipe's build, its log and its records for @kernel. */
static int drop_builds(struct kb_ctx *ctx, const struct kb_recipe *r, const char *kernel)
{
	static const char *const suffixes[] = { "", ".failed", ".eval", ".log", ".seconds" };
	char rel[PATH_MAX];
	int ret = 0;

	for (size_t i = 0; i < ARRAY_SIZE(suffixes); i++) {
		int e;

		kb_pathf(rel, sizeof(rel), "%s/builds/%s/%s/%s%s", KB_STATE_DIR, r->name,
			 r->version, kernel, suffixes[i]);
		e = kb_rm_rf(&ctx->root, rel);
		if (e < 0)
			ret = kb_err_errno(e, "cannot remove '/%s'", rel);
	}
	if (ret >= 0 && (ret = kb_rmdir_parents(&ctx->root, rel, KB_STATE_DIR "/")) < 0)
		kb_err_errno(ret, "cannot remove the directories of '/%s'", rel);
	return ret;
}

/* Whether any kernel still has a kept build of @r. */
static bool built_anywhere(struct kb_ctx *ctx, const struct kb_recipe *r)
{
	struct kb_strv names = KB_STRV_INIT;
	char rel[PATH_MAX];
	bool built = false;

	kb_pathf(rel, sizeof(rel), "%s/builds/%s/%s", KB_STATE_DIR, r->name, r->version);
	if (kb_root_list(&ctx->root, rel, &names) < 0)
		return false;
	for (size_t i = 0; !built && i < names.n; i++) {
		char id[PATH_MAX];

		if (names.v[i][0] == '.' ||
		    kb_pathf(id, sizeof(id), "%s/%s/build-id", rel, names.v[i]) < 0)
			continue;
		built = kb_root_exists(&ctx->root, id);
	}
	kb_strv_clear(&names);
	return built;
}

/* Take @r away from @k; *@changed once its files went (depmod runs at the end, once). */
static int remove_for_kernel(struct kb_ctx *ctx, const struct kb_recipe *r,
			     const struct kb_kernel *k, enum kb_remove_how how, bool *changed)
{
	struct kb_manifest m;
	bool ours = false;
	int ret;

	ret = kb_manifest_read(ctx, k->release, r->name, &m);
	if (ret == -KB_E_INPUT) {
		/* what it lists is unknown: removing nothing orphans nothing */
		kb_err(ret, "%s; %s/%s stays installed for %s, with its manifest", m.damage,
		       r->name, r->version, k->release);
		goto out;
	}
	ours = ret >= 0 && !strcmp(m.version, r->version);
	ret = ours ? kb_depmod_mark(ctx, k) : 0;
	if (ret >= 0 && ours) {
		*changed = true;
		ret = kb_uninstall(ctx, k->release, r->name);
	}
	if (ret < 0) {
		kb_err_errno(ret, "cannot remove %s/%s from %s", r->name, r->version, k->release);
		goto out;
	}
	/* DKMS runs it for each kernel it uninstalled from; its failure changes nothing */
	if (ours && !ctx->dry_run)
		kb_recipe_step(ctx, r, KB_STEP_POST_REMOVE, k->release);
	if (!ctx->dry_run && how != KB_REMOVE_UNINSTALL)
		ret = drop_builds(ctx, r, k->release);
	if (ours && ret >= 0 && kb_log_get_level() >= KB_LOG_NORMAL)
		printf("%-24s %-28s removed\n", r->name, k->release);
out:
	kb_manifest_release(&m);
	return ret < 0 ? ret : 0;
}

/* Keep the first failure, but go on: one kernel's failure never stops the others. */
static void keep_first(int *ret, int r)
{
	if (r < 0 && *ret >= 0)
		*ret = r;
}

/* The POST_REMOVE step (DKMS's script) of the recipe whose files @m listed, after they went from @kernel. */
static void post_remove(struct kb_ctx *ctx, const struct kb_recipe_set *set,
			const struct kb_manifest *m, const char *kernel)
{
	char id[NAME_MAX * 2 + 2];
	const struct kb_recipe *r;

	if (ctx->dry_run ||
	    snprintf(id, sizeof(id), "%s/%s", m->name, m->version) >= (int)sizeof(id))
		return;
	r = kb_recipe_set_find(set, id);
	if (r)
		kb_recipe_step(ctx, r, KB_STEP_POST_REMOVE, kernel);
}

/*
 * remove -k K with no recipe: the kernel itself is going away (its prerm
 * hook). Every recipe's files and builds for K go; registrations stay.
 * The kernel's headers may already be gone, so nothing here needs them.
 */
static int remove_kernel(struct kb_ctx *ctx, struct kb_recipe_set *set)
{
	int ret = 0;

	for (size_t k = 0; k < ctx->kernels.n; k++) {
		const char *kernel = ctx->kernels.v[k];
		struct kb_manifest_set installed;
		char rel[PATH_MAX];
		int r = kb_manifest_read_all(ctx, kernel, &installed);

		if (r < 0)
			keep_first(&ret,
				   kb_err_errno(r, "cannot read the manifests of %s", kernel));
		for (size_t i = 0; i < installed.n_damaged; i++)
			keep_first(&ret, kb_err(-KB_E_INPUT,
						"%s; %s stays installed for %s, with its "
						"manifest",
						installed.damaged[i].damage,
						installed.damaged[i].name, kernel));
		for (size_t i = 0; i < installed.n; i++) {
			const struct kb_manifest *m = &installed.v[i];

			r = ctx->dry_run ? 0 : kb_uninstall(ctx, kernel, m->name);
			if (r < 0 && r != -ENOENT) {
				keep_first(&ret, kb_err_errno(r, "cannot remove %s from %s",
							      m->name, kernel));
				continue;
			}
			if (kb_log_get_level() >= KB_LOG_NORMAL)
				printf("%-24s %-28s removed\n", m->name, kernel);
			post_remove(ctx, set, m, kernel);
		}
		kb_manifest_set_release(&installed);
		for (size_t i = 0; !ctx->dry_run && i < set->n; i++)
			keep_first(&ret, drop_builds(ctx, set->v[i], kernel));
		kb_pathf(rel, sizeof(rel), "%s/depmod-pending/%s", KB_STATE_DIR, kernel);
		r = ctx->dry_run ? 0 : kb_durable_unlink(&ctx->root, rel);
		if (r < 0)
			keep_first(&ret, kb_err_errno(r, "cannot remove '/%s'", rel));
	}
	return ret;
}

int kb_remove_recipes(struct kb_ctx *ctx, int argc, char **argv, enum kb_remove_how how)
{
	struct kb_recipe_set set = { 0 };
	struct kb_kernel_list kernels = { 0 };
	bool *changed = NULL;
	int ret = 0;

	if (!argc && !ctx->kernels.n)
		return kb_err(-KB_E_INPUT,
			      "name what to remove: NAME/VERSION, or -k KERNEL for every "
			      "recipe's files for a kernel being removed");
	if (!ctx->all && !ctx->kernels.n)
		return kb_err(-KB_E_INPUT, "say where: --all (every kernel, and unregister) or "
					   "-k KERNEL");
	if (ctx->all && ctx->kernels.n)
		return kb_err(-KB_E_INPUT, "give --all or -k KERNEL, not both");
	ret = kb_state_load(ctx, &set);
	if (ret >= 0 && !argc)
		ret = remove_kernel(ctx, &set);
	if (ret >= 0 && !argc)
		goto out;
	if (ret >= 0)
		ret = kb_kernels_discover(ctx, &kernels);
	if (ret >= 0 && !(changed = calloc(kernels.n + 1, sizeof(*changed))))
		ret = -ENOMEM;
	for (int i = 0; ret >= 0 && i < argc; i++)
		if (!strchr(argv[i], '/'))
			ret = kb_err(-KB_E_INPUT,
				     "'%s': name the version too, as NAME/VERSION; see "
				     "'kbuildd status'",
				     argv[i]);
	for (int i = 0, ready = ret >= 0; ready && i < argc; i++) {
		struct kb_recipe *r = kb_recipe_set_find(&set, argv[i]);
		int failed = 0;

		/* removal is idempotent: a package's prerm may run it twice */
		if (!r) {
			kb_info("%s is not registered: nothing to remove", argv[i]);
			continue;
		}
		for (size_t k = 0; k < kernels.n; k++)
			keep_first(&failed,
				   remove_for_kernel(ctx, r, &kernels.v[k], how, &changed[k]));
		/* unregistered only when nothing of it is left installed */
		if (failed >= 0 && !ctx->dry_run &&
		    (ctx->all || (how == KB_REMOVE_LAST && !built_anywhere(ctx, r)))) {
			failed = kb_state_forget(ctx, r);
			if (failed >= 0 && kb_log_get_level() >= KB_LOG_NORMAL)
				printf("unregistered %s/%s\n", r->name, r->version);
		}
		keep_first(&ret, failed);
	}
	/* as an install's: once per kernel, after every recipe went from it */
	for (size_t k = 0; changed && k < kernels.n; k++)
		keep_first(&ret, kb_engine_finish_kernel(ctx, NULL, &kernels.v[k], changed[k]));
out:
	free(changed);
	kb_kernel_list_release(&kernels);
	kb_recipe_set_release(&set);
	return ret;
}

static int cmd_remove(struct kb_ctx *ctx, int argc, char **argv)
{
	return kb_remove_recipes(ctx, argc, argv, KB_REMOVE_UNBUILD);
}

const struct kb_cmd kb_cmd_remove = {
	.name = "remove",
	.run = cmd_remove,
	.usage = "NAME/VERSION... (--all | -k KERNEL...) | -k KERNEL...",
	.summary = "uninstall modules, and with --all unregister the recipe",
	.help = "Remove exactly the files kbuildd installed for the recipe (as its manifest\n"
		"lists them) from the named kernels, or from every kernel with --all, which also\n"
		"forgets the recipe, its source snapshot and its builds. depmod runs once per\n"
		"kernel that changed. This is what a driver package's prerm calls. With only\n"
		"-k KERNEL, every recipe's files and builds for that kernel go: what the\n"
		"kernel package's prerm hook calls when the kernel itself is removed.",
	.options = KB_OPT_HOOK | KB_OPT_KERNEL | KB_OPT_DRY_RUN | KB_OPT_NO_DEPMOD | KB_OPT_ALL |
		   KB_OPT_WAIT,
	.flags = KB_CMD_LOCK | KB_CMD_SETTINGS,
};
