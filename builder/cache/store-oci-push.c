/* Pushing an artifact to an OCI registry: blobs (HEAD, POST, PUT), then the image manifest last. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "base/fault.h"
#include "base/log.h"
#include "base/util.h"
#include "cache/oci.h"
#include "cache/store.h"

struct blob {
	char sha256[KB_SHA256_HEX];
	const void *data;
	size_t len;
	const char *type, *title;
};

static void blob_set(struct blob *b, const void *data, size_t len, const char *type,
		     const char *title)
{
	b->data = data ? data : "";
	b->len = len;
	b->type = type;
	b->title = title;
	kb_sha256_hex(b->data, len, b->sha256);
}

static struct json_object *descriptor(const struct blob *b)
{
	struct json_object *o = json_object_new_object(), *ann;
	char digest[80];

	snprintf(digest, sizeof(digest), "sha256:%s", b->sha256);
	json_object_object_add(o, "mediaType", json_object_new_string(b->type));
	json_object_object_add(o, "digest", json_object_new_string(digest));
	json_object_object_add(o, "size", json_object_new_int64((int64_t)b->len));
	if (b->title) {
		ann = json_object_new_object();
		json_object_object_add(ann, "org.opencontainers.image.title",
				       json_object_new_string(b->title));
		json_object_object_add(o, "annotations", ann);
	}
	return o;
}

/* The image manifest: the empty config, then kbuildd's manifest, its signature, the files. */
static char *image_manifest(const struct kb_artifact *a, const struct blob *blobs, size_t n)
{
	struct json_object *top = json_object_new_object(), *layers = json_object_new_array();
	struct json_object *ann = json_object_new_object();
	char *text;

	json_object_object_add(top, "schemaVersion", json_object_new_int(2));
	json_object_object_add(top, "mediaType", json_object_new_string(KB_OCI_MANIFEST));
	json_object_object_add(top, "artifactType", json_object_new_string(KB_OCI_ARTIFACT_TYPE));
	json_object_object_add(top, "config", descriptor(&blobs[0]));
	for (size_t i = 1; i < n; i++)
		json_object_array_add(layers, descriptor(&blobs[i]));
	json_object_object_add(top, "layers", layers);
	json_object_object_add(ann, "dev.kbuildd.recipe", json_object_new_string(a->recipe));
	json_object_object_add(ann, "dev.kbuildd.version", json_object_new_string(a->version));
	json_object_object_add(ann, "dev.kbuildd.kernel", json_object_new_string(a->kernel));
	json_object_object_add(ann, "dev.kbuildd.build-id", json_object_new_string(a->build_id));
	json_object_object_add(top, "annotations", ann);
	text = strdup(json_object_to_json_string_ext(top, JSON_C_TO_STRING_PLAIN));
	json_object_put(top);
	return text;
}

static void free_reqs(struct kb_http_req **q, size_t n)
{
	for (size_t i = 0; q && i < n; i++)
		kb_http_req_free(q[i]);
	free(q);
}

/* Run @n requests; 0 when each answered @want, else -KB_E_BUILD with @why. */
static int run_expect(struct kb_store *s, struct kb_http_req **q, size_t n, long want, char *why,
		      size_t size)
{
	char fail[300];
	int r = kb_http_run(&s->http, q, n);

	for (size_t i = 0; r >= 0 && i < n; i++)
		if (q[i]->status != want) {
			if (!q[i]->status || q[i]->status >= 500)
				kb_store_down(s, "%s: %s", q[i]->url,
					      kb_store_failure(q[i], fail, sizeof(fail)));
			snprintf(why, size, "%s %s: %s", q[i]->method, q[i]->url,
				 kb_store_failure(q[i], fail, sizeof(fail)));
			r = -KB_E_BUILD;
		}
	return r;
}

