/* Messages: one place that formats errors, warnings and progress. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/log.h"

/* The only process-wide setting: how chatty messages are. */
static enum kb_log_level log_level = KB_LOG_NORMAL;
static void (*log_before)(void);

void kb_log_set_level(enum kb_log_level level)
{
	log_level = level;
}

void kb_log_set_before(void (*before)(void))
{
	log_before = before;
}

enum kb_log_level kb_log_get_level(void)
{
	return log_level;
}

const char *kb_strerror(int err)
{
	if (err < 0)
		err = -err;
	switch (err) {
	case KB_E_INPUT:
		return "invalid input";
	case KB_E_BUILD:
		return "build or install failed";
	case KB_E_LOCKED:
		return "state is locked by another kbuildd";
	case KB_E_CONFLICT:
		return "file owned by something else";
	case KB_E_INTERRUPTED:
		return "interrupted";
	default:
		return strerror(err);
	}
}

static void __attribute__((format(printf, 2, 0)))
vlog(const char *prefix, const char *fmt, va_list ap, int err)
{
	char msg[4096];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (log_before)
		log_before();
	if (err)
		fprintf(stderr, "kbuildd: %s%s: %s\n", prefix, msg, kb_strerror(err));
	else
		fprintf(stderr, "kbuildd: %s%s\n", prefix, msg);
}

int kb_err(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog("error: ", fmt, ap, 0);
	va_end(ap);
	return err;
}

int kb_err_errno(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog("error: ", fmt, ap, err);
	va_end(ap);
	return err;
}

void kb_warn(const char *fmt, ...)
{
	va_list ap;

	if (log_level < KB_LOG_NORMAL)
		return;
	va_start(ap, fmt);
	vlog("warning: ", fmt, ap, 0);
	va_end(ap);
}

void kb_info(const char *fmt, ...)
{
	va_list ap;

	if (log_level < KB_LOG_NORMAL)
		return;
	va_start(ap, fmt);
	vlog("", fmt, ap, 0);
	va_end(ap);
}

void kb_verbose(const char *fmt, ...)
{
	va_list ap;

	if (log_level < KB_LOG_VERBOSE)
		return;
	va_start(ap, fmt);
	vlog("", fmt, ap, 0);
	va_end(ap);
}
