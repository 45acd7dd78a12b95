/* config.h - nightjar-collector configuration: defaults, overridden by a YAML file
 * (docs/collector.md). Errors are one line, "FILE:LINE:COL: what was wrong (what was
 * expected)", as for the agent. */
#ifndef NJC_CONFIG_H
#define NJC_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#define NJC_CONFIG_DEFAULT_PATH "/etc/nightjar/collector.yaml"
#define NJC_DATA_DIR_DEFAULT	"/var/lib/nightjar-collector"

enum njc_sink_type { NJC_SINK_FILE, NJC_SINK_NATS };

struct njc_config {
	char *listen; /* "ADDRESS:PORT", IPv6 in brackets */
	char *tls_ca, *tls_cert, *tls_key;
	char *data_dir;	      /* file sink output, control socket */
	char *control_socket; /* default <data_dir>/control.sock */
	enum njc_sink_type sink;
	uint64_t segment_bytes;	   /* file sink: one host's segment file */
	uint64_t alerts_max_bytes; /* file sink: alerts.jsonl before it rotates */
	uint64_t alerts_keep;	   /* rotated alerts files kept: alerts.jsonl.1 .. .N */
	char *nats_url;
	char *nats_stream;
	char *nats_subject; /* prefix: each host publishes to <subject>.<host id> */
	uint64_t nats_replicas;
	uint64_t nats_timeout_ms; /* connect, stream lookup, publish acknowledgement */
	uint64_t nats_max_age_ms; /* stream retention, 0 = unlimited */
	uint64_t max_frame;
	uint64_t idle_timeout_ms;  /* nothing received for this long: close */
	uint64_t frame_timeout_ms; /* a frame begun and not finished for this long: close */
	uint64_t handshake_timeout_ms;
	uint64_t max_connections;
	uint64_t silent_after_ms; /* a host not heard from for this long is reported silent */
};

void njc_config_defaults(struct njc_config *cfg);
/* Parse FILE over the defaults. -1 with "FILE:LINE:COL: message" in err. */
int njc_config_load(struct njc_config *cfg, const char *file, char *err, size_t errlen);
void njc_config_free(struct njc_config *cfg);

#endif
