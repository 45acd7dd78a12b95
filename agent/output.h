/* output.h - from kernel records to printed events: keep the process table current, build
 * each nightjar.Record (event.c), print it as JSON (pbjson.c, the ECS names of
 * docs/events.md) or as one readable line (text.c). */
#ifndef NJ_OUTPUT_H
#define NJ_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "control.h"
#include "detect.h"
#include "event.h"
#include "json.h"
#include "proc.h"
#include "spool.h"

struct nj_output {
	FILE *out;
	enum nj_format mode;
	struct nj_proctab *procs;
	struct nj_host host;
	int64_t boot_to_real_ns; /* CLOCK_REALTIME - CLOCK_BOOTTIME */
	struct nj_json json;
	struct nj_event ev;
	struct nj_spool *spool;	    /* NULL: events are numbered but not kept */
	struct nj_control *control; /* tail clients get every record too */
	struct nj_detect *detect;   /* NULL: no detection */
	uint64_t next_seq;	    /* without a spool */
	uint8_t *packed;	    /* a record packed for the spool */
	size_t packed_cap;
	uint64_t spool_warned; /* write errors already reported */
	uint64_t events;       /* events written */
	uint64_t alerts;       /* alerts written */
	uint64_t bad_records;  /* records that failed validation (never expected) */
	bool write_failed;     /* stdout is gone (EPIPE) or full */
};

int nj_output_init(struct nj_output *o, FILE *out, enum nj_format mode, struct nj_proctab *procs);
void nj_output_fini(struct nj_output *o);
/* Re-read the realtime/boottime offset (call periodically: NTP steps the wall clock). */
void nj_output_sync_clock(struct nj_output *o);

/* Update the process table from one kernel record and write its event. */
void nj_output_record(struct nj_output *o, const void *data, size_t len);

/* A detector fired (an nj_alert_fn; arg is the struct nj_output): write the alert record. */
void nj_output_alert(void *arg, const struct nj_alert *a);

struct nj_health {
	uint64_t stats[NJ_STAT_MAX];
	size_t watched_inodes, watched_names;
	uint64_t watch_errors;
	uint64_t uptime_s;
	bool has_ship; /* shipping counters (agent/ship.h) */
	uint64_t ship_acked_seq, ship_acked, ship_backlog, ship_lost;
};
void nj_output_health(struct nj_output *o, const struct nj_health *h);
/* Write what was kept since the last flush to the spool and the tail clients; call after each
 * ring drain, before stdout is flushed, so nothing is printed that the spool has not had. */
int nj_output_flush(struct nj_output *o);

/* Format CLOCK_BOOTTIME ns as RFC 3339 UTC with nanoseconds. */
void nj_format_time(char out[40], int64_t boot_to_real_ns, uint64_t boot_ns);

#endif
