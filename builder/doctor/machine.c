/* doctor's first question: can the running kernel load modules at all, here? */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/limits.h"
#include "audit/policy.h"
#include "doctor/doctor.h"

#define CAP_SYS_MODULE_BIT 16
/* what gVisor's Sentry answers for /proc/version, whatever it emulates */
#define GVISOR_VERSION " #1 SMP Sun Jan 10 15:06:54 PST 2016"

/* <root>/@rel, whole and NUL-terminated, into @b; false when it cannot be read. */
static bool read_small(const struct kb_ctx *ctx, const char *rel, struct kb_buf *b)
{
	kb_buf_reset(b);
	return kb_root_read(&ctx->root, rel, b->max, b) == 0;
}

/* Is CAP_SYS_MODULE in this process's bounding set? 1, 0, or -1 when not known. */
static int may_have_sys_module(const struct kb_ctx *ctx, struct kb_buf *b)
{
	const char *line;
	unsigned long long bnd;

	if (!read_small(ctx, "proc/self/status", b))
		return -1;
	line = strstr(kb_buf_str(b), "\nCapBnd:");
	if (!line || sscanf(line + 8, "%llx", &bnd) != 1)
		return -1;
	return (bnd >> CAP_SYS_MODULE_BIT) & 1;
}

void kb_doctor_check_machine(struct kb_ctx *ctx, struct kb_diagnosis *d)
{
	struct kb_buf b = KB_BUF_INIT_MAX(64 * 1024);
	const char *lockdown = NULL;
	bool blocked = true;

	if (!read_small(ctx, "proc/modules", &b))
		kb_diagnosis_add(d, KB_LEVEL_FAIL, "modules",
				 "boot a kernel built with module support (every Debian "
				 "linux-image is)",
				 "the running kernel has no module support (no /proc/modules): it "
				 "was built without CONFIG_MODULES, so no module loads on it");
	else if (read_small(ctx, "proc/sys/kernel/modules_disabled", &b) &&
		 kb_buf_str(&b)[0] == '1')
		kb_diagnosis_add(d, KB_LEVEL_FAIL, "modules",
				 "reboot, with kernel.modules_disabled no longer set (see "
				 "/etc/sysctl.conf and /etc/sysctl.d/)",
				 "kernel.modules_disabled = 1: the kernel loads no more modules "
				 "until it reboots");
	else if (read_small(ctx, "proc/version", &b) && strstr(kb_buf_str(&b), GVISOR_VERSION))
		kb_diagnosis_add(d, KB_LEVEL_FAIL, "modules",
				 "load the module on the host that runs the sandbox",
				 "this is a gVisor sandbox (its /proc/version says so): its kernel "
				 "is an emulation that loads no modules");
	else if (may_have_sys_module(ctx, &b) == 0)
		kb_diagnosis_add(d, KB_LEVEL_FAIL, "modules",
				 "load the module on the host, or give the container "
				 "CAP_SYS_MODULE",
				 "no process here can load a module: CAP_SYS_MODULE is not in the "
				 "capability bounding set (a container)");
	else
		blocked = false;
	if (!blocked && read_small(ctx, "sys/kernel/security/lockdown", &b))
		lockdown = strstr(kb_buf_str(&b), "[integrity]")       ? "integrity" :
			   strstr(kb_buf_str(&b), "[confidentiality]") ? "confidentiality" :
									 NULL;
	if (!blocked)
		kb_diagnosis_add(d, KB_LEVEL_OK, "modules", NULL,
				 "the running kernel loads modules (/proc/modules is there, "
				 "kernel.modules_disabled is 0)%s%s%s",
				 lockdown ? "; lockdown (" : "", lockdown ? lockdown : "",
				 lockdown ? ") lets only modules signed by a trusted key in" : "");
	kb_buf_release(&b);
}

void kb_doctor_check_policy(struct kb_ctx *ctx, struct kb_diagnosis *d)
{
	struct kb_policy p;
	char why[512], fix[640];

	if (kb_policy_load(ctx, &p) < 0) {
		kb_diagnosis_add(d, KB_LEVEL_WARN, "policy", "correct the line named above",
				 "/%s cannot be read: the modules it keeps out were not checked",
				 KB_POLICY_FILE);
		return;
	}
	if (p.present && kb_policy_blocks(&p, d->module, why, sizeof(why))) {
		snprintf(fix, sizeof(fix),
			 "if %s should load, change that line, then run 'kbuildd policy apply'",
			 d->module);
		kb_diagnosis_add(d, KB_LEVEL_FAIL, "policy", fix,
				 "%s: the policy keeps it from loading (modprobe runs /bin/false "
				 "instead, once 'kbuildd policy apply' wrote /%s)",
				 why, KB_POLICY_MODPROBE);
	}
	kb_policy_release(&p);
}
