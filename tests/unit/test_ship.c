/* test_ship.c - the shipper's pieces without a network: batches from a live spool never span
 * a gap, reading follows rotation and counts eviction, the acknowledged position survives, the
 * back-off stays in its bounds. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cursor.h"
#include "ship.h"
#include "spool.h"

struct fx {
	char dir[64];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/nj_ship_XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
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

static struct nj_spool *open_seg(const char *dir, uint64_t max_bytes, uint64_t segment_bytes)
{
	struct nj_spool_opts o = {.dir = dir,
				  .max_bytes = max_bytes,
				  .segment_bytes = segment_bytes,
				  .max_age_ms = 86400000};
	struct nj_spool *s = NULL;
	char err[256];

	if (nj_spool_open(&s, &o, err, sizeof(err)) < 0)
		fail_msg("open: %s", err);
	return s;
}

static struct nj_spool *open_spool(const char *dir, uint64_t max_bytes)
{
	return open_seg(dir, max_bytes, 64 << 10);
}

/* n records whose payload is their own sequence number, in text, padded to 100 bytes */
static void append_n(struct nj_spool *s, int n)
{
	char rec[100];
	int i;

	for (i = 0; i < n; i++) {
		memset(rec, '.', sizeof(rec));
		snprintf(rec, sizeof(rec), "%llu", (unsigned long long)nj_spool_next_seq(s));
		assert_int_equal(nj_spool_append(s, rec, sizeof(rec)), 0);
	}
	assert_int_equal(nj_spool_flush(s), 0);
}

/* A clean stop, then a start whose numbering resumes at mark: a gap (docs/spool.md). With a
 * segment size below the current segment's, the gap falls at the start of a new segment. */
static struct nj_spool *reopen_at(const char *dir, uint64_t mark, uint64_t segment_bytes)
{
	struct nj_spool *s = open_spool(dir, 64 << 20);
	char path[128];
	FILE *f;

	nj_spool_close(s);
	snprintf(path, sizeof(path), "%s/next-sequence", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "%llu x clean\n", (unsigned long long)mark);
	fclose(f);
	return open_seg(dir, 64 << 20, segment_bytes);
}

static void check_batch(const struct nj_batch *b)
{
	size_t i;

	for (i = 0; i < b->count; i++) {
		char want[32];

		snprintf(want, sizeof(want), "%llu", (unsigned long long)(b->first_seq + i));
		assert_int_equal(b->recs[i].len, 100);
		assert_memory_equal(b->recs[i].data, want, strlen(want));
	}
}

/* 1..1500, a gap inside a segment, 5000..5999 (rotating), a gap at a segment start, 9000..9099:
 * every batch is contiguous, ends at each gap, and all records come out once, in order. */
static void test_batches_split_at_gaps(void **state)
{
	struct fx *f = *state;
	struct nj_spool *s = open_spool(f->dir, 64 << 20);
	struct nj_batch b = {0};
	struct nj_cursor *c;
	uint64_t expect[] = {1, 5000, 9000}, ends[] = {1500, 5999, 9099};
	size_t range = 0;
	uint64_t next = 1;
	int n, batches = 0;

	append_n(s, 1500);
	nj_spool_close(s);
	s = reopen_at(f->dir, 5000, 64 << 10);
	assert_int_equal(nj_spool_next_seq(s), 5000);
	append_n(s, 1000);
	nj_spool_close(s);
	s = reopen_at(f->dir, 9000, 4 << 10);
	assert_int_equal(nj_spool_next_seq(s), 9000);
	append_n(s, 100);

	c = nj_cursor_open(f->dir, 0);
	assert_non_null(c);
	while ((n = nj_batch_fill(&b, c, 64, 1 << 20)) > 0) {
		check_batch(&b);
		if (b.first_seq != next) {
			/* only at a gap, and then at the start of the next range */
			assert_int_equal(next, ends[range] + 1);
			range++;
			assert_int_equal(b.first_seq, expect[range]);
		}
		/* never across the end of a range */
		assert_true(b.first_seq + b.count - 1 <= ends[range]);
		next = b.first_seq + b.count;
		batches++;
	}
	assert_int_equal(n, 0);
	assert_int_equal(range, 2);
	assert_int_equal(next, 9100);
	assert_int_equal(nj_cursor_lost(c), 0);
	/* 1500/64 -> 24 batches, 1000/64 -> 16, 100/64 -> 2 */
	assert_int_equal(batches, 24 + 16 + 2);

	/* live: what is appended after the end is read next, across a rotation */
	append_n(s, 2000);
	next = 9100;
	while ((n = nj_batch_fill(&b, c, 300, 1 << 20)) > 0) {
		check_batch(&b);
		assert_int_equal(b.first_seq, next);
		next += b.count;
	}
	assert_int_equal(next, 11100);
	nj_batch_free(&b);
	nj_cursor_close(c);
	nj_spool_close(s);
}

