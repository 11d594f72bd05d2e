/* Plan decisions: which kernels a recipe applies to, and what changes a build id. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "plan.h"

static const char base_recipe[] =
	"[recipe]\nname = hello\nversion = 1.0.0\n[source]\npath = .\n[module hello]\n";

static void kernel_init(struct kb_kernel *k, const char *release, const char *config)
{
	memset(k, 0, sizeof(*k));
	kb_buf_init(&k->config, 0);
	k->release = strdup(release);
	k->has_ver = kb_kver_parse(release, &k->ver) == 0;
	k->arch = strdup("x86_64");
	k->usable = true;
	kb_buf_adds(&k->config, config);
	strcpy(k->config_hash, "c0");
	strcpy(k->symvers_hash, "s0");
}

static void kernel_release(struct kb_kernel *k)
{
	free(k->release);
	free(k->arch);
	free(k->cc_version);
	kb_buf_release(&k->config);
}

static void recipe_from(struct kb_recipe *r, const char *build_section)
{
	char text[1024];

	snprintf(text, sizeof(text), "%s[build]\n%s\n", base_recipe, build_section);
	kb_recipe_init(r);
	assert_int_equal(kb_recipe_parse(r, "t.recipe", text, strlen(text)), 0);
	r->source_hash = strdup("abc");
}

/* NULL when @r applies to @release; else the reason must contain @want. */
static void expect_exclusion(const char *build, const char *release, const char *config,
			     const char *want)
{
	struct kb_recipe r;
	struct kb_kernel k;
	char *why;

	recipe_from(&r, build);
	kernel_init(&k, release, config);
	why = kb_plan_exclusion(&r, &k);
	if (!want) {
		assert_null(why);
	} else {
		assert_non_null(why);
		assert_non_null(strstr(why, want));
	}
	free(why);
	kernel_release(&k);
	kb_recipe_release(&r);
}

static void test_version_range_excludes_newer_series(void **state)
{
	(void)state;
	expect_exclusion("kernels = < 6.12", "6.1.0-56-amd64", "", NULL);
	expect_exclusion("kernels = < 6.12", "6.12.117+deb12-amd64", "",
			 "is outside 'kernels = < 6.12'");
}

static void test_exclusive_kernel_regex_must_match(void **state)
{
	(void)state;
	expect_exclusion("exclusive_kernel = ^6\\.1\\.", "6.1.0-56-amd64", "", NULL);
	expect_exclusion("exclusive_kernel = ^6\\.1\\.", "6.12.117+deb12-amd64", "",
			 "does not match 'exclusive_kernel");
}

static void test_arch_list_names_the_kernel_arch(void **state)
{
	(void)state;
	expect_exclusion("arch = aarch64 x86_64", "6.1.0-56-amd64", "", NULL);
	expect_exclusion("arch = aarch64", "6.1.0-56-amd64", "", "architecture x86_64");
}

static void test_required_config_must_be_y_or_m(void **state)
{
	(void)state;
	expect_exclusion("requires_config = CONFIG_PCI CONFIG_USB", "6.1.0-56-amd64",
			 "CONFIG_PCI=y\nCONFIG_USB=m\n", NULL);
	expect_exclusion("requires_config = CONFIG_PCI", "6.1.0-56-amd64",
			 "# CONFIG_PCI is not set\n", "CONFIG_PCI is not set");
	/* a longer name with the same prefix does not count */
	expect_exclusion("requires_config = CONFIG_PCI", "6.1.0-56-amd64", "CONFIG_PCIE=y\n",
			 "CONFIG_PCI is not set");
}

static void build_id(const char *build, void (*tweak)(struct kb_recipe *, struct kb_kernel *),
		     char out[KB_SHA256_HEX])
{
	struct kb_recipe r;
	struct kb_kernel k;

	recipe_from(&r, build);
	kernel_init(&k, "6.1.0-56-amd64", "CONFIG_X86_64=y\n");
	if (tweak)
		tweak(&r, &k);
	kb_plan_build_id(&r, &k, NULL, 0, "none", out);
	kernel_release(&k);
	kb_recipe_release(&r);
}

