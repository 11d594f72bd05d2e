/* Initramfs backends: the exact command each generator is run with. */
#include <setjmp.h>
#include <stdarg.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "initramfs/initramfs.h"

static void expect_argv(enum kb_initramfs_backend b, const char *command, const char *want)
{
	struct kb_strv argv = KB_STRV_INIT;
	struct kb_buf line = KB_BUF_INIT;

	assert_int_equal(kb_initramfs_argv(b, "6.12.117+deb12-amd64", command, &argv), 0);
	for (size_t i = 0; i < argv.n; i++)
		kb_buf_addf(&line, "%s%s", i ? " " : "", argv.v[i]);
	assert_string_equal(kb_buf_str(&line), want);
	kb_buf_release(&line);
	kb_strv_clear(&argv);
}

static void test_initramfs_tools_updates_one_kernel_now(void **state)
{
	(void)state;
	expect_argv(KB_INITRAMFS_TOOLS, NULL, "update-initramfs -u -k 6.12.117+deb12-amd64");
}

static void test_dracut_forces_one_kernel(void **state)
{
	(void)state;
	expect_argv(KB_INITRAMFS_DRACUT, NULL, "dracut -f --kver 6.12.117+deb12-amd64");
}

static void test_mkinitcpio_generates_beside_the_image(void **state)
{
	(void)state;
	expect_argv(KB_INITRAMFS_MKINITCPIO, NULL,
		    "mkinitcpio -k 6.12.117+deb12-amd64 -g "
		    "/boot/initramfs-6.12.117+deb12-amd64.img.kbuildd-new");
}

static void test_kernel_install_adds_the_kernel_image(void **state)
{
	(void)state;
	expect_argv(KB_INITRAMFS_KERNEL_INSTALL, NULL,
		    "kernel-install add 6.12.117+deb12-amd64 /boot/vmlinuz-6.12.117+deb12-amd64");
}

static void test_command_fills_in_the_release(void **state)
{
	(void)state;
	expect_argv(KB_INITRAMFS_COMMAND, "/usr/local/bin/mkird --out=/boot/ird-{kernel_release} x",
		    "/usr/local/bin/mkird --out=/boot/ird-6.12.117+deb12-amd64 x");
}

static void test_none_and_empty_command_have_no_command(void **state)
{
	struct kb_strv argv = KB_STRV_INIT;

	(void)state;
	assert_int_equal(kb_initramfs_argv(KB_INITRAMFS_NONE, "6.1", NULL, &argv), -EINVAL);
	assert_int_equal(kb_initramfs_argv(KB_INITRAMFS_COMMAND, "6.1", "", &argv), -EINVAL);
	assert_int_equal(kb_initramfs_argv(KB_INITRAMFS_COMMAND, "6.1", NULL, &argv), -EINVAL);
	kb_strv_clear(&argv);
}

static void test_backend_names_round_trip(void **state)
{
	static const char *const names[] = {
		"initramfs-tools", "dracut",  "mkinitcpio", "kernel-install",
		"command",	   "builtin", "none"
	};
	enum kb_initramfs_backend b;

	(void)state;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		assert_int_equal(kb_initramfs_parse(names[i], &b), 0);
		assert_string_equal(kb_initramfs_name(b), names[i]);
	}
	assert_int_equal(kb_initramfs_parse("auto", &b), -EAGAIN);
	assert_int_equal(kb_initramfs_parse(NULL, &b), -EAGAIN);
	assert_int_equal(kb_initramfs_parse("genkernel", &b), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_initramfs_tools_updates_one_kernel_now),
		cmocka_unit_test(test_dracut_forces_one_kernel),
		cmocka_unit_test(test_mkinitcpio_generates_beside_the_image),
		cmocka_unit_test(test_kernel_install_adds_the_kernel_image),
		cmocka_unit_test(test_command_fills_in_the_release),
		cmocka_unit_test(test_none_and_empty_command_have_no_command),
		cmocka_unit_test(test_backend_names_round_trip),
	};

	return cmocka_run_group_tests_name("initramfs", tests, NULL, NULL);
}
