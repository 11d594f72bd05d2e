/* Target kernels: <root>/lib/modules/K/build trees and what they tell about K. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/limits.h"
#include "base/log.h"
#include "kernel.h"

const char *kb_compress_name(enum kb_compress c)
{
	static const char *const names[] = { "none", "xz", "zstd", "gzip" };

	return names[c];
}

const char *kb_compress_suffix(enum kb_compress c)
{
	static const char *const suffixes[] = { "", ".xz", ".zst", ".gz" };

	return suffixes[c];
}

char *kb_kernel_config(const struct kb_kernel *k, const char *name)
{
	const char *text = kb_buf_str(&k->config);
	size_t nlen = strlen(name);

	for (const char *line = text; *line;) {
		const char *eol = strchrnul(line, '\n');

		if (!strncmp(line, name, nlen) && line[nlen] == '=')
			return strndup(line + nlen + 1, (size_t)(eol - line - (long)nlen - 1));
		line = *eol ? eol + 1 : eol;
	}
	return NULL;
}

bool kb_kernel_config_set(const struct kb_kernel *k, const char *name)
{
	_cleanup_free_ char *v = kb_kernel_config(k, name);

	return v && !strcmp(v, "y");
}

static char *unquote(char *v)
{
	size_t len;

	if (!v)
		return NULL;
	len = strlen(v);
	if (len >= 2 && v[0] == '"' && v[len - 1] == '"') {
		memmove(v, v + 1, len - 2);
		v[len - 2] = '\0';
	}
	return v;
}

static const char *config_arch(const struct kb_kernel *k)
{
	static const struct {
		const char *config, *arch;
	} map[] = {
		{ "CONFIG_X86_64", "x86_64" }, { "CONFIG_ARM64", "aarch64" },
		{ "CONFIG_X86_32", "i386" },   { "CONFIG_ARM", "arm" },
		{ "CONFIG_RISCV", "riscv64" }, { "CONFIG_S390", "s390x" },
		{ "CONFIG_PPC64", "ppc64le" }, { "CONFIG_LOONGARCH", "loongarch64" },
		{ "CONFIG_MIPS", "mips" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(map); i++)
		if (kb_kernel_config_set(k, map[i].config))
			return map[i].arch;
	return "unknown";
}

static int __attribute__((format(printf, 2, 3)))
not_usable(struct kb_kernel *k, const char *fmt, ...)
{
	va_list ap;
	int n;

	k->usable = false;
	free(k->reason);
	va_start(ap, fmt);
	n = vasprintf(&k->reason, fmt, ap);
	va_end(ap);
	return n < 0 ? -ENOMEM : 0;
}

/* "#define UTS_RELEASE "6.1.0-56-amd64"" -> the release. */
static char *uts_release(int bfd)
{
	struct kb_buf text = KB_BUF_INIT_MAX(4096);
	char *start, *end, *out = NULL;

	if (kb_read_file(bfd, "include/generated/utsrelease.h", 4096, &text) < 0)
		goto out;
	start = strstr(kb_buf_str(&text), "UTS_RELEASE \"");
	if (!start)
		goto out;
	start += strlen("UTS_RELEASE \"");
	end = strchr(start, '"');
	if (end)
		out = strndup(start, (size_t)(end - start));
out:
	kb_buf_release(&text);
	return out;
}

/* @path as make reaches it, unless it is no directory or inside a tree @k lists already. */
static int add_tree(struct kb_kernel *k, const char *path)
{
	_cleanup_free_ char *real = realpath(path, NULL);
	struct stat st;

	if (!real || !strcmp(real, "/") || stat(real, &st) < 0 || !S_ISDIR(st.st_mode))
		return 0; /* a dangling link leads nowhere to keep */
	for (size_t i = 0; i < k->trees.n; i++) {
		size_t n = strlen(k->trees.v[i]);

		if (!strncmp(real, k->trees.v[i], n) && (real[n] == '/' || !real[n]))
			return 0;
	}
	return k->trees.n < KB_MAX_KERNEL_TREES ? kb_strv_push(&k->trees, real) : 0;
}

/*
 * The trees @tree leads make to: where its top-level links point (Debian's
 * scripts and tools, a `source` link) and the tree its Makefile includes
 * by absolute path (Debian's -common headers, the source of an O= build).
 */
