/*
 * The file system a sandbox's code sees (sandbox.c starts the code): the
 * mounts the namespace's init makes before the code runs. Everything here
 * runs in a forked child.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct kb_sandbox;

/* Is @path the root of a mount? "/" is not in a chroot to a plain directory. */
bool kb_is_mount_root(const char *path);

/* Write one formatted message to @fd (stderr when negative), bounded, without stdio. */
void kb_say(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * In the namespace's init, as root: make the view @sb describes (doc/design.md,
 * "The sandbox"). 0, or a negative errno said on @err_fd.
 */
int kb_sandbox_mounts(const struct kb_sandbox *sb, int err_fd);

/* Shared by sandbox-mounts.c and sandbox-places.c, in the namespace's init. */
struct keep;

/* A path as it was before a tmpfs covered it, to be put back there. */
struct entry {
	char *path;
	char *link; /* a symlink's target, made again in the tmpfs */
	int tree;   /* else a copy of the mounts at @path */
	bool dir;
};

int kb_mount_mkdir_p(const char *path);
int kb_mount_setattr(int dfd, const char *path, unsigned flags, unsigned long set,
		     unsigned long clear);
void kb_entries_release(struct entry *e, size_t n);
/* What goes back into @dir: with @kept all its entries, else the kept trees inside it. */
int kb_entries_collect(const char *dir, bool kept, const struct keep *keep, size_t n,
		       struct entry *e, size_t *nr);
/* Put @e back in the tmpfs that now covers its old place. */
int kb_put_back(const struct entry *e);
/*
 * Attach each of @sb's places (its @trees cloned before the state was
 * hidden), after showing each merge's entries over its directory.
 */
int kb_sandbox_places(const struct kb_sandbox *sb, int *trees, int err_fd);
