/* Unit tests for recognising depmod's own temp files (builder/depmod.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "depmod.h"

/* what kmod 30's depmod writes beside each index, NAME.PID.USEC.SEC */
static void is_temp_knows_every_index_depmod_writes(void **state)
{
	static const char *const temps[] = {
		"modules.dep.16826.604029.1796149428",
		"modules.dep.bin.16826.604029.1796149428",
		"modules.alias.1.0.0",
		"modules.alias.bin.1.2.3",
		"modules.softdep.9.9.9",
		"modules.symbols.12.34.56",
		"modules.symbols.bin.12.34.56",
		"modules.builtin.bin.7.8.9",
		"modules.builtin.alias.bin.7.8.9",
		"modules.devname.7.8.9",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(temps) / sizeof(temps[0]); i++)
		if (!kb_depmod_is_temp(temps[i]))
			fail_msg("'%s' was not taken for depmod's", temps[i]);
}

static void is_temp_leaves_everything_else(void **state)
{
	static const char *const others[] = {
		"modules.dep",	       "modules.dep.bin",     "modules.order",
		"modules.builtin",     "modules.dep.orig",    "modules.dep.1.2",
		"modules.dep.1.2.3.4", "modules.dep.1.2.x",   "modules.dep..2.3",
		"modules.dep.1.2.3.",  "modules.order.1.2.3", "modules.dep.bak.1.2.3",
		"x-modules.dep.1.2.3", "blob.part",	      ".modules.dep.1.2.3",
		"modules.dep.-1.2.3",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++)
		if (kb_depmod_is_temp(others[i]))
			fail_msg("'%s' was taken for depmod's", others[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(is_temp_knows_every_index_depmod_writes),
		cmocka_unit_test(is_temp_leaves_everything_else),
	};

	return cmocka_run_group_tests_name("depmod", tests, NULL, NULL);
}
