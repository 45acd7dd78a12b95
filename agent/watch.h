/* watch.h - turning credential path patterns into the kernel's watch lists.
 *
 * A pattern is absolute ("/etc/shadow") or starts with "~/" (every home directory). Each one
 * gives the kernel two kinds of keys:
 *   - identities (dev, ino) of the files it names today, in every home, globs expanded:
 *     these catch hardlinks, bind mounts and files whose name says nothing;
 *   - a name signature: the leaf name, plus the parent directory's name when the leaf alone is
 *     too common ("config" only under ".kube" or ".aws"). Signatures catch the file anywhere —
 *     a copy under /tmp, a home not in passwd, a container's filesystem — and after a tool
 *     replaces it by renaming a temp file over it, because they never depend on an inode.
 * Identities are refreshed by a periodic rescan (new homes, replaced files).
 */
#ifndef NJ_WATCH_H
#define NJ_WATCH_H

#include <stddef.h>
#include <stdint.h>

#include "nightjar.h"

/* The signature of a pattern: returns NJ_NAME_ANY_PARENT or NJ_NAME_NEED_PARENT with leaf and
 * parent filled, or 0 when the leaf has glob characters or is too long (identity only). */
uint32_t nj_watch_signature(const char *pattern, char leaf[NJ_LEAF_MAX],
			    char parent[NJ_PARENT_MAX]);

/* Home directories: every passwd entry's, plus directories under /home that passwd does not
 * know. passwd_path and home_root are parameters for tests. Returns a count, *homes is a
 * NULL-terminated array to free with nj_watch_free_homes(). */
size_t nj_watch_homes(const char *passwd_path, const char *home_root, char ***homes);
void nj_watch_free_homes(char **homes);

/* Expand a pattern in every home (or once, if absolute) and call found() for each regular
 * file it names, after following symlinks. Returns the number of files found. */
typedef void (*nj_watch_found_cb)(const char *path, uint64_t st_dev, uint64_t st_ino, void *arg);
size_t nj_watch_expand(const char *pattern, char *const *homes, nj_watch_found_cb found, void *arg);

#endif
