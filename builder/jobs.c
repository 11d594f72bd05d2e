/* Runs a plan's builds in parallel under one GNU make jobserver that kbuildd owns. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/atomic.h"
#include "base/log.h"
#include "base/strbuf.h"
#include "build.h"
#include "jobs.h"
#include "reuse.h"
#include "state.h"

/*
 * Signal handlers can only reach a static: the write end of the self-pipe
 * that turns SIGCHLD/SIGINT/SIGTERM into something poll() can wait for.
 */
static int signal_pipe_wfd = -1;

static void on_signal(int sig)
{
	int saved = errno;
	char c = (char)sig;

	if (signal_pipe_wfd >= 0 && write(signal_pipe_wfd, &c, 1) < 0) {
		/* pipe full: a wakeup is already pending */
	}
	errno = saved;
}

struct jobserver {
	int rfd, wfd; /* the pipe the makes share */
	int nb_rfd;   /* our own non-blocking open of the read end */
	unsigned slots;
};

static int jobserver_init(struct jobserver *js, unsigned slots)
{
	char path[64], *tokens;
	int fds[2], r;

	if (pipe2(fds, O_CLOEXEC) < 0)
		return -errno;
	js->rfd = fds[0];
	js->wfd = fds[1];
	js->slots = slots;
	/*
	 * A second open file description of the read end: O_NONBLOCK on it
	 * does not leak into the makes, which expect a blocking pipe.
	 */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", js->rfd);
	js->nb_rfd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (js->nb_rfd < 0) {
		r = -errno;
		goto fail;
	}
	tokens = malloc(slots);
	if (!tokens) {
		r = -ENOMEM;
		goto fail;
	}
	memset(tokens, '+', slots);
	r = kb_write_all(js->wfd, tokens, slots);
	free(tokens);
	if (r == 0)
		return 0;
fail:
	close(js->rfd);
	close(js->wfd);
	if (js->nb_rfd >= 0)
		close(js->nb_rfd);
	return r;
}

static void jobserver_release(struct jobserver *js)
{
	close(js->rfd);
	close(js->wfd);
	close(js->nb_rfd);
}

static bool take_token(struct jobserver *js)
{
	char c;

	return read(js->nb_rfd, &c, 1) == 1;
}

static void give_token(struct jobserver *js)
{
	char c = '+';

	kb_write_all(js->wfd, &c, 1);
}

static bool deps_done(const struct kb_task *t, bool *failed)
{
	*failed = false;
	for (size_t i = 0; i < t->nr_deps; i++) {
		enum kb_task_state s = t->deps[i]->state;

		if (s == KB_TASK_FAILED || s == KB_TASK_SKIPPED) {
			*failed = true;
			return false;
		}
		if (s != KB_TASK_BUILT)
			return false;
	}
	return true;
}

/* Does @t wait for the build of another kernel that may stand in for its own (reuse.h)? */
static bool waits_for_leader(const struct kb_task *t)
{
	return t->leader &&
	       (t->leader->state == KB_TASK_PENDING || t->leader->state == KB_TASK_RUNNING);
}

/* Settle tasks that need no make: up to date, or blocked by a failed dependency. */
static void settle(struct kb_plan *plan, size_t *ready)
{
	bool changed = true;

	while (changed) {
		changed = false;
		*ready = 0;
		for (size_t i = 0; i < plan->n; i++) {
			struct kb_task *t = &plan->tasks[i];
			bool failed;

			if (t->state != KB_TASK_PENDING)
				continue;
			if (t->action != KB_ACT_BUILD && t->action != KB_ACT_UPTODATE)
				continue;
			if (deps_done(t, &failed)) {
				if (t->action == KB_ACT_UPTODATE) {
					t->state = KB_TASK_BUILT;
					changed = true;
				} else if (!waits_for_leader(t)) {
					(*ready)++;
				}
			} else if (failed) {
				t->state = KB_TASK_SKIPPED;
				free(t->reason);
				if (asprintf(&t->reason, "a dependency failed to build") < 0)
					t->reason = NULL;
				changed = true;
			}
		}
	}
}

