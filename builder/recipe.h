/* Native recipes: an INI file describing a driver's source, build and modules. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "base/strbuf.h"
#include "base/util.h"
#include "version.h"

struct kb_ctx;
struct kb_kernel;
struct kb_recipe;

struct kb_module_spec {
	char *name; /* module name, from [module NAME] */
	char *path; /* built file, relative to the build dir (default NAME.ko) */
	char *dest; /* under /lib/modules/K/; NULL = the configured default */
	bool initramfs;
	bool autoload;		  /* load at boot: /etc/modules-load.d/kbuildd-RECIPE.conf */
	struct kb_strv options;	  /* param=value, written as an "options" line in modprobe.d */
	struct kb_strv blacklist; /* modules this one replaces, blacklisted in modprobe.d */
	unsigned line;
};

/*
 * Where a build lays its tree out below its staging directory, when not
 * just in src/ (a dkms.conf's $dkms_tree and $source_tree). Paths are
 * relative to that directory; their first components and the source are
 * what the build's sandbox keeps in view besides src/.
 */
struct kb_build_layout {
	/*
	 * The build's tree while it builds ("dkms/N/V/build"), a real
	 * directory; NULL for src/. When the build ends the tree moves to
	 * src/, where every kept build has it, and this becomes a link to it.
	 */
	char *tree;
	struct kb_strv source_links; /* each made a link to the registered source */
	char *patches; /* where its patches are, below the state dir; NULL: patches/ */
};

/*
 * A build command its reader made whole (a dkms.conf's: PRE_BUILD, MAKE,
 * strip and POST_BUILD in one bash): its arguments as they are, without
 * {placeholders} or make_args, and the environment it runs with, PATH and
 * the locale included. Empty: make_cmd, else kbuild's default.
 */
struct kb_build_command {
	struct kb_strv argv;
	struct kb_strv env; /* NAME=value */
	char *shown;	    /* what the log says it runs */
	bool strips_debug;  /* it strips every module of its debug info */
};

/* The steps around a recipe's life a reader may run (a dkms.conf's scripts). */
enum kb_recipe_step {
	KB_STEP_POST_ADD,     /* after it is registered; a failure is only reported */
	KB_STEP_PRE_INSTALL,  /* its failure refuses the install, unless --force */
	KB_STEP_POST_INSTALL, /* a failure is reported, the install stands */
	KB_STEP_POST_REMOVE,  /* after it went from a kernel, or was unregistered (kernel NULL) */
};

/*
 * Why a task failed when it is more than a failed build: what a front end
 * tells apart (the dkms front end's exit status, cli/report.c).
 */
enum kb_failure {
	KB_FAIL_BUILD = 0,   /* the build or install failed, or anything else */
	KB_FAIL_RECIPE,	     /* the recipe is bad for this kernel */
	KB_FAIL_PATCH,	     /* one of its patches is bad */
	KB_FAIL_MISSING_DEP, /* a dependency is not registered */
	KB_FAIL_NOT_NEWER,   /* a module is not newer than the one it would replace */
};

/*
 * What reads a recipe whose build another file defines ([build] dkms: a
 * dkms.conf): the engine knows the reader only by these functions, and the
 * front end hands the readers it has in ctx->readers.
 */
struct kb_recipe_reader {
	const char *key;  /* the [build] key naming the file: "dkms" */
	const char *file; /* the file's usual name in a source tree: "dkms.conf" */
	/* `add` of @file (a host path): a recipe whose build is that file. 0 or -KB_E_INPUT. */
	int (*load)(struct kb_ctx *ctx, const char *file, struct kb_recipe *r);
	/*
	 * The recipe registered @base becomes on kernel @k, in *@view (the
	 * caller's, kb_recipe_free()). Bad input: -KB_E_INPUT, the messages in
	 * *@why (the caller's to free) and the kind in *@kind.
	 */
	int (*view)(struct kb_ctx *ctx, const struct kb_recipe *base, const struct kb_kernel *k,
		    struct kb_recipe **view, char **why, enum kb_failure *kind);
	/* Run @step for @kernel: 0 when there is none or it held, -KB_E_BUILD when it failed. */
	int (*run_step)(struct kb_ctx *ctx, const struct kb_recipe *r, enum kb_recipe_step step,
			const char *kernel);
	void (*release)(void *data); /* frees a view's reader_data */
};

