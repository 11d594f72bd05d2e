/*
 * What makes kernel B's build environment kernel A's (doc/design.md,
 * "Reuse"): the files a build read from A's headers alike in B's, the same
 * .config and kbuild makefiles but for the strings that carry the release,
 * and the vermagic flags the kernel compares when loading a module.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/log.h"
#include "reuse-rule.h"

#define MAX_HEADER_SIZE (16 << 20) /* one file of a kernel's headers */
#define MAX_CMD_SIZE (8 << 20)	   /* one kbuild .cmd file */
#define MAX_WALK_DEPTH 32

/* Lines allowed to differ whatever their value: they carry the version or the salt. */
static const char *const release_keys[] = { "UTS_VERSION", "LINUX_PACKAGE_ID",
					    "CONFIG_BUILD_SALT" };

int kb_reuse_vermagic_flags(const struct kb_kernel *k, char *out, size_t size, char *why,
			    size_t wsize)
{
	bool rt = kb_kernel_config_set(k, "CONFIG_PREEMPT_RT"),
	     preempt = kb_kernel_config_set(k, "CONFIG_PREEMPT_BUILD");
	const char *arch;

	/* 6.1 tests PREEMPT_BUILD first, 6.12 PREEMPT_RT: with both, the word depends on the version */
	if (rt && preempt) {
		snprintf(why, wsize, "kernel %s has both PREEMPT_RT and PREEMPT_BUILD", k->release);
		return -KB_E_BUILD;
	}
	if (kb_kernel_config_set(k, "CONFIG_RANDSTRUCT_FULL") ||
	    kb_kernel_config_set(k, "CONFIG_RANDSTRUCT_PERFORMANCE") ||
	    kb_kernel_config_set(k, "CONFIG_GCC_PLUGIN_RANDSTRUCT")) {
		snprintf(why, wsize,
			 "kernel %s randomizes structure layout: its vermagic carries a seed",
			 k->release);
		return -KB_E_BUILD;
	}
	if (!strcmp(k->arch, "x86_64"))
		arch = ""; /* MODULE_ARCH_VERMAGIC is only x86_32's processor family */
	else if (!strcmp(k->arch, "aarch64"))
		arch = "aarch64";
	else {
		snprintf(why, wsize, "the vermagic of %s kernels is not known to kbuildd", k->arch);
		return -KB_E_BUILD;
	}
	snprintf(out, size, "%s%s%s%s%s", kb_kernel_config_set(k, "CONFIG_SMP") ? "SMP " : "",
		 rt	 ? "preempt_rt " :
		 preempt ? "preempt " :
			   "",
		 kb_kernel_config_set(k, "CONFIG_MODULE_UNLOAD") ? "mod_unload " : "",
		 kb_kernel_config_set(k, "CONFIG_MODVERSIONS") ? "modversions " : "", arch);
	return 0;
}

/* Append @line of kernel @ka with its release and tree paths turned into @kb's. */
static int translate(const struct kb_kernel *ka, const struct kb_kernel *kb, const char *line,
		     size_t n, struct kb_buf *out)
{
	size_t rel = strlen(ka->release);

	kb_buf_reset(out);
	for (size_t i = 0; i < n;) {
		size_t best = 0, which = 0;

		for (size_t t = 0; t < ka->trees.n && t < kb->trees.n; t++) {
			size_t len = strlen(ka->trees.v[t]);

			if (len > best && len <= n - i && !memcmp(line + i, ka->trees.v[t], len)) {
				best = len;
				which = t;
			}
		}
		if (best) {
			kb_buf_adds(out, kb->trees.v[which]);
			i += best;
		} else if (rel && rel <= n - i && !memcmp(line + i, ka->release, rel)) {
			kb_buf_adds(out, kb->release);
			i += rel;
		} else {
			kb_buf_addch(out, line[i++]);
		}
	}
	return kb_buf_error(out);
}

