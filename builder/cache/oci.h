/* What store-oci.c and store-oci-push.c share: media types and the manifest request. */
#pragma once

#include "cache/store.h"

#define KB_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define KB_OCI_EMPTY "application/vnd.oci.empty.v1+json"
#define KB_OCI_ARTIFACT_TYPE "application/vnd.kbuildd.build.v1"
#define KB_OCI_LAYER_MANIFEST "application/vnd.kbuildd.manifest.v1"
#define KB_OCI_LAYER_SIG "application/vnd.kbuildd.manifest.sig.v1+cms"
#define KB_OCI_LAYER_FILE "application/vnd.kbuildd.file.v1"

/* @method of the image manifest under @tag; NULL when out of memory. */
struct kb_http_req *kb_oci_manifest_req(const struct kb_store *s, const char *method,
					const char *tag);
