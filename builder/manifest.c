/* Manifests: which files kbuildd installed for a (recipe, kernel), with their sha256. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/atomic.h"
#include "base/limits.h"
#include "kernel.h"
#include "base/log.h"
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
	if (!strcmp(line, "reused-from")) {
		if (!kb_kernel_release_valid(sp) || m->reused_from[0])
			return -EINVAL;
		snprintf(m->reused_from, sizeof(m->reused_from), "%s", sp);
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

#define EXPECT_LINE                                                                              \
	"expected 'file SHA256 PATH', 'recipe NAME VERSION', 'build-id SHA256' or 'reused-from " \
	"KERNEL'"

/*
 * One line, NUL bytes and all. A damaged line still gives up what it can
 * (the pieces around a NUL), so that files it may list stay known.
 */
static int parse_one(struct kb_manifest *m, char *line, size_t n, unsigned lineno, unsigned *bad,
		     const char **why)
{
	bool has_nul = strlen(line) != n;
	char *piece, *next;
	int r = 0;

	/* parse_line() cuts its piece at spaces: find the next piece first */
	for (piece = line; r != -ENOMEM && piece <= line + n; piece = next) {
		next = piece + strlen(piece) + 1;
		if (lineno == 1 && piece == line) {
			if (!strcmp(piece, MANIFEST_MAGIC) || has_nul)
				continue;
			if (!*why)
				*bad = 1, *why = "expected 'kbuildd-manifest 1'";
		}
		r = parse_line(m, piece);
		if (r == -EINVAL && !has_nul && !*why && lineno > 1)
			*bad = lineno, *why = EXPECT_LINE;
	}
	if (has_nul && !*why)
		*bad = lineno, *why = "a NUL byte; expected text lines";
	return r == -ENOMEM ? r : 0;
}

int kb_manifest_parse(const char *text, size_t len, const char *what, struct kb_manifest *m)
{
	const char *why = NULL;
	unsigned lineno = 0, bad = 0;
	char *copy, *line, *next, *end;
	int r = 0;

	memset(m, 0, sizeof(*m));
	copy = malloc(len + 1);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, text, len);
	copy[len] = '\0';
	end = copy + len;
	for (line = copy; r >= 0 && line < end; line = next) {
		char *nl = memchr(line, '\n', (size_t)(end - line));
		size_t n = nl ? (size_t)(nl - line) : (size_t)(end - line);

		next = line + n + 1;
		line[n] = '\0';
		if (++lineno > 1 && !n)
			continue;
		r = parse_one(m, line, n, lineno, &bad, &why);
	}
	if (r >= 0 && !len)
		bad = 1, why = "empty, expected 'kbuildd-manifest 1'";
	else if (r >= 0 && !why && !m->name)
		bad = lineno, why = "ends without a 'recipe NAME VERSION' line";
	if (r >= 0 && why)
		r = asprintf(&m->damage, "%s:%u: damaged manifest: %s", what, bad, why) < 0 ?
			    -ENOMEM :
			    -KB_E_INPUT;
	free(copy);
	if (r == -ENOMEM)
		kb_manifest_release(m);
	return r;
}

int kb_manifest_read(const struct kb_ctx *ctx, const char *kernel, const char *name,
		     struct kb_manifest *m)
{
	struct kb_buf text = KB_BUF_INIT_MAX(KB_MAX_MANIFEST_SIZE);
	char rel[PATH_MAX], what[PATH_MAX + 256];
	int fd, r;

	memset(m, 0, sizeof(*m));
	if (kb_manifest_rel(kernel, name, rel, sizeof(rel)) < 0)
		return -ENAMETOOLONG;
	snprintf(what, sizeof(what), "%s/%s", ctx->root.path, rel);
	fd = kb_root_openat(&ctx->root, rel, O_RDONLY | O_NOFOLLOW | O_NONBLOCK, 0);
	if (fd == -ENOENT)
		return fd;
	r = fd < 0 ? fd : kb_check_regular(fd, what);
	if (r >= 0)
		r = kb_read_fd(fd, KB_MAX_MANIFEST_SIZE, &text);
	if (fd >= 0)
		close(fd);
	if (r >= 0)
		r = kb_manifest_parse(text.buf ? text.buf : "", text.len, what, m);
	else if (asprintf(&m->damage, "%s: unreadable manifest: %s", what, kb_strerror(r)) >= 0)
		r = -KB_E_INPUT; /* what it lists is unknown, as when damaged */
	kb_buf_release(&text);
	if (r == -KB_E_INPUT) {
		/* known by its file name, whatever it says inside */
		free(m->name);
		m->name = strdup(name);
		if (!m->name) {
			kb_manifest_release(m);
			r = -ENOMEM;
		}
	}
	return r;
}

