/* PKCS#11 token keys through libp11, named by RFC 7512 URIs. */
#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libp11.h>
#include <openssl/err.h>

#include "base/log.h"
#include "base/util.h"
#include "signing/pkcs11.h"

#define DEFAULT_MODULE "p11-kit-proxy.so"
#define MAX_ATTR 1024

struct kb_token {
	PKCS11_CTX *ctx;
	bool loaded; /* the module is: unload it */
	PKCS11_SLOT *slots;
	unsigned n_slots;
	PKCS11_SLOT *slot;     /* the token's */
	unsigned char id[256]; /* the key's id and label, for its certificate */
	size_t id_len;
	char label[256];
	unsigned generate_bits; /* make the key when the token has none the URI names */
	bool generated;
};

/* The URI's attributes that kbuildd uses; NULL when absent. */
struct uri {
	char *token, *manufacturer, *model, *serial, *object, *module_path, *pin_value, *pin_source;
	unsigned char id[256];
	size_t id_len;
	bool has_id;
};

bool kb_pkcs11_uri(const char *s)
{
	return s && !strncmp(s, "pkcs11:", 7);
}

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' :
	       c >= 'a' && c <= 'f' ? c - 'a' + 10 :
	       c >= 'A' && c <= 'F' ? c - 'A' + 10 :
				      -1;
}

/* Percent-decode @len bytes of @s into @out (room for @size); length, or -1 if malformed. */
static long pct_decode(const char *s, size_t len, unsigned char *out, size_t size)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		int hi, lo;

		if (o + 1 >= size)
			return -1;
		if (s[i] != '%') {
			out[o++] = (unsigned char)s[i];
			continue;
		}
		if (i + 2 >= len)
			return -1;
		hi = hexval(s[i + 1]);
		lo = hexval(s[i + 2]);
		if (hi < 0 || lo < 0)
			return -1;
		out[o++] = (unsigned char)(hi << 4 | lo);
		i += 2;
	}
	out[o] = '\0';
	return (long)o;
}

static void uri_release(struct uri *u)
{
	free(u->token);
	free(u->manufacturer);
	free(u->model);
	free(u->serial);
	free(u->object);
	free(u->module_path);
	free(u->pin_value);
	free(u->pin_source);
	memset(u, 0, sizeof(*u));
}

static int set_attr(struct uri *u, const char *uri, const char *name, size_t nlen,
		    const unsigned char *val, long vlen, bool query)
{
	static const struct {
		const char *name;
		bool query;
		size_t off;
	} attrs[] = {
		{ "token", false, offsetof(struct uri, token) },
		{ "manufacturer", false, offsetof(struct uri, manufacturer) },
		{ "model", false, offsetof(struct uri, model) },
		{ "serial", false, offsetof(struct uri, serial) },
		{ "object", false, offsetof(struct uri, object) },
		{ "module-path", true, offsetof(struct uri, module_path) },
		{ "pin-value", true, offsetof(struct uri, pin_value) },
		{ "pin-source", true, offsetof(struct uri, pin_source) },
	};

	if (nlen == 2 && !strncmp(name, "id", 2) && !query) {
		if ((size_t)vlen > sizeof(u->id))
			return kb_err(-KB_E_INPUT, "'%s': id is longer than %zu bytes", uri,
				      sizeof(u->id));
		memcpy(u->id, val, (size_t)vlen);
		u->id_len = (size_t)vlen;
		u->has_id = true;
		return 0;
	}
	for (size_t i = 0; i < ARRAY_SIZE(attrs); i++) {
		char **field = (char **)((char *)u + attrs[i].off);

		if (strlen(attrs[i].name) != nlen || strncmp(attrs[i].name, name, nlen) ||
		    attrs[i].query != query)
			continue;
		free(*field);
		*field = strndup((const char *)val, (size_t)vlen);
		return *field ? 0 : -ENOMEM;
	}
	/* RFC 7512: the library and slot attributes, type and module-name narrow nothing we use */
	if ((nlen == 4 && !strncmp(name, "type", 4)) || !strncmp(name, "library-", 8) ||
	    !strncmp(name, "slot-", 5) || (nlen == 11 && !strncmp(name, "module-name", 11)) ||
	    !strncmp(name, "x-", 2))
		return 0;
	return kb_err(-KB_E_INPUT, "'%s': unknown attribute '%.*s' (RFC 7512)", uri, (int)nlen,
		      name);
}

