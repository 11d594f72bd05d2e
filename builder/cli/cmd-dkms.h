/* The dkms front end: a DKMS 3 command line translated into kbuildd's. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "base/strbuf.h"
#include "base/util.h"

/* What a positional argument is on disk; DKMS decides by looking, so do we. */
enum kb_dkms_path {
	KB_DKMS_PATH_NONE, /* nothing there: MODULE[/VERSION] */
	KB_DKMS_PATH_TREE, /* a directory holding dkms.conf, or a dkms.conf file */
	KB_DKMS_PATH_FILE, /* any other file: DKMS takes it for a tarball */
};

/*
 * The facts a translation depends on, handed in so that it stays a pure
 * function: the unit test fakes them, kb_dkms_frontend() reads the system.
 * @root arguments are the --root directory (NULL for "/").
 */
struct kb_dkms_host {
	const char *machine; /* uname -m: the one arch kbuildd builds for */
	const char *version; /* kbuildd's, for -V */
	char *const *prefix; /* kbuildd options given before `dkms` */
	size_t nr_prefix;
	const char *root; /* --root among them, or NULL */
	enum kb_dkms_path (*classify)(const char *arg);
	/* Is MODULE/VERSION registered with kbuildd? */
	bool (*registered)(const char *root, const char *module, const char *version);
	/* The running kernel's release (DKMS's default -k); caller frees; NULL if unknown. */
	char *(*running)(const char *root);
	/* Every installed kernel release (for uninstall --all); 0 or negative errno. */
	int (*kernels)(const char *root, struct kb_strv *releases);
};

struct kb_dkms_call {
	struct kb_strv argv;   /* kbuildd's command line to run; empty: nothing to run */
	struct kb_buf out;     /* for stdout: --help, --version */
	struct kb_buf err;     /* for stderr: errors, warnings, the --verbose note */
	bool post_transaction; /* an action after which DKMS runs post_transaction */
};
#define KB_DKMS_CALL_INIT                                     \
	{                                                     \
		KB_STRV_INIT, KB_BUF_INIT, KB_BUF_INIT, false \
	}

/*
 * Translate DKMS's @argv (action and options, without the program name)
 * into kbuildd's, in @call->argv: "kbuildd", the prefix options,
 * --dkms-exit-codes, then the command and its arguments. Options the
 * kbuildd command does not take are dropped, as DKMS ignores them.
 * Returns 0 when @call->argv is set or there is nothing to run (--help,
 * --version, kernel_preinst), else the exit status DKMS uses for that
 * mistake (2 where it has none), the message in @call->err.
 */
int kb_dkms_translate(int argc, char *const argv[], const struct kb_dkms_host *host,
		      struct kb_dkms_call *call);
void kb_dkms_call_release(struct kb_dkms_call *call);

/*
 * main()'s hook. For `dkms ARGS` (argv[0] named dkms) or `kbuildd [OPTIONS]
 * dkms ARGS`, translate ARGS against the running system, print the
 * messages, and return true: then run @call->argv if set, else exit with
 * *@status. Returns false for any other command line.
 */
bool kb_dkms_frontend(int argc, char **argv, const char *version, struct kb_dkms_call *call,
		      int *status);