static void other_source(struct kb_recipe *r, struct kb_kernel *k)
{
	(void)k;
	free(r->source_hash);
	r->source_hash = strdup("def");
}

static void other_config(struct kb_recipe *r, struct kb_kernel *k)
{
	(void)r;
	strcpy(k->config_hash, "c1");
}

static void other_symvers(struct kb_recipe *r, struct kb_kernel *k)
{
	(void)r;
	strcpy(k->symvers_hash, "s1");
}

static void other_compiler(struct kb_recipe *r, struct kb_kernel *k)
{
	(void)r;
	k->cc_version = strdup("gcc-13");
}

static void other_release(struct kb_recipe *r, struct kb_kernel *k)
{
	(void)r;
	free(k->release);
	k->release = strdup("6.1.0-57-amd64");
}

static void test_build_id_is_stable(void **state)
{
	char a[KB_SHA256_HEX], b[KB_SHA256_HEX];

	(void)state;
	build_id("make_args = X=1", NULL, a);
	build_id("make_args = X=1", NULL, b);
	assert_string_equal(a, b);
	assert_int_equal(strlen(a), 64);
}

static void test_build_id_changes_with_every_input(void **state)
{
	void (*tweaks[])(struct kb_recipe *, struct kb_kernel *) = {
		other_source, other_config, other_symvers, other_compiler, other_release,
	};
	char base[KB_SHA256_HEX], changed[KB_SHA256_HEX];

	(void)state;
	build_id("make_args = X=1", NULL, base);
	build_id("make_args = X=2", NULL, changed);
	assert_string_not_equal(base, changed);
	for (size_t i = 0; i < sizeof(tweaks) / sizeof(tweaks[0]); i++) {
		build_id("make_args = X=1", tweaks[i], changed);
		assert_string_not_equal(base, changed);
	}
}

static void test_build_id_follows_the_dependency(void **state)
{
	struct kb_recipe r;
	struct kb_kernel k;
	struct kb_task dep = { 0 };
	struct kb_task *deps[] = { &dep };
	struct kb_recipe dep_recipe = { .name = (char *)"provider" };
	char a[KB_SHA256_HEX], b[KB_SHA256_HEX];

	(void)state;
	recipe_from(&r, "depends = provider");
	kernel_init(&k, "6.1.0-56-amd64", "");
	dep.recipe = &dep_recipe;
	strcpy(dep.build_id, "1111");
	kb_plan_build_id(&r, &k, deps, 1, "none", a);
	strcpy(dep.build_id, "2222");
	kb_plan_build_id(&r, &k, deps, 1, "none", b);
	assert_string_not_equal(a, b);
	/* the same inputs built again, but differently: what we linked against changed */
	strcpy(dep.outputs_id, "aaaa");
	kb_plan_build_id(&r, &k, deps, 1, "none", a);
	assert_string_not_equal(a, b);
	strcpy(dep.outputs_id, "bbbb");
	kb_plan_build_id(&r, &k, deps, 1, "none", b);
	assert_string_not_equal(a, b);
	dep_recipe.version = (char *)"2.0";
	kb_plan_build_id(&r, &k, deps, 1, "none", a);
	assert_string_not_equal(a, b);
	kernel_release(&k);
	kb_recipe_release(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_version_range_excludes_newer_series),
		cmocka_unit_test(test_exclusive_kernel_regex_must_match),
		cmocka_unit_test(test_arch_list_names_the_kernel_arch),
		cmocka_unit_test(test_required_config_must_be_y_or_m),
		cmocka_unit_test(test_build_id_is_stable),
		cmocka_unit_test(test_build_id_changes_with_every_input),
		cmocka_unit_test(test_build_id_follows_the_dependency),
	};

	return cmocka_run_group_tests_name("plan", tests, NULL, NULL);
}
