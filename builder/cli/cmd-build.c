/* kbuildd build: compile recipes for kernels without installing. */
#include "cli/cmd.h"
#include "cli/report.h"

static int cmd_build(struct kb_ctx *ctx, int argc, char **argv)
{
	struct kb_strv ids = KB_STRV_INIT;
	int r = kb_engine_args(ctx, argc, argv, false, &ids);

	if (r >= 0)
		r = kb_cli_run(ctx, ctx->all ? NULL : &ids, KB_PLAN_BUILD);
	kb_strv_clear(&ids);
	return r;
}

const struct kb_cmd kb_cmd_build = {
	.name = "build",
	.run = cmd_build,
	.usage = "[-k KERNEL]... (NAME[/VERSION]... | --all)",
	.summary = "build registered recipes for kernels, without installing",
	.help = "Build each named recipe (its newest version unless VERSION is given), and the\n"
		"recipes it depends on, for every installed kernel or those named with -k.\n"
		"Builds whose inputs did not change since the last build are skipped; --force\n"
		"rebuilds them. A failed build keeps its log: see 'kbuildd log'.",
	.options = KB_OPT_REUSE | KB_OPT_KERNEL | KB_OPT_JOBS | KB_OPT_JSON | KB_OPT_DRY_RUN |
		   KB_OPT_FORCE | KB_OPT_ALL | KB_OPT_WAIT,
	.flags = KB_CMD_LOCK | KB_CMD_SETTINGS,
};
