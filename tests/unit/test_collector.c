/* test_collector.c - the collector's pieces without a network: its configuration (defaults,
 * every kind of value, FILE:LINE:COL refusals), host id rules, the alert test that reads only
 * top-level tags, and the spool in external-numbering mode that the file sink stores into
 * (sequences given by the agent, gaps, resume after reopen, empty trailing segments). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "../collector/collector.h"
#include "../collector/config.h"
#include "nightjar.pb-c.h"
#include "spool.h"

static char *write_tmp(const char *text)
{
	static char path[64];
	FILE *f;

	snprintf(path, sizeof(path), "/tmp/nj_coll_cfg_XXXXXX");
	close(mkstemp(path));
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return path;
}

static void expect_error(const char *yaml, const char *want)
{
	struct njc_config cfg;
	char err[512], full[600];
	char *path = write_tmp(yaml);

	njc_config_defaults(&cfg);
	assert_int_equal(njc_config_load(&cfg, path, err, sizeof(err)), -1);
	snprintf(full, sizeof(full), "%s:%s", path, want);
	assert_string_equal(err, full);
	njc_config_free(&cfg);
	unlink(path);
}

static void test_config_values(void **state)
{
	struct njc_config cfg;
	char err[512];
	char *path = write_tmp("listen: '[::1]:7000'\n"
			       "tls: {ca: /etc/ca.pem, cert: /etc/c.pem, key: /etc/k.pem}\n"
			       "data_dir: /srv/nj\n"
			       "sink: nats\n"
			       "file:\n  segment_size: 1MiB\n  alerts_max_size: 8KiB\n"
			       "  alerts_keep: 3\n"
			       "nats:\n  url: nats://a:4222,nats://b:4222\n  stream: S\n"
			       "  subject: x.y\n  replicas: 3\n  timeout: 2s\n  max_age: 30d\n"
			       "max_frame: 1MiB\nidle_timeout: 2m\nframe_timeout: 500ms\n"
			       "max_connections: 20000\nsilent_after: 1h\n");

	(void)state;
	njc_config_defaults(&cfg);
	assert_int_equal(cfg.max_frame, 16 << 20);
	assert_int_equal(njc_config_load(&cfg, path, err, sizeof(err)), 0);
	assert_string_equal(cfg.listen, "[::1]:7000");
	assert_string_equal(cfg.tls_ca, "/etc/ca.pem");
	assert_string_equal(cfg.data_dir, "/srv/nj");
	assert_int_equal(cfg.sink, NJC_SINK_NATS);
	assert_int_equal(cfg.segment_bytes, 1 << 20);
	assert_int_equal(cfg.alerts_max_bytes, 8192);
	assert_int_equal(cfg.alerts_keep, 3);
	assert_string_equal(cfg.nats_url, "nats://a:4222,nats://b:4222");
	assert_string_equal(cfg.nats_stream, "S");
	assert_string_equal(cfg.nats_subject, "x.y");
	assert_int_equal(cfg.nats_replicas, 3);
	assert_int_equal(cfg.nats_timeout_ms, 2000);
	assert_int_equal(cfg.nats_max_age_ms, 30ull * 86400 * 1000);
	assert_int_equal(cfg.max_frame, 1 << 20);
	assert_int_equal(cfg.idle_timeout_ms, 120000);
	assert_int_equal(cfg.frame_timeout_ms, 500);
	assert_int_equal(cfg.max_connections, 20000);
	assert_int_equal(cfg.silent_after_ms, 3600000);
	njc_config_free(&cfg);
	unlink(path);
}

static void test_config_errors(void **state)
{
	(void)state;
	expect_error("tls: {ca: /a, cert: /b, key: /c}\nbogus: 1\n",
		     "2:1: unknown key 'bogus' (expected one of: listen, tls, data_dir, "
		     "control_socket, sink, file, nats, max_frame, idle_timeout, frame_timeout, "
		     "handshake_timeout, max_connections, silent_after)");
	expect_error("tls: {ca: /a, cert: /b, key: /c}\nsink: kafka\n",
		     "2:7: bad value 'kafka' for 'sink': expected file or nats");
	expect_error("tls: {ca: a.pem, cert: /b, key: /c}\n",
		     "1:11: bad value 'a.pem' for 'tls.ca': expected an absolute path");
	expect_error("tls: {ca: /a, cert: /b, key: /c}\nfile:\n  segment_size: 12 MiB\n",
		     "3:17: bad value '12 MiB' for 'file.segment_size': expected a size such as "
		     "64KiB, 4MiB, 1GiB");
	expect_error("tls: {ca: /a, cert: /b, key: /c}\nidle_timeout: 10\n",
		     "2:15: bad value '10' for 'idle_timeout': expected a duration such as 500ms, "
		     "30s, 5m, 2h, 1d");
	expect_error("tls: {ca: /a, cert: /b, key: /c}\nnats: {replicas: 7}\n",
		     "2:18: value '7' for 'nats.replicas' is out of range (expected 1..5)");
	expect_error("tls: [/a]\n", "1:6: expected a mapping for 'tls'");
	expect_error("listen: [a, b]\n", "1:9: expected a string for 'listen', got a list");
	expect_error("tls: {ca: /a}\n", " tls.ca, tls.cert and tls.key are required");
	expect_error("tls: {ca: /a, cert: /b, key: /c}\nsink: nats\n", " sink nats needs nats.url");
	expect_error("tls: {ca: /a\n", "2:1: did not find expected ',' or '}' while parsing a flow "
				       "mapping");
}

static void test_host_ids(void **state)
{
	char long_id[80];

	(void)state;
	assert_true(njc_host_id_valid("0123456789abcdef0123456789abcdef"));
	assert_true(njc_host_id_valid("ws-42.corp_lan"));
	assert_false(njc_host_id_valid(""));
	assert_false(njc_host_id_valid(".."));
	assert_false(njc_host_id_valid(".hidden"));
	assert_false(njc_host_id_valid("a/b"));
	assert_false(njc_host_id_valid("a b"));
	assert_false(njc_host_id_valid("é"));
	memset(long_id, 'a', 64);
	long_id[64] = '\0';
	assert_true(njc_host_id_valid(long_id));
	long_id[64] = 'a';
	long_id[65] = '\0';
	assert_false(njc_host_id_valid(long_id));
}

static size_t pack_record(uint8_t *buf, bool alert)
{
	Nightjar__Record r = NIGHTJAR__RECORD__INIT;
	Nightjar__Event ev = NIGHTJAR__EVENT__INIT;
	Nightjar__Alert al = NIGHTJAR__ALERT__INIT;
	Nightjar__ProcessEvent pe = NIGHTJAR__PROCESS_EVENT__INIT;

	r.has_timestamp_utc_ns = 1;
	r.timestamp_utc_ns = 1;
	ev.action = alert ? "alert" : "exec";
	ev.has_sequence = 1;
	ev.sequence = 300; /* a two-byte varint before the body */
	r.event = &ev;
	if (alert) {
		al.message = "m";
		r.body_case = NIGHTJAR__RECORD__BODY_ALERT;
		r.alert = &al;
	} else {
		r.body_case = NIGHTJAR__RECORD__BODY_EXEC;
		r.exec = &pe;
	}
	return protobuf_c_message_pack(&r.base, buf);
}

