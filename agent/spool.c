/* spool.c - segment files of framed records: append, recover, evict, read. */
#include <dirent.h>
#include <stdarg.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "log.h"
#include "spool.h"

#define SEG_SUFFIX ".seg"
#define SEQ_FILE   "next-sequence"
/* the high-water mark is written ahead of use by this much: one fsync per block of records,
 * not per record, and a crash at worst skips the unused rest of a block */
#define SEQ_BLOCK (1u << 20)
/* frames buffered before a write, even within one drain */
#define WBUF_MAX (1u << 20)

struct segment {
	uint64_t first_seq;
	uint64_t bytes;
	time_t mtime;
};

struct nj_spool {
	struct nj_spool_opts o;
	char *dir;
	int dirfd;
	int fd;		      /* current segment, O_APPEND */
	struct segment *segs; /* oldest first; the last is the current one */
	size_t nsegs, cap;
	uint64_t next_seq;
	uint64_t seq_reserved; /* next-sequence on disk: every number issued is below it */
	char boot_id[40];      /* this boot: a dirty mark from another boot means a power cut */
	/* Frames waiting for nj_spool_flush(): one write per ring drain instead of one per
	 * record (measured: the per-record writev was 3/4 of the cost of an append). */
	uint8_t *wbuf;
	size_t wlen, wcap;
	uint64_t wrecords;
	bool dirty;	/* appended since the last sync */
	bool dir_dirty; /* external_seq: a segment was created since the last sync */
	struct nj_spool_stats st;
};

