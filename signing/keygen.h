/* Signing keys: generate an RSA key and an X.509 certificate fit for MOK enrollment. */
#pragma once

#include "base/path.h"

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
