/*
 * DKMS's /etc/dkms/framework.conf and framework.conf.d/NAME.conf: shell that
 * DKMS sources with safe_source, keeping a whitelist of variables. We
 * source them the same way dkms.conf is read (dkms-eval.c): in bash, in
 * the sandbox, as the build user, reading back only those variables, so
 * nothing a file defines (a function, another variable) reaches kbuildd.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/limits.h"
#include "base/log.h"
#include "dkms/framework.h"

#define MAX_FILES 256

/* What DKMS 3.2 takes back from these files (dkms_framework_*_variables). */
static const char *const framework_vars[] = {
	"source_tree",
	"dkms_tree",
	"install_tree",
	"tmp_location",
	"verbose",
	"symlink_modules",
	"autoinstall_all_kernels",
	"modprobe_on_install",
	"parallel_jobs",
	"compress_gzip_opts",
	"compress_xz_opts",
	"compress_zstd_opts",
	"build_environment",
	"post_transaction",
	"sign_file",
	"mok_signing_key",
	"mok_certificate",
	"try_sign_modules",
	NULL,
};

/* Settings kbuildd has no matching concept for: said once, never dropped silently. */
static const struct {
	const char *name, *why;
	const char *given; /* the value kbuildd sets before sourcing: only a change is said */
} unacted[] = {
	{ "dkms_tree", "kbuildd keeps its state in /var/lib/kbuildd", "var/lib/dkms" },
	{ "source_tree", "sources are registered by path", "usr/src" },
	{ "install_tree", "modules go to /lib/modules below --root", "lib/modules" },
	{ "tmp_location", "builds use private temporary directories", NULL },
	{ "verbose", "use kbuildd -v", NULL },
	{ "symlink_modules", "modules are always copied", NULL },
	{ "modprobe_on_install", "kbuildd loads no module", NULL },
	{ "build_environment", "builds run in a clean environment", NULL },
	{ "try_sign_modules", "kbuildd signs for every kernel with CONFIG_MODULE_SIG", NULL },
};

/* Only comments and blank lines: sourcing it sets nothing, so bash need not run. */
static bool only_comments(const struct kb_buf *text)
{
	const char *p = kb_buf_str(text), *end = p + text->len;

	if (memchr(p, '\0', text->len))
		return false;
	while (p < end) {
		p += strspn(p, " \t\r\f\v");
		if (*p != '#' && *p != '\n' && p < end)
			return false;
		p = memchr(p, '\n', (size_t)(end - p));
		if (!p)
			break;
		p++;
	}
	return true;
}

/*
 * One file, as DKMS's [[ -e ]] sees it: absent (or a dangling link) is
 * skipped. Links resolve inside the root; bash is given the file they
 * lead to, so it sources what was read here.
 */
static int add_file(struct kb_ctx *ctx, struct kb_framework *fw, const char *rel)
{
	_cleanup_free_ char *shown = kb_root_path(&ctx->root, rel);
	struct kb_buf text = KB_BUF_INIT_MAX(KB_MAX_CONFIG_SIZE);
	char proc[64], target[4096];
	struct stat st;
	int fd = kb_root_openat(&ctx->root, rel, O_RDONLY | O_NONBLOCK, 0), r;
	ssize_t n;

	if (!shown)
		return -ENOMEM;
	if (fd == -ENOENT)
		return 0;
	if (fd < 0)
		return kb_err_errno(fd, "cannot open '%s'", shown);
	r = kb_check_regular(fd, shown);
	if (r >= 0)
		r = kb_read_fd(fd, KB_MAX_CONFIG_SIZE, &text);
	/* what it sets runs as root (sign_file, post_transaction): root's alone may say so */
	if (r >= 0 && !fw->untrusted && geteuid() == 0 &&
	    (fstat(fd, &st) < 0 || st.st_uid != 0 || (st.st_mode & 022)))
		fw->untrusted = strdup(shown);
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	n = readlink(proc, target, sizeof(target) - 1);
	close(fd);
	if (r == -EFBIG)
		r = kb_err(-KB_E_INPUT, "'%s' is larger than %d KiB", shown,
			   KB_MAX_CONFIG_SIZE >> 10);
	else if (r < 0 && r != -KB_E_INPUT)
		r = kb_err_errno(r, "cannot read '%s'", shown);
	if (r >= 0) {
		target[n > 0 ? n : 0] = '\0';
		fw->active = fw->active || !only_comments(&text);
		r = kb_strv_push(&fw->shown, shown) < 0 ||
				    kb_strv_push(&fw->sourced, n > 0 ? target : shown) < 0 ||
				    kb_strv_push(&fw->texts, kb_buf_str(&text)) < 0 ?
			    -ENOMEM :
			    0;
	}
	kb_buf_release(&text);
	return r;
}

