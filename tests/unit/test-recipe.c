/*
 * Unit tests for the native recipe parser (builder/recipe.c): what a valid
 * recipe fills in, its defaults, and recipe files. Each key's checks are in
 * test-recipe-keys.c, the line reader's in test-recipe-lines.c.
 */
#include "tests/unit/recipe-test-lib.h"

static const char full_recipe[] =
	"; foo: every key a recipe can hold\n"			       /* 1 */
	"\n"							       /* 2 */
	"[recipe]\n"						       /* 3 */
	"name = foo\n"						       /* 4 */
	"version = 2.4.1~rc1\n"					       /* 5 */
	"description = Foo Corp. \"PCIe\" card # 2\n"		       /* 6 */
	"\n"							       /* 7 */
	"[source]\n"						       /* 8 */
	"path = ../src/foo-2.4.1\n"				       /* 9 */
	"\n"							       /* 10 */
	"[build]\n"						       /* 11 */
	"kernels = >= 5.10, < 7\n"				       /* 12 */
	"exclusive_kernel = ^6\\.(1|12)\\..*-amd64$\n"		       /* 13 */
	"arch = x86_64 ; 64-bit only\n"				       /* 14 */
	"  aarch64\n"						       /* 15 */
	"requires_config = CONFIG_PCI CONFIG_DMA_ENGINE\n"	       /* 16 */
	"depends = foo-core foo_util\n"				       /* 17 */
	"patches = patches/fix-6.12.patch\n"			       /* 18 */
	"\tpatches/no-werror.patch\n"				       /* 19 */
	"make_args = FOO_DEBUG=0 FOO_KVER={kernel_release}\n"	       /* 20 */
	"make = make -C {kernel_build} M={build_dir}/driver modules\n" /* 21 */
	"\n"							       /* 22 */
	"[module foo]\n"					       /* 23 */
	"path = driver/foo.ko\n"				       /* 24 */
	"dest = updates/foo\n"					       /* 25 */
	"initramfs = yes\n"					       /* 26 */
	"\n"							       /* 27 */
	"[module foo_dma]\n";					       /* 28 */

static void parse_fills_every_field_of_a_full_recipe(void **state)
{
	struct kb_recipe r;

	(void)state;
	parse_ok(&r, full_recipe);
	assert_string_equal(r.name, "foo");
	assert_string_equal(r.version, "2.4.1~rc1");
	/* Quotes are kept and '#' after a value is part of it. */
	assert_string_equal(r.description, "Foo Corp. \"PCIe\" card # 2");
	assert_string_equal(r.file, "t.recipe");
	assert_null(r.dir);
	assert_string_equal(r.source_path, "../src/foo-2.4.1");

	assert_true(r.has_kernels);
	assert_string_equal(r.kernels_text, ">= 5.10, < 7");
	assert_int_equal(r.kernels.n, 2);
	assert_int_equal(r.kernels.terms[0].op, KB_CMP_GE);
	assert_int_equal(r.kernels.terms[0].ver.major, 5);
	assert_int_equal(r.kernels.terms[0].ver.minor, 10);
	assert_int_equal(r.kernels.terms[1].op, KB_CMP_LT);
	assert_int_equal(r.kernels.terms[1].ver.major, 7);
	assert_int_equal(r.kernels.terms[1].parts, 1);

	assert_string_equal(r.exclusive_kernel, "^6\\.(1|12)\\..*-amd64$");
	assert_strv(&r.arch, "x86_64", "aarch64", NULL);
	assert_strv(&r.requires_config, "CONFIG_PCI", "CONFIG_DMA_ENGINE", NULL);
	assert_strv(&r.depends, "foo-core", "foo_util", NULL);
	assert_strv(&r.patches, "patches/fix-6.12.patch", "patches/no-werror.patch", NULL);
	assert_strv(&r.make_args, "FOO_DEBUG=0", "FOO_KVER={kernel_release}", NULL);
	assert_strv(&r.make_cmd, "make", "-C", "{kernel_build}", "M={build_dir}/driver", "modules",
		    NULL);

	assert_int_equal(r.nr_modules, 2);
	assert_string_equal(r.modules[0].name, "foo");
	assert_string_equal(r.modules[0].path, "driver/foo.ko");
	assert_string_equal(r.modules[0].dest, "updates/foo");
	assert_true(r.modules[0].initramfs);
	assert_int_equal(r.modules[0].line, 23);
	assert_string_equal(r.modules[1].name, "foo_dma");
	assert_string_equal(r.modules[1].path, "foo_dma.ko");
	assert_null(r.modules[1].dest);
	assert_false(r.modules[1].initramfs);
	assert_int_equal(r.modules[1].line, 28);

	/* The text is kept byte for byte: build ids hash it. */
	assert_int_equal(r.text.len, strlen(full_recipe));
	assert_string_equal(kb_buf_str(&r.text), full_recipe);
	assert_null(r.state_dir);
	assert_null(r.source_hash);
	kb_recipe_release(&r);
}

