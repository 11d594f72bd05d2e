/* Unit tests for kernel release parsing and version ranges (builder/version.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "version.h"

static struct kb_kver kver(const char *release)
{
	struct kb_kver v;

	if (kb_kver_parse(release, &v) < 0)
		fail_msg("cannot parse kernel release '%s'", release);
	return v;
}

static void assert_kver(const char *release, unsigned major, unsigned minor, unsigned patch)
{
	struct kb_kver v = { 99, 99, 99 };

	if (kb_kver_parse(release, &v) < 0)
		fail_msg("'%s' was rejected", release);
	if (v.major != major || v.minor != minor || v.patch != patch)
		fail_msg("'%s' parsed as %u.%u.%u, expected %u.%u.%u", release, v.major, v.minor,
			 v.patch, major, minor, patch);
}

static void kver_parse_reads_debian_and_ubuntu_releases(void **state)
{
	(void)state;
	assert_kver("6.1.0-56-amd64", 6, 1, 0);
	assert_kver("6.12.117+deb12-amd64", 6, 12, 117);
	assert_kver("5.10.0-30-arm64", 5, 10, 0);
	assert_kver("6.8.0-1012-aws", 6, 8, 0);
	assert_kver("6.12.0", 6, 12, 0);
}

static void kver_parse_takes_two_part_versions_as_patch_zero(void **state)
{
	(void)state;
	assert_kver("4.19", 4, 19, 0);
	assert_kver("6.13-rc3", 6, 13, 0);
}

static void kver_parse_stops_after_three_numbers(void **state)
{
	(void)state;
	assert_kver("6.1.2.3", 6, 1, 2);
	assert_kver("6.1.", 6, 1, 0);
}

static void kver_parse_rejects_garbage(void **state)
{
	static const char *const bad[] = {
		"", "abc", "6", "6.", "6-amd64", ".6.1", "v6.1.0", " 6.1.0", "99999999.1.0",
	};
	struct kb_kver v;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (kb_kver_parse(bad[i], &v) != -EINVAL)
			fail_msg("'%s' was accepted as a kernel release", bad[i]);
}

static void kver_cmp_orders_major_then_minor_then_patch(void **state)
{
	/* Ascending; numeric, not lexical: 6.9 < 6.12 and 5.10 < 6.1. */
	static const char *const ordered[] = {
		"4.19.0",  "5.4.0", "5.10.0", "5.10.9",	  "5.10.10", "6.1.0",
		"6.1.150", "6.9.0", "6.12.0", "6.12.117", "6.13.2",  "7.0.0",
	};
	size_t n = sizeof(ordered) / sizeof(ordered[0]);

	(void)state;
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < n; j++) {
			struct kb_kver a = kver(ordered[i]), b = kver(ordered[j]);
			int want = i < j ? -1 : i > j ? 1 : 0;
			int got = kb_kver_cmp(&a, &b);

			if (got != want)
				fail_msg("cmp(%s, %s) = %d, expected %d", ordered[i], ordered[j],
					 got, want);
		}
	}
}

static void kver_cmp_ignores_the_local_suffix(void **state)
{
	struct kb_kver a = kver("6.12.117+deb12-amd64"), b = kver("6.12.117-cloud-arm64");

	(void)state;
	assert_int_equal(kb_kver_cmp(&a, &b), 0);
}

static struct kb_range range(const char *text)
{
	struct kb_range r;
	const char *why = NULL;

	if (kb_range_parse(text, &r, &why) < 0)
		fail_msg("range '%s' was rejected: expected %s", text, why ? why : "(no reason)");
	return r;
}

static void assert_term(const struct kb_range_term *t, enum kb_cmp op, unsigned parts,
			unsigned major, unsigned minor, unsigned patch)
{
	assert_int_equal(t->op, op);
	assert_int_equal(t->parts, parts);
	assert_int_equal(t->ver.major, major);
	assert_int_equal(t->ver.minor, minor);
	assert_int_equal(t->ver.patch, patch);
}

static void range_parse_reads_a_single_comparison(void **state)
{
	struct kb_range r;

	(void)state;
	r = range("< 6.12");
	assert_int_equal(r.n, 1);
	assert_term(&r.terms[0], KB_CMP_LT, 2, 6, 12, 0);

	r = range("=6.1");
	assert_int_equal(r.n, 1);
	assert_term(&r.terms[0], KB_CMP_EQ, 2, 6, 1, 0);

	r = range("!= 6.1.5");
	assert_int_equal(r.n, 1);
	assert_term(&r.terms[0], KB_CMP_NE, 3, 6, 1, 5);

	r = range("<= 7");
	assert_term(&r.terms[0], KB_CMP_LE, 1, 7, 0, 0);
	r = range("> 6.1");
	assert_term(&r.terms[0], KB_CMP_GT, 2, 6, 1, 0);
	r = range("== 6.1");
	assert_term(&r.terms[0], KB_CMP_EQ, 2, 6, 1, 0);
}

