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

#include "atomic.h"
#include "child.h"
#include "dkms-eval.h"
#include "dkms.h"
#include "kb-limits.h"
#include "log.h"
#include "state.h"

static const char *const script_names[KB_DKMS_NR_SCRIPTS] = {
	"PRE_BUILD", "POST_BUILD", "PRE_INSTALL", "POST_INSTALL", "POST_ADD", "POST_REMOVE",
};

/* Directives kbuildd reads but does not act on, and why. */
static const struct { const char *name, *why; } ignored[] = {
	{ "BUILD_DEPENDS_REBUILD", "dependents are always rebuilt when a dependency changes" },
	{ "NO_WEAK_MODULES", "kbuildd never installs weak modules" },
	{ "MODULES_CONF", "removed from DKMS; use a recipe's options/blacklist keys" },
	{ "MODULES_CONF_OBSOLETES", "removed from DKMS" },
	{ "MODULES_CONF_ALIAS_TYPE", "removed from DKMS" },
	{ "MODULES_CONF_OBSOLETE_ONLY", "removed from DKMS" },
};

void kb_dkms_build_free(struct kb_dkms_build *b)
{
	if (!b)
		return;
	free(b->make);
	for (int i = 0; i < KB_DKMS_NR_SCRIPTS; i++)
		free(b->scripts[i]);
	kb_strv_clear(&b->strip);
	free(b->excluded);
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
			while (line[n] && !strchr("\"' \n", line[n]) && n + 1 < sizeof(ctx->dkms_distro))
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
	static const struct { const char *id, *dest; } distros[] = {
		{ "debian", "updates/dkms" }, { "ubuntu", "updates/dkms" },
		{ "arch", "updates/dkms" }, { "fedora", "extra" }, { "rhel", "extra" },
		{ "centos", "extra" }, { "ovm", "extra" }, { "sles", "updates" },
		{ "suse", "updates" }, { "opensuse", "updates" },
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

/* One reading of a conf: its text for line numbers, the variables, the problems. */
struct reading {
	const char *file;		/* shown in messages */
	const char *text;
	struct kb_dkms_conf conf;
	struct kb_strv errors;
};

static void problem(struct reading *rd, const char *name, long index, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void problem(struct reading *rd, const char *name, long index, const char *fmt, ...)
{
	unsigned line = name ? kb_dkms_line(rd->text, name, index) : 0;
	_cleanup_free_ char *msg = NULL;
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (r < 0)
		return;
	if (line)
		kb_strv_pushf(&rd->errors, "%s:%u: %s", rd->file, line, msg);
	else
		kb_strv_pushf(&rd->errors, "%s: %s", rd->file, msg);
}

static const char *get(const struct reading *rd, const char *name, unsigned long i)
{
	const char *v = kb_dkms_get(&rd->conf, name, i);

	return v && *v ? v : NULL;
}

static bool yes(const char *v)
{
	return v && (*v == 'y' || *v == 'Y');
}

/* bash's [[ s =~ re ]]: an extended regex, unanchored. -1 when @re is invalid. */
static int regex_match(const char *re, const char *s)
{
	regex_t rx;
	int m;

	if (regcomp(&rx, re, REG_EXTENDED | REG_NOSUB))
		return -1;
	m = regexec(&rx, s, 0, NULL, 0) == 0;
	regfree(&rx);
	return m;
}

static bool ends_in_object(const char *s)
{
	size_t n = strlen(s);

	return (n > 2 && !strcmp(s + n - 2, ".o")) || (n > 3 && !strcmp(s + n - 3, ".ko"));
}

/* A path inside the tree: relative, no ".." component. */
static bool inside(const char *p)
{
	if (p[0] == '/' || !strcmp(p, "..") || !strncmp(p, "../", 3) || strstr(p, "/../"))
		return false;
	return strlen(p) < 3 || strcmp(p + strlen(p) - 3, "/..");
}

/* Checks that hold for every kernel: names, version, records, values. */
static void check_common(struct reading *rd)
{
	const char *name = get(rd, "PACKAGE_NAME", 0), *version = get(rd, "PACKAGE_VERSION", 0);
	const char *autoinstall = kb_dkms_get(&rd->conf, "AUTOINSTALL", 0);

	if (!name)
		problem(rd, NULL, 0, "PACKAGE_NAME is not set");
	else if (!kb_recipe_name_valid(name))
		problem(rd, "PACKAGE_NAME", 0, "PACKAGE_NAME '%s' is not a valid name: expected "
			"letters, digits and '_.+-', starting with a letter or digit", name);
	if (!version)
		problem(rd, NULL, 0, "PACKAGE_VERSION is not set");
	else if (!kb_recipe_version_valid(version))
		problem(rd, "PACKAGE_VERSION", 0, "PACKAGE_VERSION '%s' is not a valid version: "
			"expected letters, digits and '._+~-'", version);
	if (autoinstall && *autoinstall && strcasecmp(autoinstall, "yes") &&
	    strcasecmp(autoinstall, "no"))
		problem(rd, "AUTOINSTALL", 0, "AUTOINSTALL is '%s': expected yes, no or empty",
			autoinstall);
	for (unsigned long i = 0; i < kb_dkms_count(&rd->conf, "BUILD_DEPENDS"); i++) {
		const char *d = get(rd, "BUILD_DEPENDS", i);

		if (d && !kb_recipe_name_valid(d))
			problem(rd, "BUILD_DEPENDS", (long)i, "BUILD_DEPENDS[%lu] '%s' is not a "
				"package name", i, d);
	}
	for (unsigned long i = 0; i < kb_dkms_count(&rd->conf, "PATCH"); i++) {
		const char *p = get(rd, "PATCH", i);

		if (p && !inside(p))
			problem(rd, "PATCH", (long)i, "PATCH[%lu] '%s' must name a file inside "
				"patches/, without '..'", i, p);
	}
	{
		static const char *const regexes[] = {
			"MAKE_MATCH", "PATCH_MATCH", "BUILD_EXCLUSIVE_KERNEL", "BUILD_EXCLUSIVE_ARCH",
			NULL,
		};

		for (size_t k = 0; regexes[k]; k++)
			for (unsigned long i = 0; i < kb_dkms_count(&rd->conf, regexes[k]); i++) {
				const char *re = get(rd, regexes[k], i);

				if (re && regex_match(re, "") < 0)
					problem(rd, regexes[k], (long)i, "%s '%s' is not a valid "
						"regular expression", regexes[k], re);
			}
	}
}

static unsigned long nr_records(const struct reading *rd)
{
	static const char *const arrays[] = {
		"BUILT_MODULE_NAME", "BUILT_MODULE_LOCATION", "DEST_MODULE_NAME",
		"DEST_MODULE_LOCATION",
	};
	unsigned long n = 0;

	for (size_t i = 0; i < ARRAY_SIZE(arrays); i++)
		if (kb_dkms_count(&rd->conf, arrays[i]) > n)
			n = kb_dkms_count(&rd->conf, arrays[i]);
	return n;
}

/* The module records, as DKMS fills them in; into @r when given. */
static void check_modules(struct kb_ctx *ctx, struct reading *rd, struct kb_recipe *r,
			  struct kb_dkms_build *b)
{
	unsigned long n = nr_records(rd);
	const char *pkg = get(rd, "PACKAGE_NAME", 0);
	bool initramfs = yes(get(rd, "REMAKE_INITRD", 0));
	struct kb_strv paths = KB_STRV_INIT, names = KB_STRV_INIT, recs = KB_STRV_INIT;

	if (n > KB_MAX_MODULES) {
		problem(rd, "BUILT_MODULE_NAME", -1, "declares %lu modules; at most %d", n,
			KB_MAX_MODULES);
		return;
	}
	if (r) {
		r->modules = calloc(n ? n : 1, sizeof(*r->modules));
		if (!r->modules)
			return;
	}
	for (unsigned long i = 0; i < n; i++) {
		const char *built = get(rd, "BUILT_MODULE_NAME", i);
		const char *where = get(rd, "BUILT_MODULE_LOCATION", i);
		const char *dest = get(rd, "DEST_MODULE_NAME", i);
		const char *loc = get(rd, "DEST_MODULE_LOCATION", i);
		const char *strip = get(rd, "STRIP", i);
		_cleanup_free_ char *path = NULL;

		if (!built && n == 1)
			built = pkg;	/* one record: named after the package */
		if (!built) {
			problem(rd, "BUILT_MODULE_NAME", -1, "module record %lu has no "
				"BUILT_MODULE_NAME (records 0 to %lu are declared; the arrays must "
				"have no gaps)", i, n - 1);
			continue;
		}
		if (ends_in_object(built))
			problem(rd, "BUILT_MODULE_NAME", (long)i, "BUILT_MODULE_NAME[%lu] '%s' must "
				"not end in .o or .ko", i, built);
		if (!dest)
			dest = built;
		else if (ends_in_object(dest))
			problem(rd, "DEST_MODULE_NAME", (long)i, "DEST_MODULE_NAME[%lu] '%s' must "
				"not end in .o or .ko", i, dest);
		if (!ends_in_object(dest) && !kb_recipe_name_valid(dest))
			problem(rd, "DEST_MODULE_NAME", (long)i, "module name '%s' (record %lu) is "
				"not valid: expected letters, digits, '_' and '-'", dest, i);
		if (!loc)
			problem(rd, "DEST_MODULE_LOCATION", -1, "module record %lu (%s) has no "
				"DEST_MODULE_LOCATION", i, built);
		else if (strncmp(loc, "/kernel", 7) && strncmp(loc, "/updates", 8) &&
			 strncmp(loc, "/extra", 6))
			problem(rd, "DEST_MODULE_LOCATION", (long)i, "DEST_MODULE_LOCATION[%lu] "
				"'%s' must start with /kernel, /updates or /extra", i, loc);
		else if (strstr(loc, ".."))
			problem(rd, "DEST_MODULE_LOCATION", (long)i, "DEST_MODULE_LOCATION[%lu] "
				"'%s' must not contain '..'", i, loc);
		if (where && !inside(where))
			problem(rd, "BUILT_MODULE_LOCATION", (long)i, "BUILT_MODULE_LOCATION[%lu] "
				"'%s' must be inside the build directory, without '..'", i, where);
		if (asprintf(&path, "%s%s%s.ko", where ? where : "",
			     where && where[strlen(where) - 1] != '/' ? "/" : "", built) < 0)
			break;
		/* duplicates: DKMS refuses both (error 8) */
		for (size_t j = 0; j < paths.n; j++) {
			if (!strcmp(paths.v[j], path))
				problem(rd, "BUILT_MODULE_NAME", (long)i, "module '%s' is declared twice "
					"(records %s and %lu)", path, recs.v[j], i);
			else if (!strcmp(names.v[j], dest))
				problem(rd, "DEST_MODULE_NAME", (long)i, "two modules install as "
					"'%s' (records %s and %lu)", dest, recs.v[j], i);
		}
		kb_strv_push(&paths, path);
		kb_strv_push(&names, dest);
		kb_strv_pushf(&recs, "%lu", i);
		if (!r || !loc)
			continue;
		r->modules[i].name = strdup(dest);
		r->modules[i].path = TAKE_PTR(path);
		r->modules[i].dest = strdup(kb_dkms_dest(ctx, loc));
		r->modules[i].initramfs = initramfs;
		r->modules[i].line = kb_dkms_line(rd->text, "BUILT_MODULE_NAME", (long)i);
		r->nr_modules = i + 1;
		/* an empty STRIP[i] takes STRIP[0]'s value, else yes */
		if (!strip)
			strip = get(rd, "STRIP", 0);
		if (b && !(strip && (*strip == 'n' || *strip == 'N')))
			kb_strv_push(&b->strip, r->modules[i].path);
	}
	kb_strv_clear(&paths);
	kb_strv_clear(&names);
	kb_strv_clear(&recs);
}

/* The exclusions of BUILD_EXCLUSIVE_* and OBSOLETE_BY for kernel @k, or NULL. */
static char *exclusion(const struct reading *rd, const struct kb_kernel *k)
{
	const char *re = get(rd, "BUILD_EXCLUSIVE_KERNEL", 0);
	const char *arch = get(rd, "BUILD_EXCLUSIVE_ARCH", 0);
	const char *min = get(rd, "BUILD_EXCLUSIVE_KERNEL_MIN", 0);
	const char *max = get(rd, "BUILD_EXCLUSIVE_KERNEL_MAX", 0);
	const char *obsolete = get(rd, "OBSOLETE_BY", 0);
	const char *config = get(rd, "BUILD_EXCLUSIVE_CONFIG", 0);
	char *why = NULL;

	if (re && regex_match(re, k->release) == 0)
		return asprintf(&why, "kernel %s does not match BUILD_EXCLUSIVE_KERNEL '%s'",
				k->release, re) < 0 ? NULL : why;
	if (arch && regex_match(arch, k->arch) == 0)
		return asprintf(&why, "architecture %s does not match BUILD_EXCLUSIVE_ARCH '%s'",
				k->arch, arch) < 0 ? NULL : why;
	if (min && strverscmp(k->release, min) < 0)
		return asprintf(&why, "kernel %s is older than BUILD_EXCLUSIVE_KERNEL_MIN %s",
				k->release, min) < 0 ? NULL : why;
	if (max && strverscmp(k->release, max) > 0)
		return asprintf(&why, "kernel %s is newer than BUILD_EXCLUSIVE_KERNEL_MAX %s",
				k->release, max) < 0 ? NULL : why;
	if (obsolete && strverscmp(k->release, obsolete) >= 0)
		return asprintf(&why, "kernel %s has the driver built in: OBSOLETE_BY %s",
				k->release, obsolete) < 0 ? NULL : why;
	if (config) {
		struct kb_strv words = KB_STRV_INIT;

		kb_strv_split(&words, config);
		for (size_t i = 0; !why && i < words.n; i++) {
			bool negated = words.v[i][0] == '!';
			const char *name = words.v[i] + negated;
			_cleanup_free_ char *v = kb_kernel_config(k, name);
			bool set = v && (!strcmp(v, "y") || !strcmp(v, "m"));

			if (set == negated && asprintf(&why, "%s is %s in kernel %s "
						     "(BUILD_EXCLUSIVE_CONFIG '%s')", name,
						     set ? "set" : "not set", k->release, config) < 0)
				why = NULL;
		}
		kb_strv_clear(&words);
	}
	return why;
}

/* The make command DKMS would run: MAKE[i] by MAKE_MATCH, else kbuild's default. */
static char *make_command(const struct reading *rd, const struct kb_kernel *k,
			  const char *dkms_tree)
{
	const char *cmd = get(rd, "MAKE_MATCH", 0) ? NULL : get(rd, "MAKE", 0);
	struct kb_buf b = KB_BUF_INIT;
	_cleanup_free_ char *config = NULL, *lld = NULL, *dflt = NULL;

	for (unsigned long i = 0; i < kb_dkms_count(&rd->conf, "MAKE"); i++) {
		const char *m = get(rd, "MAKE", i), *match = get(rd, "MAKE_MATCH", i);

		if (m && match && regex_match(match, k->release) == 1)
			cmd = m;	/* the last match wins */
	}
	if (!cmd) {
		if (asprintf(&dflt, "make -C %s M=%s/%s/%s/build", k->build_dir, dkms_tree,
			     get(rd, "PACKAGE_NAME", 0), get(rd, "PACKAGE_VERSION", 0)) < 0)
			return NULL;
		cmd = dflt;
	}
	if (!strncmp(cmd, "make", 4))	/* as DKMS does, minus its -j: the jobserver reaches every make */
		kb_buf_addf(&b, "make KERNELRELEASE=%s%s", k->release, cmd + 4);
	else
		kb_buf_adds(&b, cmd);
	config = kb_kernel_config(k, "CONFIG_CC_IS_CLANG");
	lld = kb_kernel_config(k, "CONFIG_LD_IS_LLD");
	if (config && !strcmp(config, "y"))
		kb_buf_adds(&b, " CC=clang");
	if (lld && !strcmp(lld, "y"))
		kb_buf_adds(&b, " LD=ld.lld");
	return kb_buf_detach(&b);
}

static void reading_init(struct reading *rd, const char *file, const char *text)
{
	rd->file = file;
	rd->text = text;
	kb_dkms_conf_init(&rd->conf);
	rd->errors = (struct kb_strv)KB_STRV_INIT;
}

static void reading_release(struct reading *rd)
{
	kb_dkms_conf_release(&rd->conf);
	kb_strv_clear(&rd->errors);
}

/* Say, once, what the conf sets that kbuildd will not act on. */
static void tell_ignored(const struct reading *rd)
{
	for (size_t i = 0; i < ARRAY_SIZE(ignored); i++)
		if (kb_dkms_count(&rd->conf, ignored[i].name))
			kb_warn("%s: %s is not used by kbuildd: %s", rd->file, ignored[i].name,
				ignored[i].why);
	if (get(rd, "CLEAN", 0) && strcmp(get(rd, "CLEAN", 0), "true"))
		kb_verbose("%s: CLEAN is not run: every build starts from a fresh copy of the "
			   "source", rd->file);
	for (size_t i = 0; i < rd->conf.unknown.n; i++)
		kb_info("%s: %s is not a DKMS directive; kbuildd ignores it", rd->file,
			rd->conf.unknown.v[i]);
	if (!nr_records(rd))
		kb_warn("%s: declares no modules (no BUILT_MODULE_NAME or DEST_MODULE_LOCATION); "
			"it will build and install nothing", rd->file);
}

static int print_errors(const struct reading *rd)
{
	for (size_t i = 0; i < rd->errors.n; i++)
		kb_err(-KB_E_INPUT, "%s", rd->errors.v[i]);
	return rd->errors.n ? -KB_E_INPUT : 0;
}

static char *root_host(struct kb_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static char *root_host(struct kb_ctx *ctx, const char *fmt, ...)
{
	char rel[PATH_MAX];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(rel, sizeof(rel), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(rel))
		return NULL;
	return kb_root_path(&ctx->root, rel);
}

/* The recipe text `add` registers for a DKMS tree. */
static int synthesize(const struct reading *rd, const char *dir, const char *conf_name,
		      struct kb_buf *out)
{
	const char *autoinstall = get(rd, "AUTOINSTALL", 0);

	if (strpbrk(dir, "\n;#") || strpbrk(conf_name, "\n;#"))
		return kb_err(-KB_E_INPUT, "%s: the path contains a newline, ';' or '#', which "
			      "a recipe cannot hold", rd->file);
	kb_buf_addf(out, "; registered by kbuildd from %s/%s: the build is defined by it,\n"
		    "; evaluated for each kernel as DKMS does\n", dir, conf_name);
	kb_buf_addf(out, "[recipe]\nname = %s\nversion = %s\n", get(rd, "PACKAGE_NAME", 0),
		    get(rd, "PACKAGE_VERSION", 0));
	kb_buf_addf(out, "\n[source]\npath = %s\n\n[build]\ndkms = %s\n", dir, conf_name);
	if (!autoinstall || strcasecmp(autoinstall, "yes"))
		kb_buf_adds(out, "autoinstall = no\n");
	for (unsigned long i = 0; i < kb_dkms_count(&rd->conf, "BUILD_DEPENDS"); i++)
		if (get(rd, "BUILD_DEPENDS", i))
			kb_buf_addf(out, "depends = %s\n", get(rd, "BUILD_DEPENDS", i));
	return 0;
}

int kb_dkms_load(struct kb_ctx *ctx, const char *conf, struct kb_recipe *r)
{
	struct kb_buf text = KB_BUF_INIT_MAX(KB_MAX_RECIPE_SIZE), recipe = KB_BUF_INIT;
	struct kb_strv files = KB_STRV_INIT;
	_cleanup_free_ char *real = realpath(conf, NULL), *ksrc = NULL, *tree = NULL;
	_cleanup_free_ char *itree = NULL, *dir = NULL, *parent = NULL;
	struct reading rd;
	struct utsname u;
	struct kb_dkms_env env = { 0 };
	int ret;

	reading_init(&rd, conf, "");
	ret = kb_read_file(AT_FDCWD, conf, KB_MAX_RECIPE_SIZE, &text);
	if (ret < 0 || !real) {
		ret = kb_err(-KB_E_INPUT, "cannot read '%s': %s", conf,
			     ret == -EFBIG ? "too large" : strerror(ret < 0 ? -ret : errno));
		goto out;
	}
	rd.text = kb_buf_str(&text);
	dir = strdup(real);
	if (dir)
		*strrchr(dir, '/') = '\0';	/* realpath: absolute, so there is a '/' */
	parent = dir ? strdup(dir) : NULL;
	if (!dir || !parent || !*dir) {
		ret = dir && !*dir ? kb_err(-KB_E_INPUT, "%s: a source tree cannot be '/'", conf)
				   : -ENOMEM;
		goto out;
	}
	uname(&u);
	/* DKMS reads the conf at add time for the running kernel */
	ksrc = root_host(ctx, "lib/modules/%s/build", u.release);
	tree = root_host(ctx, "%s/dkms", KB_STATE_DIR);
	itree = root_host(ctx, "lib/modules");
	env = (struct kb_dkms_env){
		.kernelver = u.release, .arch = u.machine, .kernel_source_dir = ksrc,
		.dkms_tree = tree, .source_tree = dirname(parent), .install_tree = itree,
		.jobs = kb_ctx_jobs(ctx),
	};
	kb_strv_push(&files, real);
	ret = kb_dkms_eval(ctx, &files, dir, &env, &rd.conf);
	if (ret < 0)
		goto out;
	if (rd.conf.noise.len)
		kb_verbose("%s printed on stderr: %s", conf, kb_buf_str(&rd.conf.noise));
	check_common(&rd);
	check_modules(ctx, &rd, NULL, NULL);
	ret = print_errors(&rd);
	if (ret < 0)
		goto out;
	tell_ignored(&rd);
	ret = synthesize(&rd, dir, strrchr(real, '/') + 1, &recipe);
	if (ret >= 0)
		ret = kb_recipe_parse(r, conf, kb_buf_str(&recipe), recipe.len);
	if (ret >= 0 && !(r->dir = strdup(dir)))
		ret = -ENOMEM;
out:
	reading_release(&rd);
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
		    const char *conf_rel, struct reading *rd, struct kb_dkms_build *b)
{
	struct kb_buf key = KB_BUF_INIT, cached = KB_BUF_INIT_MAX(8 << 20);
	struct kb_strv files = KB_STRV_INIT;
	char cache[PATH_MAX], hex[KB_SHA256_HEX];
	_cleanup_free_ char *conf = kb_root_path(&ctx->root, conf_rel), *itree = NULL;
	_cleanup_free_ char *kconfig = NULL;
	struct kb_dkms_env env;
	int ret;

	b->dkms_tree = root_host(ctx, "%s/builds/%s/%s/%s.new/dkms", KB_STATE_DIR, base->name,
				 base->version, k->release);
	b->source_tree = root_host(ctx, "%s/builds/%s/%s/%s.new/source-tree", KB_STATE_DIR,
				   base->name, base->version, k->release);
	itree = root_host(ctx, "lib/modules");
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
	    kb_buf_add(&rd->conf.dump, cached.buf + KB_SHA256_HEX,
		       cached.len - KB_SHA256_HEX) == 0 &&
	    kb_dkms_conf_parse(&rd->conf, rd->conf.dump.buf, rd->conf.dump.len) == 0) {
		ret = 0;
		goto out;
	}
	kb_dkms_conf_release(&rd->conf);
	kb_dkms_conf_init(&rd->conf);
	/* the conf is code: from the registered copy it runs as the build user */
	if (!ctx->build_as_user) {
		const char *user = NULL;

		ctx->build_as_user = kb_child_build_user(ctx->settings.user, &ctx->build_uid,
							 &ctx->build_gid, &user);
	}
	env = (struct kb_dkms_env){
		.kernelver = k->release, .arch = k->arch, .kernel_source_dir = k->build_dir,
		.kernel_config = kconfig, .dkms_tree = b->dkms_tree, .source_tree = b->source_tree,
		.install_tree = itree, .module = base->name, .module_version = base->version,
		.jobs = kb_ctx_jobs(ctx),
	};
	{
		_cleanup_free_ char *dir = strdup(conf);

		if (!dir)
			return -ENOMEM;
		*strrchr(dir, '/') = '\0';	/* the conf's directory, as DKMS runs it */
		ret = kb_dkms_eval(ctx, &files, dir, &env, &rd->conf);
	}
	if (ret >= 0 && !ctx->dry_run) {
		struct kb_buf out = KB_BUF_INIT;
		char rel[PATH_MAX];

		kb_buf_addf(&out, "%s\n", hex);
		kb_buf_add(&out, rd->conf.dump.buf, rd->conf.dump.len);
		kb_pathf(rel, sizeof(rel), "%s/builds/%s/%s", KB_STATE_DIR, base->name,
			 base->version);
		if (kb_mkdirs(&ctx->root, rel, 0755) == 0)
			kb_atomic_write(&ctx->root, cache, out.buf, out.len, 0644);
		kb_buf_release(&out);
	}
out:
	kb_strv_clear(&files);
	kb_buf_release(&key);
	kb_buf_release(&cached);
	return ret;
}

/* PATCH[i] whose PATCH_MATCH (if any) matches the kernel, in order; each must exist. */
static void select_patches(struct kb_ctx *ctx, struct reading *rd, const struct kb_recipe *base,
			   const struct kb_kernel *k, struct kb_strv *out)
{
	for (unsigned long i = 0; i < kb_dkms_count(&rd->conf, "PATCH"); i++) {
		const char *p = get(rd, "PATCH", i), *match = get(rd, "PATCH_MATCH", i);
		char rel[PATH_MAX];

		if (!p || !inside(p) || (match && regex_match(match, k->release) != 1))
			continue;
		if (kb_pathf(rel, sizeof(rel), "%s/source/patches/%s", base->state_dir, p) < 0 ||
		    !kb_root_exists(&ctx->root, rel)) {
			problem(rd, "PATCH", (long)i, "PATCH[%lu] '%s' is not in the source's "
				"patches/ directory", i, p);
			continue;
		}
		kb_strv_push(out, p);
	}
}

static int copy_strv(struct kb_strv *dst, const struct kb_strv *src)
{
	for (size_t i = 0; i < src->n; i++)
		if (kb_strv_push(dst, src->v[i]) < 0)
			return -ENOMEM;
	return 0;
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
	    copy_strv(&v->arch, &base->arch) < 0 ||
	    copy_strv(&v->requires_config, &base->requires_config) < 0 ||
	    copy_strv(&v->depends, &base->depends) < 0)
		return -ENOMEM;
	return 0;
}

int kb_dkms_view(struct kb_ctx *ctx, const struct kb_recipe *base, const struct kb_kernel *k,
		 struct kb_recipe **out, char **why)
{
	struct kb_buf text = KB_BUF_INIT_MAX(KB_MAX_RECIPE_SIZE);
	struct kb_recipe *v = calloc(1, sizeof(*v));
	struct kb_dkms_build *b = calloc(1, sizeof(*b));
	char rel[PATH_MAX];
	_cleanup_free_ char *shown = NULL;
	struct reading rd;
	int ret;

	*out = NULL;
	*why = NULL;
	if (!v || !b) {
		free(v);
		free(b);
		return -ENOMEM;
	}
	kb_recipe_init(v);
	kb_buf_init(&v->text, KB_MAX_RECIPE_SIZE + (8 << 20));	/* + the evaluation */
	v->dkms_build = b;
	kb_pathf(rel, sizeof(rel), "%s/source/%s", base->state_dir, base->dkms);
	shown = kb_root_path(&ctx->root, rel);
	reading_init(&rd, shown ? shown : rel, "");
	ret = kb_root_read(&ctx->root, rel, KB_MAX_RECIPE_SIZE, &text);
	if (ret < 0) {
		if (asprintf(why, "cannot read '%s': %s", rd.file, kb_strerror(ret)) < 0)
			*why = NULL;
		ret = -KB_E_INPUT;
		goto out;
	}
	rd.text = kb_buf_str(&text);
	ret = copy_base(base, v);
	if (ret >= 0)
		ret = evaluate(ctx, base, k, rel, &rd, b);
	if (ret < 0)
		goto out;
	check_common(&rd);
	check_modules(ctx, &rd, v, b);
	select_patches(ctx, &rd, base, k, &v->patches);
	if (get(&rd, "PACKAGE_NAME", 0) && strcmp(get(&rd, "PACKAGE_NAME", 0), base->name))
		problem(&rd, "PACKAGE_NAME", 0, "PACKAGE_NAME is '%s' for kernel %s, but the "
			"driver was registered as '%s'", get(&rd, "PACKAGE_NAME", 0), k->release,
			base->name);
	if (rd.errors.n) {
		struct kb_buf msg = KB_BUF_INIT;

		for (size_t i = 0; i < rd.errors.n; i++)
			kb_buf_addf(&msg, "%s%s", i ? "; " : "", rd.errors.v[i]);
		*why = kb_buf_detach(&msg);
		ret = -KB_E_INPUT;
		goto out;
	}
	for (unsigned long i = 0; i < kb_dkms_count(&rd.conf, "BUILD_DEPENDS"); i++) {
		const char *d = get(&rd, "BUILD_DEPENDS", i);

		if (d && !kb_strv_contains(&v->depends, d))
			kb_strv_push(&v->depends, d);
	}
	for (int i = 0; i < KB_DKMS_NR_SCRIPTS; i++)
		if (get(&rd, script_names[i], 0))
			b->scripts[i] = strdup(get(&rd, script_names[i], 0));
	b->excluded = exclusion(&rd, k);
	b->make = make_command(&rd, k, b->dkms_tree);
	/* the build id sees the recipe, the conf and what it evaluated to */
	kb_buf_add(&v->text, base->text.buf, base->text.len);
	kb_buf_addf(&v->text, "\n[dkms.conf]\n%s\n[evaluated]\n", rd.text);
	kb_buf_add(&v->text, rd.conf.dump.buf, rd.conf.dump.len);
	if (!b->make) {
		ret = -ENOMEM;
		goto out;
	}
	*out = TAKE_PTR(v);
out:
	if (v) {
		kb_recipe_release(v);
		free(v);
	}
	reading_release(&rd);
	kb_buf_release(&text);
	return ret;
}

/* A script's command line when @r has none evaluated for a kernel (add, remove). */
static char *script_of(struct kb_ctx *ctx, const struct kb_recipe *r, enum kb_dkms_script which,
		       const char *srcdir)
{
	struct kb_strv files = KB_STRV_INIT;
	_cleanup_free_ char *conf = NULL, *ksrc = NULL, *itree = NULL;
	struct kb_dkms_conf c;
	struct utsname u;
	char *cmd = NULL;

	if (r->dkms_build)
		return r->dkms_build->scripts[which] ? strdup(r->dkms_build->scripts[which]) : NULL;
	uname(&u);
	ksrc = root_host(ctx, "lib/modules/%s/build", u.release);
	itree = root_host(ctx, "lib/modules");
	if (asprintf(&conf, "%s/%s", srcdir, r->dkms) < 0)
		return NULL;
	kb_dkms_conf_init(&c);
	kb_strv_push(&files, conf);
	{
		struct kb_dkms_env env = {
			.kernelver = u.release, .arch = u.machine, .kernel_source_dir = ksrc,
			.install_tree = itree, .module = r->name, .module_version = r->version,
		};
		_cleanup_free_ char *dir = strdup(conf);

		if (dir)
			*strrchr(dir, '/') = '\0';
		if (dir && kb_dkms_eval(ctx, &files, dir, &env, &c) == 0) {
			const char *v = kb_dkms_get(&c, script_names[which], 0);

			cmd = v && *v ? strdup(v) : NULL;
		}
	}
	kb_dkms_conf_release(&c);
	kb_strv_clear(&files);
	return cmd;
}

int kb_dkms_run_script(struct kb_ctx *ctx, const struct kb_recipe *r, enum kb_dkms_script which,
		       const char *kernel)
{
	_cleanup_free_ char *srcdir = NULL, *cmd = NULL, *run = NULL, *itree = NULL;
	struct kb_dkms_env env = { 0 };
	struct kb_child c;
	struct utsname u;
	int status;

	if (!r->dkms)
		return 0;
	srcdir = root_host(ctx, "%s/recipes/%s/%s/source", KB_STATE_DIR, r->name, r->version);
	if (!srcdir)
		return -ENOMEM;
	cmd = script_of(ctx, r, which, srcdir);
	if (!cmd)
		return 0;
	if (asprintf(&run, "%s/%s", srcdir, cmd) < 0)
		return -ENOMEM;
	{
		/* as DKMS: the first word must be an executable file in the source */
		_cleanup_free_ char *prog = strndup(run, strcspn(run, " \t"));

		if (!prog || access(prog, X_OK) < 0) {
			kb_warn("%s/%s: the %s script '%s' is not executable; skipped", r->name,
				r->version, script_names[which], cmd);
			return 0;
		}
	}
	if (ctx->dry_run) {
		kb_info("would run the %s script of %s/%s", script_names[which], r->name, r->version);
		return 0;
	}
	uname(&u);
	itree = root_host(ctx, "lib/modules");
	env.kernelver = kernel ? kernel : u.release;
	env.arch = u.machine;
	env.install_tree = itree;
	env.module = r->name;
	env.module_version = r->version;
	kb_child_init(&c);
	kb_strv_push(&c.args, "bash");
	kb_strv_push(&c.args, "--norc");
	kb_strv_push(&c.args, "--noprofile");
	kb_strv_push(&c.args, "-c");
	kb_strv_push(&c.args, "exec $KBUILDD_RUN");	/* word-split, as DKMS runs it */
	c.clean_env = true;
	kb_dkms_env_push(&env, &c.env);
	kb_strv_push(&c.env, "HOME=/root");
	kb_strv_pushf(&c.env, "KBUILDD_RUN=%s", run);
	c.dir = strdup(srcdir);
	kb_verbose("%s/%s: running the %s script: %s", r->name, r->version, script_names[which],
		   cmd);
	status = kb_child_run(&c);
	kb_child_release(&c);
	if (status != 0)
		return kb_err(-KB_E_BUILD, "%s/%s: the %s script '%s' failed (exit %d)", r->name,
			      r->version, script_names[which], cmd, status);
	return 0;
}
