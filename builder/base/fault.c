/* Fault injection for crash tests: see fault.h. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/fault.h"
#include "base/log.h"
#include "base/util.h"

/*
 * Process-wide on purpose: the count must span every module that changes
 * state, and a crash test addresses points by this one number.
 */
static struct {
	bool init;
	unsigned long at; /* 0 = never */
	unsigned long count;
	const char *count_file;
} fault;

static void write_count(void)
{
	char line[32];
	int fd, n;

	fd = open(fault.count_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	n = snprintf(line, sizeof(line), "%lu\n", fault.count);
	if (n > 0)
		kb_write_all(fd, line, (size_t)n);
	close(fd);
}

void kb_fault_point(const char *what)
{
	if (!fault.init) {
		const char *at = getenv("KBUILDD_FAULT_AT");

		fault.init = true;
		if (at && kb_parse_uint(at, 1UL << 30, &fault.at) < 0)
			fault.at = 0;
		fault.count_file = getenv("KBUILDD_FAULT_COUNT");
		if (fault.count_file)
			atexit(write_count);
	}
	fault.count++;
	if (fault.at && fault.count == fault.at) {
		if (getenv("KBUILDD_FAULT_VERBOSE"))
			kb_info("fault point %lu (%s): killed", fault.count, what);
		raise(SIGKILL);
	}
}
