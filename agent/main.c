/* main.c - nightjar-agent: load the sensor, keep process lineage, print events.
 *
 * Runs in the foreground with one event loop: the ring buffer's fd (early wakeups), a flush
 * timer (the latency bound), the health timer, the watch rescan timer and a signalfd.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <sys/stat.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "control.h"
#include "detect.h"
#include "host.h"
#include "log.h"
#include "loop.h"
#include "output.h"
#include "pbjson.h"
#include "privs.h"
#include "proc.h"
#include "records.h"
#include "rules.h"
#include "sensor.h"
#include "ship.h"
#include "spool.h"
#include "version.h"
#include "watch.h"

/* exited processes stay known this long, for events still in flight about them */
#define PROC_LINGER_NS (30ull * 1000000000ull)

struct agent {
	struct nj_config cfg;
	struct nj_rules rules;
	struct nj_detect *detect;
	struct nj_sensor *sensor;
	struct nj_proctab *procs;
	struct nj_output out;
	struct nj_loop *loop;
	struct nj_ship *ship; /* NULL: no collector configured */
	int sigfd;
	bool hooks_only;
	uint64_t started_ns;
	size_t watched_inodes, watched_names;
	uint64_t reported_drops;
	char spool_dir[4096 + 8];
	/* events per second over the last full second, for status */
	uint64_t rate_at_ns, rate_events;
	double events_per_s;
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The records' clock. */
static uint64_t boot_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: nightjar-agent [OPTIONS]\n"
		"Nightjar endpoint telemetry: process, network and credential-file events.\n"
		"\n"
		"  -c, --config FILE     YAML configuration (default: %s if it exists,\n"
		"                        else the embedded defaults)\n"
		"  -s, --state-dir DIR   spool, sequence and host id (default: %s)\n"
		"  -o, --output FORMAT   text (default) or json: one object per line on stdout\n"
		"      --check-config    validate the configuration (and the collector's\n"
		"                        certificate files) and exit\n"
		"      --host-id         print this host's id (the name its certificate needs)\n"
		"      --hooks-only      attach every program but record nothing (benchmark "
		"floor)\n"
		"  -l, --log-level LEVEL debug, info (default), warning or error\n"
		"  -V, --version         print the version\n"
		"  -h, --help            this help\n"
		"\n"
		"Logs go to stderr; events to stdout and to the spool in the state directory.\n"
		"SIGINT or SIGTERM stops the agent.\n",
		NJ_CONFIG_DEFAULT_PATH, NJ_STATE_DIR_DEFAULT);
}

/* What a watch pattern belongs to, for the callback of its expansion. */
struct watch_arg {
	struct agent *a;
	size_t store; /* index in rules.stores, or (size_t)-1 for watch.paths */
};

static void found_file(const char *path, uint64_t st_dev, uint64_t st_ino, void *arg)
{
	struct watch_arg *w = arg;

	if (nj_sensor_watch_inode(w->a->sensor, nj_kdev(st_dev), st_ino) == 0)
		nj_debug("watching %s (inode %llu)", path, (unsigned long long)st_ino);
	if (w->store != (size_t)-1)
		nj_detect_identity(w->a->detect, nj_kdev(st_dev), st_ino, w->store);
}

static void watch_pattern(struct agent *a, const char *pattern, size_t store, char **homes)
{
	char leaf[NJ_LEAF_MAX], parent[NJ_PARENT_MAX];
	struct watch_arg w = {a, store};
	uint32_t flags = nj_watch_signature(pattern, leaf, parent);

	if (flags)
		nj_sensor_watch_name(a->sensor, leaf, flags, parent);
	nj_watch_expand(pattern, homes, found_file, &w);
}

/* Re-expand every pattern in every home: new homes and replaced files get their identity
 * watched, vanished ones are dropped. Name signatures cover the gap between two rescans. The
 * patterns are the paths of every enabled credential store, then watch.paths. */
