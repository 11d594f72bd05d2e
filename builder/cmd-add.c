/* kbuildd add: register recipes (and snapshot their sources). */
#include <stdio.h>
#include <stdlib.h>

#include "cmd.h"
#include "log.h"
#include "state.h"

static int cmd_add(struct kb_ctx *ctx, int argc, char **argv)
{
	int ret = 0;

	if (!argc)
		return kb_err(-KB_E_INPUT, "name a recipe file or a directory holding kbuildd.recipe");
	for (int i = 0; i < argc; i++) {
		char *id = NULL;
		int r = kb_state_add(ctx, argv[i], &id);

		if (r < 0) {
			ret = ret == -KB_E_INPUT ? ret : r;
			continue;
		}
		if (!ctx->dry_run && kb_log_get_level() >= KB_LOG_NORMAL)
			printf("registered %s\n", id);
		free(id);
	}
	return ret;
}

const struct kb_cmd kb_cmd_add = {
	.name = "add",
	.run = cmd_add,
	.usage = "PATH...",
	.summary = "register recipes without building",
	.help = "Register each PATH: a recipe file, or a directory holding kbuildd.recipe. The\n"
		"source tree and patches are copied into kbuildd's state, so later builds do not\n"
		"depend on PATH. Adding the same contents again does nothing; changed contents\n"
		"under the same version need --force.",
	.options = KB_OPT_DRY_RUN | KB_OPT_FORCE | KB_OPT_WAIT,
	.flags = KB_CMD_LOCK | KB_CMD_SETTINGS,
};
