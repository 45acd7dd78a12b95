/* cursor.c - follow the spool's segments in sequence order, across rotation and eviction. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cursor.h"
#include "log.h"
#include "spool.h"

/* one read() per this much of a segment when catching up */
#define READ_CHUNK (1u << 20)

struct nj_cursor {
	char *dir;
	int fd;		    /* the segment being read, or -1 */
	uint64_t seg_first; /* its first sequence (its name) */
	uint64_t want;	    /* the next sequence wanted; lower ones are skipped */
	bool exact;	    /* want was asked for: a segment evicted before it is a loss */
	bool damaged;	    /* the rest of the current segment is not to be trusted */
	uint8_t *buf;
	size_t pos, len, cap;
	uint64_t lost;
	/* the record returned last, for nj_cursor_unread() */
	bool held;
	uint64_t last_seq;
	size_t last_off, last_len;
};

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

struct nj_cursor *nj_cursor_open(const char *dir, uint64_t from)
{
	struct nj_cursor *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->dir = strdup(dir);
	c->buf = malloc(READ_CHUNK);
	if (!c->dir || !c->buf) {
		free(c->dir);
		free(c->buf);
		free(c);
		return NULL;
	}
	c->cap = READ_CHUNK;
	c->fd = -1;
	c->want = from;
	c->exact = from > 0;
	return c;
}

void nj_cursor_close(struct nj_cursor *c)
{
	if (!c)
		return;
	if (c->fd >= 0)
		close(c->fd);
	free(c->buf);
	free(c->dir);
	free(c);
}

uint64_t nj_cursor_lost(const struct nj_cursor *c)
{
	return c->lost;
}

void nj_cursor_unread(struct nj_cursor *c)
{
	c->held = true;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The first sequences (names) of the segments in the directory, sorted. -errno on error. */
static int list(const char *dir, uint64_t **out, size_t *n)
{
	size_t cap = 0;
	struct dirent *de;
	DIR *d = opendir(dir);

	*out = NULL;
	*n = 0;
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		size_t l = strlen(de->d_name);
		char *end;
		uint64_t first;

		if (l != 24 || strcmp(de->d_name + 20, ".seg"))
			continue;
		first = strtoull(de->d_name, &end, 10);
		if (end != de->d_name + 20)
			continue;
		if (*n == cap) {
			uint64_t *g = realloc(*out, (cap = cap ? cap * 2 : 32) * sizeof(*g));

			if (!g) {
				closedir(d);
				free(*out);
				*out = NULL;
				return -ENOMEM;
			}
			*out = g;
		}
		(*out)[(*n)++] = first;
	}
	closedir(d);
	qsort(*out, *n, sizeof(**out), cmp_u64);
	return 0;
}

static int open_segment(struct nj_cursor *c, uint64_t first)
{
	char path[4096 + 32];
	int fd;

	snprintf(path, sizeof(path), "%s/%020" PRIu64 ".seg", c->dir, first);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (c->fd >= 0)
		close(c->fd);
	c->fd = fd;
	c->seg_first = first;
	c->damaged = false;
	/* the file header is checked like any frame would be: by what follows it */
	c->pos = 0;
	c->len = 0;
	if (lseek(fd, NJ_FILE_HEADER_LEN, SEEK_SET) < 0)
		return -errno;
	return 0;
}

static void count_lost(struct nj_cursor *c, uint64_t next_first, const char *why)
{
	if (!c->exact || next_first <= c->want)
		return;
	c->lost += next_first - c->want;
	nj_warn("shipping: records %" PRIu64 "..%" PRIu64 " were %s before they were shipped",
		c->want, next_first - 1, why);
}

/* Position on the segment that holds c->want (or the oldest after it). 1: open, 0: the spool
 * has no segment yet, <0: error. */
static int seek_want(struct nj_cursor *c)
{
	uint64_t *segs;
	size_t n, i;
	int e;

	for (;;) {
		e = list(c->dir, &segs, &n);
		if (e < 0)
			return e;
		if (!n)
			return 0;
		if (c->want < segs[0]) {
			count_lost(c, segs[0], "evicted from the spool");
			i = 0;
		} else {
			for (i = n - 1; segs[i] > c->want; i--)
				;
		}
		e = open_segment(c, segs[i]);
		free(segs);
		/* evicted between the listing and the open: look again */
		if (e != -ENOENT)
			return e < 0 ? e : 1;
	}
}

/* At the end of the current segment: go on with the next one. 1: moved, 0: this is the
 * newest (wait for more), <0: error. */
static int next_segment(struct nj_cursor *c)
{
	bool present = false;
	uint64_t *segs;
	size_t n, i;
	int e;

	for (;;) {
		e = list(c->dir, &segs, &n);
		if (e < 0)
			return e;
		for (i = 0; i < n && segs[i] <= c->seg_first; i++)
			present = present || segs[i] == c->seg_first;
		if (i == n) {
			free(segs);
			if (!present) {
				/* ours was evicted and nothing follows: start over when it does */
				close(c->fd);
				c->fd = -1;
			}
			return 0;
		}
		if (c->len > c->pos && !c->damaged)
			nj_warn("shipping: %s/%020" PRIu64 ".seg ends in a partial record", c->dir,
				c->seg_first);
		/* A jump in numbers between two segments both still on disk is a gap (an unclean
		 * stop, docs/spool.md): nothing was lost. If ours is gone, segments between it
		 * and the next present one may have gone with it. */
		if (!present || c->damaged)
			count_lost(c, segs[i], c->damaged ? "damaged" : "evicted from the spool");
		e = open_segment(c, segs[i]);
		free(segs);
		if (e != -ENOENT)
			return e < 0 ? e : 1;
	}
}