static void refresh_watch(struct agent *a)
{
	char **homes = NULL;
	size_t i, j;

	nj_watch_homes("/etc/passwd", "/home", &homes);
	nj_sensor_watch_begin(a->sensor);
	nj_detect_identities_clear(a->detect);
	for (i = 0; a->cfg.watch_defaults && i < a->rules.n_stores; i++) {
		const struct nj_store *st = &a->rules.stores[i];

		for (j = 0; !st->r.disabled && j < st->paths.n; j++)
			watch_pattern(a, st->paths.v[j], i, homes);
	}
	for (i = 0; i < a->cfg.n_watch_paths; i++)
		watch_pattern(a, a->cfg.watch_paths[i], (size_t)-1, homes);
	nj_sensor_watch_end(a->sensor, &a->watched_inodes, &a->watched_names);
	nj_watch_free_homes(homes);
}

/* Destination lists into the kernel's trie: list i is value i + 1. */
static void load_intel(struct agent *a)
{
	size_t i, j, n = 0;
	int e;

	for (i = 0; i < a->rules.n_lists; i++) {
		const struct nj_destlist *l = &a->rules.lists[i];

		for (j = 0; !l->r.disabled && j < l->n_cidrs; j++) {
			e = nj_sensor_intel_add(a->sensor, l->cidrs[j].addr, l->cidrs[j].prefixlen,
						(uint16_t)(i + 1));
			if (e) {
				nj_warn("destination list %s: prefix %zu of %zu not loaded (%s); "
					"it and the rest of the list are not matched: the kernel's "
					"trie holds 262144 prefixes in all, shorten the lists",
					l->r.id, j + 1, l->n_cidrs, strerror(-e));
				break;
			}
			n++;
		}
	}
	if (n)
		nj_info("destination lists: %zu prefixes matched in the kernel", n);
}

/* The built-in rules, then the local directory's. */
static int load_rules(struct agent *a)
{
	char err[1024];

	if (nj_rules_load_defaults(&a->rules, err, sizeof(err)) ||
	    nj_rules_load_dir(&a->rules, nj_config_rules_dir(&a->cfg), err, sizeof(err)) ||
	    nj_rules_finish(&a->rules, err, sizeof(err))) {
		nj_err("rules: %s", err);
		return -1;
	}
	if (a->rules.n_lists > UINT16_MAX - 1) {
		nj_err("rules: %zu destination lists; at most %d", a->rules.n_lists,
		       UINT16_MAX - 1);
		return -1;
	}
	return 0;
}

/* "12 credential stores, 30 tunnel tools, 1 destination list (2 files)" */
static void rules_summary(const struct nj_rules *r, char *buf, size_t len)
{
	size_t i, st = 0, tt = 0, dl = 0;

	for (i = 0; i < r->n_stores; i++)
		st += !r->stores[i].r.disabled;
	for (i = 0; i < r->n_tools; i++)
		tt += !r->tools[i].r.disabled;
	for (i = 0; i < r->n_lists; i++)
		dl += !r->lists[i].r.disabled;
	snprintf(buf, len,
		 "%zu credential stores, %zu tunnel tools, %zu proxy ports, %zu destination lists "
		 "(%zu rules files)",
		 st, tt, r->n_proxy_ports, dl, r->files);
}

static int on_record(void *arg, void *data, size_t len)
{
	struct agent *a = arg;

	nj_output_record(&a->out, data, len);
	return 0;
}

static int drain(struct agent *a)
{
	int n = nj_sensor_drain(a->sensor);

	if (n < 0) {
		nj_err("reading the ring buffer: %s", strerror(-n));
		return n;
	}
	nj_output_flush(&a->out);
	if (fflush(a->out.out) || a->out.write_failed) {
		nj_err("writing events to stdout failed: %s; stopping", strerror(errno));
		return -EPIPE;
	}
	return 0;
}

static int on_ring(int fd, void *arg)
{
	(void)fd;
	return drain(arg);
}

/* The latency bound, and the durability bound: what was drained is on disk within one
 * flush interval (one fdatasync per interval, not per record). */
