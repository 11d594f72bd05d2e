/* The running kernel's state and keys, as its /proc and /sys under the root show them. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "audit/facts.h"
#include "base/log.h"

#define SECURE_BOOT_VAR "sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c"
#define KEYCTL_READ 11
#define MAX_KEYS_FILE (4 * 1024 * 1024)
#define MAX_RING_MEMBERS 4096

static const struct kb_taint_flag taint_flags[] = {
	{ 'P', "proprietary module" },
	{ 'F', "module force loaded" },
	{ 'S', "out-of-specification system" },
	{ 'R', "module force unloaded" },
	{ 'M', "machine check" },
	{ 'B', "bad page" },
	{ 'U', "tainted by userspace" },
	{ 'D', "kernel died recently (oops or BUG)" },
	{ 'A', "ACPI table overridden" },
	{ 'W', "kernel warning" },
	{ 'C', "staging driver" },
	{ 'I', "firmware bug workaround" },
	{ 'O', "out-of-tree module" },
	{ 'E', "unsigned module" },
	{ 'L', "soft lockup" },
	{ 'K', "live patched" },
	{ 'X', "auxiliary (distribution)" },
	{ 'T', "struct randomization plugin" },
	{ 'N', "in-kernel test run" },
	{ 'J', "debugfs fwctl mutation" },
};

/* The keyrings whose keys verify module signatures (certs/system_keyring.c). */
static const char *const module_keyrings[] = { ".builtin_trusted_keys", ".secondary_trusted_keys",
					       ".machine" };

const struct kb_taint_flag *kb_taint_flag(unsigned bit)
{
	return bit < ARRAY_SIZE(taint_flags) ? &taint_flags[bit] : NULL;
}

void kb_taint_letters_words(const char *letters, struct kb_buf *out)
{
	bool first = true;

	for (const char *c = letters; *c; c++) {
		const char *words = "not known to kbuildd";

		if (*c == '\n' || *c == ' ')
			continue;
		for (size_t i = 0; i < ARRAY_SIZE(taint_flags); i++)
			if (taint_flags[i].letter == *c)
				words = taint_flags[i].words;
		kb_buf_addf(out, "%s%c (%s)", first ? "" : ", ", *c, words);
		first = false;
	}
	if (first)
		kb_buf_adds(out, "none");
}

void kb_taint_mask_words(unsigned long mask, struct kb_buf *out)
{
	bool first = true;

	for (unsigned bit = 0; bit < 8 * sizeof(mask); bit++) {
		const struct kb_taint_flag *f = kb_taint_flag(bit);

		if (!(mask & (1UL << bit)))
			continue;
		if (f)
			kb_buf_addf(out, "%s%c (%s)", first ? "" : ", ", f->letter, f->words);
		else
			kb_buf_addf(out, "%sbit %u", first ? "" : ", ", bit);
		first = false;
	}
	if (first)
		kb_buf_adds(out, "none");
}

/* The first line of <root>/@rel into @out; false when it cannot be read. */
static bool read_line(const struct kb_ctx *ctx, const char *rel, char *out, size_t size)
{
	struct kb_buf b = KB_BUF_INIT_MAX(64 * 1024);
	bool ok = kb_root_read(&ctx->root, rel, b.max, &b) == 0;

	if (ok)
		snprintf(out, size, "%.*s", (int)strcspn(kb_buf_str(&b), "\n"), kb_buf_str(&b));
	kb_buf_release(&b);
	return ok;
}

void kb_machine_read(const struct kb_ctx *ctx, struct kb_machine *m)
{
	struct kb_buf sb = KB_BUF_INIT_MAX(64);
	char line[256];

	memset(m, 0, sizeof(*m));
	m->modules = kb_root_exists(&ctx->root, "proc/modules");
	m->modules_disabled = read_line(ctx, "proc/sys/kernel/modules_disabled", line,
					sizeof(line)) ?
				      line[0] == '1' :
				      -1;
	m->sig_enforce = read_line(ctx, "sys/module/module/parameters/sig_enforce", line,
				   sizeof(line)) ?
				 line[0] == 'Y' || line[0] == '1' :
				 -1;
	/* efivarfs: 4 attribute bytes, then the value */
	m->secure_boot = kb_root_read(&ctx->root, SECURE_BOOT_VAR, 64, &sb) < 0 ?
				 -1 :
				 sb.len >= 5 && sb.buf[sb.len - 1] == 1;
	kb_buf_release(&sb);
	if (read_line(ctx, "sys/kernel/security/lockdown", line, sizeof(line))) {
		const char *open = strchr(line, '['), *close = open ? strchr(open, ']') : NULL;

		if (open && close)
			snprintf(m->lockdown, sizeof(m->lockdown), "%.*s", (int)(close - open - 1),
				 open + 1);
	}
	m->have_taint = read_line(ctx, "proc/sys/kernel/tainted", line, sizeof(line)) &&
			kb_parse_uint(line, ~0UL, &m->taint) == 0;
	if (read_line(ctx, "proc/sys/kernel/osrelease", line, sizeof(line)))
		snprintf(m->release, sizeof(m->release), "%.*s", KB_MAX_RELEASE, line);
}

