/* Unit tests for reading manifests back, damaged ones included (builder/manifest.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/log.h"
#include "manifest.h"

#define SHA "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define GOOD                                                         \
	"kbuildd-manifest 1\nrecipe hello 1.0.0\nbuild-id " SHA "\n" \
	"file " SHA " lib/modules/K/updates/kbuildd/hello.ko\n"      \
	"file " SHA " etc/modprobe.d/kbuildd-hello.conf\n"

static int parse(const char *text, size_t len, struct kb_manifest *m)
{
	return kb_manifest_parse(text, len, "t.manifest", m);
}

/* @text must be damaged, and the message must be exactly @damage. */
static void assert_damaged(const char *text, size_t len, const char *damage)
{
	struct kb_manifest m;
	int r = parse(text, len, &m);

	if (r != -KB_E_INPUT)
		fail_msg("parsed with %d, expected -KB_E_INPUT (damage '%s')", r, damage);
	if (!m.damage || strcmp(m.damage, damage))
		fail_msg("damage '%s', expected '%s'", m.damage ? m.damage : "(none)", damage);
	kb_manifest_release(&m);
}

static void parse_reads_every_line_of_a_good_manifest(void **state)
{
	struct kb_manifest m;

	(void)state;
	assert_int_equal(parse(GOOD, strlen(GOOD), &m), 0);
	assert_string_equal(m.name, "hello");
	assert_string_equal(m.version, "1.0.0");
	assert_string_equal(m.build_id, SHA);
	assert_int_equal(m.n, 2);
	assert_string_equal(m.files[1].path, "etc/modprobe.d/kbuildd-hello.conf");
	assert_null(m.damage);
	kb_manifest_release(&m);
}

/* A reused build says which kernel's build it is (reuse.h); one such line, a valid release. */
static void parse_reads_where_a_reused_build_came_from(void **state)
{
	static const char text[] = "kbuildd-manifest 1\nrecipe hello 1.0.0\nbuild-id " SHA
				   "\nreused-from 6.1.0-57-amd64\n";
	static const char twice[] = "kbuildd-manifest 1\nrecipe hello 1.0.0\n"
				    "reused-from 6.1.0-57-amd64\nreused-from 6.1.0-56-amd64\n";
	static const char bad[] = "kbuildd-manifest 1\nrecipe hello 1.0.0\nreused-from ../x\n";
	struct kb_manifest m;

	(void)state;
	assert_int_equal(parse(text, strlen(text), &m), 0);
	assert_string_equal(m.reused_from, "6.1.0-57-amd64");
	kb_manifest_release(&m);
	assert_int_equal(parse(GOOD, strlen(GOOD), &m), 0);
	assert_string_equal(m.reused_from, "");
	kb_manifest_release(&m);
	assert_int_equal(parse(twice, strlen(twice), &m), -KB_E_INPUT);
	kb_manifest_release(&m);
	assert_int_equal(parse(bad, strlen(bad), &m), -KB_E_INPUT);
	kb_manifest_release(&m);
}

static void parse_calls_an_empty_manifest_damaged(void **state)
{
	(void)state;
	assert_damaged("", 0,
		       "t.manifest:1: damaged manifest: empty, expected 'kbuildd-manifest 1'");
}

static void parse_names_the_line_of_a_nul_byte(void **state)
{
	static const char text[] = "kbuildd-manifest 1\nrecipe hello 1.0.0\n\0file " SHA " x/y\n";

	(void)state;
	assert_damaged(text, sizeof(text) - 1,
		       "t.manifest:3: damaged manifest: a NUL byte; expected text lines");
}

