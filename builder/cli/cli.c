/* main(): global options, the command table, common setup, exit codes. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cmd.h"
#include "cli/report.h"
#include "cli/cmd-dkms.h"
#include "dkms/dkms.h"
#include "dkms/framework.h"
#include "base/limits.h"
#include "kernel.h"
#include "base/lock.h"
#include "recover.h"
#include "state.h"
#include "base/log.h"

#define KBUILDD_VERSION "0.1.0"

static const struct kb_cmd *const commands[] = {
	&kb_cmd_kernels, &kb_cmd_add,	  &kb_cmd_build,       &kb_cmd_install, &kb_cmd_remove,
	&kb_cmd_status,	 &kb_cmd_rebuild, &kb_cmd_log,	       &kb_cmd_sign,	&kb_cmd_verify,
	&kb_cmd_keys,	 &kb_cmd_doctor,  &kb_cmd_import_dkms, &kb_cmd_export,	&kb_cmd_publish,
	&kb_cmd_audit,	 &kb_cmd_policy,
};

/* The readers of recipes whose build another file defines. */
static const struct kb_recipe_reader *const readers[] = { &kb_dkms_reader, NULL };

enum {
	OPT_ROOT = 256,
	OPT_CONFIG,
	OPT_JSON,
	OPT_DRY_RUN,
	OPT_NO_DEPMOD,
	OPT_FORCE,
	OPT_ALL,
	OPT_WAIT,
	OPT_VERSION,
	OPT_HASH,
	OPT_CERT,
	OPT_OFFLINE,
	OPT_CHECK,
	OPT_HOOK,
	OPT_NO_INITRAMFS,
	OPT_INITRAMFS,
	OPT_NO_REUSE,
	OPT_DEB,
	OPT_OUTPUT,
	OPT_DKMS_CODES,
	OPT_INSTALLED,
	OPT_LOG,
	OPT_ACTIVATE
};

