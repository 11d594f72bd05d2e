/* Unit tests for JSON output: escaping, UTF-8 repair, layout, the sticky error (builder/cli/json.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "cli/json.h"

/* @s as the literal kbuildd writes for it. */
static void assert_literal(const char *s, const char *want)
{
	struct json_object *v = kb_json_string(s);
	struct kb_buf b = KB_BUF_INIT;

	assert_non_null(v);
	assert_int_equal(kb_json_write_value(v, &b), 0);
	assert_string_equal(kb_buf_str(&b), want);
	json_object_put(v);
	kb_buf_release(&b);
}

static void quotes_and_backslashes_are_escaped_slashes_are_not(void **state)
{
	(void)state;
	assert_literal("say \"hi\"", "\"say \\\"hi\\\"\"");
	assert_literal("C:\\dir", "\"C:\\\\dir\"");
	assert_literal("/lib/modules/6.1.0", "\"/lib/modules/6.1.0\"");
	assert_literal("", "\"\"");
}

static void control_characters_are_escaped(void **state)
{
	(void)state;
	assert_literal("a\nb\tc\rd", "\"a\\nb\\tc\\rd\"");
	assert_literal("\b\f", "\"\\b\\f\"");
	assert_literal("\x01\x1f", "\"\\u0001\\u001f\"");
	/* DEL is no control character to JSON */
	assert_literal("\x7f", "\"\x7f\"");
}

static void valid_utf8_passes_through(void **state)
{
	(void)state;
	assert_literal("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
		       "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
	assert_literal("\xf4\x8f\xbf\xbf", "\"\xf4\x8f\xbf\xbf\""); /* U+10FFFF */
}

#define FFFD "\xef\xbf\xbd"

static void invalid_utf8_becomes_replacement_characters(void **state)
{
	(void)state;
	assert_literal("a\xff"
		       "b",
		       "\"a" FFFD "b\"");
	/* a lone continuation byte, and a Latin-1 byte */
	assert_literal("\x80x\xe9", "\"" FFFD "x" FFFD "\"");
	/* a truncated sequence is one replacement, at the end or before ASCII */
	assert_literal("\xe2\x82", "\"" FFFD "\"");
	assert_literal("\xe2\x82z", "\"" FFFD "z\"");
	assert_literal("\xf0\x9f\x98", "\"" FFFD "\"");
	/* overlong forms, surrogates and past U+10FFFF: one per byte */
	assert_literal("\xc0\xaf", "\"" FFFD FFFD "\"");
	assert_literal("\xe0\x80\xaf", "\"" FFFD FFFD FFFD "\"");
	assert_literal("\xed\xa0\x80", "\"" FFFD FFFD FFFD "\"");
	assert_literal("\xf4\x90\x80\x80", "\"" FFFD FFFD FFFD FFFD "\"");
	assert_literal("\xf5", "\"" FFFD "\"");
	/* what is repaired is still escaped */
	assert_literal("\"\xff\n", "\"\\\"" FFFD "\\n\"");
}

static void an_empty_list_is_brackets(void **state)
{
	struct kb_json j = KB_JSON_INIT;
	struct kb_buf b = KB_BUF_INIT;

	(void)state;
	assert_int_equal(kb_json_write(&j, &b), 0);
	assert_string_equal(kb_buf_str(&b), "[]\n");
	kb_json_release(&j);
	kb_buf_release(&b);
}

static void elements_are_one_a_line_with_nesting_on_it(void **state)
{
	struct kb_json j = KB_JSON_INIT;
	struct kb_buf b = KB_BUF_INIT;
	struct json_object *o, *list;

	(void)state;
	o = kb_json_add_object(&j, NULL);
	kb_json_set_str(&j, o, "module", "hello");
	kb_json_set_bool(&j, o, "running", false);
	list = kb_json_add_array(&j, o, "findings");
	kb_json_set_str(&j, kb_json_add_object(&j, list), "check", "vermagic");
	o = kb_json_add_object(&j, list);
	kb_json_set_str(&j, o, "check", "sig");
	kb_json_set_str(&j, o, "fix", NULL);
	o = kb_json_add_object(&j, NULL);
	kb_json_set_str(&j, o, "module", "a\"b");
	kb_json_add_array(&j, o, "findings");
	assert_int_equal(j.err, 0);
	assert_int_equal(kb_json_write(&j, &b), 0);
	assert_string_equal(kb_buf_str(&b),
			    "[\n"
			    " {\"module\": \"hello\", \"running\": false, \"findings\": "
			    "[{\"check\": \"vermagic\"}, {\"check\": \"sig\", \"fix\": null}]},\n"
			    " {\"module\": \"a\\\"b\", \"findings\": []}\n"
			    "]\n");
	kb_json_release(&j);
	kb_buf_release(&b);
}

static void keys_are_kept_in_the_order_they_were_set(void **state)
{
	struct kb_json j = KB_JSON_INIT;
	struct kb_buf b = KB_BUF_INIT;
	struct json_object *o;

	(void)state;
	o = kb_json_add_object(&j, NULL);
	kb_json_set_str(&j, o, "z", "1");
	kb_json_set_bool(&j, o, "a", true);
	kb_json_set_str(&j, o, "m", "2");
	assert_int_equal(kb_json_write(&j, &b), 0);
	assert_string_equal(kb_buf_str(&b), "[\n {\"z\": \"1\", \"a\": true, \"m\": \"2\"}\n]\n");
	kb_json_release(&j);
	kb_buf_release(&b);
}

static void a_failure_is_remembered_and_the_write_refuses(void **state)
{
	struct kb_json j = KB_JSON_INIT;
	struct kb_buf b = KB_BUF_INIT;

	(void)state;
	kb_json_set_str(&j, kb_json_add_object(&j, NULL), "ok", "yes");
	/* an object that was never made (a failed add returns NULL) */
	kb_json_set_str(&j, NULL, "lost", "value");
	assert_int_equal(j.err, -EINVAL);
	/* later calls change nothing */
	assert_null(kb_json_add_object(&j, NULL));
	assert_int_equal(json_object_array_length(j.top), 1);
	assert_true(kb_json_write(&j, &b) < 0);
	assert_int_equal(b.len, 0);
	kb_json_release(&j);
	kb_buf_release(&b);
}

static void a_full_buffer_fails_the_write(void **state)
{
	struct kb_json j = KB_JSON_INIT;
	struct kb_buf b = KB_BUF_INIT_MAX(8);

	(void)state;
	kb_json_set_str(&j, kb_json_add_object(&j, NULL), "release", "6.1.0-13-amd64");
	assert_int_equal(kb_json_write(&j, &b), -E2BIG);
	kb_json_release(&j);
	kb_buf_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(quotes_and_backslashes_are_escaped_slashes_are_not),
		cmocka_unit_test(control_characters_are_escaped),
		cmocka_unit_test(valid_utf8_passes_through),
		cmocka_unit_test(invalid_utf8_becomes_replacement_characters),
		cmocka_unit_test(an_empty_list_is_brackets),
		cmocka_unit_test(elements_are_one_a_line_with_nesting_on_it),
		cmocka_unit_test(keys_are_kept_in_the_order_they_were_set),
		cmocka_unit_test(a_failure_is_remembered_and_the_write_refuses),
		cmocka_unit_test(a_full_buffer_fails_the_write),
	};

	return cmocka_run_group_tests_name("json", tests, NULL, NULL);
}
