/* A build cache's store: opening it from [cache], fetching files, pushing; the kind's own parts elsewhere. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "base/log.h"
#include "base/util.h"
#include "cache/store.h"

void kb_store_down(struct kb_store *s, const char *fmt, ...)
{
	va_list ap;

	if (s->down)
		return;
	s->down = true;
	va_start(ap, fmt);
	vsnprintf(s->down_why, sizeof(s->down_why), fmt, ap);
	va_end(ap);
}

const char *kb_store_failure(const struct kb_http_req *q, char *buf, size_t size)
{
	if (q->status)
		snprintf(buf, size, "HTTP %ld", q->status);
	else
		snprintf(buf, size, "%s", q->error[0] ? q->error : "no answer");
	return buf;
}

/* The auth file: a secret, so only its owner may read it. */
static int read_auth(struct kb_ctx *ctx, struct kb_store *s)
{
	const char *rel = ctx->settings.store.auth;
	_cleanup_free_ char *host = kb_root_path(&ctx->root, rel);
	struct kb_buf text = KB_BUF_INIT_MAX(KB_MAX_STORE_ANSWER);
	struct stat st;
	int fd, r;

	if (!host)
		return -ENAMETOOLONG;
	fd = open(host, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		kb_err_errno(-errno, "[cache] auth '%s' cannot be read", host);
		return -KB_E_INPUT;
	}
	r = fstat(fd, &st) < 0 ? -errno : 0;
	if (r == 0 && !S_ISREG(st.st_mode))
		r = kb_err(-KB_E_INPUT, "[cache] auth '%s' is not a regular file", host);
	else if (r == 0 && ((st.st_mode & 077) || (st.st_uid != 0 && st.st_uid != geteuid())))
		r = kb_err(-KB_E_INPUT,
			   "[cache] auth '%s' is mode %04o, owned by uid %u: a secret must be "
			   "0600 and root's (chmod 600 '%s')",
			   host, (unsigned)(st.st_mode & 07777), (unsigned)st.st_uid, host);
	if (r == 0 && (r = kb_read_fd(fd, KB_MAX_STORE_ANSWER, &text)) < 0)
		r = kb_err_errno(r, "[cache] auth '%s' cannot be read", host);
	close(fd);
	if (r == 0 && kb_http_set_credentials(&s->http, kb_buf_str(&text), text.len) < 0)
		r = kb_err(-KB_E_INPUT,
			   "[cache] auth '%s': expected one line, a token or user:password", host);
	s->has_credentials = r == 0;
	if (text.buf)
		OPENSSL_cleanse(text.buf, text.len);
	kb_buf_release(&text);
	return r;
}

/* oci://HOST[:PORT]/REPO -> https://HOST[:PORT] and REPO; http(s)://... -> itself, ending in '/'. */
static int parse_url(struct kb_store *s, bool insecure)
{
	const char *url = s->url, *rest, *slash;

	if (kb_str_startswith(url, "oci://")) {
		rest = url + 6;
		slash = strchr(rest, '/');
		if (!slash || slash == rest || !slash[1] || slash[strlen(slash) - 1] == '/' ||
		    strspn(slash + 1, "abcdefghijklmnopqrstuvwxyz0123456789._-/") !=
			    strlen(slash + 1))
			return -EINVAL;
		s->kind = KB_STORE_OCI;
		/* a registry on a loopback address speaks plain HTTP when insecure = yes */
		if (asprintf(&s->base, "%s://%.*s", insecure ? "http" : "https",
			     (int)(slash - rest), rest) < 0)
			return -ENOMEM;
		s->repo = strdup(slash + 1);
		return s->repo ? 0 : -ENOMEM;
	}
	rest = url + (kb_str_startswith(url, "https://") ? 8 : 7);
	if (!*rest || *rest == '/' || strchr(url, '?') || strchr(url, '#'))
		return -EINVAL;
	s->kind = KB_STORE_HTTP;
	return asprintf(&s->base, "%s%s", url, url[strlen(url) - 1] == '/' ? "" : "/") < 0 ?
		       -ENOMEM :
		       0;
}

