/*
 * The sandbox driver code runs in: builds, dkms.conf readings, PRE/POST
 * scripts and patch steps. As root, kbuildd starts each in its own PID,
 * mount, network and IPC namespaces, as the unprivileged build user: the
 * whole file system is read-only and nosuid, kbuildd's state is an empty
 * directory apart from what that piece of code needs, /tmp, /var/tmp,
 * /dev/shm and /run are private and empty, a dkms.conf build's own
 * /usr/src/NAME-VERSION and /var/lib/dkms/NAME/VERSION are private to it
 * (under a root, /usr/src shows the root's entries over the host's), what
 * it reads stays in its reach however closed the way to it is on the host,
 * and everything it starts dies with it, or with kbuildd. Without root it
 * runs with kbuildd's identity, in a process group of its own, and nothing
 * more is contained.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "base/util.h"

struct kb_ctx;

/* The exit status of a sandbox that could not be made: the code never ran (its log says why). */
#define KB_SANDBOX_FAILED 125

struct kb_sandbox {
	bool isolate;	/* namespaces and mounts (kbuildd is root) */
	bool shared_fs; /* in a chroot that is no mount: no mounts of its own */
	uid_t uid;	/* the build user, with no supplementary groups */
	gid_t gid;
	struct kb_strv hide;  /* host dirs replaced by an empty read-only tmpfs */
	struct kb_strv ro;    /* host paths kept in view and in reach, read-only */
	struct kb_strv rw;    /* host dirs it may write (nosuid, nodev) */
	struct kb_strv merge; /* pairs: a dir, and a host dir whose entries are put over it */
	struct kb_strv place; /* triples: a path in the view, the host tree there, "ro"/"rw" */
	size_t log_max;	      /* output bytes kept; the rest is dropped with a note */
};

void kb_sandbox_init(struct kb_sandbox *sb);
void kb_sandbox_release(struct kb_sandbox *sb);

/*
 * The sandbox of @ctx's driver code: the build user when kbuildd is root
 * (kbuildd.conf [build] user, else kbuildd, else nobody), the state and
 * the source cache and /var/lib/dkms hidden, the root prefix in view
 * (with mounts of its own, /usr/src shows the root's usr/src entries over
 * the host's, the root's winning). Callers add the
 * paths the code needs with kb_sandbox_ro()/kb_sandbox_rw().
 * 0 or negative errno (-ESRCH: root, but no unprivileged user to build as).
 */
int kb_sandbox_setup(struct kb_ctx *ctx, struct kb_sandbox *sb);
/* Keep @rel (inside the root) visible read-only / writable. */
int kb_sandbox_ro(struct kb_ctx *ctx, struct kb_sandbox *sb, const char *rel);
int kb_sandbox_rw(struct kb_ctx *ctx, struct kb_sandbox *sb, const char *rel);
/*
 * Show the tree @rel (inside the root) at @at in the view (a path DKMS
 * lets a conf use by absolute path), writable with @rw. Where the mount
 * point is missing, it is made in a tmpfs over its parent that keeps the
 * parent's entries; nothing is created on the host. Only in a sandbox
 * with mounts of its own: otherwise nothing is done.
 */
int kb_sandbox_place(struct kb_ctx *ctx, struct kb_sandbox *sb, const char *at, const char *rel,
		     bool rw);

struct kb_child;

/*
 * Start @c inside @c->sandbox: fork a supervisor that copies the output to
 * @c->out_fd (at most log_max bytes) and waits; it dies with kbuildd. In
 * it, namespaces are entered and the mounts made; the code then runs as
 * the build user in a child of the namespace's init, so that when it ends
 * the kernel kills whatever it left running. The supervisor exits with the
 * code's status (128+N for signal N). Returns 0 with @c->pid set, or
 * negative errno.
 */
int kb_sandbox_start(struct kb_child *c);
/* Make kb_child_start() run @c inside @sb (kb_sandbox_start()); @sb must outlive @c's start. */
void kb_sandbox_attach(struct kb_child *c, const struct kb_sandbox *sb);
