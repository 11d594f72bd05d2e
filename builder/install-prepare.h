/* What an install writes, prepared in memory first: modules read, checked, signed, compressed. */
#pragma once

#include <stddef.h>

#include "base/strbuf.h"
#include "base/util.h"
#include "ctx.h"
#include "manifest.h"
#include "plan.h"

/* One file to install: its path below the root and its bytes. */
struct kb_prepared {
	char *path; /* lib/modules/K/dest/name.ko[.xz] */
	struct kb_buf data;
	char sha256[KB_SHA256_HEX];
	bool in_place; /* the target already holds exactly these bytes: left as it is */
};

void kb_prepared_release(struct kb_prepared *s, size_t n);

/*
 * Read, check, sign and compress every module of @t into @out (one entry
 * per module, the caller's): exactly the bytes its build recorded, its
 * vermagic naming the kernel, not older than what it replaces (@all: the
 * kernel's manifests). 0, or kb_task_fail() with the reason.
 */
int kb_prepare_modules(struct kb_ctx *ctx, struct kb_task *t, const struct kb_manifest_set *all,
		       struct kb_prepared *out);

/* How many configuration files kb_prepare_config() makes for @r. */
size_t kb_prepare_nr_config(const struct kb_recipe *r);
/*
 * @r's load-time configuration (modules-load.d, modprobe.d) and the lists
 * that make initramfs generators carry its initramfs = yes modules, into
 * @out. 0 or -ENOMEM.
 */
int kb_prepare_config(const struct kb_recipe *r, struct kb_prepared *out);
