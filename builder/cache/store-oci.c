/*
 * The OCI registry store (the distribution API): an artifact is one image
 * manifest, artifactType application/vnd.kbuildd.build.v1, tagged with the
 * build id, whose layers are kbuildd's manifest, its signature and the files.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <json-c/json.h>

#include "base/fault.h"
#include "base/log.h"
#include "base/util.h"
#include "cache/oci.h"
#include "cache/store.h"

char *kb_store_oci_blob_url(const struct kb_store *s, const char *sha256)
{
	char *url;

	return asprintf(&url, "%s/v2/%s/blobs/sha256:%s", s->base, s->repo, sha256) < 0 ? NULL :
											  url;
}

struct kb_http_req *kb_oci_manifest_req(const struct kb_store *s, const char *method,
					const char *tag)
{
	_cleanup_free_ char *url = NULL;
	struct kb_http_req *q;

	if (asprintf(&url, "%s/v2/%s/manifests/%s", s->base, s->repo, tag) < 0)
		return NULL;
	q = kb_http_req_new(method, url, KB_MAX_ARTIFACT_MANIFEST);
	if (q)
		q->accept = KB_OCI_MANIFEST;
	return q;
}

/* A token from the registry's token service (the Bearer challenge's realm) for @scope. */
static int exchange_token(struct kb_store *s, const char *challenge, const char *scope)
{
	_cleanup_free_ char *realm = kb_http_challenge_param(challenge, "realm");
	_cleanup_free_ char *service = kb_http_challenge_param(challenge, "service");
	_cleanup_free_ char *esc_service = service ? kb_http_escape(service) : NULL;
	_cleanup_free_ char *esc_scope = kb_http_escape(scope), *url = NULL;
	struct kb_http realm_http = s->http;
	struct kb_http_req *q = NULL;
	struct json_object *top = NULL, *tok;
	char fail[300];
	int r = -ENOMEM;

	if (!realm) {
		kb_store_down(s, "the registry's Bearer challenge names no realm");
		return 0;
	}
	if (!esc_scope || (service && !esc_service) ||
	    asprintf(&url, "%s%sscope=%s%s%s", realm, strchr(realm, '?') ? "&" : "?", esc_scope,
		     service ? "&service=" : "", service ? esc_service : "") < 0)
		return -ENOMEM;
	/* the token service gets the user's password, never an earlier token */
	realm_http.auth = s->http.user ? KB_HTTP_AUTH_BASIC : KB_HTTP_AUTH_NONE;
	realm_http.multi = NULL; /* its own connections, closed when done */
	q = kb_http_req_new("GET", url, KB_MAX_STORE_ANSWER);
	if (!q)
		goto out;
	r = kb_http_run(&realm_http, &q, 1);
	if (realm_http.multi)
		curl_multi_cleanup(realm_http.multi);
	if (r < 0)
		goto out;
	if (q->status != 200) {
		kb_store_down(s, "the registry's token service %s: %s", realm,
			      kb_store_failure(q, fail, sizeof(fail)));
		goto out;
	}
	top = json_tokener_parse(kb_buf_str(&q->answer));
	if (!top ||
	    (!json_object_object_get_ex(top, "token", &tok) &&
	     !json_object_object_get_ex(top, "access_token", &tok)) ||
	    !json_object_is_type(tok, json_type_string)) {
		kb_store_down(s, "the registry's token service %s answered no token", realm);
		goto out;
	}
	free(s->http.token);
	s->http.token = strdup(json_object_get_string(tok));
	s->http.auth = KB_HTTP_AUTH_BEARER;
	r = s->http.token ? 1 : -ENOMEM;
out:
	json_object_put(top);
	kb_http_req_free(q);
	return r;
}

