/* The fleet's build cache: fetch and verify before compiling, push after installing. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>

#include "adopt.h"
#include "base/atomic.h"
#include "base/log.h"
#include "base/util.h"
#include "build.h"
#include "cache/artifact.h"
#include "cache/cache.h"
#include "cache/store.h"
#include "compress.h"
#include "keys.h"
#include "manifest.h"
#include "sign-choice.h"
#include "signing/cms.h"
#include "signing/modsig.h"
#include "signing/sign.h"
#include "state.h"

struct kb_cache {
	struct kb_store store;
	STACK_OF(X509) * trust;
	char *trust_name; /* the file, for messages */
	bool warned;	  /* the store's failure was said */
};

static int load_trust(struct kb_ctx *ctx, struct kb_cache *c)
{
	const char *rel = ctx->settings.store.trust;
	char key[512], cert[512];
	X509 *own = NULL;
	bool dkms;
	int r;

	if (rel) {
		_cleanup_free_ char *host = kb_root_path(&ctx->root, rel);

		c->trust_name = host ? strdup(host) : NULL;
		if (!c->trust_name)
			return -ENOMEM;
		return kb_certs_load(host, &c->trust);
	}
	/* by default a machine takes what it would have signed itself */
	kb_signer_paths(ctx, key, cert, sizeof(key), &dkms);
	if (asprintf(&c->trust_name, "/%s", cert) < 0)
		return -ENOMEM;
	c->trust = sk_X509_new_null();
	if (!c->trust)
		return -ENOMEM;
	if (!kb_root_exists(&ctx->root, cert))
		return 0; /* nothing is trusted: every artifact is refused, said each time */
	r = kb_cert_load_at(&ctx->root, cert, &own);
	if (r >= 0 && !sk_X509_push(c->trust, own)) {
		X509_free(own);
		r = -ENOMEM;
	}
	return r;
}

int kb_cache_open(struct kb_ctx *ctx)
{
	struct kb_cache *c;
	int r;

	ctx->cache = NULL;
	if (!ctx->settings.store.url)
		return 0;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	r = kb_store_open(ctx, &c->store);
	if (r >= 0)
		r = load_trust(ctx, c);
	ctx->cache = c;
	if (r < 0)
		kb_cache_close(ctx);
	return r;
}

void kb_cache_close(struct kb_ctx *ctx)
{
	struct kb_cache *c = ctx->cache;

	if (!c)
		return;
	kb_store_release(&c->store);
	sk_X509_pop_free(c->trust, X509_free);
	free(c->trust_name);
	free(c);
	ctx->cache = NULL;
}

/* Say once that the store failed: the builds compile here. */
static void say_down(struct kb_cache *c)
{
	if (c->store.down && !c->warned) {
		c->warned = true;
		kb_warn("the build cache %s cannot be used in this run: %s; building here",
			c->store.url, c->store.down_why);
	}
}

static bool deps_built(const struct kb_task *t)
{
	for (size_t i = 0; i < t->nr_deps; i++)
		if (t->deps[i]->state != KB_TASK_BUILT)
			return false;
	return true;
}

/* The recipe module @path installs, or NULL. */
static const struct kb_module_spec *module_of(const struct kb_task *t, const char *path)
{
	char name[KB_MAX_NAME + 8];

	if (!kb_manifest_module_name(path, name, sizeof(name)))
		return NULL;
	/* module names as the kernel compares them: ddcci-backlight is ddcci_backlight */
	for (size_t i = 0; i < t->recipe->nr_modules; i++) {
		char want[KB_MAX_NAME + 8];

		snprintf(want, sizeof(want), "%s", t->recipe->modules[i].name);
		kb_module_name_normalize(want);
		if (!strcmp(want, name))
			return &t->recipe->modules[i];
	}
	return NULL;
}

