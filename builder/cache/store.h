/*
 * A build cache's store: an OCI registry (oci://HOST[:PORT]/REPOSITORY,
 * the distribution API) or a plain HTTP store (https://HOST/PATH/: GET,
 * HEAD and PUT of BUILD_ID/manifest, BUILD_ID/manifest.sig and each file
 * by its sha256). A store is never trusted: it hands over bytes, which
 * cache.c verifies. The first failure to reach it marks it down for the
 * rest of the run, so a dead store costs one timeout.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "cache/artifact.h"
#include "cache/http.h"
#include "ctx.h"

enum kb_store_kind { KB_STORE_HTTP, KB_STORE_OCI };

struct kb_store {
	char *url; /* as configured: for messages and status */
	enum kb_store_kind kind;
	char *base; /* http: "https://host/path/"; oci: "https://host:port" */
	char *repo; /* oci: the repository */
	struct kb_http http;
	bool has_credentials; /* [cache] auth was given */
	bool authed;	      /* oci: the registry's challenge was answered */
	bool authed_push;     /* ... for pushing */
	bool down;	      /* failed once: not asked again this run */
	char down_why[512];
};

/* One artifact looked for by build id. */
struct kb_store_lookup {
	const char *build_id;
	bool found;	       /* the store has one: a->text and a->sig hold what it gave */
	struct kb_artifact *a; /* the caller's, empty */
	char why[512];	       /* found but unusable, or "" */
};

/*
 * The store [cache] url names, with ctx's [cache] settings: the auth file
 * must be a regular file of root's (or the caller's), mode 0600 or
 * tighter. Bad settings are -KB_E_INPUT, said with the setting's name.
 */
int kb_store_open(struct kb_ctx *ctx, struct kb_store *s);
void kb_store_release(struct kb_store *s);

/* Look up @n artifacts at once: each found, not there, or found unusable (why). 0 or -errno. */
int kb_store_lookup(struct kb_store *s, struct kb_store_lookup *l, size_t n);
/*
 * The bytes of every file of @n artifacts (at once), each checked against
 * its manifest's size and sha256: 1 when all are there and right, 0 with
 * @why naming the first that is not (the store is down when it could not
 * be asked), or -errno.
 */
int kb_store_get(struct kb_store *s, struct kb_artifact **a, size_t n, char *why, size_t size);
/*
 * Push @a (its text, sig and files' bytes): the files first, the manifest
 * last, so a push cut short leaves nothing a lookup finds. 0, or
 * -KB_E_BUILD with @why.
 */
int kb_store_push(struct kb_store *s, struct kb_artifact *a, char *why, size_t size);

/* Mark @s down with a formatted reason (its first one kept). */
void kb_store_down(struct kb_store *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A request's failure in words: "HTTP 404" or the transport error. */
const char *kb_store_failure(const struct kb_http_req *q, char *buf, size_t size);

/* The HTTP store and the OCI registry (store-http.c, store-oci.c). */
int kb_store_http_lookup(struct kb_store *s, struct kb_store_lookup *l, size_t n);
int kb_store_http_push(struct kb_store *s, struct kb_artifact *a, char *why, size_t size);
char *kb_store_http_blob_url(const struct kb_store *s, const char *sha256);
int kb_store_oci_lookup(struct kb_store *s, struct kb_store_lookup *l, size_t n);
int kb_store_oci_push(struct kb_store *s, struct kb_artifact *a, char *why, size_t size);
char *kb_store_oci_blob_url(const struct kb_store *s, const char *sha256);
int kb_store_oci_auth(struct kb_store *s, bool push);
