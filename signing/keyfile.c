/* Reading signing keys and certificates: no final symlink, regular files only, secrets wiped. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "base/limits.h"
#include "base/log.h"
#include "signing/keyfile.h"
#include "signing/sign.h"

void kb_keyfile_release(struct kb_keyfile *f)
{
	if (f->data) {
		OPENSSL_cleanse(f->data, f->len);
		free(f->data);
	}
	f->data = NULL;
	f->len = 0;
}

/*
 * Read the regular file open on @fd straight into one buffer of its size:
 * no growing copy or stack chunk of a secret is left behind unwiped.
 */
static int read_fd(int fd, const char *what, const char *name, size_t max, struct kb_keyfile *f)
{
	size_t cap;
	int r = 0;

	if (fstat(fd, &f->st) < 0)
		return kb_err(-KB_E_INPUT, "cannot read %s '%s': %s", what, name, strerror(errno));
	if (!S_ISREG(f->st.st_mode))
		return kb_err(-KB_E_INPUT, "%s '%s' is not a regular file", what, name);
	if (f->st.st_size > (off_t)max)
		return kb_err(-KB_E_INPUT, "%s '%s' is larger than %zu bytes", what, name, max);
	cap = (size_t)f->st.st_size + 1; /* one byte more shows it grew under us */
	f->data = malloc(cap + 1);
	if (!f->data)
		return -ENOMEM;
	while (f->len < cap) {
		ssize_t n = read(fd, f->data + f->len, cap - f->len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n < 0)
				r = kb_err(-KB_E_INPUT, "cannot read %s '%s': %s", what, name,
					   strerror(errno));
			break;
		}
		f->len += (size_t)n;
	}
	if (r == 0 && f->len == cap)
		r = kb_err(-KB_E_INPUT, "%s '%s' changed while it was read", what, name);
	if (r < 0)
		kb_keyfile_release(f);
	else
		f->data[f->len] = '\0';
	return r;
}

/* "/rel", as messages name files inside the root. */
static void root_name(const char *rel, char *name, size_t size)
{
	while (*rel == '/')
		rel++;
	if (kb_pathf(name, size, "/%s", rel) < 0)
		kb_pathf(name, size, "/...");
}

int kb_keyfile_read_at(const struct kb_root *root, const char *rel, const char *what, size_t max,
		       struct kb_keyfile *f)
{
	char name[PATH_MAX];
	int fd, r;

	memset(f, 0, sizeof(*f));
	root_name(rel, name, sizeof(name));
	fd = kb_root_openat(root, rel, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0);
	if (fd == -ELOOP)
		return kb_err(-KB_E_INPUT,
			      "%s '%s' is a symlink: kbuildd reads signing keys and "
			      "certificates only from the file itself",
			      what, name);
	if (fd < 0)
		return kb_err(-KB_E_INPUT, "cannot read %s '%s': %s", what, name, kb_strerror(fd));
	r = read_fd(fd, what, name, max, f);
	close(fd);
	return r;
}

/*
 * A path the user typed is followed like any other file argument (sign-file
 * does too); only the file itself must be regular, and a FIFO must not hang.
 */
static int read_named(const char *path, const char *what, size_t max, struct kb_keyfile *f)
{
	int fd, r;

	memset(f, 0, sizeof(*f));
	fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return kb_err(-KB_E_INPUT, "cannot read %s '%s': %s", what, path, strerror(errno));
	r = read_fd(fd, what, path, max, f);
	close(fd);
	return r;
}

/*
 * kbuildd made its own key 0600: anything wider was done to it. A
 * configured or DKMS key shared with a group (a signing group, say) may be
 * the admin's deliberate choice, so that is said, not refused.
 */
