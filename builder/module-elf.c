/*
 * The shape of a kernel module image, checked in memory. Every rule here
 * stands for a read libkmod (kmod 30, libkmod-elf.c) makes without a bound:
 * an assert() in elf_get_section_header(), elf_get_mem() or elf_get_uint(),
 * or a strlen() that runs off a section.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/limits.h"
#include "base/log.h"
#include "base/util.h"
#include "compress.h"
#include "module-elf.h"

#define CRC_PREFIX "__crc_"
#define VERSION_ENTRY 64 /* __versions: a CRC, then the name padded to 64 bytes */

struct image {
	const unsigned char *p;
	size_t len;
	bool is64, msb;
	uint64_t shoff;
	unsigned shnum;
	uint64_t names_off, names_size; /* the section-name string table */
};

struct section {
	uint64_t name, type, offset, size;
};

static uint64_t get(const struct image *im, uint64_t off, size_t n)
{
	uint64_t v = 0;

	for (size_t i = 0; i < n; i++)
		v = v << 8 | im->p[off + (im->msb ? i : n - 1 - i)];
	return v;
}

/* A field of a structure at @base, at the offset and width its class gives it. */
#define FIELD(im, base, type32, type64, f)                                         \
	get(im, (base) + ((im)->is64 ? offsetof(type64, f) : offsetof(type32, f)), \
	    (im)->is64 ? sizeof(((type64 *)0)->f) : sizeof(((type32 *)0)->f))
#define EHDR(im, f) FIELD(im, 0, Elf32_Ehdr, Elf64_Ehdr, f)
#define SHDR(im, base, f) FIELD(im, base, Elf32_Shdr, Elf64_Shdr, f)
#define SYM(im, base, f) FIELD(im, base, Elf32_Sym, Elf64_Sym, f)

static size_t ehdr_size(const struct image *im)
{
	return im->is64 ? sizeof(Elf64_Ehdr) : sizeof(Elf32_Ehdr);
}

static size_t shdr_size(const struct image *im)
{
	return im->is64 ? sizeof(Elf64_Shdr) : sizeof(Elf32_Shdr);
}

static bool in_file(const struct image *im, uint64_t off, uint64_t size)
{
	return off <= im->len && size <= im->len - off;
}

static int __attribute__((format(printf, 3, 4))) bad(char *why, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, size, fmt, ap);
	va_end(ap);
	return -KB_E_INPUT;
}

/* Section @i's header; the table is known to lie inside the file. */
static void section_at(const struct image *im, unsigned i, struct section *s)
{
	uint64_t base = im->shoff + (uint64_t)i * shdr_size(im);

	s->name = SHDR(im, base, sh_name);
	s->type = SHDR(im, base, sh_type);
	s->offset = SHDR(im, base, sh_offset);
	s->size = SHDR(im, base, sh_size);
}

static const char *section_name(const struct image *im, const struct section *s)
{
	return s->name < im->names_size ? (const char *)im->p + im->names_off + s->name : "";
}

/* The section libkmod's kmod_elf_get_section() would pick: the first by name inside the file. */
static bool find_section(const struct image *im, const char *name, struct section *out)
{
	for (unsigned i = 1; i < im->shnum; i++) {
		section_at(im, i, out);
		if (in_file(im, out->offset, out->size) && out->name < im->names_size &&
		    !strcmp(section_name(im, out), name))
			return true;
	}
	return false;
}

static int check_ident(struct image *im, char *why, size_t size)
{
	const unsigned char *p = im->p;

	if (im->len < EI_NIDENT || memcmp(p, ELFMAG, SELFMAG))
		return bad(why, size, "not an ELF file (no \\177ELF at the start)");
	if (p[EI_CLASS] != ELFCLASS32 && p[EI_CLASS] != ELFCLASS64)
		return bad(why, size, "ELF class %u is neither 32- nor 64-bit", p[EI_CLASS]);
	if (p[EI_DATA] != ELFDATA2LSB && p[EI_DATA] != ELFDATA2MSB)
		return bad(why, size, "ELF data encoding %u is neither little- nor big-endian",
			   p[EI_DATA]);
	if (p[EI_VERSION] != EV_CURRENT)
		return bad(why, size, "ELF version %u is not %u", p[EI_VERSION], EV_CURRENT);
	im->is64 = p[EI_CLASS] == ELFCLASS64;
	im->msb = p[EI_DATA] == ELFDATA2MSB;
	/* libkmod wants more than the header: it is not a module without sections anyway */
	if (im->len <= ehdr_size(im))
		return bad(why, size,
			   "truncated: %zu bytes do not hold more than the %zu-byte ELF "
			   "header",
			   im->len, ehdr_size(im));
	return 0;
}

