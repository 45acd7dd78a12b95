/* test_spool.c - where numbering resumes after each kind of stop, and torn tails. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "json.h"
#include "pbjson.h"
#include "spool.h"

struct fx {
	char dir[64];
	char boot[40];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	FILE *b;

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/nj_spool_XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	b = fopen("/proc/sys/kernel/random/boot_id", "r");
	if (!b || !fgets(f->boot, sizeof(f->boot), b))
		return -1;
	fclose(b);
	f->boot[strcspn(f->boot, "\n")] = '\0';
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

static struct nj_spool *open_spool(const char *dir)
{
	struct nj_spool_opts o = {.dir = dir,
				  .max_bytes = 64 << 20,
				  .segment_bytes = 1 << 20,
				  .max_age_ms = 86400000};
	struct nj_spool *s = NULL;
	char err[256];

	if (nj_spool_open(&s, &o, err, sizeof(err)) < 0)
		fail_msg("open: %s", err);
	return s;
}

static void append_n(struct nj_spool *s, int n)
{
	int i;

	for (i = 0; i < n; i++)
		assert_int_equal(nj_spool_append(s, "record", 6), 0);
	assert_int_equal(nj_spool_flush(s), 0);
}

static void write_mark(const char *dir, const char *text)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/next-sequence", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_clean_stop_continues(void **state)
{
	struct fx *f = *state;
	struct nj_spool *s = open_spool(f->dir);

	assert_int_equal(nj_spool_next_seq(s), 1);
	append_n(s, 3);
	nj_spool_close(s);
	s = open_spool(f->dir);
	assert_int_equal(nj_spool_next_seq(s), 4);
	nj_spool_close(s);
}

/* kill -9: the page cache kept every write, so numbering goes on without a gap */
static void test_agent_killed_same_boot(void **state)
{
	struct fx *f = *state;
	struct nj_spool *s = open_spool(f->dir);
	char mark[128];

	append_n(s, 3);
	nj_spool_close(s);
	snprintf(mark, sizeof(mark), "1048580 %s dirty\n", f->boot);
	write_mark(f->dir, mark);
	s = open_spool(f->dir);
	assert_int_equal(nj_spool_next_seq(s), 4);
	nj_spool_close(s);
}

/* kill -9 right after a rotation: the newest segment has its header and no record yet; its
 * name is the next number, and numbering goes on from it without a gap */
static void test_killed_after_rotation(void **state)
{
	struct fx *f = *state;
	struct nj_spool *s = open_spool(f->dir);
	uint8_t hdr[NJ_FILE_HEADER_LEN];
	char mark[128], path[128];
	FILE *seg;

	append_n(s, 3);
	nj_spool_close(s);
	/* the segment the 4th record would have opened, with only its file header */
	snprintf(path, sizeof(path), "%s/%020llu.seg", f->dir, 4ULL);
	seg = fopen(path, "w");
	assert_non_null(seg);
	nj_file_header(hdr, NJ_FILE_SEGMENT);
	assert_int_equal(fwrite(hdr, 1, sizeof(hdr), seg), sizeof(hdr));
	fclose(seg);
	snprintf(mark, sizeof(mark), "1048580 %s dirty\n", f->boot);
	write_mark(f->dir, mark);
	s = open_spool(f->dir);
	assert_int_equal(nj_spool_next_seq(s), 4);
	nj_spool_close(s);
}

/* killed while the new segment's header was being written: the segment goes, and numbering
 * goes on from the last record of the one before (never from that segment's first number) */
static void test_killed_writing_a_segment_header(void **state)
{
	struct fx *f = *state;
	struct nj_spool *s = open_spool(f->dir);
	char mark[128], path[128];
	FILE *seg;

	append_n(s, 3);
	nj_spool_close(s);
	snprintf(path, sizeof(path), "%s/%020llu.seg", f->dir, 4ULL);
	seg = fopen(path, "w");
	assert_non_null(seg);
	fputs("NIGH", seg);
	fclose(seg);
	snprintf(mark, sizeof(mark), "1048580 %s dirty\n", f->boot);
	write_mark(f->dir, mark);
	s = open_spool(f->dir);
	assert_int_equal(nj_spool_next_seq(s), 4);
	nj_spool_close(s);
	assert_int_equal(access(path, F_OK), -1);
}

/* a power cut: records after the last sync may be gone, their numbers already used */
static void test_power_cut_skips_to_the_mark(void **state)
{
	struct fx *f = *state;
	struct nj_spool *s = open_spool(f->dir);

	append_n(s, 3);
	nj_spool_close(s);
	write_mark(f->dir, "1048580 00000000-0000-0000-0000-000000000000 dirty\n");
	s = open_spool(f->dir);
	assert_int_equal(nj_spool_next_seq(s), 1048580);
	append_n(s, 1);
	nj_spool_close(s);
	/* and the record after the jump opens a segment of its own name */
	s = open_spool(f->dir);
	assert_int_equal(nj_spool_next_seq(s), 1048581);
	nj_spool_close(s);
}

