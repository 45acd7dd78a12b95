/* wire.h - the agent -> collector stream (docs/wire.md), shared by the agent's shipper and the
 * collector: length-prefixed protobuf frames over TLS 1.3.
 *
 *   frame  u32 length N (big-endian, 1 <= N <= max_frame)  then N bytes of protobuf
 *   agent -> collector: nightjar.Batch     collector -> agent: nightjar.Ack
 *
 * The decoder takes bytes as a nonblocking socket delivers them and hands out whole frames; it
 * never trusts a length before checking it, and grows its buffer only as bytes really arrive,
 * so a peer that announces 16 MiB and sends nothing costs nothing. */
#ifndef NJ_WIRE_H
#define NJ_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "nightjar.pb-c.h"

/* TLS ALPN protocol id; both sides offer exactly this one */
#define NJ_WIRE_ALPN	  "nightjar/1"
#define NJ_WIRE_HDR_LEN	  4
#define NJ_WIRE_MAX_FRAME (16u << 20) /* the default bound on N */
/* the collector's default port (no IANA assignment; "nightjar" on a phone keypad is 6445428) */
#define NJ_WIRE_DEFAULT_PORT 6445

/* ---- decoding ---- */

struct nj_wire_dec {
	uint8_t *buf;
	size_t len; /* bytes held */
	size_t off; /* bytes already handed out as frames */
	size_t cap;
	uint32_t max_frame; /* a larger announced length is an error */
	uint64_t consumed;  /* stream bytes before buf + off, for error offsets */
};

void nj_wire_dec_init(struct nj_wire_dec *d, uint32_t max_frame);
void nj_wire_dec_free(struct nj_wire_dec *d);

/* Receive without a copy: room for at least one more byte at *p (up to *room bytes), sized to
 * what the frame being read still needs. Then nj_wire_dec_commit() the bytes written there.
 * -1 when out of memory. */
int nj_wire_dec_space(struct nj_wire_dec *d, uint8_t **p, size_t *room);
void nj_wire_dec_commit(struct nj_wire_dec *d, size_t n);
/* Or append bytes received elsewhere. -1 when out of memory. */
int nj_wire_dec_feed(struct nj_wire_dec *d, const void *data, size_t n);

/* 1: one frame at *frame (N bytes, without the length), valid until the next space/feed call;
 * 0: need more bytes; -1: the stream is broken (length 0 or above max_frame): err says where.
 * After -1 the decoder stays broken. */
int nj_wire_dec_next(struct nj_wire_dec *d, const uint8_t **frame, size_t *len, char *err,
		     size_t errlen);
/* Bytes of an unfinished frame are held (a peer that stops here is stalled mid-frame). */
bool nj_wire_dec_partial(const struct nj_wire_dec *d);

/* ---- messages ---- */

/* Unpack a Batch from one frame. NULL when it is not protobuf, not a Batch, or lacks the host
 * id or first sequence; err says which. alloc NULL: protobuf-c's default allocator (free with
 * nightjar__batch__free_unpacked). */
Nightjar__Batch *nj_wire_batch_unpack(ProtobufCAllocator *alloc, const uint8_t *frame, size_t len,
				      char *err, size_t errlen);
Nightjar__Ack *nj_wire_ack_unpack(ProtobufCAllocator *alloc, const uint8_t *frame, size_t len,
				  char *err, size_t errlen);

/* Write the 4-byte length prefix. */
void nj_wire_put_len(uint8_t hdr[NJ_WIRE_HDR_LEN], uint32_t n);
/* The whole frame (prefix + packed message) in a malloc'd buffer. 0, or -ENOMEM / -EMSGSIZE
 * (the message is larger than max_frame). */
int nj_wire_encode(const ProtobufCMessage *msg, uint32_t max_frame, uint8_t **out, size_t *outlen);
/* A frame of a Batch of count packed records from host_id, the first with sequence first_seq. */
int nj_wire_encode_batch(const char *host_id, uint64_t first_seq, const ProtobufCBinaryData *recs,
			 size_t count, uint32_t max_frame, uint8_t **out, size_t *outlen);
/* A frame of an Ack: error NULL for success. Into out (at least NJ_WIRE_ACK_MAX bytes, when
 * error is NULL or shorter than NJ_WIRE_ERROR_MAX, longer errors are cut). Returns its length. */
#define NJ_WIRE_ERROR_MAX 200
#define NJ_WIRE_ACK_MAX	  (NJ_WIRE_HDR_LEN + 40 + NJ_WIRE_ERROR_MAX)
size_t nj_wire_encode_ack(uint8_t *out, uint64_t first_seq, uint32_t count, uint64_t stored_through,
			  const char *error);

#endif
