/*
 * The load trail: auditd's records of init_module, finit_module and
 * delete_module (the package's rules tag them kbuildd-module), read from
 * <root>/var/log/audit/audit.log and its rotated files, oldest first.
 */
#pragma once

#include <limits.h>
#include <stdbool.h>
#include <time.h>

#include "ctx.h"

#define KB_AUDIT_KEY "kbuildd-module"

struct kb_audit_event {
	time_t when;
	unsigned msec;
	unsigned long serial;
	char syscall[16]; /* init_module, finit_module or delete_module */
	bool success;
	long exit;
	char module[128]; /* from the event's KERN_MODULE record, "" when it has none */
	char exe[PATH_MAX];
	char comm[64];
	char auid[80]; /* login uid: "1000 (alice)", or "unset" */
	char uid[80];
	char key[64];
};

struct kb_audit_log {
	struct kb_audit_event *v;
	size_t n;
	unsigned files; /* log files read */
};

/* Read the records; no log is no error (@log->files is then 0). */
int kb_audit_log_read(const struct kb_ctx *ctx, struct kb_audit_log *log);
/* Parse log text @text (NUL-terminated, changed in place) into @log: for tests and fuzzing too. */
int kb_audit_log_parse(char *text, struct kb_audit_log *log);
void kb_audit_log_release(struct kb_audit_log *log);
