/* Who owns a module file: dpkg's lists, kbuildd's manifests, DKMS's tree, in that order. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/origin.h"
#include "base/log.h"
#include "state.h"

#define DPKG_INFO "var/lib/dpkg/info"
#define DKMS_TREE "var/lib/dkms"
#define MAX_LIST_FILE (64 * 1024 * 1024)

static int path_cmp(const void *a, const void *b)
{
	return strcmp(((const struct kb_owner_path *)a)->rel,
		      ((const struct kb_owner_path *)b)->rel);
}

/* A listed path as kbuildd names it: relative, /usr/lib/modules as /lib/modules. */
static const char *listed_rel(const char *line)
{
	if (kb_str_startswith(line, "/usr/lib/modules/"))
		return line + 5;
	return kb_str_startswith(line, "/lib/modules/") ? line + 1 : NULL;
}

/* The module paths of dpkg's list @name ("PKG.list" or "PKG:ARCH.list"). */
static int add_list(const struct kb_ctx *ctx, struct kb_owners *o, const char *name)
{
	struct kb_buf text = KB_BUF_INIT_MAX(MAX_LIST_FILE);
	char rel[PATH_MAX], *line, *save = NULL;
	unsigned pkg = (unsigned)o->packages.n;
	int r = 0;

	if (kb_pathf(rel, sizeof(rel), "%s/%s", DPKG_INFO, name) < 0 ||
	    kb_root_read(&ctx->root, rel, text.max, &text) < 0) {
		kb_buf_release(&text);
		return 0; /* an unreadable list names nothing */
	}
	size_t len = strlen(name) - 5; /* ".list" */
	const char *colon = memchr(name, ':', len);

	if (kb_strv_pushf(&o->packages, "%.*s", (int)(colon ? (size_t)(colon - name) : len), name) <
	    0)
		r = -ENOMEM;
	for (line = strtok_r(text.len ? text.buf : (char[1]){ 0 }, "\n", &save); r >= 0 && line;
	     line = strtok_r(NULL, "\n", &save)) {
		const char *path = listed_rel(line);
		struct kb_owner_path *v;

		if (!path || !strstr(path, ".ko"))
			continue;
		v = realloc(o->paths, (o->n + 1) * sizeof(*v));
		if (!v || !(v[o->n].rel = strdup(path))) {
			if (v)
				o->paths = v;
			r = -ENOMEM;
			break;
		}
		o->paths = v;
		v[o->n++].pkg = pkg;
	}
	kb_buf_release(&text);
	return r;
}

int kb_owners_load(const struct kb_ctx *ctx, struct kb_owners *o)
{
	struct kb_strv names = KB_STRV_INIT;
	int r;

	memset(o, 0, sizeof(*o));
	r = kb_root_list(&ctx->root, DPKG_INFO, &names);
	if (r == -ENOENT)
		r = 0;
	for (size_t i = 0; r >= 0 && i < names.n; i++) {
		size_t len = strlen(names.v[i]);

		if (len > 5 && !strcmp(names.v[i] + len - 5, ".list"))
			r = add_list(ctx, o, names.v[i]);
	}
	kb_strv_clear(&names);
	if (r < 0)
		return kb_err_errno(r, "cannot read dpkg's lists in /%s", DPKG_INFO);
	if (o->n)
		qsort(o->paths, o->n, sizeof(*o->paths), path_cmp);
	return 0;
}

void kb_owners_release(struct kb_owners *o)
{
	for (size_t i = 0; i < o->n; i++)
		free(o->paths[i].rel);
	free(o->paths);
	for (size_t i = 0; i < o->n_kernels; i++)
		kb_manifest_set_release(&o->kernels[i].set);
	free(o->kernels);
	kb_strv_clear(&o->packages);
	memset(o, 0, sizeof(*o));
}

/* kbuildd's manifests for @release, read the first time they are asked for. */
static const struct kb_manifest_set *manifests(struct kb_ctx *ctx, struct kb_owners *o,
					       const char *release)
{
	struct kb_owners_kernel *v;

	for (size_t i = 0; i < o->n_kernels; i++)
		if (!strcmp(o->kernels[i].release, release))
			return &o->kernels[i].set;
	v = realloc(o->kernels, (o->n_kernels + 1) * sizeof(*v));
	if (!v)
		return NULL;
	o->kernels = v;
	v += o->n_kernels;
	memset(v, 0, sizeof(*v));
	snprintf(v->release, sizeof(v->release), "%s", release);
	if (kb_manifest_read_all(ctx, release, &v->set) < 0)
		memset(&v->set, 0, sizeof(v->set));
	o->n_kernels++;
	return &v->set;
}

