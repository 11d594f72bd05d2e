/* import-dkms: take over what DKMS has registered on this machine. */
#pragma once

#include "ctx.h"

/* DKMS's tree, inside the root. */
#define KB_DKMS_TREE "var/lib/dkms"

/* What the caller (cli/) does for the import: install, and show what it did. */
struct kb_import_ops {
	/* build and install @ids for ctx's kernels, and report it */
	int (*install)(struct kb_ctx *ctx, const struct kb_strv *ids);
	/* DKMS's build of NAME/VERSION for @kernel was taken (@why NULL), or not: @why */
	void (*taken)(const char *name, const char *version, const char *kernel, const char *why);
	/* @id was registered from DKMS's source @from */
	void (*registered)(const char *id, const char *from);
	/* every entry was seen (DKMS's tree is left as it was) */
	void (*finished)(void);
};

/*
 * Register every driver of DKMS's tree @tree (inside the root) from its
 * source, put back the in-tree modules DKMS moved aside, and install each
 * version for each kernel DKMS had it installed on: DKMS's build taken
 * over when its copy is the file installed, else compiled. A broken
 * entry is reported and the others go on. 0, -KB_E_INPUT when there is no
 * tree at @tree (nothing done), or the first failure.
 */
int kb_dkms_import(struct kb_ctx *ctx, const char *tree, const struct kb_import_ops *ops);
