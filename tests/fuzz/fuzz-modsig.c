/*
 * libFuzzer target: the module signature trailer (signing/modsig.c), the ELF
 * check, and kb_verify_module()'s parse of the CMS blob (signing/sign.c).
 * Each input is tried twice: as a whole module image, and as the CMS blob
 * behind a tiny valid ELF header and a valid trailer, so that mutations of
 * the blob reach the DER parser and the signer description every time.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "signing/modsig.h"
#include "signing/sign.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An ELF64 little-endian ET_REL header and one empty section header: what is_elf() wants. */
static const unsigned char tiny_elf[128] = {
	[0] = 0x7f,  'E', 'L', 'F', 2, 1, 1, [16] = 1, 0, 62, /* ET_REL, EM_X86_64 */
	[0x28] = 64,					      /* e_shoff */
	[0x3a] = 64, 0,	  1,				      /* e_shentsize, e_shnum */
};

static void verify_as_blob(const uint8_t *blob, size_t size)
{
	size_t len = sizeof(tiny_elf) + size + KB_MODSIG_INFO_LEN + KB_MODSIG_MAGIC_LEN;
	struct kb_sig_report rep;
	unsigned char *mod;

	if (!size || size > UINT32_MAX)
		return;
	mod = malloc(len);
	if (!mod)
		return;
	memcpy(mod, tiny_elf, sizeof(tiny_elf));
	memcpy(mod + sizeof(tiny_elf), blob, size);
	kb_modsig_info((uint32_t)size, mod + sizeof(tiny_elf) + size);
	memcpy(mod + len - KB_MODSIG_MAGIC_LEN, KB_MODSIG_MAGIC, KB_MODSIG_MAGIC_LEN);
	kb_verify_module(mod, len, NULL, &rep, "fuzz");
	free(mod);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* errors still print: build-aux/fuzz runs this with -close_fd_mask=2 */
	kb_log_set_level(KB_LOG_QUIET);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kb_sig_report rep;
	struct kb_modsig sig;
	const char *why = NULL;

	if (kb_modsig_parse(data, size, &sig, &why) >= 0) {
		/* content, blob and trailer tile the input exactly */
		if (sig.content_len > size ||
		    (sig.signed_ && (!sig.sig_len || sig.sig_offset != sig.content_len ||
				     sig.sig_len > size - sig.sig_offset ||
				     size - sig.sig_offset - sig.sig_len !=
					     KB_MODSIG_INFO_LEN + KB_MODSIG_MAGIC_LEN)))
			__builtin_trap();
		kb_modsig_is_elf(data, sig.content_len);
	} else if (!why) {
		__builtin_trap(); /* every refusal says why */
	}
	kb_modsig_is_elf(data, size);
	kb_verify_module(data, size, NULL, &rep, "fuzz");
	verify_as_blob(data, size);
	return 0;
}
