/* Detached CMS signatures over a byte string: what a build cache's artifacts carry. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <openssl/x509.h>

#include "base/strbuf.h"
#include "signing/sign.h"

/*
 * Sign @data with @s's key (SHA-256, the signer's certificate left out: the
 * verifier must already trust it) into @der, a detached CMS SignedData.
 * 0, or -KB_E_INPUT (said) when OpenSSL refuses.
 */
int kb_cms_sign(const struct kb_signer *s, const void *data, size_t len, struct kb_buf *der);

/*
 * Does @der, a detached CMS SignedData, sign @data with the key of one of
 * @trust's certificates? Only those certificates are tried: one the
 * signature carries is ignored. 1 with the signer's subject in @who, 0
 * with the reason in @why, -EBADMSG (@why too) when @der is no CMS
 * structure at all, or another negative errno.
 */
int kb_cms_verify(const void *data, size_t len, const void *der, size_t der_len,
		  STACK_OF(X509) * trust, char *who, size_t who_size, char *why, size_t why_size);

/*
 * Every certificate (PEM) in the file at host path @path into *@out (the
 * caller frees it with sk_X509_pop_free(..., X509_free)). A file with none,
 * or one that cannot be read, is -KB_E_INPUT, said with the file's name.
 */
int kb_certs_load(const char *path, STACK_OF(X509) * *out);

/* The certificate's subject CN (or its whole subject) into @out. */
void kb_cert_name(X509 *cert, char *out, size_t size);
