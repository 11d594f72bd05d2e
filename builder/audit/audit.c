/* kbuildd audit: the loaded modules and the installed files, judged against the policy. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/x509v3.h>

#include "audit/audit.h"
#include "base/log.h"
#include "depmod.h"
#include "keys.h"
#include "manifest.h"
#include "module-elf.h"
#include "signing/cms.h"
#include "signing/keyfile.h"

#define MAX_DEPTH 16
#define MAX_PROC_MODULES (4 * 1024 * 1024)

/* A certificate kbuildd knows: the one it signs with, the ones its cache trusts. */
struct known_cert {
	char serial[256]; /* AA:BB:..., as a signature names its key */
	char cn[256];
	char skid[128];
	time_t not_after;
	char path[256];
};

struct audit_run {
	struct kb_ctx *ctx;
	struct kb_audit *a;
	struct kb_owners owners;
	struct kb_keyring_set keys;
	struct known_cert *certs;
	size_t n_certs;
	struct kb_buf modprobe; /* our modprobe.d file, as written */
	struct kb_buf image;
};

const char *kb_trust_name(enum kb_trust t)
{
	static const char *const names[] = { "unsigned", "damaged", "trusted", "untrusted",
					     "not checked" };

	return names[t];
}

static void learn_cert(struct audit_run *run, X509 *x, const char *path)
{
	const ASN1_OCTET_STRING *skid = X509_get0_subject_key_id(x);
	const ASN1_INTEGER *sno = X509_get0_serialNumber(x);
	struct known_cert *v = realloc(run->certs, (run->n_certs + 1) * sizeof(*v)), *c;
	struct kb_buf b = KB_BUF_INIT_MAX(256);
	struct tm tm;

	if (!v)
		return;
	run->certs = v;
	c = memset(&v[run->n_certs], 0, sizeof(*c));
	for (int i = 0; i < ASN1_STRING_length(sno); i++)
		kb_buf_addf(&b, "%s%02X", i ? ":" : "", ASN1_STRING_get0_data(sno)[i]);
	snprintf(c->serial, sizeof(c->serial), "%s", kb_buf_str(&b));
	kb_buf_reset(&b);
	for (int i = 0; skid && i < ASN1_STRING_length(skid); i++)
		kb_buf_addf(&b, "%02x", ASN1_STRING_get0_data(skid)[i]);
	snprintf(c->skid, sizeof(c->skid), "%s", kb_buf_str(&b));
	kb_buf_release(&b);
	X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, c->cn, sizeof(c->cn));
	if (ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) != 1)
		return;
	c->not_after = timegm(&tm);
	snprintf(c->path, sizeof(c->path), "%s", path);
	run->n_certs++;
}

static void learn_certs(struct audit_run *run)
{
	struct kb_ctx *ctx = run->ctx;
	char key[512], cert[512];
	STACK_OF(X509) *trust = NULL;
	X509 *own;
	bool dkms;

	kb_signer_paths(ctx, key, cert, sizeof(key), &dkms);
	if (kb_root_exists(&ctx->root, cert) && kb_cert_load_at(&ctx->root, cert, &own) >= 0) {
		char shown[520];

		snprintf(shown, sizeof(shown), "/%s", cert);
		learn_cert(run, own, shown);
		X509_free(own);
	}
	if (ctx->settings.store.trust) {
		_cleanup_free_ char *host = kb_root_path(&ctx->root, ctx->settings.store.trust);

		if (host && kb_certs_load(host, &trust) >= 0)
			for (int i = 0; i < sk_X509_num(trust); i++)
				learn_cert(run, sk_X509_value(trust, i), ctx->settings.store.trust);
		sk_X509_pop_free(trust, X509_free);
	}
}

static const struct known_cert *known(const struct audit_run *run, const struct kb_sig_report *s)
{
	for (size_t i = 0; i < run->n_certs; i++)
		if (!strcmp(run->certs[i].serial, s->key_id) &&
		    !strcmp(run->certs[i].cn, s->signer))
			return &run->certs[i];
	return NULL;
}

long kb_audit_cert_days(const struct kb_audit *a, const struct kb_audit_entry *e)
{
	double d = difftime(e->cert_not_after, a->now) / 86400.0;

	return d < 0 ? (long)d - 1 : (long)d;
}