static int uri_parse(const char *uri, struct uri *u)
{
	const char *p = uri + 7;
	bool query = false;
	int r = 0;

	memset(u, 0, sizeof(*u));
	while (r >= 0 && *p) {
		size_t len = strcspn(p, query ? "&" : ";?");
		const char *eq = memchr(p, '=', len);
		unsigned char val[MAX_ATTR];
		long vlen;

		if (len && !eq)
			return uri_release(u),
			       kb_err(-KB_E_INPUT, "'%s': expected NAME=VALUE, got '%.*s'", uri,
				      (int)len, p);
		if (len) {
			vlen = pct_decode(eq + 1, (size_t)(p + len - eq - 1), val, sizeof(val));
			if (vlen < 0)
				return uri_release(u),
				       kb_err(-KB_E_INPUT, "'%s': bad percent-encoding in '%.*s'",
					      uri, (int)len, p);
			r = set_attr(u, uri, p, (size_t)(eq - p), val, vlen, query);
		}
		p += len;
		if (*p == '?')
			query = true;
		if (*p)
			p++;
	}
	if (r < 0)
		uri_release(u);
	return r;
}

static bool matches(const char *want, const char *have)
{
	return !want || (have && !strcmp(want, have));
}

/* The first line of the file at host @path, which only its owner may read. */
static int read_pin_file(const char *path, const char *uri, char *pin, size_t size)
{
	struct kb_buf b = KB_BUF_INIT_MAX(4096);
	struct stat st;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK), r;

	if (fd < 0)
		return kb_err(-KB_E_INPUT, "'%s': cannot open the PIN file '%s': %s", uri, path,
			      strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (st.st_mode & 077)) {
		close(fd);
		return kb_err(-KB_E_INPUT,
			      "'%s': PIN file '%s' must be a regular file only its owner can read "
			      "(chmod 600)",
			      uri, path);
	}
	r = kb_read_fd(fd, b.max, &b);
	close(fd);
	if (r >= 0)
		snprintf(pin, size, "%.*s", (int)strcspn(kb_buf_str(&b), "\r\n"), kb_buf_str(&b));
	kb_buf_release(&b);
	return r < 0 ? kb_err(-KB_E_INPUT, "'%s': cannot read the PIN file '%s'", uri, path) : 0;
}

static int find_pin(const struct uri *u, const char *uri, const char *pin_file, char *pin,
		    size_t size)
{
	const char *env = getenv("KBUILD_SIGN_PIN");

	pin[0] = '\0';
	if (env) {
		snprintf(pin, size, "%s", env);
		return 0;
	}
	if (u->pin_value) {
		snprintf(pin, size, "%s", u->pin_value);
		return 0;
	}
	if (u->pin_source)
		return read_pin_file(kb_str_startswith(u->pin_source, "file:") ? u->pin_source + 5 :
										 u->pin_source,
				     uri, pin, size);
	return pin_file ? read_pin_file(pin_file, uri, pin, size) : 0;
}

static const char *ssl_reason(char *buf, size_t size)
{
	unsigned long e = ERR_get_error();

	snprintf(buf, size, "%s", e ? ERR_reason_error_string(e) : "no reason given");
	if (!buf[0] || !strcmp(buf, "(null)"))
		snprintf(buf, size, "error 0x%lx", e);
	ERR_clear_error();
	return buf;
}

static PKCS11_SLOT *find_slot(struct kb_token *t, const struct uri *u, const char *uri)
{
	struct kb_buf seen = KB_BUF_INIT;

	for (unsigned i = 0; i < t->n_slots; i++) {
		PKCS11_TOKEN *tok = t->slots[i].token;

		if (!tok || !tok->initialized)
			continue;
		if (matches(u->token, tok->label) && matches(u->manufacturer, tok->manufacturer) &&
		    matches(u->model, tok->model) && matches(u->serial, tok->serialnr)) {
			kb_buf_release(&seen);
			return &t->slots[i];
		}
		kb_buf_addf(&seen, "%s'%s'", seen.len ? ", " : "", tok->label);
	}
	kb_err(-KB_E_INPUT, "'%s': no token matches (tokens present: %s)", uri,
	       seen.len ? kb_buf_str(&seen) : "none");
	kb_buf_release(&seen);
	return NULL;
}

