/* Reuse: another kernel's build installed instead of compiling (reuse.h, doc/design.md). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adopt.h"
#include "build.h"
#include "base/atomic.h"
#include "base/log.h"
#include "module-elf.h"
#include "outputs.h"
#include "reuse-rule.h"
#include "symvers.h"
#include "reuse.h"
#include "state.h"

#define MAX_SYMVERS_SIZE (64 << 20)
#define MAX_RECORD_SIZE 1024

/* What checks of one run remember: kernels read as sources, symbol tables, pairs checked. */
struct kb_reuse_cache {
	struct kb_kernel_list *others; /* one list per kernel, so that none moves */
	size_t n_others;
	struct symvers_slot {
		char *release;
		struct kb_symvers table;
		int r;
	} * symvers;
	size_t n_symvers;
	struct pair_slot {
		char *a, *b;
		int env; /* 1 unchecked, 0 alike, -KB_E_BUILD not */
		char why[512];
		struct kb_pathset seen;
	} * pairs;
	size_t n_pairs;
};

const char *kb_reuse_rule_name(enum kb_reuse_rule rule)
{
	return rule == KB_REUSE_EXACT ? "exact" : rule == KB_REUSE_KABI ? "kabi" : "no";
}

static bool reuse_on(const struct kb_ctx *ctx)
{
	return !ctx->no_reuse && ctx->settings.reuse != KB_REUSE_NO;
}

void kb_reuse_recipe_id(const struct kb_recipe *r, const char *release, char out[KB_SHA256_HEX])
{
	const char *text = kb_buf_str(&r->text), *end = text + r->text.len;
	size_t rel = strlen(release);
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned len = 0;
	EVP_MD_CTX *md = EVP_MD_CTX_new();

	EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	EVP_DigestUpdate(md, "kbuildd-recipe-1", 17);
	while (text < end) {
		const char *at = rel ? memmem(text, (size_t)(end - text), release, rel) : NULL;
		size_t n = at ? (size_t)(at - text) : (size_t)(end - text);

		EVP_DigestUpdate(md, text, n);
		if (at)
			EVP_DigestUpdate(md, "\001KERNEL\001", 8);
		text += n + (at ? rel : 0);
	}
	EVP_DigestUpdate(md, "\0source\0", 8);
	EVP_DigestUpdate(md, r->source_hash ? r->source_hash : "",
			 r->source_hash ? strlen(r->source_hash) : 0);
	EVP_DigestFinal_ex(md, digest, &len);
	EVP_MD_CTX_free(md);
	for (unsigned i = 0; i < len; i++)
		snprintf(out + 2 * i, 3, "%02x", digest[i]);
}

/* Same recipe, two kernels of one upstream release and compiler: likely to reuse. */
static bool likely_alike(const struct kb_ctx *ctx, const struct kb_kernel *a,
			 const struct kb_kernel *b)
{
	if (!a->usable || !b->usable || !a->has_ver || !b->has_ver ||
	    a->ver.major != b->ver.major || a->ver.minor != b->ver.minor ||
	    a->ver.patch != b->ver.patch || strcmp(a->arch, b->arch) ||
	    strcmp(a->cc_version ? a->cc_version : "", b->cc_version ? b->cc_version : ""))
		return false;
	return ctx->settings.reuse == KB_REUSE_KABI ||
	       !kb_reuse_masked_diff(a, &a->config, b, &b->config);
}

/* Is @a newer than @b: upstream version, then Debian's ABI number and the rest of the release? */
static bool newer(const struct kb_kernel *a, const struct kb_kernel *b)
{
	int c = a->has_ver && b->has_ver ? kb_kver_cmp(&a->ver, &b->ver) : 0;

	return c > 0 || (c == 0 && strverscmp(a->release, b->release) > 0);
}

