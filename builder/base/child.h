/* Child processes (make, patch, depmod, compilers): argv, env, log fd, process group. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "base/util.h"

struct kb_sandbox;

struct kb_child {
	struct kb_strv args; /* argv; args.v[0] is looked up in PATH */
	struct kb_strv env;  /* used as the whole environment when clean_env */
	bool clean_env;
	char *dir;	      /* working directory (owned: freed by release), or NULL */
	int out_fd;	      /* stdout and stderr go here; -1 = inherit */
	bool quiet;	      /* out_fd == -1: send output to /dev/null instead */
	int keep_fds[2];      /* fds that stay open across exec (jobserver); -1 = none */
	bool new_pgrp;	      /* own process group, so it can be killed whole */
	bool die_with_parent; /* SIGKILL when kbuildd dies: no orphan writes on */
	int in_fd;	      /* stdin; -1 = /dev/null */
	/*
	 * Driver code runs contained: the engine's sandbox (sandbox.h,
	 * kb_sandbox_attach()) sets both; kb_child_start() then hands the
	 * child to @start instead of a plain fork+exec.
	 */
	const struct kb_sandbox *sandbox;
	int (*start)(struct kb_child *c);
	pid_t pid;
};

void kb_child_init(struct kb_child *c);
void kb_child_release(struct kb_child *c);

/*
 * fork+exec (through c->start when set); 0 or negative errno: the error
 * kept by c->args or c->env (kb_strv_error()) when a push to it failed.
 */
int kb_child_start(struct kb_child *c);
/*
 * Wait for the child: returns its exit status (0..255), 128+N when killed
 * by signal N, or a negative errno.
 */
int kb_child_wait(struct kb_child *c);
/* Decode a waitpid() status the same way. */
int kb_child_status(int wstatus);
/* start + wait; a child that could not start is the negative errno. */
int kb_child_run(struct kb_child *c);
/* "make -C ... modules" for messages; caller frees. */
char *kb_child_cmdline(const struct kb_child *c);
/*
 * The unprivileged user builds run as when kbuildd runs as root: @name
 * (kbuildd.conf [build] user), else "kbuildd", else "nobody". Returns false
 * when builds keep kbuildd's own identity (not root, or user = root).
 */
bool kb_child_build_user(const char *name, uid_t *uid, gid_t *gid, const char **used);

/*
 * In a forked child: signals back to their defaults, then set up stdio,
 * the kept fds, the directory and the identity (@uid/@gid with no other
 * groups and no new privileges, when @drop) and exec. Never returns.
 */
void kb_child_exec(struct kb_child *c, bool drop, uid_t uid, gid_t gid) __attribute__((noreturn));
void kb_child_reset_signals(void);

/* Is @name an executable in PATH (or /usr/sbin:/sbin)? */
bool kb_child_have_program(const char *name);
