/* libFuzzer target: the Module.symvers parser (builder/doctor/symvers.c) and its lookup. */
#include <stddef.h>
#include <stdint.h>

#include "symvers.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kb_symvers s;

	if (kb_symvers_parse(&s, (const char *)data, size) >= 0) {
		/* the table must be sorted: every entry is found by its own name */
		for (size_t i = 0; i < s.n; i++)
			if (!kb_symvers_find(&s, s.v[i].symbol))
				__builtin_trap();
		kb_symvers_find(&s, "printk");
	}
	kb_symvers_release(&s);
	return 0;
}
