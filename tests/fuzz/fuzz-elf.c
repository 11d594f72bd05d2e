/*
 * libFuzzer target: the module image checker (builder/module-elf.c). Each
 * input is checked as a module; an accepted one must have its .modinfo
 * read within bounds, and is then handed to libkmod the way doctor hands
 * it (a memfd) and read as doctor and depmod read modules: whatever the
 * checker accepts must not trip an assertion in libkmod or read past it,
 * and its __versions must read whole, as reuse reads it.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <libkmod.h>

#include "base/log.h"
#include "module-elf.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct kmod_ctx *kctx;
static int image_fd = -1;
static char image_path[64];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *no_config[] = { NULL };

	(void)argc;
	(void)argv;
	/* errors still print: build-aux/fuzz runs this with -close_fd_mask=2 */
	kb_log_set_level(KB_LOG_QUIET);
	kctx = kmod_new(NULL, no_config);
	image_fd = memfd_create("fuzz-elf", MFD_CLOEXEC);
	if (!kctx || image_fd < 0)
		abort();
	kmod_set_log_priority(kctx, 0);
	snprintf(image_path, sizeof(image_path), "/proc/self/fd/%d", image_fd);
	return 0;
}

/* What doctor asks libkmod, and what depmod asks it of every installed module. */
static void read_with_libkmod(const uint8_t *data, size_t size)
{
	struct kmod_list *info = NULL, *deps = NULL, *versions = NULL, *symbols = NULL;
	struct kmod_module *mod = NULL;

	if (ftruncate(image_fd, 0) < 0 || pwrite(image_fd, data, size, 0) != (ssize_t)size)
		abort();
	if (kmod_module_new_from_path(kctx, image_path, &mod) < 0)
		return;
	if (kmod_module_get_info(mod, &info) >= 0)
		kmod_module_info_free_list(info);
	if (kmod_module_get_dependency_symbols(mod, &deps) >= 0)
		kmod_module_dependency_symbols_free_list(deps);
	if (kmod_module_get_versions(mod, &versions) >= 0)
		kmod_module_versions_free_list(versions);
	if (kmod_module_get_symbols(mod, &symbols) >= 0)
		kmod_module_symbols_free_list(symbols);
	kmod_module_unref(mod);
}

/* What reuse reads of an accepted image: every __versions entry, a name ending inside it. */
static int each_version(const char *symbol, uint32_t crc, void *user)
{
	(void)crc;
	*(size_t *)user += strlen(symbol);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const keys[] = { "vermagic", "srcversion", "firmware", "depends" };
	char why[256] = "", value[512];

	if (kb_elf_check(data, size, why, sizeof(why)) < 0) {
		if (!why[0])
			__builtin_trap(); /* every refusal says why */
		return 0;
	}
	for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
		for (unsigned nth = 0; nth < 4; nth++)
			if (kb_elf_modinfo(data, size, keys[k], nth, value, sizeof(value)) < 0)
				break;
	size_t names = 0;

	/* an image the checker accepted has a __versions reuse can read whole */
	if (kb_elf_versions(data, size, each_version, &names) < 0)
		__builtin_trap();
	read_with_libkmod(data, size);
	return 0;
}
