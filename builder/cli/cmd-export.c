/* kbuildd export --deb: what is installed, as binary module packages (export-deb.h). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/log.h"
#include "cli/cmd.h"
#include "export-deb.h"
#include "kernel.h"
#include "manifest.h"
#include "state.h"

static int export_one(struct kb_ctx *ctx, const struct kb_recipe *r, const struct kb_kernel *k,
		      const char *outdir)
{
	char path[PATH_MAX];
	int ret;

	if (!k->arch)
		return kb_err(-KB_E_INPUT, "%s/%s for %s: %s", r->name, r->version, k->release,
			      k->reason ? k->reason : "the kernel's architecture is unknown");
	ret = kb_export_deb(ctx, r, k, outdir, path, sizeof(path));
	if (ret >= 0)
		printf("%s/%s %s: %s\n", r->name, r->version, k->release, path);
	return ret;
}

static int cmd_export(struct kb_ctx *ctx, int argc, char **argv)
{
	struct kb_recipe_set set = { 0 };
	struct kb_kernel_list kernels = { 0 };
	const struct kb_recipe **recipes = NULL;
	const char *outdir = ctx->output ? ctx->output : ".";
	struct stat st;
	size_t n = 0, done = 0;
	int ret;

	if (!ctx->export_deb)
		return kb_err(-KB_E_INPUT, "say which kind of package: --deb");
	if (ctx->all == (argc > 0))
		return kb_err(-KB_E_INPUT, "name recipes as NAME/VERSION, or use --all");
	if (stat(outdir, &st) < 0 || !S_ISDIR(st.st_mode))
		return kb_err(-KB_E_INPUT, "--output '%s' is not a directory", outdir);
	ret = kb_state_load(ctx, &set);
	if (ret >= 0)
		ret = kb_kernels_discover(ctx, &kernels);
	recipes = ret >= 0 ? calloc(set.n + (size_t)argc + 1, sizeof(*recipes)) : NULL;
	if (ret >= 0 && !recipes)
		ret = -ENOMEM;
	if (ret >= 0)
		ret = kb_cli_select_recipes(ctx, &set, argc, argv, recipes, &n);
	for (size_t i = 0; ret >= 0 && i < n; i++)
		for (size_t j = 0; ret >= 0 && j < kernels.n; j++) {
			const struct kb_kernel *k = &kernels.v[j];

			/* --all and every kernel: what is installed where; named: it must be */
			if (!kb_cli_installed(ctx, recipes[i], k) && (ctx->all || !ctx->kernels.n))
				continue;
			ret = export_one(ctx, recipes[i], k, outdir);
			done += ret >= 0;
		}
	if (ret >= 0 && !done)
		ret = kb_err(-KB_E_INPUT, "nothing of %s is installed%s",
			     ctx->all ? "what is registered" : "the recipes named",
			     ctx->kernels.n ? " for the kernels named" : "");
	free(recipes);
	kb_kernel_list_release(&kernels);
	kb_recipe_set_release(&set);
	return ret;
}

const struct kb_cmd kb_cmd_export = {
	.name = "export",
	.run = cmd_export,
	.usage = "--deb (NAME/VERSION... | --all) [-k KERNEL]... [--output DIR]",
	.summary = "write what is installed as binary module packages",
	.help = "Write a Debian binary package per recipe and kernel, holding the modules\n"
		"kbuildd installed (signed, compressed, each checked against its manifest),\n"
		"depending on that kernel's image package and running depmod when installed\n"
		"and removed: PACKAGE_VERSION_ARCH.deb, PACKAGE being NAME-modules-KERNEL.\n"
		"With --all, or without -k, what is installed where; a recipe named for a\n"
		"kernel named must be installed there.",
	.options = KB_OPT_EXPORT | KB_OPT_KERNEL | KB_OPT_ALL,
	.flags = KB_CMD_SETTINGS,
};
