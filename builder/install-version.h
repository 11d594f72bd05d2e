/* No older module over a newer one: DKMS's version sanity check, at install. */
#pragma once

#include "manifest.h"
#include "plan.h"
#include "recipe.h"

/*
 * May module @m of @t, whose bytes are @image, be installed for its kernel?
 * Not when it is older (modinfo's version, compared as DKMS does; the same
 * srcversion is the same module) than the copy its recipe installed there
 * before, or, when there is none, than a same-named module under
 * lib/modules/KERNEL that no manifest of @all lists (the kernel's own).
 * --force skips the check. 0, or kb_task_fail() with t->failure KB_FAIL_NOT_NEWER.
 */
int kb_install_check_version(struct kb_ctx *ctx, struct kb_task *t, const struct kb_module_spec *m,
			     const struct kb_buf *image, const struct kb_manifest_set *all);
