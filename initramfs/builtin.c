/* The builtin backend: rewrite a kernel's initramfs with libarchive, no generator needed. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "base/atomic.h"
#include "base/child.h"
#include "base/limits.h"
#include "base/log.h"
#include "initramfs/builtin.h"

#define MAX_IMAGE (512 * 1024 * 1024)

static unsigned long hex8(const char *p)
{
	unsigned long v = 0;

	for (int i = 0; i < 8; i++) {
		char c = p[i];

		v = v * 16 + (unsigned long)(c >= 'a' ? c - 'a' + 10 :
					     c >= 'A' ? c - 'A' + 10 :
							c - '0');
	}
	return v;
}

/*
 * Length of the leading uncompressed newc segments (each ends with
 * TRAILER!!!, padded to 4 bytes; zero padding between segments is allowed).
 */
size_t kb_initramfs_early_length(const unsigned char *p, size_t len)
{
	size_t off = 0, end = 0;

	for (;;) {
		unsigned long namesize, filesize;

		while (off + 4 <= len && !memcmp(p + off, "\0\0\0\0", 4))
			off += 4;
		if (off + 110 > len || memcmp(p + off, "070701", 6))
			return end;
		filesize = hex8((const char *)p + off + 54);
		namesize = hex8((const char *)p + off + 94);
		if (off + 110 + namesize > len)
			return end;
		{
			bool trailer = namesize == 11 && !memcmp(p + off + 110, "TRAILER!!!", 10);

			off += (110 + namesize + 3) & ~(size_t)3;
			off += (filesize + 3) & ~(size_t)3;
			if (off > len)
				return end;
			if (trailer) {
				/* the padding after a segment belongs to it */
				while (off + 4 <= len && !memcmp(p + off, "\0\0\0\0", 4))
					off += 4;
				end = off;
			}
		}
	}
}

struct image {
	struct archive *out;
	const char *release;
	char staging[PATH_MAX];	 /* host dir holding the image's modules for depmod */
	struct kb_strv replaced; /* paths we write ourselves */
	struct kb_strv adds;	 /* root-relative modules to put in, decompressed */
	struct kb_strv dirs;	 /* directories the new archive has */
	struct kb_strv carried;	 /* module names the old image carries */
};

/* The kernel's unpacker creates no parent directories: emit each missing one. */
static int write_entry(struct image *im, struct archive_entry *e, const void *data, size_t len);

static int ensure_parents(struct image *im, const char *path)
{
	char dir[PATH_MAX];
	int r = 0;

	if (kb_pathf(dir, sizeof(dir), "%s", path) < 0)
		return -ENAMETOOLONG;
	for (char *p = strchr(dir, '/'); r >= 0 && p; p = strchr(p + 1, '/')) {
		struct archive_entry *e;

		*p = '\0';
		if (!kb_strv_contains(&im->dirs, dir)) {
			e = archive_entry_new();
			archive_entry_set_pathname(e, dir);
			archive_entry_set_filetype(e, AE_IFDIR);
			archive_entry_set_perm(e, 0755);
			archive_entry_set_size(e, 0);
			r = write_entry(im, e, NULL, 0);
			archive_entry_free(e);
			kb_strv_push(&im->dirs, dir);
		}
		*p = '/';
	}
	return r;
}

static bool ours_to_replace(const struct image *im, const char *path)
{
	char prefix[PATH_MAX];

	while (*path == '.' || *path == '/')
		path++;
	snprintf(prefix, sizeof(prefix), "lib/modules/%s/modules.", im->release);
	if (kb_str_startswith(path, prefix))
		return true; /* regenerated */
	return kb_strv_contains(&im->replaced, path);
}

/* Keep a copy of each module the image carries, for depmod. */
static int stage_module(struct image *im, const char *path, const void *data, size_t len)
{
	char dst[PATH_MAX], *slash;
	int fd, r;

	while (*path == '.' || *path == '/')
		path++;
	if (strstr(path, "..") || kb_pathf(dst, sizeof(dst), "%s/%s", im->staging, path) < 0)
		return 0;
	for (slash = dst + strlen(im->staging) + 1; (slash = strchr(slash, '/')); slash++) {
		*slash = '\0';
		mkdir(dst, 0755);
		*slash = '/';
	}
	fd = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	r = kb_write_all(fd, data, len);
	close(fd);
	return r;
}