void kb_reuse_pair(struct kb_ctx *ctx, struct kb_plan *plan)
{
	if (!reuse_on(ctx))
		return;
	for (size_t i = 0; i < plan->n; i++) {
		struct kb_task *t = &plan->tasks[i], *best = NULL;

		if (t->action != KB_ACT_BUILD || t->state != KB_TASK_PENDING)
			continue;
		for (size_t j = 0; j < plan->n; j++) {
			struct kb_task *o = &plan->tasks[j];

			/* the newest kernel compiles; a leader never waits for another */
			if (o == t || o->action != KB_ACT_BUILD || o->state != KB_TASK_PENDING ||
			    strcmp(o->recipe->name, t->recipe->name) ||
			    strcmp(o->recipe->version, t->recipe->version) ||
			    !newer(o->kernel, t->kernel) ||
			    !likely_alike(ctx, o->kernel, t->kernel))
				continue;
			if (!best || newer(o->kernel, best->kernel))
				best = o;
		}
		t->leader = best;
	}
	/* a leader is the newest of its group: it has none of its own */
	for (size_t i = 0; i < plan->n; i++)
		if (plan->tasks[i].leader && plan->tasks[i].leader->leader)
			plan->tasks[i].leader = plan->tasks[i].leader->leader;
}

int kb_reuse_record_read(struct kb_ctx *ctx, const struct kb_task *t, struct kb_reuse_record *rec)
{
	struct kb_buf b = KB_BUF_INIT_MAX(MAX_RECORD_SIZE);
	char rel[PATH_MAX], rule[16] = "", from[KB_MAX_RELEASE + 1] = "", source[80] = "";
	int r, n = 0;

	memset(rec, 0, sizeof(*rec));
	if (kb_task_build_rel(t, "/reused", rel, sizeof(rel)) < 0)
		return -ENAMETOOLONG;
	r = kb_root_read(&ctx->root, rel, MAX_RECORD_SIZE, &b);
	if (r < 0) {
		kb_buf_release(&b);
		return r == -ENOENT ? r : -KB_E_INPUT;
	}
	n = sscanf(kb_buf_str(&b), "kernel %128s\nrule %15s\nsymbols %lu\nsource %79s\n", from,
		   rule, &rec->symbols, source);
	kb_buf_release(&b);
	if (n != 4 || !kb_kernel_release_valid(from) || strlen(source) != 64 ||
	    (strcmp(rule, "exact") && strcmp(rule, "kabi")))
		return -KB_E_INPUT;
	snprintf(rec->from, sizeof(rec->from), "%s", from);
	memcpy(rec->source, source, KB_SHA256_HEX);
	rec->rule = strcmp(rule, "exact") ? KB_REUSE_KABI : KB_REUSE_EXACT;
	return 0;
}

static struct kb_reuse_cache *cache_of(struct kb_plan *plan)
{
	if (!plan->reuse)
		plan->reuse = calloc(1, sizeof(*plan->reuse));
	return plan->reuse;
}

void kb_reuse_cache_free(struct kb_reuse_cache *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n_others; i++)
		kb_kernel_list_release(&c->others[i]);
	for (size_t i = 0; i < c->n_symvers; i++) {
		free(c->symvers[i].release);
		kb_symvers_release(&c->symvers[i].table);
	}
	for (size_t i = 0; i < c->n_pairs; i++) {
		free(c->pairs[i].a);
		free(c->pairs[i].b);
		kb_pathset_release(&c->pairs[i].seen);
	}
	free(c->others);
	free(c->symvers);
	free(c->pairs);
	free(c);
}

/* Kernel @release as this run knows it (a task's), else read once into the cache; NULL if gone. */
static const struct kb_kernel *kernel_named(struct kb_ctx *ctx, struct kb_plan *plan,
					    struct kb_reuse_cache *c, const char *release)
{
	struct kb_kernel_list *v;

	for (size_t i = 0; plan && i < plan->n; i++)
		if (!strcmp(plan->tasks[i].kernel->release, release))
			return plan->tasks[i].kernel->usable ? plan->tasks[i].kernel : NULL;
	for (size_t i = 0; i < c->n_others; i++)
		if (c->others[i].n && !strcmp(c->others[i].v[0].release, release))
			return c->others[i].v[0].usable ? &c->others[i].v[0] : NULL;
	v = realloc(c->others, (c->n_others + 1) * sizeof(*v));
	if (!v)
		return NULL;
	c->others = v;
	v = &c->others[c->n_others++];
	*v = (struct kb_kernel_list){ 0 };
	if (kb_kernel_load(ctx, release, v) < 0 || !v->n || !v->v[0].usable)
		return NULL;
	return &v->v[0];
}

