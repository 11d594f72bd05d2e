/* libFuzzer target: the native recipe parser (builder/recipe.c) on arbitrary text. */
#include <stddef.h>
#include <stdint.h>

#include "base/log.h"
#include "recipe.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* errors still print: build-aux/fuzz runs this with -close_fd_mask=2 */
	kb_log_set_level(KB_LOG_QUIET);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kb_recipe r;

	kb_recipe_init(&r);
	kb_recipe_parse(&r, "fuzz.recipe", (const char *)data, size);
	kb_recipe_release(&r);
	return 0;
}
