/* A dkms.conf's build as one command: PRE_BUILD, MAKE, strip and POST_BUILD in one bash. */
#pragma once

#include "ctx.h"
#include "dkms/dkms-eval.h"
#include "dkms/dkms.h"
#include "kernel.h"
#include "recipe.h"

/*
 * What DKMS lets a conf, and then its build, see for kernel @k (@b's
 * trees, @r's name and version); @kconfig and @itree stay the caller's.
 */
struct kb_dkms_env kb_dkms_kernel_env(struct kb_ctx *ctx, const struct kb_kernel *k,
				      const struct kb_dkms_build *b, const struct kb_recipe *r,
				      const char *kconfig, const char *itree);

/*
 * Fill @v's build command for kernel @k from the conf's reading @b: the
 * bash that runs them in DKMS's order (MAKE through the shell: confs use
 * &&, env prefixes and quoting) and the environment DKMS gives a build.
 * 0 or -ENOMEM.
 */
int kb_dkms_build_command(struct kb_ctx *ctx, const struct kb_kernel *k,
			  const struct kb_dkms_build *b, struct kb_recipe *v);