static void judge_signature(struct audit_run *run, struct kb_audit_entry *e, const char *path)
{
	const struct known_cert *c;
	const struct kb_key *key;

	if (kb_verify_module(run->image.buf, run->image.len, NULL, &e->sig, path) < 0) {
		e->trust = KB_TRUST_DAMAGED;
		return;
	}
	if (!e->sig.signed_) {
		e->trust = KB_TRUST_UNSIGNED;
		return;
	}
	c = known(run, &e->sig);
	if (c) {
		e->cert_known = true;
		e->cert_not_after = c->not_after;
		snprintf(e->cert_path, sizeof(e->cert_path), "%s", c->path);
	}
	if (strcmp(e->release, run->a->machine.release) || !run->keys.readable) {
		e->trust = KB_TRUST_UNCHECKED;
		return;
	}
	key = kb_keyring_find(&run->keys, e->sig.signer, c && c->skid[0] ? c->skid : NULL);
	e->trust = kb_key_trusted_for_modules(&run->keys, key) ? KB_TRUST_YES : KB_TRUST_NO;
	if (key)
		snprintf(e->keyring, sizeof(e->keyring), "%s", key->keyring);
}

/* Read the file of @e (its rel) and fill in what the file says. */
static void read_file(struct audit_run *run, struct kb_audit_entry *e)
{
	_cleanup_free_ char *host = kb_root_path(&run->ctx->root, e->rel);
	char intree[8];

	kb_buf_reset(&run->image);
	if (!host || kb_elf_read_path(host, &run->image, e->error, sizeof(e->error)) < 0) {
		if (!e->error[0])
			snprintf(e->error, sizeof(e->error), "cannot be read");
		e->trust = KB_TRUST_DAMAGED;
		return;
	}
	kb_elf_modinfo(run->image.buf, run->image.len, "srcversion", 0, e->srcversion,
		       sizeof(e->srcversion));
	kb_elf_modinfo(run->image.buf, run->image.len, "license", 0, e->license,
		       sizeof(e->license));
	e->intree = kb_elf_modinfo(run->image.buf, run->image.len, "intree", 0, intree,
				   sizeof(intree)) == 0 &&
		    !strcmp(intree, "Y");
	judge_signature(run, e, host);
	/* a module's strings are its builder's: none may steer the admin's terminal */
	kb_str_printable(e->srcversion);
	kb_str_printable(e->license);
	kb_str_printable(e->sig.signer);
	kb_str_printable(e->sig.key_id);
}

static struct kb_audit_entry *add_entry(struct kb_audit *a, const char *module, const char *release,
					const char *rel)
{
	struct kb_audit_entry *v = realloc(a->v, (a->n + 1) * sizeof(*v)), *e;

	if (!v)
		return NULL;
	a->v = v;
	e = memset(&v[a->n], 0, sizeof(*e));
	snprintf(e->module, sizeof(e->module), "%s", module);
	kb_str_printable(e->module);
	snprintf(e->release, sizeof(e->release), "%s", release);
	if (rel && !(e->rel = strdup(rel)))
		return NULL;
	a->n++;
	return e;
}

static int add_file(struct audit_run *run, const char *release, const char *rel)
{
	struct kb_audit_entry *e;
	char module[KB_MAX_NAME * 2];

	if (!kb_manifest_module_name(rel, module, sizeof(module)))
		return 0;
	e = add_entry(run->a, module, release, rel);
	if (!e)
		return -ENOMEM;
	read_file(run, e);
	kb_owners_find(run->ctx, &run->owners, release, module, rel, &e->origin);
	kb_str_printable(e->origin.owner);
	kb_str_printable(e->origin.how);
	return 0;
}

typedef int (*walk_fn)(void *data, const char *release, const char *rel);

