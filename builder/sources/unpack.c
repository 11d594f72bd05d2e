/* Safe extraction of source archives with libarchive: nothing lands outside the target. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "sources/unpack.h"
#include "base/limits.h"
#include "base/log.h"
#include "base/path.h"
#include "base/util.h"

/*
 * Normalise @in after dropping @strip components: no absolute path, no
 * "..", no empty result. Returns 1 when the entry is to be skipped (it
 * lies within the stripped prefix), 0 with @out set, or -EINVAL.
 */
static int clean_path(const char *in, unsigned strip, char *out, size_t size)
{
	size_t used = 0;
	unsigned skipped = 0;

	if (in[0] == '/')
		return -EINVAL;
	out[0] = '\0';
	while (*in) {
		size_t n = strcspn(in, "/");

		if (n == 2 && !strncmp(in, "..", 2))
			return -EINVAL;
		if (n && !(n == 1 && in[0] == '.')) {
			if (skipped < strip) {
				skipped++;
			} else {
				if (used + n + 2 > size)
					return -EINVAL;
				if (used)
					out[used++] = '/';
				memcpy(out + used, in, n);
				used += n;
				out[used] = '\0';
			}
		}
		in += n;
		while (*in == '/')
			in++;
	}
	return used ? 0 : 1;
}

/*
 * A symlink at @path pointing to @target must stay inside the tree. ".." is
 * allowed only before the first name: after one, it would climb from wherever
 * that name (itself perhaps a symlink, like "x -> .") leads, not from here.
 */
static bool link_stays_inside(const char *path, const char *target)
{
	bool named = false;
	int depth = 0;

	if (target[0] == '/' || !target[0])
		return false;
	for (const char *p = path; *p; p++)
		if (*p == '/')
			depth++;
	while (*target) {
		size_t n = strcspn(target, "/");

		if (n == 2 && !strncmp(target, "..", 2)) {
			if (named)
				return false;
			depth--;
		} else if (n && !(n == 1 && target[0] == '.')) {
			depth++;
			named = true;
		}
		if (depth < 0)
			return false;
		target += n;
		while (*target == '/')
			target++;
	}
	return true;
}

static int make_parents(int dfd, const char *path)
{
	char dir[PATH_MAX];

	if (kb_pathf(dir, sizeof(dir), "%s", path) < 0)
		return -ENAMETOOLONG;
	for (char *p = dir; *p; p++) {
		int fd;

		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdirat(dfd, dir, 0755) < 0 && errno != EEXIST)
			return -errno;
		fd = kb_openat_beneath(dfd, dir, O_PATH | O_DIRECTORY,
				       0); /* a real dir, not a link */
		if (fd < 0)
			return fd;
		close(fd);
		*p = '/';
	}
	return 0;
}

/*
 * Write the entry's data to @path. The file counts against the cap at its
 * full size: holes in sparse entries as much as data (it is read back and
 * copied in full later), and the declared size is checked before anything
 * is written.
 */
static int write_file(struct archive *a, int dfd, const char *path, mode_t mode, la_int64_t size,
		      size_t *total)
{
	const void *buf;
	size_t len, end = 0; /* the file's extent so far */
	la_int64_t off;
	int fd, r = 0;

	if (size > 0 && (uint64_t)size > KB_MAX_EXTRACTED - *total)
		return -EFBIG;
	fd = kb_openat_beneath(dfd, path, O_WRONLY | O_CREAT | O_EXCL, mode);
	if (fd < 0)
		return fd;
	for (;;) {
		int rc = archive_read_data_block(a, &buf, &len, &off);

		if (rc == ARCHIVE_EOF)
			break;
		if (rc != ARCHIVE_OK) {
			r = -EIO;
			break;
		}
		if (off < 0 || (uint64_t)off > KB_MAX_EXTRACTED || len > KB_MAX_EXTRACTED ||
		    (size_t)off + len > KB_MAX_EXTRACTED - *total + end) {
			r = -EFBIG;
			break;
		}
		if ((size_t)off + len > end) {
			*total += (size_t)off + len - end;
			end = (size_t)off + len;
		}
		if (lseek(fd, off, SEEK_SET) < 0 || kb_write_all(fd, buf, len) < 0) {
			r = -errno;
			break;
		}
	}
	/* a hole at the end of a sparse file has no data block: set the size */
	if (!r && size > 0 && (size_t)size > end) {
		*total += (size_t)size - end;
		if (ftruncate(fd, size) < 0)
			r = -errno;
	}
	close(fd);
	return r;
}

