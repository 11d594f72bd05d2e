/* Preparing an install in memory: what is written is checked, signed and compressed first. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/limits.h"
#include "base/log.h"
#include "compress.h"
#include "dkms/framework.h"
#include "dkms/sign-file.h"
#include "install-prepare.h"
#include "reuse.h"
#include "install-version.h"
#include "module-elf.h"
#include "outputs.h"
#include "sign-choice.h"

static enum kb_compress target_compression(const struct kb_ctx *ctx, const struct kb_kernel *k)
{
	const char *c = ctx->settings.compress;

	if (!c || !strcmp(c, "auto"))
		return k->compress;
	if (!strcmp(c, "xz"))
		return KB_COMPRESS_XZ;
	if (!strcmp(c, "zstd"))
		return KB_COMPRESS_ZSTD;
	if (!strcmp(c, "gzip"))
		return KB_COMPRESS_GZIP;
	return KB_COMPRESS_NONE;
}

/*
 * Check the bytes the build produced (outputs.c) as every module is
 * checked (module-elf.c): a sane ELF shape before anything parses it, and
 * a vermagic naming @release, read from the very bytes that are then
 * signed: the kernel it is installed for, or the one whose build it reuses.
 */
static int check_module(struct kb_task *t, const struct kb_module_spec *m, const struct kb_buf *raw,
			const char *release)
{
	char why[320], vermagic[256] = "";

	if (kb_elf_check(raw->buf, raw->len, why, sizeof(why)) < 0)
		return kb_task_fail(t, "module %s is not a valid kernel module: %s", m->path, why);
	if (kb_elf_modinfo(raw->buf, raw->len, "vermagic", 0, vermagic, sizeof(vermagic)) < 0 ||
	    strncmp(vermagic, release, strlen(release)) || vermagic[strlen(release)] != ' ')
		return kb_task_fail(t,
				    "%s has vermagic '%s', not kernel %s (it would fail with "
				    "\"Invalid module format\")",
				    m->path, vermagic, release);
	return 0;
}

void kb_prepared_release(struct kb_prepared *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(s[i].path);
		kb_buf_release(&s[i].data);
	}
	free(s);
}

/* Sign before compressing: the kernel verifies the decompressed image. */
static int sign_module(struct kb_ctx *ctx, struct kb_task *t, const struct kb_module_spec *m,
		       struct kb_buf *image)
{
	struct kb_kernel *k = t->kernel;
	const struct kb_kernel_signing *ks = kb_signing_for(ctx, k);
	const char *hash = ctx->settings.sign_hash;
	struct kb_buf signed_image = KB_BUF_INIT_MAX(KB_MAX_MODULE_SIZE);
	char what[PATH_MAX];
	int r;

	if (!k->module_sig) {
		if (!k->told_unsigned)
			kb_info("kernel %s has no CONFIG_MODULE_SIG: its modules are not signed",
				k->release);
		k->told_unsigned = true;
		return 0;
	}
	snprintf(what, sizeof(what), "%s for %s", m->path, k->release);
	/* a key named but unusable: never installed unsigned, nor signed with another */
	if (ks && ks->error)
		return kb_task_fail(t, "%s not signed: %s", m->path, ks->error);
	if (!ks || !ks->signer) {
		kb_warn("%s for %s: not signed: no signing key", m->name, k->release);
		return 0;
	}
	if (!hash || !strcmp(hash, "auto"))
		hash = k->sig_hash ? k->sig_hash : "sha256";
	r = kb_signer_set_hash(ks->signer, hash);
	if (r >= 0 && ks->program) {
		const struct kb_sign_program p = {
			.program = ks->program,
			.hash = hash,
			.key = ks->key_host,
			.cert = ks->cert_host,
			.cert_x509 = ks->signer->cert,
			.origin = ks->program_origin,
		};

		r = kb_sign_external(&p, image->buf, image->len, &signed_image, what);
		if (r < 0)
			r = kb_task_fail(t,
					 "%s not signed: sign_file %s did not sign it (said above)",
					 m->path, ks->program);
	} else if (r >= 0) {
		r = kb_sign_module(ks->signer, image->buf, image->len, &signed_image, what);
	}
	if (r >= 0) {
		kb_buf_release(image);
		*image = signed_image;
		return 0;
	}
	kb_buf_release(&signed_image);
	return r;
}

/* Read, check, sign and compress every module of @t into memory. */
int kb_prepare_modules(struct kb_ctx *ctx, struct kb_task *t, const struct kb_manifest_set *all,
		       struct kb_prepared *out)
{
	enum kb_compress how = target_compression(ctx, t->kernel);
	struct kb_reuse_record rec;
	int reused = kb_reuse_record_read(ctx, t, &rec);

