/* Unit tests for the dkms front end's translation of DKMS command lines (builder/cli/cmd-dkms.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cli/cmd-dkms.h"

#define RUNNING "6.1.0-56-amd64"
#define OTHER "6.12.117+deb12-amd64"
#define KB "kbuildd --dkms-exit-codes"

/* The fake system: source trees, registrations and kernels the translation may look at. */
static enum kb_dkms_path fake_classify(const char *arg)
{
	static const char *const trees[] = {
		"hello-1.0",
		"./hello-1.0",
		"src/hello-1.0/dkms.conf",
		"/usr/src/new-2.0",
		"/srv/image/usr/src/new-2.0",
	};

	for (size_t i = 0; i < sizeof(trees) / sizeof(trees[0]); i++)
		if (!strcmp(arg, trees[i]))
			return KB_DKMS_PATH_TREE;
	return strcmp(arg, "new-2.0.dkms.tar.gz") ? KB_DKMS_PATH_NONE : KB_DKMS_PATH_FILE;
}

/* Everything but "new" is registered already. */
static bool fake_registered(const char *root, const char *module, const char *version)
{
	(void)root;
	(void)version;
	return strcmp(module, "new") != 0;
}

static char *fake_running(const char *root)
{
	(void)root;
	return strdup(RUNNING);
}

static char *no_running(const char *root)
{
	(void)root;
	return NULL;
}

static int fake_kernels(const char *root, struct kb_strv *releases)
{
	(void)root;
	if (kb_strv_push(releases, RUNNING) < 0 || kb_strv_push(releases, OTHER) < 0)
		return -1;
	return 0;
}

static const struct kb_dkms_host host = {
	.machine = "x86_64",
	.version = "0.1.0",
	.classify = fake_classify,
	.registered = fake_registered,
	.running = fake_running,
	.kernels = fake_kernels,
};

/* Translate @line (words split at spaces) with @h: the status, kbuildd's line in @argv_out. */
static int translate(const struct kb_dkms_host *h, const char *line, struct kb_buf *argv_out,
		     struct kb_dkms_call *call)
{
	struct kb_strv words = KB_STRV_INIT;
	int r;

	if (kb_strv_split(&words, line) < 0)
		fail_msg("cannot split '%s'", line);
	r = kb_dkms_translate((int)words.n, kb_strv_argv(&words), h, call);
	for (size_t i = 0; i < call->argv.n; i++)
		kb_buf_addf(argv_out, "%s%s", i ? " " : "", call->argv.v[i]);
	kb_strv_clear(&words);
	return r;
}

static void assert_translation_with(const struct kb_dkms_host *h, const char *dkms,
				    const char *kbuildd)
{
	struct kb_dkms_call call = KB_DKMS_CALL_INIT;
	struct kb_buf got = KB_BUF_INIT;
	int r = translate(h, dkms, &got, &call);

	if (r != 0 || strcmp(kb_buf_str(&got), kbuildd))
		fail_msg("'dkms %s' became '%s' (status %d, stderr '%s'), expected '%s'", dkms,
			 kb_buf_str(&got), r, kb_buf_str(&call.err), kbuildd);
	kb_buf_release(&got);
	kb_dkms_call_release(&call);
}

static void assert_translation(const char *dkms, const char *kbuildd)
{
	assert_translation_with(&host, dkms, kbuildd);
}

/* 'dkms @dkms' must run nothing, exit @status and say @message (a part of it) on stderr. */
static void assert_refused(const char *dkms, int status, const char *message)
{
	struct kb_dkms_call call = KB_DKMS_CALL_INIT;
	struct kb_buf got = KB_BUF_INIT;
	int r = translate(&host, dkms, &got, &call);

	if (r != status || call.argv.n || !strstr(kb_buf_str(&call.err), message))
		fail_msg("'dkms %s': status %d, command '%s', stderr '%s'; expected status %d and "
			 "'%s'",
			 dkms, r, kb_buf_str(&got), kb_buf_str(&call.err), status, message);
	if (strncmp(kb_buf_str(&call.err), "Error! ", 7))
		fail_msg("'dkms %s': the message does not start as DKMS's: '%s'", dkms,
			 kb_buf_str(&call.err));
	kb_buf_release(&got);
	kb_dkms_call_release(&call);
}

