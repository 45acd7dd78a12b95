/* test_config.c - the agent's YAML config: defaults, every key, every refusal with its
 * FILE:LINE:COL, the unit parsers' edges, and the effective watch list. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define KIB (1ULL << 10)
#define MIB (1ULL << 20)
#define GIB (1ULL << 30)

/* ---- helpers ---- */

/* Write len bytes to a new file under /tmp; path gets its name. */
static void write_tmp(char path[static 32], const char *data, size_t len)
{
	int fd;

	strcpy(path, "/tmp/nj_cfg_XXXXXX");
	fd = mkstemp(path);
	if (fd < 0)
		fail_msg("mkstemp: %s", strerror(errno));
	if (write(fd, data, len) != (ssize_t)len)
		fail_msg("write %s: %s", path, strerror(errno));
	close(fd);
}

/* Load data as a config file over cfg. The file is gone again before this returns; its name
 * stays in path, for matching the error's prefix. */
static int load_buf(struct nj_config *cfg, const char *data, size_t len, char *err, size_t errlen,
		    char path[static 32])
{
	int rc;

	write_tmp(path, data, len);
	rc = nj_config_load(cfg, path, err, errlen);
	unlink(path);
	return rc;
}

static int load_text(struct nj_config *cfg, const char *text, char *err, size_t errlen)
{
	char path[32];

	return load_buf(cfg, text, strlen(text), err, errlen, path);
}

/* Load text that must be accepted. */
#define load_ok(cfg, text) load_ok_at(__FILE__, __LINE__, cfg, text)
static void load_ok_at(const char *file, int line, struct nj_config *cfg, const char *text)
{
	char err[512] = "";

	if (load_text(cfg, text, err, sizeof(err)))
		fail_msg("%s:%d: refused a valid file: %s", file, line, err);
}

static void assert_defaults(const struct nj_config *cfg)
{
	assert_int_equal(cfg->output, NJ_OUTPUT_TEXT);
	assert_int_equal(cfg->ring_buffer_bytes, 4 * MIB);
	assert_int_equal(cfg->wakeup_bytes, 64 * KIB);
	assert_int_equal(cfg->flush_interval_ms, 100);
	assert_int_equal(cfg->health_interval_ms, 60000);
	assert_true(cfg->watch_defaults);
	assert_null(cfg->watch_paths);
	assert_int_equal(cfg->n_watch_paths, 0);
	assert_int_equal(cfg->rescan_interval_ms, 30000);
}

/* Load len bytes of data over defaults; it must be refused with exactly
 * "<tmpfile>:<pos>: ..." containing msg, on one line, leaving the config untouched. */
#define expect_error_buf(data, len, pos, msg)                                                      \
	expect_error_at(__FILE__, __LINE__, data, len, pos, msg)
#define expect_error(text, pos, msg) expect_error_buf(text, strlen(text), pos, msg)
static void expect_error_at(const char *file, int line, const char *data, size_t len,
			    const char *pos, const char *msg)
{
	struct nj_config cfg;
	char err[512] = "", path[32], prefix[64];
	int rc;

	nj_config_defaults(&cfg);
	rc = load_buf(&cfg, data, len, err, sizeof(err), path);
	if (rc != -1)
		fail_msg("%s:%d: accepted a bad file (rc %d)", file, line, rc);
	snprintf(prefix, sizeof(prefix), "%s:%s: ", path, pos);
	if (strncmp(err, prefix, strlen(prefix)))
		fail_msg("%s:%d: error '%s' does not start with '%s'", file, line, err, prefix);
	if (!strstr(err, msg))
		fail_msg("%s:%d: error '%s' does not contain '%s'", file, line, err, msg);
	if (strchr(err, '\n'))
		fail_msg("%s:%d: error '%s' spans lines", file, line, err);
	assert_defaults(&cfg);
	nj_config_free(&cfg);
}

/* ---- loading ---- */

#define COLLECTOR_FILES "  ca: /t/ca.crt\n  cert: /t/h.crt\n  key: /t/h.key\n"

