/*
 * Unit tests for the recipe's line reader (builder/recipe.c): sections, keys
 * and sections given twice, missing parts, long lines and size limits, and
 * how several problems are reported together.
 */
#include "tests/unit/recipe-test-lib.h"

static void parse_rejects_single_flags_given_twice(void **state)
{
	(void)state;
	expect_one_error(RECIPE_HEAD "[source]\nurl = https://x/h.tgz\ninsecure = yes\nstrip = 1\n"
				     "strip = 2\n[module hello]\n",
			 "t.recipe:8: ", "'strip' is given twice", NULL);
	expect_one_error(MINIMAL "initramfs = yes\ninitramfs = no\n",
			 "t.recipe:8: ", "'initramfs' is given twice", NULL);
	/* the same key in another [module] is no repetition */
	{
		struct kb_recipe r;

		parse_ok(&r, MINIMAL "autoload = yes\n[module other]\nautoload = yes\n");
		kb_recipe_release(&r);
	}
}

static void parse_rejects_an_unknown_section(void **state)
{
	(void)state;
	expect_one_error(MINIMAL "[install]\ndest = extra\n",
			 "t.recipe:7: ", "unknown section [install]",
			 "[recipe], [source], [build] or [module NAME]", NULL);
	expect_one_error(MINIMAL "[module]\n", "t.recipe:7: ", "unknown section [module]", NULL);
}

static void parse_rejects_a_key_before_any_section(void **state)
{
	(void)state;
	expect_one_error("name = hello\n" MINIMAL,
			 "t.recipe:1: ", "'name' appears before any [section]", NULL);
}

static void parse_rejects_a_key_given_twice(void **state)
{
	(void)state;
	expect_one_error("[recipe]\nname = hello\nversion = 1.0.0\nname = hello\n" RECIPE_TAIL,
			 "t.recipe:4: ", "'name' is given twice", NULL);
	expect_one_error(MINIMAL "[build]\narch = x86_64\narch = aarch64\n",
			 "t.recipe:9: ", "'arch' is given twice", NULL);
	expect_one_error(MINIMAL "path = a.ko\npath = b.ko\n",
			 "t.recipe:8: ", "'path' is given twice", NULL);
	expect_one_error(MINIMAL "[build]\nkernels = < 7\nkernels = >= 5\n",
			 "t.recipe:9: ", "'kernels' is given twice", NULL);
}

static void parse_rejects_continuation_lines_for_single_values(void **state)
{
	(void)state;
	expect_one_error("[recipe]\nname = hello\n  world\nversion = 1\n" RECIPE_TAIL,
			 "t.recipe:3: ", "'name' takes a single value, not continuation lines",
			 NULL);
}

static void parse_rejects_a_section_given_twice(void **state)
{
	(void)state;
	expect_one_error(MINIMAL "[source]\n", "t.recipe:7: ", "[source] appears twice", NULL);
}

static void parse_rejects_a_module_given_twice(void **state)
{
	(void)state;
	expect_one_error(MINIMAL "path = hello.ko\n[module hello]\n",
			 "t.recipe:8: ", "[module hello] appears twice (first on line 6)", NULL);
}

/* Whole-recipe checks run after the last line, so they carry line 0. */
static void parse_reports_missing_required_parts(void **state)
{
	(void)state;
	expect_one_error("[recipe]\nversion = 1.0.0\n" RECIPE_TAIL,
			 "t.recipe: ", "missing 'name' in [recipe]", NULL);
	expect_one_error("[recipe]\nname = hello\n" RECIPE_TAIL,
			 "t.recipe: ", "missing 'version' in [recipe]", NULL);
	expect_one_error(RECIPE_HEAD "[module hello]\n",
			 "t.recipe: ", "[source] needs exactly one of 'path', 'url' or 'git'",
			 NULL);
	expect_one_error(RECIPE_HEAD "[source]\npath = .\n",
			 "t.recipe: ", "no [module NAME] section", NULL);
}

static void parse_reports_every_missing_part_of_an_empty_recipe(void **state)
{
	struct kb_recipe r;
	char *messages;

	(void)state;
	kb_recipe_init(&r);
	assert_int_equal(parse(&r, "", 0, &messages), -KB_E_INPUT);
	kb_recipe_release(&r);
	assert_contains(messages, "t.recipe: missing 'name' in [recipe]\n");
	assert_contains(messages, "t.recipe: missing 'version' in [recipe]\n");
	assert_contains(messages,
			"t.recipe: [source] needs exactly one of 'path', 'url' or 'git'\n");
	assert_contains(messages, "t.recipe: no [module NAME] section");
	assert_int_equal(count_lines(messages), 4);
	free(messages);
}

