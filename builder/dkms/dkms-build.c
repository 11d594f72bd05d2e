/* A dkms.conf's build as one command: PRE_BUILD, MAKE, strip and POST_BUILD in one bash. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "dkms/dkms-build.h"
#include "dkms/dkms-eval.h"

/*
 * A dkms.conf build, in the order DKMS runs it: PRE_BUILD, MAKE (through
 * the shell: confs use &&, env prefixes and quoting), strip, POST_BUILD.
 */
static const char build_script[] =
	"run_script() {\n"
	"  if [ -x \"${2%% *}\" ]; then\n"
	"    echo \"# kbuildd: running the $1 script: $2\"\n"
	"    $2 || { rc=$?; echo \"# kbuildd: the $1 script failed (exit $rc)\"; exit $rc; }\n"
	"  else\n"
	"    echo \"# kbuildd: the $1 script '${2%% *}' is not executable; skipped\"\n"
	"  fi\n"
	"}\n"
	"[ -z \"$KBUILDD_PRE_BUILD\" ] || run_script PRE_BUILD \"$PWD/$KBUILDD_PRE_BUILD\"\n"
	"eval \"$KBUILDD_MAKE\" || exit\n"
	"while IFS= read -r m; do\n"
	"  [ -z \"$m\" ] || [ ! -f \"$m\" ] || strip -g \"$m\" || exit\n"
	"done <<<\"$KBUILDD_STRIP\"\n"
	"[ -z \"$KBUILDD_POST_BUILD\" ] || run_script POST_BUILD \"$PWD/$KBUILDD_POST_BUILD\"\n";

struct kb_dkms_env kb_dkms_kernel_env(struct kb_ctx *ctx, const struct kb_kernel *k,
				      const struct kb_dkms_build *b, const struct kb_recipe *r,
				      const char *kconfig, const char *itree)
{
	return (struct kb_dkms_env){
		.kernelver = k->release,
		.arch = k->arch,
		.kernel_source_dir = k->build_dir,
		.kernel_config = kconfig,
		.dkms_tree = b->dkms_tree,
		.source_tree = b->source_tree,
		.install_tree = itree,
		.module = r->name,
		.module_version = r->version,
		.jobs = kb_ctx_jobs(ctx),
	};
}

int kb_dkms_build_command(struct kb_ctx *ctx, const struct kb_kernel *k,
			  const struct kb_dkms_build *b, struct kb_recipe *v)
{
	static const char *const shell[] = { "bash", "--norc",	   "--noprofile",
					     "-c",   build_script, "kbuildd-dkms-build" };
	struct kb_build_command *c = &v->command;
	_cleanup_free_ char *kconfig = NULL, *itree = kb_root_path(&ctx->root, "lib/modules");
	struct kb_buf strip = KB_BUF_INIT;
	struct kb_dkms_env env;
	int ret = 0;

	if (!itree || asprintf(&kconfig, "%s/.config", k->build_dir) < 0)
		return -ENOMEM;
	env = kb_dkms_kernel_env(ctx, k, b, v, kconfig, itree);
	for (size_t i = 0; i < b->strip.n; i++)
		kb_buf_addf(&strip, "%s\n", b->strip.v[i]);
	for (size_t i = 0; ret >= 0 && i < ARRAY_SIZE(shell); i++)
		ret = kb_strv_push(&c->argv, shell[i]);
	if (ret >= 0)
		ret = kb_dkms_env_push(&env, &c->env);
	if (ret >= 0)
		ret = kb_strv_pushf(&c->env, "KBUILDD_MAKE=%s", b->make);
	if (ret >= 0)
		ret = kb_strv_pushf(&c->env, "KBUILDD_STRIP=%s", kb_buf_str(&strip));
	if (ret >= 0 && b->scripts[KB_DKMS_PRE_BUILD])
		ret = kb_strv_pushf(&c->env, "KBUILDD_PRE_BUILD=%s", b->scripts[KB_DKMS_PRE_BUILD]);
	if (ret >= 0 && b->scripts[KB_DKMS_POST_BUILD])
		ret = kb_strv_pushf(&c->env, "KBUILDD_POST_BUILD=%s",
				    b->scripts[KB_DKMS_POST_BUILD]);
	if (ret >= 0 && !(c->shown = strdup(b->make)))
		ret = -ENOMEM;
	c->strips_debug = v->nr_modules && b->strip.n == v->nr_modules;
	kb_buf_release(&strip);
	return ret;
}
