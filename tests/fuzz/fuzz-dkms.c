/* libFuzzer target: reading back a dkms.conf evaluation's records (builder/dkms/dkms-eval.c). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dkms/dkms-eval.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kb_dkms_conf c;
	char *text = malloc(size + 1);

	kb_dkms_conf_init(&c);
	if (kb_dkms_conf_parse(&c, (const char *)data, size) == 0) {
		/* every record read is found again */
		for (size_t i = 0; i < c.n; i++)
			if (!kb_dkms_get(&c, c.v[i].name, c.v[i].index) ||
			    kb_dkms_count(&c, c.v[i].name) <= c.v[i].index)
				__builtin_trap();
	}
	kb_dkms_conf_release(&c);
	/* the same bytes as a conf's text, for the line finder */
	if (text) {
		memcpy(text, data, size);
		text[size] = '\0';
		kb_dkms_line(text, "BUILT_MODULE_NAME", 1);
		free(text);
	}
	return 0;
}
