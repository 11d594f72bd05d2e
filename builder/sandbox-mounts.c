/* What a sandbox's code sees: the mounts its init makes in the new mount namespace. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/limits.h"
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
	char msg[2048]; /* room for a message naming two paths */
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n > 0 && kb_write_all(fd >= 0 ? fd : 2, msg,
				  (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1) < 0)
		return;
}

int kb_mount_mkdir_p(const char *path)
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

int kb_mount_setattr(int dfd, const char *path, unsigned flags, unsigned long set,
		     unsigned long clear)
{
	struct mount_attr attr = { .attr_set = set, .attr_clr = clear };

	return mount_setattr(dfd, path, flags, &attr, sizeof(attr)) < 0 ? -errno : 0;
}

struct keep {
	const char *path;
	int tree; /* a detached copy of the mounts at @path (open_tree) */
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
		r = kb_mount_mkdir_p(k->path);
		if (r >= 0)
			r = kb_mount_setattr(k->tree, "", AT_EMPTY_PATH | AT_RECURSIVE,
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
		return 0; /* nothing there to hide or to write to */
	return mount("tmpfs", dir, "tmpfs", MS_NOSUID | MS_NODEV | flags, opts) < 0 ? -errno : 0;
}

/* A fresh /proc of the namespace; where that is refused, an empty one. */
static int mount_proc(void)
{
	if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) == 0)
		return 0;
	/* never the host's: through /proc/PID/root it would reach other builds */
	return mount("tmpfs", "/proc", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY,
		     "mode=0555,size=4k") < 0 ?
		       -errno :
		       0;
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
	kb_say(err_fd,
	       "# kbuildd: in a chroot whose root is not a mount point the build shares "
	       "the chroot's file system; only its processes, network and /proc are its own\n");
	return 0;
}

/*
 * A way in for the build user. A kept tree may lie behind a directory it
 * cannot enter (a 0700 home, a root made by mktemp -d), or be one itself.
 * The host's modes stay as they are: in the namespace such a directory is
 * covered with a read-only tmpfs the build user can enter, holding only
 * what the sandbox keeps below it, attached again as the view had it: for
 * a kept tree, each of its entries; for a directory on the way, the kept
 * trees inside it. The rest of what it holds stays out of sight, and the
 * files put back keep their own modes.
 */

/* Is the directory @path closed to the build user (to enter, or with @read to list)? */
static bool closed(const char *path, bool read)
{
	struct stat st;

	return faccessat(AT_FDCWD, path, read ? R_OK | X_OK : X_OK, AT_EACCESS) < 0 &&
	       errno == EACCES && stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Is @path strictly below the directory @dir? */
static bool below(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	return !strncmp(path, dir, n) && path[n] == '/';
}

/* The first directory on the way to @path, or @path itself, closed to the build user. */
static bool first_closed(const char *path, char *dir, size_t size)
{
	size_t len = strlen(path);

	if (len >= size)
		return false;
	memcpy(dir, path, len + 1);
	for (char *p = dir + 1;; p++) {
		char c = *p;

		if (c && c != '/')
			continue;
		*p = '\0';
		if (closed(dir, !c))
			return true;
		if (!c)
			return false;
		*p = c;
	}
}

/*
 * The first kept tree with a closed directory on its way, that directory
 * in @dir: 1, 0 when every one is open, or a negative errno. The checks
 * run with the build user's file-system identity (and no groups: the
 * init needs none), so modes and ACLs count as they will for the code.
 */
static int find_closed(const struct kb_sandbox *sb, const struct keep *keep, size_t n, char *dir,
		       size_t size, const struct keep **found)
{
	int r = 0;

	*found = NULL;
	if (setgroups(0, NULL) < 0)
		return -errno;
	setfsgid(sb->gid);
	setfsuid(sb->uid);
	if ((uid_t)setfsuid((uid_t)-1) != sb->uid || (gid_t)setfsgid((gid_t)-1) != sb->gid)
		r = -EPERM;
	for (size_t i = 0; r == 0 && i < n; i++)
		if (first_closed(keep[i].path, dir, size)) {
			*found = &keep[i];
			r = 1;
		}
	setfsuid(0);
	setfsgid(0);
	return r;
}

void kb_entries_release(struct entry *e, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(e[i].path);
		free(e[i].link);
		if (e[i].tree >= 0)
			close(e[i].tree);
	}
	free(e);
}