/* Is @a, as the store gave it, the signed manifest of @t's build? */
static bool manifest_holds(struct kb_cache *c, const struct kb_task *t, struct kb_artifact *a,
			   char *why, size_t size)
{
	char who[256], msg[300];
	int r = kb_cms_verify(a->text.buf, a->text.len, a->sig.buf, a->sig.len, c->trust, who,
			      sizeof(who), msg, sizeof(msg));

	/* no signature at all: a store that answers garbage, said once */
	if (r == -EBADMSG)
		kb_store_down(&c->store, "it answers with what is no kbuildd artifact (%s)", msg);
	if (r <= 0)
		return snprintf(why, size, "its manifest is not signed by a certificate in %s: %s",
				c->trust_name, msg),
		       false;
	if (kb_artifact_parse(a, msg, sizeof(msg)) < 0)
		return snprintf(why, size, "its manifest (signed by %s) is damaged: %s", who, msg),
		       false;
	if (strcmp(a->recipe, t->recipe->name) || strcmp(a->version, t->recipe->version) ||
	    strcmp(a->kernel, t->kernel->release) || strcmp(a->build_id, t->build_id))
		return snprintf(why, size,
				"the artifact under tag %.12s is %s/%s for %s, build id %.12s",
				t->build_id, a->recipe, a->version, a->kernel, a->build_id),
		       false;
	if (a->failed)
		return true; /* its one file is the log */
	for (size_t i = 0; i < t->recipe->nr_modules; i++) {
		unsigned found = 0;

		for (size_t f = 0; f < a->n; f++)
			found += a->files[f].kind == KB_ARTIFACT_INSTALLED &&
				 module_of(t, a->files[f].path) == &t->recipe->modules[i];
		if (found != 1)
			return snprintf(why, size, "it holds %s file of module %s",
					found ? "more than one" : "no", t->recipe->modules[i].name),
			       false;
	}
	for (size_t f = 0; f < a->n; f++)
		if (a->files[f].kind == KB_ARTIFACT_INSTALLED && !module_of(t, a->files[f].path))
			return snprintf(why, size, "'%s' is no module of the recipe",
					a->files[f].path),
			       false;
	return true;
}

/* The module as built: compression and signature undone, the signature trusted. */
static int unsigned_module(struct kb_cache *c, const struct kb_task *t,
			   const struct kb_artifact_file *f, struct kb_buf *raw, char *why,
			   size_t size)
{
	struct kb_modsig sig;
	struct kb_sig_report rep = { 0 };
	const char *bad = NULL;
	int quiet = kb_log_get_level(), r;

	r = kb_decompress(&f->data, raw);
	if (r < 0)
		return snprintf(why, size, "'%s' does not decompress", f->path), 0;
	r = kb_modsig_parse(raw->buf, raw->len, &sig, &bad);
	if (r < 0 || !kb_modsig_is_elf(raw->buf, sig.content_len))
		return snprintf(why, size, "'%s' is not a kernel module%s%s", f->path,
				bad ? ": " : "", bad ? bad : ""),
		       0;
	if (t->kernel->module_sig && !sig.signed_)
		return snprintf(why, size, "'%s' is not signed", f->path), 0;
	kb_log_set_level(KB_LOG_QUIET); /* a damaged signature is said below */
	for (int i = 0; sig.signed_ && !rep.valid && i < sk_X509_num(c->trust); i++)
		kb_verify_module(raw->buf, raw->len, sk_X509_value(c->trust, i), &rep, f->path);
	kb_log_set_level(quiet);
	if (sig.signed_ && !rep.valid)
		return snprintf(why, size,
				"the signature of '%s' does not verify with a certificate in %s%s%s",
				f->path, c->trust_name, rep.error[0] ? ": " : "", rep.error),
		       0;
	raw->len = sig.content_len;
	return 1;
}

