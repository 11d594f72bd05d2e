/* Binary module packages from what a manifest lists (export-deb.h). */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/child.h"
#include "base/limits.h"
#include "base/log.h"
#include "export-deb.h"
#include "manifest.h"

const char *kb_export_deb_arch(const char *arch)
{
	static const char *const map[][2] = {
		{ "x86_64", "amd64" },	  { "aarch64", "arm64" },	{ "i386", "i386" },
		{ "arm", "armhf" },	  { "riscv64", "riscv64" },	{ "s390x", "s390x" },
		{ "ppc64le", "ppc64el" }, { "loongarch64", "loong64" },
	};

	for (size_t i = 0; arch && i < ARRAY_SIZE(map); i++)
		if (!strcmp(arch, map[i][0]))
			return map[i][1];
	return NULL;
}

/* Debian policy 5.6.1: [a-z0-9][a-z0-9+.-]+ */
bool kb_export_deb_name(const char *name, const char *release, char *out, size_t size)
{
	int n = snprintf(out, size, "%s-modules-%s", name, release);

	if (n < 0 || (size_t)n >= size)
		return false;
	for (char *p = out; *p; p++) {
		*p = *p == '_' ? '-' : (char)tolower((unsigned char)*p);
		if (!isalnum((unsigned char)*p) && !strchr("+.-", *p))
			return false;
	}
	return isalnum((unsigned char)out[0]);
}

/* Debian policy 5.6.12, without an epoch: a digit, then [A-Za-z0-9.+~-]. */
static bool deb_version(const char *v)
{
	if (!isdigit((unsigned char)v[0]))
		return false;
	for (; *v; v++)
		if (!isalnum((unsigned char)*v) && !strchr(".+~-", *v))
			return false;
	return true;
}

/* mkdir -p of @rel's parents below @dfd, each 0755 whatever the umask. */
static int parents(int dfd, const char *rel)
{
	char dir[PATH_MAX];
	int r = kb_pathf(dir, sizeof(dir), "%s", rel);

	for (char *p = dir; r >= 0 && (p = strchr(p + 1, '/'));) {
		*p = '\0';
		if (mkdirat(dfd, dir, 0755) < 0 && errno != EEXIST)
			r = -errno;
		else if (fchmodat(dfd, dir, 0755, 0) < 0)
			r = -errno;
		*p = '/';
	}
	return r;
}

static int put(int dfd, const char *rel, const void *data, size_t len, mode_t mode)
{
	int fd, r = parents(dfd, rel);

	if (r < 0)
		return r;
	fd = openat(dfd, rel, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd < 0)
		return -errno;
	r = kb_write_all(fd, data, len);
	if (r >= 0 && fchmod(fd, mode) < 0)
		r = -errno;
	if (close(fd) < 0 && r >= 0)
		r = -errno;
	return r;
}

static void md5_hex(const void *data, size_t len, char out[33])
{
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned n = 0;

	EVP_Digest(data, len, digest, &n, EVP_md5(), NULL);
	for (unsigned i = 0; i < n && i < 16; i++)
		snprintf(out + 2 * i, 3, "%02x", digest[i]);
}

/* What the package holds besides its files: its name, version, size and scripts. */
struct deb {
	char name[256], version[128], maintainer[256], date[64], year[8], build_id[KB_SHA256_HEX];
	const char *arch;
	struct kb_buf md5sums, conffiles;
	unsigned long long bytes;
};

/*
 * Maintainer: [export] maintainer, else $DEBFULLNAME <$DEBEMAIL> as dch has
 * it, else kbuildd at this host. Dated SOURCE_DATE_EPOCH when set.
 */