static void le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static void le64(uint8_t *p, uint64_t v)
{
	le32(p, (uint32_t)v);
	le32(p + 4, (uint32_t)(v >> 32));
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

void nj_file_header(uint8_t hdr[NJ_FILE_HEADER_LEN], uint32_t kind)
{
	memcpy(hdr, NJ_FILE_MAGIC, 8);
	le32(hdr + 8, NJ_FILE_VERSION);
	le32(hdr + 12, kind);
}

/* The checksum covers the sequence and the payload, so a frame moved or spliced from
 * elsewhere does not pass. */
static uint32_t frame_crc(const uint8_t seq_le[8], const void *payload, size_t len)
{
	uLong crc = crc32(0L, Z_NULL, 0);

	crc = crc32(crc, seq_le, 8);
	return (uint32_t)crc32(crc, payload, (uInt)len);
}

void nj_frame_header(uint8_t hdr[NJ_FRAME_HEADER_LEN], uint64_t seq, const void *payload,
		     size_t len)
{
	le32(hdr, (uint32_t)len);
	le64(hdr + 8, seq);
	le32(hdr + 4, frame_crc(hdr + 8, payload, len));
}

static int fail(char *err, size_t errlen, int e, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int fail(char *err, size_t errlen, int e, const char *fmt, ...)
{
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	n = strlen(err);
	if (e)
		snprintf(err + n, errlen - n, ": %s", strerror(e));
	return e ? -e : -EINVAL;
}

/* ---- the sequence high-water mark ------------------------------------------------ */

/* next-sequence holds "MARK BOOT_ID clean|dirty". Dirty from this same boot means only the
 * agent died (kill -9): the page cache kept every record it wrote, so numbering goes on from
 * the last one on disk. Dirty from another boot means a power cut or a kernel crash may have
 * lost records whose numbers were already printed or streamed: numbering resumes at MARK. */
struct seqmark {
	uint64_t mark;
	char boot_id[40];
	int clean;
};

static void read_reserved(struct nj_spool *s, struct seqmark *m)
{
	char buf[128] = "", state[8] = "";
	unsigned long long mark = 0;
	ssize_t n;
	int fd = openat(s->dirfd, SEQ_FILE, O_RDONLY | O_CLOEXEC);

	memset(m, 0, sizeof(*m));
	if (fd < 0)
		return;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	if (sscanf(buf, "%llu %39s %7s", &mark, m->boot_id, state) < 1)
		return;
	m->mark = mark;
	m->clean = !strcmp(state, "clean");
}

/* Write-then-rename, both made durable, before any number at or above the old mark is used. */
static int write_reserved(struct nj_spool *s, uint64_t mark, int clean)
{
	char buf[128];
	int fd, n, err = 0;

	n = snprintf(buf, sizeof(buf), "%" PRIu64 " %s %s\n", mark, s->boot_id,
		     clean ? "clean" : "dirty");
	fd = openat(s->dirfd, SEQ_FILE ".tmp", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (write(fd, buf, (size_t)n) != n || fsync(fd) < 0)
		err = errno ? -errno : -EIO;
	close(fd);
	if (!err && renameat(s->dirfd, SEQ_FILE ".tmp", s->dirfd, SEQ_FILE) < 0)
		err = -errno;
	if (!err && fsync(s->dirfd) < 0)
		err = -errno;
	if (!err)
		s->seq_reserved = mark;
	return err;
}

static void read_boot_id(char out[40])
{
	FILE *f = fopen("/proc/sys/kernel/random/boot_id", "re");

	out[0] = '\0';
	if (f) {
		if (fgets(out, 40, f))
			out[strcspn(out, "\n")] = '\0';
		fclose(f);
	}
	if (!out[0])
		snprintf(out, 40, "unknown");
}

/* ---- segments ------------------------------------------------------------------ */

static void seg_name(char out[32], uint64_t first_seq)
{
	snprintf(out, 32, "%020" PRIu64 SEG_SUFFIX, first_seq);
}

static int parse_seg_name(const char *name, uint64_t *first_seq)
{
	size_t n = strlen(name);
	char *end;

	if (n != 20 + strlen(SEG_SUFFIX) || strcmp(name + 20, SEG_SUFFIX))
		return -1;
	*first_seq = strtoull(name, &end, 10);
	return end == name + 20 ? 0 : -1;
}

static int cmp_seg(const void *a, const void *b)
{
	const struct segment *x = a, *y = b;

	return x->first_seq < y->first_seq ? -1 : x->first_seq > y->first_seq;
}

/* Segment files of a directory, oldest first. */
static int list_segments(int dirfd, struct segment **out, size_t *n, size_t *cap)
{
	struct dirent *de;
	struct stat st;
	DIR *d;
	int fd = dup(dirfd);

	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	rewinddir(d);
	*n = 0;
	while ((de = readdir(d))) {
		uint64_t first;

		if (parse_seg_name(de->d_name, &first) ||
		    fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) || !S_ISREG(st.st_mode))
			continue;
		if (*n == *cap) {
			size_t c = *cap ? *cap * 2 : 16;
			struct segment *g = realloc(*out, c * sizeof(*g));

			if (!g) {
				closedir(d);
				return -ENOMEM;
			}
			*out = g;
			*cap = c;
		}
		(*out)[(*n)++] = (struct segment){first, (uint64_t)st.st_size, st.st_mtime};
	}
	closedir(d);
	if (*n > 1)
		qsort(*out, *n, sizeof(**out), cmp_seg);
	return 0;
}

/* Scan a segment's frames: the offset just past the last whole one, and its sequence. */
static int scan_segment(int fd, uint64_t *good_end, uint64_t *last_seq, bool *has_last)
{
	uint8_t hdr[NJ_FRAME_HEADER_LEN], fh[NJ_FILE_HEADER_LEN], *buf = NULL;
	uint64_t off = NJ_FILE_HEADER_LEN;
	size_t cap = 0;

	*has_last = false;
	*good_end = 0;
	if (pread(fd, fh, sizeof(fh), 0) != (ssize_t)sizeof(fh) || memcmp(fh, NJ_FILE_MAGIC, 8))
		return 0; /* not even a header: nothing in it counts */
	*good_end = off;
	for (;;) {
		uint32_t len;

		if (pread(fd, hdr, sizeof(hdr), (off_t)off) != (ssize_t)sizeof(hdr))
			break;
		len = get32(hdr);
		if (len > NJ_FRAME_MAX)
			break;
		if (len > cap) {
			uint8_t *b = realloc(buf, len);

			if (!b) {
				free(buf);
				return -ENOMEM;
			}
			buf = b;
			cap = len;
		}
		if (pread(fd, buf, len, (off_t)(off + sizeof(hdr))) != (ssize_t)len ||
		    frame_crc(hdr + 8, buf, len) != get32(hdr + 4))
			break;
		off += sizeof(hdr) + len;
		*good_end = off;
		*last_seq = get64(hdr + 8);
		*has_last = true;
	}
	free(buf);
	return 0;
}

static int new_segment(struct nj_spool *s)
{
	uint8_t fh[NJ_FILE_HEADER_LEN];
	char name[32];
	int fd;

	seg_name(name, s->next_seq);
	fd = openat(s->dirfd, name, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	nj_file_header(fh, NJ_FILE_SEGMENT);
	if (write(fd, fh, sizeof(fh)) != (ssize_t)sizeof(fh)) {
		int e = errno ? errno : ENOSPC;

		close(fd);
		unlinkat(s->dirfd, name, 0);
		return -e;
	}
	if (s->fd >= 0)
		close(s->fd);
	s->fd = fd;
	if (s->nsegs == s->cap) {
		size_t c = s->cap ? s->cap * 2 : 16;
		struct segment *g = realloc(s->segs, c * sizeof(*g));

		if (!g)
			return -ENOMEM;
		s->segs = g;
		s->cap = c;
	}
	s->segs[s->nsegs++] = (struct segment){s->next_seq, sizeof(fh), time(NULL)};
	s->st.bytes += sizeof(fh);
	s->dir_dirty = true;
	s->dirty = true;
	return 0;
}

/* Records in segment i: numbers run on without gaps inside the spool, except where a crash
 * skipped the rest of a reserved block, so the next segment's name bounds this one. */
static uint64_t seg_records(const struct nj_spool *s, size_t i)
{
	uint64_t end = i + 1 < s->nsegs ? s->segs[i + 1].first_seq : s->next_seq;

	return end - s->segs[i].first_seq;
}

/* Returns false when the segment cannot be removed: the bound is then exceeded (and said so)
 * rather than looped on. */
static bool evict_oldest(struct nj_spool *s, const char *why)
{
	char name[32];
	uint64_t n = seg_records(s, 0);

	seg_name(name, s->segs[0].first_seq);
	if (unlinkat(s->dirfd, name, 0) < 0 && errno != ENOENT) {
		nj_warn("spool: cannot evict %s/%s: %s; the %s bound is exceeded", s->dir, name,
			strerror(errno), why);
		return false;
	}
	s->st.evicted_records += n;
	s->st.evicted_segments++;
	s->st.bytes -= s->segs[0].bytes;
	memmove(s->segs, s->segs + 1, (s->nsegs - 1) * sizeof(*s->segs));
	s->nsegs--;
	nj_info("spool: evicted %s (%" PRIu64 " records, %s bound)", name, n, why);
	return true;
}

/* Keep closed segments plus one full segment within max_bytes. */
static void evict_for_size(struct nj_spool *s, uint64_t room)
{
	while (s->nsegs > 1 && s->st.bytes + room > s->o.max_bytes)
		if (!evict_oldest(s, "size"))
			break;
}

void nj_spool_maintain(struct nj_spool *s)
{
	time_t limit = time(NULL) - (time_t)(s->o.max_age_ms / 1000);

	/* never the current segment: it is being written now */
	while (s->nsegs > 1 && s->segs[0].mtime < limit)
		if (!evict_oldest(s, "age"))
			break;
}

int nj_spool_open(struct nj_spool **out, const struct nj_spool_opts *o, char *err, size_t errlen)
{
	struct nj_spool *s = calloc(1, sizeof(*s));
	uint64_t good_end = 0, last_seq = 0;
	struct seqmark mark;
	bool has_last = false;
	char name[32];
	int e;

	if (!s)
		return fail(err, errlen, ENOMEM, "spool");
	s->o = *o;
	s->fd = -1;
	s->dir = strdup(o->dir);
	if (!s->dir) {
		e = fail(err, errlen, ENOMEM, "spool");
		goto err_free;
	}
	if (mkdir(o->dir, 0700) < 0 && errno != EEXIST) {
		e = fail(err, errlen, errno, "spool: cannot create %s", o->dir);
		goto err_free;
	}
	s->dirfd = open(o->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->dirfd < 0) {
		e = fail(err, errlen, errno, "spool: cannot open %s", o->dir);
		goto err_free;
	}
	e = list_segments(s->dirfd, &s->segs, &s->nsegs, &s->cap);
	if (e) {
		fail(err, errlen, -e, "spool: cannot list %s", o->dir);
		goto err_close;
	}
	for (size_t i = 0; i < s->nsegs; i++)
		s->st.bytes += s->segs[i].bytes;

	/* recover the newest segment: whole frames stay, a torn tail goes */
	while (s->nsegs) {
		struct segment *last = &s->segs[s->nsegs - 1];
		int fd;

		seg_name(name, last->first_seq);
		fd = openat(s->dirfd, name, O_RDWR | O_APPEND | O_CLOEXEC);
		if (fd < 0) {
			e = fail(err, errlen, errno, "spool: cannot open %s/%s", o->dir, name);
			goto err_close;
		}
		e = scan_segment(fd, &good_end, &last_seq, &has_last);
		if (!e && good_end < last->bytes) {
			nj_warn("spool: %s/%s: cut a torn tail of %" PRIu64
				" bytes at offset %" PRIu64 " (the %s stopped mid-write)",
				o->dir, name, last->bytes - good_end, good_end,
				o->external_seq ? "collector" : "agent");
			if (ftruncate(fd, (off_t)good_end) < 0)
				e = -errno;
			s->st.truncated_bytes += last->bytes - good_end;
			s->st.bytes -= last->bytes - good_end;
			last->bytes = good_end;
		}
		if (e) {
			close(fd);
			fail(err, errlen, -e, "spool: recovering %s/%s", o->dir, name);
			goto err_close;
		}
		/* Created but never given a header: nothing to keep, and the last record is in
		 * the segment before (synced before this one was created), so look there. With
		 * external numbers a segment without a record says nothing either. A header
		 * alone is kept: the segment's name is the next number. */
		if (good_end < NJ_FILE_HEADER_LEN || (o->external_seq && !has_last)) {
			close(fd);
			s->st.bytes -= last->bytes;
			unlinkat(s->dirfd, name, 0);
			s->nsegs--;
			continue;
		}
		s->fd = fd;
		break;
	}
	if (o->external_seq) {
		s->next_seq = has_last ? last_seq + 1 : 1;
		/* the first append opens a segment named for its own number */
		*out = s;
		return 0;
	}
	read_boot_id(s->boot_id);
	read_reserved(s, &mark);
	s->next_seq = has_last ? last_seq + 1 : s->nsegs ? s->segs[s->nsegs - 1].first_seq : 1;
	/* The mark wins when there is nothing on disk to go on from; after a clean stop (it is
	 * exact then, and covers numbers of records a full disk refused at the end); and after a
	 * power cut, when numbers up to it may have gone out with records the disk lost. A newest
	 * segment with no record yet (killed just after a rotation) is something to go on from:
	 * it is named for the number its first record would have had. */
	if (mark.mark > s->next_seq &&
	    (!(has_last || s->nsegs) || mark.clean || strcmp(mark.boot_id, s->boot_id))) {
		if (has_last && !mark.clean)
			nj_warn("spool: the last run ended without a clean stop on an earlier "
				"boot; "
				"numbering resumes at %" PRIu64 " (records %" PRIu64 "..%" PRIu64
				" may have been lost with the page cache)",
				mark.mark, s->next_seq, mark.mark - 1);
		s->next_seq = mark.mark;
	}
	e = write_reserved(s, s->next_seq + SEQ_BLOCK, 0);
	if (e) {
		fail(err, errlen, -e, "spool: cannot write %s/%s", o->dir, SEQ_FILE);
		goto err_close;
	}
	if (s->fd < 0 || s->segs[s->nsegs - 1].bytes >= o->segment_bytes) {
		evict_for_size(s, o->segment_bytes);
		e = new_segment(s);
		if (e) {
			fail(err, errlen, -e, "spool: cannot create a segment in %s", o->dir);
			goto err_close;
		}
	}
	nj_spool_maintain(s);
	*out = s;
	return 0;

err_close:
	if (s->fd >= 0)
		close(s->fd);
	close(s->dirfd);
err_free:
	free(s->segs);
	free(s->dir);
	free(s);
	return e;
}

void nj_spool_close(struct nj_spool *s)
{
	if (!s)
		return;
	/* everything is on disk: the next start goes on from exactly here */
	if (nj_spool_sync(s) == 0 && !s->o.external_seq)
		write_reserved(s, s->next_seq, 1);
	if (s->fd >= 0)
		close(s->fd);
	free(s->wbuf);
	close(s->dirfd);
	free(s->segs);
	free(s->dir);
	free(s);
}

uint64_t nj_spool_next_seq(const struct nj_spool *s)
{
	return s->next_seq;
}

/* Write the buffered frames with one write(). On failure (a full disk) the partial write is
 * taken back, so the segment never holds a torn frame, and the records are counted lost. */
int nj_spool_flush(struct nj_spool *s)
{
	struct segment *cur;
	ssize_t n;
	int e;

	if (!s->wlen)
		return 0;
	cur = &s->segs[s->nsegs - 1];
	n = write(s->fd, s->wbuf, s->wlen);
	if (n != (ssize_t)s->wlen) {
		e = n < 0 ? errno : ENOSPC;
		if (n > 0 && ftruncate(s->fd, (off_t)cur->bytes) < 0)
			nj_warn("spool: cannot remove a partial write: %s", strerror(errno));
		s->st.write_errors += s->wrecords;
		s->wlen = 0;
		s->wrecords = 0;
		return -e;
	}
	cur->bytes += (uint64_t)n;
	cur->mtime = time(NULL);
	s->st.bytes += (uint64_t)n;
	s->st.records += s->wrecords;
	s->wlen = 0;
	s->wrecords = 0;
	s->dirty = true;
	return 0;
}

void nj_spool_pending(const struct nj_spool *s, const uint8_t **frames, size_t *len)
{
	*frames = s->wbuf;
	*len = s->wlen;
}

int nj_spool_append(struct nj_spool *s, const void *payload, size_t len)
{
	size_t need = NJ_FRAME_HEADER_LEN + len;
	uint64_t seq = s->next_seq;
	struct segment *cur;
	int e;

	if (!s->o.external_seq && seq + 1 >= s->seq_reserved) {
		e = write_reserved(s, seq + SEQ_BLOCK, 0);
		if (e) {
			/* issuing numbers past the mark could repeat them after a crash */
			s->st.write_errors++;
			return e;
		}
	}
	s->next_seq++;
	cur = s->nsegs ? &s->segs[s->nsegs - 1] : NULL;
	if (!cur || s->fd < 0 || cur->bytes + s->wlen >= s->o.segment_bytes) {
		/* what is buffered belongs to the segment it was numbered for */
		nj_spool_flush(s);
		if (s->fd >= 0 && s->dirty)
			nj_spool_sync(s);
		evict_for_size(s, s->o.segment_bytes);
		/* the new segment is named for this record's number */
		s->next_seq = seq;
		e = new_segment(s);
		s->next_seq = seq + 1;
		if (e) {
			s->st.write_errors++;
			return e;
		}
	}
	if (s->wlen + need > WBUF_MAX && s->wlen)
		nj_spool_flush(s);
	if (s->wlen + need > s->wcap) {
		size_t cap = s->wcap ? s->wcap : 65536;
		uint8_t *b;

		while (cap < s->wlen + need)
			cap *= 2;
		b = realloc(s->wbuf, cap);
		if (!b) {
			s->st.write_errors++;
			return -ENOMEM;
		}
		s->wbuf = b;
		s->wcap = cap;
	}
	nj_frame_header(s->wbuf + s->wlen, seq, payload, len);
	memcpy(s->wbuf + s->wlen + NJ_FRAME_HEADER_LEN, payload, len);
	s->wlen += need;
	s->wrecords++;
	return 0;
}

int nj_spool_append_at(struct nj_spool *s, uint64_t seq, const void *payload, size_t len)
{
	if (!s->o.external_seq || seq < s->next_seq)
		return -EINVAL;
	s->next_seq = seq;
	return nj_spool_append(s, payload, len);
}

int nj_spool_sync(struct nj_spool *s)
{
	int e = nj_spool_flush(s);

	if (e)
		return e;
	if (!s->dirty || s->fd < 0)
		return 0;
	s->dirty = false;
	if (fdatasync(s->fd) < 0)
		return -errno;
	/* a new segment's name must survive too, or its records vanish with the entry */
	if (s->dir_dirty) {
		s->dir_dirty = false;
		if (fsync(s->dirfd) < 0)
			return -errno;
	}
	return 0;
}

int nj_spool_sync_handles(struct nj_spool *s, int *fd, int *dirfd)
{
	int e = nj_spool_flush(s);

	if (e)
		return e;
	if (!s->dirty || s->fd < 0)
		return 0;
	*fd = fcntl(s->fd, F_DUPFD_CLOEXEC, 0);
	*dirfd = s->dir_dirty ? fcntl(s->dirfd, F_DUPFD_CLOEXEC, 0) : -1;
	if (*fd < 0 || (s->dir_dirty && *dirfd < 0)) {
		e = -errno;
		if (*fd >= 0)
			close(*fd);
		return e;
	}
	s->dirty = false;
	s->dir_dirty = false;
	return 1;
}

void nj_spool_stats(const struct nj_spool *s, struct nj_spool_stats *st)
{
	*st = s->st;
	st->segments = s->nsegs;
	st->oldest_seq = s->nsegs ? s->segs[0].first_seq : s->next_seq;
	st->next_seq = s->next_seq;
}

/* ---- reader ------------------------------------------------------------------- */

struct nj_reader {
	char **files;
	size_t nfiles, cur;
	FILE *f;
	uint64_t off;
	uint8_t *buf;
	size_t cap;
};

static int add_file(struct nj_reader *r, const char *path)
{
	char **f = realloc(r->files, (r->nfiles + 1) * sizeof(*f));

	if (!f)
		return -1;
	r->files = f;
	r->files[r->nfiles] = strdup(path);
	return r->files[r->nfiles] ? (int)(r->nfiles++, 0) : -1;
}

struct nj_reader *nj_reader_open(const char *path, char *err, size_t errlen)
{
	struct nj_reader *r = calloc(1, sizeof(*r));
	struct segment *segs = NULL;
	size_t n = 0, cap = 0, i;
	char file[4096 + 64];
	struct stat st;
	int dirfd, e;

	if (!r) {
		fail(err, errlen, ENOMEM, "%s", path);
		return NULL;
	}
	if (stat(path, &st) < 0) {
		fail(err, errlen, errno, "%s", path);
		goto err;
	}
	if (!S_ISDIR(st.st_mode)) {
		if (add_file(r, path))
			goto err_oom;
		return r;
	}
	dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		fail(err, errlen, errno, "%s", path);
		goto err;
	}
	e = list_segments(dirfd, &segs, &n, &cap);
	close(dirfd);
	if (e) {
		fail(err, errlen, -e, "%s", path);
		goto err;
	}
	for (i = 0; i < n; i++) {
		char name[32];

		seg_name(name, segs[i].first_seq);
		snprintf(file, sizeof(file), "%s/%s", path, name);
		if (add_file(r, file)) {
			free(segs);
			goto err_oom;
		}
	}
	free(segs);
	return r;
err_oom:
	fail(err, errlen, ENOMEM, "%s", path);
err:
	nj_reader_close(r);
	return NULL;
}

static int open_next_file(struct nj_reader *r, char *err, size_t errlen)
{
	uint8_t fh[NJ_FILE_HEADER_LEN];
	const char *path = r->files[r->cur];

	r->f = fopen(path, "re");
	if (!r->f)
		return fail(err, errlen, errno, "%s", path);
	r->off = NJ_FILE_HEADER_LEN;
	if (fread(fh, 1, sizeof(fh), r->f) != sizeof(fh) || memcmp(fh, NJ_FILE_MAGIC, 8))
		return fail(err, errlen, 0, "%s: offset 0: not a Nightjar spool segment or capture",
			    path);
	if (get32(fh + 8) != NJ_FILE_VERSION)
		return fail(err, errlen, 0, "%s: offset 8: format version %u, this reader knows %u",
			    path, get32(fh + 8), NJ_FILE_VERSION);
	return 0;
}

int nj_reader_next(struct nj_reader *r, uint64_t *seq, const uint8_t **payload, size_t *len,
		   char *err, size_t errlen)
{
	uint8_t hdr[NJ_FRAME_HEADER_LEN];
	size_t got;
	uint32_t l;

	for (;;) {
		if (!r->f) {
			if (r->cur >= r->nfiles)
				return 0;
			if (open_next_file(r, err, errlen) < 0)
				goto damaged;
		}
		got = fread(hdr, 1, sizeof(hdr), r->f);
		if (got == 0 && feof(r->f)) {
			fclose(r->f);
			r->f = NULL;
			r->cur++;
			continue;
		}
		if (got != sizeof(hdr)) {
			fail(err, errlen, 0, "%s: offset %" PRIu64 ": truncated record header",
			     r->files[r->cur], r->off);
			goto damaged;
		}
		l = get32(hdr);
		if (l > NJ_FRAME_MAX) {
			fail(err, errlen, 0,
			     "%s: offset %" PRIu64 ": record length %u is not plausible",
			     r->files[r->cur], r->off, l);
			goto damaged;
		}
		if (l > r->cap) {
			uint8_t *b = realloc(r->buf, l);

			if (!b)
				return fail(err, errlen, ENOMEM, "%s", r->files[r->cur]);
			r->buf = b;
			r->cap = l;
		}
		if (fread(r->buf, 1, l, r->f) != l) {
			fail(err, errlen, 0,
			     "%s: offset %" PRIu64 ": truncated record (%u bytes announced)",
			     r->files[r->cur], r->off, l);
			goto damaged;
		}
		if (frame_crc(hdr + 8, r->buf, l) != get32(hdr + 4)) {
			fail(err, errlen, 0, "%s: offset %" PRIu64 ": checksum mismatch",
			     r->files[r->cur], r->off);
			goto damaged;
		}
		r->off += sizeof(hdr) + l;
		*seq = get64(hdr + 8);
		*payload = r->buf;
		*len = l;
		return 1;
	}
damaged:
	/* nothing after damage in this file can be trusted to be framed: go on with the next */
	if (r->f)
		fclose(r->f);
	r->f = NULL;
	r->cur++;
	return -1;
}

void nj_reader_close(struct nj_reader *r)
{
	size_t i;

	if (!r)
		return;
	if (r->f)
		fclose(r->f);
	for (i = 0; i < r->nfiles; i++)
		free(r->files[i]);
	free(r->files);
	free(r->buf);
	free(r);
}

/* ---- stream decoder -------------------------------------------------------------- */

int nj_stream_feed(struct nj_stream *st, const void *data, size_t n)
{
	/* move what is left to the front before growing */
	if (st->off) {
		memmove(st->buf, st->buf + st->off, st->len - st->off);
		st->len -= st->off;
		st->off = 0;
	}
	if (st->len + n > st->cap) {
		size_t cap = st->cap ? st->cap : 65536;
		uint8_t *b;

		while (cap < st->len + n)
			cap *= 2;
		b = realloc(st->buf, cap);
		if (!b)
			return -1;
		st->buf = b;
		st->cap = cap;
	}
	memcpy(st->buf + st->len, data, n);
	st->len += n;
	return 0;
}

int nj_stream_next(struct nj_stream *st, uint64_t *seq, const uint8_t **payload, size_t *len,
		   char *err, size_t errlen)
{
	const uint8_t *p = st->buf + st->off;
	size_t avail = st->len - st->off;
	uint32_t l;

	if (!st->header_done) {
		if (avail < NJ_FILE_HEADER_LEN)
			return 0;
		if (memcmp(p, NJ_FILE_MAGIC, 8) || get32(p + 8) != NJ_FILE_VERSION)
			return fail(err, errlen, 0, "stream offset 0: not a Nightjar stream");
		st->header_done = 1;
		st->off += NJ_FILE_HEADER_LEN;
		st->consumed += NJ_FILE_HEADER_LEN;
		p += NJ_FILE_HEADER_LEN;
		avail -= NJ_FILE_HEADER_LEN;
	}
	if (avail < NJ_FRAME_HEADER_LEN)
		return 0;
	l = get32(p);
	if (l > NJ_FRAME_MAX)
		return fail(err, errlen, 0,
			    "stream offset %" PRIu64 ": record length %u is not plausible",
			    st->consumed, l);
	if (avail < NJ_FRAME_HEADER_LEN + (size_t)l)
		return 0;
	if (frame_crc(p + 8, p + NJ_FRAME_HEADER_LEN, l) != get32(p + 4))
		return fail(err, errlen, 0, "stream offset %" PRIu64 ": checksum mismatch",
			    st->consumed);
	*seq = get64(p + 8);
	*payload = p + NJ_FRAME_HEADER_LEN;
	*len = l;
	st->off += NJ_FRAME_HEADER_LEN + l;
	st->consumed += NJ_FRAME_HEADER_LEN + l;
	return 1;
}

void nj_stream_free(struct nj_stream *st)
{
	free(st->buf);
	memset(st, 0, sizeof(*st));
}