static int on_flush(int fd, void *arg)
{
	struct agent *a = arg;
	uint64_t now;
	int err, e;

	(void)fd;
	err = drain(a);
	nj_detect_tick(a->detect, boot_ns());
	if (a->out.spool && (e = nj_spool_sync(a->out.spool)) < 0)
		nj_warn("spool: fdatasync: %s", strerror(-e));
	now = mono_ns();
	if (now - a->rate_at_ns >= 1000000000ull) {
		a->events_per_s = (double)(a->out.events - a->rate_events) * 1e9 /
				  (double)(now - a->rate_at_ns);
		a->rate_at_ns = now;
		a->rate_events = a->out.events;
	}
	return err;
}

/* The first record still in the spool: when the forensic record starts. */
static uint64_t oldest_record_utc(const char *spool_dir)
{
	char err[256];
	struct nj_reader *r = nj_reader_open(spool_dir, err, sizeof(err));
	const uint8_t *payload;
	Nightjar__Record *rec;
	uint64_t seq, when = 0;
	size_t len;

	if (r && nj_reader_next(r, &seq, &payload, &len, err, sizeof(err)) == 1) {
		rec = nj_record_unpack(payload, len);
		if (rec) {
			when = rec->timestamp_utc_ns;
			nightjar__record__free_unpacked(rec, NULL);
		}
	}
	nj_reader_close(r);
	return when;
}

static void status_text(struct agent *a, FILE *f, const uint64_t *stats,
			const struct nj_spool_stats *sp, const char *oldest)
{
	struct nj_detect_stats ds;
	const char *cap, *hook;
	char summary[256];
	size_t i;

	fprintf(f, "nightjar-agent %s, pid %d, up %llu s\n", NJ_VERSION, (int)getpid(),
		(unsigned long long)((mono_ns() - a->started_ns) / 1000000000ull));
	fprintf(f, "host: %s (id %s)\nhooks:\n", a->out.host.name, a->out.host.id);
	for (i = 0; (hook = nj_sensor_hook(a->sensor, i, &cap)); i++)
		fprintf(f, "  %-10s %s\n", cap, hook);
	fprintf(f, "programs attached: %u\n", nj_sensor_programs(a->sensor));
	fprintf(f, "privileges: %s\n", nj_privs_kept());
	fprintf(f, "events: %llu, %.1f/s\n", (unsigned long long)a->out.events, a->events_per_s);
	fprintf(f,
		"lost: ringbuf_drops %llu, args_truncated %llu, paths_truncated %llu, "
		"skstorage_fail %llu, spool_write_errors %llu, spool_evicted_records %llu\n",
		(unsigned long long)stats[NJ_STAT_RB_DROP],
		(unsigned long long)stats[NJ_STAT_ARGS_TRUNC],
		(unsigned long long)stats[NJ_STAT_PATH_TRUNC],
		(unsigned long long)stats[NJ_STAT_SKSTORAGE_FAIL],
		(unsigned long long)sp->write_errors, (unsigned long long)sp->evicted_records);
	fprintf(f, "spool: %s, %llu bytes in %llu segments, records %llu..%llu, oldest %s\n",
		a->spool_dir, (unsigned long long)sp->bytes, (unsigned long long)sp->segments,
		(unsigned long long)sp->oldest_seq, (unsigned long long)(sp->next_seq - 1),
		oldest[0] ? oldest : "none");
	fprintf(f, "tail clients: %zu\n", nj_control_tail_clients(a->out.control));
	rules_summary(&a->rules, summary, sizeof(summary));
	nj_detect_stats(a->detect, &ds);
	fprintf(f,
		"detection: %s\nalerts: %llu (repeats counted into them %llu), learned readers "
		"%llu\n",
		summary, (unsigned long long)ds.alerts, (unsigned long long)ds.suppressed,
		(unsigned long long)ds.learned);
	nj_ship_status_text(a->ship, f);
}