/* One /proc/keys line: "SERIAL FLAGS USAGE EXPIRY PERM UID GID TYPE DESCRIPTION". */
static int parse_key_line(const char *line, unsigned *serial, char *type, size_t tsize,
			  const char **desc)
{
	int end = 0;
	char t[16];

	if (sscanf(line, "%x %*s %*d %*s %*x %*d %*d %15s %n", serial, t, &end) < 2 || !end)
		return -1;
	snprintf(type, tsize, "%s", t);
	*desc = line + end;
	return 0;
}

/* Ask the kernel which keys keyring @ring holds: only for the machine's own keys. */
static int ring_members(unsigned ring, unsigned *out, size_t max)
{
	long n = syscall(SYS_keyctl, KEYCTL_READ, ring, out, max * sizeof(*out));

	if (n < 0)
		return -errno;
	return (int)((size_t)n > max * sizeof(*out) ? max : (size_t)n / sizeof(*out));
}

static void learn_membership(struct kb_keyring_set *s, unsigned *rings, char (*names)[32],
			     size_t n_rings)
{
	_cleanup_free_ unsigned *members = calloc(MAX_RING_MEMBERS, sizeof(*members));
	size_t asked = 0;

	for (size_t r = 0; members && r < n_rings; r++) {
		int n = ring_members(rings[r], members, MAX_RING_MEMBERS);

		if (n < 0)
			continue;
		for (size_t i = 0; i < ARRAY_SIZE(module_keyrings); i++)
			asked += !strcmp(names[r], module_keyrings[i]);
		for (int m = 0; m < n; m++)
			for (size_t k = 0; k < s->n; k++)
				if (s->v[k].serial == members[m])
					snprintf(s->v[k].keyring, sizeof(s->v[k].keyring), "%.31s",
						 names[r]);
	}
	s->members_known = asked > 0;
}

int kb_keyring_read(const struct kb_ctx *ctx, struct kb_keyring_set *s)
{
	struct kb_buf text = KB_BUF_INIT_MAX(MAX_KEYS_FILE);
	unsigned rings[16];
	char names[16][32];
	size_t n_rings = 0;
	char *line, *save = NULL;
	int r;

	memset(s, 0, sizeof(*s));
	r = kb_root_read(&ctx->root, "proc/keys", text.max, &text);
	if (r < 0) {
		kb_buf_release(&text);
		return r;
	}
	s->readable = true;
	for (line = strtok_r(text.len ? text.buf : (char[1]){ 0 }, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char type[16];
		const char *desc;
		unsigned serial;
		struct kb_key *v;

		if (parse_key_line(line, &serial, type, sizeof(type), &desc) < 0)
			continue;
		if (!strcmp(type, "keyring") && desc[0] == '.' && n_rings < ARRAY_SIZE(rings)) {
			rings[n_rings] = serial;
			snprintf(names[n_rings++], sizeof(names[0]), "%.*s",
				 (int)strcspn(desc, ":"), desc);
			continue;
		}
		if (strcmp(type, "asymmetri") || !(v = realloc(s->v, (s->n + 1) * sizeof(*v))))
			continue;
		s->v = v;
		v[s->n] = (struct kb_key){ .serial = serial, .desc = strdup(desc) };
		if (v[s->n].desc)
			s->n++;
	}
	kb_buf_release(&text);
	/* the kernel answers for its own keys only: under another root there is none to ask */
	if (!strcmp(ctx->root.path, "/"))
		learn_membership(s, rings, names, n_rings);
	return 0;
}

void kb_keyring_release(struct kb_keyring_set *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i].desc);
	free(s->v);
	memset(s, 0, sizeof(*s));
}

const struct kb_key *kb_keyring_find(const struct kb_keyring_set *s, const char *cn,
				     const char *skid)
{
	size_t len = strlen(cn);

	for (size_t i = 0; i < s->n; i++) {
		const char *d = s->v[i].desc;

		if (strncmp(d, cn, len) || strncmp(d + len, ": ", 2))
			continue;
		if (!skid || !strncasecmp(d + len + 2, skid, strlen(skid)))
			return &s->v[i];
	}
	return NULL;
}

bool kb_key_trusted_for_modules(const struct kb_keyring_set *s, const struct kb_key *key)
{
	if (!key)
		return false;
	if (!s->members_known)
		return true;
	for (size_t i = 0; i < ARRAY_SIZE(module_keyrings); i++)
		if (!strcmp(key->keyring, module_keyrings[i]))
			return true;
	return false;
}
