/* The kernel's module signature trailer: PKCS#7 blob, struct module_signature, magic. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KB_MODSIG_MAGIC "~Module signature appended~\n"
#define KB_MODSIG_MAGIC_LEN (sizeof(KB_MODSIG_MAGIC) - 1)
#define KB_MODSIG_INFO_LEN 12 /* struct module_signature */
#define KB_MODSIG_PKEY_ID_PKCS7 2

struct kb_modsig {
	bool signed_;	    /* the magic is present */
	size_t content_len; /* bytes covered by the signature (the module before it) */
	size_t sig_offset;  /* offset of the PKCS#7 DER */
	size_t sig_len;
};

/*
 * Parse the end of a module image. Unsigned modules give signed_ = false
 * and content_len = len. A magic with a damaged structure in front of it
 * (length past the start, non-zero legacy fields, id_type other than
 * PKCS#7) returns -KB_E_INPUT with @why set.
 */
int kb_modsig_parse(const void *data, size_t len, struct kb_modsig *out, const char **why);

/* Is this a whole ELF relocatable object (section headers inside the file), as a .ko is? */
bool kb_modsig_is_elf(const void *data, size_t len);

/* The 12-byte struct module_signature for a PKCS#7 blob of @sig_len bytes. */
void kb_modsig_info(uint32_t sig_len, unsigned char out[KB_MODSIG_INFO_LEN]);
