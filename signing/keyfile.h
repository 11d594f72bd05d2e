/* Reading signing keys and certificates: no final symlink, regular files only, secrets wiped. */
#pragma once

#include <stdbool.h>
#include <time.h>

#include <stddef.h>
#include <sys/stat.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "base/path.h"

/* Whose key file it is, which decides how its permissions are judged. */
enum kb_key_origin {
	KB_KEY_OWN,	/* kbuildd generated it: 0600 and ours, or refused */
	KB_KEY_FOREIGN, /* [signing] key or DKMS's: wider access is warned about */
	KB_KEY_ANY,	/* not kbuildd's to judge: a path the user named, a certificate */
};

/* A whole key or certificate file in memory; kb_keyfile_release() wipes it. */
struct kb_keyfile {
	unsigned char *data; /* NUL-terminated */
	size_t len;
	struct stat st;
};

/*
 * Read @rel inside the root, opened O_NOFOLLOW|O_NONBLOCK (a FIFO cannot
 * hang it): a symlink, anything but a regular file, or a file larger than
 * @max is refused. Failures are -KB_E_INPUT with a message naming @what
 * ("key", "certificate") and the file.
 */
int kb_keyfile_read_at(const struct kb_root *root, const char *rel, const char *what, size_t max,
		       struct kb_keyfile *f);
void kb_keyfile_release(struct kb_keyfile *f);

/*
 * Load the private key @rel inside the root (PEM or DER; passphrase from
 * KBUILD_SIGN_PIN), read as kb_keyfile_read_at() does and parsed from
 * memory. A KB_KEY_OWN key open to group or others, or owned by another
 * user, is refused; a KB_KEY_FOREIGN one is warned about. The caller frees
 * *@key. Failures are -KB_E_INPUT with a message naming the file.
 */
int kb_key_load_at(const struct kb_root *root, const char *rel, enum kb_key_origin origin,
		   EVP_PKEY **key);
/* The same for a host path the user named (kbuildd sign): its permissions are the user's. */
int kb_key_load(const char *path, EVP_PKEY **key);

/* A certificate (PEM or DER) inside the root, read like a key; the caller frees *@cert. */
int kb_cert_load_at(const struct kb_root *root, const char *rel, X509 **cert);
/*
 * When certificate @x ends (*@not_after) and how many whole days from @now
 * that is: negative once it has ended. False when it names no usable date.
 */
bool kb_cert_end(X509 *x, time_t now, time_t *not_after, long *days);
/* A certificate at a host path the user named (verify --cert, sign). */
int kb_cert_load(const char *path, X509 **cert);
