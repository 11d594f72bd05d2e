/* kbuildd keys generate|show|enroll: the module signing key and its certificate. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include "base/child.h"
#include "base/log.h"
#include "cli/cmd.h"
#include "signing/pkcs11.h"
#include "keys.h"
#include "rotation.h"
#include "signing/keygen.h"
#include "signing/keystore.h"
#include "signing/sign.h"
#include "state.h"

struct keys_verb {
	const char *name;
	int (*run)(struct kb_ctx *ctx);
	const char *summary;
};

static int keys_generate(struct kb_ctx *ctx)
{
	char key[512], cert[512];
	struct kb_rotation rot;
	bool dkms;
	int r;

	r = kb_rotation_read(ctx, &rot);
	if (r < 0)
		return r;
	/* replacing either pair now would break the promise rotation keeps */
	if (rot.pending)
		return kb_err(-KB_E_INPUT,
			      "a key rotation is under way (the new key /%s): finish it with "
			      "'kbuildd keys rotate --activate' and 'kbuildd keys retire', not "
			      "with a new key",
			      rot.next_key);
	if (kb_pkcs11_uri(ctx->settings.sign_key)) {
		r = kb_keys_generate_token(ctx);
		if (r >= 0 && !ctx->dry_run)
			printf("key: %s (made on the token)\ncertificate: on the token%s%s\n",
			       ctx->settings.sign_key, ctx->settings.sign_cert ? ", and " : "",
			       ctx->settings.sign_cert ? ctx->settings.sign_cert : "");
		return r;
	}
	kb_signer_paths(ctx, key, cert, sizeof(key), &dkms);
	if (dkms && !ctx->force)
		return kb_err(-KB_E_INPUT,
			      "the DKMS key /%s is in use; --force makes a kbuildd "
			      "key instead",
			      key);
	if (dkms) {
		snprintf(key, sizeof(key), "%s", KB_OWN_KEY);
		snprintf(cert, sizeof(cert), "%s", KB_OWN_CERT);
	}
	/* the old pair stays in place until the new one replaces it whole */
	if (kb_root_exists(&ctx->root, key) && !ctx->force)
		return kb_err(-KB_E_INPUT,
			      "'/%s' exists; --force replaces it (modules signed "
			      "with it will need re-signing and the new certificate "
			      "enrolling)",
			      key);
	if (ctx->dry_run) {
		kb_info("would generate /%s and /%s", key, cert);
		return 0;
	}
	r = kb_keys_generate(&ctx->root, key, cert, 4096, "kbuildd module signing key");
	if (r < 0) /* bad input was said where it was found */
		return r == -KB_E_INPUT ? r : kb_err_errno(r, "cannot generate '/%s'", key);
	printf("key: /%s\ncertificate: /%s (DER: /%s.der)\n", key, cert, cert);
	return 0;
}

static void print_cert(X509 *cert, const char *path)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	const ASN1_OCTET_STRING *skid = X509_get0_subject_key_id(cert);
	const ASN1_INTEGER *sno = X509_get0_serialNumber(cert);
	char subject[512];
	EVP_PKEY *pub = X509_get0_pubkey(cert);
	unsigned len = 0;

	X509_NAME_oneline(X509_get_subject_name(cert), subject, sizeof(subject));
	printf("certificate: %s\nsubject: %s\nserial: ", path, subject);
	for (int i = 0; i < ASN1_STRING_length(sno); i++)
		printf("%s%02X", i ? ":" : "", ASN1_STRING_get0_data(sno)[i]);
	printf("\nkey: %s, %d bits\n", pub ? EVP_PKEY_get0_type_name(pub) : "unknown",
	       pub ? EVP_PKEY_get_bits(pub) : 0);
	if (skid) {
		printf("subject key id: ");
		for (int i = 0; i < ASN1_STRING_length(skid); i++)
			printf("%s%02x", i ? ":" : "", ASN1_STRING_get0_data(skid)[i]);
		printf("\n");
	}
	X509_digest(cert, EVP_sha256(), md, &len);
	printf("sha256 fingerprint: ");
	for (unsigned i = 0; i < len; i++)
		printf("%s%02X", i ? ":" : "", md[i]);
	printf("\n");
}

/* The pair not in use during a rotation, and what the admin does next. */
static void show_rotation(struct kb_ctx *ctx)
{
	struct kb_rotation rot;
	char steps[2048];

	if (kb_rotation_read(ctx, &rot) < 0)
		return;
	if (rot.pending)
		printf("rotation: %s key signs\n"
		       "new certificate: /%s (running kernel: %s%s)\n"
		       "old certificate: /%s (running kernel: %s)\n",
		       rot.use_next ? "the new" : "the old", rot.next_cert,
		       kb_rotation_trust_words(rot.next_trust),
		       rot.activated ? "; activated by hand" : "", rot.cur_cert,
		       kb_rotation_trust_words(rot.cur_trust));
	kb_rotation_describe(ctx, &rot, steps, sizeof(steps));
	fputs(steps, stdout);
}

