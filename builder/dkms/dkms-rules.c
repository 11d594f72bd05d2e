/*
 * The rules DKMS applies when it reads a dkms.conf (DKMS's read_conf and
 * read_conf_strict), on the variables bash gave back: required directives,
 * module records, exclusions, the make command and the patches.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/limits.h"
#include "base/log.h"
#include "dkms/dkms-rules.h"

/* Directives kbuildd reads but does not act on, and why. */
static const struct {
	const char *name, *why;
} ignored[] = {
	{ "BUILD_DEPENDS_REBUILD", "dependents are always rebuilt when a dependency changes" },
	{ "NO_WEAK_MODULES", "kbuildd never installs weak modules" },
	{ "MODULES_CONF", "removed from DKMS; use a recipe's options/blacklist keys" },
	{ "MODULES_CONF_OBSOLETES", "removed from DKMS" },
	{ "MODULES_CONF_ALIAS_TYPE", "removed from DKMS" },
	{ "MODULES_CONF_OBSOLETE_ONLY", "removed from DKMS" },
};

void kb_dkms_problem(struct kb_dkms_reading *rd, const char *name, long index, const char *fmt, ...)
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
	rd->dkms_code = rd->dkms_code ? rd->dkms_code : 8; /* "Bad conf file." */
	if (line)
		kb_strv_pushf(&rd->errors, "%s:%u: %s", rd->file, line, msg);
	else
		kb_strv_pushf(&rd->errors, "%s: %s", rd->file, msg);
}

const char *kb_dkms_value(const struct kb_dkms_reading *rd, const char *name, unsigned long i)
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

/* DEST_MODULE_LOCATION below lib/modules/K, its slashes at either end as DKMS takes them. */
static bool location_ok(const char *loc)
{
	char dest[PATH_MAX];
	size_t len;

	loc += strspn(loc, "/");
	len = strlen(loc);
	while (len && loc[len - 1] == '/')
		len--;
	return kb_pathf(dest, sizeof(dest), "%.*s", (int)len, loc) == 0 && kb_dest_valid(dest);
}

/* Checks that hold for every kernel: names, version, records, values. */
void kb_dkms_check_common(struct kb_dkms_reading *rd)
{
	const char *name = kb_dkms_value(rd, "PACKAGE_NAME", 0);
	const char *version = kb_dkms_value(rd, "PACKAGE_VERSION", 0);
	const char *autoinstall = kb_dkms_get(&rd->conf, "AUTOINSTALL", 0);

	if (!name)
		kb_dkms_problem(rd, NULL, 0, "PACKAGE_NAME is not set");
	else if (!kb_recipe_name_valid(name))
		kb_dkms_problem(rd, "PACKAGE_NAME", 0,
				"PACKAGE_NAME '%s' is not a valid name: expected "
				"letters, digits and '_.+-', starting with a letter or digit",
				name);
	if (!version)
		kb_dkms_problem(rd, NULL, 0, "PACKAGE_VERSION is not set");
	else if (!kb_recipe_version_valid(version))
		kb_dkms_problem(rd, "PACKAGE_VERSION", 0,
				"PACKAGE_VERSION '%s' is not a valid version: "
				"expected letters, digits and '._+~-'",
				version);
	if (autoinstall && *autoinstall && strcasecmp(autoinstall, "yes") &&
	    strcasecmp(autoinstall, "no"))
		kb_dkms_problem(rd, "AUTOINSTALL", 0,
				"AUTOINSTALL is '%s': expected yes, no or empty", autoinstall);
	for (unsigned long i = 0; i < kb_dkms_count(&rd->conf, "BUILD_DEPENDS"); i++) {
		const char *d = kb_dkms_value(rd, "BUILD_DEPENDS", i);

		if (d && !kb_recipe_name_valid(d))
			kb_dkms_problem(rd, "BUILD_DEPENDS", (long)i,
					"BUILD_DEPENDS[%lu] '%s' is not a "
					"package name",
					i, d);
	}
	for (unsigned long i = 0; i < kb_dkms_count(&rd->conf, "PATCH"); i++) {
		const char *p = kb_dkms_value(rd, "PATCH", i);

		if (p && !inside(p)) {
			rd->dkms_code = rd->dkms_code ? rd->dkms_code : 5;
			kb_dkms_problem(rd, "PATCH", (long)i,
					"PATCH[%lu] '%s' must name a file inside "
					"patches/, without '..'",
					i, p);
		}
	}
	{
		static const char *const regexes[] = {
			"MAKE_MATCH",		"PATCH_MATCH", "BUILD_EXCLUSIVE_KERNEL",
			"BUILD_EXCLUSIVE_ARCH", NULL,
		};

		for (size_t k = 0; regexes[k]; k++)
			for (unsigned long i = 0; i < kb_dkms_count(&rd->conf, regexes[k]); i++) {
				const char *re = kb_dkms_value(rd, regexes[k], i);

				if (re && regex_match(re, "") < 0)
					kb_dkms_problem(rd, regexes[k], (long)i,
							"%s '%s' is not a valid "
							"regular expression",
							regexes[k], re);
			}
	}
}

