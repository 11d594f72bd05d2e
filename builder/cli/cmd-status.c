/* kbuildd status: per registered recipe and kernel, what is built and installed. */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>

#include "sign-choice.h"
#include "cli/cmd.h"
#include "cli/report.h"
#include "cli/json.h"
#include "compress.h"
#include "doctor/doctor.h"
#include "engine.h"
#include "signing/sign.h"
#include "kernel.h"
#include "base/log.h"
#include "manifest.h"
#include "recover.h"
#include "plan.h"
#include "reuse.h"
#include "keys.h"
#include "rotation.h"

struct row {
	const char *state;
	char detail[512];
	char origin[PATH_MAX]; /* where an installed build came from: "" for built here */
	bool taken;	       /* origin is a taken build's line (adopt.c) */
	bool reused;	       /* origin says which kernel's build it reuses */
	struct kb_reuse_record reuse;
};

/*
 * Where an installed build came from, into row->origin: another kernel's
 * build it reuses (reuse.c), or the origin line a build taken instead of
 * compiled keeps (adopt.c).
 */
static void read_origin(struct kb_ctx *ctx, const struct kb_task *t, struct row *row)
{
	struct kb_buf text = KB_BUF_INIT_MAX(PATH_MAX);
	char rel[PATH_MAX];
	int r = kb_reuse_record_read(ctx, t, &row->reuse);

	row->origin[0] = '\0';
	row->reused = r == 0;
	row->taken = false;
	if (r == 0)
		snprintf(row->origin, sizeof(row->origin),
			 "built for %s, reused: %lu symbol%s checked", row->reuse.from,
			 row->reuse.symbols, row->reuse.symbols == 1 ? "" : "s");
	else if (r == -KB_E_INPUT)
		snprintf(row->origin, sizeof(row->origin), "reused, its record damaged");
	else if (kb_task_build_rel(t, "/origin", rel, sizeof(rel)) == 0 &&
		 kb_root_read(&ctx->root, rel, PATH_MAX, &text) == 0)
		row->taken = snprintf(row->origin, sizeof(row->origin), "%.*s",
				      (int)strcspn(kb_buf_str(&text), "\n"), kb_buf_str(&text)) > 0;
	kb_buf_release(&text);
}

/* ", signed by CN (key SERIAL)" or ", unsigned" for an installed file. */
static void describe_signature(struct kb_ctx *ctx, const char *rel, char *out, size_t size)
{
	struct kb_buf image = KB_BUF_INIT_MAX(KB_MAX_MODULE_SIZE);
	_cleanup_free_ char *host = kb_root_path(&ctx->root, rel);
	struct kb_sig_report rep;
	int quiet = kb_log_get_level();

	kb_log_set_level(KB_LOG_QUIET); /* a damaged file shows as unsigned here */
	if (host && kb_decompress_file(host, &image) >= 0 &&
	    kb_verify_module(image.buf, image.len, NULL, &rep, host) >= 0)
		snprintf(out, size, rep.signed_ ? " (signed by %s, key %s, %s)" : " (unsigned)",
			 rep.signer, rep.key_id, rep.hash);
	kb_log_set_level((enum kb_log_level)quiet);
	kb_buf_release(&image);
}

/* For the running kernel: ", loaded" / ", loaded: another build, reload or reboot to use V". */
static void describe_loaded(struct kb_ctx *ctx, const struct kb_task *t,
			    const struct kb_manifest *m, char *out, size_t size)
{
	for (size_t i = 0; i < m->n; i++) {
		_cleanup_free_ char *host = kb_root_path(&ctx->root, m->files[i].path);
		const char *base = strrchr(m->files[i].path, '/');
		char name[256], src[128];
		enum kb_loaded state;

		if (!host || !base || !strstr(base, ".ko"))
			continue;
		snprintf(name, sizeof(name), "%.*s", (int)strcspn(base + 1, "."), base + 1);
		kb_module_name_normalize(name);
		state = kb_doctor_loaded(ctx, name, host, src, sizeof(src));
		if (state == KB_LOADED_SAME)
			snprintf(out, size, "; %s loaded", name);
		else if (state == KB_LOADED_OTHER)
			snprintf(out, size,
				 "; %s loaded is another build: reload or reboot to use "
				 "%s",
				 name, t->recipe->version);
		else
			snprintf(out, size, "; %s not loaded", name);
		size -= strlen(out);
		out += strlen(out);
	}
}

static void describe(struct kb_ctx *ctx, const struct kb_task *t, const char *running_rel,
		     struct row *row)
{
	bool running = running_rel && !strcmp(running_rel, t->kernel->release);
	struct kb_buf id = KB_BUF_INIT_MAX(128);
	struct kb_manifest m;
	char rel[PATH_MAX];
	bool built, installed = false, current = false, damaged, resign = false;

