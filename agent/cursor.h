/* cursor.h - the shipper's view of the agent's own spool: read records in sequence order from
 * a given number on, while the spool is still being written and its oldest segments evicted,
 * and cut them into batches that never span a sequence gap (docs/shipping.md).
 *
 * The cursor reads segment files as the spool leaves them (agent/spool.h for the format);
 * it never writes. Within the agent it runs in the same thread as the writer, so it never
 * meets a frame half written; a partial frame at the end of the newest segment is simply
 * waited for. */
#ifndef NJ_CURSOR_H
#define NJ_CURSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

struct nj_cursor;

/* Read DIR from sequence FROM on (0: from the oldest record, counting nothing as lost).
 * NULL when out of memory. The directory may be empty or appear later. */
struct nj_cursor *nj_cursor_open(const char *dir, uint64_t from);
void nj_cursor_close(struct nj_cursor *c);

/* 1: the next record (seq, payload valid until the next call); 0: nothing more yet; -1: a read
 * error (logged). Damage in a segment is logged and the rest of that segment skipped (and
 * counted lost), like records evicted before they were read. */
int nj_cursor_next(struct nj_cursor *c, uint64_t *seq, const uint8_t **payload, size_t *len);
/* Make the next nj_cursor_next() return the record it returned last, again. */
void nj_cursor_unread(struct nj_cursor *c);
/* Sequence numbers skipped because the segment holding them was evicted (or damaged) before
 * the cursor read them. After a power cut on an earlier boot, a skipped range may include
 * numbers that were never used (docs/spool.md), so this is an upper bound. */
uint64_t nj_cursor_lost(const struct nj_cursor *c);

/* A batch: consecutive records, copied out of the cursor, ready for nj_wire_encode_batch(). */
struct nj_batch {
	uint64_t first_seq;
	size_t count;
	size_t bytes; /* payload bytes */
	ProtobufCBinaryData *recs;
	size_t *offs; /* each record's offset in the arena while it grows */
	size_t cap;
	uint8_t *arena;
	size_t arena_len, arena_cap;
};

/* Fill b with up to max_records records and max_bytes payload bytes (at least one record,
 * whatever its size) from c. Stops before a sequence gap: a batch is never split by one.
 * Returns the record count (0: nothing to send yet), or -1 (read error or out of memory). */
int nj_batch_fill(struct nj_batch *b, struct nj_cursor *c, size_t max_records, size_t max_bytes);
void nj_batch_free(struct nj_batch *b);

#endif
