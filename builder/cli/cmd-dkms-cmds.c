/*
 * The commands only the dkms front end's translations name (cmd-dkms.c):
 * kept out of kbuildd's command table, and so out of its --help.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>

#include "cli/cmd.h"
#include "cli/report.h"
#include "dkms/framework.h"
#include "signing/keygen.h"
#include "base/log.h"
#include "signing/sign.h"
#include "manifest.h"
#include "plan.h"
#include "state.h"
#include "keys.h"

/*
 * dkms build and install: a tree given by path is placed and registered
 * first, as DKMS's build adds what is not added yet (cmd-dkms-add.c).
 */
static int dkms_build(struct kb_ctx *ctx, int argc, char **argv, enum kb_plan_mode mode)
{
	struct kb_strv ids = KB_STRV_INIT;
	int r = argc ? kb_dkms_register(ctx, argc, argv, false, &ids) :
		       kb_err(-KB_E_INPUT, "name a driver: NAME[/VERSION], or its source tree");

	if (r >= 0)
		r = kb_cli_run(ctx, &ids, mode);
	kb_strv_clear(&ids);
	return r;
}

static int cmd_dkms_build(struct kb_ctx *ctx, int argc, char **argv)
{
	return dkms_build(ctx, argc, argv, KB_PLAN_BUILD);
}

static int cmd_dkms_install(struct kb_ctx *ctx, int argc, char **argv)
{
	return dkms_build(ctx, argc, argv, KB_PLAN_INSTALL);
}

#define DKMS_BUILD_OPTIONS \
	(KB_OPT_KERNEL | KB_OPT_JOBS | KB_OPT_DRY_RUN | KB_OPT_FORCE | KB_OPT_OFFLINE | KB_OPT_WAIT)

const struct kb_cmd kb_cmd_dkms_build = {
	.name = "dkms-build",
	.run = cmd_dkms_build,
	.usage = "[-k KERNEL]... (PATH | NAME[/VERSION])...",
	.summary = "what 'dkms build' does: register a tree given by path, then build",
	.help = "What 'dkms build' becomes: each PATH (a DKMS source tree, or its dkms.conf)\n"
		"not registered yet is copied to /usr/src/NAME-VERSION and registered from\n"
		"there, as 'dkms add' does; then each is built as 'kbuildd build' does.",
	.options = DKMS_BUILD_OPTIONS,
	.flags = KB_CMD_LOCK | KB_CMD_SETTINGS,
};

const struct kb_cmd kb_cmd_dkms_install = {
	.name = "dkms-install",
	.run = cmd_dkms_install,
	.usage = "[-k KERNEL]... (PATH | NAME[/VERSION])...",
	.summary = "what 'dkms install' does: register a tree given by path, then install",
	.help = "What 'dkms install' becomes: as dkms-build, then installed as 'kbuildd\n"
		"install' does.",
	.options = DKMS_BUILD_OPTIONS | KB_OPT_NO_DEPMOD,
	.flags = KB_CMD_LOCK | KB_CMD_SETTINGS,
};

/* --- dkms status: DKMS's format ------------------------------------------ */

/* Every module file @m lists is there with the bytes installed. */
static bool modules_intact(struct kb_ctx *ctx, const struct kb_manifest *m)
{
	for (size_t i = 0; i < m->n; i++) {
		char name[NAME_MAX + 1], hex[KB_SHA256_HEX];

		if (kb_manifest_module_name(m->files[i].path, name, sizeof(name)) &&
		    (kb_sha256_file(ctx->root.fd, m->files[i].path, hex) < 0 ||
		     strcmp(hex, m->files[i].sha256)))
			return false;
	}
	return true;
}

/*
 * "installed" when its manifest is this version's (with DKMS's warning when
 * a module file is gone or changed), "built" when its build is kept, else NULL.
 */
static const char *dkms_state(struct kb_ctx *ctx, struct kb_recipe *r, struct kb_kernel *k)
{
	struct kb_task t = { .recipe = r, .kernel = k };
	struct kb_manifest m;
	char rel[PATH_MAX];
	const char *installed = NULL;

	if (kb_manifest_read(ctx, k->release, r->name, &m) == 0 && !strcmp(m.version, r->version))
		installed = modules_intact(ctx, &m) ?
				    "installed" :
				    "installed (WARNING! Diff between built and installed module!)";
	kb_manifest_release(&m);
	if (installed)
		return installed;
	if (kb_task_build_rel(&t, "/build-id", rel, sizeof(rel)) == 0 &&
	    kb_root_exists(&ctx->root, rel))
		return "built";
	return NULL;
}

/* DKMS lists modules, then versions, in its tree's order: sorted. */
static int dkms_recipe_cmp(const void *a, const void *b)
{
	const struct kb_recipe *x = *(struct kb_recipe *const *)a,
			       *y = *(struct kb_recipe *const *)b;
	int c = strcmp(x->name, y->name);

	return c ? c : strverscmp(x->version, y->version);
}

