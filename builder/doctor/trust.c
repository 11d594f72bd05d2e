/* doctor's signature check: signed or not, by whom, and does the kernel trust that key. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509v3.h>

#include "base/limits.h"
#include "audit/facts.h"
#include "base/log.h"
#include "doctor/doctor.h"
#include "keys.h"
#include "rotation.h"
#include "state.h"
#include "signing/sign.h"

struct trust_facts {
	bool force;	  /* CONFIG_MODULE_SIG_FORCE */
	bool sig_enforce; /* module.sig_enforce=1 */
	bool lockdown;	  /* integrity or confidentiality */
	bool secure_boot;
	bool have_keys; /* /proc/keys was readable */
	struct kb_keyring_set keys;
};

static void read_facts(struct kb_ctx *ctx, const struct kb_diagnosis *d, struct trust_facts *f)
{
	_cleanup_free_ char *force = kb_kernel_config(d->kernel, "CONFIG_MODULE_SIG_FORCE");
	struct kb_machine m;

	memset(f, 0, sizeof(*f));
	f->force = force && !strcmp(force, "y");
	if (!d->running)
		return;
	kb_machine_read(ctx, &m);
	f->sig_enforce = m.sig_enforce == 1;
	f->lockdown = !strcmp(m.lockdown, "integrity") || !strcmp(m.lockdown, "confidentiality");
	f->secure_boot = m.secure_boot == 1;
	f->have_keys = kb_keyring_read(ctx, &f->keys) == 0;
}

/* The kernel names an asymmetric key "<CN>: <subjectKeyIdentifier hex>". */
static bool key_trusted(const struct trust_facts *f, const char *cn, const char *skid)
{
	return kb_key_trusted_for_modules(&f->keys, kb_keyring_find(&f->keys, cn, skid));
}

/* If the configured certificate signed this module, its SKID in hex (caller frees). */
static char *our_skid(struct kb_ctx *ctx, const struct kb_sig_report *rep, char **der_path,
		      char *expiry, size_t esize)
{
	char key[512], cert[512];
	_cleanup_free_ char *host = NULL;
	const ASN1_OCTET_STRING *skid;
	const ASN1_INTEGER *sno;
	struct kb_buf hex = KB_BUF_INIT_MAX(256), serial = KB_BUF_INIT_MAX(256);
	char *out = NULL;
	bool dkms;
	X509 *x;

	kb_signer_paths(ctx, key, cert, sizeof(key), &dkms);
	host = kb_root_path(&ctx->root, cert);
	if (!host || !kb_root_exists(&ctx->root, cert))
		return NULL;
	if (asprintf(der_path, dkms ? "%s" : "%s.der", host) < 0)
		*der_path = NULL;
	if (kb_cert_load_at(&ctx->root, cert, &x) < 0)
		return NULL;
	sno = X509_get0_serialNumber(x);
	for (int i = 0; i < ASN1_STRING_length(sno); i++)
		kb_buf_addf(&serial, "%s%02X", i ? ":" : "", ASN1_STRING_get0_data(sno)[i]);
	skid = X509_get0_subject_key_id(x);
	if (!strcmp(kb_buf_str(&serial), rep->key_id)) {
		char shown[520];

		snprintf(shown, sizeof(shown), "/%s", cert);
		kb_cert_expiry_note(ctx, x, shown, expiry, esize);
	}
	if (skid && !strcmp(kb_buf_str(&serial), rep->key_id)) {
		for (int i = 0; i < ASN1_STRING_length(skid); i++)
			kb_buf_addf(&hex, "%02x", ASN1_STRING_get0_data(skid)[i]);
		out = kb_buf_detach(&hex);
	}
	X509_free(x);
	kb_buf_release(&hex);
	kb_buf_release(&serial);
	return out;
}

static void untrusted(struct kb_diagnosis *d, const struct trust_facts *f,
		      const struct kb_sig_report *rep, const char *der)
{
	bool enforced = f->force || f->sig_enforce || f->lockdown;
	char fix[1024];

	snprintf(fix, sizeof(fix),
		 "enroll the signing certificate: mokutil --import %s, reboot "
		 "and confirm it in MokManager (or: kbuildd keys enroll)",
		 der ? der : "<certificate.der>");
	if (enforced)
		kb_diagnosis_add(d, KB_LEVEL_FAIL, "signature", fix,
				 "signed by '%s' (key %s), but the kernel does not trust that key and "
				 "enforces signatures (%s): loading fails with \"Key was rejected by "
				 "service\"",
				 rep->signer, rep->key_id,
				 f->force	? "CONFIG_MODULE_SIG_FORCE" :
				 f->sig_enforce ? "module.sig_enforce=1" :
						  "lockdown");
	else
		kb_diagnosis_add(d, KB_LEVEL_WARN, "signature", fix,
				 "signed by '%s' (key %s), but the kernel does not trust that key: it "
				 "loads, and taints the kernel (E)",
				 rep->signer, rep->key_id);
}

