/* kbuildd rebuild: what the kernel hooks call after an upgrade. */
#include <stdio.h>

#include "base/log.h"
#include "cli/cmd.h"
#include "cli/report.h"

#define NO_AUTOINSTALL "etc/dkms/no-autoinstall"

static int cmd_rebuild(struct kb_ctx *ctx, int argc, char **argv)
{
	(void)argv;
	if (argc)
		return kb_err(-KB_E_INPUT,
			      "rebuild takes no recipe names; use 'kbuildd install NAME'");
	if (!ctx->all && !ctx->kernels.n)
		return kb_err(-KB_E_INPUT, "say which kernels: --all, or -k KERNEL");
	if (ctx->all && ctx->kernels.n)
		return kb_err(-KB_E_INPUT, "give --all or -k KERNEL, not both");
	/* an admin's switch from DKMS days: no builds from kernel hooks or autoinstall */
	if ((ctx->hook || ctx->dkms_codes) && kb_root_exists(&ctx->root, NO_AUTOINSTALL)) {
		printf("Automatic installation of modules has been disabled (/%s).\n",
		       NO_AUTOINSTALL);
		return 0;
	}
	return kb_cli_run(ctx, NULL, KB_PLAN_INSTALL);
}

const struct kb_cmd kb_cmd_rebuild = {
	.name = "rebuild",
	.run = cmd_rebuild,
	.usage = "--all | -k KERNEL...",
	.summary = "build and install every registered recipe for all or some kernels",
	.help = "Make every registered recipe (newest version of each) built and installed for\n"
		"every kernel (--all) or the named ones: what the kernel package hooks run after\n"
		"an upgrade. Up-to-date builds and installs are skipped, so it is fast and safe\n"
		"to run again.",
	.options = KB_OPT_REUSE | KB_OPT_INITRAMFS | KB_OPT_HOOK | KB_OPT_KERNEL | KB_OPT_JOBS |
		   KB_OPT_JSON | KB_OPT_DRY_RUN | KB_OPT_NO_DEPMOD | KB_OPT_FORCE | KB_OPT_ALL |
		   KB_OPT_WAIT,
	.flags = KB_CMD_LOCK | KB_CMD_SETTINGS,
};
