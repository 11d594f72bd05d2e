/*
 * kbuildd audit: every module loaded on the machine and, when asked, every
 * module file of its kernels; where each came from, who signed it, whether
 * the kernel trusts that key, and what the policy says of it.
 */
#pragma once

#include <time.h>

#include "audit/facts.h"
#include "audit/origin.h"
#include "audit/policy.h"
#include "signing/sign.h"

enum kb_trust {
	KB_TRUST_UNSIGNED,
	KB_TRUST_DAMAGED,   /* the signature trailer cannot be read */
	KB_TRUST_YES,	    /* in a keyring the kernel checks modules with */
	KB_TRUST_NO,	    /* in none of them */
	KB_TRUST_UNCHECKED, /* not the running kernel, or /proc/keys unreadable */
};

enum kb_copy {
	KB_COPY_NONE,	 /* not loaded, or no file to compare */
	KB_COPY_SAME,	 /* the loaded module has the file's srcversion */
	KB_COPY_OTHER,	 /* it has another */
	KB_COPY_UNKNOWN, /* no srcversion to compare */
};

struct kb_audit_entry {
	char module[KB_MAX_NAME * 2];
	char release[KB_MAX_RELEASE + 1];
	char *rel; /* lib/modules/..., NULL when no file is known */
	bool loaded;
	char taint[32]; /* /sys/module/M/taint */
	char srcversion[64], loaded_srcversion[64];
	enum kb_copy copy;
	bool intree;
	char license[64];
	char error[320]; /* the file could not be read: why */
	enum kb_trust trust;
	struct kb_sig_report sig;
	char keyring[32]; /* where the kernel keeps the key, "" not known */
	/* the signer's certificate, when kbuildd knows it */
	bool cert_known;
	time_t cert_not_after;
	char cert_path[256];
	struct kb_origin origin;
	struct kb_strv breaches; /* what of the policy it breaks, each naming the line */
};

struct kb_audit {
	struct kb_machine machine;
	struct kb_policy policy;
	struct kb_audit_entry *v;
	size_t n;
	unsigned breaches; /* entries breaking the policy */
	time_t now;
	unsigned long warn_days; /* [signing] expiry_warn_days */
};

/*
 * Audit the loaded modules and, with @installed, the module files of
 * @kernels (each directory of /lib/modules when empty). Bad policy or input is
 * -KB_E_INPUT, said.
 */
int kb_audit_run(struct kb_ctx *ctx, bool installed, const struct kb_strv *kernels,
		 struct kb_audit *a);
void kb_audit_release(struct kb_audit *a);
/* The names of every module file in /lib/modules, sorted, each once (kernel names normalized). */
int kb_audit_module_names(struct kb_ctx *ctx, struct kb_strv *names);
/* Days from @a->now to the end of @e's signing certificate (negative: past). */
long kb_audit_cert_days(const struct kb_audit *a, const struct kb_audit_entry *e);
const char *kb_trust_name(enum kb_trust t);
