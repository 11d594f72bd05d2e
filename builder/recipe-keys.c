/* Recipe keys of [source], [build] and [module NAME]: validation and storage. */
#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/limits.h"
#include "base/util.h"
#include "recipe-parse.h"

static const char *const source_keys[] = {
	"path", "url", "sha256", "strip", "mirrors", "insecure", "git", "commit", "ref", NULL,
};
static const char *const build_keys[] = {
	"kernels", "exclusive_kernel", "arch",	    "requires_config",
	"depends", "patches",	       "make_args", "make",
	"dkms",	   "autoinstall",      NULL,
};
static const char *const module_keys[] = {
	"path", "dest", "initramfs", "autoload", "options", "blacklist", NULL,
};

static bool all_hex(const char *s, size_t len)
{
	if (strlen(s) != len)
		return false;
	for (; *s; s++)
		if (!strchr("0123456789abcdef", *s))
			return false;
	return true;
}

static bool url_ok(const char *v, bool git)
{
	return kb_str_startswith(v, "https://") || kb_str_startswith(v, "http://") ||
	       (git && (kb_str_startswith(v, "git://") || kb_str_startswith(v, "file://") ||
			kb_str_startswith(v, "ssh://")));
}

int rp_handle_source(struct parse_state *ps, const char *key, const char *value)
{
	struct kb_recipe *r = ps->r;

	if (!strcmp(key, "path"))
		return rp_set_string(ps, &r->source_path, key, value);
	if (!strcmp(key, "url")) {
		if (!url_ok(value, false))
			return rp_error(ps, "invalid url '%s': expected http:// or https://",
					value);
		return rp_set_string(ps, &r->url, key, value);
	}
	if (!strcmp(key, "sha256")) {
		if (!all_hex(value, 64))
			return rp_error(ps, "invalid sha256 '%s': expected 64 lowercase hex digits",
					value);
		if (r->sha256[0])
			return rp_error(ps, "'sha256' is given twice");
		memcpy(r->sha256, value, 65);
		return 1;
	}
	if (!strcmp(key, "strip")) {
		if (!rp_once(ps, RP_STRIP, key))
			return 1;
		if (kb_parse_uint(value, 16, &r->strip) < 0)
			return rp_error(ps, "invalid strip '%s': expected a number from 0 to 16",
					value);
		return 1;
	}
	if (!strcmp(key, "mirrors")) {
		size_t before = r->mirrors.n;

		rp_set_list(ps, &r->mirrors, key, value);
		for (size_t i = before; i < r->mirrors.n; i++)
			if (!url_ok(r->mirrors.v[i], false))
				rp_error(ps, "invalid mirror '%s': expected http:// or https://",
					 r->mirrors.v[i]);
		return 1;
	}
	if (!strcmp(key, "insecure")) {
		if (!rp_once(ps, RP_INSECURE, key))
			return 1;
		if (kb_parse_bool(value, &r->insecure) < 0)
			return rp_error(ps, "invalid insecure '%s': expected yes or no", value);
		return 1;
	}
	if (!strcmp(key, "git")) {
		if (!url_ok(value, true))
			return rp_error(ps,
					"invalid git '%s': expected https://, http://, git://, "
					"ssh:// or file://",
					value);
		return rp_set_string(ps, &r->git, key, value);
	}
	if (!strcmp(key, "commit")) {
		if (!all_hex(value, 40))
			return rp_error(ps,
					"invalid commit '%s': expected the full 40-hex-digit "
					"commit id",
					value);
		return rp_set_string(ps, &r->commit, key, value);
	}
	if (!strcmp(key, "ref"))
		return rp_set_string(ps, &r->ref, key, value);
	return rp_unknown_key(ps, "source", key, source_keys);
}

/* How many copies of its atom regcomp() makes for an interval; @p is past the '{'. */
static size_t interval_copies(const char *p, size_t bound)
{
	size_t count = 0, most = 0;

	for (; *p && *p != '}'; p++) {
		if (*p < '0' || *p > '9')
			count = 0; /* past the ',' of {m,n} */
		else if ((count = count * 10 + (size_t)(*p - '0')) > bound)
			return bound + 1;
		if (count > most)
			most = count;
	}
	return most + 1; /* {m,} is m copies and a star */
}

/*
 * glibc's regcomp() unrolls repetitions ("x+" is "xx*", "x{3}" is "xxx"), so
 * nested ones multiply: "((((a+)+)+)+)..." of 100 bytes takes gigabytes.
 * Refuse a regex whose length times the product of its repetition counts
 * passes KB_MAX_REGEX_EXPANDED, an upper bound on what regcomp() builds.
 */
static bool regex_size_ok(const char *re)
{
	size_t bound = KB_MAX_REGEX_EXPANDED / (strlen(re) + 1), copies = 1;

	for (const char *p = re; *p; p++) {
		size_t n = 1;

		if (*p == '\\' && p[1])
			p++;
		else if (*p == '+')
			n = 2;
		else if (*p == '{')
			n = interval_copies(p + 1, bound);
		if (n > bound / copies)
			return false;
		copies *= n;
	}
	return true;
}

/* False (with the error reported) unless regcomp() takes @value without unrolling it too far. */
static bool exclusive_kernel_ok(struct parse_state *ps, const char *value)
{
	regex_t re;
	int rc;

	if (!regex_size_ok(value)) {
		rp_error(ps, "invalid exclusive_kernel regex '%s': too many repetitions", value);
		return false;
	}
	rc = regcomp(&re, value, REG_EXTENDED | REG_NOSUB);
	if (rc) {
		char msg[256];

		regerror(rc, &re, msg, sizeof(msg));
		rp_error(ps, "invalid exclusive_kernel regex '%s': %s", value, msg);
		return false;
	}
	regfree(&re);
	return true;
}

