/*
 * Which key signs each kernel's modules. kbuildd.conf wins; then DKMS's
 * framework.conf, read per kernel because its paths may name ${kernelver};
 * then kbuildd's default (its own key, DKMS's mok.key, or a new one). A
 * machine whose MOK is named in framework.conf keeps signing with it, and
 * a key named there that is missing is an error, never another key.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/log.h"
#include "dkms/framework.h"
#include "keys.h"
#include "rotation.h"
#include "sign-choice.h"

#define DKMS_KEY "/var/lib/dkms/mok.key"
#define DKMS_CERT "/var/lib/dkms/mok.pub"

static int __attribute__((format(printf, 2, 3)))
fail(struct kb_kernel_signing *ks, const char *fmt, ...)
{
	va_list ap;
	int n;

	free(ks->error);
	va_start(ap, fmt);
	n = vasprintf(&ks->error, fmt, ap);
	va_end(ap);
	if (n < 0)
		ks->error = NULL;
	snprintf(ks->id, sizeof(ks->id), "unusable");
	return n < 0 ? -ENOMEM : 0;
}

/* Add (@pair, @s) to the set, taking both; @s may be NULL: a pair that cannot be used. */
static int add_signer(struct kb_signing *set, char *pair, struct kb_signer *s)
{
	struct kb_signer **signers = realloc(set->signers,
					     (set->nr_signers + 1) * sizeof(*signers));
	char **pairs;

	if (signers)
		set->signers = signers;
	pairs = signers ? realloc(set->pairs, (set->nr_signers + 1) * sizeof(*pairs)) : NULL;
	if (pairs)
		set->pairs = pairs;
	if (!pairs || !pair) {
		free(pair);
		if (s)
			kb_signer_release(s);
		free(s);
		return -ENOMEM;
	}
	set->signers[set->nr_signers] = s;
	set->pairs[set->nr_signers++] = pair;
	return 0;
}

/* The signer of "@key\n@cert" ("\n" alone: the default), loaded once per run. */
static struct kb_signer **find_signer(struct kb_signing *set, const char *pair)
{
	for (size_t i = 0; i < set->nr_signers; i++)
		if (!strcmp(set->pairs[i], pair))
			return &set->signers[i];
	return NULL;
}

/* The pair framework.conf names, loaded once for every kernel that names it; NULL: unusable. */
static struct kb_signer *pair_signer(struct kb_ctx *ctx, struct kb_signing *set, const char *key,
				     const char *cert)
{
	_cleanup_free_ char *pair = NULL;
	struct kb_signer **found, *s;

	if (asprintf(&pair, "%s\n%s", key, cert) < 0)
		return NULL;
	found = find_signer(set, pair);
	if (found)
		return *found;
	s = calloc(1, sizeof(*s));
	/* a failure is said once, and remembered for the next kernel naming the pair */
	if (s && kb_signer_load_at(s, &ctx->root, key, cert, KB_KEY_FOREIGN, "sha256") < 0) {
		free(s);
		s = NULL;
	}
	return add_signer(set, TAKE_PTR(pair), s) < 0 ? NULL : s;
}

/* One of the pair, as framework.conf names it (or DKMS's default for the other). */
static int named_file(struct kb_ctx *ctx, struct kb_kernel_signing *ks, const char *var,
		      const char *path, const char *where)
{
	const char *release = ks->kernel->release;

	if (!strncmp(path, "pkcs11:", 7))
		return fail(ks,
			    "%s: %s='%s': PKCS#11 keys are not supported yet; the modules for "
			    "%s are not signed with any other key",
			    where, var, path, release);
	if (path[0] != '/')
		return fail(ks, "%s: %s='%s': expected an absolute path", where, var, path);
	if (!kb_root_exists(&ctx->root, path))
		return fail(ks,
			    "%s: %s '%s' (for kernel %s) does not exist; kbuildd neither makes "
			    "nor replaces a key named there (DKMS would make a new pair over it): "
			    "restore it, or fix the path",
			    where, var, path, release);
	return 1;
}

