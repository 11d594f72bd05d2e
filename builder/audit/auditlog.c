/* auditd's raw and enriched record lines, as auditd 3 writes them, parsed as hostile text. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/auditlog.h"
#include "base/log.h"

#define LOG_DIR "var/log/audit"
#define MAX_LOG_FILE (256 * 1024 * 1024)
#define MAX_ROTATED 9
#define UNSET_ID 4294967295UL

/* A KERN_MODULE record, joined to its SYSCALL record by the event's id. */
struct module_record {
	char id[48]; /* "1733230000.123:4567" */
	char name[128];
};

struct parse {
	struct kb_audit_log *log;
	struct module_record *names;
	size_t n_names;
	char (*ids)[48]; /* each event's id, in log->v's order */
};

/* Syscall numbers of the audit record's arch (AUDIT_ARCH_*), when no enriched name says it. */
static const struct {
	const char *arch;
	unsigned init, finit, del;
} arches[] = {
	{ "c000003e", 175, 313, 176 }, /* x86_64 */
	{ "40000003", 128, 350, 129 }, /* i386 */
	{ "c00000b7", 105, 273, 106 }, /* aarch64 */
	{ "40000028", 128, 379, 129 }, /* arm */
};

/*
 * The value of field @name in @rec (up to the enriched part or the end),
 * decoded: a quoted string as it is, a hex-encoded one (@untrusted: the
 * kernel hex-encodes such strings when they hold spaces or controls) back
 * to bytes. False when absent.
 */
static bool field_raw(const char *rec, const char *name, bool untrusted, char *out, size_t size)
{
	size_t len = strlen(name), n;
	const char *p = rec;

	while ((p = strstr(p, name))) {
		if ((p == rec || p[-1] == ' ' || p[-1] == '\x1d') && p[len] == '=')
			break;
		p += len;
	}
	if (!p)
		return false;
	p += len + 1;
	if (*p == '"') {
		n = strcspn(p + 1, "\"");
		snprintf(out, size, "%.*s", (int)n, p + 1);
		return true;
	}
	n = strcspn(p, " \x1d\n");
	if (untrusted && n % 2 == 0 && n && strspn(p, "0123456789ABCDEFabcdef") >= n) {
		size_t o = 0;

		for (size_t i = 0; i + 1 < n + 1 && o + 1 < size; i += 2) {
			unsigned byte;

			if (sscanf(p + i, "%2x", &byte) != 1)
				break;
			out[o++] = byte ? (char)byte : ' ';
		}
		out[o] = '\0';
		return true;
	}
	snprintf(out, size, "%.*s", (int)n, p);
	return true;
}

/* Decoded, the kernel's hex-encoding of control bytes is not undone into them. */
static bool field(const char *rec, const char *name, bool untrusted, char *out, size_t size)
{
	if (!field_raw(rec, name, untrusted, out, size))
		return false;
	kb_str_printable(out);
	return true;
}

/* "type=T msg=audit(SECONDS.MSEC:SERIAL): ...": the type and the event's id. */
static bool header(const char *line, char *type, size_t tsize, char *id, size_t isize)
{
	const char *msg = strstr(line, " msg=audit(");
	size_t n;

	if (!kb_str_startswith(line, "type=") || !msg)
		return false;
	snprintf(type, tsize, "%.*s", (int)(msg - line - 5), line + 5);
	msg += 11;
	n = strcspn(msg, ")");
	if (msg[n] != ')' || n >= isize)
		return false;
	snprintf(id, isize, "%.*s", (int)n, msg);
	return true;
}

static const char *syscall_name(const char *rec)
{
	char arch[16], num[16], name[32];
	unsigned long nr;

	if (field(rec, "SYSCALL", false, name, sizeof(name))) {
		if (!strcmp(name, "init_module"))
			return "init_module";
		if (!strcmp(name, "finit_module"))
			return "finit_module";
		return !strcmp(name, "delete_module") ? "delete_module" : NULL;
	}
	if (!field(rec, "arch", false, arch, sizeof(arch)) ||
	    !field(rec, "syscall", false, num, sizeof(num)) || kb_parse_uint(num, ~0U, &nr) < 0)
		return NULL;
	for (size_t i = 0; i < ARRAY_SIZE(arches); i++) {
		if (strcasecmp(arches[i].arch, arch))
			continue;
		return nr == arches[i].init  ? "init_module" :
		       nr == arches[i].finit ? "finit_module" :
		       nr == arches[i].del   ? "delete_module" :
					       NULL;
	}
	return NULL;
}

/* "1000 (alice)" from auid=1000 and the enriched AUID="alice"; "unset" for -1. */
static void user(const char *rec, const char *num_field, const char *name_field, char *out,
		 size_t size)
{
	char num[32] = "", name[64] = "";
	unsigned long id;

	field(rec, num_field, false, num, sizeof(num));
	field(rec, name_field, false, name, sizeof(name));
	if (kb_parse_uint(num, UNSET_ID, &id) < 0)
		snprintf(out, size, "%s", num[0] ? num : "?");
	else if (id == UNSET_ID)
		snprintf(out, size, "unset");
	else if (name[0] && strcmp(name, num))
		snprintf(out, size, "%lu (%s)", id, name);
	else
		snprintf(out, size, "%lu", id);
}