/* inih reads 200 bytes a line; a deep path or a long list on one line is read whole */
static void parse_takes_a_line_longer_than_inih_reads(void **state)
{
	struct kb_recipe r;
	static char text[4096];
	char path[3000], comment[400];

	(void)state;
	memset(path, 'p', sizeof(path) - 1);
	path[0] = '/';
	path[sizeof(path) - 1] = '\0';
	memset(comment, 'c', sizeof(comment) - 1);
	comment[sizeof(comment) - 1] = '\0';
	snprintf(text, sizeof(text),
		 "; %s\n[recipe]\nname = hello\nversion = 1.0\n[source]\n"
		 "path = %s   \n[module hello]\n",
		 comment, path);
	parse_ok(&r, text);
	assert_string_equal(r.source_path, path);
	kb_recipe_release(&r);
}

static void parse_rejects_a_line_longer_than_the_limit(void **state)
{
	static char text[KB_MAX_RECIPE_LINE + 512];
	static char value[KB_MAX_RECIPE_LINE + 1];

	(void)state;
	memset(value, 'x', sizeof(value) - 1);
	value[sizeof(value) - 1] = '\0';
	snprintf(text, sizeof(text), MINIMAL "[build]\nmake_args = %s\n", value);
	expect_one_error(text, "t.recipe:8: ", "line is longer than 8192 bytes",
			 "continue long lists on indented lines", NULL);
}

static void parse_accepts_a_line_just_under_the_ini_limit(void **state)
{
	struct kb_recipe r;
	char text[1024];
	char value[160];

	(void)state;
	memset(value, 'x', sizeof(value) - 1);
	value[sizeof(value) - 1] = '\0';
	snprintf(text, sizeof(text), MINIMAL "[build]\nmake_args = %s\n", value);
	parse_ok(&r, text);
	assert_int_equal(r.make_args.n, 1);
	assert_int_equal(strlen(r.make_args.v[0]), sizeof(value) - 1);
	kb_recipe_release(&r);
}

static void parse_counts_lines_correctly_after_a_long_line(void **state)
{
	struct kb_recipe r;
	static char text[KB_MAX_RECIPE_LINE + 512];
	static char value[KB_MAX_RECIPE_LINE + 1];
	char *messages;

	(void)state;
	memset(value, 'y', sizeof(value) - 1);
	value[sizeof(value) - 1] = '\0';
	snprintf(text, sizeof(text), MINIMAL "description = %s\nkernel = 6\n", value);
	kb_recipe_init(&r);
	assert_int_equal(parse(&r, text, strlen(text), &messages), -KB_E_INPUT);
	kb_recipe_release(&r);
	assert_contains(messages, "t.recipe:7: line is longer than");
	assert_contains(messages, "t.recipe:8: unknown key 'kernel' in [module]");
	assert_int_equal(count_lines(messages), 2);
	free(messages);
}

static void parse_rejects_a_line_without_an_equals_sign(void **state)
{
	(void)state;
	expect_one_error(MINIMAL "[build]\nmake_args\n",
			 "t.recipe:8: ", "expected 'key = value', '[section]' or a comment", NULL);
}

static void parse_reports_a_line_without_an_equals_sign_after_other_errors(void **state)
{
	struct kb_recipe r;
	char *messages;
	const char *text = MINIMAL "initramfs = maybe\n"
				   "make_args\n";

	(void)state;
	kb_recipe_init(&r);
	assert_int_equal(parse(&r, text, strlen(text), &messages), -KB_E_INPUT);
	kb_recipe_release(&r);
	assert_contains(messages, "t.recipe:7: invalid initramfs 'maybe'");
	assert_contains(messages, "t.recipe:8: expected 'key = value', '[section]' or a comment");
	assert_int_equal(count_lines(messages), 2);
	free(messages);
}

