/* proc.h - the agent's process table: what it knows of each live process (and of recently
 * exited ones), so every event can name its process and parent. Keyed by (pid, start time)
 * so a reused pid never inherits another process's identity. */
#ifndef NJ_PROC_H
#define NJ_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "records.h"

struct nj_proc {
	struct nj_proc *next;	   /* hash chain */
	struct nj_proc *dead_next; /* FIFO of exited processes awaiting removal */
	uint32_t tgid, ppid, uid;
	uint32_t sid; /* session leader's pid, 0 if unknown */
	uint64_t start_ns, parent_start_ns;
	uint64_t exited_at_ns; /* monotonic; 0 while alive */
	char entity_id[NJ_ENTITY_ID_LEN];
	char comm[NJ_COMM_LEN];
	char *exe;  /* NULL if unknown */
	char *args; /* NUL-separated argv, args_len bytes; NULL if unknown */
	uint32_t args_len;
	bool args_trunc;
};

struct nj_proctab;

struct nj_proctab *nj_proctab_new(const char *boot_id);
void nj_proctab_free(struct nj_proctab *t);

/* Find a process by its identity; NULL if unknown. */
struct nj_proc *nj_proc_find(struct nj_proctab *t, uint32_t tgid, uint64_t start_ns);
/* Find or create; a new entry copies exe/args from its parent when the parent is known
 * (a fork runs its parent's image). NULL only when out of memory. */
struct nj_proc *nj_proc_get(struct nj_proctab *t, uint32_t tgid, uint64_t start_ns, uint32_t ppid,
			    uint64_t parent_start_ns);
/* Replace the image after exec. Returns -1 when out of memory. */
int nj_proc_set_image(struct nj_proc *p, const char *exe, const char *args, uint32_t args_len,
		      bool args_trunc);
/* The process exited: keep it for linger_ns so late events still find it, then drop it. */
void nj_proc_exited(struct nj_proctab *t, struct nj_proc *p, uint64_t now_ns);
/* Drop exited processes older than linger_ns. Returns how many were dropped. */
size_t nj_proctab_expire(struct nj_proctab *t, uint64_t now_ns, uint64_t linger_ns);
size_t nj_proctab_size(const struct nj_proctab *t);
const char *nj_proctab_boot_id(const struct nj_proctab *t);

/* Fill the table from /proc (processes that were running before the agent). proc_root is
 * "/proc" except in tests. skip_tgid is the agent itself. Returns processes added or -1. */
int nj_proctab_snapshot(struct nj_proctab *t, const char *proc_root, uint32_t skip_tgid);

/* Read /proc/sys/kernel/random/boot_id (37 bytes with NUL). */
int nj_read_boot_id(char out[40]);

#endif