/* Kernel @k's Module.symvers, read once a run. */
static const struct kb_symvers *kernel_symvers(struct kb_reuse_cache *c, const struct kb_kernel *k,
					       char *why, size_t size)
{
	struct symvers_slot *slot = NULL;

	for (size_t i = 0; i < c->n_symvers && !slot; i++)
		if (!strcmp(c->symvers[i].release, k->release))
			slot = &c->symvers[i];
	if (!slot) {
		char path[PATH_MAX];
		struct symvers_slot *v = realloc(c->symvers, (c->n_symvers + 1) * sizeof(*v));

		if (!v)
			return NULL;
		c->symvers = v;
		slot = &v[c->n_symvers++];
		*slot = (struct symvers_slot){ .release = strdup(k->release) };
		slot->r = kb_pathf(path, sizeof(path), "%s/Module.symvers", k->build_dir);
		if (slot->r >= 0)
			slot->r = kb_symvers_load(&slot->table, path);
	}
	if (slot->r < 0) {
		snprintf(why, size, "cannot read kernel %s's Module.symvers: %s", k->release,
			 kb_strerror(slot->r));
		return NULL;
	}
	return &slot->table;
}

/* The kernel's own load-time check of @src's modules (in @raws) for @t's kernel. */
static int check_modules(struct kb_ctx *ctx, struct kb_reuse_cache *c, struct kb_task *t,
			 struct kb_task *src, const char *from, struct kb_buf *raws,
			 unsigned long *symbols, char *why, size_t size)
{
	const struct kb_symvers *kernel = kernel_symvers(c, t->kernel, why, size);

	*symbols = 0;
	if (!kernel)
		return -KB_E_BUILD;
	return kb_reuse_check_modules(ctx, t, src, from, raws, kernel, symbols, why, size);
}

static struct pair_slot *pair_of(struct kb_reuse_cache *c, const char *a, const char *b)
{
	struct pair_slot *v;

	for (size_t i = 0; i < c->n_pairs; i++)
		if (!strcmp(c->pairs[i].a, a) && !strcmp(c->pairs[i].b, b))
			return &c->pairs[i];
	v = realloc(c->pairs, (c->n_pairs + 1) * sizeof(*v));
	if (!v)
		return NULL;
	c->pairs = v;
	v = &v[c->n_pairs];
	*v = (struct pair_slot){ .a = strdup(a), .b = strdup(b), .env = 1 };
	if (!v->a || !v->b) {
		free(v->a);
		free(v->b);
		return NULL;
	}
	c->n_pairs++;
	return v;
}

/* The exact rule's part: kernel @ka's build environment is @t's kernel's but for the release. */
static int check_exact(struct kb_ctx *ctx, struct kb_reuse_cache *c, const struct kb_task *t,
		       const struct kb_kernel *ka, const struct kb_task *src, char *why,
		       size_t size)
{
	struct pair_slot *p = pair_of(c, ka->release, t->kernel->release);
	_cleanup_free_ char *dir = NULL;
	char rel[PATH_MAX];

	if (!p)
		return -ENOMEM;
	if (p->env == 1)
		p->env = kb_reuse_same_env(ka, t->kernel, p->why, sizeof(p->why));
	if (p->env < 0) {
		snprintf(why, size, "%s", p->why);
		return p->env;
	}
	if (kb_task_build_rel(src, "/src", rel, sizeof(rel)) < 0 ||
	    !(dir = kb_root_path(&ctx->root, rel)))
		return -ENAMETOOLONG;
	return kb_reuse_same_files(ka, t->kernel, dir, &p->seen, why, size);
}

