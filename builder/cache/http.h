/*
 * HTTP requests to a build cache's store (libcurl): many at once (curl
 * multi), bounded answers, one deadline, credentials only to the store.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "base/strbuf.h"

enum kb_http_auth { KB_HTTP_AUTH_NONE, KB_HTTP_AUTH_BASIC, KB_HTTP_AUTH_BEARER };

/* How every request to one store is made. */
struct kb_http {
	char *ca_file; /* host path of PEM CAs, or NULL: the system's */
	bool insecure; /* http:// allowed (never a TLS check skipped) */
	long timeout;  /* seconds to connect, and without progress */
	enum kb_http_auth auth;
	char *user, *password; /* Basic */
	char *token;	       /* Bearer */
	void *multi;	       /* curl's, kept between runs: its connections are reused */
};

struct kb_http_req {
	const char *method; /* GET, HEAD, PUT, POST */
	char *url;	    /* owned */
	const char *accept, *content_type;
	const void *body; /* PUT, POST */
	size_t body_len;
	bool follow;	      /* follow redirects: a registry hands blobs out elsewhere */
	bool anonymous;	      /* send no credentials (a token realm gets its own) */
	struct kb_buf answer; /* its ceiling set by the caller; over it fails the request */
	long status;	      /* HTTP status; 0: no answer (@error says why) */
	char error[256];      /* a transport failure */
	bool too_big;	      /* the answer passed the ceiling: garbage, not a failed store */
	char *location;	      /* Location:, owned */
	char *challenge;      /* WWW-Authenticate:, owned */
	void *data;	      /* the caller's */
};

/* A request @method of @url (copied), answer bounded at @max. NULL when out of memory. */
struct kb_http_req *kb_http_req_new(const char *method, const char *url, size_t max);
void kb_http_req_free(struct kb_http_req *q);

/*
 * Make @n requests at once; each gets its status or error. 0, or a
 * negative errno when they could not be started.
 */
int kb_http_run(struct kb_http *h, struct kb_http_req **q, size_t n);

/* Basic credentials or a token from "user:password" or "token" (trailing newline ignored). */
int kb_http_set_credentials(struct kb_http *h, const char *text, size_t len);
void kb_http_release(struct kb_http *h);

/* Parameter @name of an HTTP challenge ("Bearer realm=\"..\",service=\"..\""), owned, or NULL. */
char *kb_http_challenge_param(const char *challenge, const char *name);
/* @s with every byte outside [A-Za-z0-9-._~] as %XX, owned, or NULL. */
char *kb_http_escape(const char *s);
