/* sink_file.c - the embedded default sink: per-host segment files in the agent spool's own
 * framing (agent/spool.c with external_seq), so `nightjarctl read <data_dir>/hosts/<id>` reads
 * them, and alerts as JSON lines in <data_dir>/alerts.jsonl, rotated by size.
 *
 *   <data_dir>/hosts/<host id>/<first sequence>.seg   records under the agent's sequences
 *   <data_dir>/alerts.jsonl, alerts.jsonl.1 ...        every alert record, as the agent's JSON
 *
 * Durable means written and fdatasync'ed (and a new file's directory entry fsync'ed) before
 * the Ack. A commit writes the round's buffers, then SYNC_THREADS threads fdatasync each
 * touched file once, concurrently, while the event loop goes on reading the next round: the
 * disk flush is the slow part (1-2 ms each here), ext4 folds concurrent fdatasyncs into one
 * journal commit, and the loop's CPU work overlaps the wait. The threads touch nothing but
 * dup()ed file descriptors and the job below, under its mutex. */
#include <dirent.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "collector.h"
#include "json.h"
#include "log.h"
#include "pbjson.h"
#include "spool.h"

/* concurrent fdatasyncs: enough to keep the disk's queue busy, few enough to stay cheap */
#define SYNC_THREADS 16

/* One file of a commit to make durable. */
struct sync_item {
	struct njc_host *h; /* NULL: alerts.jsonl */
	int fd, dirfd;	    /* dup()s: fdatasync fd, then fsync dirfd if >= 0 */
	int err;	    /* errno, set by the thread */
};

struct file_sink {
	struct njc_sink base;
	const struct njc_config *cfg;
	int datafd, hostsfd;
	char hosts_dir[4096];
	/* alerts.jsonl: lines buffered during a round, written and synced at its commit */
	int alerts_fd;
	uint64_t alerts_bytes;
	char *abuf;
	size_t alen, acap;
	struct nj_json j;
	struct nj_arena arena;
	bool alerts_written; /* since the last commit */
	/* the commit in flight: items, taken by the sync threads one by one */
	pthread_t th[SYNC_THREADS];
	int nthreads;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct sync_item *items;
	size_t nitems, capitems, next, ndone; /* under mu while a job runs */
	bool job, stop;
	struct njc_pending *job_batches;
	/* counters for the status */
	uint64_t records, alerts, fdatasyncs, commits, errors, alert_errors;
};

static struct file_sink *fs_of(struct njc_sink *s)
{
	return (struct file_sink *)s;
}

static void close_host(struct njc_host *h)
{
	nj_spool_close(h->sink_priv);
	h->sink_priv = NULL;
	h->opened = false;
}

static int file_host_open(struct njc_sink *s, struct njc_host *h, char *err, size_t errlen)
{
	struct file_sink *f = fs_of(s);
	struct nj_spool_opts o = {
		.max_bytes = UINT64_MAX,
		.segment_bytes = f->cfg->segment_bytes,
		.max_age_ms = UINT64_MAX / 2,
		.external_seq = 1,
	};
	char dir[sizeof(f->hosts_dir) + NJC_HOST_ID_MAX + 2];
	struct nj_spool *sp;
	int e;

	snprintf(dir, sizeof(dir), "%s/%s", f->hosts_dir, h->id);
	if (mkdirat(f->hostsfd, h->id, 0700) == 0) {
		/* the new host's directory entry must outlive a power cut with its records */
		if (fsync(f->hostsfd) < 0) {
			snprintf(err, errlen, "fsync %s: %s", f->hosts_dir, strerror(errno));
			return -errno;
		}
	} else if (errno != EEXIST) {
		snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
		return -errno;
	}
	o.dir = dir;
	e = nj_spool_open(&sp, &o, err, errlen);
	if (e)
		return e;
	h->sink_priv = sp;
	h->durable = nj_spool_next_seq(sp) - 1;
	h->accepted = h->durable;
	h->opened = true;
	return 0;
}

static void add_alert(struct file_sink *f, const uint8_t *rec, size_t len)
{
	Nightjar__Record *r = nj_record_unpack_arena(&f->arena, rec, len);

	if (!r) {
		/* kept in the host's segments all the same; only the alerts view lacks it */
		f->alert_errors++;
		return;
	}
	nj_json_reset(&f->j);
	nj_pbjson_message(&f->j, NULL, &r->base);
	if (f->j.oom || f->alen + f->j.len + 1 > f->acap) {
		size_t cap = f->acap ? f->acap : 65536;
		char *b;

		while (cap < f->alen + f->j.len + 1)
			cap *= 2;
		b = f->j.oom ? NULL : realloc(f->abuf, cap);
		if (!b) {
			f->alert_errors++;
			return;
		}
		f->abuf = b;
		f->acap = cap;
	}
	memcpy(f->abuf + f->alen, f->j.buf, f->j.len);
	f->alen += f->j.len;
	f->abuf[f->alen++] = '\n';
	f->alerts++;
}

