/* libFuzzer target: the installed-files manifest parser (builder/manifest.c). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "base/log.h"
#include "manifest.h"

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
	struct kb_manifest m;

	if (kb_manifest_parse((const char *)data, size, "fuzz.manifest", &m) >= 0) {
		/* what remove and install trust: no absolute path, no "..", a full hash */
		for (size_t i = 0; i < m.n; i++) {
			if (m.files[i].path[0] == '/' || strstr(m.files[i].path, "..") ||
			    strlen(m.files[i].sha256) != 64)
				__builtin_trap();
			if (kb_manifest_find(&m, m.files[i].path) == NULL)
				__builtin_trap();
		}
	}
	kb_manifest_release(&m);
	return 0;
}
