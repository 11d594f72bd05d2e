/* The checks a reuse rests on (reuse-rule.c), shared with reuse.c. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "base/strbuf.h"
#include "kernel.h"
#include "plan.h"

struct kb_symvers;

/*
 * The vermagic a module built for @k carries after "RELEASE ": what
 * include/linux/vermagic.h makes of its .config ("SMP preempt mod_unload
 * modversions "). 0, or -KB_E_BUILD with @why when kbuildd cannot tell
 * (an architecture whose part it does not know).
 */
int kb_reuse_vermagic_flags(const struct kb_kernel *k, char *out, size_t size, char *why,
			    size_t wsize);

/*
 * Do @a (kernel @ka's) and @b (kernel @kb's) differ only in their release,
 * their trees' paths and the version and salt strings? 0 when they do, else
 * the 1-based number of the first line of @b that differs.
 */
unsigned kb_reuse_masked_diff(const struct kb_kernel *ka, const struct kb_buf *a,
			      const struct kb_kernel *kb, const struct kb_buf *b);

/*
 * The exact rule's view of the two kernels: the same .config but for the
 * release strings, the same kbuild makefiles (the compiler's flags come
 * from them) and header trees laid out alike. 0, or -KB_E_BUILD with @why.
 */
int kb_reuse_same_env(const struct kb_kernel *ka, const struct kb_kernel *kb, char *why,
		      size_t size);

/* Paths already found alike for a pair of kernels: checked once a run. */
struct kb_pathset {
	char **v;
	size_t cap, n;
};
void kb_pathset_release(struct kb_pathset *s);

/*
 * Every file of @ka's header trees that the build in @src_dir (a host path)
 * read, as its kbuild .cmd files list them, alike in @kb's: byte for byte,
 * or masked as kb_reuse_masked_diff() says. @seen remembers paths found
 * alike. 0, or -KB_E_BUILD with @why naming the file that differs.
 */
int kb_reuse_same_files(const struct kb_kernel *ka, const struct kb_kernel *kb, const char *src_dir,
			struct kb_pathset *seen, char *why, size_t size);

/*
 * Every Module.symvers below the kept build @src_dir (a host path; a
 * dkms.conf may build in a subdirectory), appended to @out: what the build
 * exports. 0, or negative errno.
 */
int kb_reuse_exports(const char *src_dir, struct kb_buf *out);

/* What @t's kept build exports: every Module.symvers below its src/, appended to @text. */
int kb_reuse_build_exports(struct kb_ctx *ctx, const struct kb_task *t, struct kb_buf *text);

/*
 * The kernel's own check at load time, for each module of @src's kept build
 * (read into @raws, one per module of @t's recipe) installed for @t's
 * kernel: B has CONFIG_MODVERSIONS; vermagic is @from and B's flags; each
 * imported symbol has its CRC in B's Module.symvers (@kernel), in the
 * exports of B's builds of @t's dependencies, or is exported by @src's own
 * build. 0 with *@symbols counted, -KB_E_BUILD with @why, or negative errno.
 */
int kb_reuse_check_modules(struct kb_ctx *ctx, struct kb_task *t, struct kb_task *src,
			   const char *from, struct kb_buf *raws, const struct kb_symvers *kernel,
			   unsigned long *symbols, char *why, size_t size);
