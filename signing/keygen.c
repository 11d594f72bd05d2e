/* Signing keys: generate an RSA key and an X.509 certificate fit for MOK enrollment. */
#include <errno.h>

#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include "signing/keygen.h"
#include "signing/keystore.h"

static int add_ext(X509 *cert, int nid, const char *value)
{
	X509V3_CTX v3;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx(&v3, cert, cert, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
	if (!ext)
		return -EINVAL;
	ok = X509_add_ext(cert, ext, -1);
	X509_EXTENSION_free(ext);
	return ok ? 0 : -EINVAL;
}

X509 *kb_keys_make_cert(EVP_PKEY *key, const char *cn)
{
	unsigned char serial[20];
	X509 *cert = X509_new();
	X509_NAME *name;
	BIGNUM *bn = NULL;
	ASN1_INTEGER *sno = NULL;
	bool ok = false;

	if (!cert || RAND_bytes(serial, sizeof(serial)) != 1)
		goto out;
	serial[0] &= 0x7f; /* positive, as RFC 5280 wants */
	bn = BN_bin2bn(serial, sizeof(serial), NULL);
	sno = bn ? BN_to_ASN1_INTEGER(bn, NULL) : NULL;
	name = X509_get_subject_name(cert);
	if (!sno || !X509_set_version(cert, 2) || !X509_set_serialNumber(cert, sno) ||
	    !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1,
					-1, 0) ||
	    !X509_set_issuer_name(cert, name) || !X509_gmtime_adj(X509_getm_notBefore(cert), 0) ||
	    !X509_time_adj_ex(X509_getm_notAfter(cert), 36500, 0, NULL) ||
	    !X509_set_pubkey(cert, key))
		goto out;
	/* what shim's MokManager and the kernel's keyrings expect of a module key */
	if (add_ext(cert, NID_basic_constraints, "critical,CA:FALSE") < 0 ||
	    add_ext(cert, NID_key_usage, "digitalSignature") < 0 ||
	    add_ext(cert, NID_ext_key_usage, "codeSigning,1.3.6.1.4.1.2312.16.1.2") < 0 ||
	    add_ext(cert, NID_subject_key_identifier, "hash") < 0 ||
	    add_ext(cert, NID_authority_key_identifier, "keyid") < 0)
		goto out;
	ok = X509_sign(cert, key, EVP_sha256()) > 0;
out:
	ASN1_INTEGER_free(sno);
	BN_free(bn);
	if (!ok) {
		X509_free(cert);
		return NULL;
	}
	return cert;
}

static int bio_to_buf(BIO *bio, struct kb_buf *b)
{
	char *mem;
	long n = BIO_get_mem_data(bio, &mem);

	return n > 0 ? kb_buf_add(b, mem, (size_t)n) : -EIO;
}

int kb_cert_serialise(X509 *cert, struct kb_buf *pem, struct kb_buf *der)
{
	BIO *cbio = BIO_new(BIO_s_mem()), *dbio = BIO_new(BIO_s_mem());
	int r = -EIO;

	if (cbio && dbio && PEM_write_bio_X509(cbio, cert) && i2d_X509_bio(dbio, cert))
		r = bio_to_buf(cbio, pem);
	if (r >= 0)
		r = bio_to_buf(dbio, der);
	BIO_free(cbio);
	BIO_free(dbio);
	return r;
}

/* The three files of a pair, serialised; the key's PEM is wiped by the caller. */
static int serialise(EVP_PKEY *key, X509 *cert, struct kb_buf *key_pem, struct kb_buf *cert_pem,
		     struct kb_buf *cert_der)
{
	BIO *kbio = BIO_new(BIO_s_mem());
	int r = -EIO;

	if (kbio && PEM_write_bio_PrivateKey(kbio, key, NULL, NULL, 0, NULL, NULL))
		r = bio_to_buf(kbio, key_pem);
	BIO_free(kbio); /* a memory BIO clears its buffer when freed */
	return r < 0 ? r : kb_cert_serialise(cert, cert_pem, cert_der);
}

int kb_keys_make(unsigned bits, const char *common_name, struct kb_buf *key_pem,
		 struct kb_buf *cert_pem, struct kb_buf *cert_der)
{
	EVP_PKEY *key = EVP_RSA_gen(bits);
	X509 *cert = key ? kb_keys_make_cert(key, common_name) : NULL;
	int r = cert ? serialise(key, cert, key_pem, cert_pem, cert_der) : -EIO;

	X509_free(cert);
	EVP_PKEY_free(key);
	return r;
}

void kb_keys_wipe(struct kb_buf *key_pem)
{
	if (key_pem->buf)
		OPENSSL_cleanse(key_pem->buf, key_pem->alloc);
	kb_buf_release(key_pem);
}

static int generate(const struct kb_root *root, const char *key_rel, const char *cert_rel,
		    unsigned bits, const char *common_name, bool der)
{
	struct kb_buf key_pem = KB_BUF_INIT, cert_pem = KB_BUF_INIT, cert_der = KB_BUF_INIT;
	struct kb_keypair pair = { &key_pem, der ? &cert_der : &cert_pem, &cert_der };
	int r = kb_keys_make(bits, common_name, &key_pem, &cert_pem, &cert_der);

	if (r >= 0)
		r = kb_keystore_replace(root, key_rel, cert_rel, &pair);
	kb_keys_wipe(&key_pem);
	kb_buf_release(&cert_pem);
	kb_buf_release(&cert_der);
	return r;
}

int kb_keys_generate(const struct kb_root *root, const char *key_rel, const char *cert_rel,
		     unsigned bits, const char *common_name)
{
	return generate(root, key_rel, cert_rel, bits, common_name, false);
}

int kb_keys_generate_der(const struct kb_root *root, const char *key_rel, const char *cert_rel,
			 unsigned bits, const char *common_name)
{
	return generate(root, key_rel, cert_rel, bits, common_name, true);
}