int kb_store_oci_auth(struct kb_store *s, bool push)
{
	_cleanup_free_ char *url = NULL, *scope = NULL;
	struct kb_http_req *q;
	char fail[300];
	int r;

	if (s->down || (s->authed && (!push || s->authed_push)))
		return s->down ? 0 : 1;
	if (asprintf(&url, "%s/v2/", s->base) < 0 ||
	    asprintf(&scope, "repository:%s:%s", s->repo, push ? "pull,push" : "pull") < 0)
		return -ENOMEM;
	q = kb_http_req_new("GET", url, KB_MAX_STORE_ANSWER);
	if (!q)
		return -ENOMEM;
	q->anonymous = true;
	r = kb_http_run(&s->http, &q, 1);
	if (r < 0)
		goto out;
	r = 0;
	if (q->status == 200) {
		r = 1;
	} else if (q->status != 401 || !q->challenge) {
		kb_store_down(s, "%s: %s", url, kb_store_failure(q, fail, sizeof(fail)));
	} else if (!strncasecmp(q->challenge, "Basic", 5)) {
		if (s->http.auth == KB_HTTP_AUTH_BASIC)
			r = 1;
		else
			kb_store_down(s, "the registry asks for a user and password: set [cache] "
					 "auth to a file holding user:password");
	} else if (!strncasecmp(q->challenge, "Bearer", 6)) {
		/* a bare token is the registry's own; user:password is exchanged for one */
		if (s->http.auth == KB_HTTP_AUTH_BEARER && !s->http.user)
			r = 1;
		else
			r = exchange_token(s, q->challenge, scope);
	} else {
		kb_store_down(s,
			      "the registry asks for '%.40s' authentication, which kbuildd does "
			      "not speak",
			      q->challenge);
	}
	if (r > 0) {
		s->authed = true;
		s->authed_push = push;
	}
out:
	kb_http_req_free(q);
	return r;
}

/* The digest of the layer of @type in manifest @top, or NULL. */
static const char *layer_digest(struct json_object *top, const char *type)
{
	struct json_object *layers, *l, *v;

	if (!json_object_object_get_ex(top, "layers", &layers) ||
	    !json_object_is_type(layers, json_type_array))
		return NULL;
	for (size_t i = 0; i < json_object_array_length(layers); i++) {
		l = json_object_array_get_idx(layers, i);
		if (json_object_object_get_ex(l, "mediaType", &v) &&
		    json_object_is_type(v, json_type_string) &&
		    !strcmp(json_object_get_string(v), type) &&
		    json_object_object_get_ex(l, "digest", &v) &&
		    json_object_is_type(v, json_type_string))
			return json_object_get_string(v);
	}
	return NULL;
}

/* Read the image manifest of @l: the digests of its kbuildd manifest and signature layers. */
static void read_image(struct kb_store *s, struct kb_store_lookup *l, const struct kb_http_req *q,
		       char *text, char *sig, size_t size)
{
	struct json_object *top = json_tokener_parse(kb_buf_str(&q->answer)), *v;
	const char *t, *g;

	text[0] = sig[0] = '\0';
	if (!top || !json_object_is_type(top, json_type_object)) {
		/* not a registry's answer at all: said once for the store */
		kb_store_down(s, "it answers tag %.12s with what is no image manifest",
			      l->build_id);
		snprintf(l->why, sizeof(l->why), "its image manifest is not JSON");
	} else if (!json_object_object_get_ex(top, "artifactType", &v) ||
		   !json_object_is_type(v, json_type_string) ||
		   strcmp(json_object_get_string(v), KB_OCI_ARTIFACT_TYPE)) {
		snprintf(l->why, sizeof(l->why),
			 "the image under tag %s is not a kbuildd build "
			 "(artifactType %s expected)",
			 l->build_id, KB_OCI_ARTIFACT_TYPE);
	} else if (!(t = layer_digest(top, KB_OCI_LAYER_MANIFEST)) ||
		   !(g = layer_digest(top, KB_OCI_LAYER_SIG)) || strncmp(t, "sha256:", 7) ||
		   strncmp(g, "sha256:", 7) || strlen(t) != 71 || strlen(g) != 71) {
		snprintf(l->why, sizeof(l->why),
			 "its image manifest has no manifest and "
			 "signature layers");
	} else {
		snprintf(text, size, "%s", t + 7);
		snprintf(sig, size, "%s", g + 7);
	}
	json_object_put(top);
}

