/* A kernel's initramfs, handed to its backend with what the engine knows (state, modules.dep). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "compress.h"
#include "depmod.h"
#include "initramfs-job.h"
#include "initramfs/builtin.h"
#include "manifest.h"
#include "state.h"

enum kb_initramfs_backend kb_initramfs_backend_of(const struct kb_ctx *ctx)
{
	return kb_initramfs_detect(ctx->settings.initramfs_backend, &ctx->root);
}

/* Does @rec list module @name? *@marked: whether it marks it initramfs = yes. */
static bool in_recipe(const struct kb_recipe *rec, const char *name, bool *marked)
{
	for (size_t m = 0; rec && m < rec->nr_modules; m++)
		if (kb_initramfs_same_module(rec->modules[m].name, name)) {
			*marked = rec->modules[m].initramfs;
			return true;
		}
	return false;
}

/* What modprobe loads first for @m (its modules.dep line), with each one's name. */
static int add_needs(struct kb_ctx *ctx, const char *release, struct kb_initramfs_module *m)
{
	struct kb_strv names = KB_STRV_INIT;
	char name[NAME_MAX + 1];
	int r = kb_strv_push(&names, m->name);

	if (r >= 0 && (r = kb_depmod_needs(ctx, release, &names, &m->needs)) < 0)
		kb_err_errno(r, "cannot read the modules.dep of %s", release);
	for (size_t i = 0; r >= 0 && i < m->needs.n; i++)
		r = kb_strv_push(&m->need_names,
				 kb_manifest_module_name(m->needs.v[i], name, sizeof(name)) ? name :
											      "");
	kb_strv_clear(&names);
	return r;
}

static int add_module(struct kb_initramfs_modules *mods, const char *path, const char *name)
{
	struct kb_initramfs_module *v = reallocarray(mods->v, mods->n + 1, sizeof(*v));

	if (!v)
		return -ENOMEM;
	mods->v = v;
	memset(&v[mods->n], 0, sizeof(v[mods->n]));
	v[mods->n].path = strdup(path);
	v[mods->n].name = strdup(name);
	mods->n++;
	return v[mods->n - 1].path && v[mods->n - 1].name ? 0 : -ENOMEM;
}

/* Every module file kbuildd installed for @release, in manifest order, as the backend needs it. */
static int gather(struct kb_ctx *ctx, const char *release, struct kb_initramfs_modules *mods)
{
	struct kb_recipe_set set = { 0 };
	struct kb_manifest_set installed = { 0 };
	char name[NAME_MAX + 1], id[256];
	int r = kb_state_load(ctx, &set);

	if (r >= 0)
		r = kb_manifest_read_all(ctx, release, &installed);
	for (size_t i = 0; r >= 0 && i < installed.n; i++) {
		const struct kb_manifest *m = &installed.v[i];
		const struct kb_recipe *rec;

		snprintf(id, sizeof(id), "%s/%s", m->name, m->version);
		rec = kb_recipe_set_find(&set, id);
		for (size_t j = 0; r >= 0 && j < m->n; j++) {
			struct kb_initramfs_module *mod;

			if (!kb_manifest_module_name(m->files[j].path, name, sizeof(name)))
				continue;
			r = add_module(mods, m->files[j].path, name);
			mod = &mods->v[mods->n - 1];
			if (r >= 0 && in_recipe(rec, name, &mod->marked)) {
				mod->in_recipe = true;
				r = add_needs(ctx, release, mod);
			}
		}
	}
	kb_manifest_set_release(&installed);
	kb_recipe_set_release(&set);
	return r;
}

int kb_initramfs_update(struct kb_ctx *ctx, const struct kb_kernel *k)
{
	struct kb_initramfs_modules mods = { .decompress = kb_decompress_file };
	struct kb_initramfs_request req = {
		.root = &ctx->root,
		.release = k->release,
		.backend = kb_initramfs_backend_of(ctx),
		.command = ctx->settings.initramfs_command,
		.dry_run = ctx->dry_run,
		.modules = &mods,
	};
	char image[PATH_MAX];
	int r = 0;

	/* without an image the backend says so and changes nothing: no state to read */
	kb_pathf(image, sizeof(image), "boot/initrd.img-%s", k->release);
	if (req.backend == KB_INITRAMFS_BUILTIN && kb_root_exists(&ctx->root, image))
		r = gather(ctx, k->release, &mods);
	if (r >= 0)
		r = kb_initramfs_regenerate(&req);
	kb_initramfs_modules_release(&mods);
	return r;
}