static void add_registers_a_source_tree_given_by_path(void **state)
{
	(void)state;
	assert_translation("add hello-1.0", KB " dkms-add ./hello-1.0");
	assert_translation("add ./hello-1.0", KB " dkms-add ./hello-1.0");
	assert_translation("add src/hello-1.0/dkms.conf", KB " dkms-add src/hello-1.0/dkms.conf");
}

static void add_by_module_and_version_takes_the_tree_in_usr_src(void **state)
{
	(void)state;
	assert_translation("add -m foo -v 1.2", KB " dkms-add /usr/src/foo-1.2");
	assert_translation("add foo/1.2", KB " dkms-add /usr/src/foo-1.2");
	assert_translation("add -m foo/1.2 --root /srv/image/",
			   KB " --root /srv/image/ dkms-add /srv/image/usr/src/foo-1.2");
}

static void build_and_install_pass_each_kernel_without_its_arch(void **state)
{
	(void)state;
	assert_translation("build foo/1.2 -k " RUNNING, KB " build foo/1.2 -k " RUNNING);
	assert_translation("install -m foo -v 1.2 -k " RUNNING "/x86_64 -k " OTHER,
			   KB " install foo/1.2 -k " RUNNING " -k " OTHER);
	assert_translation("build -k " RUNNING " -k " RUNNING " foo/1.2",
			   KB " build foo/1.2 -k " RUNNING);
	/* kbuildd builds for every installed kernel where DKMS takes the running one */
	assert_translation("install foo", KB " install foo");
	assert_translation("build -m foo", KB " build foo");
}

static void build_and_install_register_a_tree_first_as_dkms_does(void **state)
{
	(void)state;
	assert_translation("build hello-1.0 -k " RUNNING, KB " dkms-build ./hello-1.0 -k " RUNNING);
	assert_translation("install ./hello-1.0", KB " dkms-install ./hello-1.0");
	/* not registered yet, but in /usr/src: DKMS's build adds it */
	assert_translation("install -m new -v 2.0", KB " dkms-install /usr/src/new-2.0");
	assert_translation("build new/2.0 --root /srv/image",
			   KB " --root /srv/image dkms-build /srv/image/usr/src/new-2.0");
	assert_translation("install new/3.0", KB " install new/3.0");
}

static void options_a_command_does_not_take_are_dropped(void **state)
{
	(void)state;
	assert_translation("install foo/1.2 -j 4 --force --no-depmod",
			   KB " install foo/1.2 -j 4 --no-depmod --force");
	assert_translation("build foo/1.2 -j 4 --force --no-depmod",
			   KB " build foo/1.2 -j 4 --force");
	assert_translation("remove foo/1.2 --all -j 4 --force --no-depmod",
			   KB " remove foo/1.2 --all --no-depmod");
	/* -j0 is DKMS's unlimited make -j: kbuildd's own default then */
	assert_translation("build foo/1.2 -j 0", KB " build foo/1.2");
	assert_refused("build foo/1.2 -j many", 2, "invalid -j 'many'");
}

/* DKMS 2's mkbmdeb and mkdeb made binary module packages: kbuildd export --deb makes them. */
static void mkbmdeb_and_mkdeb_export_a_binary_package(void **state)
{
	(void)state;
	assert_translation("mkbmdeb foo/1.2", KB " export --deb foo/1.2 -k " RUNNING);
	assert_translation("mkbmdeb -m foo -v 1.2 -k " OTHER, KB " export --deb foo/1.2 -k " OTHER);
	assert_translation("mkdeb foo/1.2", KB " export --deb foo/1.2 -k " RUNNING);
	assert_refused("mkbmdeb", 1, "Arguments <module> and <module-version> are not specified");
}

static void uninstall_unbuild_and_remove_default_to_the_running_kernel(void **state)
{
	(void)state;
	assert_translation("uninstall foo/1.2", KB " dkms-uninstall foo/1.2 -k " RUNNING);
	assert_translation("unbuild -m foo -v 1.2 -k " OTHER, KB " dkms-unbuild foo/1.2 -k " OTHER);
	assert_translation("remove foo/1.2", KB " dkms-remove foo/1.2 -k " RUNNING);
	assert_translation("remove foo/1.2 -k " OTHER, KB " dkms-remove foo/1.2 -k " OTHER);
}

static void remove_all_unregisters_and_uninstall_all_covers_every_kernel(void **state)
{
	(void)state;
	assert_translation("remove -m foo -v 1.2 --all", KB " remove foo/1.2 --all");
	assert_translation("uninstall foo/1.2 --all",
			   KB " dkms-uninstall foo/1.2 -k " RUNNING " -k " OTHER);
}

