/* Rendering the engine's result table: lines and a summary, JSON, DKMS's words and status. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "base/strbuf.h"
#include "cli/json.h"
#include "cli/report.h"

static int render_json(const struct kb_results *res)
{
	struct kb_json json = KB_JSON_INIT;
	struct kb_buf b = KB_BUF_INIT;
	int r;

	for (size_t i = 0; i < res->n; i++) {
		const struct kb_result *row = &res->v[i];
		struct json_object *o = kb_json_add_object(&json, NULL);

		kb_json_set_str(&json, o, "name", row->name);
		kb_json_set_str(&json, o, "version", row->version);
		kb_json_set_str(&json, o, "kernel", row->kernel);
		kb_json_set_str(&json, o, "result", kb_outcome_name(row->outcome));
		kb_json_set_str(&json, o, "reason", row->reason);
		kb_json_set_str(&json, o, "build_id", row->build_id);
		kb_json_set_str(&json, o, "log", row->log);
	}
	r = kb_json_write(&json, &b);
	if (r >= 0)
		r = kb_cli_print(&b, "the results");
	kb_json_release(&json);
	kb_buf_release(&b);
	return r;
}

/* Sized to the widest entry, as ps does, so a long version does not shift its row. */
static void render_lines(const struct kb_results *res)
{
	unsigned counts[KB_OUT_COUNT] = { 0 };
	struct kb_buf summary = KB_BUF_INIT;
	int wid = 24, wkernel = 28;

	for (size_t i = 0; i < res->n; i++) {
		int len = (int)(strlen(res->v[i].name) + 1 + strlen(res->v[i].version));

		wid = len > wid ? len : wid;
		len = (int)strlen(res->v[i].kernel);
		wkernel = len > wkernel ? len : wkernel;
	}
	for (size_t i = 0; i < res->n; i++) {
		const struct kb_result *r = &res->v[i];
		struct kb_buf id = KB_BUF_INIT;

		counts[r->outcome]++;
		if (kb_log_get_level() < KB_LOG_NORMAL && !kb_result_failed(r))
			continue;
		kb_buf_addf(&id, "%s/%s", r->name, r->version);
		printf("%-*s %-*s %s%s%s\n", wid, kb_buf_str(&id), wkernel, r->kernel,
		       kb_outcome_name(r->outcome), r->reason ? ": " : "",
		       r->reason ? r->reason : "");
		kb_buf_release(&id);
	}
	for (int o = 0; o < KB_OUT_NOT_BUILT; o++)
		if (counts[o])
			kb_buf_addf(&summary, "%s%u %s", summary.len ? ", " : "", counts[o],
				    kb_outcome_name(o));
	if (kb_log_get_level() >= KB_LOG_NORMAL)
		printf("%s\n", summary.len ? kb_buf_str(&summary) : "nothing to do");
	kb_buf_release(&summary);
}

/* Dependencies not registered: the build stopped there, or went on without them (--force). */
static void tell_missing(const struct kb_ctx *ctx, const struct kb_results *res)
{
	for (size_t i = 0; i < res->n; i++) {
		const struct kb_result *r = &res->v[i];
		bool stop = r->outcome == KB_OUT_ERROR;

		if (!r->missing || (!stop && !ctx->force))
			continue;
		/* the front end's callers know DKMS's words */
		if (ctx->dkms_codes && stop)
			kb_err(-KB_E_BUILD,
			       "Aborting build of module %s/%s for kernel %s (%s) due to "
			       "missing BUILD_DEPENDS: %s.\nYou may override by specifying --force.",
			       r->name, r->version, r->kernel, r->arch ? r->arch : "", r->missing);
		else if (ctx->dkms_codes)
			kb_warn("Trying to build module %s/%s for kernel %s (%s) despite of missing "
				"BUILD_DEPENDS: %s.",
				r->name, r->version, r->kernel, r->arch ? r->arch : "", r->missing);
		else if (stop)
			kb_err(-KB_E_BUILD, "%s/%s for %s: %s", r->name, r->version, r->kernel,
			       r->reason);
		else
			kb_warn("building %s/%s for %s without '%s', which is not registered "
				"(--force)",
				r->name, r->version, r->kernel, r->missing);
	}
}

/* DKMS's exit status for a failure of this kind. */
static int dkms_code(enum kb_failure kind)
{
	switch (kind) {
	case KB_FAIL_RECIPE:
		return 8; /* "Bad conf file" */
	case KB_FAIL_PATCH:
		return 5;
	case KB_FAIL_MISSING_DEP:
		return 13;
	case KB_FAIL_NOT_NEWER:
		return 6;
	case KB_FAIL_BUILD:
		break;
	}
	return 10;
}

int kb_cli_print(const struct kb_buf *b, const char *what)
{
	int r = kb_buf_error(b);

	if (r < 0)
		return kb_err_errno(r, "cannot show %s", what);
	if (b->len && fwrite(b->buf, 1, b->len, stdout) != b->len)
		return kb_err_errno(-EIO, "cannot write %s", what);
	return 0;
}

int kb_cli_dkms_status(const struct kb_results *res)
{
	bool attempted = false, excluded = false, no_headers = false;
	int failed = 0;

	for (size_t i = 0; i < res->n; i++) {
		const struct kb_result *r = &res->v[i];

		if (!r->selected)
			continue;
		if (kb_result_failed(r) && !failed)
			failed = dkms_code(r->failure);
		else if (r->outcome == KB_OUT_EXCLUDED)
			excluded = true;
		else if (r->outcome == KB_OUT_NO_HEADERS)
			no_headers = true;
		else
			attempted = true;
	}
	if (failed)
		return res->autoinstall ? 11 : failed;
	if (!attempted && no_headers)
		return 21;
	if (!attempted && excluded && !res->autoinstall)
		return 77;
	return 0;
}

int kb_cli_run(struct kb_ctx *ctx, const struct kb_strv *ids, enum kb_plan_mode mode)
{
	struct kb_results res = { 0 };
	int r = kb_engine_run(ctx, ids, mode, &res);

	kb_cli_events_done();

	if (res.no_kernel)
		kb_dkms_exit(ctx, 21); /* a -k kernel is not there at all: no headers either */
	if (res.v) {		       /* the run got as far as its outcome */
		tell_missing(ctx, &res);
		if (ctx->json) {
			int e = render_json(&res);

			r = e < 0 && r >= 0 ? e : r;
		} else
			render_lines(&res);
		ctx->dkms_status = kb_cli_dkms_status(&res);
	}
	kb_results_release(&res);
	return r;
}

int kb_cli_install(struct kb_ctx *ctx, const struct kb_strv *ids)
{
	return kb_cli_run(ctx, ids, KB_PLAN_INSTALL);
}
