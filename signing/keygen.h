/* Signing keys: generate an RSA key and an X.509 certificate fit for MOK enrollment. */
#pragma once

#include "path.h"

/*
 * Write a new RSA key (@bits, PEM, mode 0600, created O_EXCL|O_NOFOLLOW)
 * to @key_rel and its self-signed certificate (PEM) to @cert_rel, plus a
 * DER copy at @cert_rel with ".der" appended, for `mokutil --import`. The
 * certificate carries digitalSignature, the codeSigning and module-signing
 * EKUs, CA:FALSE and a subjectKeyIdentifier. -EEXIST if the key exists.
 */
int kb_keys_generate(const struct kb_root *root, const char *key_rel, const char *cert_rel,
		     unsigned bits, const char *common_name);