unsigned long kb_dkms_nr_records(const struct kb_dkms_reading *rd)
{
	static const char *const arrays[] = {
		"BUILT_MODULE_NAME",
		"BUILT_MODULE_LOCATION",
		"DEST_MODULE_NAME",
		"DEST_MODULE_LOCATION",
	};
	unsigned long n = 0;

	for (size_t i = 0; i < ARRAY_SIZE(arrays); i++)
		if (kb_dkms_count(&rd->conf, arrays[i]) > n)
			n = kb_dkms_count(&rd->conf, arrays[i]);
	return n;
}

/* One module record as DKMS fills it in: names defaulted, then checked. */
struct record {
	const char *built, *dest, *loc;
	char *path; /* BUILT_MODULE_LOCATION/BUILT_MODULE_NAME.ko */
};

static bool check_record(struct kb_dkms_reading *rd, unsigned long i, unsigned long n,
			 struct record *rec)
{
	const char *where = kb_dkms_value(rd, "BUILT_MODULE_LOCATION", i);
	const char *built = kb_dkms_value(rd, "BUILT_MODULE_NAME", i);
	const char *dest = kb_dkms_value(rd, "DEST_MODULE_NAME", i);
	const char *loc = kb_dkms_value(rd, "DEST_MODULE_LOCATION", i);

	if (!built && n == 1)
		built = kb_dkms_value(rd, "PACKAGE_NAME", 0); /* one record: the package's name */
	if (!built) {
		kb_dkms_problem(rd, "BUILT_MODULE_NAME", -1,
				"module record %lu has no "
				"BUILT_MODULE_NAME (records 0 to %lu are declared; the arrays must "
				"have no gaps)",
				i, n - 1);
		return false;
	}
	if (ends_in_object(built))
		kb_dkms_problem(rd, "BUILT_MODULE_NAME", (long)i,
				"BUILT_MODULE_NAME[%lu] '%s' "
				"must not end in .o or .ko",
				i, built);
	if (!dest)
		dest = built;
	else if (ends_in_object(dest))
		kb_dkms_problem(rd, "DEST_MODULE_NAME", (long)i,
				"DEST_MODULE_NAME[%lu] '%s' "
				"must not end in .o or .ko",
				i, dest);
	if (!ends_in_object(dest) && !kb_recipe_name_valid(dest))
		kb_dkms_problem(rd, "DEST_MODULE_NAME", (long)i,
				"module name '%s' (record %lu) "
				"is not valid: expected letters, digits, '_' and '-'",
				dest, i);
	if (!loc)
		kb_dkms_problem(rd, "DEST_MODULE_LOCATION", -1,
				"module record %lu (%s) has no "
				"DEST_MODULE_LOCATION",
				i, built);
	else if (strncmp(loc, "/kernel", 7) && strncmp(loc, "/updates", 8) &&
		 strncmp(loc, "/extra", 6))
		kb_dkms_problem(rd, "DEST_MODULE_LOCATION", (long)i,
				"DEST_MODULE_LOCATION[%lu] "
				"'%s' must start with /kernel, /updates or /extra",
				i, loc);
	else if (strstr(loc, ".."))
		kb_dkms_problem(rd, "DEST_MODULE_LOCATION", (long)i,
				"DEST_MODULE_LOCATION[%lu] "
				"'%s' must not contain '..'",
				i, loc);
	else if (!location_ok(loc))
		kb_dkms_problem(rd, "DEST_MODULE_LOCATION", (long)i,
				"DEST_MODULE_LOCATION[%lu] "
				"'%s' must not contain empty or '.' components",
				i, loc);
	if (where && !inside(where))
		kb_dkms_problem(rd, "BUILT_MODULE_LOCATION", (long)i,
				"BUILT_MODULE_LOCATION[%lu] "
				"'%s' must be inside the build directory, without '..'",
				i, where);
	*rec = (struct record){ .built = built, .dest = dest, .loc = loc };
	return asprintf(&rec->path, "%s%s%s.ko", where ? where : "",
			where && where[strlen(where) - 1] != '/' ? "/" : "", built) >= 0;
}

