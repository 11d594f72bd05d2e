/* The dkms front end: DKMS 3 command lines, translated into kbuildd commands. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli/cmd-dkms-parse.h"
#include "cli/cmd.h"
#include "engine.h"

/* --- the kbuildd command line ------------------------------------------ */

static void push(struct kb_dkms_request *rq, struct kb_dkms_call *call, const char *arg)
{
	if (kb_strv_push(&call->argv, arg) < 0)
		rq->nomem = true;
}

/* "kbuildd", the prefix, --dkms-exit-codes, --root, -q/-v and the command. */
static void begin(struct kb_dkms_request *rq, const struct kb_dkms_host *host,
		  struct kb_dkms_call *call, const struct kb_cmd *cmd)
{
	push(rq, call, "kbuildd");
	for (size_t i = 0; i < host->nr_prefix; i++)
		push(rq, call, host->prefix[i]);
	push(rq, call, "--dkms-exit-codes");
	/* a --root among the prefix is there already */
	if (rq->root && rq->root != host->root) {
		push(rq, call, "--root");
		push(rq, call, rq->root);
	}
	if (rq->quiet)
		push(rq, call, "-q");
	if (rq->verbose)
		push(rq, call, "-v");
	if (rq->debug)
		push(rq, call, "-v");
	push(rq, call, cmd->name);
}

/* The options of @rq that @cmd takes; the rest mean nothing to it, as to DKMS. */
static void finish(struct kb_dkms_request *rq, struct kb_dkms_call *call, const struct kb_cmd *cmd,
		   const struct kb_strv *kernels)
{
	for (size_t i = 0; (cmd->options & KB_OPT_KERNEL) && i < kernels->n; i++) {
		push(rq, call, "-k");
		push(rq, call, kernels->v[i]);
	}
	if ((cmd->options & KB_OPT_JOBS) && rq->jobs) {
		push(rq, call, "-j");
		push(rq, call, rq->jobs);
	}
	if ((cmd->options & KB_OPT_NO_DEPMOD) && rq->no_depmod)
		push(rq, call, "--no-depmod");
	if ((cmd->options & KB_OPT_FORCE) && rq->force)
		push(rq, call, "--force");
}

static bool given(const char *s)
{
	return s && *s;
}

/* "MODULE/VERSION", or "MODULE" when no version was given; caller frees, NULL without memory. */
static char *module_id(const struct kb_dkms_request *rq)
{
	bool versioned = given(rq->version);
	char *id;

	if (asprintf(&id, "%s%s%s", rq->module, versioned ? "/" : "",
		     versioned ? rq->version : "") < 0)
		return NULL;
	return id;
}

static int missing_module(struct kb_dkms_call *call, const char *action)
{
	return kb_dkms_fail(call, 1,
			    "Arguments <module> and <module-version> are not specified.\n"
			    "Usage: %s <module>/<module-version> or\n"
			    "       %s -m <module>/<module-version> or\n"
			    "       %s -m <module> -v <module-version>",
			    action, action, action);
}

static int no_all(struct kb_dkms_call *call, const char *action)
{
	return kb_dkms_fail(call, KB_DKMS_E_NO_ALL,
			    "The action %s does not support the --all parameter.", action);
}

/* DKMS's default kernel: the running one. */
static int running_kernel(struct kb_dkms_call *call, const struct kb_dkms_host *host,
			  struct kb_dkms_request *rq)
{
	char *running = host->running(rq->root);

	if (!running)
		return kb_dkms_fail(call, KB_DKMS_E_USAGE,
				    "cannot tell which kernel is running: give -k KERNEL");
	if (kb_strv_push(&rq->kernels, running) < 0)
		rq->nomem = true;
	free(running);
	return 0;
}

/* kernel_* and autoinstall act on exactly one kernel: -k, or for autoinstall the running one. */
static int one_kernel(struct kb_dkms_call *call, const struct kb_dkms_host *host,
		      struct kb_dkms_request *rq)
{
	bool autoinstall = rq->action->act == KB_DKMS_AUTOINSTALL;

	if (rq->all)
		return no_all(call, rq->action->name);
	if (autoinstall && rq->kernels.n > 1)
		return kb_dkms_fail(call, KB_DKMS_E_NOT_ONE,
				    "The action %s does not support "
				    "multiple kernel version parameters on the command line.",
				    rq->action->name);
	if (!autoinstall && rq->kernels.n != 1)
		return kb_dkms_fail(call, KB_DKMS_E_NOT_ONE,
				    "The action %s requires exactly one "
				    "kernel version parameter on the command line.",
				    rq->action->name);
	return rq->kernels.n ? 0 : running_kernel(call, host, rq);
}