/* records a full disk refused at the end of a run: their numbers were printed, not reused */
static void test_clean_mark_beyond_the_last_record(void **state)
{
	struct fx *f = *state;
	struct nj_spool *s = open_spool(f->dir);
	char mark[128];

	append_n(s, 3);
	nj_spool_close(s);
	snprintf(mark, sizeof(mark), "10 %s clean\n", f->boot);
	write_mark(f->dir, mark);
	s = open_spool(f->dir);
	assert_int_equal(nj_spool_next_seq(s), 10);
	nj_spool_close(s);
}

static void test_torn_tail_cut(void **state)
{
	struct fx *f = *state;
	struct nj_spool *s = open_spool(f->dir);
	struct nj_spool_stats st;
	struct nj_reader *r;
	const uint8_t *payload;
	char path[128], err[256];
	uint64_t seq;
	size_t len;
	int n = 0;
	FILE *seg;

	append_n(s, 5);
	nj_spool_close(s);
	snprintf(path, sizeof(path), "%s/00000000000000000001.seg", f->dir);
	seg = fopen(path, "a");
	assert_non_null(seg);
	fwrite("\x40\x00\x00\x00garbage", 1, 11, seg);
	fclose(seg);
	s = open_spool(f->dir);
	nj_spool_stats(s, &st);
	assert_int_equal(st.truncated_bytes, 11);
	assert_int_equal(nj_spool_next_seq(s), 6);
	nj_spool_close(s);
	r = nj_reader_open(f->dir, err, sizeof(err));
	assert_non_null(r);
	while (nj_reader_next(r, &seq, &payload, &len, err, sizeof(err)) == 1) {
		assert_int_equal(seq, (uint64_t)++n);
		assert_memory_equal(payload, "record", 6);
	}
	nj_reader_close(r);
	assert_int_equal(n, 5);
}

/* Every kind goes through the spool the same way; the agent does not make alerts yet, so one
 * is built here: packed, appended, read back, unpacked, printed as the original. */
static void test_alert_round_trip(void **state)
{
	struct fx *f = *state;
	Nightjar__Record r = NIGHTJAR__RECORD__INIT, *back;
	Nightjar__Event e = NIGHTJAR__EVENT__INIT;
	Nightjar__Alert a = NIGHTJAR__ALERT__INIT;
	Nightjar__Rule rule = NIGHTJAR__RULE__INIT;
	Nightjar__Process p = NIGHTJAR__PROCESS__INIT;
	uint64_t trig[2] = {41, 42}, seq;
	struct nj_spool *s = open_spool(f->dir);
	struct nj_json want, got;
	const uint8_t *payload;
	struct nj_reader *rd;
	uint8_t buf[512];
	char err[256];
	size_t len;

	e.kind = "alert";
	e.has_severity = 1;
	e.severity = 73;
	e.has_sequence = 1;
	e.sequence = nj_spool_next_seq(s);
	rule.id = "NJ-CRED-001";
	rule.name = "Credential access by a non-consumer";
	p.has_pid = 1;
	p.pid = 4711;
	a.rule = &rule;
	a.process = &p;
	a.message = "cat read ~/.azure/msal_token_cache.json";
	a.n_trigger_sequences = 2;
	a.trigger_sequences = trig;
	r.event = &e;
	r.body_case = NIGHTJAR__RECORD__BODY_ALERT;
	r.alert = &a;
	len = protobuf_c_message_pack(&r.base, buf);
	assert_int_equal(nj_spool_append(s, buf, len), 0);
	nj_spool_close(s);

	rd = nj_reader_open(f->dir, err, sizeof(err));
	assert_non_null(rd);
	assert_int_equal(nj_reader_next(rd, &seq, &payload, &len, err, sizeof(err)), 1);
	assert_int_equal(seq, 1);
	back = nj_record_unpack(payload, len);
	assert_non_null(back);
	nj_json_init(&want);
	nj_json_init(&got);
	nj_pbjson_message(&want, NULL, &r.base);
	nj_pbjson_message(&got, NULL, &back->base);
	assert_string_equal(got.buf, want.buf);
	assert_non_null(strstr(got.buf, "\"rule\":{\"id\":\"NJ-CRED-001\""));
	assert_non_null(strstr(got.buf, "\"trigger_sequences\":[41,42]"));
	nj_json_free(&want);
	nj_json_free(&got);
	nightjar__record__free_unpacked(back, NULL);
	assert_int_equal(nj_reader_next(rd, &seq, &payload, &len, err, sizeof(err)), 0);
	nj_reader_close(rd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_clean_stop_continues, setup, teardown),
		cmocka_unit_test_setup_teardown(test_agent_killed_same_boot, setup, teardown),
		cmocka_unit_test_setup_teardown(test_killed_after_rotation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_killed_writing_a_segment_header, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_power_cut_skips_to_the_mark, setup, teardown),
		cmocka_unit_test_setup_teardown(test_clean_mark_beyond_the_last_record, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_torn_tail_cut, setup, teardown),
		cmocka_unit_test_setup_teardown(test_alert_round_trip, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
