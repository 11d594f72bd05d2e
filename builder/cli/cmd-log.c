/* kbuildd log: show the log of a recipe's last build for a kernel. */
#include <limits.h>
#include <stdio.h>
#include <unistd.h>

#include "base/log.h"
#include "cli/cmd.h"
#include "state.h"

static int cmd_log(struct kb_ctx *ctx, int argc, char **argv)
{
	struct kb_recipe_set set = { 0 };
	struct kb_buf text = KB_BUF_INIT;
	struct kb_recipe *r;
	char rel[PATH_MAX];
	int ret;

	if (argc != 1)
		return kb_err(-KB_E_INPUT, "usage: kbuildd log NAME[/VERSION] -k KERNEL");
	if (ctx->kernels.n != 1)
		return kb_err(-KB_E_INPUT, "name one kernel with -k KERNEL");
	ret = kb_state_load(ctx, &set);
	if (ret < 0)
		goto out;
	r = kb_recipe_set_find(&set, argv[0]);
	if (!r) {
		ret = kb_err(-KB_E_INPUT, "'%s' is not registered; see 'kbuildd status'", argv[0]);
		goto out;
	}
	kb_pathf(rel, sizeof(rel), "%s/builds/%s/%s/%s.log", KB_STATE_DIR, r->name, r->version,
		 ctx->kernels.v[0]);
	ret = kb_root_read(&ctx->root, rel, KB_MAX_STRING, &text);
	if (ret < 0) {
		ret = kb_err(-KB_E_INPUT, "no build log for %s/%s on kernel %s", r->name,
			     r->version, ctx->kernels.v[0]);
		goto out;
	}
	fwrite(kb_buf_str(&text), 1, text.len, stdout);
out:
	kb_buf_release(&text);
	kb_recipe_set_release(&set);
	return ret;
}

const struct kb_cmd kb_cmd_log = {
	.name = "log",
	.run = cmd_log,
	.usage = "NAME[/VERSION] -k KERNEL",
	.summary = "show the log of the last build of a recipe for a kernel",
	.help = "Print the full log of the last build attempt of the recipe for KERNEL: the\n"
		"commands kbuildd ran and everything make printed.",
	.options = KB_OPT_KERNEL,
	.flags = 0,
};
