/* kbuildd install: register (when given a path), build and install. */
#include "cli/cmd.h"
#include "cli/report.h"

static int cmd_install(struct kb_ctx *ctx, int argc, char **argv)
{
	struct kb_strv ids = KB_STRV_INIT;
	int r = kb_engine_args(ctx, argc, argv, true, &ids);

	if (r >= 0)
		r = kb_cli_run(ctx, ctx->all ? NULL : &ids, KB_PLAN_INSTALL);
	kb_strv_clear(&ids);
	return r;
}

const struct kb_cmd kb_cmd_install = {
	.name = "install",
	.run = cmd_install,
	.usage = "[-k KERNEL]... (PATH | NAME[/VERSION])... | --all",
	.summary = "register, build and install modules for every kernel",
	.help = "Build and install each recipe for every installed kernel (or those named with\n"
		"-k), then run depmod once per kernel that changed. A PATH (a recipe file, or a\n"
		"source directory holding kbuildd.recipe or dkms.conf) is registered first, as\n"
		"'add' does: this is what a driver package's postinst calls. Files kbuildd does\n"
		"not own are never overwritten without --force. With --hook (a driver\n"
		"package's common.postinst), a driver that does not build is reported and\n"
		"the package's installation goes on, unless [hooks] strict.",
	.options = KB_OPT_REUSE | KB_OPT_HOOK | KB_OPT_INITRAMFS | KB_OPT_OFFLINE | KB_OPT_KERNEL |
		   KB_OPT_JOBS | KB_OPT_JSON | KB_OPT_DRY_RUN | KB_OPT_NO_DEPMOD | KB_OPT_FORCE |
		   KB_OPT_ALL | KB_OPT_WAIT,
	.flags = KB_CMD_LOCK | KB_CMD_SETTINGS,
};
