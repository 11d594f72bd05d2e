/* kbuildd doctor: why won't it load? */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "base/log.h"
#include "cli/cmd.h"
#include "cli/report.h"
#include "cli/json.h"
#include "doctor/doctor.h"
#include "kernel.h"
#include "manifest.h"

static const char *const level_names[] = { "ok", "info", "WARN", "FAIL" };

static void print_text(const struct kb_diagnosis *d, struct kb_buf *b)
{
	kb_buf_addf(b, "%s for %s (%s)\n", d->module, d->kernel->release, d->path);
	for (size_t i = 0; i < d->n; i++) {
		const struct kb_finding *f = &d->findings[i];

		kb_buf_addf(b, "  %-4s  %-9s  %s\n", level_names[f->level], f->check, f->text);
		if (f->fix && f->level != KB_LEVEL_OK)
			kb_buf_addf(b, "  %-4s  %-9s  fix: %s\n", "", "", f->fix);
	}
}

static void print_json(const struct kb_diagnosis *d, struct kb_json *json)
{
	static const char *const json_levels[] = { "ok", "info", "warning", "failure" };
	struct json_object *o = kb_json_add_object(json, NULL), *findings;

	kb_json_set_str(json, o, "module", d->module);
	kb_json_set_str(json, o, "kernel", d->kernel->release);
	kb_json_set_str(json, o, "path", d->path);
	kb_json_set_bool(json, o, "running", d->running);
	findings = kb_json_add_array(json, o, "findings");
	for (size_t i = 0; i < d->n; i++) {
		const struct kb_finding *f = &d->findings[i];
		struct json_object *finding = kb_json_add_object(json, findings);

		kb_json_set_str(json, finding, "check", f->check);
		kb_json_set_str(json, finding, "level", json_levels[f->level]);
		kb_json_set_str(json, finding, "message", f->text ? f->text : "");
		kb_json_set_str(json, finding, "fix", f->fix);
	}
}

struct doctor_run {
	struct kb_ctx *ctx;
	struct kb_buf out;
	struct kb_json json;
	unsigned checked, failed;
};

static int check_file(struct doctor_run *run, const struct kb_kernel *k, const char *path)
{
	struct kb_diagnosis d;
	int r = kb_doctor_check(run->ctx, k, path, &d);

	if (r < 0)
		return r;
	if (run->ctx->json)
		print_json(&d, &run->json);
	else
		print_text(&d, &run->out);
	run->checked++;
	for (size_t i = 0; i < d.n; i++)
		if (d.findings[i].level == KB_LEVEL_FAIL) {
			run->failed++;
			break;
		}
	kb_diagnosis_release(&d);
	return 0;
}

/* Every installed file of recipe @name (or of every recipe, @name NULL) for @k. */
static int check_installed(struct doctor_run *run, const struct kb_kernel *k, const char *name,
			   bool *found)
{
	struct kb_manifest_set set;
	int r = kb_manifest_read_all(run->ctx, k->release, &set);

	for (size_t i = 0; r >= 0 && i < set.n; i++) {
		if (name && strcmp(set.v[i].name, name))
			continue;
		for (size_t j = 0; r >= 0 && j < set.v[i].n; j++) {
			const char *rel = set.v[i].files[j].path;
			const char *base = strrchr(rel, '/');
			_cleanup_free_ char *host = NULL;

			/* the recipe's modprobe.d and modules-load.d files are no modules */
			if (!strstr(base ? base : rel, ".ko"))
				continue;
			host = kb_root_path(&run->ctx->root, rel);
			*found = true;
			r = host ? check_file(run, k, host) : -ENOMEM;
		}
	}
	kb_manifest_set_release(&set);
	return r;
}

static bool is_module_file(const char *arg)
{
	return strstr(arg, ".ko") && access(arg, R_OK) == 0;
}

static int run_checks(struct doctor_run *run, struct kb_kernel_list *kernels, int argc, char **argv)
{
	int r = 0;

	for (size_t k = 0; r >= 0 && k < kernels->n; k++) {
		const struct kb_kernel *kern = &kernels->v[k];
		bool found = false;

		if (!kern->usable)
			continue;
		if (!argc)
			r = check_installed(run, kern, NULL, &found);
		for (int i = 0; r >= 0 && i < argc; i++) {
			char name[256];

			if (is_module_file(argv[i])) {
				char real[PATH_MAX];

				r = check_file(run, kern, realpath(argv[i], real) ? real : argv[i]);
				continue;
			}
			snprintf(name, sizeof(name), "%.*s", (int)strcspn(argv[i], "/"), argv[i]);
			found = false;
			r = check_installed(run, kern, name, &found);
			if (r >= 0 && !found)
				kb_warn("%s is not installed for %s (see 'kbuildd status')",
					argv[i], kern->release);
		}
	}
	return r;
}

static int cmd_doctor(struct kb_ctx *ctx, int argc, char **argv)
{
	struct doctor_run run = { .ctx = ctx, .out = KB_BUF_INIT, .json = KB_JSON_INIT };
	struct kb_kernel_list kernels = { 0 };
	_cleanup_free_ char *running = kb_doctor_running_release(ctx);
	int r;

	if (!ctx->kernels.n && running)
		kb_strv_push(&ctx->kernels, running);
	r = kb_kernels_discover(ctx, &kernels);
	if (r >= 0 && !ctx->kernels.n && argc && is_module_file(argv[0]))
		r = kb_err(-KB_E_INPUT, "the running kernel is not known here: name one with -k");
	if (r < 0)
		goto out;
	r = run_checks(&run, &kernels, argc, argv);
	if (ctx->json) {
		int w = kb_json_write(&run.json, &run.out);

		if (w < 0) {
			r = w;
			goto out;
		}
	}
	{
		int w = kb_cli_print(&run.out, "the findings");

		r = r >= 0 ? w : r;
	}
	if (r >= 0 && !run.checked)
		r = kb_err(-KB_E_INPUT, "nothing to check: no such installed module or file");
	if (r >= 0 && run.failed)
		r = -KB_E_BUILD;
out:
	kb_json_release(&run.json);
	kb_buf_release(&run.out);
	kb_kernel_list_release(&kernels);
	return r;
}

const struct kb_cmd kb_cmd_doctor = {
	.name = "doctor",
	.run = cmd_doctor,
	.usage = "[NAME | MODULE.ko]... [-k KERNEL]... [--json]",
	.summary = "explain why a module will not load, and how to fix it",
	.help = "Check installed modules of recipe NAME (or every installed module, or the\n"
		"given .ko files) against a kernel — the running one unless -k names others:\n"
		"first, for the running kernel, whether this machine loads modules at all (no\n"
		"module support, kernel.modules_disabled, gVisor, no CAP_SYS_MODULE); then\n"
		"vermagic (\"Invalid module format\"), every imported symbol against the\n"
		"kernel's Module.symvers and the other modules (\"Unknown symbol\", \"disagrees\n"
		"about version of symbol\"), the signature and whether the kernel trusts its key\n"
		"(\"Key was rejected by service\"), blacklisting in modprobe.d, shadowing by a\n"
		"same-named module, missing firmware, and whether the loaded copy is this one.\n"
		"For a kernel that is not running, what needs it live is reported as not\n"
		"checked. Exit status 1 when something would stop the module loading.",
	.options = KB_OPT_KERNEL | KB_OPT_JSON,
	.flags = KB_CMD_SETTINGS,
};
