/* Safe extraction of source archives with libarchive: nothing lands outside the target. */
#pragma once

#include <stddef.h>

/*
 * Extract the archive at host path @archive (any format and filter
 * libarchive reads: tar, tar.gz/xz/zst/bz2, zip) into the existing, empty
 * directory @dest, dropping the first @strip path components. Refused, as
 * -KB_E_INPUT with a message naming the entry: absolute paths, "..",
 * symlinks or hardlinks that point outside, device nodes, fifos and
 * sockets, more than KB_MAX_EXTRACTED bytes in all and more than
 * KB_MAX_ARCHIVE_ENTRIES entries. setuid, setgid and
 * sticky bits are dropped. @what names the recipe in messages.
 */
int kb_unpack(const char *archive, const char *dest, unsigned strip, const char *what);
