/* libFuzzer target: a build cache artifact's manifest, as any store may answer (cache/artifact.c). */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "cache/artifact.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	kb_log_set_level(KB_LOG_QUIET);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kb_artifact a;
	char why[512], prefix[256];

	kb_artifact_init(&a);
	if (kb_buf_add(&a.text, data, size) < 0 || kb_artifact_parse(&a, why, sizeof(why)) < 0) {
		kb_artifact_release(&a);
		return 0;
	}
	/* what cache.c writes below a build and trusts: inside the kernel's tree, no ".." */
	snprintf(prefix, sizeof(prefix), "lib/modules/%s/", a.kernel);
	for (size_t i = 0; i < a.n; i++) {
		const char *p = a.files[i].path;

		if (p[0] == '/' || strstr(p, "/../") || !strncmp(p, "../", 3) ||
		    strlen(a.files[i].sha256) != 64 || a.files[i].size > KB_MAX_MODULE_SIZE)
			__builtin_trap();
		if (a.files[i].kind == KB_ARTIFACT_INSTALLED ? strncmp(p, prefix, strlen(prefix)) :
		    a.files[i].kind == KB_ARTIFACT_BUILD     ? strcmp(p, "Module.symvers") :
							       strcmp(p, "build.log"))
			__builtin_trap();
		/* a failed build holds its log and nothing else */
		if ((a.files[i].kind == KB_ARTIFACT_LOG) != !!a.failed)
			__builtin_trap();
	}
	if (strlen(a.build_id) != 64 || !a.recipe || !a.version)
		__builtin_trap();
	kb_artifact_release(&a);
	return 0;
}
