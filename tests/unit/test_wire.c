/* test_wire.c - the agent <-> collector frame codec: frames cut at every byte boundary, the
 * length bounds, memory that grows only with bytes received, Batch and Ack round trips, and
 * frames that are not what they claim. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"

/* Three batches back to back, as one byte stream. */
static uint8_t *three_batches(size_t *len, size_t *ends)
{
	ProtobufCBinaryData recs[3] = {
		{3, (uint8_t *)"abc"}, {0, (uint8_t *)""}, {5, (uint8_t *)"\x00\x01\x02\x03\x04"}};
	uint8_t *all = NULL, *f;
	size_t n = 0, fl;
	int i;

	for (i = 0; i < 3; i++) {
		assert_int_equal(nj_wire_encode_batch("host-a", 100 + 10 * (uint64_t)i, recs,
						      (size_t)i + 1, 0, &f, &fl),
				 0);
		all = realloc(all, n + fl);
		assert_non_null(all);
		memcpy(all + n, f, fl);
		n += fl;
		ends[i] = n;
		free(f);
	}
	*len = n;
	return all;
}

static void check_batch(const uint8_t *frame, size_t len, int i)
{
	Nightjar__Batch *b;
	char err[128];

	b = nj_wire_batch_unpack(NULL, frame, len, err, sizeof(err));
	assert_non_null(b);
	assert_string_equal(b->host_id, "host-a");
	assert_int_equal(b->first_sequence, 100 + 10 * (uint64_t)i);
	assert_int_equal(b->n_records, (size_t)i + 1);
	assert_int_equal(b->records[0].len, 3);
	assert_memory_equal(b->records[0].data, "abc", 3);
	if (i >= 1)
		assert_int_equal(b->records[1].len, 0);
	if (i >= 2) {
		assert_int_equal(b->records[2].len, 5);
		assert_memory_equal(b->records[2].data, "\x00\x01\x02\x03\x04", 5);
	}
	nightjar__batch__free_unpacked(b, NULL);
}

/* Every split of the stream into two pieces, and byte by byte: the same three frames. */
static void test_frames_across_every_split(void **state)
{
	size_t len, ends[3], cut, i, flen;
	const uint8_t *frame;
	uint8_t *all;
	int got, r;

	(void)state;
	all = three_batches(&len, ends);
	for (cut = 0; cut <= len; cut++) {
		struct nj_wire_dec d;

		nj_wire_dec_init(&d, 0);
		got = 0;
		assert_int_equal(nj_wire_dec_feed(&d, all, cut), 0);
		while ((r = nj_wire_dec_next(&d, &frame, &flen, NULL, 0)) == 1)
			check_batch(frame, flen, got++);
		assert_int_equal(r, 0);
		assert_int_equal(nj_wire_dec_partial(&d),
				 cut != ends[0] && cut != ends[1] && cut != ends[2] && cut != 0);
		assert_int_equal(nj_wire_dec_feed(&d, all + cut, len - cut), 0);
		while ((r = nj_wire_dec_next(&d, &frame, &flen, NULL, 0)) == 1)
			check_batch(frame, flen, got++);
		assert_int_equal(r, 0);
		assert_int_equal(got, 3);
		assert_false(nj_wire_dec_partial(&d));
		nj_wire_dec_free(&d);
	}
	{
		struct nj_wire_dec d;

		nj_wire_dec_init(&d, 0);
		got = 0;
		for (i = 0; i < len; i++) {
			uint8_t *p;
			size_t room;

			/* the zero-copy path: one byte written into the offered space */
			assert_int_equal(nj_wire_dec_space(&d, &p, &room), 0);
			assert_true(room >= 1);
			*p = all[i];
			nj_wire_dec_commit(&d, 1);
			while ((r = nj_wire_dec_next(&d, &frame, &flen, NULL, 0)) == 1) {
				assert_int_equal(i + 1, ends[got]);
				check_batch(frame, flen, got++);
			}
			assert_int_equal(r, 0);
		}
		assert_int_equal(got, 3);
		nj_wire_dec_free(&d);
	}
	free(all);
}

static void test_length_bounds(void **state)
{
	static const uint8_t zero[] = {0, 0, 0, 0};
	static const uint8_t over[] = {0, 0, 0x10, 0x01};  /* 4097 */
	static const uint8_t exact[] = {0, 0, 0x10, 0x00}; /* 4096 */
	struct nj_wire_dec d;
	const uint8_t *frame;
	char err[128];
	size_t flen;
	uint8_t *body;

	(void)state;
	nj_wire_dec_init(&d, 4096);
	assert_int_equal(nj_wire_dec_feed(&d, zero, 3), 0);
	assert_int_equal(nj_wire_dec_next(&d, &frame, &flen, err, sizeof(err)), 0);
	assert_int_equal(nj_wire_dec_feed(&d, zero + 3, 1), 0);
	assert_int_equal(nj_wire_dec_next(&d, &frame, &flen, err, sizeof(err)), -1);
	assert_string_equal(err, "stream offset 0: empty frame");
	nj_wire_dec_free(&d);

	nj_wire_dec_init(&d, 4096);
	assert_int_equal(nj_wire_dec_feed(&d, over, 4), 0);
	assert_int_equal(nj_wire_dec_next(&d, &frame, &flen, err, sizeof(err)), -1);
	assert_string_equal(
		err, "stream offset 0: frame of 4097 bytes is larger than the limit of 4096");
	nj_wire_dec_free(&d);

	/* exactly the limit is a frame */
	body = calloc(1, 4096);
	assert_non_null(body);
	nj_wire_dec_init(&d, 4096);
	assert_int_equal(nj_wire_dec_feed(&d, exact, 4), 0);
	assert_int_equal(nj_wire_dec_feed(&d, body, 4095), 0);
	assert_int_equal(nj_wire_dec_next(&d, &frame, &flen, err, sizeof(err)), 0);
	assert_int_equal(nj_wire_dec_feed(&d, body, 1), 0);
	assert_int_equal(nj_wire_dec_next(&d, &frame, &flen, err, sizeof(err)), 1);
	assert_int_equal(flen, 4096);
	/* the error offset counts the bytes of earlier frames */
	assert_int_equal(nj_wire_dec_feed(&d, over, 4), 0);
	assert_int_equal(nj_wire_dec_next(&d, &frame, &flen, err, sizeof(err)), -1);
	assert_string_equal(
		err, "stream offset 4100: frame of 4097 bytes is larger than the limit of 4096");
	nj_wire_dec_free(&d);
	free(body);
}

