/* Downloads with libcurl: several at once (curl multi), pinned by sha256, into the source cache. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/evp.h>

#include "base/limits.h"
#include "base/log.h"
#include "sources/fetch.h"

#define MAX_ATTEMPTS 3 /* per url, for transient failures */

struct fetch_run;

struct transfer {
	struct fetch_run *run;
	struct kb_fetch *req;
	curl_off_t dlnow, dltotal; /* for the progress line */
	CURL *easy;
	size_t url_index;
	unsigned attempt;
	double retry_at; /* monotonic seconds; 0 = running or done */
	int fd;
	char *tmp;
	EVP_MD_CTX *md;
	curl_off_t bytes;
	bool too_big, done;
	char errbuf[CURL_ERROR_SIZE];
};

struct fetch_run {
	struct kb_ctx *ctx;
	CURLM *multi;
	char *cache;
	curl_off_t max_size;
	bool progress;
	double last_shown;
	struct transfer *xs;
	size_t n;
};

void kb_fetch_init(struct kb_fetch *f)
{
	memset(f, 0, sizeof(*f));
}

void kb_fetch_release(struct kb_fetch *f)
{
	kb_strv_clear(&f->urls);
	free(f->path);
	f->path = NULL;
}

char *kb_fetch_cache_dir(const struct kb_ctx *ctx)
{
	const char *rel = ctx->settings.cache ? ctx->settings.cache : "var/cache/kbuildd/sources";

	return kb_root_path(&ctx->root, rel);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t on_data(char *data, size_t size, size_t nmemb, void *user)
{
	struct transfer *t = user;
	size_t len = size * nmemb;

	if (t->bytes + (curl_off_t)len > (curl_off_t)KB_MAX_DOWNLOAD) {
		t->too_big = true;
		return 0; /* abort the transfer */
	}
	if (kb_write_all(t->fd, data, len) < 0)
		return 0;
	EVP_DigestUpdate(t->md, data, len);
	t->bytes += (curl_off_t)len;
	return len;
}

static double now(void);

/* All downloads together, told to whoever shows them at most 10 times a second. */
static int on_progress(void *user, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		       curl_off_t ulnow)
{
	struct transfer *t = user;
	struct fetch_run *run = t->run;
	curl_off_t got = 0, total = 0;
	unsigned active = 0;

	(void)ultotal;
	(void)ulnow;
	t->dlnow = dlnow;
	t->dltotal = dltotal;
	if (now() - run->last_shown < 0.1)
		return 0;
	run->last_shown = now();
	for (size_t i = 0; i < run->n; i++) {
		if (!run->xs[i].easy)
			continue;
		active++;
		got += run->xs[i].dlnow;
		total += run->xs[i].dltotal;
	}
	run->ctx->events->download(run->ctx, active, (double)got, (double)total);
	return 0;
}

#define PART_RANDOM 16 /* hex digits before ".part" */

bool kb_fetch_is_temp(const char *name)
{
	if (strlen(name) != PART_RANDOM + 5 || strcmp(name + PART_RANDOM, ".part"))
		return false;
	for (size_t i = 0; i < PART_RANDOM; i++)
		if (!strchr("0123456789abcdef", name[i]))
			return false;
	return true;
}

static int open_tmp(struct fetch_run *run, struct transfer *t)
{
	unsigned char rnd[PART_RANDOM / 2];

	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		return -errno;
	free(t->tmp);
	if (asprintf(&t->tmp, "%s/tmp/%02x%02x%02x%02x%02x%02x%02x%02x.part", run->cache, rnd[0],
		     rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]) < 0) {
		t->tmp = NULL;
		return -ENOMEM;
	}
	t->fd = open(t->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	return t->fd < 0 ? -errno : 0;
}

static void drop_tmp(struct transfer *t)
{
	if (t->fd >= 0)
		close(t->fd);
	t->fd = -1;
	if (t->tmp)
		unlink(t->tmp);
	free(t->tmp);
	t->tmp = NULL;
}

static int start(struct fetch_run *run, struct transfer *t)
{
	const struct kb_settings *st = &run->ctx->settings;
	const char *url = t->req->urls.v[t->url_index];
	long timeout = (long)(st->fetch_timeout ? st->fetch_timeout : 60);
	int r;

	r = open_tmp(run, t);
	if (r < 0)
		return r;
	EVP_MD_CTX_reset(t->md);
	EVP_DigestInit_ex(t->md, EVP_sha256(), NULL);
	t->bytes = 0;
	t->too_big = false;
	t->errbuf[0] = '\0';
	t->easy = curl_easy_init();
	if (!t->easy)
		return -ENOMEM;
	curl_easy_setopt(t->easy, CURLOPT_URL, url);
	curl_easy_setopt(t->easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(t->easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(t->easy, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(t->easy, CURLOPT_MAXREDIRS, 5L);
	curl_easy_setopt(t->easy, CURLOPT_FAILONERROR, 1L);
	curl_easy_setopt(t->easy, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(t->easy, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(t->easy, CURLOPT_CONNECTTIMEOUT, timeout);
	/* a server that stops sending for @timeout seconds has failed */
	curl_easy_setopt(t->easy, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(t->easy, CURLOPT_LOW_SPEED_TIME, timeout);
	curl_easy_setopt(t->easy, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)KB_MAX_DOWNLOAD);
	curl_easy_setopt(t->easy, CURLOPT_USERAGENT, "kbuildd");
	curl_easy_setopt(t->easy, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(t->easy, CURLOPT_WRITEDATA, t);
	curl_easy_setopt(t->easy, CURLOPT_ERRORBUFFER, t->errbuf);
	curl_easy_setopt(t->easy, CURLOPT_PRIVATE, t);
	curl_easy_setopt(t->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(t->easy, CURLOPT_NOPROGRESS, run->progress ? 0L : 1L);
	curl_easy_setopt(t->easy, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(t->easy, CURLOPT_XFERINFODATA, t);
	if (st->ca_file) {
		_cleanup_free_ char *ca = kb_root_path(&run->ctx->root, st->ca_file);

		curl_easy_setopt(t->easy, CURLOPT_CAINFO, ca);
	}
	kb_verbose("downloading %s", url);
	curl_multi_add_handle(run->multi, t->easy);
	return 0;
}

static bool transient(CURLcode code, long http)
{
	switch (code) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
		return true;
	case CURLE_HTTP_RETURNED_ERROR:
		return http >= 500 || http == 429 || http == 408;
	default:
		return false;
	}
}

static void fail(struct transfer *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(struct transfer *t, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	kb_err(-KB_E_INPUT, "%s: %s", t->req->what, msg);
	t->req->result = -KB_E_INPUT;
	t->done = true;
}

/* Move a verified download into the cache under its sha256. */
static int enter_cache(struct fetch_run *run, struct transfer *t, const char *hex)
{
	char *final = NULL;

	if (fsync(t->fd) < 0 || asprintf(&final, "%s/sha256/%s", run->cache, hex) < 0)
		return -errno;
	close(t->fd);
	t->fd = -1;
	if (rename(t->tmp, final) < 0) {
		free(final);
		return -errno;
	}
	free(t->tmp);
	t->tmp = NULL;
	t->req->path = final;
	return 0;
}

static void finished(struct fetch_run *run, struct transfer *t, CURLcode code)
{
	const char *url = t->req->urls.v[t->url_index];
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	long http = 0;
	char hex[KB_SHA256_HEX];

	curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &http);
	curl_multi_remove_handle(run->multi, t->easy);
	curl_easy_cleanup(t->easy);
	t->easy = NULL;
	if (code == CURLE_OK) {
		EVP_DigestFinal_ex(t->md, md, &mdlen);
		for (unsigned i = 0; i < mdlen; i++)
			snprintf(hex + 2 * i, 3, "%02x", md[i]);
		memcpy(t->req->got_sha256, hex, KB_SHA256_HEX);
		if (t->req->sha256[0] && strcmp(hex, t->req->sha256)) {
			kb_warn("%s: %s has sha256 %s, but the recipe pins %s", t->req->what, url,
				hex, t->req->sha256);
			drop_tmp(t);
			code = CURLE_BAD_CONTENT_ENCODING; /* not retried: try the next mirror */
		} else if (enter_cache(run, t, hex) < 0) {
			drop_tmp(t);
			fail(t, "cannot store %s in the source cache '%s'", url, run->cache);
			return;
		} else {
			t->done = true;
			return;
		}
	} else {
		drop_tmp(t);
		if (t->too_big)
			kb_warn("%s: %s is larger than %d MiB; refused", t->req->what, url,
				KB_MAX_DOWNLOAD >> 20);
		else
			kb_warn("%s: %s: %s", t->req->what, url,
				t->errbuf[0] ? t->errbuf : curl_easy_strerror(code));
	}
	if (!t->too_big && transient(code, http) && ++t->attempt < MAX_ATTEMPTS) {
		t->retry_at = now() + (double)(1u << (t->attempt - 1)); /* 1 s, 2 s */
		return;
	}
	t->attempt = 0;
	if (++t->url_index < t->req->urls.n) {
		t->retry_at = now();
		return;
	}
	if (code == CURLE_BAD_CONTENT_ENCODING)
		fail(t, "sha256 mismatch for %s: expected %s, got %s; nothing was cached", url,
		     t->req->sha256, t->req->got_sha256);
	else
		fail(t, "cannot download %s (every url and mirror failed)", url);
}

static bool in_cache(struct fetch_run *run, struct kb_fetch *req)
{
	char *path = NULL;

	if (!req->sha256[0] || asprintf(&path, "%s/sha256/%s", run->cache, req->sha256) < 0)
		return false;
	if (access(path, R_OK) < 0) {
		free(path);
		return false;
	}
	/* the cache is content-addressed: what is there was verified on the way in */
	req->path = path;
	req->from_cache = true;
	memcpy(req->got_sha256, req->sha256, KB_SHA256_HEX);
	return true;
}

static int make_dirs(const char *cache)
{
	char sub[4096];

	if (kb_pathf(sub, sizeof(sub), "%s/tmp", cache) < 0)
		return -ENAMETOOLONG;
	for (char *p = sub + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(sub, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(sub, 0755) < 0 && errno != EEXIST)
		return -errno;
	kb_pathf(sub, sizeof(sub), "%s/sha256", cache);
	return mkdir(sub, 0755) < 0 && errno != EEXIST ? -errno : 0;
}

static void loop(struct fetch_run *run, struct transfer *xs, size_t n)
{
	for (;;) {
		bool pending = false;
		int running = 0, left;
		CURLMsg *msg;

		for (size_t i = 0; i < n; i++) {
			struct transfer *t = &xs[i];

			if (t->done)
				continue;
			pending = true;
			if (!t->easy && t->retry_at && now() >= t->retry_at) {
				t->retry_at = 0;
				if (start(run, t) < 0)
					fail(t, "cannot start a download into '%s'", run->cache);
			}
		}
		if (!pending)
			break;
		curl_multi_perform(run->multi, &running);
		while ((msg = curl_multi_info_read(run->multi, &left)))
			if (msg->msg == CURLMSG_DONE) {
				struct transfer *t = NULL;

				curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&t);
				finished(run, t, msg->data.result);
			}
		curl_multi_poll(run->multi, NULL, 0, 200, NULL);
	}
	if (run->progress && run->last_shown > 0)
		run->ctx->events->download(run->ctx, 0, 0, 0);
}

int kb_fetch_all(struct kb_ctx *ctx, struct kb_fetch *reqs, size_t n)
{
	struct fetch_run run = { .ctx = ctx };
	struct transfer *xs = calloc(n ? n : 1, sizeof(*xs));
	int failed = 0, r;

	if (!xs)
		return (int)n;
	run.xs = xs;
	run.n = n;
	run.cache = kb_fetch_cache_dir(ctx);
	run.progress = ctx->events && ctx->events->download;
	r = run.cache ? make_dirs(run.cache) : -ENOMEM;
	if (r < 0) {
		kb_err_errno(r, "cannot create the source cache '%s'", run.cache);
		free(run.cache);
		free(xs);
		return (int)n;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	run.multi = curl_multi_init();
	for (size_t i = 0; i < n; i++) {
		struct transfer *t = &xs[i];

		t->run = &run;
		t->req = &reqs[i];
		t->fd = -1;
		t->done = in_cache(&run, &reqs[i]);
		if (t->done)
			continue;
		if (ctx->settings.offline || ctx->offline) {
			fail(t, "%s is not in the source cache and kbuildd is offline",
			     reqs[i].urls.v[0]);
			continue;
		}
		t->md = EVP_MD_CTX_new();
		t->retry_at = now();
	}
	loop(&run, xs, n);
	for (size_t i = 0; i < n; i++) {
		if (reqs[i].result < 0)
			failed++;
		drop_tmp(&xs[i]);
		EVP_MD_CTX_free(xs[i].md);
	}
	curl_multi_cleanup(run.multi);
	free(run.cache);
	free(xs);
	return failed;
}