/* A request of the registry that failed as no lookup should: down for this run. */
static bool registry_failed(struct kb_store *s, const struct kb_http_req *q)
{
	char fail[300];

	if (q->too_big || (q->status && q->status < 500 && q->status != 401 && q->status != 403))
		return false;
	kb_store_down(s, "%s: %s%s", q->url, kb_store_failure(q, fail, sizeof(fail)),
		      q->status == 401 || q->status == 403 ? " (the credentials were refused)" :
							     "");
	return true;
}

/* Fetch the two layers each found lookup's image names. */
static int fetch_layers(struct kb_store *s, struct kb_store_lookup *l, size_t n,
			char (*digests)[2][65])
{
	struct kb_http_req **q = calloc(2 * n + 1, sizeof(*q));
	size_t nq = 0;
	char fail[300];
	int r = q ? 0 : -ENOMEM;

	for (size_t i = 0; r >= 0 && i < n; i++)
		for (int k = 0; k < 2 && l[i].found && !l[i].why[0]; k++) {
			_cleanup_free_ char *url = kb_store_oci_blob_url(s, digests[i][k]);

			q[nq] = url ? kb_http_req_new("GET", url, KB_MAX_ARTIFACT_MANIFEST) : NULL;
			if (!q[nq]) {
				r = -ENOMEM;
				break;
			}
			q[nq]->follow = true;
			q[nq++]->data = k ? &l[i].a->sig : &l[i].a->text;
		}
	if (r >= 0)
		r = kb_http_run(&s->http, q, nq);
	for (size_t i = 0; r >= 0 && i < nq; i++) {
		if (registry_failed(s, q[i]))
			break;
		if (q[i]->status == 200) {
			kb_buf_add(q[i]->data, q[i]->answer.buf, q[i]->answer.len);
			continue;
		}
		for (size_t j = 0; j < n; j++)
			if ((q[i]->data == &l[j].a->sig || q[i]->data == &l[j].a->text) &&
			    !l[j].why[0])
				snprintf(l[j].why, sizeof(l[j].why),
					 "a layer cannot be fetched: %s",
					 kb_store_failure(q[i], fail, sizeof(fail)));
	}
	for (size_t i = 0; i < nq; i++)
		kb_http_req_free(q[i]);
	free(q);
	return r;
}

int kb_store_oci_lookup(struct kb_store *s, struct kb_store_lookup *l, size_t n)
{
	struct kb_http_req **q = calloc(n + 1, sizeof(*q));
	char(*digests)[2][65] = calloc(n + 1, sizeof(*digests));
	char fail[300];
	int r = q && digests ? kb_store_oci_auth(s, false) : -ENOMEM;

	if (r <= 0) /* down (said by the caller), or out of memory */
		goto out;
	for (size_t i = 0; i < n; i++)
		if (!(q[i] = kb_oci_manifest_req(s, "GET", l[i].build_id))) {
			r = -ENOMEM;
			goto out;
		}
	r = kb_http_run(&s->http, q, n);
	for (size_t i = 0; r >= 0 && i < n && !s->down; i++) {
		l[i].found = false;
		l[i].why[0] = '\0';
		if (registry_failed(s, q[i]))
			break;
		if (q[i]->status == 404)
			continue;
		l[i].found = true;
		if (q[i]->status != 200)
			snprintf(l[i].why, sizeof(l[i].why),
				 "its image manifest cannot be fetched: %s",
				 kb_store_failure(q[i], fail, sizeof(fail)));
		else
			read_image(s, &l[i], q[i], digests[i][0], digests[i][1],
				   sizeof(digests[i][0]));
	}
	if (r >= 0 && !s->down)
		r = fetch_layers(s, l, n, digests);
out:
	for (size_t i = 0; q && i < n; i++)
		kb_http_req_free(q[i]);
	free(q);
	free(digests);
	return r < 0 ? r : 0;
}