/* the collector block: address forms, defaults, where each file was named */
static void test_collector(void **state)
{
	struct nj_config cfg;

	(void)state;
	nj_config_defaults(&cfg);
	assert_int_equal(cfg.collector.host[0], '\0');
	load_ok(&cfg, "collector:\n  address: c.example:7000\n" COLLECTOR_FILES);
	assert_string_equal(cfg.collector.host, "c.example");
	assert_string_equal(cfg.collector.port, "7000");
	assert_string_equal(cfg.collector.server_name, "c.example");
	assert_string_equal(cfg.collector.cert.path, "/t/h.crt");
	assert_non_null(strstr(cfg.collector.cert.at, ":4:9"));
	assert_int_equal(cfg.collector.window, 8);
	assert_int_equal(cfg.collector.batch_bytes, 256 << 10);
	nj_config_free(&cfg);

	nj_config_defaults(&cfg);
	load_ok(&cfg, "collector:\n  address: '[::1]:6000'\n  server_name: coll\n"
		      "  window: 3\n  batch_records: 10\n  reconnect_max: 2s\n" COLLECTOR_FILES);
	assert_string_equal(cfg.collector.host, "::1");
	assert_string_equal(cfg.collector.port, "6000");
	assert_string_equal(cfg.collector.server_name, "coll");
	assert_int_equal(cfg.collector.window, 3);
	assert_int_equal(cfg.collector.batch_records, 10);
	assert_int_equal(cfg.collector.reconnect_max_ms, 2000);
	nj_config_free(&cfg);

	nj_config_defaults(&cfg);
	load_ok(&cfg, "collector:\n  address: 10.1.2.3\n" COLLECTOR_FILES);
	assert_string_equal(cfg.collector.host, "10.1.2.3");
	assert_string_equal(cfg.collector.port, "6445");
	nj_config_free(&cfg);

	expect_error("collector:\n  address: c:0\n" COLLECTOR_FILES, "2:12",
		     "bad value 'c:0' for 'collector.address': expected host:port");
	expect_error("collector:\n  address: 'c d:1'\n" COLLECTOR_FILES, "2:12",
		     "expected host:port");
	expect_error("collector:\n  address: '[::1]x'\n" COLLECTOR_FILES, "2:12",
		     "expected host:port");
	expect_error("collector:\n  address: c:1\n  ca: /t/ca.crt\n", "2:3",
		     "'collector' lacks: cert key (expected address, ca, cert and key");
	expect_error("collector:\n  address: c:1\n  ca: ca.crt\n", "3:7",
		     "bad value 'ca.crt' for 'collector.ca': expected an absolute file path");
	expect_error("collector:\n  address: c:1\n  window: 65\n" COLLECTOR_FILES, "3:11",
		     "bad value '65' for 'collector.window': expected a number of batches, 1..64");
	expect_error("collector:\n  address: c:1\n  reconnect_min: 1m\n  reconnect_max: "
		     "1s\n" COLLECTOR_FILES,
		     "2:3", "'collector.reconnect_min' is above");
	expect_error("collector:\n  adress: c:1\n", "2:3",
		     "unknown key 'adress' in 'collector' (expected one of: address, server_name, "
		     "ca, cert, key, batch_records, batch_bytes, window, reconnect_min, "
		     "reconnect_max)");
}

static void test_defaults(void **state)
{
	struct nj_config cfg;

	(void)state;
	memset(&cfg, 0xa5, sizeof(cfg));
	nj_config_defaults(&cfg);
	assert_defaults(&cfg);
	nj_config_free(&cfg);
}

static void test_empty_file_sets_nothing(void **state)
{
	static const char *const empties[] = {"", "\n\n", "# only a comment\n", "---\n", "--- ~\n"};
	struct nj_config cfg;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(empties); i++) {
		nj_config_defaults(&cfg);
		load_ok(&cfg, empties[i]);
		assert_defaults(&cfg);
		nj_config_free(&cfg);
	}
}

static void test_full_file(void **state)
{
	struct nj_config cfg;

	(void)state;
	nj_config_defaults(&cfg);
	load_ok(&cfg, "# every key, none at its default\n"
		      "output: json\n"
		      "ring_buffer_size: 16MiB\n"
		      "wakeup_threshold: 256KiB\n"
		      "flush_interval: 250ms\n"
		      "health_interval: 5m\n"
		      "watch:\n"
		      "  defaults: false\n"
		      "  paths:\n"
		      "    - ~/.config/acme/token\n"
		      "    - /srv/app/secret.json\n"
		      "    - \"/srv/app/Login Data\"\n"
		      "  rescan_interval: 2h\n"
		      "state_dir: /srv/nightjar\n"
		      "spool:\n"
		      "  max_size: 2GiB\n"
		      "  segment_size: 32MiB\n"
		      "  max_age: 90d\n");
	assert_int_equal(cfg.output, NJ_OUTPUT_JSON);
	assert_string_equal(nj_config_state_dir(&cfg), "/srv/nightjar");
	assert_int_equal(cfg.spool_max_bytes, 2 * GIB);
	assert_int_equal(cfg.spool_segment_bytes, 32 * MIB);
	assert_int_equal(cfg.spool_max_age_ms, 90ULL * 86400 * 1000);
	assert_int_equal(cfg.ring_buffer_bytes, 16 * MIB);
	assert_int_equal(cfg.wakeup_bytes, 256 * KIB);
	assert_int_equal(cfg.flush_interval_ms, 250);
	assert_int_equal(cfg.health_interval_ms, 5 * 60 * 1000);
	assert_false(cfg.watch_defaults);
	assert_int_equal(cfg.n_watch_paths, 3);
	assert_string_equal(cfg.watch_paths[0], "~/.config/acme/token");
	assert_string_equal(cfg.watch_paths[1], "/srv/app/secret.json");
	assert_string_equal(cfg.watch_paths[2], "/srv/app/Login Data");
	assert_int_equal(cfg.rescan_interval_ms, 2 * 3600 * 1000);
	nj_config_free(&cfg);
}

