/*
 * Running a dkms.conf through bash and reading back the variables it set.
 *
 * DKMS sources dkms.conf in a bash subshell and echoes back a whitelist of
 * variables. We do the same in a child bash, with a clean environment and
 * as the unprivileged build user (the conf is code), and have it print
 * each directive as NUL-separated "NAME\0INDEX\0VALUE\0" records on a
 * private fd, so no value can be mistaken for another.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "base/child.h"
#include "base/limits.h"
#include "base/log.h"
#include "dkms/dkms-eval.h"
#include "sandbox.h"

#define EVAL_TIMEOUT "120"
#define MAX_DUMP (4 << 20)

static const char *const directives[] = {
	"PACKAGE_NAME",
	"PACKAGE_VERSION",
	"CLEAN",
	"MAKE",
	"MAKE_MATCH",
	"BUILT_MODULE_NAME",
	"BUILT_MODULE_LOCATION",
	"DEST_MODULE_NAME",
	"DEST_MODULE_LOCATION",
	"STRIP",
	"PATCH",
	"PATCH_MATCH",
	"AUTOINSTALL",
	"BUILD_DEPENDS",
	"BUILD_DEPENDS_REBUILD",
	"BUILD_EXCLUSIVE_KERNEL",
	"BUILD_EXCLUSIVE_KERNEL_MIN",
	"BUILD_EXCLUSIVE_KERNEL_MAX",
	"BUILD_EXCLUSIVE_ARCH",
	"BUILD_EXCLUSIVE_CONFIG",
	"OBSOLETE_BY",
	"PRE_BUILD",
	"POST_BUILD",
	"PRE_INSTALL",
	"POST_INSTALL",
	"POST_ADD",
	"POST_REMOVE",
	"REMAKE_INITRD",
	"NO_WEAK_MODULES",
	"MODULES_CONF",
	"MODULES_CONF_OBSOLETES",
	"MODULES_CONF_ALIAS_TYPE",
	"MODULES_CONF_OBSOLETE_ONLY",
	NULL,
};

/* bash's own variables that sourcing may create; never the conf's doing */
static const char *const shell_vars[] = {
	"OLDPWD",  "REPLY",  "OPTARG",	 "OPTIND",     "COLUMNS",  "LINES",
	"MAPFILE", "RANDOM", "DIRSTACK", "PIPESTATUS", "FUNCNAME", NULL,
};

/*
 * $@: the files to source. Everything the conf prints goes to stderr's
 * capture; only the records reach fd 3. An `exit` in a conf ends bash
 * before the records, which the caller reports; so does a file the user
 * cannot read (bash would skip it). The script is one compound command,
 * parsed before any file runs, so aliases a file defines cannot change it;
 * POSIX mode (set by assignment, which no function can intercept) puts
 * special builtins before functions, so `unset -f` clears the functions a
 * file may define over what the dump uses. A value known before sourcing
 * (the environment) is read back only when it is a name asked for.
 */
static const char eval_script[] =
	"{\n"
	"__kb_before=\" $(compgen -v | tr '\\n' ' ') \"\n"
	"for __kb_f in \"$@\"; do\n"
	"  [[ -r $__kb_f ]] || __kb_x=${__kb_unreadable:?cannot read $__kb_f}\n"
	"  . \"$__kb_f\" >&2\n"
	"done\n"
	"POSIXLY_CORRECT=y\n"
	"[[ -o posix ]] || __kb_x=${__kb_no_posix:?a file made POSIXLY_CORRECT read-only}\n"
	"unset -f builtin command printf compgen || exit 125\n"
	"set +o errexit +o nounset +o xtrace; trap - DEBUG RETURN ERR\n"
	"__kb_known=\" $__KB_DIRECTIVES \"\n"
	"for __kb_v in $(compgen -v); do\n"
	"  [[ $__kb_v == __kb* || $__kb_v == __KB* || $__kb_v == POSIXLY_CORRECT ]] && continue\n"
	"  if [[ $__kb_known != *\" $__kb_v \"* ]]; then\n"
	"    [[ $__kb_before == *\" $__kb_v \"* ]] && continue\n"
	"    printf '%s\\0?\\0\\0' \"$__kb_v\" >&3; continue\n"
	"  fi\n"
	"  eval \"__kb_keys=(\\\"\\${!$__kb_v[@]}\\\")\"\n"
	"  for __kb_i in \"${__kb_keys[@]}\"; do\n"
	"    eval \"__kb_val=\\${$__kb_v[\\$__kb_i]}\"\n"
	"    printf '%s\\0%s\\0%s\\0' \"$__kb_v\" \"$__kb_i\" \"$__kb_val\" >&3\n"
	"  done\n"
	"done\n"
	"printf '__KB_END\\0\\0\\0' >&3\n"
	"}\n";