static int check_header(struct image *im, char *why, size_t size)
{
	uint64_t type = EHDR(im, e_type), ehsize = EHDR(im, e_ehsize);
	uint64_t shentsize = EHDR(im, e_shentsize), shstrndx = EHDR(im, e_shstrndx);
	struct section names;

	if (type != ET_REL)
		return bad(why, size,
			   "ELF type %llu is not a relocatable object (ET_REL), as "
			   "every kernel module is",
			   (unsigned long long)type);
	if (ehsize != ehdr_size(im))
		return bad(why, size, "e_ehsize is %llu, not %zu", (unsigned long long)ehsize,
			   ehdr_size(im));
	if (shentsize != shdr_size(im))
		return bad(why, size, "e_shentsize is %llu, not %zu", (unsigned long long)shentsize,
			   shdr_size(im));
	im->shoff = EHDR(im, e_shoff);
	im->shnum = (unsigned)EHDR(im, e_shnum);
	if (!im->shnum)
		return bad(why, size,
			   "e_shnum is 0: no section headers, or their count moved to "
			   "an SHN_XINDEX extension, which is refused");
	if (im->shoff < ehsize || !in_file(im, im->shoff, (uint64_t)im->shnum * shentsize))
		return bad(why, size,
			   "the section header table (%u entries at offset %llu) lies "
			   "outside the file (%zu bytes)",
			   im->shnum, (unsigned long long)im->shoff, im->len);
	if (shstrndx == SHN_XINDEX)
		return bad(why, size,
			   "e_shstrndx is SHN_XINDEX: the index moved to an extension, "
			   "which is refused");
	if (shstrndx == SHN_UNDEF || shstrndx >= im->shnum)
		return bad(why, size, "e_shstrndx %llu is not a section (e_shnum is %u)",
			   (unsigned long long)shstrndx, im->shnum);
	section_at(im, (unsigned)shstrndx, &names);
	if (names.type != SHT_STRTAB || !names.size || names.offset >= im->len ||
	    !in_file(im, names.offset, names.size))
		return bad(why, size,
			   "the section-name table (section %llu) is not a string "
			   "table inside the file",
			   (unsigned long long)shstrndx);
	if (im->p[names.offset + names.size - 1])
		return bad(why, size, "the section-name table is not NUL-terminated");
	im->names_off = names.offset;
	im->names_size = names.size;
	return 0;
}

static int check_sections(const struct image *im, char *why, size_t size)
{
	for (unsigned i = 1; i < im->shnum; i++) {
		struct section s;

		section_at(im, i, &s);
		if (s.name >= im->names_size)
			return bad(why, size,
				   "section %u: its name (at %llu) is outside the "
				   "section-name table (%llu bytes)",
				   i, (unsigned long long)s.name,
				   (unsigned long long)im->names_size);
		if (s.type != SHT_NOBITS && !in_file(im, s.offset, s.size))
			return bad(why, size,
				   "section %u '%s' (%llu bytes at offset %llu) lies "
				   "outside the file (%zu bytes)",
				   i, section_name(im, &s), (unsigned long long)s.size,
				   (unsigned long long)s.offset, im->len);
		/* libkmod takes the address of its first byte, even when it has none */
		if (in_file(im, s.offset, s.size) && s.offset >= im->len)
			return bad(why, size, "section %u '%s' starts at the end of the file", i,
				   section_name(im, &s));
	}
	return 0;
}

