/* kbuildd doctor: why a module will not load, checked from the files a kernel would use. */
#pragma once

#include "ctx.h"
#include "kernel.h"

enum kb_level { KB_LEVEL_OK, KB_LEVEL_INFO, KB_LEVEL_WARN, KB_LEVEL_FAIL };

struct kb_finding {
	enum kb_level level;
	char check[24]; /* modules, vermagic, symbols, signature, policy, blacklist, shadowing,
			   firmware, loaded, rotation */
	char *text;	/* what was found, in the user's words */
	char *fix;	/* what to do, or NULL */
};

struct kb_diagnosis {
	char *module; /* module name */
	char *path;   /* host path of the file checked */
	const struct kb_kernel *kernel;
	struct kb_buf image; /* the file as read once, decompressed and checked (module-elf.c) */
	bool running;	     /* the kernel is the running one: live facts were read */
	struct kb_finding *findings;
	size_t n;
};

/* Running kernel release under the root (<root>/proc/sys/kernel/osrelease); caller frees. */
char *kb_doctor_running_release(const struct kb_ctx *ctx);

/*
 * Check the module file at host @path against kernel @k. A file that is not
 * a sound module (not a regular file, damaged, not ELF) is -KB_E_INPUT,
 * reported naming it; @d is then empty.
 */
int kb_doctor_check(struct kb_ctx *ctx, const struct kb_kernel *k, const char *path,
		    struct kb_diagnosis *d);
void kb_diagnosis_release(struct kb_diagnosis *d);
/* Append a finding (formatted text); @fix may be NULL. */
void kb_diagnosis_add(struct kb_diagnosis *d, enum kb_level level, const char *check,
		      const char *fix, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

enum kb_loaded { KB_NOT_LOADED, KB_LOADED_SAME, KB_LOADED_OTHER };

/*
 * Is module @module loaded (<root>/sys/module/NAME), and is it the build in
 * host file @path (same srcversion)? @loaded_src receives the loaded one's.
 */
enum kb_loaded kb_doctor_loaded(struct kb_ctx *ctx, const char *module, const char *path,
				char *loaded_src, size_t size);

/*
 * Can the running kernel load modules here at all (machine.c)? No module
 * support, kernel.modules_disabled, a gVisor sandbox, a container without
 * CAP_SYS_MODULE: each a failure with what to do; lockdown is said.
 */
void kb_doctor_check_machine(struct kb_ctx *ctx, struct kb_diagnosis *d);

/* Does /etc/kbuildd/policy.conf keep the module out (machine.c)? Names the line. */
void kb_doctor_check_policy(struct kb_ctx *ctx, struct kb_diagnosis *d);

/* The signature and trusted-key checks (trust.c). */
void kb_doctor_check_signature(struct kb_ctx *ctx, struct kb_diagnosis *d);
/* During a key rotation: the new certificate to enroll, a module still signed with the old key. */
void kb_doctor_check_rotation(struct kb_ctx *ctx, struct kb_diagnosis *d);