static int extract_entry(struct archive *a, struct archive_entry *e, int dfd, unsigned strip,
			 const char *what, size_t *total)
{
	const char *name = archive_entry_pathname(e);
	mode_t mode = archive_entry_perm(e) & 0777 & ~(mode_t)022;
	char path[PATH_MAX], target[PATH_MAX];
	int rc, r;

	if (!name)
		return kb_err(-KB_E_INPUT, "%s: archive entry without a name", what);
	rc = clean_path(name, strip, path, sizeof(path));
	if (rc < 0)
		return kb_err(-KB_E_INPUT,
			      "%s: archive entry '%s' would be written outside the "
			      "source directory (absolute path or '..')",
			      what, name);
	if (rc > 0)
		return 0;
	r = make_parents(dfd, path);
	if (r < 0)
		return kb_err(-KB_E_INPUT, "%s: cannot create the directory for '%s': %s", what,
			      name, strerror(-r));
	if (archive_entry_hardlink(e)) {
		rc = clean_path(archive_entry_hardlink(e), strip, target, sizeof(target));
		if (rc)
			return kb_err(-KB_E_INPUT,
				      "%s: hard link '%s' points outside the source "
				      "directory",
				      what, name);
		/* linkat follows symlinks in @target's directories: allow none */
		r = kb_openat_beneath(dfd, target, O_PATH | O_NOFOLLOW, 0);
		if (r < 0)
			return kb_err(-KB_E_INPUT, "%s: hard link '%s' -> '%s': %s", what, name,
				      archive_entry_hardlink(e), strerror(-r));
		close(r);
		if (linkat(dfd, target, dfd, path, 0) < 0)
			return kb_err(-KB_E_INPUT, "%s: cannot link '%s': %s", what, name,
				      strerror(errno));
		return 0;
	}
	switch (archive_entry_filetype(e)) {
	case AE_IFDIR:
		if (mkdirat(dfd, path, mode | 0700) < 0 && errno != EEXIST)
			return kb_err(-KB_E_INPUT, "%s: cannot create '%s': %s", what, name,
				      strerror(errno));
		return 0;
	case AE_IFREG:
		r = write_file(a, dfd, path, mode | 0600,
			       archive_entry_size_is_set(e) ? archive_entry_size(e) : 0, total);
		if (r == -EFBIG)
			return kb_err(-KB_E_INPUT,
				      "%s: the archive unpacks to more than %zu MiB; "
				      "refused",
				      what, KB_MAX_EXTRACTED >> 20);
		if (r < 0)
			return kb_err(-KB_E_INPUT, "%s: cannot extract '%s': %s", what, name,
				      r == -EIO ? archive_error_string(a) : strerror(-r));
		return 0;
	case AE_IFLNK:
		if (!archive_entry_symlink(e) || !link_stays_inside(path, archive_entry_symlink(e)))
			return kb_err(-KB_E_INPUT,
				      "%s: symlink '%s' -> '%s' points outside the "
				      "source directory",
				      what, name,
				      archive_entry_symlink(e) ? archive_entry_symlink(e) : "");
		if (symlinkat(archive_entry_symlink(e), dfd, path) < 0)
			return kb_err(-KB_E_INPUT, "%s: cannot create symlink '%s': %s", what, name,
				      strerror(errno));
		return 0;
	default:
		return kb_err(-KB_E_INPUT,
			      "%s: archive entry '%s' is a device, fifo or socket; "
			      "refused",
			      what, name);
	}
}

int kb_unpack(const char *archive, const char *dest, unsigned strip, const char *what)
{
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	size_t total = 0, entries = 0;
	int dfd, rc, r = 0;

	dfd = open(dest, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (!a || dfd < 0) {
		r = kb_err_errno(-errno, "cannot open '%s'", dest);
		goto out;
	}
	archive_read_support_filter_all(a);
	archive_read_support_format_all(a);
	if (archive_read_open_filename(a, archive, 65536) != ARCHIVE_OK) {
		r = kb_err(-KB_E_INPUT, "%s: cannot read the archive: %s", what,
			   archive_error_string(a));
		goto out;
	}
	while ((rc = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
		/* empty entries cost nothing against KB_MAX_EXTRACTED, but each is a file */
		if (++entries > KB_MAX_ARCHIVE_ENTRIES) {
			r = kb_err(-KB_E_INPUT,
				   "%s: the archive '%s' has more than %d entries; "
				   "refused",
				   what, archive, KB_MAX_ARCHIVE_ENTRIES);
			goto out;
		}
		r = extract_entry(a, e, dfd, strip, what, &total);
		if (r < 0)
			goto out;
	}
	if (rc != ARCHIVE_EOF)
		r = kb_err(-KB_E_INPUT, "%s: the archive is damaged: %s", what,
			   archive_error_string(a));
out:
	if (dfd >= 0)
		close(dfd);
	archive_read_free(a);
	return r;
}
