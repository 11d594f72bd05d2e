/* Module.symvers tables: which module exports a symbol, with which CRC. */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct kb_symvers_entry {
	char *symbol;
	char *module; /* "vmlinux" or the module's path without .ko */
	uint64_t crc;
};

struct kb_symvers {
	struct kb_symvers_entry *v;
	size_t n;
	char *text; /* owns the strings */
};

/* Parse a Module.symvers (host path); malformed lines are skipped. 0 or negative errno. */
int kb_symvers_load(struct kb_symvers *s, const char *path);
/* Parse from memory (for tests); @text is copied. */
int kb_symvers_parse(struct kb_symvers *s, const char *text, size_t len);
const struct kb_symvers_entry *kb_symvers_find(const struct kb_symvers *s, const char *symbol);
void kb_symvers_release(struct kb_symvers *s);
