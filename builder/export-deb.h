/*
 * Binary module packages (`kbuildd export --deb`): what kbuildd installed
 * for a (recipe, kernel), as its manifest lists it, in a Debian package a
 * fleet can ship through an APT repository (DKMS's old mkbmdeb).
 */
#pragma once

#include <stddef.h>

#include "ctx.h"
#include "kernel.h"
#include "recipe.h"

/*
 * The package of @r installed for @k, written into directory @outdir (a
 * host path) as PACKAGE_VERSION_ARCH.deb; its path into @path. The files
 * are the installed ones (signed, compressed), each checked against the
 * sha256 its manifest records. -KB_E_INPUT (reported) when @r is not
 * installed for @k, an installed file changed, or a name cannot be a
 * Debian one; else 0 or a negative errno (reported).
 */
int kb_export_deb(struct kb_ctx *ctx, const struct kb_recipe *r, const struct kb_kernel *k,
		  const char *outdir, char *path, size_t size);

/* Debian's name for a kernel's architecture ("x86_64" -> "amd64"), or NULL. */
const char *kb_export_deb_arch(const char *arch);
/* The package name: NAME-modules-RELEASE, lower case, '_' as '-'; false when it cannot be one. */
bool kb_export_deb_name(const char *name, const char *release, char *out, size_t size);
