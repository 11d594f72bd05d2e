/* kbuildd audit: every module on the machine, where it came from, who signed it. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "audit/audit.h"
#include "audit/auditlog.h"
#include "base/log.h"
#include "cli/cmd.h"
#include "cli/json.h"
#include "cli/report.h"

/* The columns of one module's line. */
struct cells {
	char loaded[16], origin[PATH_MAX + 300], signature[320], taint[32], tree[16];
};

static void origin_text(const struct kb_origin *o, char *out, size_t size)
{
	switch (o->kind) {
	case KB_ORIGIN_PACKAGE:
		snprintf(out, size, "package %s", o->owner);
		break;
	case KB_ORIGIN_KBUILDD:
		snprintf(out, size, "kbuildd %s, %s", o->owner, o->how);
		break;
	case KB_ORIGIN_DKMS:
		snprintf(out, size, "dkms %s", o->owner);
		break;
	default:
		snprintf(out, size, "%s", kb_origin_kind_name(o->kind));
	}
}

static void cells_of(const struct kb_audit *a, const struct kb_audit_entry *e, struct cells *c)
{
	bool running = !strcmp(e->release, a->machine.release);

	snprintf(c->loaded, sizeof(c->loaded), "%s",
		 !running		  ? "-" :
		 !e->loaded		  ? "no" :
		 e->copy == KB_COPY_OTHER ? "other build" :
					    "yes");
	origin_text(&e->origin, c->origin, sizeof(c->origin));
	if (e->sig.signed_)
		snprintf(c->signature, sizeof(c->signature), "%s (%s)", e->sig.signer,
			 kb_trust_name(e->trust));
	else
		snprintf(c->signature, sizeof(c->signature), "%s",
			 e->rel ? kb_trust_name(e->trust) : "-");
	snprintf(c->taint, sizeof(c->taint), "%s", e->taint[0] ? e->taint : "-");
	snprintf(c->tree, sizeof(c->tree), "%s",
		 !e->rel   ? "-" :
		 e->intree ? "in-tree" :
			     "out-of-tree");
}

static void machine_text(const struct kb_audit *a, struct kb_buf *b)
{
	const struct kb_machine *m = &a->machine;

	kb_buf_addf(b, "running kernel %s: %s\n", m->release[0] ? m->release : "(not known)",
		    !m->modules ? "no module support (no /proc/modules)" :
		    m->modules_disabled == 1 ?
				  "kernel.modules_disabled = 1: loads no more modules" :
				  "loads modules");
	kb_buf_adds(b, "tainted: ");
	if (m->have_taint) {
		kb_buf_addf(b, "%lu = ", m->taint);
		kb_taint_mask_words(m->taint, b);
	} else {
		kb_buf_adds(b, "not known");
	}
	kb_buf_addf(b, "\nSecure Boot %s, lockdown %s, module.sig_enforce %s\n",
		    m->secure_boot < 0 ? "not known" :
		    m->secure_boot     ? "on" :
					 "off",
		    m->lockdown[0] ? m->lockdown : "not known",
		    m->sig_enforce < 0 ? "not known" :
		    m->sig_enforce     ? "on" :
					 "off");
	kb_buf_addf(b, "policy: %s\n\n",
		    a->policy.present ? "/" KB_POLICY_FILE :
					"none (/" KB_POLICY_FILE " is absent)");
}

static size_t width(size_t w, const char *s)
{
	size_t n = strlen(s);

	return n > w ? n : w;
}

/* What is worth a line below the table, apart from the policy: copies, certificates. */
static void notes_text(const struct kb_audit *a, const struct kb_audit_entry *e, struct kb_buf *b)
{
	long days = e->cert_known ? kb_audit_cert_days(a, e) : 0;
	char date[32] = "";
	struct tm tm;

	if (e->error[0])
		kb_buf_addf(b, "  %s (%s): /%s %s\n", e->module, e->release, e->rel, e->error);
	if (e->copy == KB_COPY_OTHER)
		kb_buf_addf(b,
			    "  %s (%s): the loaded module is another build than /%s (srcversion "
			    "%s, the file's %s)\n",
			    e->module, e->release, e->rel, e->loaded_srcversion, e->srcversion);
	if (e->cert_known && gmtime_r(&e->cert_not_after, &tm))
		strftime(date, sizeof(date), "%Y-%m-%d", &tm);
	if (e->cert_known && days < 0)
		kb_buf_addf(b,
			    "  %s (%s): its signing certificate %s expired on %s; the kernel does "
			    "not check expiry, but policy tools and firmware may\n",
			    e->module, e->release, e->cert_path, date);
	else if (e->cert_known && days <= (long)a->warn_days)
		kb_buf_addf(b,
			    "  %s (%s): its signing certificate %s expires on %s, in %ld days; "
			    "the kernel does not check expiry, but policy tools and firmware "
			    "may\n",
			    e->module, e->release, e->cert_path, date, days);
}

