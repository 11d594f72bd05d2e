/* Which signing key kbuildd uses: configured, its own, DKMS's, or a new one. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "ctx.h"
#include "signing/sign.h"

/*
 * Find the signing key for @ctx: [signing] key/cert from kbuildd.conf, else
 * kbuildd's own key, else an existing DKMS key (var/lib/dkms/mok.key and
 * mok.pub), else, when @generate, a new kbuildd key. All paths are inside
 * the root. Returns 1 with @s loaded, 0 when there is no key (and none was
 * to be generated), or a negative error.
 */
int kb_signer_setup(struct kb_ctx *ctx, struct kb_signer *s, bool generate);
/*
 * The key and certificate paths kb_signer_setup() would use, inside the
 * root: during a key rotation the next pair once it signs (rotation.h).
 * A token's key without [signing] cert has "" for its certificate.
 */
void kb_signer_paths(const struct kb_ctx *ctx, char *key, char *cert, size_t size, bool *dkms);
/*
 * Check the pair kb_signer_setup() would use, when its key exists: both
 * load, the key matches the certificate, and the DER copy beside the
 * certificate, if any, is the same certificate. 0, or -KB_E_INPUT with a
 * message naming the files.
 */
int kb_signer_check(struct kb_ctx *ctx);
/* status --check's part: one "check:" line per problem with the key pair; how many. */
unsigned kb_keys_check(struct kb_ctx *ctx, void (*report)(void *data, const char *msg), void *data);
/*
 * Is certificate @x (shown as @name) past its end, or within [signing]
 * expiry_warn_days of it? 0 when neither; else 1 (soon) or 2 (ended) with
 * the sentence in @out, which says that the kernel does not check expiry.
 */
int kb_cert_expiry_note(const struct kb_ctx *ctx, X509 *x, const char *name, char *out,
			size_t size);
/* Warn (stderr) once per signing certificate @set loaded that kb_cert_expiry_note() flags. */
struct kb_signing;
void kb_signing_warn_expiry(const struct kb_ctx *ctx, const struct kb_signing *set);
/*
 * keys generate for [signing] key = pkcs11:...: make an RSA-4096 key on the
 * token (never over one there), its certificate, stored on the token beside
 * it, and at [signing] cert (PEM, and DER beside it) when that is set.
 */
int kb_keys_generate_token(struct kb_ctx *ctx);
/* KB_KEY_OWN for kbuildd's own key file, KB_KEY_FOREIGN for any other (configured, DKMS's). */
enum kb_key_origin kb_key_origin_of(const char *key_rel);
