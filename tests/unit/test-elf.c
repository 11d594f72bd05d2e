/*
 * Unit tests for the module image checker (builder/module-elf.c). Small
 * modules are built here, section by section, in both classes and byte
 * orders; each malformation libkmod would trip over is then made on a copy.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/limits.h"
#include "base/log.h"
#include "compress.h"
#include "module-elf.h"

/* The sections of the test module, in file order after the ELF header. */
enum { S_NULL, S_MODINFO, S_THIS, S_VERSIONS, S_SYMTAB, S_STRTAB, S_BSS, S_SHSTRTAB, S_COUNT };

static const char modinfo[] = "license=GPL\0vermagic=6.1.0-57-amd64 SMP preempt mod_unload \0"
			      "firmware=a.bin\0\0\0firmware=b.bin\0srcversion=0123456789ABCDEF";
static const char strtab[] = "\0_printk\0__crc_hello\0";
static const char shstrtab[] = "\0.modinfo\0.gnu.linkonce.this_module\0__versions\0.symtab\0"
			       ".strtab\0.bss\0.shstrtab\0";

struct module {
	unsigned char *p;
	size_t len;
	bool is64, msb;
	size_t shoff;
	size_t off[S_COUNT], size[S_COUNT];
};

static void put(const struct module *m, size_t off, size_t n, uint64_t v)
{
	for (size_t i = 0; i < n; i++)
		m->p[off + (m->msb ? n - 1 - i : i)] = (unsigned char)(v >> (8 * i));
}

#define FIELD_OFF(m, type32, type64, f) ((m)->is64 ? offsetof(type64, f) : offsetof(type32, f))
#define FIELD_LEN(m, type32, type64, f) \
	((m)->is64 ? sizeof(((type64 *)0)->f) : sizeof(((type32 *)0)->f))
#define SET(m, base, type32, type64, f, v) \
	put(m, (base) + FIELD_OFF(m, type32, type64, f), FIELD_LEN(m, type32, type64, f), v)
#define SET_EHDR(m, f, v) SET(m, 0, Elf32_Ehdr, Elf64_Ehdr, f, v)
#define SET_SHDR(m, i, f, v) SET(m, shdr_at(m, i), Elf32_Shdr, Elf64_Shdr, f, v)
#define SET_SYM(m, i, f, v) SET(m, (m)->off[S_SYMTAB] + (i)*sym_size(m), Elf32_Sym, Elf64_Sym, f, v)

static size_t shdr_size(const struct module *m)
{
	return m->is64 ? sizeof(Elf64_Shdr) : sizeof(Elf32_Shdr);
}

static size_t sym_size(const struct module *m)
{
	return m->is64 ? sizeof(Elf64_Sym) : sizeof(Elf32_Sym);
}

static size_t shdr_at(const struct module *m, unsigned i)
{
	return m->shoff + i * shdr_size(m);
}

static unsigned name_of(const char *name)
{
	for (size_t i = 1; i < sizeof(shstrtab); i++)
		if (!strcmp(shstrtab + i, name))
			return (unsigned)i;
	fail_msg("no section name '%s'", name);
	return 0;
}

static void add_section(struct module *m, unsigned i, const char *name, unsigned type,
			const void *data, size_t len)
{
	size_t at = m->len;

	if (type != SHT_NOBITS) {
		memcpy(m->p + at, data, len);
		m->len += (len + 7) & ~(size_t)7;
	}
	m->off[i] = at;
	m->size[i] = len;
	SET_SHDR(m, i, sh_name, name_of(name));
	SET_SHDR(m, i, sh_type, type);
	SET_SHDR(m, i, sh_offset, at);
	SET_SHDR(m, i, sh_size, len);
}

