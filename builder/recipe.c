/* Native recipes: an INI file describing a driver's source, build and modules. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <libgen.h>
#include <limits.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

#include "base/limits.h"
#include "base/log.h"
#include "ctx.h"
#include "recipe.h"
#include "recipe-parse.h"

static const char *const recipe_keys[] = { "name", "version", "description", NULL };
void kb_recipe_init(struct kb_recipe *r)
{
	memset(r, 0, sizeof(*r));
	kb_buf_init(&r->text, KB_MAX_RECIPE_SIZE);
	r->autoinstall = true;
}

void kb_recipe_release(struct kb_recipe *r)
{
	free(r->name);
	free(r->version);
	free(r->description);
	free(r->file);
	free(r->dir);
	free(r->source_path);
	free(r->url);
	kb_strv_clear(&r->mirrors);
	free(r->git);
	free(r->commit);
	free(r->ref);
	free(r->kernels_text);
	free(r->exclusive_kernel);
	kb_strv_clear(&r->arch);
	kb_strv_clear(&r->requires_config);
	kb_strv_clear(&r->depends);
	kb_strv_clear(&r->patches);
	kb_strv_clear(&r->make_args);
	kb_strv_clear(&r->make_cmd);
	free(r->dkms);
	if (r->reader && r->reader->release)
		r->reader->release(r->reader_data);
	for (size_t i = 0; i < r->nr_modules; i++) {
		free(r->modules[i].name);
		free(r->modules[i].path);
		free(r->modules[i].dest);
		kb_strv_clear(&r->modules[i].options);
		kb_strv_clear(&r->modules[i].blacklist);
	}
	free(r->modules);
	free(r->excluded);
	free(r->layout.tree);
	kb_strv_clear(&r->layout.source_links);
	free(r->layout.patches);
	kb_strv_clear(&r->command.argv);
	kb_strv_clear(&r->command.env);
	free(r->command.shown);
	kb_buf_release(&r->text);
	free(r->state_dir);
	free(r->source_hash);
	kb_recipe_init(r);
}

const char *kb_recipe_id(const struct kb_recipe *r, char *buf, size_t size)
{
	snprintf(buf, size, "%s/%s", r->name, r->version);
	return buf;
}

bool rp_name_valid(const char *s, bool dots)
{
	size_t len = strlen(s);

	if (!len || len > KB_MAX_NAME || !isalnum((unsigned char)s[0]))
		return false;
	for (; *s; s++) {
		if (isalnum((unsigned char)*s) || *s == '_' || *s == '-')
			continue;
		if (dots && (*s == '.' || *s == '+'))
			continue;
		return false;
	}
	return true;
}

bool kb_recipe_name_valid(const char *s)
{
	return rp_name_valid(s, true);
}

bool kb_recipe_version_valid(const char *s)
{
	size_t len = strlen(s);

	if (!len || len > KB_MAX_VERSION || !isalnum((unsigned char)s[0]))
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("._+~-", *s))
			return false;
	return true;
}

/* Relative, non-empty, no ".." component; when @strict, no empty or "." one either. */
static bool relative_path_ok(const char *p, bool strict)
{
	const char *s = p;

	if (!*p || *p == '/')
		return false;
	while (*s) {
		size_t n = strcspn(s, "/");

		if ((n == 2 && !strncmp(s, "..", 2)) || (strict && (!n || (n == 1 && *s == '.'))))
			return false;
		s += n;
		if (*s == '/')
			s++;
	}
	return !strict || s[-1] != '/';
}

const struct kb_recipe_reader *kb_recipe_reader(const struct kb_ctx *ctx, const struct kb_recipe *r)
{
	if (r->reader)
		return r->reader;
	for (size_t i = 0; r->dkms && ctx->readers && ctx->readers[i]; i++)
		if (!strcmp(ctx->readers[i]->key, "dkms"))
			return ctx->readers[i];
	return NULL;
}

