/*
 * What the recipe unit tests (test-recipe*.c) share: parsing a text with its
 * messages captured, and asserting on those messages and on lists.
 */
#pragma once

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/log.h"
#include "recipe.h"

/* Not PATH_MAX: with -Ibuilder, <limits.h> is builder/limits.h. */
#define TEST_PATH_MAX 4096

/*
 * Messages go to fd 2; tests send it to an unlinked temp file for the
 * duration of one call and read back what was printed. Nothing may assert
 * while fd 2 is redirected, or cmocka's own report would vanish into it.
 */
struct capture {
	int saved_fd;
	int file_fd;
};

static inline void capture_begin(struct capture *c)
{
	const char *tmpdir = getenv("TMPDIR");
	char path[TEST_PATH_MAX];

	snprintf(path, sizeof(path), "%s/kbuildd-test-recipe-XXXXXX",
		 tmpdir && *tmpdir ? tmpdir : "/tmp");
	c->file_fd = mkstemp(path);
	assert_true(c->file_fd >= 0);
	unlink(path);
	fflush(stderr);
	c->saved_fd = dup(2);
	assert_true(c->saved_fd >= 0);
	assert_true(dup2(c->file_fd, 2) >= 0);
}

/* Restore fd 2; returns what was written meanwhile (caller frees). */
static inline char *capture_end(struct capture *c)
{
	struct kb_buf out = KB_BUF_INIT;
	int r;

	fflush(stderr);
	dup2(c->saved_fd, 2);
	close(c->saved_fd);
	assert_int_equal(lseek(c->file_fd, 0, SEEK_SET), 0);
	r = kb_read_fd(c->file_fd, 1 << 20, &out);
	close(c->file_fd);
	assert_int_equal(r, 0);
	return kb_buf_detach(&out);
}

/* Parse @text as "t.recipe"; returns the result and, in @messages, stderr. */
static inline int parse(struct kb_recipe *r, const char *text, size_t len, char **messages)
{
	struct capture c;
	int ret;

	capture_begin(&c);
	ret = kb_recipe_parse(r, "t.recipe", text, len);
	*messages = capture_end(&c);
	return ret;
}

static inline void assert_contains(const char *haystack, const char *needle)
{
	if (!strstr(haystack, needle))
		fail_msg("expected \"%s\" in:\n%s", needle, haystack);
}

static inline unsigned count_lines(const char *s)
{
	unsigned n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* A valid recipe parses silently; returns 0 with @r filled in. */
static inline void parse_ok(struct kb_recipe *r, const char *text)
{
	char *messages;
	int ret;

	kb_recipe_init(r);
	ret = parse(r, text, strlen(text), &messages);
	if (ret != 0 || *messages)
		fail_msg("recipe rejected (%d):\n%s", ret, messages);
	free(messages);
}

/*
 * @text must fail with exactly one message, and that message must hold
 * @where ("t.recipe:LINE:") and every string in the NULL-terminated list.
 */
static inline void expect_one_error(const char *text, const char *where, ...)
{
	struct kb_recipe r;
	char *messages;
	const char *needle;
	va_list ap;
	int ret;

	kb_recipe_init(&r);
	ret = parse(&r, text, strlen(text), &messages);
	kb_recipe_release(&r);
	if (ret != -KB_E_INPUT)
		fail_msg("expected -KB_E_INPUT, got %d; messages:\n%s", ret, messages);
	if (count_lines(messages) != 1)
		fail_msg("expected one message, got:\n%s", messages);
	assert_contains(messages, "kbuildd: error: ");
	assert_contains(messages, where);
	va_start(ap, where);
	while ((needle = va_arg(ap, const char *)))
		assert_contains(messages, needle);
	va_end(ap);
	free(messages);
}

/* Lines 1-3 and 4-6 of most test recipes: together a minimal valid recipe. */
#define RECIPE_HEAD "[recipe]\nname = hello\nversion = 1.0.0\n"
#define RECIPE_TAIL "[source]\npath = .\n[module hello]\n"
#define MINIMAL RECIPE_HEAD RECIPE_TAIL

/* A valid sha256 and commit id, for pinned sources. */
#define SHA "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define COMMIT "0123456789abcdef0123456789abcdef01234567"

static inline void assert_strv(const struct kb_strv *sv, ...)
{
	const char *want;
	size_t i = 0;
	va_list ap;

	va_start(ap, sv);
	while ((want = va_arg(ap, const char *))) {
		if (i >= sv->n)
			fail_msg("list has %zu values, expected more (next '%s')", sv->n, want);
		assert_string_equal(sv->v[i], want);
		i++;
	}
	va_end(ap);
	assert_int_equal(sv->n, i);
	if (sv->n)
		assert_null(sv->v[sv->n]);
}