static int check_access(const struct kb_keyfile *f, const char *name, enum kb_key_origin origin)
{
	unsigned mode = (unsigned)(f->st.st_mode & 07777);

	if (origin == KB_KEY_ANY)
		return 0;
	if (origin == KB_KEY_OWN && f->st.st_uid != geteuid())
		return kb_err(-KB_E_INPUT,
			      "key '%s' is owned by uid %u, not by the user kbuildd runs "
			      "as: it may have been replaced; check it, or make a new one with "
			      "'kbuildd keys generate --force'",
			      name, (unsigned)f->st.st_uid);
	if (!(mode & 066))
		return 0;
	if (origin == KB_KEY_OWN)
		return kb_err(-KB_E_INPUT,
			      "key '%s' is readable or writable by group or others "
			      "(mode %04o; kbuildd made it 0600): 'chmod 600' it, or if it may have "
			      "leaked, make a new one with 'kbuildd keys generate --force'",
			      name, mode);
	kb_warn("key '%s' is readable or writable by group or others (mode %04o)", name, mode);
	return 0;
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

static int parse_key(const struct kb_keyfile *f, const char *name, void *out)
{
	EVP_PKEY **key = out;
	const char *text = (const char *)f->data;
	BIO *bio = BIO_new_mem_buf(f->data, (int)f->len);
	char err[256];

	*key = NULL;
	if (bio && strstr(text, "-----BEGIN"))
		*key = PEM_read_bio_PrivateKey(bio, NULL, pin_callback, NULL);
	else if (bio)
		*key = d2i_PrivateKey_bio(bio, NULL);
	BIO_free(bio);
	if (*key)
		return 0;
	if (strstr(text, "ENCRYPTED") && !getenv("KBUILD_SIGN_PIN"))
		return kb_err(-KB_E_INPUT,
			      "key '%s' is encrypted: set KBUILD_SIGN_PIN to its "
			      "passphrase",
			      name);
	return kb_err(-KB_E_INPUT, "cannot load private key '%s': %s", name,
		      kb_ssl_error(err, sizeof(err)));
}

static int parse_cert(const struct kb_keyfile *f, const char *name, void *out)
{
	X509 **cert = out;
	const unsigned char *p = f->data;
	char err[256];
	BIO *bio;

	/* sign-file's rule: 0x30 0x81..0x84 starts a DER SEQUENCE */
	if (f->len > 2 && p[0] == 0x30 && p[1] >= 0x81 && p[1] <= 0x84) {
		*cert = d2i_X509(NULL, &p, (long)f->len);
	} else {
		bio = BIO_new_mem_buf(f->data, (int)f->len);
		*cert = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
		BIO_free(bio);
	}
	if (!*cert)
		return kb_err(-KB_E_INPUT, "cannot load certificate '%s': %s", name,
			      kb_ssl_error(err, sizeof(err)));
	return 0;
}

/*
 * Read a key or certificate, inside the root (@root set) or at a host path
 * the user named, check who may read it, and parse it with @parse into @out.
 */
static int load(const struct kb_root *root, const char *path, const char *what, size_t max,
		enum kb_key_origin origin,
		int (*parse)(const struct kb_keyfile *f, const char *name, void *out), void *out)
{
	struct kb_keyfile f;
	char name[PATH_MAX];
	int r;

	if (root) {
		root_name(path, name, sizeof(name));
		r = kb_keyfile_read_at(root, path, what, max, &f);
	} else {
		kb_pathf(name, sizeof(name), "%s", path);
		r = read_named(path, what, max, &f);
	}
	if (r < 0)
		return r;
	r = check_access(&f, name, origin);
	if (r >= 0)
		r = parse(&f, name, out);
	kb_keyfile_release(&f);
	return r;
}

int kb_key_load_at(const struct kb_root *root, const char *rel, enum kb_key_origin origin,
		   EVP_PKEY **key)
{
	*key = NULL;
	return load(root, rel, "key", KB_MAX_KEY_FILE, origin, parse_key, key);
}

int kb_key_load(const char *path, EVP_PKEY **key)
{
	*key = NULL;
	return load(NULL, path, "key", KB_MAX_KEY_FILE, KB_KEY_ANY, parse_key, key);
}

/* Certificates are public: only the file's type is checked, not who may read it. */
int kb_cert_load_at(const struct kb_root *root, const char *rel, X509 **cert)
{
	*cert = NULL;
	return load(root, rel, "certificate", KB_MAX_CERT_FILE, KB_KEY_ANY, parse_cert, cert);
}

int kb_cert_load(const char *path, X509 **cert)
{
	*cert = NULL;
	return load(NULL, path, "certificate", KB_MAX_CERT_FILE, KB_KEY_ANY, parse_cert, cert);
}

bool kb_cert_end(X509 *x, time_t now, time_t *not_after, long *days)
{
	struct tm tm;
	double d;

	if (ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) != 1)
		return false;
	*not_after = timegm(&tm);
	d = difftime(*not_after, now) / 86400.0;
	*days = d < 0 ? (long)d - 1 : (long)d;
	return true;
}
