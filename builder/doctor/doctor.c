/* kbuildd doctor: why a module will not load, checked from the files a kernel would use. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <libkmod.h>

#include "base/limits.h"
#include "base/log.h"
#include "depmod.h"
#include "doctor/doctor.h"
#include "symvers.h"
#include "manifest.h"
#include "module-elf.h"
#include "reuse-rule.h"

void kb_diagnosis_add(struct kb_diagnosis *d, enum kb_level level, const char *check,
		      const char *fix, const char *fmt, ...)
{
	struct kb_finding *v = realloc(d->findings, (d->n + 1) * sizeof(*v));
	va_list ap;

	if (!v)
		return;
	d->findings = v;
	v[d->n].level = level;
	snprintf(v[d->n].check, sizeof(v[d->n].check), "%s", check);
	va_start(ap, fmt);
	if (vasprintf(&v[d->n].text, fmt, ap) < 0)
		v[d->n].text = NULL;
	va_end(ap);
	v[d->n].fix = fix ? strdup(fix) : NULL;
	d->n++;
}

void kb_diagnosis_release(struct kb_diagnosis *d)
{
	for (size_t i = 0; i < d->n; i++) {
		free(d->findings[i].text);
		free(d->findings[i].fix);
	}
	free(d->findings);
	free(d->module);
	free(d->path);
	kb_buf_release(&d->image);
	memset(d, 0, sizeof(*d));
}

char *kb_doctor_running_release(const struct kb_ctx *ctx)
{
	struct kb_buf b = KB_BUF_INIT_MAX(256);
	char *nl;

	if (kb_root_read(&ctx->root, "proc/sys/kernel/osrelease", 256, &b) < 0 || !b.len) {
		kb_buf_release(&b);
		return NULL;
	}
	nl = strchr(b.buf, '\n');
	if (nl)
		*nl = '\0';
	return kb_buf_detach(&b);
}

/*
 * libkmod reads a module by path: it is given a memfd holding the checked
 * bytes (*@fd, open while @mod is used), never the file a second time.
 */
static int kmod_from_image(struct kmod_ctx *kctx, const struct kb_buf *image, int *fd,
			   struct kmod_module **mod)
{
	char path[64];
	int r;

	*mod = NULL;
	*fd = memfd_create("kbuildd-module", MFD_CLOEXEC);
	if (*fd < 0)
		return -errno;
	r = kb_write_all(*fd, image->buf, image->len);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", *fd);
	if (r >= 0)
		r = kmod_module_new_from_path(kctx, path, mod);
	return r;
}

/* Which registered recipe's last build for @k exports @symbol (from its Module.symvers)? */
static bool recipe_exporting(struct kb_ctx *ctx, const struct kb_kernel *k, const char *symbol,
			     char *recipe, size_t size, uint64_t *crc)
{
	_cleanup_free_ char *builds = kb_root_path(&ctx->root, "var/lib/kbuildd/builds");
	DIR *names = builds ? opendir(builds) : NULL;
	struct dirent *n;
	bool found = false;

	while (names && !found && (n = readdir(names))) {
		char vdir[PATH_MAX];
		struct dirent *v;
		DIR *versions;

		if (n->d_name[0] == '.' ||
		    kb_pathf(vdir, sizeof(vdir), "%s/%s", builds, n->d_name) < 0)
			continue;
		versions = opendir(vdir);
		while (versions && !found && (v = readdir(versions))) {
			char symvers[PATH_MAX];
			struct kb_symvers sv;
			const struct kb_symvers_entry *e;

			if (v->d_name[0] == '.' ||
			    kb_pathf(symvers, sizeof(symvers), "%s/%s/%s/src/Module.symvers", vdir,
				     v->d_name, k->release) < 0 ||
			    kb_symvers_load(&sv, symvers) < 0)
				continue;
			e = kb_symvers_find(&sv, symbol);
			if (e) {
				kb_pathf(recipe, size, "%s/%s", n->d_name, v->d_name);
				*crc = e->crc;
				found = true;
			}
			kb_symvers_release(&sv);
		}
		if (versions)
			closedir(versions);
	}
	if (names)
		closedir(names);
	return found;
}