/* Every module file below lib/modules/@release/@sub to @each; no symlink is followed. */
static int walk(struct kb_ctx *ctx, const char *release, const char *sub, unsigned depth,
		size_t *walked, walk_fn each, void *data)
{
	_cleanup_free_ char *host = kb_root_path(&ctx->root, sub);
	DIR *d = host && depth < MAX_DEPTH ? opendir(host) : NULL;
	struct dirent *de;
	int r = 0;

	while (d && r >= 0 && (de = readdir(d))) {
		char rel[PATH_MAX];
		struct stat st;

		if (de->d_name[0] == '.' ||
		    kb_pathf(rel, sizeof(rel), "%s/%s", sub, de->d_name) < 0)
			continue;
		if (++*walked > KB_MAX_MODULE_TREE) {
			r = kb_err(-KB_E_INPUT, "/lib/modules/%s holds more than %d entries",
				   release, KB_MAX_MODULE_TREE);
			break;
		}
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISDIR(st.st_mode))
			r = walk(ctx, release, rel, depth + 1, walked, each, data);
		else if (S_ISREG(st.st_mode) && strstr(de->d_name, ".ko"))
			r = each(data, release, rel);
	}
	if (d)
		closedir(d);
	return r;
}

static int audit_file(void *data, const char *release, const char *rel)
{
	return add_file(data, release, rel);
}

/* /sys/module/@module/@attr's first line into @out ("" when absent). */
static void sys_attr(struct audit_run *run, const char *module, const char *attr, char *out,
		     size_t size)
{
	struct kb_buf b = KB_BUF_INIT_MAX(4096);
	char rel[PATH_MAX];

	out[0] = '\0';
	if (kb_pathf(rel, sizeof(rel), "sys/module/%s/%s", module, attr) == 0 &&
	    kb_root_read(&run->ctx->root, rel, b.max, &b) == 0)
		snprintf(out, size, "%.*s", (int)strcspn(kb_buf_str(&b), "\n"), kb_buf_str(&b));
	kb_buf_release(&b);
}

static struct kb_audit_entry *find_entry(struct kb_audit *a, const char *release, const char *rel)
{
	for (size_t i = 0; i < a->n; i++)
		if (a->v[i].rel && !strcmp(a->v[i].rel, rel) && !strcmp(a->v[i].release, release))
			return &a->v[i];
	return NULL;
}

/* One line of /proc/modules: "NAME SIZE REFS DEPS STATE ADDRESS [(TAINT)]". */
static int add_loaded(struct audit_run *run, const char *line)
{
	struct kb_audit *a = run->a;
	const char *release = a->machine.release;
	char name[KB_MAX_NAME * 2], path[PATH_MAX], rel[PATH_MAX] = "";
	const char *paren = strchr(line, '(');
	size_t root = strlen(run->ctx->root.path);
	struct kb_audit_entry *e = NULL;

	if (sscanf(line, "%127s", name) != 1)
		return 0;
	if (release[0] && kb_depmod_resolve(run->ctx, release, name, path, sizeof(path)) == 0 &&
	    path[0]) {
		const char *p = path;

		if (strcmp(run->ctx->root.path, "/") && !strncmp(p, run->ctx->root.path, root))
			p += root;
		snprintf(rel, sizeof(rel), "%s", p + (*p == '/'));
		e = find_entry(a, release, rel);
	}
	if (!e && rel[0] && add_file(run, release, rel) < 0)
		return -ENOMEM;
	if (!e && rel[0])
		e = &a->v[a->n - 1];
	if (!e) {
		e = add_entry(a, name, release, NULL);
		if (!e)
			return -ENOMEM;
		e->origin.kind = KB_ORIGIN_NO_FILE;
		e->trust = KB_TRUST_UNCHECKED;
	}
	e->loaded = true;
	sys_attr(run, name, "taint", e->taint, sizeof(e->taint));
	if (!e->taint[0] && paren)
		snprintf(e->taint, sizeof(e->taint), "%.*s", (int)strcspn(paren + 1, ")"),
			 paren + 1);
	sys_attr(run, name, "srcversion", e->loaded_srcversion, sizeof(e->loaded_srcversion));
	kb_str_printable(e->taint);
	kb_str_printable(e->loaded_srcversion);
	e->copy = !e->rel					? KB_COPY_NONE :
		  !e->loaded_srcversion[0] || !e->srcversion[0] ? KB_COPY_UNKNOWN :
		  !strcmp(e->loaded_srcversion, e->srcversion)	? KB_COPY_SAME :
								  KB_COPY_OTHER;
	return 0;
}