/* Put @a's modules (as built) and Module.symvers in @t's staging build and keep it. */
static int take(struct kb_ctx *ctx, struct kb_cache *c, struct kb_task *t, struct kb_artifact *a,
		char *why, size_t size)
{
	struct kb_buf raw = KB_BUF_INIT_MAX(KB_MAX_MODULE_SIZE), origin = KB_BUF_INIT;
	char dir[PATH_MAX], src[PATH_MAX];
	bool refused = false;
	int r;

	r = kb_adopt_begin(ctx, t, dir, src, sizeof(dir));
	for (size_t f = 0; r >= 0 && !refused && f < a->n; f++) {
		const struct kb_artifact_file *file = &a->files[f];

		if (file->kind == KB_ARTIFACT_BUILD) {
			r = kb_adopt_put(ctx, src, file->path, &file->data);
			continue;
		}
		kb_buf_reset(&raw);
		r = unsigned_module(c, t, file, &raw, why, size);
		refused = r == 0;
		if (r > 0)
			r = kb_adopt_put(ctx, src, module_of(t, file->path)->path, &raw);
	}
	kb_buf_release(&raw);
	if (r >= 0 && !refused) {
		kb_buf_addf(&origin, "cache %s", c->store.url);
		r = kb_adopt_keep(ctx, t, dir, &origin) < 0 ? 0 : 1;
		if (!r) {
			/* not kept: it compiles, as if the cache had not had it */
			snprintf(why, size, "%s", t->reason ? t->reason : "it cannot be kept");
			free(t->reason);
			t->reason = NULL;
			t->state = KB_TASK_PENDING;
		}
	} else if (r < 0) {
		kb_err_errno(r, "cannot stage the build taken from the cache in '/%s'", dir);
		r = 0; /* it compiles instead */
	} else {
		r = 0;
	}
	if (r <= 0)
		kb_build_abandon(ctx, t);
	kb_buf_release(&origin);
	return r;
}

/*
 * The builder's build with these inputs failed: record it as this
 * machine's own failure (its log, .failed), so it is not compiled again
 * until the inputs change or --force asks. 1.
 */
static int take_failure(struct kb_ctx *ctx, struct kb_cache *c, struct kb_task *t,
			struct kb_artifact *a)
{
	struct kb_buf log = KB_BUF_INIT_MAX(KB_MAX_LOG + 4096);
	char rel[PATH_MAX], id[160], line[80];
	int r;

	kb_buf_addf(&log,
		    "# build id %s\n# kbuildd: nothing compiled: this build failed on the fleet's "
		    "builder (%s); its log, from the cache %s:\n",
		    t->build_id, a->failed, c->store.url);
	kb_buf_add(&log, a->files[0].data.buf, a->files[0].data.len);
	snprintf(line, sizeof(line), "%s\n", t->build_id);
	r = kb_task_build_rel(t, ".log", rel, sizeof(rel));
	if (r >= 0) { /* builds/NAME/VERSION/, which no build made yet here */
		*strrchr(rel, '/') = '\0';
		r = kb_mkdirs(&ctx->root, rel, 0755);
		if (r < 0)
			kb_err_errno(r, "cannot make '/%s'", rel);
		r = r < 0 ? r : kb_task_build_rel(t, ".log", rel, sizeof(rel));
	}
	if (r >= 0 && (r = kb_atomic_write_buf(&ctx->root, rel, &log, 0644)) < 0)
		kb_err_errno(r, "cannot write '/%s'", rel);
	if (r >= 0 && kb_task_build_rel(t, ".failed", rel, sizeof(rel)) == 0 &&
	    (r = kb_atomic_write(&ctx->root, rel, line, strlen(line), 0644)) < 0)
		kb_err_errno(r, "cannot record the failure in '/%s'", rel);
	kb_buf_release(&log);
	t->from_cache = true;
	kb_task_fail(t,
		     "it failed on the fleet's builder: %s (the cache %s says so; see 'kbuildd "
		     "log %s -k %s'; --force builds it here)",
		     a->failed, c->store.url, kb_task_id(t, id, sizeof(id)), t->kernel->release);
	return 1;
}

/* One found artifact: verify it whole, then keep it as @t's build. 1 taken, 0 refused. */
static int take_one(struct kb_ctx *ctx, struct kb_cache *c, struct kb_task *t,
		    struct kb_artifact *a)
{
	char why[768] = "", id[160];
	int r = manifest_holds(c, t, a, why, sizeof(why)) ?
			kb_store_get(&c->store, &a, 1, why, sizeof(why)) :
			0;

