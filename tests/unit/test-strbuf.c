/*
 * Unit tests for the sticky error of buffers and string vectors (builder/base/strbuf.c,
 * util.c): a failed append is kept, and later appends do nothing.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/strbuf.h"
#include "base/util.h"

static void a_failed_append_is_kept_and_later_appends_do_nothing(void **state)
{
	struct kb_buf b = KB_BUF_INIT_MAX(8);

	(void)state;
	assert_int_equal(kb_buf_adds(&b, "1234"), 0);
	assert_int_equal(kb_buf_error(&b), 0);
	assert_int_equal(kb_buf_adds(&b, "56789"), -E2BIG);
	assert_int_equal(kb_buf_error(&b), -E2BIG);
	/* these would fit, but the text already lost a part */
	assert_int_equal(kb_buf_addch(&b, 'x'), -E2BIG);
	assert_int_equal(kb_buf_addf(&b, "%d", 5), -E2BIG);
	assert_int_equal(kb_buf_add(&b, "", 0), -E2BIG);
	assert_string_equal(kb_buf_str(&b), "1234");
	assert_int_equal(b.len, 4);
	kb_buf_release(&b);
}

static void detach_refuses_a_buffer_that_lost_an_append(void **state)
{
	struct kb_buf b = KB_BUF_INIT_MAX(4);

	(void)state;
	kb_buf_adds(&b, "abc");
	kb_buf_adds(&b, "def");
	assert_null(kb_buf_detach(&b));
	assert_int_equal(b.len, 0);
	assert_int_equal(kb_buf_error(&b), 0);
	kb_buf_release(&b);
}

static void reset_and_release_forget_the_error(void **state)
{
	struct kb_buf b = KB_BUF_INIT_MAX(4);

	(void)state;
	kb_buf_adds(&b, "too long");
	kb_buf_reset(&b);
	assert_int_equal(kb_buf_error(&b), 0);
	assert_int_equal(kb_buf_adds(&b, "ok"), 0);
	assert_string_equal(kb_buf_str(&b), "ok");
	kb_buf_adds(&b, "too long");
	kb_buf_release(&b);
	assert_int_equal(kb_buf_error(&b), 0);
}

static void a_failed_push_is_kept_and_later_pushes_do_nothing(void **state)
{
	struct kb_strv sv = KB_STRV_INIT;
	char *word = malloc(5000);

	(void)state;
	assert_non_null(word);
	memset(word, 'w', 4999);
	word[4999] = '\0';
	assert_int_equal(kb_strv_push(&sv, "first"), 0);
	assert_int_equal(kb_strv_split(&sv, word), -E2BIG);
	assert_int_equal(kb_strv_error(&sv), -E2BIG);
	assert_int_equal(kb_strv_push(&sv, "after"), -E2BIG);
	assert_int_equal(kb_strv_pushf(&sv, "%s", "after"), -E2BIG);
	assert_int_equal(kb_strv_split(&sv, "a b"), -E2BIG);
	assert_int_equal(sv.n, 1);
	assert_string_equal(kb_strv_argv(&sv)[0], "first");
	assert_null(kb_strv_argv(&sv)[1]);
	kb_strv_clear(&sv);
	assert_int_equal(kb_strv_error(&sv), 0);
	assert_int_equal(kb_strv_push(&sv, "again"), 0);
	kb_strv_clear(&sv);
	free(word);
}

static void a_pushf_past_the_string_ceiling_is_kept(void **state)
{
	struct kb_strv sv = KB_STRV_INIT;

	(void)state;
	assert_int_equal(kb_strv_pushf(&sv, "%*s", KB_MAX_STRING + 1, "x"), -E2BIG);
	assert_int_equal(kb_strv_error(&sv), -E2BIG);
	assert_int_equal(sv.n, 0);
	kb_strv_clear(&sv);
}

static void the_first_failure_is_the_one_kept(void **state)
{
	struct kb_strv sv = KB_STRV_INIT;

	(void)state;
	assert_int_equal(kb_strv_fail(&sv, -ENOMEM), -ENOMEM);
	assert_int_equal(kb_strv_fail(&sv, -E2BIG), -ENOMEM);
	assert_int_equal(kb_strv_error(&sv), -ENOMEM);
	kb_strv_clear(&sv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_failed_append_is_kept_and_later_appends_do_nothing),
		cmocka_unit_test(detach_refuses_a_buffer_that_lost_an_append),
		cmocka_unit_test(reset_and_release_forget_the_error),
		cmocka_unit_test(a_failed_push_is_kept_and_later_pushes_do_nothing),
		cmocka_unit_test(a_pushf_past_the_string_ceiling_is_kept),
		cmocka_unit_test(the_first_failure_is_the_one_kept),
	};

	return cmocka_run_group_tests_name("strbuf", tests, NULL, NULL);
}
