/* A bounded, growable, always NUL-terminated byte buffer (git's strbuf shape). */
#pragma once

#include <stdarg.h>
#include <stddef.h>

#include "base/limits.h"

struct kb_buf {
	char *buf; /* NULL until the first append; use kb_buf_str() */
	size_t len;
	size_t alloc;
	size_t max; /* appends that would pass this fail with -E2BIG */
	int err;    /* the first failed append's error: see kb_buf_error() */
};

#define KB_BUF_INIT_MAX(m)                                              \
	{                                                               \
		.buf = NULL, .len = 0, .alloc = 0, .max = (m), .err = 0 \
	}
#define KB_BUF_INIT KB_BUF_INIT_MAX(KB_MAX_STRING)

void kb_buf_init(struct kb_buf *b, size_t max);
/* Free the memory; @b is empty, without error, and reusable afterwards. */
void kb_buf_release(struct kb_buf *b);
/* Empty @b and forget its error, keeping the memory. */
void kb_buf_reset(struct kb_buf *b);
/* Return the contents ("" when empty); valid until the next append. */
const char *kb_buf_str(const struct kb_buf *b);
/*
 * Hand the string to the caller (who frees it); @b becomes empty. NULL when
 * out of memory or when an append to @b failed (the partial text is freed).
 */
char *kb_buf_detach(struct kb_buf *b);
/*
 * 0, or the error of the first append that failed: it is kept (git's strvec,
 * curl's dynbuf), later appends do nothing and return it, so a caller may
 * ignore each append and check once before it hands the contents on.
 */
int kb_buf_error(const struct kb_buf *b);

/* Appends return 0, or -ENOMEM / -E2BIG leaving @b unchanged (and kept by kb_buf_error()). */
int kb_buf_add(struct kb_buf *b, const void *data, size_t len);
int kb_buf_adds(struct kb_buf *b, const char *s);
int kb_buf_addch(struct kb_buf *b, char c);
int kb_buf_addf(struct kb_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int kb_buf_vaddf(struct kb_buf *b, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));