bool kb_dkms_directive(const char *name)
{
	for (size_t i = 0; directives[i]; i++)
		if (!strcmp(directives[i], name))
			return true;
	return false;
}

void kb_dkms_conf_init(struct kb_dkms_conf *c)
{
	memset(c, 0, sizeof(*c));
	kb_buf_init(&c->dump, MAX_DUMP);
	kb_buf_init(&c->noise, 64 << 10);
}

void kb_dkms_conf_release(struct kb_dkms_conf *c)
{
	for (size_t i = 0; i < c->n; i++) {
		free(c->v[i].name);
		free(c->v[i].value);
	}
	free(c->v);
	c->v = NULL;
	c->n = 0;
	kb_strv_clear(&c->unknown);
	kb_buf_release(&c->dump);
	kb_buf_release(&c->noise);
}

static bool all_caps(const char *s)
{
	bool letter = false;

	for (; *s; s++) {
		if (islower((unsigned char)*s))
			return false;
		letter = letter || isupper((unsigned char)*s);
	}
	return letter;
}

static bool is_shell_var(const char *name)
{
	if (!strncmp(name, "BASH", 4) || !strncmp(name, "COMP_", 5))
		return true;
	for (size_t i = 0; shell_vars[i]; i++)
		if (!strcmp(shell_vars[i], name))
			return true;
	return false;
}

int kb_dkms_conf_parse(struct kb_dkms_conf *c, const char *dump, size_t len)
{
	const char *p = dump, *end = dump + len;
	bool ended = false;

	while (p < end) {
		const char *f[3];
		struct kb_dkms_var *v;

		for (int i = 0; i < 3; i++) {
			const char *nul = memchr(p, '\0', (size_t)(end - p));

			if (!nul)
				return -EINVAL;
			f[i] = p;
			p = nul + 1;
		}
		if (!strcmp(f[0], "__KB_END")) {
			ended = true;
			break;
		}
		if (!strcmp(f[1], "?")) {
			if (all_caps(f[0]) && !is_shell_var(f[0]) &&
			    kb_strv_push(&c->unknown, f[0]) < 0)
				return -ENOMEM;
			continue;
		}
		v = realloc(c->v, (c->n + 1) * sizeof(*v));
		if (!v)
			return -ENOMEM;
		c->v = v;
		v = &c->v[c->n];
		if (kb_parse_uint(f[1], 1UL << 20, &v->index) < 0)
			return -ERANGE; /* an associative array: DKMS would not index it */
		v->name = strdup(f[0]);
		/* DKMS strips one CR, so confs written on Windows work */
		v->value = strndup(f[2], strlen(f[2]) - (*f[2] && f[2][strlen(f[2]) - 1] == '\r'));
		if (!v->name || !v->value) {
			free(v->name);
			free(v->value);
			return -ENOMEM;
		}
		c->n++;
	}
	return ended ? 0 : -EPIPE;
}

const char *kb_dkms_get(const struct kb_dkms_conf *c, const char *name, unsigned long index)
{
	for (size_t i = 0; i < c->n; i++)
		if (c->v[i].index == index && !strcmp(c->v[i].name, name))
			return c->v[i].value;
	return NULL;
}

unsigned long kb_dkms_count(const struct kb_dkms_conf *c, const char *name)
{
	unsigned long n = 0;

	for (size_t i = 0; i < c->n; i++)
		if (!strcmp(c->v[i].name, name) && c->v[i].index + 1 > n)
			n = c->v[i].index + 1;
	return n;
}

