/* The sandbox driver code runs in: namespaces, mounts, a supervisor that outlives nothing. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child.h"
#include "ctx.h"
#include "fault.h"
#include "kb-limits.h"
#include "log.h"
#include "sandbox.h"
#include "state.h"

/* The supervisor's own failures: the code never ran. */
#define SANDBOX_FAILED 125

/* Private, empty and writable in every sandbox. */
static const char *const scratch_dirs[] = { "/tmp", "/var/tmp", "/dev/shm", "/run" };

void kb_sandbox_init(struct kb_sandbox *sb)
{
	memset(sb, 0, sizeof(*sb));
	sb->log_max = KB_MAX_LOG;
}

void kb_sandbox_release(struct kb_sandbox *sb)
{
	kb_strv_clear(&sb->hide);
	kb_strv_clear(&sb->ro);
	kb_strv_clear(&sb->rw);
}

static int push_root_path(struct kb_ctx *ctx, struct kb_strv *v, const char *rel)
{
	_cleanup_free_ char *host = kb_root_path(&ctx->root, rel);

	return host ? kb_strv_push(v, host) : -ENOMEM;
}

int kb_sandbox_ro(struct kb_ctx *ctx, struct kb_sandbox *sb, const char *rel)
{
	return push_root_path(ctx, &sb->ro, rel);
}

int kb_sandbox_rw(struct kb_ctx *ctx, struct kb_sandbox *sb, const char *rel)
{
	return push_root_path(ctx, &sb->rw, rel);
}

/* Is @path the root of a mount? "/" is not in a chroot to a plain directory. */
static bool is_mount_root(const char *path)
{
	struct statx stx;

	return statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &stx) == 0 &&
	       (stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) &&
	       (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT);
}

/* The build user and the kind of sandbox this machine allows, once per run. */
static void learn(struct kb_ctx *ctx)
{
	const char *user = "root";

	ctx->sandbox_known = true;
	ctx->sandbox_shared_fs = !is_mount_root("/");
	ctx->build_uid = 0;
	ctx->build_gid = 0;
	/* "user = root" is the admin's explicit choice; anything else never runs as root */
	ctx->build_user_found = (ctx->settings.user && !strcmp(ctx->settings.user, "root")) ||
				kb_child_build_user(ctx->settings.user, &ctx->build_uid,
						    &ctx->build_gid, &user);
	if (ctx->build_user_found)
		kb_verbose("driver code runs contained, as user %s", user);
	if (ctx->sandbox_shared_fs)
		kb_warn("in a chroot whose root is not a mount point, builds cannot have a private "
			"view of the file system: they run in their own process, network and IPC "
			"namespaces, but see the chroot's files (bind-mount the chroot onto itself "
			"first to contain them fully)");
}

int kb_sandbox_setup(struct kb_ctx *ctx, struct kb_sandbox *sb)
{
	int r = 0;

	kb_sandbox_init(sb);
	if (geteuid() != 0)
		return 0;
	if (!ctx->sandbox_known)
		learn(ctx);
	if (!ctx->build_user_found)
		return -ESRCH;
	sb->isolate = true;
	sb->shared_fs = ctx->sandbox_shared_fs;
	sb->uid = ctx->build_uid;
	sb->gid = ctx->build_gid;
	r |= push_root_path(ctx, &sb->hide, KB_STATE_DIR);
	r |= push_root_path(ctx, &sb->hide, "var/cache/kbuildd");
	r |= push_root_path(ctx, &sb->hide, "var/lib/dkms");
	if (ctx->settings.cache)
		r |= push_root_path(ctx, &sb->hide, ctx->settings.cache);
	if (ctx->root.path[0])	/* a root below /tmp stays in view */
		r |= kb_strv_push(&sb->ro, ctx->root.path);
	return r < 0 ? -ENOMEM : 0;
}

/* Everything below runs in the forked supervisor or the namespace's init. */


static void __attribute__((format(printf, 2, 3))) say(int fd, const char *fmt, ...)
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
			say(err_fd, "kbuildd: sandbox: cannot keep '%s' in view: %s\n", k->path,
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

		if (!is_mount_root(own[i]))
			continue;
		if (mount(NULL, own[i], NULL, MS_REC | MS_PRIVATE, NULL) < 0)
			r = -errno;
		else
			r = i == 0 ? mount_proc() : cover(own[i], "mode=1777", 0);
		if (r < 0) {
			say(err_fd, "kbuildd: sandbox: cannot make a private %s: %s\n", own[i],
			    strerror(-r));
			return r;
		}
	}
	say(err_fd, "# kbuildd: in a chroot whose root is not a mount point the build shares the "
		    "chroot's file system; only its processes, network and /proc are its own\n");
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
	say(err_fd, "kbuildd: sandbox: cannot %s: %s\n", step, strerror(-r));
	return r;
}

static int enter_mounts(const struct kb_sandbox *sb, int err_fd)
{
	size_t n = sb->ro.n + sb->rw.n;
	struct keep keep[KB_MAX_SANDBOX_PATHS];

	if (n > ARRAY_SIZE(keep)) {
		say(err_fd, "kbuildd: sandbox: more than %zu paths to keep\n", ARRAY_SIZE(keep));
		return -E2BIG;
	}
	for (size_t i = 0; i < n; i++)
		keep[i] = (struct keep){
			.path = i < sb->ro.n ? sb->ro.v[i] : sb->rw.v[i - sb->ro.n],
			.tree = -1, .rw = i >= sb->ro.n,
		};
	return make_mounts(sb, keep, n, err_fd);
}