/* A build not timed yet: this long per C file, on one core (only its order counts). */
#define KB_GUESS_SECONDS_PER_C_FILE 2.0

static long long tree_units;

static int count_unit(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	size_t len = strlen(path);

	(void)st;
	(void)ftw;
	if (type == FTW_F && len > 2 && !strcmp(path + len - 2, ".c"))
		tree_units++;
	return 0;
}

/*
 * How many C files @t's registered source holds: how long its build runs,
 * roughly, until one was timed (file sizes mislead: a few big files of a
 * driver that fails at once weigh more than fifty that compile for a minute).
 */
static long long source_units(struct kb_ctx *ctx, const struct kb_task *t)
{
	_cleanup_free_ char *src = kb_state_source_path(ctx, t->recipe);

	tree_units = 0;
	if (!src || nftw(src, count_unit, 16, FTW_PHYS) < 0)
		tree_units = 0;
	return tree_units;
}

/* A recorded duration, builds/N/V/K.seconds; 0 when there is none. */
static double recorded(struct kb_ctx *ctx, const char *rel)
{
	struct kb_buf b = KB_BUF_INIT_MAX(64);
	double s = 0;

	if (kb_root_read(&ctx->root, rel, 64, &b) == 0 && b.len)
		s = strtod(kb_buf_str(&b), NULL);
	kb_buf_release(&b);
	return s > 0 && s < 1e7 ? s : 0;
}

/*
 * How long @t's build should take: what it took for this kernel last time,
 * else the longest it took for another kernel (a new kernel after an
 * upgrade), else a guess from its C files.
 */
static double expected_seconds(struct kb_ctx *ctx, struct kb_task *t)
{
	struct kb_strv names = KB_STRV_INIT;
	char rel[PATH_MAX], vrel[PATH_MAX];

	if (t->expected > 0)
		return t->expected;
	if (kb_task_build_rel(t, ".seconds", rel, sizeof(rel)) == 0)
		t->expected = recorded(ctx, rel);
	kb_pathf(vrel, sizeof(vrel), "%s/builds/%s/%s", KB_STATE_DIR, t->recipe->name,
		 t->recipe->version);
	if (!t->expected && kb_root_list(&ctx->root, vrel, &names) == 0)
		for (size_t i = 0; i < names.n; i++) {
			size_t len = strlen(names.v[i]);
			double s;

			if (names.v[i][0] == '.' || len < 9 ||
			    strcmp(names.v[i] + len - 8, ".seconds") ||
			    kb_pathf(rel, sizeof(rel), "%s/%s", vrel, names.v[i]) < 0)
				continue;
			s = recorded(ctx, rel);
			t->expected = s > t->expected ? s : t->expected;
		}
	kb_strv_clear(&names);
	if (!t->expected)
		t->expected = KB_GUESS_SECONDS_PER_C_FILE * (double)(source_units(ctx, t) + 1);
	return t->expected;
}

/* Remember how long @t took: the next run orders and estimates by it. */
static void record_seconds(struct kb_ctx *ctx, const struct kb_task *t)
{
	char rel[PATH_MAX], line[32];
	int n = snprintf(line, sizeof(line), "%.1f\n", t->seconds);
	int r;

	if (kb_task_build_rel(t, ".seconds", rel, sizeof(rel)) == 0 &&
	    (r = kb_atomic_write(&ctx->root, rel, line, (size_t)n, 0644)) < 0)
		kb_warn("cannot record the build time in '/%s': %s", rel, kb_strerror(r));
}

/*
 * The ready build expected to take longest starts first, so that one does
 * not run alone at the end while the other slots idle.
 */
