/*
 * The shape of a kernel module image, checked in memory before libkmod or
 * the signer sees it: a build, a recipe or an installed file may hold any
 * bytes, and libkmod asserts (aborting kbuildd) or reads past the end on a
 * malformed ELF file.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/strbuf.h"

/*
 * Is @data an ELF relocatable object (32- or 64-bit, either byte order) of
 * a shape libkmod reads within bounds and without an assertion: header
 * sizes as the class has them, the section header table, every section
 * with contents and the section-name table inside the file, names inside
 * that table, no SHN_XINDEX escapes, NUL-terminated .strtab and
 * __versions names, symbols naming real sections, and a .modinfo and a
 * .gnu.linkonce.this_module section? 0, or -KB_E_INPUT with @why (of
 * @size bytes) saying what is wrong.
 */
int kb_elf_check(const void *data, size_t len, char *why, size_t size);

/*
 * The value of the @nth (from 0) "@key=value" string in .modinfo of an
 * image kb_elf_check() accepted, copied into @out (NUL-terminated; cut to
 * @size). 0, or -ENOENT when there is no such string.
 */
int kb_elf_modinfo(const void *data, size_t len, const char *key, unsigned nth, char *out,
		   size_t size);

/*
 * Read the module open as @fd (opened by the caller with O_NONBLOCK, and
 * O_NOFOLLOW or beneath a directory, as every module file kbuildd reads is)
 * into @image: only a regular file of at most KB_MAX_MODULE_SIZE bytes;
 * with @decompress, xz or zstd undone; then kb_elf_check()ed. 0, or
 * -KB_E_INPUT or a negative errno with @why (of @size bytes) saying why.
 */
int kb_elf_read_fd(int fd, bool decompress, struct kb_buf *image, char *why, size_t size);
/* The same for the file at host @path, which is no symlink and no FIFO; decompressed. */
int kb_elf_read_path(const char *path, struct kb_buf *image, char *why, size_t size);

/*
 * Call @each with every symbol the module imports and the CRC it was built
 * against (its __versions section, none without CONFIG_MODVERSIONS), in
 * order, until @each returns non-zero. 0, what @each returned, or
 * -KB_E_INPUT when the image or its __versions is malformed.
 */
int kb_elf_versions(const void *data, size_t len,
		    int (*each)(const char *symbol, uint32_t crc, void *user), void *user);
