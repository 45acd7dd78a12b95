/* wire.c - the agent <-> collector frame codec (wire.h, docs/wire.md). */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"

/* the first allocation; a connection that only ever sends small batches stays at this */
#define DEC_MIN_CAP 16384

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

void nj_wire_put_len(uint8_t hdr[NJ_WIRE_HDR_LEN], uint32_t n)
{
	hdr[0] = (uint8_t)(n >> 24);
	hdr[1] = (uint8_t)(n >> 16);
	hdr[2] = (uint8_t)(n >> 8);
	hdr[3] = (uint8_t)n;
}

static int fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

void nj_wire_dec_init(struct nj_wire_dec *d, uint32_t max_frame)
{
	memset(d, 0, sizeof(*d));
	d->max_frame = max_frame ? max_frame : NJ_WIRE_MAX_FRAME;
}

void nj_wire_dec_free(struct nj_wire_dec *d)
{
	free(d->buf);
	d->buf = NULL;
	d->len = d->off = d->cap = 0;
}

/* Bytes the frame under way still needs beyond what is held (at least the next header). */
static size_t still_needed(const struct nj_wire_dec *d)
{
	size_t avail = d->len - d->off;
	uint32_t n;

	if (avail < NJ_WIRE_HDR_LEN)
		return NJ_WIRE_HDR_LEN - avail;
	n = get_be32(d->buf + d->off);
	if (n == 0 || n > d->max_frame)
		return 1; /* broken: nj_wire_dec_next() reports it */
	if (avail >= NJ_WIRE_HDR_LEN + (size_t)n)
		return 1;
	return NJ_WIRE_HDR_LEN + (size_t)n - avail;
}

int nj_wire_dec_space(struct nj_wire_dec *d, uint8_t **p, size_t *room)
{
	size_t need = still_needed(d), cap;
	uint8_t *b;

	/* frames already handed out are dead: slide the rest to the front */
	if (d->off) {
		memmove(d->buf, d->buf + d->off, d->len - d->off);
		d->consumed += d->off;
		d->len -= d->off;
		d->off = 0;
	}
	/* Grow by doubling, and only once the buffer is nearly full: an announced length is not
	 * trusted with memory before its bytes arrive, so what is allocated stays within twice
	 * what the peer really sent, plus DEC_MIN_CAP. Never beyond what the frame needs. */
	if (d->cap - d->len < need && d->cap - d->len < DEC_MIN_CAP / 4) {
		cap = d->cap ? d->cap * 2 : DEC_MIN_CAP;
		if (cap > d->len + need)
			cap = d->len + need;
		if (cap < DEC_MIN_CAP)
			cap = DEC_MIN_CAP;
		b = realloc(d->buf, cap);
		if (!b)
			return -1;
		d->buf = b;
		d->cap = cap;
	}
	*p = d->buf + d->len;
	*room = d->cap - d->len;
	return 0;
}

void nj_wire_dec_commit(struct nj_wire_dec *d, size_t n)
{
	d->len += n;
}

int nj_wire_dec_feed(struct nj_wire_dec *d, const void *data, size_t n)
{
	const uint8_t *s = data;
	uint8_t *p;
	size_t room;

	while (n) {
		if (nj_wire_dec_space(d, &p, &room) < 0)
			return -1;
		if (room > n)
			room = n;
		memcpy(p, s, room);
		nj_wire_dec_commit(d, room);
		s += room;
		n -= room;
	}
	return 0;
}

int nj_wire_dec_next(struct nj_wire_dec *d, const uint8_t **frame, size_t *len, char *err,
		     size_t errlen)
{
	size_t avail = d->len - d->off;
	uint32_t n;

	if (avail < NJ_WIRE_HDR_LEN)
		return 0;
	n = get_be32(d->buf + d->off);
	if (n == 0)
		return fail(err, errlen, "stream offset %" PRIu64 ": empty frame",
			    d->consumed + d->off);
	if (n > d->max_frame)
		return fail(err, errlen,
			    "stream offset %" PRIu64 ": frame of %" PRIu32
			    " bytes is larger than the limit of %" PRIu32,
			    d->consumed + d->off, n, d->max_frame);
	if (avail < NJ_WIRE_HDR_LEN + (size_t)n)
		return 0;
	*frame = d->buf + d->off + NJ_WIRE_HDR_LEN;
	*len = n;
	d->off += NJ_WIRE_HDR_LEN + (size_t)n;
	return 1;
}