static void test_spool_and_state_dir_errors(void **state)
{
	struct nj_config cfg;
	char err[512], path[32];
	static const struct {
		const char *text, *where, *what;
	} cases[] = {
		{"state_dir: var/lib\n", ":1:12:", "expected an absolute directory path"},
		{"spool:\n  max_size: 10KiB\n", ":2:13:", "out of range"},
		{"spool:\n  max_age: 1s\n", ":2:12:", "out of range"},
		{"spool:\n  max_size: 16MiB\n  segment_size: 16MiB\n",
		 ":2:3:", "must be smaller than 'spool.max_size'"},
		{"spool:\n  segments: 3\n", ":2:3:", "unknown key 'segments'"},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		nj_config_defaults(&cfg);
		assert_int_equal(load_buf(&cfg, cases[i].text, strlen(cases[i].text), err,
					  sizeof(err), path),
				 -1);
		if (!strstr(err, cases[i].where) || !strstr(err, cases[i].what))
			fail_msg("case %zu: got '%s', wanted '%s' and '%s'", i, err, cases[i].where,
				 cases[i].what);
		/* a refused file leaves the configuration as it was */
		assert_string_equal(nj_config_state_dir(&cfg), NJ_STATE_DIR_DEFAULT);
		nj_config_free(&cfg);
	}
}

static void test_flow_style_and_aliases(void **state)
{
	struct nj_config cfg;

	(void)state;
	nj_config_defaults(&cfg);
	load_ok(&cfg, "{flush_interval: &t 1s, health_interval: *t,\n"
		      " watch: {paths: [/a, '~/b'], rescan_interval: *t}}\n");
	assert_int_equal(cfg.flush_interval_ms, 1000);
	assert_int_equal(cfg.health_interval_ms, 1000);
	assert_int_equal(cfg.rescan_interval_ms, 1000);
	assert_int_equal(cfg.n_watch_paths, 2);
	assert_string_equal(cfg.watch_paths[0], "/a");
	assert_string_equal(cfg.watch_paths[1], "~/b");
	nj_config_free(&cfg);
}

static void test_load_over_current_values(void **state)
{
	struct nj_config cfg;

	(void)state;
	nj_config_defaults(&cfg);
	load_ok(&cfg, "output: json\nflush_interval: 50ms\nwatch:\n  paths: [/a, /b]\n");
	/* a second file changes only what it names; its paths replace the first file's */
	load_ok(&cfg, "flush_interval: 20ms\nwatch:\n  paths: [/c]\n");
	assert_int_equal(cfg.output, NJ_OUTPUT_JSON);
	assert_int_equal(cfg.flush_interval_ms, 20);
	assert_true(cfg.watch_defaults);
	assert_int_equal(cfg.n_watch_paths, 1);
	assert_string_equal(cfg.watch_paths[0], "/c");
	/* no watch.paths: the list stays */
	load_ok(&cfg, "watch:\n  defaults: no\n");
	assert_false(cfg.watch_defaults);
	assert_int_equal(cfg.n_watch_paths, 1);
	assert_string_equal(cfg.watch_paths[0], "/c");
	/* an empty list clears it */
	load_ok(&cfg, "watch:\n  paths: []\n");
	assert_int_equal(cfg.n_watch_paths, 0);
	assert_null(cfg.watch_paths);
	nj_config_free(&cfg);
}

static void test_failed_load_changes_nothing(void **state)
{
	struct nj_config cfg;
	char err[512];

	(void)state;
	nj_config_defaults(&cfg);
	load_ok(&cfg, "watch:\n  paths: [/kept]\n");
	/* valid settings and paths before the bad key must not be applied */
	assert_int_equal(load_text(&cfg,
				   "output: json\nflush_interval: 1s\nwatch:\n  defaults: off\n"
				   "  paths: [/new1, /new2]\n  bogus: 1\n",
				   err, sizeof(err)),
			 -1);
	assert_non_null(strstr(err, ":6:3: unknown key 'bogus' in 'watch'"));
	assert_int_equal(cfg.output, NJ_OUTPUT_TEXT);
	assert_int_equal(cfg.flush_interval_ms, 100);
	assert_true(cfg.watch_defaults);
	assert_int_equal(cfg.n_watch_paths, 1);
	assert_string_equal(cfg.watch_paths[0], "/kept");
	nj_config_free(&cfg);
}

