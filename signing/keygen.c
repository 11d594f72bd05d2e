/* Signing keys: generate an RSA key and an X.509 certificate fit for MOK enrollment. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include "atomic.h"
#include "keygen.h"
#include "log.h"
#include "util.h"

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

static X509 *make_cert(EVP_PKEY *key, const char *cn)
{
	unsigned char serial[20];
	X509 *cert = X509_new();
	X509_NAME *name;
	BIGNUM *bn = NULL;
	ASN1_INTEGER *sno = NULL;
	bool ok = false;

	if (!cert || RAND_bytes(serial, sizeof(serial)) != 1)
		goto out;
	serial[0] &= 0x7f;	/* positive, as RFC 5280 wants */
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

/* Create the key file exclusively, 0600, and wipe the PEM from memory after. */
static int write_key(const struct kb_root *root, const char *key_rel, EVP_PKEY *key)
{
	struct kb_buf pem = KB_BUF_INIT;
	BIO *bio = BIO_new(BIO_s_mem());
	int fd, r = -EIO;

	if (bio && PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL))
		r = bio_to_buf(bio, &pem);
	BIO_free(bio);
	if (r < 0)
		goto out;
	fd = kb_root_openat(root, key_rel, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0600);
	if (fd < 0) {
		r = fd;
		goto out;
	}
	r = kb_write_all(fd, pem.buf, pem.len);
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	close(fd);
	/* a partial key left behind would be taken for a key by the next run */
	if (r < 0 && (fd = kb_durable_unlink(root, key_rel)) < 0)	/* fd is closed: reused */
		kb_err_errno(fd, "cannot remove the partly written key '/%s'; remove it by hand",
			     key_rel);
out:
	if (pem.buf)
		OPENSSL_cleanse(pem.buf, pem.alloc);
	kb_buf_release(&pem);
	return r;
}

static int write_cert(const struct kb_root *root, const char *cert_rel, X509 *cert)
{
	struct kb_buf pem = KB_BUF_INIT, der = KB_BUF_INIT;
	char der_rel[PATH_MAX];
	BIO *bio = BIO_new(BIO_s_mem()), *dbio = BIO_new(BIO_s_mem());
	int r = -EIO;

	if (bio && dbio && PEM_write_bio_X509(bio, cert) && i2d_X509_bio(dbio, cert))
		r = bio_to_buf(bio, &pem);
	if (r >= 0)
		r = bio_to_buf(dbio, &der);
	if (r >= 0)
		r = kb_atomic_write(root, cert_rel, pem.buf, pem.len, 0644);
	if (r >= 0 && kb_pathf(der_rel, sizeof(der_rel), "%s.der", cert_rel) == 0)
		r = kb_atomic_write(root, der_rel, der.buf, der.len, 0644);
	BIO_free(bio);
	BIO_free(dbio);
	kb_buf_release(&pem);
	kb_buf_release(&der);
	return r;
}

int kb_keys_generate(const struct kb_root *root, const char *key_rel, const char *cert_rel,
		     unsigned bits, const char *common_name)
{
	char dir[PATH_MAX], *slash;
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	int r, e;

	if (kb_root_exists(root, key_rel))
		return -EEXIST;
	kb_pathf(dir, sizeof(dir), "%s", key_rel);
	slash = strrchr(dir, '/');
	if (slash) {
		*slash = '\0';
		r = kb_mkdirs(root, dir, 0700);
		if (r < 0)
			return r;
	}
	kb_pathf(dir, sizeof(dir), "%s", cert_rel);
	slash = strrchr(dir, '/');
	if (slash) {
		*slash = '\0';
		r = kb_mkdirs(root, dir, 0755);
		if (r < 0)
			return r;
	}
	key = EVP_RSA_gen(bits);
	cert = key ? make_cert(key, common_name) : NULL;
	if (!cert) {
		r = -EIO;
		goto out;
	}
	r = write_key(root, key_rel, key);
	if (r >= 0)
		r = write_cert(root, cert_rel, cert);
	/* a key without its certificate would be taken for a key pair by the next run */
	if (r < 0 && (e = kb_durable_unlink(root, key_rel)) < 0)
		kb_err_errno(e, "cannot remove the key '/%s' whose certificate was not written; "
			     "remove it by hand", key_rel);
out:
	X509_free(cert);
	EVP_PKEY_free(key);
	return r;
}