	if (r > 0 && a->failed)
		return take_failure(ctx, c, t, a);
	if (r > 0)
		r = take(ctx, c, t, a, why, sizeof(why));
	if (r > 0) {
		t->state = KB_TASK_BUILT;
		t->from_cache = true;
		kb_info("%s for %s: taken from the cache %s, nothing compiled",
			kb_task_id(t, id, sizeof(id)), t->kernel->release, c->store.url);
	} else if (r == 0 && !c->store.down) {
		kb_warn("%s for %s: the cache's build is refused: %s; building it here",
			kb_task_id(t, id, sizeof(id)), t->kernel->release, why);
	}
	return r;
}

/*
 * One round: every build whose dependencies are built, looked up at once.
 * How many were taken (*@asked: how many were looked up), or -errno.
 */
static int fetch_round(struct kb_ctx *ctx, struct kb_cache *c, struct kb_plan *plan, size_t *asked)
{
	struct kb_store_lookup *l = calloc(plan->n + 1, sizeof(*l));
	struct kb_artifact *a = calloc(plan->n + 1, sizeof(*a));
	struct kb_task **tasks = calloc(plan->n + 1, sizeof(*tasks));
	size_t n = 0;
	int r = l && a && tasks ? 0 : -ENOMEM, taken = 0;

	for (size_t i = 0; r >= 0 && i < plan->n; i++) {
		struct kb_task *t = &plan->tasks[i];

		if (t->action != KB_ACT_BUILD || t->state != KB_TASK_PENDING || t->cache_asked ||
		    !t->recipe->nr_modules || !deps_built(t))
			continue;
		t->cache_asked = true;
		kb_plan_final_id(ctx, t);
		kb_artifact_init(&a[n]);
		l[n] = (struct kb_store_lookup){ .build_id = t->build_id, .a = &a[n] };
		tasks[n++] = t;
	}
	if (r >= 0 && n)
		r = kb_store_lookup(&c->store, l, n);
	for (size_t i = 0; r >= 0 && i < n && !c->store.down; i++) {
		char id[160];

		if (!l[i].found)
			continue;
		if (l[i].why[0]) {
			kb_warn("%s for %s: the cache's build is refused: %s; building it here",
				kb_task_id(tasks[i], id, sizeof(id)), tasks[i]->kernel->release,
				l[i].why);
			continue;
		}
		r = take_one(ctx, c, tasks[i], &a[i]);
		taken += r > 0;
	}
	say_down(c);
	for (size_t i = 0; a && i < n; i++)
		kb_artifact_release(&a[i]);
	free(l);
	free(a);
	free(tasks);
	*asked = n;
	return r < 0 ? r : taken;
}

int kb_cache_fetch(struct kb_ctx *ctx, struct kb_plan *plan)
{
	struct kb_cache *c = ctx->cache;
	size_t asked = 1;
	int taken = 0, r = 1;

	/* --force compiles: what the user asked for is a build made here */
	if (!c || ctx->force || ctx->dry_run)
		return 0;
	/* a round that took nothing made no dependent ready for the next */
	while (r > 0 && asked && !c->store.down) {
		r = fetch_round(ctx, c, plan, &asked);
		taken += r > 0 ? r : 0;
	}
	return r < 0 ? r : taken;
}

const char *kb_cache_down(const struct kb_ctx *ctx)
{
	return ctx->cache && ctx->cache->store.down ? ctx->cache->store.down_why : NULL;
}

const char *kb_cache_url(const struct kb_ctx *ctx)
{
	return ctx->cache ? ctx->cache->store.url : "";
}

int kb_cache_store_push(struct kb_ctx *ctx, struct kb_artifact *a, char *why, size_t size)
{
	/* the push's own warning says why; a store that went down is asked no more */
	return kb_store_push(&ctx->cache->store, a, why, size);
}
