/* sensor.h - the kernel side as the agent sees it: probe features, choose a hook per
 * capability, load and attach, hand over the ring buffer, read counters, detach. */
#ifndef NJ_SENSOR_H
#define NJ_SENSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nightjar.h"

struct nj_sensor;

/* Called for each ring-buffer record, in order. Return <0 to stop consuming. */
typedef int (*nj_record_cb)(void *arg, void *data, size_t len);

struct nj_sensor_opts {
	uint64_t ring_buffer_bytes;
	uint64_t wakeup_bytes;
	bool hooks_only; /* attach everything, emit nothing: the benchmark floor */
	nj_record_cb on_record;
	void *arg;
};

/* Open, configure, load and attach. Logs the hook chosen for each capability. NULL on error
 * (already reported). */
struct nj_sensor *nj_sensor_start(const struct nj_sensor_opts *opts);
/* Detach every program and free everything, including mounts made for the agent. */
void nj_sensor_stop(struct nj_sensor *s);

/* The ring buffer's epoll fd (readable once wakeup_bytes are queued), and the drain call for
 * it and for the flush timer. Returns records consumed or a negative error. */
int nj_sensor_ring_fd(const struct nj_sensor *s);
int nj_sensor_drain(struct nj_sensor *s);

/* The hook chosen for capability i (NULL past the last), and the programs attached. */
const char *nj_sensor_hook(const struct nj_sensor *s, size_t i, const char **capability);
unsigned int nj_sensor_programs(const struct nj_sensor *s);

/* Counters NJ_STAT_*, summed over CPUs. */
int nj_sensor_stats(const struct nj_sensor *s, uint64_t out[NJ_STAT_MAX]);

/* Watch lists. A refresh starts a generation; identities not re-added before
 * nj_sensor_watch_end() are removed. Names and signatures only ever grow. */
void nj_sensor_watch_begin(struct nj_sensor *s);
int nj_sensor_watch_inode(struct nj_sensor *s, uint32_t kdev, uint64_t ino);
int nj_sensor_watch_name(struct nj_sensor *s, const char leaf[NJ_LEAF_MAX], uint32_t flags,
			 const char parent[NJ_PARENT_MAX]);
void nj_sensor_watch_end(struct nj_sensor *s, size_t *n_inodes, size_t *n_names);
/* Destination lists: add one prefix of list index list - 1 (IPv4 as ::ffff:a.b.c.d with
 * prefixlen + 96). Returns 0 or -errno (-ENOSPC when the trie is full). */
int nj_sensor_intel_add(struct nj_sensor *s, const uint8_t addr[16], uint32_t prefixlen,
			uint16_t list);

/* Watch entries refused because a map was full, since start. */
uint64_t nj_sensor_watch_errors(const struct nj_sensor *s);

#endif