static void parse_leaves_optional_fields_at_their_defaults(void **state)
{
	struct kb_recipe r;
	char id[128];

	(void)state;
	parse_ok(&r, MINIMAL);
	assert_string_equal(r.name, "hello");
	assert_string_equal(r.version, "1.0.0");
	assert_string_equal(kb_recipe_id(&r, id, sizeof(id)), "hello/1.0.0");
	assert_null(r.description);
	assert_string_equal(r.source_path, ".");
	assert_false(r.has_kernels);
	assert_int_equal(r.kernels.n, 0);
	assert_null(r.kernels_text);
	assert_null(r.exclusive_kernel);
	assert_int_equal(r.arch.n, 0);
	assert_int_equal(r.requires_config.n, 0);
	assert_int_equal(r.depends.n, 0);
	assert_int_equal(r.patches.n, 0);
	assert_int_equal(r.make_args.n, 0);
	assert_int_equal(r.make_cmd.n, 0);
	assert_int_equal(r.nr_modules, 1);
	assert_string_equal(r.modules[0].name, "hello");
	assert_string_equal(r.modules[0].path, "hello.ko");
	assert_null(r.modules[0].dest);
	assert_false(r.modules[0].initramfs);
	assert_int_equal(r.modules[0].line, 6);
	kb_recipe_release(&r);
}

static void parse_joins_indented_continuation_lines_of_lists(void **state)
{
	struct kb_recipe r;

	(void)state;
	parse_ok(&r, MINIMAL "[build]\n"
			     "make_args = A=1\n"
			     "\tB=2   C=3\n"
			     "  ; a comment between the pieces\n"
			     "\n"
			     "    D=4\n"
			     "requires_config =\n"
			     "  CONFIG_PCI\n"
			     "  CONFIG_USB\n"
			     "make = make\n"
			     "  -C {kernel_build}\n");
	assert_strv(&r.make_args, "A=1", "B=2", "C=3", "D=4", NULL);
	assert_strv(&r.requires_config, "CONFIG_PCI", "CONFIG_USB", NULL);
	assert_strv(&r.make_cmd, "make", "-C", "{kernel_build}", NULL);
	kb_recipe_release(&r);
}

static void parse_accepts_every_spelling_of_initramfs(void **state)
{
	static const struct {
		const char *text;
		bool value;
	} spellings[] = {
		{ "yes", true }, { "true", true },   { "1", true },  { "on", true },
		{ "no", false }, { "false", false }, { "0", false }, { "off", false },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(spellings); i++) {
		struct kb_recipe r;
		char text[256];

		snprintf(text, sizeof(text), MINIMAL "initramfs = %s\n", spellings[i].text);
		parse_ok(&r, text);
		assert_int_equal(r.modules[0].initramfs, spellings[i].value);
		kb_recipe_release(&r);
	}
}

static void parse_accepts_crlf_line_endings_and_no_final_newline(void **state)
{
	struct kb_recipe r;

	(void)state;
	parse_ok(&r, "[recipe]\r\nname = hello\r\nversion = 1.0.0\r\n[source]\r\npath = .\r\n"
		     "[module hello]\r\npath = out/hello.ko");
	assert_string_equal(r.name, "hello");
	assert_string_equal(r.version, "1.0.0");
	assert_string_equal(r.modules[0].path, "out/hello.ko");
	kb_recipe_release(&r);
}

