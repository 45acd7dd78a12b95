/* sink_file.c - the embedded default sink: per-host segment files in the agent spool's own
 * framing (agent/spool.c with external_seq), so `nightjarctl read <data_dir>/hosts/<id>` reads
 * them, and alerts as JSON lines in <data_dir>/alerts.jsonl, rotated by size.
 *
 *   <data_dir>/hosts/<host id>/<first sequence>.seg   records under the agent's sequences
 *   <data_dir>/alerts.jsonl, alerts.jsonl.1 ...        every alert record, as the agent's JSON
 *
 * Durable means written and fdatasync'ed (and a new file's directory entry fsync'ed) before
 * the Ack. A commit writes the round's buffers, then SYNC_THREADS threads fdatasync each
 * touched file once, concurrently, while the event loop goes on reading (and committing) the
 * next rounds: the disk flush is the slow part, ext4 folds concurrent fdatasyncs into one
 * journal commit, and the loop's CPU work overlaps the wait. The threads touch nothing but
 * dup()ed file descriptors and the jobs below, under their mutex. */
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
/* A round that touched this many files is made durable by one syncfs() of the data file
 * system instead: one journal commit and one flush instead of hundreds (a thousand agents each
 * sending a batch a second touch a few hundred files per round). */
#define SYNCFS_FILES 64

/* One file of a commit to make durable. */
struct sync_item {
	struct njc_host *h; /* NULL: alerts.jsonl */
	int fd, dirfd;	    /* dup()s: fdatasync fd, then fsync dirfd if >= 0 */
	bool fs;	    /* syncfs(fd) instead */
	int err;	    /* errno, set by the thread */
};

/* One commit: the files a round touched. */
struct sync_job {
	struct sync_item *items;
	size_t nitems, cap;
	size_t first; /* the threads run items first .. nitems - 1 (the rest: see syncfs) */
	size_t next, ndone;
	struct njc_pending *batches;
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
	/* commits in flight, oldest first; their items are taken by the sync threads one by one */
	pthread_t th[SYNC_THREADS];
	int nthreads;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct sync_job jobs[NJC_MAX_COMMITS];
	unsigned int head, njobs; /* under mu */
	bool stop;
	/* counters for the status */
	uint64_t records, alerts, fdatasyncs, syncfs_calls, commits, errors, alert_errors;
};

static struct file_sink *fs_of(struct njc_sink *s)
{
	return (struct file_sink *)s;
}

static void close_host(struct njc_host *h)
{
	h->failures++;
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
	struct sync_job *j = NULL;
	uint64_t one = 1;
	unsigned int k;

	pthread_mutex_lock(&f->mu);
	for (;;) {
		/* the oldest commit with a file nobody has taken yet */
		for (j = NULL, k = 0; !j && k < f->njobs; k++) {
			struct sync_job *c = &f->jobs[(f->head + k) % NJC_MAX_COMMITS];

			if (c->next < c->nitems)
				j = c;
		}
		if (f->stop)
			break;
		if (!j) {
			pthread_cond_wait(&f->cv, &f->mu);
			continue;
		}
		it = &j->items[j->next++];
		pthread_mutex_unlock(&f->mu);
		it->err = 0;
		if (it->fs ? syncfs(it->fd) < 0
			   : fdatasync(it->fd) < 0 || (it->dirfd >= 0 && fsync(it->dirfd) < 0))
			it->err = errno ? errno : EIO;
		pthread_mutex_lock(&f->mu);
		if (++j->ndone == j->nitems - j->first &&
		    write(f->base.done_fd, &one, sizeof(one)) < 0)
			nj_err("file sink: eventfd: %s", strerror(errno));
	}
	pthread_mutex_unlock(&f->mu);
	return NULL;
}

static int add_item(struct sync_job *j, struct njc_host *h, int fd, int dirfd)
{
	if (j->nitems == j->cap) {
		size_t cap = j->cap ? j->cap * 2 : 64;
		struct sync_item *it = realloc(j->items, cap * sizeof(*it));

		if (!it)
			return -ENOMEM;
		j->items = it;
		j->cap = cap;
	}
	j->items[j->nitems++] = (struct sync_item){.h = h, .fd = fd, .dirfd = dirfd};
	return 0;
}

