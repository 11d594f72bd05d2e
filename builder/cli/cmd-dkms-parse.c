/* Reading a DKMS 3 command line: its actions and options, sorted and checked as DKMS does. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/limits.h"
#include "cli/cmd-dkms-parse.h"

/* The DKMS command line level this front end speaks, for -V. */
#define DKMS_LEVEL "3.2.2"

static const struct kb_dkms_action actions[] = {
	{ "add", KB_DKMS_ADD, "PATH | MODULE/VERSION", "register the driver (kbuildd add)" },
	{ "build", KB_DKMS_BUILD, "MODULE[/VERSION] | PATH", "build it (kbuildd build)" },
	{ "install", KB_DKMS_INSTALL, "MODULE[/VERSION] | PATH",
	  "build and install it (kbuildd install)" },
	{ "uninstall", KB_DKMS_UNINSTALL, "MODULE/VERSION", "uninstall it (kbuildd remove -k)" },
	{ "unbuild", KB_DKMS_UNBUILD, "MODULE/VERSION", "the same as uninstall" },
	{ "remove", KB_DKMS_REMOVE, "MODULE/VERSION", "the same; with --all, unregister it too" },
	{ "status", KB_DKMS_STATUS, "[MODULE[/VERSION]]", "DKMS's status lines" },
	{ "autoinstall", KB_DKMS_AUTOINSTALL, "", "every driver for one kernel (kbuildd rebuild)" },
	{ "kernel_postinst", KB_DKMS_KERNEL_POSTINST, "-k KERNEL", "the same, for a new kernel" },
	{ "kernel_preinst", KB_DKMS_KERNEL_PREINST, "-k KERNEL",
	  "nothing: kbuildd rebuilds when headers change" },
	{ "kernel_prerm", KB_DKMS_KERNEL_PRERM, "-k KERNEL",
	  "every driver's files for a kernel going away" },
	{ "mktarball", KB_DKMS_UNSUPPORTED, NULL,
	  "kbuildd keeps no binary tarballs; install the driver's source instead" },
	{ "ldtarball", KB_DKMS_UNSUPPORTED, NULL,
	  "kbuildd builds from source only; add the driver's source tree instead" },
	{ "match", KB_DKMS_UNSUPPORTED, NULL,
	  "use 'kbuildd rebuild -k KERNEL': it builds every registered driver" },
	{ "mkbmdeb", KB_DKMS_MKBMDEB, "MODULE/VERSION",
	  "a binary module package per kernel, here (kbuildd export --deb)" },
	{ "mkdeb", KB_DKMS_MKBMDEB, "MODULE/VERSION",
	  "the same: kbuildd ships modules as binary packages" },
	{ "generate_mok", KB_DKMS_GENERATE_MOK, "",
	  "DKMS's signing key /var/lib/dkms/mok.key and mok.pub, made if missing" },
};

enum opt_kind {
	OPT_MODULE,
	OPT_VERSION,
	OPT_KERNEL,
	OPT_ARCH,
	OPT_ROOT,
	OPT_JOBS,
	OPT_ALL,
	OPT_FORCE,
	OPT_QUIET,
	OPT_VERBOSE,
	OPT_DEBUG,
	OPT_NO_DEPMOD,
	OPT_SHOW_VERSION,
	OPT_HELP,
	OPT_IGNORED,  /* a no-op in DKMS too, or one kbuildd has no use for */
	OPT_REJECTED, /* would do something kbuildd does not: refused with the reason */
};

