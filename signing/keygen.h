/* Signing keys: generate an RSA key and an X.509 certificate fit for MOK enrollment. */
#pragma once

#include <openssl/x509.h>

#include "base/path.h"
#include "base/strbuf.h"

/*
 * Make a new RSA key (@bits) and its self-signed certificate and put them
 * in place as @key_rel (PEM, mode 0600, created O_EXCL|O_NOFOLLOW),
 * @cert_rel (PEM) and @cert_rel".der" (DER, for `mokutil --import`),
 * replacing any pair there in one step (kb_keystore_replace()). The
 * certificate carries digitalSignature, the codeSigning and module-signing
 * EKUs, CA:FALSE and a subjectKeyIdentifier.
 */
int kb_keys_generate(const struct kb_root *root, const char *key_rel, const char *cert_rel,
		     unsigned bits, const char *common_name);
/* The same with @cert_rel in DER too, as DKMS keeps its mok.pub. */
int kb_keys_generate_der(const struct kb_root *root, const char *key_rel, const char *cert_rel,
			 unsigned bits, const char *common_name);
/*
 * The same key and certificate, only made: the private key as PEM in
 * @key_pem (wipe it with kb_keys_wipe()), the certificate as PEM and DER.
 */
int kb_keys_make(unsigned bits, const char *common_name, struct kb_buf *key_pem,
		 struct kb_buf *cert_pem, struct kb_buf *cert_der);
void kb_keys_wipe(struct kb_buf *key_pem);
/* The self-signed certificate for @key (which may be a token's), as kb_keys_generate() makes it. */
X509 *kb_keys_make_cert(EVP_PKEY *key, const char *cn);
/* @cert appended to @pem as PEM and to @der as DER: 0, or a negative errno. */
int kb_cert_serialise(X509 *cert, struct kb_buf *pem, struct kb_buf *der);