static void parse_reports_an_unclosed_section_header_first(void **state)
{
	struct kb_recipe r;
	char *messages;
	const char *text = "[recipe\nname = hello\nversion = 1\n" RECIPE_TAIL;

	(void)state;
	expect_one_error(MINIMAL "[build\n", "t.recipe:7: ", "expected ']' to end the section name",
			 NULL);
	/* The keys below it have no section: the header is named before them. */
	kb_recipe_init(&r);
	assert_int_equal(parse(&r, text, strlen(text), &messages), -KB_E_INPUT);
	kb_recipe_release(&r);
	if (strncmp(messages, "kbuildd: error: t.recipe:1: expected ']' to end the section name\n",
		    strlen("kbuildd: error: t.recipe:1: expected ']' to end the section name\n")))
		fail_msg("the unclosed header is not the first message:\n%s", messages);
	free(messages);
}

static void parse_rejects_a_nul_byte(void **state)
{
	static const char text[] = MINIMAL "path = a\0b.ko\n";
	struct kb_recipe r;
	char *messages;

	(void)state;
	kb_recipe_init(&r);
	assert_int_equal(parse(&r, text, sizeof(text) - 1, &messages), -KB_E_INPUT);
	kb_recipe_release(&r);
	assert_contains(messages, "t.recipe:7: line contains a NUL byte");
	free(messages);
}

static void parse_reports_every_problem_at_once(void **state)
{
	struct kb_recipe r;
	char *messages;
	const char *text = "[recipe]\n"
			   "name = hello\n"
			   "version = 1 0\n" /* 3 */
			   "[source]\n"
			   "path = .\n"
			   "[build]\n"
			   "arch = x86_64\n"
			   "kernel = 6\n" /* 8 */
			   "[module hello]\n"
			   "initramfs = maybe\n"; /* 10 */

	(void)state;
	kb_recipe_init(&r);
	assert_int_equal(parse(&r, text, strlen(text), &messages), -KB_E_INPUT);
	kb_recipe_release(&r);
	assert_contains(messages, "t.recipe:3: invalid version '1 0'");
	assert_contains(messages, "t.recipe:8: unknown key 'kernel' in [build]");
	assert_contains(messages, "t.recipe:10: invalid initramfs 'maybe'");
	assert_int_equal(count_lines(messages), 3);
	free(messages);
}

static void parse_rejects_a_recipe_larger_than_the_limit(void **state)
{
	struct kb_recipe r;
	char *text = malloc(KB_MAX_RECIPE_SIZE + 2);
	char *messages;

	(void)state;
	assert_non_null(text);
	memset(text, '\n', KB_MAX_RECIPE_SIZE + 1);
	text[KB_MAX_RECIPE_SIZE + 1] = '\0';
	kb_recipe_init(&r);
	assert_int_equal(parse(&r, text, KB_MAX_RECIPE_SIZE + 1, &messages), -KB_E_INPUT);
	kb_recipe_release(&r);
	free(text);
	assert_contains(messages, "t.recipe: larger than");
	free(messages);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parse_accepts_a_line_just_under_the_ini_limit),
		cmocka_unit_test(parse_rejects_single_flags_given_twice),
		cmocka_unit_test(parse_rejects_an_unknown_section),
		cmocka_unit_test(parse_rejects_a_key_before_any_section),
		cmocka_unit_test(parse_rejects_a_key_given_twice),
		cmocka_unit_test(parse_rejects_continuation_lines_for_single_values),
		cmocka_unit_test(parse_rejects_a_section_given_twice),
		cmocka_unit_test(parse_rejects_a_module_given_twice),
		cmocka_unit_test(parse_reports_missing_required_parts),
		cmocka_unit_test(parse_reports_every_missing_part_of_an_empty_recipe),
		cmocka_unit_test(parse_takes_a_line_longer_than_inih_reads),
		cmocka_unit_test(parse_rejects_a_line_longer_than_the_limit),
		cmocka_unit_test(parse_counts_lines_correctly_after_a_long_line),
		cmocka_unit_test(parse_rejects_a_line_without_an_equals_sign),
		cmocka_unit_test(parse_reports_a_line_without_an_equals_sign_after_other_errors),
		cmocka_unit_test(parse_reports_an_unclosed_section_header_first),
		cmocka_unit_test(parse_rejects_a_nul_byte),
		cmocka_unit_test(parse_reports_every_problem_at_once),
		cmocka_unit_test(parse_rejects_a_recipe_larger_than_the_limit),
	};

	return cmocka_run_group_tests_name("recipe-lines", tests, NULL, NULL);
}
