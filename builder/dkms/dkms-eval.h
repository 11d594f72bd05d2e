/* Running a dkms.conf through bash and reading back the variables it set. */
#pragma once

#include <stdbool.h>

#include "base/strbuf.h"
#include "base/util.h"
#include "ctx.h"

struct kb_dkms_var {
	char *name;
	unsigned long index;
	char *value;
};

struct kb_dkms_conf {
	struct kb_dkms_var *v;
	size_t n;
	struct kb_strv unknown; /* capitalised variables the conf set that DKMS does not read */
	struct kb_buf dump;	/* the records as bash printed them: hashed into build ids */
	struct kb_buf noise;	/* what sourcing printed on stderr */
};

/* What DKMS lets a conf see while it is sourced. NULL fields are left unset. */
struct kb_dkms_env {
	const char *kernelver, *arch, *kernel_source_dir, *kernel_config;
	const char *dkms_tree, *source_tree, *install_tree;
	const char *module, *module_version;
	unsigned jobs;
	const struct kb_strv *kernel_trees; /* kept in view for the reading, or NULL */
};

void kb_dkms_conf_init(struct kb_dkms_conf *c);
void kb_dkms_conf_release(struct kb_dkms_conf *c);

/*
 * Source @files (the conf, then /etc/dkms overrides) in one bash with a
 * clean environment holding @env, in directory @dir, as the build user,
 * and read back every DKMS directive it set. -KB_E_INPUT when bash could
 * not run the files to the end.
 */
int kb_dkms_eval(struct kb_ctx *ctx, const struct kb_strv *files, const char *dir,
		 const struct kb_dkms_env *env, struct kb_dkms_conf *out);
/*
 * The same for any file DKMS reads with safe_source: only the variables
 * in @names (NULL-terminated) are read back; framework.conf uses it.
 */
int kb_dkms_eval_names(struct kb_ctx *ctx, const struct kb_strv *files, const char *dir,
		       const struct kb_dkms_env *env, const char *const *names,
		       struct kb_dkms_conf *out);

/* Parse records "NAME\0INDEX\0VALUE\0..." (an evaluation's output) into @c. */
int kb_dkms_conf_parse(struct kb_dkms_conf *c, const char *dump, size_t len);

/* NAME[index], or NULL when unset; a trailing CR is already gone. */
const char *kb_dkms_get(const struct kb_dkms_conf *c, const char *name, unsigned long index);
/* Highest index set + 1 (a scalar counts as index 0). */
unsigned long kb_dkms_count(const struct kb_dkms_conf *c, const char *name);

/* @env as NAME=value strings for a child's environment. */
int kb_dkms_env_push(const struct kb_dkms_env *env, struct kb_strv *out);

/* Line of @text assigning NAME[index] (or NAME at all), 0 when none is found. */
unsigned kb_dkms_line(const char *text, const char *name, long index);

/* Is @name a directive DKMS reads from dkms.conf? */
bool kb_dkms_directive(const char *name);
