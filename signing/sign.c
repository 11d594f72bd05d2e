/* Module signing and verification in the kernel's format (scripts/sign-file), with OpenSSL 3. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "kb-limits.h"
#include "log.h"
#include "modsig.h"
#include "sign.h"
#include "util.h"

/* The last OpenSSL error as text, for messages. */
static const char *ssl_error(char *buf, size_t size)
{
	unsigned long e = ERR_peek_last_error();

	if (!e)
		return "unknown error";
	ERR_error_string_n(e, buf, size);
	ERR_clear_error();
	return buf;
}

static int read_whole(const char *path, struct kb_buf *b, const char *what)
{
	int r = kb_read_file(AT_FDCWD, path, 1024 * 1024, b);

	if (r < 0 && r != -KB_E_INPUT)	/* that one is reported */
		return kb_err(-KB_E_INPUT, "cannot read %s '%s': %s", what, path, kb_strerror(r));
	return r < 0 ? r : 0;
}

static int pin_callback(char *buf, int size, int rwflag, void *u)
{
	const char *pin = getenv("KBUILD_SIGN_PIN");
	size_t len;

	(void)rwflag;
	(void)u;
	if (!pin)
		return -1;
	len = strlen(pin);
	if (len >= (size_t)size)
		return -1;
	memcpy(buf, pin, len);
	return (int)len;
}

static EVP_PKEY *load_key(const char *path)
{
	struct kb_buf text = KB_BUF_INIT;
	EVP_PKEY *key = NULL;
	char err[256];
	BIO *bio;

	if (read_whole(path, &text, "key") < 0)
		return NULL;
	bio = BIO_new_mem_buf(text.buf, (int)text.len);
	if (bio && strstr(kb_buf_str(&text), "-----BEGIN"))
		key = PEM_read_bio_PrivateKey(bio, NULL, pin_callback, NULL);
	else if (bio)
		key = d2i_PrivateKey_bio(bio, NULL);
	if (!key) {
		if (strstr(kb_buf_str(&text), "ENCRYPTED") && !getenv("KBUILD_SIGN_PIN"))
			kb_err(-KB_E_INPUT, "key '%s' is encrypted: set KBUILD_SIGN_PIN to its "
			       "passphrase", path);
		else
			kb_err(-KB_E_INPUT, "cannot load private key '%s': %s", path,
			       ssl_error(err, sizeof(err)));
	}
	BIO_free(bio);
	OPENSSL_cleanse(text.buf, text.alloc);
	kb_buf_release(&text);
	return key;
}

X509 *kb_cert_load(const char *path)
{
	struct kb_buf data = KB_BUF_INIT;
	const unsigned char *p;
	X509 *cert = NULL;
	char err[256];
	BIO *bio;

	if (read_whole(path, &data, "certificate") < 0)
		return NULL;
	p = (const unsigned char *)kb_buf_str(&data);
	/* sign-file's rule: 0x30 0x81..0x84 starts a DER SEQUENCE */
	if (data.len > 2 && p[0] == 0x30 && p[1] >= 0x81 && p[1] <= 0x84) {
		cert = d2i_X509(NULL, &p, (long)data.len);
	} else {
		bio = BIO_new_mem_buf(data.buf, (int)data.len);
		cert = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
		BIO_free(bio);
	}
	if (!cert)
		kb_err(-KB_E_INPUT, "cannot load certificate '%s': %s", path,
		       ssl_error(err, sizeof(err)));
	kb_buf_release(&data);
	return cert;
}

int kb_signer_load(struct kb_signer *s, const char *key_path, const char *cert_path,
		   const char *hash)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->key_path, sizeof(s->key_path), "%s", key_path);
	snprintf(s->cert_path, sizeof(s->cert_path), "%s", cert_path);
	snprintf(s->hash, sizeof(s->hash), "%s", hash);
	s->md = EVP_get_digestbyname(hash);
	if (!s->md)
		return kb_err(-KB_E_INPUT, "unknown hash '%s': expected sha256, sha384, sha512, "
			      "sha224 or sha1", hash);
	s->cert = kb_cert_load(cert_path);
	if (!s->cert)
		goto fail;
	s->key = load_key(key_path);
	if (!s->key)
		goto fail;
	if (X509_check_private_key(s->cert, s->key) != 1) {
		ERR_clear_error();
		kb_err(-KB_E_INPUT, "key '%s' does not match certificate '%s'", key_path, cert_path);
		goto fail;
	}
	return 0;
