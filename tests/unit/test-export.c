/* Debian's names for a binary module package (export-deb.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "export-deb.h"

static void package_names_follow_debian_policy(void **state)
{
	char name[256];

	(void)state;
	assert_true(kb_export_deb_name("hello", "6.12.117+deb12-amd64", name, sizeof(name)));
	assert_string_equal(name, "hello-modules-6.12.117+deb12-amd64");
	/* lower case, and _ is not allowed: - instead */
	assert_true(kb_export_deb_name("My_Driver", "6.1.0-57-amd64", name, sizeof(name)));
	assert_string_equal(name, "my-driver-modules-6.1.0-57-amd64");
	/* what cannot be a package name is refused, not mangled */
	assert_false(kb_export_deb_name("a b", "6.1.0-57-amd64", name, sizeof(name)));
	assert_false(kb_export_deb_name("x", "6.1.0~rc1", name, sizeof(name)));
	assert_false(kb_export_deb_name("hello", "6.1.0-57-amd64", name, 8));
}

static void architectures_are_debian_s(void **state)
{
	(void)state;
	assert_string_equal(kb_export_deb_arch("x86_64"), "amd64");
	assert_string_equal(kb_export_deb_arch("aarch64"), "arm64");
	assert_string_equal(kb_export_deb_arch("ppc64le"), "ppc64el");
	assert_null(kb_export_deb_arch("unknown"));
	assert_null(kb_export_deb_arch(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(package_names_follow_debian_policy),
		cmocka_unit_test(architectures_are_debian_s),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