static struct kb_task *next_ready(struct kb_ctx *ctx, struct kb_plan *plan)
{
	struct kb_task *best = NULL;

	for (size_t i = 0; i < plan->n; i++) {
		struct kb_task *t = &plan->tasks[i];
		bool failed;

		if (t->state == KB_TASK_PENDING && t->action == KB_ACT_BUILD &&
		    deps_done(t, &failed) && !waits_for_leader(t) &&
		    (!best || expected_seconds(ctx, t) > expected_seconds(ctx, best)))
			best = t;
	}
	return best;
}

static double elapsed(const struct timespec *since)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - since->tv_sec) + (double)(now.tv_nsec - since->tv_nsec) / 1e9;
}

static void tell_started(struct kb_ctx *ctx, const struct kb_plan *plan, const struct kb_task *t)
{
	if (ctx->events && ctx->events->build_started)
		ctx->events->build_started(ctx, plan, t);
}

static void tell_ended(struct kb_ctx *ctx, const struct kb_plan *plan, const struct kb_task *t)
{
	if (ctx->events && ctx->events->build_ended)
		ctx->events->build_ended(ctx, plan, t);
}

static void start_task(struct kb_ctx *ctx, struct kb_plan *plan, struct jobserver *js,
		       struct kb_task *t, unsigned *running)
{
	int r;

	t->state = KB_TASK_RUNNING;
	clock_gettime(CLOCK_MONOTONIC, &t->started);
	/* another kernel's build that stands in for this one: nothing to compile */
	r = kb_reuse_try(ctx, plan, t);
	if (r != 0) {
		if (r < 0 && t->state != KB_TASK_FAILED)
			kb_task_fail(t, "cannot reuse another kernel's build: %s", kb_strerror(r));
		t->seconds = elapsed(&t->started);
		tell_ended(ctx, plan, t);
		give_token(js);
		return;
	}
	r = kb_build_prepare(ctx, t);
	if (r >= 0)
		r = kb_build_command(ctx, t, js->rfd, js->wfd);
	if (r >= 0)
		r = kb_child_start(&t->child);
	if (r < 0) {
		if (t->state != KB_TASK_FAILED) {
			free(t->reason);
			if (asprintf(&t->reason, "cannot start the build: %s", kb_strerror(r)) < 0)
				t->reason = NULL;
			t->state = KB_TASK_FAILED;
		}
		tell_ended(ctx, plan, t);
		kb_build_abandon(ctx, t);
		give_token(js);
		return;
	}
	(*running)++;
	tell_started(ctx, plan, t);
}

/*
 * Kill every process left that we are the parent of: a build's background
 * children when kbuildd is not root. As root the sandbox's PID namespace
 * already took them with it.
 */
static void kill_strays(struct kb_ctx *ctx, size_t *unused)
{
	char self[32];
	DIR *proc = opendir("/proc");
	struct dirent *de;
	unsigned killed = 0;

	(void)ctx;
	(void)unused;
	snprintf(self, sizeof(self), "%ld", (long)getpid());
	while (proc && (de = readdir(proc))) {
		char path[64], stat[512], *close_paren;
		long ppid = 0;
		FILE *f;

		if (de->d_name[0] < '1' || de->d_name[0] > '9' ||
		    snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name) >= (int)sizeof(path))
			continue;
		f = fopen(path, "re");
		if (!f)
			continue;
		if (fgets(stat, sizeof(stat), f) && (close_paren = strrchr(stat, ')')) &&
		    sscanf(close_paren + 2, "%*c %ld", &ppid) == 1 && ppid == getpid()) {
			pid_t pid = (pid_t)strtol(de->d_name, NULL, 10);

			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			killed++;
		}
		fclose(f);
	}
	if (proc)
		closedir(proc);
	if (killed)
		kb_warn("killed %u process%s a build left running", killed,
			killed == 1 ? "" : "es");
}