/* "<root>/usr/src/MODULE-VERSION": where DKMS keeps an added driver's source. */
static char *source_tree(const struct kb_dkms_request *rq)
{
	size_t len = rq->root ? strlen(rq->root) : 0;
	char *path;

	while (len && rq->root[len - 1] == '/')
		len--;
	if (asprintf(&path, "%.*s/usr/src/%s-%s", (int)len, rq->root ? rq->root : "", rq->module,
		     rq->version) < 0)
		return NULL;
	return path;
}

static int translate_add(struct kb_dkms_request *rq, const struct kb_dkms_host *host,
			 struct kb_dkms_call *call)
{
	_cleanup_free_ char *tree = NULL;

	if (rq->all)
		return no_all(call, "add");
	/* a path that holds no dkms.conf is no module name either */
	if (!rq->source && !(given(rq->module) && given(rq->version) && !strchr(rq->module, '/')))
		return missing_module(call, "add");
	if (!rq->source && !(tree = source_tree(rq)))
		return kb_dkms_fail(call, 1, "out of memory");
	begin(rq, host, call, &kb_cmd_dkms_add);
	push(rq, call, rq->source ? rq->source : tree);
	finish(rq, call, &kb_cmd_dkms_add, &rq->kernels);
	return 0;
}

/*
 * build and install register first what is not registered yet, as DKMS's
 * build adds: a given source tree, else DKMS's /usr/src/MODULE-VERSION.
 */
static int translate_build(struct kb_dkms_request *rq, const struct kb_dkms_host *host,
			   struct kb_dkms_call *call)
{
	bool install = rq->action->act == KB_DKMS_INSTALL;
	const struct kb_cmd *cmd = install ? &kb_cmd_install : &kb_cmd_build;
	_cleanup_free_ char *tree = NULL, *id = NULL;
	const char *what = rq->source;

	if (rq->all)
		return no_all(call, rq->action->name);
	if (!what && !given(rq->module))
		return missing_module(call, rq->action->name);
	if (!what && given(rq->version) && !host->registered(rq->root, rq->module, rq->version) &&
	    (tree = source_tree(rq)) && host->classify(tree) == KB_DKMS_PATH_TREE)
		what = tree;
	if (what) /* placed in /usr/src and registered first, as DKMS does */
		cmd = install ? &kb_cmd_dkms_install : &kb_cmd_dkms_build;
	if (!what && !(id = module_id(rq)))
		return kb_dkms_fail(call, 1, "out of memory");
	begin(rq, host, call, cmd);
	push(rq, call, what ? what : id);
	finish(rq, call, cmd, &rq->kernels);
	return 0;
}

/* uninstall, unbuild, remove: -k, --all, or DKMS's default, the running kernel. */
static int translate_remove(struct kb_dkms_request *rq, const struct kb_dkms_host *host,
			    struct kb_dkms_call *call)
{
	bool unregister = rq->action->act == KB_DKMS_REMOVE && rq->all;
	const struct kb_cmd *cmd = &kb_cmd_dkms_remove;
	_cleanup_free_ char *id = NULL;
	int r;

	if (!given(rq->module) || !given(rq->version))
		return missing_module(call, rq->action->name);
	if (rq->all && !unregister) {
		r = host->kernels(rq->root, &rq->kernels);
		if (r < 0)
			return kb_dkms_fail(call, 1, "cannot list the installed kernels: %s",
					    strerror(-r));
		if (!rq->kernels.n)
			return 0; /* built nowhere: nothing to uninstall */
	} else if (!rq->all && !rq->kernels.n && (r = running_kernel(call, host, rq))) {
		return r;
	}
	if (!(id = module_id(rq)))
		return kb_dkms_fail(call, 1, "out of memory");
	if (unregister)
		cmd = &kb_cmd_remove;
	else if (rq->action->act == KB_DKMS_UNINSTALL)
		cmd = &kb_cmd_dkms_uninstall;
	else if (rq->action->act == KB_DKMS_UNBUILD)
		cmd = &kb_cmd_dkms_unbuild;
	begin(rq, host, call, cmd);
	push(rq, call, id);
	if (unregister)
		push(rq, call, "--all");
	finish(rq, call, cmd, &rq->kernels);
	return 0;
}

static int translate_status(struct kb_dkms_request *rq, const struct kb_dkms_host *host,
			    struct kb_dkms_call *call)
{
	_cleanup_free_ char *id = NULL;

	if (given(rq->module) && !(id = module_id(rq)))
		return kb_dkms_fail(call, 1, "out of memory");
	begin(rq, host, call, &kb_cmd_dkms_status);
	if (id)
		push(rq, call, id);
	finish(rq, call, &kb_cmd_dkms_status, &rq->kernels);
	return 0;
}

