/* The state lock: one kbuildd at a time changes a root. */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "base/lock.h"
#include "base/log.h"
#include "base/util.h"

#define LOCK_DIR "var/lib/kbuildd"
#define LOCK_FILE LOCK_DIR "/lock"

static int holder_error(const struct kb_root *root, int fd, unsigned wait_seconds)
{
	struct kb_buf who = KB_BUF_INIT_MAX(4096);
	_cleanup_free_ char *path = kb_root_path(root, LOCK_FILE);
	int r;

	lseek(fd, 0, SEEK_SET);
	kb_read_fd(fd, 4096, &who);
	if (who.len && who.buf[who.len - 1] == '\n')
		who.buf[--who.len] = '\0';
	r = kb_err(-KB_E_LOCKED, "'%s' is held by another kbuildd (%s); gave up after %us",
		   path ? path : LOCK_FILE, who.len ? kb_buf_str(&who) : "pid unknown",
		   wait_seconds);
	kb_buf_release(&who);
	return r;
}

/* Wait up to @wait_seconds for flock(@how) on @fd; 0, or an error with @fd closed. */
static int wait_for(const struct kb_root *root, int fd, int how, unsigned wait_seconds)
{
	struct timespec start, now;
	bool told = false;
	int r;

	clock_gettime(CLOCK_MONOTONIC, &start);
	while (flock(fd, how | LOCK_NB) < 0) {
		if (errno != EWOULDBLOCK) {
			r = kb_err_errno(-errno, "cannot lock '%s'", LOCK_FILE);
			close(fd);
			return r;
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - start.tv_sec >= (time_t)wait_seconds) {
			r = holder_error(root, fd, wait_seconds);
			close(fd);
			return r;
		}
		if (!told) {
			kb_info("waiting for another kbuildd to release the lock");
			told = true;
		}
		usleep(100 * 1000);
	}
	return 0;
}

int kb_lock_take(const struct kb_root *root, unsigned wait_seconds, const char *what)
{
	char line[512];
	int fd, r, len;

	r = kb_mkdirs(root, LOCK_DIR, 0755);
	if (r < 0)
		return kb_err_errno(r, "cannot create '%s'", LOCK_DIR);
	fd = kb_root_openat(root, LOCK_FILE, O_RDWR | O_CREAT | O_NOFOLLOW, 0644);
	if (fd < 0)
		return kb_err_errno(fd, "cannot open '%s'", LOCK_FILE);
	r = wait_for(root, fd, LOCK_EX, wait_seconds);
	if (r < 0)
		return r;
	len = snprintf(line, sizeof(line), "pid %ld: %s\n", (long)getpid(), what);
	if (ftruncate(fd, 0) == 0 && len > 0)
		kb_write_all(fd, line, (size_t)len < sizeof(line) ? (size_t)len : sizeof(line) - 1);
	return fd;
}

int kb_lock_take_shared(const struct kb_root *root, unsigned wait_seconds)
{
	int fd = kb_root_openat(root, LOCK_FILE, O_RDONLY | O_NOFOLLOW, 0);
	int r;

	/* no lock file: no kbuildd ever changed this root */
	if (fd == -ENOENT)
		return fd;
	if (fd < 0)
		return kb_err_errno(fd, "cannot open '%s'", LOCK_FILE);
	r = wait_for(root, fd, LOCK_SH, wait_seconds);
	return r < 0 ? r : fd;
}

void kb_lock_release(int fd)
{
	if (fd < 0)
		return;
	/* a shared lock, opened read-only, never wrote its holder */
	if ((fcntl(fd, F_GETFL) & O_ACCMODE) != O_RDONLY && ftruncate(fd, 0) < 0)
		kb_warn("cannot empty the lock file: %s", strerror(errno));
	close(fd);
}