/* mok_signing_key / mok_certificate: 1 when they chose the pair (or failed), 0 when unset. */
static int framework_pair(struct kb_ctx *ctx, struct kb_signing *set, struct kb_kernel_signing *ks,
			  const struct kb_dkms_conf *c)
{
	const char *key = kb_framework_value(c, "mok_signing_key");
	const char *cert = kb_framework_value(c, "mok_certificate");
	char where_key[640], where_cert[640];
	int r;

	if (!key && !cert)
		return 0;
	kb_framework_where(ctx->framework, "mok_signing_key", where_key, sizeof(where_key));
	kb_framework_where(ctx->framework, "mok_certificate", where_cert, sizeof(where_cert));
	r = named_file(ctx, ks, "mok_signing_key", key ? key : DKMS_KEY, where_key);
	if (r > 0)
		r = named_file(ctx, ks, "mok_certificate", cert ? cert : DKMS_CERT, where_cert);
	if (r <= 0)
		return r < 0 ? r : 1;
	ks->signer = pair_signer(ctx, set, key ? key : DKMS_KEY, cert ? cert : DKMS_CERT);
	if (!ks->signer)
		return fail(ks, "%s: the key and certificate named there cannot be used for kernel "
			    "%s (said above)", where_key, ks->kernel->release) ?: 1;
	ks->key_host = kb_root_path(&ctx->root, key ? key : DKMS_KEY);
	ks->cert_host = kb_root_path(&ctx->root, cert ? cert : DKMS_CERT);
	return ks->key_host && ks->cert_host ? 1 : -ENOMEM;
}

static bool same_file(const char *a, const char *b)
{
	struct stat sa, sb;

	return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
	       sa.st_ino == sb.st_ino;
}

/*
 * sign_file: run like make, on the host below the root. The kernel's own
 * sign-file is what kbuildd does in-process, byte for byte; anything else
 * (kmodsign, an HSM wrapper) runs on a copy (dkms/sign-file.c).
 */
static int framework_program(struct kb_ctx *ctx, struct kb_kernel_signing *ks,
			     const struct kb_dkms_conf *c)
{
	const char *prog = kb_framework_value(c, "sign_file");
	_cleanup_free_ char *host = NULL, *own = NULL;
	char where[640], why[128];
	struct stat st;

	if (!prog)
		return 0;
	kb_framework_where(ctx->framework, "sign_file", where, sizeof(where));
	if (prog[0] != '/')
		return fail(ks, "%s: sign_file='%s': expected an absolute path", where, prog);
	host = kb_root_path(&ctx->root, prog);
	if (!host || asprintf(&own, "%s/scripts/sign-file", ks->kernel->build_dir) < 0)
		return -ENOMEM;
	if (stat(host, &st) < 0 || !S_ISREG(st.st_mode) || !(st.st_mode & 0111))
		return fail(ks,
			    "%s: sign_file '%s' (for kernel %s) is not an executable file; "
			    "kbuildd signs no module without it",
			    where, prog, ks->kernel->release);
	if (same_file(host, own)) {
		kb_verbose("%s: sign_file is the kernel's own sign-file: signing in-process",
			   where);
		return 0;
	}
	if (!kb_framework_trusted(ctx->framework, why, sizeof(why)))
		return fail(ks, "%s: sign_file '%s' would run as root from %s", where, prog, why);
	ks->program = TAKE_PTR(host);
	ks->program_origin = strdup(where);
	return ks->program_origin ? 0 : -ENOMEM;
}

static int default_signer(struct kb_ctx *ctx, struct kb_signing *set, bool generate,
			  struct kb_signer **out)
{
	struct kb_signer **found = find_signer(set, "\n"), *s;
	int r;