/* framework.conf, then framework.conf.d/NAME.conf in byte order (bash's glob in the C locale). */
static int find_files(struct kb_ctx *ctx, struct kb_framework *fw)
{
	struct kb_strv names = KB_STRV_INIT;
	int dfd, r = add_file(ctx, fw, KB_FRAMEWORK_CONF);

	dfd = r < 0 ? r : kb_root_openat(&ctx->root, KB_FRAMEWORK_DIR, O_RDONLY | O_DIRECTORY, 0);
	if (dfd == -ENOENT || dfd == -ENOTDIR)
		return 0;
	if (dfd < 0)
		return r < 0 ? r : kb_err_errno(dfd, "cannot open '/%s'", KB_FRAMEWORK_DIR);
	r = kb_dir_names(dfd, &names, MAX_FILES);
	close(dfd);
	if (r < 0)
		r = kb_err_errno(r, "cannot list '/%s'", KB_FRAMEWORK_DIR);
	for (size_t i = 0; r >= 0 && i < names.n; i++) {
		const char *name = names.v[i];
		size_t len = strlen(name);
		char rel[512];

		/* *.conf: a dot file is no match, as for the glob */
		if (name[0] == '.' || len < 5 || strcmp(name + len - 5, ".conf"))
			continue;
		r = kb_pathf(rel, sizeof(rel), "%s/%s", KB_FRAMEWORK_DIR, name);
		if (r >= 0)
			r = add_file(ctx, fw, rel);
	}
	kb_strv_clear(&names);
	return r;
}

int kb_framework_read(struct kb_ctx *ctx, const char *kernelver, struct kb_dkms_conf *out)
{
	struct kb_framework *fw = ctx->framework;
	_cleanup_free_ char *dir = kb_root_path(&ctx->root, "etc/dkms");
	_cleanup_free_ char *dkms_tree = kb_root_path(&ctx->root, "var/lib/dkms");
	_cleanup_free_ char *source_tree = kb_root_path(&ctx->root, "usr/src");
	_cleanup_free_ char *install_tree = kb_root_path(&ctx->root, "lib/modules");
	struct kb_dkms_env env = { 0 };

	if (!fw || !fw->active)
		return 0;
	if (!fw->per_kernel && fw->first.len)
		return kb_buf_add(&out->dump, fw->first.buf, fw->first.len) ?:
			       kb_dkms_conf_parse(out, out->dump.buf, out->dump.len);
	if (!dir || !dkms_tree || !source_tree || !install_tree)
		return -ENOMEM;
	/* what DKMS has set when it sources them, the environment's parallel_jobs too */
	env = (struct kb_dkms_env){
		.kernelver = kernelver,
		.dkms_tree = dkms_tree,
		.source_tree = source_tree,
		.install_tree = install_tree,
		.jobs = fw->env_jobs,
	};
	return kb_dkms_eval_names(ctx, &fw->sourced, dir, &env, framework_vars, out);
}

const char *kb_framework_value(const struct kb_dkms_conf *c, const char *name)
{
	const char *v = kb_dkms_get(c, name, 0);

	return v && *v ? v : NULL;
}

void kb_framework_where(const struct kb_framework *fw, const char *name, char *buf, size_t size)
{
	for (size_t i = fw ? fw->shown.n : 0; i-- > 0;) {
		unsigned line = kb_dkms_line(fw->texts.v[i], name, 0);

		if (line) {
			snprintf(buf, size, "%s:%u", fw->shown.v[i], line);
			return;
		}
	}
	snprintf(buf, size, "%s", fw && fw->shown.n ? fw->shown.v[0] : "/" KB_FRAMEWORK_CONF);
}

/* DKMS's -j: a count; 0 means make's unlimited -j, which a jobserver cannot be. */
static int parse_jobs(const char *value, unsigned long *jobs)
{
	if (kb_parse_uint(value, KB_MAX_JOBS, jobs) < 0)
		return -EINVAL;
	if (!*jobs) {
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);

		*jobs = cpus > 0 ? (unsigned long)cpus : 1;
	}
	return 0;
}

/* parallel_jobs as the files leave it, which starts as the environment's, as in DKMS. */
static int apply_jobs(struct kb_framework *fw, const struct kb_dkms_conf *c)
{
	const char *value = kb_framework_value(c, "parallel_jobs");
	char where[600];

	if (!value || parse_jobs(value, &fw->jobs) >= 0)
		return 0;
	kb_framework_where(fw, "parallel_jobs", where, sizeof(where));
	return kb_err(-KB_E_INPUT, "%s: parallel_jobs='%s': expected a number of jobs from 0 to %d",
		      where, value, KB_MAX_JOBS);
}