	row->detail[0] = '\0';
	row->origin[0] = '\0';
	row->taken = row->reused = false;
	if (t->action == KB_ACT_EXCLUDED || t->action == KB_ACT_NO_HEADERS ||
	    t->action == KB_ACT_ERROR) {
		row->state = t->action == KB_ACT_EXCLUDED   ? "excluded" :
			     t->action == KB_ACT_NO_HEADERS ? "no headers" :
							      "error";
		snprintf(row->detail, sizeof(row->detail), "%s", t->reason ? t->reason : "");
		return;
	}
	kb_task_build_rel(t, "/build-id", rel, sizeof(rel));
	built = kb_root_read(&ctx->root, rel, 128, &id) == 0;
	damaged = kb_manifest_read(ctx, t->kernel->release, t->recipe->name, &m) == -KB_E_INPUT;
	if (!damaged && m.name) {
		installed = !strcmp(m.version, t->recipe->version);
		current = installed && !strcmp(m.build_id, t->build_id);
		/* the same build, signed with the other key of a rotation */
		resign = installed && !current && t->alt_build_id[0] &&
			 !strcmp(m.build_id, t->alt_build_id);
		if (installed) {
			size_t used = 0;

			for (size_t i = 0; i < m.n && used < sizeof(row->detail); i++)
				used += (size_t)snprintf(row->detail + used,
							 sizeof(row->detail) - used, "%s/%s",
							 i ? " " : "", m.files[i].path);
			if (m.n && used < sizeof(row->detail))
				describe_signature(ctx, m.files[0].path, row->detail + used,
						   sizeof(row->detail) - used);
			used = strlen(row->detail);
			if (running && used < sizeof(row->detail))
				describe_loaded(ctx, t, &m, row->detail + used,
						sizeof(row->detail) - used);
		}
	}
	kb_manifest_release(&m);
	if (t->recipe->insecure) {
		size_t used = strlen(row->detail);

		snprintf(row->detail + used, sizeof(row->detail) - used,
			 "%s[source not pinned: "
			 "insecure]",
			 used ? " " : "");
	}
	if (damaged)
		row->state = "damaged manifest (see status --check)";
	else if (current)
		row->state = "installed";
	else if (resign)
		row->state = "installed (signed with the other key: the next rebuild re-signs it)";
	else if (installed)
		row->state = "installed (outdated: rebuild pending)";
	else if (built && !strncmp(kb_buf_str(&id), t->build_id, 64))
		row->state = "built";
	else if (kb_task_build_rel(t, ".log", rel, sizeof(rel)) == 0 &&
		 kb_root_exists(&ctx->root, rel))
		row->state = built ? "outdated (last build failed)" : "failed";
	else
		row->state = built ? "outdated" : "not built";
	if (current && !damaged)
		read_origin(ctx, t, row);
	if (!strcmp(row->state, "failed") || kb_str_startswith(row->state, "outdated ("))
		snprintf(row->detail, sizeof(row->detail), "see 'kbuildd log %s/%s -k %s'",
			 t->recipe->name, t->recipe->version, t->kernel->release);
	kb_buf_release(&id);
}

