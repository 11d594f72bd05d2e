/* Unit tests for the native recipe parser (builder/recipe.c): fields, defaults and messages. */
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

static void capture_begin(struct capture *c)
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
static char *capture_end(struct capture *c)
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
static int parse(struct kb_recipe *r, const char *text, size_t len, char **messages)
{
	struct capture c;
	int ret;

	capture_begin(&c);
	ret = kb_recipe_parse(r, "t.recipe", text, len);
	*messages = capture_end(&c);
	return ret;
}

static void assert_contains(const char *haystack, const char *needle)
{
	if (!strstr(haystack, needle))
		fail_msg("expected \"%s\" in:\n%s", needle, haystack);
}

static unsigned count_lines(const char *s)
{
	unsigned n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* A valid recipe parses silently; returns 0 with @r filled in. */
static void parse_ok(struct kb_recipe *r, const char *text)
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
static void expect_one_error(const char *text, const char *where, ...)
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

static void assert_strv(const struct kb_strv *sv, ...)
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

#define SHA "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define COMMIT "0123456789abcdef0123456789abcdef01234567"

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

static void parse_rejects_a_recipe_that_depends_on_itself(void **state)
{
	(void)state;
	expect_one_error(MINIMAL "[build]\ndepends = provider hello\n",
			 "t.recipe: ", "'hello' depends on itself", NULL);
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
		cmocka_unit_test(parse_fills_every_field_of_a_full_recipe),
		cmocka_unit_test(parse_leaves_optional_fields_at_their_defaults),
		cmocka_unit_test(parse_joins_indented_continuation_lines_of_lists),
		cmocka_unit_test(parse_accepts_every_spelling_of_initramfs),
		cmocka_unit_test(parse_accepts_crlf_line_endings_and_no_final_newline),
		cmocka_unit_test(parse_trims_spaces_in_module_section_names),
		cmocka_unit_test(parse_accepts_patch_names_that_merely_contain_dots),
		cmocka_unit_test(parse_accepts_a_line_just_under_the_ini_limit),
		cmocka_unit_test(parse_rejects_an_unknown_key_listing_the_expected_ones),
		cmocka_unit_test(parse_accepts_url_and_git_sources),
		cmocka_unit_test(parse_rejects_unpinned_or_mixed_sources),
		cmocka_unit_test(parse_rejects_single_flags_given_twice),
		cmocka_unit_test(parse_rejects_an_unknown_placeholder),
		cmocka_unit_test(parse_rejects_an_unknown_section),
		cmocka_unit_test(parse_rejects_a_key_before_any_section),
		cmocka_unit_test(parse_rejects_a_key_given_twice),
		cmocka_unit_test(parse_rejects_continuation_lines_for_single_values),
		cmocka_unit_test(parse_rejects_a_section_given_twice),
		cmocka_unit_test(parse_rejects_a_module_given_twice),
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
		cmocka_unit_test(parse_reports_missing_required_parts),
		cmocka_unit_test(parse_reports_every_missing_part_of_an_empty_recipe),
		cmocka_unit_test(parse_rejects_a_recipe_that_depends_on_itself),
		cmocka_unit_test(parse_takes_a_line_longer_than_inih_reads),
		cmocka_unit_test(parse_rejects_a_line_longer_than_the_limit),
		cmocka_unit_test(parse_counts_lines_correctly_after_a_long_line),
		cmocka_unit_test(parse_rejects_a_line_without_an_equals_sign),
		cmocka_unit_test(parse_reports_a_line_without_an_equals_sign_after_other_errors),
		cmocka_unit_test(parse_reports_an_unclosed_section_header_first),
		cmocka_unit_test(parse_rejects_a_nul_byte),
		cmocka_unit_test(parse_reports_every_problem_at_once),
		cmocka_unit_test(parse_rejects_a_recipe_larger_than_the_limit),
		cmocka_unit_test(load_reads_a_file_and_remembers_its_directory),
		cmocka_unit_test(load_reports_a_missing_file),
		cmocka_unit_test(name_valid_accepts_names_like_debian_packages),
		cmocka_unit_test(name_valid_rejects_names_unsafe_in_paths_and_commands),
		cmocka_unit_test(version_valid_accepts_upstream_version_strings),
		cmocka_unit_test(version_valid_rejects_versions_unsafe_in_paths),
	};

	return cmocka_run_group_tests_name("recipe", tests, NULL, NULL);
}
