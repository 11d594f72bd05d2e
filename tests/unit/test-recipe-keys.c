/*
 * Unit tests for the recipe keys (builder/recipe-keys.c, and the checks of
 * the whole recipe): the values each key refuses, with the message that says
 * so, and the near misses it takes; the name and version rules.
 */
#include "tests/unit/recipe-test-lib.h"

static void parse_rejects_an_unknown_key_listing_the_expected_ones(void **state)
{
	(void)state;
	expect_one_error(MINIMAL "[build]\nkernel = >= 5\n",
			 "t.recipe:8: ", "unknown key 'kernel' in [build]",
			 "expected one of: kernels, exclusive_kernel, arch, requires_config, "
			 "depends, patches, make_args, make",
			 NULL);
	expect_one_error("[recipe]\nname = hello\nversoin = 1\n" RECIPE_TAIL,
			 "t.recipe:3: ", "unknown key 'versoin' in [recipe]",
			 "expected one of: name, version, description", NULL);
	expect_one_error(MINIMAL "install = yes\n",
			 "t.recipe:7: ", "unknown key 'install' in [module]",
			 "expected one of: path, dest, initramfs", NULL);
	expect_one_error(RECIPE_HEAD "[source]\npath = .\ndir = x\n[module hello]\n",
			 "t.recipe:6: ", "unknown key 'dir' in [source]", "expected one of: path",
			 NULL);
	/* Keys are case-sensitive. */
	expect_one_error("[recipe]\nName = hello\nname = hello\nversion = 1\n" RECIPE_TAIL,
			 "t.recipe:2: ", "unknown key 'Name' in [recipe]", NULL);
}

static void parse_rejects_an_unknown_placeholder(void **state)
{
	(void)state;
	expect_one_error(MINIMAL "[build]\nmake_args = KDIR={kernel_buld}\n",
			 "t.recipe:8: ", "unknown placeholder in make_args 'KDIR={kernel_buld}'",
			 NULL);
	expect_one_error(MINIMAL "[build]\nmake = make -C {kernel_build} M={build_dir} {target\n",
			 "t.recipe:8: ", "unknown placeholder in make", NULL);
}

static void parse_rejects_unpinned_or_mixed_sources(void **state)
{
	(void)state;
	expect_one_error(RECIPE_HEAD "[source]\nurl = https://x/h.tgz\n[module hello]\n",
			 "t.recipe: ", "'url' needs 'sha256 = <64 hex>'", "insecure = yes", NULL);
	expect_one_error(RECIPE_HEAD "[source]\ngit = https://x/h.git\n[module hello]\n",
			 "t.recipe: ", "'git' needs 'commit = <40 hex>'", NULL);
	expect_one_error(RECIPE_HEAD "[source]\npath = .\ngit = https://x/h.git\ncommit = " COMMIT
				     "\n[module hello]\n",
			 "t.recipe: ", "exactly one of 'path', 'url' or 'git'", NULL);
	expect_one_error(RECIPE_HEAD "[source]\npath = .\nstrip = 1\n[module hello]\n",
			 "t.recipe: ", "go with 'url'", NULL);
	expect_one_error(RECIPE_HEAD "[source]\nurl = https://x/h.tgz\nsha256 = abc\n"
				     "[module hello]\n",
			 "t.recipe:6: ", "invalid sha256 'abc'", NULL);
	expect_one_error(RECIPE_HEAD "[source]\nurl = ftp://x/h.tgz\ninsecure = yes\n"
				     "[module hello]\n",
			 "t.recipe:5: ", "invalid url 'ftp://x/h.tgz'", NULL);
	expect_one_error(RECIPE_HEAD "[source]\ngit = https://x/h.git\ncommit = v1.0\n"
				     "[module hello]\n",
			 "t.recipe:6: ", "invalid commit 'v1.0'", NULL);
	expect_one_error(RECIPE_HEAD "[source]\nurl = https://x/h.tgz\ninsecure = yes\n"
				     "strip = 99\n[module hello]\n",
			 "t.recipe:7: ", "invalid strip '99'", NULL);
}