static int write_entry(struct image *im, struct archive_entry *e, const void *data, size_t len)
{
	if (archive_write_header(im->out, e) != ARCHIVE_OK ||
	    (len && archive_write_data(im->out, data, len) != (la_ssize_t)len))
		return kb_err(-EIO, "cannot write the initramfs: %s",
			      archive_error_string(im->out));
	return 0;
}

/* Copy the old main archive, entry by entry, leaving out what is regenerated. */
static int copy_main(struct image *im, const void *data, size_t len, bool *was_gzip)
{
	struct archive *in = archive_read_new();
	struct archive_entry *e;
	struct kb_buf body = KB_BUF_INIT_MAX(MAX_IMAGE);
	char modprefix[PATH_MAX];
	int rc, r = 0;

	snprintf(modprefix, sizeof(modprefix), "lib/modules/%s/", im->release);
	archive_read_support_filter_all(in);
	archive_read_support_format_cpio(in);
	if (archive_read_open_memory(in, data, len) != ARCHIVE_OK) {
		r = kb_err(-KB_E_INPUT, "cannot read the initramfs: %s", archive_error_string(in));
		goto out;
	}
	while ((rc = archive_read_next_header(in, &e)) == ARCHIVE_OK) {
		const char *path = archive_entry_pathname(e);
		const char *rel = path;
		char chunk[65536];
		la_ssize_t n;

		*was_gzip = archive_filter_code(in, 0) == ARCHIVE_FILTER_GZIP;
		while (*rel == '.' || *rel == '/')
			rel++;
		kb_buf_reset(&body);
		while ((n = archive_read_data(in, chunk, sizeof(chunk))) > 0)
			if ((r = kb_buf_add(&body, chunk, (size_t)n)) < 0)
				goto out;
		if (ours_to_replace(im, rel))
			continue;
		if (archive_entry_filetype(e) == AE_IFDIR)
			kb_strv_push(&im->dirs, rel);
		if (archive_entry_filetype(e) == AE_IFREG && kb_str_startswith(rel, modprefix) &&
		    strstr(rel, ".ko") && (r = stage_module(im, rel, body.buf, body.len)) < 0)
			goto out;
		r = write_entry(im, e, body.buf, body.len);
		if (r < 0)
			goto out;
	}
	if (rc != ARCHIVE_EOF)
		r = kb_err(-KB_E_INPUT, "the initramfs is damaged: %s", archive_error_string(in));
out:
	kb_buf_release(&body);
	archive_read_free(in);
	return r;
}

static int add_file(struct image *im, const char *path, const void *data, size_t len, bool stage)
{
	struct archive_entry *e = archive_entry_new();
	int r;

	r = ensure_parents(im, path);
	archive_entry_set_pathname(e, path);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_size(e, (la_int64_t)len);
	if (r >= 0)
		r = write_entry(im, e, data, len);
	archive_entry_free(e);
	if (r >= 0 && stage)
		r = stage_module(im, path, data, len);
	return r;
}

/* Where the image has root-relative module @path: decompressed, so lib/modules/K/.../foo.ko. */
static int image_path(const char *path, char *out, size_t size)
{
	const char *base = strrchr(path, '/'), *ko = base ? strstr(base, ".ko") : NULL;

	return ko ? kb_pathf(out, size, "%.*s.ko", (int)(ko - path), path) : -EINVAL;
}

/* Module names: '-' and '_' are the same, as for modprobe. */
bool kb_initramfs_same_module(const char *a, const char *b)
{
	for (; *a && *b; a++, b++)
		if (*a != *b && !(strchr("-_", *a) && strchr("-_", *b)))
			return false;
	return *a == *b;
}

