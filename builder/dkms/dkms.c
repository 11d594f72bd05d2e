/*
 * dkms.conf as a recipe. A registered DKMS tree is a native recipe with
 * `[build] dkms = dkms.conf`; its modules, make command, patches, scripts
 * and exclusions come from the conf evaluated for each kernel, with the
 * rules DKMS applies when it reads one (DKMS's read_conf).
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "base/atomic.h"
#include "base/child.h"
#include "base/limits.h"
#include "base/log.h"
#include "dkms/dkms-build.h"
#include "dkms/dkms-eval.h"
#include "dkms/dkms-rules.h"
#include "dkms/dkms.h"
#include "sandbox.h"
#include "state.h"

void kb_dkms_build_free(struct kb_dkms_build *b)
{
	if (!b)
		return;
	free(b->make);
	for (int i = 0; i < KB_DKMS_NR_SCRIPTS; i++)
		free(b->scripts[i]);
	kb_strv_clear(&b->strip);
	free(b->dkms_tree);
	free(b->source_tree);
	free(b);
}

bool kb_dkms_is_tree(const char *dir)
{
	char p[PATH_MAX];
	struct stat st;

	return kb_pathf(p, sizeof(p), "%s/dkms.conf", dir) == 0 && stat(p, &st) == 0 &&
	       S_ISREG(st.st_mode);
}

/* ID (or, failing a known one, the first word of ID_LIKE) from os-release. */
static void read_distro(struct kb_ctx *ctx)
{
	struct kb_buf text = KB_BUF_INIT_MAX(64 << 10);
	const char *keys[] = { "ID=", "ID_LIKE=" };

	ctx->dkms_distro_read = true;
	if (kb_root_read(&ctx->root, "etc/os-release", 64 << 10, &text) < 0 &&
	    kb_root_read(&ctx->root, "usr/lib/os-release", 64 << 10, &text) < 0)
		goto out;
	for (size_t k = 0; k < ARRAY_SIZE(keys) && !ctx->dkms_distro[0]; k++) {
		const char *line = kb_buf_str(&text);

		for (; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
			size_t n = 0;

			if (strncmp(line, keys[k], strlen(keys[k])))
				continue;
			line += strlen(keys[k]);
			line += *line == '"' || *line == '\'';
			while (line[n] && !strchr("\"' \n", line[n]) &&
			       n + 1 < sizeof(ctx->dkms_distro))
				n++;
			memcpy(ctx->dkms_distro, line, n);
			ctx->dkms_distro[n] = '\0';
			break;
		}
	}
out:
	kb_buf_release(&text);
}

const char *kb_dkms_dest(struct kb_ctx *ctx, const char *written)
{
	static const struct {
		const char *id, *dest;
	} distros[] = {
		{ "debian", "updates/dkms" }, { "ubuntu", "updates/dkms" },
		{ "arch", "updates/dkms" },   { "fedora", "extra" },
		{ "rhel", "extra" },	      { "centos", "extra" },
		{ "ovm", "extra" },	      { "sles", "updates" },
		{ "suse", "updates" },	      { "opensuse", "updates" },
	};

	if (!ctx->dkms_distro_read)
		read_distro(ctx);
	for (size_t i = 0; i < ARRAY_SIZE(distros); i++)
		if (!strncmp(ctx->dkms_distro, distros[i].id, strlen(distros[i].id)))
			return distros[i].dest;
	/* elsewhere DKMS keeps the location as written */
	while (*written == '/')
		written++;
	return written;
}

/* The recipe text `add` registers for a DKMS tree. */
static int synthesize(const struct kb_dkms_reading *rd, const char *dir, const char *conf_name,
		      struct kb_buf *out)
{
	const char *autoinstall = kb_dkms_value(rd, "AUTOINSTALL", 0);

	if (strpbrk(dir, "\n;#") || strpbrk(conf_name, "\n;#"))
		return kb_err(-KB_E_INPUT,
			      "%s: the path contains a newline, ';' or '#', which "
			      "a recipe cannot hold",
			      rd->file);
	kb_buf_addf(out,
		    "; registered by kbuildd from %s/%s: the build is defined by it,\n"
		    "; evaluated for each kernel as DKMS does\n",
		    dir, conf_name);
	kb_buf_addf(out, "[recipe]\nname = %s\nversion = %s\n",
		    kb_dkms_value(rd, "PACKAGE_NAME", 0), kb_dkms_value(rd, "PACKAGE_VERSION", 0));
	kb_buf_addf(out, "\n[source]\npath = %s\n\n[build]\ndkms = %s\n", dir, conf_name);
	if (!autoinstall || strcasecmp(autoinstall, "yes"))
		kb_buf_adds(out, "autoinstall = no\n");
	for (unsigned long i = 0; i < kb_dkms_count(&rd->conf, "BUILD_DEPENDS"); i++)
		if (kb_dkms_value(rd, "BUILD_DEPENDS", i))
			kb_buf_addf(out, "depends = %s\n", kb_dkms_value(rd, "BUILD_DEPENDS", i));
	return 0;
}

