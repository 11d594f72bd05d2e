/* depmod once per changed kernel, then libkmod checks what modprobe would load. */
#pragma once

#include "ctx.h"
#include "kernel.h"

/*
 * depmod must run for @k: recorded on disk before the first file of a run
 * changes, cleared by kb_depmod(), so a run killed in between still gets
 * its depmod from the next one.
 */
int kb_depmod_mark(struct kb_ctx *ctx, const struct kb_kernel *k);
bool kb_depmod_pending(struct kb_ctx *ctx, const struct kb_kernel *k);

/*
 * Run depmod for @k under the root prefix and clear the mark; 0 or a
 * negative error. The mark says "running" while it runs, so that a run
 * killed meanwhile leaves the next one word to clean up after depmod.
 */
int kb_depmod(struct kb_ctx *ctx, const struct kb_kernel *k);

/* Is @name one of the temp files depmod writes in lib/modules/K? */
bool kb_depmod_is_temp(const char *name);
/*
 * Recovery: for each kernel with a mark, remove depmod's temp files from
 * lib/modules/K when the mark says depmod was running (only then, only
 * depmod's names), and run depmod again (not with --no-depmod). Adds what
 * it cleaned to *@cleaned.
 */
void kb_depmod_recover(struct kb_ctx *ctx, unsigned *cleaned);

/*
 * For every module kbuildd installed for @k, look it up by name as
 * modprobe would and warn when another file shadows it. Returns the
 * number of shadowed modules.
 */
int kb_depmod_check(struct kb_ctx *ctx, const struct kb_kernel *k);

/*
 * Where modprobe would load module @name from, for @k (absolute host path
 * in @out), or "" when unknown. 0 or negative errno.
 */
int kb_depmod_resolve(struct kb_ctx *ctx, const char *release, const char *name, char *out,
		      size_t size);

/*
 * For the initramfs: what modprobe loads first for each module named in
 * @names, for @release: its modules.dep line (depmod lists the whole
 * closure there), appended to @paths as root-relative paths
 * (lib/modules/K/kernel/lib/foo.ko.xz), each once. A name depmod does not
 * know adds nothing; a dependency outside lib/modules/K is left out with a
 * warning. 0 or negative errno.
 */
int kb_depmod_needs(struct kb_ctx *ctx, const char *release, const struct kb_strv *names,
		    struct kb_strv *paths);
