/* What a build produced: frozen and hashed when it ended, checked when installed. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/atomic.h"
#include "base/limits.h"
#include "base/log.h"
#include "outputs.h"

#define MAX_RECORD (KB_MAX_MODULES * (PATH_MAX + KB_SHA256_HEX + 2))

/* Module @path of the build at @build_rel, opened without following a symlink out of src/. */
static int open_module(struct kb_ctx *ctx, const char *build_rel, const char *path)
{
	char src[PATH_MAX];
	struct stat st;
	int dfd, fd;

	if (kb_pathf(src, sizeof(src), "%s/src", build_rel) < 0)
		return -ENAMETOOLONG;
	dfd = kb_root_openat(&ctx->root, src, O_PATH | O_DIRECTORY | O_NOFOLLOW, 0);
	if (dfd < 0)
		return dfd;
	fd = kb_openat_beneath(dfd, path, O_RDONLY | O_NONBLOCK | O_NOFOLLOW, 0);
	close(dfd);
	if (fd < 0)
		return fd;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > KB_MAX_MODULE_SIZE) {
		int r = !S_ISREG(st.st_mode) ? -EINVAL : -EFBIG;

		close(fd);
		return r;
	}
	return fd;
}

static const char *what_is_wrong(int r)
{
	switch (r) {
	case -ENOENT:
		return "missing";
	case -ELOOP:
	case -EXDEV:
		return "reached through a symbolic link";
	case -EINVAL:
		return "not a regular file";
	case -EFBIG:
		return "larger than the limit for a module";
	default:
		return strerror(-r);
	}
}

static int hash_module(struct kb_ctx *ctx, const char *build_rel, const char *path,
		       char hex[KB_SHA256_HEX])
{
	int fd = open_module(ctx, build_rel, path), r;

	if (fd < 0)
		return fd;
	r = kb_sha256_fd(fd, hex);
	close(fd);
	return r;
}

int kb_outputs_seal(struct kb_ctx *ctx, struct kb_task *t)
{
	struct kb_buf record = KB_BUF_INIT;
	char dir[PATH_MAX], rel[PATH_MAX], hex[KB_SHA256_HEX];
	int r;

	if (kb_task_staging_rel(t, KB_STAGING_NEW, NULL, dir, sizeof(dir)) < 0 ||
	    kb_pathf(rel, sizeof(rel), "%s/outputs", dir) < 0)
		return kb_task_fail(t, "build path too long");
	/* nothing of the build runs any more: freezing now leaves it no way back in */
	r = kb_freeze_tree(&ctx->root, dir);
	if (r < 0)
		return kb_task_fail(t, "cannot freeze the build in '/%s': %s", dir, strerror(-r));
	for (size_t i = 0; i < t->recipe->nr_modules; i++) {
		const struct kb_module_spec *m = &t->recipe->modules[i];

		r = hash_module(ctx, dir, m->path, hex);
		if (r < 0) {
			kb_task_fail(t, "the build's '%s' (module %s) is %s", m->path, m->name,
				     what_is_wrong(r));
			goto out;
		}
		kb_buf_addf(&record, "%s %s\n", hex, m->path);
	}
	r = kb_atomic_write_buf(&ctx->root, rel, &record, 0644);
	if (r < 0) {
		kb_task_fail(t, "cannot record the build's outputs in '/%s': %s", rel,
			     strerror(-r));
		goto out;
	}
	/* private while the build ran; readable now that it is frozen */
	r = kb_root_chmod_owner(&ctx->root, dir, (uid_t)-1, geteuid() ? (gid_t)-1 : 0, 0755);
	if (r < 0)
		kb_task_fail(t, "cannot open up the build in '/%s': %s", dir, strerror(-r));
out:
	kb_buf_release(&record);
	return r;
}

/* The recorded sha256 of @path in @record, or NULL. */
static const char *recorded(const struct kb_buf *record, const char *path, char hex[KB_SHA256_HEX])
{
	size_t len = strlen(path);

	for (const char *line = kb_buf_str(record); *line;) {
		const char *end = strchrnul(line, '\n');

		if ((size_t)(end - line) == KB_SHA256_HEX + len && line[KB_SHA256_HEX - 1] == ' ' &&
		    !memcmp(line + KB_SHA256_HEX, path, len)) {
			memcpy(hex, line, KB_SHA256_HEX - 1);
			hex[KB_SHA256_HEX - 1] = '\0';
			return hex;
		}
		line = *end ? end + 1 : end;
	}
	return NULL;
}

static int read_record(struct kb_ctx *ctx, const char *build_rel, struct kb_buf *record)
{
	char rel[PATH_MAX];

	if (kb_pathf(rel, sizeof(rel), "%s/outputs", build_rel) < 0)
		return -ENAMETOOLONG;
	return kb_root_read(&ctx->root, rel, MAX_RECORD, record);
}

int kb_outputs_read(struct kb_ctx *ctx, struct kb_task *t, const struct kb_module_spec *m,
		    struct kb_buf *raw)
{
	struct kb_buf record = KB_BUF_INIT_MAX(MAX_RECORD);
	char dir[PATH_MAX], want[KB_SHA256_HEX], got[KB_SHA256_HEX];
	int fd = -1, r;

