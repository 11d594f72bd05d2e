/* Replacing the signing key pair in one step, and finishing or rolling back a torn one. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/atomic.h"
#include "base/fault.h"
#include "base/log.h"
#include "base/util.h"
#include "signing/keystore.h"

/*
 * The store's own paths, all in the root's state directory (kb_root_open()):
 * keys/ holds kbuildd's own pair.
 */
struct store {
	const struct kb_root *root;
	char state[PATH_MAX];
	char keys[PATH_MAX];
	/* a whole new keys/, swapped with the old; after the swap it holds the old pair */
	char swap[PATH_MAX];
	/* for a pair kept elsewhere: the plan "targets", renamed "committed" once all is staged */
	char copy[PATH_MAX];
	char plan[PATH_MAX];
	char committed[PATH_MAX];
	char own_key[PATH_MAX], own_cert[PATH_MAX];
};
/* A file staged beside its target, as ".NAME.kbuildd-new". */
#define STAGED_SUFFIX ".kbuildd-new"

enum { KEY, CERT, DER, NR_FILES };

static const char *const own_names[NR_FILES] = {
	"signing_key.pem",
	"signing_key.x509",
	"signing_key.x509.der",
};
static const mode_t file_modes[NR_FILES] = { 0600, 0644, 0644 };
/* a new key's directory is the key's alone; a certificate's may be shared */
static const mode_t dir_modes[NR_FILES] = { 0700, 0755, 0755 };

static int store_init(struct store *ks, const struct kb_root *root)
{
	ks->root = root;
	if (!root->state_dir)
		return -EINVAL;
	if (kb_pathf(ks->state, sizeof(ks->state), "%s", root->state_dir) < 0 ||
	    kb_pathf(ks->keys, sizeof(ks->keys), "%s/keys", ks->state) < 0 ||
	    kb_pathf(ks->swap, sizeof(ks->swap), "%s/.kbuildd-new.keys", ks->state) < 0 ||
	    kb_pathf(ks->copy, sizeof(ks->copy), "%s/.kbuildd-new.signing", ks->state) < 0 ||
	    kb_pathf(ks->plan, sizeof(ks->plan), "%s/targets", ks->copy) < 0 ||
	    kb_pathf(ks->committed, sizeof(ks->committed), "%s/committed", ks->copy) < 0 ||
	    kb_pathf(ks->own_key, sizeof(ks->own_key), "%s/" KB_OWN_KEY_IN_STATE, ks->state) < 0 ||
	    kb_pathf(ks->own_cert, sizeof(ks->own_cert), "%s/" KB_OWN_CERT_IN_STATE, ks->state) < 0)
		return -ENAMETOOLONG;
	return 0;
}

struct target {
	char rel[PATH_MAX];
	char staged[PATH_MAX]; /* beside rel */
	char dir[PATH_MAX];    /* rel's directory, "." at the top */
};

/* Create @rel exclusively, never through a link, and make its contents durable. */
static int write_new(const struct kb_root *root, const char *rel, const struct kb_buf *data,
		     mode_t mode)
{
	int fd, r;

	kb_fault_point("create key file");
	fd = kb_root_openat(root, rel, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode);
	if (fd < 0)
		return kb_err_errno(fd, "cannot create '/%s'", rel);
	r = kb_write_all(fd, data->buf, data->len);
	kb_fault_point("write key file");
	if (r == 0 && fchmod(fd, mode) < 0) /* whatever the umask */
		r = -errno;
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	return r < 0 ? kb_err_errno(r, "cannot write '/%s'", rel) : 0;
}

static int sync_dir(const struct kb_root *root, const char *rel)
{
	int fd = kb_root_openat(root, rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0);
	int r = 0;

	if (fd < 0)
		return fd;
	if (fsync(fd) < 0)
		r = -errno;
	close(fd);
	return r;
}

static int drop_stage(const struct store *ks, const char *stage)
{
	int r = kb_rm_rf(ks->root, stage);

	return r < 0 ? r : sync_dir(ks->root, ks->state);
}

/* A fresh, empty staging directory only root can enter. */
static int make_stage(const struct store *ks, const char *stage)
{
	const struct kb_root *root = ks->root;
	int r = kb_mkdirs(root, ks->state, 0755);

	if (r >= 0)
		r = kb_rm_rf(root, stage);
	if (r >= 0)
		r = kb_mkdirs(root, stage, 0700);
	return r < 0 ? kb_err_errno(r, "cannot make '/%s'", stage) : 0;
}