static void audit_text(const struct kb_audit *a, struct kb_buf *b)
{
	size_t wm = 6, wk = 6, wl = 6, wo = 6, ws = 9, wt = 5;
	struct kb_buf notes = KB_BUF_INIT;
	struct cells c;

	machine_text(a, b);
	for (size_t i = 0; i < a->n; i++) {
		cells_of(a, &a->v[i], &c);
		wm = width(wm, a->v[i].module);
		wk = width(wk, a->v[i].release);
		wl = width(wl, c.loaded);
		wo = width(wo, c.origin);
		ws = width(ws, c.signature);
		wt = width(wt, c.taint);
	}
	if (!a->n)
		kb_buf_adds(b, "no module is loaded\n");
	else
		kb_buf_addf(b, "%-*s  %-*s  %-*s  %-*s  %-*s  %-*s  %-11s  %s\n", (int)wm, "MODULE",
			    (int)wk, "KERNEL", (int)wl, "LOADED", (int)wo, "ORIGIN", (int)ws,
			    "SIGNATURE", (int)wt, "TAINT", "TREE", "LICENCE");
	for (size_t i = 0; i < a->n; i++) {
		const struct kb_audit_entry *e = &a->v[i];

		cells_of(a, e, &c);
		kb_buf_addf(b, "%-*s  %-*s  %-*s  %-*s  %-*s  %-*s  %-11s  %s\n", (int)wm,
			    e->module, (int)wk, e->release, (int)wl, c.loaded, (int)wo, c.origin,
			    (int)ws, c.signature, (int)wt, c.taint, c.tree,
			    e->license[0] ? e->license : "-");
		notes_text(a, e, &notes);
	}
	if (notes.len)
		kb_buf_addf(b, "\nNotes:\n%s", kb_buf_str(&notes));
	kb_buf_release(&notes);
	if (a->breaches) {
		kb_buf_addf(b, "\n%u module%s break%s the policy:\n", a->breaches,
			    a->breaches == 1 ? "" : "s", a->breaches == 1 ? "s" : "");
		for (size_t i = 0; i < a->n; i++)
			for (size_t j = 0; j < a->v[i].breaches.n; j++)
				kb_buf_addf(b, "  %s (%s): %s\n", a->v[i].module, a->v[i].release,
					    a->v[i].breaches.v[j]);
	} else if (a->policy.present) {
		kb_buf_adds(b, "\nevery module keeps the policy\n");
	}
}

static void machine_json(struct kb_json *j, struct json_object *top, const struct kb_audit *a)
{
	const struct kb_machine *m = &a->machine;
	struct json_object *o = kb_json_set_object(j, top, "machine"), *flags;
	struct kb_buf words = KB_BUF_INIT;

	kb_json_set_str(j, o, "kernel", m->release[0] ? m->release : NULL);
	kb_json_set_bool(j, o, "module_support", m->modules);
	kb_json_set_int(j, o, "modules_disabled", m->modules_disabled);
	kb_json_set_int(j, o, "sig_enforce", m->sig_enforce);
	kb_json_set_int(j, o, "secure_boot", m->secure_boot);
	kb_json_set_str(j, o, "lockdown", m->lockdown[0] ? m->lockdown : NULL);
	if (m->have_taint)
		kb_json_set_uint(j, o, "tainted", m->taint);
	else
		kb_json_set_str(j, o, "tainted", NULL);
	flags = kb_json_add_array(j, o, "taint_flags");
	for (unsigned bit = 0; m->have_taint && bit < 8 * sizeof(m->taint); bit++) {
		const struct kb_taint_flag *f = kb_taint_flag(bit);

		kb_buf_reset(&words);
		if (!(m->taint & (1UL << bit)))
			continue;
		if (f)
			kb_buf_addf(&words, "%c: %s", f->letter, f->words);
		else
			kb_buf_addf(&words, "bit %u", bit);
		kb_json_push_str(j, flags, kb_buf_str(&words));
	}
	kb_buf_release(&words);
}