	if (kb_task_build_rel(t, "", dir, sizeof(dir)) < 0) {
		r = kb_task_fail(t, "build path too long");
		goto out;
	}
	r = read_record(ctx, dir, &record);
	if (r < 0 || !recorded(&record, m->path, want)) {
		r = kb_task_fail(t,
				 "the build in '/%s' has no record of '%s' (module %s); "
				 "rebuild it with --force",
				 dir, m->path, m->name);
		goto out;
	}
	fd = open_module(ctx, dir, m->path);
	r = fd < 0 ? fd : kb_read_fd(fd, KB_MAX_MODULE_SIZE, raw);
	if (r < 0) {
		r = kb_task_fail(t, "the build's '%s' (module %s) is %s", m->path, m->name,
				 what_is_wrong(r));
		goto out;
	}
	kb_sha256_hex(raw->buf ? raw->buf : "", raw->len, got);
	if (strcmp(got, want))
		r = kb_task_fail(t,
				 "'/%s/src/%s' (module %s) is not what its build produced "
				 "(sha256 %.16s…, recorded %.16s…): refusing to sign it; "
				 "rebuild it with --force",
				 dir, m->path, m->name, got, want);
out:
	if (fd >= 0)
		close(fd);
	kb_buf_release(&record);
	return r < 0 ? -KB_E_INPUT : 0;
}

struct checker {
	void (*report)(void *data, const char *msg);
	void *data;
	unsigned problems;
};

static void __attribute__((format(printf, 2, 3))) problem(struct checker *c, const char *fmt, ...)
{
	char msg[PATH_MAX + 256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	c->report(c->data, msg);
	c->problems++;
}

/* One kept build, builds/N/V/K: frozen, and its modules as recorded. */
static void check_build(struct kb_ctx *ctx, struct checker *c, const char *dir)
{
	struct kb_buf record = KB_BUF_INIT_MAX(MAX_RECORD);
	char src[PATH_MAX];
	struct stat st;
	int fd;

	if (read_record(ctx, dir, &record) < 0) {
		problem(c, "build '/%s' has no record of its outputs (rebuild it with --force)",
			dir);
		goto out;
	}
	kb_pathf(src, sizeof(src), "%s/src", dir);
	fd = kb_root_openat(&ctx->root, src, O_PATH | O_DIRECTORY | O_NOFOLLOW, 0);
	if (fd < 0 || fstat(fd, &st) < 0 || (st.st_uid != 0 && st.st_uid != geteuid()) ||
	    (st.st_mode & (S_IWGRP | S_IWOTH)))
		problem(c, "build '/%s' is not frozen: its directory is writable by others", dir);
	if (fd >= 0)
		close(fd);
	for (const char *line = kb_buf_str(&record); *line;) {
		const char *end = strchrnul(line, '\n');
		char path[PATH_MAX], hex[KB_SHA256_HEX];
		int r;

		if (end - line > KB_SHA256_HEX &&
		    kb_pathf(path, sizeof(path), "%.*s", (int)(end - line - KB_SHA256_HEX),
			     line + KB_SHA256_HEX) == 0) {
			r = hash_module(ctx, dir, path, hex);
			if (r < 0)
				problem(c, "'/%s/src/%s' is %s", dir, path, what_is_wrong(r));
			else if (memcmp(hex, line, KB_SHA256_HEX - 1))
				problem(c, "'/%s/src/%s' changed after its build ended", dir, path);
		}
		line = *end ? end + 1 : end;
	}
out:
	kb_buf_release(&record);
}

/* Each kept build in builds/N/V/ (@vrel): a directory with a build id, not a staging name. */
static void check_version(struct kb_ctx *ctx, struct checker *c, const char *vrel)
{
	struct kb_strv kernels = KB_STRV_INIT;

	kb_root_list(&ctx->root, vrel, &kernels);
	for (size_t k = 0; k < kernels.n; k++) {
		char krel[PATH_MAX], id[PATH_MAX];

		if (kernels.v[k][0] != '.' &&
		    kb_pathf(krel, sizeof(krel), "%s/%s", vrel, kernels.v[k]) == 0 &&
		    kb_pathf(id, sizeof(id), "%s/build-id", krel) == 0 &&
		    kb_root_exists(&ctx->root, id))
			check_build(ctx, c, krel);
	}
	kb_strv_clear(&kernels);
}

unsigned kb_outputs_check(struct kb_ctx *ctx, void (*report)(void *data, const char *msg),
			  void *data)
{
	struct checker c = { report, data, 0 };
	struct kb_strv names = KB_STRV_INIT;

	kb_root_list(&ctx->root, KB_STATE_DIR "/builds", &names);
	for (size_t i = 0; i < names.n; i++) {
		struct kb_strv versions = KB_STRV_INIT;
		char rel[PATH_MAX], vrel[PATH_MAX];

		kb_pathf(rel, sizeof(rel), KB_STATE_DIR "/builds/%s", names.v[i]);
		kb_root_list(&ctx->root, rel, &versions);
		for (size_t j = 0; j < versions.n; j++)
			if (kb_pathf(vrel, sizeof(vrel), "%s/%s", rel, versions.v[j]) == 0)
				check_version(ctx, &c, vrel);
		kb_strv_clear(&versions);
	}
	kb_strv_clear(&names);
	return c.problems;
}