/* Two lines that set one of release_keys, the same text up to the key's end. */
static bool release_line(const char *a, size_t an, const char *b, size_t bn)
{
	for (size_t i = 0; i < ARRAY_SIZE(release_keys); i++) {
		size_t klen = strlen(release_keys[i]);
		const char *pa = memmem(a, an, release_keys[i], klen);
		const char *pb = memmem(b, bn, release_keys[i], klen);

		size_t end = pa ? (size_t)(pa - a) + klen : 0;

		/* the whole key: UTS_VERSION_X is another name */
		if (pa && pb && pa - a == pb - b && !memcmp(a, b, end) && end < an && end < bn &&
		    !isalnum((unsigned char)a[end]) && a[end] != '_' && a[end] == b[end])
			return true;
	}
	return false;
}

static bool lines_alike(const struct kb_kernel *ka, const char *a, size_t an,
			const struct kb_kernel *kb, const char *b, size_t bn, struct kb_buf *tmp)
{
	if (an == bn && !memcmp(a, b, an))
		return true;
	if (translate(ka, kb, a, an, tmp) == 0 && tmp->len == bn && !memcmp(tmp->buf, b, bn))
		return true;
	return release_line(a, an, b, bn);
}

static unsigned diff_lines(const struct kb_kernel *ka, const struct kb_buf *a,
			   const struct kb_kernel *kb, const struct kb_buf *b, bool masked)
{
	struct kb_buf tmp = KB_BUF_INIT_MAX(1 << 20);
	const char *pa = a->buf ? a->buf : "", *ea = pa + a->len;
	const char *pb = b->buf ? b->buf : "", *eb = pb + b->len;
	unsigned line = 1, differs = 0;

	if (a->len == b->len && !memcmp(pa, pb, a->len))
		return 0;
	for (; !differs && (pa < ea || pb < eb); line++) {
		const char *na = memchr(pa, '\n', (size_t)(ea - pa));
		const char *nb = memchr(pb, '\n', (size_t)(eb - pb));
		size_t la = na ? (size_t)(na - pa) : (size_t)(ea - pa);
		size_t lb = nb ? (size_t)(nb - pb) : (size_t)(eb - pb);

		if (pa >= ea || pb >= eb ||
		    (masked ? !lines_alike(ka, pa, la, kb, pb, lb, &tmp) :
			      la != lb || memcmp(pa, pb, la)))
			differs = line;
		pa = na ? na + 1 : ea;
		pb = nb ? nb + 1 : eb;
	}
	kb_buf_release(&tmp);
	/* the bytes differ, the lines do not: a last newline */
	return differs || masked ? differs : line > 1 ? line - 1 : 1;
}

unsigned kb_reuse_masked_diff(const struct kb_kernel *ka, const struct kb_buf *a,
			      const struct kb_kernel *kb, const struct kb_buf *b)
{
	return diff_lines(ka, a, kb, b, true);
}

/* The files of a header tree that carry the release, the version or the salt. */
static bool release_bearing(const char *rel)
{
	static const char *const files[] = {
		"Makefile",
		".kernelvariables",
		".config",
		"include/config/auto.conf",
		"include/config/kernel.release",
		"include/generated/autoconf.h",
		"include/generated/compile.h",
		"include/generated/package.h",
		"include/generated/rustc_cfg",
		"include/generated/utsrelease.h",
		"include/generated/utsversion.h",
	};

	for (size_t i = 0; i < ARRAY_SIZE(files); i++)
		if (!strcmp(rel, files[i]))
			return true;
	return false;
}

/* Read a file of a kernel's headers (the admin's, not the build's); -ENOENT when absent. */
static int read_tree_file(const char *tree, const char *rel, struct kb_buf *b)
{
	char path[PATH_MAX];

	kb_buf_reset(b);
	if (kb_pathf(path, sizeof(path), "%s/%s", tree, rel) < 0)
		return -ENAMETOOLONG;
	return kb_read_file(AT_FDCWD, path, MAX_HEADER_SIZE, b);
}