static bool carries(const struct image *im, const char *name)
{
	for (size_t i = 0; i < im->carried.n; i++)
		if (kb_initramfs_same_module(im->carried.v[i], name))
			return true;
	return false;
}

/* Is @path one of the modules kbuildd installed for the kernel? */
static bool ours(const struct kb_initramfs_modules *mods, const char *path)
{
	for (size_t i = 0; i < mods->n; i++)
		if (!strcmp(mods->v[i].path, path))
			return true;
	return false;
}

/* Module @m: marked for the initramfs, or its recipe's and an older copy of it is there. */
static bool wanted(const struct image *im, const struct kb_initramfs_module *m)
{
	return m->in_recipe && (m->marked || carries(im, m->name));
}

/*
 * What goes in (im->adds, and im->replaced for their paths in the image):
 * kbuildd's modules for the kernel that are wanted, and what modules.dep
 * says they need, another recipe's or the kernel's own; of those, a module
 * kbuildd did not install and the image already carries is left as it is.
 */
static int choose_modules(struct image *im, const struct kb_initramfs_modules *mods)
{
	int r = 0;

	for (size_t i = 0; r >= 0 && i < mods->n; i++)
		if (wanted(im, &mods->v[i]))
			r = kb_strv_push(&im->adds, mods->v[i].path);
	for (size_t i = 0; r >= 0 && i < mods->n; i++) {
		const struct kb_initramfs_module *m = &mods->v[i];

		if (!wanted(im, m))
			continue;
		for (size_t j = 0; r >= 0 && j < m->needs.n; j++)
			if (!kb_strv_contains(&im->adds, m->needs.v[j]) &&
			    (ours(mods, m->needs.v[j]) ||
			     (m->need_names.v[j][0] && !carries(im, m->need_names.v[j]))))
				r = kb_strv_push(&im->adds, m->needs.v[j]);
	}
	for (size_t i = 0; r >= 0 && i < im->adds.n; i++) {
		char plain[PATH_MAX];

		r = image_path(im->adds.v[i], plain, sizeof(plain));
		if (r >= 0)
			r = kb_strv_push(&im->replaced, plain);
	}
	return r;
}

/* Put in what choose_modules() chose, decompressed, as mkinitramfs does. */
static int add_chosen(const struct kb_initramfs_request *req, struct image *im)
{
	int r = 0;

	for (size_t i = 0; r >= 0 && i < im->adds.n; i++) {
		_cleanup_free_ char *host = kb_root_path(req->root, im->adds.v[i]);
		struct kb_buf mod = KB_BUF_INIT_MAX(KB_MAX_MODULE_SIZE);
		char plain[PATH_MAX];

		r = host ? req->modules->decompress(host, &mod) : -ENOMEM;
		if (r < 0)
			r = kb_err_errno(r, "cannot read '/%s' for the initramfs", im->adds.v[i]);
		else if ((r = image_path(im->adds.v[i], plain, sizeof(plain))) >= 0)
			r = add_file(im, plain, mod.buf, mod.len, true);
		kb_buf_release(&mod);
	}
	return r;
}

