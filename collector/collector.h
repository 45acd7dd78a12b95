/* collector.h - what the parts of nightjar-collector share: hosts, connections, the batches
 * waiting for the next group commit, and the sink interface.
 *
 * One thread, one epoll loop (agent/loop.c). A round of the loop reads whatever every ready
 * connection sent and hands the new records to the sink; when the round is over the loop's
 * idle hook commits them all at once (one fdatasync per touched file, or one wait for
 * JetStream's acknowledgements) and only then sends the Acks, in each connection's batch
 * order (docs/wire.md, docs/collector.md). */
#ifndef NJC_COLLECTOR_H
#define NJC_COLLECTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <protobuf-c/protobuf-c.h>

#include "config.h"
#include "json.h"

#define NJC_HOST_ID_MAX 64
/* commits a sink may have in flight at once */
#define NJC_MAX_COMMITS 4

struct njc_conn;
struct njc_sink;

/* One agent host, from its first batch (or its directory at start) on. */
struct njc_host {
	char id[NJC_HOST_ID_MAX + 1];
	bool opened;		/* the sink knows its high-water mark */
	uint64_t accepted;	/* highest sequence handed to the sink (maybe not durable) */
	uint64_t durable;	/* highest sequence durably stored: Ack.stored_through */
	uint64_t records;	/* stored since start */
	uint64_t duplicates;	/* records received again and skipped */
	uint64_t gaps;		/* sequence jumps */
	uint64_t missing;	/* records the jumps skipped */
	uint64_t last_gap_from; /* the last jump: from .. to, exclusive */
	uint64_t last_gap_to;
	uint64_t last_seen_utc_ns; /* last batch received */
	uint64_t last_seen_mono_ms;
	uint64_t rate_mark;   /* records at the last rate tick */
	double rate;	      /* records/s, smoothed */
	unsigned int conns;   /* connections that sent a batch for it now */
	bool silent;	      /* reported silent (logged once) */
	bool in_group;	      /* touched in the round being gathered */
	unsigned int unacked; /* its batches received and not yet acknowledged */
	struct njc_host *next_in_group;
	struct njc_host *next_hash;
	unsigned int failures; /* storage failures: the sink counts one whenever it closes the
				* host after an error (opened = false) */
	void *sink_priv;       /* the sink's per-host state */
};

/* A batch received and not yet acknowledged. */
struct njc_pending {
	struct njc_conn *conn; /* NULL once the connection is gone: no Ack */
	struct njc_host *host; /* NULL for a refusal */
	uint64_t first_seq;
	uint32_t count;
	uint64_t last_new;     /* highest sequence this batch stored, 0 if none */
	uint64_t t_recv_ns;    /* CLOCK_MONOTONIC, for the latency figures */
	unsigned int failures; /* host->failures when received */
	char *error;	       /* refused or failed: the Ack's error, then close */
	struct njc_pending *next_in_group;
};

struct njc_sink_ops {
	const char *name;
	/* Learn h's highest durably stored sequence into h->durable (0: nothing stored). */
	int (*host_open)(struct njc_sink *s, struct njc_host *h, char *err, size_t errlen);
	/* A new connection speaks for h: a sink shared with other collectors re-reads the
	 * mark, which another collector may have moved. NULL: nothing to do. */
	int (*host_refresh)(struct njc_sink *s, struct njc_host *h, char *err, size_t errlen);
	/* Store records first_seq .. first_seq + n - 1 of h (all above h->accepted) for p.
	 * May buffer; 0 or -errno with err. */
	int (*store)(struct njc_sink *s, struct njc_host *h, struct njc_pending *p,
		     uint64_t first_seq, const ProtobufCBinaryData *recs, size_t n, char *err,
		     size_t errlen);
	/* Make durable everything stored since the last commit. The hosts touched are listed
	 * (next_in_group), as are the batches; a batch whose records could not be made durable
	 * gets p->error set (malloc'd), and its host is reopened from the sink's storage.
	 * Returns 0 when done, or 1 when the work goes on elsewhere: the sink then makes done_fd
	 * readable, and finish() completes the oldest commits that are done, in the order they
	 * were made, and returns how many. Up to NJC_MAX_COMMITS are in flight while the loop
	 * goes on reading (and storing) the next rounds. */
	int (*commit)(struct njc_sink *s, struct njc_host *hosts, struct njc_pending *batches);
	unsigned int (*finish)(struct njc_sink *s);
	/* Its part of the status: text lines to out, or (j not NULL) members of an object. */
	void (*status)(struct njc_sink *s, FILE *out, struct nj_json *j);
	void (*close)(struct njc_sink *s);
};

struct njc_sink {
	const struct njc_sink_ops *ops;
	int done_fd; /* -1 for a sink whose commit is always done on return */
};

struct njc_sink *njc_sink_file_open(const struct njc_config *cfg, char *err, size_t errlen);
struct njc_sink *njc_sink_nats_open(const struct njc_config *cfg, char *err, size_t errlen);
/* Host ids found in the file sink's directory, to show in the status before they connect. */
int njc_sink_file_list_hosts(const char *data_dir, void (*cb)(const char *id, void *arg),
			     void *arg);

/* ---- host table (hosts.c) ---- */

/* Host ids go into paths and subjects: 1..64 of [0-9A-Za-z._-], not starting with '.'. */
bool njc_host_id_valid(const char *id);
struct njc_host *njc_host_get(const char *id, bool create);
void njc_host_foreach(void (*cb)(struct njc_host *h, void *arg), void *arg);
size_t njc_host_count(void);
/* Once a second: rates, and a log line for a host that fell silent or came back. */
void njc_hosts_tick(uint64_t now_ms, uint64_t silent_after_ms);

/* Is this packed nightjar.Record an alert (body field 18)? Reads only the top-level tags. */
bool njc_record_is_alert(const uint8_t *p, size_t len);

/* Monotonic and UTC clocks. */
uint64_t njc_now_ms(void);
uint64_t njc_now_ns(void);
uint64_t njc_utc_ns(void);

#endif
