/* Which registered recipes a command that reads what is installed names (export, publish). */
#include <string.h>

#include "base/log.h"
#include "cli/cmd.h"
#include "kernel.h"
#include "recipe.h"
#include "manifest.h"
#include "state.h"

/* Is @r (this version) installed for @k? */
bool kb_cli_installed(struct kb_ctx *ctx, const struct kb_recipe *r, const struct kb_kernel *k)
{
	struct kb_manifest m;
	bool yes = kb_manifest_read(ctx, k->release, r->name, &m) == 0 &&
		   !strcmp(m.version, r->version);

	kb_manifest_release(&m);
	return yes;
}

/* The recipes named (NAME/VERSION, or NAME when one version is registered), or all. */
int kb_cli_select_recipes(struct kb_ctx *ctx, const struct kb_recipe_set *set, int argc,
			  char **argv, const struct kb_recipe **out, size_t *n)
{
	int ret = 0;

	*n = 0;
	if (ctx->all) {
		for (size_t i = 0; i < set->n; i++)
			out[(*n)++] = set->v[i];
		return 0;
	}
	for (int i = 0; i < argc; i++) {
		const struct kb_recipe *r = kb_recipe_set_find(set, argv[i]);

		if (!r)
			ret = kb_err(-KB_E_INPUT, "'%s' is not registered; see 'kbuildd status'",
				     argv[i]);
		else
			out[(*n)++] = r;
	}
	return ret;
}
