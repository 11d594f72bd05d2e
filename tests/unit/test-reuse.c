/* The pure parts of the reuse rule: masked comparison, vermagic flags, recipe ids (reuse-rule.c, reuse.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/log.h"
#include "recipe.h"
#include "reuse-rule.h"
#include "reuse.h"

static void kernel_init(struct kb_kernel *k, const char *release, const char *arch,
			const char *config, const char *const *trees)
{
	memset(k, 0, sizeof(*k));
	kb_buf_init(&k->config, 0);
	k->release = strdup(release);
	k->arch = strdup(arch);
	kb_buf_adds(&k->config, config);
	for (; trees && *trees; trees++)
		kb_strv_push(&k->trees, *trees);
}

static void kernel_release(struct kb_kernel *k)
{
	free(k->release);
	free(k->arch);
	kb_strv_clear(&k->trees);
	kb_buf_release(&k->config);
}

static unsigned diff(const char *a, const char *b)
{
	static const char *const ta[] = { "/src/linux-headers-6.1.0-56-amd64",
					  "/src/linux-headers-6.1.0-56-common", NULL };
	static const char *const tb[] = { "/usr/src/linux-headers-6.1.0-57-amd64",
					  "/usr/src/linux-headers-6.1.0-57-common", NULL };
	struct kb_kernel ka, kb;
	struct kb_buf ba = KB_BUF_INIT, bb = KB_BUF_INIT;
	unsigned line;

	kernel_init(&ka, "6.1.0-56-amd64", "x86_64", "", ta);
	kernel_init(&kb, "6.1.0-57-amd64", "x86_64", "", tb);
	kb_buf_adds(&ba, a);
	kb_buf_adds(&bb, b);
	line = kb_reuse_masked_diff(&ka, &ba, &kb, &bb);
	kb_buf_release(&ba);
	kb_buf_release(&bb);
	kernel_release(&ka);
	kernel_release(&kb);
	return line;
}

static void masked_diff_passes_what_carries_the_release(void **state)
{
	(void)state;
	assert_int_equal(diff("same\n", "same\n"), 0);
	assert_int_equal(diff("#define UTS_RELEASE \"6.1.0-56-amd64\"\n",
			      "#define UTS_RELEASE \"6.1.0-57-amd64\"\n"),
			 0);
	/* the version and salt strings may be anything */
	assert_int_equal(diff("#define UTS_VERSION \"#1 SMP Debian 6.1.192-2 (2026-11-16)\"\n",
			      "#define UTS_VERSION \"#1 SMP Debian 6.1.192-3 (2026-11-26)\"\n"),
			 0);
	assert_int_equal(diff("CONFIG_BUILD_SALT=\"abc\"\n", "CONFIG_BUILD_SALT=\"xyz\"\n"), 0);
	/* a tree's path is the other kernel's tree */
	assert_int_equal(diff("include /src/linux-headers-6.1.0-56-common/Makefile\n",
			      "include /usr/src/linux-headers-6.1.0-57-common/Makefile\n"),
			 0);
}

static void masked_diff_names_the_first_line_that_differs(void **state)
{
	(void)state;
	assert_int_equal(diff("a\nb\nc\n", "a\nB\nc\n"), 2);
	assert_int_equal(diff("a\nb\n", "a\nb\nc\n"), 3);
	assert_int_equal(diff("a\nb\nc\n", "a\nb\n"), 3);
	/* a release-bearing key with another key's text before it is not masked */
	assert_int_equal(diff("x\n#define FOO \"1\" /* UTS_VERSION */\n",
			      "x\n#define BAR \"1\" /* UTS_VERSION */\n"),
			 2);
	assert_int_equal(diff("#define UTS_VERSION_X 1\n", "#define UTS_VERSION_X 2\n"), 1);
	/* another release than the kernels' is not masked */
	assert_int_equal(diff("6.1.0-55-amd64\n", "6.1.0-57-amd64\n"), 1);
}

static void vermagic(const char *arch, const char *config, const char *want)
{
	struct kb_kernel k;
	char flags[256] = "", why[256] = "";
	int r;

	kernel_init(&k, "6.1.0-57-amd64", arch, config, NULL);
	r = kb_reuse_vermagic_flags(&k, flags, sizeof(flags), why, sizeof(why));
	if (want) {
		assert_int_equal(r, 0);
		assert_string_equal(flags, want);
	} else {
		assert_int_equal(r, -KB_E_BUILD);
		assert_true(why[0]);
	}
	kernel_release(&k);
}

static void vermagic_flags_are_what_vermagic_h_makes_of_config(void **state)
{
	(void)state;
	/* Debian's amd64: "6.1.0-57-amd64 SMP preempt mod_unload modversions " */
	vermagic("x86_64",
		 "CONFIG_SMP=y\nCONFIG_PREEMPT_BUILD=y\nCONFIG_MODULE_UNLOAD=y\nCONFIG_MODVERSIONS=y\n",
		 "SMP preempt mod_unload modversions ");
	vermagic("x86_64", "CONFIG_SMP=y\nCONFIG_PREEMPT_RT=y\n", "SMP preempt_rt ");
	vermagic("aarch64", "CONFIG_SMP=y\nCONFIG_MODVERSIONS=y\n", "SMP modversions aarch64");
	vermagic("x86_64", "CONFIG_SMP=y\n# CONFIG_PREEMPT_BUILD is not set\n", "SMP ");
	/* what kbuildd cannot tell, it does not guess */
	vermagic("riscv64", "CONFIG_SMP=y\n", NULL);
	vermagic("x86_64", "CONFIG_RANDSTRUCT_FULL=y\n", NULL);
	vermagic("x86_64", "CONFIG_PREEMPT_RT=y\nCONFIG_PREEMPT_BUILD=y\n", NULL);
}

static void recipe_id_masks_the_release_only(void **state)
{
	struct kb_recipe r;
	char a[KB_SHA256_HEX], b[KB_SHA256_HEX], c[KB_SHA256_HEX];

	(void)state;
	kb_recipe_init(&r);
	kb_buf_init(&r.text, 0);
	r.source_hash = strdup("s1");
	kb_buf_adds(&r.text, "make KVER=6.1.0-56-amd64 -C /lib/modules/6.1.0-56-amd64/build\n");
	kb_reuse_recipe_id(&r, "6.1.0-56-amd64", a);
	kb_buf_reset(&r.text);
	kb_buf_adds(&r.text, "make KVER=6.1.0-57-amd64 -C /lib/modules/6.1.0-57-amd64/build\n");
	kb_reuse_recipe_id(&r, "6.1.0-57-amd64", b);
	assert_string_equal(a, b);
	/* another source is another recipe */
	free(r.source_hash);
	r.source_hash = strdup("s2");
	kb_reuse_recipe_id(&r, "6.1.0-57-amd64", c);
	assert_string_not_equal(b, c);
	kb_recipe_release(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(masked_diff_passes_what_carries_the_release),
		cmocka_unit_test(masked_diff_names_the_first_line_that_differs),
		cmocka_unit_test(vermagic_flags_are_what_vermagic_h_makes_of_config),
		cmocka_unit_test(recipe_id_masks_the_release_only),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