static const struct dkms_option {
	const char *name;
	bool takes_arg;
	enum opt_kind kind;
	const char *why; /* OPT_REJECTED */
} options[] = {
	{ "-m", true, OPT_MODULE, NULL },
	{ "--module", true, OPT_MODULE, NULL },
	{ "-v", true, OPT_VERSION, NULL },
	{ "-k", true, OPT_KERNEL, NULL },
	{ "--kernelver", true, OPT_KERNEL, NULL },
	{ "-a", true, OPT_ARCH, NULL },
	{ "--arch", true, OPT_ARCH, NULL },
	{ "--root", true, OPT_ROOT, NULL },
	{ "-j", true, OPT_JOBS, NULL },
	{ "--all", false, OPT_ALL, NULL },
	{ "--force", false, OPT_FORCE, NULL },
	{ "-q", false, OPT_QUIET, NULL },
	{ "--quiet", false, OPT_QUIET, NULL },
	{ "--verbose", false, OPT_VERBOSE, NULL },
	{ "--debug", false, OPT_DEBUG, NULL },
	{ "--no-depmod", false, OPT_NO_DEPMOD, NULL },
	{ "-V", false, OPT_SHOW_VERSION, NULL },
	{ "--version", false, OPT_SHOW_VERSION, NULL },
	{ "-h", false, OPT_HELP, NULL },
	{ "--help", false, OPT_HELP, NULL },
	/* deprecated no-ops in DKMS itself */
	{ "--no-initrd", false, OPT_IGNORED, NULL },
	{ "--no-clean-kernel", false, OPT_IGNORED, NULL },
	{ "--no-prepare-kernel", false, OPT_IGNORED, NULL },
	/* kbuildd has no narrower override of its version check than --force */
	{ "--force-version-override", false, OPT_FORCE, NULL },
	/* no RPM lock dance */
	{ "--rpm_safe_upgrade", false, OPT_IGNORED, NULL },
	{ "--kernelsourcedir", true, OPT_REJECTED,
	  "kbuildd finds headers at /lib/modules/KERNEL/build" },
	{ "--config", true, OPT_REJECTED,
	  "kbuildd reads each kernel's configuration from /lib/modules/KERNEL/build" },
	{ "--dkmstree", true, OPT_REJECTED,
	  "kbuildd keeps its state in /var/lib/kbuildd; use --root DIR for another system" },
	{ "--sourcetree", true, OPT_REJECTED,
	  "kbuildd adds source trees by path (dkms add PATH) or from /usr/src; use --root DIR "
	  "for another system" },
	{ "--installtree", true, OPT_REJECTED,
	  "kbuildd installs below /lib/modules; use --root DIR for another system" },
	{ "--directive", true, OPT_REJECTED, "set the variable in the driver's dkms.conf instead" },
	{ "-c", true, OPT_REJECTED, "kbuildd reads the dkms.conf at the top of the source tree" },
	{ "--templatekernel", true, OPT_REJECTED,
	  "it belongs to 'match', which kbuildd does not do" },
	{ "--archive", true, OPT_REJECTED, "kbuildd builds from source trees only" },
	{ "--binaries-only", false, OPT_REJECTED, "kbuildd builds from source trees only" },
	{ "--source-only", false, OPT_REJECTED, "kbuildd builds from source trees only" },
	{ "--symlink-modules", false, OPT_REJECTED,
	  "kbuildd installs copies, each listed with its sha256 in a manifest" },
	{ "--modprobe-on-install", false, OPT_REJECTED,
	  "load the module with modprobe after installing" },
};

void kb_dkms_request_release(struct kb_dkms_request *rq)
{
	free(rq->module);
	free(rq->version);
	free(rq->source);
	kb_strv_clear(&rq->kernels);
}

int kb_dkms_fail(struct kb_dkms_call *call, int status, const char *fmt, ...)
{
	va_list ap;

	kb_strv_clear(&call->argv);
	kb_buf_adds(&call->err, "Error! ");
	va_start(ap, fmt);
	kb_buf_vaddf(&call->err, fmt, ap);
	va_end(ap);
	kb_buf_addch(&call->err, '\n');
	return status;
}

static void usage(struct kb_buf *out)
{
	kb_buf_adds(out,
		    "Usage: dkms ACTION [MODULE/VERSION | PATH] [OPTIONS]\n"
		    "DKMS command lines, done by kbuildd (see kbuildd-dkms(8)).\n\nActions:\n");
	for (size_t i = 0; i < ARRAY_SIZE(actions); i++)
		if (actions[i].act != KB_DKMS_UNSUPPORTED)
			kb_buf_addf(out, "  %-16s %-24s %s\n", actions[i].name, actions[i].args,
				    actions[i].does);
	kb_buf_adds(out,
		    "\nOptions:\n"
		    "  -m MODULE[/VERSION], -v VERSION     the driver\n"
		    "  -k KERNEL[/ARCH], -a ARCH           the kernels (repeatable); ARCH must be\n"
		    "                                      this machine's\n"
		    "  --all                               every kernel (uninstall, unbuild, remove)\n"
		    "  --force, -j N, --no-depmod          passed on to kbuildd\n"
		    "  -q, --verbose, --root DIR, -V, -h\n\n"
		    "Not supported: mktarball, ldtarball, match.\n");
}

/* "a, b or c": the actions this front end does. */
static void list_actions(struct kb_buf *b)
{
	size_t n = 0, shown = 0;

	for (size_t i = 0; i < ARRAY_SIZE(actions); i++)
		n += actions[i].act != KB_DKMS_UNSUPPORTED;
	for (size_t i = 0; i < ARRAY_SIZE(actions); i++) {
		if (actions[i].act == KB_DKMS_UNSUPPORTED)
			continue;
		kb_buf_addf(b, "%s%s",
			    !shown	   ? "" :
			    shown + 1 == n ? " or " :
					     ", ",
			    actions[i].name);
		shown++;
	}
}

