/* Atomic file replacement: temp file in the same directory, fsync, rename, fsync dir. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/atomic.h"
#include "base/fault.h"
#include "base/limits.h"
#include "base/log.h"
#include "base/util.h"

#define INTENT_MAGIC "kbuildd-intent 1"
#define TEMP_RANDOM 12 /* hex digits */

static bool is_hex_run(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strchr("0123456789abcdef", s[i]) || !s[i])
			return false;
	return true;
}

bool kb_atomic_is_temp(const char *name)
{
	size_t plen = strlen(KB_TEMP_PREFIX);

	return !strncmp(name, KB_TEMP_PREFIX, plen) && is_hex_run(name + plen, TEMP_RANDOM) &&
	       name[plen + TEMP_RANDOM] == '.' && name[plen + TEMP_RANDOM + 1];
}

static int random_hex(char *out, size_t digits)
{
	unsigned char rnd[16];

	if (digits / 2 > sizeof(rnd) || getrandom(rnd, digits / 2, 0) != (ssize_t)(digits / 2))
		return -EIO;
	for (size_t i = 0; i < digits / 2; i++)
		snprintf(out + 2 * i, 3, "%02x", rnd[i]);
	return 0;
}

static const char *base_name(const char *rel)
{
	const char *slash = strrchr(rel, '/');

	return slash ? slash + 1 : rel;
}

/* Intent journals live in the root's state directory (kb_root_open()). */
static int intent_dir(const struct kb_root *root, char *buf, size_t size)
{
	if (!root->state_dir)
		return -EINVAL;
	return kb_pathf(buf, size, "%s/intent", root->state_dir);
}

static bool in_state_dir(const struct kb_root *root, const char *rel)
{
	size_t len = root->state_dir ? strlen(root->state_dir) : 0;

	while (*rel == '/')
		rel++;
	return len && !strncmp(rel, root->state_dir, len) && rel[len] == '/';
}

/* Write @data to the new temp file @tmp in @dfd, fsynced; *@exists: whether @tmp is left. */
static int write_temp(int dfd, const char *tmp, const void *data, size_t len, mode_t mode,
		      bool *exists)
{
	int fd, r;

	kb_fault_point("create temp file");
	fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd < 0)
		return -errno;
	*exists = true;
	r = kb_write_all(fd, data, len);
	kb_fault_point("write temp file");
	if (r == 0 && fchmod(fd, mode) < 0)
		r = -errno;
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	/* if this fails too, kb_stage_release() tries again, and then the journal keeps it */
	if (r < 0 && unlinkat(dfd, tmp, 0) == 0)
		*exists = false;
	return r;
}

void kb_stage_init(struct kb_stage *s, const struct kb_root *root)
{
	memset(s, 0, sizeof(*s));
	s->root = root;
}

