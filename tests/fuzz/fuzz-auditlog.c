/* libFuzzer target: audit.log text, which any process that can make the kernel log writes into. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "audit/auditlog.h"
#include "base/log.h"

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
	struct kb_audit_log log = { 0 };
	char *text = malloc(size + 1);

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (kb_audit_log_parse(text, &log) == 0)
		for (size_t i = 0; i < log.n; i++)
			/* every field a terminated string of its array, every call one of three */
			if (strnlen(log.v[i].module, sizeof(log.v[i].module)) ==
				    sizeof(log.v[i].module) ||
			    strnlen(log.v[i].exe, sizeof(log.v[i].exe)) == sizeof(log.v[i].exe) ||
			    (strcmp(log.v[i].syscall, "init_module") &&
			     strcmp(log.v[i].syscall, "finit_module") &&
			     strcmp(log.v[i].syscall, "delete_module")))
				__builtin_trap();
	kb_audit_log_release(&log);
	free(text);
	return 0;
}