static void finish_task(struct kb_ctx *ctx, const struct kb_plan *plan, struct jobserver *js,
			struct kb_task *t, int status, unsigned *running)
{
	char id[160];

	kill(-t->child.pid, SIGKILL); /* whatever the build left in its process group */
	t->child.pid = -1;
	give_token(js);
	(*running)--;
	t->seconds = elapsed(&t->started);
	kb_build_finish(ctx, t, status);
	if (t->log_fd >= 0) {
		close(t->log_fd);
		t->log_fd = -1;
	}
	if (t->state != KB_TASK_FAILED) {
		kb_verbose("built %s for %s in %.1fs", kb_task_id(t, id, sizeof(id)),
			   t->kernel->release, t->seconds);
		record_seconds(ctx, t);
	}
	tell_ended(ctx, plan, t);
}

static struct kb_task *task_by_pid(struct kb_plan *plan, pid_t pid)
{
	for (size_t i = 0; i < plan->n; i++)
		if (plan->tasks[i].state == KB_TASK_RUNNING && plan->tasks[i].child.pid == pid)
			return &plan->tasks[i];
	return NULL;
}

static void reap(struct kb_ctx *ctx, struct kb_plan *plan, struct jobserver *js, unsigned *running)
{
	int wstatus;
	pid_t pid;

	while ((pid = waitpid(-1, &wstatus, WNOHANG)) > 0) {
		struct kb_task *t = task_by_pid(plan, pid);

		if (t)
			finish_task(ctx, plan, js, t, kb_child_status(wstatus), running);
	}
}

/* Stop every running build: TERM to each process group, KILL after a grace period. */
static void stop_all(struct kb_ctx *ctx, struct kb_plan *plan, struct jobserver *js,
		     unsigned *running)
{
	struct timespec start;

	for (size_t i = 0; i < plan->n; i++)
		if (plan->tasks[i].state == KB_TASK_RUNNING && plan->tasks[i].child.pid > 0)
			kill(-plan->tasks[i].child.pid, SIGTERM);
	clock_gettime(CLOCK_MONOTONIC, &start);
	while (*running) {
		reap(ctx, plan, js, running);
		if (!*running)
			break;
		if (elapsed(&start) > 3.0)
			for (size_t i = 0; i < plan->n; i++)
				if (plan->tasks[i].state == KB_TASK_RUNNING &&
				    plan->tasks[i].child.pid > 0)
					kill(-plan->tasks[i].child.pid, SIGKILL);
		usleep(20 * 1000);
	}
}

static void check_timeouts(struct kb_ctx *ctx, struct kb_plan *plan)
{
	for (size_t i = 0; i < plan->n; i++) {
		struct kb_task *t = &plan->tasks[i];

		if (t->state == KB_TASK_RUNNING && t->child.pid > 0 &&
		    elapsed(&t->started) > (double)ctx->settings.timeout) {
			kb_warn("build of %s for %s exceeded %lus; stopping it", t->recipe->name,
				t->kernel->release, ctx->settings.timeout);
			kill(-t->child.pid, SIGKILL);
		}
	}
}

/* Has every build of @k ended (or never needed to run)? */
static bool kernel_done(const struct kb_plan *plan, const struct kb_kernel *k)
{
	for (size_t i = 0; i < plan->n; i++) {
		const struct kb_task *t = &plan->tasks[i];

		if (t->kernel == k && (t->state == KB_TASK_RUNNING ||
				       (t->state == KB_TASK_PENDING && t->action == KB_ACT_BUILD)))
			return false;
	}
	return true;
}

/* Hand over each kernel whose builds are done; @handed remembers them (one entry per task). */
static void hand_over(struct kb_ctx *ctx, struct kb_plan *plan, const struct kb_jobs_hook *hook,
		      bool *handed)
{
	for (size_t i = 0; hook && i < plan->n; i++) {
		struct kb_kernel *k = plan->tasks[i].kernel;
		bool seen = false;

		for (size_t j = 0; j < plan->n && !seen; j++)
			seen = handed[j] && plan->tasks[j].kernel == k;
		if (seen || !kernel_done(plan, k))
			continue;
		handed[i] = true;
		hook->kernel_done(ctx, plan, k, hook->data);
	}
}