static bool config_name(const char *s)
{
	return kb_str_startswith(s, "CONFIG_");
}

/* Adds @value's items to @list; each new one @ok refuses is "invalid NOUN 'ITEM': expected ...". */
static int set_checked_list(struct parse_state *ps, struct kb_strv *list, const char *key,
			    const char *value, bool (*ok)(const char *), const char *noun,
			    const char *expected)
{
	size_t before = list->n;

	rp_set_list(ps, list, key, value);
	for (size_t i = before; i < list->n; i++)
		if (!ok(list->v[i]))
			rp_error(ps, "invalid %s '%s': expected %s", noun, list->v[i], expected);
	return 1;
}

int rp_handle_build(struct parse_state *ps, const char *key, const char *value)
{
	struct kb_recipe *r = ps->r;

	if (!strcmp(key, "kernels")) {
		const char *why;

		if (kb_range_parse(value, &r->kernels, &why) < 0)
			return rp_error(ps, "invalid kernels '%s': expected %s", value, why);
		r->has_kernels = true;
		return rp_set_string(ps, &r->kernels_text, key, value);
	}
	if (!strcmp(key, "exclusive_kernel")) {
		if (!exclusive_kernel_ok(ps, value))
			return 1;
		return rp_set_string(ps, &r->exclusive_kernel, key, value);
	}
	if (!strcmp(key, "arch"))
		return rp_set_list(ps, &r->arch, key, value);
	if (!strcmp(key, "requires_config"))
		return set_checked_list(ps, &r->requires_config, key, value, config_name,
					"requires_config", "CONFIG_NAME");
	if (!strcmp(key, "depends"))
		return set_checked_list(ps, &r->depends, key, value, kb_recipe_name_valid,
					"depends", "a recipe name");
	if (!strcmp(key, "patches"))
		return set_checked_list(ps, &r->patches, key, value, rp_relative_clean, "patch",
					"a path relative to the recipe, without '..'");
	if (!strcmp(key, "make_args") || !strcmp(key, "make")) {
		struct kb_strv *list = !strcmp(key, "make") ? &r->make_cmd : &r->make_args;
		size_t before = list->n;

		rp_set_list(ps, list, key, value);
		for (size_t i = before; i < list->n; i++)
			rp_placeholders_ok(ps, key, list->v[i]);
		return 1;
	}
	if (!strcmp(key, "dkms")) {
		if (!rp_relative_clean(value))
			return rp_error(ps,
					"invalid dkms '%s': expected the path of a dkms.conf "
					"in the source, without '..'",
					value);
		return rp_set_string(ps, &r->dkms, key, value);
	}
	if (!strcmp(key, "autoinstall")) {
		if (strcmp(value, "yes") && strcmp(value, "no"))
			return rp_error(ps, "invalid autoinstall '%s': expected yes or no", value);
		r->autoinstall = !strcmp(value, "yes");
		return 1;
	}
	return rp_unknown_key(ps, "build", key, build_keys);
}

int rp_handle_module(struct parse_state *ps, const char *key, const char *value)
{
	struct kb_module_spec *m = &ps->r->modules[ps->r->nr_modules - 1];

	if (!strcmp(key, "path")) {
		if (!rp_relative_clean(value))
			return rp_error(ps,
					"invalid path '%s': expected a path relative to the "
					"build directory, without '..'",
					value);
		return rp_set_string(ps, &m->path, key, value);
	}
	if (!strcmp(key, "dest")) {
		if (!kb_dest_valid(value))
			return rp_error(ps,
					"invalid dest '%s': expected a directory under "
					"/lib/modules/KERNEL/, such as updates/kbuildd, without '..', "
					"empty components or the kernel's build and source links",
					value);
		return rp_set_string(ps, &m->dest, key, value);
	}
	if (!strcmp(key, "autoload")) {
		if (!rp_once(ps, RP_AUTOLOAD, key))
			return 1;
		if (kb_parse_bool(value, &m->autoload) < 0)
			return rp_error(ps, "invalid autoload '%s': expected yes or no", value);
		return 1;
	}
	if (!strcmp(key, "options")) {
		size_t before = m->options.n;

		rp_set_list(ps, &m->options, key, value);
		for (size_t i = before; i < m->options.n; i++)
			if (!strchr(m->options.v[i], '=') || m->options.v[i][0] == '=')
				rp_error(ps, "invalid option '%s': expected param=value",
					 m->options.v[i]);
		return 1;
	}
	if (!strcmp(key, "blacklist")) {
		size_t before = m->blacklist.n;

		rp_set_list(ps, &m->blacklist, key, value);
		for (size_t i = before; i < m->blacklist.n; i++)
			if (!rp_name_valid(m->blacklist.v[i], false))
				rp_error(ps, "invalid blacklist '%s': expected a module name",
					 m->blacklist.v[i]);
		return 1;
	}
	if (!strcmp(key, "initramfs")) {
		if (!rp_once(ps, RP_INITRAMFS, key))
			return 1;
		if (kb_parse_bool(value, &m->initramfs) < 0)
			return rp_error(ps, "invalid initramfs '%s': expected yes or no", value);
		return 1;
	}
	return rp_unknown_key(ps, "module", key, module_keys);
}
