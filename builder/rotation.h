/*
 * Replacing the signing key with no moment where an installed module is
 * signed by a key the running kernel does not trust: the new pair waits
 * beside the old one until the kernel trusts it (/proc/keys) or the admin
 * activates it, and the old one goes only when nothing is signed with it.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "audit/audit.h"
#include "ctx.h"

/* In kbuildd's own keys/ (the key store's): the next pair, the retired certificate, the mark. */
#define KB_NEXT_KEY_NAME "next_key.pem"
#define KB_NEXT_CERT_NAME "next_key.x509"
#define KB_NEXT_DER_NAME "next_key.x509.der"
#define KB_RETIRED_CERT_NAME "retired_key.x509"
#define KB_RETIRED_DER_NAME "retired_key.x509.der"
#define KB_ACTIVATED_NAME "activated"
/* a token key's own certificate, kept at keys rotate when no [signing] cert names it */
#define KB_ROTATED_CERT_NAME "rotated_key.x509"

struct kb_rotation {
	bool pending;	 /* a next pair waits: keys/next_key.*, or [signing] next_key */
	bool configured; /* it is kbuildd.conf's [signing] next_key and next_cert */
	bool dkms;	 /* the current pair is DKMS's mok.key */
	char cur_key[512], cur_cert[512];    /* inside the root */
	char next_key[512], next_cert[512];  /* inside the root; next_key may be a pkcs11: URI */
	char cur_fpr[65], next_fpr[65];	     /* certificates' sha256, "" when not read */
	enum kb_trust cur_trust, next_trust; /* YES, NO or UNCHECKED: by the running kernel */
	bool activated;			     /* `keys rotate --activate` named this next pair */
	bool use_next;			     /* the next pair signs */
	bool retired; /* a retired certificate waits to be deleted from MOK */
	enum kb_trust retired_trust;
};

/*
 * Where the rotation stands. 0, or -KB_E_INPUT with a message when the
 * next pair is named but unusable (one of next_key/next_cert alone, a
 * certificate that does not load).
 */
int kb_rotation_read(const struct kb_ctx *ctx, struct kb_rotation *rot);
/* "trusted", "not trusted", "not known: ..." */
const char *kb_rotation_trust_words(enum kb_trust t);
/* The pair kbuildd uses when no rotation is under way (keys.c's choice), inside the root. */
void kb_signer_current_paths(const struct kb_ctx *ctx, char *key, char *cert, size_t size,
			     bool *dkms);

/* keys rotate: make the next pair (or check the configured one) and say what comes next. */
int kb_rotation_start(struct kb_ctx *ctx);
/* keys rotate --activate: the next pair signs from now on; refused if the kernel distrusts it. */
int kb_rotation_activate(struct kb_ctx *ctx);
/* keys retire: the next pair becomes the pair; the old certificate is kept for mokutil --delete. */
int kb_rotation_retire(struct kb_ctx *ctx);
/* A line for each step the admin has to take, for keys show, status and doctor ("" none). */
void kb_rotation_describe(const struct kb_ctx *ctx, const struct kb_rotation *rot, char *out,
			  size_t size);
/* The DER certificate to enroll (or delete) for @cert_rel, as a host path; NULL without one. */
char *kb_rotation_der(const struct kb_ctx *ctx, const char *cert_rel, bool dkms);
