/*
 * Build ids: what a build is made of, and whether the build kept on disk is
 * the one a task wants (up to date), the same compile signed with a key
 * rotation's other pair (re-signed), or a failure not to repeat.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "base/log.h"
#include "plan.h"
#include "sign-choice.h"

static void hash_field(EVP_MD_CTX *md, const char *tag, const char *value)
{
	EVP_DigestUpdate(md, tag, strlen(tag) + 1);
	EVP_DigestUpdate(md, value ? value : "", strlen(value ? value : "") + 1);
}

/* The id with @signing; with @alt each dependency's alt_build_id stands for its id. */
static void build_id(const struct kb_recipe *r, const struct kb_kernel *k,
		     struct kb_task *const *deps, size_t nr_deps, const char *signing, bool alt,
		     char out[KB_SHA256_HEX])
{
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned len = 0;
	EVP_MD_CTX *md = EVP_MD_CTX_new();

	EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	hash_field(md, "format", "kbuildd-build-1");
	hash_field(md, "recipe", kb_buf_str(&r->text));
	hash_field(md, "source", r->source_hash);
	hash_field(md, "kernel", k->release);
	hash_field(md, "config", k->config_hash);
	hash_field(md, "symvers", k->symvers_hash);
	hash_field(md, "compiler", k->cc_version);
	hash_field(md, "signing", k->module_sig && signing && *signing ? signing : "none");
	for (size_t i = 0; i < nr_deps; i++) {
		hash_field(md, "depends", deps[i]->recipe->name);
		hash_field(md, "depends-version", deps[i]->recipe->version);
		hash_field(md, "depends-id",
			   alt && deps[i]->alt_build_id[0] ? deps[i]->alt_build_id :
							     deps[i]->build_id);
		/* what it linked against: a dependency rebuilt differently changes it too */
		hash_field(md, "depends-outputs", deps[i]->outputs_id);
	}
	EVP_DigestFinal_ex(md, digest, &len);
	EVP_MD_CTX_free(md);
	for (unsigned i = 0; i < len; i++)
		snprintf(out + 2 * i, 3, "%02x", digest[i]);
}

void kb_plan_build_id(const struct kb_recipe *r, const struct kb_kernel *k,
		      struct kb_task *const *deps, size_t nr_deps, const char *signing,
		      char out[KB_SHA256_HEX])
{
	build_id(r, k, deps, nr_deps, signing, false, out);
}

/* The sha256 of @t's kept outputs record into t->outputs_id; false when it has none. */
static bool read_outputs_id(struct kb_ctx *ctx, struct kb_task *t)
{
	char rel[4096];

	t->outputs_id[0] = '\0';
	return kb_task_build_rel(t, "/outputs", rel, sizeof(rel)) == 0 &&
	       kb_root_sha256(&ctx->root, rel, t->outputs_id) == 0;
}

void kb_task_build_ids(struct kb_ctx *ctx, struct kb_task *t)
{
	const char *alt = kb_signing_alt_id(ctx, t->kernel);

	kb_plan_build_id(t->recipe, t->kernel, t->deps, t->nr_deps, kb_signing_id(ctx, t->kernel),
			 t->build_id);
	/* during a key rotation, the id the same build has with the other pair */
	t->alt_build_id[0] = '\0';
	if (alt[0] && t->kernel->module_sig)
		build_id(t->recipe, t->kernel, t->deps, t->nr_deps, alt, true, t->alt_build_id);
}

void kb_plan_final_id(struct kb_ctx *ctx, struct kb_task *t)
{
	for (size_t i = 0; i < t->nr_deps; i++)
		if (!t->deps[i]->outputs_id[0])
			read_outputs_id(ctx, t->deps[i]);
	kb_task_build_ids(ctx, t);
}

void kb_task_check_kept(struct kb_ctx *ctx, struct kb_task *t)
{
	struct kb_buf old_id = KB_BUF_INIT_MAX(128);
	char rel[4096];

	t->action = KB_ACT_BUILD;
	/* without outputs: an unsealed build of an earlier kbuildd */
	t->resign = false;
	if (!ctx->force && kb_task_build_rel(t, "/build-id", rel, sizeof(rel)) == 0 &&
	    kb_root_read(&ctx->root, rel, 128, &old_id) == 0 &&
	    !strncmp(kb_buf_str(&old_id), t->build_id, 64) && read_outputs_id(ctx, t))
		t->action = KB_ACT_UPTODATE;
	/* the same compile with the other key of a rotation: signed anew at install */
	else if (!ctx->force && t->alt_build_id[0] && old_id.len &&
		 !strncmp(kb_buf_str(&old_id), t->alt_build_id, 64) && read_outputs_id(ctx, t)) {
		t->action = KB_ACT_UPTODATE;
		t->resign = true;
	}
	/* a dependency rebuilt in this run changes our id, so this is enough */
	kb_buf_reset(&old_id);
	if (t->action == KB_ACT_BUILD && !ctx->force &&
	    kb_task_build_rel(t, ".failed", rel, sizeof(rel)) == 0 &&
	    kb_root_read(&ctx->root, rel, 128, &old_id) == 0 &&
	    !strncmp(kb_buf_str(&old_id), t->build_id, 64)) {
		/* same inputs fail the same way: do not make every hook pay for it again */
		t->state = KB_TASK_FAILED;
		if (asprintf(&t->reason,
			     "the last build with the same inputs failed (see "
			     "'kbuildd log %s/%s -k %s'; --force retries)",
			     t->recipe->name, t->recipe->version, t->kernel->release) < 0)
			t->reason = NULL;
	}
	kb_buf_release(&old_id);
}