/* Symbols: the null one, an import (_printk) and an absolute CRC (__crc_hello). */
static void add_symbols(struct module *m)
{
	size_t n = 3;
	unsigned char table[3 * sizeof(Elf64_Sym)] = { 0 };

	add_section(m, S_SYMTAB, ".symtab", SHT_SYMTAB, table, n * sym_size(m));
	SET_SYM(m, 1, st_name, 1);
	SET_SYM(m, 1, st_shndx, SHN_UNDEF);
	SET_SYM(m, 2, st_name, 9);
	SET_SYM(m, 2, st_shndx, SHN_ABS);
	SET_SYM(m, 2, st_value, 0x12345678);
	add_section(m, S_STRTAB, ".strtab", SHT_STRTAB, strtab, sizeof(strtab));
}

static struct module build(bool is64, bool msb)
{
	struct module m = { .is64 = is64, .msb = msb };
	unsigned char versions[64] = { 0 }, this_module[64] = { 0 };
	size_t ehsize = is64 ? sizeof(Elf64_Ehdr) : sizeof(Elf32_Ehdr);

	m.p = calloc(1, 4096);
	assert_non_null(m.p);
	memcpy(m.p, ELFMAG, SELFMAG);
	m.p[EI_CLASS] = is64 ? ELFCLASS64 : ELFCLASS32;
	m.p[EI_DATA] = msb ? ELFDATA2MSB : ELFDATA2LSB;
	m.p[EI_VERSION] = EV_CURRENT;
	m.len = ehsize;
	/* the section headers go last, as a linker puts them; their place is known now */
	m.shoff = 2048;
	memcpy(versions + (is64 ? 8 : 4), "module_layout", 14);
	add_section(&m, S_MODINFO, ".modinfo", SHT_PROGBITS, modinfo, sizeof(modinfo) - 1);
	add_section(&m, S_THIS, ".gnu.linkonce.this_module", SHT_PROGBITS, this_module,
		    sizeof(this_module));
	add_section(&m, S_VERSIONS, "__versions", SHT_PROGBITS, versions, sizeof(versions));
	add_symbols(&m);
	add_section(&m, S_BSS, ".bss", SHT_NOBITS, NULL, 4096);
	add_section(&m, S_SHSTRTAB, ".shstrtab", SHT_STRTAB, shstrtab, sizeof(shstrtab));
	assert_true(m.len <= m.shoff);
	SET_EHDR(&m, e_type, ET_REL);
	SET_EHDR(&m, e_machine, is64 ? EM_X86_64 : EM_PPC);
	SET_EHDR(&m, e_version, EV_CURRENT);
	SET_EHDR(&m, e_shoff, m.shoff);
	SET_EHDR(&m, e_ehsize, ehsize);
	SET_EHDR(&m, e_shentsize, shdr_size(&m));
	SET_EHDR(&m, e_shnum, S_COUNT);
	SET_EHDR(&m, e_shstrndx, S_SHSTRTAB);
	m.len = m.shoff + S_COUNT * shdr_size(&m);
	return m;
}

static void assert_accepted(const struct module *m)
{
	char why[256] = "";

	if (kb_elf_check(m->p, m->len, why, sizeof(why)) < 0)
		fail_msg("a good module was refused: %s", why);
}

/* Refused, with a reason containing @expect. */
static void assert_refused(const struct module *m, const char *expect)
{
	char why[256] = "";

	if (kb_elf_check(m->p, m->len, why, sizeof(why)) != -KB_E_INPUT)
		fail_msg("a module that should fail with \"%s\" was accepted", expect);
	if (!strstr(why, expect))
		fail_msg("refused with \"%s\", expected \"%s\"", why, expect);
}

static void elf_check_accepts_a_module_of_every_class_and_byte_order(void **state)
{
	(void)state;
	for (int is64 = 0; is64 <= 1; is64++)
		for (int msb = 0; msb <= 1; msb++) {
			struct module m = build(is64, msb);

			assert_accepted(&m);
			free(m.p);
		}
}