/* Is @rel the same file, masked, in tree @t of both kernels? 0, or -KB_E_BUILD with @why. */
static int compare_file(const struct kb_kernel *ka, const struct kb_kernel *kb, size_t t,
			const char *rel, char *why, size_t size)
{
	struct kb_buf a = KB_BUF_INIT_MAX(MAX_HEADER_SIZE), b = KB_BUF_INIT_MAX(MAX_HEADER_SIZE);
	int ra = read_tree_file(ka->trees.v[t], rel, &a);
	int rb = read_tree_file(kb->trees.v[t], rel, &b);
	unsigned line = 0;
	int r = 0;

	if (ra == -ENOENT && rb == -ENOENT)
		r = 0;
	else if (ra < 0 || rb < 0) {
		snprintf(why, size, "%s/%s: %s", rb < 0 ? kb->trees.v[t] : ka->trees.v[t], rel,
			 rb == -ENOENT || ra == -ENOENT ? "missing in one kernel's headers" :
							  kb_strerror(rb < 0 ? rb : ra));
		r = -KB_E_BUILD;
	} else if ((line = diff_lines(ka, &a, kb, &b, release_bearing(rel)))) {
		snprintf(why, size, "%s/%s:%u differs from kernel %s's", kb->trees.v[t], rel, line,
			 ka->release);
		r = -KB_E_BUILD;
	}
	kb_buf_release(&a);
	kb_buf_release(&b);
	return r;
}

/* Names in @tree/@dir starting with @prefix, added to @out as "dir/name". */
static int list_named(const char *tree, const char *dir, const char *prefix, struct kb_strv *out)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d;

	if (kb_pathf(path, sizeof(path), "%s/%s", tree, dir) < 0)
		return -ENAMETOOLONG;
	d = opendir(path);
	if (!d)
		return errno == ENOENT || errno == ENOTDIR ? 0 : -errno;
	while ((de = readdir(d)))
		if (kb_str_startswith(de->d_name, prefix) && de->d_name[0] != '.') {
			char name[PATH_MAX];

			if (kb_pathf(name, sizeof(name), "%s/%s", dir, de->d_name) == 0 &&
			    !kb_strv_contains(out, name))
				kb_strv_push(out, name);
		}
	closedir(d);
	return kb_strv_error(out);
}

/* What make reads to set the compiler's flags: kbuild's makefiles, in either tree @t. */
static int flag_makefiles(const struct kb_kernel *ka, const struct kb_kernel *kb, size_t t,
			  struct kb_strv *out)
{
	const char *const trees[] = { ka->trees.v[t], kb->trees.v[t] };
	int r = 0;

	kb_strv_push(out, "Makefile");
	kb_strv_push(out, ".kernelvariables");
	for (size_t i = 0; r >= 0 && i < ARRAY_SIZE(trees); i++) {
		struct kb_strv arches = KB_STRV_INIT;

		r = list_named(trees[i], "scripts", "Makefile", out);
		if (r >= 0)
			r = list_named(trees[i], "scripts", "Kbuild", out);
		if (r >= 0)
			r = list_named(trees[i], "arch", "", &arches);
		for (size_t a = 0; r >= 0 && a < arches.n; a++)
			r = list_named(trees[i], arches.v[a], "Makefile", out);
		kb_strv_clear(&arches);
	}
	return r < 0 ? r : kb_strv_error(out);
}

int kb_reuse_same_env(const struct kb_kernel *ka, const struct kb_kernel *kb, char *why,
		      size_t size)
{
	unsigned line;
	int r = 0;

	if (ka->trees.n != kb->trees.n) {
		snprintf(why, size, "kernel %s's headers are %zu trees, %s's %zu", ka->release,
			 ka->trees.n, kb->release, kb->trees.n);
		return -KB_E_BUILD;
	}
	line = kb_reuse_masked_diff(ka, &ka->config, kb, &kb->config);
	if (line) {
		snprintf(why, size, "%s/.config:%u differs from kernel %s's", kb->build_dir, line,
			 ka->release);
		return -KB_E_BUILD;
	}
	for (size_t t = 0; r >= 0 && t < ka->trees.n; t++) {
		struct kb_strv files = KB_STRV_INIT;

		if (!strcmp(ka->trees.v[t], kb->trees.v[t]))
			continue; /* one tree both kernels share */
		r = flag_makefiles(ka, kb, t, &files);
		if (r < 0) {
			snprintf(why, size, "cannot list the makefiles of %s: %s", kb->trees.v[t],
				 kb_strerror(r));
			r = -KB_E_BUILD;
		}
		for (size_t i = 0; r >= 0 && i < files.n; i++)
			r = compare_file(ka, kb, t, files.v[i], why, size);
		kb_strv_clear(&files);
	}
	return r;
}