/* The kernel whose build this installed file reuses (its manifest's reused-from), or false. */
static bool reused_from(struct kb_ctx *ctx, const struct kb_diagnosis *d, char *from, size_t size)
{
	struct kb_manifest_set set;
	const struct kb_manifest *m = NULL;
	size_t root = strlen(ctx->root.path);
	const char *rel = d->path;

	if (!strncmp(rel, ctx->root.path, root) && rel[root] == '/')
		rel += root + 1;
	else if (strcmp(ctx->root.path, "/"))
		return false;
	else
		rel++;
	if (kb_manifest_read_all(ctx, d->kernel->release, &set) < 0)
		return false;
	m = kb_manifest_owner(&set, rel);
	if (m && m->reused_from[0])
		snprintf(from, size, "%s", m->reused_from);
	kb_manifest_set_release(&set);
	return from[0];
}

/* What a reused module's CRC check finds: the symbols checked, the first that fails. */
struct reuse_check {
	struct kb_ctx *ctx;
	const struct kb_diagnosis *d;
	const struct kb_symvers *kernel;
	unsigned checked;
	char why[512];
};

static int reuse_symbol(const char *sym, uint32_t crc, void *data)
{
	struct reuse_check *c = data;
	const struct kb_symvers_entry *e = kb_symvers_find(c->kernel, sym);
	char provider[256];
	uint64_t pcrc = 0;

	c->checked++;
	if (e && e->crc == crc)
		return 0;
	if (e)
		snprintf(c->why, sizeof(c->why),
			 "symbol %s: the module wants CRC 0x%08x, %s exports 0x%08llx", sym, crc,
			 e->module, (unsigned long long)e->crc);
	else if (!recipe_exporting(c->ctx, c->d->kernel, sym, provider, sizeof(provider), &pcrc))
		snprintf(c->why, sizeof(c->why),
			 "symbol %s is exported neither by the kernel nor by a recipe", sym);
	else if (pcrc != crc)
		snprintf(c->why, sizeof(c->why),
			 "symbol %s: the module wants CRC 0x%08x, recipe %s exports 0x%08llx", sym,
			 crc, provider, (unsigned long long)pcrc);
	else
		return 0;
	return 1;
}

/*
 * A module reused from kernel @from's build keeps @from's vermagic: with
 * CONFIG_MODVERSIONS the kernel then compares the flags after the release
 * and each imported symbol's CRC (kernel/module/version.c), and so does this.
 */
static void check_reused_vermagic(struct kb_ctx *ctx, struct kb_diagnosis *d, const char *from,
				  const char *vermagic)
{
	struct reuse_check c = { ctx, d, NULL, 0, "" };
	struct kb_symvers kernel;
	char flags[256], want[512], path[PATH_MAX], fix[256];

	snprintf(fix, sizeof(fix),
		 "rebuild it for this kernel: kbuildd install %s -k %s --force --no-reuse",
		 d->module, d->kernel->release);
	if (kb_reuse_vermagic_flags(d->kernel, flags, sizeof(flags), c.why, sizeof(c.why)) < 0 ||
	    (snprintf(want, sizeof(want), "%s %s", from, flags), strcmp(vermagic, want))) {
		kb_diagnosis_add(d, KB_LEVEL_FAIL, "vermagic", fix,
				 "built for %s and reused, but vermagic '%s' is not '%s'%s%s; loading fails "
				 "with \"Invalid module format\"",
				 from, vermagic, want, c.why[0] ? ": " : "", c.why);
		return;
	}
	kb_pathf(path, sizeof(path), "%s/Module.symvers", d->kernel->build_dir);
	if (!kb_kernel_config_set(d->kernel, "CONFIG_MODVERSIONS") ||
	    kb_symvers_load(&kernel, path) < 0) {
		kb_diagnosis_add(d, KB_LEVEL_FAIL, "vermagic", fix,
				 "built for %s and reused, but %s checks no CRC (no CONFIG_MODVERSIONS "
				 "or no Module.symvers): loading fails with \"Invalid module format\"",
				 from, d->kernel->release);
		return;
	}
	c.kernel = &kernel;
	if (kb_elf_versions(d->image.buf, d->image.len, reuse_symbol, &c) != 0)
		kb_diagnosis_add(d, KB_LEVEL_FAIL, "vermagic", fix,
				 "built for %s and reused, but the reuse no longer holds: %s; loading "
				 "fails",
				 from, c.why[0] ? c.why : "its __versions section is malformed");
	else
		kb_diagnosis_add(d, KB_LEVEL_OK, "vermagic", NULL,
				 "vermagic names %s, whose build was reused: the flags match and %u "
				 "imported symbols carry the CRCs %s exports",
				 from, c.checked, d->kernel->release);
	kb_symvers_release(&kernel);
}