static int run_loop(struct kb_ctx *ctx, struct kb_plan *plan, struct jobserver *js, int sig_rfd,
		    const struct kb_jobs_hook *hook, bool *handed)
{
	unsigned running = 0;
	int interrupted = 0;

	for (;;) {
		struct pollfd pfd[2] = {
			{ .fd = sig_rfd, .events = POLLIN },
			{ .fd = js->nb_rfd, .events = POLLIN },
		};
		struct kb_task *t;
		size_t ready;
		char sigs[64];
		ssize_t n;

		settle(plan, &ready);
		while (!interrupted && (t = next_ready(ctx, plan)) && take_token(js)) {
			start_task(ctx, plan, js, t, &running);
			settle(plan, &ready);
		}
		if (!running && (interrupted || !next_ready(ctx, plan)))
			break;
		/* only into a slot that would idle: an install never delays a build's start */
		if (running < js->slots && !next_ready(ctx, plan))
			hand_over(ctx, plan, hook, handed);
		if (poll(pfd, next_ready(ctx, plan) ? 2 : 1, 1000) < 0 && errno != EINTR)
			return -errno;
		n = read(sig_rfd, sigs, sizeof(sigs));
		for (ssize_t i = 0; i < n; i++)
			if (sigs[i] == SIGINT || sigs[i] == SIGTERM)
				interrupted = sigs[i];
		if (interrupted) {
			kb_err(-KB_E_INTERRUPTED, "%s: stopping all builds",
			       interrupted == SIGINT ? "interrupted" : "terminated");
			stop_all(ctx, plan, js, &running);
			break;
		}
		reap(ctx, plan, js, &running);
		check_timeouts(ctx, plan);
		if (ctx->events && ctx->events->tick)
			ctx->events->tick(ctx, plan);
	}
	return interrupted ? -KB_E_INTERRUPTED : 0;
}

int kb_jobs_run(struct kb_ctx *ctx, struct kb_plan *plan)
{
	return kb_jobs_run_hooked(ctx, plan, NULL);
}

int kb_jobs_run_hooked(struct kb_ctx *ctx, struct kb_plan *plan, const struct kb_jobs_hook *hook)
{
	bool *handed;
	struct sigaction sa = { .sa_handler = on_signal, .sa_flags = SA_RESTART };
	struct sigaction old_chld, old_int, old_term;
	struct jobserver js = { -1, -1, -1, 0 };
	int sig_pipe[2], r;

	/* orphans of a build (a daemon it started) are reparented to us, to be killed */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	r = jobserver_init(&js, kb_ctx_jobs(ctx));
	if (r < 0)
		return kb_err_errno(r, "cannot create the make jobserver");
	if (pipe2(sig_pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
		r = kb_err_errno(-errno, "cannot create a pipe");
		jobserver_release(&js);
		return r;
	}
	signal_pipe_wfd = sig_pipe[1];
	sigemptyset(&sa.sa_mask);
	sigaction(SIGCHLD, &sa, &old_chld);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	kb_verbose("jobserver: %u slots", js.slots);

	kb_reuse_pair(ctx, plan);
	handed = calloc(plan->n + 1, sizeof(*handed));
	r = handed ? run_loop(ctx, plan, &js, sig_pipe[0], hook, handed) : -ENOMEM;
	free(handed);

	kill_strays(ctx, &plan->n);
	sigaction(SIGCHLD, &old_chld, NULL);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	signal_pipe_wfd = -1;
	close(sig_pipe[0]);
	close(sig_pipe[1]);
	jobserver_release(&js);
	return r;
}
