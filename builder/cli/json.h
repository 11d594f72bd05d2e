/*
 * JSON output: values are json-c's, so json-c does the escaping; this module
 * builds them with one sticky error and writes them in kbuildd's layout.
 */
#pragma once

#include <stdbool.h>

#include "base/strbuf.h"

struct json_object;

/*
 * A document being built: @top is the list printed, one element per line.
 * The first failure (-ENOMEM) is kept in @err and makes every later call a
 * no-op, so a caller adds without checking and checks once, at kb_json_write().
 */
struct kb_json {
	struct json_object *top;
	int err;
};
#define KB_JSON_INIT    \
	{               \
		NULL, 0 \
	}

/*
 * A new empty object appended to the array @parent, or to the top list when
 * @parent is NULL. NULL once the document has failed; every setter takes it.
 */
struct json_object *kb_json_add_object(struct kb_json *j, struct json_object *parent);
/* A new empty array set as @key of @obj; NULL as above. */
struct json_object *kb_json_add_array(struct kb_json *j, struct json_object *obj, const char *key);
/* Set @key of @obj to the string @s (kb_json_string()), or to null when @s is NULL. */
void kb_json_set_str(struct kb_json *j, struct json_object *obj, const char *key, const char *s);
void kb_json_set_bool(struct kb_json *j, struct json_object *obj, const char *key, bool v);
void kb_json_set_uint(struct kb_json *j, struct json_object *obj, const char *key, unsigned long n);
void kb_json_set_int(struct kb_json *j, struct json_object *obj, const char *key, long n);
/* A new empty object set as @key of @obj; NULL as above. */
struct json_object *kb_json_set_object(struct kb_json *j, struct json_object *obj, const char *key);
/* Append the string @s to the array @array. */
void kb_json_push_str(struct kb_json *j, struct json_object *array, const char *s);

/*
 * Append the document to @b: "[]" when empty, else each element of the top
 * list on its own line, objects as {"key": value, ...}; then a newline.
 * 0, or the document's error or @b's, reported.
 */
int kb_json_write(struct kb_json *j, struct kb_buf *b);
/* Append the one element of the top list as the whole document (an object, not a list). */
int kb_json_write_one(struct kb_json *j, struct kb_buf *b);
/* Free the document; @j is empty and reusable afterwards. */
void kb_json_release(struct kb_json *j);

/*
 * A json-c string holding @s with every byte sequence that is not UTF-8
 * replaced by U+FFFD (json-c passes bytes through, and its output must
 * parse); NULL when out of memory. The caller owns it (json_object_put).
 */
struct json_object *kb_json_string(const char *s);
/* Append @v (NULL: null) to @b in the layout of an element of kb_json_write(). */
int kb_json_write_value(struct json_object *v, struct kb_buf *b);
