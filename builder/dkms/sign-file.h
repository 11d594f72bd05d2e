/* Signing with an admin's program (framework.conf's sign_file), checked like our own. */
#pragma once

#include <stddef.h>

#include <openssl/x509.h>

#include "base/strbuf.h"

/* What DKMS passes the program, and where the setting came from. */
struct kb_sign_program {
	const char *program;	/* host path, run as root */
	const char *hash;	/* the kernel's CONFIG_MODULE_SIG_HASH */
	const char *key, *cert; /* host paths of the pair */
	X509 *cert_x509;	/* the same certificate, loaded: the result must verify with it */
	const char *origin;	/* "FILE:LINE" of sign_file, for messages */
};

/*
 * Run `PROGRAM HASH KEY CERT MODULE` as DKMS does, on a private temporary
 * copy of @mod (without any signature it had), and take the file back
 * only when it is exactly that copy followed by one well-formed module
 * signature that the certificate verifies: a signed module is still
 * exactly what the build produced. @out receives it. A failing program or
 * any other result is -KB_E_INPUT, reported naming @what and the origin.
 */
int kb_sign_external(const struct kb_sign_program *p, const void *mod, size_t len,
		     struct kb_buf *out, const char *what);
