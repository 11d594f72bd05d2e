/* Sign one module N times in one process, as install does: the key is loaded once. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "base/limits.h"
#include "base/util.h"
#include "signing/sign.h"

int main(int argc, char **argv)
{
	struct kb_buf mod = KB_BUF_INIT_MAX(KB_MAX_MODULE_SIZE),
		      out = KB_BUF_INIT_MAX(KB_MAX_MODULE_SIZE);
	struct kb_signer s;
	struct timespec a, b;
	unsigned long n;

	if (argc != 6 || kb_parse_uint(argv[5], 100000, &n) < 0) {
		fprintf(stderr, "usage: sign-bench HASH KEY CERT MODULE COUNT\n");
		return 2;
	}
	if (kb_read_file(AT_FDCWD, argv[4], KB_MAX_MODULE_SIZE, &mod) < 0 ||
	    kb_signer_load(&s, argv[2], argv[3], argv[1]) < 0)
		return 2;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (unsigned long i = 0; i < n; i++)
		if (kb_sign_module(&s, mod.buf, mod.len, &out, argv[4]) < 0)
			return 1;
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("%.3f\n", (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9);
	kb_signer_release(&s);
	kb_buf_release(&mod);
	kb_buf_release(&out);
	return 0;
}
