/*
 * The audit layer's own formats: auditd's record lines (raw and enriched,
 * as auditd 3 writes them; never trusted), the kernel's taint letters, and
 * which policy line keeps a module out.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "audit/auditlog.h"
#include "audit/facts.h"
#include "audit/policy.h"
#include "base/log.h"

#define ENRICHED                                                                                    \
	"type=SYSCALL msg=audit(1764590400.120:310): arch=c000003e syscall=313 success=yes exit=0 " \
	"a0=3 a1=55e1c2a4c4a0 a2=0 a3=0 items=0 ppid=812 pid=813 auid=1000 uid=0 gid=0 euid=0 "     \
	"tty=pts0 ses=3 comm=\"modprobe\" exe=\"/usr/bin/kmod\" subj=unconfined "                   \
	"key=\"kbuildd-module\"\x1d"                                                                \
	"ARCH=x86_64 SYSCALL=finit_module AUID=\"alice\" UID=\"root\" GID=\"root\"\n"               \
	"type=KERN_MODULE msg=audit(1764590400.120:310): name=\"vpoll\"\n"                          \
	"type=PROCTITLE msg=audit(1764590400.120:310): proctitle=6D6F6470726F626500767..\n"

static int parse(const char *text, struct kb_audit_log *log)
{
	char *copy = strdup(text);
	int r;

	assert_non_null(copy);
	memset(log, 0, sizeof(*log));
	r = kb_audit_log_parse(copy, log);
	free(copy);
	return r;
}

static void an_enriched_load_names_module_user_and_program(void **state)
{
	struct kb_audit_log log;

	(void)state;
	assert_int_equal(parse(ENRICHED, &log), 0);
	assert_int_equal(log.n, 1);
	assert_string_equal(log.v[0].syscall, "finit_module");
	assert_string_equal(log.v[0].module, "vpoll");
	assert_true(log.v[0].success);
	assert_int_equal(log.v[0].when, 1764590400);
	assert_int_equal(log.v[0].msec, 120);
	assert_int_equal(log.v[0].serial, 310);
	assert_string_equal(log.v[0].auid, "1000 (alice)");
	assert_string_equal(log.v[0].uid, "0 (root)");
	assert_string_equal(log.v[0].exe, "/usr/bin/kmod");
	assert_string_equal(log.v[0].key, "kbuildd-module");
	kb_audit_log_release(&log);
}

static void raw_records_by_number_hex_strings_and_no_module_record(void **state)
{
	static const char text[] =
		/* KERN_MODULE before its SYSCALL, a hex-encoded exe with a space */
		"type=KERN_MODULE msg=audit(1764594000.500:460): name=726F677565\n"
		"type=SYSCALL msg=audit(1764594000.500:460): arch=c000003e syscall=175 success=no "
		"exit=-1 auid=4294967295 uid=0 comm=\"insmod\" exe=2F746D702F6D7920696E736D6F64 "
		"key=\"kbuildd-module\"\n"
		/* aarch64's delete_module, and a failed init_module with no module record */
		"type=SYSCALL msg=audit(1764597600.300:502): arch=c00000b7 syscall=106 success=yes "
		"exit=0 auid=1001 uid=0 exe=\"/usr/bin/kmod\" key=(null)\n"
		"type=SYSCALL msg=audit(1764597601.000:503): arch=c000003e syscall=175 success=no "
		"exit=-17 auid=0 uid=0 exe=\"/usr/sbin/insmod\"\n"
		/* not a module call, another arch, junk */
		"type=SYSCALL msg=audit(1764597602.000:504): arch=c000003e syscall=257 success=yes\n"
		"type=SYSCALL msg=audit(1764597602.000:505): arch=deadbeef syscall=175\n"
		"type=SYSCALL msg=audit(\n"
		"msg=audit(1.2:3): syscall=175\n"
		"type=SYSCALL msg=audit(x.y:z): arch=c000003e syscall=175\n";
	struct kb_audit_log log;

	(void)state;
	assert_int_equal(parse(text, &log), 0);
	assert_int_equal(log.n, 3);
	assert_string_equal(log.v[0].syscall, "init_module");
	assert_string_equal(log.v[0].module, "rogue");
	assert_false(log.v[0].success);
	assert_int_equal(log.v[0].exit, -1);
	assert_string_equal(log.v[0].auid, "unset");
	assert_string_equal(log.v[0].exe, "/tmp/my insmod");
	assert_string_equal(log.v[1].syscall, "delete_module");
	assert_string_equal(log.v[1].module, "");
	assert_string_equal(log.v[1].auid, "1001");
	assert_string_equal(log.v[1].key, "(null)");
	assert_string_equal(log.v[2].module, "");
	assert_int_equal(log.v[2].exit, -17);
	kb_audit_log_release(&log);
}

static void taint_letters_and_bits_in_words(void **state)
{
	struct kb_buf b = KB_BUF_INIT;

	(void)state;
	kb_taint_letters_words("OE\n", &b);
	assert_string_equal(kb_buf_str(&b), "O (out-of-tree module), E (unsigned module)");
	kb_buf_reset(&b);
	kb_taint_letters_words("", &b);
	assert_string_equal(kb_buf_str(&b), "none");
	kb_buf_reset(&b);
	kb_taint_mask_words(12289, &b);
	assert_string_equal(kb_buf_str(&b), "P (proprietary module), O (out-of-tree module), E "
					    "(unsigned module)");
	kb_buf_reset(&b);
	kb_taint_mask_words(1UL << 40, &b);
	assert_string_equal(kb_buf_str(&b), "bit 40");
	kb_buf_release(&b);
}

static void deny_wins_and_an_allow_list_names_its_line(void **state)
{
	char hello[] = "hello", virtio[] = "virtio_*", balloon[] = "virtio_balloon";
	struct kb_policy_item allow[] = { { hello, 3 }, { virtio, 3 } };
	struct kb_policy_item deny[] = { { balloon, 5 } };
	struct kb_policy p = {
		.present = true, .allow = allow, .deny = deny, .n_allow = 2, .n_deny = 1
	};
	char why[512];

	(void)state;
	assert_false(kb_policy_blocks(&p, "hello", why, sizeof(why)));
	assert_false(kb_policy_blocks(&p, "virtio-net", why, sizeof(why)));
	assert_true(kb_policy_blocks(&p, "virtio_balloon", why, sizeof(why)));
	assert_string_equal(why, "/etc/kbuildd/policy.conf:5: deny = virtio_balloon");
	assert_true(kb_policy_blocks(&p, "usb_storage", why, sizeof(why)));
	assert_string_equal(why, "/etc/kbuildd/policy.conf:3: allow = ... does not name it");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(an_enriched_load_names_module_user_and_program),
		cmocka_unit_test(raw_records_by_number_hex_strings_and_no_module_record),
		cmocka_unit_test(taint_letters_and_bits_in_words),
		cmocka_unit_test(deny_wins_and_an_allow_list_names_its_line),
	};

	kb_log_set_level(KB_LOG_QUIET);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