static void deb_people(struct kb_ctx *ctx, struct deb *d)
{
	const char *who = getenv("DEBFULLNAME"), *mail = getenv("DEBEMAIL");
	const char *epoch = getenv("SOURCE_DATE_EPOCH");
	time_t t = epoch && *epoch ? (time_t)strtoll(epoch, NULL, 10) : time(NULL);
	char host[256] = "localhost";
	struct tm tm;

	gethostname(host, sizeof(host) - 1);
	if (ctx->settings.maintainer)
		snprintf(d->maintainer, sizeof(d->maintainer), "%s", ctx->settings.maintainer);
	else if (mail && *mail)
		snprintf(d->maintainer, sizeof(d->maintainer), "%s <%s>",
			 who && *who ? who : "kbuildd", mail);
	else
		snprintf(d->maintainer, sizeof(d->maintainer), "kbuildd <kbuildd@%s>", host);
	gmtime_r(&t, &tm);
	strftime(d->date, sizeof(d->date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	strftime(d->year, sizeof(d->year), "%Y", &tm);
}

/* Each installed file, as its manifest recorded it, into the package tree @dfd. */
static int put_files(struct kb_ctx *ctx, const struct kb_manifest *m, int dfd, struct deb *d)
{
	for (size_t i = 0; i < m->n; i++) {
		const struct kb_manifest_file *f = &m->files[i];
		struct kb_buf data = KB_BUF_INIT_MAX(KB_MAX_MODULE_SIZE);
		char sha[KB_SHA256_HEX], md5[33];
		int r = kb_root_read(&ctx->root, f->path, KB_MAX_MODULE_SIZE, &data);

		if (r < 0) {
			kb_buf_release(&data);
			return kb_err(-KB_E_INPUT, "cannot read the installed '/%s': %s", f->path,
				      kb_strerror(r));
		}
		kb_sha256_hex(data.buf ? data.buf : "", data.len, sha);
		if (strcmp(sha, f->sha256)) {
			kb_buf_release(&data);
			return kb_err(-KB_E_INPUT,
				      "'/%s' is not the file kbuildd installed (sha256 %.16s…, "
				      "manifest %.16s…); reinstall it first",
				      f->path, sha, f->sha256);
		}
		md5_hex(data.buf ? data.buf : "", data.len, md5);
		kb_buf_addf(&d->md5sums, "%s  %s\n", md5, f->path);
		if (kb_str_startswith(f->path, "etc/"))
			kb_buf_addf(&d->conffiles, "/%s\n", f->path);
		d->bytes += data.len;
		r = put(dfd, f->path, data.buf ? data.buf : "", data.len, 0644);
		kb_buf_release(&data);
		if (r < 0)
			return kb_err_errno(r, "cannot stage '%s'", f->path);
	}
	return 0;
}

/* depmod for the kernel, when its modules are there: after install, and after removal. */
static int put_scripts(int dfd, const char *release)
{
	struct kb_buf s = KB_BUF_INIT;
	int r;

	kb_buf_addf(&s,
		    "#!/bin/sh\nset -e\nif [ \"$1\" = configure ] && [ -d /lib/modules/%s ]; then\n"
		    "\tdepmod -a %s\nfi\n",
		    release, release);
	r = kb_buf_error(&s) ?: put(dfd, "DEBIAN/postinst", s.buf, s.len, 0755);
	kb_buf_reset(&s);
	kb_buf_addf(&s,
		    "#!/bin/sh\nset -e\nif [ \"$1\" = remove ] || [ \"$1\" = purge ]; then\n"
		    "\tif [ -d /lib/modules/%s ]; then\n\t\tdepmod -a %s\n\tfi\nfi\n",
		    release, release);
	if (r >= 0)
		r = kb_buf_error(&s) ?: put(dfd, "DEBIAN/postrm", s.buf, s.len, 0755);
	kb_buf_release(&s);
	return r;
}

static int put_control(const struct kb_recipe *r, const struct kb_kernel *k, int dfd,
		       const struct deb *d)
{
	struct kb_buf c = KB_BUF_INIT;
	int ret;

	kb_buf_addf(&c,
		    "Package: %s\nVersion: %s\nArchitecture: %s\nMaintainer: %s\n"
		    "Installed-Size: %llu\nDepends: linux-image-%s | linux-image-%s-unsigned, kmod\n"
		    "Section: kernel\nPriority: optional\n"
		    "Description: %s kernel modules for Linux %s\n"
		    " The modules of %s %s as kbuildd built, signed and installed them for\n"
		    " kernel %s (build %.16s).\n",
		    d->name, d->version, d->arch, d->maintainer, (d->bytes + 1023) / 1024,
		    k->release, k->release, r->name, k->release, r->name, r->version, k->release,
		    d->build_id);
	/* the recipe's own words, one paragraph line each, never a field of their own */
	if (r->description && *r->description) {
		kb_buf_adds(&c, " .\n");
		for (const char *p = r->description; *p;) {
			size_t n = strcspn(p, "\n");

			kb_buf_addf(&c, " %.*s\n", (int)n, p);
			p += n + (p[n] == '\n');
		}
	}
	ret = kb_buf_error(&c) ?: put(dfd, "DEBIAN/control", c.buf, c.len, 0644);
	if (ret >= 0)
		ret = put(dfd, "DEBIAN/md5sums", d->md5sums.buf ? d->md5sums.buf : "",
			  d->md5sums.len, 0644);
	if (ret >= 0 && d->conffiles.len)
		ret = put(dfd, "DEBIAN/conffiles", d->conffiles.buf, d->conffiles.len, 0644);
	kb_buf_release(&c);
	return ret;
}

static int run(const char *what, const char *const *argv)
{
	struct kb_child c;
	int r;

	kb_child_init(&c);
	for (; *argv; argv++)
		kb_strv_push(&c.args, *argv);
	c.quiet = kb_log_get_level() < KB_LOG_VERBOSE;
	r = kb_child_run(&c);
	kb_child_release(&c);
	if (r != 0)
		return kb_err(r < 0 ? r : -EIO, "%s failed%s%s", what, r < 0 ? ": " : "",
			      r < 0 ? kb_strerror(r) : " (run with -v to see why)");
	return 0;
}

/* The md5sums line of a file already staged. */
static int add_md5(int dfd, const char *rel, struct deb *d)
{
	struct kb_buf data = KB_BUF_INIT_MAX(KB_MAX_STRING);
	char md5[33];
	int r = kb_read_file(dfd, rel, KB_MAX_STRING, &data);

	if (r >= 0) {
		md5_hex(data.buf ? data.buf : "", data.len, md5);
		kb_buf_addf(&d->md5sums, "%s  %s\n", md5, rel);
		d->bytes += data.len;
	}
	kb_buf_release(&data);
	return r < 0 ? kb_err_errno(r, "cannot read the staged '%s'", rel) : 0;
}

/* What lintian asks of every binary package: a copyright file and a changelog. */
static int put_doc(const struct kb_recipe *r, const struct kb_kernel *k, int dfd, struct deb *d,
		   const char *stage)
{
	char rel[PATH_MAX], host[PATH_MAX], gz[PATH_MAX];
	struct kb_buf b = KB_BUF_INIT;
	int ret;

	kb_buf_addf(&b,
		    "%s: modules of %s %s built for Linux %s by kbuildd.\n\n"
		    "The modules are the driver's own work, copyright its authors as its source\n"
		    "names them, under the license they declare (modinfo -F license); the\n"
		    "source kbuildd built them from is the one registered as %s/%s.\n\n"
		    "Packaging: Copyright (C) %.4s %s\n",
		    d->name, r->name, r->version, k->release, r->name, r->version, d->year,
		    d->maintainer);
	kb_pathf(rel, sizeof(rel), "usr/share/doc/%s/copyright", d->name);
	ret = kb_buf_error(&b) ?: put(dfd, rel, b.buf, b.len, 0644);
	kb_buf_reset(&b);
	kb_buf_addf(&b,
		    "%s (%s) unstable; urgency=medium\n\n  * Built by kbuildd for Linux %s.\n\n"
		    " -- %s  %s\n",
		    d->name, d->version, k->release, d->maintainer, d->date);
	/* a version without a Debian revision is a native package's: changelog.gz */
	kb_pathf(rel, sizeof(rel), "usr/share/doc/%s/changelog%s", d->name,
		 strchr(d->version, '-') ? ".Debian" : "");
	if (ret >= 0)
		ret = kb_buf_error(&b) ?: put(dfd, rel, b.buf, b.len, 0644);
	kb_buf_release(&b);
	if (ret < 0)
		return kb_err_errno(ret, "cannot stage the package's documentation");
	kb_pathf(host, sizeof(host), "%s/%s", stage, rel);
	ret = run("gzip", (const char *const[]){ "gzip", "-9n", host, NULL });
	if (ret >= 0)
		ret = kb_pathf(gz, sizeof(gz), "%s.gz", rel);
	if (ret >= 0)
		ret = add_md5(dfd, gz, d);
	kb_pathf(rel, sizeof(rel), "usr/share/doc/%s/copyright", d->name);
	if (ret >= 0)
		ret = add_md5(dfd, rel, d);
	return ret;
}

static int stage_package(struct kb_ctx *ctx, const struct kb_recipe *r, const struct kb_kernel *k,
			 const struct kb_manifest *m, const char *stage, struct deb *d)
{
	int dfd = open(stage, O_RDONLY | O_DIRECTORY | O_CLOEXEC), ret;

	if (dfd < 0)
		return kb_err_errno(-errno, "cannot open '%s'", stage);
	/* dpkg-deb wants the tree's directories 0755, whatever the umask made them */
	ret = fchmod(dfd, 0755) < 0 ? -errno : 0;
	if (ret >= 0)
		ret = put_files(ctx, m, dfd, d);
	if (ret >= 0)
		ret = put_doc(r, k, dfd, d, stage);
	if (ret >= 0)
		ret = put_scripts(dfd, k->release);
	if (ret >= 0)
		ret = put_control(r, k, dfd, d);
	close(dfd);
	return ret;
}

int kb_export_deb(struct kb_ctx *ctx, const struct kb_recipe *r, const struct kb_kernel *k,
		  const char *outdir, char *path, size_t size)
{
	struct deb d = { .md5sums = KB_BUF_INIT, .conffiles = KB_BUF_INIT };
	struct kb_manifest m;
	char stage[PATH_MAX], tmp[PATH_MAX];
	int ret = kb_manifest_read(ctx, k->release, r->name, &m);

	if (ret == -ENOENT || (ret >= 0 && strcmp(m.version, r->version))) {
		ret = kb_err(-KB_E_INPUT, "%s/%s is not installed for %s%s%s", r->name, r->version,
			     k->release, ret >= 0 ? ": version " : "", ret >= 0 ? m.version : "");
		goto out;
	}
	if (ret < 0) {
		ret = kb_err(-KB_E_INPUT, "%s", m.damage ? m.damage : "cannot read the manifest");
		goto out;
	}
	d.arch = kb_export_deb_arch(k->arch);
	if (!d.arch || !kb_export_deb_name(r->name, k->release, d.name, sizeof(d.name)) ||
	    !deb_version(r->version)) {
		ret = kb_err(-KB_E_INPUT,
			     "%s/%s for %s: %s cannot be a Debian package's (policy 5.6.%s)",
			     r->name, r->version, k->release,
			     !d.arch		      ? "the architecture" :
			     !deb_version(r->version) ? "the version" :
							"the name",
			     !d.arch		      ? "8" :
			     !deb_version(r->version) ? "12" :
							"1");
		goto out;
	}
	snprintf(d.version, sizeof(d.version), "%s", r->version);
	memcpy(d.build_id, m.build_id, KB_SHA256_HEX);
	deb_people(ctx, &d);
	if (kb_pathf(stage, sizeof(stage), "%s/.kbuildd-deb.XXXXXX", outdir) < 0 ||
	    kb_pathf(path, size, "%s/%s_%s_%s.deb", outdir, d.name, d.version, d.arch) < 0 ||
	    kb_pathf(tmp, sizeof(tmp), "%s/.%s_%s_%s.deb.tmp", outdir, d.name, d.version, d.arch) <
		    0) {
		ret = kb_err(-ENAMETOOLONG, "'%s': path too long", outdir);
		goto out;
	}
	if (!mkdtemp(stage)) {
		ret = kb_err_errno(-errno, "cannot make a directory in '%s'", outdir);
		goto out;
	}
	ret = stage_package(ctx, r, k, &m, stage, &d);
	if (ret >= 0)
		ret = run("dpkg-deb", (const char *const[]){ "dpkg-deb", "--root-owner-group",
							     "-Zxz", "--build", stage, tmp, NULL });
	if (ret >= 0 && rename(tmp, path) < 0)
		ret = kb_err_errno(-errno, "cannot rename '%s' to '%s'", tmp, path);
	if (ret < 0)
		unlink(tmp);
	kb_rm_rf_host(stage);
out:
	kb_buf_release(&d.md5sums);
	kb_buf_release(&d.conffiles);
	kb_manifest_release(&m);
	return ret;
}
