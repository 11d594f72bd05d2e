/* kbuildd add: register recipes (and snapshot their sources). */
#include <stdio.h>
#include <stdlib.h>

#include "base/log.h"
#include "cli/cmd.h"
#include "state.h"

static int cmd_add(struct kb_ctx *ctx, int argc, char **argv)
{
	int ret;

	if (!argc)
		return kb_err(-KB_E_INPUT,
			      "name a recipe file, a dkms.conf, or a directory holding "
			      "kbuildd.recipe or dkms.conf");
	struct kb_strv ids = KB_STRV_INIT;

	/* all at once, so their downloads run concurrently */
	ret = kb_state_add_many(ctx, argv, (size_t)argc, &ids);
	for (size_t i = 0; i < ids.n; i++)
		if (!ctx->dry_run && kb_log_get_level() >= KB_LOG_NORMAL)
			printf("registered %s\n", ids.v[i]);
	kb_strv_clear(&ids);
	return ret;
}

const struct kb_cmd kb_cmd_add = {
	.name = "add",
	.run = cmd_add,
	.usage = "PATH...",
	.summary = "register recipes without building",
	.help = "Register each PATH: a recipe file, a DKMS dkms.conf, or a directory holding\n"
		"kbuildd.recipe or else dkms.conf (read per kernel as DKMS reads it). The\n"
		"source (a directory, a release archive pinned by sha256, or a git commit) and the\n"
		"patches are copied into kbuildd's state, so later builds do not depend on PATH\n"
		"or the network. Downloads of several recipes run at once and go through the\n"
		"source cache; --offline uses the cache only. Adding the same contents again\n"
		"does nothing; changed contents under the same version need --force.",
	.options = KB_OPT_OFFLINE | KB_OPT_DRY_RUN | KB_OPT_FORCE | KB_OPT_WAIT,
	.flags = KB_CMD_LOCK | KB_CMD_SETTINGS,
};
