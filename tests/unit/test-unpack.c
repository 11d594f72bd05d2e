/*
 * Unit tests for the bounds of source archive extraction (builder/sources/unpack.c)
 * that are too slow to reach through a download: the entry count. The
 * archives are written here with libarchive; repeating one directory entry
 * reaches the limit without creating a file per entry.
 */
#include <errno.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <archive.h>
#include <archive_entry.h>
#include <cmocka.h>

#include "base/limits.h"
#include "base/log.h"
#include "sources/unpack.h"

struct sandbox {
	char dir[256], archive[300], dest[300], last[320];
};

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	return remove(path);
}

static int sandbox_setup(void **state)
{
	struct sandbox *s = calloc(1, sizeof(*s));
	const char *tmp = getenv("TMPDIR");

	if (!s)
		return -1;
	snprintf(s->dir, sizeof(s->dir), "%s/test-unpack.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(s->dir))
		return -1;
	snprintf(s->archive, sizeof(s->archive), "%s/src.tar.gz", s->dir);
	snprintf(s->dest, sizeof(s->dest), "%s/out", s->dir);
	snprintf(s->last, sizeof(s->last), "%s/d/last.c", s->dest);
	kb_log_set_level(KB_LOG_QUIET);
	*state = s;
	return 0;
}

static int sandbox_teardown(void **state)
{
	struct sandbox *s = *state;

	nftw(s->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(s);
	return 0;
}

/* A tar.gz of @n entries: a directory "d/" over and over, then one file. */
static void write_archive(const char *path, size_t n)
{
	struct archive *a = archive_write_new();
	struct archive_entry *e = archive_entry_new();

	assert_int_equal(archive_write_set_format_pax_restricted(a), ARCHIVE_OK);
	assert_int_equal(archive_write_add_filter_gzip(a), ARCHIVE_OK);
	assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
	for (size_t i = 0; i < n; i++) {
		archive_entry_clear(e);
		archive_entry_set_pathname(e, i + 1 < n ? "d/" : "d/last.c");
		archive_entry_set_filetype(e, i + 1 < n ? AE_IFDIR : AE_IFREG);
		archive_entry_set_perm(e, i + 1 < n ? 0755 : 0644);
		archive_entry_set_size(e, 0);
		assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
	}
	archive_entry_free(e);
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
}

static void unpack_takes_an_archive_of_exactly_the_entry_limit(void **state)
{
	struct sandbox *s = *state;
	struct stat st;

	write_archive(s->archive, KB_MAX_ARCHIVE_ENTRIES);
	assert_int_equal(mkdir(s->dest, 0755), 0);
	assert_int_equal(kb_unpack(s->archive, s->dest, 0, "test.recipe"), 0);
	assert_int_equal(stat(s->last, &st), 0);
}

static void unpack_refuses_an_archive_of_more_entries(void **state)
{
	struct sandbox *s = *state;
	struct stat st;

	write_archive(s->archive, KB_MAX_ARCHIVE_ENTRIES + 1);
	assert_int_equal(mkdir(s->dest, 0755), 0);
	assert_int_equal(kb_unpack(s->archive, s->dest, 0, "test.recipe"), -KB_E_INPUT);
	/* refused at the entry past the limit: the last one never lands */
	assert_int_equal(stat(s->last, &st), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(unpack_takes_an_archive_of_exactly_the_entry_limit,
						sandbox_setup, sandbox_teardown),
		cmocka_unit_test_setup_teardown(unpack_refuses_an_archive_of_more_entries,
						sandbox_setup, sandbox_teardown),
	};

	return cmocka_run_group_tests_name("unpack", tests, NULL, NULL);
}