/* depmod over the staged modules; add the indexes it writes. */
static int add_indexes(const struct kb_initramfs_request *req, struct image *im)
{
	static const char *const keep[] = { "modules.order", "modules.builtin",
					    "modules.builtin.modinfo" };
	static const char *const made[] = {
		"modules.dep",	       "modules.dep.bin",     "modules.alias",
		"modules.alias.bin",   "modules.softdep",     "modules.symbols",
		"modules.symbols.bin", "modules.builtin.bin", "modules.builtin.alias.bin",
		"modules.devname"
	};
	char dir[PATH_MAX], src[PATH_MAX], dst[PATH_MAX];
	struct kb_child c;
	int r = 0, status;

	kb_pathf(dir, sizeof(dir), "%s/lib/modules/%s", im->staging, req->release);
	for (size_t i = 0; i < ARRAY_SIZE(keep); i++) {
		struct kb_buf b = KB_BUF_INIT_MAX(KB_MAX_SYMVERS_SIZE);

		kb_pathf(src, sizeof(src), "lib/modules/%s/%s", req->release, keep[i]);
		if (kb_root_read(req->root, src, b.max, &b) == 0) {
			kb_pathf(dst, sizeof(dst), "%s/%s", dir, keep[i]);
			stage_module(im, dst + strlen(im->staging) + 1, b.buf ? b.buf : "", b.len);
		}
		kb_buf_release(&b);
	}
	mkdir(dir, 0755);
	kb_child_init(&c);
	kb_strv_push(&c.args, "depmod");
	kb_strv_push(&c.args, "-b");
	kb_strv_push(&c.args, im->staging);
	kb_strv_push(&c.args, "-C");
	kb_strv_pushf(&c.args, "%s/nonexistent.d", im->staging);
	kb_strv_push(&c.args, req->release);
	c.quiet = true;
	status = kb_child_run(&c);
	kb_child_release(&c);
	if (status != 0)
		return kb_err(-KB_E_BUILD, "depmod for the initramfs of %s failed", req->release);
	for (size_t i = 0; r >= 0 && i < ARRAY_SIZE(made); i++) {
		struct kb_buf b = KB_BUF_INIT_MAX(KB_MAX_SYMVERS_SIZE);

		kb_pathf(src, sizeof(src), "%s/%s", dir, made[i]);
		kb_pathf(dst, sizeof(dst), "lib/modules/%s/%s", req->release, made[i]);
		if (kb_read_file(AT_FDCWD, src, b.max, &b) == 0)
			r = add_file(im, dst, b.buf ? b.buf : "", b.len, false);
		kb_buf_release(&b);
	}
	return r;
}

static int to_buf(struct archive *a, void *user, const void *data, size_t len)
{
	(void)a;
	return kb_buf_add(user, data, len) < 0 ? -1 : (int)len;
}

static la_ssize_t write_cb(struct archive *a, void *user, const void *data, size_t len)
{
	return to_buf(a, user, data, len) < 0 ? -1 : (la_ssize_t)len;
}

/* The names of the modules an image carries. */
static void carried_modules(const char *data, size_t len, struct kb_strv *names)
{
	size_t early = kb_initramfs_early_length((const unsigned char *)data, len);
	struct archive *in = archive_read_new();
	struct archive_entry *e;

	archive_read_support_filter_all(in);
	archive_read_support_format_cpio(in);
	if (early < len && archive_read_open_memory(in, data + early, len - early) == ARCHIVE_OK)
		while (archive_read_next_header(in, &e) == ARCHIVE_OK) {
			const char *path = archive_entry_pathname(e), *base, *ko;

			if (path && (base = strrchr(path, '/')) && (ko = strstr(base, ".ko")))
				kb_strv_pushf(names, "%.*s", (int)(ko - base - 1), base + 1);
		}
	archive_read_free(in);
}

/* The error a module's dependency lists kept (kb_strv_error()), or 0: they must be whole. */
static int modules_error(const struct kb_initramfs_modules *mods)
{
	int r = 0;

	for (size_t i = 0; !r && i < mods->n; i++) {
		r = kb_strv_error(&mods->v[i].needs);
		if (!r)
			r = kb_strv_error(&mods->v[i].need_names);
	}
	return r;
}

/* Is the main archive of an image gzip? Then the new one is too; else zstd. */
static bool main_is_gzip(const char *data, size_t len)
{
	struct archive *probe = archive_read_new();
	struct archive_entry *e;
	bool gzip;

	archive_read_support_filter_all(probe);
	archive_read_support_format_cpio(probe);
	gzip = archive_read_open_memory(probe, data, len) == ARCHIVE_OK &&
	       archive_read_next_header(probe, &e) == ARCHIVE_OK &&
	       archive_filter_code(probe, 0) == ARCHIVE_FILTER_GZIP;
	archive_read_free(probe);
	return gzip;
}

/*
 * The new main archive, after the early segments in @out: the old one's
 * entries less what is regenerated, then the chosen modules and the indexes.
 */