static void test_alert_by_tag(void **state)
{
	uint8_t buf[256];
	size_t n;

	(void)state;
	n = pack_record(buf, true);
	assert_true(njc_record_is_alert(buf, n));
	n = pack_record(buf, false);
	assert_false(njc_record_is_alert(buf, n));
	/* cut short, empty, garbage: not an alert, and no read past the end */
	n = pack_record(buf, true);
	assert_false(njc_record_is_alert(buf, n - 5));
	assert_false(njc_record_is_alert(buf, 0));
	assert_false(njc_record_is_alert((const uint8_t *)"\xff\xff\xff", 3));
	/* field 18 with the wrong wire type is not an alert body */
	assert_false(njc_record_is_alert((const uint8_t *)"\x90\x01\x05", 3));
}

/* ---- the spool with the agent's numbers ---- */

static void read_all(const char *dir, uint64_t *seqs, size_t *n)
{
	const uint8_t *payload;
	struct nj_reader *r;
	char err[256];
	uint64_t seq;
	size_t len;

	*n = 0;
	r = nj_reader_open(dir, err, sizeof(err));
	assert_non_null(r);
	while (nj_reader_next(r, &seq, &payload, &len, err, sizeof(err)) == 1)
		seqs[(*n)++] = seq;
	nj_reader_close(r);
}

