/* Manifests: which files kbuildd installed for a (recipe, kernel), with their sha256. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "atomic.h"
#include "kb-limits.h"
#include "log.h"
#include "manifest.h"

#define INSTALLED_DIR "var/lib/kbuildd/installed"
#define MANIFEST_MAGIC "kbuildd-manifest 1"

int kb_manifest_rel(const char *kernel, const char *name, char *buf, size_t size)
{
	return kb_pathf(buf, size, "%s/%s/%s.manifest", INSTALLED_DIR, kernel, name);
}

int kb_manifest_add_file(struct kb_manifest *m, const char *path, const char *sha256)
{
	struct kb_manifest_file *v = realloc(m->files, (m->n + 1) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	m->files = v;
	v[m->n].path = strdup(path);
	if (!v[m->n].path)
		return -ENOMEM;
	snprintf(v[m->n].sha256, KB_SHA256_HEX, "%s", sha256);
	m->n++;
	return 0;
}

static int parse_line(struct kb_manifest *m, char *line)
{
	char *sp = strchr(line, ' ');

	if (!sp)
		return -EINVAL;
	*sp++ = '\0';
	if (!strcmp(line, "recipe")) {
		char *ver = strchr(sp, ' ');

		if (!ver || m->name)
			return -EINVAL;
		*ver++ = '\0';
		m->name = strdup(sp);
		m->version = strdup(ver);
		return m->name && m->version ? 0 : -ENOMEM;
	}
	if (!strcmp(line, "build-id")) {
		if (strlen(sp) != 64)
			return -EINVAL;
		memcpy(m->build_id, sp, KB_SHA256_HEX);
		return 0;
	}
	if (!strcmp(line, "file")) {
		char *path = strchr(sp, ' ');

		if (!path || path - sp != 64 || strstr(path + 1, "..") || path[1] == '/')
			return -EINVAL;
		*path++ = '\0';
		return kb_manifest_add_file(m, path, sp);
	}
	return -EINVAL;
}

int kb_manifest_parse(const char *text, size_t len, const char *what, struct kb_manifest *m)
{
	char *copy, *line, *save = NULL;
	unsigned lineno = 0;
	int r = 0;

	memset(m, 0, sizeof(*m));
	/* like the file read into a string: it ends at the first NUL */
	copy = strndup(text, len);
	if (!copy)
		return -ENOMEM;
	for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		lineno++;
		if (lineno == 1 && !strcmp(line, MANIFEST_MAGIC))
			continue;
		if (lineno == 1 || parse_line(m, line) < 0) {
			r = kb_err(-KB_E_INPUT, "%s:%u: damaged manifest line", what, lineno);
			goto out;
		}
	}
	if (!m->name)
		r = kb_err(-KB_E_INPUT, "%s: damaged manifest (no recipe line)", what);
out:
	free(copy);
	if (r < 0)
		kb_manifest_release(m);
	return r;
}

int kb_manifest_read(const struct kb_ctx *ctx, const char *kernel, const char *name,
		     struct kb_manifest *m)
{
	struct kb_buf text = KB_BUF_INIT_MAX(KB_MAX_MANIFEST_SIZE);
	char rel[PATH_MAX], what[PATH_MAX + 256];
	int r;

	memset(m, 0, sizeof(*m));
	if (kb_manifest_rel(kernel, name, rel, sizeof(rel)) < 0)
		return -ENAMETOOLONG;
	r = kb_root_read(&ctx->root, rel, KB_MAX_MANIFEST_SIZE, &text);
	if (r >= 0) {
		snprintf(what, sizeof(what), "%s/%s", ctx->root.path, rel);
		r = kb_manifest_parse(kb_buf_str(&text), text.len, what, m);
	}
	kb_buf_release(&text);
	return r;
}