static int add_syscall(struct parse *ps, const char *rec, const char *id, const char *call)
{
	struct kb_audit_log *log = ps->log;
	struct kb_audit_event *v = realloc(log->v, (log->n + 1) * sizeof(*v)), *e;
	char(*ids)[48] = realloc(ps->ids, (log->n + 1) * sizeof(*ids));
	char buf[64];
	long long secs;

	if (v)
		log->v = v;
	if (ids)
		ps->ids = ids;
	if (!v || !ids)
		return -ENOMEM;
	e = memset(&v[log->n], 0, sizeof(*e));
	snprintf(ids[log->n], sizeof(ids[0]), "%s", id);
	if (sscanf(id, "%lld.%u:%lu", &secs, &e->msec, &e->serial) != 3)
		return 0; /* not an event's id: left out */
	e->when = (time_t)secs;
	snprintf(e->syscall, sizeof(e->syscall), "%s", call);
	e->success = field(rec, "success", false, buf, sizeof(buf)) && !strcmp(buf, "yes");
	if (field(rec, "exit", false, buf, sizeof(buf)))
		e->exit = strtol(buf, NULL, 10);
	field(rec, "exe", true, e->exe, sizeof(e->exe));
	field(rec, "comm", true, e->comm, sizeof(e->comm));
	field(rec, "key", true, e->key, sizeof(e->key));
	user(rec, "auid", "AUID", e->auid, sizeof(e->auid));
	user(rec, "uid", "UID", e->uid, sizeof(e->uid));
	log->n++;
	return 0;
}

static int add_name(struct parse *ps, const char *rec, const char *id)
{
	struct module_record *v = realloc(ps->names, (ps->n_names + 1) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	ps->names = v;
	v += ps->n_names++;
	snprintf(v->id, sizeof(v->id), "%s", id);
	if (!field(rec, "name", true, v->name, sizeof(v->name)))
		v->name[0] = '\0';
	return 0;
}

static int parse_line(struct parse *ps, const char *line)
{
	char type[32], id[48];
	const char *call;

	if (!header(line, type, sizeof(type), id, sizeof(id)))
		return 0;
	if (!strcmp(type, "KERN_MODULE"))
		return add_name(ps, line, id);
	if (strcmp(type, "SYSCALL") || !(call = syscall_name(line)))
		return 0;
	return add_syscall(ps, line, id, call);
}

static int join(struct parse *ps)
{
	struct kb_audit_log *log = ps->log;

	for (size_t i = 0; i < log->n; i++)
		for (size_t j = ps->n_names; j-- > 0;)
			if (!strcmp(ps->names[j].id, ps->ids[i])) {
				snprintf(log->v[i].module, sizeof(log->v[i].module), "%s",
					 ps->names[j].name);
				break;
			}
	return 0;
}

static int parse_text(struct parse *ps, char *text)
{
	char *line, *save = NULL;
	int r = 0;

	for (line = strtok_r(text, "\n", &save); r >= 0 && line; line = strtok_r(NULL, "\n", &save))
		r = parse_line(ps, line);
	return r;
}

int kb_audit_log_parse(char *text, struct kb_audit_log *log)
{
	struct parse ps = { .log = log };
	int r = parse_text(&ps, text);

	if (r >= 0)
		r = join(&ps);
	free(ps.names);
	free(ps.ids);
	return r;
}

int kb_audit_log_read(const struct kb_ctx *ctx, struct kb_audit_log *log)
{
	struct parse ps = { .log = log };
	struct kb_buf text = KB_BUF_INIT_MAX(MAX_LOG_FILE);
	int r = 0;

	memset(log, 0, sizeof(*log));
	for (int i = MAX_ROTATED; r >= 0 && i >= 0; i--) {
		char rel[PATH_MAX];
		int rr;

		if (i)
			snprintf(rel, sizeof(rel), "%s/audit.log.%d", LOG_DIR, i);
		else
			snprintf(rel, sizeof(rel), "%s/audit.log", LOG_DIR);
		kb_buf_reset(&text);
		rr = kb_root_read(&ctx->root, rel, text.max, &text);
		if (rr == -ENOENT)
			continue;
		if (rr < 0) {
			r = rr == -KB_E_INPUT ? rr : kb_err_errno(rr, "cannot read /%s", rel);
			break;
		}
		log->files++;
		r = parse_text(&ps, text.buf ? text.buf : (char[]){ 0 });
	}
	if (r >= 0)
		r = join(&ps);
	kb_buf_release(&text);
	free(ps.names);
	free(ps.ids);
	return r;
}

void kb_audit_log_release(struct kb_audit_log *log)
{
	free(log->v);
	memset(log, 0, sizeof(*log));
}
