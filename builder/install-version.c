/* No older module over a newer one: DKMS's version sanity check, at install. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/limits.h"
#include "install-version.h"
#include "module-elf.h"
#include "version.h"

/* What DKMS's get_module_verinfo reads: modinfo's version (its first word) and srcversion. */
struct modver {
	char version[KB_MAX_VERSION + 1];
	char srcversion[64];
};

static void read_modver(const struct kb_buf *image, struct modver *v)
{
	char buf[256] = "";

	kb_elf_modinfo(image->buf, image->len, "version", 0, buf, sizeof(buf));
	snprintf(v->version, sizeof(v->version), "%.*s", (int)strcspn(buf, " \t"), buf);
	v->srcversion[0] = '\0';
	kb_elf_modinfo(image->buf, image->len, "srcversion", 0, v->srcversion,
		       sizeof(v->srcversion));
}

/* The module open as @fd; false when it cannot be read as one (nothing to compare then). */
static bool fd_modver(int fd, struct modver *v)
{
	struct kb_buf image = KB_BUF_INIT_MAX(KB_MAX_MODULE_SIZE);
	char why[256];
	bool ok = fd >= 0 && kb_elf_read_fd(fd, true, &image, why, sizeof(why)) >= 0;

	if (ok)
		read_modver(&image, v);
	kb_buf_release(&image);
	if (fd >= 0)
		close(fd);
	return ok;
}

/*
 * DKMS's compare_module_version saying ">": @old is newer than @new. The
 * same srcversion is the same module; an equal or missing version is no
 * reason to refuse.
 */
static bool is_newer(const struct modver *old, const struct modver *new)
{
	if (old->srcversion[0] && !strcmp(old->srcversion, new->srcversion))
		return false;
	if (!old->version[0] || !new->version[0] || !strcmp(old->version, new->version))
		return false;
	return kb_dkms_vercmp(old->version, new->version) > 0;
}

static bool dash(char c)
{
	return c == '-' || c == '_';
}

/* Is file @name module @want (NAME.ko, .ko.xz, .ko.zst or .ko.gz; - and _ alike)? */
static bool names_module(const char *name, const char *want)
{
	static const char *const suffixes[] = { ".ko", ".ko.xz", ".ko.zst", ".ko.gz" };
	size_t n = strlen(want);

	for (size_t i = 0; i < n; i++)
		if (name[i] != want[i] && !(dash(name[i]) && dash(want[i])))
			return false;
	for (size_t i = 0; i < ARRAY_SIZE(suffixes); i++)
		if (!strcmp(name + n, suffixes[i]))
			return true;
	return false;
}

/* A walk of lib/modules/K for a same-named module newer than @new that kbuildd did not install. */
struct finder {
	const char *want;
	const struct modver *new;
	const struct kb_manifest_set *all;
	unsigned long entries;
	char path[PATH_MAX]; /* the newer one found, relative to the root */
	struct modver found;
};

static void walk(struct finder *f, int dfd, char *rel, unsigned depth)
{
	DIR *dir = dfd >= 0 ? fdopendir(dfd) : NULL;
	size_t len = strlen(rel);
	struct dirent *de;

	if (!dir) {
		if (dfd >= 0)
			close(dfd);
		return;
	}
	while (!f->path[0] && (de = readdir(dir)) && ++f->entries < KB_MAX_MODULE_TREE) {
		unsigned char type = de->d_type;
		struct stat st;

		if (de->d_name[0] == '.' || len + strlen(de->d_name) + 2 > PATH_MAX)
			continue;
		if (type == DT_UNKNOWN &&
		    fstatat(dirfd(dir), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0)
			type = S_ISDIR(st.st_mode) ? DT_DIR :
			       S_ISREG(st.st_mode) ? DT_REG :
						     DT_UNKNOWN;
		snprintf(rel + len, PATH_MAX - len, "/%s", de->d_name);
		/* symlinks (the kernel's build and source among them) are not followed */
		if (type == DT_DIR && depth < 16)
			walk(f,
			     openat(dirfd(dir), de->d_name,
				    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC),
			     rel, depth + 1);
		else if (type == DT_REG && names_module(de->d_name, f->want) &&
			 !kb_manifest_owner(f->all, rel) &&
			 fd_modver(openat(dirfd(dir), de->d_name,
					  O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC),
				   &f->found) &&
			 is_newer(&f->found, f->new))
			snprintf(f->path, sizeof(f->path), "%s", rel);
		rel[len] = '\0';
	}
	closedir(dir);
}

/* The file of module @name that @t's recipe installed for its kernel before, or NULL. */
static const char *own_copy(const struct kb_task *t, const char *name,
			    const struct kb_manifest_set *all)
{
	const char *path = NULL;
	struct kb_manifest_set own = { 0 };

	for (size_t i = 0; i < all->n; i++)
		if (!strcmp(all->v[i].name, t->recipe->name)) {
			own.v = &all->v[i];
			own.n = 1;
		}
	return own.n && kb_manifest_module_owner(&own, name, NULL, &path) ? path : NULL;
}

int kb_install_check_version(struct kb_ctx *ctx, struct kb_task *t, const struct kb_module_spec *m,
			     const struct kb_buf *image, const struct kb_manifest_set *all)
{
	struct modver new;
	struct finder f = { .want = m->name, .new = &new, .all = all };
	char rel[PATH_MAX];
	const char *own;

	if (ctx->force || ctx->take_over)
		return 0;
	read_modver(image, &new);
	if (!new.version[0])
		return 0;
	/* what the install replaces, else what it would shadow: the kernel's own, or anyone's */
	own = own_copy(t, m->name, all);
	if (own && fd_modver(kb_root_openat(&ctx->root, own, O_RDONLY | O_NOFOLLOW | O_NONBLOCK, 0),
			     &f.found)) {
		if (is_newer(&f.found, &new))
			snprintf(f.path, sizeof(f.path), "%s", own);
	} else if (kb_pathf(rel, sizeof(rel), "lib/modules/%s", t->kernel->release) == 0) {
		walk(&f, kb_root_openat(&ctx->root, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0),
		     rel, 0);
	}
	if (!f.path[0])
		return 0;
	t->failure = KB_FAIL_NOT_NEWER;
	return kb_task_fail(t,
			    "module version %s for %s.ko is not newer than what is already "
			    "found in kernel %s (%s, in '/%s'); --force installs it anyway",
			    new.version, m->name, t->kernel->release, f.found.version, f.path);
}
