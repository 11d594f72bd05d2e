/* JSON output: json-c values with one sticky error, written in kbuildd's layout. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include <json-c/json.h>

#include "base/log.h"
#include "cli/json.h"

/* json-c escapes '"', '\\' and control characters; '/' needs none. */
#define SCALAR_FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

static const char replacement[] = "\xef\xbf\xbd"; /* U+FFFD */

/*
 * The length of the UTF-8 sequence at @s (RFC 3629: no overlong forms, no
 * surrogates, nothing past U+10FFFF), or 0 with *@bad set to the length of
 * its longest valid start, which one U+FFFD replaces (Unicode's "maximal
 * subpart", what browsers and Python do).
 */
static size_t utf8_sequence(const unsigned char *s, size_t *bad)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t need;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		need = 1;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		need = 2;
		lo = s[0] == 0xe0 ? 0xa0 : 0x80;
		hi = s[0] == 0xed ? 0x9f : 0xbf;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		need = 3;
		lo = s[0] == 0xf0 ? 0x90 : 0x80;
		hi = s[0] == 0xf4 ? 0x8f : 0xbf;
	} else {
		*bad = 1;
		return 0;
	}
	for (size_t i = 1; i <= need; i++) {
		if (s[i] < lo || s[i] > hi) { /* the NUL ends a truncated sequence here */
			*bad = i;
			return 0;
		}
		lo = 0x80;
		hi = 0xbf;
	}
	return need + 1;
}

struct json_object *kb_json_string(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len = strlen(s), i = 0, bad = 0, n;
	struct kb_buf clean;
	struct json_object *v = NULL;
	int r = 0;

	while ((n = utf8_sequence(p + i, &bad)) && p[i])
		i += n;
	if (!p[i])
		return json_object_new_string(s);
	/* each replaced byte becomes at most three */
	kb_buf_init(&clean, len > (SIZE_MAX - 1) / 3 ? SIZE_MAX - 1 : 3 * len);
	r = kb_buf_add(&clean, s, i);
	while (r >= 0 && p[i]) {
		n = utf8_sequence(p + i, &bad);
		if (n) {
			r = kb_buf_add(&clean, p + i, n);
			i += n;
		} else {
			r = kb_buf_adds(&clean, replacement);
			i += bad;
		}
	}
	if (r >= 0)
		v = json_object_new_string_len(kb_buf_str(&clean), (int)clean.len);
	kb_buf_release(&clean);
	return v;
}

static int fail(struct kb_json *j, int err)
{
	if (!j->err)
		j->err = err;
	return j->err;
}

/* Hand @v to @obj as @key, or record why not; @made says @v was wanted (NULL is null). */
static void set(struct kb_json *j, struct json_object *obj, const char *key, struct json_object *v,
		bool made)
{
	if (!made)
		fail(j, -ENOMEM);
	else if (json_object_object_add(obj, key, v) < 0) {
		json_object_put(v);
		fail(j, -ENOMEM);
	}
}

/* Whether a setter may go on: the document has not failed and has @obj. */
static bool usable(struct kb_json *j, struct json_object *obj)
{
	if (j->err)
		return false;
	if (!obj)
		return fail(j, -EINVAL), false;
	return true;
}

struct json_object *kb_json_add_object(struct kb_json *j, struct json_object *parent)
{
	struct json_object *o;

	if (j->err)
		return NULL;
	if (!parent) {
		if (!j->top)
			j->top = json_object_new_array();
		if (!j->top)
			return fail(j, -ENOMEM), NULL;
		parent = j->top;
	}
	o = json_object_new_object();
	if (!o || json_object_array_add(parent, o) < 0) {
		json_object_put(o);
		return fail(j, -ENOMEM), NULL;
	}
	return o;
}

struct json_object *kb_json_set_object(struct kb_json *j, struct json_object *obj, const char *key)
{
	struct json_object *o;

	if (!usable(j, obj))
		return NULL;
	o = json_object_new_object();
	set(j, obj, key, o, o);
	return j->err ? NULL : o;
}

void kb_json_push_str(struct kb_json *j, struct json_object *array, const char *s)
{
	struct json_object *v;

	if (!usable(j, array))
		return;
	v = kb_json_string(s);
	if (!v || json_object_array_add(array, v) < 0) {
		json_object_put(v);
		fail(j, -ENOMEM);
	}
}