int kb_store_open(struct kb_ctx *ctx, struct kb_store *s)
{
	const struct kb_store_settings *st = &ctx->settings.store;
	int r;

	memset(s, 0, sizeof(*s));
	s->url = strdup(st->url);
	if (!s->url)
		return -ENOMEM;
	r = parse_url(s, st->insecure);
	if (r == -EINVAL)
		return kb_err(-KB_E_INPUT,
			      "[cache] url '%s': expected oci://HOST[:PORT]/REPOSITORY or "
			      "https://HOST/PATH/",
			      st->url);
	if (r < 0)
		return r;
	s->http.insecure = st->insecure;
	s->http.timeout = (long)st->timeout;
	if (st->ca_file && !(s->http.ca_file = kb_root_path(&ctx->root, st->ca_file)))
		return -ENAMETOOLONG;
	if (st->auth)
		r = read_auth(ctx, s);
	return r;
}

void kb_store_release(struct kb_store *s)
{
	kb_http_release(&s->http);
	free(s->url);
	free(s->base);
	free(s->repo);
	memset(s, 0, sizeof(*s));
}

int kb_store_lookup(struct kb_store *s, struct kb_store_lookup *l, size_t n)
{
	if (s->down || !n)
		return 0;
	return s->kind == KB_STORE_OCI ? kb_store_oci_lookup(s, l, n) :
					 kb_store_http_lookup(s, l, n);
}

int kb_store_get(struct kb_store *s, struct kb_artifact **a, size_t n, char *why, size_t size)
{
	struct kb_http_req **q;
	size_t nq = 0, total = 0;
	char hex[KB_SHA256_HEX], fail[300];
	int r = 1;

	if (s->down)
		return snprintf(why, size, "the cache is down: %s", s->down_why), 0;
	for (size_t i = 0; i < n; i++)
		total += a[i]->n;
	q = calloc(total + 1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	for (size_t i = 0; r > 0 && i < n; i++)
		for (size_t f = 0; r > 0 && f < a[i]->n; f++) {
			struct kb_artifact_file *file = &a[i]->files[f];
			_cleanup_free_ char *url = s->kind == KB_STORE_OCI ?
							   kb_store_oci_blob_url(s, file->sha256) :
							   kb_store_http_blob_url(s, file->sha256);

			q[nq] = url ? kb_http_req_new("GET", url, file->size) : NULL;
			if (!q[nq]) {
				r = -ENOMEM;
				break;
			}
			q[nq]->follow = true;
			q[nq++]->data = file;
		}
	if (r > 0)
		r = kb_http_run(&s->http, q, nq) < 0 ? -ENOMEM : 1;
	for (size_t i = 0; r > 0 && i < nq; i++) {
		struct kb_artifact_file *file = q[i]->data;

		if (q[i]->too_big) {
			snprintf(why, size,
				 "file '%s' is not what the manifest names (larger than its %zu "
				 "bytes)",
				 file->path, file->size);
			r = 0;
			break;
		}
		if (q[i]->status != 200) {
			if (!q[i]->status || q[i]->status >= 500)
				kb_store_down(s, "%s", kb_store_failure(q[i], fail, sizeof(fail)));
			snprintf(why, size, "file '%s' cannot be fetched: %s", file->path,
				 kb_store_failure(q[i], fail, sizeof(fail)));
			r = 0;
			break;
		}
		kb_sha256_hex(q[i]->answer.buf ? q[i]->answer.buf : "", q[i]->answer.len, hex);
		if (q[i]->answer.len != file->size || strcmp(hex, file->sha256)) {
			snprintf(why, size,
				 "file '%s' is not what the manifest names (%zu bytes, sha256 %s; "
				 "the manifest says %zu bytes, %s)",
				 file->path, q[i]->answer.len, hex, file->size, file->sha256);
			r = 0;
			break;
		}
		kb_buf_release(&file->data);
		file->data = q[i]->answer;
		kb_buf_init(&q[i]->answer, 0);
	}
	for (size_t i = 0; i < nq; i++)
		kb_http_req_free(q[i]);
	free(q);
	return r;
}

int kb_store_push(struct kb_store *s, struct kb_artifact *a, char *why, size_t size)
{
	if (s->down)
		return snprintf(why, size, "the cache is down: %s", s->down_why), -KB_E_BUILD;
	return s->kind == KB_STORE_OCI ? kb_store_oci_push(s, a, why, size) :
					 kb_store_http_push(s, a, why, size);
}