static void range_parse_reads_comma_separated_comparisons(void **state)
{
	struct kb_range r;

	(void)state;
	r = range(">= 5.10, < 7");
	assert_int_equal(r.n, 2);
	assert_term(&r.terms[0], KB_CMP_GE, 2, 5, 10, 0);
	assert_term(&r.terms[1], KB_CMP_LT, 1, 7, 0, 0);

	r = range(">= 5.10, != 6.1.5, <= 6.12.117");
	assert_int_equal(r.n, 3);
	assert_term(&r.terms[2], KB_CMP_LE, 3, 6, 12, 117);
}

static void range_parse_allows_any_whitespace_around_parts(void **state)
{
	static const char *const spellings[] = {
		">= 5.10, < 7",	     ">=5.10,<7",    "  >=  5.10 ,  <  7  ",
		"\t>=\t5.10,\t<7\t", ">= 5.10 ,< 7", ">=5.10 , <7\n",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(spellings) / sizeof(spellings[0]); i++) {
		struct kb_range r = range(spellings[i]);

		assert_int_equal(r.n, 2);
		assert_term(&r.terms[0], KB_CMP_GE, 2, 5, 10, 0);
		assert_term(&r.terms[1], KB_CMP_LT, 1, 7, 0, 0);
	}
}

static void range_parse_accepts_eight_comparisons(void **state)
{
	struct kb_range r;

	(void)state;
	r = range("> 1, > 2, > 3, > 4, > 5, < 9, < 8, < 7");
	assert_int_equal(r.n, KB_RANGE_MAX_TERMS);
}

static void range_parse_rejects_malformed_ranges_with_a_reason(void **state)
{
	static const char *const bad[] = {
		"",			    /* nothing at all */
		"   ",	     "6.1",	    /* no comparison */
		">= ",			    /* no version */
		">=",	     ">= 5.10 < 7", /* missing comma */
		"~> 5",			    /* not an operator we know */
		"=> 5.10",   "> 5,",	    /* trailing comma */
		"> 5, ",     ",",
		", > 5",     "> 5,, < 7",
		"< 6.12abc", "< 6.x",
		"< -6",	     "> 1, > 2, > 3, > 4, > 5, > 6, > 7, > 8, > 9", /* nine comparisons */
	};

	unsigned wrong = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct kb_range r;
		const char *why = NULL;

		if (kb_range_parse(bad[i], &r, &why) != -EINVAL) {
			print_error("range '%s' was accepted\n", bad[i]);
			wrong++;
		} else if (!why || !*why) {
			print_error("range '%s' was rejected without saying why\n", bad[i]);
			wrong++;
		}
	}
	assert_int_equal(wrong, 0);
}

static void range_parse_says_what_was_expected(void **state)
{
	struct kb_range r;
	const char *why = NULL;

	(void)state;
	assert_int_equal(kb_range_parse(">= 5.10 < 7", &r, &why), -EINVAL);
	assert_non_null(strstr(why, "comma"));
	assert_int_equal(kb_range_parse("6.1", &r, &why), -EINVAL);
	assert_non_null(strstr(why, "comparison"));
	assert_int_equal(kb_range_parse(">= ", &r, &why), -EINVAL);
	assert_non_null(strstr(why, "version"));
	assert_int_equal(kb_range_parse("> 1, > 2, > 3, > 4, > 5, > 6, > 7, > 8, > 9", &r, &why),
			 -EINVAL);
	assert_non_null(strstr(why, "8"));
}

static void range_parse_works_without_a_why_pointer(void **state)
{
	struct kb_range r;

	(void)state;
	assert_int_equal(kb_range_parse("~> 5", &r, NULL), -EINVAL);
	assert_int_equal(kb_range_parse("< 7", &r, NULL), 0);
}

static bool matches(const char *range_text, const char *release)
{
	struct kb_range r = range(range_text);
	struct kb_kver v = kver(release);

	return kb_range_match(&r, &v);
}

#define assert_match(range_text, release)                                       \
	do {                                                                    \
		if (!matches(range_text, release))                              \
			fail_msg("'%s' should accept %s", range_text, release); \
	} while (0)
#define assert_no_match(range_text, release)                                     \
	do {                                                                     \
		if (matches(range_text, release))                                \
			fail_msg("'%s' should exclude %s", range_text, release); \
	} while (0)

static void range_match_less_than_a_series_excludes_the_whole_series(void **state)
{
	(void)state;
	assert_no_match("< 6.12", "6.12.117+deb12-amd64");
	assert_no_match("< 6.12", "6.12.0");
	assert_no_match("< 6.12", "6.13.2");
	assert_match("< 6.12", "6.1.0-56-amd64");
	assert_match("< 6.12", "6.11.9");
}

static void range_match_equal_to_a_series_matches_every_patch_level(void **state)
{
	(void)state;
	assert_match("= 6.1", "6.1.150");
	assert_match("= 6.1", "6.1.0-56-amd64");
	assert_no_match("= 6.1", "6.10.0");
	assert_no_match("= 6.1", "6.2.0");
	assert_match("= 6", "6.12.117");
	assert_no_match("= 6.1.5", "6.1.50");
	assert_match("= 6.1.5", "6.1.5-1-amd64");
}

