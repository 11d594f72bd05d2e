/* Git sources with libgit2: a bare mirror per repository in the cache, updated by fetch. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <git2.h>

#include "base/log.h"
#include "base/util.h"
#include "sources/fetch.h"
#include "sources/gitsrc.h"

static const char *last_git_error(void)
{
	const git_error *e = git_error_last();

	return e && e->message ? e->message : "unknown error";
}

/* Fetch every branch and tag into the mirror, as `git remote update` would. */
static int update_mirror(git_repository *repo, const char *url, const char *what)
{
	char *specs[] = { (char *)"+refs/heads/*:refs/heads/*",
			  (char *)"+refs/tags/*:refs/tags/*" };
	git_strarray refspecs = { specs, 2 };
	git_fetch_options opts;
	git_remote *remote = NULL;
	int r;

	git_fetch_options_init(&opts, GIT_FETCH_OPTIONS_VERSION);
	opts.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_ALL;
	r = git_remote_create_anonymous(&remote, repo, url);
	if (r == 0)
		r = git_remote_fetch(remote, &refspecs, &opts, "kbuildd fetch");
	if (r < 0)
		r = kb_err(-KB_E_INPUT, "%s: cannot fetch %s: %s", what, url, last_git_error());
	git_remote_free(remote);
	return r;
}

static int open_mirror(struct kb_ctx *ctx, const char *url, git_repository **repo, bool *fresh,
		       const char *what)
{
	_cleanup_free_ char *cache = kb_fetch_cache_dir(ctx);
	char hex[KB_SHA256_HEX], path[4096];

	kb_sha256_hex(url, strlen(url), hex);
	if (!cache || kb_pathf(path, sizeof(path), "%s/git/%.32s.git", cache, hex) < 0)
		return -ENOMEM;
	*fresh = false;
	if (git_repository_open_bare(repo, path) == 0)
		return 0;
	if (ctx->offline || ctx->settings.offline)
		return kb_err(-KB_E_INPUT,
			      "%s: %s is not in the source cache and kbuildd is offline", what,
			      url);
	/* git_repository_init creates the parent directories */
	if (git_repository_init(repo, path, 1) < 0)
		return kb_err(-KB_E_INPUT, "%s: cannot create the mirror '%s': %s", what, path,
			      last_git_error());
	*fresh = true;
	return 0;
}

static void drop_mirror(git_repository *repo)
{
	char *path = strdup(git_repository_path(repo));

	if (path) {
		char *argv_path = path;
		size_t len = strlen(argv_path);

		if (len > 1 && argv_path[len - 1] == '/')
			argv_path[len - 1] = '\0';
		kb_rm_rf_host(argv_path);
	}
	free(path);
}

static int check_ref(git_repository *repo, const git_oid *want, const char *ref, const char *what)
{
	const char *prefixes[] = { "refs/tags/", "refs/heads/", "" };
	char full[512], got[GIT_OID_HEXSZ + 1], exp[GIT_OID_HEXSZ + 1];

	for (size_t i = 0; i < ARRAY_SIZE(prefixes); i++) {
		git_object *obj = NULL;
		git_reference *r = NULL;
		int match;

		snprintf(full, sizeof(full), "%s%s", prefixes[i], ref);
		if (git_reference_lookup(&r, repo, full) < 0)
			continue;
		if (git_reference_peel(&obj, r, GIT_OBJECT_COMMIT) < 0) {
			git_reference_free(r);
			continue;
		}
		match = git_oid_equal(git_object_id(obj), want);
		git_oid_tostr(got, sizeof(got), git_object_id(obj));
		git_object_free(obj);
		git_reference_free(r);
		if (match)
			return 0;
		git_oid_tostr(exp, sizeof(exp), want);
		return kb_err(-KB_E_INPUT, "%s: ref '%s' is commit %s, not the pinned commit %s",
			      what, ref, got, exp);
	}
	return kb_err(-KB_E_INPUT, "%s: ref '%s' does not exist in the repository", what, ref);
}

int kb_git_checkout(struct kb_ctx *ctx, const char *url, const char *commit, const char *ref,
		    const char *dest, const char *what)
{
	git_checkout_options co;
	git_repository *repo = NULL;
	git_commit *c = NULL;
	git_tree *tree = NULL;
	git_oid oid;
	bool fresh;
	int r;

	git_libgit2_init();
	git_checkout_options_init(&co, GIT_CHECKOUT_OPTIONS_VERSION);
	if (git_oid_fromstr(&oid, commit) < 0) {
		r = kb_err(-KB_E_INPUT, "%s: commit '%s' is not 40 hex digits", what, commit);
		goto out;
	}
	r = open_mirror(ctx, url, &repo, &fresh, what);
	if (r < 0)
		goto out;
	/* fetch only when the commit (or the ref's current target) may be missing */
	if (fresh || git_commit_lookup(&c, repo, &oid) < 0 || ref) {
		git_commit_free(c);
		c = NULL;
		if (!(ctx->offline || ctx->settings.offline)) {
			kb_verbose("fetching %s", url);
			r = update_mirror(repo, url, what);
			if (r < 0) {
				/* a mirror that never fetched anything is not a cache entry */
				if (fresh)
					drop_mirror(repo);
				goto out;
			}
		}
		if (git_commit_lookup(&c, repo, &oid) < 0) {
			r = kb_err(-KB_E_INPUT, "%s: commit %s is not in %s", what, commit, url);
			goto out;
		}
	}
	if (ref) {
		r = check_ref(repo, &oid, ref, what);
		if (r < 0)
			goto out;
	}
	if (git_commit_tree(&tree, c) < 0) {
		r = kb_err(-KB_E_INPUT, "%s: cannot read commit %s: %s", what, commit,
			   last_git_error());
		goto out;
	}
	co.checkout_strategy = GIT_CHECKOUT_FORCE;
	co.target_directory = dest;
	if (git_checkout_tree(repo, (git_object *)tree, &co) < 0)
		r = kb_err(-KB_E_INPUT, "%s: cannot check out %s: %s", what, commit,
			   last_git_error());
out:
	git_tree_free(tree);
	git_commit_free(c);
	git_repository_free(repo);
	git_libgit2_shutdown();
	return r;
}
