/* ship.h - the shipper: the agent's spool to the collector over TLS 1.3 with mutual
 * certificates (docs/shipping.md, the protocol in docs/wire.md).
 *
 * It runs in the agent's one event loop: a nonblocking connect and handshake, batches read
 * from the spool after the acknowledged position and sent several at a time (a window), the
 * position advanced by the collector's acknowledgements and kept in <state_dir>/ship.pos.
 * After any failure it reconnects with exponential back-off and full jitter and resends from
 * that position; the collector drops what it already has, so each record is stored once. */
#ifndef NJ_SHIP_H
#define NJ_SHIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "json.h"
#include "loop.h"
#include "spool.h"

struct nj_ship;

struct nj_ship_stats {
	uint64_t acked_seq;	/* the collector has everything up to here (0: nothing yet) */
	uint64_t acked_records; /* acknowledged since start */
	uint64_t sent_records;	/* sent since start, resends included */
	uint64_t lost_records;	/* evicted from the spool before they were shipped, since start */
	uint64_t backlog;	/* records in the spool after acked_seq */
	bool connected;
};

/* Load the CA, certificate and key of cc and check that they belong together (the key
 * matches the certificate, which the CA signed). 0, or -1 with "FILE:LINE:COL: collector.cert
 * '/path': what is wrong" in err. host_id, if given, is checked against the certificate's
 * names: a mismatch is only warned about (the collector refuses such a host's batches). */
int nj_ship_check(const struct nj_collector_config *cc, const char *host_id, char *err,
		  size_t errlen);

/* Start shipping the spool in spool_dir (the one spool is written to) as host_id. The
 * position is kept in state_dir/ship.pos. NULL with a message in err when the files cannot be
 * used at all; a certificate the CA does not accept (expired...) is logged and the agent goes
 * on recording. */
struct nj_ship *nj_ship_start(struct nj_loop *loop, const struct nj_collector_config *cc,
			      struct nj_spool *spool, const char *spool_dir, const char *state_dir,
			      const char *host_id, char *err, size_t errlen);
/* Persist the position and close the connection. */
void nj_ship_stop(struct nj_ship *s);

void nj_ship_stats(const struct nj_ship *s, struct nj_ship_stats *st);
/* For nightjarctl status: one or two lines, or a "collector" object. */
void nj_ship_status_text(const struct nj_ship *s, FILE *f);
void nj_ship_status_json(const struct nj_ship *s, struct nj_json *j);

/* ---- exposed for the unit tests ---- */

/* The delay before reconnect attempt number attempt (0 for the first after a failure): full
 * jitter, rnd scaled into [min_ms, min(max_ms, min_ms * 2^attempt)]. */
uint64_t nj_backoff_ms(unsigned int attempt, uint64_t min_ms, uint64_t max_ms, uint64_t rnd);
/* The acknowledged position in PATH. 0 with *seq set; 1 when there is no file; -1 when it
 * holds no position (err says so). */
int nj_ship_pos_read(const char *path, uint64_t *seq, char *err, size_t errlen);
/* Write it durably: a temporary file, fsync, rename, fsync of the directory. 0 or -errno. */
int nj_ship_pos_write(const char *path, uint64_t seq);

#endif