static bool key_matches(const struct uri *u, const unsigned char *id, size_t id_len,
			const char *label)
{
	return matches(u->object, label) &&
	       (!u->has_id || (id_len == u->id_len && !memcmp(id, u->id, id_len)));
}

static int generate(struct kb_token *t, PKCS11_SLOT *slot, const struct uri *u, const char *uri,
		    EVP_PKEY **key, X509 **cert);

static int take_key(struct kb_token *t, PKCS11_SLOT *slot, const struct uri *u, const char *uri,
		    EVP_PKEY **key, X509 **cert)
{
	PKCS11_KEY *keys = NULL, *k = NULL;
	PKCS11_CERT *certs = NULL;
	unsigned n = 0, nc = 0;
	char why[256];

	if (PKCS11_enumerate_keys(slot->token, &keys, &n) < 0)
		return kb_err(-KB_E_INPUT, "'%s': cannot list the keys of token '%s': %s", uri,
			      slot->token->label, ssl_reason(why, sizeof(why)));
	for (unsigned i = 0; !k && i < n; i++)
		if (keys[i].isPrivate && key_matches(u, keys[i].id, keys[i].id_len, keys[i].label))
			k = &keys[i];
	if (!k && t->generate_bits && !t->generated)
		return generate(t, slot, u, uri, key, cert);
	if (!k)
		return kb_err(-KB_E_INPUT, "'%s': token '%s' holds no private key of that %s", uri,
			      slot->token->label, u->object || u->has_id ? "object/id" : "kind");
	*key = PKCS11_get_private_key(k);
	if (!*key)
		return kb_err(-KB_E_INPUT, "'%s': cannot use the key of token '%s': %s", uri,
			      slot->token->label, ssl_reason(why, sizeof(why)));
	t->slot = slot;
	t->id_len = k->id_len < sizeof(t->id) ? k->id_len : 0;
	memcpy(t->id, k->id, t->id_len);
	snprintf(t->label, sizeof(t->label), "%s", k->label ? k->label : "");
	if (!cert)
		return 0;
	*cert = NULL;
	if (PKCS11_enumerate_certs(slot->token, &certs, &nc) < 0)
		nc = 0;
	for (unsigned i = 0; !*cert && i < nc; i++)
		if (certs[i].x509 && certs[i].id_len == k->id_len &&
		    !memcmp(certs[i].id, k->id, k->id_len))
			*cert = X509_dup(certs[i].x509);
	return 0;
}

/*
 * Make the RSA key the URI names on the token: its object is the label,
 * its id the URI's or 16 random bytes. libp11 0.4 has only the deprecated
 * call for this; its replacement is not in Debian 12's.
 */
static int generate(struct kb_token *t, PKCS11_SLOT *slot, const struct uri *u, const char *uri,
		    EVP_PKEY **key, X509 **cert)
{
	struct uri with_id = *u;
	size_t id_len = u->has_id ? u->id_len : 16;
	char why[256];
	int r;

	if (!u->object)
		return kb_err(-KB_E_INPUT,
			      "'%s': name the new key with an object attribute (its label)", uri);
	if (!u->has_id && PKCS11_generate_random(slot, with_id.id, (unsigned)id_len) < 0)
		return kb_err(-KB_E_INPUT, "'%s': token '%s' gives no random id: %s", uri,
			      slot->token->label, ssl_reason(why, sizeof(why)));
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
	r = PKCS11_generate_key(slot->token, 0, t->generate_bits, u->object, with_id.id, id_len);
#pragma GCC diagnostic pop
	if (r < 0)
		return kb_err(-KB_E_INPUT, "'%s': token '%s' could not make an RSA-%u key: %s", uri,
			      slot->token->label, t->generate_bits, ssl_reason(why, sizeof(why)));
	t->generated = true;
	/* without an id in the URI, the new key is found by its label and this id */
	with_id.id_len = id_len;
	with_id.has_id = true;
	return take_key(t, slot, &with_id, uri, key, cert);
}

