/* Which key, certificate and program sign each kernel's modules. */
#pragma once

#include "ctx.h"
#include "kernel.h"
#include "signing/sign.h"

struct kb_kernel_signing {
	const struct kb_kernel *kernel;
	struct kb_signer *signer;   /* the set's; NULL without error: no key, unsigned */
	char *program;		    /* framework.conf's sign_file, when not the kernel's own */
	char *program_origin;	    /* "FILE:LINE" that set it */
	char *key_host, *cert_host; /* the pair as host paths, for @program */
	char *error;		    /* why its modules cannot be signed: each install fails */
	char id[192];		    /* certificate fingerprint (+ program): in every build id */
	char alt_id[192];	    /* the other pair's during a key rotation, else "" */
};

struct kb_signing {
	struct kb_kernel_signing *v;
	size_t n;
	struct kb_signer **signers; /* each pair loaded once */
	char **pairs;		    /* "KEY\nCERT" of each */
	size_t nr_signers;
};

/*
 * For each usable kernel with CONFIG_MODULE_SIG: [signing] key/cert of
 * kbuildd.conf; else mok_signing_key/mok_certificate of framework.conf
 * read with that kernelver (a key named there that is missing, or a
 * pkcs11: URI, is that kernel's error, never replaced by another key);
 * else kb_signer_setup()'s default, generated when @generate. sign_file
 * from framework.conf, when it is not the kernel's own sign-file, is
 * recorded to run instead of in-process signing. Sets ctx->signing.
 * 0, or a negative error that concerns every kernel (a configured key
 * that is missing, a key that cannot be generated).
 */
int kb_signing_setup(struct kb_ctx *ctx, struct kb_kernel_list *kernels, struct kb_signing *set,
		     bool generate);
void kb_signing_release(struct kb_ctx *ctx, struct kb_signing *set);

/* @k's entry, or NULL (its modules are not signed: no CONFIG_MODULE_SIG, or not set up). */
const struct kb_kernel_signing *kb_signing_for(const struct kb_ctx *ctx, const struct kb_kernel *k);
/* What about @k's signing goes into its build ids ("" for none). */
const char *kb_signing_id(const struct kb_ctx *ctx, const struct kb_kernel *k);
/* The other pair's id during a key rotation (rotation.h), else "": a kept build with it is re-signed. */
const char *kb_signing_alt_id(const struct kb_ctx *ctx, const struct kb_kernel *k);