/* A peer announcing the largest frame and sending little gets no large buffer. */
static void test_memory_follows_bytes_received(void **state)
{
	uint8_t hdr[NJ_WIRE_HDR_LEN], chunk[1000] = {0}, *p;
	struct nj_wire_dec d;
	size_t room, sent = 0;

	(void)state;
	nj_wire_dec_init(&d, 0);
	nj_wire_put_len(hdr, NJ_WIRE_MAX_FRAME);
	assert_int_equal(nj_wire_dec_feed(&d, hdr, sizeof(hdr)), 0);
	assert_int_equal(nj_wire_dec_space(&d, &p, &room), 0);
	assert_true(d.cap <= 16384);
	/* asking again without sending grows nothing */
	assert_int_equal(nj_wire_dec_space(&d, &p, &room), 0);
	assert_int_equal(nj_wire_dec_space(&d, &p, &room), 0);
	assert_true(d.cap <= 16384);
	while (sent < 100000) {
		assert_int_equal(nj_wire_dec_feed(&d, chunk, sizeof(chunk)), 0);
		sent += sizeof(chunk);
		assert_true(d.cap <= 2 * (sent + sizeof(hdr)) + 16384);
	}
	nj_wire_dec_free(&d);
}

static void test_batch_refused(void **state)
{
	static const uint8_t not_pb[] = {0xff, 0xff, 0xff, 0xff, 0xff};
	Nightjar__Batch b = NIGHTJAR__BATCH__INIT;
	uint8_t buf[64];
	char err[128];
	size_t n;

	(void)state;
	assert_null(nj_wire_batch_unpack(NULL, not_pb, sizeof(not_pb), err, sizeof(err)));
	assert_string_equal(err, "frame of 5 bytes is not a nightjar.Batch");

	b.has_first_sequence = 1;
	b.first_sequence = 7;
	n = protobuf_c_message_pack(&b.base, buf);
	assert_null(nj_wire_batch_unpack(NULL, buf, n, err, sizeof(err)));
	assert_string_equal(err, "batch without host_id");

	b.has_first_sequence = 0;
	b.host_id = "h";
	n = protobuf_c_message_pack(&b.base, buf);
	assert_null(nj_wire_batch_unpack(NULL, buf, n, err, sizeof(err)));
	assert_string_equal(err, "batch without first_sequence");
}

static void test_ack_round_trip(void **state)
{
	uint8_t out[NJ_WIRE_ACK_MAX];
	char longerr[400];
	Nightjar__Ack *a;
	size_t n;

	(void)state;
	n = nj_wire_encode_ack(out, 42, 10, 51, NULL);
	assert_int_equal(out[0] << 24 | out[1] << 16 | out[2] << 8 | out[3], n - NJ_WIRE_HDR_LEN);
	a = nj_wire_ack_unpack(NULL, out + NJ_WIRE_HDR_LEN, n - NJ_WIRE_HDR_LEN, NULL, 0);
	assert_non_null(a);
	assert_int_equal(a->first_sequence, 42);
	assert_int_equal(a->count, 10);
	assert_int_equal(a->stored_through, 51);
	assert_null(a->error);
	nightjar__ack__free_unpacked(a, NULL);

	memset(longerr, 'x', sizeof(longerr) - 1);
	longerr[sizeof(longerr) - 1] = '\0';
	n = nj_wire_encode_ack(out, UINT64_MAX, UINT32_MAX, UINT64_MAX, longerr);
	assert_true(n <= NJ_WIRE_ACK_MAX);
	a = nj_wire_ack_unpack(NULL, out + NJ_WIRE_HDR_LEN, n - NJ_WIRE_HDR_LEN, NULL, 0);
	assert_non_null(a);
	assert_int_equal(strlen(a->error), NJ_WIRE_ERROR_MAX - 1);
	nightjar__ack__free_unpacked(a, NULL);
}

static void test_encode_bounds(void **state)
{
	ProtobufCBinaryData rec = {5000, NULL};
	uint8_t *out;
	size_t n;

	(void)state;
	rec.data = calloc(1, rec.len);
	assert_non_null(rec.data);
	assert_int_equal(nj_wire_encode_batch("h", 1, &rec, 1, 4096, &out, &n), -EMSGSIZE);
	assert_int_equal(nj_wire_encode_batch("h", 1, &rec, 1, 8192, &out, &n), 0);
	free(out);
	free(rec.data);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_frames_across_every_split),
		cmocka_unit_test(test_length_bounds),
		cmocka_unit_test(test_memory_follows_bytes_received),
		cmocka_unit_test(test_batch_refused),
		cmocka_unit_test(test_ack_round_trip),
		cmocka_unit_test(test_encode_bounds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
