/*
 * Key rotation. Every step is one swap of kbuildd's own keys/ (the key
 * store's), so a kill leaves the step done or not: the pair in use is the
 * old one or the new one, never a key with another's certificate.
 *
 *   keys rotate              keys/next_key.* made (the old pair signs on)
 *   the kernel trusts it     the next pair signs; a rebuild re-signs
 *   (or keys rotate --activate: keys/activated names it)
 *   keys retire              next_key.* become signing_key.*; the old
 *                            certificate stays as retired_key.x509 for
 *                            mokutil --delete
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/x509v3.h>

#include "audit/facts.h"
#include "base/log.h"
#include "base/util.h"
#include "compress.h"
#include "keys.h"
#include "manifest.h"
#include "rotation.h"
#include "signing/keygen.h"
#include "signing/keystore.h"
#include "signing/pkcs11.h"
#include "signing/sign.h"
#include "state.h"

#define NEXT_KEY KB_KEYS_DIR "/" KB_NEXT_KEY_NAME
#define NEXT_CERT KB_KEYS_DIR "/" KB_NEXT_CERT_NAME
#define RETIRED_CERT KB_KEYS_DIR "/" KB_RETIRED_CERT_NAME
#define ACTIVATED KB_KEYS_DIR "/" KB_ACTIVATED_NAME
#define ROTATED_CERT KB_KEYS_DIR "/" KB_ROTATED_CERT_NAME

const char *kb_rotation_trust_words(enum kb_trust t)
{
	return t == KB_TRUST_YES ? "trusted" :
	       t == KB_TRUST_NO	 ? "not trusted" :
				   "not known: /proc/keys cannot be read";
}

/* The kernel names an X.509 key "<subject CN>: <subjectKeyIdentifier hex>". */
static enum kb_trust cert_trust(const struct kb_keyring_set *keys, X509 *x)
{
	const ASN1_OCTET_STRING *skid = X509_get0_subject_key_id(x);
	char cn[256] = "", hex[2 * 64 + 1] = "";

	if (!keys)
		return KB_TRUST_UNCHECKED;
	X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, sizeof(cn));
	for (int i = 0; skid && i < ASN1_STRING_length(skid) && i < 64; i++)
		snprintf(hex + 2 * i, 3, "%02x", ASN1_STRING_get0_data(skid)[i]);
	return kb_key_trusted_for_modules(keys, kb_keyring_find(keys, cn, skid ? hex : NULL)) ?
		       KB_TRUST_YES :
		       KB_TRUST_NO;
}

