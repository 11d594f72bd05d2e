/*
 * What a run shows while it goes on. On a terminal: one live line, builds
 * done of total, the running ones with their elapsed time, and an
 * estimate from each build's recorded duration. In hooks, pipes, -q and
 * -v: a line per build started, as before. Either way a failed build's
 * error and the last lines of its log.
 */
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "base/limits.h"
#include "base/log.h"
#include "base/strbuf.h"
#include "build.h"
#include "cli/report.h"

static bool drawn; /* the live line is on the terminal */

static void clear_line(void)
{
	if (drawn)
		fputs("\r\033[K", stderr);
	drawn = false;
}

static double since(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t->tv_sec) + (double)(now.tv_nsec - t->tv_nsec) / 1e9;
}

static void add_duration(struct kb_buf *b, double s)
{
	if (s >= 60)
		kb_buf_addf(b, "%dm %02ds", (int)s / 60, (int)s % 60);
	else
		kb_buf_addf(b, "%ds", (int)s);
}

/* Columns of the terminal, so the line never wraps (and cannot be cleared). */
static size_t width(void)
{
	struct winsize ws;

	return ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 10 ? ws.ws_col - 1 : 79;
}

/*
 * "kbuildd: 3 of 10 built, about 1m 20s left; foo/1.0 6.1.0-57-amd64 12s, ...".
 * The estimate is the work left (expected minus elapsed, for what runs and
 * waits) spread over the builds running now.
 */
static void draw(struct kb_ctx *ctx, const struct kb_plan *plan)
{
	struct kb_buf line = KB_BUF_INIT, run = KB_BUF_INIT;
	unsigned total = 0, done = 0, running = 0;
	double left = 0;
	size_t max = width();

	(void)ctx;
	for (size_t i = 0; i < plan->n; i++) {
		const struct kb_task *t = &plan->tasks[i];
		double spent;
		char id[160];

		if (t->action != KB_ACT_BUILD)
			continue;
		total++;
		if (t->state == KB_TASK_PENDING) {
			left += t->expected;
		} else if (t->state == KB_TASK_RUNNING) {
			running++;
			spent = since(&t->started);
			left += t->expected > spent ? t->expected - spent : 0;
			kb_buf_addf(&run, "%s%s %s ", run.len ? ", " : "",
				    kb_task_id(t, id, sizeof(id)), t->kernel->release);
			add_duration(&run, spent);
		} else {
			done++;
		}
	}
	kb_buf_addf(&line, "kbuildd: %u of %u built", done, total);
	if (left > 0 && running) {
		kb_buf_adds(&line, ", about ");
		add_duration(&line, left / running);
		kb_buf_adds(&line, " left");
	}
	if (run.len)
		kb_buf_addf(&line, "; %s", kb_buf_str(&run));
	if (line.len > max)
		line.buf[max] = '\0';
	fprintf(stderr, "\r%s\033[K", kb_buf_str(&line));
	drawn = true;
	kb_buf_release(&line);
	kb_buf_release(&run);
}

static void show_failure(struct kb_ctx *ctx, const struct kb_task *t)
{
	struct kb_buf tail = KB_BUF_INIT;
	_cleanup_free_ char *path = NULL;
	char id[160];

	kb_err(-KB_E_BUILD, "%s for %s: %s", kb_task_id(t, id, sizeof(id)), t->kernel->release,
	       t->reason ? t->reason : "failed");
	if (kb_build_log_tail(ctx, t, KB_MAX_LOG_TAIL, &tail, &path) == 0)
		fprintf(stderr, "---- last lines of %s ----\n%s----\n", path, kb_buf_str(&tail));
	kb_buf_release(&tail);
}

static void plain_started(struct kb_ctx *ctx, const struct kb_plan *plan, const struct kb_task *t)
{
	char id[160];

	(void)ctx;
	(void)plan;
	kb_info("building %s for %s", kb_task_id(t, id, sizeof(id)), t->kernel->release);
}

static void plain_ended(struct kb_ctx *ctx, const struct kb_plan *plan, const struct kb_task *t)
{
	(void)plan;
	if (t->state == KB_TASK_FAILED)
		show_failure(ctx, t);
}

static void live_ended(struct kb_ctx *ctx, const struct kb_plan *plan, const struct kb_task *t)
{
	if (t->state == KB_TASK_FAILED)
		show_failure(ctx, t); /* the log clears the line first */
	draw(ctx, plan);
}

static void live_started(struct kb_ctx *ctx, const struct kb_plan *plan, const struct kb_task *t)
{
	(void)t;
	draw(ctx, plan);
}

static void live_download(struct kb_ctx *ctx, unsigned active, double got, double total)
{
	(void)ctx;
	if (!active) {
		clear_line();
		return;
	}
	fprintf(stderr, "\rkbuildd: downloading %u file%s: %.1f", active, active == 1 ? "" : "s",
		got / 1048576.0);
	if (total > 0)
		fprintf(stderr, " of %.1f", total / 1048576.0);
	fputs(" MiB\033[K", stderr);
	drawn = true;
}

static const struct kb_events plain = {
	.build_started = plain_started,
	.build_ended = plain_ended,
};

static const struct kb_events live = {
	.build_started = live_started,
	.build_ended = live_ended,
	.tick = draw,
	.download = live_download,
};

void kb_cli_events_setup(struct kb_ctx *ctx)
{
	bool tty = isatty(STDERR_FILENO) && kb_log_get_level() == KB_LOG_NORMAL && !ctx->hook;

	ctx->events = tty ? &live : &plain;
	/* a message mid-run takes the live line's place; the next tick draws it again */
	if (tty)
		kb_log_set_before(clear_line);
}

void kb_cli_events_done(void)
{
	clear_line();
}
