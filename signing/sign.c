/* Module signing and verification in the kernel's format (scripts/sign-file), with OpenSSL 3. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/err.h>

#include "base/limits.h"
#include "base/log.h"
#include "base/util.h"
#include "signing/modsig.h"
#include "signing/pkcs11.h"
#include "signing/sign.h"

const char *kb_ssl_error(char *buf, size_t size)
{
	unsigned long e = ERR_peek_last_error();

	if (!e)
		return "unknown error";
	ERR_error_string_n(e, buf, size);
	ERR_clear_error();
	return buf;
}

static int signer_init(struct kb_signer *s, const char *key_name, const char *cert_name,
		       const char *hash)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->key_path, sizeof(s->key_path), "%s", key_name);
	snprintf(s->cert_path, sizeof(s->cert_path), "%s", cert_name);
	snprintf(s->hash, sizeof(s->hash), "%s", hash);
	s->md = EVP_get_digestbyname(hash);
	if (!s->md)
		return kb_err(-KB_E_INPUT,
			      "unknown hash '%s': expected sha256, sha384, sha512, "
			      "sha224 or sha1",
			      hash);
	return 0;
}

/* The key must be the certificate's: anything signed otherwise would never verify. */
static int signer_match(struct kb_signer *s, int r)
{
	if (r >= 0 && X509_check_private_key(s->cert, s->key) != 1) {
		ERR_clear_error();
		r = kb_err(-KB_E_INPUT, "key '%s' does not match certificate '%s'", s->key_path,
			   s->cert_path);
	}
	if (r < 0) {
		kb_signer_release(s);
		return -KB_E_INPUT;
	}
	return 0;
}

int kb_signer_load_token(struct kb_signer *s, const char *key_uri, const char *cert_path,
			 const char *pin_file, const char *hash)
{
	int r = signer_init(s, key_uri, cert_path ? cert_path : "(the token's)", hash);

	if (r >= 0 && cert_path)
		r = kb_cert_load(cert_path, &s->cert);
	if (r >= 0)
		r = kb_token_open(key_uri, pin_file, &s->token, &s->key,
				  cert_path ? NULL : &s->cert);
	if (r >= 0 && !s->cert)
		r = kb_err(-KB_E_INPUT,
			   "'%s': the token holds no certificate with the key's id: name one",
			   key_uri);
	return signer_match(s, r);
}

int kb_signer_load(struct kb_signer *s, const char *key_path, const char *cert_path,
		   const char *hash)
{
	int r;

	if (kb_pkcs11_uri(key_path))
		return kb_signer_load_token(s, key_path, cert_path, NULL, hash);
	r = signer_init(s, key_path, cert_path, hash);

	if (r >= 0)
		r = kb_cert_load(cert_path, &s->cert);
	if (r >= 0)
		r = kb_key_load(key_path, &s->key);
	return signer_match(s, r);
}

int kb_signer_load_at(struct kb_signer *s, const struct kb_root *root, const char *key_rel,
		      const char *cert_rel, enum kb_key_origin origin, const char *hash)
{
	char key_name[512], cert_name[512];
	int r;

	snprintf(key_name, sizeof(key_name), "/%s", key_rel + strspn(key_rel, "/"));
	snprintf(cert_name, sizeof(cert_name), "/%s", cert_rel + strspn(cert_rel, "/"));
	r = signer_init(s, key_name, cert_name, hash);
	if (r >= 0)
		r = kb_cert_load_at(root, cert_rel, &s->cert);
	if (r >= 0)
		r = kb_key_load_at(root, key_rel, origin, &s->key);
	return signer_match(s, r);
}

void kb_signer_release(struct kb_signer *s)
{
	EVP_PKEY_free(s->key);
	X509_free(s->cert);
	kb_token_close(s->token); /* after its key */
	s->key = NULL;
	s->cert = NULL;
	s->token = NULL;
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
		return kb_err(-KB_E_INPUT,
			      "%s: not a whole kernel module (truncated, or not an ELF "
			      "relocatable object)",
			      what);
	return 0;
}

/* The detached CMS SignedData exactly as sign-file makes it. */
static int cms_sign(const struct kb_signer *s, const void *content, size_t len, struct kb_buf *der)
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
	cms = CMS_sign(NULL, NULL, NULL, NULL, flags | CMS_PARTIAL | CMS_DETACHED | CMS_STREAM);
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
		return kb_err(r, "%s: signing failed: %s", what, kb_ssl_error(err, sizeof(err)));
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
	snprintf(out, size, "%.*s", ASN1_STRING_length(str),
		 (const char *)ASN1_STRING_get0_data(str));
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
		snprintf(rep->error, sizeof(rep->error), "%s", kb_ssl_error(err, sizeof(err)));
out:
	sk_X509_free(certs);
	BIO_free(content);
	CMS_ContentInfo_free(cms);
	return r;
}