static int open_token(struct kb_token *t, const struct uri *u, const char *uri,
		      const char *pin_file, EVP_PKEY **key, X509 **cert)
{
	const char *module = u->module_path ? u->module_path : DEFAULT_MODULE;
	PKCS11_SLOT *slot;
	char pin[1024], why[256];
	int r;

	t->ctx = PKCS11_CTX_new();
	if (!t->ctx)
		return -ENOMEM;
	t->loaded = PKCS11_CTX_load(t->ctx, module) == 0;
	if (!t->loaded)
		return kb_err(-KB_E_INPUT, "'%s': cannot load the PKCS#11 module '%s': %s", uri,
			      module, ssl_reason(why, sizeof(why)));
	if (PKCS11_enumerate_slots(t->ctx, &t->slots, &t->n_slots) < 0)
		return kb_err(-KB_E_INPUT, "'%s': the PKCS#11 module '%s' lists no slots: %s", uri,
			      module, ssl_reason(why, sizeof(why)));
	slot = find_slot(t, u, uri);
	if (!slot)
		return -KB_E_INPUT;
	r = find_pin(u, uri, pin_file, pin, sizeof(pin));
	if (r >= 0 && slot->token->loginRequired && !pin[0])
		r = kb_err(-KB_E_INPUT,
			   "'%s': token '%s' needs a PIN: set KBUILD_SIGN_PIN, pin-source in the "
			   "URI, or [signing] pin_file",
			   uri, slot->token->label);
	/* making a key and storing its certificate write: the session must be read-write */
	if (r >= 0 && t->generate_bits && PKCS11_open_session(slot, 1) < 0)
		r = kb_err(-KB_E_INPUT, "'%s': token '%s' opens no read-write session: %s", uri,
			   slot->token->label, ssl_reason(why, sizeof(why)));
	/* one attempt: a token locks itself after a few wrong PINs */
	if (r >= 0 && slot->token->loginRequired && PKCS11_login(slot, 0, pin) < 0)
		r = kb_err(-KB_E_INPUT, "'%s': token '%s' refused the PIN: %s", uri,
			   slot->token->label, ssl_reason(why, sizeof(why)));
	OPENSSL_cleanse(pin, sizeof(pin));
	return r < 0 ? r : take_key(t, slot, u, uri, key, cert);
}

static int token_open(const char *uri, const char *pin_file, unsigned bits, struct kb_token **t,
		      EVP_PKEY **key, X509 **cert)
{
	struct uri u;
	int r;

	*t = NULL;
	*key = NULL;
	if (cert)
		*cert = NULL;
	r = uri_parse(uri, &u);
	if (r < 0)
		return r;
	*t = calloc(1, sizeof(**t));
	if (*t)
		(*t)->generate_bits = bits;
	r = *t ? open_token(*t, &u, uri, pin_file, key, cert) : -ENOMEM;
	if (u.pin_value)
		OPENSSL_cleanse(u.pin_value, strlen(u.pin_value));
	uri_release(&u);
	if (r < 0) {
		EVP_PKEY_free(*key);
		*key = NULL;
		kb_token_close(*t);
		*t = NULL;
	}
	return r;
}

int kb_token_open(const char *uri, const char *pin_file, struct kb_token **t, EVP_PKEY **key,
		  X509 **cert)
{
	return token_open(uri, pin_file, 0, t, key, cert);
}

int kb_token_open_or_generate(const char *uri, const char *pin_file, unsigned bits,
			      struct kb_token **t, EVP_PKEY **key, bool *generated)
{
	int r = token_open(uri, pin_file, bits, t, key, NULL);

	*generated = r >= 0 && (*t)->generated;
	return r;
}

int kb_token_store_cert(struct kb_token *t, X509 *cert, const char *uri)
{
	char why[256];

	if (PKCS11_store_certificate(t->slot->token, cert, t->label, t->id, t->id_len, NULL) < 0)
		return kb_err(-KB_E_INPUT, "'%s': token '%s' did not take the certificate: %s", uri,
			      t->slot->token->label, ssl_reason(why, sizeof(why)));
	return 0;
}

void kb_token_close(struct kb_token *t)
{
	if (!t)
		return;
	if (t->slots)
		PKCS11_release_all_slots(t->ctx, t->slots, t->n_slots);
	if (t->loaded)
		PKCS11_CTX_unload(t->ctx);
	if (t->ctx)
		PKCS11_CTX_free(t->ctx);
	free(t);
}