static void status_json(struct agent *a, FILE *f, const uint64_t *stats,
			const struct nj_spool_stats *sp, const char *oldest)
{
	struct nj_detect_stats ds;
	const char *cap, *hook;
	struct nj_json j;
	size_t i;

	nj_json_init(&j);
	nj_json_obj_begin(&j, NULL);
	nj_json_str(&j, "version", NJ_VERSION);
	nj_json_u64(&j, "pid", (uint64_t)getpid());
	nj_json_u64(&j, "uptime_s", (mono_ns() - a->started_ns) / 1000000000ull);
	nj_json_str(&j, "host", a->out.host.name);
	nj_json_str(&j, "host_id", a->out.host.id);
	nj_json_obj_begin(&j, "hooks");
	for (i = 0; (hook = nj_sensor_hook(a->sensor, i, &cap)); i++)
		nj_json_str(&j, cap, hook);
	nj_json_obj_end(&j);
	nj_json_u64(&j, "programs_attached", nj_sensor_programs(a->sensor));
	nj_json_str(&j, "privileges", nj_privs_kept());
	nj_json_u64(&j, "events", a->out.events);
	nj_json_u64(&j, "events_per_s", (uint64_t)(a->events_per_s + 0.5));
	nj_json_obj_begin(&j, "lost");
	nj_json_u64(&j, "ringbuf_drops", stats[NJ_STAT_RB_DROP]);
	nj_json_u64(&j, "args_truncated", stats[NJ_STAT_ARGS_TRUNC]);
	nj_json_u64(&j, "paths_truncated", stats[NJ_STAT_PATH_TRUNC]);
	nj_json_u64(&j, "skstorage_fail", stats[NJ_STAT_SKSTORAGE_FAIL]);
	nj_json_u64(&j, "spool_write_errors", sp->write_errors);
	nj_json_u64(&j, "spool_evicted_records", sp->evicted_records);
	nj_json_obj_end(&j);
	nj_json_obj_begin(&j, "spool");
	nj_json_str(&j, "dir", a->spool_dir);
	nj_json_u64(&j, "bytes", sp->bytes);
	nj_json_u64(&j, "segments", sp->segments);
	nj_json_u64(&j, "oldest_sequence", sp->oldest_seq);
	nj_json_u64(&j, "next_sequence", sp->next_seq);
	if (oldest[0])
		nj_json_str(&j, "oldest_record", oldest);
	nj_json_obj_end(&j);
	nj_json_u64(&j, "tail_clients", nj_control_tail_clients(a->out.control));
	nj_detect_stats(a->detect, &ds);
	nj_json_obj_begin(&j, "detection");
	nj_json_u64(&j, "alerts", ds.alerts);
	nj_json_u64(&j, "repeats", ds.suppressed);
	nj_json_u64(&j, "learned", ds.learned);
	nj_json_obj_end(&j);
	nj_ship_status_json(a->ship, &j);
	nj_json_obj_end(&j);
	if (!j.oom)
		fprintf(f, "%s\n", j.buf);
	nj_json_free(&j);
}

/* nightjarctl status: the hooks chosen, what is attached, the rates and every loss counter. */
static void status(void *arg, FILE *f, bool as_json)
{
	struct agent *a = arg;
	uint64_t stats[NJ_STAT_MAX] = {0}, oldest_ns;
	struct nj_spool_stats sp = {0};
	char oldest[40] = "";

	nj_sensor_stats(a->sensor, stats);
	if (a->out.spool)
		nj_spool_stats(a->out.spool, &sp);
	oldest_ns = oldest_record_utc(a->spool_dir);
	if (oldest_ns)
		nj_format_utc(oldest, oldest_ns);
	if (as_json)
		status_json(a, f, stats, &sp, oldest);
	else
		status_text(a, f, stats, &sp, oldest);
}

static void health(struct agent *a)
{
	struct nj_health h = {0};

	if (nj_sensor_stats(a->sensor, h.stats))
		nj_warn("reading the kernel counters failed");
	h.watched_inodes = a->watched_inodes;
	h.watched_names = a->watched_names;
	h.watch_errors = nj_sensor_watch_errors(a->sensor);
	h.uptime_s = (mono_ns() - a->started_ns) / 1000000000ull;
	if (a->ship) {
		struct nj_ship_stats ss;

		nj_ship_stats(a->ship, &ss);
		h.has_ship = true;
		h.ship_acked_seq = ss.acked_seq;
		h.ship_acked = ss.acked_records;
		h.ship_backlog = ss.backlog;
		h.ship_lost = ss.lost_records;
	}
	if (h.stats[NJ_STAT_RB_DROP] > a->reported_drops) {
		nj_warn("%llu records lost because the ring buffer was full (%llu in all); raise "
			"ring_buffer_size or lower wakeup_threshold",
			(unsigned long long)(h.stats[NJ_STAT_RB_DROP] - a->reported_drops),
			(unsigned long long)h.stats[NJ_STAT_RB_DROP]);
		a->reported_drops = h.stats[NJ_STAT_RB_DROP];
	}
	nj_output_health(&a->out, &h);
}