int kb_dkms_load(struct kb_ctx *ctx, const char *conf, struct kb_recipe *r)
{
	struct kb_buf text = KB_BUF_INIT_MAX(KB_MAX_RECIPE_SIZE), recipe = KB_BUF_INIT;
	struct kb_strv files = KB_STRV_INIT;
	_cleanup_free_ char *real = realpath(conf, NULL), *ksrc = NULL, *tree = NULL;
	_cleanup_free_ char *itree = NULL, *dir = NULL, *parent = NULL;
	struct kb_dkms_reading rd;
	struct utsname u;
	struct kb_dkms_env env = { 0 };
	int ret;

	kb_dkms_reading_init(&rd, conf, "");
	ret = kb_read_file(AT_FDCWD, conf, KB_MAX_RECIPE_SIZE, &text);
	if (ret == -KB_E_INPUT)
		goto out;
	if (ret < 0 || !real) {
		ret = kb_err(-KB_E_INPUT, "cannot read '%s': %s", conf,
			     ret == -EFBIG ? "too large" : strerror(ret < 0 ? -ret : errno));
		goto out;
	}
	rd.text = kb_buf_str(&text);
	dir = strdup(real);
	if (dir)
		*strrchr(dir, '/') = '\0'; /* realpath: absolute, so there is a '/' */
	parent = dir ? strdup(dir) : NULL;
	if (!dir || !parent || !*dir) {
		ret = dir && !*dir ? kb_err(-KB_E_INPUT, "%s: a source tree cannot be '/'", conf) :
				     -ENOMEM;
		goto out;
	}
	uname(&u);
	/* DKMS reads the conf at add time for the running kernel */
	ksrc = kb_root_pathf(&ctx->root, "lib/modules/%s/build", u.release);
	tree = kb_root_pathf(&ctx->root, "%s/dkms", KB_STATE_DIR);
	itree = kb_root_pathf(&ctx->root, "lib/modules");
	env = (struct kb_dkms_env){
		.kernelver = u.release,
		.arch = u.machine,
		.kernel_source_dir = ksrc,
		.dkms_tree = tree,
		.source_tree = dirname(parent),
		.install_tree = itree,
		.jobs = kb_ctx_jobs(ctx),
	};
	kb_strv_push(&files, real);
	ret = kb_dkms_eval(ctx, &files, dir, &env, &rd.conf);
	if (ret < 0)
		goto out;
	if (rd.conf.noise.len)
		kb_verbose("%s printed on stderr: %s", conf, kb_buf_str(&rd.conf.noise));
	kb_dkms_check_common(&rd);
	kb_dkms_check_modules(ctx, &rd, NULL, NULL);
	ret = kb_dkms_print_errors(&rd);
	if (ret < 0) {
		kb_dkms_exit(ctx, rd.dkms_code);
		goto out;
	}
	kb_dkms_tell_ignored(&rd);
	ret = synthesize(&rd, dir, strrchr(real, '/') + 1, &recipe);
	if (ret >= 0)
		ret = kb_recipe_parse(r, conf, kb_buf_str(&recipe), recipe.len);
	if (ret >= 0 && !(r->dir = strdup(dir)))
		ret = -ENOMEM;
out:
	kb_dkms_reading_release(&rd);
	kb_strv_clear(&files);
	kb_buf_release(&text);
	kb_buf_release(&recipe);
	return ret;
}

/* DKMS's per-module overrides in /etc/dkms, most general first. */
static void overrides(struct kb_ctx *ctx, const struct kb_recipe *base, const struct kb_kernel *k,
		      struct kb_strv *files, struct kb_buf *key)
{
	char rel[4][PATH_MAX];