static void signature_json(struct kb_json *j, struct json_object *o, const struct kb_audit *a,
			   const struct kb_audit_entry *e)
{
	struct json_object *s = kb_json_set_object(j, o, "signature"), *c;
	char date[32];
	struct tm tm;

	kb_json_set_bool(j, s, "signed", e->sig.signed_);
	kb_json_set_str(j, s, "trust", kb_trust_name(e->trust));
	kb_json_set_str(j, s, "signer", e->sig.signed_ ? e->sig.signer : NULL);
	kb_json_set_str(j, s, "key_id", e->sig.signed_ ? e->sig.key_id : NULL);
	kb_json_set_str(j, s, "hash", e->sig.signed_ ? e->sig.hash : NULL);
	kb_json_set_str(j, s, "keyring", e->keyring[0] ? e->keyring : NULL);
	if (!e->cert_known) {
		kb_json_set_str(j, s, "certificate", NULL);
		return;
	}
	c = kb_json_set_object(j, s, "certificate");
	kb_json_set_str(j, c, "path", e->cert_path);
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%SZ",
		 gmtime_r(&e->cert_not_after, &tm) ? &tm : memset(&tm, 0, sizeof(tm)));
	kb_json_set_str(j, c, "not_after", date);
	kb_json_set_int(j, c, "days_left", kb_audit_cert_days(a, e));
	kb_json_set_bool(j, c, "expired", kb_audit_cert_days(a, e) < 0);
}

static void entry_json(struct kb_json *j, struct json_object *list, const struct kb_audit *a,
		       const struct kb_audit_entry *e)
{
	static const char *const copies[] = { NULL, "same", "other", "not known" };
	struct json_object *o = kb_json_add_object(j, list), *origin, *breaches;
	struct kb_buf words = KB_BUF_INIT;
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "/%s", e->rel ? e->rel : "");
	kb_json_set_str(j, o, "module", e->module);
	kb_json_set_str(j, o, "kernel", e->release);
	kb_json_set_str(j, o, "path", e->rel ? path : NULL);
	kb_json_set_bool(j, o, "loaded", e->loaded);
	kb_json_set_str(j, o, "loaded_copy", e->loaded ? copies[e->copy] : NULL);
	kb_json_set_str(j, o, "srcversion", e->srcversion[0] ? e->srcversion : NULL);
	kb_json_set_str(j, o, "loaded_srcversion",
			e->loaded_srcversion[0] ? e->loaded_srcversion : NULL);
	kb_json_set_str(j, o, "taint", e->loaded ? e->taint : NULL);
	if (e->loaded)
		kb_taint_letters_words(e->taint, &words);
	kb_json_set_str(j, o, "taint_words", e->loaded ? kb_buf_str(&words) : NULL);
	kb_buf_release(&words);
	if (e->rel)
		kb_json_set_bool(j, o, "in_tree", e->intree);
	else
		kb_json_set_str(j, o, "in_tree", NULL);
	kb_json_set_str(j, o, "license", e->license[0] ? e->license : NULL);
	kb_json_set_str(j, o, "error", e->error[0] ? e->error : NULL);
	origin = kb_json_set_object(j, o, "origin");
	kb_json_set_str(j, origin, "kind", kb_origin_kind_name(e->origin.kind));
	kb_json_set_str(j, origin, "owner", e->origin.owner[0] ? e->origin.owner : NULL);
	kb_json_set_str(j, origin, "how", e->origin.how[0] ? e->origin.how : NULL);
	signature_json(j, o, a, e);
	breaches = kb_json_add_array(j, o, "breaches");
	for (size_t i = 0; i < e->breaches.n; i++)
		kb_json_push_str(j, breaches, e->breaches.v[i]);
}

static int audit_json(const struct kb_audit *a, struct kb_buf *b)
{
	struct kb_json j = KB_JSON_INIT;
	struct json_object *top = kb_json_add_object(&j, NULL), *policy, *list;
	int r;

	machine_json(&j, top, a);
	policy = kb_json_set_object(&j, top, "policy");
	kb_json_set_str(&j, policy, "file", a->policy.present ? "/" KB_POLICY_FILE : NULL);
	kb_json_set_uint(&j, policy, "breaches", a->breaches);
	list = kb_json_add_array(&j, top, "modules");
	for (size_t i = 0; i < a->n; i++)
		entry_json(&j, list, a, &a->v[i]);
	r = kb_json_write_one(&j, b);
	kb_json_release(&j);
	return r;
}

int kb_cli_audit(struct kb_ctx *ctx)
{
	struct kb_buf out = KB_BUF_INIT;
	struct kb_audit a;
	int r = kb_audit_run(ctx, ctx->installed || ctx->kernels.n, &ctx->kernels, &a);

	if (r >= 0)
		r = ctx->json ? audit_json(&a, &out) : (audit_text(&a, &out), kb_buf_error(&out));
	if (r >= 0)
		r = kb_cli_print(&out, "the audit");
	if (r >= 0 && a.breaches)
		r = -KB_E_BUILD;
	kb_audit_release(&a);
	kb_buf_release(&out);
	return r;
}

static void event_time(const struct kb_audit_event *e, char *out, size_t size)
{
	struct tm tm;

	if (!gmtime_r(&e->when, &tm) || !strftime(out, size, "%Y-%m-%dT%H:%M:%S", &tm))
		snprintf(out, size, "?");
	else
		snprintf(out + strlen(out), size - strlen(out), ".%03uZ", e->msec % 1000);
}

