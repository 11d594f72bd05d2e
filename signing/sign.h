/* Module signing and verification in the kernel's format (scripts/sign-file), with OpenSSL 3. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "base/strbuf.h"
#include "signing/keyfile.h"

struct kb_token;

struct kb_signer {
	EVP_PKEY *key;
	struct kb_token *token; /* the key is a token's (pkcs11.h), or NULL */
	X509 *cert;
	const EVP_MD *md;
	char hash[32];
	char key_path[512], cert_path[512]; /* for messages */
};

/*
 * Load a private key (PEM or DER; passphrase from KBUILD_SIGN_PIN) and a
 * certificate (PEM or DER) from host paths the user named, check they
 * belong together and that @hash is a digest OpenSSL knows. Every failure
 * is bad input (-KB_E_INPUT) with a message naming the file. Release with
 * kb_signer_release().
 */
int kb_signer_load(struct kb_signer *s, const char *key_path, const char *cert_path,
		   const char *hash);
/*
 * The same for a token key (@key_uri "pkcs11:...", see pkcs11.h): the
 * certificate from @cert_path (a host path), or the token's own when
 * @cert_path is NULL; @pin_file (host path) may be NULL.
 */
int kb_signer_load_token(struct kb_signer *s, const char *key_uri, const char *cert_path,
			 const char *pin_file, const char *hash);
/* The same for a key and certificate inside the root, read as kb_key_load_at() reads them. */
int kb_signer_load_at(struct kb_signer *s, const struct kb_root *root, const char *key_rel,
		      const char *cert_rel, enum kb_key_origin origin, const char *hash);
void kb_signer_release(struct kb_signer *s);
/* Use digest @hash from now on; -KB_E_INPUT if OpenSSL does not know it. */
int kb_signer_set_hash(struct kb_signer *s, const char *hash);
/* The last OpenSSL error as text, for messages; clears OpenSSL's error queue. */
const char *kb_ssl_error(char *buf, size_t size);
/* SHA-256 fingerprint of the certificate (hex), for build ids. */
void kb_signer_fingerprint(const struct kb_signer *s, char out[65]);

/*
 * Sign a module image: any existing signature is dropped first (re-signing
 * replaces, never stacks), then the detached CMS blob, struct
 * module_signature and the magic are appended. @out receives the result.
 * A non-ELF image is -KB_E_INPUT.
 */
int kb_sign_module(const struct kb_signer *s, const void *mod, size_t len, struct kb_buf *out,
		   const char *what);

struct kb_sig_report {
	bool signed_;
	char signer[256]; /* issuer CN, as modinfo shows it */
	char key_id[256]; /* serial number as AA:BB:.., as modinfo's sig_key */
	char hash[32];
	bool checked;	 /* a certificate was given */
	bool valid;	 /* the signature verifies with it */
	char error[256]; /* why it did not verify */
};

/*
 * Describe the signature of a module image and, when @cert is given,
 * verify it. A damaged trailer or blob is -KB_E_INPUT.
 */
int kb_verify_module(const void *mod, size_t len, X509 *cert, struct kb_sig_report *rep,
		     const char *what);
