/*
 * A build cache artifact: what kbuildd installed for one (recipe, version,
 * kernel, build id), the signed and compressed files as installed plus the
 * build's Module.symvers, named by a manifest the builder signs (detached
 * CMS) with its module signing key.
 *
 *   kbuildd-artifact 1
 *   recipe NAME
 *   version VERSION
 *   kernel RELEASE
 *   build-id HEX
 *   installed SHA256 SIZE lib/modules/RELEASE/...
 *   build SHA256 SIZE Module.symvers
 *
 * A build that failed on the builder is an artifact too, so that a fleet
 * does not compile it again: after build-id, "failed REASON", and its one
 * file is "log SHA256 SIZE build.log".
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "base/limits.h"
#include "base/strbuf.h"
#include "base/util.h"

enum kb_artifact_kind {
	KB_ARTIFACT_INSTALLED, /* path relative to the root: lib/modules/RELEASE/... */
	KB_ARTIFACT_BUILD,     /* Module.symvers of the build, for dependents to link against */
	KB_ARTIFACT_LOG,       /* build.log of a build that failed */
};

struct kb_artifact_file {
	char *path;
	char sha256[KB_SHA256_HEX];
	size_t size;
	enum kb_artifact_kind kind;
	struct kb_buf data;
};

struct kb_artifact {
	char *recipe, *version, *kernel;
	char build_id[KB_SHA256_HEX];
	char *failed; /* why the build failed on the builder, or NULL */
	struct kb_artifact_file *files;
	size_t n;
	struct kb_buf text; /* the manifest, as signed */
	struct kb_buf sig;  /* its detached CMS signature (DER) */
};

void kb_artifact_init(struct kb_artifact *a);
void kb_artifact_release(struct kb_artifact *a);

/* Add a file whose bytes @data the artifact takes over (its sha256 and size computed). */
int kb_artifact_add(struct kb_artifact *a, const char *path, enum kb_artifact_kind kind,
		    struct kb_buf *data);
/* Write a->text from the fields and files. */
int kb_artifact_format(struct kb_artifact *a);
/*
 * Parse a->text into the fields and files (without their bytes). A line
 * that is not what the format says is -KB_E_INPUT with "line N: what was
 * expected" in @why: a store's answer is never trusted.
 */
int kb_artifact_parse(struct kb_artifact *a, char *why, size_t size);