static void test_bool_spellings(void **state)
{
	static const struct {
		const char *text;
		bool value;
	} cases[] = {
		{"true", true},	  {"True", true},   {"YES", true}, {"on", true},   {"'yes'", true},
		{"false", false}, {"FALSE", false}, {"No", false}, {"off", false}, {"OFF", false},
	};
	struct nj_config cfg;
	char text[64];
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		nj_config_defaults(&cfg);
		cfg.watch_defaults = !cases[i].value;
		snprintf(text, sizeof(text), "watch:\n  defaults: %s\n", cases[i].text);
		load_ok(&cfg, text);
		if (cfg.watch_defaults != cases[i].value)
			fail_msg("'%s' read as %d", cases[i].text, cfg.watch_defaults);
		nj_config_free(&cfg);
	}
}

static void test_range_bounds_accepted(void **state)
{
	struct nj_config cfg;

	(void)state;
	nj_config_defaults(&cfg);
	load_ok(&cfg, "flush_interval: 10ms\nhealth_interval: 1s\nwatch: {rescan_interval: 1s}\n"
		      "ring_buffer_size: 1GiB\nwakeup_threshold: 4KiB\n");
	assert_int_equal(cfg.flush_interval_ms, 10);
	assert_int_equal(cfg.health_interval_ms, 1000);
	assert_int_equal(cfg.rescan_interval_ms, 1000);
	assert_int_equal(cfg.ring_buffer_bytes, GIB);
	assert_int_equal(cfg.wakeup_bytes, 4 * KIB);
	load_ok(&cfg, "flush_interval: 1s\nhealth_interval: 1d\nwatch: {rescan_interval: 24h}\n"
		      "ring_buffer_size: 65536\nwakeup_threshold: 65535B\n");
	assert_int_equal(cfg.flush_interval_ms, 1000);
	assert_int_equal(cfg.health_interval_ms, 86400000);
	assert_int_equal(cfg.rescan_interval_ms, 86400000);
	assert_int_equal(cfg.ring_buffer_bytes, 64 * KIB);
	assert_int_equal(cfg.wakeup_bytes, 65535);
	nj_config_free(&cfg);
}

/* ---- refusals ---- */

static void test_error_unknown_key(void **state)
{
	struct nj_config cfg;
	char err[512], path[32], want[512];
	const char *text = "output: text\nwatchs:\n  paths: []\n";

	(void)state;
	/* the whole line once, as an operator sees it */
	nj_config_defaults(&cfg);
	assert_int_equal(load_buf(&cfg, text, strlen(text), err, sizeof(err), path), -1);
	snprintf(want, sizeof(want),
		 "%s:2:1: unknown key 'watchs' (expected one of: output, ring_buffer_size, "
		 "wakeup_threshold, flush_interval, health_interval, watch, state_dir, rules_dir, "
		 "detectors, spool, collector)",
		 path);
	assert_string_equal(err, want);
	nj_config_free(&cfg);

	/* keys are case-sensitive */
	expect_error("Output: text\n", "1:1", "unknown key 'Output'");
}

static void test_error_unknown_watch_key(void **state)
{
	(void)state;
	expect_error("watch:\n  defaults: true\n  path: [/a]\n", "3:3",
		     "unknown key 'path' in 'watch' (expected one of: defaults, paths, "
		     "rescan_interval)");
}

static void test_error_bad_duration(void **state)
{
	(void)state;
	expect_error(
		"output: text\nflush_interval: fast\n", "2:17",
		"bad value 'fast' for 'flush_interval': expected a duration such as 100ms, 5s, "
		"2m (10ms..1s)");
	expect_error("health_interval: 60\n", "1:18", "bad value '60' for 'health_interval'");
	expect_error("health_interval: 1.5s\n", "1:18", "(1s..1d)");
	expect_error("watch:\n  rescan_interval: -5s\n", "2:20",
		     "bad value '-5s' for 'watch.rescan_interval'");
}

static void test_error_duration_out_of_range(void **state)
{
	(void)state;
	expect_error("flush_interval: 5s\n", "1:17",
		     "value '5s' for 'flush_interval' is out of range (expected 10ms..1s)");
	expect_error("flush_interval: 9ms\n", "1:17", "out of range (expected 10ms..1s)");
	expect_error("flush_interval: 0ms\n", "1:17", "out of range");
	expect_error("health_interval: 999ms\n", "1:18", "out of range (expected 1s..1d)");
	expect_error("health_interval: 25h\n", "1:18", "out of range (expected 1s..1d)");
	expect_error("watch:\n  rescan_interval: 2d\n", "2:20",
		     "value '2d' for 'watch.rescan_interval' is out of range (expected 1s..1d)");
	/* parses, but not into the 32-bit field */
	expect_error("health_interval: 5000000000ms\n", "1:18", "out of range");
}