static int set_push(struct kb_manifest **v, size_t *n, struct kb_manifest *m)
{
	struct kb_manifest *nv = realloc(*v, (*n + 1) * sizeof(*nv));

	if (!nv)
		return -ENOMEM;
	*v = nv;
	nv[(*n)++] = *m;
	return 0;
}

int kb_manifest_read_all(const struct kb_ctx *ctx, const char *kernel, struct kb_manifest_set *set)
{
	char rel[PATH_MAX];
	struct dirent *de;
	DIR *dir;
	int fd, r = 0;

	memset(set, 0, sizeof(*set));
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
	while (r >= 0 && (de = readdir(dir))) {
		size_t len = strlen(de->d_name);
		char name[NAME_MAX + 1];
		struct kb_manifest m;

		if (de->d_name[0] == '.' || len <= 9 || strcmp(de->d_name + len - 9, ".manifest"))
			continue;
		snprintf(name, sizeof(name), "%.*s", (int)(len - 9), de->d_name);
		r = kb_manifest_read(ctx, kernel, name, &m);
		/* a damaged manifest stops only its own recipe: kept aside, not fatal */
		if (r == -KB_E_INPUT)
			r = set_push(&set->damaged, &set->n_damaged, &m);
		else if (r >= 0)
			r = set_push(&set->v, &set->n, &m);
		if (r < 0)
			kb_manifest_release(&m);
	}
	closedir(dir);
	return r == -ENOENT ? 0 : r; /* gone since the listing */
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
	if (r >= 0 && m->reused_from[0])
		r = kb_buf_addf(&b, "reused-from %s\n", m->reused_from);
	for (size_t i = 0; r >= 0 && i < m->n; i++)
		r = kb_buf_addf(&b, "file %s %s\n", m->files[i].sha256, m->files[i].path);
	if (r >= 0)
		r = kb_mkdirs(&ctx->root, dir, 0755);
	if (r >= 0)
		r = kb_atomic_write_buf(&ctx->root, rel, &b, 0644);
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

const struct kb_manifest *kb_manifest_damaged_owner(const struct kb_manifest_set *set,
						    const char *path)
{
	for (size_t i = 0; i < set->n_damaged; i++)
		if (kb_manifest_find(&set->damaged[i], path))
			return &set->damaged[i];
	/* what was lost from it may have listed anything */
	return set->n_damaged ? &set->damaged[0] : NULL;
}

const struct kb_manifest *kb_manifest_set_damaged(const struct kb_manifest_set *set,
						  const char *name)
{
	for (size_t i = 0; i < set->n_damaged; i++)
		if (!strcmp(set->damaged[i].name, name))
			return &set->damaged[i];
	return NULL;
}

int kb_manifest_add_present(const struct kb_ctx *ctx, const struct kb_manifest *m,
			    struct kb_manifest *out)
{
	int r = 0;

	for (size_t i = 0; r >= 0 && i < m->n; i++)
		if (kb_root_exists(&ctx->root, m->files[i].path) &&
		    !kb_manifest_find(out, m->files[i].path))
			r = kb_manifest_add_file(out, m->files[i].path, m->files[i].sha256);
	return r;
}

/* The kernel takes - and _ in module names as one. */
void kb_module_name_normalize(char *name)
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
		return false; /* configuration files kbuildd also owns */
	snprintf(out, size, "%s", base ? base + 1 : path);
	dot = strstr(out, ".ko");
	if (dot)
		*dot = '\0';
	kb_module_name_normalize(out);
	return true;
}

const struct kb_manifest *kb_manifest_module_owner(const struct kb_manifest_set *set,
						   const char *module, const char *skip,
						   const char **path)
{
	char want[NAME_MAX + 1], name[NAME_MAX + 1];

	snprintf(want, sizeof(want), "%s", module);
	kb_module_name_normalize(want);
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

void kb_manifest_release_files(struct kb_manifest *m)
{
	for (size_t i = 0; i < m->n; i++)
		free(m->files[i].path);
	free(m->files);
	m->files = NULL;
	m->n = 0;
}

void kb_manifest_release(struct kb_manifest *m)
{
	kb_manifest_release_files(m);
	free(m->name);
	free(m->version);
	free(m->damage);
	memset(m, 0, sizeof(*m));
}

void kb_manifest_set_release(struct kb_manifest_set *set)
{
	for (size_t i = 0; i < set->n; i++)
		kb_manifest_release(&set->v[i]);
	for (size_t i = 0; i < set->n_damaged; i++)
		kb_manifest_release(&set->damaged[i]);
	free(set->v);
	free(set->damaged);
	memset(set, 0, sizeof(*set));
}