/* A token's key with no [signing] cert: the certificate is the token's, read with the PIN. */
static int show_token_cert(struct kb_ctx *ctx, const char *uri)
{
	struct kb_signer s;
	int r = kb_signer_setup(ctx, &s, false);

	if (r <= 0)
		return r;
	print_cert(s.cert, "on the token");
	printf("private key: on a token: %s\n", uri);
	kb_signer_release(&s);
	show_rotation(ctx);
	return 0;
}

static int keys_show(struct kb_ctx *ctx)
{
	char key[512], cert[512];
	_cleanup_free_ char *host = NULL;
	bool dkms;
	X509 *x;
	int r;

	kb_signer_paths(ctx, key, cert, sizeof(key), &dkms);
	if (!cert[0])
		return show_token_cert(ctx, key);
	if (!kb_root_exists(&ctx->root, cert))
		return kb_err(-KB_E_INPUT,
			      "no signing certificate at '/%s'; run 'kbuildd keys "
			      "generate'",
			      cert);
	host = kb_root_path(&ctx->root, cert);
	if (!host)
		return -ENOMEM;
	r = kb_cert_load_at(&ctx->root, cert, &x);
	if (r < 0)
		return r;
	print_cert(x, host);
	if (kb_pkcs11_uri(key)) /* [signing] key, or a rotation's next_key */
		printf("private key: on a token: %s\n", key);
	else
		printf("private key: /%s%s%s\n", key,
		       kb_root_exists(&ctx->root, key) ? "" : " (missing)",
		       dkms ? " (the DKMS key)" : "");
	X509_free(x);
	show_rotation(ctx);
	/* a pair that cannot sign must not look fine here */
	return kb_signer_check(ctx);
}

static int keys_enroll(struct kb_ctx *ctx)
{
	char key[512], cert[512], der[600];
	struct kb_rotation rot;
	_cleanup_free_ char *host = NULL;
	struct kb_child c;
	bool dkms;
	int r;

	kb_signer_paths(ctx, key, cert, sizeof(key), &dkms);
	/* during a rotation the certificate waiting to be trusted is the one to enroll */
	if (kb_rotation_read(ctx, &rot) == 0 && rot.pending && !rot.use_next) {
		snprintf(cert, sizeof(cert), "%s", rot.next_cert);
		dkms = false;
	}
	if (!cert[0])
		return kb_err(-KB_E_INPUT,
			      "the certificate of '%s' is on the token only: name a file for it "
			      "with [signing] cert (the token's certificate in PEM, and DER beside "
			      "it as FILE.der), then enroll that",
			      key);
	/* mokutil wants DER; DKMS's mok.pub already is */
	if (dkms)
		snprintf(der, sizeof(der), "%s", cert);
	else
		snprintf(der, sizeof(der), "%s.der", cert);
	host = kb_root_path(&ctx->root, der);
	if (!host)
		return -ENOMEM;
	if (!kb_root_exists(&ctx->root, der) && kb_root_exists(&ctx->root, cert))
		return kb_err(-KB_E_INPUT,
			      "'/%s' has no DER copy beside it, which mokutil needs: make it with "
			      "'openssl x509 -in %.*s -outform DER -out %s'",
			      cert, (int)(strlen(host) - 4), host, host);
	if (!kb_root_exists(&ctx->root, der))
		return kb_err(-KB_E_INPUT, "no certificate at '/%s'; run 'kbuildd keys generate'",
			      der);
	if (ctx->root.path[0] || !kb_child_have_program("mokutil")) {
		printf("To make the kernel trust modules signed by kbuildd, enroll the key:\n"
		       "  mokutil --import %s\n"
		       "choose a one-time password, reboot, and confirm the key in MokManager.\n"
		       "Without Secure Boot, add it to the kernel's trusted keys instead.\n",
		       host);
		return 0;
	}
	kb_child_init(&c);
	kb_strv_push(&c.args, "mokutil");
	kb_strv_push(&c.args, "--import");
	kb_strv_push(&c.args, host);
	r = kb_child_run(&c);
	kb_child_release(&c);
	if (r != 0)
		return kb_err(-KB_E_BUILD, "'mokutil --import %s' failed (exit status %d)", host,
			      r);
	printf("Key queued for enrollment: reboot and confirm it in MokManager with the "
	       "password you chose.\n");
	return 0;
}