/* Read every module of @src's kept build, each as its build recorded it, into @raws. */
static int read_modules(struct kb_ctx *ctx, const struct kb_task *t, struct kb_task *src,
			struct kb_buf *raws, char *why, size_t size)
{
	for (size_t m = 0; m < t->recipe->nr_modules; m++) {
		kb_buf_init(&raws[m], KB_MAX_MODULE_SIZE);
		if (kb_outputs_read(ctx, src, &t->recipe->modules[m], &raws[m]) < 0) {
			snprintf(why, size, "%s",
				 src->reason ? src->reason : "a module is missing");
			return -KB_E_BUILD;
		}
	}
	return 0;
}

static void release_modules(const struct kb_task *t, struct kb_buf *raws)
{
	for (size_t m = 0; raws && m < t->recipe->nr_modules; m++)
		kb_buf_release(&raws[m]);
	free(raws);
}

/* The record, A's Module.symvers and its modules, in @t's staging directory @dir. */
static int stage(struct kb_ctx *ctx, struct kb_task *t, const struct kb_task *src, const char *dir,
		 const struct kb_buf *raws, const struct kb_reuse_record *rec)
{
	struct kb_buf b = KB_BUF_INIT_MAX(MAX_SYMVERS_SIZE);
	char srcdir[PATH_MAX], rel[PATH_MAX];
	int r;

	if (kb_pathf(srcdir, sizeof(srcdir), "%s/src", dir) < 0)
		return -ENAMETOOLONG;
	r = kb_rm_rf(&ctx->root, dir);
	if (r >= 0)
		r = kb_mkdirs(&ctx->root, srcdir, 0755);
	for (size_t m = 0; r >= 0 && m < t->recipe->nr_modules; m++)
		r = kb_adopt_put(ctx, srcdir, t->recipe->modules[m].path, &raws[m]);
	/* a dependent compiled for B links against these exports */
	if (r >= 0 && kb_reuse_build_exports(ctx, src, &b) == 0 && b.len)
		r = kb_adopt_put(ctx, srcdir, "Module.symvers", &b);
	kb_buf_reset(&b);
	if (r >= 0)
		r = kb_buf_addf(&b, "kernel %s\nrule %s\nsymbols %lu\nsource %s\n", rec->from,
				kb_reuse_rule_name(rec->rule), rec->symbols, rec->source);
	if (r >= 0 && kb_pathf(rel, sizeof(rel), "%s/reused", dir) < 0)
		r = -ENAMETOOLONG;
	if (r >= 0)
		r = kb_atomic_write_buf(&ctx->root, rel, &b, 0644);
	kb_buf_release(&b);
	return r;
}

/* Is @src a kept build that may stand in for @t: compiled, of the same recipe? Else why not. */
static bool candidate(struct kb_ctx *ctx, const struct kb_task *t, const struct kb_task *src,
		      char *why, size_t size)
{
	struct kb_buf id = KB_BUF_INIT_MAX(128);
	char rel[PATH_MAX], want[KB_SHA256_HEX];
	bool ok = false;

	if (kb_task_build_rel(src, "/outputs", rel, sizeof(rel)) < 0 ||
	    !kb_root_exists(&ctx->root, rel))
		; /* a log, a failure record, or no build at all */
	else if (kb_task_build_rel(src, "/reused", rel, sizeof(rel)) < 0 ||
		 kb_root_exists(&ctx->root, rel))
		snprintf(why, size, "it is itself a reuse");
	else {
		/* hashing a dkms.conf view's text is the dearest check: last */
		kb_reuse_recipe_id(t->recipe, t->kernel->release, want);
		ok = kb_task_build_rel(src, "/recipe-id", rel, sizeof(rel)) == 0 &&
		     kb_root_read(&ctx->root, rel, 128, &id) == 0 &&
		     !strncmp(kb_buf_str(&id), want, KB_SHA256_HEX - 1);
		if (!ok)
			snprintf(why, size, "it was built from another recipe or source");
	}
	kb_buf_release(&id);
	return ok;
}