	if (found) {
		*out = *found;
		return 0;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	r = kb_signer_setup(ctx, s, generate);
	if (r <= 0) {
		free(s);
		s = NULL;
	}
	*out = s;
	if (add_signer(set, strdup("\n"), s) < 0) {
		*out = NULL;
		return -ENOMEM;
	}
	return r < 0 ? r : 0;
}

/*
 * During a key rotation the other pair's id: a kept build with it is the
 * same compile, signed otherwise, so it is re-signed, not compiled (plan.c).
 */
static void rotation_alt_id(const struct kb_ctx *ctx, struct kb_kernel_signing *ks)
{
	struct kb_rotation rot;
	int quiet = kb_log_get_level();
	const char *other;

	kb_log_set_level(KB_LOG_QUIET);
	if (kb_rotation_read(ctx, &rot) == 0 && rot.pending) {
		other = rot.use_next ? rot.cur_fpr : rot.next_fpr;
		if (other[0] && strcmp(other, ks->id))
			snprintf(ks->alt_id, sizeof(ks->alt_id), "%s", other);
	}
	kb_log_set_level((enum kb_log_level)quiet);
}

static int choose(struct kb_ctx *ctx, struct kb_signing *set, struct kb_kernel_signing *ks,
		  bool generate)
{
	const struct kb_settings *st = &ctx->settings;
	struct kb_dkms_conf c;
	char fpr[65];
	bool rotating = false;
	int r;

	kb_dkms_conf_init(&c);
	r = kb_framework_read(ctx, ks->kernel->release, &c);
	if (r < 0) {
		r = fail(ks, "framework.conf could not be read for kernel %s (said above)",
			 ks->kernel->release);
		goto out;
	}
	/* kbuildd.conf's own pair wins over DKMS's */
	if ((st->sign_key || st->sign_cert) && (kb_framework_value(&c, "mok_signing_key") ||
						kb_framework_value(&c, "mok_certificate")))
		kb_verbose("%s: [signing] of kbuildd.conf wins over framework.conf's mok_signing_key "
			   "and mok_certificate",
			   ks->kernel->release);
	r = st->sign_key || st->sign_cert ? 0 : framework_pair(ctx, set, ks, &c);
	if (r == 0) {
		r = default_signer(ctx, set, generate, &ks->signer);
		rotating = true;
	}
	if (r >= 0 && !ks->error)
		r = framework_program(ctx, ks, &c);
	if (r < 0 || ks->error || !ks->signer)
		goto out;
	kb_signer_fingerprint(ks->signer, fpr);
	snprintf(ks->id, sizeof(ks->id), "%s%s%s", fpr, ks->program ? " sign_file=" : "",
		 ks->program ? ks->program : "");
	if (rotating && !ks->program)
		rotation_alt_id(ctx, ks);
out:
	kb_dkms_conf_release(&c);
	return r < 0 ? r : 0;
}

int kb_signing_setup(struct kb_ctx *ctx, struct kb_kernel_list *kernels, struct kb_signing *set,
		     bool generate)
{
	int r = 0;

	memset(set, 0, sizeof(*set));
	set->v = calloc(kernels->n + 1, sizeof(*set->v));
	if (!set->v)
		return -ENOMEM;
	ctx->signing = set;
	for (size_t i = 0; r >= 0 && i < kernels->n; i++) {
		const struct kb_kernel *k = &kernels->v[i];

		if (!k->usable || !k->module_sig)
			continue;
		set->v[set->n].kernel = k;
		r = choose(ctx, set, &set->v[set->n++], generate);
	}
	return r;
}

void kb_signing_release(struct kb_ctx *ctx, struct kb_signing *set)
{
	for (size_t i = 0; i < set->n; i++) {
		free(set->v[i].program);
		free(set->v[i].program_origin);
		free(set->v[i].key_host);
		free(set->v[i].cert_host);
		free(set->v[i].error);
	}
	for (size_t i = 0; i < set->nr_signers; i++) {
		if (set->signers[i])
			kb_signer_release(set->signers[i]);
		free(set->signers[i]);
		free(set->pairs[i]);
	}
	free(set->v);
	free(set->signers);
	free(set->pairs);
	if (ctx->signing == set)
		ctx->signing = NULL;
	memset(set, 0, sizeof(*set));
}

const struct kb_kernel_signing *kb_signing_for(const struct kb_ctx *ctx, const struct kb_kernel *k)
{
	for (size_t i = 0; ctx->signing && i < ctx->signing->n; i++)
		if (ctx->signing->v[i].kernel == k)
			return &ctx->signing->v[i];
	return NULL;
}

const char *kb_signing_id(const struct kb_ctx *ctx, const struct kb_kernel *k)
{
	const struct kb_kernel_signing *ks = kb_signing_for(ctx, k);

	return ks ? ks->id : "";
}

const char *kb_signing_alt_id(const struct kb_ctx *ctx, const struct kb_kernel *k)
{
	const struct kb_kernel_signing *ks = kb_signing_for(ctx, k);

	return ks ? ks->alt_id : "";
}
