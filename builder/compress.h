/* Module compression exactly as kbuild's Makefile.modinst does it. */
#pragma once

#include "kernel.h"
#include "strbuf.h"

/*
 * Compress @len bytes at @data into @out: xz with a CRC32 check and a 1 MiB
 * dictionary (the kernel's XZ decoder rejects CRC64), or zstd at its
 * default level. KB_COMPRESS_NONE copies. gzip is refused: Debian 12's
 * kmod cannot read .ko.gz.
 */
int kb_compress(enum kb_compress how, const void *data, size_t len, struct kb_buf *out);

/*
 * Undo xz or zstd compression (told by magic) of @in into @out, or copy it
 * when it is neither; -EBADMSG when it does not decompress.
 */
int kb_decompress(const struct kb_buf *in, struct kb_buf *out);
/* Read a module file, undoing xz or zstd compression (by magic), into @out. */
int kb_decompress_file(const char *path, struct kb_buf *out);