/* Try kernel @from's kept build for @t. 1 reused, 0 not (why in @why), negative error. */
static int try_from(struct kb_ctx *ctx, struct kb_plan *plan, struct kb_task *t, const char *from,
		    char *why, size_t size)
{
	struct kb_reuse_cache *c = cache_of(plan);
	struct kb_kernel fake = { .release = (char *)from };
	struct kb_task src = { .recipe = t->recipe, .kernel = &fake };
	struct kb_reuse_record rec = { .rule = ctx->settings.reuse };
	const struct kb_kernel *ka;
	struct kb_buf *raws = NULL, origin = KB_BUF_INIT;
	char rel[PATH_MAX], dir[PATH_MAX];
	int r;

	if (!c)
		return -ENOMEM;
	if (!candidate(ctx, t, &src, why, size))
		return 0;
	ka = kernel_named(ctx, plan, c, from);
	if (ka && !likely_alike(ctx, ka, t->kernel))
		return 0; /* another upstream release, compiler or .config: not worth reading */
	if (ka)
		src.kernel = (struct kb_kernel *)ka;
	raws = calloc(t->recipe->nr_modules + 1, sizeof(*raws));
	if (!raws)
		return -ENOMEM;
	r = read_modules(ctx, t, &src, raws, why, size);
	if (r >= 0 && rec.rule == KB_REUSE_EXACT && !ka) {
		snprintf(why, size, "kernel %s's headers are gone: the exact rule compares them",
			 from);
		r = -KB_E_BUILD;
	}
	if (r >= 0 && rec.rule == KB_REUSE_EXACT)
		r = check_exact(ctx, c, t, ka, &src, why, size);
	if (r >= 0)
		r = check_modules(ctx, c, t, &src, from, raws, &rec.symbols, why, size);
	snprintf(rec.from, sizeof(rec.from), "%s", from);
	if (r >= 0 && (kb_task_build_rel(&src, "/outputs", rel, sizeof(rel)) < 0 ||
		       kb_root_sha256(&ctx->root, rel, rec.source) < 0)) {
		snprintf(why, size, "kernel %s's build has no outputs record", from);
		r = -KB_E_BUILD;
	}
	if (r >= 0 && kb_task_staging_rel(t, KB_STAGING_NEW, NULL, dir, sizeof(dir)) < 0)
		r = -ENAMETOOLONG;
	if (r >= 0 && (r = stage(ctx, t, &src, dir, raws, &rec)) < 0)
		kb_task_fail(t, "cannot stage kernel %s's build: %s", from, kb_strerror(r));
	if (r >= 0) {
		kb_buf_addf(&origin, "kernel %s's build, reused (%s rule: %lu symbols checked)",
			    from, kb_reuse_rule_name(rec.rule), rec.symbols);
		r = kb_adopt_keep(ctx, t, dir, &origin);
		if (r < 0)
			kb_build_abandon(ctx, t);
	}
	free(src.reason);
	release_modules(t, raws);
	kb_buf_release(&origin);
	if (r == -KB_E_BUILD && t->state != KB_TASK_FAILED)
		return 0;
	return r < 0 ? r : 1;
}

/* Has @o's build been made (and perhaps installed already, as a kernel done early is)? */
static bool made(const struct kb_task *o)
{
	return o->state == KB_TASK_BUILT || o->state == KB_TASK_INSTALLED ||
	       o->state == KB_TASK_CURRENT;
}

/* Is kernel @release's build of @t's recipe still to be made in this run (not a source yet)? */
static bool to_be_rebuilt(const struct kb_plan *plan, const struct kb_task *t, const char *release)
{
	for (size_t i = 0; i < plan->n; i++) {
		const struct kb_task *o = &plan->tasks[i];

		if (o != t && !strcmp(o->kernel->release, release) &&
		    !strcmp(o->recipe->name, t->recipe->name) &&
		    !strcmp(o->recipe->version, t->recipe->version))
			return o->action == KB_ACT_BUILD && !made(o);
	}
	return false;
}