/* During a key rotation, which key signs and what the admin does next (stderr). */
static void warn_rotation(struct kb_ctx *ctx)
{
	struct kb_rotation rot;
	char steps[2048], *line, *save = NULL;

	if (kb_rotation_read(ctx, &rot) < 0)
		return;
	kb_rotation_describe(ctx, &rot, steps, sizeof(steps));
	for (line = strtok_r(steps, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		kb_info("%s", line);
}

/* A finding of --check, on its own line. */
static void check_line(void *data, const char *msg)
{
	(void)data;
	printf("check: %s\n", msg);
}

static int cmd_status(struct kb_ctx *ctx, int argc, char **argv)
{
	struct kb_recipe_set set = { 0 };
	struct kb_kernel_list kernels = { 0 };
	struct kb_plan plan = { 0 };
	struct kb_strv ids = KB_STRV_INIT;
	struct kb_buf b = KB_BUF_INIT;
	struct kb_json json = KB_JSON_INIT;
	struct kb_signing signing = { 0 };
	struct kb_plan_columns w;
	_cleanup_free_ char *running = kb_doctor_running_release(ctx);
	int r;

	if (ctx->check) {
		unsigned problems = kb_state_check(ctx, check_line, NULL);

		problems += kb_keys_check(ctx, check_line, NULL);
		if (problems)
			printf("%u problem%s found\n", problems, problems == 1 ? "" : "s");
		else if (kb_log_get_level() >= KB_LOG_NORMAL)
			printf("state is consistent: every installed file is owned and intact\n");
		return problems ? -KB_E_BUILD : 0;
	}
	for (int i = 0; i < argc; i++)
		kb_strv_push(&ids, argv[i]);
	r = kb_state_load(ctx, &set);
	if (r >= 0)
		r = kb_kernels_discover(ctx, &kernels);
	/* a missing or broken key is reported, but status still shows the rest */
	if (r >= 0 && kb_signing_setup(ctx, &kernels, &signing, false) < 0)
		kb_warn("build ids are shown without the signing key; see 'kbuildd keys show'");
	else if (r >= 0)
		kb_signing_warn_expiry(ctx, &signing);
	if (r >= 0)
		warn_rotation(ctx);
	if (r < 0)
		goto out;
	if (!argc) /* every registered version, not just the newest */
		for (size_t i = 0; i < set.n; i++)
			kb_strv_pushf(&ids, "%s/%s", set.v[i]->name, set.v[i]->version);
	r = kb_plan_make(ctx, &set, &kernels, &ids, KB_PLAN_BUILD, &plan);
	if (r < 0)
		goto out;
	w = kb_plan_columns(&plan, true);
	if (!ctx->json && plan.n)
		kb_buf_addf(&b, "%-*s %-*s %s\n", w.id, "RECIPE", w.kernel, "KERNEL", "STATE");
	for (size_t i = 0; i < plan.n; i++) {
		const struct kb_task *t = &plan.tasks[i];
		char id[160];
		struct row row;
		struct json_object *o;

		if (!t->selected)
			continue;
		describe(ctx, t, running, &row);
		kb_task_id(t, id, sizeof(id));
		if (!ctx->json) {
			kb_buf_addf(&b, "%-*s %-*s %s%s%s%s%s", w.id, id, w.kernel,
				    t->kernel->release, row.state,
				    row.taken	  ? " (taken from " :
				    row.origin[0] ? " (" :
						    "",
				    row.origin, row.origin[0] ? ")" : "",
				    row.detail[0] ? ": " : "");
			kb_buf_adds(&b, row.detail);
			kb_buf_adds(&b, "\n");
			continue;
		}
		o = kb_json_add_object(&json, NULL);
		kb_json_set_str(&json, o, "name", t->recipe->name);
		kb_json_set_str(&json, o, "version", t->recipe->version);
		kb_json_set_str(&json, o, "kernel", t->kernel->release);
		kb_json_set_str(&json, o, "state", row.state);
		kb_json_set_str(&json, o, "detail", row.detail);
		if (!strcmp(row.state, "installed"))
			kb_json_set_str(&json, o, "origin",
					row.origin[0] ? row.origin : "built here");
		if (!strcmp(row.state, "installed") && row.reused) {
			kb_json_set_str(&json, o, "reused_from", row.reuse.from);
			kb_json_set_str(&json, o, "reuse_rule", kb_reuse_rule_name(row.reuse.rule));
			kb_json_set_uint(&json, o, "reused_symbols", row.reuse.symbols);
		}
	}
	if (ctx->json)
		r = kb_json_write(&json, &b);
	else if (!plan.n)
		kb_buf_adds(&b,
			    set.n ? "no kernels with headers to show (see 'kbuildd kernels')\n" :
				    "no recipes registered\n");
	if (r < 0)
		goto out;
	r = kb_cli_print(&b, "the status");
out:
	kb_json_release(&json);
	kb_buf_release(&b);
	kb_strv_clear(&ids);
	kb_plan_release(&plan);
	kb_kernel_list_release(&kernels);
	kb_recipe_set_release(&set);
	kb_signing_release(ctx, &signing);
	return r;
}

const struct kb_cmd kb_cmd_status = {
	.name = "status",
	.run = cmd_status,
	.usage = "[NAME[/VERSION]]... [-k KERNEL]... [--json] | --check [--wait SECONDS]",
	.summary = "show what is registered, built and installed, per kernel",
	.help = "For each registered recipe (every version) and kernel: installed (with the\n"
		"files), installed but outdated, built, failed, excluded (with the reason), or\n"
		"not built. For the running kernel, whether each module is loaded and is this\n"
		"build. --check verifies instead that every installed file is listed by a\n"
		"manifest with the right sha256, that every listed file exists, that the\n"
		"signing key matches its certificate, and that no interrupted run left\n"
		"anything behind (exit 1 when not); it waits for the state lock (--wait),\n"
		"so a run under way is not taken for one interrupted.",
	.options = KB_OPT_KERNEL | KB_OPT_JSON | KB_OPT_CHECK | KB_OPT_WAIT,
	.flags = KB_CMD_SETTINGS | KB_CMD_LOCK_TO_CHECK,
};