/* autoinstall, kernel_postinst, kernel_preinst, kernel_prerm: every driver, one kernel. */
static int translate_kernel(struct kb_dkms_request *rq, const struct kb_dkms_host *host,
			    struct kb_dkms_call *call)
{
	const struct kb_cmd *cmd = &kb_cmd_rebuild;
	int r = one_kernel(call, host, rq);

	if (r)
		return r;
	/* kbuildd's build ids cover the kernel's config and symbols: nothing to undo before */
	if (rq->action->act == KB_DKMS_KERNEL_PREINST)
		return 0;
	if (rq->action->act == KB_DKMS_KERNEL_PRERM)
		cmd = &kb_cmd_remove;
	begin(rq, host, call, cmd);
	finish(rq, call, cmd, &rq->kernels);
	return 0;
}

/* dkms mkbmdeb (and mkdeb): kbuildd export --deb, for -k or the running kernel. */
static int translate_mkbmdeb(struct kb_dkms_request *rq, const struct kb_dkms_host *host,
			     struct kb_dkms_call *call)
{
	_cleanup_free_ char *id = NULL;
	int r;

	if (!given(rq->module) || !given(rq->version))
		return missing_module(call, rq->action->name);
	if (!rq->kernels.n && (r = running_kernel(call, host, rq)))
		return r;
	if (!(id = module_id(rq)))
		return kb_dkms_fail(call, 1, "out of memory");
	begin(rq, host, call, &kb_cmd_export);
	push(rq, call, "--deb");
	push(rq, call, id);
	finish(rq, call, &kb_cmd_export, &rq->kernels);
	return 0;
}

static int translate_action(struct kb_dkms_request *rq, const struct kb_dkms_host *host,
			    struct kb_dkms_call *call)
{
	switch (rq->action->act) {
	case KB_DKMS_ADD:
		return translate_add(rq, host, call);
	case KB_DKMS_BUILD:
	case KB_DKMS_INSTALL:
		return translate_build(rq, host, call);
	case KB_DKMS_UNINSTALL:
	case KB_DKMS_UNBUILD:
	case KB_DKMS_REMOVE:
		return translate_remove(rq, host, call);
	case KB_DKMS_STATUS:
		return translate_status(rq, host, call);
	case KB_DKMS_AUTOINSTALL:
	case KB_DKMS_KERNEL_POSTINST:
	case KB_DKMS_KERNEL_PREINST:
	case KB_DKMS_KERNEL_PRERM:
		return translate_kernel(rq, host, call);
	case KB_DKMS_GENERATE_MOK:
		begin(rq, host, call, &kb_cmd_dkms_generate_mok);
		return 0;
	case KB_DKMS_MKBMDEB:
		return translate_mkbmdeb(rq, host, call);
	default:
		return kb_dkms_fail(call, KB_DKMS_E_USAGE,
				    "dkms %s is not supported by kbuildd: %s", rq->action->name,
				    rq->action->does);
	}
}

static void verbose_note(struct kb_dkms_call *call)
{
	kb_buf_adds(&call->err, "Running:");
	for (size_t i = 0; i < call->argv.n; i++)
		kb_buf_addf(&call->err, " %s", call->argv.v[i]);
	kb_buf_addch(&call->err, '\n');
}

int kb_dkms_translate(int argc, char *const argv[], const struct kb_dkms_host *host,
		      struct kb_dkms_call *call)
{
	struct kb_dkms_request rq = KB_DKMS_REQUEST_INIT(host);
	int r = kb_dkms_parse(argc, argv, host, call, &rq);

	if (!r)
		r = translate_action(&rq, host, call);
	else if (r < 0)
		r = 0; /* --help or --version */
	if (!r && (rq.nomem || kb_strv_error(&call->argv) || kb_strv_error(&rq.kernels)))
		r = kb_dkms_fail(call, 1, "out of memory");
	if (!r && rq.verbose && call->argv.n)
		verbose_note(call);
	/* DKMS 3.2 runs post_transaction after these when they succeed (framework.h) */
	if (!r && call->argv.n)
		call->post_transaction = rq.action->act == KB_DKMS_INSTALL ||
					 rq.action->act == KB_DKMS_UNINSTALL ||
					 rq.action->act == KB_DKMS_UNBUILD ||
					 rq.action->act == KB_DKMS_REMOVE;
	kb_dkms_request_release(&rq);
	return r;
}

void kb_dkms_call_release(struct kb_dkms_call *call)
{
	kb_strv_clear(&call->argv);
	kb_buf_release(&call->out);
	kb_buf_release(&call->err);
}
