/* policy.conf: read as hostile input, every error naming its line; rendered for modprobe. */
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/policy.h"
#include "base/limits.h"
#include "base/log.h"
#include "manifest.h"

#define POLICY_SHOWN "/" KB_POLICY_FILE
#define OURS "# Written by 'kbuildd policy apply' from " POLICY_SHOWN ".\n"
#define MAX_PATTERNS 4096

struct parse {
	struct kb_policy *p;
	const char *file;
	unsigned line;
};

static bool pattern_valid(const char *s)
{
	if (!*s || strlen(s) >= KB_MAX_NAME * 2)
		return false;
	for (; *s; s++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-*?[]!",
			    *s))
			return false;
	return true;
}

static int add_items(struct parse *ps, const char *key, char *value, struct kb_policy_item **v,
		     size_t *n)
{
	char *save = NULL;

	for (char *w = strtok_r(value, " \t,", &save); w; w = strtok_r(NULL, " \t,", &save)) {
		struct kb_policy_item *grown;

		if (!pattern_valid(w))
			return kb_err(-KB_E_INPUT,
				      "%s:%u: '%s' in %s is no module name: expected names or "
				      "globs of letters, digits, '_', '-', '*', '?', '[...]'",
				      ps->file, ps->line, w, key);
		if (*n >= MAX_PATTERNS)
			return kb_err(-KB_E_INPUT, "%s:%u: more than %d names in %s", ps->file,
				      ps->line, MAX_PATTERNS, key);
		grown = realloc(*v, (*n + 1) * sizeof(**v));
		if (!grown)
			return -ENOMEM;
		*v = grown;
		grown[*n].line = ps->line;
		if (!(grown[*n].pattern = strdup(w)))
			return -ENOMEM;
		kb_module_name_normalize(grown[*n].pattern);
		(*n)++;
	}
	return 0;
}

static int set_flag(struct parse *ps, const char *key, const char *value, unsigned *line)
{
	bool on;

	if (kb_parse_bool(value, &on) < 0)
		return kb_err(-KB_E_INPUT, "%s:%u: %s = '%s': expected yes or no", ps->file,
			      ps->line, key, value);
	*line = on ? ps->line : 0;
	return 0;
}

static int parse_setting(struct parse *ps, char *key, char *value)
{
	struct kb_policy *p = ps->p;

	if (!strcmp(key, "allow"))
		return add_items(ps, key, value, &p->allow, &p->n_allow);
	if (!strcmp(key, "deny"))
		return add_items(ps, key, value, &p->deny, &p->n_deny);
	if (!strcmp(key, "require_signed"))
		return set_flag(ps, key, value, &p->require_signed);
	if (!strcmp(key, "require_trusted_key"))
		return set_flag(ps, key, value, &p->require_trusted_key);
	if (!strcmp(key, "forbid_unowned"))
		return set_flag(ps, key, value, &p->forbid_unowned);
	return kb_err(-KB_E_INPUT,
		      "%s:%u: unknown setting '%s': expected allow, deny, require_signed, "
		      "require_trusted_key or forbid_unowned",
		      ps->file, ps->line, key);
}

static int parse_line(struct parse *ps, char *line)
{
	char *s = kb_strstrip(line), *eq;

	if (!*s || *s == '#' || *s == ';')
		return 0;
	if (*s == '[') {
		if (strcmp(s, "[policy]"))
			return kb_err(-KB_E_INPUT, "%s:%u: unknown section '%s': expected [policy]",
				      ps->file, ps->line, s);
		return 0;
	}
	eq = strchr(s, '=');
	if (!eq)
		return kb_err(-KB_E_INPUT, "%s:%u: expected 'key = value', '[policy]' or a comment",
			      ps->file, ps->line);
	*eq = '\0';
	return parse_setting(ps, kb_strstrip(s), kb_strstrip(eq + 1));
}