static void parse_rejects_an_invalid_name(void **state)
{
	(void)state;
	expect_one_error("[recipe]\nname = -hello\nversion = 1\n" RECIPE_TAIL,
			 "t.recipe:2: ", "invalid name '-hello'", NULL);
	expect_one_error("[recipe]\nname = foo/bar\nversion = 1\n" RECIPE_TAIL,
			 "t.recipe:2: ", "invalid name 'foo/bar'", NULL);
	expect_one_error("[recipe]\nversion = 1\nname =\n" RECIPE_TAIL,
			 "t.recipe:3: ", "invalid name ''", NULL);
	expect_one_error(RECIPE_HEAD "[source]\npath = .\n[module foo.bar]\n",
			 "t.recipe:6: ", "invalid module name 'foo.bar'", NULL);
}

static void parse_rejects_an_invalid_version(void **state)
{
	(void)state;
	expect_one_error("[recipe]\nname = hello\nversion = 1.0 beta\n" RECIPE_TAIL,
			 "t.recipe:3: ", "invalid version '1.0 beta'", NULL);
	expect_one_error("[recipe]\nname = hello\nversion = 1:2.0\n" RECIPE_TAIL,
			 "t.recipe:3: ", "invalid version '1:2.0'", NULL);
	/* a leading dot is the state's staging names' (state.h) */
	expect_one_error("[recipe]\nname = hello\nversion = .kbuildd-new.1\n" RECIPE_TAIL,
			 "t.recipe:3: ", "invalid version '.kbuildd-new.1'", NULL);
}

static void parse_rejects_an_invalid_kernels_range(void **state)
{
	(void)state;
	expect_one_error(MINIMAL "[build]\nkernels = >= 5.10 < 7\n",
			 "t.recipe:8: ", "invalid kernels '>= 5.10 < 7'", "separated by commas",
			 NULL);
	expect_one_error(MINIMAL "[build]\nkernels = ~> 5\n",
			 "t.recipe:8: ", "invalid kernels '~> 5'", "expected a comparison", NULL);
	expect_one_error(MINIMAL "[build]\nkernels = 6.1\n",
			 "t.recipe:8: ", "invalid kernels '6.1'", NULL);
}

static void parse_rejects_an_invalid_exclusive_kernel_regex(void **state)
{
	(void)state;
	expect_one_error(MINIMAL "[build]\nexclusive_kernel = ^6\\.(1\n",
			 "t.recipe:8: ", "invalid exclusive_kernel regex '^6\\.(1': ", NULL);
}

/* glibc's regcomp() unrolls repetitions: nested ones would take gigabytes. */
static void parse_rejects_an_exclusive_kernel_regex_that_unrolls_too_far(void **state)
{
	struct kb_recipe r;

	(void)state;
	expect_one_error(MINIMAL "[build]\nexclusive_kernel = ^6.+++++++++++++++++++++++1\n",
			 "t.recipe:8: ", "invalid exclusive_kernel regex", "too many repetitions",
			 NULL);
	expect_one_error(MINIMAL "[build]\nexclusive_kernel = ((a{1,300}){300}){300}\n",
			 "t.recipe:8: ", "too many repetitions", NULL);
	expect_one_error(MINIMAL "[build]\nexclusive_kernel = a{99999999999999999999}\n",
			 "t.recipe:8: ", "too many repetitions", NULL);
	parse_ok(&r, MINIMAL "[build]\n"
			     "exclusive_kernel = ^(5|6)\\.[0-9]+\\.[0-9]+-[0-9]+-[a-z0-9]+$\n");
	kb_recipe_release(&r);
	parse_ok(&r, MINIMAL "[build]\nexclusive_kernel = ^6\\.[0-9]{1,2}\\.[0-9]{1,3}-\n");
	kb_recipe_release(&r);
}

static void parse_rejects_requires_config_without_the_config_prefix(void **state)
{
	(void)state;
	expect_one_error(MINIMAL "[build]\nrequires_config = CONFIG_PCI PCI\n",
			 "t.recipe:8: ", "invalid requires_config 'PCI': expected CONFIG_NAME",
			 NULL);
	/* A bad value on a continuation line is reported on that line. */
	expect_one_error(MINIMAL "[build]\nrequires_config = CONFIG_PCI\n  usb\n",
			 "t.recipe:9: ", "invalid requires_config 'usb'", NULL);
}

static void parse_rejects_an_invalid_dependency_name(void **state)
{
	(void)state;
	expect_one_error(MINIMAL "[build]\ndepends = provider ../other\n",
			 "t.recipe:8: ", "invalid depends '../other'", NULL);
}