static void test_spool_external_numbers(void **state)
{
	struct nj_spool_opts o = {.max_bytes = UINT64_MAX,
				  .segment_bytes = 64 * 1024,
				  .max_age_ms = UINT64_MAX / 2,
				  .external_seq = 1};
	char dir[64] = "/tmp/nj_coll_spool_XXXXXX", err[256], path[128];
	uint64_t seqs[4096];
	struct nj_spool *s;
	uint8_t rec[100] = {0x08, 0x01};
	size_t n, i;
	int fd, dfd;

	(void)state;
	assert_non_null(mkdtemp(dir));
	o.dir = dir;
	assert_int_equal(nj_spool_open(&s, &o, err, sizeof(err)), 0);
	/* nothing stored: the next is 1, and no segment exists before the first record */
	assert_int_equal(nj_spool_next_seq(s), 1);
	assert_int_equal(nj_spool_sync_handles(s, &fd, &dfd), 0);
	for (i = 0; i < 1000; i++)
		assert_int_equal(nj_spool_append_at(s, 5 + i, rec, sizeof(rec)), 0);
	/* a gap, then a number already used */
	assert_int_equal(nj_spool_append_at(s, 2000, rec, sizeof(rec)), 0);
	assert_int_equal(nj_spool_append_at(s, 1500, rec, sizeof(rec)), -EINVAL);
	/* the first segment and its directory entry need syncing */
	assert_int_equal(nj_spool_sync_handles(s, &fd, &dfd), 1);
	assert_true(fd >= 0 && dfd >= 0);
	assert_int_equal(fdatasync(fd), 0);
	close(fd);
	close(dfd);
	assert_int_equal(nj_spool_sync_handles(s, &fd, &dfd), 0);
	nj_spool_close(s);
	/* no next-sequence file: the numbers are not the spool's */
	snprintf(path, sizeof(path), "%s/next-sequence", dir);
	assert_int_equal(access(path, F_OK), -1);

	/* reopened: it goes on after the last record on disk */
	assert_int_equal(nj_spool_open(&s, &o, err, sizeof(err)), 0);
	assert_int_equal(nj_spool_next_seq(s), 2001);
	nj_spool_close(s);
	read_all(dir, seqs, &n);
	assert_int_equal(n, 1001);
	assert_int_equal(seqs[0], 5);
	assert_int_equal(seqs[999], 1004);
	assert_int_equal(seqs[1000], 2000);

	/* a segment that got its header and no record (a crash right after rotating): the
	 * mark comes from the one before, and the empty one goes */
	snprintf(path, sizeof(path), "%s/%020d.seg", dir, 2001);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	{
		uint8_t hdr[NJ_FILE_HEADER_LEN];

		nj_file_header(hdr, NJ_FILE_SEGMENT);
		assert_int_equal(write(fd, hdr, sizeof(hdr)), sizeof(hdr));
	}
	close(fd);
	assert_int_equal(nj_spool_open(&s, &o, err, sizeof(err)), 0);
	assert_int_equal(nj_spool_next_seq(s), 2001);
	assert_int_equal(access(path, F_OK), -1);
	nj_spool_close(s);

	snprintf(path, sizeof(path), "rm -rf %s", dir);
	assert_int_equal(system(path), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_values),
		cmocka_unit_test(test_config_errors),
		cmocka_unit_test(test_host_ids),
		cmocka_unit_test(test_alert_by_tag),
		cmocka_unit_test(test_spool_external_numbers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