int kb_reuse_try(struct kb_ctx *ctx, struct kb_plan *plan, struct kb_task *t)
{
	struct kb_strv names = KB_STRV_INIT, listed = KB_STRV_INIT;
	char vrel[PATH_MAX], why[768] = "", id[160];
	int r = 0;

	if (!reuse_on(ctx) || !t->recipe->nr_modules)
		return 0;
	kb_plan_final_id(ctx, t);
	if (kb_pathf(vrel, sizeof(vrel), "%s/builds/%s/%s", KB_STATE_DIR, t->recipe->name,
		     t->recipe->version) < 0)
		return 0;
	/* the build the plan paired it with first, then any other kernel's */
	if (t->leader && made(t->leader))
		r = kb_strv_push(&names, t->leader->kernel->release);
	if (r >= 0 && kb_root_list(&ctx->root, vrel, &listed) >= 0)
		for (size_t i = 0; r >= 0 && i < listed.n; i++)
			if (!kb_strv_contains(&names, listed.v[i]))
				r = kb_strv_push(&names, listed.v[i]);
	kb_strv_clear(&listed);
	for (size_t i = 0; r == 0 && i < names.n; i++) {
		char one[768] = "";

		if (!kb_kernel_release_valid(names.v[i]) ||
		    !strcmp(names.v[i], t->kernel->release) || to_be_rebuilt(plan, t, names.v[i]))
			continue;
		r = try_from(ctx, plan, t, names.v[i], one, sizeof(one));
		if (r == 0 && one[0] && !why[0])
			snprintf(why, sizeof(why), "kernel %s's build: %s", names.v[i], one);
	}
	kb_strv_clear(&names);
	if (r > 0) {
		kb_verbose("reused for %s: %s", t->kernel->release, kb_task_id(t, id, sizeof(id)));
		t->state = KB_TASK_BUILT;
	} else if (r == 0 && why[0]) {
		kb_verbose("compiling %s for %s: not reusing %s", kb_task_id(t, id, sizeof(id)),
			   t->kernel->release, why);
	}
	return r;
}

int kb_reuse_recheck(struct kb_ctx *ctx, const struct kb_task *t, unsigned long *symbols, char *why,
		     size_t size)
{
	struct kb_reuse_cache *c = calloc(1, sizeof(*c));
	struct kb_task self = *t;
	struct kb_reuse_record rec;
	struct kb_buf *raws = calloc(t->recipe->nr_modules + 1, sizeof(*raws));
	int r = c && raws ? kb_reuse_record_read(ctx, t, &rec) : -ENOMEM;

	self.reason = NULL;
	if (r == -KB_E_INPUT) {
		snprintf(why, size, "its reuse record is damaged");
		r = -KB_E_BUILD;
	}
	if (r >= 0)
		r = read_modules(ctx, t, &self, raws, why, size);
	if (r >= 0)
		r = check_modules(ctx, c, &self, &self, rec.from, raws, symbols, why, size);
	free(self.reason);
	release_modules(t, raws);
	kb_reuse_cache_free(c);
	return r;
}

bool kb_reuse_kept_holds(struct kb_ctx *ctx, const struct kb_task *t)
{
	struct kb_reuse_record rec;
	struct kb_kernel fake = { 0 };
	struct kb_task src = { .recipe = t->recipe, .kernel = &fake };
	char rel[PATH_MAX], now[KB_SHA256_HEX] = "", why[768] = "", id[160];
	unsigned long symbols = 0;
	int r;

	if (kb_reuse_record_read(ctx, t, &rec) == -ENOENT)
		return true;
	fake.release = rec.from;
	/* the build it came from is as it was: nothing to check again */
	if (kb_task_build_rel(&src, "/outputs", rel, sizeof(rel)) == 0 &&
	    kb_root_sha256(&ctx->root, rel, now) == 0 && !strcmp(now, rec.source))
		return true;
	r = kb_reuse_recheck(ctx, t, &symbols, why, sizeof(why));
	kb_task_id(t, id, sizeof(id));
	if (r >= 0) {
		kb_verbose("%s for %s: kernel %s's build changed or is gone; the reuse still holds "
			   "(%lu symbols checked)",
			   id, t->kernel->release, rec.from, symbols);
		return true;
	}
	kb_info("%s for %s: the reuse of kernel %s's build no longer holds (%s): rebuilding", id,
		t->kernel->release, rec.from, why[0] ? why : kb_strerror(r));
	return false;
}
