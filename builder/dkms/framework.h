/* DKMS's admin settings, /etc/dkms/framework.conf(.d), read as DKMS reads them. */
#pragma once

#include <stdbool.h>

#include "compress.h"
#include "ctx.h"
#include "dkms/dkms-eval.h"

#define KB_FRAMEWORK_CONF "etc/dkms/framework.conf"
#define KB_FRAMEWORK_DIR "etc/dkms/framework.conf.d"

/* The files, found once per run, and what kbuildd takes from them. */
struct kb_framework {
	struct kb_strv shown;	/* host paths, in the order DKMS sources them */
	struct kb_strv sourced; /* the same files as bash is to source them (links resolved) */
	struct kb_strv texts;	/* their contents, to find the line a variable is set on */
	bool active;		/* some file holds more than comments and blank lines */
	char *untrusted;	/* kbuildd is root, and this one is not root's alone */
	bool per_kernel;	/* a file names kernelver: read again for each kernel */
	struct kb_buf first;	/* else the first reading's records, reused */
	unsigned long jobs;	/* parallel_jobs: framework.conf, else the environment; 0 unset */
	unsigned long env_jobs; /* the environment's, which the files see, as in DKMS */
	struct kb_compress_opts compress; /* compress_{xz,zstd,gzip}_opts, parsed */
};

/*
 * Find and read the files, and when one holds more than comments, source
 * them once in the sandbox dkms.conf readings use (no kernelver, as DKMS's
 * first reading) for parallel_jobs and the compression options. Also reads
 * the environment variable parallel_jobs. Sets ctx->framework; 0, or
 * -KB_E_INPUT with a message naming the file and variable.
 */
int kb_framework_load(struct kb_ctx *ctx);
void kb_framework_free(struct kb_framework *fw);

/*
 * Source the files again with kernelver = @kernelver (NULL: unset), as
 * DKMS does lazily for the signing variables and post_transaction; when no
 * file mentions kernelver, the first reading stands for every kernel. An
 * inactive set of files gives an empty @out. 0 or -KB_E_INPUT.
 */
int kb_framework_read(struct kb_ctx *ctx, const char *kernelver, struct kb_dkms_conf *out);

/* @name's value, or NULL when it is unset or empty (DKMS tests [[ $name ]]). */
const char *kb_framework_value(const struct kb_dkms_conf *c, const char *name);

/*
 * Where @name is set, for messages: "FILE:LINE" of the last file that
 * assigns it, else the first file. @fw may be NULL.
 */
void kb_framework_where(const struct kb_framework *fw, const char *name, char *buf, size_t size);

/*
 * May what the files set run as root? Not when kbuildd is root and one of
 * them is another user's or writable by group or others; @why says which.
 */
bool kb_framework_trusted(const struct kb_framework *fw, char *why, size_t size);

/*
 * dkms front end: after an install, uninstall, unbuild or remove that
 * succeeded, run post_transaction once, read with kernelver set to the
 * first -k (else the running kernel), as root, its output in
 * var/lib/dkms/post_transaction.log. A failure is a warning, as in DKMS;
 * nothing runs when it is unset.
 */
void kb_framework_post_transaction(struct kb_ctx *ctx);
