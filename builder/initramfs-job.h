/* A kernel's initramfs, handed to its backend with what the engine knows (state, modules.dep). */
#pragma once

#include "ctx.h"
#include "initramfs/initramfs.h"
#include "kernel.h"

/* The backend for @ctx: [initramfs] backend, else the one detected. */
enum kb_initramfs_backend kb_initramfs_backend_of(const struct kb_ctx *ctx);

/*
 * Regenerate @k's initramfs once. For the builtin backend the engine first
 * gathers kbuildd's modules for @k (manifests, recipes, modules.dep); the
 * backend reads no state itself. 0, or a negative error (reported).
 */
int kb_initramfs_update(struct kb_ctx *ctx, const struct kb_kernel *k);