/* Upload the blobs the registry does not have yet: POST a session, PUT the bytes to it. */
static int upload(struct kb_store *s, const struct blob *blobs, size_t n, char *why, size_t size)
{
	struct kb_http_req **head = calloc(n + 1, sizeof(*head));
	struct kb_http_req **post = calloc(n + 1, sizeof(*post));
	struct kb_http_req **put = calloc(n + 1, sizeof(*put));
	const struct blob **missing = calloc(n + 1, sizeof(*missing));
	_cleanup_free_ char *uploads = NULL;
	size_t nm = 0;
	int r = head && post && put && missing ? 0 : -ENOMEM;

	if (r >= 0 && asprintf(&uploads, "%s/v2/%s/blobs/uploads/", s->base, s->repo) < 0)
		r = -ENOMEM;
	for (size_t i = 0; r >= 0 && i < n; i++) {
		_cleanup_free_ char *url = kb_store_oci_blob_url(s, blobs[i].sha256);

		head[i] = url ? kb_http_req_new("HEAD", url, KB_MAX_STORE_ANSWER) : NULL;
		r = head[i] ? 0 : -ENOMEM;
	}
	if (r >= 0)
		r = kb_http_run(&s->http, head, n);
	for (size_t i = 0; r >= 0 && i < n; i++) {
		if (head[i]->status == 200)
			continue;
		post[nm] = kb_http_req_new("POST", uploads, KB_MAX_STORE_ANSWER);
		if (!post[nm])
			r = -ENOMEM;
		missing[nm++] = &blobs[i];
	}
	if (r >= 0 && nm)
		r = run_expect(s, post, nm, 202, why, size);
	for (size_t i = 0; r >= 0 && i < nm; i++) {
		const char *loc = post[i]->location;
		_cleanup_free_ char *url = NULL;

		if (!loc) {
			snprintf(why, size, "POST %s: the registry named no upload location",
				 uploads);
			r = -KB_E_BUILD;
			break;
		}
		if (asprintf(&url, "%s%s%sdigest=sha256:%s", loc[0] == '/' ? s->base : "", loc,
			     strchr(loc, '?') ? "&" : "?", missing[i]->sha256) < 0 ||
		    !(put[i] = kb_http_req_new("PUT", url, KB_MAX_STORE_ANSWER))) {
			r = -ENOMEM;
			break;
		}
		put[i]->body = missing[i]->data;
		put[i]->body_len = missing[i]->len;
	}
	if (r >= 0 && nm) {
		kb_fault_point("push to the cache");
		r = run_expect(s, put, nm, 201, why, size);
	}
	free_reqs(head, n);
	free_reqs(post, nm);
	free_reqs(put, nm);
	free(missing);
	return r;
}

int kb_store_oci_push(struct kb_store *s, struct kb_artifact *a, char *why, size_t size)
{
	struct blob *blobs = calloc(a->n + 3, sizeof(*blobs));
	struct kb_http_req *q = NULL;
	_cleanup_free_ char *manifest = NULL;
	int r = blobs ? kb_store_oci_auth(s, true) : -ENOMEM;

	if (r == 0) {
		snprintf(why, size, "the cache is down: %s", s->down_why);
		r = -KB_E_BUILD;
	}
	if (r < 0)
		goto out;
	blob_set(&blobs[0], "{}", 2, KB_OCI_EMPTY, NULL);
	blob_set(&blobs[1], a->text.buf, a->text.len, KB_OCI_LAYER_MANIFEST, "manifest");
	blob_set(&blobs[2], a->sig.buf, a->sig.len, KB_OCI_LAYER_SIG, "manifest.sig");
	for (size_t i = 0; i < a->n; i++)
		blob_set(&blobs[3 + i], a->files[i].data.buf, a->files[i].data.len,
			 KB_OCI_LAYER_FILE, a->files[i].path);
	r = upload(s, blobs, a->n + 3, why, size);
	if (r < 0)
		goto out;
	/* last: until the tag exists, nothing of this push is found */
	manifest = image_manifest(a, blobs, a->n + 3);
	q = manifest ? kb_oci_manifest_req(s, "PUT", a->build_id) : NULL;
	if (!q) {
		r = -ENOMEM;
		goto out;
	}
	q->content_type = KB_OCI_MANIFEST;
	q->body = manifest;
	q->body_len = strlen(manifest);
	kb_fault_point("push to the cache");
	r = run_expect(s, &q, 1, 201, why, size);
out:
	kb_http_req_free(q);
	free(blobs);
	return r;
}
