/* The kernel's module signature trailer: PKCS#7 blob, struct module_signature, magic. */
#include <string.h>

#include "base/log.h"
#include "signing/modsig.h"

void kb_modsig_info(uint32_t sig_len, unsigned char out[KB_MODSIG_INFO_LEN])
{
	/* algo, hash, id_type, signer_len, key_id_len, pad[3], sig_len (big endian) */
	memset(out, 0, KB_MODSIG_INFO_LEN);
	out[2] = KB_MODSIG_PKEY_ID_PKCS7;
	out[8] = (unsigned char)(sig_len >> 24);
	out[9] = (unsigned char)(sig_len >> 16);
	out[10] = (unsigned char)(sig_len >> 8);
	out[11] = (unsigned char)sig_len;
}

static uint64_t read_uint(const unsigned char *p, unsigned size, bool big_endian)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < size; i++)
		v |= (uint64_t)p[big_endian ? size - 1 - i : i] << (8 * i);
	return v;
}

bool kb_modsig_is_elf(const void *data, size_t len)
{
	const unsigned char *p = data;
	bool is64, be;
	uint64_t shoff, shentsize, shnum;

	if (len < 64 ||
	    memcmp(p,
		   "\x7f"
		   "ELF",
		   4) ||
	    (p[4] != 1 && p[4] != 2) || (p[5] != 1 && p[5] != 2))
		return false;
	is64 = p[4] == 2;
	be = p[5] == 2;
	if (read_uint(p + 16, 2, be) != 1) /* ET_REL, as every .ko */
		return false;
	/* a truncated module loses its section headers, which sit at the end */
	shoff = read_uint(p + (is64 ? 0x28 : 0x20), is64 ? 8 : 4, be);
	shentsize = read_uint(p + (is64 ? 0x3a : 0x2e), 2, be);
	shnum = read_uint(p + (is64 ? 0x3c : 0x30), 2, be);
	return shoff && shentsize && shnum && shoff <= len && shnum * shentsize <= len - shoff;
}

int kb_modsig_parse(const void *data, size_t len, struct kb_modsig *out, const char **why)
{
	const unsigned char *p = data, *info;
	size_t trailer = KB_MODSIG_MAGIC_LEN + KB_MODSIG_INFO_LEN;
	uint32_t sig_len;

	memset(out, 0, sizeof(*out));
	out->content_len = len;
	if (len < KB_MODSIG_MAGIC_LEN ||
	    memcmp(p + len - KB_MODSIG_MAGIC_LEN, KB_MODSIG_MAGIC, KB_MODSIG_MAGIC_LEN))
		return 0;
	out->signed_ = true;
	if (len < trailer) {
		*why = "signature trailer is truncated";
		return -KB_E_INPUT;
	}
	info = p + len - trailer;
	sig_len = (uint32_t)info[8] << 24 | (uint32_t)info[9] << 16 | (uint32_t)info[10] << 8 |
		  info[11];
	if (info[2] != KB_MODSIG_PKEY_ID_PKCS7) {
		*why = "signature is not PKCS#7 (id_type is not 2)";
		return -KB_E_INPUT;
	}
	if (info[0] || info[1] || info[3] || info[4] || info[5] || info[6] || info[7]) {
		*why = "signature header has non-zero legacy fields";
		return -KB_E_INPUT;
	}
	if (!sig_len || sig_len > len - trailer) {
		*why = "signature length points before the start of the file";
		return -KB_E_INPUT;
	}
	out->sig_len = sig_len;
	out->sig_offset = len - trailer - sig_len;
	out->content_len = out->sig_offset;
	return 0;
}
