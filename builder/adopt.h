/*
 * Builds taken instead of compiled. A provider puts into a build's src/
 * the modules another builder made from exactly these inputs (DKMS's
 * copies, at the switch-over); the engine seals and keeps them as it keeps
 * its own builds, so install reads, checks, signs and records them the
 * same way and the next run finds them up to date. Whatever a provider
 * hands over is checked as any build output is: vermagic, version, ELF.
 */
#pragma once

#include "base/strbuf.h"
#include "plan.h"

struct kb_adopt_ops {
	/*
	 * Put every module of @t (each at its m->path) below the empty
	 * directory @src inside the root, with kb_adopt_put(); @origin gets
	 * one line saying where they came from, kept with the build. 1 when
	 * all are there, 0 when this build cannot be taken (*@why, which the
	 * caller frees, says why), or a negative error.
	 */
	int (*provide)(struct kb_ctx *ctx, struct kb_task *t, const char *src,
		       struct kb_buf *origin, char **why, void *data);
	/* @t was taken (@why NULL) or will be compiled (@why says why) */
	void (*report)(const struct kb_task *t, const char *why, void *data);
	void *data;
};

/*
 * Plan @ids for ctx's kernels as a build would, and offer each build that
 * would compile to ops->provide, dependencies first (a build whose
 * dependency is still to compile is not offered: its inputs would change).
 * 0, or a negative error that stopped it (a build not taken is no error).
 */
int kb_engine_adopt(struct kb_ctx *ctx, const struct kb_strv *ids, const struct kb_adopt_ops *ops);

/*
 * Seal what was put in @t's staging directory @dir (K.new) and keep it as
 * @t's build, with @origin (one line) saying where it came from, and a log
 * saying nothing was compiled. 0, or -KB_E_BUILD with @t failed.
 */
int kb_adopt_keep(struct kb_ctx *ctx, struct kb_task *t, const char *dir, struct kb_buf *origin);

/*
 * An empty staging build for @t: its directory (K.new) into @dir and its
 * src/ into @src, both @size bytes. 0, or a negative errno (said).
 */
int kb_adopt_begin(struct kb_ctx *ctx, struct kb_task *t, char *dir, char *src, size_t size);

/* Write module @path (relative, no symlink followed) of the build being taken, below @src. */
int kb_adopt_put(struct kb_ctx *ctx, const char *src, const char *path, const struct kb_buf *data);
