/* Kernel versions ("6.12.117+deb12-amd64" -> 6.12.117) and ranges (">= 5.10, < 7"). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct kb_kver {
	unsigned major, minor, patch;
};

enum kb_cmp { KB_CMP_LT, KB_CMP_LE, KB_CMP_GT, KB_CMP_GE, KB_CMP_EQ, KB_CMP_NE };

struct kb_range_term {
	enum kb_cmp op;
	struct kb_kver ver;
	unsigned parts; /* how many of major.minor.patch were written */
};

#define KB_RANGE_MAX_TERMS 8

struct kb_range {
	struct kb_range_term terms[KB_RANGE_MAX_TERMS];
	size_t n; /* 0: every kernel matches */
};

/* Parse the leading "X.Y[.Z]" of a release; 0 or -EINVAL. */
int kb_kver_parse(const char *release, struct kb_kver *out);
int kb_kver_cmp(const struct kb_kver *a, const struct kb_kver *b);

/*
 * Parse ">= 5.10, < 7". On error returns -EINVAL and, when @why is set,
 * points it at a static description of what was expected.
 */
int kb_range_parse(const char *s, struct kb_range *out, const char **why);
bool kb_range_match(const struct kb_range *r, const struct kb_kver *v);

/*
 * Compare two module versions as DKMS does (its VER(): numbers of one or
 * two digits padded to three, then compared as strings, here in the C
 * locale's order): <0, 0 or >0. "1.10" is newer than "1.9"; "1000" is
 * older than "999", as in DKMS.
 */
int kb_dkms_vercmp(const char *a, const char *b);