	snprintf(rel[0], PATH_MAX, "etc/dkms/%s.conf", base->name);
	snprintf(rel[1], PATH_MAX, "etc/dkms/%s-%s.conf", base->name, base->version);
	snprintf(rel[2], PATH_MAX, "etc/dkms/%s-%s-%s.conf", base->name, base->version, k->release);
	snprintf(rel[3], PATH_MAX, "etc/dkms/%s-%s-%s-%s.conf", base->name, base->version,
		 k->release, k->arch);
	for (size_t i = 0; i < 4; i++) {
		char *host;

		if (!kb_root_exists(&ctx->root, rel[i]))
			continue;
		host = kb_root_path(&ctx->root, rel[i]);
		if (host)
			kb_strv_push(files, host);
		free(host);
		kb_buf_addf(key, "override %s\n", rel[i]);
		kb_root_read(&ctx->root, rel[i], KB_MAX_RECIPE_SIZE, key);
	}
}

/* The evaluation for @k, from builds/N/V/K.eval when its inputs are unchanged. */
static int evaluate(struct kb_ctx *ctx, const struct kb_recipe *base, const struct kb_kernel *k,
		    const char *conf_rel, struct kb_dkms_reading *rd, struct kb_dkms_build *b)
{
	struct kb_buf key = KB_BUF_INIT, cached = KB_BUF_INIT_MAX(8 << 20);
	struct kb_strv files = KB_STRV_INIT;
	char cache[PATH_MAX], hex[KB_SHA256_HEX];
	_cleanup_free_ char *conf = kb_root_path(&ctx->root, conf_rel), *itree = NULL;
	_cleanup_free_ char *kconfig = NULL;
	struct kb_dkms_env env;
	int ret;

	/* the per-kernel build dir while it builds (build.c) */
	b->dkms_tree = kb_root_pathf(&ctx->root, "%s/builds/%s/%s/" KB_STAGING_NEW "%s/dkms",
				     KB_STATE_DIR, base->name, base->version, k->release);
	b->source_tree = kb_root_pathf(&ctx->root,
				       "%s/builds/%s/%s/" KB_STAGING_NEW "%s/source-tree",
				       KB_STATE_DIR, base->name, base->version, k->release);
	itree = kb_root_pathf(&ctx->root, "lib/modules");
	if (!conf || !b->dkms_tree || !b->source_tree || !itree ||
	    asprintf(&kconfig, "%s/.config", k->build_dir) < 0)
		return -ENOMEM;
	kb_strv_push(&files, conf);
	kb_buf_addf(&key, "kbuildd-dkms-eval-1\n%s\n%s\n%s\n%s\n%s\n%s\n%s\n%s\n%u\n",
		    kb_buf_str(&base->text), rd->text, base->source_hash, k->release, k->arch,
		    k->config_hash, k->build_dir, b->dkms_tree, kb_ctx_jobs(ctx));
	overrides(ctx, base, k, &files, &key);
	kb_sha256_hex(key.buf, key.len, hex);
	kb_pathf(cache, sizeof(cache), "%s/builds/%s/%s/%s.eval", KB_STATE_DIR, base->name,
		 base->version, k->release);
	if (!ctx->force && kb_root_read(&ctx->root, cache, 8 << 20, &cached) == 0 &&
	    cached.len > KB_SHA256_HEX && !memcmp(cached.buf, hex, KB_SHA256_HEX - 1) &&
	    cached.buf[KB_SHA256_HEX - 1] == '\n' &&
	    kb_buf_add(&rd->conf.dump, cached.buf + KB_SHA256_HEX, cached.len - KB_SHA256_HEX) ==
		    0 &&
	    kb_dkms_conf_parse(&rd->conf, rd->conf.dump.buf, rd->conf.dump.len) == 0) {
		ret = 0;
		goto out;
	}
	kb_dkms_conf_release(&rd->conf);
	kb_dkms_conf_init(&rd->conf);
	env = kb_dkms_kernel_env(ctx, k, b, base, kconfig, itree);
	env.kernel_trees = &k->trees;
	{
		_cleanup_free_ char *dir = strdup(conf);

		if (!dir)
			return -ENOMEM;
		*strrchr(dir, '/') = '\0'; /* the conf's directory, as DKMS runs it */
		ret = kb_dkms_eval(ctx, &files, dir, &env, &rd->conf);
	}
	if (ret >= 0 && !ctx->dry_run) {
		struct kb_buf out = KB_BUF_INIT;
		char rel[PATH_MAX];

		kb_buf_addf(&out, "%s\n", hex);
		kb_buf_add(&out, rd->conf.dump.buf, rd->conf.dump.len);
		kb_pathf(rel, sizeof(rel), "%s/builds/%s/%s", KB_STATE_DIR, base->name,
			 base->version);
		ret = kb_mkdirs(&ctx->root, rel, 0755);
		if (ret >= 0)
			ret = kb_atomic_write_buf(&ctx->root, cache, &out, 0644);
		if (ret < 0)
			kb_err_errno(ret, "cannot keep the reading of the conf in '/%s'", cache);
		kb_buf_release(&out);
	}
out:
	kb_strv_clear(&files);
	kb_buf_release(&key);
	kb_buf_release(&cached);
	return ret;
}

