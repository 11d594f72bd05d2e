/* Initramfs regeneration: which generator, its exact command, at most once per kernel. */
#pragma once

#include <stdbool.h>

#include "base/path.h"
#include "base/util.h"

struct kb_initramfs_modules;

enum kb_initramfs_backend {
	KB_INITRAMFS_NONE,
	KB_INITRAMFS_TOOLS, /* Debian, Ubuntu: update-initramfs */
	KB_INITRAMFS_DRACUT,
	KB_INITRAMFS_MKINITCPIO,
	KB_INITRAMFS_KERNEL_INSTALL,
	KB_INITRAMFS_COMMAND, /* [initramfs] command = ... {kernel_release} */
	KB_INITRAMFS_BUILTIN, /* kbuildd rewrites the image itself (builtin.c) */
};

/* Parse a [initramfs] backend name; -EINVAL when unknown. "auto" gives -EAGAIN. */
int kb_initramfs_parse(const char *name, enum kb_initramfs_backend *out);
const char *kb_initramfs_name(enum kb_initramfs_backend b);

/*
 * The generator to use: the configured one (@configured, [initramfs]
 * backend, may be NULL), else (auto) the first present
 * of update-initramfs, dracut, mkinitcpio, kernel-install, else builtin —
 * detected only on the real system; a fake root (--root) regenerates
 * nothing unless a backend is configured.
 */
enum kb_initramfs_backend kb_initramfs_detect(const char *configured, const struct kb_root *root);

/*
 * The exact command regenerating kernel @release's initramfs with backend
 * @b into @argv (pure: for tests). @command is the [initramfs] command
 * for KB_INITRAMFS_COMMAND. 0, or -EINVAL for KB_INITRAMFS_NONE.
 */
int kb_initramfs_argv(enum kb_initramfs_backend b, const char *release, const char *command,
		      struct kb_strv *argv);

/* One kernel's regeneration, as the engine hands it to a backend. */
struct kb_initramfs_request {
	const struct kb_root *root;
	const char *release;		   /* the kernel's */
	enum kb_initramfs_backend backend; /* kb_initramfs_detect()'s */
	const char *command;		   /* [initramfs] command, for KB_INITRAMFS_COMMAND */
	bool dry_run;			   /* say what would run, change nothing */
	/* builtin: kbuildd's modules for the kernel, gathered by the engine (builtin.h) */
	const struct kb_initramfs_modules *modules;
};

/* Regenerate once; 0, or -KB_E_BUILD (the previous initramfs is left as it was). */
int kb_initramfs_regenerate(const struct kb_initramfs_request *req);

/*
 * Does kernel @release's current initramfs (<root>/boot/initrd.img-K) carry a module
 * named in @names? Then replacing that module means regenerating, even if
 * it is not marked initramfs = yes. False when there is no image.
 */
bool kb_initramfs_carries(const struct kb_root *root, const char *release,
			  const struct kb_strv *names);
