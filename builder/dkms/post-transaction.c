/*
 * DKMS's post_transaction (3.2.0): a command from framework.conf, run once
 * after the dkms front end's install, uninstall, unbuild or remove
 * succeeded, even when nothing changed, typically an initramfs rebuild.
 * It is the admin's code from root's /etc, meant to run as root (dracut
 * writes /boot), so it runs as root, like the [initramfs] command of
 * kbuildd.conf, in a child bash with a clean environment; never in
 * kbuildd's own process, and not when a file that set it is not root's.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "base/child.h"
#include "base/log.h"
#include "dkms/framework.h"
#include "doctor/doctor.h"

#define POST_LOG "var/lib/dkms/post_transaction.log"

/* The log as DKMS's invoke_command writes it: header, command, output, exit, time. */
static int open_log(struct kb_ctx *ctx, const char *command)
{
	struct kb_buf head = KB_BUF_INIT;
	int fd, r = kb_mkdirs(&ctx->root, "var/lib/dkms", 0755);

	fd = r < 0 ? r :
		     kb_root_openat(&ctx->root, POST_LOG, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW,
				    0644);
	if (fd < 0)
		return fd;
	kb_buf_addf(&head, "\nExecuting post-transaction command\n# command: %s\n", command);
	r = kb_write_all(fd, head.buf, head.len);
	kb_buf_release(&head);
	if (r < 0) {
		close(fd);
		return r;
	}
	return fd;
}

static void close_log(int fd, int status, time_t took)
{
	char tail[160];

	snprintf(tail, sizeof(tail),
		 "\n# exit code: %d\n# elapsed time: %02ld:%02ld:%02ld\n"
		 "----------------------------------------------------------------\n",
		 status, (long)took / 3600, (long)took / 60 % 60, (long)took % 60);
	kb_write_all(fd, tail, strlen(tail));
	close(fd);
}

static int run(struct kb_ctx *ctx, const char *command, const char *kernelver, int log_fd)
{
	_cleanup_free_ char *dkms_tree = kb_root_path(&ctx->root, "var/lib/dkms");
	_cleanup_free_ char *source_tree = kb_root_path(&ctx->root, "usr/src");
	_cleanup_free_ char *install_tree = kb_root_path(&ctx->root, "lib/modules");
	const struct kb_dkms_env env = {
		.kernelver = kernelver,
		.dkms_tree = dkms_tree,
		.source_tree = source_tree,
		.install_tree = install_tree,
	};
	struct kb_child c;
	int r;

	kb_child_init(&c);
	kb_strv_push(&c.args, "bash");
	kb_strv_push(&c.args, "--norc");
	kb_strv_push(&c.args, "--noprofile");
	kb_strv_push(&c.args, "-c");
	kb_strv_push(&c.args, command); /* DKMS evals it: the same in a bash of its own */
	c.clean_env = true;
	r = dkms_tree && source_tree && install_tree ? kb_dkms_env_push(&env, &c.env) : -ENOMEM;
	kb_strv_push(&c.env, "HOME=/root");
	c.dir = strdup(ctx->root.path[0] ? ctx->root.path : "/");
	c.out_fd = log_fd;
	if (r >= 0)
		r = c.dir ? kb_child_run(&c) : -ENOMEM;
	kb_child_release(&c);
	return r;
}

/* DKMS's $kernelver: the first kernel given, else the running one (the root's, as -k's default). */
static char *first_kernel(const struct kb_ctx *ctx)
{
	struct utsname u;
	char *running;

	if (ctx->kernels.n)
		return strdup(ctx->kernels.v[0]);
	running = kb_doctor_running_release(ctx);
	return running ? running : uname(&u) == 0 ? strdup(u.release) : NULL;
}

void kb_framework_post_transaction(struct kb_ctx *ctx)
{
	_cleanup_free_ char *kernelver = first_kernel(ctx);
	struct kb_dkms_conf c;
	const char *command;
	char where[640], why[128];
	time_t start = time(NULL);
	int fd, status;

	kb_dkms_conf_init(&c);
	/* read again with kernelver set, as DKMS does just before running it */
	if (kb_framework_read(ctx, kernelver, &c) < 0)
		goto out;
	command = kb_framework_value(&c, "post_transaction");
	if (!command)
		goto out;
	kb_framework_where(ctx->framework, "post_transaction", where, sizeof(where));
	if (!kb_framework_trusted(ctx->framework, why, sizeof(why))) {
		kb_warn("%s: post_transaction not run: it would run as root from %s", where, why);
		goto out;
	}
	if (ctx->dry_run) {
		kb_info("would run the post-transaction command: %s", command);
		goto out;
	}
	kb_info("executing the post-transaction command of %s", where);
	fd = open_log(ctx, command);
	if (fd < 0) {
		kb_err_errno(fd, "cannot write '/%s'; post_transaction not run", POST_LOG);
		goto out;
	}
	status = run(ctx, command, kernelver, fd);
	close_log(fd, status, time(NULL) - start);
	if (status != 0)
		kb_warn("post_transaction of %s failed (%s %d); its output is in /%s", where,
			status < 0 ? "error" : "exit status", status, POST_LOG);
out:
	kb_dkms_conf_release(&c);
}