static void elf_check_refuses_every_truncation(void **state)
{
	struct module m = build(true, false);

	(void)state;
	for (size_t len = 0; len < m.len; len++) {
		char why[256];
		/* a copy of exactly @len bytes, so ASan sees any read past it */
		unsigned char *cut = malloc(len ? len : 1);

		memcpy(cut, m.p, len);
		if (kb_elf_check(cut, len, why, sizeof(why)) != -KB_E_INPUT)
			fail_msg("the module cut to %zu of %zu bytes was accepted", len, m.len);
		free(cut);
	}
	free(m.p);
}

static void elf_check_refuses_a_bad_identification(void **state)
{
	struct module m;

	(void)state;
	m = build(true, false), m.p[1] = 'X';
	assert_refused(&m, "not an ELF file");
	m.p[1] = 'E', m.p[EI_CLASS] = 3;
	assert_refused(&m, "ELF class 3");
	m.p[EI_CLASS] = ELFCLASS64, m.p[EI_DATA] = 0;
	assert_refused(&m, "ELF data encoding 0");
	m.p[EI_DATA] = ELFDATA2LSB, m.p[EI_VERSION] = 2;
	assert_refused(&m, "ELF version 2");
	free(m.p);
}

static void elf_check_refuses_a_bad_header(void **state)
{
	struct module m = build(true, false);

	(void)state;
	SET_EHDR(&m, e_type, ET_EXEC);
	assert_refused(&m, "not a relocatable object");
	SET_EHDR(&m, e_type, ET_REL);
	SET_EHDR(&m, e_ehsize, 52);
	assert_refused(&m, "e_ehsize is 52, not 64");
	SET_EHDR(&m, e_ehsize, 64);
	SET_EHDR(&m, e_shentsize, 40);
	assert_refused(&m, "e_shentsize is 40, not 64");
	free(m.p);
}

static void elf_check_refuses_a_section_table_outside_the_file(void **state)
{
	struct module m = build(true, false);

	(void)state;
	SET_EHDR(&m, e_shnum, 0);
	assert_refused(&m, "e_shnum is 0");
	SET_EHDR(&m, e_shnum, S_COUNT + 1);
	assert_refused(&m, "section header table (9 entries at offset 2048) lies outside");
	SET_EHDR(&m, e_shnum, S_COUNT);
	SET_EHDR(&m, e_shoff, UINT64_MAX - 8);
	assert_refused(&m, "lies outside the file");
	SET_EHDR(&m, e_shoff, 0);
	assert_refused(&m, "lies outside the file");
	free(m.p);
}

static void elf_check_refuses_a_bad_section_name_table_index(void **state)
{
	struct module m = build(true, false);

	(void)state;
	SET_EHDR(&m, e_shstrndx, SHN_UNDEF);
	assert_refused(&m, "e_shstrndx 0 is not a section");
	SET_EHDR(&m, e_shstrndx, S_COUNT);
	assert_refused(&m, "e_shstrndx 8 is not a section (e_shnum is 8)");
	SET_EHDR(&m, e_shstrndx, 0xfff0);
	assert_refused(&m, "e_shstrndx 65520 is not a section");
	SET_EHDR(&m, e_shstrndx, SHN_XINDEX);
	assert_refused(&m, "SHN_XINDEX");
	SET_EHDR(&m, e_shstrndx, S_MODINFO);
	assert_refused(&m, "section-name table (section 1) is not a string table");
	free(m.p);
}

static void elf_check_refuses_a_bad_section_name_table(void **state)
{
	struct module m = build(true, false);

	(void)state;
	m.p[m.off[S_SHSTRTAB] + m.size[S_SHSTRTAB] - 1] = 'x';
	assert_refused(&m, "section-name table is not NUL-terminated");
	m.p[m.off[S_SHSTRTAB] + m.size[S_SHSTRTAB] - 1] = '\0';
	SET_SHDR(&m, S_SHSTRTAB, sh_size, 0);
	assert_refused(&m, "not a string table inside the file");
	SET_SHDR(&m, S_SHSTRTAB, sh_size, m.len);
	assert_refused(&m, "not a string table inside the file");
	free(m.p);
}

