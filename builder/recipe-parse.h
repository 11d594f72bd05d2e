/*
 * Internal to the recipe parser (recipe.c, recipe-keys.c): the parse state
 * and the helpers the per-section key handlers share. Not for other users.
 */
#pragma once

#include <stdbool.h>

#include "recipe.h"

/* Parser state shared by the line reader and the key handler. */
struct parse_state {
	struct kb_recipe *r;
	const char *file;
	const char *pos, *end;
	unsigned line; /* line last handed to inih */
	unsigned errors;
	char last_key[128]; /* for indented continuation lines */
	char last_section[128];
	bool continuation; /* current line is indented */
	char *long_value;  /* the value of a line too long for inih (reader) */
	bool seen_recipe, seen_source, seen_build;
	unsigned seen_keys;	   /* single-valued flags given so far (enum rp_once) */
	unsigned seen_module_keys; /* the same, in the current [module] */
};

/* Report "file:line: msg" and count it; returns 1 so inih keeps parsing. */
int rp_error(struct parse_state *ps, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int rp_unknown_key(struct parse_state *ps, const char *section, const char *key,
		   const char *const *keys);
int rp_set_string(struct parse_state *ps, char **field, const char *key, const char *value);
int rp_set_list(struct parse_state *ps, struct kb_strv *list, const char *key, const char *value);
/* Single-valued keys with no field of their own that could tell "given twice". */
enum rp_once {
	RP_STRIP = 1 << 0,
	RP_INSECURE = 1 << 1,
	RP_AUTOLOAD = 1 << 8,
	RP_INITRAMFS = 1 << 9,
};
/* False (with the error reported) when @flag's key was already given. */
bool rp_once(struct parse_state *ps, unsigned flag, const char *key);

/* Every {placeholder} in @word is one kbuildd fills in; else reports and returns false. */
bool rp_placeholders_ok(struct parse_state *ps, const char *key, const char *word);

/* Relative, non-empty, no ".." component. */
bool rp_relative_clean(const char *p);
/* Letters, digits, '_' and '-' (with @dots: also '.' and '+'), at most KB_MAX_NAME. */
bool rp_name_valid(const char *s, bool dots);

/* Key handlers of [source], [build] and [module NAME] (recipe-keys.c). */
int rp_handle_source(struct parse_state *ps, const char *key, const char *value);
int rp_handle_build(struct parse_state *ps, const char *key, const char *value);
int rp_handle_module(struct parse_state *ps, const char *key, const char *value);