static void check_vermagic(struct kb_ctx *ctx, struct kb_diagnosis *d)
{
	const char *rel = d->kernel->release;
	size_t len = strlen(rel);
	char vermagic[256], fix[256], from[KB_MAX_RELEASE + 1] = "";
	bool found = kb_elf_modinfo(d->image.buf, d->image.len, "vermagic", 0, vermagic,
				    sizeof(vermagic)) == 0;

	if (found && reused_from(ctx, d, from, sizeof(from))) {
		check_reused_vermagic(ctx, d, from, vermagic);
		return;
	}
	if (found && !strncmp(vermagic, rel, len) && vermagic[len] == ' ') {
		kb_diagnosis_add(d, KB_LEVEL_OK, "vermagic", NULL, "vermagic matches %s", rel);
		return;
	}
	snprintf(fix, sizeof(fix), "rebuild it for this kernel: kbuildd build %s -k %s", d->module,
		 rel);
	kb_diagnosis_add(d, KB_LEVEL_FAIL, "vermagic", fix,
			 "built for another kernel: vermagic is '%s', kernel is '%s'; loading fails "
			 "with \"Invalid module format\"",
			 found ? vermagic : "(none)", rel);
}

/* Installed module exporting @symbol, from depmod's modules.symbols ("alias symbol:S mod"). */
static bool module_exporting(struct kb_ctx *ctx, const struct kb_kernel *k, const char *symbol,
			     char *module, size_t size)
{
	struct kb_buf text = KB_BUF_INIT_MAX(KB_MAX_SYMVERS_SIZE);
	char rel[PATH_MAX], needle[512];
	const char *hit;
	bool found = false;

	kb_pathf(rel, sizeof(rel), "lib/modules/%s/modules.symbols", k->release);
	snprintf(needle, sizeof(needle), "alias symbol:%s ", symbol);
	if (kb_root_read(&ctx->root, rel, text.max, &text) == 0 &&
	    (hit = strstr(kb_buf_str(&text), needle))) {
		hit += strlen(needle);
		snprintf(module, size, "%.*s", (int)strcspn(hit, "\n"), hit);
		found = true;
	}
	kb_buf_release(&text);
	return found;
}

