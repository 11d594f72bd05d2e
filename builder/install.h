/* Installing built modules into /lib/modules/K and removing exactly what was installed. */
#pragma once

#include "manifest.h"
#include "plan.h"

/*
 * Install every built task of @k that is marked install: compress as the
 * kernel's modules are, write each file atomically, record a manifest
 * (written before and after the files, so an interruption leaves every
 * file owned). Sets each task's state; *@changed tells whether depmod
 * must run. Returns the number of failed tasks.
 */
int kb_install_kernel(struct kb_ctx *ctx, struct kb_plan *plan, struct kb_kernel *k, bool *changed);

/*
 * Remove what @name's manifest for @kernel lists, then the manifest.
 * 0 when removed, -ENOENT when nothing was installed.
 */
int kb_uninstall(struct kb_ctx *ctx, const char *kernel, const char *name);
