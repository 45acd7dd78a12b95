/* ship_bench.c - nightjar-ship-bench: how fast the agent's shipper (agent/ship.c) catches up on
 * a backlog, through real TLS to a real collector, without the sensor (no BPF needed).
 *
 *   nightjar-ship-bench CONFIG STATE_DIR
 *
 * CONFIG is an agent configuration with a collector: block; STATE_DIR/spool holds the backlog
 * (made with `nightjar-spool-bench append`). The shipper starts from STATE_DIR/ship.pos as the
 * agent would, and the clock runs from its start until the collector has acknowledged the last
 * record of the spool. Prints one line:
 *   ship records=N seconds=S records_per_s=R failures=F
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "cursor.h"
#include "host.h"
#include "log.h"
#include "loop.h"
#include "ship.h"
#include "spool.h"

static const char *prog = "nightjar-ship-bench";

/* the error exit and the clock; its count parser and subcommand table are not needed here */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "common.h"
#pragma GCC diagnostic pop

#define TIMEOUT_NS (600 * NSEC_PER_SEC)

struct run {
	struct nj_loop *loop;
	struct nj_ship *ship;
	struct nj_spool *spool;
	uint64_t last_seq, t0;
	bool timed_out;
};

/* every 10 ms: has the collector acknowledged the whole spool? */
static int on_check(int fd, void *arg)
{
	struct run *r = arg;
	struct nj_ship_stats st;

	(void)fd;
	nj_ship_stats(r->ship, &st);
	if (st.acked_seq >= r->last_seq)
		nj_loop_stop(r->loop);
	if (now_ns() - r->t0 > TIMEOUT_NS) {
		r->timed_out = true;
		nj_loop_stop(r->loop);
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct nj_config cfg;
	struct nj_spool_opts so = {0};
	struct nj_cursor *cur;
	const uint8_t *payload;
	uint64_t seq;
	size_t len;
	struct nj_ship_stats st;
	struct run r = {0};
	char err[1024], dir[4096 + 8], id[33];
	uint64_t elapsed;

	if (argc != 3) {
		fprintf(stderr, "Usage: %s CONFIG STATE_DIR\n", prog);
		return 2;
	}
	nj_log_init(prog, NJ_LOG_WARN);
	nj_config_defaults(&cfg);
	if (nj_config_load(&cfg, argv[1], err, sizeof(err)))
		die("%s", err);
	if (!cfg.collector.host[0])
		die("%s has no collector: block", argv[1]);
	if (nj_host_id(id, "/etc/machine-id", argv[2], err, sizeof(err)))
		die("%s", err);
	snprintf(dir, sizeof(dir), "%s/spool", argv[2]);
	so.dir = dir;
	so.max_bytes = cfg.spool_max_bytes;
	so.segment_bytes = cfg.spool_segment_bytes;
	so.max_age_ms = cfg.spool_max_age_ms;
	if (nj_spool_open(&r.spool, &so, err, sizeof(err)) < 0)
		die("%s", err);
	/* the last record's number: next_seq may lie beyond it, after a gap (docs/spool.md) */
	cur = nj_cursor_open(dir, 0);
	while (cur && nj_cursor_next(cur, &seq, &payload, &len) == 1)
		r.last_seq = seq;
	nj_cursor_close(cur);
	if (!r.last_seq)
		die("%s holds no record", dir);
	r.loop = nj_loop_new();
	if (!r.loop)
		die("out of memory");
	r.t0 = now_ns();
	r.ship = nj_ship_start(r.loop, &cfg.collector, r.spool, dir, argv[2], id, err, sizeof(err));
	if (!r.ship)
		die("%s", err);
	if (nj_loop_add_timer(r.loop, 10, on_check, &r))
		die("no timer");
	nj_loop_run(r.loop);
	elapsed = now_ns() - r.t0;
	nj_ship_stats(r.ship, &st);
	if (r.timed_out)
		die("the collector acknowledged %" PRIu64 " of %" PRIu64 " in %" PRIu64 " s",
		    st.acked_seq, r.last_seq, TIMEOUT_NS / NSEC_PER_SEC);
	printf("ship records=%" PRIu64 " seconds=%.3f records_per_s=%.0f lost=%" PRIu64 "\n",
	       st.acked_records, (double)elapsed / 1e9,
	       (double)st.acked_records * 1e9 / (double)elapsed, st.lost_records);
	nj_ship_stop(r.ship);
	nj_loop_free(r.loop);
	nj_spool_close(r.spool);
	nj_config_free(&cfg);
	return 0;
}