/* Remember @path as it is now: a copy of its mounts, or a symlink's target. */
static int add_entry(struct entry *e, size_t *n, const char *path)
{
	struct entry *x = &e[*n];
	struct stat st;

	if (*n >= KB_MAX_REACH_ENTRIES)
		return -E2BIG;
	if (lstat(path, &st) < 0)
		return -errno;
	*x = (struct entry){ .path = strdup(path), .tree = -1, .dir = S_ISDIR(st.st_mode) };
	(*n)++;
	if (!x->path)
		return -ENOMEM;
	if (S_ISLNK(st.st_mode)) {
		x->link = calloc(1, PATH_MAX);
		return x->link && readlink(path, x->link, PATH_MAX - 1) >= 0 ? 0 :
		       x->link						     ? -errno :
									       -ENOMEM;
	}
	x->tree = open_tree(AT_FDCWD, path,
			    OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE |
				    AT_SYMLINK_NOFOLLOW);
	return x->tree < 0 ? -errno : 0;
}

/* Is keep[i] inside another kept tree below @dir, or a repeat of one? Then that one brings it. */
static bool brought(const struct keep *keep, size_t n, size_t i, const char *dir)
{
	for (size_t j = 0; j < n; j++)
		if (j != i && below(keep[j].path, dir) &&
		    (below(keep[i].path, keep[j].path) ||
		     (j < i && !strcmp(keep[i].path, keep[j].path))))
			return true;
	return false;
}

