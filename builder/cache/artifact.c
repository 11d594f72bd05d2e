/* A build cache artifact's manifest: written by the builder, parsed from any store's answer. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "cache/artifact.h"
#include "kernel.h"
#include "recipe.h"

#define FORMAT_LINE "kbuildd-artifact 1"

static const char *const kind_names[] = { "installed", "build", "log" };

void kb_artifact_init(struct kb_artifact *a)
{
	memset(a, 0, sizeof(*a));
	kb_buf_init(&a->text, KB_MAX_ARTIFACT_MANIFEST);
	kb_buf_init(&a->sig, KB_MAX_ARTIFACT_MANIFEST);
}

void kb_artifact_release(struct kb_artifact *a)
{
	for (size_t i = 0; i < a->n; i++) {
		free(a->files[i].path);
		kb_buf_release(&a->files[i].data);
	}
	free(a->files);
	free(a->recipe);
	free(a->version);
	free(a->kernel);
	free(a->failed);
	kb_buf_release(&a->text);
	kb_buf_release(&a->sig);
	memset(a, 0, sizeof(*a));
}

static struct kb_artifact_file *add_file(struct kb_artifact *a, const char *path, size_t len)
{
	struct kb_artifact_file *v, *f;

	if (a->n == KB_MAX_ARTIFACT_FILES)
		return NULL;
	v = realloc(a->files, (a->n + 1) * sizeof(*v));
	if (!v)
		return NULL;
	a->files = v;
	f = &v[a->n];
	memset(f, 0, sizeof(*f));
	f->path = strndup(path, len);
	if (!f->path)
		return NULL;
	kb_buf_init(&f->data, KB_MAX_MODULE_SIZE);
	a->n++;
	return f;
}

int kb_artifact_add(struct kb_artifact *a, const char *path, enum kb_artifact_kind kind,
		    struct kb_buf *data)
{
	struct kb_artifact_file *f = add_file(a, path, strlen(path));

	if (!f)
		return a->n == KB_MAX_ARTIFACT_FILES ? -E2BIG : -ENOMEM;
	f->kind = kind;
	f->size = data->len;
	kb_sha256_hex(data->buf ? data->buf : "", data->len, f->sha256);
	kb_buf_release(&f->data);
	f->data = *data;
	kb_buf_init(data, data->max);
	return 0;
}

int kb_artifact_format(struct kb_artifact *a)
{
	kb_buf_reset(&a->text);
	kb_buf_addf(&a->text, "%s\nrecipe %s\nversion %s\nkernel %s\nbuild-id %s\n", FORMAT_LINE,
		    a->recipe, a->version, a->kernel, a->build_id);
	if (a->failed)
		kb_buf_addf(&a->text, "failed %s\n", a->failed);
	for (size_t i = 0; i < a->n; i++)
		kb_buf_addf(&a->text, "%s %s %zu %s\n", kind_names[a->files[i].kind],
			    a->files[i].sha256, a->files[i].size, a->files[i].path);
	return kb_buf_error(&a->text);
}

/* Say in @why what was expected; -KB_E_INPUT. */
static int bad(char *why, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int bad(char *why, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, size, fmt, ap);
	va_end(ap);
	return -KB_E_INPUT;
}

static bool is_hex64(const char *s, size_t len)
{
	if (len != KB_SHA256_HEX - 1)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!strchr("0123456789abcdef", s[i]))
			return false;
	return true;
}

/* A path a store may name: relative, no "..", ".", empty part or byte outside printable ASCII. */
static bool path_sound(const char *p, size_t len)
{
	size_t part = 0;

	if (!len || p[0] == '/')
		return false;
	for (size_t i = 0; i <= len; i++) {
		if (i == len || p[i] == '/') {
			if (part == 0 || (part == 1 && p[i - 1] == '.') ||
			    (part == 2 && p[i - 1] == '.' && p[i - 2] == '.'))
				return false;
			part = 0;
			continue;
		}
		if (p[i] <= ' ' || p[i] > '~')
			return false;
		part++;
	}
	return true;
}

/* May an artifact of this outcome hold a file of @kind at @v (@len bytes)? */
static bool path_allowed(const struct kb_artifact *a, enum kb_artifact_kind kind, const char *v,
			 size_t len)
{
	char prefix[KB_MAX_RELEASE + 16];

	if (!path_sound(v, len) || (kind == KB_ARTIFACT_LOG) != !!a->failed)
		return false;
	if (kind == KB_ARTIFACT_BUILD)
		return len == 14 && !memcmp(v, "Module.symvers", 14);
	if (kind == KB_ARTIFACT_LOG)
		return len == 9 && !memcmp(v, "build.log", 9);
	snprintf(prefix, sizeof(prefix), "lib/modules/%s/", a->kernel ? a->kernel : "");
	return a->kernel && len > strlen(prefix) && !strncmp(v, prefix, strlen(prefix));
}