/* How kbuildd came by the build it installed: compiled, reused, or taken from somewhere. */
static void kbuildd_how(struct kb_ctx *ctx, const struct kb_manifest *m, const char *release,
			char *how, size_t size)
{
	struct kb_buf text = KB_BUF_INIT_MAX(PATH_MAX);
	char rel[PATH_MAX];

	if (m->reused_from[0])
		snprintf(how, size, "reused from %s's build", m->reused_from);
	else if (kb_pathf(rel, sizeof(rel), "%s/builds/%s/%s/%s/origin", KB_STATE_DIR, m->name,
			  m->version, release) == 0 &&
		 kb_root_read(&ctx->root, rel, PATH_MAX, &text) == 0)
		snprintf(how, size, "taken from %.*s", (int)strcspn(kb_buf_str(&text), "\n"),
			 kb_buf_str(&text));
	else
		snprintf(how, size, "built here");
	kb_buf_release(&text);
}

/* A DKMS build of @module for @release: var/lib/dkms/NAME/VERSION/RELEASE/ARCH/module/M.ko */
static bool dkms_owner(struct kb_ctx *ctx, const char *release, const char *module, char *owner,
		       size_t size)
{
	struct kb_strv names = KB_STRV_INIT, versions = KB_STRV_INIT, arches = KB_STRV_INIT,
		       files = KB_STRV_INIT;
	char rel[PATH_MAX];
	bool found = false;

	kb_root_list(&ctx->root, DKMS_TREE, &names);
	for (size_t n = 0; !found && n < names.n; n++) {
		kb_strv_clear(&versions);
		if (kb_pathf(rel, sizeof(rel), "%s/%s", DKMS_TREE, names.v[n]) < 0)
			continue;
		kb_root_list(&ctx->root, rel, &versions);
		for (size_t v = 0; !found && v < versions.n; v++) {
			kb_strv_clear(&arches);
			if (kb_pathf(rel, sizeof(rel), "%s/%s/%s/%s", DKMS_TREE, names.v[n],
				     versions.v[v], release) < 0)
				continue;
			kb_root_list(&ctx->root, rel, &arches);
			for (size_t a = 0; !found && a < arches.n; a++) {
				char dir[PATH_MAX];

				kb_strv_clear(&files);
				if (kb_pathf(dir, sizeof(dir), "%s/%s/module", rel, arches.v[a]) <
				    0)
					continue;
				kb_root_list(&ctx->root, dir, &files);
				for (size_t f = 0; !found && f < files.n; f++) {
					char name[256];

					snprintf(name, sizeof(name), "%.*s",
						 (int)strcspn(files.v[f], "."), files.v[f]);
					kb_module_name_normalize(name);
					found = strstr(files.v[f], ".ko") && !strcmp(name, module);
				}
			}
			if (found)
				snprintf(owner, size, "%s/%s", names.v[n], versions.v[v]);
		}
	}
	kb_strv_clear(&names);
	kb_strv_clear(&versions);
	kb_strv_clear(&arches);
	kb_strv_clear(&files);
	return found;
}

void kb_owners_find(struct kb_ctx *ctx, struct kb_owners *o, const char *release,
		    const char *module, const char *rel, struct kb_origin *out)
{
	struct kb_owner_path key = { .rel = (char *)rel };
	const struct kb_owner_path *hit = o->n ? bsearch(&key, o->paths, o->n, sizeof(*o->paths),
							 path_cmp) :
						 NULL;
	const struct kb_manifest_set *set;
	const struct kb_manifest *m;

	memset(out, 0, sizeof(*out));
	if (hit) {
		out->kind = KB_ORIGIN_PACKAGE;
		snprintf(out->owner, sizeof(out->owner), "%s", o->packages.v[hit->pkg]);
		return;
	}
	set = manifests(ctx, o, release);
	m = set ? kb_manifest_owner(set, rel) : NULL;
	if (m) {
		out->kind = KB_ORIGIN_KBUILDD;
		snprintf(out->owner, sizeof(out->owner), "%s/%s", m->name, m->version);
		kbuildd_how(ctx, m, release, out->how, sizeof(out->how));
		return;
	}
	out->kind = dkms_owner(ctx, release, module, out->owner, sizeof(out->owner)) ?
			    KB_ORIGIN_DKMS :
			    KB_ORIGIN_UNOWNED;
}

const char *kb_origin_kind_name(enum kb_origin_kind kind)
{
	static const char *const names[] = { "package", "kbuildd", "dkms", "unowned", "no file" };

	return names[kind];
}