int kb_manifest_read_all(const struct kb_ctx *ctx, const char *kernel, struct kb_manifest_set *set)
{
	char rel[PATH_MAX];
	struct dirent *de;
	DIR *dir;
	int fd, r = 0;

	set->v = NULL;
	set->n = 0;
	if (kb_pathf(rel, sizeof(rel), "%s/%s", INSTALLED_DIR, kernel) < 0)
		return -ENAMETOOLONG;
	fd = kb_root_openat(&ctx->root, rel, O_RDONLY | O_DIRECTORY, 0);
	if (fd == -ENOENT)
		return 0;
	if (fd < 0)
		return fd;
	dir = fdopendir(fd);
	if (!dir) {
		close(fd);
		return -errno;
	}
	while ((de = readdir(dir))) {
		size_t len = strlen(de->d_name);
		char name[NAME_MAX + 1];
		struct kb_manifest *v;

		if (de->d_name[0] == '.' || len <= 9 || strcmp(de->d_name + len - 9, ".manifest"))
			continue;
		snprintf(name, sizeof(name), "%.*s", (int)(len - 9), de->d_name);
		v = realloc(set->v, (set->n + 1) * sizeof(*v));
		if (!v) {
			r = -ENOMEM;
			break;
		}
		set->v = v;
		r = kb_manifest_read(ctx, kernel, name, &v[set->n]);
		if (r < 0)
			break;
		set->n++;
	}
	closedir(dir);
	return r;
}

int kb_manifest_write(const struct kb_ctx *ctx, const char *kernel, const struct kb_manifest *m)
{
	struct kb_buf b = KB_BUF_INIT_MAX(KB_MAX_MANIFEST_SIZE);
	char rel[PATH_MAX], dir[PATH_MAX];
	int r;

	if (kb_manifest_rel(kernel, m->name, rel, sizeof(rel)) < 0 ||
	    kb_pathf(dir, sizeof(dir), "%s/%s", INSTALLED_DIR, kernel) < 0)
		return -ENAMETOOLONG;
	r = kb_buf_addf(&b, "%s\nrecipe %s %s\nbuild-id %s\n", MANIFEST_MAGIC, m->name, m->version,
			m->build_id);
	for (size_t i = 0; r >= 0 && i < m->n; i++)
		r = kb_buf_addf(&b, "file %s %s\n", m->files[i].sha256, m->files[i].path);
	if (r >= 0)
		r = kb_mkdirs(&ctx->root, dir, 0755);
	if (r >= 0)
		r = kb_atomic_write(&ctx->root, rel, b.buf, b.len, 0644);
	kb_buf_release(&b);
	return r;
}

const struct kb_manifest_file *kb_manifest_find(const struct kb_manifest *m, const char *path)
{
	for (size_t i = 0; i < m->n; i++)
		if (!strcmp(m->files[i].path, path))
			return &m->files[i];
	return NULL;
}

const struct kb_manifest *kb_manifest_owner(const struct kb_manifest_set *set, const char *path)
{
	for (size_t i = 0; i < set->n; i++)
		if (kb_manifest_find(&set->v[i], path))
			return &set->v[i];
	return NULL;
}

/* The kernel takes - and _ in module names as one. */
static void dashes_to_underscores(char *name)
{
	for (; *name; name++)
		if (*name == '-')
			*name = '_';
}

bool kb_manifest_module_name(const char *path, char *out, size_t size)
{
	const char *base = strrchr(path, '/');
	char *dot;

	if (!kb_str_startswith(path, "lib/modules/") || !strstr(base ? base : path, ".ko"))
		return false;	/* configuration files kbuildd also owns */
	snprintf(out, size, "%s", base ? base + 1 : path);
	dot = strstr(out, ".ko");
	if (dot)
		*dot = '\0';
	dashes_to_underscores(out);
	return true;
}

const struct kb_manifest *kb_manifest_module_owner(const struct kb_manifest_set *set,
						   const char *module, const char *skip,
						   const char **path)
{
	char want[NAME_MAX + 1], name[NAME_MAX + 1];

	snprintf(want, sizeof(want), "%s", module);
	dashes_to_underscores(want);
	for (size_t i = 0; i < set->n; i++) {
		if (skip && !strcmp(set->v[i].name, skip))
			continue;
		for (size_t j = 0; j < set->v[i].n; j++)
			if (kb_manifest_module_name(set->v[i].files[j].path, name, sizeof(name)) &&
			    !strcmp(name, want)) {
				*path = set->v[i].files[j].path;
				return &set->v[i];
			}
	}
	return NULL;
}

void kb_manifest_release(struct kb_manifest *m)
{
	for (size_t i = 0; i < m->n; i++)
		free(m->files[i].path);
	free(m->files);
	free(m->name);
	free(m->version);
	memset(m, 0, sizeof(*m));
}

void kb_manifest_set_release(struct kb_manifest_set *set)
{
	for (size_t i = 0; i < set->n; i++)
		kb_manifest_release(&set->v[i]);
	free(set->v);
	set->v = NULL;
	set->n = 0;
}