static int on_health(int fd, void *arg)
{
	struct agent *a = arg;
	int err;

	(void)fd;
	err = drain(a); /* events first, so the counters cover everything printed before */
	if (err)
		return err;
	nj_output_sync_clock(&a->out);
	nj_proctab_expire(a->procs, mono_ns(), PROC_LINGER_NS);
	if (a->out.spool)
		nj_spool_maintain(a->out.spool);
	health(a);
	return drain(a);
}

static int on_rescan(int fd, void *arg)
{
	(void)fd;
	refresh_watch(arg);
	return 0;
}

static int on_signal(int fd, void *arg)
{
	struct agent *a = arg;
	struct signalfd_siginfo si;

	if (read(fd, &si, sizeof(si)) == sizeof(si))
		nj_info("received %s, stopping", strsignal((int)si.ssi_signo));
	nj_loop_stop(a->loop);
	return 0;
}

/* The state directory: host id, then the spool (which recovers from a crash as it opens). */
static int open_state(struct agent *a)
{
	const char *dir = nj_config_state_dir(&a->cfg);
	struct nj_spool_opts so = {
		.max_bytes = a->cfg.spool_max_bytes,
		.segment_bytes = a->cfg.spool_segment_bytes,
		.max_age_ms = a->cfg.spool_max_age_ms,
	};
	char err[512];
	struct nj_spool_stats st;

	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		nj_err("cannot create the state directory %s: %s (set another with --state-dir)",
		       dir, strerror(errno));
		return -1;
	}
	if (nj_host_id(a->out.host.id, "/etc/machine-id", dir, err, sizeof(err))) {
		nj_err("%s", err);
		return -1;
	}
	snprintf(a->spool_dir, sizeof(a->spool_dir), "%s/spool", dir);
	so.dir = a->spool_dir;
	if (nj_spool_open(&a->out.spool, &so, err, sizeof(err)) < 0) {
		nj_err("%s", err);
		return -1;
	}
	nj_spool_stats(a->out.spool, &st);
	nj_info("spool %s: %" PRIu64 " segments, %" PRIu64 " bytes, next sequence %" PRIu64,
		a->spool_dir, st.segments, st.bytes, st.next_seq);
	return 0;
}

static int start_detection(struct agent *a)
{
	struct nj_detect_opts o = {
		.egress_window_ns = a->cfg.egress_window_ms * 1000000ull,
		.sweep_window_ns = a->cfg.sweep_window_ms * 1000000ull,
		.sweep_min_stores = (uint32_t)a->cfg.sweep_min_stores,
		.relay_window_ns = a->cfg.relay_window_ms * 1000000ull,
		.dedupe_window_ns = a->cfg.dedupe_window_ms * 1000000ull,
	};
	char path[4096 + 16], summary[256];

	snprintf(path, sizeof(path), "%s/baseline", nj_config_state_dir(&a->cfg));
	o.baseline_path = path;
	a->detect = nj_detect_new(&a->rules, &o, a->procs, nj_output_alert, &a->out);
	if (!a->detect) {
		nj_err("out of memory for the detectors");
		return -1;
	}
	a->out.detect = a->detect;
	rules_summary(&a->rules, summary, sizeof(summary));
	nj_info("detection: %s", summary);
	return 0;
}

static int parse_level(const char *s, enum nj_log_level *lvl)
{
	static const char *const names[] = {"debug", "info", "warning", "error"};
	int i;

	for (i = 0; i < 4; i++)
		if (!strcmp(s, names[i])) {
			*lvl = (enum nj_log_level)i;
			return 0;
		}
	return -1;
}

