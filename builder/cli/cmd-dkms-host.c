/* The dkms front end on the running system: main()'s hook and the facts a translation needs. */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>

#include "cli/cmd-dkms.h"
#include "doctor/doctor.h"
#include "dkms/dkms.h"
#include "kernel.h"
#include "state.h"

static enum kb_dkms_path classify(const char *arg)
{
	size_t len = strlen(arg);
	struct stat st;

	if (stat(arg, &st) < 0)
		return KB_DKMS_PATH_NONE;
	if (S_ISDIR(st.st_mode))
		return kb_dkms_is_tree(arg) ? KB_DKMS_PATH_TREE : KB_DKMS_PATH_NONE;
	/* DKMS's own test: a file whose name ends in dkms.conf */
	return len >= 9 && !strcmp(arg + len - 9, "dkms.conf") ? KB_DKMS_PATH_TREE :
								 KB_DKMS_PATH_FILE;
}

/* A context holding only the root, for the library calls below; release with kb_root_release(). */
static int open_root(struct kb_ctx *ctx, const char *root)
{
	memset(ctx, 0, sizeof(*ctx));
	ctx->lock_fd = -1;
	ctx->root.fd = -1;
	return kb_root_open(&ctx->root, root ? root : "/", KB_STATE_DIR);
}

static bool registered(const char *root, const char *module, const char *version)
{
	struct kb_ctx ctx;
	char rel[PATH_MAX];
	bool found = false;

	if (open_root(&ctx, root) == 0 &&
	    kb_pathf(rel, sizeof(rel), "%s/recipes/%s/%s", KB_STATE_DIR, module, version) == 0)
		found = kb_root_exists(&ctx.root, rel);
	kb_root_release(&ctx.root);
	return found;
}

/* As kbuildd's doctor and status see it (the root's /proc), else this system's. */
static char *running(const char *root)
{
	struct kb_ctx ctx;
	struct utsname uts;
	char *release = NULL;

	if (open_root(&ctx, root) == 0)
		release = kb_doctor_running_release(&ctx);
	kb_root_release(&ctx.root);
	if (!release && uname(&uts) == 0)
		release = strdup(uts.release);
	return release;
}

static int kernels(const char *root, struct kb_strv *releases)
{
	struct kb_kernel_list list = { 0 };
	struct kb_ctx ctx;
	int r = open_root(&ctx, root);

	if (r >= 0)
		r = kb_kernels_discover(&ctx, &list);
	for (size_t i = 0; r >= 0 && i < list.n; i++)
		r = kb_strv_push(releases, list.v[i].release);
	kb_kernel_list_release(&list);
	kb_root_release(&ctx.root);
	return r < 0 ? r : 0;
}

/* kbuildd's global options that may come before the word dkms. */
static bool prefix_option(int argc, char **argv, int *i, const char **root)
{
	static const char *const flags[] = { "-q", "--quiet", "-v", "--verbose",
					     "--dkms-exit-codes" };
	const char *arg = argv[*i];

	for (size_t f = 0; f < ARRAY_SIZE(flags); f++)
		if (!strcmp(arg, flags[f]))
			return true;
	if (kb_str_startswith(arg, "--root=")) {
		*root = arg + 7;
		return true;
	}
	if (kb_str_startswith(arg, "--config="))
		return true;
	if ((strcmp(arg, "--root") && strcmp(arg, "--config")) || *i + 1 >= argc)
		return false;
	if (!strcmp(arg, "--root"))
		*root = argv[*i + 1];
	++*i;
	return true;
}

/*
 * Where DKMS's arguments start: argv[1] for a program named dkms, after
 * the word dkms for `kbuildd [OPTIONS] dkms`; -1 for other command lines.
 */
static int dkms_args(int argc, char **argv, size_t *nr_prefix, const char **root)
{
	const char *base = strrchr(argv[0], '/');

	*nr_prefix = 0;
	*root = NULL;
	if (!strcmp(base ? base + 1 : argv[0], "dkms"))
		return 1;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "dkms")) {
			*nr_prefix = (size_t)i - 1;
			return i + 1;
		}
		if (!prefix_option(argc, argv, &i, root))
			return -1;
	}
	return -1;
}

bool kb_dkms_frontend(int argc, char **argv, const char *version, struct kb_dkms_call *call,
		      int *status)
{
	struct kb_dkms_host host = {
		.version = version,
		.prefix = argv + 1,
		.classify = classify,
		.registered = registered,
		.running = running,
		.kernels = kernels,
	};
	struct utsname uts;
	int first = argc > 0 ? dkms_args(argc, argv, &host.nr_prefix, &host.root) : -1;

	if (first < 0)
		return false;
	if (uname(&uts) < 0) {
		perror("dkms: uname");
		*status = 1;
		return true;
	}
	host.machine = uts.machine;
	*status = kb_dkms_translate(argc - first, argv + first, &host, call);
	fputs(kb_buf_str(&call->out), stdout);
	fputs(kb_buf_str(&call->err), stderr);
	return true;
}
