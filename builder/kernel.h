/* Target kernels: <root>/lib/modules/K/build trees and what they tell about K. */
#pragma once

#include <stdbool.h>

#include "base/strbuf.h"
#include "base/util.h"
#include "ctx.h"
#include "version.h"

enum kb_compress { KB_COMPRESS_NONE, KB_COMPRESS_XZ, KB_COMPRESS_ZSTD, KB_COMPRESS_GZIP };

struct kb_kernel {
	char *release;
	struct kb_kver ver;
	bool has_ver;
	char *build_dir;      /* host path handed to make -C */
	struct kb_strv trees; /* host dirs a build reads, resolved: build_dir's first */
	bool usable;
	char *reason;		   /* why not usable */
	char *arch;		   /* x86_64, aarch64, ... */
	enum kb_compress compress; /* what the kernel's own modules use */
	bool module_sig;
	char *sig_hash;
	struct kb_buf config; /* the .config text */
	char config_hash[KB_SHA256_HEX];
	char symvers_hash[KB_SHA256_HEX];
	char *cc_version;   /* CONFIG_CC_VERSION_TEXT */
	bool told_unsigned; /* the "not signed" note was shown for this run */
};

struct kb_kernel_list {
	struct kb_kernel *v;
	size_t n;
};

/*
 * Find every kernel under <root>/lib/modules, sorted by version. With -k,
 * only those named, and a named kernel that does not exist is an error
 * (-KB_E_INPUT). Kernels without a usable build tree are kept, with a reason.
 */
int kb_kernels_discover(const struct kb_ctx *ctx, struct kb_kernel_list *list);
void kb_kernel_list_release(struct kb_kernel_list *list);
/*
 * Add kernel @release to @list as discovery would (usable or not, with a
 * reason): a kernel a run did not ask for but reads from (reuse.c).
 */
int kb_kernel_load(const struct kb_ctx *ctx, const char *release, struct kb_kernel_list *list);
struct kb_kernel *kb_kernel_find(struct kb_kernel_list *list, const char *release);
/*
 * Can @s be a kernel release: one directory name of lib/modules, not
 * starting with a dot (what staging names use), at most KB_MAX_RELEASE?
 */
bool kb_kernel_release_valid(const char *s);

/* Is CONFIG_X (@name) "y" in the kernel's .config? */
bool kb_kernel_config_set(const struct kb_kernel *k, const char *name);
/* Value of CONFIG_X in the kernel's .config ("y", "m", "\"sha256\"" ...) or NULL; caller frees. */
char *kb_kernel_config(const struct kb_kernel *k, const char *name);
const char *kb_compress_name(enum kb_compress c);
/* ".xz" etc., "" for none. */
const char *kb_compress_suffix(enum kb_compress c);