static int add_referenced(struct kb_kernel *k, const char *tree)
{
	struct kb_buf makefile = KB_BUF_INIT_MAX(64 << 10);
	_cleanup_free_ char *path = NULL;
	DIR *dir = opendir(tree);
	struct dirent *de;
	int r = 0;

	while (r >= 0 && dir && (de = readdir(dir))) {
		struct stat st;

		if (fstatat(dirfd(dir), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISLNK(st.st_mode))
			continue;
		free(path);
		r = asprintf(&path, "%s/%s", tree, de->d_name) < 0 ? -ENOMEM : add_tree(k, path);
	}
	if (dir)
		closedir(dir);
	free(path);
	path = NULL;
	/* a full kernel Makefile is larger, and names its includes through variables */
	if (r >= 0 && asprintf(&path, "%s/Makefile", tree) >= 0 &&
	    kb_read_file(AT_FDCWD, path, makefile.max, &makefile) >= 0) {
		for (char *line = makefile.buf; r >= 0 && line && *line;
		     line = strchr(line, '\n')) {
			char *end, *slash;

			line += *line == '\n';
			if (strncmp(line, "include /", 9))
				continue;
			line += 8;
			end = line + strcspn(line, " \t\n$");
			slash = memrchr(line, '/', (size_t)(end - line));
			if (*end == '$' || slash == line)
				continue;
			*slash = '\0';
			r = add_tree(k, line);
			line = end;
		}
	}
	kb_buf_release(&makefile);
	return r;
}

/* Every tree a build against @k reads, wherever it is (the sandbox keeps each in view). */
static int find_trees(struct kb_kernel *k)
{
	int r = add_tree(k, k->build_dir);

	for (size_t i = 0; r >= 0 && i < k->trees.n; i++)
		r = add_referenced(k, k->trees.v[i]);
	return r < 0 ? r : kb_strv_error(&k->trees);
}

static int probe(const struct kb_ctx *ctx, struct kb_kernel *k)
{
	static const char *const needed[] = { "Makefile", ".config", "Module.symvers",
					      "include/generated/utsrelease.h" };
	_cleanup_free_ char *rel = NULL, *uts = NULL;
	int bfd, r = 0;

	if (asprintf(&rel, "lib/modules/%s/build", k->release) < 0)
		return -ENOMEM;
	k->build_dir = kb_root_path(&ctx->root, rel);
	if (!k->build_dir)
		return -ENOMEM;
	/* The build tree is read as make will see it: a link to /usr/src is the host's. */
	bfd = open(k->build_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (bfd < 0)
		return not_usable(k,
				  "no kernel headers (%s/build is missing); install the "
				  "linux-headers package for this kernel",
				  k->release);
	for (size_t i = 0; i < ARRAY_SIZE(needed); i++)
		if (faccessat(bfd, needed[i], R_OK, 0) < 0) {
			r = not_usable(k, "headers are incomplete: no %s in the build tree",
				       needed[i]);
			goto out;
		}
	uts = uts_release(bfd);
	if (!uts || strcmp(uts, k->release)) {
		r = not_usable(k, "build tree is for kernel '%s'", uts ? uts : "unknown");
		goto out;
	}
	r = kb_read_file(bfd, ".config", KB_MAX_KCONFIG_SIZE, &k->config);
	if (r < 0) {
		r = not_usable(k, "cannot read .config: %s", kb_strerror(r));
		goto out;
	}
	kb_sha256_hex(k->config.buf, k->config.len, k->config_hash);
	r = kb_sha256_file(bfd, "Module.symvers", k->symvers_hash);
	if (r < 0) {
		r = not_usable(k, "cannot read Module.symvers: %s", kb_strerror(r));
		goto out;
	}
	k->usable = true;
	k->arch = strdup(config_arch(k));
	k->module_sig = kb_kernel_config_set(k, "CONFIG_MODULE_SIG");
	k->sig_hash = unquote(kb_kernel_config(k, "CONFIG_MODULE_SIG_HASH"));
	k->cc_version = unquote(kb_kernel_config(k, "CONFIG_CC_VERSION_TEXT"));
	if (kb_kernel_config_set(k, "CONFIG_MODULE_COMPRESS_XZ"))
		k->compress = KB_COMPRESS_XZ;
	else if (kb_kernel_config_set(k, "CONFIG_MODULE_COMPRESS_ZSTD"))
		k->compress = KB_COMPRESS_ZSTD;
	else if (kb_kernel_config_set(k, "CONFIG_MODULE_COMPRESS_GZIP"))
		k->compress = KB_COMPRESS_GZIP;
	r = k->arch ? find_trees(k) : -ENOMEM;
out:
	close(bfd);
	return r;
}

static int kernel_cmp(const void *a, const void *b)
{
	const struct kb_kernel *x = a, *y = b;

	if (x->has_ver && y->has_ver && kb_kver_cmp(&x->ver, &y->ver))
		return kb_kver_cmp(&x->ver, &y->ver);
	return strverscmp(x->release, y->release);
}

static int add_kernel(const struct kb_ctx *ctx, struct kb_kernel_list *list, const char *release)
{
	struct kb_kernel *v = realloc(list->v, (list->n + 1) * sizeof(*v));
	struct kb_kernel *k;

	if (!v)
		return -ENOMEM;
	list->v = v;
	k = &v[list->n++];
	memset(k, 0, sizeof(*k));
	kb_buf_init(&k->config, KB_MAX_KCONFIG_SIZE);
	k->release = strdup(release);
	if (!k->release)
		return -ENOMEM;
	k->has_ver = kb_kver_parse(release, &k->ver) == 0;
	return probe(ctx, k);
}

int kb_kernels_discover(const struct kb_ctx *ctx, struct kb_kernel_list *list)
{
	struct dirent *de;
	DIR *dir;
	int fd, r = 0;

	list->v = NULL;
	list->n = 0;
	/* a -k lost would widen the run: no -k means every kernel */
	if (kb_strv_error(&ctx->kernels) < 0)
		return kb_err_errno(kb_strv_error(&ctx->kernels), "cannot hold the kernels named");
	fd = kb_root_openat(&ctx->root, "lib/modules", O_RDONLY | O_DIRECTORY, 0);
	if (fd < 0 && fd != -ENOENT)
		return kb_err_errno(fd, "cannot read '%s/lib/modules'", ctx->root.path);
	dir = fd >= 0 ? fdopendir(fd) : NULL;
	while (dir && (de = readdir(dir))) {
		struct stat st;

		if (!kb_kernel_release_valid(de->d_name))
			continue;
		if (fstatat(dirfd(dir), de->d_name, &st, 0) < 0 || !S_ISDIR(st.st_mode))
			continue;
		if (ctx->kernels.n && !kb_strv_contains(&ctx->kernels, de->d_name))
			continue;
		r = add_kernel(ctx, list, de->d_name);
		if (r < 0)
			break;
	}
	if (dir)
		closedir(dir);
	if (r < 0)
		return r;
	for (size_t i = 0; i < ctx->kernels.n; i++)
		if (!kb_kernel_find(list, ctx->kernels.v[i]))
			r = kb_err(-KB_E_INPUT, "kernel '%s' not found: no %s/lib/modules/%s",
				   ctx->kernels.v[i], ctx->root.path, ctx->kernels.v[i]);
	if (list->n)
		qsort(list->v, list->n, sizeof(*list->v), kernel_cmp);
	return r;
}

int kb_kernel_load(const struct kb_ctx *ctx, const char *release, struct kb_kernel_list *list)
{
	if (!kb_kernel_release_valid(release))
		return -EINVAL;
	return add_kernel(ctx, list, release);
}

struct kb_kernel *kb_kernel_find(struct kb_kernel_list *list, const char *release)
{
	for (size_t i = 0; i < list->n; i++)
		if (!strcmp(list->v[i].release, release))
			return &list->v[i];
	return NULL;
}

void kb_kernel_list_release(struct kb_kernel_list *list)
{
	for (size_t i = 0; i < list->n; i++) {
		struct kb_kernel *k = &list->v[i];

		free(k->release);
		free(k->build_dir);
		free(k->reason);
		free(k->arch);
		free(k->sig_hash);
		free(k->cc_version);
		kb_strv_clear(&k->trees);
		kb_buf_release(&k->config);
	}
	free(list->v);
	list->v = NULL;
	list->n = 0;
}

bool kb_kernel_release_valid(const char *s)
{
	return s[0] && s[0] != '.' && !strchr(s, '/') && strlen(s) <= KB_MAX_RELEASE;
}