	if (reused == -KB_E_INPUT)
		return kb_task_fail(t,
				    "its build's reuse record is damaged; rebuild it with --force");
	for (size_t i = 0; i < t->recipe->nr_modules; i++) {
		const struct kb_module_spec *m = &t->recipe->modules[i];
		struct kb_buf raw = KB_BUF_INIT_MAX(KB_MAX_MODULE_SIZE);
		int r;

		kb_buf_init(&out[i].data, KB_MAX_MODULE_SIZE);
		/* exactly the bytes the build produced, as recorded when it ended */
		r = kb_outputs_read(ctx, t, m, &raw);
		if (r >= 0)
			r = check_module(t, m, &raw, reused == 0 ? rec.from : t->kernel->release);
		if (r >= 0)
			r = kb_install_check_version(ctx, t, m, &raw, all);
		if (r < 0) {
			kb_buf_release(&raw);
			return r;
		}
		r = sign_module(ctx, t, m, &raw);
		if (r == -KB_E_BUILD) { /* the reason is set */
			kb_buf_release(&raw);
			return r;
		}
		if (r >= 0)
			r = kb_compress(how, ctx->framework ? &ctx->framework->compress : NULL,
					raw.buf, raw.len, &out[i].data);
		kb_buf_release(&raw);
		if (r < 0)
			return kb_task_fail(t, "cannot prepare %s: %s", m->path, kb_strerror(r));
		if (asprintf(&out[i].path, "lib/modules/%s/%s/%s.ko%s", t->kernel->release,
			     m->dest ? m->dest : kb_ctx_dest(ctx), m->name,
			     kb_compress_suffix(how)) < 0)
			return -ENOMEM;
		kb_sha256_hex(out[i].data.buf, out[i].data.len, out[i].sha256);
	}
	return 0;
}

size_t kb_prepare_nr_config(const struct kb_recipe *r)
{
	bool load = false, probe = false, early = false;

	for (size_t i = 0; i < r->nr_modules; i++) {
		load = load || r->modules[i].autoload;
		probe = probe || r->modules[i].options.n || r->modules[i].blacklist.n;
		early = early || r->modules[i].initramfs;
	}
	/* initramfs = yes: one list for initramfs-tools, one for dracut */
	return (size_t)load + (size_t)probe + 2 * (size_t)early;
}

static int add_config(struct kb_prepared *out, size_t *n, const char *dir, const char *suffix,
		      const char *name, const char *comment, const char *body)
{
	kb_buf_init(&out[*n].data, KB_MAX_MODULE_SIZE);
	kb_buf_addf(&out[*n].data, "%s Written by kbuildd for %s; removed with it.\n%s", comment,
		    name, body);
	if (asprintf(&out[*n].path, "%s/kbuildd-%s%s", dir, name, suffix) < 0) {
		out[*n].path = NULL;
		return -ENOMEM;
	}
	kb_sha256_hex(out[*n].data.buf, out[*n].data.len, out[*n].sha256);
	(*n)++;
	return 0;
}

/*
 * Load-time configuration (modules-load.d, modprobe.d) and the lists that
 * make initramfs generators carry modules marked initramfs = yes: files
 * owned like the modules themselves.
 */
int kb_prepare_config(const struct kb_recipe *r, struct kb_prepared *out)
{
	struct kb_buf load = KB_BUF_INIT, probe = KB_BUF_INIT, early = KB_BUF_INIT;
	struct kb_buf dracut = KB_BUF_INIT;
	size_t n = 0;
	int ret = 0;

	for (size_t i = 0; i < r->nr_modules; i++) {
		const struct kb_module_spec *m = &r->modules[i];

		if (m->autoload)
			kb_buf_addf(&load, "%s\n", m->name);
		for (size_t j = 0; j < m->blacklist.n; j++)
			kb_buf_addf(&probe, "blacklist %s\n", m->blacklist.v[j]);
		if (m->options.n) {
			kb_buf_addf(&probe, "options %s", m->name);
			for (size_t j = 0; j < m->options.n; j++)
				kb_buf_addf(&probe, " %s", m->options.v[j]);
			kb_buf_adds(&probe, "\n");
		}
		if (m->initramfs) {
			kb_buf_addf(&early, "%s\n", m->name);
			kb_buf_addf(&dracut, " %s", m->name);
		}
	}
	if (load.len)
		ret = add_config(out, &n, "etc/modules-load.d", ".conf", r->name, "#",
				 kb_buf_str(&load));
	if (probe.len && ret >= 0)
		ret = add_config(out, &n, "etc/modprobe.d", ".conf", r->name, "#",
				 kb_buf_str(&probe));
	if (early.len && ret >= 0)
		ret = add_config(out, &n, "usr/share/initramfs-tools/modules.d", "", r->name, "#",
				 kb_buf_str(&early));
	if (dracut.len && ret >= 0) {
		kb_buf_adds(&dracut, " \"\n");
		kb_buf_reset(&early);
		kb_buf_addf(&early, "add_drivers+=\"%s", kb_buf_str(&dracut));
		ret = add_config(out, &n, "etc/dracut.conf.d", ".conf", r->name, "#",
				 kb_buf_str(&early));
	}
	kb_buf_release(&load);
	kb_buf_release(&probe);
	kb_buf_release(&early);
	kb_buf_release(&dracut);
	return ret;
}
