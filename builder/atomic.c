/* Atomic file replacement: temp file in the same directory, fsync, rename, fsync dir. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomic.h"
#include "fault.h"
#include "util.h"

int kb_atomic_stage_at(int dfd, const char *base, const void *data, size_t len, mode_t mode,
		       char *tmp, size_t tmp_size)
{
	unsigned char rnd[6];
	int fd, r;

	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		return -errno;
	if (snprintf(tmp, tmp_size, ".%.200s.kbtmp-%02x%02x%02x%02x%02x%02x", base, rnd[0],
		     rnd[1], rnd[2], rnd[3], rnd[4], rnd[5]) >= (int)tmp_size)
		return -ENAMETOOLONG;
	kb_fault_point("create temp file");
	fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd < 0)
		return -errno;
	r = kb_write_all(fd, data, len);
	kb_fault_point("write temp file");
	if (r == 0 && fchmod(fd, mode) < 0)
		r = -errno;
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r < 0)
		unlinkat(dfd, tmp, 0);
	return r;
}

int kb_atomic_commit_at(int dfd, const char *base, const char *tmp)
{
	kb_fault_point("rename into place");
	if (renameat(dfd, tmp, dfd, base) < 0) {
		int r = -errno;

		unlinkat(dfd, tmp, 0);
		return r;
	}
	return fsync(dfd) < 0 ? -errno : 0;
}

int kb_atomic_write(const struct kb_root *root, const char *rel, const void *data, size_t len,
		    mode_t mode)
{
	char dir[PATH_MAX], tmp[NAME_MAX + 1];
	const char *base;
	int dfd, r;

	dfd = kb_root_open_parent(root, rel, O_RDONLY, dir, sizeof(dir), &base);
	if (dfd < 0)
		return dfd;
	r = kb_atomic_stage_at(dfd, base, data, len, mode, tmp, sizeof(tmp));
	if (r == 0)
		r = kb_atomic_commit_at(dfd, base, tmp);
	close(dfd);
	return r;
}

int kb_atomic_stage(const struct kb_root *root, const char *rel, const void *data, size_t len,
		    mode_t mode, char *tmp, size_t tmp_size)
{
	char dir[PATH_MAX];
	const char *base;
	int dfd, r;

	dfd = kb_root_open_parent(root, rel, O_RDONLY, dir, sizeof(dir), &base);
	if (dfd < 0)
		return dfd;
	r = kb_atomic_stage_at(dfd, base, data, len, mode, tmp, tmp_size);
	close(dfd);
	return r;
}

int kb_atomic_commit(const struct kb_root *root, const char *rel, const char *tmp)
{
	char dir[PATH_MAX];
	const char *base;
	int dfd, r;

	dfd = kb_root_open_parent(root, rel, O_RDONLY, dir, sizeof(dir), &base);
	if (dfd < 0)
		return dfd;
	r = kb_atomic_commit_at(dfd, base, tmp);
	close(dfd);
	return r;
}

void kb_atomic_abort(const struct kb_root *root, const char *rel, const char *tmp)
{
	char dir[PATH_MAX];
	const char *base;
	int dfd;

	dfd = kb_root_open_parent(root, rel, O_RDONLY, dir, sizeof(dir), &base);
	if (dfd < 0)
		return;
	unlinkat(dfd, tmp, 0);
	close(dfd);
}

int kb_durable_unlink(const struct kb_root *root, const char *rel)
{
	char dir[PATH_MAX];
	const char *base;
	int dfd, r = 0;

	dfd = kb_root_open_parent(root, rel, O_RDONLY, dir, sizeof(dir), &base);
	if (dfd == -ENOENT)
		return 0;
	if (dfd < 0)
		return dfd;
	kb_fault_point("unlink");
	if (unlinkat(dfd, base, 0) < 0)
		r = errno == ENOENT ? 0 : -errno;
	else if (fsync(dfd) < 0)
		r = -errno;
	close(dfd);
	return r;
}

int kb_durable_rename(const struct kb_root *root, const char *from, const char *to)
{
	char fdir[PATH_MAX], tdir[PATH_MAX];
	const char *fbase, *tbase;
	int ffd, tfd, r = 0;

	ffd = kb_root_open_parent(root, from, O_RDONLY, fdir, sizeof(fdir), &fbase);
	if (ffd < 0)
		return ffd;
	tfd = kb_root_open_parent(root, to, O_RDONLY, tdir, sizeof(tdir), &tbase);
	if (tfd < 0) {
		close(ffd);
		return tfd;
	}
	kb_fault_point("rename");
	if (renameat(ffd, fbase, tfd, tbase) < 0)
		r = -errno;
	else if (fsync(tfd) < 0)
		r = -errno;
	close(tfd);
	close(ffd);
	return r;
}