/* The module records, as DKMS fills them in; into @r when given. */
void kb_dkms_check_modules(struct kb_ctx *ctx, struct kb_dkms_reading *rd, struct kb_recipe *r,
			   struct kb_dkms_build *b)
{
	unsigned long n = kb_dkms_nr_records(rd);
	bool initramfs = yes(kb_dkms_value(rd, "REMAKE_INITRD", 0));
	struct kb_strv paths = KB_STRV_INIT, names = KB_STRV_INIT, recs = KB_STRV_INIT;

	if (n > KB_MAX_MODULES) {
		kb_dkms_problem(rd, "BUILT_MODULE_NAME", -1, "declares %lu modules; at most %d", n,
				KB_MAX_MODULES);
		return;
	}
	if (r && !(r->modules = calloc(n ? n : 1, sizeof(*r->modules))))
		return;
	for (unsigned long i = 0; i < n; i++) {
		const char *strip = kb_dkms_value(rd, "STRIP", i);
		struct record rec;

		if (!check_record(rd, i, n, &rec))
			continue;
		/* duplicates: DKMS refuses both (error 8) */
		for (size_t j = 0; j < paths.n; j++) {
			if (!strcmp(paths.v[j], rec.path))
				kb_dkms_problem(rd, "BUILT_MODULE_NAME", (long)i,
						"module '%s' is "
						"declared twice (records %s and %lu)",
						rec.path, recs.v[j], i);
			else if (!strcmp(names.v[j], rec.dest))
				kb_dkms_problem(rd, "DEST_MODULE_NAME", (long)i,
						"two modules install "
						"as '%s' (records %s and %lu)",
						rec.dest, recs.v[j], i);
		}
		kb_strv_push(&paths, rec.path);
		kb_strv_push(&names, rec.dest);
		kb_strv_pushf(&recs, "%lu", i);
		if (!r || !rec.loc) {
			free(rec.path);
			continue;
		}
		r->modules[i].name = strdup(rec.dest);
		r->modules[i].path = rec.path;
		r->modules[i].dest = strdup(kb_dkms_dest(ctx, rec.loc));
		r->modules[i].initramfs = initramfs;
		r->modules[i].line = kb_dkms_line(rd->text, "BUILT_MODULE_NAME", (long)i);
		r->nr_modules = i + 1;
		/* an empty STRIP[i] takes STRIP[0]'s value, else yes */
		if (!strip)
			strip = kb_dkms_value(rd, "STRIP", 0);
		if (b && !(strip && (*strip == 'n' || *strip == 'N')))
			kb_strv_push(&b->strip, r->modules[i].path);
	}
	kb_strv_clear(&paths);
	kb_strv_clear(&names);
	kb_strv_clear(&recs);
}

