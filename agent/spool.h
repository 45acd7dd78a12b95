/* spool.h - the on-host forensic record: an append-only log of framed records in segment
 * files, that survives kill -9 and power loss, and is bounded by size and age.
 *
 * On disk (docs/spool.md):
 *   <dir>/<first sequence, 20 digits>.seg   segment: file header, then frames
 *   <dir>/next-sequence                     "MARK BOOT_ID clean|dirty": numbers below MARK
 *                                           may be in use (see nj_spool_open())
 *   file header  "NIGHTJAR" u32 version u32 kind            (16 bytes, little-endian)
 *   frame        u32 length  u32 crc32(seq..payload)  u64 sequence  payload[length]
 * The payload is a packed nightjar.Record; the spool itself never decodes it.
 */
#ifndef NJ_SPOOL_H
#define NJ_SPOOL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define NJ_FILE_MAGIC	    "NIGHTJAR"
#define NJ_FILE_VERSION	    1
#define NJ_FILE_SEGMENT	    1
#define NJ_FILE_CAPTURE	    2
#define NJ_FILE_HEADER_LEN  16
#define NJ_FRAME_HEADER_LEN 16
#define NJ_FRAME_MAX	    (16u << 20) /* larger is damage, not a record */

struct nj_spool_opts {
	const char *dir;
	uint64_t max_bytes;	/* all segments together */
	uint64_t segment_bytes; /* rotate when a segment reaches this */
	uint64_t max_age_ms;	/* evict segments last written longer ago than this */
	/* The numbers are someone else's (the collector stores an agent's records under the
	 * agent's sequences): no next-sequence file, numbering resumes after the last whole
	 * record on disk, records go in with nj_spool_append_at(), and nj_spool_sync() also
	 * makes new segment names durable. */
	int external_seq;
};

struct nj_spool_stats {
	uint64_t bytes; /* on disk now */
	uint64_t segments;
	uint64_t oldest_seq;	  /* first sequence still on disk */
	uint64_t next_seq;	  /* the sequence the next record gets */
	uint64_t records;	  /* appended since open */
	uint64_t evicted_records; /* lost to the size or age bound since open */
	uint64_t evicted_segments;
	uint64_t write_errors;	  /* records that could not be stored (full disk...) */
	uint64_t truncated_bytes; /* torn tail removed at open */
};

struct nj_spool;

/* Open (creating the directory), recover, and make ready to append. The torn tail of the last
 * segment is cut off; every whole record before it stays. Returns 0 or -errno, with a message
 * in err. */
int nj_spool_open(struct nj_spool **out, const struct nj_spool_opts *o, char *err, size_t errlen);
void nj_spool_close(struct nj_spool *s);

/* The sequence number the next appended record will carry. */
uint64_t nj_spool_next_seq(const struct nj_spool *s);
/* Append one record under nj_spool_next_seq(), which then advances whether or not the write
 * succeeded: a record that could not be stored is counted, and its number never reused.
 * Returns 0 or -errno. */
int nj_spool_append(struct nj_spool *s, const void *payload, size_t len);
/* external_seq only: append under seq, which must be at least nj_spool_next_seq() (a larger
 * one leaves a gap). -EINVAL for a sequence already used. */
int nj_spool_append_at(struct nj_spool *s, uint64_t seq, const void *payload, size_t len);
/* Records are buffered: nj_spool_flush() writes them (once per ring drain), nj_spool_sync()
 * flushes and makes them durable (fdatasync, on the flush timer, not per record). What is
 * buffered and not yet flushed, as frames (the tail stream sends the same bytes). */
int nj_spool_flush(struct nj_spool *s);
void nj_spool_pending(const struct nj_spool *s, const uint8_t **frames, size_t *len);
/* Make what was appended durable (fdatasync). Called on the flush timer, not per record. */
int nj_spool_sync(struct nj_spool *s);
/* For a sync made elsewhere (the collector's sync threads): flush, then hand out what needs
 * fdatasync (*fd) and fsync (*dirfd, -1 when no segment was created), as dup()s the caller
 * closes, and count as synced. Returns 1 with both set, 0 when nothing needs syncing, -errno
 * when the flush or a dup failed. */
int nj_spool_sync_handles(struct nj_spool *s, int *fd, int *dirfd);
/* Apply the age bound (called periodically); the size bound is applied at each rotation. */
void nj_spool_maintain(struct nj_spool *s);
void nj_spool_stats(const struct nj_spool *s, struct nj_spool_stats *st);

/* ---- reading: a spool directory or a single file (segment or capture) ---- */

struct nj_reader;

/* Open PATH: a directory reads every segment in order. NULL with a message on error. */
struct nj_reader *nj_reader_open(const char *path, char *err, size_t errlen);
/* Next record: 1 with seq/payload/len set (valid until the next call), 0 at the end, -1 on
 * damage: err names the file and byte offset. Reading continues with the next file after
 * damage, so every intact record before it has been returned. */
int nj_reader_next(struct nj_reader *r, uint64_t *seq, const uint8_t **payload, size_t *len,
		   char *err, size_t errlen);
void nj_reader_close(struct nj_reader *r);

/* ---- decoding a byte stream (a tail socket): fed in pieces, frames out whole ---- */

struct nj_stream {
	uint8_t *buf;
	size_t len, cap, off;
	int header_done;
	uint64_t consumed; /* bytes of the stream already decoded, for error offsets */
};

/* Append received bytes. -1 when out of memory. */
int nj_stream_feed(struct nj_stream *st, const void *data, size_t n);
/* 1: a frame (valid until the next feed or next call); 0: need more bytes; -1: the stream is
 * not Nightjar framing or is damaged (err says where). */
int nj_stream_next(struct nj_stream *st, uint64_t *seq, const uint8_t **payload, size_t *len,
		   char *err, size_t errlen);
void nj_stream_free(struct nj_stream *st);

/* Frame one record into buf (NJ_FRAME_HEADER_LEN + len bytes). */
void nj_frame_header(uint8_t hdr[NJ_FRAME_HEADER_LEN], uint64_t seq, const void *payload,
		     size_t len);
/* Write a file header of the given kind. */
void nj_file_header(uint8_t hdr[NJ_FILE_HEADER_LEN], uint32_t kind);

#endif
