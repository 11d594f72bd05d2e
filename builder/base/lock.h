/* The state lock: one kbuildd at a time changes a root. */
#pragma once

#include "base/path.h"

/*
 * Take the exclusive lock on <root>/var/lib/kbuildd/lock, waiting up to
 * @wait_seconds. Records our pid and @what in the file for whoever waits.
 * Returns the lock fd, or -KB_E_LOCKED (with a message naming the holder)
 * or a negative errno.
 */
int kb_lock_take(const struct kb_root *root, unsigned wait_seconds, const char *what);
/*
 * For readers that must not see a run half-way (status --check): a shared
 * lock on the same file, opened read-only, so that any user may take it
 * and several may hold it. The lock fd, -ENOENT when there is no lock file
 * (no kbuildd changed this root yet), or an error as above.
 */
int kb_lock_take_shared(const struct kb_root *root, unsigned wait_seconds);
/* Empty the file (unless shared) and release the lock. */
void kb_lock_release(int fd);