struct kb_recipe {
	char *name;
	char *version;
	char *description;
	char *file;	     /* where it was read from, for messages */
	char *dir;	     /* directory for relative paths; NULL once registered */
	char *source_path;   /* [source] path as written, or NULL */
	char *url;	     /* [source] url: a release archive */
	char sha256[65];     /* its pinned sha256 (lowercase hex), "" if insecure */
	unsigned long strip; /* leading path components dropped on extraction */
	struct kb_strv mirrors;
	bool insecure; /* the recipe accepts an unpinned download */
	char *git;     /* [source] git: a repository */
	char *commit;  /* the pinned commit (40 hex) */
	char *ref;     /* optional tag or branch that must resolve to it */
	bool has_kernels;
	struct kb_range kernels;
	char *kernels_text;
	char *exclusive_kernel;
	struct kb_strv arch;
	struct kb_strv requires_config;
	struct kb_strv depends;
	struct kb_strv patches;
	struct kb_strv make_args;
	struct kb_strv make_cmd; /* empty: the default kbuild command */
	char *dkms;		 /* [build] dkms: the source's dkms.conf defines the build */
	/* a per-kernel view's reader, and what it keeps; NULL otherwise */
	const struct kb_recipe_reader *reader;
	void *reader_data;
	bool autoinstall; /* [build] autoinstall: rebuild --all builds it for every kernel */
	struct kb_module_spec *modules;
	size_t nr_modules;
	/*
	 * Why the recipe is ruled out on the kernel it was read for, as its
	 * reader decided (a dkms.conf's BUILD_EXCLUSIVE_* or OBSOLETE_BY), or
	 * NULL; the planner adds the rules above.
	 */
	char *excluded;
	struct kb_build_layout layout;	 /* filled by the reader; all empty: src/ alone */
	struct kb_build_command command; /* filled by the reader, per kernel */
	struct kb_buf text;		 /* the file as read, hashed into build ids */

	/* Set by state.c for registered recipes. */
	char *state_dir; /* var/lib/kbuildd/recipes/NAME/VERSION */
	char *source_hash;
};

void kb_recipe_init(struct kb_recipe *r);
void kb_recipe_release(struct kb_recipe *r);

/*
 * Parse recipe @text; @file names it in messages ("file:line: ...").
 * Every problem is reported; returns 0 or -KB_E_INPUT, or (reported) the
 * error kb_recipe_error() finds.
 */
int kb_recipe_parse(struct kb_recipe *r, const char *file, const char *text, size_t len);
/*
 * 0, or the error kept by the first of @r's lists or its text that lost an
 * append (kb_strv_error(), kb_buf_error()): whoever makes a recipe checks it
 * once before handing the recipe on.
 */
int kb_recipe_error(const struct kb_recipe *r);
/* Read and parse the host file @path; relative paths in it resolve from its directory. */
int kb_recipe_load(struct kb_recipe *r, const char *path);

/*
 * The reader of @r's build file: a view's own, else the one of @ctx's
 * readers that knows its key; NULL for a recipe that defines its own build
 * (or when this front end has no reader for it).
 */
const struct kb_recipe_reader *kb_recipe_reader(const struct kb_ctx *ctx,
						const struct kb_recipe *r);
/* @r's @step for @kernel: 0 when it has none or it held, -KB_E_BUILD when it failed. */
int kb_recipe_step(struct kb_ctx *ctx, const struct kb_recipe *r, enum kb_recipe_step step,
		   const char *kernel);

/* "name/version", into a static-free caller buffer of @size bytes. */
const char *kb_recipe_id(const struct kb_recipe *r, char *buf, size_t size);

/* Valid recipe or module name: [a-z0-9][a-z0-9_.+-]*, at most KB_MAX_NAME. */
bool kb_recipe_name_valid(const char *s);
bool kb_recipe_version_valid(const char *s);
/*
 * A directory below /lib/modules/KERNEL/ modules may be installed in:
 * relative, no empty, "." or ".." component, and not through the kernel's
 * own build and source links (first component "build" or "source").
 */
bool kb_dest_valid(const char *dest);
