/*
 * Places: a host tree shown at another path in a sandbox's view (a
 * dkms.conf's own /usr/src/NAME-VERSION and /var/lib/dkms/NAME/VERSION),
 * and directories shown with another's entries over their own. A mount
 * point the host lacks is made in a tmpfs over its parent that holds what
 * was there put back; nothing is created on the host.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/limits.h"
#include "sandbox-mounts.h"
#include "sandbox.h"

/* Clear what an earlier source put back at @path: a later one wins. */
static int remove_put_back(const char *path)
{
	struct stat st;

	while (umount2(path, MNT_DETACH) == 0)
		;
	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	return (S_ISDIR(st.st_mode) ? rmdir(path) : unlink(path)) < 0 ? -errno : 0;
}

/* Cover @dir with a tmpfs holding the entries of @from[0..n), the later ones winning. */
static int cover_merged(const char *dir, const char *const *from, size_t n)
{
	struct entry *e = calloc(KB_MAX_REACH_ENTRIES, sizeof(*e));
	size_t nr = 0, start;
	int r = e ? 0 : -ENOMEM;

	for (size_t i = 0; r >= 0 && i < n; i++) {
		start = nr;
		r = kb_entries_collect(from[i], true, NULL, 0, e, &nr);
		for (size_t j = start; r >= 0 && j < nr; j++) {
			char *at;

			if (asprintf(&at, "%s%s", dir, e[j].path + strlen(from[i])) < 0)
				r = -ENOMEM;
			else
				free(e[j].path), e[j].path = at;
		}
	}
	if (r >= 0 && mount("tmpfs", dir, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=1m") < 0)
		r = -errno;
	for (size_t i = 0; r >= 0 && i < nr; i++)
		if ((r = remove_put_back(e[i].path)) >= 0)
			r = kb_put_back(&e[i]);
	if (e)
		kb_entries_release(e, nr);
	return r;
}

/* Make the mount point @at, covering the nearest existing directory when it is read-only. */
static int make_place(const char *at, struct kb_strv *covered)
{
	char dir[PATH_MAX];
	const char *from[1] = { dir };
	int r = kb_mount_mkdir_p(at);

	if (r != -EROFS && r != -EACCES)
		return r;
	if (kb_pathf(dir, sizeof(dir), "%s", at) < 0)
		return -ENAMETOOLONG;
	while (access(dir, F_OK) < 0 && strrchr(dir, '/') != dir)
		*strrchr(dir, '/') = '\0';
	r = cover_merged(dir, from, 1);
	if (r >= 0)
		r = kb_strv_push(covered, dir);
	return r >= 0 ? kb_mount_mkdir_p(at) : r;
}

/* Attach each place's @trees (cloned before the state was hidden), then close what was covered. */
int kb_sandbox_places(const struct kb_sandbox *sb, int *trees, int err_fd)
{
	struct kb_strv covered = KB_STRV_INIT;
	const char *path = "/";
	int r = 0;

	for (size_t i = 0; r >= 0 && i + 1 < sb->merge.n; i += 2) {
		const char *from[2] = { sb->merge.v[i], sb->merge.v[i + 1] };
		struct stat st;

		path = from[0];
		if (stat(from[1], &st) < 0 || !S_ISDIR(st.st_mode))
			continue; /* nothing of the root's to show */
		r = cover_merged(from[0], from, 2);
		if (r >= 0)
			r = kb_strv_push(&covered, from[0]);
	}
	for (size_t i = 0; r >= 0 && i + 2 < sb->place.n; i += 3) {
		bool rw = !strcmp(sb->place.v[i + 2], "rw");

		path = sb->place.v[i];
		r = make_place(path, &covered);
		if (r >= 0)
			r = kb_mount_setattr(trees[i / 3], "", AT_EMPTY_PATH | AT_RECURSIVE,
					     MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV |
						     (rw ? 0 : MOUNT_ATTR_RDONLY),
					     rw ? MOUNT_ATTR_RDONLY : 0);
		if (r >= 0 &&
		    move_mount(trees[i / 3], "", AT_FDCWD, path, MOVE_MOUNT_F_EMPTY_PATH) < 0)
			r = -errno;
	}
	for (size_t i = 0; r >= 0 && i < covered.n; i++)
		r = kb_mount_setattr(AT_FDCWD, covered.v[i], 0, MOUNT_ATTR_RDONLY, 0);
	if (r >= 0)
		r = kb_strv_error(&covered);
	kb_strv_clear(&covered);
	if (r < 0)
		kb_say(err_fd, "kbuildd: sandbox: cannot place '%s': %s\n", path, strerror(-r));
	return r;
}
