/* Small shared helpers: string vectors, checked number parsing, hashing, file reads. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/types.h>

#include "base/strbuf.h"

#define KB_SHA256_HEX 65 /* 64 hex digits + NUL */

/* Free *p at scope exit: only for single-owner locals. */
static inline void kb_freep(void *p)
{
	free(*(void **)p);
}
#define _cleanup_free_ __attribute__((cleanup(kb_freep)))
#define TAKE_PTR(p)                     \
	({                              \
		__typeof__(p) _p = (p); \
		(p) = NULL;             \
		_p;                     \
	})

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/*
 * A NULL-terminated vector of owned strings, usable as argv or envp. Its
 * first failed push is kept in @err (git's strvec, curl's dynbuf): later
 * pushes do nothing and return it, and whoever hands the vector on (a
 * child's argv, a recipe's fields, a sandbox's mounts) checks
 * kb_strv_error() once, so an ignored push cannot go unnoticed.
 */
struct kb_strv {
	char **v; /* NULL until the first push */
	size_t n;
	size_t alloc;
	int err; /* 0, or the first failed push's negative errno */
};
#define KB_STRV_INIT          \
	{                     \
		NULL, 0, 0, 0 \
	}

/* Pushes return 0, or -ENOMEM / -E2BIG with @sv unchanged and the error kept. */
int kb_strv_push(struct kb_strv *sv, const char *s);
int kb_strv_pushf(struct kb_strv *sv, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Append a copy of each string of @from. */
int kb_strv_push_all(struct kb_strv *sv, const struct kb_strv *from);
/* Append every whitespace-separated word of @s (-E2BIG, kept, for a word past 4 KiB). */
int kb_strv_split(struct kb_strv *sv, const char *s);
/* 0, or the error of the first push that failed since the last kb_strv_clear(). */
int kb_strv_error(const struct kb_strv *sv);
/* Keep @err (negative) as a failed push: an element that could not be made. Returns the kept error. */
int kb_strv_fail(struct kb_strv *sv, int err);
bool kb_strv_contains(const struct kb_strv *sv, const char *s);
/* Free everything; @sv is empty, without error, and reusable afterwards. */
void kb_strv_clear(struct kb_strv *sv);
/* The vector as argv (never NULL: an empty vector gives a list holding NULL). */
char *const *kb_strv_argv(struct kb_strv *sv);

/* Parse a decimal unsigned number in [0, max]; 0 or -EINVAL / -ERANGE. */
int kb_parse_uint(const char *s, unsigned long max, unsigned long *out);
/* Parse yes/no/true/false/1/0/on/off; 0 or -EINVAL. */
int kb_parse_bool(const char *s, bool *out);

/* What a file of @mode is, for messages: "a directory", "a FIFO", "a socket", "a device". */
const char *kb_file_kind(mode_t mode);
/*
 * Anything kbuildd reads may be a FIFO or a device planted by a recipe or a
 * build: -KB_E_INPUT, reported as "'@what' is not a regular file", unless
 * @fd is a regular file.
 */
int kb_check_regular(int fd, const char *what);
/*
 * Open @path (relative to @dirfd, or absolute) for reading without blocking,
 * with extra @flags such as O_NOFOLLOW; a fd of a regular file, or a negative
 * errno, or -KB_E_INPUT (reported) for anything else.
 */
int kb_open_file(int dirfd, const char *path, int flags);
/*
 * Read a whole regular file (kb_open_file) into @b, at most @max bytes:
 * -EFBIG past it, -KB_E_INPUT (reported) when it is not a regular file.
 */
int kb_read_file(int dirfd, const char *path, size_t max, struct kb_buf *b);
/* Read a whole open fd into @b. */
int kb_read_fd(int fd, size_t max, struct kb_buf *b);
/* write() all of it, retrying on EINTR and short writes. */
int kb_write_all(int fd, const void *data, size_t len);

/* SHA-256 of a memory block, as lowercase hex in @hex. */
void kb_sha256_hex(const void *data, size_t len, char hex[KB_SHA256_HEX]);
/* SHA-256 of what remains to read on @fd. */
int kb_sha256_fd(int fd, char hex[KB_SHA256_HEX]);
/* SHA-256 of a file's contents; 0 or negative errno. */
int kb_sha256_file(int dirfd, const char *path, char hex[KB_SHA256_HEX]);

/* Trim leading and trailing whitespace in place; returns @s advanced. */
char *kb_strstrip(char *s);
bool kb_str_startswith(const char *s, const char *prefix);
/* Replace, in place, each control byte (below 0x20, and DEL) with '?': text for a terminal. */
char *kb_str_printable(char *s);

/* snprintf that reports truncation as -ENAMETOOLONG instead of a short string. */
int kb_pathf(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
