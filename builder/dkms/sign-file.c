/*
 * Signing with framework.conf's sign_file (kmodsign, a wrapper around an
 * HSM): the admin's program runs as root, as in DKMS, but only ever on a
 * private copy, and what it returns is checked before anything installs
 * it: the same bytes, one signature, made by the configured key.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "base/child.h"
#include "base/limits.h"
#include "base/log.h"
#include "base/path.h"
#include "dkms/dkms-eval.h"
#include "dkms/sign-file.h"
#include "signing/modsig.h"
#include "signing/sign.h"

#define SIGN_TIMEOUT "600"
#define MAX_OUTPUT (16 << 10)

static int write_copy(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	int r;

	if (fd < 0)
		return -errno;
	r = kb_write_all(fd, data, len);
	if (close(fd) < 0 && r >= 0)
		r = -errno;
	return r;
}

/* The program, on @path; its output (both streams) in @output. Its exit status. */
static int run_program(const struct kb_sign_program *p, const char *dir, const char *path,
		       struct kb_buf *output)
{
	const struct kb_dkms_env none = { 0 };
	const char *pin = getenv("KBUILD_SIGN_PIN");
	struct kb_child c;
	int fd = memfd_create("kbuildd-sign-file", MFD_CLOEXEC), status;

	if (fd < 0)
		return -errno;
	kb_child_init(&c);
	kb_strv_push(&c.args, "timeout");
	kb_strv_push(&c.args, SIGN_TIMEOUT);
	kb_strv_push(&c.args, p->program);
	kb_strv_push(&c.args, p->hash);
	kb_strv_push(&c.args, p->key);
	kb_strv_push(&c.args, p->cert);
	kb_strv_push(&c.args, path);
	c.clean_env = true;
	status = kb_dkms_env_push(&none, &c.env);
	/* sign-file reads an encrypted key's passphrase from here, as in-process signing does */
	if (status >= 0 && pin)
		status = kb_strv_pushf(&c.env, "KBUILD_SIGN_PIN=%s", pin);
	c.dir = strdup(dir);
	c.out_fd = fd;
	c.new_pgrp = true;
	if (status >= 0)
		status = c.dir ? kb_child_run(&c) : -ENOMEM;
	kb_child_release(&c);
	if (lseek(fd, 0, SEEK_SET) == 0)
		kb_read_fd(fd, MAX_OUTPUT, output);
	close(fd);
	return status;
}

/* The signed file is @content + one signature that @cert verifies; else why not, in @why. */
static const char *check_result(const struct kb_sign_program *p, const struct kb_buf *res,
				const void *content, size_t clen, const char *what)
{
	struct kb_sig_report rep;
	struct kb_modsig sig;
	const char *why = NULL;

	if (res->len <= clen || memcmp(res->buf, content, clen))
		return "it changed the module itself, or did not sign it";
	if (kb_modsig_parse(res->buf, res->len, &sig, &why) < 0)
		return why ? why : "the signature it appended is damaged";
	if (!sig.signed_ || sig.content_len != clen)
		return "it appended something other than exactly one module signature";
	if (kb_verify_module(res->buf, res->len, p->cert_x509, &rep, what) < 0 || !rep.valid)
		return "its signature does not verify with the certificate";
	return NULL;
}

int kb_sign_external(const struct kb_sign_program *p, const void *mod, size_t len,
		     struct kb_buf *out, const char *what)
{
	struct kb_buf output = KB_BUF_INIT_MAX(MAX_OUTPUT),
		      res = KB_BUF_INIT_MAX(KB_MAX_MODULE_SIZE);
	const char *tmp = getenv("TMPDIR"), *why = NULL;
	char dir[PATH_MAX], path[PATH_MAX];
	struct kb_modsig sig;
	size_t clen = len;
	int r, status;

	/* re-signing replaces: the program gets the module without any old signature */
	if (kb_modsig_parse(mod, len, &sig, &why) < 0)
		return kb_err(-KB_E_INPUT, "%s: %s", what, why);
	clen = sig.content_len;
	if (kb_pathf(dir, sizeof(dir), "%s/kbuildd-sign.XXXXXX", tmp && *tmp ? tmp : "/tmp") < 0 ||
	    !mkdtemp(dir))
		return kb_err_errno(-errno, "cannot make a private directory to sign %s in", what);
	r = kb_pathf(path, sizeof(path), "%s/module.ko", dir);
	if (r >= 0)
		r = write_copy(path, mod, clen);
	if (r < 0) {
		r = kb_err_errno(r, "cannot copy %s to sign it", what);
		goto out;
	}
	status = run_program(p, dir, path, &output);
	if (status < 0) {
		r = kb_err(-KB_E_INPUT, "%s: cannot run sign_file '%s': %s", p->origin, p->program,
			   kb_strerror(status));
		goto out;
	}
	if (status != 0) {
		r = kb_err(-KB_E_INPUT, "%s: sign_file '%s' failed on %s (exit status %d%s)%s%s",
			   p->origin, p->program, what, status, status == 124 ? ", timed out" : "",
			   output.len ? ":\n" : "", kb_buf_str(&output));
		goto out;
	}
	r = kb_read_file(AT_FDCWD, path, KB_MAX_MODULE_SIZE, &res);
	why = r < 0 ? "it left no regular file behind" : check_result(p, &res, mod, clen, what);
	if (why) {
		r = kb_err(-KB_E_INPUT, "%s: sign_file '%s' on %s: refused: %s", p->origin,
			   p->program, what, why);
		goto out;
	}
	kb_buf_reset(out);
	r = kb_buf_add(out, res.buf, res.len);
out:
	kb_rm_rf_host(dir);
	kb_buf_release(&output);
	kb_buf_release(&res);
	return r;
}
