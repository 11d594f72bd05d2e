/* Copying and hashing a source tree: what add snapshots and what a build starts from. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "base/fault.h"
#include "base/limits.h"
#include "base/log.h"
#include "sources/tree.h"

struct tree_walk {
	EVP_MD_CTX *md;
	const struct kb_root *root; /* NULL: hash only */
	const char *dst;	    /* destination inside the root */
	size_t entries;		    /* seen so far, against KB_MAX_ARCHIVE_ENTRIES */
};

/* Destination of the tree-relative path @rel. */
static int dst_path(const struct tree_walk *w, const char *rel, char *out, size_t size)
{
	if (snprintf(out, size, "%s/%s", w->dst, rel) >= (int)size)
		return -ENAMETOOLONG;
	return 0;
}

static void hash_entry(struct tree_walk *w, const char *rel, char type, mode_t mode,
		       const void *data, size_t len)
{
	char head[64];

	if (!w->md)
		return;
	snprintf(head, sizeof(head), "%c %o %zu ", type, (unsigned)(mode & 07777), len);
	EVP_DigestUpdate(w->md, head, strlen(head));
	EVP_DigestUpdate(w->md, rel, strlen(rel) + 1);
	if (len)
		EVP_DigestUpdate(w->md, data, len);
}

static int copy_file(struct tree_walk *w, int sfd, const char *name, const char *rel,
		     const struct stat *st)
{
	struct kb_buf data = KB_BUF_INIT_MAX(KB_MAX_MODULE_SIZE);
	char dst[PATH_MAX];
	int fd, r;

	/* it was a regular file when listed; a symlink swapped in since is not followed */
	fd = kb_open_file(sfd, name, O_NOFOLLOW);
	if (fd < 0) {
		r = fd;
		goto out;
	}
	r = kb_read_fd(fd, KB_MAX_MODULE_SIZE, &data);
	close(fd);
	if (r < 0)
		goto out;
	hash_entry(w, rel, 'f', st->st_mode, data.buf, data.len);
	if (!w->root)
		goto out;
	r = dst_path(w, rel, dst, sizeof(dst));
	if (r < 0)
		goto out;
	fd = kb_root_openat(w->root, dst, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW,
			    st->st_mode & 0755);
	if (fd < 0) {
		r = fd;
		goto out;
	}
	r = kb_write_all(fd, data.buf, data.len);
	if (close(fd) < 0 && r == 0)
		r = -errno;
out:
	kb_buf_release(&data);
	return r;
}

static int walk(struct tree_walk *w, int sfd, const char *src_path, const char *rel)
{
	struct kb_strv names = KB_STRV_INIT;
	int r;

	/* the listing itself is bounded: a directory of millions stops here */
	r = kb_dir_names(sfd, &names, KB_MAX_ARCHIVE_ENTRIES - w->entries);
	w->entries += names.n;
	if (r == -E2BIG)
		r = kb_err(-KB_E_INPUT,
			   "'%s' holds more than %d files, directories and symlinks; "
			   "refused",
			   src_path, KB_MAX_ARCHIVE_ENTRIES);
	for (size_t i = 0; r >= 0 && i < names.n; i++) {
		const char *name = names.v[i];
		char child[PATH_MAX], dst[PATH_MAX];
		struct stat st;

		if (snprintf(child, sizeof(child), "%s%s%s", rel, *rel ? "/" : "", name) >=
			    (int)sizeof(child) ||
		    dst_path(w, child, dst, sizeof(dst)) < 0) {
			r = -ENAMETOOLONG;
			break;
		}
		if (fstatat(sfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			r = -errno;
			break;
		}
		if (S_ISDIR(st.st_mode)) {
			int cfd;

			hash_entry(w, child, 'd', st.st_mode, NULL, 0);
			/* no wider than the source's: a private directory stays private */
			if (w->root &&
			    (r = kb_mkdirs(w->root, dst, (st.st_mode & 0755) | 0700)) < 0)
				break;
			cfd = openat(sfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (cfd < 0) {
				r = -errno;
				break;
			}
			r = walk(w, cfd, src_path, child);
			close(cfd);
		} else if (S_ISREG(st.st_mode)) {
			if (w->root)
				kb_fault_point("copy file");
			r = copy_file(w, sfd, name, child, &st);
		} else if (S_ISLNK(st.st_mode)) {
			char target[PATH_MAX];
			ssize_t n = readlinkat(sfd, name, target, sizeof(target) - 1);
			char parent[PATH_MAX];
			const char *last;
			int dfd;

			if (n < 0) {
				r = -errno;
				break;
			}
			target[n] = '\0';
			hash_entry(w, child, 'l', 0, target, (size_t)n);
			if (!w->root)
				continue;
			dfd = kb_root_open_parent(w->root, dst, O_PATH, parent, sizeof(parent),
						  &last);
			if (dfd < 0) {
				r = dfd;
				break;
			}
			if (symlinkat(target, dfd, last) < 0)
				r = -errno;
			close(dfd);
		} else {
			r = kb_err(-KB_E_INPUT, "'%s/%s' is not a file, directory or symlink",
				   src_path, child);
		}
	}
	kb_strv_clear(&names);
	return r;
}

static int tree_op(const char *src, const struct kb_root *root, const char *dst_rel, char *hash_hex)
{
	struct tree_walk w = { .md = NULL, .root = root, .dst = dst_rel };
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	int sfd, r;

	sfd = open(src, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sfd < 0)
		return -errno;
	if (hash_hex) {
		w.md = EVP_MD_CTX_new();
		if (!w.md || !EVP_DigestInit_ex(w.md, EVP_sha256(), NULL)) {
			r = -ENOMEM;
			goto out;
		}
	}
	if (root) {
		r = kb_mkdirs(root, dst_rel, 0755);
		if (r < 0)
			goto out;
	}
	r = walk(&w, sfd, src, "");
	if (r >= 0 && hash_hex) {
		EVP_DigestFinal_ex(w.md, md, &mdlen);
		for (unsigned i = 0; i < mdlen; i++)
			snprintf(hash_hex + 2 * i, 3, "%02x", md[i]);
	}
out:
	EVP_MD_CTX_free(w.md);
	close(sfd);
	return r;
}

int kb_copy_tree(const char *src, const struct kb_root *root, const char *dst_rel, char *hash_hex)
{
	return tree_op(src, root, dst_rel, hash_hex);
}

int kb_hash_tree(const char *src, char *hash_hex)
{
	return tree_op(src, NULL, "", hash_hex);
}