static int write_main(const struct kb_initramfs_request *req, struct image *im,
		      const struct kb_buf *old, size_t early, struct kb_buf *out)
{
	bool was_gzip = early < old->len && main_is_gzip(old->buf + early, old->len - early);
	int r = 0;

	im->out = archive_write_new();
	archive_write_set_format_cpio_newc(im->out);
	if (was_gzip)
		archive_write_add_filter_gzip(im->out);
	else
		archive_write_add_filter_zstd(im->out);
	archive_write_set_bytes_in_last_block(im->out, 1);
	if (archive_write_open2(im->out, out, NULL, write_cb, NULL, NULL) != ARCHIVE_OK)
		r = kb_err(-EIO, "cannot start the initramfs: %s", archive_error_string(im->out));
	if (r >= 0 && early < old->len)
		r = copy_main(im, old->buf + early, old->len - early, &was_gzip);
	if (r >= 0)
		r = add_chosen(req, im);
	if (r >= 0)
		r = add_indexes(req, im);
	if (archive_write_close(im->out) != ARCHIVE_OK && r >= 0)
		r = kb_err(-EIO, "cannot finish the initramfs: %s", archive_error_string(im->out));
	archive_write_free(im->out);
	return r;
}

int kb_initramfs_builtin(const struct kb_initramfs_request *req)
{
	static const struct kb_initramfs_modules none = { 0 };
	const struct kb_initramfs_modules *mods = req->modules ? req->modules : &none;
	struct image im = { .release = req->release,
			    .replaced = KB_STRV_INIT,
			    .adds = KB_STRV_INIT,
			    .dirs = KB_STRV_INIT,
			    .carried = KB_STRV_INIT };
	struct kb_buf old = KB_BUF_INIT_MAX(MAX_IMAGE), out = KB_BUF_INIT_MAX(MAX_IMAGE);
	char rel[PATH_MAX];
	size_t early;
	int r;

	kb_pathf(rel, sizeof(rel), "boot/initrd.img-%s", req->release);
	r = modules_error(mods);
	if (r < 0)
		return kb_err_errno(r, "cannot list the modules for '/%s'", rel);
	r = kb_root_read(req->root, rel, old.max, &old);
	if (r == -ENOENT) {
		kb_info("%s has no initramfs (/%s): nothing to update", req->release, rel);
		kb_buf_release(&old);
		return 0;
	}
	if (r < 0)
		return kb_err_errno(r, "cannot read '/%s'", rel);
	snprintf(im.staging, sizeof(im.staging), "%s/kbuildd-initramfs.XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(im.staging)) {
		r = kb_err_errno(-errno, "cannot create a staging directory");
		goto out;
	}
	carried_modules(old.buf, old.len, &im.carried);
	r = choose_modules(&im, mods);
	if (r < 0)
		goto out;
	early = kb_initramfs_early_length((const unsigned char *)old.buf, old.len);
	r = kb_buf_add(&out, old.buf, early); /* microcode and other early segments, as they were */
	if (r >= 0)
		r = write_main(req, &im, &old, early, &out);
	if (r >= 0 && !req->dry_run)
		r = kb_atomic_write_buf(req->root, rel, &out, 0644);
	if (r < 0 && r != -KB_E_INPUT && r != -KB_E_BUILD)
		r = kb_err_errno(r, "cannot write '/%s'; the previous initramfs is unchanged", rel);
out:
	if (im.staging[0])
		kb_rm_rf_host(im.staging);
	kb_strv_clear(&im.replaced);
	kb_strv_clear(&im.adds);
	kb_strv_clear(&im.dirs);
	kb_strv_clear(&im.carried);
	kb_buf_release(&old);
	kb_buf_release(&out);
	return r;
}

void kb_initramfs_modules_release(struct kb_initramfs_modules *mods)
{
	for (size_t i = 0; i < mods->n; i++) {
		free(mods->v[i].path);
		free(mods->v[i].name);
		kb_strv_clear(&mods->v[i].needs);
		kb_strv_clear(&mods->v[i].need_names);
	}
	free(mods->v);
	mods->v = NULL;
	mods->n = 0;
}
