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

static void taken(const char *name, const char *version, const char *kernel, const char *why)
{
	if (kb_log_get_level() < KB_LOG_NORMAL)
		return;
	if (why)
		printf("%s/%s for %s: compiling it again: %s\n", name, version, kernel, why);
	else
		printf("%s/%s for %s: DKMS's build taken over, nothing compiled\n", name, version,
		       kernel);
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
						  .taken = taken,
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
		"dkms.conf, and take over each version DKMS had installed for each kernel: where\n"
		"the file installed is DKMS's copy of its build, that build becomes kbuildd's,\n"
		"nothing is compiled, and the file stays (re-signed when kbuildd's key is not\n"
		"the one DKMS signed with); elsewhere the driver is compiled again. In-tree\n"
		"modules DKMS had moved aside are put back: kbuildd's copy in updates/ takes\n"
		"precedence without hiding them. A broken entry (its source gone) is reported\n"
		"and the others go on. DKMS's tree itself is not changed.",
	.options = KB_OPT_JOBS | KB_OPT_DRY_RUN | KB_OPT_NO_DEPMOD | KB_OPT_WAIT | KB_OPT_OFFLINE,
	.flags = KB_CMD_LOCK | KB_CMD_SETTINGS,
};
