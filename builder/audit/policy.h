/*
 * /etc/kbuildd/policy.conf: which modules may load on this machine, and what
 * each must be; and the modprobe.d file that makes modprobe refuse the rest.
 */
#pragma once

#include "ctx.h"

#define KB_POLICY_FILE "etc/kbuildd/policy.conf"
#define KB_POLICY_MODPROBE "etc/modprobe.d/kbuildd-policy.conf"

struct kb_policy_item {
	char *pattern; /* a module name or a glob, '-' read as '_' */
	unsigned line;
};

struct kb_policy {
	bool present;
	struct kb_policy_item *allow, *deny;
	size_t n_allow, n_deny;
	/* the line saying yes, or 0 when off */
	unsigned require_signed, require_trusted_key, forbid_unowned;
};

/* Read the policy under the root; no file is no policy. Errors name FILE:LINE (-KB_E_INPUT). */
int kb_policy_load(const struct kb_ctx *ctx, struct kb_policy *p);
void kb_policy_release(struct kb_policy *p);

/*
 * Does the policy keep @module from loading (deny, or an allow-list without
 * it)? @why then names the line: "/etc/kbuildd/policy.conf:3: deny = usb_storage".
 */
bool kb_policy_blocks(const struct kb_policy *p, const char *module, char *why, size_t size);

/*
 * The modprobe.d file for @p: every denied name, every installed module
 * (@installed: sorted names) a deny glob matches or an allow-list leaves
 * out, each as `blacklist M` and `install M /bin/false`. @blocked receives
 * the names.
 */
int kb_policy_render(const struct kb_policy *p, const struct kb_strv *installed, struct kb_buf *out,
		     struct kb_strv *blocked);
/* Is the text @head the start of a file kb_policy_render() wrote? */
bool kb_policy_file_is_ours(const char *head);