static void parse_trims_spaces_in_module_section_names(void **state)
{
	struct kb_recipe r;

	(void)state;
	parse_ok(&r, RECIPE_HEAD "[source]\npath = .\n[module   hello ]\ndest = extra\n");
	assert_int_equal(r.nr_modules, 1);
	assert_string_equal(r.modules[0].name, "hello");
	assert_string_equal(r.modules[0].dest, "extra");
	kb_recipe_release(&r);
}

static void parse_accepts_url_and_git_sources(void **state)
{
	struct kb_recipe r;

	(void)state;
	parse_ok(&r, RECIPE_HEAD "[source]\nurl = https://example.org/hello-1.0.tar.gz\n"
				 "sha256 = " SHA
				 "\nstrip = 1\nmirrors = http://m1/h.tgz https://m2/h.tgz\n"
				 "[module hello]\n");
	assert_string_equal(r.url, "https://example.org/hello-1.0.tar.gz");
	assert_string_equal(r.sha256, SHA);
	assert_int_equal(r.strip, 1);
	assert_int_equal(r.mirrors.n, 2);
	assert_string_equal(r.mirrors.v[1], "https://m2/h.tgz");
	assert_null(r.source_path);
	kb_recipe_release(&r);
	parse_ok(&r, RECIPE_HEAD "[source]\ngit = git://127.0.0.1/hello.git\ncommit = " COMMIT
				 "\nref = v1.0\n[module hello]\n");
	assert_string_equal(r.git, "git://127.0.0.1/hello.git");
	assert_string_equal(r.commit, COMMIT);
	assert_string_equal(r.ref, "v1.0");
	kb_recipe_release(&r);
	parse_ok(&r,
		 RECIPE_HEAD "[source]\nurl = http://x/h.tgz\ninsecure = yes\n[module hello]\n");
	assert_true(r.insecure);
	kb_recipe_release(&r);
}

static void load_reads_a_file_and_remembers_its_directory(void **state)
{
	const char *tmpdir = getenv("TMPDIR");
	char dir[TEST_PATH_MAX], path[TEST_PATH_MAX + 32];
	char *real;
	struct kb_recipe r;
	FILE *f;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/kbuildd-test-recipe-XXXXXX",
		 tmpdir && *tmpdir ? tmpdir : "/tmp");
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/hello.recipe", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(MINIMAL, f);
	assert_int_equal(fclose(f), 0);

	kb_recipe_init(&r);
	assert_int_equal(kb_recipe_load(&r, path), 0);
	real = realpath(dir, NULL);
	assert_non_null(real);
	assert_string_equal(r.dir, real);
	assert_string_equal(r.file, path);
	assert_string_equal(r.name, "hello");
	free(real);
	kb_recipe_release(&r);
	unlink(path);
	rmdir(dir);
}

static void load_reports_a_missing_file(void **state)
{
	struct kb_recipe r;
	struct capture c;
	char *messages;
	int ret;

	(void)state;
	kb_recipe_init(&r);
	capture_begin(&c);
	ret = kb_recipe_load(&r, "/nonexistent/kbuildd/none.recipe");
	messages = capture_end(&c);
	kb_recipe_release(&r);
	assert_int_equal(ret, -KB_E_INPUT);
	assert_contains(messages, "cannot read recipe '/nonexistent/kbuildd/none.recipe'");
	free(messages);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parse_fills_every_field_of_a_full_recipe),
		cmocka_unit_test(parse_leaves_optional_fields_at_their_defaults),
		cmocka_unit_test(parse_joins_indented_continuation_lines_of_lists),
		cmocka_unit_test(parse_accepts_every_spelling_of_initramfs),
		cmocka_unit_test(parse_accepts_crlf_line_endings_and_no_final_newline),
		cmocka_unit_test(parse_trims_spaces_in_module_section_names),
		cmocka_unit_test(parse_accepts_url_and_git_sources),
		cmocka_unit_test(load_reads_a_file_and_remembers_its_directory),
		cmocka_unit_test(load_reports_a_missing_file),
	};

	return cmocka_run_group_tests_name("recipe", tests, NULL, NULL);
}