static void parse_rejects_patches_outside_the_recipe_directory(void **state)
{
	(void)state;
	expect_one_error(MINIMAL "[build]\npatches = ok.patch ../up.patch\n",
			 "t.recipe:8: ", "invalid patch '../up.patch'", "without '..'", NULL);
	expect_one_error(MINIMAL "[build]\npatches = p/../../up.patch\n",
			 "t.recipe:8: ", "invalid patch 'p/../../up.patch'", NULL);
	expect_one_error(MINIMAL "[build]\npatches = /tmp/x.patch\n",
			 "t.recipe:8: ", "invalid patch '/tmp/x.patch'", NULL);
	expect_one_error(MINIMAL "[build]\npatches = a.patch\n  sub/..\n",
			 "t.recipe:9: ", "invalid patch 'sub/..'", NULL);
}

static void parse_accepts_patch_names_that_merely_contain_dots(void **state)
{
	struct kb_recipe r;

	(void)state;
	parse_ok(&r, MINIMAL "[build]\npatches = ..fix.patch a..b/c.patch ./d.patch\n");
	assert_strv(&r.patches, "..fix.patch", "a..b/c.patch", "./d.patch", NULL);
	kb_recipe_release(&r);
}

static void parse_rejects_module_paths_that_leave_their_directory(void **state)
{
	(void)state;
	expect_one_error(MINIMAL "dest = /lib/modules/extra\n",
			 "t.recipe:7: ", "invalid dest '/lib/modules/extra'", NULL);
	expect_one_error(MINIMAL "dest = updates/../../../etc\n",
			 "t.recipe:7: ", "invalid dest 'updates/../../../etc'", NULL);
	expect_one_error(MINIMAL "dest = ..\n", "t.recipe:7: ", "invalid dest '..'", NULL);
	expect_one_error(MINIMAL "path = ../hello.ko\n",
			 "t.recipe:7: ", "invalid path '../hello.ko'", NULL);
	expect_one_error(MINIMAL "path = /tmp/hello.ko\n",
			 "t.recipe:7: ", "invalid path '/tmp/hello.ko'", NULL);
}

static void parse_rejects_a_dest_through_the_kernels_links_or_empty_parts(void **state)
{
	(void)state;
	expect_one_error(MINIMAL "dest = build/x\n", "t.recipe:7: ", "invalid dest 'build/x'",
			 "the kernel's build and source links", NULL);
	expect_one_error(MINIMAL "dest = source\n", "t.recipe:7: ", "invalid dest 'source'", NULL);
	expect_one_error(MINIMAL "dest = updates//x\n", "t.recipe:7: ", "invalid dest", NULL);
	expect_one_error(MINIMAL "dest = updates/\n", "t.recipe:7: ", "invalid dest", NULL);
	expect_one_error(MINIMAL "dest = ./build\n", "t.recipe:7: ", "invalid dest './build'",
			 NULL);
	expect_one_error(MINIMAL "dest = updates/./x\n", "t.recipe:7: ", "invalid dest", NULL);
}

static void parse_takes_a_dest_that_only_starts_like_the_kernels_links(void **state)
{
	struct kb_recipe r;

	(void)state;
	parse_ok(&r, MINIMAL "dest = builds/x\n");
	assert_string_equal(r.modules[0].dest, "builds/x");
	kb_recipe_release(&r);
	parse_ok(&r, MINIMAL "dest = updates/build/sourced\n");
	kb_recipe_release(&r);
	assert_false(kb_dest_valid(""));
	assert_false(kb_dest_valid("a/../b"));
	assert_true(kb_dest_valid("extra"));
	assert_true(kb_dest_valid("..x/y.."));
}

static void parse_rejects_initramfs_that_is_not_yes_or_no(void **state)
{
	(void)state;
	expect_one_error(MINIMAL "initramfs = maybe\n",
			 "t.recipe:7: ", "invalid initramfs 'maybe': expected yes or no", NULL);
	expect_one_error(MINIMAL "initramfs = YES\n", "t.recipe:7: ", "invalid initramfs 'YES'",
			 NULL);
}

static void parse_rejects_an_empty_value(void **state)
{
	(void)state;
	expect_one_error("[recipe]\nname = hello\ndescription =\nversion = 1\n" RECIPE_TAIL,
			 "t.recipe:3: ", "'description' is empty", NULL);
	expect_one_error(RECIPE_HEAD "[source]\npath =\n[module hello]\n",
			 "t.recipe:5: ", "'path' is empty", NULL);
}

