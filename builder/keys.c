/* Which signing key kbuildd uses: configured, its own, DKMS's, or a new one. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/x509.h>

#include "base/atomic.h"
#include "base/limits.h"
#include "base/log.h"
#include "base/util.h"
#include "keys.h"
#include "rotation.h"
#include "sign-choice.h"
#include "signing/keygen.h"
#include "signing/keystore.h"
#include "signing/pkcs11.h"
#include "signing/sign.h"
#include "state.h"

#define DKMS_KEY "var/lib/dkms/mok.key"
#define DKMS_CERT "var/lib/dkms/mok.pub"

static const char *skip_slash(const char *p)
{
	while (*p == '/')
		p++;
	return p;
}

void kb_signer_current_paths(const struct kb_ctx *ctx, char *key, char *cert, size_t size,
			     bool *dkms)
{
	const struct kb_settings *st = &ctx->settings;

	*dkms = false;
	if (st->sign_key || st->sign_cert) {
		snprintf(key, size, "%s", skip_slash(st->sign_key ? st->sign_key : KB_OWN_KEY));
		/* a token's key without [signing] cert: its certificate is the token's */
		snprintf(cert, size, "%s",
			 st->sign_cert		     ? skip_slash(st->sign_cert) :
			 kb_pkcs11_uri(st->sign_key) ? "" :
						       KB_OWN_CERT);
		return;
	}
	if (!kb_root_exists(&ctx->root, KB_OWN_KEY) && kb_root_exists(&ctx->root, DKMS_KEY) &&
	    kb_root_exists(&ctx->root, DKMS_CERT)) {
		/* keep using what the machine already enrolled for DKMS */
		snprintf(key, size, "%s", DKMS_KEY);
		snprintf(cert, size, "%s", DKMS_CERT);
		*dkms = true;
		return;
	}
	snprintf(key, size, "%s", KB_OWN_KEY);
	snprintf(cert, size, "%s", KB_OWN_CERT);
}

void kb_signer_paths(const struct kb_ctx *ctx, char *key, char *cert, size_t size, bool *dkms)
{
	struct kb_rotation rot;
	int quiet = kb_log_get_level();
	bool next;

	/* a broken next pair is said by whatever signs, not by every caller of this */
	kb_log_set_level(KB_LOG_QUIET);
	next = kb_rotation_read(ctx, &rot) == 0 && rot.use_next;
	kb_log_set_level((enum kb_log_level)quiet);
	if (!next) {
		kb_signer_current_paths(ctx, key, cert, size, dkms);
		return;
	}
	*dkms = false;
	snprintf(key, size, "%s", rot.next_key);
	snprintf(cert, size, "%s", rot.next_cert);
}

int kb_signer_set_hash(struct kb_signer *s, const char *hash)
{
	const EVP_MD *md = EVP_get_digestbyname(hash);

	if (!md)
		return kb_err(-KB_E_INPUT, "unknown signature hash '%s'", hash);
	s->md = md;
	snprintf(s->hash, sizeof(s->hash), "%s", hash);
	return 0;
}

enum kb_key_origin kb_key_origin_of(const char *key_rel)
{
	key_rel = skip_slash(key_rel);
	return !strcmp(key_rel, KB_OWN_KEY) || !strcmp(key_rel, KB_KEYS_DIR "/" KB_NEXT_KEY_NAME) ?
		       KB_KEY_OWN :
		       KB_KEY_FOREIGN;
}

/* A key on a token (@uri): the token signs, with @cert_rel from the root, or the token's own. */
static int token_setup(struct kb_ctx *ctx, struct kb_signer *s, const char *uri,
		       const char *cert_rel)
{
	const struct kb_settings *st = &ctx->settings;
	_cleanup_free_ char *cert = NULL, *pin = NULL;

	cert = cert_rel ? kb_root_path(&ctx->root, skip_slash(cert_rel)) : NULL;
	pin = st->sign_pin_file ? kb_root_path(&ctx->root, skip_slash(st->sign_pin_file)) : NULL;
	if ((cert_rel && !cert) || (st->sign_pin_file && !pin))
		return -ENOMEM;
	return kb_signer_load_token(s, uri, cert, pin, "sha256");
}

