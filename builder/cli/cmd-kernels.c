/* kbuildd kernels: the kernels kbuildd would build for, and why some are not usable. */
#include <stdio.h>

#include "base/log.h"
#include "cli/cmd.h"
#include "cli/report.h"
#include "cli/json.h"
#include "kernel.h"

static int cmd_kernels(struct kb_ctx *ctx, int argc, char **argv)
{
	struct kb_kernel_list list;
	struct kb_buf b = KB_BUF_INIT;
	struct kb_json json = KB_JSON_INIT;
	int r;

	(void)argv;
	if (argc)
		return kb_err(-KB_E_INPUT, "kernels takes no arguments");
	r = kb_kernels_discover(ctx, &list);
	if (r < 0)
		goto out;
	if (!ctx->json)
		kb_buf_addf(&b, "%-32s %-8s %-8s %-8s %s\n", "KERNEL", "ARCH", "COMPRESS",
			    "SIGNING", "STATUS");
	for (size_t i = 0; i < list.n; i++) {
		const struct kb_kernel *k = &list.v[i];
		struct json_object *o;

		if (!ctx->json) {
			kb_buf_addf(&b, "%-32s %-8s %-8s %-8s %s\n", k->release,
				    k->usable ? k->arch : "-",
				    k->usable ? kb_compress_name(k->compress) : "-",
				    !k->usable	  ? "-" :
				    k->module_sig ? (k->sig_hash ? k->sig_hash : "yes") :
						    "none",
				    k->usable ? "ok" : k->reason);
			continue;
		}
		o = kb_json_add_object(&json, NULL);
		kb_json_set_str(&json, o, "release", k->release);
		kb_json_set_bool(&json, o, "usable", k->usable);
		kb_json_set_str(&json, o, "arch", k->arch ? k->arch : "");
		kb_json_set_str(&json, o, "compression", kb_compress_name(k->compress));
		kb_json_set_bool(&json, o, "module_sig", k->module_sig);
		kb_json_set_str(&json, o, "sig_hash", k->sig_hash ? k->sig_hash : "");
		kb_json_set_str(&json, o, "build", k->build_dir);
		kb_json_set_str(&json, o, "reason", k->reason);
	}
	if (ctx->json)
		r = kb_json_write(&json, &b);
	if (r < 0)
		goto out;
	r = kb_cli_print(&b, "the kernels");
out:
	kb_json_release(&json);
	kb_buf_release(&b);
	kb_kernel_list_release(&list);
	return r;
}

const struct kb_cmd kb_cmd_kernels = {
	.name = "kernels",
	.run = cmd_kernels,
	.usage = "[-k KERNEL]... [--json]",
	.summary = "list the kernels found and whether their headers are usable",
	.help = "List every kernel under /lib/modules with its architecture, the compression\n"
		"its own modules use, its signing hash, and whether its build tree (headers) is\n"
		"complete enough to build modules against.",
	.options = KB_OPT_KERNEL | KB_OPT_JSON,
	.flags = 0,
};
