/* HTTP requests to a build cache's store: libcurl multi, bounded answers, one deadline. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <openssl/crypto.h>

#include "base/util.h"
#include "cache/http.h"

struct kb_http_req *kb_http_req_new(const char *method, const char *url, size_t max)
{
	struct kb_http_req *q = calloc(1, sizeof(*q));

	if (!q)
		return NULL;
	q->method = method;
	q->url = strdup(url);
	kb_buf_init(&q->answer, max);
	if (!q->url) {
		free(q);
		return NULL;
	}
	return q;
}

void kb_http_req_free(struct kb_http_req *q)
{
	if (!q)
		return;
	free(q->url);
	free(q->location);
	free(q->challenge);
	kb_buf_release(&q->answer);
	free(q);
}

static size_t on_data(char *p, size_t size, size_t n, void *data)
{
	struct kb_http_req *q = data;

	return kb_buf_add(&q->answer, p, size * n) < 0 ? 0 : size * n;
}

/* Keep the value of header @name when @line is it. */
static void keep_header(const char *line, size_t len, const char *name, char **out)
{
	size_t nlen = strlen(name);

	if (len <= nlen + 1 || strncasecmp(line, name, nlen) || line[nlen] != ':')
		return;
	line += nlen + 1;
	len -= nlen + 1;
	while (len && (*line == ' ' || *line == '\t'))
		line++, len--;
	while (len && (line[len - 1] == '\r' || line[len - 1] == '\n' || line[len - 1] == ' '))
		len--;
	free(*out);
	*out = strndup(line, len);
}

static size_t on_header(char *p, size_t size, size_t n, void *data)
{
	struct kb_http_req *q = data;

	/* a new response (after a redirect or a 100) starts over */
	if (size * n > 5 && !strncmp(p, "HTTP/", 5)) {
		free(q->location);
		free(q->challenge);
		q->location = q->challenge = NULL;
	}
	keep_header(p, size * n, "location", &q->location);
	keep_header(p, size * n, "www-authenticate", &q->challenge);
	return size * n;
}

static CURL *easy_for(const struct kb_http *h, struct kb_http_req *q, struct curl_slist **headers)
{
	const char *protos = h->insecure ? "http,https" : "https";
	CURL *e = curl_easy_init();
	char line[256];

	if (!e)
		return NULL;
	curl_easy_setopt(e, CURLOPT_URL, q->url);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, protos);
	curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, protos);
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, q->follow ? 1L : 0L);
	curl_easy_setopt(e, CURLOPT_MAXREDIRS, 5L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, h->timeout);
	/* a store that stops answering for @timeout seconds has failed */
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, h->timeout);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "kbuildd");
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, q);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, q);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, q->error);
	curl_easy_setopt(e, CURLOPT_PRIVATE, q);
	if (h->ca_file)
		curl_easy_setopt(e, CURLOPT_CAINFO, h->ca_file);
	/* credentials go to the store's host only, never after a redirect elsewhere */
	if (!q->anonymous && h->auth == KB_HTTP_AUTH_BASIC) {
		curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(e, CURLOPT_USERNAME, h->user);
		curl_easy_setopt(e, CURLOPT_PASSWORD, h->password);
	} else if (!q->anonymous && h->auth == KB_HTTP_AUTH_BEARER) {
		curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BEARER);
		curl_easy_setopt(e, CURLOPT_XOAUTH2_BEARER, h->token);
	}
	if (!strcmp(q->method, "HEAD"))
		curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
	else if (!strcmp(q->method, "PUT") || !strcmp(q->method, "POST")) {
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, q->method);
		curl_easy_setopt(e, CURLOPT_POST, 1L);
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, q->body ? q->body : "");
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)q->body_len);
	}
	snprintf(line, sizeof(line), "Content-Type: %s",
		 q->content_type ? q->content_type : "application/octet-stream");
	*headers = curl_slist_append(NULL, "Expect:");
	if (*headers && q->body)
		*headers = curl_slist_append(*headers, line);
	if (*headers && q->accept) {
		snprintf(line, sizeof(line), "Accept: %s", q->accept);
		*headers = curl_slist_append(*headers, line);
	}
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, *headers);
	return e;
}

