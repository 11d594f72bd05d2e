/* Kernel versions and version ranges. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "base/strbuf.h"
#include "version.h"

/* Read up to three dot-separated numbers; returns how many, 0 on none. */
static unsigned parse_numbers(const char **sp, unsigned out[3])
{
	const char *s = *sp;
	unsigned n = 0;

	out[0] = out[1] = out[2] = 0;
	while (n < 3 && isdigit((unsigned char)*s)) {
		unsigned long v = 0;

		while (isdigit((unsigned char)*s)) {
			v = v * 10 + (unsigned long)(*s++ - '0');
			if (v > 1000000)
				return 0;
		}
		out[n++] = (unsigned)v;
		if (*s != '.' || !isdigit((unsigned char)s[1]))
			break;
		s++;
	}
	*sp = s;
	return n;
}

int kb_kver_parse(const char *release, struct kb_kver *out)
{
	unsigned v[3];

	if (parse_numbers(&release, v) < 2)
		return -EINVAL;
	out->major = v[0];
	out->minor = v[1];
	out->patch = v[2];
	return 0;
}

int kb_kver_cmp(const struct kb_kver *a, const struct kb_kver *b)
{
	if (a->major != b->major)
		return a->major < b->major ? -1 : 1;
	if (a->minor != b->minor)
		return a->minor < b->minor ? -1 : 1;
	if (a->patch != b->patch)
		return a->patch < b->patch ? -1 : 1;
	return 0;
}

static int parse_op(const char **sp, enum kb_cmp *op)
{
	static const struct {
		const char *text;
		enum kb_cmp op;
	} ops[] = {
		{ "<=", KB_CMP_LE }, { ">=", KB_CMP_GE }, { "!=", KB_CMP_NE }, { "==", KB_CMP_EQ },
		{ "<", KB_CMP_LT },  { ">", KB_CMP_GT },  { "=", KB_CMP_EQ },
	};

	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		size_t len = strlen(ops[i].text);

		if (!strncmp(*sp, ops[i].text, len)) {
			*op = ops[i].op;
			*sp += len;
			return 0;
		}
	}
	return -EINVAL;
}

int kb_range_parse(const char *s, struct kb_range *out, const char **why)
{
	const char *dummy;

	if (!why)
		why = &dummy;
	out->n = 0;
	for (;;) {
		struct kb_range_term *t;
		unsigned v[3];

		while (isspace((unsigned char)*s))
			s++;
		if (!*s)
			break;
		if (out->n == KB_RANGE_MAX_TERMS) {
			*why = "at most 8 comparisons";
			return -EINVAL;
		}
		t = &out->terms[out->n];
		if (parse_op(&s, &t->op) < 0) {
			*why = "a comparison (<, <=, >, >=, =, !=) followed by a version, e.g. '>= 5.10, < 7'";
			return -EINVAL;
		}
		while (isspace((unsigned char)*s))
			s++;
		t->parts = parse_numbers(&s, v);
		if (!t->parts) {
			*why = "a version such as 6, 6.1 or 6.1.12 after the comparison";
			return -EINVAL;
		}
		t->ver = (struct kb_kver){ v[0], v[1], v[2] };
		out->n++;
		while (isspace((unsigned char)*s))
			s++;
		if (*s == ',') {
			s++;
			while (isspace((unsigned char)*s))
				s++;
			if (!*s) {
				*why = "a comparison after each comma, e.g. '>= 5.10, < 7'";
				return -EINVAL;
			}
			continue;
		}
		if (*s) {
			*why = "comparisons separated by commas, e.g. '>= 5.10, < 7'";
			return -EINVAL;
		}
	}
	if (!out->n) {
		*why = "at least one comparison, e.g. '>= 5.10'";
		return -EINVAL;
	}
	return 0;
}

/* Compare only the parts the term spelled out: "= 6.1" matches 6.1.x. */
static int cmp_parts(const struct kb_kver *v, const struct kb_range_term *t)
{
	struct kb_kver trunc = *v;

	if (t->parts < 3)
		trunc.patch = 0;
	if (t->parts < 2)
		trunc.minor = 0;
	return kb_kver_cmp(&trunc, &t->ver);
}

bool kb_range_match(const struct kb_range *r, const struct kb_kver *v)
{
	for (size_t i = 0; i < r->n; i++) {
		int c = cmp_parts(v, &r->terms[i]);
		bool ok;

		switch (r->terms[i].op) {
		case KB_CMP_LT:
			ok = c < 0;
			break;
		case KB_CMP_LE:
			ok = c <= 0;
			break;
		case KB_CMP_GT:
			ok = c > 0;
			break;
		case KB_CMP_GE:
			ok = c >= 0;
			break;
		case KB_CMP_EQ:
			ok = c == 0;
			break;
		case KB_CMP_NE:
			ok = c != 0;
			break;
		default:
			ok = false;
			break;
		}
		if (!ok)
			return false;
	}
	return true;
}

/* DKMS's VER(): every run of one or two digits padded to three; other text kept. */
static void dkms_ver(const char *s, struct kb_buf *out)
{
	while (*s) {
		size_t n = strspn(s, "0123456789");

		if (n == 1 || n == 2)
			kb_buf_addf(out, "%.*s", 3 - (int)n, "00");
		if (!n)
			n = strcspn(s, "0123456789");
		kb_buf_add(out, s, n);
		s += n;
	}
}

int kb_dkms_vercmp(const char *a, const char *b)
{
	struct kb_buf pa = KB_BUF_INIT_MAX(1024), pb = KB_BUF_INIT_MAX(1024);
	int c;

	dkms_ver(a, &pa);
	dkms_ver(b, &pb);
	c = strcmp(kb_buf_str(&pa), kb_buf_str(&pb));
	kb_buf_release(&pa);
	kb_buf_release(&pb);
	return c;
}