static int log_output(const struct kb_audit_log *log, bool json, struct kb_buf *b)
{
	struct kb_json j = KB_JSON_INIT;
	char when[48];
	int r = 0;

	if (!json && log->n)
		kb_buf_addf(b, "%-24s  %-13s  %-20s  %-7s  %-10s  %-12s  %s\n", "TIME", "CALL",
			    "MODULE", "RESULT", "LOGIN", "USER", "EXECUTABLE");
	for (size_t i = 0; i < log->n; i++) {
		const struct kb_audit_event *e = &log->v[i];
		struct json_object *o;

		event_time(e, when, sizeof(when));
		if (!json) {
			kb_buf_addf(b, "%-24s  %-13s  %-20s  %-7s  %-10s  %-12s  %s\n", when,
				    e->syscall, e->module[0] ? e->module : "?",
				    e->success ? "ok" : "failed", e->auid, e->uid,
				    e->exe[0] ? e->exe : "?");
			continue;
		}
		o = kb_json_add_object(&j, NULL);
		kb_json_set_str(&j, o, "time", when);
		kb_json_set_uint(&j, o, "serial", e->serial);
		kb_json_set_str(&j, o, "syscall", e->syscall);
		kb_json_set_str(&j, o, "module", e->module[0] ? e->module : NULL);
		kb_json_set_bool(&j, o, "success", e->success);
		kb_json_set_int(&j, o, "exit", e->exit);
		kb_json_set_str(&j, o, "login_uid", e->auid);
		kb_json_set_str(&j, o, "uid", e->uid);
		kb_json_set_str(&j, o, "exe", e->exe);
		kb_json_set_str(&j, o, "comm", e->comm);
		kb_json_set_str(&j, o, "key", e->key[0] ? e->key : NULL);
	}
	if (json)
		r = kb_json_write(&j, b);
	kb_json_release(&j);
	return r < 0 ? r : kb_buf_error(b);
}

static int audit_trail(struct kb_ctx *ctx)
{
	struct kb_buf out = KB_BUF_INIT;
	struct kb_audit_log log;
	int r = kb_audit_log_read(ctx, &log);

	if (r >= 0 && !log.files)
		r = kb_err(-KB_E_INPUT,
			   "no /var/log/audit/audit.log: install auditd (its rules from kbuildd, "
			   "/etc/audit/rules.d/kbuildd.rules, record every module load)");
	if (r >= 0)
		r = log_output(&log, ctx->json, &out);
	if (r >= 0 && !ctx->json && !log.n)
		kb_buf_adds(&out, "no module was loaded or unloaded in the audit log\n");
	if (r >= 0)
		r = kb_cli_print(&out, "the load trail");
	kb_audit_log_release(&log);
	kb_buf_release(&out);
	return r;
}

static int cmd_audit(struct kb_ctx *ctx, int argc, char **argv)
{
	if (argc)
		return kb_err(-KB_E_INPUT, "'kbuildd audit' takes no arguments (got '%s')",
			      argv[0]);
	if (ctx->audit_log && (ctx->installed || ctx->kernels.n))
		return kb_err(-KB_E_INPUT, "--log lists loads and unloads: it takes no --installed "
					   "or -k");
	return ctx->audit_log ? audit_trail(ctx) : kb_cli_audit(ctx);
}

const struct kb_cmd kb_cmd_audit = {
	.name = "audit",
	.run = cmd_audit,
	.usage = "[--installed] [-k KERNEL]... [--json] | --log [--json]",
	.summary = "every module on the machine: origin, signer, trust, taint, policy",
	.help = "List every loaded module (from /proc/modules and /sys/module) and, with\n"
		"--installed, every module file of the kernels (-k, else each one in\n"
		"/lib/modules): where it came from (the Debian package owning it, a kbuildd\n"
		"recipe and whether it was built here, reused or taken from a cache, a DKMS\n"
		"module, or unowned), its signer, key id and hash, whether the kernel trusts\n"
		"that key (/proc/keys), the expiry of signing certificates kbuildd knows,\n"
		"its taint, whether the loaded module is the installed file, in-tree or not,\n"
		"its licence; and the running kernel's taint, Secure Boot, lockdown and\n"
		"module.sig_enforce. Each module is judged against /etc/kbuildd/policy.conf.\n"
		"--log lists auditd's records of module loads and unloads instead.\n"
		"Exit status 1 when a module breaks the policy.",
	.options = KB_OPT_KERNEL | KB_OPT_JSON | KB_OPT_INSTALLED | KB_OPT_LOG,
	.flags = KB_CMD_SETTINGS,
};
