/* kbuildd policy apply | check: policy.conf made into modprobe.d, and the machine judged by it. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "audit/audit.h"
#include "base/atomic.h"
#include "base/log.h"
#include "cli/cmd.h"
#include "cli/report.h"

#define MAX_MODPROBE_FILE (16 * 1024 * 1024)

/*
 * A module the allow-list leaves out while it is loaded is likely one the
 * machine boots with (its disk, its network): blocking it is refused unless
 * forced. A denied one is the admin's explicit word, and only said.
 */
static int check_loaded(struct kb_ctx *ctx, const struct kb_policy *p,
			const struct kb_strv *blocked)
{
	struct kb_buf text = KB_BUF_INIT_MAX(4 * 1024 * 1024);
	char *line, *save = NULL, why[512];
	unsigned refused = 0;

	if (kb_root_read(&ctx->root, "proc/modules", text.max, &text) < 0) {
		kb_buf_release(&text);
		return 0;
	}
	for (line = strtok_r(text.len ? text.buf : (char[1]){ 0 }, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char name[KB_MAX_NAME * 2];

		if (sscanf(line, "%127s", name) != 1 || !kb_strv_contains(blocked, name) ||
		    !kb_policy_blocks(p, name, why, sizeof(why)))
			continue;
		if (strstr(why, ": deny = ")) {
			kb_info("%s is loaded now: 'modprobe -r %s' or a reboot unloads it", name,
				name);
			continue;
		}
		refused++;
		if (!ctx->force)
			kb_err(-KB_E_INPUT,
			       "%s: module %s is loaded now, and the allow-list would keep it from "
			       "loading again: this machine may not boot without it; add it to "
			       "allow, or use --force",
			       why, name);
	}
	kb_buf_release(&text);
	return refused && !ctx->force ? -KB_E_INPUT : 0;
}

/* Our modprobe.d file, or another's of that name (kept unless --force), or none. */
static int read_current(struct kb_ctx *ctx, struct kb_buf *cur, bool *exists)
{
	int r = kb_root_read(&ctx->root, KB_POLICY_MODPROBE, cur->max, cur);

	*exists = r == 0;
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r == -KB_E_INPUT ? r :
					  kb_err_errno(r, "cannot read /%s", KB_POLICY_MODPROBE);
	if (!kb_policy_file_is_ours(kb_buf_str(cur)) && !ctx->force)
		return kb_err(-KB_E_INPUT,
			      "/%s is not kbuildd's (it lacks kbuildd's first line): kept; move it "
			      "away, or use --force to replace it",
			      KB_POLICY_MODPROBE);
	return 0;
}

static int apply_none(struct kb_ctx *ctx, bool exists)
{
	int r;

	if (!exists) {
		kb_info("no policy (/%s is absent): nothing to apply", KB_POLICY_FILE);
		return 0;
	}
	if (ctx->dry_run) {
		printf("would remove /%s: there is no /%s\n", KB_POLICY_MODPROBE, KB_POLICY_FILE);
		return 0;
	}
	r = kb_durable_unlink(&ctx->root, KB_POLICY_MODPROBE);
	if (r < 0 && r != -ENOENT)
		return kb_err_errno(r, "cannot remove /%s", KB_POLICY_MODPROBE);
	kb_info("removed /%s: there is no /%s", KB_POLICY_MODPROBE, KB_POLICY_FILE);
	return 0;
}

static int write_file(struct kb_ctx *ctx, const struct kb_buf *next, const struct kb_buf *cur,
		      bool exists, size_t blocked)
{
	int r;

	if (ctx->dry_run)
		return kb_cli_print(next, "the modprobe.d file");
	if (exists && cur->len == next->len && !memcmp(cur->buf, next->buf, next->len)) {
		kb_info("/%s is up to date: %zu module%s kept from loading", KB_POLICY_MODPROBE,
			blocked, blocked == 1 ? "" : "s");
		return 0;
	}
	r = kb_mkdirs(&ctx->root, "etc/modprobe.d", 0755);
	if (r >= 0)
		r = kb_atomic_write_buf(&ctx->root, KB_POLICY_MODPROBE, next, 0644);
	if (r < 0)
		return kb_err_errno(r, "cannot write /%s", KB_POLICY_MODPROBE);
	kb_info("wrote /%s: %zu module%s kept from loading; an initramfs made from now on "
		"holds it too (update-initramfs -u for the current ones)",
		KB_POLICY_MODPROBE, blocked, blocked == 1 ? "" : "s");
	return 0;
}

static int policy_apply(struct kb_ctx *ctx)
{
	struct kb_buf cur = KB_BUF_INIT_MAX(MAX_MODPROBE_FILE),
		      next = KB_BUF_INIT_MAX(MAX_MODPROBE_FILE);
	struct kb_strv installed = KB_STRV_INIT, blocked = KB_STRV_INIT;
	struct kb_policy p;
	bool exists = false;
	int r = kb_policy_load(ctx, &p);

	if (r >= 0)
		r = read_current(ctx, &cur, &exists);
	if (r >= 0 && !p.present) {
		r = apply_none(ctx, exists);
		goto out;
	}
	if (r >= 0)
		r = kb_audit_module_names(ctx, &installed);
	if (r >= 0)
		r = kb_policy_render(&p, &installed, &next, &blocked);
	if (r >= 0)
		r = check_loaded(ctx, &p, &blocked);
	if (r >= 0)
		r = write_file(ctx, &next, &cur, exists, blocked.n);
out:
	kb_policy_release(&p);
	kb_strv_clear(&installed);
	kb_strv_clear(&blocked);
	kb_buf_release(&cur);
	kb_buf_release(&next);
	return r;
}

static int cmd_policy(struct kb_ctx *ctx, int argc, char **argv)
{
	struct kb_policy p;
	int r;

	if (argc != 1 || (strcmp(argv[0], "apply") && strcmp(argv[0], "check")))
		return kb_err(-KB_E_INPUT, "usage: kbuildd policy apply | check");
	if (!strcmp(argv[0], "apply")) {
		if (ctx->json || ctx->installed || ctx->kernels.n)
			return kb_err(-KB_E_INPUT, "policy apply writes one file for every kernel: "
						   "it takes no --json, --installed or -k");
		return policy_apply(ctx);
	}
	if (ctx->dry_run || ctx->force || ctx->hook)
		return kb_err(-KB_E_INPUT, "policy check changes nothing: it takes no --dry-run, "
					   "--force or --hook");
	r = kb_policy_load(ctx, &p);
	if (r >= 0 && !p.present)
		r = kb_err(-KB_E_INPUT, "no policy to check: /%s is absent", KB_POLICY_FILE);
	kb_policy_release(&p);
	return r < 0 ? r : kb_cli_audit(ctx);
}

const struct kb_cmd kb_cmd_policy = {
	.name = "policy",
	.run = cmd_policy,
	.usage = "apply [--dry-run] [--force] | check [--installed] [-k KERNEL]... [--json]",
	.summary = "make modprobe keep to /etc/kbuildd/policy.conf, or check the machine",
	.help = "apply: write /etc/modprobe.d/kbuildd-policy.conf from /etc/kbuildd/policy.conf:\n"
		"`blacklist M` and `install M /bin/false` for every denied module and, with an\n"
		"allow-list, every module file in /lib/modules it does not name, so that\n"
		"modprobe refuses them; the kernel hooks run it again when a kernel arrives.\n"
		"A loaded module the allow-list leaves out is refused unless --force (the\n"
		"machine may need it to boot). Without policy.conf, kbuildd's file is removed.\n"
		"--dry-run prints the file instead. check: kbuildd audit, which judges every\n"
		"module against the policy; exit status 1 when one breaks it.",
	.options = KB_OPT_KERNEL | KB_OPT_JSON | KB_OPT_INSTALLED | KB_OPT_DRY_RUN | KB_OPT_FORCE |
		   KB_OPT_HOOK,
	.flags = KB_CMD_SETTINGS,
};
