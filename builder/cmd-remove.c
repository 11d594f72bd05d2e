/* kbuildd remove: uninstall exactly what was installed, and unregister. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "atomic.h"
#include "cmd.h"
#include "depmod.h"
#include "dkms.h"
#include "install.h"
#include "kernel.h"
#include "log.h"
#include "manifest.h"
#include "state.h"

static int remove_for_kernel(struct kb_ctx *ctx, const struct kb_recipe *r, const struct kb_kernel *k)
{
	struct kb_manifest m;
	char rel[PATH_MAX];
	bool ours = false;
	int ret = 0;

	if (kb_manifest_read(ctx, k->release, r->name, &m) == 0) {
		ours = !strcmp(m.version, r->version);
		kb_manifest_release(&m);
	}
	if (ours)
		ret = kb_depmod_mark(ctx, k);
	ret = ours && ret >= 0 ? kb_uninstall(ctx, k->release, r->name) : ret;
	if (ret < 0)
		return kb_err_errno(ret, "cannot remove %s/%s from %s", r->name, r->version, k->release);
	if (!ctx->dry_run) {
		kb_pathf(rel, sizeof(rel), "%s/builds/%s/%s/%s", KB_STATE_DIR, r->name, r->version,
			 k->release);
		kb_rm_rf(&ctx->root, rel);
		kb_pathf(rel, sizeof(rel), "%s/builds/%s/%s/%s.failed", KB_STATE_DIR, r->name,
			 r->version, k->release);
		kb_rm_rf(&ctx->root, rel);
		kb_pathf(rel, sizeof(rel), "%s/builds/%s/%s/%s.eval", KB_STATE_DIR, r->name,
			 r->version, k->release);
		kb_rm_rf(&ctx->root, rel);
		kb_pathf(rel, sizeof(rel), "%s/builds/%s/%s/%s.log", KB_STATE_DIR, r->name,
			 r->version, k->release);
		kb_rm_rf(&ctx->root, rel);
		kb_rmdir_parents(&ctx->root, rel, KB_STATE_DIR "/");
	}
	if (ours && kb_log_get_level() >= KB_LOG_NORMAL)
		printf("%-24s %-28s removed\n", r->name, k->release);
	if ((ours || kb_depmod_pending(ctx, k)) && !ctx->no_depmod) {
		ret = kb_depmod(ctx, k);
		if (ret >= 0)
			kb_depmod_check(ctx, k);
	}
	return ret < 0 ? ret : 0;
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

		if (kb_manifest_read_all(ctx, kernel, &installed) < 0)
			installed.n = 0, installed.v = NULL;
		for (size_t i = 0; i < installed.n; i++) {
			int r = ctx->dry_run ? 0 : kb_uninstall(ctx, kernel, installed.v[i].name);

			if (r < 0 && r != -ENOENT)
				ret = kb_err_errno(r, "cannot remove %s from %s", installed.v[i].name,
						   kernel);
			else if (kb_log_get_level() >= KB_LOG_NORMAL)
				printf("%-24s %-28s removed\n", installed.v[i].name, kernel);
		}
		kb_manifest_set_release(&installed);
		for (size_t i = 0; !ctx->dry_run && i < set->n; i++) {
			kb_pathf(rel, sizeof(rel), "%s/builds/%s/%s/%s", KB_STATE_DIR, set->v[i]->name,
				 set->v[i]->version, kernel);
			kb_rm_rf(&ctx->root, rel);
			kb_pathf(rel, sizeof(rel), "%s/builds/%s/%s/%s.log", KB_STATE_DIR,
				 set->v[i]->name, set->v[i]->version, kernel);
			kb_rm_rf(&ctx->root, rel);
			kb_pathf(rel, sizeof(rel), "%s/builds/%s/%s/%s.eval", KB_STATE_DIR,
				 set->v[i]->name, set->v[i]->version, kernel);
			kb_rm_rf(&ctx->root, rel);
			kb_pathf(rel, sizeof(rel), "%s/builds/%s/%s/%s.failed", KB_STATE_DIR,
				 set->v[i]->name, set->v[i]->version, kernel);
			kb_rm_rf(&ctx->root, rel);
			kb_rmdir_parents(&ctx->root, rel, KB_STATE_DIR "/");
		}
		kb_pathf(rel, sizeof(rel), "%s/depmod-pending/%s", KB_STATE_DIR, kernel);
		kb_durable_unlink(&ctx->root, rel);
	}
	return ret;
}

static int cmd_remove(struct kb_ctx *ctx, int argc, char **argv)
{
	struct kb_recipe_set set = { 0 };
	struct kb_kernel_list kernels = { 0 };
	int ret = 0;

	if (!argc && !ctx->kernels.n)
		return kb_err(-KB_E_INPUT, "name what to remove: NAME/VERSION, or -k KERNEL for every "
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
	for (int i = 0; ret >= 0 && i < argc; i++)
		if (!strchr(argv[i], '/'))
			ret = kb_err(-KB_E_INPUT, "'%s': name the version too, as NAME/VERSION; see "
				     "'kbuildd status'", argv[i]);
	for (int i = 0; ret >= 0 && i < argc; i++) {
		struct kb_recipe *r = kb_recipe_set_find(&set, argv[i]);

		/* removal is idempotent: a package's prerm may run it twice */
		if (!r) {
			kb_info("%s is not registered: nothing to remove", argv[i]);
			continue;
		}

		for (size_t k = 0; ret >= 0 && k < kernels.n; k++)
			ret = remove_for_kernel(ctx, r, &kernels.v[k]);
		if (ret >= 0 && ctx->all && !ctx->dry_run) {
			/* DKMS runs it after uninstalling, while the source is still there */
			kb_dkms_run_script(ctx, r, KB_DKMS_POST_REMOVE, NULL);
			ret = kb_state_forget(ctx, r);
			if (ret >= 0 && kb_log_get_level() >= KB_LOG_NORMAL)
				printf("unregistered %s/%s\n", r->name, r->version);
		}
	}
out:
	kb_kernel_list_release(&kernels);
	kb_recipe_set_release(&set);
	return ret;
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
	.options = KB_OPT_HOOK | KB_OPT_KERNEL | KB_OPT_DRY_RUN | KB_OPT_NO_DEPMOD | KB_OPT_ALL | KB_OPT_WAIT,
	.flags = KB_CMD_LOCK | KB_CMD_SETTINGS,
};