int kb_recipe_step(struct kb_ctx *ctx, const struct kb_recipe *r, enum kb_recipe_step step,
		   const char *kernel)
{
	const struct kb_recipe_reader *rd = kb_recipe_reader(ctx, r);

	return rd && rd->run_step ? rd->run_step(ctx, r, step, kernel) : 0;
}

bool kb_dest_valid(const char *dest)
{
	size_t n = strcspn(dest, "/");

	/* lib/modules/K/build and source are the kernel's links to its trees */
	return relative_path_ok(dest, true) && !(n == 5 && !strncmp(dest, "build", 5)) &&
	       !(n == 6 && !strncmp(dest, "source", 6));
}

int __attribute__((format(printf, 2, 3))) rp_error(struct parse_state *ps, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (ps->line)
		kb_err(-KB_E_INPUT, "%s:%u: %s", ps->file, ps->line, msg);
	else
		kb_err(-KB_E_INPUT, "%s: %s", ps->file, msg);
	ps->errors++;
	return 1; /* keep parsing: report every problem at once */
}

static void list_text(const char *const *list, char *out, size_t size)
{
	size_t used = 0;

	out[0] = '\0';
	for (; *list && used < size; list++)
		used += (size_t)snprintf(out + used, size - used, "%s%s", used ? ", " : "", *list);
}

int rp_unknown_key(struct parse_state *ps, const char *section, const char *key,
		   const char *const *keys)
{
	char expected[512];

	list_text(keys, expected, sizeof(expected));
	return rp_error(ps, "unknown key '%s' in [%s]; expected one of: %s", key, section,
			expected);
}

int rp_set_string(struct parse_state *ps, char **field, const char *key, const char *value)
{
	if (*field && !ps->continuation)
		return rp_error(ps, "'%s' is given twice", key);
	if (*field)
		return rp_error(ps, "'%s' takes a single value, not continuation lines", key);
	if (!*value)
		return rp_error(ps, "'%s' is empty", key);
	*field = strdup(value);
	return *field ? 1 : rp_error(ps, "out of memory");
}

int rp_set_list(struct parse_state *ps, struct kb_strv *list, const char *key, const char *value)
{
	int r;

	if (list->n && !ps->continuation)
		return rp_error(ps,
				"'%s' is given twice; list every value on one line "
				"or on indented lines below it",
				key);
	r = kb_strv_split(list, value);
	if (r == -E2BIG)
		return rp_error(ps, "'%s' has a word longer than 4095 bytes", key);
	if (r < 0)
		return rp_error(ps, "out of memory");
	if (list->n > KB_MAX_LIST_ITEMS)
		return rp_error(ps, "'%s' lists more than %d values", key, KB_MAX_LIST_ITEMS);
	return 1;
}

bool rp_once(struct parse_state *ps, unsigned flag, const char *key)
{
	unsigned *seen = flag >= RP_AUTOLOAD ? &ps->seen_module_keys : &ps->seen_keys;

	if (*seen & flag) {
		rp_error(ps, "'%s' is given twice", key);
		return false;
	}
	*seen |= flag;
	return true;
}

bool rp_placeholders_ok(struct parse_state *ps, const char *key, const char *word)
{
	static const char *const known[] = { "{kernel_release}", "{kernel_build}", "{build_dir}",
					     "{arch}", "{jobs}" };

	for (const char *p = strchr(word, '{'); p; p = strchr(p + 1, '{')) {
		const char *close = strchr(p, '}');
		bool ok = false;

		for (size_t i = 0; close && i < ARRAY_SIZE(known); i++)
			ok = ok || ((size_t)(close - p + 1) == strlen(known[i]) &&
				    !strncmp(p, known[i], strlen(known[i])));
		if (!ok) {
			rp_error(ps,
				 "unknown placeholder in %s '%s'; known: {kernel_release} "
				 "{kernel_build} {build_dir} {arch} {jobs}",
				 key, word);
			return false;
		}
	}
	return true;
}

bool rp_relative_clean(const char *p)
{
	return relative_path_ok(p, false);
}

