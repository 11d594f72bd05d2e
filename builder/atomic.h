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
/*
 * The same in two steps, for several files that must change together:
 * kb_atomic_stage() writes and fsyncs a temp file beside @rel (the step
 * that can run out of space) and returns its name in @tmp; then either
 * kb_atomic_commit() renames it into place or kb_atomic_abort() drops it.
 */
int kb_atomic_stage(const struct kb_root *root, const char *rel, const void *data, size_t len,
		    mode_t mode, char *tmp, size_t tmp_size);
int kb_atomic_commit(const struct kb_root *root, const char *rel, const char *tmp);
void kb_atomic_abort(const struct kb_root *root, const char *rel, const char *tmp);
/*
 * The same two steps for the file @base in the directory open (O_RDONLY)
 * as @dfd, for callers that resolved that directory themselves; aborting
 * is unlinkat(@dfd, @tmp, 0).
 */
int kb_atomic_stage_at(int dfd, const char *base, const void *data, size_t len, mode_t mode,
		       char *tmp, size_t tmp_size);
int kb_atomic_commit_at(int dfd, const char *base, const char *tmp);

/* Unlink @rel and fsync its directory; 0 when it did not exist. */
int kb_durable_unlink(const struct kb_root *root, const char *rel);
/* rename() inside the root, then fsync the target's directory. */
int kb_durable_rename(const struct kb_root *root, const char *from, const char *to);