static void test_error_bad_size(void **state)
{
	(void)state;
	expect_error("ring_buffer_size: 4XB\n", "1:19",
		     "bad value '4XB' for 'ring_buffer_size': expected a size such as 64KiB, 4MiB, "
		     "1GiB (64KiB..1GiB, a power of two)");
	expect_error("wakeup_threshold: 4 MiB\n", "1:19",
		     "bad value '4 MiB' for 'wakeup_threshold': expected a size such as 64KiB, "
		     "4MiB, 1GiB (at least 4KiB)");
	expect_error("ring_buffer_size: -4MiB\n", "1:19", "bad value '-4MiB'");
	expect_error("ring_buffer_size: 99999999999999999999\n", "1:19", "bad value");
}

static void test_error_size_out_of_range(void **state)
{
	(void)state;
	expect_error("ring_buffer_size: 32KiB\n", "1:19",
		     "value '32KiB' for 'ring_buffer_size' is out of range (expected 64KiB..1GiB)");
	expect_error("ring_buffer_size: 2GiB\n", "1:19", "out of range (expected 64KiB..1GiB)");
	expect_error(
		"wakeup_threshold: 4095\n", "1:19",
		"value '4095' for 'wakeup_threshold' is out of range (expected at least 4KiB)");
}

static void test_error_ring_not_power_of_two(void **state)
{
	(void)state;
	expect_error(
		"ring_buffer_size: 3MiB\n", "1:19",
		"value '3MiB' for 'ring_buffer_size' is not a power of two (expected e.g. 2MiB "
		"or 4MiB)");
	expect_error("ring_buffer_size: 65537\n", "1:19",
		     "not a power of two (expected e.g. 64KiB");
}

static void test_error_wakeup_not_below_ring(void **state)
{
	struct nj_config cfg;

	(void)state;
	expect_error("ring_buffer_size: 1MiB\nwakeup_threshold: 1MiB\n", "2:19",
		     "'wakeup_threshold' 1MiB must be smaller than 'ring_buffer_size' 1MiB");
	/* checked after the whole file, so the order of the keys does not matter */
	expect_error("wakeup_threshold: 2MiB\nflush_interval: 1s\nring_buffer_size: 1MiB\n", "1:19",
		     "'wakeup_threshold' 2MiB must be smaller than 'ring_buffer_size' 1MiB");
	/* against the default ring */
	expect_error("wakeup_threshold: 8MiB\n", "1:19", "smaller than 'ring_buffer_size' 4MiB");
	/* a ring no larger than the default wakeup threshold: reported at the ring */
	expect_error("ring_buffer_size: 64KiB\n", "1:19",
		     "'ring_buffer_size' 64KiB must be larger than 'wakeup_threshold' (currently "
		     "64KiB)");

	nj_config_defaults(&cfg);
	load_ok(&cfg, "wakeup_threshold: 8MiB\nring_buffer_size: 16MiB\n");
	assert_int_equal(cfg.wakeup_bytes, 8 * MIB);
	assert_int_equal(cfg.ring_buffer_bytes, 16 * MIB);
	nj_config_free(&cfg);
}

static void test_error_bad_bool(void **state)
{
	(void)state;
	expect_error("watch:\n  defaults: maybe\n", "2:13",
		     "bad value 'maybe' for 'watch.defaults': expected true or false (also yes/no, "
		     "on/off)");
	expect_error("watch:\n  defaults: 1\n", "2:13", "bad value '1' for 'watch.defaults'");
	expect_error("watch:\n  defaults:\n", "2:12", "bad value '' for 'watch.defaults'");
}

static void test_error_bad_output(void **state)
{
	(void)state;
	expect_error("output: xml\n", "1:9", "bad value 'xml' for 'output': expected text or json");
	expect_error("output: JSON\n", "1:9", "bad value 'JSON'");
}

static void test_error_relative_pattern(void **state)
{
	(void)state;
	expect_error(
		"watch:\n  paths:\n    - /ok\n    - relative/path\n", "4:7",
		"bad pattern 'relative/path' in 'watch.paths': expected an absolute path (/...) "
		"or ~/...");
	expect_error("watch:\n  paths: ['~root/.ssh/id_rsa']\n", "2:11", "bad pattern '~root/");
	expect_error("watch:\n  paths: ['~']\n", "2:11", "bad pattern '~'");
	expect_error("watch:\n  paths: ['']\n", "2:11", "bad pattern ''");
	expect_error("watch:\n  paths: ['./x']\n", "2:11", "bad pattern './x'");
}

