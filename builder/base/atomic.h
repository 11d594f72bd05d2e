/* Atomic file replacement: temp file in the same directory, fsync, rename, fsync dir. */
#pragma once

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "base/path.h"
#include "base/strbuf.h"

/*
 * Every temp file kbuildd creates is named KB_TEMP_PREFIX, 12 random hex
 * digits, '.', and the target's name. No recipe name, version or kernel
 * release starts with a dot, and no one else's file is expected to start
 * so; recovery still removes such a file outside kbuildd's state directory
 * only when an intent journal lists it.
 */
#define KB_TEMP_PREFIX ".kbuildd-tmp."

/* Is @name (a file name, no directory) one of kbuildd's temp names? */
bool kb_atomic_is_temp(const char *name);

/*
 * Replace @rel inside the root with @data. A crash at any instant leaves
 * either the old file or the new one. The parent directory must exist.
 */
int kb_atomic_write(const struct kb_root *root, const char *rel, const void *data, size_t len,
		    mode_t mode);
/*
 * kb_atomic_write() of @b's contents; but when an append to @b failed,
 * its kept error (kb_buf_error()) and nothing written: never a file cut short.
 */
int kb_atomic_write_buf(const struct kb_root *root, const char *rel, const struct kb_buf *b,
			mode_t mode);

/*
 * Several files that must change together. kb_stage_add() picks each temp
 * name; the first kb_stage_write() records every added temp that lies
 * outside the state directory in an intent journal (written atomically
 * before any temp exists), then writes and fsyncs its temp (the step that
 * can run out of space); kb_stage_commit() renames one into place;
 * kb_stage_release() removes every temp not committed, then the journal.
 */
struct kb_stage_file {
	char *rel;
	char tmp[NAME_MAX + 1]; /* the temp's name, in @rel's directory */
	bool exists, committed; /* the temp was created (and not removed); renamed */
};

struct kb_stage {
	const struct kb_root *root;
	struct kb_stage_file *v;
	size_t n;
	char journal[PATH_MAX]; /* "" until one is written */
	bool started;		/* a temp may exist: no more adds */
};

void kb_stage_init(struct kb_stage *s, const struct kb_root *root);
/* Add target @rel; 0 or negative errno (-EBUSY once a write started). */
int kb_stage_add(struct kb_stage *s, const char *rel);
int kb_stage_write(struct kb_stage *s, size_t i, const void *data, size_t len, mode_t mode);
int kb_stage_commit(struct kb_stage *s, size_t i);
/*
 * Drop what was not committed. 0, or the first error; then the journal is
 * kept, so the next run's recovery retries.
 */
int kb_stage_release(struct kb_stage *s);

/*
 * Recovery: remove every temp an intent journal lists that still exists as
 * a regular file, then the journal. Adds to *@cleaned; returns how many
 * could not be removed (each reported).
 */
unsigned kb_stage_recover(const struct kb_root *root, unsigned *cleaned);
/*
 * Recovery: unlink @rel if it is a regular file (never a directory, nothing
 * through a symlink) and count it in *@cleaned. 1 removed, 0 nothing
 * there, or a negative errno (reported).
 */
int kb_remove_leftover(const struct kb_root *root, const char *rel, unsigned *cleaned);
/* Intent journals not yet recovered, for status --check. */
int kb_stage_list_journals(const struct kb_root *root, struct kb_strv *journals);

/* Unlink @rel and fsync its directory; 0 when it did not exist. */
int kb_durable_unlink(const struct kb_root *root, const char *rel);
/* rename() inside the root, then fsync the directories of both names. */
int kb_durable_rename(const struct kb_root *root, const char *from, const char *to);
/*
 * Swap @a and @b inside the root in one step (renameat2 RENAME_EXCHANGE),
 * then fsync their directories: a crash leaves both as they were or both
 * swapped. Both must exist.
 */
int kb_durable_exchange(const struct kb_root *root, const char *a, const char *b);