bool nj_wire_dec_partial(const struct nj_wire_dec *d)
{
	return d->len > d->off;
}

Nightjar__Batch *nj_wire_batch_unpack(ProtobufCAllocator *alloc, const uint8_t *frame, size_t len,
				      char *err, size_t errlen)
{
	Nightjar__Batch *b;

	/* a Batch holds no sub-message, so protobuf-c's recursion has nothing to recurse into */
	b = nightjar__batch__unpack(alloc, len, frame);
	if (!b) {
		fail(err, errlen, "frame of %zu bytes is not a nightjar.Batch", len);
		return NULL;
	}
	if (!b->host_id || !b->host_id[0] || !b->has_first_sequence) {
		fail(err, errlen, "batch without %s",
		     !b->has_first_sequence ? "first_sequence" : "host_id");
		nightjar__batch__free_unpacked(b, alloc);
		return NULL;
	}
	if (b->n_records && b->first_sequence > UINT64_MAX - b->n_records) {
		fail(err, errlen, "batch sequence %" PRIu64 " + %zu records overflows",
		     b->first_sequence, b->n_records);
		nightjar__batch__free_unpacked(b, alloc);
		return NULL;
	}
	return b;
}

Nightjar__Ack *nj_wire_ack_unpack(ProtobufCAllocator *alloc, const uint8_t *frame, size_t len,
				  char *err, size_t errlen)
{
	Nightjar__Ack *a = nightjar__ack__unpack(alloc, len, frame);

	if (!a)
		fail(err, errlen, "frame of %zu bytes is not a nightjar.Ack", len);
	return a;
}

int nj_wire_encode(const ProtobufCMessage *msg, uint32_t max_frame, uint8_t **out, size_t *outlen)
{
	size_t n = protobuf_c_message_get_packed_size(msg);
	uint8_t *buf;

	if (!max_frame)
		max_frame = NJ_WIRE_MAX_FRAME;
	/* an empty message would be an empty frame, which the decoder refuses */
	if (n == 0 || n > max_frame)
		return -EMSGSIZE;
	buf = malloc(NJ_WIRE_HDR_LEN + n);
	if (!buf)
		return -ENOMEM;
	nj_wire_put_len(buf, (uint32_t)n);
	protobuf_c_message_pack(msg, buf + NJ_WIRE_HDR_LEN);
	*out = buf;
	*outlen = NJ_WIRE_HDR_LEN + n;
	return 0;
}

int nj_wire_encode_batch(const char *host_id, uint64_t first_seq, const ProtobufCBinaryData *recs,
			 size_t count, uint32_t max_frame, uint8_t **out, size_t *outlen)
{
	Nightjar__Batch b = NIGHTJAR__BATCH__INIT;

	b.host_id = (char *)host_id;
	b.has_first_sequence = 1;
	b.first_sequence = first_seq;
	b.n_records = count;
	/* protobuf-c only reads through this pointer when packing */
	b.records = (ProtobufCBinaryData *)recs;
	return nj_wire_encode(&b.base, max_frame, out, outlen);
}

size_t nj_wire_encode_ack(uint8_t *out, uint64_t first_seq, uint32_t count, uint64_t stored_through,
			  const char *error)
{
	Nightjar__Ack a = NIGHTJAR__ACK__INIT;
	char cut[NJ_WIRE_ERROR_MAX];
	size_t n;

	a.has_first_sequence = 1;
	a.first_sequence = first_seq;
	a.has_count = 1;
	a.count = count;
	a.has_stored_through = 1;
	a.stored_through = stored_through;
	if (error) {
		snprintf(cut, sizeof(cut), "%s", error);
		a.error = cut;
	}
	n = protobuf_c_message_pack(&a.base, out + NJ_WIRE_HDR_LEN);
	nj_wire_put_len(out, (uint32_t)n);
	return NJ_WIRE_HDR_LEN + n;
}