/* What goes back into @dir: a kept tree's entries, else the outermost kept trees inside. */
int kb_entries_collect(const char *dir, bool kept, const struct keep *keep, size_t n,
		       struct entry *e, size_t *nr)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d;
	int r = 0;

	for (size_t i = 0; !kept && r >= 0 && i < n; i++)
		if (below(keep[i].path, dir) && !brought(keep, n, i, dir))
			r = add_entry(e, nr, keep[i].path);
	if (!kept)
		return r;
	d = opendir(dir);
	if (!d)
		return -errno;
	while (r >= 0 && (de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			r = kb_pathf(path, sizeof(path), "%s/%s", dir, de->d_name) < 0 ?
				    -ENAMETOOLONG :
				    add_entry(e, nr, path);
	closedir(d);
	return r;
}

/* Put @e back in the tmpfs that now covers its old place. */
int kb_put_back(const struct entry *e)
{
	char parent[PATH_MAX];
	int r = kb_pathf(parent, sizeof(parent), "%s", e->path) < 0 ? -ENAMETOOLONG : 0;
	int fd;

	if (r >= 0) {
		*strrchr(parent, '/') = '\0';
		r = kb_mount_mkdir_p(parent);
	}
	if (r < 0)
		return r;
	if (e->link)
		return symlink(e->link, e->path) < 0 ? -errno : 0;
	if (e->dir) {
		r = mkdir(e->path, 0755) < 0 && errno != EEXIST ? -errno : 0;
	} else {
		fd = open(e->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		r = fd < 0 ? -errno : close(fd);
	}
	if (r >= 0 && move_mount(e->tree, "", AT_FDCWD, e->path, MOVE_MOUNT_F_EMPTY_PATH) < 0)
		r = -errno;
	return r;
}

/* Cover @dir with a tmpfs, writable until the caller closes it, and put @e back in it. */
static int refill(const char *dir, const struct entry *e, size_t nr)
{
	int r = 0;

	if (mount("tmpfs", dir, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=1m") < 0)
		return -errno;
	for (size_t i = 0; r >= 0 && i < nr; i++)
		r = kb_put_back(&e[i]);
	return r;
}

/* Cover the closed @dir with what the build user may reach of it (above). */
static int open_way(const char *dir, const struct keep *keep, size_t n)
{
	const struct keep *kept = NULL;
	struct entry *e = calloc(KB_MAX_REACH_ENTRIES, sizeof(*e));
	size_t nr = 0;
	int r;

	for (size_t i = 0; i < n; i++)
		if (!strcmp(keep[i].path, dir))
			kept = &keep[i];
	if (!e)
		return -ENOMEM;
	/* "/" is never closed on a working system; a writable tree would need a writable cover */
	r = !strcmp(dir, "/") || (kept && kept->rw) ?
		    -EACCES :
		    kb_entries_collect(dir, kept, keep, n, e, &nr);
	if (r >= 0)
		r = refill(dir, e, nr);
	if (r >= 0)
		r = kb_mount_setattr(AT_FDCWD, dir, 0, MOUNT_ATTR_RDONLY, 0);
	kb_entries_release(e, nr);
	return r;
}

/*
 * Until every kept tree is in the build user's reach, each round opening
 * one directory. In a chroot that is no mount point nothing can be
 * mounted: what stays closed is named instead.
 */
static int open_ways(const struct kb_sandbox *sb, const struct keep *keep, size_t n, int err_fd)
{
	if (!sb->uid)
		return 0;
	for (unsigned round = 0;; round++) {
		const struct keep *k;
		char dir[PATH_MAX];
		int r = find_closed(sb, keep, n, dir, sizeof(dir), &k);

		if (r == 0)
			return 0;
		if (r > 0)
			r = sb->shared_fs || round >= KB_MAX_SANDBOX_PATHS ? -EACCES :
									     open_way(dir, keep, n);
		if (r >= 0)
			continue;
		if (k && sb->shared_fs)
			kb_say(err_fd,
			       "kbuildd: sandbox: the build user cannot enter '%s'%s%s%s; in "
			       "a chroot whose root is not a mount point kbuildd cannot open a way "
			       "in (bind-mount the chroot onto itself)\n",
			       dir, strcmp(dir, k->path) ? ", on the way to '" : "",
			       strcmp(dir, k->path) ? k->path : "",
			       strcmp(dir, k->path) ? "'" : "");
		else
			kb_say(err_fd, "kbuildd: sandbox: cannot open a way to '%s'%s%s: %s\n",
			       k ? k->path : "a kept tree", k ? " through " : "", k ? dir : "",
			       strerror(-r));
		return r;
	}
}

static int make_mounts(const struct kb_sandbox *sb, struct keep *keep, size_t n, int *places,
		       int err_fd)
{
	const char *step = "make the mounts private";
	int r = 0;

	if (sb->shared_fs)
		return (r = chroot_mounts(err_fd)) < 0 ? r : open_ways(sb, keep, n, err_fd);
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		goto fail;
	step = "copy the trees it needs";
	for (size_t i = 0; i < n; i++) {
		keep[i].tree = open_tree(AT_FDCWD, keep[i].path,
					 OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
		if (keep[i].tree < 0)
			goto fail;
	}
	step = "copy the trees it sees elsewhere";
	for (size_t i = 0; i < sb->place.n / 3; i++) {
		places[i] = open_tree(AT_FDCWD, sb->place.v[3 * i + 1],
				      OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
		if (places[i] < 0)
			goto fail;
	}
	step = "make the file system read-only";
	if ((r = kb_mount_setattr(AT_FDCWD, "/", AT_RECURSIVE,
				  MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID, 0)) < 0)
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
	if ((r = expose(keep, n, true, err_fd)) < 0 ||
	    (r = kb_sandbox_places(sb, places, err_fd)) < 0)
		return r;
	/* the skeletons that hold the kept trees become read-only too */
	for (size_t i = 0; i < sb->hide.n; i++)
		kb_mount_setattr(AT_FDCWD, sb->hide.v[i], 0, MOUNT_ATTR_RDONLY, 0);
	return open_ways(sb, keep, n, err_fd);
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
	int places[KB_MAX_SANDBOX_PATHS];

	if (n > ARRAY_SIZE(keep) || sb->place.n / 3 > ARRAY_SIZE(places)) {
		kb_say(err_fd, "kbuildd: sandbox: more than %zu paths to keep\n", ARRAY_SIZE(keep));
		return -E2BIG;
	}
	for (size_t i = 0; i < n; i++)
		keep[i] = (struct keep){
			.path = i < sb->ro.n ? sb->ro.v[i] : sb->rw.v[i - sb->ro.n],
			.tree = -1,
			.rw = i >= sb->ro.n,
		};
	return make_mounts(sb, keep, n, places, err_fd);
}
