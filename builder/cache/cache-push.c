/* Pushing to the fleet's build cache what this machine installed, as its manifest lists it. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/limits.h"
#include "base/util.h"
#include "cache/artifact.h"
#include "cache/cache.h"
#include "cache/store.h"
#include "manifest.h"
#include "sign-choice.h"
#include "signing/cms.h"

/* The files of @m, each still what the install wrote, and the build's Module.symvers. */
static int collect(struct kb_ctx *ctx, const struct kb_task *t, const struct kb_manifest *m,
		   struct kb_artifact *a, char *why, size_t size)
{
	struct kb_buf data = KB_BUF_INIT_MAX(KB_MAX_MODULE_SIZE);
	char hex[KB_SHA256_HEX], rel[PATH_MAX];
	int r = 0;

	for (size_t i = 0; r >= 0 && i < m->n; i++) {
		char name[NAME_MAX + 1], prefix[KB_MAX_RELEASE + 16];

		/* the modules: the configuration files install writes from the recipe anywhere */
		snprintf(prefix, sizeof(prefix), "lib/modules/%s/", t->kernel->release);
		if (!kb_str_startswith(m->files[i].path, prefix) ||
		    !kb_manifest_module_name(m->files[i].path, name, sizeof(name)))
			continue;
		kb_buf_reset(&data);
		r = kb_root_read(&ctx->root, m->files[i].path, KB_MAX_MODULE_SIZE, &data);
		if (r < 0) {
			snprintf(why, size, "'/%s' cannot be read: %s", m->files[i].path,
				 kb_strerror(r));
			break;
		}
		kb_sha256_hex(data.buf ? data.buf : "", data.len, hex);
		if (strcmp(hex, m->files[i].sha256)) {
			snprintf(why, size, "'/%s' changed since it was installed",
				 m->files[i].path);
			r = -KB_E_BUILD;
			break;
		}
		r = kb_artifact_add(a, m->files[i].path, KB_ARTIFACT_INSTALLED, &data);
	}
	if (r >= 0 && kb_task_build_rel(t, "/src/Module.symvers", rel, sizeof(rel)) == 0) {
		kb_buf_reset(&data);
		data.max = KB_MAX_SYMVERS_SIZE;
		if (kb_root_read(&ctx->root, rel, KB_MAX_SYMVERS_SIZE, &data) == 0)
			r = kb_artifact_add(a, "Module.symvers", KB_ARTIFACT_BUILD, &data);
	}
	kb_buf_release(&data);
	return r;
}

/* The key that signs @t's modules signs the artifact: what a fleet trusts for both. */
static const struct kb_signer *artifact_signer(const struct kb_ctx *ctx, const struct kb_task *t)
{
	const struct kb_kernel_signing *ks = kb_signing_for(ctx, t->kernel);

	if (ks && ks->signer)
		return ks->signer;
	/* a kernel that does not sign modules: any key this run set up */
	for (size_t i = 0; ctx->signing && i < ctx->signing->n; i++)
		if (ctx->signing->v[i].signer)
			return ctx->signing->v[i].signer;
	return NULL;
}

/* Fill @a's fields for @t's build with @build_id; -ENOMEM. */
static int artifact_for(struct kb_artifact *a, const struct kb_task *t, const char *build_id)
{
	a->recipe = strdup(t->recipe->name);
	a->version = strdup(t->recipe->version);
	a->kernel = strdup(t->kernel->release);
	snprintf(a->build_id, sizeof(a->build_id), "%s", build_id);
	return a->recipe && a->version && a->kernel ? 0 : -ENOMEM;
}

/*
 * Sign @a's manifest with the key of @t's modules and push it; @what says
 * what it is ("" for a build, "its failure " for one), @why already says
 * why @r failed. A failure is said here; -KB_E_BUILD.
 */
