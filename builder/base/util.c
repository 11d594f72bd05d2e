/* Small shared helpers: string vectors, checked number parsing, hashing, file reads. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "base/log.h"
#include "base/util.h"

/* Keep the first failure; every push after it returns it. */
static int strv_failed(struct kb_strv *sv, int err)
{
	if (!sv->err)
		sv->err = err;
	return sv->err;
}

int kb_strv_push(struct kb_strv *sv, const char *s)
{
	char *copy;

	if (sv->err)
		return sv->err;
	if (sv->n + 2 > sv->alloc) {
		size_t alloc = sv->alloc ? sv->alloc * 2 : 8;
		char **v = realloc(sv->v, alloc * sizeof(*v));

		if (!v)
			return strv_failed(sv, -ENOMEM);
		sv->v = v;
		sv->alloc = alloc;
	}
	copy = strdup(s);
	if (!copy)
		return strv_failed(sv, -ENOMEM);
	sv->v[sv->n++] = copy;
	sv->v[sv->n] = NULL;
	return 0;
}

int kb_strv_pushf(struct kb_strv *sv, const char *fmt, ...)
{
	struct kb_buf b = KB_BUF_INIT;
	va_list ap;
	int r;

	if (sv->err)
		return sv->err;
	va_start(ap, fmt);
	r = kb_buf_vaddf(&b, fmt, ap);
	va_end(ap);
	r = r < 0 ? strv_failed(sv, r) : kb_strv_push(sv, kb_buf_str(&b));
	kb_buf_release(&b);
	return r;
}

int kb_strv_push_all(struct kb_strv *sv, const struct kb_strv *from)
{
	for (size_t i = 0; i < from->n; i++)
		if (kb_strv_push(sv, from->v[i]) < 0)
			return -ENOMEM;
	return 0;
}

int kb_strv_split(struct kb_strv *sv, const char *s)
{
	if (sv->err)
		return sv->err;
	while (*s) {
		const char *end;
		char word[4096];
		size_t len;
		int r;

		while (isspace((unsigned char)*s))
			s++;
		if (!*s)
			break;
		for (end = s; *end && !isspace((unsigned char)*end); end++)
			;
		len = (size_t)(end - s);
		if (len >= sizeof(word))
			return strv_failed(sv, -E2BIG);
		memcpy(word, s, len);
		word[len] = '\0';
		r = kb_strv_push(sv, word);
		if (r < 0)
			return r;
		s = end;
	}
	return 0;
}

int kb_strv_error(const struct kb_strv *sv)
{
	return sv->err;
}

int kb_strv_fail(struct kb_strv *sv, int err)
{
	return strv_failed(sv, err);
}

bool kb_strv_contains(const struct kb_strv *sv, const char *s)
{
	for (size_t i = 0; i < sv->n; i++)
		if (!strcmp(sv->v[i], s))
			return true;
	return false;
}

void kb_strv_clear(struct kb_strv *sv)
{
	for (size_t i = 0; i < sv->n; i++)
		free(sv->v[i]);
	free(sv->v);
	sv->v = NULL;
	sv->n = 0;
	sv->alloc = 0;
	sv->err = 0;
}

char *const *kb_strv_argv(struct kb_strv *sv)
{
	static char *const empty[] = { NULL };

	return sv->v ? sv->v : empty;
}

int kb_parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	unsigned long v = 0;

	if (!s || !*s)
		return -EINVAL;
	for (; *s; s++) {
		unsigned d;

		if (*s < '0' || *s > '9')
			return -EINVAL;
		d = (unsigned)(*s - '0');
		if (v > (max - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

int kb_parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "yes", "true", "1", "on" };
	static const char *const no[] = { "no", "false", "0", "off" };

	for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
		if (!strcmp(s, yes[i])) {
			*out = true;
			return 0;
		}
		if (!strcmp(s, no[i])) {
			*out = false;
			return 0;
		}
	}
	return -EINVAL;
}

int kb_read_fd(int fd, size_t max, struct kb_buf *b)
{
	char chunk[65536];

	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));
		int r;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return 0;
		if (b->len + (size_t)n > max)
			return -EFBIG;
		r = kb_buf_add(b, chunk, (size_t)n);
		if (r < 0)
			return r;
	}
}

const char *kb_file_kind(mode_t mode)
{
	if (S_ISDIR(mode))
		return "a directory";
	if (S_ISFIFO(mode))
		return "a FIFO";
	if (S_ISSOCK(mode))
		return "a socket";
	if (S_ISCHR(mode) || S_ISBLK(mode))
		return "a device";
	return "not a file";
}

int kb_check_regular(int fd, const char *what)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return kb_err(-KB_E_INPUT, "'%s' is not a regular file: it is %s", what,
			      kb_file_kind(st.st_mode));
	return 0;
}

int kb_open_file(int dirfd, const char *path, int flags)
{
	/* O_NONBLOCK: opening a FIFO with no writer would wait forever */
	int fd = openat(dirfd, path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | flags);
	int r;

	if (fd < 0)
		return -errno;
	r = kb_check_regular(fd, path);
	if (r < 0) {
		close(fd);
		return r;
	}
	return fd;
}

int kb_read_file(int dirfd, const char *path, size_t max, struct kb_buf *b)
{
	int fd = kb_open_file(dirfd, path, 0);
	int r;

	if (fd < 0)
		return fd;
	r = kb_read_fd(fd, max, b);
	close(fd);
	return r;
}

int kb_write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static void to_hex(const unsigned char *md, unsigned len, char *hex)
{
	static const char digits[] = "0123456789abcdef";

	for (unsigned i = 0; i < len; i++) {
		hex[2 * i] = digits[md[i] >> 4];
		hex[2 * i + 1] = digits[md[i] & 15];
	}
	hex[2 * len] = '\0';
}

void kb_sha256_hex(const void *data, size_t len, char hex[KB_SHA256_HEX])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;

	EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
	to_hex(md, mdlen, hex);
}

int kb_sha256_fd(int fd, char hex[KB_SHA256_HEX])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	char chunk[65536];
	EVP_MD_CTX *mdctx;
	int r = 0;

	mdctx = EVP_MD_CTX_new();
	if (!mdctx || !EVP_DigestInit_ex(mdctx, EVP_sha256(), NULL)) {
		r = -ENOMEM;
		goto out;
	}
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			goto out;
		}
		if (n == 0)
			break;
		EVP_DigestUpdate(mdctx, chunk, (size_t)n);
	}
	EVP_DigestFinal_ex(mdctx, md, &mdlen);
	to_hex(md, mdlen, hex);
out:
	EVP_MD_CTX_free(mdctx);
	return r;
}

int kb_sha256_file(int dirfd, const char *path, char hex[KB_SHA256_HEX])
{
	int fd = kb_open_file(dirfd, path, 0);
	int r;

	if (fd < 0)
		return fd;
	r = kb_sha256_fd(fd, hex);
	close(fd);
	return r;
}

char *kb_strstrip(char *s)
{
	size_t len;

	while (isspace((unsigned char)*s))
		s++;
	len = strlen(s);
	while (len && isspace((unsigned char)s[len - 1]))
		s[--len] = '\0';
	return s;
}

bool kb_str_startswith(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

int kb_pathf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

char *kb_str_printable(char *s)
{
	for (unsigned char *p = (unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			*p = '?';
	return s;
}