static void parse_says_what_a_line_should_have_been(void **state)
{
	static const char text[] = "kbuildd-manifest 1\nrecipe hello 1.0.0\nfile short x/y\n";

	(void)state;
	assert_damaged(text, strlen(text),
		       "t.manifest:3: damaged manifest: expected 'file SHA256 "
		       "PATH', 'recipe NAME VERSION', 'build-id SHA256' or "
		       "'reused-from KERNEL'");
	assert_damaged("manifest\n", 9,
		       "t.manifest:1: damaged manifest: expected 'kbuildd-manifest 1'");
	assert_damaged("kbuildd-manifest 1\n", 19,
		       "t.manifest:1: damaged manifest: ends without a 'recipe NAME VERSION' line");
}

static void parse_counts_blank_lines(void **state)
{
	static const char text[] = "kbuildd-manifest 1\n\nrecipe hello 1.0.0\nbogus\n";

	(void)state;
	assert_damaged(text, strlen(text),
		       "t.manifest:4: damaged manifest: expected 'file SHA256 "
		       "PATH', 'recipe NAME VERSION', 'build-id SHA256' or "
		       "'reused-from KERNEL'");
}

/* What a damaged manifest still names stays owned: the files around the damage. */
static void parse_salvages_the_files_of_a_damaged_manifest(void **state)
{
	static const char text[] = "kbuildd-manifest 1\nrecipe hello 1.0.0\n"
				   "file " SHA " a/before\n\0file " SHA " a/after\nbogus\n"
				   "file " SHA " a/last\n";
	struct kb_manifest m;

	(void)state;
	assert_int_equal(parse(text, sizeof(text) - 1, &m), -KB_E_INPUT);
	assert_int_equal(m.n, 3);
	assert_non_null(kb_manifest_find(&m, "a/before"));
	assert_non_null(kb_manifest_find(&m, "a/after"));
	assert_non_null(kb_manifest_find(&m, "a/last"));
	assert_string_equal(m.damage,
			    "t.manifest:4: damaged manifest: a NUL byte; expected text lines");
	kb_manifest_release(&m);
}

static void parse_never_salvages_an_unsafe_path(void **state)
{
	static const char text[] = "bogus\nfile " SHA " ../etc/passwd\nfile " SHA " /etc/shadow\n";
	struct kb_manifest m;

	(void)state;
	assert_int_equal(parse(text, strlen(text), &m), -KB_E_INPUT);
	assert_int_equal(m.n, 0);
	kb_manifest_release(&m);
}

static void damaged_owner_may_be_any_damaged_manifest(void **state)
{
	struct kb_manifest damaged[2] = { { .name = (char *)"a" }, { .name = (char *)"b" } };
	struct kb_manifest_set set = { .damaged = damaged, .n_damaged = 2 };
	struct kb_manifest_set none = { 0 };

	(void)state;
	assert_int_equal(kb_manifest_add_file(&damaged[1], "x/listed", SHA), 0);
	assert_ptr_equal(kb_manifest_damaged_owner(&set, "x/listed"), &damaged[1]);
	/* what was lost from a damaged manifest may have named it */
	assert_non_null(kb_manifest_damaged_owner(&set, "x/anything"));
	assert_null(kb_manifest_damaged_owner(&none, "x/anything"));
	assert_ptr_equal(kb_manifest_set_damaged(&set, "b"), &damaged[1]);
	assert_null(kb_manifest_set_damaged(&set, "c"));
	free(damaged[1].files[0].path);
	free(damaged[1].files);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parse_reads_every_line_of_a_good_manifest),
		cmocka_unit_test(parse_reads_where_a_reused_build_came_from),
		cmocka_unit_test(parse_calls_an_empty_manifest_damaged),
		cmocka_unit_test(parse_names_the_line_of_a_nul_byte),
		cmocka_unit_test(parse_says_what_a_line_should_have_been),
		cmocka_unit_test(parse_counts_blank_lines),
		cmocka_unit_test(parse_salvages_the_files_of_a_damaged_manifest),
		cmocka_unit_test(parse_never_salvages_an_unsafe_path),
		cmocka_unit_test(damaged_owner_may_be_any_damaged_manifest),
	};

	return cmocka_run_group_tests_name("manifest", tests, NULL, NULL);
}