static int sign_and_push(struct kb_ctx *ctx, const struct kb_task *t, struct kb_artifact *a,
			 const char *what, int r, char *why, size_t size)
{
	const struct kb_signer *s = artifact_signer(ctx, t);
	char id[160];

	if (r >= 0 && !s) {
		snprintf(why, size, "no signing key signs its manifest");
		r = -KB_E_BUILD;
	}
	if (r >= 0)
		r = kb_artifact_format(a);
	if (r >= 0)
		r = kb_cms_sign(s, a->text.buf, a->text.len, &a->sig);
	if (r >= 0)
		r = kb_cache_store_push(ctx, a, why, size);
	if (r >= 0) {
		kb_info("%s for %s: %spushed to the cache %s (build id %.12s)",
			kb_task_id(t, id, sizeof(id)), t->kernel->release, what, kb_cache_url(ctx),
			a->build_id);
		return 0;
	}
	kb_warn("%s for %s: %snot pushed to the cache %s: %s", kb_task_id(t, id, sizeof(id)),
		t->kernel->release, what, kb_cache_url(ctx), why[0] ? why : kb_strerror(r));
	return -KB_E_BUILD;
}

int kb_cache_push(struct kb_ctx *ctx, const struct kb_task *t)
{
	struct kb_manifest m = { 0 };
	struct kb_artifact a;
	char why[768] = "";
	int r;

	kb_artifact_init(&a);
	r = kb_manifest_read(ctx, t->kernel->release, t->recipe->name, &m);
	if (r == -ENOENT || (r >= 0 && strcmp(m.version, t->recipe->version))) {
		r = -ENOENT;
		goto out;
	}
	if (r < 0)
		snprintf(why, sizeof(why), "its manifest is damaged: %s",
			 m.damage ? m.damage : "unreadable");
	if (r >= 0)
		r = artifact_for(&a, t, m.build_id);
	if (r >= 0)
		r = collect(ctx, t, &m, &a, why, sizeof(why));
	r = sign_and_push(ctx, t, &a, "", r, why, sizeof(why));
out:
	kb_manifest_release(&m);
	kb_artifact_release(&a);
	return r;
}

/* A build that failed here with these inputs: its reason and log, so the fleet does not retry it. */
static int push_failure(struct kb_ctx *ctx, const struct kb_task *t)
{
	struct kb_buf log = KB_BUF_INIT_MAX(KB_MAX_LOG + 4096);
	struct kb_artifact a;
	char rel[PATH_MAX], why[768] = "";
	int r;

	kb_artifact_init(&a);
	r = artifact_for(&a, t, t->build_id);
	a.failed = strndup(t->reason ? t->reason : "the build failed", 1024);
	if (r >= 0 && !a.failed)
		r = -ENOMEM;
	if (r >= 0 && kb_task_build_rel(t, ".log", rel, sizeof(rel)) == 0 &&
	    (r = kb_root_read(&ctx->root, rel, KB_MAX_LOG + 4096, &log)) < 0)
		snprintf(why, sizeof(why), "its log cannot be read: %s", kb_strerror(r));
	if (r >= 0)
		r = kb_artifact_add(&a, "build.log", KB_ARTIFACT_LOG, &log);
	r = sign_and_push(ctx, t, &a, "its failure ", r, why, sizeof(why));
	kb_buf_release(&log);
	kb_artifact_release(&a);
	return r;
}

void kb_cache_push_run(struct kb_ctx *ctx, struct kb_plan *plan)
{
	unsigned skipped = 0;

	if (!ctx->cache || !ctx->settings.store.push || ctx->dry_run)
		return;
	for (size_t i = 0; i < plan->n; i++) {
		const struct kb_task *t = &plan->tasks[i];
		bool installed = t->state == KB_TASK_INSTALLED && t->recipe->nr_modules;
		bool failed = t->state == KB_TASK_FAILED && t->failure_recorded;

		if (t->from_cache || (!installed && !failed))
			continue;
		/* a store that failed in this run is not asked again: one warning for all */
		if (kb_cache_down(ctx))
			skipped++;
		else if (installed)
			kb_cache_push(ctx, t); /* a failed push warns: what was installed stays */
		else
			push_failure(ctx, t);
	}
	if (skipped)
		kb_warn("%u build%s not pushed to the cache %s: %s", skipped,
			skipped == 1 ? "" : "s", kb_cache_url(ctx), kb_cache_down(ctx));
}