static int keys_rotate(struct kb_ctx *ctx)
{
	struct kb_rotation rot;
	char steps[2048];
	int r = ctx->activate ? kb_rotation_activate(ctx) : kb_rotation_start(ctx);

	if (r < 0 || ctx->dry_run)
		return r;
	r = kb_rotation_read(ctx, &rot);
	if (r < 0)
		return r;
	if (!ctx->activate)
		printf("new key: %s%s\nnew certificate: /%s\n",
		       kb_pkcs11_uri(rot.next_key) ? "" : "/", rot.next_key, rot.next_cert);
	kb_rotation_describe(ctx, &rot, steps, sizeof(steps));
	fputs(steps, stdout);
	return 0;
}

static int keys_retire(struct kb_ctx *ctx)
{
	struct kb_rotation rot;
	_cleanup_free_ char *der = NULL;
	int r = kb_rotation_read(ctx, &rot);

	if (r >= 0)
		r = kb_rotation_retire(ctx);
	if (r < 0 || ctx->dry_run)
		return r;
	if (rot.configured)
		printf("kbuildd.conf still names both pairs: set [signing] key = %s and cert = %s, "
		       "and remove next_key and next_cert\n",
		       ctx->settings.sign_next_key, ctx->settings.sign_next_cert);
	else
		printf("signing key: /%s\n", KB_OWN_KEY);
	der = kb_root_path(&ctx->root, KB_KEYS_DIR "/" KB_RETIRED_DER_NAME);
	if (der && kb_root_exists(&ctx->root, KB_KEYS_DIR "/" KB_RETIRED_DER_NAME))
		printf("retired: the old certificate, kept as /%s; once no kernel needs it, "
		       "delete it from the MOK list:\n  mokutil --delete %s\n",
		       KB_KEYS_DIR "/" KB_RETIRED_CERT_NAME, der);
	return 0;
}

static const struct keys_verb verbs[] = {
	{ "generate", keys_generate, "make a new RSA-4096 key and certificate" },
	{ "show", keys_show, "describe the certificate kbuildd signs with" },
	{ "enroll", keys_enroll, "enroll the certificate with mokutil (or say how)" },
	{ "rotate", keys_rotate, "make the next key; --activate signs with it from now on" },
	{ "retire", keys_retire, "end a rotation: the new key becomes the key" },
};

static int cmd_keys(struct kb_ctx *ctx, int argc, char **argv)
{
	if (ctx->activate && (argc != 1 || strcmp(argv[0], "rotate")))
		return kb_err(-KB_E_INPUT, "--activate goes with 'kbuildd keys rotate' only");
	if (argc == 1)
		for (size_t i = 0; i < ARRAY_SIZE(verbs); i++)
			if (!strcmp(argv[0], verbs[i].name))
				return verbs[i].run(ctx);
	fprintf(stderr, "usage: kbuildd keys (generate | show | enroll | rotate | retire)\n");
	for (size_t i = 0; i < ARRAY_SIZE(verbs); i++)
		fprintf(stderr, "  %-9s %s\n", verbs[i].name, verbs[i].summary);
	return -KB_E_INPUT;
}

const struct kb_cmd kb_cmd_keys = {
	.name = "keys",
	.run = cmd_keys,
	.usage =
		"generate [--force] | show | enroll | rotate [--activate] [--force] | retire [--force]",
	.summary = "generate, show, enroll or rotate the module signing key",
	.help = "generate: a 4096-bit RSA key (mode 0600) and an X.509 certificate fit for MOK\n"
		"  enrollment (digitalSignature, codeSigning EKU, subjectKeyIdentifier) at the\n"
		"  [signing] paths of kbuildd.conf, by default /var/lib/kbuildd/keys/. An\n"
		"  existing key is kept unless --force. For a pkcs11: key the token makes it\n"
		"  and keeps its certificate; a key on the token is never replaced.\n"
		"show: the certificate's subject, serial (modinfo's sig_key), key and fingerprint.\n"
		"enroll: run 'mokutil --import' on the DER certificate, or print what to do.\n"
		"When no kbuildd key exists, an existing DKMS key (/var/lib/dkms/mok.key and\n"
		"mok.pub) is used, so nothing needs enrolling again.\n"
		"rotate: make the next key (or check [signing] next_key and next_cert). The old\n"
		"  key signs on until the running kernel trusts the new certificate (/proc/keys)\n"
		"  or --activate says so; then a rebuild re-signs every module, not compiling.\n"
		"  enroll enrolls the new certificate meanwhile. --activate refuses a certificate\n"
		"  the running kernel does not trust, unless --force.\n"
		"retire: once the new key signs and no installed module is signed with the old\n"
		"  one (unless --force), the new key becomes the key; prints the mokutil --delete\n"
		"  line for the old certificate.",
	.options = KB_OPT_FORCE | KB_OPT_DRY_RUN | KB_OPT_WAIT | KB_OPT_ACTIVATE,
	.flags = KB_CMD_LOCK | KB_CMD_SETTINGS,
};
