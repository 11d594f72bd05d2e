/* Atomic file replacement: temp file in the same directory, fsync, rename, fsync dir. */
#pragma once

#include <stddef.h>
#include <sys/types.h>

#include "path.h"

/*
 * Replace @rel inside the root with @data. A crash at any instant leaves
 * either the old file or the new one. The parent directory must exist.
 */
int kb_atomic_write(const struct kb_root *root, const char *rel, const void *data, size_t len,
		    mode_t mode);
/* Unlink @rel and fsync its directory; 0 when it did not exist. */
int kb_durable_unlink(const struct kb_root *root, const char *rel);
/* rename() inside the root, then fsync the target's directory. */
int kb_durable_rename(const struct kb_root *root, const char *from, const char *to);
