/* Detached CMS signatures over a byte string, and the certificates that may make them. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "base/log.h"
#include "signing/cms.h"

int kb_cms_sign(const struct kb_signer *s, const void *data, size_t len, struct kb_buf *der)
{
	const unsigned flags = CMS_DETACHED | CMS_BINARY | CMS_NOCERTS | CMS_NOSMIMECAP |
			       CMS_PARTIAL;
	BIO *in = BIO_new_mem_buf(data, (int)len);
	CMS_ContentInfo *cms = NULL;
	unsigned char *out = NULL;
	char ssl[256];
	int n = -1, r = -ENOMEM;

	if (len > (size_t)0x7fffffff)
		r = -E2BIG;
	if (!in || len > (size_t)0x7fffffff)
		goto out;
	cms = CMS_sign(NULL, NULL, NULL, NULL, flags);
	if (!cms || !CMS_add1_signer(cms, s->cert, s->key, EVP_sha256(), flags) ||
	    !CMS_final(cms, in, NULL, flags) || (n = i2d_CMS_ContentInfo(cms, &out)) < 0) {
		r = kb_err(-KB_E_INPUT, "cannot sign with '%s': %s", s->key_path,
			   kb_ssl_error(ssl, sizeof(ssl)));
		goto out;
	}
	r = kb_buf_add(der, out, (size_t)n);
out:
	OPENSSL_free(out);
	CMS_ContentInfo_free(cms);
	BIO_free(in);
	return r;
}

void kb_cert_name(X509 *cert, char *out, size_t size)
{
	X509_NAME *name = X509_get_subject_name(cert);

	out[0] = '\0';
	if (name && X509_NAME_get_text_by_NID(name, NID_commonName, out, (int)size) > 0)
		return;
	if (name)
		X509_NAME_oneline(name, out, (int)size);
}

int kb_cms_verify(const void *data, size_t len, const void *der, size_t der_len,
		  STACK_OF(X509) * trust, char *who, size_t who_size, char *why, size_t why_size)
{
	const unsigned char *p = der;
	CMS_ContentInfo *cms = NULL;
	STACK_OF(X509) *signers = NULL;
	BIO *in = NULL;
	char ssl[256];
	int r = 0;

	who[0] = '\0';
	if (der_len > (size_t)0x7fffffff || len > (size_t)0x7fffffff) {
		snprintf(why, why_size, "the signature or the signed text is too large");
		return 0;
	}
	cms = d2i_CMS_ContentInfo(NULL, &p, (long)der_len);
	if (!cms || p != (const unsigned char *)der + der_len) {
		snprintf(why, why_size, "the signature is not a CMS structure");
		r = -EBADMSG;
		goto out;
	}
	in = BIO_new_mem_buf(data, (int)len);
	if (!in) {
		r = -ENOMEM;
		goto out;
	}
	/* no chain: module signing certificates are their own roots; only @trust may sign */
	if (CMS_verify(cms, trust, NULL, in, NULL,
		       CMS_BINARY | CMS_DETACHED | CMS_NOINTERN | CMS_NO_SIGNER_CERT_VERIFY) != 1) {
		snprintf(why, why_size, "%s", kb_ssl_error(ssl, sizeof(ssl)));
		goto out;
	}
	signers = CMS_get0_signers(cms);
	if (signers && sk_X509_num(signers) > 0)
		kb_cert_name(sk_X509_value(signers, 0), who, who_size);
	r = 1;
out:
	sk_X509_free(signers);
	BIO_free(in);
	CMS_ContentInfo_free(cms);
	ERR_clear_error();
	return r;
}

int kb_certs_load(const char *path, STACK_OF(X509) * *out)
{
	STACK_OF(X509) *certs = sk_X509_new_null();
	BIO *bio = NULL;
	X509 *cert;
	char ssl[256];
	int r = 0;

	*out = NULL;
	if (!certs)
		return -ENOMEM;
	bio = BIO_new_file(path, "r");
	if (!bio) {
		r = kb_err(-KB_E_INPUT, "cannot read certificates from '%s': %s", path,
			   kb_ssl_error(ssl, sizeof(ssl)));
		goto out;
	}
	while ((cert = PEM_read_bio_X509(bio, NULL, NULL, NULL)))
		if (!sk_X509_push(certs, cert)) {
			X509_free(cert);
			r = -ENOMEM;
			goto out;
		}
	ERR_clear_error(); /* the end of the file reads as an error */
	if (sk_X509_num(certs) == 0)
		r = kb_err(-KB_E_INPUT, "'%s' holds no PEM certificate", path);
out:
	BIO_free(bio);
	if (r < 0)
		sk_X509_pop_free(certs, X509_free);
	else
		*out = certs;
	return r;
}
