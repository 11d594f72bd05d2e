/* Copying and hashing a source tree, without following a symlink out of it. */
#pragma once

#include "base/path.h"

/*
 * Copy the tree at host path @src to @dst_rel inside the root (which must
 * not exist). Regular files, directories and symlinks are copied; other
 * types are refused. When @hash_hex is not NULL it receives a SHA-256
 * over the tree's names, modes and contents, in sorted order.
 */
int kb_copy_tree(const char *src, const struct kb_root *root, const char *dst_rel, char *hash_hex);
/* Hash a host tree the same way without copying. */
int kb_hash_tree(const char *src, char *hash_hex);
