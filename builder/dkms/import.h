/* import-dkms: take over what DKMS has registered on this machine. */
#pragma once

#include "ctx.h"

/* DKMS's tree, inside the root. */
#define KB_DKMS_TREE "var/lib/dkms"

/*
 * Register every driver of DKMS's tree @tree (inside the root) from its
 * source, put back the in-tree modules DKMS moved aside, and build and
 * install each version for each kernel DKMS had it installed on. A broken
 * entry is reported and the others go on; a closing note says DKMS's tree
 * is left as it was. 0, -KB_E_INPUT when there is no tree at @tree
 * (nothing done), or the first failure.
 */
int kb_dkms_import(struct kb_ctx *ctx, const char *tree);
