/*
 * Unit tests for the sticky error of buffers and string vectors (builder/base/strbuf.c,
 * util.c): a failed append is kept, and whoever hands the contents on refuses.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/atomic.h"
#include "base/child.h"
#include "base/path.h"
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

static char *scratch_dir(void)
{
	char tmpl[] = "/tmp/test-strbuf.XXXXXX";
	char *dir = mkdtemp(tmpl);

	assert_non_null(dir);
	return strdup(dir);
}

static void an_atomic_write_of_a_failed_buffer_writes_nothing(void **state)
{
	_cleanup_free_ char *dir = scratch_dir();
	struct kb_buf b = KB_BUF_INIT_MAX(16);
	struct kb_root root;

	(void)state;
	assert_int_equal(kb_root_open(&root, dir, "state"), 0);
	kb_buf_adds(&b, "half of it, ");
	kb_buf_adds(&b, "the rest is lost");
	assert_int_equal(kb_atomic_write_buf(&root, "file", &b, 0644), -E2BIG);
	assert_false(kb_root_exists(&root, "file"));
	/* and a whole one is written */
	kb_buf_reset(&b);
	kb_buf_adds(&b, "whole");
	assert_int_equal(kb_atomic_write_buf(&root, "file", &b, 0644), 0);
	kb_buf_reset(&b);
	assert_int_equal(kb_root_read(&root, "file", 64, &b), 0);
	assert_string_equal(kb_buf_str(&b), "whole");
	kb_buf_release(&b);
	kb_rm_rf(&root, "file");
	kb_root_release(&root);
	rmdir(dir);
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

/* kb_child_run() of "touch FILE", its argv or its environment having lost a push. */
static int run_touch_losing(bool env)
{
	_cleanup_free_ char *dir = scratch_dir();
	char file[256];
	struct kb_child c;
	int r;

	snprintf(file, sizeof(file), "%s/ran", dir);
	kb_child_init(&c);
	c.quiet = true;
	kb_strv_push(&c.args, "touch");
	kb_strv_push(&c.args, file);
	c.clean_env = true;
	kb_strv_push(&c.env, "PATH=/usr/bin:/bin");
	kb_strv_fail(env ? &c.env : &c.args, -ENOMEM);
	r = kb_child_run(&c);
	kb_child_release(&c);
	/* never started */
	assert_int_equal(access(file, F_OK), -1);
	rmdir(dir);
	return r;
}

static void a_child_with_a_lost_argument_or_variable_does_not_start(void **state)
{
	(void)state;
	assert_int_equal(run_touch_losing(false), -ENOMEM);
	assert_int_equal(run_touch_losing(true), -ENOMEM);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_failed_append_is_kept_and_later_appends_do_nothing),
		cmocka_unit_test(detach_refuses_a_buffer_that_lost_an_append),
		cmocka_unit_test(reset_and_release_forget_the_error),
		cmocka_unit_test(an_atomic_write_of_a_failed_buffer_writes_nothing),
		cmocka_unit_test(a_failed_push_is_kept_and_later_pushes_do_nothing),
		cmocka_unit_test(a_pushf_past_the_string_ceiling_is_kept),
		cmocka_unit_test(the_first_failure_is_the_one_kept),
		cmocka_unit_test(a_child_with_a_lost_argument_or_variable_does_not_start),
	};

	return cmocka_run_group_tests_name("strbuf", tests, NULL, NULL);
}