/* The registered recipe's own fields, shared by every kernel's view. */
static int copy_base(const struct kb_recipe *base, struct kb_recipe *v)
{
	v->name = strdup(base->name);
	v->version = strdup(base->version);
	v->file = strdup(base->file);
	v->dkms = strdup(base->dkms);
	v->state_dir = strdup(base->state_dir);
	v->source_hash = strdup(base->source_hash ? base->source_hash : "");
	v->description = base->description ? strdup(base->description) : NULL;
	v->kernels_text = base->kernels_text ? strdup(base->kernels_text) : NULL;
	v->exclusive_kernel = base->exclusive_kernel ? strdup(base->exclusive_kernel) : NULL;
	v->has_kernels = base->has_kernels;
	v->kernels = base->kernels;
	v->autoinstall = base->autoinstall;
	if (!v->name || !v->version || !v->file || !v->dkms || !v->state_dir || !v->source_hash ||
	    kb_strv_push_all(&v->arch, &base->arch) < 0 ||
	    kb_strv_push_all(&v->requires_config, &base->requires_config) < 0 ||
	    kb_strv_push_all(&v->depends, &base->depends) < 0)
		return -ENOMEM;
	return 0;
}

/*
 * The tree a conf expects, below the build's staging directory, whose
 * dkms/ and source-tree/ are the $dkms_tree and $source_tree it was
 * evaluated with: it builds in $dkms_tree/N/V/build (confs run find on it,
 * which does not descend a symlink), beside $dkms_tree/N/V/source and
 * $source_tree/N-V, the pristine source. Its PATCH[] files are the
 * source's patches/.
 */
static int layout(const struct kb_recipe *base, struct kb_recipe *v)
{
	struct kb_build_layout *l = &v->layout;

	if (asprintf(&l->tree, "dkms/%s/%s/build", base->name, base->version) < 0) {
		l->tree = NULL;
		return -ENOMEM;
	}
	l->patches = strdup("source/patches");
	if (!l->patches)
		return -ENOMEM;
	kb_strv_pushf(&l->source_links, "dkms/%s/%s/source", base->name, base->version);
	kb_strv_pushf(&l->source_links, "source-tree/%s-%s", base->name, base->version);
	return kb_recipe_error(v);
}

/* The registered conf @rel into @text; on failure the message in *@why. */
static int read_conf(struct kb_ctx *ctx, const char *rel, const char *shown, struct kb_buf *text,
		     char **why)
{
	int ret = kb_root_read(&ctx->root, rel, KB_MAX_RECIPE_SIZE, text);

	if (ret >= 0)
		return 0;
	if (asprintf(why, "cannot read '%s': %s", shown,
		     ret == -KB_E_INPUT ? "not a regular file" : kb_strerror(ret)) < 0)
		*why = NULL;
	return -KB_E_INPUT;
}

/* Every problem DKMS's read_conf finds, in *@why (-KB_E_INPUT), or 0. */
static int check_reading(struct kb_ctx *ctx, struct kb_dkms_reading *rd,
			 const struct kb_recipe *base, const struct kb_kernel *k,
			 struct kb_recipe *v, struct kb_dkms_build *b, char **why,
			 enum kb_failure *kind)
{
	const char *name;
	struct kb_buf msg = KB_BUF_INIT;
	int ret;

	kb_dkms_check_common(rd);
	kb_dkms_check_modules(ctx, rd, v, b);
	kb_dkms_select_patches(ctx, rd, base, k, &v->patches);
	name = kb_dkms_value(rd, "PACKAGE_NAME", 0);
	if (name && strcmp(name, base->name))
		kb_dkms_problem(rd, "PACKAGE_NAME", 0,
				"PACKAGE_NAME is '%s' for kernel %s, but the "
				"driver was registered as '%s'",
				name, k->release, base->name);
	/* a problem that could not be recorded must not let the conf through */
	ret = kb_strv_error(&rd->errors);
	if (ret < 0 || !rd->errors.n)
		return ret;
	for (size_t i = 0; i < rd->errors.n; i++)
		kb_buf_addf(&msg, "%s%s", i ? "; " : "", rd->errors.v[i]);
	*why = kb_buf_detach(&msg);
	*kind = rd->dkms_code == 5 ? KB_FAIL_PATCH : KB_FAIL_RECIPE;
	return -KB_E_INPUT;
}