static const struct kb_dkms_action *find_action(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(actions); i++)
		if (!strcmp(actions[i].name, name))
			return &actions[i];
	return NULL;
}

/* "-k" and "--kernelver" exactly, or "--kernelver=K" (*@value set then). */
static const struct dkms_option *find_option(const char *arg, const char **value)
{
	size_t len = strcspn(arg, "=");

	*value = NULL;
	if (arg[len] == '=' && arg[1] != '-') /* DKMS reads "--name=value" only */
		len = strlen(arg);
	for (size_t i = 0; i < ARRAY_SIZE(options); i++)
		if (strlen(options[i].name) == len && !strncmp(options[i].name, arg, len)) {
			if (arg[len] == '=')
				*value = arg + len + 1;
			return &options[i];
		}
	return NULL;
}

/* DKMS's mv_re: "M/V" is module M, version V; a bare "M" leaves the version alone. */
static void set_module(struct kb_dkms_request *rq, const char *arg)
{
	const char *slash = strchr(arg, '/');

	free(rq->module);
	rq->module = slash ? strndup(arg, (size_t)(slash - arg)) : strdup(arg);
	if (slash) {
		free(rq->version);
		rq->version = strdup(slash + 1);
		rq->nomem |= !rq->version;
	}
	rq->nomem |= !rq->module;
}

static int check_arch(struct kb_dkms_call *call, const struct kb_dkms_host *host, const char *arch)
{
	if (!strcmp(arch, host->machine))
		return 0;
	return kb_dkms_fail(call, KB_DKMS_E_USAGE,
			    "architecture '%s' is not supported: kbuildd "
			    "builds for this machine's, %s",
			    arch, host->machine);
}

static int add_kernel(struct kb_dkms_call *call, const struct kb_dkms_host *host,
		      struct kb_dkms_request *rq, const char *arg)
{
	const char *slash = strchr(arg, '/');
	size_t len = slash ? (size_t)(slash - arg) : strlen(arg);
	char *kernel;
	int r;

	if (!len)
		return kb_dkms_fail(call, KB_DKMS_E_USAGE, "-k needs a kernel release");
	if (slash && (r = check_arch(call, host, slash + 1)))
		return r;
	kernel = strndup(arg, len);
	if (!kernel ||
	    (!kb_strv_contains(&rq->kernels, kernel) && kb_strv_push(&rq->kernels, kernel) < 0))
		rq->nomem = true;
	free(kernel);
	return 0;
}

static int set_jobs(struct kb_dkms_call *call, struct kb_dkms_request *rq, const char *arg)
{
	unsigned long n;

	if (kb_parse_uint(arg, KB_MAX_JOBS, &n) < 0)
		return kb_dkms_fail(call, KB_DKMS_E_USAGE,
				    "invalid -j '%s': expected a number "
				    "from 0 to %d",
				    arg, KB_MAX_JOBS);
	rq->jobs = n ? arg : NULL; /* DKMS's -j0 is make's unlimited -j: kbuildd's default */
	return 0;
}

/* Apply option @o with @value; returns 0, or an exit status with a message in @call. */
static int apply_option(struct kb_dkms_call *call, const struct kb_dkms_host *host,
			struct kb_dkms_request *rq, const struct dkms_option *o, const char *value)
{
	switch (o->kind) {
	case OPT_MODULE:
		set_module(rq, value);
		return 0;
	case OPT_VERSION:
		free(rq->version);
		rq->version = strdup(value);
		rq->nomem |= !rq->version;
		return 0;
	case OPT_KERNEL:
		return add_kernel(call, host, rq, value);
	case OPT_ARCH:
		rq->archs = true;
		return check_arch(call, host, value);
	case OPT_ROOT:
		rq->root = value;
		return 0;
	case OPT_JOBS:
		return set_jobs(call, rq, value);
	case OPT_ALL:
		rq->all = true;
		return 0;
	case OPT_FORCE:
		rq->force = true;
		return 0;
	case OPT_QUIET:
		rq->quiet = true;
		return 0;
	case OPT_VERBOSE:
		rq->verbose = true;
		return 0;
	case OPT_DEBUG:
		rq->verbose = rq->debug = true;
		return 0;
	case OPT_NO_DEPMOD:
		rq->no_depmod = true;
		return 0;
	case OPT_IGNORED:
		return 0;
	case OPT_REJECTED:
		return kb_dkms_fail(call, KB_DKMS_E_USAGE, "%s is not supported: %s", o->name,
				    o->why);
	default:
		return kb_dkms_fail(call, KB_DKMS_E_USAGE, "%s: internal error", o->name);
	}
}

