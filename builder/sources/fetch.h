/* Downloads with libcurl: several at once (curl multi), pinned by sha256, into the source cache. */
#pragma once

#include "base/util.h"
#include "ctx.h"

struct kb_fetch {
	/* in */
	struct kb_strv urls;	    /* the url, then its mirrors, tried in order */
	char sha256[KB_SHA256_HEX]; /* expected; "" when the recipe says insecure */
	const char *what;	    /* recipe file, for messages */
	/* out */
	int result; /* 0, or -KB_E_INPUT with a message already printed */
	char got_sha256[KB_SHA256_HEX];
	char *path; /* host path of the verified file in the cache */
	bool from_cache;
};

void kb_fetch_init(struct kb_fetch *f);
void kb_fetch_release(struct kb_fetch *f);

/* Is @name a partial download of ours (in the cache's tmp/)? */
bool kb_fetch_is_temp(const char *name);

/* Host directory of the source cache (settings [sources] cache, inside the root); caller frees. */
char *kb_fetch_cache_dir(const struct kb_ctx *ctx);

/*
 * Make every request's file available in the cache: taken from the cache
 * when its sha256 is there, else downloaded — all requests concurrently —
 * and verified before it enters the cache. A mismatch, 404, truncated or
 * oversized download or a timeout never leaves a file in the cache. With
 * --offline nothing is downloaded. Returns how many requests failed.
 */
int kb_fetch_all(struct kb_ctx *ctx, struct kb_fetch *reqs, size_t n);
