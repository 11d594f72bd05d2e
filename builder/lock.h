/* The state lock: one kbuildd at a time changes a root. */
#pragma once

#include "path.h"

/*
 * Take the exclusive lock on <root>/var/lib/kbuildd/lock, waiting up to
 * @wait_seconds. Records our pid and @what in the file for whoever waits.
 * Returns the lock fd, or -KB_E_LOCKED (with a message naming the holder)
 * or a negative errno.
 */
int kb_lock_take(const struct kb_root *root, unsigned wait_seconds, const char *what);
/* Empty the file and release the lock. */
void kb_lock_release(int fd);
