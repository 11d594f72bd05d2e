/*
 * Signing keys that never leave a PKCS#11 token (an HSM, a smart card,
 * SoftHSM), named by an RFC 7512 URI as the kernel's sign-file takes them,
 * used through libp11: the key is an EVP_PKEY whose operations the token
 * performs; its private part never exists in kbuildd's memory or a file.
 */
#pragma once

#include <stdbool.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

struct kb_token;

/* Does @s name a token key ("pkcs11:...")? */
bool kb_pkcs11_uri(const char *s);

/*
 * Open the token @uri names (token, manufacturer, model, serial), log in
 * once with the PIN (KBUILD_SIGN_PIN, else the URI's pin-value or
 * pin-source, else @pin_file: a host path, 0600 or stricter), and find the
 * private key (object, id); *@cert receives the token's certificate with
 * that key's id when @cert is given and one is there (else NULL). The
 * module is the URI's module-path, else p11-kit's proxy. Every failure is
 * -KB_E_INPUT, said naming the URI; no second PIN attempt is made. Close
 * with kb_token_close() after the key is freed.
 */
int kb_token_open(const char *uri, const char *pin_file, struct kb_token **t, EVP_PKEY **key,
		  X509 **cert);
/*
 * kb_token_open() without a certificate, but when the token holds no key
 * the URI names, an RSA key of @bits is made there first (the URI's object
 * is its label, its id the URI's or random); *@generated says if it was.
 */
int kb_token_open_or_generate(const char *uri, const char *pin_file, unsigned bits,
			      struct kb_token **t, EVP_PKEY **key, bool *generated);
/* Store @cert on the token beside the key that was opened, with its label and id. */
int kb_token_store_cert(struct kb_token *t, X509 *cert, const char *uri);
void kb_token_close(struct kb_token *t);
