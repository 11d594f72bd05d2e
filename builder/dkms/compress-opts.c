/* DKMS's compress_{xz,zstd,gzip}_opts, read as those programs read their command lines. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lzma.h>

#include "base/util.h"
#include "compress.h"

/* What a word does; the program decides which words exist. */
enum opt_kind {
	OPT_NOOP,	   /* about files, messages or threads: the result is the same */
	OPT_NOOP_ARG,	   /* the same, taking an argument (-T N) */
	OPT_LEVEL_ARG,	   /* --fast[=N], --best: fixed or given level */
	OPT_EXTREME,	   /* xz -e */
	OPT_CHECK,	   /* xz --check=NAME */
	OPT_LZMA2,	   /* xz --lzma2[=OPTS] */
	OPT_ULTRA,	   /* zstd --ultra: levels past 19 */
	OPT_ZSTD_CHECK,	   /* zstd --check */
	OPT_ZSTD_NO_CHECK, /* zstd --no-check */
};

struct opt {
	const char *name; /* long name, or NULL */
	char letter;	  /* short letter, or 0 */
	enum opt_kind kind;
	int level; /* OPT_LEVEL_ARG without an argument */
};

static const struct opt xz_opts[] = {
	{ "quiet", 'q', OPT_NOOP, 0 },
	{ "verbose", 'v', OPT_NOOP, 0 },
	{ "force", 'f', OPT_NOOP, 0 },
	{ "keep", 'k', OPT_NOOP, 0 },
	{ "compress", 'z', OPT_NOOP, 0 },
	{ "no-warn", 'Q', OPT_NOOP, 0 },
	{ "threads", 'T', OPT_NOOP_ARG, 0 },
	{ "extreme", 'e', OPT_EXTREME, 0 },
	{ "fast", 0, OPT_LEVEL_ARG, 0 },
	{ "best", 0, OPT_LEVEL_ARG, 9 },
	{ "check", 'C', OPT_CHECK, 0 },
	{ "lzma2", 0, OPT_LZMA2, 0 },
	{ NULL, 0, OPT_NOOP, 0 },
};

static const struct opt zstd_opts[] = {
	{ "quiet", 'q', OPT_NOOP, 0 },
	{ "verbose", 'v', OPT_NOOP, 0 },
	{ "force", 'f', OPT_NOOP, 0 },
	{ "keep", 'k', OPT_NOOP, 0 },
	{ "rm", 0, OPT_NOOP, 0 },
	{ "compress", 'z', OPT_NOOP, 0 },
	{ "threads", 'T', OPT_NOOP_ARG, 0 },
	{ "ultra", 0, OPT_ULTRA, 0 },
	{ "fast", 0, OPT_LEVEL_ARG, -1 },
	{ "check", 'C', OPT_ZSTD_CHECK, 0 },
	{ "no-check", 0, OPT_ZSTD_NO_CHECK, 0 },
	{ NULL, 0, OPT_NOOP, 0 },
};

static const struct opt gzip_opts[] = {
	{ "quiet", 'q', OPT_NOOP, 0 },	 { "verbose", 'v', OPT_NOOP, 0 },
	{ "force", 'f', OPT_NOOP, 0 },	 { "keep", 'k', OPT_NOOP, 0 },
	{ "no-name", 'n', OPT_NOOP, 0 }, { "name", 'N', OPT_NOOP, 0 },
	{ "fast", 0, OPT_LEVEL_ARG, 1 }, { "best", 0, OPT_LEVEL_ARG, 9 },
	{ NULL, 0, OPT_NOOP, 0 },
};

void kb_compress_opts_init(struct kb_compress_opts *o)
{
	*o = (struct kb_compress_opts){
		.xz_preset = 6,
		.xz_check = LZMA_CHECK_CRC32,
		.xz_custom = true,
		.xz_custom_preset = 6,
		.xz_dict = 1 << 20,
		.xz_lc = -1,
		.xz_lp = -1,
		.xz_pb = -1,
		.xz_nice = -1,
		.xz_depth = -1,
		.zstd_level = 3,
	};
}

