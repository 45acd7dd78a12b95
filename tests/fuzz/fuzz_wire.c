/* fuzz_wire.c - libFuzzer target for what the collector does with bytes from an agent: the
 * incremental frame decoder (agent/wire.c) fed in pieces of fuzzer-chosen sizes through its
 * zero-copy space/commit path, each whole frame unpacked as a nightjar.Batch and as an Ack,
 * and every Batch that unpacks encoded again and decoded again, which must give the same
 * batch back.
 *
 * Input layout: byte 0 chooses the piece sizes, the rest is the stream. The decoder's limit is
 * 64 KiB here so that the "larger than the limit" path is reachable within -max_len.
 * Build and run: tests/fuzz/README.md. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
const char *__ubsan_default_options(void);

#define FUZZ_MAX_FRAME (64u << 10)

const char *__ubsan_default_options(void)
{
	return "halt_on_error=1:print_stacktrace=1";
}

static void check_round_trip(const Nightjar__Batch *b)
{
	Nightjar__Batch *again;
	uint8_t *out;
	size_t len, i;
	char err[256];

	if (nj_wire_encode_batch(b->host_id, b->first_sequence, b->records, b->n_records, 0, &out,
				 &len))
		return; /* larger than a frame may be: refused, fine */
	again = nj_wire_batch_unpack(NULL, out + NJ_WIRE_HDR_LEN, len - NJ_WIRE_HDR_LEN, err,
				     sizeof(err));
	if (!again || strcmp(again->host_id, b->host_id) ||
	    again->first_sequence != b->first_sequence || again->n_records != b->n_records)
		abort();
	for (i = 0; i < b->n_records; i++)
		if (again->records[i].len != b->records[i].len ||
		    (b->records[i].len &&
		     memcmp(again->records[i].data, b->records[i].data, b->records[i].len)))
			abort();
	nightjar__batch__free_unpacked(again, NULL);
	free(out);
}

static void one_frame(const uint8_t *frame, size_t len)
{
	Nightjar__Batch *b;
	Nightjar__Ack *a;
	char err[256];

	b = nj_wire_batch_unpack(NULL, frame, len, err, sizeof(err));
	if (b) {
		check_round_trip(b);
		nightjar__batch__free_unpacked(b, NULL);
	}
	a = nj_wire_ack_unpack(NULL, frame, len, err, sizeof(err));
	if (a)
		nightjar__ack__free_unpacked(a, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nj_wire_dec d;
	const uint8_t *frame;
	size_t off = 1, piece, room, flen;
	unsigned int step;
	char err[256];
	uint8_t *p;
	int r = 0;

	if (size < 1)
		return 0;
	/* piece sizes 1, 2, 3 ... or everything at once */
	step = data[0];
	nj_wire_dec_init(&d, FUZZ_MAX_FRAME);
	while (off < size && r >= 0) {
		piece = step ? (size_t)(step % 61) + 1 : size - off;
		if (piece > size - off)
			piece = size - off;
		while (piece) {
			size_t n;

			if (nj_wire_dec_space(&d, &p, &room) < 0)
				abort();
			if (room == 0)
				abort(); /* the decoder must always offer a byte of room */
			n = piece < room ? piece : room;
			memcpy(p, data + off, n);
			nj_wire_dec_commit(&d, n);
			off += n;
			piece -= n;
		}
		while ((r = nj_wire_dec_next(&d, &frame, &flen, err, sizeof(err))) == 1) {
			if (flen == 0 || flen > FUZZ_MAX_FRAME)
				abort();
			one_frame(frame, flen);
		}
	}
	/* the memory bound: what is allocated follows what arrived */
	if (d.cap > 2 * (size + NJ_WIRE_HDR_LEN) + 16384)
		abort();
	nj_wire_dec_free(&d);
	return 0;
}