int kb_dkms_env_push(const struct kb_dkms_env *e, struct kb_strv *out)
{
	const struct {
		const char *name, *value;
	} vars[] = {
		{ "kernelver", e->kernelver },
		{ "arch", e->arch },
		{ "kernel_source_dir", e->kernel_source_dir },
		{ "kernel_config", e->kernel_config },
		{ "dkms_tree", e->dkms_tree },
		{ "source_tree", e->source_tree },
		{ "install_tree", e->install_tree },
		{ "module", e->module },
		{ "module_version", e->module_version },
	};
	int r = 0;

	r |= kb_strv_push(out, "PATH=/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin");
	r |= kb_strv_push(out, "LANG=C");
	r |= kb_strv_push(out, "LC_ALL=C");
	for (size_t i = 0; i < ARRAY_SIZE(vars); i++)
		if (vars[i].value)
			r |= kb_strv_pushf(out, "%s=%s", vars[i].name, vars[i].value);
	if (e->jobs)
		r |= kb_strv_pushf(out, "parallel_jobs=%u", e->jobs);
	return r < 0 ? -ENOMEM : 0;
}

static int read_memfd(int fd, size_t max, struct kb_buf *b)
{
	if (lseek(fd, 0, SEEK_SET) < 0)
		return -errno;
	return kb_read_fd(fd, max, b);
}

int kb_dkms_eval(struct kb_ctx *ctx, const struct kb_strv *files, const char *dir,
		 const struct kb_dkms_env *env, struct kb_dkms_conf *out)
{
	return kb_dkms_eval_names(ctx, files, dir, env, directives, out);
}

/* The conf is code: it runs contained, as the build user, whoever asked. */
static int contain(struct kb_ctx *ctx, const struct kb_strv *files, const char *dir,
		   const struct kb_dkms_env *env, struct kb_sandbox *sb)
{
	int r = kb_sandbox_setup(ctx, sb);

	if (r >= 0)
		r = kb_strv_push(&sb->ro, dir);
	/* a conf may read the kernel's tree ($kernel_source_dir/.config), wherever it is */
	for (size_t i = 0; r >= 0 && env->kernel_trees && i < env->kernel_trees->n; i++)
		r = kb_strv_push(&sb->ro, env->kernel_trees->v[i]);
	if (r == -ESRCH)
		return kb_err(-KB_E_INPUT,
			      "%s: no unprivileged user to read it as: "
			      "create the user 'kbuildd' ([build] user in kbuildd.conf)",
			      files->v[0]);
	if (r < 0)
		return kb_err_errno(r, "cannot prepare the reading of '%s'", files->v[0]);
	return 0;
}

/* The memfds bash writes the records and its stderr to. */
static int open_captures(int *dump_fd, int *noise_fd)
{
	int moved;

	*dump_fd = memfd_create("kbuildd-dkms-records", MFD_CLOEXEC);
	*noise_fd = memfd_create("kbuildd-dkms-stderr", MFD_CLOEXEC);
	if (*dump_fd < 0 || *noise_fd < 0)
		return -errno;
	/* out of the way of 0-3: the script moves it onto fd 3 itself */
	moved = fcntl(*dump_fd, F_DUPFD_CLOEXEC, 10);
	if (moved < 0)
		return -errno;
	close(*dump_fd);
	*dump_fd = moved;
	return 0;
}

/* `bash -c eval_script FILES...` under timeout, in a clean environment that names @names. */
static int bash_child(struct kb_child *c, const struct kb_strv *files, const char *dir,
		      const struct kb_dkms_env *env, const char *const *names, int dump_fd,
		      int noise_fd)
{
	struct kb_buf known = KB_BUF_INIT;
	int r;

	for (size_t i = 0; names[i]; i++)
		kb_buf_addf(&known, "%s%s", i ? " " : "", names[i]);
	kb_strv_push(&c->args, "timeout");
	kb_strv_push(&c->args, EVAL_TIMEOUT);
	kb_strv_push(&c->args, "bash");
	kb_strv_push(&c->args, "--norc");
	kb_strv_push(&c->args, "--noprofile");
	kb_strv_push(&c->args, "-c");
	/* fd 3 is the records' pipe: dup the memfd onto it inside the script */
	kb_strv_pushf(&c->args, "exec 3>&%d %d>&-\n%s", dump_fd, dump_fd, eval_script);
	kb_strv_push(&c->args, "kbuildd-dkms");
	/* relative to the conf's directory, which bash enters as root: its parents may be closed */
	for (size_t i = 0; i < files->n; i++) {
		size_t n = strlen(dir);

		if (!strncmp(files->v[i], dir, n) && files->v[i][n] == '/')
			kb_strv_pushf(&c->args, ".%s", files->v[i] + n);
		else
			kb_strv_push(&c->args, files->v[i]);
	}
	c->clean_env = true;
	r = kb_dkms_env_push(env, &c->env);
	kb_strv_push(&c->env, "HOME=/");
	kb_strv_pushf(&c->env, "__KB_DIRECTIVES=%s", kb_buf_str(&known));
	kb_buf_release(&known);
	c->dir = strdup(dir);
	c->out_fd = noise_fd;
	c->keep_fds[0] = dump_fd;
	return r < 0 || !c->dir ? -ENOMEM : 0;
}

