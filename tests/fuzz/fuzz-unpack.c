/*
 * libFuzzer target: the archive extractor (builder/sources/unpack.c). Each input is
 * written to a temp file and extracted into a fresh empty directory, with
 * strip 0 and 1. What unpack.c promises is checked after each run: nothing
 * but the archive and the target directory in the sandbox around them,
 * only files, directories and symlinks in the tree, no setuid, setgid or
 * sticky bit, every symlink resolving inside the tree, and every hard link
 * count made of names inside the tree. The tree is then removed without
 * following symlinks.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <linux/openat2.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/log.h"
#include "base/util.h"
#include "sources/unpack.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Set once; nftw() callbacks take no context. */
static char sandbox[4096], archive_path[4200], dest_path[4200];
static int dest_fd = -1;
static int diag_fd = 2; /* stderr as it was before -close_fd_mask=2 */

/* The regular files seen in one walk: a file linked from outside has names we do not see. */
struct file_id {
	ino_t ino;
	nlink_t nlink;
};
static struct file_id *files;
static size_t nr_files, alloc_files;

static void __attribute__((format(printf, 1, 2), noreturn)) fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	dprintf(diag_fd, "fuzz-unpack: ");
	vdprintf(diag_fd, fmt, ap);
	dprintf(diag_fd, "\n");
	va_end(ap);
	abort();
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	if (remove(path) < 0)
		fail("cannot remove '%s': %s", path, strerror(errno));
	return 0;
}

static void remove_tree(const char *path)
{
	if (nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS) < 0 && errno != ENOENT)
		fail("cannot walk '%s': %s", path, strerror(errno));
}

static void remove_sandbox(void)
{
	remove_tree(sandbox);
	free(files);
}

/* A symlink must resolve beneath the tree: openat2 says EXDEV when it climbs out. */
static bool link_resolves_inside(const char *rel)
{
	struct open_how how = {
		.flags = O_PATH | O_CLOEXEC,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
	};
	long fd = syscall(SYS_openat2, dest_fd, rel, &how, sizeof(how));

	if (fd >= 0)
		close((int)fd);
	return fd >= 0 || errno != EXDEV;
}

static int check_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	const char *rel = path + strlen(dest_path) + 1;

	(void)type;
	if (!ftw->level)
		return 0;
	if (!S_ISREG(st->st_mode) && !S_ISDIR(st->st_mode) && !S_ISLNK(st->st_mode))
		fail("'%s' has mode %o", rel, (unsigned)st->st_mode);
	if (!S_ISLNK(st->st_mode) && (st->st_mode & (S_ISUID | S_ISGID | S_ISVTX)))
		fail("'%s' kept mode %o", rel, (unsigned)st->st_mode);
	if (S_ISLNK(st->st_mode) && !link_resolves_inside(rel))
		fail("symlink '%s' leads out of the tree", rel);
	if (S_ISREG(st->st_mode)) {
		if (nr_files == alloc_files) {
			alloc_files = alloc_files ? 2 * alloc_files : 64;
			files = realloc(files, alloc_files * sizeof(*files));
			if (!files)
				fail("out of memory");
		}
		files[nr_files++] = (struct file_id){ st->st_ino, st->st_nlink };
	}
	return 0;
}

static int file_id_cmp(const void *a, const void *b)
{
	const struct file_id *x = a, *y = b;

	return x->ino < y->ino ? -1 : x->ino > y->ino;
}

/* Each inode's link count must equal its names in the tree. */
static void check_hard_links(void)
{
	if (nr_files > 1)
		qsort(files, nr_files, sizeof(*files), file_id_cmp);
	for (size_t i = 0, j; i < nr_files; i = j) {
		for (j = i + 1; j < nr_files && files[j].ino == files[i].ino; j++)
			;
		if (files[i].nlink != j - i)
			fail("inode %lu has %lu links, %zu of them in the tree",
			     (unsigned long)files[i].ino, (unsigned long)files[i].nlink, j - i);
	}
	nr_files = 0;
}

/* Only the archive and the target may be in the sandbox: anything else escaped. */
static void check_sandbox(void)
{
	struct dirent *de;
	DIR *dir = opendir(sandbox);

	if (!dir)
		fail("cannot open '%s': %s", sandbox, strerror(errno));
	while ((de = readdir(dir))) {
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") &&
		    strcmp(de->d_name, "archive") && strcmp(de->d_name, "out"))
			fail("'%s' written outside the target", de->d_name);
	}
	closedir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *tmp = getenv("TMPDIR");

	(void)argc;
	(void)argv;
	/* errors still print: build-aux/fuzz runs this with -close_fd_mask=2 */
	kb_log_set_level(KB_LOG_QUIET);
	/* libFuzzer has not parsed its flags yet: fd 2 is still the real stderr */
	diag_fd = fcntl(2, F_DUPFD_CLOEXEC, 3);
	if (diag_fd < 0)
		diag_fd = 2;
	if (!tmp || !*tmp)
		tmp = "/tmp";
	snprintf(sandbox, sizeof(sandbox), "%s/kbuildd-fuzz-unpack.XXXXXX", tmp);
	if (!mkdtemp(sandbox))
		fail("cannot create '%s': %s", sandbox, strerror(errno));
	snprintf(archive_path, sizeof(archive_path), "%s/archive", sandbox);
	snprintf(dest_path, sizeof(dest_path), "%s/out", sandbox);
	atexit(remove_sandbox);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fd = open(archive_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0 || kb_write_all(fd, data, size) < 0 || close(fd) < 0)
		fail("cannot write '%s': %s", archive_path, strerror(errno));
	for (unsigned strip = 0; strip <= 1; strip++) {
		if (mkdir(dest_path, 0700) < 0)
			fail("cannot create '%s': %s", dest_path, strerror(errno));
		dest_fd = open(dest_path, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (dest_fd < 0)
			fail("cannot open '%s': %s", dest_path, strerror(errno));
		kb_unpack(archive_path, dest_path, strip, "fuzz");
		check_sandbox();
		if (nftw(dest_path, check_entry, 16, FTW_PHYS) < 0)
			fail("cannot walk '%s': %s", dest_path, strerror(errno));
		check_hard_links();
		close(dest_fd);
		dest_fd = -1;
		remove_tree(dest_path);
	}
	return 0;
}
