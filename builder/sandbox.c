/* The sandbox driver code runs in: namespaces, mounts, a supervisor that outlives nothing. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sched.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/child.h"
#include "base/fault.h"
#include "base/limits.h"
#include "base/log.h"
#include "ctx.h"
#include "sandbox-mounts.h"
#include "sandbox.h"
#include "state.h"

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
	kb_strv_clear(&sb->merge);
	kb_strv_clear(&sb->place);
}

static int push_root_path(struct kb_ctx *ctx, struct kb_strv *v, const char *rel)
{
	_cleanup_free_ char *host = kb_root_path(&ctx->root, rel);

	return host ? kb_strv_push(v, host) : kb_strv_fail(v, -ENOMEM);
}

/* The first push to @sb's mount lists that failed, or 0. */
static int sandbox_error(const struct kb_sandbox *sb)
{
	int r = kb_strv_error(&sb->hide);

	if (!r)
		r = kb_strv_error(&sb->ro);
	if (!r)
		r = kb_strv_error(&sb->rw);
	if (!r)
		r = kb_strv_error(&sb->merge);
	return r ? r : kb_strv_error(&sb->place);
}

int kb_sandbox_ro(struct kb_ctx *ctx, struct kb_sandbox *sb, const char *rel)
{
	return push_root_path(ctx, &sb->ro, rel);
}

int kb_sandbox_rw(struct kb_ctx *ctx, struct kb_sandbox *sb, const char *rel)
{
	return push_root_path(ctx, &sb->rw, rel);
}

int kb_sandbox_place(struct kb_ctx *ctx, struct kb_sandbox *sb, const char *at, const char *rel,
		     bool rw)
{
	if (!sb->isolate || sb->shared_fs)
		return 0;
	kb_strv_push(&sb->place, at);
	push_root_path(ctx, &sb->place, rel);
	kb_strv_push(&sb->place, rw ? "rw" : "ro");
	return sandbox_error(sb);
}

/* The build user and the kind of sandbox this machine allows, once per run. */
static void learn(struct kb_ctx *ctx)
{
	const char *user = "root";

	ctx->sandbox_known = true;
	ctx->sandbox_shared_fs = !kb_is_mount_root("/");
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
	push_root_path(ctx, &sb->hide, KB_STATE_DIR);
	push_root_path(ctx, &sb->hide, "var/cache/kbuildd");
	push_root_path(ctx, &sb->hide, "var/lib/dkms");
	if (ctx->settings.cache)
		push_root_path(ctx, &sb->hide, ctx->settings.cache);
	if (ctx->root.path[0]) /* a root below /tmp stays in view */
		kb_strv_push(&sb->ro, ctx->root.path);
	/*
	 * Under a root: the root's driver sources over the host's, as DKMS
	 * confs find them, and the host's DKMS tree hidden like the root's.
	 */
	if (ctx->root.path[0] && !sb->shared_fs) {
		kb_strv_push(&sb->merge, "/usr/src");
		push_root_path(ctx, &sb->merge, "usr/src");
		kb_strv_push(&sb->hide, "/var/lib/dkms");
	}
	return sandbox_error(sb);
}

/* Everything below runs in the forked supervisor or the namespace's init. */

static void supervisor_gone(int sig)
{
	(void)sig;
	_exit(KB_SANDBOX_FAILED);
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

	/*
	 * Dies with the supervisor; and the supervisor must still be there. A
	 * namespace's PID 1 ignores the SIGKILL a parent's death sends (only
	 * an ancestor namespace's kill() gets through), so it takes a signal
	 * it handles: its exit then kills all the namespace holds.
	 */
	if (sigaction(SIGHUP, &(struct sigaction){ .sa_handler = supervisor_gone }, NULL) < 0 ||
	    prctl(PR_SET_PDEATHSIG, SIGHUP) < 0 || read(sync_r, &go, 1) != 1)
		_exit(KB_SANDBOX_FAILED);
	if (sb->isolate && kb_sandbox_mounts(sb, err_fd) < 0)
		_exit(KB_SANDBOX_FAILED);
	/*
	 * Asking as the build user (sandbox-mounts.c) changed the file-system
	 * identity, which clears the parent-death signal: set it again, then
	 * make sure the supervisor, which holds the pipe open, is still there.
	 */
	if (prctl(PR_SET_PDEATHSIG, SIGHUP) < 0 || fcntl(sync_r, F_SETFL, O_NONBLOCK) < 0 ||
	    read(sync_r, &go, 1) != -1 || errno != EAGAIN)
		_exit(KB_SANDBOX_FAILED);
	close(sync_r);
	code = fork();
	if (code < 0)
		_exit(KB_SANDBOX_FAILED);
	if (code == 0) {
		if (out_w >= 0)
			c->out_fd = out_w;
		c->new_pgrp = false; /* stays in the supervisor's group, killed with it */
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
			_exit(KB_SANDBOX_FAILED);
	}
}

/* Copy @from to @to until EOF or until @init ends, keeping at most @max bytes. */
static void copy_output(int from, int to, int init_fd, size_t max)
{
	size_t kept = 0;
	bool init_done = false, noted = false;
	char buf[65536];

	for (;;) {
		struct pollfd pfd[2] = { { .fd = from, .events = POLLIN },
					 { .fd = init_fd, .events = POLLIN } };
		ssize_t got;

		if (!init_done && poll(pfd, init_fd >= 0 ? 2 : 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		if (init_fd >= 0 && (pfd[1].revents & POLLIN)) {
			init_done = true; /* whatever is left in the pipe, then stop */
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
			kb_say(to,
			       "\n# kbuildd: the output went past %zu MiB; the rest was dropped\n",
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
	kb_say(err_fd, "kbuildd: sandbox: cannot create namespaces: %s\n", strerror(errno));
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
		_exit(KB_SANDBOX_FAILED);
	/* before the copying starts, the supervisor says its own failures straight out */
	if (sb->isolate && enter_namespaces(c->out_fd) < 0)
		_exit(KB_SANDBOX_FAILED);
	if (pipe2(sync, O_CLOEXEC) < 0)
		_exit(KB_SANDBOX_FAILED);
	init = fork();
	if (init < 0)
		_exit(KB_SANDBOX_FAILED);
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
	/* the write end stays open while the supervisor lives: the init checks it */
	if (kb_write_all(sync[1], "+", 1) < 0)
		_exit(KB_SANDBOX_FAILED);
	if (out[0] >= 0)
		copy_output(out[0], c->out_fd, init_fd, sb->log_max);
	while (waitpid(init, &wstatus, 0) < 0)
		if (errno != EINTR)
			_exit(KB_SANDBOX_FAILED);
	_exit(kb_child_status(wstatus));
}

void kb_sandbox_attach(struct kb_child *c, const struct kb_sandbox *sb)
{
	c->sandbox = sb;
	c->start = kb_sandbox_start;
}

int kb_sandbox_start(struct kb_child *c)
{
	int out[2] = { -1, -1 };
	pid_t parent = getpid(), pid;

	/* a path left out of the lists would be in the build's reach, or out of its view */
	if (sandbox_error(c->sandbox) < 0)
		return sandbox_error(c->sandbox);
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
		setpgid(pid, pid); /* both sides, so kill(-pid) works at once */
	c->pid = pid;
	return 0;
}