/* What bash left in the memfds: its stderr for messages, the records parsed into @out. */
static int read_records(struct kb_dkms_conf *out, const char *file, int status, int dump_fd,
			int noise_fd)
{
	int r;

	read_memfd(noise_fd, 64 << 10, &out->noise);
	r = read_memfd(dump_fd, MAX_DUMP, &out->dump);
	if (r == -EFBIG)
		return kb_err(-KB_E_INPUT, "%s: sets more than %d MiB of variables", file,
			      MAX_DUMP >> 20);
	if (r < 0)
		return kb_err_errno(r, "cannot read what '%s' set", file);
	r = kb_dkms_conf_parse(out, out->dump.buf ? out->dump.buf : "", out->dump.len);
	if (r == -EPIPE)
		return kb_err(-KB_E_INPUT, "%s: bash stopped while reading it (exit %d%s)%s%s",
			      file, status, status == 124 ? ", timed out" : "",
			      out->noise.len ? ": " : "", kb_buf_str(&out->noise));
	if (r == -ERANGE)
		return kb_err(-KB_E_INPUT,
			      "%s: a directive is an associative array; DKMS directives "
			      "are plain or indexed arrays",
			      file);
	if (r < 0)
		return kb_err_errno(r, "cannot read what '%s' set", file);
	return r;
}

int kb_dkms_eval_names(struct kb_ctx *ctx, const struct kb_strv *files, const char *dir,
		       const struct kb_dkms_env *env, const char *const *names,
		       struct kb_dkms_conf *out)
{
	struct kb_child c;
	struct kb_sandbox sb;
	int dump_fd = -1, noise_fd = -1, status, r;

	r = contain(ctx, files, dir, env, &sb);
	if (r < 0)
		goto out;
	r = open_captures(&dump_fd, &noise_fd);
	if (r < 0)
		goto out;
	kb_child_init(&c);
	r = bash_child(&c, files, dir, env, names, dump_fd, noise_fd);
	kb_sandbox_attach(&c, &sb);
	status = r < 0 ? r : kb_child_run(&c);
	kb_child_release(&c);
	if (status < 0) {
		r = kb_err_errno(status, "cannot run bash to read '%s'", files->v[0]);
		goto out;
	}
	r = read_records(out, files->v[0], status, dump_fd, noise_fd);
out:
	if (noise_fd >= 0)
		close(noise_fd);
	if (dump_fd >= 0)
		close(dump_fd);
	kb_sandbox_release(&sb);
	return r;
}

/* Does @line assign @name ("NAME=", "NAME[i]=", "NAME+=", "export NAME=")? */
static bool assigns(const char *line, const char *name, long index, bool any_index)
{
	size_t len = strlen(name);

	while (*line == ' ' || *line == '\t')
		line++;
	if (!strncmp(line, "export ", 7))
		line += 7;
	if (strncmp(line, name, len))
		return false;
	line += len;
	if (*line == '[') {
		char *end;
		long i = strtol(line + 1, &end, 10);

		if (*end != ']' || (!any_index && i != index))
			return false;
		line = end + 1;
	} else if (!any_index && index > 0) {
		return false;
	}
	if (*line == '+')
		line++;
	return *line == '=';
}

unsigned kb_dkms_line(const char *text, const char *name, long index)
{
	for (int pass = 0; pass < 2; pass++) {
		const char *p = text;
		unsigned line = 1;

		while (p && *p) {
			if (assigns(p, name, index, pass == 1))
				return line;
			p = strchr(p, '\n');
			if (p)
				p++;
			line++;
		}
	}
	return 0;
}