static void check_one_symbol(struct kb_ctx *ctx, struct kb_diagnosis *d,
			     const struct kb_symvers *kernel, const char *sym, uint64_t crc,
			     unsigned *problems)
{
	const struct kb_symvers_entry *e = kb_symvers_find(kernel, sym);
	char provider[256], fix[512];
	uint64_t pcrc = 0;

	if (e) {
		if (crc && e->crc && crc != e->crc) {
			(*problems)++;
			snprintf(fix, sizeof(fix),
				 "rebuild against this kernel's headers: kbuildd "
				 "build %s -k %s --force",
				 d->module, d->kernel->release);
			kb_diagnosis_add(d, KB_LEVEL_FAIL, "symbols", fix,
					 "\"disagrees about version of symbol %s\": the module wants "
					 "CRC 0x%08llx, %s exports 0x%08llx",
					 sym, (unsigned long long)crc, e->module,
					 (unsigned long long)e->crc);
		}
		return;
	}
	if (recipe_exporting(ctx, d->kernel, sym, provider, sizeof(provider), &pcrc)) {
		char module[256];
		bool installed = module_exporting(ctx, d->kernel, sym, module, sizeof(module));

		if (crc && pcrc && crc != pcrc) {
			(*problems)++;
			snprintf(fix, sizeof(fix),
				 "rebuild it after %s: kbuildd build %s -k %s "
				 "--force",
				 provider, d->module, d->kernel->release);
			kb_diagnosis_add(d, KB_LEVEL_FAIL, "symbols", fix,
					 "\"disagrees about version of symbol %s\": the module wants "
					 "CRC 0x%08llx, recipe %s exports 0x%08llx",
					 sym, (unsigned long long)crc, provider,
					 (unsigned long long)pcrc);
		} else if (!installed) {
			(*problems)++;
			snprintf(fix, sizeof(fix), "install the provider: kbuildd install %s -k %s",
				 provider, d->kernel->release);
			kb_diagnosis_add(d, KB_LEVEL_FAIL, "symbols", fix,
					 "\"Unknown symbol %s\": recipe %s exports it but is not "
					 "installed for this kernel",
					 sym, provider);
		}
		return;
	}
	if (module_exporting(ctx, d->kernel, sym, provider, sizeof(provider)))
		return;
	(*problems)++;
	kb_diagnosis_add(d, KB_LEVEL_FAIL, "symbols",
			 "check the driver's dependencies; another driver must export it",
			 "\"Unknown symbol %s\": neither the kernel nor any installed or registered "
			 "module exports it",
			 sym);
}

static void check_symbols(struct kb_ctx *ctx, struct kb_diagnosis *d)
{
	const char *no_config[] = { NULL };
	struct kmod_ctx *kctx = kmod_new(d->kernel->build_dir, no_config);
	struct kmod_list *deps = NULL, *l;
	struct kmod_module *mod = NULL;
	struct kb_symvers kernel;
	char path[PATH_MAX];
	unsigned count = 0, problems = 0;
	int fd = -1, r;

	kb_pathf(path, sizeof(path), "%s/Module.symvers", d->kernel->build_dir);
	if (kb_symvers_load(&kernel, path) < 0) {
		kb_diagnosis_add(d, KB_LEVEL_INFO, "symbols", NULL,
				 "not checked: no Module.symvers for %s", d->kernel->release);
		goto out;
	}
	r = kctx ? kmod_from_image(kctx, &d->image, &fd, &mod) : -ENOMEM;
	if (r >= 0)
		r = kmod_module_get_dependency_symbols(mod, &deps);
	if (r < 0) {
		/* not "all 0 symbols found": nothing was looked at */
		kb_diagnosis_add(d, KB_LEVEL_INFO, "symbols", NULL,
				 "not checked: libkmod cannot read the imported symbols: %s",
				 strerror(-r));
		goto release;
	}
	kmod_list_foreach(l, deps)
	{
		count++;
		check_one_symbol(ctx, d, &kernel, kmod_module_dependency_symbol_get_symbol(l),
				 kmod_module_dependency_symbol_get_crc(l), &problems);
	}
	if (!problems)
		kb_diagnosis_add(d, KB_LEVEL_OK, "symbols", NULL,
				 "all %u imported symbols are exported with matching versions",
				 count);
	kmod_module_dependency_symbols_free_list(deps);
release:
	kb_symvers_release(&kernel);
out:
	kmod_module_unref(mod);
	kmod_unref(kctx);
	if (fd >= 0)
		close(fd);
}

