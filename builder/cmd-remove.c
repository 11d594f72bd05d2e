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

/* A recipe's build, its log and its records for @kernel. */
static int drop_builds(struct kb_ctx *ctx, const struct kb_recipe *r, const char *kernel)
{
	static const char *const suffixes[] = { "", ".failed", ".eval", ".log" };
	char rel[PATH_MAX];
	int ret = 0;

	for (size_t i = 0; i < ARRAY_SIZE(suffixes); i++) {
		int e;

		kb_pathf(rel, sizeof(rel), "%s/builds/%s/%s/%s%s", KB_STATE_DIR, r->name, r->version,
			 kernel, suffixes[i]);
		e = kb_rm_rf(&ctx->root, rel);
		if (e < 0)
			ret = kb_err_errno(e, "cannot remove '/%s'", rel);
	}
	if (ret >= 0 && (ret = kb_rmdir_parents(&ctx->root, rel, KB_STATE_DIR "/")) < 0)
		kb_err_errno(ret, "cannot remove the directories of '/%s'", rel);
	return ret;
}

static int remove_for_kernel(struct kb_ctx *ctx, const struct kb_recipe *r, const struct kb_kernel *k)
{
	struct kb_manifest m;
	bool ours = false;
	int ret;

	ret = kb_manifest_read(ctx, k->release, r->name, &m);
	if (ret == -KB_E_INPUT) {
		/* what it lists is unknown: removing nothing orphans nothing */
		kb_err(ret, "%s; %s/%s stays installed for %s, with its manifest", m.damage, r->name,
		       r->version, k->release);
		goto out;
	}
	ours = ret >= 0 && !strcmp(m.version, r->version);
	ret = ours ? kb_depmod_mark(ctx, k) : 0;
	if (ret >= 0 && ours)
		ret = kb_uninstall(ctx, k->release, r->name);
	if (ret < 0) {
		kb_err_errno(ret, "cannot remove %s/%s from %s", r->name, r->version, k->release);
		goto out;
	}
	if (!ctx->dry_run)
		ret = drop_builds(ctx, r, k->release);
	if (ours && ret >= 0 && kb_log_get_level() >= KB_LOG_NORMAL)
		printf("%-24s %-28s removed\n", r->name, k->release);
	if ((ours || kb_depmod_pending(ctx, k)) && !ctx->no_depmod) {
		int d = kb_depmod(ctx, k);

		if (d >= 0)
			kb_depmod_check(ctx, k);
		ret = ret < 0 ? ret : d;
	}
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
			keep_first(&ret, kb_err_errno(r, "cannot read the manifests of %s", kernel));
		for (size_t i = 0; i < installed.n_damaged; i++)
			keep_first(&ret, kb_err(-KB_E_INPUT, "%s; %s stays installed for %s, with its "
						"manifest", installed.damaged[i].damage,
						installed.damaged[i].name, kernel));
		for (size_t i = 0; i < installed.n; i++) {
			r = ctx->dry_run ? 0 : kb_uninstall(ctx, kernel, installed.v[i].name);
			if (r < 0 && r != -ENOENT)
				keep_first(&ret, kb_err_errno(r, "cannot remove %s from %s",
							      installed.v[i].name, kernel));
			else if (kb_log_get_level() >= KB_LOG_NORMAL)
				printf("%-24s %-28s removed\n", installed.v[i].name, kernel);
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
	for (int i = 0, ready = ret >= 0; ready && i < argc; i++) {
		struct kb_recipe *r = kb_recipe_set_find(&set, argv[i]);
		int failed = 0;

		/* removal is idempotent: a package's prerm may run it twice */
		if (!r) {
			kb_info("%s is not registered: nothing to remove", argv[i]);
			continue;
		}

		for (size_t k = 0; k < kernels.n; k++)
			keep_first(&failed, remove_for_kernel(ctx, r, &kernels.v[k]));
		/* unregistered only when nothing of it is left installed */
		if (failed >= 0 && ctx->all && !ctx->dry_run) {
			/* DKMS runs it after uninstalling, while the source is still there */
			kb_dkms_run_script(ctx, r, KB_DKMS_POST_REMOVE, NULL);
			failed = kb_state_forget(ctx, r);
			if (failed >= 0 && kb_log_get_level() >= KB_LOG_NORMAL)
				printf("unregistered %s/%s\n", r->name, r->version);
		}
		keep_first(&ret, failed);
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
