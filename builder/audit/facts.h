/* What the running kernel says of itself and of its keys, read under the root's /proc and /sys. */
#pragma once

#include "base/limits.h"
#include "ctx.h"

struct kb_machine {
	bool modules;	      /* /proc/modules is there (CONFIG_MODULES) */
	int modules_disabled; /* kernel.modules_disabled: 0, 1, or -1 not known */
	int sig_enforce;      /* module.sig_enforce: 0, 1, or -1 not known */
	int secure_boot;      /* the firmware's SecureBoot variable: 0, 1, or -1 not known */
	char lockdown[16];    /* none, integrity, confidentiality, or "" not known */
	bool have_taint;
	unsigned long taint;		  /* kernel.tainted */
	char release[KB_MAX_RELEASE + 1]; /* kernel.osrelease, or "" */
};

void kb_machine_read(const struct kb_ctx *ctx, struct kb_machine *m);

/* The kernel's taint flag of bit @bit (Documentation/admin-guide/tainted-kernels.rst), or NULL. */
struct kb_taint_flag {
	char letter;
	const char *words;
};
const struct kb_taint_flag *kb_taint_flag(unsigned bit);
/* "O (out-of-tree module), E (unsigned module)" for the letters of /sys/module/M/taint. */
void kb_taint_letters_words(const char *letters, struct kb_buf *out);
/* The same for a kernel.tainted mask; "none" for 0. */
void kb_taint_mask_words(unsigned long mask, struct kb_buf *out);

/*
 * The keys of /proc/keys. It lists every key but not its keyring: on the
 * machine itself (root /) each system keyring is asked for its members
 * (keyctl read); under another root the membership is not known, and a
 * key listed there counts as one the kernel trusts.
 */
struct kb_key {
	unsigned serial;
	char *desc;	  /* "CN: SKID: X509.rsa ID []" */
	char keyring[32]; /* the system keyring holding it, or "" not known */
};

struct kb_keyring_set {
	struct kb_key *v;
	size_t n;
	bool readable;	    /* /proc/keys could be read */
	bool members_known; /* the trusted keyrings were asked for their members */
};

int kb_keyring_read(const struct kb_ctx *ctx, struct kb_keyring_set *s);
void kb_keyring_release(struct kb_keyring_set *s);
/* The asymmetric key "CN: SKID" (@skid hex, or NULL: the CN alone), or NULL. */
const struct kb_key *kb_keyring_find(const struct kb_keyring_set *s, const char *cn,
				     const char *skid);
/* Is @key one the kernel checks module signatures with? */
bool kb_key_trusted_for_modules(const struct kb_keyring_set *s, const struct kb_key *key);
