/* kbuildd import-dkms: take over what DKMS has registered on this machine (dkms/import.c). */
#include <stdio.h>

#include "base/log.h"
#include "cli/cmd.h"
#include "cli/report.h"
#include "dkms/import.h"

static void registered(const char *id, const char *from)
{
	if (kb_log_get_level() >= KB_LOG_NORMAL)
		printf("registered %s from %s\n", id, from);
}

static void finished(void)
{
	if (kb_log_get_level() >= KB_LOG_NORMAL)
		printf("DKMS's tree is left as it was; once kbuildd serves you, remove the dkms "
		       "package so its kernel hooks stop building the same drivers.\n");
}

static int cmd_import_dkms(struct kb_ctx *ctx, int argc, char **argv)
{
	static const struct kb_import_ops ops = { .install = kb_cli_install,
						  .registered = registered,
						  .finished = finished };

	if (argc > 1)
		return kb_err(-KB_E_INPUT, "import-dkms takes at most one DKMS tree");
	return kb_dkms_import(ctx, argc ? argv[0] : KB_DKMS_TREE, &ops);
}

const struct kb_cmd kb_cmd_import_dkms = {
	.name = "import-dkms",
	.run = cmd_import_dkms,
	.usage = "[DKMS_TREE]",
	.summary = "take over the drivers DKMS has registered and installed",
	.help = "Register every driver in DKMS's tree (default /var/lib/dkms) from its source's\n"
		"dkms.conf, and build and install each version DKMS had installed for each\n"
		"kernel, in place of DKMS's copies. In-tree modules DKMS had moved aside are put\n"
		"back: kbuildd's copy in updates/ takes precedence without hiding them. A broken\n"
		"entry (its source gone) is reported and the others go on. DKMS's tree itself is\n"
		"not changed.",
	.options = KB_OPT_JOBS | KB_OPT_DRY_RUN | KB_OPT_NO_DEPMOD | KB_OPT_WAIT | KB_OPT_OFFLINE,
	.flags = KB_CMD_LOCK | KB_CMD_SETTINGS,
};