void kb_doctor_check_signature(struct kb_ctx *ctx, struct kb_diagnosis *d)
{
	_cleanup_free_ char *skid = NULL, *der = NULL;
	char expiry[1024] = "";
	struct kb_sig_report rep;
	struct trust_facts f;

	read_facts(ctx, d, &f);
	if (d->running)
		kb_diagnosis_add(d, KB_LEVEL_INFO, "signature", NULL,
				 "Secure Boot %s, lockdown %s, module.sig_enforce %s",
				 f.secure_boot ? "on" : "off", f.lockdown ? "on" : "off",
				 f.sig_enforce ? "on" : "off");
	if (kb_verify_module(d->image.buf, d->image.len, NULL, &rep, d->path) < 0) {
		kb_diagnosis_add(
			d, KB_LEVEL_FAIL, "signature", "rebuild and reinstall it",
			"the signature trailer is damaged: loading fails with \"Bad message\"");
		goto out;
	}
	if (!rep.signed_) {
		bool enforced = f.force || f.sig_enforce || f.lockdown;

		kb_diagnosis_add(d,
				 enforced	       ? KB_LEVEL_FAIL :
				 d->kernel->module_sig ? KB_LEVEL_WARN :
							 KB_LEVEL_OK,
				 "signature",
				 d->kernel->module_sig ?
					 "reinstall it so kbuildd signs it: kbuildd "
					 "install --force RECIPE" :
					 NULL,
				 enforced ?
					 "not signed, and the kernel enforces signatures: loading "
					 "fails with \"Key was rejected by service\"" :
				 d->kernel->module_sig ?
					 "not signed: it loads, but taints the kernel (E)" :
					 "not signed (the kernel does not check signatures)");
		goto out;
	}
	skid = our_skid(ctx, &rep, &der, expiry, sizeof(expiry));
	if (expiry[0])
		kb_diagnosis_add(d, KB_LEVEL_WARN, "signature",
				 "replace the key: kbuildd keys rotate, enroll the new certificate "
				 "(kbuildd keys enroll), reboot; the next rebuild re-signs",
				 "%s", expiry);
	if (!d->running) {
		kb_diagnosis_add(d, KB_LEVEL_OK, "signature", NULL,
				 "signed by '%s' (key %s, %s); whether the kernel trusts it can only "
				 "be checked while it runs",
				 rep.signer, rep.key_id, rep.hash);
		goto out;
	}
	if (!f.have_keys) {
		kb_diagnosis_add(d, KB_LEVEL_INFO, "signature", NULL,
				 "signed by '%s' (key %s, %s); /proc/keys is not readable, so trust "
				 "was not checked",
				 rep.signer, rep.key_id, rep.hash);
		goto out;
	}
	if (key_trusted(&f, rep.signer, skid))
		kb_diagnosis_add(d, KB_LEVEL_OK, "signature", NULL,
				 "signed by '%s' (key %s, %s), a key the kernel trusts", rep.signer,
				 rep.key_id, rep.hash);
	else
		untrusted(d, &f, &rep, der);
out:
	kb_keyring_release(&f.keys);
}

/* Is the module signed by the certificate at @rel? */
static bool signed_with(struct kb_ctx *ctx, const struct kb_diagnosis *d, const char *rel)
{
	struct kb_sig_report rep;
	int quiet = kb_log_get_level();
	X509 *x = NULL;
	bool yes;

	kb_log_set_level(KB_LOG_QUIET);
	yes = rel[0] && kb_root_exists(&ctx->root, rel) &&
	      kb_cert_load_at(&ctx->root, rel, &x) == 0 &&
	      kb_verify_module(d->image.buf, d->image.len, x, &rep, d->path) >= 0 && rep.valid;
	kb_log_set_level((enum kb_log_level)quiet);
	X509_free(x);
	return yes;
}

void kb_doctor_check_rotation(struct kb_ctx *ctx, struct kb_diagnosis *d)
{
	_cleanup_free_ char *der = NULL, *old = NULL;
	struct kb_rotation rot;
	char fix[1024];

	if (!d->kernel->module_sig || kb_rotation_read(ctx, &rot) < 0)
		return;
	if (rot.pending) {
		der = kb_rotation_der(ctx, rot.next_cert, false);
		snprintf(fix, sizeof(fix),
			 "enroll it: mokutil --import %s (or kbuildd keys enroll), reboot and "
			 "confirm it in MokManager; the next rebuild then re-signs",
			 der ? der : "<its DER copy>");
	}
	if (rot.pending && !rot.use_next && rot.next_trust == KB_TRUST_NO)
		kb_diagnosis_add(d, KB_LEVEL_WARN, "rotation", fix,
				 "a new signing key waits: the running kernel does not trust its "
				 "certificate /%s yet, so the old key signs on",
				 rot.next_cert);
	else if (rot.pending && !rot.use_next)
		kb_diagnosis_add(d, KB_LEVEL_INFO, "rotation",
				 "once it is enrolled: kbuildd keys rotate --activate",
				 "a new signing key waits; whether the kernel trusts its certificate "
				 "/%s cannot be read here (/proc/keys), so the old key signs on",
				 rot.next_cert);
	else if (rot.use_next && signed_with(ctx, d, rot.cur_cert))
		kb_diagnosis_add(d, KB_LEVEL_WARN, "rotation",
				 "kbuildd rebuild --all (it re-signs, it does not compile)",
				 "signed with the old key /%s; the new key /%s signs now",
				 rot.cur_cert, rot.next_cert);
	if (rot.retired && rot.retired_trust == KB_TRUST_YES) {
		old = kb_root_path(&ctx->root, KB_KEYS_DIR "/" KB_RETIRED_DER_NAME);
		snprintf(fix, sizeof(fix), "mokutil --delete %s, then reboot", old ? old : "");
		kb_diagnosis_add(d, KB_LEVEL_WARN, "rotation", fix,
				 "the retired signing key is still trusted by the running kernel: "
				 "a module it signs still loads");
	}
}
