/* kbuildd.conf: site settings, every key optional (doc/design.md "State and files"). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ini.h>

#include "ctx.h"
#include "base/limits.h"
#include "base/log.h"
#include "dkms/framework.h"
#include "recipe.h"

#define SETTINGS_FILE "etc/kbuildd/kbuildd.conf"

struct settings_parse {
	struct kb_settings *s;
	const char *file;
	unsigned errors;
	const char *pos, *end; /* the text, for the line-counting reader */
	unsigned line;
};

/* inih's reader, counting lines so every message can name one. */
static char *settings_reader(char *str, int num, void *stream)
{
	struct settings_parse *sp = stream;
	const char *nl;
	size_t len;

	if (sp->pos >= sp->end)
		return NULL;
	nl = memchr(sp->pos, '\n', (size_t)(sp->end - sp->pos));
	len = nl ? (size_t)(nl - sp->pos) + 1 : (size_t)(sp->end - sp->pos);
	sp->line++;
	if (len + 1 > (size_t)num) {
		kb_err(-KB_E_INPUT, "%s:%u: line is longer than %d bytes", sp->file, sp->line,
		       num - 2);
		sp->errors++;
		len = 0;
	}
	memcpy(str, sp->pos, len);
	str[len] = '\0';
	sp->pos += nl ? (size_t)(nl - sp->pos) + 1 : (size_t)(sp->end - sp->pos);
	return str;
}

static int set_str(char **field, const char *value)
{
	free(*field);
	*field = strdup(value);
	return *field ? 0 : -ENOMEM;
}

static int one_of(const char *value, const char *const *allowed)
{
	for (; *allowed; allowed++)
		if (!strcmp(value, *allowed))
			return 0;
	return -EINVAL;
}

/* [cache]: the fleet's build cache */
static int store_setting(struct kb_store_settings *s, const char *section, const char *key,
			 const char *value)
{
	if (strcmp(section, "cache"))
		return -ENOENT;
	if (!strcmp(key, "url"))
		return kb_str_startswith(value, "oci://") || kb_str_startswith(value, "https://") ||
				       kb_str_startswith(value, "http://") ?
			       set_str(&s->url, value) :
			       -EINVAL;
	if (!strcmp(key, "push"))
		return kb_parse_bool(value, &s->push);
	if (!strcmp(key, "insecure"))
		return kb_parse_bool(value, &s->insecure);
	if (!strcmp(key, "trust"))
		return set_str(&s->trust, value);
	if (!strcmp(key, "auth"))
		return set_str(&s->auth, value);
	if (!strcmp(key, "ca_file"))
		return set_str(&s->ca_file, value);
	if (!strcmp(key, "timeout"))
		return kb_parse_uint(value, 3600, &s->timeout) < 0 || !s->timeout ? -EINVAL : 0;
	return -ENOENT;
}

static int settings_handler(void *user, const char *section, const char *key, const char *value)
{
	static const char *const compress[] = { "auto", "none", "xz", "zstd", NULL };
	static const char *const backends[] = {
		"auto",	   "initramfs-tools", "dracut", "mkinitcpio", "kernel-install",
		"command", "builtin",	      "none",	NULL
	};
	struct settings_parse *sp = user;
	struct kb_settings *s = sp->s;
	int r = -ENOENT;

	if (!strcmp(section, "build")) {
		if (!strcmp(key, "jobs")) {
			r = !strcmp(value, "auto") ? (s->jobs = 0, 0) :
			    kb_parse_uint(value, KB_MAX_JOBS, &s->jobs) < 0 || !s->jobs ? -EINVAL :
											  0;
			s->jobs_set = r == 0;
		} else if (!strcmp(key, "timeout")) {
			r = kb_parse_uint(value, 7 * 24 * 3600, &s->timeout) < 0 || !s->timeout ?
				    -EINVAL :
				    0;
		} else if (!strcmp(key, "user")) {
			r = set_str(&s->user, value);
		} else if (!strcmp(key, "reuse")) {
			r = !strcmp(value, "exact") ? (s->reuse = KB_REUSE_EXACT, 0) :
			    !strcmp(value, "kabi")  ? (s->reuse = KB_REUSE_KABI, 0) :
			    !strcmp(value, "no")    ? (s->reuse = KB_REUSE_NO, 0) :
						      -EINVAL;
		}
	} else if (!strcmp(section, "cache")) {
		r = store_setting(&s->store, section, key, value);
	} else if (!strcmp(section, "export")) {
		if (!strcmp(key, "maintainer"))
			r = strchr(value, '<') && strchr(value, '@') &&
					    value[strlen(value) - 1] == '>' ?
				    set_str(&s->maintainer, value) :
				    -EINVAL;
	} else if (!strcmp(section, "signing")) {
		if (!strcmp(key, "key"))
			r = set_str(&s->sign_key, value);
		else if (!strcmp(key, "cert"))
			r = set_str(&s->sign_cert, value);
		else if (!strcmp(key, "hash"))
			r = set_str(&s->sign_hash, value);
		else if (!strcmp(key, "pin_file"))
			r = set_str(&s->sign_pin_file, value);
		else if (!strcmp(key, "next_key"))
			r = set_str(&s->sign_next_key, value);
		else if (!strcmp(key, "next_cert"))
			r = set_str(&s->sign_next_cert, value);
		else if (!strcmp(key, "expiry_warn_days"))
			r = kb_parse_uint(value, 3650, &s->cert_warn_days) < 0 ? -EINVAL : 0;
	} else if (!strcmp(section, "install")) {
		if (!strcmp(key, "dest"))
			r = kb_dest_valid(value) ? set_str(&s->dest, value) : -EINVAL;
		else if (!strcmp(key, "compress") && !strcmp(value, "gzip")) {
			kb_err(-KB_E_INPUT,
			       "%s:%u: compress = gzip: kmod on this system cannot read "
			       ".ko.gz modules; use xz or zstd",
			       sp->file, sp->line);
			sp->errors++;
			return 1;
		} else if (!strcmp(key, "compress"))
			r = one_of(value, compress) ?: set_str(&s->compress, value);
	} else if (!strcmp(section, "initramfs")) {
		if (!strcmp(key, "backend"))
			r = one_of(value, backends) ?: set_str(&s->initramfs_backend, value);
		else if (!strcmp(key, "command"))
			r = set_str(&s->initramfs_command, value);
	} else if (!strcmp(section, "hooks")) {
		if (!strcmp(key, "strict"))
			r = kb_parse_bool(value, &s->hooks_strict);
	} else if (!strcmp(section, "sources")) {
		if (!strcmp(key, "cache"))
			r = set_str(&s->cache, value);
		else if (!strcmp(key, "offline"))
			r = kb_parse_bool(value, &s->offline);
		else if (!strcmp(key, "ca_file"))
			r = set_str(&s->ca_file, value);
		else if (!strcmp(key, "timeout"))
			r = kb_parse_uint(value, 86400, &s->fetch_timeout) < 0 ||
					    !s->fetch_timeout ?
				    -EINVAL :
				    0;
	}
	if (r == -ENOENT)
		kb_err(-KB_E_INPUT, "%s:%u: unknown setting '%s' in [%s]", sp->file, sp->line, key,
		       section);
	else if (r == -EINVAL)
		kb_err(-KB_E_INPUT, "%s:%u: invalid value '%s' for '%s' in [%s]", sp->file,
		       sp->line, value, key, section);
	if (r < 0)
		sp->errors++;
	return 1;
}