static void check_shadowing(struct kb_ctx *ctx, struct kb_diagnosis *d)
{
	char got[PATH_MAX];

	if (kb_depmod_resolve(ctx, d->kernel->release, d->module, got, sizeof(got)) < 0 ||
	    !got[0]) {
		kb_diagnosis_add(d, KB_LEVEL_WARN, "shadowing", "run depmod (kbuildd rebuild does)",
				 "modprobe does not know module %s for %s (not in modules.dep)",
				 d->module, d->kernel->release);
		return;
	}
	if (!strcmp(got, d->path)) {
		kb_diagnosis_add(d, KB_LEVEL_OK, "shadowing", NULL, "modprobe %s loads this file",
				 d->module);
		return;
	}
	kb_diagnosis_add(d, KB_LEVEL_FAIL, "shadowing",
			 "remove or rename the other module, or check depmod.d overrides",
			 "modprobe %s loads '%s' instead: a same-named module of higher depmod "
			 "priority shadows this one",
			 d->module, got);
}

static void check_firmware(struct kb_ctx *ctx, struct kb_diagnosis *d)
{
	static const char *const suffixes[] = { "", ".xz", ".zst" };
	unsigned wanted = 0, missing = 0;
	char fw[PATH_MAX];

	while (kb_elf_modinfo(d->image.buf, d->image.len, "firmware", wanted, fw, sizeof(fw)) ==
	       0) {
		bool found = false;

		wanted++;
		for (size_t i = 0; !found && i < ARRAY_SIZE(suffixes); i++) {
			char rel[PATH_MAX];

			found = (kb_pathf(rel, sizeof(rel), "lib/firmware/updates/%s%s", fw,
					  suffixes[i]) == 0 &&
				 kb_root_exists(&ctx->root, rel)) ||
				(kb_pathf(rel, sizeof(rel), "lib/firmware/%s%s", fw, suffixes[i]) ==
					 0 &&
				 kb_root_exists(&ctx->root, rel));
		}
		if (!found) {
			missing++;
			kb_diagnosis_add(d, KB_LEVEL_FAIL, "firmware",
					 "install the package that ships it into /lib/firmware",
					 "firmware '%s' is missing: no /lib/firmware/%s", fw, fw);
		}
	}
	if (wanted && !missing)
		kb_diagnosis_add(d, KB_LEVEL_OK, "firmware", NULL, "all %u firmware files present",
				 wanted);
}

/* "blacklist NAME" or "install NAME /bin/false" in any modprobe.d under the root. */
static void check_blacklist(struct kb_ctx *ctx, struct kb_diagnosis *d)
{
	static const char *const dirs[] = { "etc/modprobe.d", "run/modprobe.d",
					    "usr/local/lib/modprobe.d", "lib/modprobe.d",
					    "usr/lib/modprobe.d" };
	bool hit = false;

	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
		_cleanup_free_ char *dir = kb_root_path(&ctx->root, dirs[i]);
		DIR *dh = dir ? opendir(dir) : NULL;
		struct dirent *de;

		while (dh && (de = readdir(dh))) {
			char file[PATH_MAX], line[1024];
			unsigned lineno = 0;
			size_t len = strlen(de->d_name);
			FILE *f;

			if (len < 6 || strcmp(de->d_name + len - 5, ".conf") ||
			    kb_pathf(file, sizeof(file), "%s/%s", dir, de->d_name) < 0 ||
			    !(f = fopen(file, "re")))
				continue;
			while (fgets(line, sizeof(line), f)) {
				char verb[32], name[256];

				lineno++;
				if (sscanf(line, "%31s %255s", verb, name) != 2 ||
				    strcmp(name, d->module) ||
				    (strcmp(verb, "blacklist") && strcmp(verb, "install")))
					continue;
				hit = true;
				kb_diagnosis_add(
					d, !strcmp(verb, "install") ? KB_LEVEL_FAIL : KB_LEVEL_WARN,
					"blacklist", "remove that line to let it load",
					"%s:%u: '%s %s' %s", file + strlen(ctx->root.path), lineno,
					verb, name,
					!strcmp(verb, "install") ?
						"replaces loading it with a command" :
						"stops it loading by alias (modprobe NAME still works)");
			}
			fclose(f);
		}
		if (dh)
			closedir(dh);
	}
	if (!hit)
		kb_diagnosis_add(d, KB_LEVEL_OK, "blacklist", NULL, "not blacklisted");
}