static void range_match_greater_than_a_series_starts_at_the_next_one(void **state)
{
	(void)state;
	assert_no_match("> 6.1", "6.1.9");
	assert_no_match("> 6.1", "6.1.150");
	assert_match("> 6.1", "6.2.0");
	assert_no_match("> 6", "6.99.0");
	assert_match("> 6", "7.0");
}

static void range_match_less_or_equal_includes_the_whole_series(void **state)
{
	(void)state;
	assert_match("<= 6.12", "6.12.117");
	assert_match("<= 6.12", "6.12.0");
	assert_match("<= 6.12", "6.11.9");
	assert_no_match("<= 6.12", "6.13.2");
}

static void range_match_not_equal_excludes_only_the_written_version(void **state)
{
	(void)state;
	assert_no_match("!= 6.1.5", "6.1.5-1-amd64");
	assert_match("!= 6.1.5", "6.1.6");
	assert_no_match("!= 6.12", "6.12.117");
	assert_match("!= 6.12", "6.13.2");
}

static void range_match_with_a_patch_level_compares_the_patch(void **state)
{
	(void)state;
	assert_match(">= 6.12.100", "6.12.117");
	assert_no_match(">= 6.12.100", "6.12.99");
	assert_no_match(">= 6.12.100", "6.11.200");
	assert_match(">= 6.12.100", "6.13.0");
}

static void range_match_requires_every_comparison(void **state)
{
	(void)state;
	assert_match(">= 5.10, < 7", "5.10.0-30-arm64");
	assert_match(">= 5.10, < 7", "6.12.117+deb12-amd64");
	assert_no_match(">= 5.10, < 7", "5.4.0");
	assert_no_match(">= 5.10, < 7", "7.0.1");
	assert_no_match(">= 5.10, < 7, != 6.8", "6.8.0-1012-aws");
	assert_match(">= 5.10, < 7, != 6.8", "6.9.0");
}

static void range_match_of_an_empty_range_accepts_every_kernel(void **state)
{
	struct kb_range r = { .n = 0 };
	struct kb_kver v = kver("4.19.0");

	(void)state;
	assert_true(kb_range_match(&r, &v));
}

static void dkms_vercmp_compares_numbers_padded_to_three_digits(void **state)
{
	(void)state;
	assert_true(kb_dkms_vercmp("2.0", "1.0") > 0);
	assert_true(kb_dkms_vercmp("1.10", "1.9") > 0);
	assert_true(kb_dkms_vercmp("1.0.1", "1.0") > 0);
	assert_true(kb_dkms_vercmp("0.12.7", "0.12.10") < 0);
	assert_int_equal(kb_dkms_vercmp("1.2-rc1", "1.2-rc1"), 0);
	assert_true(kb_dkms_vercmp("1.2-rc2", "1.2-rc10") < 0);
	/* as DKMS: only one or two digits are padded, so 1000 sorts before 999 */
	assert_true(kb_dkms_vercmp("1000", "999") < 0);
	assert_true(kb_dkms_vercmp("v2", "1") > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(kver_parse_reads_debian_and_ubuntu_releases),
		cmocka_unit_test(kver_parse_takes_two_part_versions_as_patch_zero),
		cmocka_unit_test(kver_parse_stops_after_three_numbers),
		cmocka_unit_test(kver_parse_rejects_garbage),
		cmocka_unit_test(kver_cmp_orders_major_then_minor_then_patch),
		cmocka_unit_test(kver_cmp_ignores_the_local_suffix),
		cmocka_unit_test(range_parse_reads_a_single_comparison),
		cmocka_unit_test(range_parse_reads_comma_separated_comparisons),
		cmocka_unit_test(range_parse_allows_any_whitespace_around_parts),
		cmocka_unit_test(range_parse_accepts_eight_comparisons),
		cmocka_unit_test(range_parse_rejects_malformed_ranges_with_a_reason),
		cmocka_unit_test(range_parse_says_what_was_expected),
		cmocka_unit_test(range_parse_works_without_a_why_pointer),
		cmocka_unit_test(range_match_less_than_a_series_excludes_the_whole_series),
		cmocka_unit_test(range_match_equal_to_a_series_matches_every_patch_level),
		cmocka_unit_test(range_match_greater_than_a_series_starts_at_the_next_one),
		cmocka_unit_test(range_match_less_or_equal_includes_the_whole_series),
		cmocka_unit_test(range_match_not_equal_excludes_only_the_written_version),
		cmocka_unit_test(range_match_with_a_patch_level_compares_the_patch),
		cmocka_unit_test(range_match_requires_every_comparison),
		cmocka_unit_test(range_match_of_an_empty_range_accepts_every_kernel),
		cmocka_unit_test(dkms_vercmp_compares_numbers_padded_to_three_digits),
	};

	return cmocka_run_group_tests_name("version", tests, NULL, NULL);
}
