/* The builtin backend: rewrite a kernel's initramfs with libarchive, no generator needed. */
#pragma once

#include "ctx.h"
#include "kernel.h"

/*
 * Rewrite <root>/boot/initrd.img-K: keep its leading uncompressed segments
 * (early microcode) byte for byte, copy the main archive's entries, replace
 * kbuildd's modules with those installed now for @k whose recipe marks them
 * initramfs = yes or of which the image already carries a copy, add what
 * @k's modules.dep says they need that the image lacks (all decompressed,
 * as mkinitramfs does), and regenerate
 * lib/modules/K/modules.* with depmod over the modules the image carries.
 * The main archive is written as newc cpio, compressed with zstd (or gzip
 * when the old one was). The old image is replaced atomically, so a failure
 * leaves it as it was. 0 or a negative error (reported).
 */
int kb_initramfs_builtin(struct kb_ctx *ctx, const struct kb_kernel *k);

/* Length of an image's leading uncompressed newc segments (early microcode). */
size_t kb_initramfs_early_length(const unsigned char *p, size_t len);