/* Asked for by "NAME" or "NAME/VERSION" (or nothing asked: all). */
static bool dkms_wanted(const struct kb_recipe *r, int argc, char **argv)
{
	for (int i = 0; i < argc; i++) {
		const char *slash = strchr(argv[i], '/');
		size_t len = slash ? (size_t)(slash - argv[i]) : strlen(argv[i]);

		if (strlen(r->name) == len && !strncmp(r->name, argv[i], len) &&
		    (!slash || !strcmp(slash + 1, r->version)))
			return true;
	}
	return !argc;
}

/*
 * "NAME/VERSION, KERNEL, ARCH: installed|built" for each kernel it is built
 * for, else "NAME/VERSION: added". As DKMS, -k only narrows what is shown:
 * a kernel that is not there is no error.
 */
static int cmd_dkms_status(struct kb_ctx *ctx, int argc, char **argv)
{
	struct kb_recipe_set set = { 0 };
	struct kb_kernel_list kernels = { 0 };
	struct kb_strv only = ctx->kernels;
	struct kb_buf b = KB_BUF_INIT;
	struct utsname uts;
	int r;

	ctx->kernels = (struct kb_strv)KB_STRV_INIT;
	r = kb_state_load(ctx, &set);
	if (r >= 0)
		r = kb_kernels_discover(ctx, &kernels);
	ctx->kernels = only;
	if (r < 0)
		goto out;
	if (uname(&uts) < 0)
		snprintf(uts.machine, sizeof(uts.machine), "unknown");
	if (set.n)
		qsort(set.v, set.n, sizeof(*set.v), dkms_recipe_cmp);
	for (size_t i = 0; i < set.n; i++) {
		struct kb_recipe *rc = set.v[i];
		size_t shown = 0;

		if (!dkms_wanted(rc, argc, argv))
			continue;
		for (size_t k = 0; k < kernels.n; k++) {
			struct kb_kernel *kernel = &kernels.v[k];
			const char *state;

			if (only.n && !kb_strv_contains(&only, kernel->release))
				continue;
			state = dkms_state(ctx, rc, kernel);
			if (!state)
				continue;
			kb_buf_addf(&b, "%s/%s, %s, %s: %s\n", rc->name, rc->version,
				    kernel->release, kernel->arch ? kernel->arch : uts.machine,
				    state);
			shown++;
		}
		if (!shown)
			kb_buf_addf(&b, "%s/%s: added\n", rc->name, rc->version);
	}
	r = kb_cli_print(&b, "the status");
out:
	kb_buf_release(&b);
	kb_kernel_list_release(&kernels);
	kb_recipe_set_release(&set);
	return r;
}

const struct kb_cmd kb_cmd_dkms_status = {
	.name = "dkms-status",
	.run = cmd_dkms_status,
	.usage = "[NAME[/VERSION]]... [-k KERNEL]...",
	.summary = "what 'dkms status' prints",
	.help = "DKMS's status lines: \"NAME/VERSION, KERNEL, ARCH: installed\" (or built) for\n"
		"each kernel a registered recipe is built for, else \"NAME/VERSION: added\".",
	.options = KB_OPT_KERNEL,
	.flags = KB_CMD_SETTINGS,
};

/* dkms uninstall, unbuild and remove -k: kbuildd remove, taking away what DKMS takes. */
static int cmd_dkms_uninstall(struct kb_ctx *ctx, int argc, char **argv)
{
	return kb_remove_recipes(ctx, argc, argv, KB_REMOVE_UNINSTALL);
}

static int cmd_dkms_unbuild(struct kb_ctx *ctx, int argc, char **argv)
{
	return kb_remove_recipes(ctx, argc, argv, KB_REMOVE_UNBUILD);
}

static int cmd_dkms_remove(struct kb_ctx *ctx, int argc, char **argv)
{
	return kb_remove_recipes(ctx, argc, argv, KB_REMOVE_LAST);
}

#define DKMS_REMOVE_CMD(verb, what)                                                         \
	{                                                                                   \
		.name = "dkms-" #verb, .run = cmd_dkms_##verb,                              \
		.usage = "NAME/VERSION... (--all | -k KERNEL...)",                          \
		.summary = "what 'dkms " #verb "' does: " what,                             \
		.help = "What 'dkms " #verb "' becomes: " what ".",                         \
		.options = KB_OPT_KERNEL | KB_OPT_DRY_RUN | KB_OPT_NO_DEPMOD | KB_OPT_ALL | \
			   KB_OPT_WAIT,                                                     \
		.flags = KB_CMD_LOCK | KB_CMD_SETTINGS,                                     \
	}

const struct kb_cmd kb_cmd_dkms_uninstall =
	DKMS_REMOVE_CMD(uninstall, "remove the installed files, keep the build");