static int file_commit(struct njc_sink *s, struct njc_host *hosts, struct njc_pending *batches)
{
	struct file_sink *f = fs_of(s);
	struct sync_job *j;
	struct njc_host *h;
	int e, fd, dirfd;

	f->commits++;
	/* the server never has more than NJC_MAX_COMMITS in flight; the threads only look at
	 * jobs counted in njobs, so this one is ours until it is */
	j = &f->jobs[(f->head + f->njobs) % NJC_MAX_COMMITS];
	j->nitems = j->next = j->ndone = j->first = 0;
	j->batches = batches;
	for (h = hosts; h; h = h->next_in_group) {
		if (!h->opened)
			continue;
		e = nj_spool_sync_handles(h->sink_priv, &fd, &dirfd);
		if (e == 1 && add_item(j, h, fd, dirfd) < 0) {
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
		if (fd >= 0 && add_item(j, NULL, fd, -1) < 0)
			close(fd);
		f->alerts_written = false;
	}
	if (f->alerts_fd >= 0 && f->alerts_bytes >= f->cfg->alerts_max_bytes)
		rotate_alerts(f);
	if (!j->nitems)
		return 0;
	if (j->nitems >= SYNCFS_FILES) {
		/* one syncfs covers every file: the threads run only that last item, and the
		 * others stay to say which hosts its error would concern */
		fd = fcntl(f->datafd, F_DUPFD_CLOEXEC, 0);
		if (fd >= 0 && add_item(j, NULL, fd, -1) == 0) {
			j->items[j->nitems - 1].fs = true;
			j->first = j->next = j->nitems - 1;
			f->syncfs_calls++;
		} else if (fd >= 0) {
			close(fd);
		}
	}
	f->fdatasyncs += j->nitems - j->first;
	pthread_mutex_lock(&f->mu);
	f->njobs++;
	pthread_cond_broadcast(&f->cv);
	pthread_mutex_unlock(&f->mu);
	return 1;
}

/* Complete the oldest commits that are done, in order; returns how many. */
static unsigned int file_finish(struct njc_sink *s)
{
	struct file_sink *f = fs_of(s);
	unsigned int done = 0;
	struct sync_job *j;
	uint64_t n;
	size_t i;

	if (read(s->done_fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		nj_err("file sink: eventfd: %s", strerror(errno));
	for (;;) {
		pthread_mutex_lock(&f->mu);
		j = f->njobs ? &f->jobs[f->head] : NULL;
		if (j && j->ndone < j->nitems - j->first)
			j = NULL;
		pthread_mutex_unlock(&f->mu);
		if (!j)
			break;
		/* a failed syncfs fails every file it stood for */
		if (j->first && j->items[j->nitems - 1].err)
			for (i = 0; i < j->first; i++)
				j->items[i].err = j->items[j->nitems - 1].err;
		for (i = 0; i < j->nitems; i++) {
			struct sync_item *it = &j->items[i];

			close(it->fd);
			if (it->dirfd >= 0)
				close(it->dirfd);
			if (!it->err || it->fs)
				continue;
			if (it->h && it->h->opened)
				fail_host(f, it->h, j->batches, "syncing", it->err);
			else if (!it->h)
				nj_err("file sink: syncing alerts.jsonl: %s", strerror(it->err));
		}
		pthread_mutex_lock(&f->mu);
		f->head = (f->head + 1) % NJC_MAX_COMMITS;
		f->njobs--;
		pthread_mutex_unlock(&f->mu);
		done++;
	}
	return done;
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
		nj_json_u64(j, "syncfs", f->syncfs_calls);
		nj_json_u64(j, "errors", f->errors);
		nj_json_u64(j, "alert_errors", f->alert_errors);
		nj_json_obj_end(j);
		return;
	}
	fprintf(out,
		"sink: file %s: %" PRIu64 " records, %" PRIu64 " alerts stored; %" PRIu64
		" commits, %" PRIu64 " fdatasyncs, %" PRIu64 " syncfs; %" PRIu64
		" storage errors, %" PRIu64 " alerts not decodable\n",
		f->cfg->data_dir, f->records, f->alerts, f->commits, f->fdatasyncs, f->syncfs_calls,
		f->errors, f->alert_errors);
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
	for (int i = 0; i < NJC_MAX_COMMITS; i++)
		free(f->jobs[i].items);
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