/* The pair in use, when a rotation has made it the next one: 1 with @s loaded, else 0. */
static int rotation_setup(struct kb_ctx *ctx, struct kb_signer *s)
{
	struct kb_rotation rot;
	int r = kb_rotation_read(ctx, &rot);

	if (r < 0 || !rot.use_next)
		return r;
	kb_verbose("key rotation: signing with the new key /%s (%s)", rot.next_cert,
		   rot.activated ? "activated" : "the running kernel trusts it");
	r = kb_pkcs11_uri(rot.next_key) ?
		    token_setup(ctx, s, rot.next_key, rot.next_cert) :
		    kb_signer_load_at(s, &ctx->root, rot.next_key, rot.next_cert,
				      kb_key_origin_of(rot.next_key), "sha256");
	return r < 0 ? r : 1;
}

int kb_signer_setup(struct kb_ctx *ctx, struct kb_signer *s, bool generate)
{
	char key[512], cert[512];
	bool dkms;
	int r;

	r = rotation_setup(ctx, s);
	if (r != 0)
		return r;
	if (kb_pkcs11_uri(ctx->settings.sign_key)) {
		r = token_setup(ctx, s, ctx->settings.sign_key, ctx->settings.sign_cert);
		return r < 0 ? r : 1;
	}
	kb_signer_current_paths(ctx, key, cert, sizeof(key), &dkms);
	if (!kb_root_exists(&ctx->root, key)) {
		if (!generate || ctx->settings.sign_key)
			return ctx->settings.sign_key ?
				       kb_err(-KB_E_INPUT,
					      "signing key '/%s' (from [signing] key) does not "
					      "exist",
					      key) :
				       0;
		r = kb_keys_generate(&ctx->root, key, cert, 4096, "kbuildd module signing key");
		if (r < 0) /* bad input was said where it was found */
			return r == -KB_E_INPUT ?
				       r :
				       kb_err_errno(r, "cannot generate a signing key at '/%s'",
						    key);
		kb_info("generated a signing key: /%s; enroll its certificate with 'kbuildd keys "
			"enroll' so the kernel trusts it",
			key);
	}
	r = kb_signer_load_at(s, &ctx->root, key, cert, kb_key_origin_of(key), "sha256");
	if (r < 0)
		return r;
	if (dkms)
		kb_verbose("signing with the DKMS key /%s", key);
	return 1;
}

/* The DER copy beside a certificate is what gets enrolled: it must be the same one. */
static int check_der(struct kb_ctx *ctx, const char *cert_rel, X509 *cert)
{
	struct kb_keyfile der;
	unsigned char *mine = NULL;
	char rel[600];
	int len, r;

	if (kb_pathf(rel, sizeof(rel), "%s.der", cert_rel) < 0 || !kb_root_exists(&ctx->root, rel))
		return 0;
	r = kb_keyfile_read_at(&ctx->root, rel, "certificate", KB_MAX_CERT_FILE, &der);
	if (r < 0)
		return r;
	len = i2d_X509(cert, &mine);
	if (len < 0)
		r = -ENOMEM;
	else if ((size_t)len != der.len || memcmp(mine, der.data, der.len))
		r = kb_err(-KB_E_INPUT,
			   "certificate '/%s' is not the one in '/%s': enrolling it "
			   "would trust another key",
			   rel, cert_rel);
	OPENSSL_free(mine);
	kb_keyfile_release(&der);
	return r;
}

int kb_signer_check(struct kb_ctx *ctx)
{
	struct kb_signer s;
	char key[512], cert[512];
	bool dkms;
	int r;

	r = rotation_setup(ctx, &s);
	if (r == 0 && kb_pkcs11_uri(ctx->settings.sign_key))
		r = token_setup(ctx, &s, ctx->settings.sign_key, ctx->settings.sign_cert) ?: 1;
	if (r != 0) {
		if (r > 0)
			kb_signer_release(&s);
		return r < 0 ? r : 0;
	}
	kb_signer_current_paths(ctx, key, cert, sizeof(key), &dkms);
	if (!kb_root_exists(&ctx->root, key))
		return 0;
	r = kb_signer_load_at(&s, &ctx->root, key, cert, kb_key_origin_of(key), "sha256");
	/* DKMS's mok.pub is itself the DER certificate */
	if (r >= 0 && !dkms)
		r = check_der(ctx, cert, s.cert);
	kb_signer_release(&s);
	return r;
}