static int __attribute__((format(printf, 3, 4))) bad(char *why, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, size, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* xz's sizes: digits, then k, M or G (either case), then "i" and/or "B". */
static int xz_size(const char *s, uint32_t *out)
{
	char *end;
	unsigned long long v;
	unsigned shift = 0;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	if (*end == 'k' || *end == 'K')
		shift = 10;
	else if (*end == 'm' || *end == 'M')
		shift = 20;
	else if (*end == 'g' || *end == 'G')
		shift = 30;
	if (shift) {
		end++;
		if (*end == 'i')
			end++;
		if (*end == 'B')
			end++;
	}
	if (*end || v > (1536ULL << 20) >> shift || v << shift < 4096)
		return -EINVAL;
	*out = (uint32_t)(v << shift);
	return 0;
}

static int xz_preset_word(const char *s, unsigned *preset, bool *extreme)
{
	if (s[0] < '0' || s[0] > '9' || (s[1] && strcmp(s + 1, "e")))
		return -EINVAL;
	*preset = (unsigned)(s[0] - '0');
	*extreme = s[1] == 'e';
	return 0;
}

/* One NAME=VALUE of --lzma2. */
static int xz_lzma2_option(char *kv, struct kb_compress_opts *o, char *why, size_t size)
{
	static const struct {
		const char *name;
		size_t off;
		int max;
	} nums[] = {
		{ "lc", offsetof(struct kb_compress_opts, xz_lc), 4 },
		{ "lp", offsetof(struct kb_compress_opts, xz_lp), 4 },
		{ "pb", offsetof(struct kb_compress_opts, xz_pb), 4 },
		{ "nice", offsetof(struct kb_compress_opts, xz_nice), 273 },
		{ "depth", offsetof(struct kb_compress_opts, xz_depth), 1 << 30 },
	};
	char *eq = strchr(kv, '=');
	unsigned long n;
	size_t i;

	if (!eq)
		return bad(why, size, "--lzma2 option '%s' has no value", kv);
	*eq++ = '\0';
	if (!strcmp(kv, "preset"))
		return xz_preset_word(eq, &o->xz_custom_preset, &o->xz_custom_extreme) < 0 ?
			       bad(why, size, "--lzma2 preset '%s': expected 0-9, or 0e-9e", eq) :
			       0;
	if (!strcmp(kv, "dict"))
		return xz_size(eq, &o->xz_dict) < 0 ?
			       bad(why, size,
				   "--lzma2 dict '%s': expected a size from 4KiB to 1536MiB", eq) :
			       0;
	for (i = 0; i < ARRAY_SIZE(nums) && strcmp(nums[i].name, kv); i++)
		;
	if (i == ARRAY_SIZE(nums))
		return bad(why, size,
			   "--lzma2 option '%s' is not one kbuildd applies (preset, "
			   "dict, lc, lp, pb, nice, depth)",
			   kv);
	if (kb_parse_uint(eq, (unsigned long)nums[i].max, &n) < 0)
		return bad(why, size, "--lzma2 value '%s' is out of range", eq);
	*(int *)((char *)o + nums[i].off) = (int)n;
	return 0;
}

/* --lzma2=preset=N,dict=SIZE,lc=N,...: the chain starts from preset 6, as in xz. */
static int xz_lzma2(const char *spec, struct kb_compress_opts *o, char *why, size_t size)
{
	char *copy, *save = NULL;
	int r = 0;

	if (o->xz_custom)
		return bad(why, size, "--lzma2: a second filter chain (xz refuses it too)");
	copy = strdup(spec ? spec : "");
	if (!copy)
		return -ENOMEM;
	o->xz_custom = true;
	o->xz_custom_preset = 6;
	o->xz_custom_extreme = false;
	o->xz_dict = 0;
	o->xz_lc = o->xz_lp = o->xz_pb = o->xz_nice = o->xz_depth = -1;
	for (char *kv = strtok_r(copy, ",", &save); r >= 0 && kv; kv = strtok_r(NULL, ",", &save))
		r = xz_lzma2_option(kv, o, why, size);
	free(copy);
	return r;
}

static int xz_check(const char *name, int *check)
{
	static const struct {
		const char *name;
		int check;
	} checks[] = {
		{ "none", LZMA_CHECK_NONE },
		{ "crc32", LZMA_CHECK_CRC32 },
		{ "crc64", LZMA_CHECK_CRC64 },
		{ "sha256", LZMA_CHECK_SHA256 },
	};

	for (size_t i = 0; name && i < ARRAY_SIZE(checks); i++)
		if (!strcmp(checks[i].name, name)) {
			*check = checks[i].check;
			return 0;
		}
	return -EINVAL;
}

struct parse {
	enum kb_compress how;
	struct kb_compress_opts *o;
	bool ultra;
	char *why;
	size_t size;
};

static int set_level(struct parse *p, long level)
{
	if (p->how == KB_COMPRESS_XZ) {
		p->o->xz_preset = (unsigned)level; /* a preset clears a custom chain */
		p->o->xz_custom = false;
	} else {
		p->o->zstd_level = (int)level;
	}
	return 0;
}

/* One option of @kind; @arg is its argument (NULL when none was given). */
static int apply(struct parse *p, const struct opt *opt, const char *word, const char *arg)
{
	unsigned long n;

	switch (opt->kind) {
	case OPT_NOOP:
	case OPT_NOOP_ARG:
		return 0;
	case OPT_LEVEL_ARG:
		if (!arg)
			return set_level(p, opt->level);
		if (p->how != KB_COMPRESS_ZSTD || kb_parse_uint(arg, 131072, &n) < 0 || !n)
			return bad(p->why, p->size, "'%s': expected --fast=N (zstd only)", word);
		return set_level(p, -(long)n);
	case OPT_EXTREME:
		p->o->xz_extreme = true;
		p->o->xz_custom = false;
		return 0;
	case OPT_CHECK:
		return xz_check(arg, &p->o->xz_check) < 0 ?
			       bad(p->why, p->size, "'%s': expected crc32, crc64, sha256 or none",
				   word) :
			       0;
	case OPT_LZMA2:
		return xz_lzma2(arg, p->o, p->why, p->size);
	case OPT_ULTRA:
		p->ultra = true;
		return 0;
	case OPT_ZSTD_CHECK:
	case OPT_ZSTD_NO_CHECK:
		p->o->zstd_checksum = opt->kind == OPT_ZSTD_CHECK;
		return 0;
	}
	return -EINVAL;
}

static bool takes_arg(const struct opt *opt, bool optional)
{
	return opt->kind == OPT_NOOP_ARG || opt->kind == OPT_CHECK ||
	       (optional && (opt->kind == OPT_LZMA2 || opt->kind == OPT_LEVEL_ARG));
}

/* --name, --name=value, --name value (a required argument may be the next word). */
static int long_opt(struct parse *p, const struct opt *table, const char *word, const char *next,
		    bool *used_next)
{
	const char *eq = strchr(word, '=');
	size_t len = eq ? (size_t)(eq - word - 2) : strlen(word + 2);

	for (const struct opt *o = table; o->name || o->letter; o++) {
		if (!o->name || strlen(o->name) != len || strncmp(o->name, word + 2, len))
			continue;
		if (eq && !takes_arg(o, true))
			return bad(p->why, p->size, "'%s' takes no value", word);
		if (!eq && takes_arg(o, false)) {
			if (!next)
				return bad(p->why, p->size, "'%s' needs a value", word);
			*used_next = true;
			return apply(p, o, word, next);
		}
		return apply(p, o, word, eq ? eq + 1 : NULL);
	}
	return bad(p->why, p->size, "'%s' is not an option kbuildd can apply", word);
}

/* -9e, -qT0, -19, -C crc32: letters bundled, digits a level, an argument the rest or next. */
static int short_opts(struct parse *p, const struct opt *table, const char *word, const char *next,
		      bool *used_next)
{
	for (const char *c = word + 1; *c; c++) {
		const struct opt *o = table;

		if (*c >= '0' && *c <= '9') {
			char *end;
			long level = strtol(c, &end, 10);

			/* xz reads one digit per level, zstd the whole number */
			if (p->how != KB_COMPRESS_ZSTD)
				end = (char *)c + 1, level = *c - '0';
			if (p->how == KB_COMPRESS_ZSTD && (level < 1 || level > 22))
				return bad(p->why, p->size, "'%s': zstd levels are 1 to 22", word);
			if (p->how == KB_COMPRESS_GZIP && level < 1)
				return bad(p->why, p->size, "'%s': gzip levels are 1 to 9", word);
			set_level(p, level);
			c = end - 1;
			continue;
		}
		while ((o->name || o->letter) && o->letter != *c)
			o++;
		if (!o->letter)
			return bad(p->why, p->size, "'%s' is not an option kbuildd can apply",
				   word);
		if (takes_arg(o, false)) {
			if (c[1])
				return apply(p, o, word, c + 1);
			if (!next)
				return bad(p->why, p->size, "'%s' needs a value", word);
			*used_next = true;
			return apply(p, o, word, next);
		}
		if (apply(p, o, word, NULL) < 0)
			return -EINVAL;
	}
	return 0;
}

int kb_compress_opts_parse(enum kb_compress how, const char *opts, struct kb_compress_opts *o,
			   char *why, size_t size)
{
	const struct opt *table = how == KB_COMPRESS_XZ	  ? xz_opts :
				  how == KB_COMPRESS_ZSTD ? zstd_opts :
							    gzip_opts;
	struct parse p = { .how = how, .o = o, .why = why, .size = size };
	struct kb_strv words = KB_STRV_INIT;
	int r = kb_strv_split(&words, opts);

	/* the options replace DKMS's whole default: start from the program's own */
	if (how == KB_COMPRESS_XZ) {
		o->xz_preset = 6;
		o->xz_extreme = o->xz_custom = false;
		o->xz_check = LZMA_CHECK_CRC64;
	} else if (how == KB_COMPRESS_ZSTD) {
		o->zstd_level = 3;
		o->zstd_checksum = true;
	}
	for (size_t i = 0; r >= 0 && i < words.n; i++) {
		const char *w = words.v[i], *next = i + 1 < words.n ? words.v[i + 1] : NULL;
		bool used_next = false;

		if (w[0] != '-' || !w[1])
			r = bad(why, size, "'%s' is not an option (DKMS would take it for a file)",
				w);
		else if (w[1] == '-')
			r = long_opt(&p, table, w, next, &used_next);
		else
			r = short_opts(&p, table, w, next, &used_next);
		i += used_next;
	}
	/* as zstd: past 19 only with --ultra, wherever it stands */
	if (r >= 0 && how == KB_COMPRESS_ZSTD && o->zstd_level > 19 && !p.ultra)
		o->zstd_level = 19;
	kb_strv_clear(&words);
	return r < 0 ? r : 0;
}