int kb_stage_add(struct kb_stage *s, const char *rel)
{
	struct kb_stage_file *v, *f;
	char rnd[TEMP_RANDOM + 1];
	int r;

	if (s->started)
		return -EBUSY;
	v = realloc(s->v, (s->n + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	s->v = v;
	f = &v[s->n];
	memset(f, 0, sizeof(*f));
	r = random_hex(rnd, TEMP_RANDOM);
	if (r < 0)
		return r;
	if (snprintf(f->tmp, sizeof(f->tmp), "%s%s.%.200s", KB_TEMP_PREFIX, rnd, base_name(rel)) >=
	    (int)sizeof(f->tmp))
		return -ENAMETOOLONG;
	f->rel = strdup(rel);
	if (!f->rel)
		return -ENOMEM;
	s->n++;
	return 0;
}

/* "dir/of/rel/TMP" for file @i. */
static int temp_rel(const struct kb_stage_file *f, char *buf, size_t size)
{
	const char *base = base_name(f->rel);

	return kb_pathf(buf, size, "%.*s%s", (int)(base - f->rel), f->rel, f->tmp);
}

/* Before the first temp exists: name every one outside the state dir in a journal. */
static int write_journal(struct kb_stage *s)
{
	struct kb_buf b = KB_BUF_INIT_MAX(KB_MAX_INTENT_SIZE);
	char rnd[TEMP_RANDOM + 1], rel[PATH_MAX], dir[PATH_MAX];
	bool any = false;
	int r;

	r = kb_buf_addf(&b, "%s\n", INTENT_MAGIC);
	for (size_t i = 0; r >= 0 && i < s->n; i++) {
		if (in_state_dir(s->root, s->v[i].rel))
			continue; /* recovery knows kbuildd's own temps by their prefix */
		any = true;
		r = temp_rel(&s->v[i], rel, sizeof(rel));
		if (r >= 0)
			r = kb_buf_addf(&b, "%s\n", rel);
	}
	if (r < 0 || !any)
		goto out;
	r = random_hex(rnd, TEMP_RANDOM);
	if (r >= 0)
		r = intent_dir(s->root, dir, sizeof(dir));
	if (r >= 0)
		r = kb_pathf(s->journal, sizeof(s->journal), "%s/%s", dir, rnd);
	if (r >= 0)
		r = kb_mkdirs(s->root, dir, 0755);
	if (r >= 0)
		r = kb_atomic_write(s->root, s->journal, b.buf, b.len, 0644);
	if (r < 0)
		s->journal[0] = '\0';
out:
	kb_buf_release(&b);
	return r;
}

int kb_stage_write(struct kb_stage *s, size_t i, const void *data, size_t len, mode_t mode)
{
	char dir[PATH_MAX];
	const char *base;
	int dfd, r;

	if (!s->started) {
		r = write_journal(s);
		if (r < 0)
			return r;
		s->started = true;
	}
	dfd = kb_root_open_parent(s->root, s->v[i].rel, O_RDONLY, dir, sizeof(dir), &base);
	if (dfd < 0)
		return dfd;
	r = write_temp(dfd, s->v[i].tmp, data, len, mode, &s->v[i].exists);
	close(dfd);
	return r;
}

int kb_stage_commit(struct kb_stage *s, size_t i)
{
	char dir[PATH_MAX];
	const char *base;
	int dfd, r = 0;

	dfd = kb_root_open_parent(s->root, s->v[i].rel, O_RDONLY, dir, sizeof(dir), &base);
	if (dfd < 0)
		return dfd;
	kb_fault_point("rename into place");
	if (renameat(dfd, s->v[i].tmp, dfd, base) < 0)
		r = -errno;
	else
		s->v[i].committed = true;
	if (r >= 0 && fsync(dfd) < 0)
		r = -errno;
	close(dfd);
	return r;
}

int kb_stage_release(struct kb_stage *s)
{
	char dir[PATH_MAX];
	int ret = 0;

	for (size_t i = 0; i < s->n; i++) {
		struct kb_stage_file *f = &s->v[i];
		char rel[PATH_MAX];
		int r = 0;

		if (f->exists && !f->committed) {
			r = temp_rel(f, rel, sizeof(rel));
			if (r >= 0)
				r = kb_durable_unlink(s->root, rel);
		}
		if (r < 0 && ret >= 0)
			ret = r;
		free(f->rel);
	}
	if (ret >= 0 && s->journal[0])
		ret = kb_durable_unlink(s->root, s->journal);
	/* tidying only: an intent/ left empty is harmless */
	if (ret >= 0 && s->journal[0] && intent_dir(s->root, dir, sizeof(dir)) >= 0)
		kb_rmdir_parents(s->root, dir, s->root->state_dir);
	free(s->v);
	kb_stage_init(s, s->root);
	return ret;
}

int kb_atomic_write(const struct kb_root *root, const char *rel, const void *data, size_t len,
		    mode_t mode)
{
	struct kb_stage s;
	int r, r2;

	kb_stage_init(&s, root);
	r = kb_stage_add(&s, rel);
	if (r >= 0)
		r = kb_stage_write(&s, 0, data, len, mode);
	if (r >= 0)
		r = kb_stage_commit(&s, 0);
	r2 = kb_stage_release(&s);
	return r < 0 ? r : r2;
}

int kb_atomic_write_buf(const struct kb_root *root, const char *rel, const struct kb_buf *b,
			mode_t mode)
{
	int r = kb_buf_error(b);

	return r < 0 ? r : kb_atomic_write(root, rel, kb_buf_str(b), b->len, mode);
}

int kb_remove_leftover(const struct kb_root *root, const char *rel, unsigned *cleaned)
{
	struct stat st;
	int fd, r;

	fd = kb_root_openat(root, rel, O_PATH | O_NOFOLLOW, 0);
	if (fd < 0)
		return 0; /* never made, or gone already */
	r = fstat(fd, &st) < 0 ? -errno : 0;
	close(fd);
	if (r < 0 || !S_ISREG(st.st_mode))
		return 0;
	kb_verbose("removing leftover '/%s'", rel);
	r = kb_durable_unlink(root, rel);
	if (r < 0)
		return kb_err_errno(r, "cannot remove leftover '/%s'", rel);
	(*cleaned)++;
	return 1;
}

/* One journal line: a relative path, no "..", naming one of our temps. */
static bool journal_line_valid(const char *line)
{
	return line[0] && line[0] != '/' && !strstr(line, "..") &&
	       kb_atomic_is_temp(base_name(line));
}

static unsigned recover_journal(const struct kb_root *root, const char *journal, unsigned *cleaned)
{
	struct kb_buf text = KB_BUF_INIT_MAX(KB_MAX_INTENT_SIZE);
	char *line, *save = NULL;
	unsigned failed = 0;
	int r = kb_root_read(root, journal, KB_MAX_INTENT_SIZE, &text);

	if (r < 0) {
		kb_err_errno(r, "cannot read intent journal '/%s'", journal);
		failed++;
		goto out;
	}
	if (!text.buf)
		goto drop; /* empty: written, never filled */
	for (line = strtok_r(text.buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		if (strcmp(line, INTENT_MAGIC) && journal_line_valid(line) &&
		    kb_remove_leftover(root, line, cleaned) < 0)
			failed++;
drop:
	/* kept while a temp it lists could not go, so the next run retries */
	if (!failed && (r = kb_durable_unlink(root, journal)) < 0) {
		kb_err_errno(r, "cannot remove intent journal '/%s'", journal);
		failed++;
	}
out:
	kb_buf_release(&text);
	return failed;
}

int kb_stage_list_journals(const struct kb_root *root, struct kb_strv *journals)
{
	struct kb_strv names = KB_STRV_INIT;
	char dir[PATH_MAX];
	int r = intent_dir(root, dir, sizeof(dir));

	if (r >= 0)
		r = kb_root_list(root, dir, &names);
	for (size_t i = 0; r >= 0 && i < names.n; i++)
		if (strlen(names.v[i]) == TEMP_RANDOM && is_hex_run(names.v[i], TEMP_RANDOM))
			r = kb_strv_pushf(journals, "%s/%s", dir, names.v[i]);
	kb_strv_clear(&names);
	return r == -ENOENT ? 0 : r;
}

unsigned kb_stage_recover(const struct kb_root *root, unsigned *cleaned)
{
	struct kb_strv journals = KB_STRV_INIT;
	unsigned failed = 0;

	if (kb_stage_list_journals(root, &journals) < 0)
		failed++;
	for (size_t i = 0; i < journals.n; i++)
		failed += recover_journal(root, journals.v[i], cleaned);
	kb_strv_clear(&journals);
	return failed;
}
int kb_durable_unlink(const struct kb_root *root, const char *rel)
{
	char dir[PATH_MAX];
	const char *base;
	int dfd, r = 0;

	dfd = kb_root_open_parent(root, rel, O_RDONLY, dir, sizeof(dir), &base);
	if (dfd == -ENOENT)
		return 0;
	if (dfd < 0)
		return dfd;
	kb_fault_point("unlink");
	if (unlinkat(dfd, base, 0) < 0)
		r = errno == ENOENT ? 0 : -errno;
	else if (fsync(dfd) < 0)
		r = -errno;
	close(dfd);
	return r;
}

/* renameat2() inside the root, then fsync the directories involved. */
static int rename_in_root(const struct kb_root *root, const char *from, const char *to,
			  unsigned flags, const char *what)
{
	char fdir[PATH_MAX], tdir[PATH_MAX];
	const char *fbase, *tbase;
	int ffd, tfd, r = 0;

	ffd = kb_root_open_parent(root, from, O_RDONLY, fdir, sizeof(fdir), &fbase);
	if (ffd < 0)
		return ffd;
	tfd = kb_root_open_parent(root, to, O_RDONLY, tdir, sizeof(tdir), &tbase);
	if (tfd < 0) {
		close(ffd);
		return tfd;
	}
	kb_fault_point(what);
	if (renameat2(ffd, fbase, tfd, tbase, flags) < 0)
		r = -errno;
	else if (fsync(tfd) < 0 || (strcmp(fdir, tdir) && fsync(ffd) < 0))
		r = -errno;
	close(tfd);
	close(ffd);
	return r;
}

int kb_durable_rename(const struct kb_root *root, const char *from, const char *to)
{
	return rename_in_root(root, from, to, 0, "rename");
}

int kb_durable_exchange(const struct kb_root *root, const char *a, const char *b)
{
	return rename_in_root(root, a, b, RENAME_EXCHANGE, "exchange");
}
