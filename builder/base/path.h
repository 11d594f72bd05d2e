/*
 * The root prefix (--root). Every state path is opened relative to one
 * directory fd with RESOLVE_IN_ROOT, so absolute symlinks inside a fake
 * root stay inside it. String paths are built here only for children
 * (make, depmod), which see the host's file system.
 */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "base/strbuf.h"
#include "base/util.h"

struct kb_root {
	int fd;		       /* O_PATH directory fd of the root */
	char *path;	       /* absolute, no trailing slash; "" for "/" */
	const char *state_dir; /* the program's own state, relative (atomic.h) */
};

/*
 * Open @path as the root. @state_dir (relative, not copied) is where the
 * engine keeps its state: the atomic writes' intent journals live there and
 * its temps need none.
 */
int kb_root_open(struct kb_root *root, const char *path, const char *state_dir);
void kb_root_release(struct kb_root *root);

/* openat2(RESOLVE_IN_ROOT) of @rel (leading '/' allowed) inside the root. */
int kb_root_openat(const struct kb_root *root, const char *rel, int flags, mode_t mode);
/*
 * openat2 of @rel beneath directory @dfd following no symlink in any
 * component (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS): for trees that a
 * recipe, an archive or a build controls. A fd, or -ELOOP for a symlink,
 * -EXDEV for a path leading out, or another negative errno.
 */
int kb_openat_beneath(int dfd, const char *rel, int flags, mode_t mode);
/*
 * Open the directory holding @rel (with @flags | O_DIRECTORY: O_PATH, or
 * O_RDONLY to fsync it); *@last points at the final component, kept in @buf.
 */
int kb_root_open_parent(const struct kb_root *root, const char *rel, int flags, char *buf,
			size_t size, const char **last);
/* The names in the directory open as @fd, sorted; -E2BIG past @max of them. */
int kb_dir_names(int fd, struct kb_strv *names, size_t max);
/* The names in directory @rel (not "." and ".."), sorted; negative errno when unreadable. */
int kb_root_list(const struct kb_root *root, const char *rel, struct kb_strv *names);

/* Host path of @rel for a child process; caller frees. */
char *kb_root_path(const struct kb_root *root, const char *rel);
/* kb_root_path() of a printf-formatted @fmt; NULL when it does not fit PATH_MAX. */
char *kb_root_pathf(const struct kb_root *root, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* mkdir -p @rel inside the root; 0 or negative errno. */
int kb_mkdirs(const struct kb_root *root, const char *rel, mode_t mode);
/*
 * Open directory @below (relative; "." is @base itself) beneath directory
 * @base inside the root, making each one missing with @mode. @base resolves
 * as every root path does (and is made first); the rest through no symlink
 * at all, so nothing below @base can redirect what is written there. An
 * O_RDONLY directory fd, -ELOOP when a symlink is in the way, or another
 * negative errno.
 */
int kb_root_mkdirs_beneath(const struct kb_root *root, const char *base, const char *below,
			   mode_t mode);
/* rm -rf @rel inside the root without following symlinks; 0 if absent. */
int kb_rm_rf(const struct kb_root *root, const char *rel);
/*
 * Remove @rel and then each parent while it is empty, stopping at @stop.
 * 0 also when one is not empty (or a mount point); else negative errno.
 */
int kb_rmdir_parents(const struct kb_root *root, const char *rel, const char *stop);
bool kb_root_exists(const struct kb_root *root, const char *rel);

/*
 * Read @rel inside the root into @b, at most @max bytes (-EFBIG past it).
 * A symlink as the last component is not followed; anything but a regular
 * file is -KB_E_INPUT, reported naming it (kb_check_regular).
 */
int kb_root_read(const struct kb_root *root, const char *rel, size_t max, struct kb_buf *b);
/* SHA-256 of the regular file @rel inside the root, opened as kb_root_read() does. */
int kb_root_sha256(const struct kb_root *root, const char *rel, char *hex);

/* lchown @rel alone to @uid:@gid (-1: unchanged) and chmod it to @mode. */
int kb_root_chmod_owner(const struct kb_root *root, const char *rel, uid_t uid, gid_t gid,
			mode_t mode);
/* lchown every entry of @rel (inside the root) to @uid:@gid; 0 or negative errno. */
int kb_chown_tree(const struct kb_root *root, const char *rel, uid_t uid, gid_t gid);
/*
 * Make @rel root's and read-only to everyone else: owner root:root (when
 * kbuildd is root), no set-id, sticky or group/other write bit left
 * (symlinks are not followed).
 */
int kb_freeze_tree(const struct kb_root *root, const char *rel);

/* rm -rf of a host path (the source cache lives outside root-relative helpers' reach). */
int kb_rm_rf_host(const char *path);