/* An action name, a source tree, a tarball, else MODULE[/VERSION], as DKMS sorts them. */
static int positional(struct kb_dkms_call *call, const struct kb_dkms_host *host,
		      struct kb_dkms_request *rq, const char *arg)
{
	const struct kb_dkms_action *a = find_action(arg);

	if (!rq->first_word)
		rq->first_word = arg;
	if (a && rq->action)
		return kb_dkms_fail(call, KB_DKMS_E_NOT_ONE,
				    "Cannot specify more than one action.");
	if (a) {
		rq->action = a;
		return 0;
	}
	switch (host->classify(arg)) {
	case KB_DKMS_PATH_TREE:
		free(rq->source);
		/* with a slash, so that kbuildd takes it for a path, not a recipe name */
		if (asprintf(&rq->source, "%s%s", strchr(arg, '/') ? "" : "./", arg) < 0)
			rq->source = NULL, rq->nomem = true;
		return 0;
	case KB_DKMS_PATH_FILE:
		rq->tarball = arg; /* refused once the action is known */
		return 0;
	default:
		break;
	}
	if (rq->module) {
		kb_buf_addf(&call->err, "Warning: I do not know how to handle %s.\n", arg);
		return 0;
	}
	set_module(rq, arg);
	return 0;
}

/* A first word that is no action was meant as one; otherwise say which there are. */
static int no_action(struct kb_dkms_call *call, const struct kb_dkms_request *rq)
{
	struct kb_buf known = KB_BUF_INIT;
	int r;

	list_actions(&known);
	kb_buf_reset(&call->err); /* "how to handle" warnings about the misspelt action's words */
	if (rq->first_word)
		r = kb_dkms_fail(call, KB_DKMS_E_USAGE,
				 "Unknown action specified: \"%s\"\n"
				 "kbuildd's dkms does %s.",
				 rq->first_word, kb_buf_str(&known));
	else
		r = kb_dkms_fail(call, KB_DKMS_E_USAGE, "No action specified: give one of %s.",
				 kb_buf_str(&known));
	kb_buf_release(&known);
	return r;
}

/* DKMS's checks before it dispatches. */
static int check(struct kb_dkms_call *call, const struct kb_dkms_request *rq)
{
	if (rq->kernels.n && rq->all)
		return kb_dkms_fail(call, KB_DKMS_E_USAGE,
				    "You cannot specify a kernel version and "
				    "also specify\n--all on the command line.");
	if (rq->archs && rq->all)
		return kb_dkms_fail(call, KB_DKMS_E_ARCH_ALL,
				    "You cannot specify an arch and also "
				    "specify\n--all on the command line.");
	if (!rq->action)
		return no_action(call, rq);
	if (rq->tarball && rq->action->act != KB_DKMS_UNSUPPORTED)
		return kb_dkms_fail(call, KB_DKMS_E_USAGE,
				    "'%s' is not a source tree: DKMS "
				    "tarballs are not supported; give the directory holding "
				    "dkms.conf",
				    rq->tarball);
	return 0;
}

int kb_dkms_parse(int argc, char *const argv[], const struct kb_dkms_host *host,
		  struct kb_dkms_call *call, struct kb_dkms_request *rq)
{
	for (int i = 0; i < argc; i++) {
		const char *arg = argv[i], *value;
		const struct dkms_option *o;
		int r;

		if (arg[0] != '-' || !arg[1]) {
			r = positional(call, host, rq, arg);
			if (r)
				return r;
			continue;
		}
		o = find_option(arg, &value);
		if (!o || (value && !o->takes_arg))
			return kb_dkms_fail(call, KB_DKMS_E_USAGE,
					    "Unknown option: %s\nRun 'dkms "
					    "--help' for the options kbuildd's dkms takes.",
					    arg);
		if (o->kind == OPT_HELP) {
			usage(&call->out);
			return -1;
		}
		if (o->kind == OPT_SHOW_VERSION) {
			kb_buf_addf(&call->out, "dkms-%s (kbuildd %s)\n", DKMS_LEVEL,
				    host->version);
			return -1;
		}
		if (o->takes_arg && !value && i + 1 >= argc)
			return kb_dkms_fail(call, KB_DKMS_E_USAGE, "option '%s' needs an argument",
					    arg);
		if (o->takes_arg && !value)
			value = argv[++i];
		r = apply_option(call, host, rq, o, value);
		if (r)
			return r;
	}
	return check(call, rq);
}
