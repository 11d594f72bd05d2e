/* Unit tests for reading back a dkms.conf's variables (builder/dkms/dkms-eval.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "dkms/dkms-eval.h"

/* Records as the evaluator prints them: NAME\0INDEX\0VALUE\0 ... __KB_END\0\0\0 */
#define END "__KB_END\0\0\0"

static int parse(struct kb_dkms_conf *c, const char *dump, size_t len)
{
	kb_dkms_conf_init(c);
	return kb_dkms_conf_parse(c, dump, len);
}

static void parse_reads_scalars_and_sparse_arrays(void **state)
{
	static const char dump[] = "PACKAGE_NAME\0"
				   "0\0"
				   "foo\0"
				   "BUILT_MODULE_NAME\0"
				   "0\0"
				   "a\0"
				   "BUILT_MODULE_NAME\0"
				   "2\0"
				   "c\0" END;
	struct kb_dkms_conf c;

	(void)state;
	assert_int_equal(parse(&c, dump, sizeof(dump) - 1), 0);
	assert_string_equal(kb_dkms_get(&c, "PACKAGE_NAME", 0), "foo");
	assert_string_equal(kb_dkms_get(&c, "BUILT_MODULE_NAME", 2), "c");
	assert_null(kb_dkms_get(&c, "BUILT_MODULE_NAME", 1));
	assert_int_equal(kb_dkms_count(&c, "BUILT_MODULE_NAME"), 3);
	assert_int_equal(kb_dkms_count(&c, "PATCH"), 0);
	kb_dkms_conf_release(&c);
}

static void parse_drops_one_trailing_cr_as_dkms_does(void **state)
{
	static const char dump[] = "AUTOINSTALL\0"
				   "0\0"
				   "yes\r\0"
				   "MAKE\0"
				   "0\0"
				   "make\r\r\0" END;
	struct kb_dkms_conf c;

	(void)state;
	assert_int_equal(parse(&c, dump, sizeof(dump) - 1), 0);
	assert_string_equal(kb_dkms_get(&c, "AUTOINSTALL", 0), "yes");
	assert_string_equal(kb_dkms_get(&c, "MAKE", 0), "make\r");
	kb_dkms_conf_release(&c);
}

static void parse_keeps_newlines_and_separators_in_values(void **state)
{
	static const char dump[] = "PRE_BUILD\0"
				   "0\0"
				   "a b\nc; d=e\0" END;
	struct kb_dkms_conf c;

	(void)state;
	assert_int_equal(parse(&c, dump, sizeof(dump) - 1), 0);
	assert_string_equal(kb_dkms_get(&c, "PRE_BUILD", 0), "a b\nc; d=e");
	kb_dkms_conf_release(&c);
}

static void parse_lists_capitalised_unknown_variables_only(void **state)
{
	static const char dump[] = "LOAD_AT_BOOT\0?\0\0"
				   "OLDPWD\0?\0\0"
				   "BASH_REMATCH\0?\0\0"
				   "helper\0?\0\0" END;
	struct kb_dkms_conf c;

	(void)state;
	assert_int_equal(parse(&c, dump, sizeof(dump) - 1), 0);
	assert_int_equal(c.unknown.n, 1);
	assert_string_equal(c.unknown.v[0], "LOAD_AT_BOOT");
	kb_dkms_conf_release(&c);
}

static void parse_refuses_a_cut_short_or_associative_dump(void **state)
{
	static const char cut[] = "PACKAGE_NAME\0"
				  "0\0"
				  "foo\0";
	static const char truncated[] = "PACKAGE_NAME\0"
					"0";
	static const char assoc[] = "MAKE\0"
				    "key\0"
				    "make\0" END;
	struct kb_dkms_conf c;

	(void)state;
	assert_int_equal(parse(&c, cut, sizeof(cut) - 1), -EPIPE);
	kb_dkms_conf_release(&c);
	assert_int_equal(parse(&c, truncated, sizeof(truncated) - 1), -EINVAL);
	kb_dkms_conf_release(&c);
	assert_int_equal(parse(&c, assoc, sizeof(assoc) - 1), -ERANGE);
	kb_dkms_conf_release(&c);
}

static void line_finds_the_assignment_of_an_index(void **state)
{
	const char *text = "# comment\n"
			   "PACKAGE_NAME=foo\n"
			   "BUILT_MODULE_NAME[0]=a\n"
			   "  export BUILT_MODULE_NAME[1]=b\n"
			   "PATCH+=(x.patch)\n";

	(void)state;
	assert_int_equal(kb_dkms_line(text, "PACKAGE_NAME", 0), 2);
	assert_int_equal(kb_dkms_line(text, "BUILT_MODULE_NAME", 0), 3);
	assert_int_equal(kb_dkms_line(text, "BUILT_MODULE_NAME", 1), 4);
	/* no line for index 7: any assignment of the array will do */
	assert_int_equal(kb_dkms_line(text, "BUILT_MODULE_NAME", 7), 3);
	assert_int_equal(kb_dkms_line(text, "PATCH", 0), 5);
	assert_int_equal(kb_dkms_line(text, "MAKE", 0), 0);
	/* a longer name sharing the prefix is not it */
	assert_int_equal(kb_dkms_line("PACKAGE_NAME_X=1\nPACKAGE_NAME=2\n", "PACKAGE_NAME", 0), 2);
}

static void directives_are_dkms_s_whitelist(void **state)
{
	(void)state;
	assert_true(kb_dkms_directive("BUILD_EXCLUSIVE_KERNEL_MIN"));
	assert_true(kb_dkms_directive("POST_REMOVE"));
	assert_false(kb_dkms_directive("LOAD_AT_BOOT"));
	assert_false(kb_dkms_directive("package_name"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parse_reads_scalars_and_sparse_arrays),
		cmocka_unit_test(parse_drops_one_trailing_cr_as_dkms_does),
		cmocka_unit_test(parse_keeps_newlines_and_separators_in_values),
		cmocka_unit_test(parse_lists_capitalised_unknown_variables_only),
		cmocka_unit_test(parse_refuses_a_cut_short_or_associative_dump),
		cmocka_unit_test(line_finds_the_assignment_of_an_index),
		cmocka_unit_test(directives_are_dkms_s_whitelist),
	};

	return cmocka_run_group_tests_name("dkms", tests, NULL, NULL);
}