static void test_pattern_length(void **state)
{
	size_t head = strlen("watch:\n  paths:\n    - /");
	char text[NJ_CONFIG_PATTERN_MAX + 64];
	struct nj_config cfg;

	(void)state;
	/* "/" followed by 'a's: exactly the longest pattern */
	strcpy(text, "watch:\n  paths:\n    - /");
	memset(text + head, 'a', NJ_CONFIG_PATTERN_MAX - 1);
	strcpy(text + head + NJ_CONFIG_PATTERN_MAX - 1, "\n");
	nj_config_defaults(&cfg);
	load_ok(&cfg, text);
	assert_int_equal(cfg.n_watch_paths, 1);
	assert_int_equal(strlen(cfg.watch_paths[0]), NJ_CONFIG_PATTERN_MAX);
	nj_config_free(&cfg);

	/* one byte more */
	memset(text + head, 'a', NJ_CONFIG_PATTERN_MAX);
	strcpy(text + head + NJ_CONFIG_PATTERN_MAX, "\n");
	expect_error(text, "3:7", "in 'watch.paths' is 4096 bytes long (expected at most 4095)");
}

static void test_globs_allowed_anywhere(void **state)
{
	struct nj_config cfg;

	(void)state;
	nj_config_defaults(&cfg);
	load_ok(&cfg,
		"watch:\n  paths:\n    - '/*'\n    - '~/*/x?[ab]'\n    - '/etc/[sg]shadow*'\n");
	assert_int_equal(cfg.n_watch_paths, 3);
	assert_string_equal(cfg.watch_paths[0], "/*");
	assert_string_equal(cfg.watch_paths[1], "~/*/x?[ab]");
	assert_string_equal(cfg.watch_paths[2], "/etc/[sg]shadow*");
	nj_config_free(&cfg);
}

static void test_error_list_where_scalar_expected(void **state)
{
	(void)state;
	expect_error("output: [text]\n", "1:9", "expected text or json for 'output', got a list");
	expect_error("output: text\nflush_interval:\n  - 1s\n", "3:3",
		     "expected a duration for 'flush_interval', got a list");
	expect_error("ring_buffer_size: {a: 1}\n", "1:19",
		     "expected a size for 'ring_buffer_size', got a mapping");
	expect_error("watch:\n  defaults: [true]\n", "2:13",
		     "expected true or false for 'watch.defaults', got a list");
}

static void test_error_scalar_where_list_expected(void **state)
{
	(void)state;
	expect_error("watch:\n  paths: /etc/shadow\n", "2:10",
		     "expected a list of patterns for 'watch.paths', got the single value "
		     "'/etc/shadow'");
	expect_error("watch:\n  paths:\n", "2:9",
		     "expected a list of patterns for 'watch.paths', got an empty value");
	expect_error("watch:\n  paths: {a: b}\n", "2:10",
		     "expected a list of patterns for 'watch.paths', got a mapping");
	/* each item is one pattern */
	expect_error("watch:\n  paths:\n    - /a\n    - [/b, /c]\n", "4:7",
		     "expected a pattern (one path per item) for 'watch.paths', got a list");
}

static void test_error_mapping_expected(void **state)
{
	(void)state;
	expect_error(
		"watch: yes\n", "1:8",
		"expected a mapping of watch settings for 'watch', got the single value 'yes'");
	expect_error("watch:\n  - /etc/shadow\n", "2:3", "for 'watch', got a list");
	expect_error("watch:\n", "1:7", "for 'watch', got an empty value");
}

static void test_error_top_level_not_mapping(void **state)
{
	(void)state;
	expect_error("- output: text\n", "1:1",
		     "expected a mapping of settings (key: value) at the top level, got a list");
	expect_error("\n\noutput\n", "3:1", "at the top level, got the single value 'output'");
}

static void test_error_non_scalar_key(void **state)
{
	(void)state;
	expect_error("? [output]\n: text\n", "1:3", "expected a key name, got a list");
}

static void test_error_duplicate_key(void **state)
{
	(void)state;
	expect_error("output: text\nflush_interval: 1s\noutput: json\n", "3:1",
		     "duplicate key 'output' (first given at line 1, column 1)");
	expect_error("watch:\n  paths: [/a]\n  defaults: no\n  paths: [/b]\n", "4:3",
		     "duplicate key 'paths' (first given at line 2, column 3)");
}

