/* DKMS's scripts: run as DKMS runs them, but contained like a build. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "base/child.h"
#include "base/log.h"
#include "dkms/dkms-eval.h"
#include "dkms/dkms.h"
#include "sandbox.h"
#include "state.h"

const char *const kb_dkms_script_names[KB_DKMS_NR_SCRIPTS] = {
	"PRE_BUILD", "POST_BUILD", "PRE_INSTALL", "POST_INSTALL", "POST_ADD", "POST_REMOVE",
};

/* A script's command line when @r has none evaluated for a kernel (add, remove). */
static char *script_of(struct kb_ctx *ctx, const struct kb_recipe *r, enum kb_dkms_script which,
		       const char *srcdir, const char *kernel)
{
	const struct kb_dkms_build *b = r->reader == &kb_dkms_reader ? r->reader_data : NULL;
	struct kb_strv files = KB_STRV_INIT;
	_cleanup_free_ char *conf = NULL, *ksrc = NULL, *itree = NULL;
	struct kb_dkms_conf c;
	struct utsname u;
	char *cmd = NULL;

	if (b)
		return b->scripts[which] ? strdup(b->scripts[which]) : NULL;
	uname(&u);
	kernel = kernel ? kernel : u.release;
	ksrc = kb_root_pathf(&ctx->root, "lib/modules/%s/build", kernel);
	itree = kb_root_pathf(&ctx->root, "lib/modules");
	if (asprintf(&conf, "%s/%s", srcdir, r->dkms) < 0)
		return NULL;
	kb_dkms_conf_init(&c);
	kb_strv_push(&files, conf);
	{
		struct kb_dkms_env env = {
			.kernelver = kernel,
			.arch = u.machine,
			.kernel_source_dir = ksrc,
			.install_tree = itree,
			.module = r->name,
			.module_version = r->version,
		};
		_cleanup_free_ char *dir = strdup(conf);

		if (dir)
			*strrchr(dir, '/') = '\0';
		if (dir && kb_dkms_eval(ctx, &files, dir, &env, &c) == 0) {
			const char *v = kb_dkms_get(&c, kb_dkms_script_names[which], 0);

			cmd = v && *v ? strdup(v) : NULL;
		}
	}
	kb_dkms_conf_release(&c);
	kb_strv_clear(&files);
	return cmd;
}

int kb_dkms_run_script(struct kb_ctx *ctx, const struct kb_recipe *r, enum kb_dkms_script which,
		       const char *kernel)
{
	_cleanup_free_ char *srcdir = NULL, *cmd = NULL, *run = NULL, *itree = NULL;
	struct kb_dkms_env env = { 0 };
	struct kb_sandbox sb;
	struct kb_child c;
	struct utsname u;
	int status;

	if (!r->dkms)
		return 0;
	srcdir = kb_root_pathf(&ctx->root, "%s/recipes/%s/%s/source", KB_STATE_DIR, r->name,
			       r->version);
	if (!srcdir)
		return -ENOMEM;
	cmd = script_of(ctx, r, which, srcdir, kernel);
	if (!cmd)
		return 0;
	if (asprintf(&run, "%s/%s", srcdir, cmd) < 0)
		return -ENOMEM;
	{
		/* as DKMS: the first word must be an executable file in the source */
		_cleanup_free_ char *prog = strndup(run, strcspn(run, " \t"));

		if (!prog || access(prog, X_OK) < 0) {
			kb_warn("%s/%s: the %s script '%s' is not executable; skipped", r->name,
				r->version, kb_dkms_script_names[which], cmd);
			return 0;
		}
	}
	if (ctx->dry_run) {
		kb_info("would run the %s script of %s/%s", kb_dkms_script_names[which], r->name,
			r->version);
		return 0;
	}
	uname(&u);
	itree = kb_root_pathf(&ctx->root, "lib/modules");
	env.kernelver = kernel ? kernel : u.release;
	env.arch = u.machine;
	env.install_tree = itree;
	env.module = r->name;
	env.module_version = r->version;
	/* driver code like the build: contained, the registered source read-only */
	status = kb_sandbox_setup(ctx, &sb);
	if (status >= 0)
		status = kb_strv_push(&sb.ro, srcdir);
	if (status < 0) {
		kb_sandbox_release(&sb);
		if (status == -ESRCH)
			return kb_err(-KB_E_BUILD,
				      "%s/%s: no unprivileged user to run the %s script "
				      "as: create the user 'kbuildd' ([build] user in kbuildd.conf)",
				      r->name, r->version, kb_dkms_script_names[which]);
		return kb_err_errno(status, "%s/%s: cannot prepare the sandbox of the %s script",
				    r->name, r->version, kb_dkms_script_names[which]);
	}
	kb_child_init(&c);
	kb_sandbox_attach(&c, &sb);
	kb_strv_push(&c.args, "bash");
	kb_strv_push(&c.args, "--norc");
	kb_strv_push(&c.args, "--noprofile");
	kb_strv_push(&c.args, "-c");
	kb_strv_push(&c.args, "exec $KBUILDD_RUN"); /* word-split, as DKMS runs it */
	c.clean_env = true;
	kb_dkms_env_push(&env, &c.env);
	kb_strv_push(&c.env, "HOME=/");
	kb_strv_pushf(&c.env, "KBUILDD_RUN=%s", run);
	c.dir = strdup(srcdir);
	kb_verbose("%s/%s: running the %s script: %s", r->name, r->version,
		   kb_dkms_script_names[which], cmd);
	status = kb_child_run(&c);
	kb_child_release(&c);
	kb_sandbox_release(&sb);
	if (status != 0)
		return kb_err(-KB_E_BUILD, "%s/%s: the %s script '%s' failed (exit %d)", r->name,
			      r->version, kb_dkms_script_names[which], cmd, status);
	return 0;
}

int kb_dkms_run_step(struct kb_ctx *ctx, const struct kb_recipe *r, enum kb_recipe_step step,
		     const char *kernel)
{
	static const enum kb_dkms_script scripts[] = {
		[KB_STEP_POST_ADD] = KB_DKMS_POST_ADD,
		[KB_STEP_PRE_INSTALL] = KB_DKMS_PRE_INSTALL,
		[KB_STEP_POST_INSTALL] = KB_DKMS_POST_INSTALL,
		[KB_STEP_POST_REMOVE] = KB_DKMS_POST_REMOVE,
	};

	return kb_dkms_run_script(ctx, r, scripts[step], kernel);
}