int kb_settings_load(struct kb_ctx *ctx)
{
	struct settings_parse sp = { .s = &ctx->settings };
	struct kb_buf text = KB_BUF_INIT_MAX(KB_MAX_CONFIG_SIZE);
	_cleanup_free_ char *shown = NULL;
	int r;

	ctx->settings.timeout = 3600;
	ctx->settings.cert_warn_days = 90;
	ctx->settings.store.timeout = 10;
	if (ctx->config_file) {
		sp.file = ctx->config_file;
		r = kb_read_file(AT_FDCWD, ctx->config_file, KB_MAX_CONFIG_SIZE, &text);
	} else {
		shown = kb_root_path(&ctx->root, SETTINGS_FILE);
		sp.file = shown ? shown : SETTINGS_FILE;
		r = kb_root_read(&ctx->root, SETTINGS_FILE, KB_MAX_CONFIG_SIZE, &text);
		if (r == -ENOENT)
			r = 0; /* every setting is optional */
	}
	if (r < 0) {
		if (r != -KB_E_INPUT)
			kb_err_errno(r, "cannot read '%s'", sp.file);
		r = -KB_E_INPUT;
		goto out;
	}
	sp.pos = kb_buf_str(&text);
	sp.end = sp.pos + text.len;
	r = ini_parse_stream(settings_reader, &sp, settings_handler, &sp);
	if (r > 0)
		r = kb_err(-KB_E_INPUT, "%s:%d: expected 'key = value', '[section]' or a comment",
			   sp.file, r);
	else if (sp.errors)
		r = -KB_E_INPUT;
	else if (ctx->settings.store.url && kb_str_startswith(ctx->settings.store.url, "http://") &&
		 !ctx->settings.store.insecure)
		r = kb_err(-KB_E_INPUT,
			   "%s: [cache] url '%s' is plain HTTP: anyone on the path could answer "
			   "for it; use https:// or oci://, or set insecure = yes",
			   sp.file, ctx->settings.store.url);
out:
	kb_buf_release(&text);
	return r < 0 ? r : 0;
}

void kb_settings_release(struct kb_settings *s)
{
	free(s->user);
	free(s->dest);
	free(s->compress);
	free(s->initramfs_backend);
	free(s->initramfs_command);
	free(s->sign_key);
	free(s->sign_cert);
	free(s->sign_hash);
	free(s->sign_pin_file);
	free(s->sign_next_key);
	free(s->sign_next_cert);
	free(s->cache);
	free(s->ca_file);
	free(s->maintainer);
	free(s->store.url);
	free(s->store.trust);
	free(s->store.auth);
	free(s->store.ca_file);
	memset(s, 0, sizeof(*s));
}

static unsigned cpus_online(void)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	return cpus > 0 ? (unsigned)cpus : 1;
}

unsigned kb_ctx_jobs(const struct kb_ctx *ctx)
{
	if (ctx->jobs)
		return (unsigned)ctx->jobs;
	/* "jobs = auto" is a setting too: it wins over framework.conf */
	if (ctx->settings.jobs_set)
		return ctx->settings.jobs ? (unsigned)ctx->settings.jobs : cpus_online();
	if (ctx->framework && ctx->framework->jobs)
		return (unsigned)ctx->framework->jobs;
	return cpus_online();
}

const char *kb_ctx_dest(const struct kb_ctx *ctx)
{
	return ctx->settings.dest ? ctx->settings.dest : "updates/kbuildd";
}