static void test_error_yaml_syntax(void **state)
{
	(void)state;
	expect_error(
		"output: [text\n", "2:1",
		"invalid YAML: did not find expected ',' or ']' (while parsing a flow sequence "
		"at line 1, column 9)");
	expect_error("output: text\n  flush_interval: 1s\n", "2:17",
		     "invalid YAML: mapping values are not allowed in this context");
	expect_error("output: \"text\n", "2:1", "invalid YAML: found unexpected end of stream");
	expect_error("flush_interval: *t\n", "1:17", "invalid YAML: found undefined alias");
	/* not UTF-8: libyaml reports a byte offset, turned into line and column */
	expect_error("output: text\noutput2: ok\x80\n", "2:12",
		     "invalid YAML: invalid leading UTF-8 octet (byte 0x80");
}

static void test_error_second_document(void **state)
{
	(void)state;
	expect_error("output: text\n---\noutput: json\n", "2:1",
		     "unexpected second YAML document (expected one per file)");
	/* a syntax error in a second document is not skipped either */
	expect_error("output: text\n---\n[\n", "4:1", "invalid YAML");
}

static void test_error_missing_file(void **state)
{
	struct nj_config cfg;
	char err[512], path[32];

	(void)state;
	/* a name that existed a moment ago */
	write_tmp(path, "", 0);
	unlink(path);
	nj_config_defaults(&cfg);
	assert_int_equal(nj_config_load(&cfg, path, err, sizeof(err)), -1);
	assert_string_equal(err + strlen(path), ": cannot open: No such file or directory");
	assert_int_equal(strncmp(err, path, strlen(path)), 0);
	assert_defaults(&cfg);
	nj_config_free(&cfg);
}

static void test_error_unreadable_file(void **state)
{
	struct nj_config cfg;
	char err[512], dir[] = "/tmp/nj_cfg_dir_XXXXXX";

	(void)state;
	assert_non_null(mkdtemp(dir));
	nj_config_defaults(&cfg);
	assert_int_equal(nj_config_load(&cfg, dir, err, sizeof(err)), -1);
	rmdir(dir);
	assert_int_equal(strncmp(err, dir, strlen(dir)), 0);
	assert_string_equal(err + strlen(dir), ": cannot read: Is a directory");
	assert_defaults(&cfg);
	nj_config_free(&cfg);
}

static void test_error_value_quoted_on_one_line(void **state)
{
	static const char nul[] = "output: \"te\\0xt\"\n";
	char text[256];

	(void)state;
	/* a NUL escape would otherwise cut the value to "te" without a word */
	expect_error_buf(nul, sizeof(nul) - 1, "1:9",
			 "value 'te\\x00xt' for 'output' contains a NUL");
	/* a newline inside a value is escaped, not printed */
	expect_error("output: \"a\\nb\"\n", "1:9", "bad value 'a\\nb' for 'output'");
	/* a long value is cut */
	snprintf(text, sizeof(text), "output: %0200d\n", 7);
	expect_error(text, "1:9", "00000...' for 'output'");
}

static void test_error_fits_errlen(void **state)
{
	struct nj_config cfg;
	char err[24];

	(void)state;
	nj_config_defaults(&cfg);
	memset(err, 'x', sizeof(err));
	assert_int_equal(load_text(&cfg, "output: nope\n", err, sizeof(err)), -1);
	assert_int_equal(strlen(err), sizeof(err) - 1);
	assert_int_equal(strncmp(err, "/tmp/nj_cfg_", 12), 0);
	/* no buffer at all: still refused */
	assert_int_equal(load_text(&cfg, "output: nope\n", NULL, 0), -1);
	assert_defaults(&cfg);
	nj_config_free(&cfg);
}

/* ---- unit parsers ---- */

static void test_parse_duration_valid(void **state)
{
	static const struct {
		const char *s;
		uint64_t ms;
	} cases[] = {
		{"0ms", 0},
		{"0s", 0},
		{"250ms", 250},
		{"30s", 30000},
		{"5m", 300000},
		{"2h", 7200000},
		{"1d", 86400000},
		{"007s", 7000},
		{"18446744073709551615ms", UINT64_MAX},
		/* the largest whole number of each unit that fits */
		{"18446744073709551s", 18446744073709551000ULL},
		{"213503982334d", 213503982334ULL * 86400000},
	};
	uint64_t ms;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		ms = 12345;
		if (nj_parse_duration_ms(cases[i].s, &ms))
			fail_msg("refused '%s'", cases[i].s);
		if (ms != cases[i].ms)
			fail_msg("'%s' -> %llu, expected %llu", cases[i].s, (unsigned long long)ms,
				 (unsigned long long)cases[i].ms);
	}
}