fail:
	kb_signer_release(s);
	return -KB_E_INPUT;
}

void kb_signer_release(struct kb_signer *s)
{
	EVP_PKEY_free(s->key);
	X509_free(s->cert);
	s->key = NULL;
	s->cert = NULL;
}

void kb_signer_fingerprint(const struct kb_signer *s, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned len = 0;

	out[0] = '\0';
	if (!s->cert || !X509_digest(s->cert, EVP_sha256(), md, &len))
		return;
	for (unsigned i = 0; i < len && i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* Split a module image into content and signature; a damaged or partial one is bad input. */
static int parse_module(const void *mod, size_t len, struct kb_modsig *sig, const char *what)
{
	const char *why = NULL;
	int r = kb_modsig_parse(mod, len, sig, &why);

	if (r < 0)
		return kb_err(r, "%s: %s", what, why);
	if (!kb_modsig_is_elf(mod, sig->content_len))
		return kb_err(-KB_E_INPUT, "%s: not a whole kernel module (truncated, or not an ELF "
			      "relocatable object)", what);
	return 0;
}

/* The detached CMS SignedData exactly as sign-file makes it. */
static int cms_sign(const struct kb_signer *s, const void *content, size_t len,
		    struct kb_buf *der)
{
	const unsigned flags = CMS_NOCERTS | CMS_BINARY;
	CMS_ContentInfo *cms = NULL;
	BIO *in = NULL, *out = NULL;
	char *mem;
	long n;
	int r = -EIO;

	in = BIO_new_mem_buf(content, (int)len);
	out = BIO_new(BIO_s_mem());
	if (!in || !out)
		goto out;
	cms = CMS_sign(NULL, NULL, NULL, NULL,
		       flags | CMS_PARTIAL | CMS_DETACHED | CMS_STREAM);
	if (!cms ||
	    !CMS_add1_signer(cms, s->cert, s->key, s->md, flags | CMS_NOSMIMECAP | CMS_NOATTR) ||
	    CMS_final(cms, in, NULL, flags) != 1 || i2d_CMS_bio_stream(out, cms, NULL, 0) != 1)
		goto out;
	n = BIO_get_mem_data(out, &mem);
	r = n > 0 ? kb_buf_add(der, mem, (size_t)n) : -EIO;
out:
	CMS_ContentInfo_free(cms);
	BIO_free(in);
	BIO_free(out);
	return r;
}

int kb_sign_module(const struct kb_signer *s, const void *mod, size_t len, struct kb_buf *out,
		   const char *what)
{
	struct kb_buf der = KB_BUF_INIT;
	unsigned char info[KB_MODSIG_INFO_LEN];
	struct kb_modsig sig;
	char err[256];
	int r;

	r = parse_module(mod, len, &sig, what);
	if (r < 0)
		return r;
	r = cms_sign(s, mod, sig.content_len, &der);
	if (r < 0) {
		kb_buf_release(&der);
		return kb_err(r, "%s: signing failed: %s", what, ssl_error(err, sizeof(err)));
	}
	kb_modsig_info((uint32_t)der.len, info);
	kb_buf_reset(out);
	r = kb_buf_add(out, mod, sig.content_len);
	if (r >= 0)
		r = kb_buf_add(out, der.buf, der.len);
	if (r >= 0)
		r = kb_buf_add(out, info, sizeof(info));
	if (r >= 0)
		r = kb_buf_add(out, KB_MODSIG_MAGIC, KB_MODSIG_MAGIC_LEN);
	kb_buf_release(&der);
	return r;
}

static void name_cn(X509_NAME *name, char *out, size_t size)
{
	int idx = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
	ASN1_STRING *str;

	out[0] = '\0';
	if (idx < 0) {
		X509_NAME_oneline(name, out, (int)size);
		return;
	}
	str = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx));
	snprintf(out, size, "%.*s", ASN1_STRING_length(str), (const char *)ASN1_STRING_get0_data(str));
}