int nj_cursor_next(struct nj_cursor *c, uint64_t *seq, const uint8_t **payload, size_t *len)
{
	uint8_t check[NJ_FRAME_HEADER_LEN];
	size_t need, avail;
	ssize_t n;
	uint32_t l;
	int e;

	if (c->held) {
		c->held = false;
		*seq = c->last_seq;
		*payload = c->buf + c->last_off;
		*len = c->last_len;
		return 1;
	}
	for (;;) {
		if (c->fd < 0) {
			e = seek_want(c);
			if (e <= 0) {
				if (e < 0)
					nj_warn("shipping: reading the spool %s: %s", c->dir,
						strerror(-e));
				return e < 0 ? -1 : 0;
			}
		}
		avail = c->len - c->pos;
		need = NJ_FRAME_HEADER_LEN;
		if (!c->damaged && avail >= NJ_FRAME_HEADER_LEN) {
			const uint8_t *h = c->buf + c->pos;

			l = get32(h);
			need += l;
			if (l > NJ_FRAME_MAX) {
				nj_warn("shipping: %s/%020" PRIu64
					".seg: implausible record length "
					"%u; skipping the rest of the segment",
					c->dir, c->seg_first, l);
				c->damaged = true;
				continue;
			}
			if (avail >= need) {
				/* the spool's own framing function recomputes the checksum */
				nj_frame_header(check, get64(h + 8), h + NJ_FRAME_HEADER_LEN, l);
				if (memcmp(check, h, NJ_FRAME_HEADER_LEN)) {
					nj_warn("shipping: %s/%020" PRIu64
						".seg: checksum mismatch; "
						"skipping the rest of the segment",
						c->dir, c->seg_first);
					c->damaged = true;
					continue;
				}
				c->pos += need;
				c->last_seq = get64(h + 8);
				if (c->last_seq < c->want)
					continue; /* before where we were asked to start */
				c->want = c->last_seq + 1;
				c->exact = true;
				c->last_off = (size_t)(h - c->buf) + NJ_FRAME_HEADER_LEN;
				c->last_len = l;
				*seq = c->last_seq;
				*payload = h + NJ_FRAME_HEADER_LEN;
				*len = l;
				return 1;
			}
		}
		if (c->damaged) {
			c->pos = c->len = 0;
			/* skip to the end of the file; what comes next is the next segment */
			if (lseek(c->fd, 0, SEEK_END) < 0)
				return -1;
		} else {
			/* keep the partial frame, read more after it */
			memmove(c->buf, c->buf + c->pos, avail);
			c->pos = 0;
			c->len = avail;
			if (need > c->cap) {
				uint8_t *b = realloc(c->buf, need);

				if (!b)
					return -1;
				c->buf = b;
				c->cap = need;
			}
			n = read(c->fd, c->buf + c->len, c->cap - c->len);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0) {
				nj_warn("shipping: reading %s/%020" PRIu64 ".seg: %s", c->dir,
					c->seg_first, strerror(errno));
				return -1;
			}
			if (n > 0) {
				c->len += (size_t)n;
				continue;
			}
		}
		e = next_segment(c);
		if (e <= 0) {
			if (e < 0)
				nj_warn("shipping: reading the spool %s: %s", c->dir, strerror(-e));
			return e < 0 ? -1 : 0;
		}
	}
}

/* ---- batches ---- */

static int batch_room(struct nj_batch *b, size_t len)
{
	if (b->count == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 256;
		ProtobufCBinaryData *r = realloc(b->recs, cap * sizeof(*r));
		size_t *o;

		if (!r)
			return -1;
		b->recs = r;
		o = realloc(b->offs, cap * sizeof(*o));
		if (!o)
			return -1;
		b->offs = o;
		b->cap = cap;
	}
	if (b->arena_len + len > b->arena_cap) {
		size_t cap = b->arena_cap ? b->arena_cap : 65536;
		uint8_t *a;

		while (cap < b->arena_len + len)
			cap *= 2;
		a = realloc(b->arena, cap);
		if (!a)
			return -1;
		b->arena = a;
		b->arena_cap = cap;
	}
	return 0;
}

int nj_batch_fill(struct nj_batch *b, struct nj_cursor *c, size_t max_records, size_t max_bytes)
{
	const uint8_t *p;
	uint64_t seq;
	size_t len, i;
	int r;

	b->count = 0;
	b->bytes = 0;
	b->arena_len = 0;
	while (b->count < max_records) {
		r = nj_cursor_next(c, &seq, &p, &len);
		if (r < 0 && !b->count)
			return -1;
		if (r <= 0)
			break;
		if (b->count && (seq != b->first_seq + b->count || b->bytes + len > max_bytes)) {
			nj_cursor_unread(c);
			break;
		}
		if (batch_room(b, len)) {
			nj_cursor_unread(c);
			if (!b->count)
				return -1;
			break;
		}
		if (!b->count)
			b->first_seq = seq;
		memcpy(b->arena + b->arena_len, p, len);
		b->offs[b->count] = b->arena_len;
		b->recs[b->count].len = len;
		b->arena_len += len;
		b->bytes += len;
		b->count++;
	}
	/* the arena may have moved while it grew: point at its final place */
	for (i = 0; i < b->count; i++)
		b->recs[i].data = b->arena + b->offs[i];
	return (int)b->count;
}

void nj_batch_free(struct nj_batch *b)
{
	free(b->recs);
	free(b->offs);
	free(b->arena);
	memset(b, 0, sizeof(*b));
}