/* What a good reading adds to view @v: dependencies, scripts, exclusion, build. */
static int fill_view(struct kb_ctx *ctx, struct kb_dkms_reading *rd, const struct kb_recipe *base,
		     const struct kb_kernel *k, struct kb_recipe *v, struct kb_dkms_build *b)
{
	int ret;

	for (unsigned long i = 0; i < kb_dkms_count(&rd->conf, "BUILD_DEPENDS"); i++) {
		const char *d = kb_dkms_value(rd, "BUILD_DEPENDS", i);

		if (d && !kb_strv_contains(&v->depends, d))
			kb_strv_push(&v->depends, d);
	}
	for (int i = 0; i < KB_DKMS_NR_SCRIPTS; i++)
		if (kb_dkms_value(rd, kb_dkms_script_names[i], 0))
			b->scripts[i] = strdup(kb_dkms_value(rd, kb_dkms_script_names[i], 0));
	v->excluded = kb_dkms_exclusion(rd, k);
	ret = layout(base, v);
	if (ret < 0)
		return ret;
	b->make = kb_dkms_make_command(rd, k, b->dkms_tree);
	/* the build id sees the recipe, the conf and what it evaluated to */
	kb_buf_add(&v->text, base->text.buf, base->text.len);
	kb_buf_addf(&v->text, "\n[dkms.conf]\n%s\n[evaluated]\n", rd->text);
	kb_buf_add(&v->text, rd->conf.dump.buf, rd->conf.dump.len);
	/* a text cut short would give a build id that does not cover the build */
	ret = kb_recipe_error(v);
	if (ret >= 0)
		ret = kb_strv_error(&b->strip);
	if (ret >= 0)
		ret = b->make ? kb_dkms_build_command(ctx, k, b, v) : -ENOMEM;
	return ret;
}

static void release_build(void *data)
{
	kb_dkms_build_free(data);
}

/* The reader's view: the conf evaluated for kernel @k (dkms.h). */
static int view(struct kb_ctx *ctx, const struct kb_recipe *base, const struct kb_kernel *k,
		struct kb_recipe **out, char **why, enum kb_failure *kind)
{
	struct kb_buf text = KB_BUF_INIT_MAX(KB_MAX_RECIPE_SIZE);
	struct kb_recipe *v = calloc(1, sizeof(*v));
	struct kb_dkms_build *b = calloc(1, sizeof(*b));
	char rel[PATH_MAX];
	_cleanup_free_ char *shown = NULL;
	struct kb_dkms_reading rd;
	int ret;

	*out = NULL;
	*why = NULL;
	if (!v || !b) {
		free(v);
		free(b);
		return -ENOMEM;
	}
	kb_recipe_init(v);
	kb_buf_init(&v->text, KB_MAX_RECIPE_SIZE + (8 << 20)); /* + the evaluation */
	v->reader = &kb_dkms_reader;
	v->reader_data = b;
	kb_pathf(rel, sizeof(rel), "%s/source/%s", base->state_dir, base->dkms);
	shown = kb_root_path(&ctx->root, rel);
	kb_dkms_reading_init(&rd, shown ? shown : rel, "");
	ret = read_conf(ctx, rel, rd.file, &text, why);
	if (ret < 0) {
		*kind = KB_FAIL_RECIPE;
		goto out;
	}
	rd.text = kb_buf_str(&text);
	ret = copy_base(base, v);
	if (ret >= 0)
		ret = evaluate(ctx, base, k, rel, &rd, b);
	if (ret >= 0)
		ret = check_reading(ctx, &rd, base, k, v, b, why, kind);
	if (ret >= 0)
		ret = fill_view(ctx, &rd, base, k, v, b);
	if (ret >= 0)
		*out = TAKE_PTR(v);
out:
	if (v) {
		kb_recipe_release(v);
		free(v);
	}
	kb_dkms_reading_release(&rd);
	kb_buf_release(&text);
	return ret;
}

const struct kb_recipe_reader kb_dkms_reader = {
	.key = "dkms",
	.file = "dkms.conf",
	.load = kb_dkms_load,
	.view = view,
	.run_step = kb_dkms_run_step,
	.release = release_build,
};