/* A __crc_ symbol's value is an offset into its section, which libkmod reads without a bound. */
static int check_crc(const struct image *im, const char *name, uint64_t shndx, uint64_t value,
		     char *why, size_t size)
{
	struct section s;

	if (strncmp(name, CRC_PREFIX, strlen(CRC_PREFIX)) || shndx == SHN_UNDEF || shndx == SHN_ABS)
		return 0;
	if (shndx >= im->shnum)
		return bad(why, size, "CRC symbol '%s' is in special section %#llx", name,
			   (unsigned long long)shndx);
	section_at(im, (unsigned)shndx, &s);
	if (in_file(im, s.offset, s.size) && (s.size < 4 || value > s.size - 4))
		return bad(why, size, "CRC symbol '%s' points outside its section", name);
	return 0;
}

static int check_symbols(const struct image *im, char *why, size_t size)
{
	size_t symsize = im->is64 ? sizeof(Elf64_Sym) : sizeof(Elf32_Sym);
	struct section symtab, strtab;
	int r = 0;

	if (!find_section(im, ".symtab", &symtab))
		return 0;
	if (symtab.size % symsize)
		return bad(why, size,
			   ".symtab is %llu bytes, not a whole number of %zu-byte "
			   "symbols",
			   (unsigned long long)symtab.size, symsize);
	if (!find_section(im, ".strtab", &strtab))
		return bad(why, size, "there is a .symtab but no .strtab");
	if (!strtab.size || im->p[strtab.offset + strtab.size - 1])
		return bad(why, size, ".strtab is not NUL-terminated");
	for (uint64_t i = 1; r >= 0 && i < symtab.size / symsize; i++) {
		uint64_t base = symtab.offset + i * symsize, name = SYM(im, base, st_name);
		uint64_t shndx = SYM(im, base, st_shndx);
		const char *text;

		if (name >= strtab.size)
			return bad(why, size, "symbol %llu: its name (at %llu) is outside .strtab",
				   (unsigned long long)i, (unsigned long long)name);
		text = (const char *)im->p + strtab.offset + name;
		if (shndx == SHN_XINDEX)
			return bad(why, size,
				   "symbol '%s' has its section index in an extension "
				   "(SHN_XINDEX), which is refused",
				   text);
		if (shndx >= im->shnum && shndx < SHN_LORESERVE)
			return bad(why, size, "symbol '%s' is in section %llu, past the last (%u)",
				   text, (unsigned long long)shndx, im->shnum - 1);
		r = check_crc(im, text, shndx, SYM(im, base, st_value), why, size);
	}
	return r;
}

/* Each __versions entry's name is read with strlen(): it must end inside the entry. */
static int check_versions(const struct image *im, char *why, size_t size)
{
	size_t crc = im->is64 ? sizeof(uint64_t) : sizeof(uint32_t);
	struct section s;

	if (!find_section(im, "__versions", &s))
		return 0;
	if (s.size % VERSION_ENTRY)
		return bad(why, size,
			   "__versions is %llu bytes, not a whole number of %d-byte "
			   "entries",
			   (unsigned long long)s.size, VERSION_ENTRY);
	for (uint64_t at = s.offset; at < s.offset + s.size; at += VERSION_ENTRY)
		if (!memchr(im->p + at + crc, '\0', VERSION_ENTRY - crc))
			return bad(why, size, "__versions entry %llu has no NUL-terminated name",
				   (unsigned long long)((at - s.offset) / VERSION_ENTRY));
	return 0;
}

int kb_elf_check(const void *data, size_t len, char *why, size_t size)
{
	struct image im = { .p = data, .len = len };
	struct section s;
	int r;

	r = check_ident(&im, why, size);
	if (r >= 0)
		r = check_header(&im, why, size);
	if (r >= 0)
		r = check_sections(&im, why, size);
	if (r >= 0)
		r = check_symbols(&im, why, size);
	if (r >= 0)
		r = check_versions(&im, why, size);
	if (r < 0)
		return r;
	if (!find_section(&im, ".modinfo", &s) || s.type == SHT_NOBITS)
		return bad(why, size, "no .modinfo section: not a kernel module");
	if (!find_section(&im, ".gnu.linkonce.this_module", &s))
		return bad(why, size,
			   "no .gnu.linkonce.this_module section: not a kernel module "
			   "(modpost makes one for every module)");
	return 0;
}