static void status_takes_a_module_a_version_and_kernels(void **state)
{
	(void)state;
	assert_translation("status", KB " dkms-status");
	assert_translation("status -m foo", KB " dkms-status foo");
	assert_translation("status foo/1.2 -k " OTHER "/x86_64",
			   KB " dkms-status foo/1.2 -k " OTHER);
	assert_translation("status --all", KB " dkms-status");
}

static void autoinstall_rebuilds_one_kernel_by_default_the_running_one(void **state)
{
	(void)state;
	assert_translation("autoinstall", KB " rebuild -k " RUNNING);
	assert_translation("autoinstall -k " OTHER " --no-depmod -j 2",
			   KB " rebuild -k " OTHER " -j 2 --no-depmod");
	assert_refused("autoinstall --all", 5,
		       "The action autoinstall does not support the --all "
		       "parameter.");
	assert_refused("autoinstall -k " RUNNING " -k " OTHER, 4,
		       "The action autoinstall does not support multiple kernel version parameters");
}

static void kernel_hooks_need_exactly_one_kernel(void **state)
{
	(void)state;
	assert_translation("kernel_postinst -k " OTHER, KB " rebuild -k " OTHER);
	assert_translation("kernel_prerm --kernelver " OTHER, KB " remove -k " OTHER);
	assert_translation("kernel_preinst -k " OTHER, "");
	assert_refused("kernel_postinst", 4,
		       "The action kernel_postinst requires exactly one "
		       "kernel version parameter on the command line.");
	assert_refused("kernel_prerm -k " RUNNING " -k " OTHER, 4, "requires exactly one kernel");
	assert_refused("kernel_postinst --all", 5, "does not support the --all parameter");
}

static void without_a_running_kernel_autoinstall_asks_for_one(void **state)
{
	struct kb_dkms_host h = host;
	struct kb_dkms_call call = KB_DKMS_CALL_INIT;
	struct kb_buf got = KB_BUF_INIT;

	(void)state;
	h.running = no_running;
	assert_int_equal(translate(&h, "autoinstall", &got, &call), 2);
	assert_non_null(strstr(kb_buf_str(&call.err), "give -k KERNEL"));
	assert_int_equal(call.argv.n, 0);
	kb_buf_release(&got);
	kb_dkms_call_release(&call);
}

static void long_options_take_a_value_after_an_equals_sign(void **state)
{
	(void)state;
	assert_translation("install --module=foo/1.2 --kernelver=" RUNNING " --arch=x86_64",
			   KB " install foo/1.2 -k " RUNNING);
	assert_translation("status --root=/srv/image", KB " --root /srv/image dkms-status");
	assert_refused("status -k=" RUNNING, 2, "Unknown option: -k=");
}

static void root_and_kbuildd_options_before_dkms_pass_through(void **state)
{
	static char root_opt[] = "--root", root_dir[] = "/srv/image", quiet[] = "-q";
	static char *const prefix[] = { root_opt, root_dir, quiet };
	struct kb_dkms_host h = host;

	(void)state;
	h.prefix = prefix;
	h.nr_prefix = 3;
	h.root = prefix[1];
	assert_translation_with(&h, "add -m foo -v 1.2",
				"kbuildd --root /srv/image -q --dkms-exit-codes dkms-add "
				"/srv/image/usr/src/foo-1.2");
	assert_translation_with(&h, "status --root /srv/other",
				"kbuildd --root /srv/image -q --dkms-exit-codes --root /srv/other "
				"dkms-status");
}

static void quiet_verbose_and_debug_become_kbuildd_verbosity(void **state)
{
	struct kb_dkms_call call = KB_DKMS_CALL_INIT;
	struct kb_buf got = KB_BUF_INIT;

	(void)state;
	assert_translation("status -q", KB " -q dkms-status");
	assert_translation("status --quiet", KB " -q dkms-status");
	assert_translation("status --debug", KB " -v -v dkms-status");
	assert_int_equal(translate(&host, "status --verbose", &got, &call), 0);
	assert_string_equal(kb_buf_str(&got), KB " -v dkms-status");
	assert_string_equal(kb_buf_str(&call.err), "Running: " KB " -v dkms-status\n");
	kb_buf_release(&got);
	kb_dkms_call_release(&call);
}