static void parse_rejects_a_recipe_that_depends_on_itself(void **state)
{
	(void)state;
	expect_one_error(MINIMAL "[build]\ndepends = provider hello\n",
			 "t.recipe: ", "'hello' depends on itself", NULL);
}

static void name_valid_accepts_names_like_debian_packages(void **state)
{
	static const char *const good[] = {
		"hello",
		"foo-core",
		"foo_util",
		"a",
		"0day",
		"8821cu",
		"nvidia-current",
		"v4l2loopback",
		"foo.bar",
		"gcc+plugin",
		"a123456789012345678901234567890123456789012345678901234567890123", /* 64 */
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(good); i++)
		if (!kb_recipe_name_valid(good[i]))
			fail_msg("name '%s' was rejected", good[i]);
}

static void name_valid_rejects_names_unsafe_in_paths_and_commands(void **state)
{
	static const char *const bad[] = {
		"",
		"-foo",
		"_foo",
		".foo",
		"+foo",
		".",
		"..",
		"../x",
		"foo/bar",
		"foo bar",
		"foo\tbar",
		"foo\n",
		"foo:bar",
		"foo~1",
		"foo=1",
		"foo$",
		"f\xc3\xb6o",
		"a1234567890123456789012345678901234567890123456789012345678901234", /* 65 */
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		if (kb_recipe_name_valid(bad[i]))
			fail_msg("name '%s' was accepted", bad[i]);
}

static void version_valid_accepts_upstream_version_strings(void **state)
{
	static const char *const good[] = {
		"1",
		"1.0.0",
		"2.3~rc1",
		"1.0-1",
		"1.0+git20240101",
		"v1.2",
		"1_2",
		"A",
		"2024.01.05",
		"0.0.1-beta.2",
		"1234567890123456789012345678901234567890123456789012345678901234", /* 64 */
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(good); i++)
		if (!kb_recipe_version_valid(good[i]))
			fail_msg("version '%s' was rejected", good[i]);
}

static void version_valid_rejects_versions_unsafe_in_paths(void **state)
{
	static const char *const bad[] = {
		"",
		"-1",
		".1",
		"~rc1",
		"+1",
		"_1",
		".",
		"..",
		"1/0",
		"1.0 beta",
		"1:2.0",
		"1.0\n",
		"1,0",
		"1.0$",
		"\xc3\xa9"
		"1",
		"12345678901234567890123456789012345678901234567890123456789012345", /* 65 */
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		if (kb_recipe_version_valid(bad[i]))
			fail_msg("version '%s' was accepted", bad[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parse_accepts_patch_names_that_merely_contain_dots),
		cmocka_unit_test(parse_rejects_an_unknown_key_listing_the_expected_ones),
		cmocka_unit_test(parse_rejects_unpinned_or_mixed_sources),
		cmocka_unit_test(parse_rejects_an_unknown_placeholder),
		cmocka_unit_test(parse_rejects_an_invalid_name),
		cmocka_unit_test(parse_rejects_an_invalid_version),
		cmocka_unit_test(parse_rejects_an_invalid_kernels_range),
		cmocka_unit_test(parse_rejects_an_invalid_exclusive_kernel_regex),
		cmocka_unit_test(parse_rejects_an_exclusive_kernel_regex_that_unrolls_too_far),
		cmocka_unit_test(parse_rejects_requires_config_without_the_config_prefix),
		cmocka_unit_test(parse_rejects_an_invalid_dependency_name),
		cmocka_unit_test(parse_rejects_patches_outside_the_recipe_directory),
		cmocka_unit_test(parse_rejects_module_paths_that_leave_their_directory),
		cmocka_unit_test(parse_rejects_a_dest_through_the_kernels_links_or_empty_parts),
		cmocka_unit_test(parse_takes_a_dest_that_only_starts_like_the_kernels_links),
		cmocka_unit_test(parse_rejects_initramfs_that_is_not_yes_or_no),
		cmocka_unit_test(parse_rejects_an_empty_value),
		cmocka_unit_test(parse_rejects_a_recipe_that_depends_on_itself),
		cmocka_unit_test(name_valid_accepts_names_like_debian_packages),
		cmocka_unit_test(name_valid_rejects_names_unsafe_in_paths_and_commands),
		cmocka_unit_test(version_valid_accepts_upstream_version_strings),
		cmocka_unit_test(version_valid_rejects_versions_unsafe_in_paths),
	};

	return cmocka_run_group_tests_name("recipe-keys", tests, NULL, NULL);
}
