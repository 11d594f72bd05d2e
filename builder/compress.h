/* Module compression exactly as kbuild's Makefile.modinst does it. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "base/strbuf.h"
#include "kernel.h"

/* How xz and zstd compress: kbuild's defaults, or what compress_*_opts said. */
struct kb_compress_opts {
	unsigned xz_preset;			    /* 0-9, as xz -N */
	bool xz_extreme;			    /* xz -e */
	int xz_check;				    /* an lzma_check */
	uint32_t xz_dict;			    /* --lzma2=dict=, bytes; 0: the preset's */
	int xz_lc, xz_lp, xz_pb, xz_nice, xz_depth; /* --lzma2=...; -1: the preset's */
	bool xz_custom; /* --lzma2 given: its preset is its own (default 6), not -N */
	unsigned xz_custom_preset;
	bool xz_custom_extreme;
	int zstd_level;	    /* 1-22, or negative for --fast=N */
	bool zstd_checksum; /* --check */
};

/* kbuild's: xz -6 --check=crc32 --lzma2=dict=1MiB, zstd at its default level. */
void kb_compress_opts_init(struct kb_compress_opts *o);

/*
 * Apply @opts, words as DKMS passes them to `xz`, `zstd` or `gzip`, to @o
 * in order, as that program reads them. What kbuildd cannot do in-process
 * (another format, a filter, --long) is -EINVAL with the word in @why;
 * options about files and threads (-q, --rm, -f, -k, -T N) change nothing.
 * gzip's are checked only: kbuildd writes no .ko.gz.
 */
int kb_compress_opts_parse(enum kb_compress how, const char *opts, struct kb_compress_opts *o,
			   char *why, size_t size);

/*
 * Compress @len bytes at @data into @out as @o says (NULL: kbuild's
 * defaults; the kernel's XZ decoder wants CRC32). KB_COMPRESS_NONE copies.
 * gzip is refused: Debian 12's kmod cannot read .ko.gz.
 */
int kb_compress(enum kb_compress how, const struct kb_compress_opts *o, const void *data,
		size_t len, struct kb_buf *out);

/*
 * Undo xz or zstd compression (told by magic) of @in into @out, or copy it
 * when it is neither; -EBADMSG when it does not decompress.
 */
int kb_decompress(const struct kb_buf *in, struct kb_buf *out);
/* Read a module file, undoing xz or zstd compression (by magic), into @out. */
int kb_decompress_file(const char *path, struct kb_buf *out);