/* The typed option table: getopt entry, the command bit, and its help. */
static const struct option_spec {
	struct option opt;
	int letter;
	unsigned bit; /* 0: global */
	const char *arg, *help;
} option_specs[] = {
	{ { "root", required_argument, NULL, OPT_ROOT },
	  0,
	  0,
	  "DIR",
	  "operate on the system below DIR (default /)" },
	{ { "config", required_argument, NULL, OPT_CONFIG },
	  0,
	  0,
	  "FILE",
	  "read settings from FILE instead of DIR/etc/kbuildd/kbuildd.conf" },
	{ { "kernel", required_argument, NULL, 'k' },
	  'k',
	  KB_OPT_KERNEL,
	  "KERNEL",
	  "only this kernel release (repeatable; default: every installed kernel,\n"
	  "                             for doctor the running one)" },
	{ { "jobs", required_argument, NULL, 'j' },
	  'j',
	  KB_OPT_JOBS,
	  "N",
	  "N make slots shared by all builds (default: number of CPUs)" },
	{ { "json", no_argument, NULL, OPT_JSON }, 0, KB_OPT_JSON, NULL, "print results as JSON" },
	{ { "dry-run", no_argument, NULL, OPT_DRY_RUN },
	  0,
	  KB_OPT_DRY_RUN,
	  NULL,
	  "say what would be done, change nothing" },
	{ { "no-depmod", no_argument, NULL, OPT_NO_DEPMOD },
	  0,
	  KB_OPT_NO_DEPMOD,
	  NULL,
	  "do not run depmod after installing or removing" },
	{ { "force", no_argument, NULL, OPT_FORCE },
	  0,
	  KB_OPT_FORCE,
	  NULL,
	  "rebuild up-to-date builds; overwrite files kbuildd does not own" },
	{ { "all", no_argument, NULL, OPT_ALL },
	  0,
	  KB_OPT_ALL,
	  NULL,
	  "every registered recipe; for rebuild and remove: every kernel" },
	{ { "wait", required_argument, NULL, OPT_WAIT },
	  0,
	  KB_OPT_WAIT,
	  "SECONDS",
	  "wait at most SECONDS for another kbuildd to finish (default 600)" },
	{ { "hash", required_argument, NULL, OPT_HASH },
	  0,
	  KB_OPT_HASH,
	  "HASH",
	  "signature digest (default: [signing] hash, else sha256)" },
	{ { "cert", required_argument, NULL, OPT_CERT },
	  0,
	  KB_OPT_CERT,
	  "CERT",
	  "certificate (PEM or DER) to verify the signature with" },
	{ { "offline", no_argument, NULL, OPT_OFFLINE },
	  0,
	  KB_OPT_OFFLINE,
	  NULL,
	  "download nothing: take sources from the cache only, and say what is missing" },
	{ { "check", no_argument, NULL, OPT_CHECK },
	  0,
	  KB_OPT_CHECK,
	  NULL,
	  "verify installed files against the manifests" },
	{ { "hook", no_argument, NULL, OPT_HOOK },
	  0,
	  KB_OPT_HOOK,
	  NULL,
	  "as a package's hook: quiet; failures do not fail it ([hooks] strict)" },
	{ { "no-initramfs", no_argument, NULL, OPT_NO_INITRAMFS },
	  0,
	  KB_OPT_INITRAMFS,
	  NULL,
	  "do not regenerate any initramfs" },
	{ { "initramfs", no_argument, NULL, OPT_INITRAMFS },
	  0,
	  KB_OPT_INITRAMFS,
	  NULL,
	  "regenerate where needed even with --hook (headers came after the image)" },
	{ { "no-reuse", no_argument, NULL, OPT_NO_REUSE },
	  0,
	  KB_OPT_REUSE,
	  NULL,
	  "compile even where another kernel's build is reusable ([build] reuse = no)" },
	{ { "deb", no_argument, NULL, OPT_DEB },
	  0,
	  KB_OPT_EXPORT,
	  NULL,
	  "a Debian binary package per recipe and kernel" },
	{ { "output", required_argument, NULL, OPT_OUTPUT },
	  0,
	  KB_OPT_EXPORT,
	  "DIR",
	  "write packages into DIR (default: the current directory)" },
	{ { "installed", no_argument, NULL, OPT_INSTALLED },
	  0,
	  KB_OPT_INSTALLED,
	  NULL,
	  "every module file of the kernels too, not only the loaded modules" },
	{ { "activate", no_argument, NULL, OPT_ACTIVATE },
	  0,
	  KB_OPT_ACTIVATE,
	  NULL,
	  "sign with the new key of the rotation from now on" },
	{ { "log", no_argument, NULL, OPT_LOG },
	  0,
	  KB_OPT_LOG,
	  NULL,
	  "the load trail: auditd's records of module loads and unloads" },
	{ { "dkms-exit-codes", no_argument, NULL, OPT_DKMS_CODES },
	  0,
	  0,
	  NULL,
	  "exit as DKMS would: 10 build failed, 11 some autoinstall failed,\n"
	  "                             21 no kernel headers, 77 excluded by the driver" },
	{ { "quiet", no_argument, NULL, 'q' }, 'q', 0, NULL, "print errors only" },
	{ { "verbose", no_argument, NULL, 'v' },
	  'v',
	  0,
	  NULL,
	  "print commands and progress (twice: more)" },
	{ { "help", no_argument, NULL, 'h' }, 'h', 0, NULL, "show help" },
	{ { "version", no_argument, NULL, OPT_VERSION }, 0, 0, NULL, "show the version" },
};

static const struct kb_cmd *find_command(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		if (!strcmp(commands[i]->name, name))
			return commands[i];
	return NULL;
}

