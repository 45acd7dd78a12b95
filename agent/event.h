/* event.h - building a nightjar.Record (proto/nightjar.proto) from a kernel record and the
 * process table. A record is built in place in one reusable struct nj_event: nothing is
 * allocated per event, and every pointer in the record stays valid until the next build. */
#ifndef NJ_EVENT_H
#define NJ_EVENT_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include "nightjar.pb-c.h"
#include "detect.h"
#include "proc.h"
#include "records.h"

#define NJ_EVENT_ANCESTRY 8 /* ancestors above the parent that an alert names */

struct nj_argv {
	ProtobufCBinaryData *v;
	size_t n, cap;
};

struct nj_event {
	Nightjar__Record rec;
	Nightjar__Event event;
	Nightjar__Host host;
	Nightjar__Boot boot;
	Nightjar__ProcessEvent pev;
	Nightjar__NetworkEvent nev;
	Nightjar__FileEvent fev;
	Nightjar__Health health;
	Nightjar__Process proc, parent;
	Nightjar__Thread thread;
	Nightjar__PidRef session;
	Nightjar__Tty tty;
	Nightjar__User user;
	Nightjar__IdRef euid;
	Nightjar__Group group;
	Nightjar__Endpoint src, dst;
	Nightjar__Network net;
	Nightjar__Error err;
	Nightjar__File file;
	Nightjar__Nightjar nj;
	Nightjar__Namespaces ns;
	Nightjar__ExeInfo exe;
	Nightjar__FileMatch match;
	Nightjar__HealthCounters counters;
	struct nj_argv args, parent_args;
	/* alerts */
	struct nj_task alert_task; /* the acting process, rebuilt from the process table */
	Nightjar__Alert alert;
	Nightjar__Rule rule;
	Nightjar__Threat threat;
	Nightjar__Technique technique;
	Nightjar__Process anc[NJ_EVENT_ANCESTRY];
	Nightjar__Process *anc_p[NJ_EVENT_ANCESTRY];
	Nightjar__User anc_user[NJ_EVENT_ANCESTRY];
	char anc_uid[NJ_EVENT_ANCESTRY][12];
	struct nj_argv anc_args[NJ_EVENT_ANCESTRY];
	Nightjar__File files[NJ_ALERT_FILES];
	Nightjar__File *file_p[NJ_ALERT_FILES];
	Nightjar__Endpoint dests[NJ_ALERT_DESTS];
	Nightjar__Endpoint *dest_p[NJ_ALERT_DESTS];
	char dest_ip[NJ_ALERT_DESTS][INET6_ADDRSTRLEN];
	char *flags[12];
	/* text the record points to */
	char uid[12], gid[12], euid_s[12];
	char parent_entity[NJ_ENTITY_ID_LEN];
	char src_ip[INET6_ADDRSTRLEN], dst_ip[INET6_ADDRSTRLEN];
	char inode[24], device[24], owner[12];
	char path[NJ_PATH_STR_MAX];
};

/* Identity of this host, the same for every record. */
struct nj_host {
	char name[256];
	char id[64];
	char boot_id[40];
};

void nj_event_init(struct nj_event *ev);
void nj_event_fini(struct nj_event *ev);

/* Build the record of one validated kernel record (nj_record_check() passed). p is the acting
 * process's entry (may be NULL), parent its parent's (may be NULL). boot_to_real_ns converts
 * kernel times to UTC. Returns the record, or NULL when out of memory. */
Nightjar__Record *nj_event_build(struct nj_event *ev, const struct nj_host *host, const void *data,
				 const struct nj_proc *p, const struct nj_proc *parent,
				 int64_t boot_to_real_ns);

/* The record of an alert: the acting process and its ancestry from procs (as far as the table
 * still knows them), the rule, the files and destinations. NULL when out of memory. */
Nightjar__Record *nj_event_alert(struct nj_event *ev, const struct nj_host *host,
				 const struct nj_alert *a, struct nj_proctab *procs,
				 int64_t boot_to_real_ns);

/* The path an exec or open record carries, rebuilt (valid after nj_event_build). */
const char *nj_event_path(const struct nj_event *ev);

struct nj_health_in {
	uint64_t stats[NJ_STAT_MAX];
	uint64_t events, bad_records, watched_inodes, watched_names, watch_errors, processes;
	uint64_t uptime_s;
	bool has_spool;
	uint64_t spool_bytes, spool_segments, spool_oldest_seq, spool_evicted, spool_errors;
	uint64_t spool_truncated;
	bool has_ship; /* a collector is configured */
	uint64_t ship_acked_seq, ship_acked, ship_backlog, ship_lost;
	uint64_t alerts, alert_repeats;
};
Nightjar__Record *nj_event_health(struct nj_event *ev, const struct nj_host *host,
				  const struct nj_health_in *h, uint64_t utc_ns);

/* "O_RDONLY", "O_WRONLY", "O_APPEND"...: the access mode, then the flags that matter. */
size_t nj_open_flags(uint32_t flags, const char *names[], size_t max);

#endif
