/* The plain HTTP store: BUILD_ID/manifest, BUILD_ID/manifest.sig and the files by sha256 under a URL. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fault.h"
#include "base/log.h"
#include "base/util.h"
#include "cache/store.h"

char *kb_store_http_blob_url(const struct kb_store *s, const char *sha256)
{
	char *url;

	return asprintf(&url, "%s%s", s->base, sha256) < 0 ? NULL : url;
}

static struct kb_http_req *request(const struct kb_store *s, const char *method, const char *id,
				   const char *name, size_t max)
{
	_cleanup_free_ char *url = NULL;

	if (asprintf(&url, "%s%s/%s", s->base, id, name) < 0)
		return NULL;
	return kb_http_req_new(method, url, max);
}

/* The store did not answer, or answered as no store should: down for this run. */
static bool store_failed(struct kb_store *s, const struct kb_http_req *q)
{
	char fail[300];

	if (q->too_big || (q->status && q->status < 500 && q->status != 401 && q->status != 403))
		return false;
	kb_store_down(s, "%s: %s", q->url, kb_store_failure(q, fail, sizeof(fail)));
	return true;
}

int kb_store_http_lookup(struct kb_store *s, struct kb_store_lookup *l, size_t n)
{
	struct kb_http_req **q = calloc(2 * n + 1, sizeof(*q));
	char fail[300];
	int r = 0;

	if (!q)
		return -ENOMEM;
	for (size_t i = 0; r >= 0 && i < n; i++) {
		q[2 * i] = request(s, "GET", l[i].build_id, "manifest", KB_MAX_ARTIFACT_MANIFEST);
		q[2 * i + 1] = request(s, "GET", l[i].build_id, "manifest.sig",
				       KB_MAX_ARTIFACT_MANIFEST);
		if (!q[2 * i] || !q[2 * i + 1])
			r = -ENOMEM;
	}
	if (r >= 0)
		r = kb_http_run(&s->http, q, 2 * n);
	for (size_t i = 0; r >= 0 && i < n && !s->down; i++) {
		struct kb_http_req *m = q[2 * i], *sig = q[2 * i + 1];

		l[i].found = false;
		l[i].why[0] = '\0';
		if (store_failed(s, m) || store_failed(s, sig))
			break;
		if (m->status == 404)
			continue;
		l[i].found = true;
		if (m->status != 200)
			snprintf(l[i].why, sizeof(l[i].why), "its manifest cannot be fetched: %s",
				 kb_store_failure(m, fail, sizeof(fail)));
		else if (sig->status != 200)
			snprintf(l[i].why, sizeof(l[i].why), "its manifest has no signature (%s)",
				 kb_store_failure(sig, fail, sizeof(fail)));
		if (l[i].why[0])
			continue;
		kb_buf_add(&l[i].a->text, m->answer.buf, m->answer.len);
		kb_buf_add(&l[i].a->sig, sig->answer.buf, sig->answer.len);
		if (kb_buf_error(&l[i].a->text) || kb_buf_error(&l[i].a->sig))
			r = -ENOMEM;
	}
	for (size_t i = 0; i < 2 * n; i++)
		kb_http_req_free(q[i]);
	free(q);
	return r;
}

/* PUT @n requests at once; 0, or -KB_E_BUILD with @why naming the first that failed. */
static int put_all(struct kb_store *s, struct kb_http_req **q, size_t n, char *why, size_t size)
{
	char fail[300];
	int r;

	kb_fault_point("push to the cache");
	r = kb_http_run(&s->http, q, n);
	for (size_t i = 0; r >= 0 && i < n; i++)
		if (q[i]->status < 200 || q[i]->status > 299) {
			store_failed(s, q[i]);
			snprintf(why, size, "PUT %s: %s", q[i]->url,
				 kb_store_failure(q[i], fail, sizeof(fail)));
			r = -KB_E_BUILD;
		}
	return r;
}

static void free_all(struct kb_http_req **q, size_t n)
{
	for (size_t i = 0; i < n; i++)
		kb_http_req_free(q[i]);
}

int kb_store_http_push(struct kb_store *s, struct kb_artifact *a, char *why, size_t size)
{
	struct kb_http_req **head = calloc(a->n + 1, sizeof(*head));
	struct kb_http_req **put = calloc(a->n + 1, sizeof(*put));
	struct kb_http_req *last[2] = { NULL, NULL };
	size_t nput = 0;
	int r = head && put ? 0 : -ENOMEM;

	/* files first: one already there (another build's, an earlier push) is not sent again */
	for (size_t i = 0; r >= 0 && i < a->n; i++) {
		_cleanup_free_ char *url = kb_store_http_blob_url(s, a->files[i].sha256);

		head[i] = url ? kb_http_req_new("HEAD", url, KB_MAX_STORE_ANSWER) : NULL;
		r = head[i] ? 0 : -ENOMEM;
	}
	if (r >= 0)
		r = kb_http_run(&s->http, head, a->n);
	for (size_t i = 0; r >= 0 && i < a->n; i++) {
		if (head[i]->status == 200)
			continue;
		if (store_failed(s, head[i])) {
			snprintf(why, size, "the cache is down: %s", s->down_why);
			r = -KB_E_BUILD;
			break;
		}
		put[nput] = kb_http_req_new("PUT", head[i]->url, KB_MAX_STORE_ANSWER);
		if (!put[nput]) {
			r = -ENOMEM;
			break;
		}
		put[nput]->body = a->files[i].data.buf ? a->files[i].data.buf : "";
		put[nput++]->body_len = a->files[i].data.len;
	}
	if (r >= 0 && nput)
		r = put_all(s, put, nput, why, size);
	/* the signature before the manifest: a lookup finds nothing until both are there */
	if (r >= 0) {
		last[0] = request(s, "PUT", a->build_id, "manifest.sig", KB_MAX_STORE_ANSWER);
		last[1] = request(s, "PUT", a->build_id, "manifest", KB_MAX_STORE_ANSWER);
		r = last[0] && last[1] ? 0 : -ENOMEM;
	}
	if (r >= 0) {
		last[0]->body = a->sig.buf;
		last[0]->body_len = a->sig.len;
		last[1]->body = a->text.buf;
		last[1]->body_len = a->text.len;
		r = put_all(s, &last[0], 1, why, size);
	}
	if (r >= 0)
		r = put_all(s, &last[1], 1, why, size);
	if (head)
		free_all(head, a->n);
	if (put)
		free_all(put, nput);
	free_all(last, 2);
	free(head);
	free(put);
	return r;
}