/* The exclusions of BUILD_EXCLUSIVE_* and OBSOLETE_BY for kernel @k, or NULL. */
char *kb_dkms_exclusion(const struct kb_dkms_reading *rd, const struct kb_kernel *k)
{
	const char *re = kb_dkms_value(rd, "BUILD_EXCLUSIVE_KERNEL", 0);
	const char *arch = kb_dkms_value(rd, "BUILD_EXCLUSIVE_ARCH", 0);
	const char *min = kb_dkms_value(rd, "BUILD_EXCLUSIVE_KERNEL_MIN", 0);
	const char *max = kb_dkms_value(rd, "BUILD_EXCLUSIVE_KERNEL_MAX", 0);
	const char *obsolete = kb_dkms_value(rd, "OBSOLETE_BY", 0);
	const char *config = kb_dkms_value(rd, "BUILD_EXCLUSIVE_CONFIG", 0);
	char *why = NULL;

	if (re && regex_match(re, k->release) == 0)
		return asprintf(&why, "kernel %s does not match BUILD_EXCLUSIVE_KERNEL '%s'",
				k->release, re) < 0 ?
			       NULL :
			       why;
	if (arch && regex_match(arch, k->arch) == 0)
		return asprintf(&why, "architecture %s does not match BUILD_EXCLUSIVE_ARCH '%s'",
				k->arch, arch) < 0 ?
			       NULL :
			       why;
	if (min && strverscmp(k->release, min) < 0)
		return asprintf(&why, "kernel %s is older than BUILD_EXCLUSIVE_KERNEL_MIN %s",
				k->release, min) < 0 ?
			       NULL :
			       why;
	if (max && strverscmp(k->release, max) > 0)
		return asprintf(&why, "kernel %s is newer than BUILD_EXCLUSIVE_KERNEL_MAX %s",
				k->release, max) < 0 ?
			       NULL :
			       why;
	if (obsolete && strverscmp(k->release, obsolete) >= 0)
		return asprintf(&why, "kernel %s has the driver built in: OBSOLETE_BY %s",
				k->release, obsolete) < 0 ?
			       NULL :
			       why;
	if (config) {
		struct kb_strv words = KB_STRV_INIT;

		kb_strv_split(&words, config);
		for (size_t i = 0; !why && i < words.n; i++) {
			bool negated = words.v[i][0] == '!';
			const char *name = words.v[i] + negated;
			_cleanup_free_ char *v = kb_kernel_config(k, name);
			bool set = v && (!strcmp(v, "y") || !strcmp(v, "m"));

			if (set == negated &&
			    asprintf(&why,
				     "%s is %s in kernel %s "
				     "(BUILD_EXCLUSIVE_CONFIG '%s')",
				     name, set ? "set" : "not set", k->release, config) < 0)
				why = NULL;
		}
		kb_strv_clear(&words);
	}
	return why;
}

