/* Messages: one place that formats errors, warnings and progress. */
#pragma once

#include <stdarg.h>

/* Failures that carry no errno; returned negated like errno values. */
enum kb_err {
	KB_E_BASE = 4096,
	KB_E_INPUT,	  /* bad usage, recipe, config or file contents */
	KB_E_BUILD,	  /* a build or install failed; others went on */
	KB_E_LOCKED,	  /* the state lock could not be taken in time */
	KB_E_CONFLICT,	  /* a file is owned by someone else */
	KB_E_INTERRUPTED, /* SIGINT or SIGTERM arrived */
	KB_E_MAX,
};

enum kb_log_level {
	KB_LOG_QUIET = 0,   /* errors only */
	KB_LOG_NORMAL = 1,  /* + warnings and one line per result */
	KB_LOG_VERBOSE = 2, /* + progress and commands run */
	KB_LOG_DEBUG = 3,
};

/* Set once by cli.c before any command runs. */
void kb_log_set_level(enum kb_log_level level);
/*
 * Called before each message is written (NULL: nothing): what else is on
 * the terminal (a live progress line) makes room for it.
 */
void kb_log_set_before(void (*before)(void));
enum kb_log_level kb_log_get_level(void);

/* Text for a negative errno or a negative enum kb_err. */
const char *kb_strerror(int err);

/*
 * Log "kbuildd: error: MSG" and return @err, so callers write
 * `return kb_err(-KB_E_INPUT, "...")`. kb_err_errno() appends
 * ": <strerror(-err)>". Neither needs a trailing newline.
 */
int kb_err(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int kb_err_errno(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void kb_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Progress for humans on stderr: shown unless -q. */
void kb_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Shown with -v. */
void kb_verbose(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