int kb_http_run(struct kb_http *h, struct kb_http_req **q, size_t n)
{
	CURLM *multi = h->multi ? h->multi : (h->multi = curl_multi_init());
	CURL **easy = calloc(n + 1, sizeof(*easy));
	struct curl_slist **headers = calloc(n + 1, sizeof(*headers));
	int running = 0, left, r = 0;
	CURLMsg *msg;

	if (!multi || !easy || !headers) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		q[i]->status = 0;
		q[i]->too_big = false;
		q[i]->error[0] = '\0';
		kb_buf_reset(&q[i]->answer);
		easy[i] = easy_for(h, q[i], &headers[i]);
		if (!easy[i] || !headers[i]) {
			r = -ENOMEM;
			goto out;
		}
		curl_multi_add_handle(multi, easy[i]);
	}
	do {
		curl_multi_perform(multi, &running);
		while ((msg = curl_multi_info_read(multi, &left))) {
			struct kb_http_req *req = NULL;

			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&req);
			if (msg->data.result == CURLE_OK)
				curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE,
						  &req->status);
			else if (msg->data.result == CURLE_WRITE_ERROR &&
				 kb_buf_error(&req->answer)) {
				req->too_big = true;
				snprintf(req->error, sizeof(req->error),
					 "the answer is larger than %zu bytes", req->answer.max);
			} else if (!req->error[0])
				snprintf(req->error, sizeof(req->error), "%s",
					 curl_easy_strerror(msg->data.result));
		}
		if (running)
			curl_multi_poll(multi, NULL, 0, 200, NULL);
	} while (running);
out:
	for (size_t i = 0; easy && i < n; i++) {
		if (easy[i]) {
			curl_multi_remove_handle(multi, easy[i]);
			curl_easy_cleanup(easy[i]);
		}
		curl_slist_free_all(headers[i]);
	}
	free(easy);
	free(headers);
	return r;
}

int kb_http_set_credentials(struct kb_http *h, const char *text, size_t len)
{
	const char *colon;

	while (len && (text[len - 1] == '\n' || text[len - 1] == '\r'))
		len--;
	if (!len || memchr(text, '\n', len) || memchr(text, '\0', len))
		return -EINVAL;
	colon = memchr(text, ':', len);
	if (colon) {
		h->auth = KB_HTTP_AUTH_BASIC;
		h->user = strndup(text, (size_t)(colon - text));
		h->password = strndup(colon + 1, len - (size_t)(colon - text) - 1);
		return h->user && h->password ? 0 : -ENOMEM;
	}
	h->auth = KB_HTTP_AUTH_BEARER;
	h->token = strndup(text, len);
	return h->token ? 0 : -ENOMEM;
}

static void free_secret(char *s)
{
	if (s)
		OPENSSL_cleanse(s, strlen(s));
	free(s);
}

void kb_http_release(struct kb_http *h)
{
	if (h->multi)
		curl_multi_cleanup(h->multi);
	free(h->ca_file);
	free(h->user);
	free_secret(h->password);
	free_secret(h->token);
	memset(h, 0, sizeof(*h));
}

char *kb_http_challenge_param(const char *challenge, const char *name)
{
	size_t nlen = strlen(name);
	const char *p = challenge ? strchr(challenge, ' ') : NULL;

	while (p && *p) {
		const char *end;

		while (*p == ' ' || *p == ',')
			p++;
		if (!strncasecmp(p, name, nlen) && p[nlen] == '=') {
			p += nlen + 1;
			if (*p == '"') {
				end = strchr(++p, '"');
				return end ? strndup(p, (size_t)(end - p)) : NULL;
			}
			return strndup(p, strcspn(p, ", "));
		}
		/* skip this parameter, its quoted value included */
		p += strcspn(p, "=,");
		if (*p == '=' && p[1] == '"') {
			end = strchr(p + 2, '"');
			p = end ? end + 1 : NULL;
		} else if (*p) {
			p += strcspn(p, ",");
		}
	}
	return NULL;
}

char *kb_http_escape(const char *s)
{
	struct kb_buf b = KB_BUF_INIT;

	for (; *s; s++)
		if (isalnum((unsigned char)*s) || strchr("-._~", *s))
			kb_buf_addf(&b, "%c", *s);
		else
			kb_buf_addf(&b, "%%%02X", (unsigned char)*s);
	if (kb_buf_error(&b)) {
		kb_buf_release(&b);
		return NULL;
	}
	return kb_buf_detach(&b);
}