/* The make command DKMS would run: MAKE[i] by MAKE_MATCH, else kbuild's default. */
char *kb_dkms_make_command(const struct kb_dkms_reading *rd, const struct kb_kernel *k,
			   const char *dkms_tree)
{
	const char *cmd = kb_dkms_value(rd, "MAKE_MATCH", 0) ? NULL : kb_dkms_value(rd, "MAKE", 0);
	struct kb_buf b = KB_BUF_INIT;
	_cleanup_free_ char *config = NULL, *lld = NULL, *dflt = NULL;

	for (unsigned long i = 0; i < kb_dkms_count(&rd->conf, "MAKE"); i++) {
		const char *m = kb_dkms_value(rd, "MAKE", i),
			   *match = kb_dkms_value(rd, "MAKE_MATCH", i);

		if (m && match && regex_match(match, k->release) == 1)
			cmd = m; /* the last match wins */
	}
	if (!cmd) {
		if (asprintf(&dflt, "make -C %s M=%s/%s/%s/build", k->build_dir, dkms_tree,
			     kb_dkms_value(rd, "PACKAGE_NAME", 0),
			     kb_dkms_value(rd, "PACKAGE_VERSION", 0)) < 0)
			return NULL;
		cmd = dflt;
	}
	if (!strncmp(cmd, "make",
		     4)) /* as DKMS does, minus its -j: the jobserver reaches every make */
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

void kb_dkms_reading_init(struct kb_dkms_reading *rd, const char *file, const char *text)
{
	rd->file = file;
	rd->text = text;
	kb_dkms_conf_init(&rd->conf);
	rd->errors = (struct kb_strv)KB_STRV_INIT;
	rd->dkms_code = 0;
}

void kb_dkms_reading_release(struct kb_dkms_reading *rd)
{
	kb_dkms_conf_release(&rd->conf);
	kb_strv_clear(&rd->errors);
}

/* Say, once, what the conf sets that kbuildd will not act on. */
void kb_dkms_tell_ignored(const struct kb_dkms_reading *rd)
{
	for (size_t i = 0; i < ARRAY_SIZE(ignored); i++)
		if (kb_dkms_count(&rd->conf, ignored[i].name))
			kb_warn("%s: %s is not used by kbuildd: %s", rd->file, ignored[i].name,
				ignored[i].why);
	if (kb_dkms_value(rd, "CLEAN", 0) && strcmp(kb_dkms_value(rd, "CLEAN", 0), "true"))
		kb_verbose("%s: CLEAN is not run: every build starts from a fresh copy of the "
			   "source",
			   rd->file);
	for (size_t i = 0; i < rd->conf.unknown.n; i++)
		kb_info("%s: %s is not a DKMS directive; kbuildd ignores it", rd->file,
			rd->conf.unknown.v[i]);
	if (!kb_dkms_nr_records(rd))
		kb_warn("%s: declares no modules (no BUILT_MODULE_NAME or DEST_MODULE_LOCATION); "
			"it will build and install nothing",
			rd->file);
}

int kb_dkms_print_errors(const struct kb_dkms_reading *rd)
{
	if (kb_strv_error(&rd->errors))
		return kb_err_errno(kb_strv_error(&rd->errors), "%s: cannot record its problems",
				    rd->file);
	for (size_t i = 0; i < rd->errors.n; i++)
		kb_err(-KB_E_INPUT, "%s", rd->errors.v[i]);
	return rd->errors.n ? -KB_E_INPUT : 0;
}

/*
 * `patch` reads a PATCH[] file from the snapshot: it must be a regular file
 * in the source's patches/, reached through no symlink. 0 or negative errno
 * (-ELOOP for a symlink, -EINVAL for another type of file).
 */
static int patch_file(struct kb_ctx *ctx, const char *state_dir, const char *p)
{
	char source[PATH_MAX], rel[PATH_MAX];
	struct stat st;
	int dfd, fd, r;

	if (kb_pathf(source, sizeof(source), "%s/source", state_dir) < 0 ||
	    kb_pathf(rel, sizeof(rel), "patches/%s", p) < 0)
		return -ENAMETOOLONG;
	dfd = kb_root_openat(&ctx->root, source, O_PATH | O_DIRECTORY, 0);
	if (dfd < 0)
		return dfd;
	fd = kb_openat_beneath(dfd, rel, O_PATH, 0);
	close(dfd);
	if (fd < 0)
		return fd;
	r = fstat(fd, &st) < 0 ? -errno : S_ISREG(st.st_mode) ? 0 : -EINVAL;
	close(fd);
	return r;
}

/* PATCH[i] whose PATCH_MATCH (if any) matches the kernel, in order; each must exist. */
void kb_dkms_select_patches(struct kb_ctx *ctx, struct kb_dkms_reading *rd,
			    const struct kb_recipe *base, const struct kb_kernel *k,
			    struct kb_strv *out)
{
	for (unsigned long i = 0; i < kb_dkms_count(&rd->conf, "PATCH"); i++) {
		const char *p = kb_dkms_value(rd, "PATCH", i),
			   *match = kb_dkms_value(rd, "PATCH_MATCH", i);
		int r;

		if (!p || !inside(p) || (match && regex_match(match, k->release) != 1))
			continue;
		r = patch_file(ctx, base->state_dir, p);
		if (r < 0) /* DKMS's status for a patch it cannot apply */
			rd->dkms_code = rd->dkms_code ? rd->dkms_code : 5;
		if (r == -ELOOP)
			kb_dkms_problem(rd, "PATCH", (long)i,
					"PATCH[%lu] '%s' is a symbolic link, or "
					"lies behind one; only regular files in patches/ are applied",
					i, p);
		else if (r == -EINVAL)
			kb_dkms_problem(rd, "PATCH", (long)i,
					"PATCH[%lu] '%s' is not a regular file", i, p);
		else if (r < 0)
			kb_dkms_problem(rd, "PATCH", (long)i,
					"PATCH[%lu] '%s' is not in the source's "
					"patches/ directory",
					i, p);
		else
			kb_strv_push(out, p);
	}
}
