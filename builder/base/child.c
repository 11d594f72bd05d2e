/* Child processes (make, patch, depmod, compilers): argv, env, log fd, process group. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/child.h"
#include "base/fault.h"

extern char **environ;

void kb_child_init(struct kb_child *c)
{
	memset(c, 0, sizeof(*c));
	c->out_fd = -1;
	c->keep_fds[0] = -1;
	c->keep_fds[1] = -1;
	c->in_fd = -1;
	c->pid = -1;
}

void kb_child_release(struct kb_child *c)
{
	kb_strv_clear(&c->args);
	kb_strv_clear(&c->env);
	free(c->dir);
	c->dir = NULL;
}

void kb_child_reset_signals(void)
{
	sigset_t none;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGCHLD, SIG_DFL);
}

/* Runs in the forked child: only async-signal-safe calls until exec. */
void kb_child_exec(struct kb_child *c, bool drop, uid_t uid, gid_t gid)
{
	int null_fd;

	kb_child_reset_signals();
	if (c->new_pgrp)
		setpgid(0, 0);
	null_fd = open("/dev/null", O_RDWR);
	if (null_fd < 0)
		_exit(127);
	dup2(c->in_fd >= 0 ? c->in_fd : null_fd, 0);
	if (c->out_fd >= 0) {
		dup2(c->out_fd, 1);
		dup2(c->out_fd, 2);
	} else if (c->quiet) {
		dup2(null_fd, 1);
		dup2(null_fd, 2);
	}
	/* before dropping privileges: a parent the build user cannot search is no obstacle */
	if (c->dir && chdir(c->dir) < 0) {
		static const char msg[] = "kbuildd: cannot enter the directory to run in\n";

		/* the child's own stderr, its log */
		if (write(2, msg, sizeof(msg) - 1) < 0) /* lint: output */
			_exit(127);
		_exit(127);
	}
	if (drop &&
	    (setgroups(0, NULL) < 0 || setgid(gid) < 0 || setuid(uid) < 0 || getuid() != uid ||
	     geteuid() != uid || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0))
		_exit(126); /* never build as root by accident */
	for (int i = 0; i < 2; i++)
		if (c->keep_fds[i] >= 0)
			fcntl(c->keep_fds[i], F_SETFD, 0);
	if (c->clean_env)
		execvpe(c->args.v[0], c->args.v, (char **)kb_strv_argv(&c->env));
	else
		execvp(c->args.v[0], c->args.v);
	_exit(127);
}

int kb_child_start(struct kb_child *c)
{
	pid_t pid, parent = getpid();

	/* a lost argument or variable would run something else than was asked */
	if (kb_strv_error(&c->args) < 0)
		return kb_strv_error(&c->args);
	if (kb_strv_error(&c->env) < 0)
		return kb_strv_error(&c->env);
	if (!c->args.n)
		return -EINVAL;
	if (c->start)
		return c->start(c);
	kb_fault_point("spawn");
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		/* the parent may have died before the prctl: then it is too late already */
		if (c->die_with_parent &&
		    (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent))
			_exit(127);
		kb_child_exec(c, false, 0, 0);
	}
	if (c->new_pgrp)
		setpgid(pid, pid); /* both sides, so kill(-pid) works at once */
	c->pid = pid;
	return 0;
}

int kb_child_status(int wstatus)
{
	if (WIFEXITED(wstatus))
		return WEXITSTATUS(wstatus);
	if (WIFSIGNALED(wstatus))
		return 128 + WTERMSIG(wstatus);
	return 255;
}

int kb_child_wait(struct kb_child *c)
{
	int wstatus;

	if (c->pid <= 0)
		return -ECHILD;
	while (waitpid(c->pid, &wstatus, 0) < 0) {
		if (errno != EINTR)
			return -errno;
	}
	c->pid = -1;
	return kb_child_status(wstatus);
}

int kb_child_run(struct kb_child *c)
{
	int r = kb_child_start(c);

	return r < 0 ? r : kb_child_wait(c);
}

char *kb_child_cmdline(const struct kb_child *c)
{
	struct kb_buf b = KB_BUF_INIT;

	for (size_t i = 0; i < c->args.n; i++)
		kb_buf_addf(&b, "%s%s", i ? " " : "", c->args.v[i]);
	return kb_buf_detach(&b);
}

bool kb_child_have_program(const char *name)
{
	const char *path = getenv("PATH");
	struct kb_buf dirs = KB_BUF_INIT_MAX(8192);
	bool found = false;
	char *save = NULL;

	kb_buf_addf(&dirs, "%s:/usr/sbin:/sbin", path ? path : "/usr/bin:/bin");
	for (char *d = strtok_r(dirs.buf, ":", &save); d && !found;
	     d = strtok_r(NULL, ":", &save)) {
		char full[4096];

		if (kb_pathf(full, sizeof(full), "%s/%s", d, name) == 0)
			found = access(full, X_OK) == 0;
	}
	kb_buf_release(&dirs);
	return found;
}

bool kb_child_build_user(const char *name, uid_t *uid, gid_t *gid, const char **used)
{
	const char *const candidates[] = { name, "kbuildd", "nobody" };

	if (geteuid() != 0 || (name && !strcmp(name, "root")))
		return false;
	for (size_t i = 0; i < ARRAY_SIZE(candidates); i++) {
		struct passwd *pw = candidates[i] ? getpwnam(candidates[i]) : NULL;

		if (!pw || pw->pw_uid == 0)
			continue;
		*uid = pw->pw_uid;
		*gid = pw->pw_gid;
		*used = candidates[i];
		return true;
	}
	return false;
}
