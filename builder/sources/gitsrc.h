/* Git sources with libgit2: a bare mirror per repository in the cache, updated by fetch. */
#pragma once

#include "ctx.h"

/*
 * Make @commit (40 hex) of the repository at @url available and check it
 * out into the existing empty host directory @dest. The mirror lives in
 * the source cache; an existing mirror is fetched into, never re-cloned,
 * and not touched at all when it already holds the commit. With @ref, the
 * ref (tag or branch) must resolve to @commit. Offline, only the mirror is
 * used. Errors are -KB_E_INPUT with a message naming @what.
 */
int kb_git_checkout(struct kb_ctx *ctx, const char *url, const char *commit, const char *ref,
		    const char *dest, const char *what);
