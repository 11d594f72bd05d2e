/* Initramfs regeneration: which generator, its exact command, at most once per kernel. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "base/child.h"
#include <archive.h>
#include <archive_entry.h>

#include "base/log.h"
#include "initramfs/builtin.h"
#include "initramfs/initramfs.h"

static const struct {
	const char *name;
	enum kb_initramfs_backend backend;
	const char *program; /* looked up in PATH by auto */
} backends[] = {
	{ "initramfs-tools", KB_INITRAMFS_TOOLS, "update-initramfs" },
	{ "dracut", KB_INITRAMFS_DRACUT, "dracut" },
	{ "mkinitcpio", KB_INITRAMFS_MKINITCPIO, "mkinitcpio" },
	{ "kernel-install", KB_INITRAMFS_KERNEL_INSTALL, "kernel-install" },
	{ "command", KB_INITRAMFS_COMMAND, NULL },
	{ "builtin", KB_INITRAMFS_BUILTIN, NULL },
	{ "none", KB_INITRAMFS_NONE, NULL },
};

int kb_initramfs_parse(const char *name, enum kb_initramfs_backend *out)
{
	if (!name || !strcmp(name, "auto"))
		return -EAGAIN;
	for (size_t i = 0; i < ARRAY_SIZE(backends); i++)
		if (!strcmp(name, backends[i].name)) {
			*out = backends[i].backend;
			return 0;
		}
	return -EINVAL;
}

const char *kb_initramfs_name(enum kb_initramfs_backend b)
{
	for (size_t i = 0; i < ARRAY_SIZE(backends); i++)
		if (backends[i].backend == b)
			return backends[i].name;
	return "none";
}

enum kb_initramfs_backend kb_initramfs_detect(const char *configured, const struct kb_root *root)
{
	enum kb_initramfs_backend b;

	if (kb_initramfs_parse(configured, &b) == 0)
		return b;
	/* a fake root's generator would write the host's /boot: never guess there */
	if (root->path[0])
		return KB_INITRAMFS_NONE;
	for (size_t i = 0; i < ARRAY_SIZE(backends); i++)
		if (backends[i].program && kb_child_have_program(backends[i].program))
			return backends[i].backend;
	return KB_INITRAMFS_BUILTIN; /* no generator here: kbuildd updates the image itself */
}

int kb_initramfs_argv(enum kb_initramfs_backend b, const char *release, const char *command,
		      struct kb_strv *argv)
{
	switch (b) {
	case KB_INITRAMFS_TOOLS:
		/* -k: runs now, not deferred to a dpkg trigger; writes a temp file and renames */
		kb_strv_push(argv, "update-initramfs");
		kb_strv_push(argv, "-u");
		kb_strv_push(argv, "-k");
		kb_strv_push(argv, release);
		return 0;
	case KB_INITRAMFS_DRACUT:
		kb_strv_push(argv, "dracut");
		kb_strv_push(argv, "-f");
		kb_strv_push(argv, "--kver");
		kb_strv_push(argv, release);
		return 0;
	case KB_INITRAMFS_MKINITCPIO:
		kb_strv_push(argv, "mkinitcpio");
		kb_strv_push(argv, "-k");
		kb_strv_push(argv, release);
		kb_strv_push(argv, "-g");
		/* mkinitcpio writes its image in place: generate beside it, rename after */
		kb_strv_pushf(argv, "/boot/initramfs-%s.img.kbuildd-new", release);
		return 0;
	case KB_INITRAMFS_KERNEL_INSTALL:
		kb_strv_push(argv, "kernel-install");
		kb_strv_push(argv, "add");
		kb_strv_push(argv, release);
		kb_strv_pushf(argv, "/boot/vmlinuz-%s", release);
		return 0;
	case KB_INITRAMFS_COMMAND: {
		struct kb_strv words = KB_STRV_INIT;
		int r = command ? kb_strv_split(&words, command) : -EINVAL;

		for (size_t i = 0; r >= 0 && i < words.n; i++) {
			const char *at = strstr(words.v[i], "{kernel_release}");

			if (at)
				r = kb_strv_pushf(argv, "%.*s%s%s", (int)(at - words.v[i]),
						  words.v[i], release,
						  at + strlen("{kernel_release}"));
			else
				r = kb_strv_push(argv, words.v[i]);
		}
		kb_strv_clear(&words);
		return r < 0 || !argv->n ? -EINVAL : 0;
	}
	default:
		return -EINVAL;
	}
}

int kb_initramfs_regenerate(const struct kb_initramfs_request *req)
{
	enum kb_initramfs_backend b = req->backend;
	_cleanup_free_ char *cmd = NULL;
	struct kb_child c;
	int status;

	if (b == KB_INITRAMFS_NONE) {
		kb_verbose("%s: no initramfs generator to run", req->release);
		return 0;
	}
	if (b == KB_INITRAMFS_BUILTIN) {
		kb_info("updating the initramfs of %s (builtin)", req->release);
		return kb_initramfs_builtin(req);
	}
	kb_child_init(&c);
	if (kb_initramfs_argv(b, req->release, req->command, &c.args) < 0) {
		kb_child_release(&c);
		return kb_err(-KB_E_INPUT, "[initramfs] backend = command needs 'command = ...'");
	}
	cmd = kb_child_cmdline(&c);
	if (req->dry_run) {
		kb_info("would run: %s", cmd);
		kb_child_release(&c);
		return 0;
	}
	kb_info("regenerating the initramfs of %s (%s)", req->release, kb_initramfs_name(b));
	c.quiet = kb_log_get_level() < KB_LOG_VERBOSE;
	status = kb_child_run(&c);
	kb_child_release(&c);
	if (status != 0)
		return kb_err(-KB_E_BUILD,
			      "'%s' failed (exit status %d); the previous initramfs is "
			      "unchanged",
			      cmd, status);
	if (b == KB_INITRAMFS_MKINITCPIO) {
		char from[512], to[512];

		kb_pathf(to, sizeof(to), "/boot/initramfs-%s.img", req->release);
		kb_pathf(from, sizeof(from), "%s.kbuildd-new", to);
		if (rename(from, to) < 0)
			return kb_err_errno(-errno, "cannot move '%s' into place", from);
	}
	return 0;
}

bool kb_initramfs_carries(const struct kb_root *root, const char *release,
			  const struct kb_strv *names)
{
	struct kb_buf image = KB_BUF_INIT_MAX((size_t)512 * 1024 * 1024);
	struct archive_entry *e;
	struct archive *in = NULL;
	char rel[PATH_MAX];
	size_t early;
	bool found = false;

	kb_pathf(rel, sizeof(rel), "boot/initrd.img-%s", release);
	if (!names->n || kb_root_read(root, rel, image.max, &image) < 0)
		goto out;
	early = kb_initramfs_early_length((const unsigned char *)image.buf, image.len);
	in = archive_read_new();
	archive_read_support_filter_all(in);
	archive_read_support_format_cpio(in);
	if (early >= image.len ||
	    archive_read_open_memory(in, image.buf + early, image.len - early) != ARCHIVE_OK)
		goto out;
	while (!found && archive_read_next_header(in, &e) == ARCHIVE_OK) {
		const char *path = archive_entry_pathname(e), *base, *ko;
		char name[256];

		if (!path || !(base = strrchr(path, '/')) || !(ko = strstr(base, ".ko")))
			continue;
		snprintf(name, sizeof(name), "%.*s", (int)(ko - base - 1), base + 1);
		found = kb_strv_contains(names, name);
	}
out:
	archive_read_free(in);
	kb_buf_release(&image);
	return found;
}