static int setup_loop(struct agent *a)
{
	char path[4096 + 16];
	sigset_t mask;

	/* A background job of a shell script starts with SIGINT ignored, and an ignored signal
	 * never reaches a signalfd: restore the defaults, then block and read them. */
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0) {
		nj_err("blocking signals: %s", strerror(errno));
		return -1;
	}
	a->sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (a->sigfd < 0) {
		nj_err("signalfd: %s", strerror(errno));
		return -1;
	}
	a->loop = nj_loop_new();
	if (!a->loop)
		return -1;
	if (nj_loop_add_fd(a->loop, a->sigfd, on_signal, a) ||
	    nj_loop_add_fd(a->loop, nj_sensor_ring_fd(a->sensor), on_ring, a) ||
	    nj_loop_add_timer(a->loop, a->cfg.flush_interval_ms, on_flush, a) ||
	    nj_loop_add_timer(a->loop, a->cfg.health_interval_ms, on_health, a) ||
	    nj_loop_add_timer(a->loop, a->cfg.rescan_interval_ms, on_rescan, a))
		return -1;
	snprintf(path, sizeof(path), "%s/control.sock", nj_config_state_dir(&a->cfg));
	/* without it the agent still records; only tail, capture and status are missing */
	a->out.control = nj_control_open(path, a->loop, status, a);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"config", required_argument, NULL, 'c'},
		{"state-dir", required_argument, NULL, 's'},
		{"output", required_argument, NULL, 'o'},
		{"check-config", no_argument, NULL, 'C'},
		{"host-id", no_argument, NULL, 'I'},
		{"hooks-only", no_argument, NULL, 'H'},
		{"log-level", required_argument, NULL, 'l'},
		{"version", no_argument, NULL, 'V'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	struct nj_sensor_opts sopts = {0};
	enum nj_log_level level = NJ_LOG_INFO;
	const char *config = NULL, *output = NULL, *state_dir = NULL;
	struct agent a = {.sigfd = -1};
	bool check_only = false, print_host_id = false;
	char err[512], boot_id[40];
	int opt, ret = 1, n;

	nj_log_init("nightjar-agent", level);
	while ((opt = getopt_long(argc, argv, "c:s:o:l:Vh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			config = optarg;
			break;
		case 's':
			state_dir = optarg;
			break;
		case 'o':
			output = optarg;
			break;
		case 'C':
			check_only = true;
			break;
		case 'I':
			print_host_id = true;
			break;
		case 'H':
			a.hooks_only = true;
			break;
		case 'l':
			if (parse_level(optarg, &level)) {
				nj_err("--log-level: unknown level '%s' (expected debug, info, "
				       "warning or error)",
				       optarg);
				return 2;
			}
			break;
		case 'V':
			printf("nightjar-agent %s\n", NJ_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		nj_err("unexpected argument '%s' (see --help)", argv[optind]);
		return 2;
	}
	nj_log_init("nightjar-agent", level);

	nj_config_defaults(&a.cfg);
	if (!config && access(NJ_CONFIG_DEFAULT_PATH, F_OK) == 0)
		config = NJ_CONFIG_DEFAULT_PATH;
	if (config && nj_config_load(&a.cfg, config, err, sizeof(err))) {
		nj_err("%s", err);
		goto out_config;
	}
	if (output) {
		if (!strcmp(output, "json")) {
			a.cfg.output = NJ_OUTPUT_JSON;
		} else if (!strcmp(output, "text")) {
			a.cfg.output = NJ_OUTPUT_TEXT;
		} else {
			nj_err("--output: unknown format '%s' (expected text or json)", output);
			ret = 2;
			goto out_config;
		}
	}
	if (state_dir && (state_dir[0] != '/' || nj_config_set_state_dir(&a.cfg, state_dir))) {
		nj_err("--state-dir: expected an absolute directory path, got '%s'", state_dir);
		ret = 2;
		goto out_config;
	}
	if (print_host_id) {
		const char *dir = nj_config_state_dir(&a.cfg);

		/* without /etc/machine-id the id is kept in the state directory */
		if (mkdir(dir, 0700) < 0 && errno != EEXIST)
			nj_warn("cannot create %s: %s", dir, strerror(errno));
		if (nj_host_id(a.out.host.id, "/etc/machine-id", dir, err, sizeof(err))) {
			nj_err("%s", err);
			goto out_config;
		}
		printf("%s\n", a.out.host.id);
		ret = 0;
		goto out_config;
	}
	if (load_rules(&a))
		goto out_config;
	if (check_only) {
		char summary[256];

		/* the certificate files too: a bad one is found before a deploy */
		if (a.cfg.collector.host[0] &&
		    nj_ship_check(&a.cfg.collector, NULL, err, sizeof(err)) < 0) {
			nj_err("%s", err);
			goto out_config;
		}
		rules_summary(&a.rules, summary, sizeof(summary));
		printf("%s: configuration OK\nrules: %s\n", config ? config : "embedded defaults",
		       summary);
		ret = 0;
		goto out_config;
	}

	if (nj_read_boot_id(boot_id)) {
		nj_err("cannot read /proc/sys/kernel/random/boot_id");
		goto out_config;
	}
	a.procs = nj_proctab_new(boot_id);
	if (!a.procs || nj_output_init(&a.out, stdout, a.cfg.output, a.procs)) {
		nj_err("out of memory");
		goto out_procs;
	}
	if (open_state(&a))
		goto out_output;
	if (start_detection(&a))
		goto out_output;
	/* Events are written in batches and flushed after each drain of the ring, so a large
	 * buffer costs no latency and saves a write() every 4 KiB. */
	setvbuf(stdout, NULL, _IOFBF, 1 << 20);
	/* a reader that goes away must not kill us with SIGPIPE before we say why */
	signal(SIGPIPE, SIG_IGN);
	a.started_ns = mono_ns();

	sopts.ring_buffer_bytes = a.cfg.ring_buffer_bytes;
	sopts.wakeup_bytes = a.cfg.wakeup_bytes;
	sopts.hooks_only = a.hooks_only;
	sopts.on_record = on_record;
	sopts.arg = &a;
	a.sensor = nj_sensor_start(&sopts);
	if (!a.sensor) {
		if (geteuid() != 0)
			nj_err("loading needs CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN "
			       "(docs/hardening.md)");
		goto out_output;
	}
	refresh_watch(&a);
	load_intel(&a);
	/* after attaching, so a process started in between is seen by one or the other */
	n = nj_proctab_snapshot(a.procs, "/proc", (uint32_t)getpid());
	if (n < 0)
		nj_warn("no snapshot of running processes; their lineage starts unknown");
	if (setup_loop(&a))
		goto out_sensor;
	if (a.cfg.collector.host[0]) {
		a.ship =
			nj_ship_start(a.loop, &a.cfg.collector, a.out.spool, a.spool_dir,
				      nj_config_state_dir(&a.cfg), a.out.host.id, err, sizeof(err));
		if (!a.ship) {
			nj_err("%s", err);
			goto out_sensor;
		}
	}
	/* everything that needed privileges is done: programs attached, /proc read, socket bound */
	nj_privs_drop(nj_sensor_watch_map_fd(a.sensor));
	nj_info("ready: %d running processes known, %zu watched files by identity, %zu "
		"credential names%s",
		n, a.watched_inodes, a.watched_names, a.hooks_only ? " (hooks only)" : "");

	ret = nj_loop_run(a.loop) < 0 ? 1 : 0;

	/* whatever the kernel queued before we stopped is still printed, then the repeats of
	 * alerts whose window is still open, then the counters */
	if (drain(&a) == 0) {
		nj_detect_tick(a.detect, UINT64_MAX);
		health(&a);
		nj_output_flush(&a.out);
	}
	fflush(stdout);
out_sensor:
	nj_ship_stop(a.ship);
	nj_control_close(a.out.control);
	a.out.control = NULL;
	nj_loop_free(a.loop);
	if (a.sigfd >= 0)
		close(a.sigfd);
	nj_sensor_stop(a.sensor);
out_output:
	nj_spool_close(a.out.spool);
	nj_output_fini(&a.out);
	nj_detect_free(a.detect);
out_procs:
	nj_proctab_free(a.procs);
out_config:
	nj_rules_free(&a.rules);
	nj_config_free(&a.cfg);
	return ret;
}
