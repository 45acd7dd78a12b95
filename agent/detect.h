/* detect.h - the detectors (docs/detection.md). Each is a named unit fed the agent's records in
 * order; what fires becomes an alert record through a callback.
 *
 *   credential_access   1. a credential store read by a process that is not its consumer
 *                          (or, for learn stores, by an executable this host has not seen)
 *   exfiltration        2. such a read, then a connection out from the reader's lineage
 *   credential_sweep    3. one lineage reading several stores within a window
 *   tunnel_tool         4. tunnel and proxy tooling recognised by executable and argv shape
 *   relay               5. accepting and connecting out within a window: a proxy, a forwarder
 *   proxy_use           6. connecting to a proxy port or to a local relay
 *   destination_list    7. a destination in a user-supplied list (matched in the kernel)
 */
#ifndef NJ_DETECT_H
#define NJ_DETECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proc.h"
#include "rules.h"

#define NJ_ALERT_FILES 4
#define NJ_ALERT_DESTS 4
#define NJ_ALERT_SEQS  32
#define NJ_ALERT_PATH  1024 /* longer paths are cut in the alert; the open record has them */

struct nj_detect_opts {
	uint64_t egress_window_ns; /* read -> connection (detector 2) */
	uint64_t sweep_window_ns;  /* stores read by one lineage (3) */
	uint32_t sweep_min_stores;
	uint64_t relay_window_ns;  /* accept -> connect (5) */
	uint64_t dedupe_window_ns; /* one alert per lineage and rule in this window */
	const char *baseline_path; /* learned readers; NULL: kept in memory only */
};

struct nj_alert_dest {
	uint16_t family; /* AF_INET, AF_INET6 */
	uint16_t port;
	uint8_t addr[16];
};

/* An alert as a detector raises it; output.c makes the record. The rule strings point into
 * the rules. */
struct nj_alert {
	const char *rule_id, *rule_name, *category, *technique;
	uint32_t severity;
	char message[640];
	uint32_t tgid;	   /* the acting process, */
	uint64_t start_ns; /* found in the process table if it is still there */
	char files[NJ_ALERT_FILES][NJ_ALERT_PATH];
	size_t n_files;
	struct nj_alert_dest dests[NJ_ALERT_DESTS];
	size_t n_dests;
	uint64_t seqs[NJ_ALERT_SEQS];
	size_t n_seqs;
	uint32_t count; /* occurrences this alert stands for */
	uint64_t ts;	/* kernel time of the last trigger */
};

typedef void (*nj_alert_fn)(void *arg, const struct nj_alert *a);

struct nj_detect_stats {
	uint64_t alerts, suppressed, learned, baseline_errors;
};

struct nj_detect;

/* rules must outlive the detector. Returns NULL when out of memory; a baseline that cannot
 * be read is logged and started empty. */
struct nj_detect *nj_detect_new(const struct nj_rules *rules, const struct nj_detect_opts *o,
				struct nj_proctab *procs, nj_alert_fn fn, void *arg);
void nj_detect_free(struct nj_detect *d);

/* Watched identities and the store each belongs to, rebuilt on every watch refresh, so an
 * open through a hardlink with an unrelated name is still attributed. */
void nj_detect_identities_clear(struct nj_detect *d);
void nj_detect_identity(struct nj_detect *d, uint32_t kdev, uint64_t ino, size_t store);

/* One validated kernel record (nj_record_check() gave kind), numbered seq; p is its process
 * after the process table took the record (NULL if unknown). */
void nj_detect_record(struct nj_detect *d, int kind, const void *data, const struct nj_proc *p,
		      uint64_t seq);
/* Close expired windows: deduplicated alerts that repeated are reported with their count.
 * now_ns is CLOCK_BOOTTIME, the records' clock. */
void nj_detect_tick(struct nj_detect *d, uint64_t now_ns);

void nj_detect_stats(const struct nj_detect *d, struct nj_detect_stats *out);

#endif
