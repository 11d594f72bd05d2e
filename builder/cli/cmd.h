/* The command table: each builder/cli/cmd-<name>.c ends in one of these descriptors. */
#pragma once

#include "ctx.h"

/* Options a command accepts (the option table in cli.c carries the same bits). */
enum kb_opt_bit {
	KB_OPT_KERNEL = 1 << 0,
	KB_OPT_JOBS = 1 << 1,
	KB_OPT_JSON = 1 << 2,
	KB_OPT_DRY_RUN = 1 << 3,
	KB_OPT_NO_DEPMOD = 1 << 4,
	KB_OPT_FORCE = 1 << 5,
	KB_OPT_ALL = 1 << 6,
	KB_OPT_WAIT = 1 << 7,
	KB_OPT_HASH = 1 << 8,
	KB_OPT_CERT = 1 << 9,
	KB_OPT_OFFLINE = 1 << 10,
	KB_OPT_CHECK = 1 << 11,
	KB_OPT_HOOK = 1 << 12,
	KB_OPT_INITRAMFS = 1 << 13,
	KB_OPT_REUSE = 1 << 14,
	KB_OPT_EXPORT = 1 << 15,
	KB_OPT_INSTALLED = 1 << 16,
	KB_OPT_LOG = 1 << 17,
	KB_OPT_ACTIVATE = 1 << 18,
};

/* What the dispatcher sets up before the command runs. */
enum kb_cmd_flag {
	KB_CMD_LOCK = 1 << 0,	  /* take the state lock (changes state) */
	KB_CMD_SETTINGS = 1 << 1, /* load kbuildd.conf */
	/*
	 * With --check: take the state lock, shared, so that a run under way is
	 * not reported as one left half-done; recover nothing, the check reports it.
	 */
	KB_CMD_LOCK_TO_CHECK = 1 << 2,
};

struct kb_cmd {
	const char *name;
	int (*run)(struct kb_ctx *ctx, int argc, char **argv);
	const char *usage;   /* arguments after the command name */
	const char *summary; /* one line for `kbuildd --help` */
	const char *help;    /* paragraph for `kbuildd CMD --help` */
	unsigned options;    /* enum kb_opt_bit */
	unsigned flags;	     /* enum kb_cmd_flag */
};

extern const struct kb_cmd kb_cmd_kernels, kb_cmd_add, kb_cmd_build, kb_cmd_install, kb_cmd_remove,
	kb_cmd_status, kb_cmd_rebuild, kb_cmd_log, kb_cmd_sign, kb_cmd_verify, kb_cmd_keys,
	kb_cmd_doctor, kb_cmd_import_dkms, kb_cmd_export, kb_cmd_publish, kb_cmd_audit,
	kb_cmd_policy;

/* kbuildd audit's work (cmd-audit.c), which policy check is too. */
int kb_cli_audit(struct kb_ctx *ctx);

struct kb_recipe;
struct kb_recipe_set;
struct kb_kernel;
/* Is @r, this version, installed for @k (its manifest says so)? */
bool kb_cli_installed(struct kb_ctx *ctx, const struct kb_recipe *r, const struct kb_kernel *k);
/*
 * The recipes named (NAME/VERSION, or NAME when one version is registered)
 * into @out (room for set->n + argc), or with --all every one. A name not
 * registered is said; -KB_E_INPUT then, after all were looked at.
 */
int kb_cli_select_recipes(struct kb_ctx *ctx, const struct kb_recipe_set *set, int argc,
			  char **argv, const struct kb_recipe **out, size_t *n);

/* What removing NAME/VERSION from some kernels (-k) takes away; --all always unregisters. */
enum kb_remove_how {
	KB_REMOVE_UNBUILD,   /* the files and the builds; the registration stays */
	KB_REMOVE_UNINSTALL, /* the files only: the build is kept (dkms uninstall) */
	KB_REMOVE_LAST, /* as UNBUILD, then unregister once no kernel has a build (dkms remove) */
};

/* kbuildd remove's work (cmd-remove.c), for the commands the dkms front end names. */
int kb_remove_recipes(struct kb_ctx *ctx, int argc, char **argv, enum kb_remove_how how);

/*
 * The dkms front end (cmd-dkms.c). Its translations also name commands of
 * their own (cmd-dkms-cmds.c), kept out of the table above and so out of
 * --help: dkms-build (register paths, then build), dkms-status (DKMS's
 * status lines) and dkms-uninstall, -unbuild and -remove (what each of those
 * takes away). kb_dkms_find_command() returns one by name, or NULL.
 */
extern const struct kb_cmd kb_cmd_dkms_build, kb_cmd_dkms_install, kb_cmd_dkms_status,
	kb_cmd_dkms_uninstall, kb_cmd_dkms_unbuild, kb_cmd_dkms_remove, kb_cmd_dkms_add,
	kb_cmd_dkms_generate_mok;
const struct kb_cmd *kb_dkms_find_command(const char *name);

/*
 * Register what dkms add, build or install name (cmd-dkms-add.c): a DKMS
 * source tree given by path is copied to /usr/src/NAME-VERSION first and
 * registered from there. For add (@add), a module/version registered
 * already is refused (DKMS's status 3); for build and install it is used as
 * it is, and a NAME[/VERSION] goes to @ids unchanged.
 */
int kb_dkms_register(struct kb_ctx *ctx, int argc, char **argv, bool add, struct kb_strv *ids);