/* the byte bound: a batch holds as many records as fit, and at least one */
static void test_batch_byte_bound(void **state)
{
	struct fx *f = *state;
	struct nj_spool *s = open_spool(f->dir, 64 << 20);
	struct nj_batch b = {0};
	struct nj_cursor *c;

	append_n(s, 10);
	c = nj_cursor_open(f->dir, 3);
	assert_int_equal(nj_batch_fill(&b, c, 100, 350), 3);
	assert_int_equal(b.first_seq, 3);
	assert_int_equal(nj_batch_fill(&b, c, 100, 10), 1);
	assert_int_equal(b.first_seq, 6);
	assert_int_equal(nj_batch_fill(&b, c, 100, 1 << 20), 4);
	assert_int_equal(b.first_seq, 7);
	assert_int_equal(nj_batch_fill(&b, c, 100, 1 << 20), 0);
	nj_batch_free(&b);
	nj_cursor_close(c);
	nj_spool_close(s);
}

/* A position the spool's size bound evicted: reading starts at the oldest record present and
 * the skipped numbers are counted; from 0 (never shipped) nothing counts as lost. */
static void test_evicted_position_counted(void **state)
{
	struct fx *f = *state;
	/* 1 MiB over 64 KiB segments: about 15 segments stay */
	struct nj_spool *s = open_spool(f->dir, 1 << 20);
	struct nj_spool_stats st;
	struct nj_cursor *c;
	const uint8_t *p;
	uint64_t seq;
	size_t len;

	append_n(s, 20000);
	nj_spool_stats(s, &st);
	assert_true(st.evicted_records > 0);
	assert_true(st.oldest_seq > 100);

	c = nj_cursor_open(f->dir, 100);
	assert_int_equal(nj_cursor_next(c, &seq, &p, &len), 1);
	assert_int_equal(seq, st.oldest_seq);
	assert_int_equal(nj_cursor_lost(c), st.oldest_seq - 100);
	nj_cursor_close(c);

	c = nj_cursor_open(f->dir, 0);
	assert_int_equal(nj_cursor_next(c, &seq, &p, &len), 1);
	assert_int_equal(seq, st.oldest_seq);
	assert_int_equal(nj_cursor_lost(c), 0);
	nj_cursor_close(c);
	nj_spool_close(s);
}

/* Eviction while the cursor is behind: the segment it reads is gone when it gets to its end;
 * the records of the segments evicted after it are counted, the rest read. */
