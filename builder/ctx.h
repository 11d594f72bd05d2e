/* The one context every command receives: options and settings, no globals. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "base/path.h"
#include "base/util.h"

/* [build] reuse: when another kernel's build is installed instead of compiling (doc/design.md) */
enum kb_reuse_rule {
	KB_REUSE_EXACT, /* the same build environment but for the release strings */
	KB_REUSE_KABI,	/* the same CRC for every imported symbol and vermagic flags */
	KB_REUSE_NO,
};

/* /etc/kbuildd/kbuildd.conf (doc/design.md); NULL strings mean the default. */
struct kb_settings {
	unsigned long jobs;    /* 0 = auto */
	bool jobs_set;	       /* given, even as auto: framework.conf's gives way */
	unsigned long timeout; /* seconds per build */
	char *user;
	char *dest;	/* default module destination */
	char *compress; /* auto | none | xz | zstd | gzip */
	char *initramfs_backend;
	char *initramfs_command; /* backend = command: the generator, {kernel_release} filled in */
	char *sign_key, *sign_cert, *sign_hash;
	char *sign_pin_file;		      /* [signing] pin_file: a token key's PIN */
	char *sign_next_key, *sign_next_cert; /* [signing] next_*: a rotation's new pair */
	unsigned long cert_warn_days;	      /* [signing] expiry_warn_days */
	char *cache;
	char *ca_file;		     /* TLS CA bundle instead of the system's */
	unsigned long fetch_timeout; /* seconds without progress before a download fails */
	bool hooks_strict;	     /* [hooks] strict: a failed build fails the kernel's hook */
	enum kb_reuse_rule reuse;    /* [build] reuse: which kernels' builds stand in (reuse.h) */
	bool offline;
	char *maintainer; /* [export] maintainer: "Name <mail>" of the packages export writes */
	struct kb_store_settings {     /* [cache]: the fleet's build cache (cache/cache.h) */
		char *url;	       /* oci://HOST[:PORT]/REPO, https://HOST/PATH/; NULL: none */
		bool push;	       /* publish what this machine builds */
		bool insecure;	       /* http:// allowed */
		char *trust;	       /* PEM certificates whose artifacts are taken */
		char *auth;	       /* 0600 file: a token or user:password */
		char *ca_file;	       /* PEM CAs for the store's TLS */
		unsigned long timeout; /* seconds a run waits for the store, at most */
	} store;
};

struct kb_signing;
struct kb_cache;
struct kb_framework;
struct kb_recipe_reader;
struct kb_ctx;
struct kb_task;
struct kb_plan;

/*
 * What the engine tells whoever shows a run while it goes on (cli/ sets
 * ctx->events); the engine itself writes nothing to stdout or stderr but
 * through base/log.h. Every hook may be NULL.
 */
struct kb_events {
	/* @t's build started or ended (t->state says how); @plan is the whole run */
	void (*build_started)(struct kb_ctx *ctx, const struct kb_plan *plan,
			      const struct kb_task *t);
	void (*build_ended)(struct kb_ctx *ctx, const struct kb_plan *plan,
			    const struct kb_task *t);
	/* about once a second while builds run */
	void (*tick)(struct kb_ctx *ctx, const struct kb_plan *plan);
	/* downloads under way: @active files, @got of @total bytes (0: unknown); @active 0: done */
	void (*download)(struct kb_ctx *ctx, unsigned active, double got, double total);
};

struct kb_ctx {
	const struct kb_events *events; /* may be NULL: nothing is shown */
	struct kb_root root;
	const char *root_arg;	 /* --root as given */
	const char *config_file; /* --config, or NULL for the default */
	struct kb_settings settings;
	struct kb_strv kernels;	    /* -k/--kernel, repeatable */
	unsigned long jobs;	    /* -j; 0 = settings, then cores */
	unsigned long wait_seconds; /* --wait for the lock */
	bool json, dry_run, no_depmod, force, all, offline, check, hook;
	bool no_initramfs, initramfs_now;
	bool no_reuse;	    /* --no-reuse: compile every build this run makes */
	bool installed;	    /* audit --installed: the module files too */
	bool audit_log;	    /* audit --log: the load trail */
	bool activate;	    /* keys rotate --activate */
	bool export_deb;    /* export --deb */
	const char *output; /* export --output DIR */
	/* import-dkms: DKMS's files and version choices give way (no rebuild is forced) */
	bool take_over;
	const char *hash; /* --hash for sign */
	const char *cert; /* --cert for verify */
	int lock_fd;
	const char *command; /* for the lock's holder line */
	/* found once per run by the first sandbox (sandbox.c) */
	bool sandbox_known;
	bool sandbox_shared_fs; /* a chroot that is no mount: no mounts of its own */
	bool build_user_found;	/* else root has no unprivileged user to build as */
	uid_t build_uid;
	gid_t build_gid;
	struct kb_cache *cache;	    /* the fleet's build cache, opened by the engine (cache.h) */
	struct kb_signing *signing; /* per kernel: the key, set up by the engine (signing.h) */
	struct kb_framework *framework; /* /etc/dkms/framework.conf(.d), read once (framework.h) */
	/* the readers of recipes whose build another file defines, NULL-ended (recipe.h) */
	const struct kb_recipe_reader *const *readers;
	bool post_transaction; /* dkms front end: run DKMS's post_transaction after */
	bool dkms_codes;       /* exit with DKMS's codes (10, 11, 21, 77) */
	int dkms_status;       /* that code, set by the engine */
	int dkms_exit;	       /* a DKMS code that wins over any other (kb_dkms_exit) */
	bool dkms_distro_read; /* dkms_distro holds the root's os-release ID */
	char dkms_distro[32];
};

/* With --dkms-exit-codes, make @code (when not 0) the exit status, unless one was set already. */
static inline void kb_dkms_exit(struct kb_ctx *ctx, int code)
{
	if (ctx->dkms_codes && !ctx->dkms_exit)
		ctx->dkms_exit = code;
}

/*
 * Total make slots: -j, else [build] jobs, else framework.conf's
 * parallel_jobs, else the environment's, else online CPUs.
 */
unsigned kb_ctx_jobs(const struct kb_ctx *ctx);
/* Destination directory for modules whose recipe names none. */
const char *kb_ctx_dest(const struct kb_ctx *ctx);

int kb_settings_load(struct kb_ctx *ctx);
void kb_settings_release(struct kb_settings *s);
