/* kbuildd verify: who signed a module, with which hash, and does it verify. */
#include <fcntl.h>
#include <stdio.h>

#include <openssl/x509.h>

#include "base/limits.h"
#include "base/log.h"
#include "cli/cmd.h"
#include "compress.h"
#include "signing/sign.h"

static int cmd_verify(struct kb_ctx *ctx, int argc, char **argv)
{
	struct kb_buf image = KB_BUF_INIT_MAX(KB_MAX_MODULE_SIZE);
	struct kb_sig_report rep;
	X509 *cert = NULL;
	int r;

	if (argc != 1)
		return kb_err(-KB_E_INPUT, "usage: kbuildd verify [--cert CERT] MODULE");
	if (ctx->cert) {
		r = kb_cert_load(ctx->cert, &cert);
		if (r < 0)
			return r;
	}
	r = kb_decompress_file(argv[0], &image);
	if (r < 0)
		goto out;
	r = kb_verify_module(image.buf, image.len, cert, &rep, argv[0]);
	if (r < 0)
		goto out;
	if (!rep.signed_) {
		printf("%s: not signed\n", argv[0]);
		r = -KB_E_BUILD;
		goto out;
	}
	printf("%s: signed\nsigner: %s\nkey id: %s\nhash: %s\n", argv[0], rep.signer, rep.key_id,
	       rep.hash);
	if (!rep.checked) {
		printf("signature: not checked (give --cert CERT)\n");
	} else if (rep.valid) {
		printf("signature: valid for %s\n", ctx->cert);
	} else {
		printf("signature: INVALID for %s (%s)\n", ctx->cert, rep.error);
		r = -KB_E_BUILD;
	}
out:
	X509_free(cert);
	kb_buf_release(&image);
	return r;
}

const struct kb_cmd kb_cmd_verify = {
	.name = "verify",
	.run = cmd_verify,
	.usage = "[--cert CERT] MODULE",
	.summary = "show a module's signature and check it against a certificate",
	.help = "Print the signer (the issuer's CN, as modinfo shows it), the key id (the\n"
		"certificate serial), and the hash of MODULE's signature (.ko, .ko.xz or\n"
		".ko.zst). With --cert, verify the signature over the module: exit 0 when it\n"
		"holds, 1 when it does not or the module is unsigned, 2 when the file or its\n"
		"signature trailer is damaged.",
	.options = KB_OPT_CERT,
	.flags = 0,
};