static void print_options(FILE *out, unsigned mask, bool globals)
{
	for (size_t i = 0; i < ARRAY_SIZE(option_specs); i++) {
		const struct option_spec *s = &option_specs[i];
		char left[64];

		if (globals ? s->bit != 0 : !(s->bit & mask))
			continue;
		snprintf(left, sizeof(left), "%s%c%s--%s%s%s", s->letter ? "-" : "",
			 s->letter ? s->letter : ' ', s->letter ? ", " : "  ", s->opt.name,
			 s->arg ? " " : "", s->arg ? s->arg : "");
		fprintf(out, "  %-26s %s\n", s->letter ? left : left + 2, s->help);
	}
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: kbuildd [OPTIONS] COMMAND [ARGS]\n\n"
		"Keep out-of-tree kernel modules built, installed and current for every kernel.\n\n"
		"Commands:\n");
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		fprintf(out, "  %-10s %s\n", commands[i]->name, commands[i]->summary);
	fprintf(out, "\nGlobal options:\n");
	print_options(out, 0, true);
	fprintf(out, "\nRun 'kbuildd COMMAND --help' for a command's arguments and options.\n"
		     "'kbuildd dkms ACTION ...' (or kbuildd run as 'dkms') takes DKMS's command\n"
		     "lines: add, build, install, uninstall, remove, status, autoinstall; see\n"
		     "kbuildd-dkms(8).\n"
		     "Exit status: 0 all held, 1 a build or install failed (the rest was done),\n"
		     "2 bad usage or input, 3 state locked by another kbuildd, 130 interrupted.\n");
}

static void command_usage(FILE *out, const struct kb_cmd *cmd)
{
	fprintf(out, "usage: kbuildd %s %s\n\n%s\n", cmd->name, cmd->usage, cmd->help);
	if (cmd->options) {
		fprintf(out, "\nOptions:\n");
		print_options(out, cmd->options, false);
	}
	fprintf(out,
		"\nGlobal options (--root, --config, -q, -v) apply too; see 'kbuildd --help'.\n");
}

static int exit_code(int r)
{
	if (r >= 0)
		return 0;
	switch (-r) {
	case KB_E_INPUT:
		return 2;
	case KB_E_LOCKED:
		return 3;
	case KB_E_INTERRUPTED:
		return 130;
	default:
		return 1;
	}
}

static int __attribute__((format(printf, 1, 2))) option_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "kbuildd: error: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'kbuildd --help'.\n");
	return 2;
}

/* The command bit an option stands for in option_specs (0: a global option). */
static unsigned option_bit(int c)
{
	for (size_t i = 0; i < ARRAY_SIZE(option_specs); i++)
		if (option_specs[i].opt.val == c)
			return option_specs[i].bit;
	return 0;
}

/* An option kept in ctx as given: a flag set, or its argument. False for any other. */
static bool note_option(struct kb_ctx *ctx, int c, const char *arg)
{
	switch (c) {
	case OPT_ROOT:
		ctx->root_arg = arg;
		break;
	case OPT_CONFIG:
		ctx->config_file = arg;
		break;
	case OPT_HASH:
		ctx->hash = arg;
		break;
	case OPT_CERT:
		ctx->cert = arg;
		break;
	case OPT_JSON:
		ctx->json = true;
		break;
	case OPT_DRY_RUN:
		ctx->dry_run = true;
		break;
	case OPT_NO_DEPMOD:
		ctx->no_depmod = true;
		break;
	case OPT_FORCE:
		ctx->force = true;
		break;
	case OPT_ALL:
		ctx->all = true;
		break;
	case OPT_NO_INITRAMFS:
		ctx->no_initramfs = true;
		break;
	case OPT_INITRAMFS:
		ctx->initramfs_now = true;
		break;
	case OPT_NO_REUSE:
		ctx->no_reuse = true;
		break;
	case OPT_DEB:
		ctx->export_deb = true;
		break;
	case OPT_OUTPUT:
		ctx->output = arg;
		break;
	case OPT_HOOK:
		ctx->hook = true;
		break;
	case OPT_CHECK:
		ctx->check = true;
		break;
	case OPT_OFFLINE:
		ctx->offline = true;
		break;
	case OPT_DKMS_CODES:
		ctx->dkms_codes = true;
		break;
	case OPT_INSTALLED:
		ctx->installed = true;
		break;
	case OPT_LOG:
		ctx->audit_log = true;
		break;
	case OPT_ACTIVATE:
		ctx->activate = true;
		break;
	default:
		return false;
	}
	return true;
}