static int handle_recipe(struct parse_state *ps, const char *key, const char *value)
{
	struct kb_recipe *r = ps->r;

	if (!strcmp(key, "name")) {
		if (!kb_recipe_name_valid(value))
			return rp_error(ps,
					"invalid name '%s': expected letters, digits and "
					"'_.+-', starting with a letter or digit, at most %d",
					value, KB_MAX_NAME);
		return rp_set_string(ps, &r->name, key, value);
	}
	if (!strcmp(key, "version")) {
		if (!kb_recipe_version_valid(value))
			return rp_error(ps,
					"invalid version '%s': expected letters, digits and "
					"'._+~-', e.g. 1.2.0",
					value);
		return rp_set_string(ps, &r->version, key, value);
	}
	if (!strcmp(key, "description"))
		return rp_set_string(ps, &r->description, key, value);
	return rp_unknown_key(ps, "recipe", key, recipe_keys);
}

static int handler(void *user, const char *section, const char *key, const char *value)
{
	struct parse_state *ps = user;
	_cleanup_free_ char *long_value = ps->long_value;

	ps->long_value = NULL;
	if (long_value && !strcmp(value, "\1"))
		value = long_value;
	ps->continuation = ps->continuation && !strcmp(ps->last_key, key) &&
			   !strcmp(ps->last_section, section);
	snprintf(ps->last_key, sizeof(ps->last_key), "%s", key);
	snprintf(ps->last_section, sizeof(ps->last_section), "%s", section);
	if (!*section)
		return rp_error(ps, "'%s' appears before any [section]", key);
	if (!strcmp(section, "recipe"))
		return handle_recipe(ps, key, value);
	if (!strcmp(section, "source"))
		return rp_handle_source(ps, key, value);
	if (!strcmp(section, "build"))
		return rp_handle_build(ps, key, value);
	if (kb_str_startswith(section, "module ") && ps->r->nr_modules)
		return rp_handle_module(ps, key, value);
	return 1; /* unknown sections were reported by the reader */
}

/* "[module NAME]": start a module; other headers are checked by name. */
static void section_header(struct parse_state *ps, const char *line)
{
	char name[256];
	const char *close = strchr(line, ']');
	size_t len;

	if (!close)
		return; /* inih reports the malformed line */
	len = (size_t)(close - line - 1);
	if (len >= sizeof(name)) {
		rp_error(ps, "section name too long");
		return;
	}
	memcpy(name, line + 1, len);
	name[len] = '\0';
	if (!strcmp(name, "recipe") || !strcmp(name, "source") || !strcmp(name, "build")) {
		bool *seen = !strcmp(name, "recipe") ? &ps->seen_recipe :
			     !strcmp(name, "source") ? &ps->seen_source :
						       &ps->seen_build;

		if (*seen)
			rp_error(ps, "[%s] appears twice", name);
		*seen = true;
		return;
	}
	if (kb_str_startswith(name, "module ")) {
		struct kb_recipe *r = ps->r;
		const char *mod = kb_strstrip(name + 7);
		struct kb_module_spec *mods;

		if (!rp_name_valid(mod, false)) {
			rp_error(ps,
				 "invalid module name '%s': expected letters, digits, "
				 "'_' and '-'",
				 mod);
			return;
		}
		for (size_t i = 0; i < r->nr_modules; i++)
			if (!strcmp(r->modules[i].name, mod)) {
				rp_error(ps, "[module %s] appears twice (first on line %u)", mod,
					 r->modules[i].line);
				return;
			}
		if (r->nr_modules == KB_MAX_MODULES) {
			rp_error(ps, "more than %d modules", KB_MAX_MODULES);
			return;
		}
		mods = realloc(r->modules, (r->nr_modules + 1) * sizeof(*mods));
		if (!mods) {
			rp_error(ps, "out of memory");
			return;
		}
		r->modules = mods;
		memset(&mods[r->nr_modules], 0, sizeof(*mods));
		mods[r->nr_modules].name = strdup(mod);
		ps->seen_module_keys = 0;
		mods[r->nr_modules].line = ps->line;
		r->nr_modules++;
		return;
	}
	rp_error(ps,
		 "unknown section [%s]; expected [recipe], [source], [build] or "
		 "[module NAME]",
		 name);
}

