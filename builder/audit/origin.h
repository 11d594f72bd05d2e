/* Who put a module file there: a Debian package, a kbuildd recipe, DKMS, or nobody known. */
#pragma once

#include <limits.h>

#include "ctx.h"
#include "manifest.h"

enum kb_origin_kind {
	KB_ORIGIN_PACKAGE, /* dpkg's lists name it */
	KB_ORIGIN_KBUILDD, /* a kbuildd manifest lists it */
	KB_ORIGIN_DKMS,	   /* DKMS has a build of that module for that kernel */
	KB_ORIGIN_UNOWNED,
	KB_ORIGIN_NO_FILE, /* loaded, but no installed file is known */
};

struct kb_origin {
	enum kb_origin_kind kind;
	char owner[256];    /* package, NAME/VERSION of the recipe or of the DKMS module */
	char how[PATH_MAX]; /* kbuildd: built here, reused from K, taken from ... */
};

struct kb_owner_path {
	char *rel; /* lib/modules/... (a /usr/lib/modules path is put there) */
	unsigned pkg;
};

struct kb_owners_kernel {
	char release[KB_MAX_RELEASE + 1];
	struct kb_manifest_set set;
};

/* What is read once per run: dpkg's module paths, kbuildd's manifests per kernel. */
struct kb_owners {
	struct kb_strv packages;
	struct kb_owner_path *paths; /* sorted by rel */
	size_t n;
	struct kb_owners_kernel *kernels;
	size_t n_kernels;
};

/* Read dpkg's lists under the root (none is no error); 0 or negative errno. */
int kb_owners_load(const struct kb_ctx *ctx, struct kb_owners *o);
void kb_owners_release(struct kb_owners *o);
/* The origin of installed file @rel (lib/modules/@release/...), module @module. */
void kb_owners_find(struct kb_ctx *ctx, struct kb_owners *o, const char *release,
		    const char *module, const char *rel, struct kb_origin *out);
const char *kb_origin_kind_name(enum kb_origin_kind kind);