static void test_parse_duration_invalid(void **state)
{
	static const char *const bad[] = {
		"",
		"0",
		"100",
		"ms",
		"-5s",
		"+5s",
		" 5s",
		"5s ",
		"5 s",
		"5sec",
		"5S",
		"5MS",
		"1.5s",
		"1e3ms",
		"0x10s",
		"5s5",
		"5ms\n",
		/* overflow in the digits, then in each unit's multiplication */
		"18446744073709551616ms",
		"99999999999999999999999s",
		"18446744073709552s",
		"307445734561826m",
		"5124095576031h",
		"213503982335d",
	};
	uint64_t ms;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		ms = 12345;
		if (nj_parse_duration_ms(bad[i], &ms) != -1)
			fail_msg("accepted '%s' as %llu", bad[i], (unsigned long long)ms);
		assert_int_equal(ms, 12345);
	}
	assert_int_equal(nj_parse_duration_ms(NULL, &ms), -1);
}

static void test_parse_size_valid(void **state)
{
	static const struct {
		const char *s;
		uint64_t bytes;
	} cases[] = {
		{"0", 0},
		{"0B", 0},
		{"4096", 4096},
		{"1B", 1},
		{"64KiB", 64 * KIB},
		{"64K", 64 * KIB},
		{"64KB", 64 * KIB},
		{"4MiB", 4 * MIB},
		{"4M", 4 * MIB},
		{"4MB", 4 * MIB},
		{"1GiB", GIB},
		{"1G", GIB},
		{"1GB", GIB},
		{"18446744073709551615", UINT64_MAX},
		{"17179869183GiB", 17179869183ULL * GIB},
	};
	uint64_t bytes;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		bytes = 12345;
		if (nj_parse_size(cases[i].s, &bytes))
			fail_msg("refused '%s'", cases[i].s);
		if (bytes != cases[i].bytes)
			fail_msg("'%s' -> %llu, expected %llu", cases[i].s,
				 (unsigned long long)bytes, (unsigned long long)cases[i].bytes);
	}
}

static void test_parse_size_invalid(void **state)
{
	static const char *const bad[] = {
		"",
		"KiB",
		"-1",
		"+1",
		" 1",
		"1 ",
		"4 MiB",
		"4XB",
		"4kib",
		"4TiB",
		"1.5MiB",
		"4MiBs",
		"0x10",
		"1e6",
		/* overflow in the digits, then in each unit's multiplication */
		"18446744073709551616",
		"17179869184GiB",
		"17592186044416MiB",
		"18014398509481984K",
	};
	uint64_t bytes;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		bytes = 12345;
		if (nj_parse_size(bad[i], &bytes) != -1)
			fail_msg("accepted '%s' as %llu", bad[i], (unsigned long long)bytes);
		assert_int_equal(bytes, 12345);
	}
	assert_int_equal(nj_parse_size(NULL, &bytes), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_empty_file_sets_nothing),
		cmocka_unit_test(test_full_file),
		cmocka_unit_test(test_spool_and_state_dir_errors),
		cmocka_unit_test(test_flow_style_and_aliases),
		cmocka_unit_test(test_load_over_current_values),
		cmocka_unit_test(test_failed_load_changes_nothing),
		cmocka_unit_test(test_bool_spellings),
		cmocka_unit_test(test_range_bounds_accepted),
		cmocka_unit_test(test_error_unknown_key),
		cmocka_unit_test(test_error_unknown_watch_key),
		cmocka_unit_test(test_error_bad_duration),
		cmocka_unit_test(test_error_duration_out_of_range),
		cmocka_unit_test(test_error_bad_size),
		cmocka_unit_test(test_error_size_out_of_range),
		cmocka_unit_test(test_error_ring_not_power_of_two),
		cmocka_unit_test(test_error_wakeup_not_below_ring),
		cmocka_unit_test(test_error_bad_bool),
		cmocka_unit_test(test_error_bad_output),
		cmocka_unit_test(test_error_relative_pattern),
		cmocka_unit_test(test_pattern_length),
		cmocka_unit_test(test_globs_allowed_anywhere),
		cmocka_unit_test(test_error_list_where_scalar_expected),
		cmocka_unit_test(test_error_scalar_where_list_expected),
		cmocka_unit_test(test_error_mapping_expected),
		cmocka_unit_test(test_error_top_level_not_mapping),
		cmocka_unit_test(test_error_non_scalar_key),
		cmocka_unit_test(test_error_duplicate_key),
		cmocka_unit_test(test_error_yaml_syntax),
		cmocka_unit_test(test_error_second_document),
		cmocka_unit_test(test_error_missing_file),
		cmocka_unit_test(test_error_unreadable_file),
		cmocka_unit_test(test_error_value_quoted_on_one_line),
		cmocka_unit_test(test_error_fits_errlen),
		cmocka_unit_test(test_parse_duration_valid),
		cmocka_unit_test(test_parse_duration_invalid),
		cmocka_unit_test(test_parse_size_valid),
		cmocka_unit_test(test_parse_size_invalid),
		cmocka_unit_test(test_collector),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