static void elf_check_refuses_sections_outside_the_file(void **state)
{
	struct module m = build(true, false);

	(void)state;
	SET_SHDR(&m, S_THIS, sh_name, 100000);
	assert_refused(&m, "section 2: its name (at 100000) is outside");
	SET_SHDR(&m, S_THIS, sh_name, name_of(".gnu.linkonce.this_module"));
	SET_SHDR(&m, S_VERSIONS, sh_size, m.len);
	assert_refused(&m, "section 3 '__versions' (");
	/* offset + size wraps around: still outside */
	SET_SHDR(&m, S_VERSIONS, sh_offset, UINT64_MAX - 7);
	SET_SHDR(&m, S_VERSIONS, sh_size, 16);
	assert_refused(&m, "lies outside the file");
	/* empty, but libkmod takes the address of its first byte */
	SET_SHDR(&m, S_VERSIONS, sh_offset, m.len);
	SET_SHDR(&m, S_VERSIONS, sh_size, 0);
	assert_refused(&m, "section 3 '__versions' starts at the end of the file");
	SET_SHDR(&m, S_VERSIONS, sh_type, SHT_NOBITS);
	assert_refused(&m, "starts at the end of the file");
	free(m.p);
}

static void elf_check_takes_nobits_sections_past_the_end(void **state)
{
	struct module m = build(true, false);

	(void)state;
	SET_SHDR(&m, S_BSS, sh_offset, m.len - 8);
	SET_SHDR(&m, S_BSS, sh_size, UINT64_MAX);
	assert_accepted(&m);
	free(m.p);
}

static void elf_check_refuses_a_module_without_its_sections(void **state)
{
	struct module m = build(true, false);

	(void)state;
	SET_SHDR(&m, S_MODINFO, sh_name, name_of(".bss"));
	assert_refused(&m, "no .modinfo section");
	SET_SHDR(&m, S_MODINFO, sh_name, name_of(".modinfo"));
	SET_SHDR(&m, S_MODINFO, sh_type, SHT_NOBITS);
	assert_refused(&m, "no .modinfo section");
	SET_SHDR(&m, S_MODINFO, sh_type, SHT_PROGBITS);
	SET_SHDR(&m, S_THIS, sh_name, name_of(".bss"));
	assert_refused(&m, "no .gnu.linkonce.this_module section");
	free(m.p);
}

static void elf_check_refuses_a_bad_symbol_table(void **state)
{
	struct module m = build(true, false);

	(void)state;
	SET_SHDR(&m, S_SYMTAB, sh_size, 2 * sizeof(Elf64_Sym) + 1);
	assert_refused(&m, ".symtab is 49 bytes, not a whole number of 24-byte symbols");
	SET_SHDR(&m, S_SYMTAB, sh_size, 3 * sizeof(Elf64_Sym));
	SET_SHDR(&m, S_STRTAB, sh_name, name_of(".bss"));
	assert_refused(&m, "a .symtab but no .strtab");
	SET_SHDR(&m, S_STRTAB, sh_name, name_of(".strtab"));
	m.p[m.off[S_STRTAB] + m.size[S_STRTAB] - 1] = 'x';
	assert_refused(&m, ".strtab is not NUL-terminated");
	m.p[m.off[S_STRTAB] + m.size[S_STRTAB] - 1] = '\0';
	SET_SYM(&m, 1, st_name, sizeof(strtab));
	assert_refused(&m, "symbol 1: its name (at 22) is outside .strtab");
	SET_SYM(&m, 1, st_name, 1);
	SET_SYM(&m, 1, st_shndx, SHN_XINDEX);
	assert_refused(&m, "symbol '_printk' has its section index in an extension");
	SET_SYM(&m, 1, st_shndx, S_COUNT);
	assert_refused(&m, "symbol '_printk' is in section 8, past the last (7)");
	SET_SYM(&m, 1, st_shndx, SHN_COMMON);
	assert_accepted(&m);
	free(m.p);
}