/*
 * A line longer than inih's buffer: a comment is dropped, and a
 * `key = value` (a deep path, say) reaches inih as `key = \1` with the
 * value kept aside for the handler; anything else is an error.
 */
static char *long_line(struct parse_state *ps, const char *start, size_t len, char *str, int num)
{
	const char *p = start, *end = start + len, *eq = memchr(start, '=', len);

	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	str[0] = '\n';
	str[1] = '\0';
	if (p < end && (*p == ';' || *p == '#'))
		return str;
	if (memchr(start, '\0', len)) {
		rp_error(ps, "line contains a NUL byte");
		return str;
	}
	if (len > KB_MAX_RECIPE_LINE || !eq || eq - start > num - 8) {
		rp_error(ps, "line is longer than %d bytes; continue long lists on indented lines",
			 len > KB_MAX_RECIPE_LINE ? KB_MAX_RECIPE_LINE : num - 2);
		return str;
	}
	for (p = eq + 1; p < end && (*p == ' ' || *p == '\t'); p++)
		;
	while (end > p && strchr(" \t\r\n", end[-1]))
		end--;
	free(ps->long_value);
	ps->long_value = strndup(p, (size_t)(end - p));
	if (!ps->long_value) {
		rp_error(ps, "out of memory");
		return str;
	}
	memcpy(str, start, (size_t)(eq - start));
	memcpy(str + (eq - start), "= \1\n", 5);
	ps->continuation = start[0] == ' ' || start[0] == '\t';
	return str;
}

/* inih's line reader: counts lines, catches over-long ones and section headers. */
static char *reader(char *str, int num, void *stream)
{
	struct parse_state *ps = stream;
	const char *nl, *start;
	size_t len, full;

	if (ps->pos >= ps->end)
		return NULL;
	nl = memchr(ps->pos, '\n', (size_t)(ps->end - ps->pos));
	full = nl ? (size_t)(nl - ps->pos) + 1 : (size_t)(ps->end - ps->pos);
	ps->line++;
	start = ps->pos;
	ps->pos += full;
	len = full;
	if (len + 1 > (size_t)num)
		return long_line(ps, start, len, str, num);
	if (memchr(start, '\0', len)) {
		rp_error(ps, "line contains a NUL byte");
		str[0] = '\n';
		str[1] = '\0';
		return str;
	}
	memcpy(str, start, len);
	str[len] = '\0';
	ps->continuation = len && (str[0] == ' ' || str[0] == '\t');
	{
		const char *p = str;

		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '[' && !strchr(p, ']')) {
			/* Reported here: inih would only return its first bad line. */
			rp_error(ps, "expected ']' to end the section name");
			str[0] = '\n';
			str[1] = '\0';
		} else if (*p == '[') {
			section_header(ps, p);
		}
	}
	return str;
}

static void validate(struct parse_state *ps)
{
	struct kb_recipe *r = ps->r;

	ps->line = 0;
	if (!r->name)
		rp_error(ps, "missing 'name' in [recipe]");
	if (!r->version)
		rp_error(ps, "missing 'version' in [recipe]");
	if (!!r->source_path + !!r->url + !!r->git != 1)
		rp_error(ps, "[source] needs exactly one of 'path', 'url' or 'git'");
	if (r->url && !r->sha256[0] && !r->insecure)
		rp_error(ps, "[source] 'url' needs 'sha256 = <64 hex>' to pin the download "
			     "(or 'insecure = yes' to accept any content)");
	if (!r->url && (r->sha256[0] || r->strip || r->mirrors.n || r->insecure))
		rp_error(ps, "[source] 'sha256', 'strip', 'mirrors' and 'insecure' go with 'url'");
	if (r->git && !r->commit)
		rp_error(ps, "[source] 'git' needs 'commit = <40 hex>' to pin the revision");
	if (!r->git && (r->commit || r->ref))
		rp_error(ps, "[source] 'commit' and 'ref' go with 'git'");
	if (!r->nr_modules && !r->dkms)
		rp_error(ps, "no [module NAME] section: name the modules the build produces");
	if (r->dkms && (r->nr_modules || r->make_cmd.n || r->make_args.n || r->patches.n))
		rp_error(ps, "[build] 'dkms' defines the modules, make command and patches; "
			     "drop the [module] sections and 'make', 'make_args' and 'patches'");
	if (r->name && kb_strv_contains(&r->depends, r->name))
		rp_error(ps, "'%s' depends on itself", r->name);
}