int kb_elf_modinfo(const void *data, size_t len, const char *key, unsigned nth, char *out,
		   size_t size)
{
	struct image im = { .p = data, .len = len };
	size_t klen = strlen(key);
	struct section s;
	char why[8];

	out[0] = '\0';
	if (check_ident(&im, why, sizeof(why)) < 0 || check_header(&im, why, sizeof(why)) < 0 ||
	    !find_section(&im, ".modinfo", &s))
		return -ENOENT;
	/* NUL-separated "key=value" strings; the last may end with the section */
	for (uint64_t i = 0; i < s.size;) {
		const char *str = (const char *)im.p + s.offset + i;
		size_t n = strnlen(str, s.size - i);

		if (n > klen && !strncmp(str, key, klen) && str[klen] == '=' && !nth--) {
			snprintf(out, size, "%.*s", (int)(n - klen - 1), str + klen + 1);
			return 0;
		}
		i += n + 1;
	}
	return -ENOENT;
}

int kb_elf_read_fd(int fd, bool decompress, struct kb_buf *image, char *why, size_t size)
{
	struct kb_buf raw = KB_BUF_INIT_MAX(KB_MAX_MODULE_SIZE);
	char reason[256];
	struct stat st;
	int r;

	kb_buf_reset(image);
	if (fstat(fd, &st) < 0) {
		r = -errno;
		snprintf(why, size, "cannot be read: %s", strerror(-r));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		r = bad(why, size, "is not a regular file: it is %s", kb_file_kind(st.st_mode));
		goto out;
	}
	r = st.st_size > KB_MAX_MODULE_SIZE ?
		    -EFBIG :
		    kb_read_fd(fd, KB_MAX_MODULE_SIZE, decompress ? &raw : image);
	if (r >= 0 && decompress)
		r = kb_decompress(&raw, image);
	if (r == -EFBIG || r == -E2BIG)
		r = bad(why, size, "is larger than the %d MiB a module may be",
			KB_MAX_MODULE_SIZE >> 20);
	else if (r == -EBADMSG)
		r = bad(why, size, "is damaged: it does not decompress");
	else if (r < 0)
		snprintf(why, size, "cannot be read: %s", strerror(-r));
	else if ((r = kb_elf_check(image->buf, image->len, reason, sizeof(reason))) < 0)
		snprintf(why, size, "is not a valid kernel module: %s", reason);
out:
	kb_buf_release(&raw);
	return r;
}

int kb_elf_versions(const void *data, size_t len,
		    int (*each)(const char *symbol, uint32_t crc, void *user), void *user)
{
	struct image im = { .p = data, .len = len };
	size_t crc = 0;
	struct section s;
	char why[8];
	int r = 0;

	if (check_ident(&im, why, sizeof(why)) < 0 || check_header(&im, why, sizeof(why)) < 0)
		return -KB_E_INPUT;
	if (!find_section(&im, "__versions", &s) || s.type == SHT_NOBITS)
		return 0;
	crc = im.is64 ? sizeof(uint64_t) : sizeof(uint32_t);
	if (s.size % VERSION_ENTRY)
		return -KB_E_INPUT;
	for (uint64_t at = s.offset; !r && at < s.offset + s.size; at += VERSION_ENTRY) {
		const char *name = (const char *)im.p + at + crc;

		if (!memchr(name, '\0', VERSION_ENTRY - crc))
			return -KB_E_INPUT;
		r = each(name, (uint32_t)get(&im, at, crc), user);
	}
	return r;
}

int kb_elf_read_path(const char *path, struct kb_buf *image, char *why, size_t size)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	int r;

	if (fd < 0) {
		r = -errno;
		snprintf(why, size, "cannot be opened: %s", strerror(-r));
		return r;
	}
	r = kb_elf_read_fd(fd, true, image, why, size);
	close(fd);
	return r;
}