/* libkmod resolves a CRC stored in a section by reading 4 bytes at its value. */
static void elf_check_refuses_crc_symbols_libkmod_cannot_resolve(void **state)
{
	struct module m = build(true, false);

	(void)state;
	SET_SYM(&m, 2, st_shndx, SHN_COMMON);
	assert_refused(&m, "CRC symbol '__crc_hello' is in special section 0xfff2");
	SET_SYM(&m, 2, st_shndx, S_THIS);
	SET_SYM(&m, 2, st_value, 61);
	assert_refused(&m, "CRC symbol '__crc_hello' points outside its section");
	SET_SYM(&m, 2, st_value, 60);
	assert_accepted(&m);
	SET_SYM(&m, 2, st_shndx, S_BSS); /* NOBITS past the end: libkmod skips it */
	SET_SHDR(&m, S_BSS, sh_offset, m.len);
	SET_SYM(&m, 2, st_value, 1 << 20);
	assert_accepted(&m);
	free(m.p);
}

static void elf_check_refuses_bad_versions(void **state)
{
	struct module m = build(true, false);

	(void)state;
	SET_SHDR(&m, S_VERSIONS, sh_size, 63);
	assert_refused(&m, "__versions is 63 bytes, not a whole number of 64-byte entries");
	SET_SHDR(&m, S_VERSIONS, sh_size, 64);
	memset(m.p + m.off[S_VERSIONS] + 8, 'x', 56);
	assert_refused(&m, "__versions entry 0 has no NUL-terminated name");
	free(m.p);
}

static void elf_check_refuses_the_same_in_32_bit_big_endian(void **state)
{
	struct module m = build(false, true);

	(void)state;
	SET_EHDR(&m, e_shentsize, 64);
	assert_refused(&m, "e_shentsize is 64, not 40");
	SET_EHDR(&m, e_shentsize, 40);
	SET_EHDR(&m, e_shstrndx, 99);
	assert_refused(&m, "e_shstrndx 99 is not a section");
	SET_EHDR(&m, e_shstrndx, S_SHSTRTAB);
	SET_SHDR(&m, S_SYMTAB, sh_size, 17);
	assert_refused(&m, "not a whole number of 16-byte symbols");
	free(m.p);
}

static void elf_modinfo_reads_each_value_of_a_key(void **state)
{
	struct module m = build(true, false);
	char value[256];

	(void)state;
	assert_int_equal(kb_elf_modinfo(m.p, m.len, "vermagic", 0, value, sizeof(value)), 0);
	assert_string_equal(value, "6.1.0-57-amd64 SMP preempt mod_unload ");
	assert_int_equal(kb_elf_modinfo(m.p, m.len, "firmware", 0, value, sizeof(value)), 0);
	assert_string_equal(value, "a.bin");
	assert_int_equal(kb_elf_modinfo(m.p, m.len, "firmware", 1, value, sizeof(value)), 0);
	assert_string_equal(value, "b.bin");
	assert_int_equal(kb_elf_modinfo(m.p, m.len, "firmware", 2, value, sizeof(value)), -ENOENT);
	/* the last string ends with the section, without a NUL */
	assert_int_equal(kb_elf_modinfo(m.p, m.len, "srcversion", 0, value, sizeof(value)), 0);
	assert_string_equal(value, "0123456789ABCDEF");
	assert_int_equal(kb_elf_modinfo(m.p, m.len, "srcversion", 0, value, 5), 0);
	assert_string_equal(value, "0123");
	free(m.p);
}