/*
 * The namespace's init (PID 1): makes the mounts, starts the code and
 * exits with its status as soon as it ends, which makes the kernel kill
 * everything else in the namespace.
 */
static void __attribute__((noreturn)) init_main(struct kb_child *c, int out_w, int sync_r)
{
	const struct kb_sandbox *sb = c->sandbox;
	int err_fd = out_w >= 0 ? out_w : c->out_fd;
	pid_t code;
	char go;

	/* dies with the supervisor; and the supervisor must still be there */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || read(sync_r, &go, 1) != 1)
		_exit(SANDBOX_FAILED);
	close(sync_r);
	if (sb->isolate && enter_mounts(sb, err_fd) < 0)
		_exit(SANDBOX_FAILED);
	code = fork();
	if (code < 0)
		_exit(SANDBOX_FAILED);
	if (code == 0) {
		if (out_w >= 0)
			c->out_fd = out_w;
		c->new_pgrp = false;	/* stays in the supervisor's group, killed with it */
		kb_child_exec(c, sb->isolate && sb->uid, sb->uid, sb->gid);
	}
	if (out_w >= 0)
		close(out_w);
	for (;;) {
		int wstatus;
		pid_t pid = waitpid(-1, &wstatus, 0);

		if (pid == code)
			_exit(kb_child_status(wstatus));
		if (pid < 0 && errno != EINTR)
			_exit(SANDBOX_FAILED);
	}
}

/* Copy @from to @to until EOF or until @init ends, keeping at most @max bytes. */
static void copy_output(int from, int to, int init_fd, size_t max)
{
	size_t kept = 0;
	bool init_done = false, noted = false;
	char buf[65536];

	for (;;) {
		struct pollfd pfd[2] = { { .fd = from, .events = POLLIN }, { .fd = init_fd, .events = POLLIN } };
		ssize_t got;

		if (!init_done && poll(pfd, init_fd >= 0 ? 2 : 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		if (init_fd >= 0 && (pfd[1].revents & POLLIN)) {
			init_done = true;	/* whatever is left in the pipe, then stop */
			fcntl(from, F_SETFL, O_NONBLOCK);
		}
		if (!init_done && !(pfd[0].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		got = read(from, buf, sizeof(buf));
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			return;
		if (kept < max) {
			size_t n = (size_t)got < max - kept ? (size_t)got : max - kept;

			if (kb_write_all(to, buf, n) < 0)
				return;
			kept += n;
		} else if (!noted) {
			say(to, "\n# kbuildd: the output went past %zu MiB; the rest was dropped\n",
			    max >> 20);
			noted = true;
		}
	}
}

/* New PID, mount, network, IPC and UTS namespaces for the code. */
static int enter_namespaces(int err_fd)
{
	if (unshare(CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS) == 0)
		return 0;
	say(err_fd, "kbuildd: sandbox: cannot create namespaces: %s\n", strerror(errno));
	return -errno;
}

/* The supervisor: outside the PID namespace, root, waits for its init. */
static void __attribute__((noreturn)) supervise(struct kb_child *c, int out[2], pid_t parent)
{
	const struct kb_sandbox *sb = c->sandbox;
	int sync[2], init_fd, wstatus;
	pid_t init;

	kb_child_reset_signals();
	if (c->new_pgrp)
		setpgid(0, 0);
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
		_exit(SANDBOX_FAILED);
	/* before the copying starts, the supervisor says its own failures straight out */
	if (sb->isolate && enter_namespaces(c->out_fd) < 0)
		_exit(SANDBOX_FAILED);
	if (pipe2(sync, O_CLOEXEC) < 0)
		_exit(SANDBOX_FAILED);
	init = fork();
	if (init < 0)
		_exit(SANDBOX_FAILED);
	if (init == 0) {
		close(sync[1]);
		if (out[0] >= 0)
			close(out[0]);
		init_main(c, out[1], sync[0]);
	}
	close(sync[0]);
	if (out[1] >= 0)
		close(out[1]);
	init_fd = pidfd_open(init, 0);
	if (kb_write_all(sync[1], "+", 1) < 0)
		_exit(SANDBOX_FAILED);
	close(sync[1]);
	if (out[0] >= 0)
		copy_output(out[0], c->out_fd, init_fd, sb->log_max);
	while (waitpid(init, &wstatus, 0) < 0)
		if (errno != EINTR)
			_exit(SANDBOX_FAILED);
	_exit(kb_child_status(wstatus));
}

int kb_sandbox_start(struct kb_child *c)
{
	int out[2] = { -1, -1 };
	pid_t parent = getpid(), pid;

	if (c->out_fd >= 0 && pipe2(out, O_CLOEXEC) < 0)
		return -errno;
	kb_fault_point("spawn");
	pid = fork();
	if (pid < 0) {
		int r = -errno;

		if (out[0] >= 0) {
			close(out[0]);
			close(out[1]);
		}
		return r;
	}
	if (pid == 0)
		supervise(c, out, parent);
	if (out[0] >= 0) {
		close(out[0]);
		close(out[1]);
	}
	if (c->new_pgrp)
		setpgid(pid, pid);	/* both sides, so kill(-pid) works at once */
	c->pid = pid;
	return 0;
}