/* keys/ is swapped whole, so it must be a directory of its own; *@exists says if there is one. */
static int check_keys_dir(const struct store *ks, bool *exists)
{
	int fd = kb_root_openat(ks->root, ks->keys, O_PATH | O_NOFOLLOW, 0);
	struct stat st;
	int r = 0;

	*exists = false;
	if (fd == -ENOENT)
		return 0;
	if (fd < 0)
		return kb_err_errno(fd, "cannot open '/%s'", ks->keys);
	if (fstat(fd, &st) < 0)
		r = kb_err_errno(-errno, "cannot stat '/%s'", ks->keys);
	else if (!S_ISDIR(st.st_mode))
		r = kb_err(-KB_E_INPUT,
			   "'/%s' is not a directory: kbuildd replaces its key pair by "
			   "swapping that directory whole; set [signing] key and cert to keep the "
			   "pair elsewhere",
			   ks->keys);
	else
		*exists = true;
	close(fd);
	return r;
}

static const struct kb_store_file *listed(const struct kb_store_file *files, size_t n,
					  const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(name, files[i].name))
			return &files[i];
	return NULL;
}

/*
 * Link @name of the old keys/ as @as in the new one. What an admin keeps
 * there moves too: only files, so the swap stays one rename.
 */
static int link_old(const struct store *ks, int kfd, int sfd, const char *name, const char *as)
{
	struct stat st;

	if (fstatat(kfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT && strcmp(name, as) ?
			       kb_err(-KB_E_INPUT, "'/%s/%s' is not there", ks->keys, name) :
			       -errno;
	if (S_ISDIR(st.st_mode))
		return kb_err(-KB_E_INPUT,
			      "'/%s/%s' is a directory: move it out of '/%s' so the "
			      "key pair can be replaced",
			      ks->keys, name, ks->keys);
	kb_fault_point("link");
	return linkat(kfd, name, sfd, as, 0) < 0 ? -errno : 0;
}

/* The old keys/'s files: each one listed as taken, and every one not listed. */
static int carry_over(const struct store *ks, const struct kb_store_file *files, size_t n)
{
	const struct kb_root *root = ks->root;
	struct kb_strv names = KB_STRV_INIT;
	int kfd, sfd = -1, r;

	r = kb_root_list(root, ks->keys, &names);
	kfd = kb_root_openat(root, ks->keys, O_PATH | O_DIRECTORY | O_NOFOLLOW, 0);
	if (kfd >= 0)
		sfd = kb_root_openat(root, ks->swap, O_PATH | O_DIRECTORY | O_NOFOLLOW, 0);
	if (r >= 0 && (kfd < 0 || sfd < 0))
		r = kfd < 0 ? kfd : sfd;
	for (size_t i = 0; r >= 0 && i < names.n; i++)
		if (!listed(files, n, names.v[i]))
			r = link_old(ks, kfd, sfd, names.v[i], names.v[i]);
	for (size_t i = 0; r >= 0 && i < n; i++)
		if (files[i].from)
			r = link_old(ks, kfd, sfd, files[i].from, files[i].name);
	if (sfd >= 0)
		close(sfd);
	if (kfd >= 0)
		close(kfd);
	kb_strv_clear(&names);
	return r < 0 && r != -KB_E_INPUT ? kb_err_errno(r, "cannot carry '/%s' over", ks->keys) : r;
}

/* kbuildd's own keys/: build the new one beside it, then swap the two in one step. */
static int swap_in(const struct store *ks, const struct kb_store_file *files, size_t n)
{
	const struct kb_root *root = ks->root;
	char rel[PATH_MAX];
	bool exists;
	int r;

	r = check_keys_dir(ks, &exists);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++)
		if (files[i].from && !exists)
			return kb_err(-KB_E_INPUT, "'/%s' is not there", ks->keys);
	r = make_stage(ks, ks->swap);
	for (size_t i = 0; r >= 0 && i < n; i++) {
		if (!files[i].data)
			continue;
		r = kb_pathf(rel, sizeof(rel), "%s/%s", ks->swap, files[i].name);
		if (r >= 0)
			r = write_new(root, rel, files[i].data, files[i].mode);
	}
	if (r >= 0 && exists)
		r = carry_over(ks, files, n);
	if (r >= 0)
		r = sync_dir(root, ks->swap);
	if (r >= 0) {
		r = exists ? kb_durable_exchange(root, ks->swap, ks->keys) :
			     kb_durable_rename(root, ks->swap, ks->keys);
		if (r < 0)
			r = kb_err_errno(r, "cannot swap '/%s' into place", ks->swap);
	}
	/* before the swap it holds the unused new files, after it the old ones */
	drop_stage(ks, ks->swap);
	return r;
}

int kb_keystore_update(const struct kb_root *root, const struct kb_store_file *files, size_t n)
{
	struct store st;
	int r = store_init(&st, root);

	return r < 0 ? kb_err_errno(r, "cannot name the key store's files") :
		       swap_in(&st, files, n);
}

/* Where each file of a pair kept elsewhere goes, and its staged copy beside it. */
static int plan_targets(const char *key_rel, const char *cert_rel, struct target t[NR_FILES])
{
	const char *const rels[NR_FILES] = { key_rel, cert_rel, cert_rel };

	for (size_t i = 0; i < NR_FILES; i++) {
		const char *slash, *base;

		if (kb_pathf(t[i].rel, sizeof(t[i].rel), i == DER ? "%s.der" : "%s", rels[i]) < 0)
			return -ENAMETOOLONG;
		slash = strrchr(t[i].rel, '/');
		base = slash ? slash + 1 : t[i].rel;
		if (kb_pathf(t[i].staged, sizeof(t[i].staged), "%.*s.%s" STAGED_SUFFIX,
			     (int)(base - t[i].rel), t[i].rel, base) < 0 ||
		    kb_pathf(t[i].dir, sizeof(t[i].dir), "%.*s",
			     slash ? (int)(slash - t[i].rel) : 1, slash ? t[i].rel : ".") < 0)
			return -ENAMETOOLONG;
	}
	return 0;
}

static int write_plan(const struct store *ks, const char *key_rel, const char *cert_rel)
{
	struct kb_buf b = KB_BUF_INIT_MAX(2 * PATH_MAX + 2);
	int r = kb_buf_addf(&b, "%s\n%s\n", key_rel, cert_rel);

	if (r >= 0)
		r = kb_atomic_write_buf(ks->root, ks->plan, &b, 0600);
	kb_buf_release(&b);
	return r;
}

/* The targets written by write_plan() to @rel; -KB_E_INPUT when it holds anything else. */
static int read_plan(const struct kb_root *root, const char *rel, struct target t[NR_FILES])
{
	struct kb_buf b = KB_BUF_INIT_MAX(2 * PATH_MAX + 2);
	char *key, *cert, *end;
	int r = kb_root_read(root, rel, b.max, &b);

	if (r < 0)
		goto out;
	r = -KB_E_INPUT;
	key = b.buf;
	cert = key ? strchr(key, '\n') : NULL;
	if (!cert)
		goto out;
	*cert++ = '\0';
	end = strchr(cert, '\n');
	if (!end || end[1] || !*key || !*cert)
		goto out;
	*end = '\0';
	r = plan_targets(key, cert, t);
out:
	kb_buf_release(&b);
	return r;
}

static int stage_beside(const struct kb_root *root, const struct target *t,
			const struct kb_buf *data, size_t i)
{
	int r = kb_mkdirs(root, t->dir, dir_modes[i]);

	if (r < 0)
		return kb_err_errno(r, "cannot make '/%s'", t->dir);
	r = kb_durable_unlink(root, t->staged);
	if (r >= 0)
		r = write_new(root, t->staged, data, file_modes[i]);
	if (r >= 0)
		r = sync_dir(root, t->dir);
	return r;
}

static void unstage(const struct kb_root *root, const struct target t[NR_FILES])
{
	for (size_t i = 0; i < NR_FILES; i++)
		kb_durable_unlink(root, t[i].staged);
}

/* Rename each staged file over its target; those already renamed are skipped, so it can rerun. */
static int finish(const struct kb_root *root, const struct target t[NR_FILES])
{
	for (size_t i = 0; i < NR_FILES; i++) {
		int r;

		if (!kb_root_exists(root, t[i].staged))
			continue;
		r = kb_durable_rename(root, t[i].staged, t[i].rel);
		if (r < 0)
			return kb_err_errno(r, "cannot rename '/%s' to '/%s'", t[i].staged,
					    t[i].rel);
	}
	return 0;
}

/* A pair kept elsewhere: stage beside the targets, commit, rename into place. */
static int copy_in(const struct store *ks, const char *key_rel, const char *cert_rel,
		   const struct kb_buf *const data[NR_FILES])
{
	const struct kb_root *root = ks->root;
	struct target t[NR_FILES];
	int r;

	r = plan_targets(key_rel, cert_rel, t);
	if (r < 0)
		return kb_err_errno(r, "cannot stage '/%s'", key_rel);
	r = make_stage(ks, ks->copy);
	/* the plan goes first, so a kill while staging still finds what to clear */
	if (r >= 0)
		r = write_plan(ks, key_rel, cert_rel);
	for (size_t i = 0; r >= 0 && i < NR_FILES; i++)
		r = stage_beside(root, &t[i], data[i], i);
	if (r >= 0)
		r = kb_durable_rename(root, ks->plan, ks->committed);
	if (r < 0) {
		unstage(root, t);
		drop_stage(ks, ks->copy);
		return r;
	}
	/* committed: from here on a killed run is finished by the next one */
	r = finish(root, t);
	if (r >= 0)
		drop_stage(ks, ks->copy);
	return r;
}

int kb_keystore_replace(const struct kb_root *root, const char *key_rel, const char *cert_rel,
			const struct kb_keypair *pair)
{
	const struct kb_buf *const data[NR_FILES] = { pair->key, pair->cert, pair->der };
	struct store st;
	int r = store_init(&st, root);

	if (r < 0)
		return kb_err_errno(r, "cannot name the key store's files");
	key_rel += strspn(key_rel, "/");
	cert_rel += strspn(cert_rel, "/");
	if (!strcmp(key_rel, cert_rel))
		return kb_err(-KB_E_INPUT,
			      "the key and the certificate are both '/%s': [signing] key "
			      "and cert must name two files",
			      key_rel);
	if (!strcmp(key_rel, st.own_key) && !strcmp(cert_rel, st.own_cert)) {
		struct kb_store_file files[NR_FILES];

		for (size_t i = 0; i < NR_FILES; i++)
			files[i] = (struct kb_store_file){ own_names[i], data[i], NULL,
							   file_modes[i] };
		return swap_in(&st, files, NR_FILES);
	}
	return copy_in(&st, key_rel, cert_rel, data);
}

static int recover_copy(const struct store *ks)
{
	const struct kb_root *root = ks->root;
	struct target t[NR_FILES];

	if (read_plan(root, ks->committed, t) >= 0) {
		kb_info("finishing the replacement of signing key '/%s' an interrupted run began",
			t[KEY].rel);
		if (finish(root, t) < 0) {
			kb_warn("'/%s' and '/%s' may not match until this can finish", t[KEY].rel,
				t[CERT].rel);
			return -EIO;
		}
	} else if (read_plan(root, ks->plan, t) >= 0) {
		unstage(root, t);
	}
	return drop_stage(ks, ks->copy);
}

unsigned kb_keys_recover(const struct kb_root *root)
{
	unsigned cleaned = 0;
	struct store st;

	if (store_init(&st, root) < 0)
		return 0;
	if (kb_root_exists(root, st.swap)) {
		/* before the swap an unused new pair, after it the old one: neither is wanted */
		kb_verbose("removing '/%s', left by an interrupted key generation", st.swap);
		drop_stage(&st, st.swap);
		cleaned++;
	}
	if (kb_root_exists(root, st.copy) && recover_copy(&st) >= 0)
		cleaned++;
	return cleaned;
}

unsigned kb_keystore_check(const struct kb_root *root, void (*report)(void *data, const char *msg),
			   void *data)
{
	const char *stages[2];
	unsigned problems = 0;
	struct store st;

	if (store_init(&st, root) < 0)
		return 0;
	stages[0] = st.swap;
	stages[1] = st.copy;

	for (size_t i = 0; i < ARRAY_SIZE(stages); i++)
		if (kb_root_exists(root, stages[i])) {
			struct kb_buf msg = KB_BUF_INIT;

			kb_buf_addf(&msg, "/%s: half-made key pair left by an interrupted run",
				    stages[i]);
			report(data, kb_buf_str(&msg));
			kb_buf_release(&msg);
			problems++;
		}
	return problems;
}