static void elf_modinfo_matches_whole_keys_only(void **state)
{
	struct module m = build(false, true);
	char value[64] = "x";

	(void)state;
	assert_int_equal(kb_elf_modinfo(m.p, m.len, "ver", 0, value, sizeof(value)), -ENOENT);
	assert_string_equal(value, "");
	assert_int_equal(kb_elf_modinfo(m.p, m.len, "license", 0, value, sizeof(value)), 0);
	assert_string_equal(value, "GPL");
	assert_int_equal(kb_elf_modinfo(m.p, 10, "license", 0, value, sizeof(value)), -ENOENT);
	free(m.p);
}

static int write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ssize_t n = fd < 0 ? -1 : write(fd, data, len);

	if (fd >= 0)
		close(fd);
	return n == (ssize_t)len ? 0 : -1;
}

/* What the file readers see: a FIFO is refused at once, xz is undone, damage is named. */
static void elf_read_fd_refuses_a_fifo_and_reads_a_compressed_module(void **state)
{
	struct kb_buf image = KB_BUF_INIT_MAX(KB_MAX_MODULE_SIZE), xz = KB_BUF_INIT;
	struct module m = build(true, false);
	const char *tmp = getenv("TMPDIR");
	char dir[256], path[300], why[256];
	int fd;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/test-elf.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/fifo.ko", dir);
	assert_int_equal(mkfifo(path, 0600), 0);
	fd = open(path, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(kb_elf_read_fd(fd, true, &image, why, sizeof(why)), -KB_E_INPUT);
	assert_string_equal(why, "is not a regular file: it is a FIFO");
	close(fd);
	unlink(path);

	snprintf(path, sizeof(path), "%s/hello.ko.xz", dir);
	assert_int_equal(kb_compress(KB_COMPRESS_XZ, NULL, m.p, m.len, &xz), 0);
	assert_int_equal(write_file(path, xz.buf, xz.len), 0);
	fd = open(path, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
	assert_int_equal(kb_elf_read_fd(fd, true, &image, why, sizeof(why)), 0);
	assert_int_equal(image.len, m.len);
	close(fd);

	SET_EHDR(&m, e_shstrndx, 200);
	assert_int_equal(write_file(path, m.p, m.len), 0);
	fd = open(path, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
	assert_int_equal(kb_elf_read_fd(fd, false, &image, why, sizeof(why)), -KB_E_INPUT);
	assert_string_equal(why, "is not a valid kernel module: e_shstrndx 200 is not a section "
				 "(e_shnum is 8)");
	close(fd);
	unlink(path);
	rmdir(dir);
	kb_buf_release(&image);
	kb_buf_release(&xz);
	free(m.p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(elf_check_accepts_a_module_of_every_class_and_byte_order),
		cmocka_unit_test(elf_check_refuses_every_truncation),
		cmocka_unit_test(elf_check_refuses_a_bad_identification),
		cmocka_unit_test(elf_check_refuses_a_bad_header),
		cmocka_unit_test(elf_check_refuses_a_section_table_outside_the_file),
		cmocka_unit_test(elf_check_refuses_a_bad_section_name_table_index),
		cmocka_unit_test(elf_check_refuses_a_bad_section_name_table),
		cmocka_unit_test(elf_check_refuses_sections_outside_the_file),
		cmocka_unit_test(elf_check_takes_nobits_sections_past_the_end),
		cmocka_unit_test(elf_check_refuses_a_module_without_its_sections),
		cmocka_unit_test(elf_check_refuses_a_bad_symbol_table),
		cmocka_unit_test(elf_check_refuses_crc_symbols_libkmod_cannot_resolve),
		cmocka_unit_test(elf_check_refuses_bad_versions),
		cmocka_unit_test(elf_check_refuses_the_same_in_32_bit_big_endian),
		cmocka_unit_test(elf_modinfo_reads_each_value_of_a_key),
		cmocka_unit_test(elf_modinfo_matches_whole_keys_only),
		cmocka_unit_test(elf_read_fd_refuses_a_fifo_and_reads_a_compressed_module),
	};

	return cmocka_run_group_tests_name("elf", tests, NULL, NULL);
}
