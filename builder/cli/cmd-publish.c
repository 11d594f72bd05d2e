/* kbuildd publish: push what is installed to the fleet's build cache (cache.h). */
#include <errno.h>
#include <stdlib.h>

#include "base/log.h"
#include "cache/cache.h"
#include "cli/cmd.h"
#include "kernel.h"
#include "sign-choice.h"
#include "state.h"

static int cmd_publish(struct kb_ctx *ctx, int argc, char **argv)
{
	struct kb_recipe_set set = { 0 };
	struct kb_kernel_list kernels = { 0 };
	struct kb_signing signing = { 0 };
	const struct kb_recipe **recipes = NULL;
	size_t n = 0, pushed = 0, failed = 0;
	int ret;

	if (!ctx->settings.store.url)
		return kb_err(-KB_E_INPUT, "no build cache to publish to: set [cache] url in "
					   "kbuildd.conf");
	ctx->all = !argc;
	ret = kb_state_load(ctx, &set);
	if (ret >= 0)
		ret = kb_kernels_discover(ctx, &kernels);
	if (ret >= 0)
		ret = kb_signing_setup(ctx, &kernels, &signing, false);
	if (ret >= 0)
		ret = kb_cache_open(ctx);
	recipes = ret >= 0 ? calloc(set.n + (size_t)argc + 1, sizeof(*recipes)) : NULL;
	if (ret >= 0 && !recipes)
		ret = -ENOMEM;
	if (ret >= 0)
		ret = kb_cli_select_recipes(ctx, &set, argc, argv, recipes, &n);
	for (size_t i = 0; ret >= 0 && i < n; i++)
		for (size_t j = 0; j < kernels.n; j++) {
			/* the engine's task shape: recipe and kernel are all a push reads */
			struct kb_task t = { .recipe = (struct kb_recipe *)recipes[i],
					     .kernel = &kernels.v[j] };
			int r;

			if (!kb_cli_installed(ctx, recipes[i], &kernels.v[j]))
				continue;
			r = kb_cache_push(ctx, &t);
			pushed += r >= 0;
			failed += r < 0 && r != -ENOENT;
		}
	if (ret >= 0 && !pushed && !failed)
		ret = kb_err(-KB_E_INPUT, "nothing of %s is installed%s",
			     argc ? "the recipes named" : "what is registered",
			     ctx->kernels.n ? " for the kernels named" : "");
	if (ret >= 0 && failed)
		ret = -KB_E_BUILD;
	free(recipes);
	kb_cache_close(ctx);
	kb_signing_release(ctx, &signing);
	kb_kernel_list_release(&kernels);
	kb_recipe_set_release(&set);
	return ret;
}

const struct kb_cmd kb_cmd_publish = {
	.name = "publish",
	.run = cmd_publish,
	.usage = "[NAME[/VERSION]]... [-k KERNEL]...",
	.summary = "push what is installed to the build cache",
	.help = "Push to the build cache [cache] url names what kbuildd installed for each\n"
		"recipe named (all without one) and kernel (-k, else every one): the signed\n"
		"files as installed, each checked against its manifest, and a manifest signed\n"
		"with the module signing key. The manifest goes last: a push cut short leaves\n"
		"nothing another machine would take. Exit 1 when a push failed.",
	.options = KB_OPT_KERNEL,
	.flags = KB_CMD_SETTINGS,
};