static void test_eviction_while_reading(void **state)
{
	struct fx *f = *state;
	struct nj_spool *s = open_spool(f->dir, 1 << 20);
	struct nj_spool_stats st;
	struct nj_cursor *c;
	const uint8_t *p;
	uint64_t seq, prev, seen = 0;
	size_t len;

	append_n(s, 1000);
	c = nj_cursor_open(f->dir, 1);
	assert_int_equal(nj_cursor_next(c, &seq, &p, &len), 1);
	assert_int_equal(seq, 1);
	prev = seq;
	/* far more than the bound: segment 1 and many after it go */
	append_n(s, 30000);
	nj_spool_stats(s, &st);
	while (nj_cursor_next(c, &seq, &p, &len) == 1) {
		assert_true(seq > prev);
		prev = seq;
		seen++;
	}
	assert_int_equal(prev, st.next_seq - 1);
	/* every number is either read or counted lost */
	assert_int_equal(seen + 1 + nj_cursor_lost(c), st.next_seq - 1);
	assert_true(nj_cursor_lost(c) > 0);
	nj_cursor_close(c);
	nj_spool_close(s);
}

static void test_position_file(void **state)
{
	struct fx *f = *state;
	char path[128], err[256], tmp[140];
	uint64_t seq = 0;
	FILE *fp;

	snprintf(path, sizeof(path), "%s/ship.pos", f->dir);
	assert_int_equal(nj_ship_pos_read(path, &seq, err, sizeof(err)), 1);
	assert_int_equal(nj_ship_pos_write(path, 12345678901ull), 0);
	assert_int_equal(nj_ship_pos_read(path, &seq, err, sizeof(err)), 0);
	assert_int_equal(seq, 12345678901ull);
	assert_int_equal(nj_ship_pos_write(path, 7), 0);
	assert_int_equal(nj_ship_pos_read(path, &seq, err, sizeof(err)), 0);
	assert_int_equal(seq, 7);
	/* written through a temporary file that does not stay behind */
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	assert_int_equal(access(tmp, F_OK), -1);
	/* damage is said, not taken for a position */
	fp = fopen(path, "w");
	fputs("12x\n", fp);
	fclose(fp);
	assert_int_equal(nj_ship_pos_read(path, &seq, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "ship.pos"));
	fp = fopen(path, "w");
	fclose(fp);
	assert_int_equal(nj_ship_pos_read(path, &seq, err, sizeof(err)), -1);
	fp = fopen(path, "w");
	fputs("-5\n", fp);
	fclose(fp);
	assert_int_equal(nj_ship_pos_read(path, &seq, err, sizeof(err)), -1);
}

static void test_backoff_bounds(void **state)
{
	const uint64_t min = 1000, max = 300000;
	uint64_t rnds[] = {0, 1, 999, 123456789, UINT64_MAX / 3, UINT64_MAX};
	unsigned int a;
	size_t i;

	(void)state;
	/* the first retry waits the minimum; then up to double each time */
	assert_int_equal(nj_backoff_ms(0, min, max, UINT64_MAX), min);
	for (a = 0; a < 200; a++) {
		uint64_t cap = a >= 9 ? max : min << a;

		if (cap > max)
			cap = max;
		for (i = 0; i < sizeof(rnds) / sizeof(rnds[0]); i++) {
			uint64_t d = nj_backoff_ms(a, min, max, rnds[i]);

			assert_true(d >= min);
			assert_true(d <= cap);
		}
		/* the whole range is used: the jitter spreads agents out */
		assert_int_equal(nj_backoff_ms(a, min, max, 0), min);
		assert_int_equal(nj_backoff_ms(a, min, max, cap - min), cap);
	}
	/* the cap is reached after about log2(max/min) failures */
	assert_int_equal(nj_backoff_ms(9, min, max, max - min), max);
	assert_int_equal(nj_backoff_ms(8, min, max, max - min),
			 min + (max - min) % (256000 - min + 1));
	/* a degenerate range */
	assert_int_equal(nj_backoff_ms(5, 500, 500, 12345), 500);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_batches_split_at_gaps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_batch_byte_bound, setup, teardown),
		cmocka_unit_test_setup_teardown(test_evicted_position_counted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_eviction_while_reading, setup, teardown),
		cmocka_unit_test_setup_teardown(test_position_file, setup, teardown),
		cmocka_unit_test(test_backoff_bounds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