static void fingerprint(X509 *x, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned len = 0;

	out[0] = '\0';
	if (X509_digest(x, EVP_sha256(), md, &len))
		for (unsigned i = 0; i < len && i < 32; i++)
			snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static int cert_facts(const struct kb_ctx *ctx, const struct kb_keyring_set *keys, const char *rel,
		      char fpr[65], enum kb_trust *trust)
{
	X509 *x;
	int r = kb_cert_load_at(&ctx->root, rel, &x);

	if (r < 0)
		return r;
	fingerprint(x, fpr);
	*trust = cert_trust(keys, x);
	X509_free(x);
	return 0;
}

static const char *skip_slash(const char *p)
{
	return p + strspn(p, "/");
}

/* Which pair comes next: kbuildd.conf's, or the one `keys rotate` made in keys/. */
static int next_pair(const struct kb_ctx *ctx, struct kb_rotation *rot)
{
	const struct kb_settings *st = &ctx->settings;

	if (st->sign_next_key || st->sign_next_cert) {
		if (!st->sign_next_key || !st->sign_next_cert)
			return kb_err(-KB_E_INPUT,
				      "[signing] next_key and next_cert name the new pair together: "
				      "set both, or neither");
		if (!st->sign_key)
			return kb_err(-KB_E_INPUT,
				      "[signing] next_key names the pair that replaces [signing] key, "
				      "which is not set: kbuildd rotates its own key itself ('kbuildd "
				      "keys rotate')");
		rot->configured = true;
		snprintf(rot->next_key, sizeof(rot->next_key), "%s",
			 kb_pkcs11_uri(st->sign_next_key) ? st->sign_next_key :
							    skip_slash(st->sign_next_key));
		snprintf(rot->next_cert, sizeof(rot->next_cert), "%s",
			 skip_slash(st->sign_next_cert));
	} else if (!st->sign_key && !st->sign_cert && kb_root_exists(&ctx->root, NEXT_KEY)) {
		snprintf(rot->next_key, sizeof(rot->next_key), "%s", NEXT_KEY);
		snprintf(rot->next_cert, sizeof(rot->next_cert), "%s", NEXT_CERT);
	}
	rot->pending = rot->next_key[0];
	return 0;
}

/* keys/activated: the fingerprint of the next certificate the admin activated. */
static bool activated(const struct kb_ctx *ctx, const char *fpr)
{
	struct kb_buf b = KB_BUF_INIT_MAX(128);
	bool yes = fpr[0] && kb_root_read(&ctx->root, ACTIVATED, b.max, &b) == 0 &&
		   !strncmp(kb_buf_str(&b), fpr, 64) && (b.len == 64 || b.buf[64] == '\n');

	kb_buf_release(&b);
	return yes;
}

int kb_rotation_read(const struct kb_ctx *ctx, struct kb_rotation *rot)
{
	struct kb_keyring_set keys;
	const struct kb_keyring_set *kp;
	int r;

	memset(rot, 0, sizeof(*rot));
	rot->cur_trust = rot->next_trust = rot->retired_trust = KB_TRUST_UNCHECKED;
	kb_signer_current_paths(ctx, rot->cur_key, rot->cur_cert, sizeof(rot->cur_key), &rot->dkms);
	r = next_pair(ctx, rot);
	if (r < 0)
		return r;
	/* a token key whose certificate is the token's: the copy keys rotate kept */
	if (rot->configured && !rot->cur_cert[0] && kb_root_exists(&ctx->root, ROTATED_CERT))
		snprintf(rot->cur_cert, sizeof(rot->cur_cert), "%s", ROTATED_CERT);
	kp = kb_keyring_read(ctx, &keys) == 0 ? &keys : NULL;
	if (rot->pending) {
		r = cert_facts(ctx, kp, rot->next_cert, rot->next_fpr, &rot->next_trust);
		if (r < 0 && r != -KB_E_INPUT)
			r = kb_err_errno(r, "cannot read the new certificate '/%s'",
					 rot->next_cert);
	}
	if (r >= 0 && rot->cur_cert[0] && kb_root_exists(&ctx->root, rot->cur_cert)) {
		int quiet = kb_log_get_level();

		/* a current pair that is broken is keys show's and doctor's to say */
		kb_log_set_level(KB_LOG_QUIET);
		cert_facts(ctx, kp, rot->cur_cert, rot->cur_fpr, &rot->cur_trust);
		kb_log_set_level((enum kb_log_level)quiet);
	}
	if (r >= 0 && kb_root_exists(&ctx->root, RETIRED_CERT)) {
		char fpr[65];

		rot->retired = cert_facts(ctx, kp, RETIRED_CERT, fpr, &rot->retired_trust) == 0;
	}
	rot->activated = r >= 0 && rot->pending && activated(ctx, rot->next_fpr);
	rot->use_next = r >= 0 && rot->pending &&
			(rot->next_trust == KB_TRUST_YES || rot->activated);
	if (kp)
		kb_keyring_release(&keys);
	return r;
}

char *kb_rotation_der(const struct kb_ctx *ctx, const char *cert_rel, bool dkms)
{
	char rel[600];

	/* DKMS's mok.pub is itself DER; ours have a .der beside them */
	if (snprintf(rel, sizeof(rel), dkms ? "%s" : "%s.der", cert_rel) >= (int)sizeof(rel) ||
	    !kb_root_exists(&ctx->root, rel))
		return NULL;
	return kb_root_path(&ctx->root, rel);
}

void kb_rotation_describe(const struct kb_ctx *ctx, const struct kb_rotation *rot, char *out,
			  size_t size)
{
	_cleanup_free_ char *der = NULL, *old = NULL;
	size_t used = 0;

	out[0] = '\0';
	if (rot->pending) {
		der = kb_rotation_der(ctx, rot->next_cert, false);
		if (!rot->use_next)
			used += (size_t)snprintf(
				out, size,
				"key rotation: the old key signs until the running kernel trusts the "
				"new certificate /%s (now %s): enroll it (mokutil --import %s, or "
				"'kbuildd keys enroll'), reboot, and the next rebuild re-signs; or "
				"'kbuildd keys rotate --activate'\n",
				rot->next_cert, kb_rotation_trust_words(rot->next_trust),
				der ? der : "its DER copy");
		else
			used += (size_t)snprintf(
				out, size,
				"key rotation: the new key /%s signs (%s); after 'kbuildd rebuild "
				"--all' has re-signed every module, 'kbuildd keys retire' drops the "
				"old one\n",
				rot->next_cert,
				rot->next_trust == KB_TRUST_YES ?
					"the running kernel trusts it" :
				rot->next_trust == KB_TRUST_NO ?
					"activated by hand: the running kernel does "
					"not trust it" :
					"activated by hand");
	}
	if (rot->retired && rot->retired_trust != KB_TRUST_NO && used < size) {
		old = kb_root_path(&ctx->root, KB_KEYS_DIR "/" KB_RETIRED_DER_NAME);
		snprintf(out + used, size - used,
			 "retired key: its certificate may still be enrolled (%s by the running "
			 "kernel): mokutil --delete %s\n",
			 kb_rotation_trust_words(rot->retired_trust), old ? old : RETIRED_CERT);
	}
}

/* A new pair in keys/next_key.*; the mark of an earlier one goes with it. */
static int make_next(struct kb_ctx *ctx)
{
	struct kb_buf key = KB_BUF_INIT, cert = KB_BUF_INIT, der = KB_BUF_INIT;
	char cn[80], date[16];
	time_t now = time(NULL);
	struct tm tm;
	int r;

	strftime(date, sizeof(date), "%Y-%m-%d", gmtime_r(&now, &tm) ? &tm : &(struct tm){ 0 });
	/* a name of its own: MokManager and modinfo tell the two keys apart */
	snprintf(cn, sizeof(cn), "kbuildd module signing key %s", date);
	r = kb_keys_make(4096, cn, &key, &cert, &der);
	if (r >= 0) {
		const struct kb_store_file files[] = {
			{ KB_NEXT_KEY_NAME, &key, NULL, 0600 },
			{ KB_NEXT_CERT_NAME, &cert, NULL, 0644 },
			{ KB_NEXT_DER_NAME, &der, NULL, 0644 },
			{ KB_ACTIVATED_NAME, NULL, NULL, 0 },
		};

		r = kb_keystore_update(&ctx->root, files, ARRAY_SIZE(files));
	} else {
		r = kb_err_errno(r, "cannot make a new signing key");
	}
	kb_keys_wipe(&key);
	kb_buf_release(&cert);
	kb_buf_release(&der);
	return r;
}

/*
 * The current key is a token's and its certificate the token's own: keep a
 * copy, so the rotation can tell what the old key signed (and re-sign it,
 * not compile it), and keys retire has the certificate to retire.
 */
static int keep_token_cert(struct kb_ctx *ctx, const struct kb_rotation *rot, const char *pin)
{
	struct kb_buf pem = KB_BUF_INIT, der = KB_BUF_INIT;
	struct kb_token *t;
	EVP_PKEY *key;
	X509 *x = NULL;
	int r;

	if (rot->cur_cert[0] || !kb_pkcs11_uri(rot->cur_key) || ctx->dry_run)
		return 0;
	r = kb_token_open(rot->cur_key, pin, &t, &key, &x);
	if (r < 0)
		return r;
	EVP_PKEY_free(key);
	kb_token_close(t);
	if (!x)
		return kb_err(-KB_E_INPUT, "'%s': the token holds no certificate with the key's id",
			      rot->cur_key);
	r = kb_cert_serialise(x, &pem, &der);
	X509_free(x);
	if (r >= 0) {
		const struct kb_store_file files[] = { { KB_ROTATED_CERT_NAME, &pem, NULL, 0644 } };

		r = kb_keystore_update(&ctx->root, files, ARRAY_SIZE(files));
	}
	kb_buf_release(&pem);
	kb_buf_release(&der);
	return r;
}

/* The configured next pair must be one: its key (a file or a token's) matches its certificate. */
static int check_configured(struct kb_ctx *ctx, const struct kb_rotation *rot)
{
	struct kb_signer s;
	_cleanup_free_ char *cert = kb_root_path(&ctx->root, rot->next_cert);
	_cleanup_free_ char *pin = ctx->settings.sign_pin_file ?
					   kb_root_path(&ctx->root,
							skip_slash(ctx->settings.sign_pin_file)) :
					   NULL;
	int r;

	if (!cert || (ctx->settings.sign_pin_file && !pin))
		return -ENOMEM;
	r = kb_pkcs11_uri(rot->next_key) ?
		    kb_signer_load_token(&s, rot->next_key, cert, pin, "sha256") :
		    kb_signer_load_at(&s, &ctx->root, rot->next_key, rot->next_cert, KB_KEY_FOREIGN,
				      "sha256");
	if (r >= 0)
		kb_signer_release(&s);
	return r < 0 ? r : keep_token_cert(ctx, rot, pin);
}

int kb_rotation_start(struct kb_ctx *ctx)
{
	struct kb_rotation rot;
	int r = kb_rotation_read(ctx, &rot);

	if (r < 0)
		return r;
	if (rot.configured)
		return check_configured(ctx, &rot);
	if (ctx->settings.sign_key || ctx->settings.sign_cert)
		return kb_err(-KB_E_INPUT,
			      "the signing pair is kbuildd.conf's ([signing] key and cert): name the "
			      "new pair there as [signing] next_key and next_cert, then run "
			      "'kbuildd keys rotate' again");
	if (rot.pending && !ctx->force)
		return kb_err(-KB_E_INPUT,
			      "a key rotation is under way: the new key /%s waits (%s by the "
			      "running kernel); finish it ('kbuildd keys rotate --activate', "
			      "'kbuildd keys retire'), or --force makes another new key",
			      rot.next_key, kb_rotation_trust_words(rot.next_trust));
	if (rot.pending && rot.use_next)
		return kb_err(-KB_E_INPUT,
			      "the new key /%s already signs: 'kbuildd keys retire' ends this "
			      "rotation before another can start",
			      rot.next_key);
	if (!kb_root_exists(&ctx->root, rot.cur_key))
		return kb_err(-KB_E_INPUT,
			      "there is no signing key to rotate ('/%s' does not exist): 'kbuildd "
			      "keys generate' makes the first",
			      rot.cur_key);
	if (ctx->dry_run) {
		kb_info("would make /%s and /%s", NEXT_KEY, NEXT_CERT);
		return 0;
	}
	return make_next(ctx);
}

int kb_rotation_activate(struct kb_ctx *ctx)
{
	struct kb_rotation rot;
	struct kb_buf mark = KB_BUF_INIT;
	int r = kb_rotation_read(ctx, &rot);

	if (r < 0)
		return r;
	if (!rot.pending)
		return kb_err(-KB_E_INPUT,
			      "no key rotation is under way: 'kbuildd keys rotate' starts one");
	if (rot.next_trust == KB_TRUST_NO && !ctx->force)
		return kb_err(-KB_E_INPUT,
			      "the running kernel does not trust the new certificate /%s (it is not "
			      "among its keys in /proc/keys): modules signed with it would fail to "
			      "load, or taint the kernel. Enroll it first ('kbuildd keys enroll', "
			      "then reboot), or --force activates it anyway",
			      rot.next_cert);
	if (rot.activated)
		return 0;
	if (ctx->dry_run) {
		kb_info("would sign with /%s from now on", rot.next_cert);
		return 0;
	}
	kb_buf_addf(&mark, "%s\n", rot.next_fpr);
	{
		const struct kb_store_file files[] = { { KB_ACTIVATED_NAME, &mark, NULL, 0644 } };

		r = kb_buf_error(&mark) ?: kb_keystore_update(&ctx->root, files, 1);
	}
	kb_buf_release(&mark);
	return r;
}

/* Is an installed module of @kernel still signed by @old? The first one's path in @first. */
static unsigned signed_by_in(struct kb_ctx *ctx, const char *kernel, X509 *old, char *first,
			     size_t size)
{
	struct kb_manifest_set set = { 0 };
	unsigned n = 0;

	if (kb_manifest_read_all(ctx, kernel, &set) < 0)
		return 0;
	for (size_t i = 0; i < set.n; i++)
		for (size_t j = 0; j < set.v[i].n; j++) {
			const char *rel = set.v[i].files[j].path;
			_cleanup_free_ char *host = kb_root_path(&ctx->root, rel);
			struct kb_buf image = KB_BUF_INIT_MAX(KB_MAX_MODULE_SIZE);
			struct kb_sig_report rep;

			if (host && strstr(rel, ".ko") && kb_decompress_file(host, &image) >= 0 &&
			    kb_verify_module(image.buf, image.len, old, &rep, host) >= 0 &&
			    rep.valid && n++ == 0)
				snprintf(first, size, "/%s", rel);
			kb_buf_release(&image);
		}
	kb_manifest_set_release(&set);
	return n;
}

static unsigned signed_by(struct kb_ctx *ctx, X509 *old, char *first, size_t size)
{
	struct kb_strv kernels = KB_STRV_INIT;
	unsigned n = 0;
	int quiet = kb_log_get_level();

	kb_log_set_level(KB_LOG_QUIET); /* damaged files are status --check's */
	if (kb_root_list(&ctx->root, KB_STATE_DIR "/installed", &kernels) >= 0)
		for (size_t i = 0; i < kernels.n; i++)
			n += signed_by_in(ctx, kernels.v[i], old, first, size);
	kb_log_set_level((enum kb_log_level)quiet);
	kb_strv_clear(&kernels);
	return n;
}

/* The swap that ends an own rotation: next_key.* become signing_key.*. */
static int promote(struct kb_ctx *ctx, const struct kb_buf *pem, const struct kb_buf *der)
{
	const struct kb_store_file files[] = {
		{ "signing_key.pem", NULL, KB_NEXT_KEY_NAME, 0600 },
		{ "signing_key.x509", NULL, KB_NEXT_CERT_NAME, 0644 },
		{ "signing_key.x509.der", NULL, KB_NEXT_DER_NAME, 0644 },
		{ KB_NEXT_KEY_NAME, NULL, NULL, 0 },
		{ KB_NEXT_CERT_NAME, NULL, NULL, 0 },
		{ KB_NEXT_DER_NAME, NULL, NULL, 0 },
		{ KB_ACTIVATED_NAME, NULL, NULL, 0 },
		{ KB_RETIRED_CERT_NAME, pem->len ? pem : NULL, NULL, 0644 },
		{ KB_RETIRED_DER_NAME, der->len ? der : NULL, NULL, 0644 },
	};

	return kb_keystore_update(&ctx->root, files, ARRAY_SIZE(files));
}

int kb_rotation_retire(struct kb_ctx *ctx)
{
	struct kb_rotation rot;
	struct kb_buf pem = KB_BUF_INIT, der = KB_BUF_INIT;
	char first[4096] = "";
	X509 *old = NULL;
	unsigned n = 0;
	int r = kb_rotation_read(ctx, &rot);

	if (r < 0)
		return r;
	if (!rot.pending)
		return kb_err(-KB_E_INPUT, "no key rotation is under way: nothing to retire");
	if (!rot.use_next)
		return kb_err(-KB_E_INPUT,
			      "the old key still signs: the running kernel does not trust the new "
			      "certificate /%s yet (%s). Enroll it and reboot, or 'kbuildd keys "
			      "rotate --activate', then 'kbuildd rebuild --all'",
			      rot.next_cert, kb_rotation_trust_words(rot.next_trust));
	if (rot.cur_cert[0] && kb_root_exists(&ctx->root, rot.cur_cert) &&
	    (r = kb_cert_load_at(&ctx->root, rot.cur_cert, &old)) < 0)
		return r;
	if (old)
		n = signed_by(ctx, old, first, sizeof(first));
	if (n && !ctx->force) {
		X509_free(old);
		return kb_err(-KB_E_INPUT,
			      "%u installed module%s still signed with the old key (%s%s): "
			      "'kbuildd rebuild --all' re-signs them; --force retires it anyway",
			      n, n == 1 ? " is" : "s are", first, n > 1 ? ", ..." : "");
	}
	r = old ? kb_cert_serialise(old, &pem, &der) : 0;
	X509_free(old);
	if (r >= 0 && ctx->dry_run)
		kb_info("would retire /%s", rot.cur_cert);
	else if (r >= 0 && rot.configured) {
		const struct kb_store_file files[] = {
			{ KB_RETIRED_CERT_NAME, pem.len ? &pem : NULL, NULL, 0644 },
			{ KB_RETIRED_DER_NAME, der.len ? &der : NULL, NULL, 0644 },
			{ KB_ROTATED_CERT_NAME, NULL, NULL, 0 },
		};

		r = kb_keystore_update(&ctx->root, files, ARRAY_SIZE(files));
	} else if (r >= 0) {
		r = promote(ctx, &pem, &der);
	}
	kb_buf_release(&pem);
	kb_buf_release(&der);
	return r;
}