static int env_jobs(struct kb_framework *fw)
{
	const char *value = getenv("parallel_jobs");

	if (!value || !*value)
		return 0;
	if (parse_jobs(value, &fw->env_jobs) < 0)
		return kb_err(-KB_E_INPUT,
			      "environment variable parallel_jobs='%s': expected a "
			      "number of jobs from 0 to %d",
			      value, KB_MAX_JOBS);
	fw->jobs = fw->env_jobs;
	return 0;
}

static int apply_compress(struct kb_framework *fw, const struct kb_dkms_conf *c)
{
	static const struct {
		const char *name;
		enum kb_compress how;
	} vars[] = {
		{ "compress_xz_opts", KB_COMPRESS_XZ },
		{ "compress_zstd_opts", KB_COMPRESS_ZSTD },
		{ "compress_gzip_opts", KB_COMPRESS_GZIP },
	};

	for (size_t i = 0; i < ARRAY_SIZE(vars); i++) {
		/* set, even to "": the program's own defaults, as DKMS runs it */
		const char *value = kb_dkms_get(c, vars[i].name, 0);
		struct kb_compress_opts scratch = fw->compress;
		char why[256], where[600];

		if (!value)
			continue;
		if (kb_compress_opts_parse(vars[i].how, value,
					   vars[i].how == KB_COMPRESS_GZIP ? &scratch :
									     &fw->compress,
					   why, sizeof(why)) == 0)
			continue;
		kb_framework_where(fw, vars[i].name, where, sizeof(where));
		return kb_err(-KB_E_INPUT, "%s: %s: %s", where, vars[i].name, why);
	}
	return 0;
}

static void warn_unacted(struct kb_ctx *ctx, const struct kb_dkms_conf *c)
{
	char where[600];

	for (size_t i = 0; i < ARRAY_SIZE(unacted); i++) {
		const char *value = kb_framework_value(c, unacted[i].name);
		_cleanup_free_ char *given = unacted[i].given ?
						     kb_root_path(&ctx->root, unacted[i].given) :
						     NULL;

		if (!value || (given && !strcmp(value, given)) ||
		    (!strcmp(unacted[i].name, "try_sign_modules") && !strcmp(value, "true")))
			continue;
		kb_framework_where(ctx->framework, unacted[i].name, where, sizeof(where));
		kb_warn("%s: %s='%s' is not acted on: %s", where, unacted[i].name, value,
			unacted[i].why);
	}
}

static int apply_global(struct kb_ctx *ctx, struct kb_framework *fw)
{
	struct kb_dkms_conf c;
	int r;

	kb_dkms_conf_init(&c);
	for (size_t i = 0; i < fw->texts.n; i++)
		fw->per_kernel = fw->per_kernel || strstr(fw->texts.v[i], "kernelver");
	r = kb_framework_read(ctx, NULL, &c);
	if (r >= 0 && !fw->per_kernel)
		r = kb_buf_add(&fw->first, c.dump.buf, c.dump.len);
	if (r >= 0 && c.noise.len)
		kb_warn("%s: sourcing it printed: %.*s", fw->shown.v[0],
			(int)(c.noise.len - (kb_buf_str(&c.noise)[c.noise.len - 1] == '\n')),
			kb_buf_str(&c.noise));
	if (r >= 0)
		r = apply_jobs(fw, &c);
	if (r >= 0)
		r = apply_compress(fw, &c);
	if (r >= 0)
		warn_unacted(ctx, &c);
	kb_dkms_conf_release(&c);
	return r;
}

int kb_framework_load(struct kb_ctx *ctx)
{
	struct kb_framework *fw;
	int r;

	if (ctx->framework)
		return 0;
	fw = calloc(1, sizeof(*fw));
	if (!fw)
		return -ENOMEM;
	kb_compress_opts_init(&fw->compress);
	kb_buf_init(&fw->first, 4 << 20);
	ctx->framework = fw;
	r = find_files(ctx, fw);
	if (r >= 0)
		r = env_jobs(fw);
	if (r >= 0)
		r = apply_global(ctx, fw);
	if (r == -ENOMEM)
		r = kb_err_errno(r, "cannot read /%s", KB_FRAMEWORK_CONF);
	return r < 0 ? -KB_E_INPUT : 0;
}

bool kb_framework_trusted(const struct kb_framework *fw, char *why, size_t size)
{
	if (!fw || !fw->untrusted)
		return true;
	snprintf(why, size, "'%s', which is not root's or which others may write", fw->untrusted);
	return false;
}

void kb_framework_free(struct kb_framework *fw)
{
	if (!fw)
		return;
	free(fw->untrusted);
	kb_strv_clear(&fw->shown);
	kb_strv_clear(&fw->sourced);
	kb_strv_clear(&fw->texts);
	kb_buf_release(&fw->first);
	free(fw);
}
