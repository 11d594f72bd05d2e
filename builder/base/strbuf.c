/* A bounded, growable, always NUL-terminated byte buffer. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/limits.h"
#include "base/strbuf.h"

void kb_buf_init(struct kb_buf *b, size_t max)
{
	b->buf = NULL;
	b->len = 0;
	b->alloc = 0;
	b->max = max ? max : KB_MAX_STRING;
	b->err = 0;
}

void kb_buf_release(struct kb_buf *b)
{
	free(b->buf);
	b->buf = NULL;
	b->len = 0;
	b->alloc = 0;
	b->err = 0;
}

void kb_buf_reset(struct kb_buf *b)
{
	b->len = 0;
	b->err = 0;
	if (b->buf)
		b->buf[0] = '\0';
}

const char *kb_buf_str(const struct kb_buf *b)
{
	return b->buf ? b->buf : "";
}

char *kb_buf_detach(struct kb_buf *b)
{
	char *s;

	if (b->err) {
		kb_buf_release(b);
		return NULL;
	}
	s = b->buf ? b->buf : strdup("");
	b->buf = NULL;
	b->len = 0;
	b->alloc = 0;
	return s;
}

int kb_buf_error(const struct kb_buf *b)
{
	return b->err;
}

/* Keep the first failure; every append after it returns it. */
static int failed(struct kb_buf *b, int err)
{
	if (!b->err)
		b->err = err;
	return b->err;
}

static int grow(struct kb_buf *b, size_t extra)
{
	size_t want, alloc;
	char *p;

	if (b->err)
		return b->err;
	if (extra > b->max || b->len > b->max - extra)
		return failed(b, -E2BIG);
	want = b->len + extra + 1;
	if (want <= b->alloc)
		return 0;
	alloc = b->alloc ? b->alloc : 64;
	while (alloc < want)
		alloc = alloc > SIZE_MAX / 2 ? want : alloc * 2;
	p = realloc(b->buf, alloc);
	if (!p)
		return failed(b, -ENOMEM);
	b->buf = p;
	b->alloc = alloc;
	return 0;
}

int kb_buf_add(struct kb_buf *b, const void *data, size_t len)
{
	int r = grow(b, len);

	if (r < 0)
		return r;
	if (len)
		memcpy(b->buf + b->len, data, len);
	b->len += len;
	b->buf[b->len] = '\0';
	return 0;
}

int kb_buf_adds(struct kb_buf *b, const char *s)
{
	return kb_buf_add(b, s, strlen(s));
}

int kb_buf_addch(struct kb_buf *b, char c)
{
	return kb_buf_add(b, &c, 1);
}

int kb_buf_vaddf(struct kb_buf *b, const char *fmt, va_list ap)
{
	va_list cp;
	int n, r;

	if (b->err)
		return b->err;
	va_copy(cp, ap);
	n = vsnprintf(NULL, 0, fmt, cp);
	va_end(cp);
	if (n < 0)
		return failed(b, -EINVAL);
	r = grow(b, (size_t)n);
	if (r < 0)
		return r;
	vsnprintf(b->buf + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return 0;
}

int kb_buf_addf(struct kb_buf *b, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = kb_buf_vaddf(b, fmt, ap);
	va_end(ap);
	return r;
}
