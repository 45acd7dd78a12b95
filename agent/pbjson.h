/* pbjson.h - JSON from any protobuf-c message, driven by its descriptor.
 *
 * The one place that turns records into JSON: the agent's --output json and nightjarctl read
 * --json both come through here, so their field names cannot drift apart. Conventions are
 * those written at the top of proto/nightjar.proto. */
#ifndef NJ_PBJSON_H
#define NJ_PBJSON_H

#include <protobuf-c/protobuf-c.h>

#include "json.h"
#include "nightjar.pb-c.h"

/* Write msg as a JSON object (key NULL at the top level). */
void nj_pbjson_message(struct nj_json *j, const char *key, const ProtobufCMessage *msg);

/* Unpack a nightjar.Record from untrusted bytes (a spool, a capture from elsewhere, a stream).
 * protobuf-c recurses once per nesting level with no limit of its own, so a crafted record
 * with a parent of a parent ... ten thousand deep would overflow the stack: the nesting is
 * checked against the descriptors first. NULL for anything that is not a sane record; free
 * with nightjar__record__free_unpacked(). */
#define NJ_PB_MAX_DEPTH 32
Nightjar__Record *nj_record_unpack(const uint8_t *buf, size_t len);

/* A bump allocator for unpacking many records one after another: nj_arena_reset() frees a
 * whole record at once, instead of one free() per sub-message. */
struct nj_arena {
	ProtobufCAllocator alloc;
	uint8_t *buf;
	size_t len, cap;
	void **big; /* blocks too large for buf, freed at reset */
	size_t nbig;
};
void nj_arena_init(struct nj_arena *a, size_t cap);
void nj_arena_reset(struct nj_arena *a);
void nj_arena_free(struct nj_arena *a);
/* As nj_record_unpack(), into the arena; valid until the next reset. */
Nightjar__Record *nj_record_unpack_arena(struct nj_arena *a, const uint8_t *buf, size_t len);

/* RFC 3339 UTC with nanoseconds, "2026-11-28T16:40:24.123456789Z". */
void nj_format_utc(char out[40], uint64_t utc_ns);

#endif