const struct kb_cmd kb_cmd_dkms_unbuild =
	DKMS_REMOVE_CMD(unbuild, "remove the installed files and the build");
const struct kb_cmd kb_cmd_dkms_remove =
	DKMS_REMOVE_CMD(remove, "remove the installed files and the build, and unregister "
				"once no kernel has a build");

/* --- dkms generate_mok ------------------------------------------------------ */

#define MOK_KEY "var/lib/dkms/mok.key"
#define MOK_CERT "var/lib/dkms/mok.pub"

/* framework.conf's @name (read without kernelver, as DKMS's generate_mok) below the root, else @def. */
static int mok_path(struct kb_ctx *ctx, const struct kb_dkms_conf *c, const char *name,
		    const char *def, char *out, size_t size)
{
	const char *v = kb_framework_value(c, name);
	char where[640];

	if (!v)
		return kb_pathf(out, size, "%s", def);
	kb_framework_where(ctx->framework, name, where, sizeof(where));
	if (!strncmp(v, "pkcs11:", 7) || v[0] != '/')
		return kb_err(-KB_E_INPUT,
			      "%s: %s '%s': generate_mok makes key files, named by "
			      "absolute paths",
			      where, name, v);
	while (*v == '/')
		v++;
	return kb_pathf(out, size, "%s", v);
}

/*
 * DKMS's key pair, made when missing, as DKMS's generate_mok does. Unlike
 * DKMS, half a pair is not replaced by a new whole one: that overwrote
 * keys users had enrolled (dkms #366).
 */
static int cmd_dkms_generate_mok(struct kb_ctx *ctx, int argc, char **argv)
{
	char key_rel[PATH_MAX], cert_rel[PATH_MAX], own[PATH_MAX], own_cert[PATH_MAX];
	struct kb_dkms_conf c;
	bool key, cert, dkms;
	int r;

	(void)argv;
	if (argc)
		return kb_err(-KB_E_INPUT, "generate_mok takes no module");
	kb_dkms_conf_init(&c);
	r = kb_framework_read(ctx, NULL, &c);
	if (r >= 0)
		r = mok_path(ctx, &c, "mok_signing_key", MOK_KEY, key_rel, sizeof(key_rel));
	if (r >= 0)
		r = mok_path(ctx, &c, "mok_certificate", MOK_CERT, cert_rel, sizeof(cert_rel));
	kb_dkms_conf_release(&c);
	if (r < 0)
		return r == -KB_E_INPUT ? r : kb_err_errno(r, "cannot name the key files");
	key = kb_root_exists(&ctx->root, key_rel);
	cert = kb_root_exists(&ctx->root, cert_rel);
	printf("Signing key: /%s\nPublic certificate (MOK): /%s\n", key_rel, cert_rel);
	if (key != cert)
		return kb_err(-KB_E_INPUT,
			      "/%s exists but /%s does not: kbuildd replaces no key; "
			      "restore the missing file, or move the other away to make a new pair",
			      key ? key_rel : cert_rel, key ? cert_rel : key_rel);
	if (!key && !ctx->dry_run) {
		printf("Certificate or key are missing, generating self signed certificate for MOK...\n");
		r = kb_keys_generate_der(&ctx->root, key_rel, cert_rel, 2048,
					 "DKMS module signing key");
		if (r < 0)
			return r == -KB_E_INPUT ? r :
						  kb_err_errno(r, "cannot generate /%s", key_rel);
	}
	kb_signer_paths(ctx, own, own_cert, sizeof(own), &dkms);
	if (strcmp(own, key_rel) && strcmp(key_rel, MOK_KEY) == 0)
		kb_warn("kbuildd signs with /%s, not with this key", own);
	return 0;
}

const struct kb_cmd kb_cmd_dkms_generate_mok = {
	.name = "dkms-generate-mok",
	.run = cmd_dkms_generate_mok,
	.usage = "",
	.summary = "what 'dkms generate_mok' does",
	.help = "Make DKMS's signing key /var/lib/dkms/mok.key and its certificate mok.pub\n"
		"when neither exists; kbuildd signs with them when it has no key of its own.",
	.options = KB_OPT_DRY_RUN,
	.flags = KB_CMD_LOCK | KB_CMD_SETTINGS,
};

/* The commands only translations name: not in kbuildd's table, so not in its --help. */
static const struct kb_cmd *const frontend_commands[] = {
	&kb_cmd_dkms_build,   &kb_cmd_dkms_install, &kb_cmd_dkms_status, &kb_cmd_dkms_uninstall,
	&kb_cmd_dkms_unbuild, &kb_cmd_dkms_remove,  &kb_cmd_dkms_add,	 &kb_cmd_dkms_generate_mok,
};

const struct kb_cmd *kb_dkms_find_command(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(frontend_commands); i++)
		if (!strcmp(frontend_commands[i]->name, name))
			return frontend_commands[i];
	return NULL;
}