static size_t path_hash(const char *s)
{
	size_t h = 14695981039346656037ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static bool pathset_has(const struct kb_pathset *s, const char *path)
{
	if (!s->cap)
		return false;
	for (size_t i = path_hash(path) & (s->cap - 1); s->v[i]; i = (i + 1) & (s->cap - 1))
		if (!strcmp(s->v[i], path))
			return true;
	return false;
}

static int pathset_add(struct kb_pathset *s, const char *path)
{
	if (2 * (s->n + 1) > s->cap) {
		struct kb_pathset grown = { .cap = s->cap ? 2 * s->cap : 1024 };

		grown.v = calloc(grown.cap, sizeof(*grown.v));
		if (!grown.v)
			return -ENOMEM;
		for (size_t i = 0; i < s->cap; i++)
			if (s->v[i]) {
				size_t j = path_hash(s->v[i]) & (grown.cap - 1);

				while (grown.v[j])
					j = (j + 1) & (grown.cap - 1);
				grown.v[j] = s->v[i];
			}
		free(s->v);
		grown.n = s->n;
		*s = grown;
	}
	size_t i = path_hash(path) & (s->cap - 1);

	while (s->v[i])
		i = (i + 1) & (s->cap - 1);
	s->v[i] = strdup(path);
	if (!s->v[i])
		return -ENOMEM;
	s->n++;
	return 0;
}

void kb_pathset_release(struct kb_pathset *s)
{
	for (size_t i = 0; i < s->cap; i++)
		free(s->v[i]);
	free(s->v);
	*s = (struct kb_pathset){ 0 };
}

/* Which of @k's trees holds absolute @path (its index; -1: none), and the rest of it. */
static int tree_of(const struct kb_kernel *k, const char *path, const char **rest)
{
	int best = -1;
	size_t best_len = 0;

	for (size_t t = 0; t < k->trees.n; t++) {
		size_t len = strlen(k->trees.v[t]);

		if (len > best_len && !strncmp(path, k->trees.v[t], len) && path[len] == '/') {
			best = (int)t;
			best_len = len;
		}
	}
	*rest = best >= 0 ? path + best_len + 1 : path;
	return best;
}

struct files_walk {
	const struct kb_kernel *ka, *kb;
	struct kb_pathset *seen;
	char *why;
	size_t size;
	unsigned cmd_files;
	/* a regular file @name of @dfd met on the walk */
	int (*file)(struct files_walk *w, int dfd, const char *name);
	struct kb_buf *symvers; /* kb_reuse_exports(): every Module.symvers, one after another */
};

/* One dependency a .cmd file lists: a header of A's trees must be alike in B's. */
static int check_dep(struct files_walk *w, const char *dep)
{
	const char *rest = dep;
	int t = 0;

	if (!dep[0] || dep[0] == '$')
		return 0; /* $(wildcard include/config/X): the .config comparison covers it */
	if (dep[0] == '/' && (t = tree_of(w->ka, dep, &rest)) < 0)
		return 0; /* the driver's own source, or the compiler's headers */
	if (strstr(rest, "../") || !strcmp(rest, ".."))
		return 0; /* made relative to no tree (kbuild writes none such below one) */
	if (pathset_has(w->seen, dep))
		return 0;
	if (strcmp(w->ka->trees.v[t], w->kb->trees.v[t])) {
		int r = compare_file(w->ka, w->kb, (size_t)t, rest, w->why, w->size);

		if (r < 0)
			return r;
	}
	return pathset_add(w->seen, dep);
}

/* The deps_ lists of one .cmd file: "deps_X := \" then "  PATH \" lines. */
static int check_cmd(struct files_walk *w, char *text)
{
	bool in_deps = false;
	int r = 0;

	w->cmd_files++;
	for (char *line = text, *next; r >= 0 && line; line = next) {
		size_t n;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		n = strlen(line);
		if (!strncmp(line, "deps_", 5)) {
			in_deps = n >= 2 && line[n - 1] == '\\';
			continue;
		}
		if (!in_deps)
			continue;
		in_deps = n >= 2 && line[n - 1] == '\\';
		if (in_deps)
			line[n - 1] = '\0';
		r = check_dep(w, kb_strstrip(line));
	}
	return r;
}

static bool is_cmd_file(const char *name)
{
	size_t n = strlen(name);

	return name[0] == '.' && n > 5 && !strcmp(name + n - 4, ".cmd");
}

/* Walk the kept build @dfd (root's, frozen) for .cmd files; no symlink is followed. */
static int walk(struct files_walk *w, int dfd, unsigned depth)
{
	DIR *d = fdopendir(dfd);
	struct dirent *de;
	int r = 0;

	if (!d) {
		close(dfd);
		return -errno;
	}
	while (r >= 0 && (de = readdir(d))) {
		struct stat st;
		int fd;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
		    fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISDIR(st.st_mode) && depth < MAX_WALK_DEPTH) {
			fd = openat(dirfd(d), de->d_name,
				    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			r = fd < 0 ? 0 : walk(w, fd, depth + 1);
		} else if (S_ISREG(st.st_mode)) {
			r = w->file(w, dirfd(d), de->d_name);
		}
	}
	closedir(d);
	return r;
}

static int cmd_file(struct files_walk *w, int dfd, const char *name)
{
	struct kb_buf text = KB_BUF_INIT_MAX(MAX_CMD_SIZE);
	int r = 0;

	if (is_cmd_file(name) && kb_read_file(dfd, name, MAX_CMD_SIZE, &text) == 0 && text.len)
		r = check_cmd(w, text.buf);
	kb_buf_release(&text);
	return r;
}

int kb_reuse_same_files(const struct kb_kernel *ka, const struct kb_kernel *kb, const char *src_dir,
			struct kb_pathset *seen, char *why, size_t size)
{
	struct files_walk w = { ka, kb, seen, why, size, 0, cmd_file, NULL };
	int fd = open(src_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	int r;

	if (fd < 0) {
		snprintf(why, size, "cannot read kernel %s's build: %s", ka->release,
			 strerror(errno));
		return -KB_E_BUILD;
	}
	r = walk(&w, fd, 0);
	if (r == -KB_E_BUILD)
		return r;
	if (r < 0) {
		snprintf(why, size, "cannot read kernel %s's build: %s", ka->release,
			 kb_strerror(r));
		return -KB_E_BUILD;
	}
	if (!w.cmd_files) {
		snprintf(why, size,
			 "kernel %s's build keeps no record of the headers it read (no kbuild "
			 ".cmd files)",
			 ka->release);
		return -KB_E_BUILD;
	}
	return 0;
}

static int symvers_file(struct files_walk *w, int dfd, const char *name)
{
	struct kb_buf text = KB_BUF_INIT_MAX(w->symvers->max);
	int r = 0;

	if (!strcmp(name, "Module.symvers") &&
	    (r = kb_read_file(dfd, name, w->symvers->max, &text)) >= 0) {
		r = kb_buf_add(w->symvers, text.buf ? text.buf : "", text.len);
		if (r >= 0 && text.len && text.buf[text.len - 1] != '\n')
			r = kb_buf_addch(w->symvers, '\n');
	}
	kb_buf_release(&text);
	return r;
}

int kb_reuse_exports(const char *src_dir, struct kb_buf *out)
{
	struct files_walk w = { .file = symvers_file, .symvers = out };
	int fd = open(src_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	return walk(&w, fd, 0);
}