enum kb_loaded kb_doctor_loaded(struct kb_ctx *ctx, const char *module, const char *path,
				char *loaded_src, size_t size)
{
	struct kb_buf got = KB_BUF_INIT_MAX(256), image = KB_BUF_INIT_MAX(KB_MAX_MODULE_SIZE);
	enum kb_loaded state = KB_NOT_LOADED;
	char rel[PATH_MAX], want[128], why[320];

	loaded_src[0] = '\0';
	kb_pathf(rel, sizeof(rel), "sys/module/%s/srcversion", module);
	if (kb_root_read(&ctx->root, rel, 256, &got) == 0) {
		snprintf(loaded_src, size, "%.*s", (int)strcspn(kb_buf_str(&got), "\n"),
			 kb_buf_str(&got));
		/* a file that cannot be read is not the loaded one */
		state = kb_elf_read_path(path, &image, why, sizeof(why)) == 0 &&
					kb_elf_modinfo(image.buf, image.len, "srcversion", 0, want,
						       sizeof(want)) == 0 &&
					!strcmp(loaded_src, want) ?
				KB_LOADED_SAME :
				KB_LOADED_OTHER;
	}
	kb_buf_release(&image);
	kb_buf_release(&got);
	return state;
}

/* On the running kernel: is the loaded copy the installed one? */
static void check_loaded(struct kb_ctx *ctx, struct kb_diagnosis *d)
{
	char loaded[128], fix[256];

	switch (kb_doctor_loaded(ctx, d->module, d->path, loaded, sizeof(loaded))) {
	case KB_NOT_LOADED:
		kb_diagnosis_add(d, KB_LEVEL_INFO, "loaded", NULL, "not loaded");
		break;
	case KB_LOADED_SAME:
		kb_diagnosis_add(d, KB_LEVEL_OK, "loaded", NULL, "loaded, and it is this file");
		break;
	default:
		snprintf(fix, sizeof(fix), "reload it (modprobe -r %s && modprobe %s) or reboot",
			 d->module, d->module);
		kb_diagnosis_add(d, KB_LEVEL_WARN, "loaded", fix,
				 "the loaded module is another build (srcversion %s differs from "
				 "this file's)",
				 loaded);
		break;
	}
}

int kb_doctor_check(struct kb_ctx *ctx, const struct kb_kernel *k, const char *path,
		    struct kb_diagnosis *d)
{
	_cleanup_free_ char *running = kb_doctor_running_release(ctx);
	const char *base = strrchr(path, '/');
	char name[256], why[320];

	memset(d, 0, sizeof(*d));
	kb_buf_init(&d->image, KB_MAX_MODULE_SIZE);
	if (kb_elf_read_path(path, &d->image, why, sizeof(why)) < 0) {
		kb_diagnosis_release(d);
		return kb_err(-KB_E_INPUT, "module '%s' %s", path, why);
	}
	d->kernel = k;
	d->path = strdup(path);
	snprintf(name, sizeof(name), "%s", base ? base + 1 : path);
	name[strcspn(name, ".")] = '\0';
	kb_module_name_normalize(name);
	d->module = strdup(name);
	d->running = running && !strcmp(running, k->release);
	/* first: whether this machine loads any module at all */
	if (d->running)
		kb_doctor_check_machine(ctx, d);
	check_vermagic(ctx, d);
	check_symbols(ctx, d);
	kb_doctor_check_signature(ctx, d);
	kb_doctor_check_rotation(ctx, d);
	kb_doctor_check_policy(ctx, d);
	check_blacklist(ctx, d);
	check_shadowing(ctx, d);
	check_firmware(ctx, d);
	if (d->running)
		check_loaded(ctx, d);
	else
		kb_diagnosis_add(d, KB_LEVEL_INFO, "loaded", NULL,
				 "%s is not the running kernel: whether it is loaded, and the live "
				 "key and lockdown state, were not checked",
				 k->release);
	return 0;
}
