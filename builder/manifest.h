/* Manifests: which files kbuildd installed for a (recipe, kernel), with their sha256. */
#pragma once

#include "base/limits.h"
#include "base/util.h"
#include "ctx.h"

struct kb_manifest_file {
	char *path; /* relative to the root: lib/modules/K/... */
	char sha256[KB_SHA256_HEX];
};

struct kb_manifest {
	char *name, *version;
	char build_id[KB_SHA256_HEX];
	char reused_from[KB_MAX_RELEASE + 1]; /* the kernel whose build it is, or "" (reuse.h) */
	struct kb_manifest_file *files;
	size_t n;
	/*
	 * Damaged: "FILE:LINE: damaged manifest: what was expected". Its
	 * recipe is then known by the file name only, and @files holds what
	 * could be salvaged: a damaged manifest may list more than that.
	 */
	char *damage;
};

struct kb_manifest_set {
	struct kb_manifest *v; /* readable */
	size_t n;
	struct kb_manifest *damaged; /* damaged or unreadable: see kb_manifest.damage */
	size_t n_damaged;
};

/* var/lib/kbuildd/installed/KERNEL/NAME.manifest */
int kb_manifest_rel(const char *kernel, const char *name, char *buf, size_t size);

/*
 * Read one manifest; -ENOENT when absent, -KB_E_INPUT when damaged or
 * unreadable (m->damage says how; nothing is printed). Release @m whatever
 * the result.
 */
int kb_manifest_read(const struct kb_ctx *ctx, const char *kernel, const char *name,
		     struct kb_manifest *m);
/*
 * Parse manifest @text of @len bytes; @what names it in m->damage. 0, or
 * -KB_E_INPUT with m->damage set and what could be salvaged in @m, or
 * -ENOMEM with @m empty. Release with kb_manifest_release().
 */
int kb_manifest_parse(const char *text, size_t len, const char *what, struct kb_manifest *m);
/* Read every manifest of @kernel; a damaged one goes to set->damaged, never fails the rest. */
int kb_manifest_read_all(const struct kb_ctx *ctx, const char *kernel, struct kb_manifest_set *set);
/* Write atomically (creating the directory). */
int kb_manifest_write(const struct kb_ctx *ctx, const char *kernel, const struct kb_manifest *m);
int kb_manifest_add_file(struct kb_manifest *m, const char *path, const char *sha256);
const struct kb_manifest_file *kb_manifest_find(const struct kb_manifest *m, const char *path);
/* Which readable manifest in @set lists @path; NULL if none. */
const struct kb_manifest *kb_manifest_owner(const struct kb_manifest_set *set, const char *path);
/* A damaged manifest in @set that may list @path (any may); NULL if none is damaged. */
const struct kb_manifest *kb_manifest_damaged_owner(const struct kb_manifest_set *set,
						    const char *path);
/* @name's damaged manifest in @set, or NULL. */
const struct kb_manifest *kb_manifest_set_damaged(const struct kb_manifest_set *set,
						  const char *name);
/* Add to @out each file of @m that still exists and @out does not list yet. */
int kb_manifest_add_present(const struct kb_ctx *ctx, const struct kb_manifest *m,
			    struct kb_manifest *out);
/* Free the file list only: for a manifest whose name and version are borrowed. */
void kb_manifest_release_files(struct kb_manifest *m);
/*
 * The module name of an installed file (lib/modules/K/.../foo-bar.ko.xz is
 * foo_bar, as the kernel reads it) into @out; false for a file that is no
 * module (kbuildd's configuration files).
 */
bool kb_manifest_module_name(const char *path, char *out, size_t size);
/* A module name as the kernel compares them, in place: '-' is '_'. */
void kb_module_name_normalize(char *name);
/*
 * Which manifest in @set, other than recipe @skip's, installs a module
 * named @module (- and _ alike); NULL if none, else *@path is its file.
 */
const struct kb_manifest *kb_manifest_module_owner(const struct kb_manifest_set *set,
						   const char *module, const char *skip,
						   const char **path);
void kb_manifest_release(struct kb_manifest *m);
void kb_manifest_set_release(struct kb_manifest_set *set);
