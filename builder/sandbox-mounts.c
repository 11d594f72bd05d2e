/* What a sandbox's code sees: the mounts its init makes in the new mount namespace. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kb-limits.h"
#include "sandbox-mounts.h"
#include "sandbox.h"

/* Private, empty and writable in every sandbox. */
static const char *const scratch_dirs[] = { "/tmp", "/var/tmp", "/dev/shm", "/run" };

/* Is @path the root of a mount? "/" is not in a chroot to a plain directory. */
bool kb_is_mount_root(const char *path)
{
	struct statx stx;

	return statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &stx) == 0 &&
	       (stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) &&
	       (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT);
}

void kb_say(int fd, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n > 0 && kb_write_all(fd >= 0 ? fd : 2, msg, (size_t)n < sizeof(msg) ? (size_t)n
								       : sizeof(msg) - 1) < 0)
		return;
}

static int mkdir_p(const char *path)
{
	char buf[4096];
	size_t len = strlen(path);

	if (len >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, len + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	return mkdir(buf, 0755) < 0 && errno != EEXIST ? -errno : 0;
}

static int set_attr(int dfd, const char *path, unsigned flags, unsigned long set,
		    unsigned long clear)
{
	struct mount_attr attr = { .attr_set = set, .attr_clr = clear };

	return mount_setattr(dfd, path, flags, &attr, sizeof(attr)) < 0 ? -errno : 0;
}

struct keep {
	const char *path;
	int tree;	/* a detached copy of the mounts at @path (open_tree) */
	bool rw;
};

/* Is what @path names now the tree @k was cloned from? */
static bool visible(const struct keep *k)
{
	struct stat a, b;

	return stat(k->path, &a) == 0 && fstat(k->tree, &b) == 0 && a.st_dev == b.st_dev &&
	       a.st_ino == b.st_ino;
}

/*
 * Attach each kept tree where it was when a tmpfs now covers it, and in the
 * @last pass also each one that must be writable. Shorter paths first: a
 * parent is placed before what lies inside it.
 */
static int expose(struct keep *keep, size_t n, bool last, int err_fd)
{
	for (;;) {
		struct keep *k = NULL;
		int r;

		for (size_t i = 0; i < n; i++)
			if (keep[i].tree >= 0 && ((last && keep[i].rw) || !visible(&keep[i])) &&
			    (!k || strlen(keep[i].path) < strlen(k->path)))
				k = &keep[i];
		if (!k)
			return 0;
		r = mkdir_p(k->path);
		if (r >= 0)
			r = set_attr(k->tree, "", AT_EMPTY_PATH | AT_RECURSIVE,
				     MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV |
					     (k->rw ? 0 : MOUNT_ATTR_RDONLY),
				     k->rw ? MOUNT_ATTR_RDONLY : 0);
		if (r >= 0 &&
		    move_mount(k->tree, "", AT_FDCWD, k->path, MOVE_MOUNT_F_EMPTY_PATH) < 0)
			r = -errno;
		if (r < 0) {
			kb_say(err_fd, "kbuildd: sandbox: cannot keep '%s' in view: %s\n", k->path,
			       strerror(-r));
			return r;
		}
		close(k->tree);
		k->tree = -1;
	}
}

static int cover(const char *dir, const char *opts, unsigned long flags)
{
	struct stat st;

	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
		return 0;	/* nothing there to hide or to write to */
	return mount("tmpfs", dir, "tmpfs", MS_NOSUID | MS_NODEV | flags, opts) < 0 ? -errno : 0;
}

/* A fresh /proc of the namespace; where that is refused, an empty one. */
static int mount_proc(void)
{
	if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) == 0)
		return 0;
	/* never the host's: through /proc/PID/root it would reach other builds */
	return mount("tmpfs", "/proc", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY,
		     "mode=0555,size=4k") < 0 ? -errno : 0;
}