static void serial_hex(const ASN1_INTEGER *sno, char *out, size_t size)
{
	const unsigned char *p = ASN1_STRING_get0_data(sno);
	int n = ASN1_STRING_length(sno);
	size_t used = 0;

	out[0] = '\0';
	for (int i = 0; i < n && used + 4 < size; i++)
		used += (size_t)snprintf(out + used, size - used, "%s%02X", i ? ":" : "", p[i]);
}

static void describe_signer(CMS_ContentInfo *cms, struct kb_sig_report *rep)
{
	STACK_OF(CMS_SignerInfo) *infos = CMS_get0_SignerInfos(cms);
	ASN1_OCTET_STRING *keyid = NULL;
	X509_NAME *issuer = NULL;
	ASN1_INTEGER *sno = NULL;
	X509_ALGOR *dig = NULL;
	CMS_SignerInfo *si;

	if (!infos || sk_CMS_SignerInfo_num(infos) < 1)
		return;
	si = sk_CMS_SignerInfo_value(infos, 0);
	if (CMS_SignerInfo_get0_signer_id(si, &keyid, &issuer, &sno) == 1) {
		if (issuer)
			name_cn(issuer, rep->signer, sizeof(rep->signer));
		if (sno)
			serial_hex(sno, rep->key_id, sizeof(rep->key_id));
		else if (keyid)
			serial_hex(keyid, rep->key_id, sizeof(rep->key_id));
	}
	CMS_SignerInfo_get0_algs(si, NULL, NULL, &dig, NULL);
	if (dig) {
		const ASN1_OBJECT *obj;

		X509_ALGOR_get0(&obj, NULL, NULL, dig);
		snprintf(rep->hash, sizeof(rep->hash), "%s", OBJ_nid2sn(OBJ_obj2nid(obj)));
		for (char *c = rep->hash; *c; c++)
			if (*c >= 'A' && *c <= 'Z')
				*c = (char)(*c - 'A' + 'a');
		if (!strncmp(rep->hash, "sha", 3) && strchr(rep->hash, '-'))
			memmove(strchr(rep->hash, '-'), strchr(rep->hash, '-') + 1,
				strlen(strchr(rep->hash, '-')));
	}
}

int kb_verify_module(const void *mod, size_t len, X509 *cert, struct kb_sig_report *rep,
		     const char *what)
{
	const unsigned char *p = (const unsigned char *)mod;
	CMS_ContentInfo *cms = NULL;
	STACK_OF(X509) *certs = NULL;
	struct kb_modsig sig;
	BIO *content = NULL;
	char err[256];
	int r;

	memset(rep, 0, sizeof(*rep));
	r = parse_module(mod, len, &sig, what);
	if (r < 0)
		return r;
	if (!sig.signed_)
		return 0;
	rep->signed_ = true;
	p += sig.sig_offset;
	cms = d2i_CMS_ContentInfo(NULL, &p, (long)sig.sig_len);
	if (!cms || p != (const unsigned char *)mod + sig.sig_offset + sig.sig_len) {
		r = kb_err(-KB_E_INPUT, "%s: the signature is not a valid PKCS#7 blob", what);
		goto out;
	}
	describe_signer(cms, rep);
	if (!cert)
		goto out;
	rep->checked = true;
	certs = sk_X509_new_null();
	content = BIO_new_mem_buf(mod, (int)sig.content_len);
	if (!certs || !content || !sk_X509_push(certs, cert)) {
		r = -ENOMEM;
		goto out;
	}
	rep->valid = CMS_verify(cms, certs, NULL, content, NULL,
				CMS_BINARY | CMS_NOINTERN | CMS_NO_SIGNER_CERT_VERIFY) == 1;
	if (!rep->valid)
		snprintf(rep->error, sizeof(rep->error), "%s", ssl_error(err, sizeof(err)));
out:
	sk_X509_free(certs);
	BIO_free(content);
	CMS_ContentInfo_free(cms);
	return r;
}
