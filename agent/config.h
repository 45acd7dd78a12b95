/* config.h - agent configuration: embedded defaults, overridden by a YAML file.
 *
 * Parsed with libyaml's document API rather than libcyaml: every node keeps its line and
 * column, so a bad key or value is refused as "FILE:LINE:COL: what was wrong, what was
 * expected", which libcyaml's loader does not report. */
#ifndef NJ_CONFIG_H
#define NJ_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NJ_CONFIG_DEFAULT_PATH "/etc/nightjar/agent.yaml"
#define NJ_STATE_DIR_DEFAULT   "/var/lib/nightjar"
#define NJ_RULES_DIR_DEFAULT   "/etc/nightjar/rules.d"

/* Longest watch pattern, in bytes: PATH_MAX less the terminating NUL. */
#define NJ_CONFIG_PATTERN_MAX 4095

enum nj_format { NJ_OUTPUT_TEXT, NJ_OUTPUT_JSON };

/* A file named in the configuration, and where ("FILE:LINE:COL"), for the errors found only
 * when it is opened (a certificate that does not parse). */
struct nj_config_file {
	char path[NJ_CONFIG_PATTERN_MAX + 1];
	char at[NJ_CONFIG_PATTERN_MAX + 48];
};

/* collector: where the spool is shipped (docs/shipping.md). host[0] == 0: no shipping. */
struct nj_collector_config {
	char host[256]; /* from address "host:port" */
	char port[8];
	char server_name[256]; /* the name the collector's certificate must carry; default host */
	struct nj_config_file ca, cert, key;
	uint64_t batch_records;	   /* records per batch */
	uint64_t batch_bytes;	   /* bytes of records per batch */
	uint64_t window;	   /* batches sent and not yet acknowledged */
	uint64_t reconnect_min_ms; /* first back-off after a failure; doubles each time */
	uint64_t reconnect_max_ms; /* the cap */
};

struct nj_config {
	enum nj_format output;
	uint64_t ring_buffer_bytes;  /* power of two, 64 KiB .. 1 GiB */
	uint64_t wakeup_bytes;	     /* ring data that wakes the agent early; < ring size */
	uint64_t flush_interval_ms;  /* longest a record waits in the ring: 10 ms .. 1 s */
	uint64_t health_interval_ms; /* health record period: 1 s .. 1 day */
	bool watch_defaults;	     /* watch the paths of the rules' credential stores */
	char **watch_paths;	     /* more patterns: absolute, or "~/..." for every home */
	size_t n_watch_paths;
	uint64_t rescan_interval_ms;  /* re-expand patterns (new homes, replaced files) */
	char *state_dir;	      /* absolute; spool, sequence and host id live here */
	uint64_t spool_max_bytes;     /* all segments together: 1 MiB .. 1 TiB */
	uint64_t spool_segment_bytes; /* one segment file: 64 KiB .. 1 GiB, below max_size */
	uint64_t spool_max_age_ms;    /* segments older than this are evicted: 1 min .. 10 years */
	char *rules_dir;	      /* local rules, loaded after the built-in ones */
	/* detector windows (docs/detection.md) */
	uint64_t egress_window_ms, sweep_window_ms, relay_window_ms, dedupe_window_ms;
	uint64_t sweep_min_stores;
	struct nj_collector_config collector;
};

/* Fill with the embedded defaults (works with no file at all). Overwrites every field: call
 * nj_config_free() first on a config that already holds loaded paths. Owned strings and
 * lists make a struct nj_config unsafe to copy. */
void nj_config_defaults(struct nj_config *cfg);

/* Parse FILE over the current values. On error returns -1 and writes one line into
 * err: "FILE:LINE:COL: message". An empty file sets nothing. The file is applied whole or
 * not at all: on error cfg is left as it was. watch.paths in the file replaces watch_paths. */
int nj_config_load(struct nj_config *cfg, const char *file, char *err, size_t errlen);

/* Release what cfg owns; safe to call twice. cfg keeps its scalar settings. */
void nj_config_free(struct nj_config *cfg);

/* The state directory: the configured one, or NJ_STATE_DIR_DEFAULT. */
const char *nj_config_state_dir(const struct nj_config *cfg);
/* The local rules directory: the configured one, or NJ_RULES_DIR_DEFAULT. */
const char *nj_config_rules_dir(const struct nj_config *cfg);
/* --state-dir: replaces the configured one. -1 when out of memory. */
int nj_config_set_state_dir(struct nj_config *cfg, const char *dir);

/* Helpers exposed for tests: "250ms", "30s", "5m", "2h", "1d" -> ms; "64KiB", "4MiB",
 * "1GiB", or a plain byte count -> bytes (K/KB/M/MB/G/GB are binary too). Return 0 on
 * success, -1 on bad input (no unit for a duration, sign, fraction, space, overflow); the
 * output is written only on success. */
int nj_parse_duration_ms(const char *s, uint64_t *ms);
int nj_parse_size(const char *s, uint64_t *bytes);

#endif