static int audit_loaded(struct audit_run *run)
{
	struct kb_buf text = KB_BUF_INIT_MAX(MAX_PROC_MODULES);
	char *line, *save = NULL;
	int r = 0;

	if (kb_root_read(&run->ctx->root, "proc/modules", text.max, &text) < 0) {
		kb_buf_release(&text);
		return 0; /* no module support: the machine facts say so */
	}
	for (line = strtok_r(text.len ? text.buf : (char[1]){ 0 }, "\n", &save); r >= 0 && line;
	     line = strtok_r(NULL, "\n", &save))
		r = add_loaded(run, line);
	kb_buf_release(&text);
	return r;
}

/* Does our modprobe.d file keep @module out (install M /bin/false)? */
static bool modprobe_refuses(const struct audit_run *run, const char *module)
{
	char needle[KB_MAX_NAME * 2 + 32];

	snprintf(needle, sizeof(needle), "\ninstall %s /bin/false\n", module);
	return strstr(kb_buf_str(&run->modprobe), needle) != NULL;
}

static void judge_policy(struct audit_run *run, struct kb_audit_entry *e)
{
	const struct kb_policy *p = &run->a->policy;
	struct kb_strv *b = &e->breaches;
	const char *file = "/" KB_POLICY_FILE;
	char why[512];
	bool unsigned_ = e->trust == KB_TRUST_UNSIGNED || e->trust == KB_TRUST_DAMAGED;

	if (kb_policy_blocks(p, e->module, why, sizeof(why))) {
		if (e->loaded)
			kb_strv_pushf(b, "%s: yet it is loaded", why);
		else if (!modprobe_refuses(run, e->module))
			kb_strv_pushf(b,
				      "%s: yet modprobe would load it (run 'kbuildd policy apply')",
				      why);
	}
	if (p->require_signed && unsigned_)
		kb_strv_pushf(b, "%s:%u: require_signed = yes: %s", file, p->require_signed,
			      e->trust == KB_TRUST_UNSIGNED ? "it is not signed" :
			      e->rel			    ? "its signature cannot be read" :
				       "no installed file shows its signature");
	if (p->require_trusted_key && e->trust == KB_TRUST_NO)
		kb_strv_pushf(b,
			      "%s:%u: require_trusted_key = yes: signed by '%s' (key %s), a key "
			      "the kernel does not trust",
			      file, p->require_trusted_key, e->sig.signer, e->sig.key_id);
	else if (p->require_trusted_key && unsigned_ && !p->require_signed)
		kb_strv_pushf(b, "%s:%u: require_trusted_key = yes: it is not signed", file,
			      p->require_trusted_key);
	if (p->forbid_unowned && e->origin.kind == KB_ORIGIN_UNOWNED)
		kb_strv_pushf(b,
			      "%s:%u: forbid_unowned = yes: no package, kbuildd recipe or DKMS "
			      "module owns /%s",
			      file, p->forbid_unowned, e->rel);
	else if (p->forbid_unowned && e->origin.kind == KB_ORIGIN_NO_FILE)
		kb_strv_pushf(b,
			      "%s:%u: forbid_unowned = yes: it is loaded, and modprobe knows no "
			      "file for it",
			      file, p->forbid_unowned);
	if (b->n)
		run->a->breaches++;
}

/* The kernels of --installed: -k's, else every directory in /lib/modules. */
static int installed_kernels(struct kb_ctx *ctx, const struct kb_strv *asked, struct kb_strv *out)
{
	struct kb_strv names = KB_STRV_INIT;
	int r;

	if (asked->n)
		return kb_strv_push_all(out, asked);
	r = kb_root_list(&ctx->root, "lib/modules", &names);
	for (size_t i = 0; r >= 0 && i < names.n; i++) {
		char rel[PATH_MAX];
		_cleanup_free_ char *host = NULL;
		struct stat st;

		if (kb_pathf(rel, sizeof(rel), "lib/modules/%s", names.v[i]) < 0 ||
		    !(host = kb_root_path(&ctx->root, rel)) || lstat(host, &st) < 0 ||
		    !S_ISDIR(st.st_mode))
			continue;
		kb_strv_push(out, names.v[i]);
	}
	kb_strv_clear(&names);
	return r == -ENOENT ? 0 : r < 0 ? r : kb_strv_error(out);
}

