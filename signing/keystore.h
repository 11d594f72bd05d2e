/* Replacing the signing key pair in one step, and finishing or rolling back a torn one. */
#pragma once

#include <sys/types.h>

#include "base/path.h"
#include "base/strbuf.h"

/*
 * kbuildd's own key pair, relative to the root's state directory
 * (kb_root_open()): its keys/ is the store's, replaced whole.
 */
#define KB_OWN_KEY_IN_STATE "keys/signing_key.pem"
#define KB_OWN_CERT_IN_STATE "keys/signing_key.x509"

/* A new key pair's files, in memory; the caller wipes the key. */
struct kb_keypair {
	const struct kb_buf *key;  /* private key, PEM */
	const struct kb_buf *cert; /* certificate, PEM */
	const struct kb_buf *der;  /* the same certificate, DER, for mokutil */
};

/*
 * Put @pair in place as @key_rel (0600), @cert_rel and @cert_rel".der",
 * replacing any pair there, so that a kill at any point leaves the old
 * pair or the new one once kb_keys_recover() has run. kbuildd's own keys/
 * is written whole beside itself and swapped in with one RENAME_EXCHANGE
 * (other files in it are carried over), so even a reader that does not
 * recover sees one pair. A pair configured elsewhere is staged beside its
 * targets and renamed into place once a commit mark is down. 0, or a
 * negative errno or -KB_E_INPUT with a message.
 */
int kb_keystore_replace(const struct kb_root *root, const char *key_rel, const char *cert_rel,
			const struct kb_keypair *pair);

/*
 * One file of kbuildd's own keys/ in a kb_keystore_update(): new bytes
 * (@data, written with @mode), or the old keys/'s file @from linked under
 * this name, or neither: dropped.
 */
struct kb_store_file {
	const char *name;
	const struct kb_buf *data;
	const char *from;
	mode_t mode;
};

/*
 * Make kbuildd's own keys/ what it was with @files changed, every file not
 * listed carried over, in one swap as kb_keystore_replace() does: a kill
 * at any point leaves the old keys/ or the new one. 0, or a negative
 * errno or -KB_E_INPUT with a message.
 */
int kb_keystore_update(const struct kb_root *root, const struct kb_store_file *files, size_t n);

/*
 * Run first by kb_state_recover(): a staging directory left by a killed
 * replacement is removed, after finishing the renames when it was already
 * committed. Returns how many leftovers were cleaned; never fails.
 */
unsigned kb_keys_recover(const struct kb_root *root);

/* status --check: one "check:" line on stdout per staging directory left; how many. */
unsigned kb_keystore_check(const struct kb_root *root, void (*report)(void *data, const char *msg),
			   void *data);
