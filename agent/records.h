/* records.h - decoding the kernel's ring-buffer records (bpf/nightjar.h) in user space. */
#ifndef NJ_RECORDS_H
#define NJ_RECORDS_H

#include <stddef.h>
#include <stdint.h>

#include "nightjar.h"

/* "0123456789abcdef-4294967295-18446744073709551615" */
#define NJ_ENTITY_ID_LEN 56
/* a path rebuilt from a walk: the components plus one '/' each */
#define NJ_PATH_STR_MAX (NJ_PATH_MAX + NJ_NAME_MAX + NJ_PATH_DEPTH + 2)

/* Check that a record is whole and its variable parts stay inside it. Returns its kind, or -1
 * with a reason in *why. */
int nj_record_check(const void *data, size_t len, const char **why);

/* Rebuild "/a/b/c" from the leaf-first, NUL-separated components of a walk. Returns the
 * length written (always NUL-terminated, cut to outlen). */
size_t nj_path_string(char *out, size_t outlen, const char *comps, const struct nj_path *p);

/* Kernel dev_t (major << 20 | minor) from and to a stat() st_dev. */
uint32_t nj_kdev(uint64_t st_dev);
unsigned int nj_kdev_major(uint32_t kdev);
unsigned int nj_kdev_minor(uint32_t kdev);

/* The stable identity of a process: boot id, pid and start time. The start time is taken in
 * clock ticks, the unit /proc/PID/stat gives, so a process seen in the startup snapshot and
 * later in the kernel gets the same id. */
void nj_entity_id(char out[NJ_ENTITY_ID_LEN], const char *boot_id, uint32_t tgid,
		  uint64_t start_ns);
uint64_t nj_ticks_to_ns(uint64_t ticks);

#endif