unsigned kb_keys_check(struct kb_ctx *ctx, void (*report)(void *data, const char *msg), void *data)
{
	unsigned problems = kb_keystore_check(&ctx->root, report, data);
	char key[512], cert[512];
	bool dkms;

	if (kb_signer_check(ctx) < 0) {
		struct kb_buf msg = KB_BUF_INIT;

		kb_signer_paths(ctx, key, cert, sizeof(key), &dkms);
		kb_buf_addf(&msg,
			    "signing key '/%s' with certificate '/%s' is not a sound pair (the "
			    "error above says why)",
			    key, cert);
		report(data, kb_buf_str(&msg));
		kb_buf_release(&msg);
		problems++;
	}
	return problems;
}

int kb_cert_expiry_note(const struct kb_ctx *ctx, X509 *x, const char *name, char *out, size_t size)
{
	time_t end;
	long days;
	char date[32];
	struct tm tm;

	if (!kb_cert_end(x, time(NULL), &end, &days) || days > (long)ctx->settings.cert_warn_days ||
	    !gmtime_r(&end, &tm))
		return 0;
	strftime(date, sizeof(date), "%Y-%m-%d", &tm);
	if (days < 0)
		snprintf(out, size,
			 "signing certificate %s expired on %s; the kernel does not check expiry, "
			 "but policy tools and firmware may: make a new key and enroll it",
			 name, date);
	else
		snprintf(out, size,
			 "signing certificate %s expires on %s, in %ld day%s; the kernel does not "
			 "check expiry, but policy tools and firmware may",
			 name, date, days, days == 1 ? "" : "s");
	return days < 0 ? 2 : 1;
}

void kb_signing_warn_expiry(const struct kb_ctx *ctx, const struct kb_signing *set)
{
	char note[1024];

	for (size_t i = 0; i < set->nr_signers; i++)
		if (set->signers[i] && set->signers[i]->cert &&
		    kb_cert_expiry_note(ctx, set->signers[i]->cert, set->signers[i]->cert_path,
					note, sizeof(note)))
			kb_warn("%s", note);
}

/* The token's new certificate at [signing] cert (PEM) and beside it as DER, for mokutil. */
static int write_cert_files(struct kb_ctx *ctx, const char *cert_rel, X509 *x)
{
	struct kb_buf pem = KB_BUF_INIT, der = KB_BUF_INIT;
	char rel[600], dir[600], *slash;
	int r = kb_cert_serialise(x, &pem, &der);

	cert_rel = skip_slash(cert_rel);
	snprintf(dir, sizeof(dir), "%s", cert_rel);
	slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	if (r >= 0 && slash)
		r = kb_mkdirs(&ctx->root, dir, 0755);
	if (r >= 0)
		r = kb_atomic_write_buf(&ctx->root, cert_rel, &pem, 0644);
	if (r >= 0 && kb_pathf(rel, sizeof(rel), "%s.der", cert_rel) == 0)
		r = kb_atomic_write_buf(&ctx->root, rel, &der, 0644);
	kb_buf_release(&pem);
	kb_buf_release(&der);
	return r < 0 && r != -KB_E_INPUT ? kb_err_errno(r, "cannot write '/%s'", cert_rel) : r;
}

int kb_keys_generate_token(struct kb_ctx *ctx)
{
	const struct kb_settings *st = &ctx->settings;
	_cleanup_free_ char *pin = NULL;
	struct kb_token *t;
	EVP_PKEY *key;
	X509 *x = NULL;
	char why[256];
	bool made;
	int r;

	if (ctx->dry_run) {
		kb_info("would make the key '%s' on its token", st->sign_key);
		return 0;
	}
	pin = st->sign_pin_file ? kb_root_path(&ctx->root, skip_slash(st->sign_pin_file)) : NULL;
	if (st->sign_pin_file && !pin)
		return -ENOMEM;
	r = kb_token_open_or_generate(st->sign_key, pin, 4096, &t, &key, &made);
	if (r < 0)
		return r;
	if (!made)
		r = kb_err(-KB_E_INPUT,
			   "'%s': the token already holds that key; kbuildd never replaces a key "
			   "on a token (remove it with the token's own tools, or name another "
			   "object)",
			   st->sign_key);
	else if (!(x = kb_keys_make_cert(key, "kbuildd module signing key")))
		r = kb_err(-KB_E_INPUT, "'%s': cannot make a certificate with the new key: %s",
			   st->sign_key, kb_ssl_error(why, sizeof(why)));
	else
		r = kb_token_store_cert(t, x, st->sign_key);
	if (r >= 0 && st->sign_cert)
		r = write_cert_files(ctx, st->sign_cert, x);
	X509_free(x);
	EVP_PKEY_free(key);
	kb_token_close(t);
	return r;
}