void kb_json_set_int(struct kb_json *j, struct json_object *obj, const char *key, long n)
{
	struct json_object *v;

	if (!usable(j, obj))
		return;
	v = json_object_new_int64(n);
	set(j, obj, key, v, v);
}

struct json_object *kb_json_add_array(struct kb_json *j, struct json_object *obj, const char *key)
{
	struct json_object *a;

	if (!usable(j, obj))
		return NULL;
	a = json_object_new_array();
	set(j, obj, key, a, a);
	return j->err ? NULL : a;
}

void kb_json_set_str(struct kb_json *j, struct json_object *obj, const char *key, const char *s)
{
	struct json_object *v;

	if (!usable(j, obj))
		return;
	v = s ? kb_json_string(s) : NULL;
	set(j, obj, key, v, !s || v);
}

void kb_json_set_bool(struct kb_json *j, struct json_object *obj, const char *key, bool b)
{
	struct json_object *v;

	if (!usable(j, obj))
		return;
	v = json_object_new_boolean(b);
	set(j, obj, key, v, v);
}

void kb_json_set_uint(struct kb_json *j, struct json_object *obj, const char *key, unsigned long n)
{
	struct json_object *v;

	if (!usable(j, obj))
		return;
	v = json_object_new_uint64(n);
	set(j, obj, key, v, v);
}

/* A scalar as json-c writes it (NULL: "null"). */
static int write_scalar(struct json_object *v, struct kb_buf *b)
{
	const char *s = json_object_to_json_string_ext(v, SCALAR_FLAGS);

	return s ? kb_buf_adds(b, s) : -ENOMEM;
}

static int write_object(struct json_object *obj, struct kb_buf *b)
{
	bool first = true;
	int r = kb_buf_addch(b, '{');

	json_object_object_foreach(obj, key, val)
	{
		struct json_object *name;

		if (r < 0)
			break;
		if (!first)
			r = kb_buf_adds(b, ", ");
		first = false;
		name = kb_json_string(key);
		r = r < 0 ? r : name ? write_scalar(name, b) : -ENOMEM;
		json_object_put(name);
		if (r >= 0)
			r = kb_buf_adds(b, ": ");
		if (r >= 0)
			r = kb_json_write_value(val, b);
	}
	return r < 0 ? r : kb_buf_addch(b, '}');
}

int kb_json_write_value(struct json_object *v, struct kb_buf *b)
{
	size_t n;
	int r;

	switch (json_object_get_type(v)) {
	case json_type_object:
		return write_object(v, b);
	case json_type_array:
		r = kb_buf_addch(b, '[');
		n = json_object_array_length(v);
		for (size_t i = 0; r >= 0 && i < n; i++) {
			if (i)
				r = kb_buf_adds(b, ", ");
			if (r >= 0)
				r = kb_json_write_value(json_object_array_get_idx(v, i), b);
		}
		return r < 0 ? r : kb_buf_addch(b, ']');
	default:
		return write_scalar(v, b);
	}
}

int kb_json_write(struct kb_json *j, struct kb_buf *b)
{
	size_t n = j->top ? json_object_array_length(j->top) : 0;
	int r = j->err;

	if (r >= 0)
		r = kb_buf_addch(b, '[');
	for (size_t i = 0; r >= 0 && i < n; i++) {
		r = kb_buf_adds(b, i ? ",\n " : "\n ");
		if (r >= 0)
			r = kb_json_write_value(json_object_array_get_idx(j->top, i), b);
	}
	if (r >= 0)
		r = kb_buf_adds(b, n ? "\n]\n" : "]\n");
	return r < 0 ? kb_err_errno(r, "cannot write the output as JSON") : 0;
}

int kb_json_write_one(struct kb_json *j, struct kb_buf *b)
{
	int r = j->err;

	if (r >= 0 && (!j->top || json_object_array_length(j->top) != 1))
		r = -EINVAL;
	if (r >= 0)
		r = kb_json_write_value(json_object_array_get_idx(j->top, 0), b);
	if (r >= 0)
		r = kb_buf_addch(b, '\n');
	return r < 0 ? kb_err_errno(r, "cannot write the output as JSON") : 0;
}

void kb_json_release(struct kb_json *j)
{
	json_object_put(j->top);
	j->top = NULL;
	j->err = 0;
}