int kb_policy_load(const struct kb_ctx *ctx, struct kb_policy *p)
{
	struct kb_buf text = KB_BUF_INIT_MAX(KB_MAX_CONFIG_SIZE);
	_cleanup_free_ char *shown = kb_root_path(&ctx->root, KB_POLICY_FILE);
	struct parse ps = { .p = p, .file = shown ? shown : POLICY_SHOWN };
	char *line, *next;
	int r, errors = 0;

	memset(p, 0, sizeof(*p));
	r = kb_root_read(&ctx->root, KB_POLICY_FILE, text.max, &text);
	if (r == -ENOENT) {
		kb_buf_release(&text);
		return 0;
	}
	if (r < 0) {
		if (r != -KB_E_INPUT)
			kb_err_errno(r, "cannot read '%s'", ps.file);
		kb_buf_release(&text);
		return -KB_E_INPUT;
	}
	p->present = true;
	for (line = text.buf; line && r >= 0; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		ps.line++;
		r = parse_line(&ps, line);
		if (r == -KB_E_INPUT) {
			errors++;
			r = 0; /* every bad line is said */
		}
	}
	kb_buf_release(&text);
	if (r < 0 || errors) {
		kb_policy_release(p);
		return r < 0 ? r : -KB_E_INPUT;
	}
	return 0;
}

void kb_policy_release(struct kb_policy *p)
{
	for (size_t i = 0; i < p->n_allow; i++)
		free(p->allow[i].pattern);
	for (size_t i = 0; i < p->n_deny; i++)
		free(p->deny[i].pattern);
	free(p->allow);
	free(p->deny);
	memset(p, 0, sizeof(*p));
}

static const struct kb_policy_item *matching(const struct kb_policy_item *v, size_t n,
					     const char *module)
{
	char name[KB_MAX_NAME * 4];

	snprintf(name, sizeof(name), "%s", module);
	kb_module_name_normalize(name);
	for (size_t i = 0; i < n; i++)
		if (!fnmatch(v[i].pattern, name, 0))
			return &v[i];
	return NULL;
}

bool kb_policy_blocks(const struct kb_policy *p, const char *module, char *why, size_t size)
{
	const struct kb_policy_item *hit = matching(p->deny, p->n_deny, module);

	if (hit) {
		snprintf(why, size, "%s:%u: deny = %s", POLICY_SHOWN, hit->line, hit->pattern);
		return true;
	}
	if (p->n_allow && !matching(p->allow, p->n_allow, module)) {
		snprintf(why, size, "%s:%u: allow = ... does not name it", POLICY_SHOWN,
			 p->allow[0].line);
		return true;
	}
	return false;
}

static bool is_glob(const char *s)
{
	return strpbrk(s, "*?[") != NULL;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int kb_policy_render(const struct kb_policy *p, const struct kb_strv *installed, struct kb_buf *out,
		     struct kb_strv *blocked)
{
	char why[512];

	for (size_t i = 0; i < p->n_deny; i++)
		if (!is_glob(p->deny[i].pattern) && !kb_strv_contains(blocked, p->deny[i].pattern))
			kb_strv_push(blocked, p->deny[i].pattern);
	for (size_t i = 0; i < installed->n; i++)
		if (kb_policy_blocks(p, installed->v[i], why, sizeof(why)) &&
		    !kb_strv_contains(blocked, installed->v[i]))
			kb_strv_push(blocked, installed->v[i]);
	if (kb_strv_error(blocked))
		return kb_strv_error(blocked);
	if (blocked->n)
		qsort(blocked->v, blocked->n, sizeof(*blocked->v), name_cmp);
	kb_buf_adds(out, OURS "# Do not edit: each apply, and each kernel kbuildd sees arrive, "
			      "rewrites it.\n");
	for (size_t i = 0; i < blocked->n; i++) {
		kb_policy_blocks(p, blocked->v[i], why, sizeof(why));
		kb_buf_addf(out, "\n# %s\nblacklist %s\ninstall %s /bin/false\n", why,
			    blocked->v[i], blocked->v[i]);
	}
	return kb_buf_error(out);
}

bool kb_policy_file_is_ours(const char *head)
{
	return kb_str_startswith(head, OURS);
}
