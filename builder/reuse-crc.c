/*
 * The kernel's check at load time, made before a reuse (reuse.h): every
 * module's vermagic and the CRC of each symbol it imports, against the
 * kernel it would be installed for.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "module-elf.h"
#include "reuse-rule.h"
#include "symvers.h"

#define MAX_SYMVERS_SIZE (64 << 20)

/* What the kept build of @t exports, every Module.symvers below its src/, into @text. */
int kb_reuse_build_exports(struct kb_ctx *ctx, const struct kb_task *t, struct kb_buf *text)
{
	_cleanup_free_ char *dir = NULL;
	char rel[PATH_MAX];

	if (kb_task_build_rel(t, "/src", rel, sizeof(rel)) < 0 ||
	    !(dir = kb_root_path(&ctx->root, rel)))
		return -ENAMETOOLONG;
	return kb_reuse_exports(dir, text);
}

/* The exports of @t's kept build (a dependency's, or the build's own) as a table. */
static int build_symvers(struct kb_ctx *ctx, const struct kb_task *t, struct kb_symvers *s)
{
	struct kb_buf text = KB_BUF_INIT_MAX(MAX_SYMVERS_SIZE);
	int r = kb_reuse_build_exports(ctx, t, &text);

	*s = (struct kb_symvers){ 0 };
	if (r >= 0)
		r = kb_symvers_parse(s, kb_buf_str(&text), text.len);
	kb_buf_release(&text);
	return r;
}

/* What the CRC check of one module needs: where its symbols must come from. */
struct crc_check {
	const char *module;
	const struct kb_kernel *target;
	const struct kb_symvers *kernel, *own, *deps;
	struct kb_task *const *dep_tasks;
	size_t nr_deps;
	unsigned long checked;
	char *why;
	size_t size;
};

static int check_symbol(const char *symbol, uint32_t crc, void *data)
{
	struct crc_check *c = data;
	const struct kb_symvers_entry *e = kb_symvers_find(c->kernel, symbol), *own;
	char where[300];

	/* the build's own exports are its word: they never stand in for the kernel's */
	if (!e && (own = kb_symvers_find(c->own, symbol)) && own->crc == crc)
		return 0; /* exported by the same build, which comes along */
	snprintf(where, sizeof(where), "kernel %s's Module.symvers", c->target->release);
	for (size_t i = 0; !e && i < c->nr_deps; i++)
		if ((e = kb_symvers_find(&c->deps[i], symbol)))
			snprintf(where, sizeof(where), "the exports of %s built for %s",
				 c->dep_tasks[i]->recipe->name, c->target->release);
	c->checked++;
	if (!e) {
		snprintf(c->why, c->size,
			 "symbol %s (imported by %s) is exported neither by kernel %s nor by a "
			 "dependency",
			 symbol, c->module, c->target->release);
		return -KB_E_BUILD;
	}
	if (e->crc != crc) {
		snprintf(c->why, c->size,
			 "symbol %s (imported by %s) has CRC 0x%08x in the build, 0x%08llx in %s",
			 symbol, c->module, crc, (unsigned long long)e->crc, where);
		return -KB_E_BUILD;
	}
	return 0;
}

/*
 * The kernel's own check at load time, for every module of @src's kept
 * build (in @raws) installed for @t's kernel: vermagic @from and B's flags,
 * each imported symbol's CRC in B's Module.symvers or its dependencies'.
 */
int kb_reuse_check_modules(struct kb_ctx *ctx, struct kb_task *t, struct kb_task *src,
			   const char *from, struct kb_buf *raws, const struct kb_symvers *kernel,
			   unsigned long *symbols, char *why, size_t size)
{
	const struct kb_kernel *k = t->kernel;
	struct kb_symvers own = { 0 }, *deps = calloc(t->nr_deps + 1, sizeof(*deps));
	char flags[256], want[512];
	int r = 0;

	*symbols = 0;
	if (!deps)
		return -ENOMEM;
	if (!kb_kernel_config_set(k, "CONFIG_MODVERSIONS")) {
		snprintf(why, size, "kernel %s has no CONFIG_MODVERSIONS: it checks no CRC",
			 k->release);
		r = -KB_E_BUILD;
	}
	if (r >= 0)
		r = kb_reuse_vermagic_flags(k, flags, sizeof(flags), why, size);
	if (r >= 0)
		r = build_symvers(ctx, src, &own);
	for (size_t i = 0; r >= 0 && i < t->nr_deps; i++)
		r = build_symvers(ctx, t->deps[i], &deps[i]);
	snprintf(want, sizeof(want), "%s %s", from, flags);
	for (size_t m = 0; r >= 0 && m < t->recipe->nr_modules; m++) {
		const struct kb_module_spec *spec = &t->recipe->modules[m];
		struct crc_check cc = { spec->path, k,		kernel, &own, deps,
					t->deps,    t->nr_deps, 0,	why,  size };
		char vermagic[512];

		if (kb_elf_modinfo(raws[m].buf, raws[m].len, "vermagic", 0, vermagic,
				   sizeof(vermagic)) < 0 ||
		    strcmp(vermagic, want)) {
			snprintf(why, size, "%s has vermagic '%s'; kernel %s loads '%s'",
				 spec->path, vermagic, k->release, want);
			r = -KB_E_BUILD;
			break;
		}
		r = kb_elf_versions(raws[m].buf, raws[m].len, check_symbol, &cc);
		if (r == -KB_E_INPUT) {
			snprintf(why, size, "%s: its __versions section is malformed", spec->path);
			r = -KB_E_BUILD;
		}
		*symbols += cc.checked;
	}
	kb_symvers_release(&own);
	for (size_t i = 0; i < t->nr_deps; i++)
		kb_symvers_release(&deps[i]);
	free(deps);
	return r;
}