static int file_store(struct njc_sink *s, struct njc_host *h, struct njc_pending *p,
		      uint64_t first_seq, const ProtobufCBinaryData *recs, size_t n, char *err,
		      size_t errlen)
{
	struct file_sink *f = fs_of(s);
	size_t i;
	int e;

	(void)p;
	for (i = 0; i < n; i++) {
		e = nj_spool_append_at(h->sink_priv, first_seq + i, recs[i].data, recs[i].len);
		if (e) {
			snprintf(err, errlen, "writing %s/%s: %s", f->hosts_dir, h->id,
				 strerror(-e));
			f->errors++;
			/* what was numbered and not written: start again from the files */
			close_host(h);
			return e;
		}
		if (njc_record_is_alert(recs[i].data, recs[i].len))
			add_alert(f, recs[i].data, recs[i].len);
	}
	f->records += n;
	return 0;
}

static int open_alerts(struct file_sink *f)
{
	struct stat st;

	f->alerts_fd =
		openat(f->datafd, "alerts.jsonl", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (f->alerts_fd < 0)
		return -errno;
	f->alerts_bytes = fstat(f->alerts_fd, &st) == 0 ? (uint64_t)st.st_size : 0;
	return 0;
}

/* alerts.jsonl -> .1 -> .2 ... ; the oldest beyond alerts_keep goes */
static void rotate_alerts(struct file_sink *f)
{
	char from[64], to[64];
	uint64_t i;

	close(f->alerts_fd);
	f->alerts_fd = -1;
	snprintf(to, sizeof(to), "alerts.jsonl.%" PRIu64, f->cfg->alerts_keep);
	unlinkat(f->datafd, to, 0);
	for (i = f->cfg->alerts_keep; i > 1; i--) {
		snprintf(from, sizeof(from), "alerts.jsonl.%" PRIu64, i - 1);
		snprintf(to, sizeof(to), "alerts.jsonl.%" PRIu64, i);
		renameat(f->datafd, from, f->datafd, to);
	}
	if (renameat(f->datafd, "alerts.jsonl", f->datafd, "alerts.jsonl.1") < 0)
		nj_warn("file sink: cannot rotate alerts.jsonl: %s", strerror(errno));
	if (open_alerts(f) < 0)
		nj_err("file sink: cannot open alerts.jsonl: %s", strerror(errno));
	fsync(f->datafd);
}

/* Write the round's alert lines; made durable by the caller's sync. */
static void write_alerts(struct file_sink *f)
{
	ssize_t n;

	if (!f->alen)
		return;
	if (f->alerts_fd < 0 && open_alerts(f) < 0) {
		nj_err("file sink: cannot open alerts.jsonl: %s", strerror(errno));
		f->alert_errors++;
		f->alen = 0;
		return;
	}
	n = write(f->alerts_fd, f->abuf, f->alen);
	if (n != (ssize_t)f->alen) {
		/* every alert is also in its host's segments, which are what the Ack promised */
		nj_err("file sink: writing alerts.jsonl: %s",
		       n < 0 ? strerror(errno) : "short write");
		f->alert_errors++;
	} else {
		f->alerts_bytes += (uint64_t)n;
		f->alerts_written = true;
	}
	f->alen = 0;
}

static void fail_host(struct file_sink *f, struct njc_host *h, struct njc_pending *batches,
		      const char *what, int e)
{
	char msg[4400];

	snprintf(msg, sizeof(msg), "storage failed: %s %s/%s: %s", what, f->hosts_dir, h->id,
		 strerror(e));
	nj_err("file sink: %s", msg);
	f->errors++;
	for (struct njc_pending *p = batches; p; p = p->next_in_group)
		if (p->host == h && !p->error)
			p->error = strdup(msg);
	/* the files say what really is stored: start again from them */
	close_host(h);
}

static void *sync_thread(void *arg)
{
	struct file_sink *f = arg;
	struct sync_item *it;
	uint64_t one = 1;

	pthread_mutex_lock(&f->mu);
	for (;;) {
		while (!f->stop && (!f->job || f->next >= f->nitems))
			pthread_cond_wait(&f->cv, &f->mu);
		if (f->stop)
			break;
		it = &f->items[f->next++];
		pthread_mutex_unlock(&f->mu);
		it->err = 0;
		if (fdatasync(it->fd) < 0 || (it->dirfd >= 0 && fsync(it->dirfd) < 0))
			it->err = errno ? errno : EIO;
		pthread_mutex_lock(&f->mu);
		if (++f->ndone == f->nitems && write(f->base.done_fd, &one, sizeof(one)) < 0)
			nj_err("file sink: eventfd: %s", strerror(errno));
	}
	pthread_mutex_unlock(&f->mu);
	return NULL;
}

static int add_item(struct file_sink *f, struct njc_host *h, int fd, int dirfd)
{
	if (f->nitems == f->capitems) {
		size_t cap = f->capitems ? f->capitems * 2 : 64;
		struct sync_item *it = realloc(f->items, cap * sizeof(*it));

		if (!it)
			return -ENOMEM;
		f->items = it;
		f->capitems = cap;
	}
	f->items[f->nitems++] = (struct sync_item){.h = h, .fd = fd, .dirfd = dirfd};
	return 0;
}

static int file_commit(struct njc_sink *s, struct njc_host *hosts, struct njc_pending *batches)
{
	struct file_sink *f = fs_of(s);
	struct njc_host *h;
	int e, fd, dirfd;

	f->commits++;
	f->nitems = f->next = f->ndone = 0;
	for (h = hosts; h; h = h->next_in_group) {
		if (!h->opened)
			continue;
		e = nj_spool_sync_handles(h->sink_priv, &fd, &dirfd);
		if (e == 1 && add_item(f, h, fd, dirfd) < 0) {
			close(fd);
			if (dirfd >= 0)
				close(dirfd);
			e = -ENOMEM;
		}
		if (e < 0)
			fail_host(f, h, batches, "writing", -e);
	}
	write_alerts(f);
	if (f->alerts_written && f->alerts_fd >= 0) {
		fd = fcntl(f->alerts_fd, F_DUPFD_CLOEXEC, 0);
		if (fd >= 0 && add_item(f, NULL, fd, -1) < 0)
			close(fd);
		f->alerts_written = false;
	}
	if (f->alerts_fd >= 0 && f->alerts_bytes >= f->cfg->alerts_max_bytes)
		rotate_alerts(f);
	if (!f->nitems)
		return 0;
	f->fdatasyncs += f->nitems;
	pthread_mutex_lock(&f->mu);
	f->job = true;
	f->job_batches = batches;
	pthread_cond_broadcast(&f->cv);
	pthread_mutex_unlock(&f->mu);
	return 1;
}

static void file_finish(struct njc_sink *s)
{
	struct file_sink *f = fs_of(s);
	uint64_t n;
	size_t i;

	if (read(s->done_fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		nj_err("file sink: eventfd: %s", strerror(errno));
	pthread_mutex_lock(&f->mu);
	f->job = false;
	pthread_mutex_unlock(&f->mu);
	for (i = 0; i < f->nitems; i++) {
		struct sync_item *it = &f->items[i];

		close(it->fd);
		if (it->dirfd >= 0)
			close(it->dirfd);
		if (!it->err)
			continue;
		if (it->h && it->h->opened)
			fail_host(f, it->h, f->job_batches, "syncing", it->err);
		else if (!it->h)
			nj_err("file sink: syncing alerts.jsonl: %s", strerror(it->err));
	}
	f->nitems = f->next = f->ndone = 0;
	f->job_batches = NULL;
}

static void file_status(struct njc_sink *s, FILE *out, struct nj_json *j)
{
	struct file_sink *f = fs_of(s);

	if (j) {
		nj_json_obj_begin(j, "sink");
		nj_json_str(j, "type", "file");
		nj_json_str(j, "data_dir", f->cfg->data_dir);
		nj_json_u64(j, "records", f->records);
		nj_json_u64(j, "alerts", f->alerts);
		nj_json_u64(j, "commits", f->commits);
		nj_json_u64(j, "fdatasyncs", f->fdatasyncs);
		nj_json_u64(j, "errors", f->errors);
		nj_json_u64(j, "alert_errors", f->alert_errors);
		nj_json_obj_end(j);
		return;
	}
	fprintf(out,
		"sink: file %s: %" PRIu64 " records, %" PRIu64 " alerts stored; %" PRIu64
		" commits, %" PRIu64 " fdatasyncs; %" PRIu64 " storage errors, %" PRIu64
		" alerts not decodable\n",
		f->cfg->data_dir, f->records, f->alerts, f->commits, f->fdatasyncs, f->errors,
		f->alert_errors);
}

static void close_one(struct njc_host *h, void *arg)
{
	(void)arg;
	if (h->opened)
		close_host(h);
}

static void stop_threads(struct file_sink *f)
{
	int i;

	pthread_mutex_lock(&f->mu);
	f->stop = true;
	pthread_cond_broadcast(&f->cv);
	pthread_mutex_unlock(&f->mu);
	for (i = 0; i < f->nthreads; i++)
		pthread_join(f->th[i], NULL);
	f->nthreads = 0;
}

static void file_close(struct njc_sink *s)
{
	struct file_sink *f = fs_of(s);

	/* the server finished its last commit before closing the sink */
	stop_threads(f);
	free(f->items);
	close(s->done_fd);
	pthread_cond_destroy(&f->cv);
	pthread_mutex_destroy(&f->mu);

	njc_host_foreach(close_one, NULL);
	if (f->alerts_fd >= 0)
		close(f->alerts_fd);
	close(f->hostsfd);
	close(f->datafd);
	nj_json_free(&f->j);
	nj_arena_free(&f->arena);
	free(f->abuf);
	free(f);
}

static const struct njc_sink_ops file_ops = {
	.name = "file",
	.host_open = file_host_open,
	.store = file_store,
	.commit = file_commit,
	.finish = file_finish,
	.status = file_status,
	.close = file_close,
};

struct njc_sink *njc_sink_file_open(const struct njc_config *cfg, char *err, size_t errlen)
{
	struct file_sink *f = calloc(1, sizeof(*f));

	if (!f) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	f->base.ops = &file_ops;
	f->cfg = cfg;
	f->alerts_fd = -1;
	snprintf(f->hosts_dir, sizeof(f->hosts_dir), "%s/hosts", cfg->data_dir);
	if (mkdir(cfg->data_dir, 0700) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "cannot create %s: %s", cfg->data_dir, strerror(errno));
		goto err_free;
	}
	f->datafd = open(cfg->data_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (f->datafd < 0) {
		snprintf(err, errlen, "cannot open %s: %s", cfg->data_dir, strerror(errno));
		goto err_free;
	}
	if (mkdirat(f->datafd, "hosts", 0700) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "cannot create %s: %s", f->hosts_dir, strerror(errno));
		goto err_close_data;
	}
	f->hostsfd = openat(f->datafd, "hosts", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (f->hostsfd < 0) {
		snprintf(err, errlen, "cannot open %s: %s", f->hosts_dir, strerror(errno));
		goto err_close_data;
	}
	if (open_alerts(f) < 0) {
		snprintf(err, errlen, "cannot open %s/alerts.jsonl: %s", cfg->data_dir,
			 strerror(errno));
		goto err_close_hosts;
	}
	nj_json_init(&f->j);
	nj_arena_init(&f->arena, 1 << 16);
	pthread_mutex_init(&f->mu, NULL);
	pthread_cond_init(&f->cv, NULL);
	f->base.done_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (f->base.done_fd < 0) {
		snprintf(err, errlen, "eventfd: %s", strerror(errno));
		goto err_threads;
	}
	for (; f->nthreads < SYNC_THREADS; f->nthreads++)
		if (pthread_create(&f->th[f->nthreads], NULL, sync_thread, f)) {
			snprintf(err, errlen, "cannot start the sync threads");
			goto err_threads;
		}
	return &f->base;

err_threads:
	stop_threads(f);
	if (f->base.done_fd >= 0)
		close(f->base.done_fd);
	pthread_cond_destroy(&f->cv);
	pthread_mutex_destroy(&f->mu);
	nj_json_free(&f->j);
	nj_arena_free(&f->arena);
	close(f->alerts_fd);
err_close_hosts:
	close(f->hostsfd);
err_close_data:
	close(f->datafd);
err_free:
	free(f);
	return NULL;
}

int njc_sink_file_list_hosts(const char *data_dir, void (*cb)(const char *id, void *arg), void *arg)
{
	char path[4096];
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "%s/hosts", data_dir);
	d = opendir(path);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d)))
		if (njc_host_id_valid(de->d_name))
			cb(de->d_name, arg);
	closedir(d);
	return 0;
}
