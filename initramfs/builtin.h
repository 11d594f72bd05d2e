/* The builtin backend: rewrite a kernel's initramfs with libarchive, no generator needed. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "base/strbuf.h"
#include "base/util.h"
#include "initramfs/initramfs.h"

/* One module file kbuildd installed for the kernel, as the engine found it. */
struct kb_initramfs_module {
	char *path;	/* inside the root, as installed */
	char *name;	/* the module's name, as the kernel reads it */
	bool in_recipe; /* its recipe lists it: it may go in */
	bool marked;	/* and marks it initramfs = yes: it goes in */
	/* in_recipe: what modprobe loads first (modules.dep), paths inside the root */
	struct kb_strv needs;
	struct kb_strv need_names; /* the same, each one's module name ("" for none) */
};

/*
 * What the engine hands the builtin backend for one kernel: every module
 * file kbuildd installed for it, in manifest order, and how to read one.
 * The backend reads no state of its own.
 */
struct kb_initramfs_modules {
	struct kb_initramfs_module *v;
	size_t n;
	/* a module file (host path) into @out, undoing its compression */
	int (*decompress)(const char *path, struct kb_buf *out);
};

/* Free what @mods holds (the engine fills it). */
void kb_initramfs_modules_release(struct kb_initramfs_modules *mods);

/*
 * Rewrite <root>/boot/initrd.img-K: keep its leading uncompressed segments
 * (early microcode) byte for byte, copy the main archive's entries, replace
 * kbuildd's modules with those of @req->modules that are marked or of which
 * the image already carries a copy, add what their modules.dep says they
 * need that the image lacks (all decompressed, as mkinitramfs does), and
 * regenerate lib/modules/K/modules.* with depmod over the modules the image
 * carries. The main archive is written as newc cpio, compressed with zstd
 * (or gzip when the old one was). The old image is replaced atomically, so
 * a failure leaves it as it was. 0 or a negative error (reported).
 */
int kb_initramfs_builtin(const struct kb_initramfs_request *req);

/* Length of an image's leading uncompressed newc segments (early microcode). */
size_t kb_initramfs_early_length(const unsigned char *p, size_t len);
/* Do @a and @b name the same module ('-' and '_' are one, as for modprobe)? */
bool kb_initramfs_same_module(const char *a, const char *b);