/* -k, -j and --wait, whose argument must be valid: 0, or 2 with the reason said. */
static int checked_option(struct kb_ctx *ctx, int c, char *arg)
{
	switch (c) {
	case 'k':
		if (!kb_kernel_release_valid(arg))
			return option_error("invalid kernel release '%s': expected one like "
					    "6.1.0-13-amd64",
					    arg);
		kb_strv_push(&ctx->kernels, arg);
		break;
	case 'j':
		if (kb_parse_uint(arg, KB_MAX_JOBS, &ctx->jobs) < 0 || !ctx->jobs)
			return option_error("invalid -j '%s': expected a number from 1 to 1024",
					    arg);
		break;
	case OPT_WAIT:
		if (kb_parse_uint(arg, 86400, &ctx->wait_seconds) < 0)
			return option_error("invalid --wait '%s': expected seconds", arg);
		break;
	}
	return 0;
}

/* Options may come before or after the command; the command's mask is checked after. */
static int parse_options(struct kb_ctx *ctx, int argc, char **argv, unsigned *seen, int *verbosity,
			 bool *help, bool *version)
{
	struct option longopts[ARRAY_SIZE(option_specs) + 1];
	int c, r;

	for (size_t i = 0; i < ARRAY_SIZE(option_specs); i++)
		longopts[i] = option_specs[i].opt;
	memset(&longopts[ARRAY_SIZE(option_specs)], 0, sizeof(struct option));
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":k:j:qvh", longopts, NULL)) != -1) {
		*seen |= option_bit(c);
		switch (c) {
		case 'k':
		case 'j':
		case OPT_WAIT:
			r = checked_option(ctx, c, optarg);
			if (r)
				return r;
			break;
		case 'q':
			*verbosity = KB_LOG_QUIET;
			break;
		case 'v':
			*verbosity = *verbosity < KB_LOG_VERBOSE ? KB_LOG_VERBOSE : KB_LOG_DEBUG;
			break;
		case 'h':
			*help = true;
			break;
		case OPT_VERSION:
			*version = true;
			break;
		case ':':
			return option_error("option '%s' needs an argument", argv[optind - 1]);
		default:
			if (!note_option(ctx, c, optarg))
				return option_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	return 0;
}

static int run_command(struct kb_ctx *ctx, const struct kb_cmd *cmd, int argc, char **argv,
		       unsigned seen)
{
	const char *root = ctx->root_arg ? ctx->root_arg : "/";
	int r;

	for (size_t i = 0; i < ARRAY_SIZE(option_specs); i++)
		if ((option_specs[i].bit & seen) && !(option_specs[i].bit & cmd->options))
			return kb_err(-KB_E_INPUT, "'kbuildd %s' does not take --%s", cmd->name,
				      option_specs[i].opt.name);
	r = kb_root_open(&ctx->root, root, KB_STATE_DIR);
	if (r < 0)
		return kb_err(-KB_E_INPUT, "cannot use root '%s': %s", root, strerror(-r));
	if (cmd->flags & KB_CMD_SETTINGS) {
		r = kb_settings_load(ctx);
		if (r >= 0) /* DKMS's settings apply to all of kbuildd, below kbuildd.conf's */
			r = kb_framework_load(ctx);
		if (r < 0)
			return r;
	}
	if ((cmd->flags & KB_CMD_LOCK) && !ctx->dry_run) {
		ctx->lock_fd = kb_lock_take(&ctx->root, (unsigned)ctx->wait_seconds, ctx->command);
		if (ctx->lock_fd < 0)
			return ctx->lock_fd;
		/* whatever an interrupted run left is finished or rolled back first */
		kb_state_recover(ctx);
	} else if ((cmd->flags & KB_CMD_LOCK_TO_CHECK) && ctx->check) {
		ctx->lock_fd = kb_lock_take_shared(&ctx->root, (unsigned)ctx->wait_seconds);
		if (ctx->lock_fd < 0 && ctx->lock_fd != -ENOENT)
			return ctx->lock_fd;
	}
	r = cmd->run(ctx, argc, argv);
	if (r == 0 && !ctx->dkms_status && ctx->post_transaction)
		kb_framework_post_transaction(ctx);
	kb_lock_release(ctx->lock_fd);
	ctx->lock_fd = -1;
	return r;
}

/*
 * Output that never reached its file is a failure (coreutils' close_stdout):
 * `kbuildd status >/dev/full` must not exit 0. 0, or 1 with the reason said.
 */
static int close_stdout(void)
{
	bool pending = __fpending(stdout) != 0;
	int bad = fflush(stdout) != 0 || ferror(stdout);
	int err = errno;

	/* a closed stdout nothing was written to is no failure, as in coreutils */
	if (fclose(stdout) != 0 && !bad && (pending || errno != EBADF)) {
		bad = 1;
		err = errno;
	}
	if (!bad)
		return 0;
	fprintf(stderr, "kbuildd: cannot write to standard output: %s\n",
		strerror(err ? err : EIO));
	return 1;
}

static void command_line(int argc, char **argv, struct kb_buf *b)
{
	kb_buf_adds(b, "kbuildd");
	for (int i = 1; i < argc; i++)
		kb_buf_addf(b, " %s", argv[i]);
}

int main(int argc, char **argv)
{
	struct kb_ctx ctx = {
		.lock_fd = -1,
		.wait_seconds = 600,
		.root = { -1, NULL },
		.readers = readers,
	};
	struct kb_buf cmdline = KB_BUF_INIT_MAX(4096);
	struct kb_dkms_call dkms = KB_DKMS_CALL_INIT;
	int verbosity = KB_LOG_NORMAL, r;
	bool help = false, version = false;
	const struct kb_cmd *cmd;
	unsigned seen = 0;

	/* `dkms ARGS` or `kbuildd dkms ARGS`: DKMS's command line, run as kbuildd's */
	if (kb_dkms_frontend(argc, argv, KBUILDD_VERSION, &dkms, &r)) {
		if (!dkms.argv.n)
			goto out;
		argc = (int)dkms.argv.n;
		argv = dkms.argv.v;
		ctx.post_transaction = dkms.post_transaction;
	}
	r = parse_options(&ctx, argc, argv, &seen, &verbosity, &help, &version);
	if (r)
		goto out;
	kb_log_set_level((enum kb_log_level)verbosity);
	if (version) {
		printf("kbuildd %s\n", KBUILDD_VERSION);
		goto out;
	}
	if (optind >= argc) {
		usage(help ? stdout : stderr);
		r = help ? 0 : 2;
		goto out;
	}
	cmd = find_command(argv[optind]);
	if (!cmd && dkms.argv.n)
		cmd = kb_dkms_find_command(argv[optind]);
	if (!cmd) {
		r = option_error("unknown command '%s'", argv[optind]);
		goto out;
	}
	if (help) {
		command_usage(stdout, cmd);
		goto out;
	}
	command_line(argc, argv, &cmdline);
	ctx.command = kb_buf_str(&cmdline);
	if (ctx.hook && verbosity == KB_LOG_NORMAL)
		kb_log_set_level(KB_LOG_QUIET);
	kb_cli_events_setup(&ctx);
	r = run_command(&ctx, cmd, argc - optind - 1, argv + optind + 1, seen);
	/* a status DKMS callers test for replaces "some build failed" and success */
	if (ctx.dkms_codes && ctx.dkms_exit)
		r = ctx.dkms_exit;
	else
		r = ctx.dkms_codes && ctx.dkms_status && (r == 0 || r == -KB_E_BUILD) ?
			    ctx.dkms_status :
			    exit_code(r);
	/* a driver that fails to build must not fail the kernel package's installation */
	if (ctx.hook && r != 0 && !ctx.settings.hooks_strict) {
		fprintf(stderr,
			"kbuildd: not every module could be made ready (exit status %d); "
			"see 'kbuildd status'. The installation goes on.\n",
			r);
		r = 0;
	}
out:
	if (close_stdout() && !r)
		r = 1;
	kb_dkms_call_release(&dkms);
	kb_buf_release(&cmdline);
	kb_strv_clear(&ctx.kernels);
	kb_settings_release(&ctx.settings);
	kb_framework_free(ctx.framework);
	kb_root_release(&ctx.root);
	return r;
}
