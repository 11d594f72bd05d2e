/* A run of the engine as a command shows it: the result table, DKMS's exit status, progress. */
#pragma once

#include "engine.h"

/*
 * kb_engine_run() and the rendering of what it returns: one line per
 * (recipe, kernel) and a summary, or JSON with --json; dependencies not
 * registered named in DKMS's words for its front end; DKMS's exit status
 * in ctx->dkms_status. Returns kb_engine_run()'s status.
 */
/*
 * Write listing @b (a table, JSON) to stdout whole, or nothing when it lost
 * an append (kb_buf_error()): a listing cut short is never shown as if
 * complete. @what names it in the error. 0 or the reported error.
 */
int kb_cli_print(const struct kb_buf *b, const char *what);

int kb_cli_run(struct kb_ctx *ctx, const struct kb_strv *ids, enum kb_plan_mode mode);

/*
 * Point ctx->events at what a run shows while it goes on (progress.c): on
 * a terminal at the normal level, one live line; otherwise a line per
 * build started. Failed builds are shown either way.
 */
void kb_cli_events_setup(struct kb_ctx *ctx);
/* Take the live line off the terminal before the results are printed. */
void kb_cli_events_done(void);

/* The same for a caller that takes only the ids (dkms/import.c). */
int kb_cli_install(struct kb_ctx *ctx, const struct kb_strv *ids);

/*
 * DKMS's exit status for the same outcome: autoinstall says 11 when any
 * module failed; build and install say what stopped the first that failed
 * (DKMS stops there): the conf's own code, 13 a dependency not
 * registered, 6 an install refused, else 10; and 77 (all excluded, not
 * for autoinstall) or 21 (no headers) when nothing could be attempted.
 */
int kb_cli_dkms_status(const struct kb_results *res);