static void deprecated_and_meaningless_options_are_accepted_silently(void **state)
{
	struct kb_dkms_call call = KB_DKMS_CALL_INIT;
	struct kb_buf got = KB_BUF_INIT;

	(void)state;
	assert_int_equal(translate(&host,
				   "install foo/1.2 --no-initrd --no-clean-kernel "
				   "--no-prepare-kernel --rpm_safe_upgrade",
				   &got, &call),
			 0);
	assert_string_equal(kb_buf_str(&got), KB " install foo/1.2");
	assert_string_equal(kb_buf_str(&call.err), "");
	kb_buf_release(&got);
	kb_dkms_call_release(&call);
}

static void force_version_override_installs_an_older_module_as_force_does(void **state)
{
	struct kb_dkms_call call = KB_DKMS_CALL_INIT;
	struct kb_buf got = KB_BUF_INIT;

	(void)state;
	assert_int_equal(translate(&host, "install foo/1.2 --force-version-override", &got, &call),
			 0);
	assert_string_equal(kb_buf_str(&got), KB " install foo/1.2 --force");
	kb_buf_release(&got);
	kb_dkms_call_release(&call);
}

static void options_kbuildd_cannot_honour_are_refused_with_the_reason(void **state)
{
	(void)state;
	assert_refused("build foo/1.2 --kernelsourcedir /usr/src/linux", 2,
		       "--kernelsourcedir is not supported: kbuildd finds headers at "
		       "/lib/modules/KERNEL/build");
	assert_refused("build foo/1.2 --kernelsourcedir=/usr/src/linux", 2,
		       "--kernelsourcedir is not supported");
	assert_refused("install foo/1.2 --dkmstree /tmp/t", 2, "--dkmstree is not supported");
	assert_refused("install foo/1.2 --sourcetree /tmp/s", 2, "--sourcetree is not supported");
	assert_refused("install foo/1.2 --installtree /tmp/i", 2, "--installtree is not supported");
	assert_refused("install foo/1.2 --directive X=1", 2, "--directive is not supported");
	assert_refused("add -c /tmp/dkms.conf", 2, "-c is not supported");
	assert_refused("install foo/1.2 --config /boot/config", 2, "--config is not supported");
	assert_refused("install foo/1.2 --symlink-modules", 2,
		       "--symlink-modules is not supported");
}

static void a_foreign_arch_is_refused(void **state)
{
	(void)state;
	assert_refused("build foo/1.2 -k " RUNNING "/aarch64", 2,
		       "architecture 'aarch64' is not supported: kbuildd builds for this "
		       "machine's, x86_64");
	assert_refused("build foo/1.2 -a armv7l", 2, "architecture 'armv7l'");
	assert_refused("remove foo/1.2 --all -a x86_64", 3, "You cannot specify an arch and also");
	assert_refused("remove foo/1.2 --all -k " RUNNING, 2,
		       "You cannot specify a kernel version and also specify");
}

static void a_missing_module_is_said_as_dkms_says_it(void **state)
{
	(void)state;
	assert_refused("remove", 1,
		       "Arguments <module> and <module-version> are not specified.\n"
		       "Usage: remove <module>/<module-version> or\n");
	assert_refused("uninstall -m foo", 1, "Arguments <module> and <module-version>");
	assert_refused("add -m foo", 1, "Usage: add <module>/<module-version> or");
	assert_refused("build", 1, "Usage: build <module>/<module-version> or");
	assert_refused("install -k " RUNNING, 1, "Arguments <module> and <module-version>");
}

static void unknown_and_unsupported_actions_are_refused(void **state)
{
	(void)state;
	assert_refused("frobnicate foo/1.2", 2,
		       "Unknown action specified: \"frobnicate\"\n"
		       "kbuildd's dkms does add, build, install, uninstall, unbuild, remove, "
		       "status, autoinstall, kernel_postinst, kernel_preinst, kernel_prerm, "
		       "mkbmdeb, mkdeb or generate_mok.");
	assert_refused("", 2, "No action specified: give one of add, build,");
	assert_refused("--root /srv/image frobnicate", 2,
		       "Unknown action specified: \"frobnicate\"");
	assert_refused("-k " RUNNING, 2, "No action specified");
	assert_refused("mktarball foo/1.2", 2, "dkms mktarball is not supported by kbuildd");
	assert_refused("ldtarball new-2.0.dkms.tar.gz", 2, "dkms ldtarball is not supported");
	assert_refused("match --templatekernel " RUNNING " -k " OTHER, 2, "--templatekernel");
	assert_translation("generate_mok", KB " dkms-generate-mok");
	assert_refused("build install foo/1.2", 4, "Cannot specify more than one action.");
	assert_refused("add new-2.0.dkms.tar.gz", 2, "DKMS tarballs are not supported");
}