static int file_line(struct kb_artifact *a, enum kb_artifact_kind kind, const char *v, size_t len,
		     char *why, size_t size)
{
	const char *sp = memchr(v, ' ', len), *sp2;
	unsigned long long n = 0;
	struct kb_artifact_file *f;

	if (!sp || !is_hex64(v, (size_t)(sp - v)))
		return bad(why, size, "expected 'SHA256 SIZE PATH'");
	sp2 = memchr(sp + 1, ' ', len - (size_t)(sp + 1 - v));
	if (!sp2 || sp2 == sp + 1)
		return bad(why, size, "expected 'SHA256 SIZE PATH'");
	for (const char *d = sp + 1; d < sp2; d++) {
		if (*d < '0' || *d > '9' || n > KB_MAX_MODULE_SIZE)
			return bad(why, size, "invalid size");
		n = n * 10 + (unsigned)(*d - '0');
	}
	if (n > KB_MAX_MODULE_SIZE)
		return bad(why, size, "a file larger than %d bytes", KB_MAX_MODULE_SIZE);
	len -= (size_t)(sp2 + 1 - v);
	v = sp2 + 1;
	if (!path_allowed(a, kind, v, len))
		return bad(why, size, "'%.*s' is not a path this artifact may hold", (int)len, v);
	for (size_t i = 0; i < a->n; i++)
		if (strlen(a->files[i].path) == len && !memcmp(a->files[i].path, v, len))
			return bad(why, size, "'%.*s' twice", (int)len, v);
	f = add_file(a, v, len);
	if (!f)
		return a->n == KB_MAX_ARTIFACT_FILES ?
			       bad(why, size, "more than %d files", KB_MAX_ARTIFACT_FILES) :
			       -ENOMEM;
	f->kind = kind;
	f->size = (size_t)n;
	memcpy(f->sha256, sp - (KB_SHA256_HEX - 1), KB_SHA256_HEX - 1);
	return 0;
}

/* One "KEY VALUE" line, in the order the format has them. */
static int field_line(struct kb_artifact *a, unsigned lineno, const char *key, const char *v,
		      size_t len, char *why, size_t size)
{
	static const char *const order[] = { "recipe", "version", "kernel", "build-id" };
	char *value;

	if (lineno - 2 >= 4 || strcmp(key, order[lineno - 2]))
		return bad(why, size, "expected '%s'",
			   lineno - 2 < 4 ? order[lineno - 2] : "installed, build, log or failed");
	if (lineno == 5) {
		if (!is_hex64(v, len))
			return bad(why, size, "invalid build id");
		memcpy(a->build_id, v, len);
		a->build_id[len] = '\0';
		return 0;
	}
	value = strndup(v, len);
	if (!value)
		return -ENOMEM;
	if ((lineno == 2 && !kb_recipe_name_valid(value)) ||
	    (lineno == 3 && !kb_recipe_version_valid(value)) ||
	    (lineno == 4 && !kb_kernel_release_valid(value))) {
		bad(why, size, "invalid %s '%.64s'", key, value);
		free(value);
		return -KB_E_INPUT;
	}
	*(lineno == 2 ? &a->recipe : lineno == 3 ? &a->version : &a->kernel) = value;
	return 0;
}

static int kind_of(const char *key)
{
	for (size_t i = 0; i < sizeof(kind_names) / sizeof(kind_names[0]); i++)
		if (!strcmp(key, kind_names[i]))
			return (int)i;
	return -1;
}

/* "failed REASON": printable, one line */
static int failed_line(struct kb_artifact *a, const char *v, size_t len, char *why, size_t size)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)v[i] < ' ' || v[i] == 0x7f)
			return bad(why, size, "the reason holds a control character");
	if (!len || len > 1024)
		return bad(why, size, "expected a reason of 1 to 1024 bytes");
	a->failed = strndup(v, len);
	return a->failed ? 0 : -ENOMEM;
}

int kb_artifact_parse(struct kb_artifact *a, char *why, size_t size)
{
	const char *p = kb_buf_str(&a->text), *end = p + a->text.len;
	char msg[256] = "";
	unsigned lineno = 0;
	int r = 0;

	if (memchr(p, '\0', a->text.len))
		return bad(why, size, "the manifest holds a NUL byte");
	while (r >= 0 && p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p)), *sp;
		size_t len;
		char key[16];

		lineno++;
		if (!nl) {
			r = bad(msg, sizeof(msg), "the last line does not end");
			break;
		}
		len = (size_t)(nl - p);
		sp = memchr(p, ' ', len);
		if (lineno == 1) {
			if (len != strlen(FORMAT_LINE) || memcmp(p, FORMAT_LINE, len))
				r = bad(msg, sizeof(msg), "expected '%s'", FORMAT_LINE);
		} else if (!sp || (size_t)(sp - p) >= sizeof(key)) {
			r = bad(msg, sizeof(msg), "expected 'KEY VALUE'");
		} else {
			memcpy(key, p, (size_t)(sp - p));
			key[sp - p] = '\0';
			int kind = kind_of(key);

			if (lineno > 5 && kind >= 0)
				r = file_line(a, kind, sp + 1, len - (size_t)(sp + 1 - p), msg,
					      sizeof(msg));
			else if (lineno == 6 && !strcmp(key, "failed"))
				r = failed_line(a, sp + 1, len - (size_t)(sp + 1 - p), msg,
						sizeof(msg));
			else
				r = field_line(a, lineno, key, sp + 1, len - (size_t)(sp + 1 - p),
					       msg, sizeof(msg));
		}
		p = nl + 1;
	}
	if (r >= 0 && a->n == 0) {
		r = bad(msg, sizeof(msg), "it names no file");
		lineno++; /* where the first file was expected */
	}
	if (r == -KB_E_INPUT)
		snprintf(why, size, "line %u: %s", lineno, msg);
	return r;
}