static int entry_cmp(const void *x, const void *y)
{
	const struct kb_audit_entry *a = x, *b = y;
	int c = strcmp(a->release, b->release);

	if (c)
		return c;
	c = strcmp(a->module, b->module);
	return c ? c : strcmp(a->rel ? a->rel : "", b->rel ? b->rel : "");
}

/* Each module file of the kernels @asked (each one in /lib/modules when empty) to @each. */
static int walk_kernels(struct kb_ctx *ctx, const struct kb_strv *asked, walk_fn each, void *data)
{
	struct kb_strv kernels = KB_STRV_INIT;
	int r = installed_kernels(ctx, asked, &kernels);

	for (size_t i = 0; r >= 0 && i < kernels.n; i++) {
		char rel[PATH_MAX];
		size_t walked = 0;

		if (kb_pathf(rel, sizeof(rel), "lib/modules/%s", kernels.v[i]) < 0)
			continue;
		if (!kb_root_exists(&ctx->root, rel))
			r = kb_err(-KB_E_INPUT, "kernel %s has no /lib/modules/%s", kernels.v[i],
				   kernels.v[i]);
		else
			r = walk(ctx, kernels.v[i], rel, 0, &walked, each, data);
	}
	kb_strv_clear(&kernels);
	return r;
}

static int push_name(void *data, const char *release, const char *rel)
{
	struct kb_strv *names = data;
	char name[KB_MAX_NAME * 2];

	(void)release;
	if (kb_manifest_module_name(rel, name, sizeof(name)))
		kb_strv_push(names, name);
	return kb_strv_error(names);
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int kb_audit_module_names(struct kb_ctx *ctx, struct kb_strv *names)
{
	struct kb_strv none = KB_STRV_INIT;
	size_t kept = 0;
	int r = walk_kernels(ctx, &none, push_name, names);

	if (r < 0 || !names->n)
		return r;
	qsort(names->v, names->n, sizeof(*names->v), name_cmp);
	for (size_t i = 0; i < names->n; i++) {
		if (kept && !strcmp(names->v[kept - 1], names->v[i])) {
			free(names->v[i]);
			continue;
		}
		names->v[kept++] = names->v[i];
	}
	names->n = kept;
	names->v[kept] = NULL;
	return 0;
}

int kb_audit_run(struct kb_ctx *ctx, bool installed, const struct kb_strv *kernels,
		 struct kb_audit *a)
{
	struct audit_run run = { .ctx = ctx,
				 .a = a,
				 .modprobe = KB_BUF_INIT_MAX(16 * 1024 * 1024) };
	int r;

	memset(a, 0, sizeof(*a));
	a->now = time(NULL);
	a->warn_days = ctx->settings.cert_warn_days;
	kb_buf_init(&run.image, KB_MAX_MODULE_SIZE);
	kb_machine_read(ctx, &a->machine);
	r = kb_policy_load(ctx, &a->policy);
	if (r >= 0)
		r = kb_owners_load(ctx, &run.owners);
	if (r < 0)
		goto out;
	if (kb_keyring_read(ctx, &run.keys) < 0)
		run.keys.readable = false;
	learn_certs(&run);
	kb_root_read(&ctx->root, KB_POLICY_MODPROBE, run.modprobe.max, &run.modprobe);
	if (installed)
		r = walk_kernels(ctx, kernels, audit_file, &run);
	if (r >= 0)
		r = audit_loaded(&run);
	if (r >= 0 && a->n)
		qsort(a->v, a->n, sizeof(*a->v), entry_cmp);
	for (size_t i = 0; r >= 0 && a->policy.present && i < a->n; i++)
		judge_policy(&run, &a->v[i]);
out:
	kb_owners_release(&run.owners);
	kb_keyring_release(&run.keys);
	free(run.certs);
	kb_buf_release(&run.modprobe);
	kb_buf_release(&run.image);
	return r;
}

void kb_audit_release(struct kb_audit *a)
{
	for (size_t i = 0; i < a->n; i++) {
		free(a->v[i].rel);
		kb_strv_clear(&a->v[i].breaches);
	}
	free(a->v);
	kb_policy_release(&a->policy);
	memset(a, 0, sizeof(*a));
}
