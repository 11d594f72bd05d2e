/* Reading a DKMS command line (cmd-dkms-parse.c), for the translation in cmd-dkms.c. */
#pragma once

#include <stdbool.h>

#include "cli/cmd-dkms.h"

/* DKMS's exit statuses for mistakes on its command line (its header lists them all). */
enum {
	KB_DKMS_E_USAGE = 2,	/* unknown option; -k with --all; ours for the rest */
	KB_DKMS_E_ARCH_ALL = 3, /* -a with --all */
	KB_DKMS_E_NOT_ONE = 4,	/* not one kernel where one is needed; a second action */
	KB_DKMS_E_NO_ALL = 5,	/* --all where the action takes none */
};

enum kb_dkms_act {
	KB_DKMS_ADD,
	KB_DKMS_BUILD,
	KB_DKMS_INSTALL,
	KB_DKMS_UNINSTALL,
	KB_DKMS_UNBUILD,
	KB_DKMS_REMOVE,
	KB_DKMS_STATUS,
	KB_DKMS_AUTOINSTALL,
	KB_DKMS_KERNEL_POSTINST,
	KB_DKMS_KERNEL_PREINST,
	KB_DKMS_KERNEL_PRERM,
	KB_DKMS_GENERATE_MOK,
	KB_DKMS_MKBMDEB,
	KB_DKMS_UNSUPPORTED,
};

struct kb_dkms_action {
	const char *name;
	enum kb_dkms_act act;
	const char *args; /* for --help */
	const char *does; /* for --help; for an unsupported action, what to do instead */
};

/* One DKMS command line, read. */
struct kb_dkms_request {
	const struct kb_dkms_action *action;
	char *module, *version; /* -m M[/V], -v V or a positional M[/V]; owned */
	char *source;		/* a source tree or dkms.conf given by path; owned */
	const char *tarball;	/* any other file given: a DKMS tarball */
	const char *first_word; /* the first argument that is no option */
	const char *root;	/* --root, else the host's */
	struct kb_strv kernels; /* -k, the /ARCH suffix checked and dropped */
	const char *jobs;	/* -j N with N > 0 */
	bool all, force, quiet, verbose, debug, no_depmod, archs;
	bool nomem; /* an allocation failed on the way */
};

/*
 * Read @argv into @rq (initialised with KB_DKMS_REQUEST_INIT(host)) as
 * DKMS's parser does, and check it as DKMS does before dispatching: an
 * action is given, -k or -a not with --all, every /ARCH this machine's.
 * Returns 0 to go on; -1 when --help or --version answered in @call->out;
 * else an exit status with the message in @call->err. Release @rq always.
 */
int kb_dkms_parse(int argc, char *const argv[], const struct kb_dkms_host *host,
		  struct kb_dkms_call *call, struct kb_dkms_request *rq);
#define KB_DKMS_REQUEST_INIT(host)                            \
	{                                                     \
		.root = (host)->root, .kernels = KB_STRV_INIT \
	}
void kb_dkms_request_release(struct kb_dkms_request *rq);

/* Say "Error! ..." in @call->err, drop any command line made, and return @status. */
int kb_dkms_fail(struct kb_dkms_call *call, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
