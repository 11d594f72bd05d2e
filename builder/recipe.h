/* Native recipes: an INI file describing a driver's source, build and modules. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "base/strbuf.h"
#include "base/util.h"
#include "version.h"

struct kb_dkms_build;

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

struct kb_ctx;

/* The steps around an install a recipe's reader may run (a dkms.conf's scripts). */
enum kb_recipe_step {
	KB_STEP_PRE_INSTALL, /* its failure refuses the install, unless --force */
	KB_STEP_POST_INSTALL,
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
	bool autoinstall;	 /* [build] autoinstall: rebuild --all builds it for every kernel */
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
	/*
	 * Run @step for @kernel, as the reader that filled the recipe knows how
	 * (kb_recipe_step()); NULL when it has no steps.
	 */
	int (*run_step)(struct kb_ctx *ctx, const struct kb_recipe *r, enum kb_recipe_step step,
			const char *kernel);
	struct kb_buf text; /* the file as read, hashed into build ids */

	/* A dkms.conf recipe's view for one kernel (dkms.c); NULL otherwise. */
	struct kb_dkms_build *dkms_build;

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
