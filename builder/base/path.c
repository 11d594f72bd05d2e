/* The root prefix and tree operations inside it. */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/fault.h"
#include "base/log.h"
#include "base/path.h"
#include "base/util.h"

int kb_root_open(struct kb_root *root, const char *path, const char *state_dir)
{
	char *real = realpath(path, NULL);

	root->fd = -1;
	root->path = NULL;
	root->state_dir = state_dir;
	if (!real)
		return -errno;
	root->fd = open(real, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root->fd < 0) {
		int r = -errno;

		free(real);
		return r;
	}
	if (!strcmp(real, "/"))
		real[0] = '\0';
	root->path = real;
	return 0;
}

void kb_root_release(struct kb_root *root)
{
	if (root->fd >= 0)
		close(root->fd);
	root->fd = -1;
	free(root->path);
	root->path = NULL;
}

static const char *skip_slash(const char *rel)
{
	while (*rel == '/')
		rel++;
	return *rel ? rel : ".";
}

int kb_root_openat(const struct kb_root *root, const char *rel, int flags, mode_t mode)
{
	struct open_how how = {
		.flags = (unsigned long long)(flags | O_CLOEXEC),
		.mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0,
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	long fd;

	fd = syscall(SYS_openat2, root->fd, skip_slash(rel), &how, sizeof(how));
	if (fd < 0 && errno == ENOSYS)
		fd = openat(root->fd, skip_slash(rel), flags | O_CLOEXEC, mode);
	return fd < 0 ? -errno : (int)fd;
}

int kb_openat_beneath(int dfd, const char *rel, int flags, mode_t mode)
{
	struct open_how how = {
		.flags = (unsigned long long)(flags | O_CLOEXEC),
		.mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	long fd = syscall(SYS_openat2, dfd, rel, &how, sizeof(how));

	return fd < 0 ? -errno : (int)fd;
}

char *kb_root_path(const struct kb_root *root, const char *rel)
{
	struct kb_buf b = KB_BUF_INIT;

	while (*rel == '/')
		rel++;
	if (kb_buf_addf(&b, "%s/%s", root->path, rel) < 0) {
		kb_buf_release(&b);
		return NULL;
	}
	return kb_buf_detach(&b);
}

char *kb_root_pathf(const struct kb_root *root, const char *fmt, ...)
{
	char rel[PATH_MAX];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(rel, sizeof(rel), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(rel))
		return NULL;
	return kb_root_path(root, rel);
}

bool kb_root_exists(const struct kb_root *root, const char *rel)
{
	int fd = kb_root_openat(root, rel, O_PATH | O_NOFOLLOW, 0);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

/* Open the parent directory of @rel and point *@last at its final component. */
int kb_root_open_parent(const struct kb_root *root, const char *rel, int flags, char *buf,
			size_t size, const char **last)
{
	char *slash;

	if (kb_pathf(buf, size, "%s", skip_slash(rel)) < 0)
		return -ENAMETOOLONG;
	slash = strrchr(buf, '/');
	if (!slash) {
		*last = buf;
		return kb_root_openat(root, ".", flags | O_DIRECTORY, 0);
	}
	*slash = '\0';
	*last = slash + 1;
	return kb_root_openat(root, buf, flags | O_DIRECTORY, 0);
}

/* The O_PATH form most callers here need. */
static int open_parent(const struct kb_root *root, const char *rel, char *buf, size_t size,
		       const char **last)
{
	return kb_root_open_parent(root, rel, O_PATH, buf, size, last);
}

int kb_mkdirs(const struct kb_root *root, const char *rel, mode_t mode)
{
	char path[PATH_MAX];
	char *p;

	if (kb_pathf(path, sizeof(path), "%s", skip_slash(rel)) < 0)
		return -ENAMETOOLONG;
	for (p = path;; p++) {
		if (*p == '/' || *p == '\0') {
			char saved = *p;
			const char *last;
			char parent[PATH_MAX];
			int dfd;

			*p = '\0';
			dfd = open_parent(root, path, parent, sizeof(parent), &last);
			if (dfd < 0)
				return dfd;
			if (faccessat(dfd, last, F_OK, AT_SYMLINK_NOFOLLOW) < 0)
				kb_fault_point("mkdir");
			if (mkdirat(dfd, last, mode) < 0 && errno != EEXIST) {
				int r = -errno;

				close(dfd);
				return r;
			}
			close(dfd);
			*p = saved;
			if (!saved)
				break;
		}
	}
	return 0;
}

int kb_root_mkdirs_beneath(const struct kb_root *root, const char *base, const char *below,
			   mode_t mode)
{
	char path[PATH_MAX], *name, *save = NULL;
	int dfd, r;

	if (kb_pathf(path, sizeof(path), "%s", below) < 0)
		return -ENAMETOOLONG;
	r = kb_mkdirs(root, base, mode);
	dfd = r < 0 ? r : kb_root_openat(root, base, O_PATH | O_DIRECTORY, 0);
	for (name = strtok_r(path, "/", &save); dfd >= 0 && name;
	     name = strtok_r(NULL, "/", &save)) {
		int next;

		if (!strcmp(name, "."))
			continue;
		if (faccessat(dfd, name, F_OK, AT_SYMLINK_NOFOLLOW) < 0)
			kb_fault_point("mkdir");
		/* an existing symlink is EEXIST here, and refused by the open */
		next = mkdirat(dfd, name, mode) < 0 && errno != EEXIST ?
			       -errno :
			       kb_openat_beneath(dfd, name, O_PATH | O_DIRECTORY, 0);
		close(dfd);
		dfd = next;
	}
	if (dfd < 0)
		return dfd;
	r = kb_openat_beneath(dfd, ".", O_RDONLY | O_DIRECTORY, 0);
	close(dfd);
	return r;
}

static int rm_rf_at(int dfd, const char *name)
{
	struct dirent *de;
	DIR *dir;
	int fd, r = 0;

	if (faccessat(dfd, name, F_OK, AT_SYMLINK_NOFOLLOW) < 0)
		return 0;
	kb_fault_point("remove tree");
	if (unlinkat(dfd, name, 0) == 0 || errno == ENOENT)
		return 0;
	if (errno != EISDIR && errno != EPERM)
		return -errno;
	fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	dir = fdopendir(fd);
	if (!dir) {
		close(fd);
		return -errno;
	}
	while ((de = readdir(dir))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		r = rm_rf_at(dirfd(dir), de->d_name);
		if (r < 0)
			break;
	}
	closedir(dir);
	if (r == 0 && unlinkat(dfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		r = -errno;
	return r;
}

int kb_rm_rf(const struct kb_root *root, const char *rel)
{
	char parent[PATH_MAX];
	const char *last;
	int dfd, r;

	dfd = open_parent(root, rel, parent, sizeof(parent), &last);
	if (dfd == -ENOENT)
		return 0;
	if (dfd < 0)
		return dfd;
	r = rm_rf_at(dfd, last);
	close(dfd);
	return r;
}

int kb_rmdir_parents(const struct kb_root *root, const char *rel, const char *stop)
{
	char path[PATH_MAX];
	size_t stop_len = strlen(skip_slash(stop));

	if (kb_pathf(path, sizeof(path), "%s", skip_slash(rel)) < 0)
		return -ENAMETOOLONG;
	while (strlen(path) > stop_len && kb_str_startswith(path, skip_slash(stop))) {
		char parent[PATH_MAX];
		const char *last;
		char *slash;
		int dfd = open_parent(root, path, parent, sizeof(parent), &last);

		if (dfd == -ENOENT)
			return 0;
		if (dfd < 0)
			return dfd;
		if (unlinkat(dfd, last, AT_REMOVEDIR) < 0 && errno != ENOENT) {
			int r = -errno;

			close(dfd);
			/* still in use, or a mount point: where removing ends, not a failure */
			return r == -ENOTEMPTY || r == -EEXIST || r == -EBUSY ? 0 : r;
		}
		close(dfd);
		slash = strrchr(path, '/');
		if (!slash)
			return 0;
		*slash = '\0';
	}
	return 0;
}

/* A regular file inside the root, opened without blocking on a FIFO (kb_check_regular). */
static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int kb_dir_names(int fd, struct kb_strv *names, size_t max)
{
	struct dirent *de;
	DIR *dir;
	int dup_fd = dup(fd), r = 0;

	if (dup_fd < 0)
		return -errno;
	dir = fdopendir(dup_fd);
	if (!dir) {
		close(dup_fd);
		return -errno;
	}
	while ((de = readdir(dir))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		r = names->n < max ? kb_strv_push(names, de->d_name) : -E2BIG;
		if (r < 0)
			break;
	}
	closedir(dir);
	if (names->n)
		qsort(names->v, names->n, sizeof(char *), name_cmp);
	return r;
}

static int root_open_file(const struct kb_root *root, const char *rel)
{
	int fd = kb_root_openat(root, rel, O_RDONLY | O_NOFOLLOW | O_NONBLOCK, 0);
	char shown[PATH_MAX];
	int r;

	if (fd < 0)
		return fd;
	snprintf(shown, sizeof(shown), "%s/%s", root->path, skip_slash(rel));
	r = kb_check_regular(fd, shown);
	if (r < 0) {
		close(fd);
		return r;
	}
	return fd;
}

int kb_root_read(const struct kb_root *root, const char *rel, size_t max, struct kb_buf *b)
{
	int fd = root_open_file(root, rel);
	int r;

	if (fd < 0)
		return fd;
	r = kb_read_fd(fd, max, b);
	close(fd);
	return r;
}

int kb_root_sha256(const struct kb_root *root, const char *rel, char *hex)
{
	int fd = root_open_file(root, rel);
	int r;

	if (fd < 0)
		return fd;
	r = kb_sha256_fd(fd, hex);
	close(fd);
	return r;
}

/*
 * lchown @name below @dfd and everything in it; with @freeze also drop the
 * set-id, sticky and group/other write bits of every non-symlink, and
 * refuse a tree too deep to walk whole (nothing may stay unfrozen).
 */
static int own_at(int dfd, const char *name, uid_t uid, gid_t gid, bool freeze, unsigned depth)
{
	struct stat st;
	struct dirent *de;
	DIR *dir;
	int fd, r = 0;

	if (fchownat(dfd, name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0 ||
	    fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (freeze && !S_ISLNK(st.st_mode) &&
	    fchmodat(dfd, name, st.st_mode & 0755 & ~(mode_t)(S_IWGRP | S_IWOTH), 0) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return 0;
	if (depth >= 64)
		return freeze ? -ELOOP : 0;
	fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	dir = fdopendir(fd);
	if (!dir) {
		close(fd);
		return -errno;
	}
	while (r >= 0 && (de = readdir(dir)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			r = own_at(dirfd(dir), de->d_name, uid, gid, freeze, depth + 1);
	closedir(dir);
	return r;
}

static int own_tree(const struct kb_root *root, const char *rel, uid_t uid, gid_t gid, bool freeze)
{
	char parent[PATH_MAX];
	const char *last;
	int dfd, r;

	dfd = open_parent(root, rel, parent, sizeof(parent), &last);
	if (dfd < 0)
		return dfd;
	r = own_at(dfd, last, uid, gid, freeze, 0);
	close(dfd);
	return r;
}

int kb_root_chmod_owner(const struct kb_root *root, const char *rel, uid_t uid, gid_t gid,
			mode_t mode)
{
	char parent[PATH_MAX];
	const char *last;
	int dfd, r = 0;

	dfd = open_parent(root, rel, parent, sizeof(parent), &last);
	if (dfd < 0)
		return dfd;
	if (fchownat(dfd, last, uid, gid, AT_SYMLINK_NOFOLLOW) < 0 ||
	    fchmodat(dfd, last, mode, 0) < 0)
		r = -errno;
	close(dfd);
	return r;
}

int kb_chown_tree(const struct kb_root *root, const char *rel, uid_t uid, gid_t gid)
{
	return own_tree(root, rel, uid, gid, false);
}

int kb_freeze_tree(const struct kb_root *root, const char *rel)
{
	/* without root, the tree is already the caller's: only the modes change */
	bool root_user = geteuid() == 0;

	return own_tree(root, rel, root_user ? 0 : (uid_t)-1, root_user ? 0 : (gid_t)-1, true);
}

int kb_rm_rf_host(const char *path)
{
	char parent[PATH_MAX];
	const char *slash = strrchr(path, '/');
	int dfd, r;

	if (!slash || slash == path ||
	    kb_pathf(parent, sizeof(parent), "%.*s", (int)(slash - path), path) < 0)
		return -EINVAL;
	dfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	r = rm_rf_at(dfd, slash + 1);
	close(dfd);
	return r;
}

int kb_root_list(const struct kb_root *root, const char *rel, struct kb_strv *names)
{
	int fd = kb_root_openat(root, rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0);
	int r;

	if (fd < 0)
		return fd;
	r = kb_dir_names(fd, names, SIZE_MAX);
	close(fd);
	return r;
}
