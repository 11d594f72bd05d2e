/* kbuildd sign: sign one module file, a drop-in for the kernel's scripts/sign-file. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "base/limits.h"
#include "base/log.h"
#include "cli/cmd.h"
#include "signing/sign.h"

/* Write @data to host path @path atomically (temp file beside it, rename). */
static int replace_file(const char *path, const struct kb_buf *data, mode_t mode)
{
	char tmp[4096];
	int fd, r;

	if (kb_pathf(tmp, sizeof(tmp), "%s.~kbuildd~", path) < 0)
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd < 0)
		return -errno;
	r = kb_write_all(fd, data->buf, data->len);
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	close(fd);
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0)
		unlink(tmp);
	return r;
}

static int cmd_sign(struct kb_ctx *ctx, int argc, char **argv)
{
	struct kb_buf image = KB_BUF_INIT_MAX(KB_MAX_MODULE_SIZE);
	struct kb_buf out = KB_BUF_INIT_MAX(KB_MAX_MODULE_SIZE);
	const char *hash = ctx->settings.sign_hash && strcmp(ctx->settings.sign_hash, "auto") ?
				   ctx->settings.sign_hash :
				   "sha256";
	struct kb_signer signer = { 0 };
	const char *module, *dest;
	struct stat st;
	int r;

	/* sign-file's own order: HASH KEY CERT MODULE [DEST] */
	if ((argc == 4 || argc == 5) && EVP_get_digestbyname(argv[0])) {
		hash = argv[0];
		argv++;
		argc--;
	}
	if (argc != 3 && argc != 4)
		return kb_err(-KB_E_INPUT, "usage: kbuildd sign [--hash H] KEY CERT MODULE [OUT]");
	if (ctx->hash)
		hash = ctx->hash;
	module = argv[2];
	dest = argc == 4 ? argv[3] : module;
	r = kb_read_file(AT_FDCWD, module, KB_MAX_MODULE_SIZE, &image);
	if (r < 0) {
		if (r != -KB_E_INPUT)
			r = kb_err(-KB_E_INPUT, "cannot read module '%s': %s", module,
				   kb_strerror(r));
		goto out;
	}
	/* check everything before touching the module */
	r = kb_signer_load(&signer, argv[0], argv[1], hash);
	if (r >= 0)
		r = kb_sign_module(&signer, image.buf, image.len, &out, module);
	if (r < 0)
		goto out;
	if (ctx->dry_run) {
		kb_info("would write signed module '%s'", dest);
		goto out;
	}
	r = replace_file(dest, &out, stat(module, &st) == 0 ? st.st_mode & 0777 : 0644);
	if (r < 0)
		r = kb_err_errno(r, "cannot write '%s'", dest);
out:
	kb_signer_release(&signer);
	kb_buf_release(&image);
	kb_buf_release(&out);
	return r;
}

const struct kb_cmd kb_cmd_sign = {
	.name = "sign",
	.run = cmd_sign,
	.usage = "[--hash HASH] KEY CERT MODULE [OUT]",
	.summary = "sign a module file (a drop-in for the kernel's sign-file)",
	.help = "Sign MODULE with KEY (PEM or DER; passphrase from KBUILD_SIGN_PIN) and CERT\n"
		"(PEM or DER), in place or into OUT. The output is byte-identical to the\n"
		"kernel's scripts/sign-file for RSA keys. An existing signature is replaced,\n"
		"never stacked. sign-file's own argument order, HASH KEY CERT MODULE [OUT], is\n"
		"accepted too. The key must match the certificate; nothing is written otherwise.",
	.options = KB_OPT_HASH | KB_OPT_DRY_RUN,
	.flags = KB_CMD_SETTINGS,
};
