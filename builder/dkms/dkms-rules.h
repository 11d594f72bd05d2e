/* The rules DKMS applies when it reads a dkms.conf (its read_conf), on what bash gave back. */
#pragma once

#include <stdbool.h>

#include "ctx.h"
#include "dkms/dkms-eval.h"
#include "dkms/dkms.h"
#include "kernel.h"
#include "recipe.h"

/* One reading of a conf: its text for line numbers, the variables, the problems. */
struct kb_dkms_reading {
	const char *file; /* shown in messages */
	const char *text;
	struct kb_dkms_conf conf;
	struct kb_strv errors;
	int dkms_code; /* DKMS's exit status for the first error: 8, or 5 (PATCH) */
};

void kb_dkms_reading_init(struct kb_dkms_reading *rd, const char *file, const char *text);
void kb_dkms_reading_release(struct kb_dkms_reading *rd);

/* Record a problem, as "file:line: message" when the assignment of NAME[index] is found. */
void kb_dkms_problem(struct kb_dkms_reading *rd, const char *name, long index, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* NAME[i], NULL when unset or empty. */
const char *kb_dkms_value(const struct kb_dkms_reading *rd, const char *name, unsigned long i);

/* What holds for every kernel: names, version, AUTOINSTALL, BUILD_DEPENDS, patches, regexes. */
void kb_dkms_check_common(struct kb_dkms_reading *rd);
/* How many module records the arrays declare (the longest one). */
unsigned long kb_dkms_nr_records(const struct kb_dkms_reading *rd);
/* The module records, checked; filled into @r and the strip list of @b when given. */
void kb_dkms_check_modules(struct kb_ctx *ctx, struct kb_dkms_reading *rd, struct kb_recipe *r,
			   struct kb_dkms_build *b);
/* Why BUILD_EXCLUSIVE_* or OBSOLETE_BY rule out kernel @k, or NULL; caller frees. */
char *kb_dkms_exclusion(const struct kb_dkms_reading *rd, const struct kb_kernel *k);
/* The make command for @k (MAKE/MAKE_MATCH, else kbuild's default); caller frees. */
char *kb_dkms_make_command(const struct kb_dkms_reading *rd, const struct kb_kernel *k,
			   const char *dkms_tree);
/* PATCH[] entries that apply to @k, in order; a missing file is a problem. */
void kb_dkms_select_patches(struct kb_ctx *ctx, struct kb_dkms_reading *rd,
			    const struct kb_recipe *base, const struct kb_kernel *k,
			    struct kb_strv *out);
/* Warn, once, about what the conf sets that kbuildd does not act on. */
void kb_dkms_tell_ignored(const struct kb_dkms_reading *rd);
/* Print the problems; -KB_E_INPUT when there were any. */
int kb_dkms_print_errors(const struct kb_dkms_reading *rd);