/*
 * In a chroot whose root is a plain directory, "/" is no mount: it cannot
 * be made private, and whatever is mounted on a directory of it would
 * propagate to the host's namespace. Only the mounts the chroot has can be
 * made private and covered: a fresh /proc (no other build's processes, no
 * way into them) and /dev/shm. The rest of the view is the chroot's.
 */
static int chroot_mounts(int err_fd)
{
	static const char *const own[] = { "/proc", "/dev/shm" };

	for (size_t i = 0; i < ARRAY_SIZE(own); i++) {
		int r;

		if (!kb_is_mount_root(own[i]))
			continue;
		if (mount(NULL, own[i], NULL, MS_REC | MS_PRIVATE, NULL) < 0)
			r = -errno;
		else
			r = i == 0 ? mount_proc() : cover(own[i], "mode=1777", 0);
		if (r < 0) {
			kb_say(err_fd, "kbuildd: sandbox: cannot make a private %s: %s\n", own[i],
			       strerror(-r));
			return r;
		}
	}
	kb_say(err_fd, "# kbuildd: in a chroot whose root is not a mount point the build shares "
		       "the chroot's file system; only its processes, network and /proc are its own\n");
	return 0;
}

static int make_mounts(const struct kb_sandbox *sb, struct keep *keep, size_t n, int err_fd)
{
	const char *step = "make the mounts private";
	int r = 0;

	if (sb->shared_fs)
		return chroot_mounts(err_fd);
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		goto fail;
	step = "copy the trees it needs";
	for (size_t i = 0; i < n; i++) {
		keep[i].tree = open_tree(AT_FDCWD, keep[i].path,
					 OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
		if (keep[i].tree < 0)
			goto fail;
	}
	step = "make the file system read-only";
	if ((r = set_attr(AT_FDCWD, "/", AT_RECURSIVE, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID, 0)) < 0)
		goto fail_r;
	step = "mount /proc";
	if ((r = mount_proc()) < 0)
		goto fail_r;
	step = "make private scratch directories";
	for (size_t i = 0; i < ARRAY_SIZE(scratch_dirs); i++)
		if ((r = cover(scratch_dirs[i], i < 3 ? "mode=1777" : "mode=0755", 0)) < 0)
			goto fail_r;
	if (mkdir("/run/lock", 01777) == 0)
		chmod("/run/lock", 01777);
	if ((r = expose(keep, n, false, err_fd)) < 0)
		return r;
	step = "hide kbuildd's state";
	for (size_t i = 0; i < sb->hide.n; i++)
		if ((r = cover(sb->hide.v[i], "mode=0755,size=1m", MS_NOEXEC)) < 0)
			goto fail_r;
	if ((r = expose(keep, n, true, err_fd)) < 0)
		return r;
	/* the skeletons that hold the kept trees become read-only too */
	for (size_t i = 0; i < sb->hide.n; i++)
		set_attr(AT_FDCWD, sb->hide.v[i], 0, MOUNT_ATTR_RDONLY, 0);
	return 0;
fail:
	r = -errno;
fail_r:
	kb_say(err_fd, "kbuildd: sandbox: cannot %s: %s\n", step, strerror(-r));
	return r;
}

int kb_sandbox_mounts(const struct kb_sandbox *sb, int err_fd)
{
	size_t n = sb->ro.n + sb->rw.n;
	struct keep keep[KB_MAX_SANDBOX_PATHS];

	if (n > ARRAY_SIZE(keep)) {
		kb_say(err_fd, "kbuildd: sandbox: more than %zu paths to keep\n", ARRAY_SIZE(keep));
		return -E2BIG;
	}
	for (size_t i = 0; i < n; i++)
		keep[i] = (struct keep){
			.path = i < sb->ro.n ? sb->ro.v[i] : sb->rw.v[i - sb->ro.n],
			.tree = -1, .rw = i >= sb->ro.n,
		};
	return make_mounts(sb, keep, n, err_fd);
}