static void unknown_options_and_missing_values_are_refused(void **state)
{
	(void)state;
	assert_refused("status --frobnicate", 2, "Unknown option: --frobnicate");
	assert_refused("install foo/1.2 --force=yes", 2, "Unknown option: --force=yes");
	assert_refused("build foo/1.2 -k", 2, "option '-k' needs an argument");
	assert_refused("build foo/1.2 -k /x86_64", 2, "-k needs a kernel release");
}

static void help_and_version_answer_on_stdout_at_once(void **state)
{
	struct kb_dkms_call version = KB_DKMS_CALL_INIT, help = KB_DKMS_CALL_INIT;
	struct kb_buf got = KB_BUF_INIT;

	(void)state;
	assert_int_equal(translate(&host, "--version --frobnicate", &got, &version), 0);
	assert_string_equal(kb_buf_str(&version.out), "dkms-3.2.2 (kbuildd 0.1.0)\n");
	assert_int_equal(version.argv.n, 0);
	assert_int_equal(translate(&host, "install -h", &got, &help), 0);
	assert_non_null(strstr(kb_buf_str(&help.out), "Usage: dkms ACTION"));
	assert_non_null(strstr(kb_buf_str(&help.out), "kernel_postinst"));
	assert_int_equal(help.argv.n, 0);
	assert_string_equal(kb_buf_str(&got), "");
	kb_buf_release(&got);
	kb_dkms_call_release(&version);
	kb_dkms_call_release(&help);
}

static void a_second_module_is_warned_about_as_dkms_does(void **state)
{
	struct kb_dkms_call call = KB_DKMS_CALL_INIT;
	struct kb_buf got = KB_BUF_INIT;

	(void)state;
	assert_int_equal(translate(&host, "remove foo/1.2 bar/3 --all", &got, &call), 0);
	assert_string_equal(kb_buf_str(&got), KB " remove foo/1.2 --all");
	assert_string_equal(kb_buf_str(&call.err), "Warning: I do not know how to handle bar/3.\n");
	kb_buf_release(&got);
	kb_dkms_call_release(&call);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(add_registers_a_source_tree_given_by_path),
		cmocka_unit_test(add_by_module_and_version_takes_the_tree_in_usr_src),
		cmocka_unit_test(build_and_install_pass_each_kernel_without_its_arch),
		cmocka_unit_test(build_and_install_register_a_tree_first_as_dkms_does),
		cmocka_unit_test(options_a_command_does_not_take_are_dropped),
		cmocka_unit_test(mkbmdeb_and_mkdeb_export_a_binary_package),
		cmocka_unit_test(uninstall_unbuild_and_remove_default_to_the_running_kernel),
		cmocka_unit_test(remove_all_unregisters_and_uninstall_all_covers_every_kernel),
		cmocka_unit_test(status_takes_a_module_a_version_and_kernels),
		cmocka_unit_test(autoinstall_rebuilds_one_kernel_by_default_the_running_one),
		cmocka_unit_test(kernel_hooks_need_exactly_one_kernel),
		cmocka_unit_test(without_a_running_kernel_autoinstall_asks_for_one),
		cmocka_unit_test(long_options_take_a_value_after_an_equals_sign),
		cmocka_unit_test(root_and_kbuildd_options_before_dkms_pass_through),
		cmocka_unit_test(quiet_verbose_and_debug_become_kbuildd_verbosity),
		cmocka_unit_test(deprecated_and_meaningless_options_are_accepted_silently),
		cmocka_unit_test(force_version_override_installs_an_older_module_as_force_does),
		cmocka_unit_test(options_kbuildd_cannot_honour_are_refused_with_the_reason),
		cmocka_unit_test(a_foreign_arch_is_refused),
		cmocka_unit_test(a_missing_module_is_said_as_dkms_says_it),
		cmocka_unit_test(unknown_and_unsupported_actions_are_refused),
		cmocka_unit_test(unknown_options_and_missing_values_are_refused),
		cmocka_unit_test(help_and_version_answer_on_stdout_at_once),
		cmocka_unit_test(a_second_module_is_warned_about_as_dkms_does),
	};

	return cmocka_run_group_tests_name("dkms-args", tests, NULL, NULL);
}