int kb_recipe_error(const struct kb_recipe *r)
{
	const struct kb_strv *lists[] = { &r->mirrors, &r->arch,    &r->requires_config,
					  &r->depends, &r->patches, &r->make_args,
					  &r->make_cmd };
	int err = kb_buf_error(&r->text);

	for (size_t i = 0; !err && i < ARRAY_SIZE(lists); i++)
		err = kb_strv_error(lists[i]);
	for (size_t i = 0; !err && i < r->nr_modules; i++) {
		err = kb_strv_error(&r->modules[i].options);
		if (!err)
			err = kb_strv_error(&r->modules[i].blacklist);
	}
	return err;
}

int kb_recipe_parse(struct kb_recipe *r, const char *file, const char *text, size_t len)
{
	struct parse_state ps = { .r = r, .file = file, .pos = text, .end = text + len };
	int rc;

	if (len > KB_MAX_RECIPE_SIZE)
		return kb_err(-KB_E_INPUT, "%s: larger than %d bytes", file, KB_MAX_RECIPE_SIZE);
	free(r->file);
	r->file = strdup(file);
	kb_buf_reset(&r->text);
	if (!r->file || kb_buf_add(&r->text, text, len) < 0)
		return -ENOMEM;
	rc = ini_parse_stream(reader, &ps, handler, &ps);
	free(ps.long_value);
	if (rc > 0) {
		ps.line = (unsigned)rc;
		rp_error(&ps, "expected 'key = value', '[section]' or a comment");
	} else if (rc < 0) {
		return -ENOMEM;
	}
	if (!ps.errors)
		validate(&ps);
	for (size_t i = 0; !ps.errors && i < r->nr_modules; i++) {
		struct kb_module_spec *m = &r->modules[i];

		if (!m->path && asprintf(&m->path, "%s.ko", m->name) < 0)
			return -ENOMEM;
	}
	if (ps.errors)
		return -KB_E_INPUT;
	rc = kb_recipe_error(r);
	return rc < 0 ? kb_err_errno(rc, "%s: cannot hold the recipe", file) : 0;
}

int kb_recipe_load(struct kb_recipe *r, const char *path)
{
	struct kb_buf text = KB_BUF_INIT_MAX(KB_MAX_RECIPE_SIZE);
	char copy[PATH_MAX];
	char *real;
	int ret;

	ret = kb_read_file(AT_FDCWD, path, KB_MAX_RECIPE_SIZE, &text);
	if (ret == -EFBIG)
		ret = kb_err(-KB_E_INPUT, "%s: larger than %d bytes", path, KB_MAX_RECIPE_SIZE);
	else if (ret < 0 && ret != -KB_E_INPUT)
		ret = kb_err(-KB_E_INPUT, "cannot read recipe '%s': %s", path, strerror(-ret));
	if (ret < 0)
		goto out;
	ret = kb_recipe_parse(r, path, kb_buf_str(&text), text.len);
	if (ret < 0)
		goto out;
	real = realpath(path, NULL);
	if (!real) {
		ret = -errno;
		goto out;
	}
	snprintf(copy, sizeof(copy), "%s", real);
	free(real);
	r->dir = strdup(dirname(copy));
	if (!r->dir)
		ret = -ENOMEM;
out:
	kb_buf_release(&text);
	return ret;
}
