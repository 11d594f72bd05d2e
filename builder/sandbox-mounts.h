/*
 * The file system a sandbox's code sees (sandbox.c starts the code): the
 * mounts the namespace's init makes before the code runs. Everything here
 * runs in a forked child.
 */
#pragma once

#include <stdbool.h>

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
