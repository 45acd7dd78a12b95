/* sink_nats.c - the fleet sink: every batch goes to a NATS JetStream stream (libnats), and the
 * agent is acknowledged only after JetStream's publish acknowledgement, so several collectors
 * behind a TCP load balancer share one durable, replicated stream (docs/collector.md).
 *
 * One message per batch (split below the server's max_payload): subject <subject>.<host id>,
 * payload a nightjar.Batch holding only records the stream does not have yet, header
 * Nats-Msg-Id "<host id>:<first sequence>" so that JetStream drops a republished batch within
 * its duplicate window. A host's high-water mark is the last message on its subject, read
 * when the host first sends here and again whenever it comes back on a new connection (it may
 * have been talking to another collector meanwhile).
 *
 * Publishing is asynchronous: the round's messages are all sent, then the commit waits for
 * their acknowledgements, which libnats delivers on its own thread to on_ack(); the mutex and
 * condition variable below are the only state shared with that thread. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nats/nats.h>

#include "collector.h"
#include "log.h"
#include "wire.h"

#define ACK_HEADER "Nightjar-Round" /* "<round>.<index>": which publish an ack is for */
/* payload room kept for the Batch's own fields */
#define BATCH_SLACK 256

struct inflight {
	struct njc_pending *p;
	struct njc_host *h;
	int state; /* 0 waiting, 1 stored, -1 failed */
	char err[160];
};

struct nats_sink {
	struct njc_sink base;
	const struct njc_config *cfg;
	natsConnection *nc;
	jsCtx *js;
	int64_t max_payload;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	/* guarded by mu */
	uint64_t round;
	struct inflight *fl;
	size_t nfl, capfl, done;
	/* counters for the status */
	uint64_t published, acked, failed, timeouts, duplicates, refreshes;
};

static struct nats_sink *ns_of(struct njc_sink *s)
{
	return (struct nats_sink *)s;
}

static void subject(const struct nats_sink *n, const char *host, char *out, size_t len)
{
	snprintf(out, len, "%s.%s", n->cfg->nats_subject, host);
}

static void on_ack(jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae, void *closure)
{
	struct nats_sink *n = closure;
	unsigned long long round, idx;
	const char *tag = NULL;

	(void)js;
	if (natsMsgHeader_Get(msg, ACK_HEADER, &tag) != NATS_OK || !tag ||
	    sscanf(tag, "%llu.%llu", &round, &idx) != 2)
		goto out;
	pthread_mutex_lock(&n->mu);
	/* an acknowledgement that arrives after its round timed out changes nothing: that
	 * batch was refused, the agent resends, and the stream drops the copy by msg id */
	if (round == n->round && idx < n->nfl && n->fl[idx].state == 0) {
		if (pa) {
			n->fl[idx].state = 1;
			n->acked++;
			if (pa->Duplicate)
				n->duplicates++;
		} else {
			n->fl[idx].state = -1;
			snprintf(n->fl[idx].err, sizeof(n->fl[idx].err), "%s",
				 pae && pae->ErrText ? pae->ErrText
				 : pae		     ? natsStatus_GetText(pae->Err)
						     : "no acknowledgement");
		}
		n->done++;
		pthread_cond_broadcast(&n->cv);
	}
	pthread_mutex_unlock(&n->mu);
out:
	natsMsg_Destroy(msg);
}

/* The host's highest stored sequence: the end of the last batch on its subject. */
static int read_mark(struct nats_sink *n, struct njc_host *h, char *err, size_t errlen)
{
	char subj[256];
	natsMsg *m = NULL;
	jsErrCode jerr = 0;
	Nightjar__Batch *b;
	natsStatus st;

	subject(n, h->id, subj, sizeof(subj));
	st = js_GetLastMsg(&m, n->js, n->cfg->nats_stream, subj, NULL, &jerr);
	if (st == NATS_NOT_FOUND || jerr == JSNoMessageFoundErr) {
		h->durable = h->accepted = 0;
		h->opened = true;
		return 0;
	}
	if (st != NATS_OK) {
		snprintf(err, errlen, "JetStream: last message on %s: %s", subj,
			 nats_GetLastError(NULL));
		return -EIO;
	}
	b = nj_wire_batch_unpack(NULL, (const uint8_t *)natsMsg_GetData(m),
				 (size_t)natsMsg_GetDataLength(m), err, errlen);
	natsMsg_Destroy(m);
	if (!b)
		return -EBADMSG;
	h->durable = b->n_records ? b->first_sequence + b->n_records - 1
				  : (b->first_sequence ? b->first_sequence - 1 : 0);
	h->accepted = h->durable;
	h->opened = true;
	nightjar__batch__free_unpacked(b, NULL);
	return 0;
}

static int nats_host_open(struct njc_sink *s, struct njc_host *h, char *err, size_t errlen)
{
	return read_mark(ns_of(s), h, err, errlen);
}

static int nats_host_refresh(struct njc_sink *s, struct njc_host *h, char *err, size_t errlen)
{
	ns_of(s)->refreshes++;
	return read_mark(ns_of(s), h, err, errlen);
}

static int publish(struct nats_sink *n, struct njc_host *h, struct njc_pending *p, uint64_t first,
		   const ProtobufCBinaryData *recs, size_t count, char *err, size_t errlen)
{
	Nightjar__Batch b = NIGHTJAR__BATCH__INIT;
	char subj[256], msgid[128], tag[64];
	natsMsg *m = NULL;
	uint8_t *buf;
	size_t len;
	natsStatus st;
	size_t idx;

	b.host_id = h->id;
	b.has_first_sequence = 1;
	b.first_sequence = first;
	b.n_records = count;
	b.records = (ProtobufCBinaryData *)recs;
	len = protobuf_c_message_get_packed_size(&b.base);
	buf = malloc(len ? len : 1);
	if (!buf) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	protobuf_c_message_pack(&b.base, buf);
	pthread_mutex_lock(&n->mu);
	if (n->nfl == n->capfl) {
		size_t cap = n->capfl ? n->capfl * 2 : 256;
		struct inflight *f = realloc(n->fl, cap * sizeof(*f));

		if (!f) {
			pthread_mutex_unlock(&n->mu);
			free(buf);
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
		n->fl = f;
		n->capfl = cap;
	}
	idx = n->nfl++;
	n->fl[idx] = (struct inflight){.p = p, .h = h};
	snprintf(tag, sizeof(tag), "%" PRIu64 ".%zu", n->round, idx);
	pthread_mutex_unlock(&n->mu);

	subject(n, h->id, subj, sizeof(subj));
	snprintf(msgid, sizeof(msgid), "%s:%" PRIu64, h->id, first);
	st = natsMsg_Create(&m, subj, NULL, (const char *)buf, (int)len);
	free(buf);
	if (st == NATS_OK)
		st = natsMsgHeader_Set(m, "Nats-Msg-Id", msgid);
	if (st == NATS_OK)
		st = natsMsgHeader_Set(m, ACK_HEADER, tag);
	if (st == NATS_OK)
		st = js_PublishMsgAsync(n->js, &m, NULL);
	natsMsg_Destroy(m);
	if (st != NATS_OK) {
		pthread_mutex_lock(&n->mu);
		n->fl[idx].state = -1;
		snprintf(n->fl[idx].err, sizeof(n->fl[idx].err), "%s", nats_GetLastError(NULL));
		n->done++;
		pthread_mutex_unlock(&n->mu);
		snprintf(err, errlen, "JetStream publish to %s: %s", subj, nats_GetLastError(NULL));
		return -EIO;
	}
	n->published++;
	return 0;
}

static int nats_store(struct njc_sink *s, struct njc_host *h, struct njc_pending *p, uint64_t first,
		      const ProtobufCBinaryData *recs, size_t count, char *err, size_t errlen)
{
	struct nats_sink *n = ns_of(s);
	size_t i = 0, j, bytes;
	int e;

	/* one message per batch, cut where it would pass the server's max_payload */
	while (i < count) {
		bytes = BATCH_SLACK;
		for (j = i; j < count && bytes + recs[j].len + 10 <= (size_t)n->max_payload; j++)
			bytes += recs[j].len + 10;
		if (j == i) {
			snprintf(err, errlen,
				 "record %" PRIu64 " (%zu bytes) does not fit in a NATS message "
				 "(max_payload %" PRId64 ")",
				 first + i, recs[i].len, n->max_payload);
			return -EMSGSIZE;
		}
		e = publish(n, h, p, first + i, recs + i, j - i, err, errlen);
		if (e)
			return e;
		i = j;
	}
	return 0;
}

static int nats_commit(struct njc_sink *s, struct njc_host *hosts, struct njc_pending *batches)
{
	struct nats_sink *n = ns_of(s);
	struct timespec dl;
	size_t i;

	(void)hosts;
	(void)batches;
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += (time_t)(n->cfg->nats_timeout_ms / 1000);
	dl.tv_nsec += (long)(n->cfg->nats_timeout_ms % 1000) * 1000000L;
	if (dl.tv_nsec >= 1000000000L) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&n->mu);
	while (n->done < n->nfl)
		if (pthread_cond_timedwait(&n->cv, &n->mu, &dl) == ETIMEDOUT)
			break;
	for (i = 0; i < n->nfl; i++) {
		struct inflight *f = &n->fl[i];
		char msg[256];

		if (f->state == 1)
			continue;
		if (f->state == 0) {
			n->timeouts++;
			snprintf(f->err, sizeof(f->err),
				 "no acknowledgement from JetStream within %" PRIu64 " ms",
				 n->cfg->nats_timeout_ms);
		}
		n->failed++;
		snprintf(msg, sizeof(msg), "storage failed: %s", f->err);
		if (f->p && !f->p->error) {
			f->p->error = strdup(msg);
			nj_err("nats sink: host %s: %s", f->h->id, msg);
		}
		/* what the stream holds is the truth: read it again at the next batch */
		if (f->h->opened)
			f->h->failures++;
		f->h->opened = false;
	}
	n->nfl = 0;
	n->done = 0;
	n->round++;
	pthread_mutex_unlock(&n->mu);
	return 0;
}

static void nats_status(struct njc_sink *s, FILE *out, struct nj_json *j)
{
	struct nats_sink *n = ns_of(s);

	if (j) {
		nj_json_obj_begin(j, "sink");
		nj_json_str(j, "type", "nats");
		nj_json_str(j, "url", n->cfg->nats_url);
		nj_json_str(j, "stream", n->cfg->nats_stream);
		nj_json_bool(j, "connected",
			     natsConnection_Status(n->nc) == NATS_CONN_STATUS_CONNECTED);
		nj_json_u64(j, "published", n->published);
		nj_json_u64(j, "acknowledged", n->acked);
		nj_json_u64(j, "duplicates", n->duplicates);
		nj_json_u64(j, "failed", n->failed);
		nj_json_u64(j, "timeouts", n->timeouts);
		nj_json_u64(j, "mark_refreshes", n->refreshes);
		nj_json_obj_end(j);
		return;
	}
	fprintf(out,
		"sink: nats %s stream %s (%s): %" PRIu64 " messages published, %" PRIu64
		" acknowledged (%" PRIu64 " duplicates), %" PRIu64 " failed (%" PRIu64
		" timeouts)\n",
		n->cfg->nats_url, n->cfg->nats_stream,
		natsConnection_Status(n->nc) == NATS_CONN_STATUS_CONNECTED ? "connected"
									   : "disconnected",
		n->published, n->acked, n->duplicates, n->failed, n->timeouts);
}

static void nats_close(struct njc_sink *s)
{
	struct nats_sink *n = ns_of(s);
	jsPubOptions po;

	jsPubOptions_Init(&po);
	po.MaxWait = (int64_t)n->cfg->nats_timeout_ms;
	js_PublishAsyncComplete(n->js, &po);
	jsCtx_Destroy(n->js);
	natsConnection_Destroy(n->nc);
	pthread_cond_destroy(&n->cv);
	pthread_mutex_destroy(&n->mu);
	free(n->fl);
	free(n);
}

static const struct njc_sink_ops nats_ops = {
	.name = "nats",
	.host_open = nats_host_open,
	.host_refresh = nats_host_refresh,
	.store = nats_store,
	.commit = nats_commit,
	.status = nats_status,
	.close = nats_close,
};

/* Find the stream, or create it: file storage, the configured replicas and retention. */
static int ensure_stream(struct nats_sink *n, char *err, size_t errlen)
{
	const struct njc_config *cfg = n->cfg;
	jsStreamInfo *si = NULL;
	jsStreamConfig sc;
	jsErrCode jerr = 0;
	char subj[256];
	const char *subjects[1] = {subj};
	natsStatus st;

	st = js_GetStreamInfo(&si, n->js, cfg->nats_stream, NULL, &jerr);
	if (st == NATS_OK) {
		if (si->Config && (uint64_t)si->Config->Replicas != cfg->nats_replicas)
			nj_warn("nats sink: stream %s has %" PRId64
				" replicas, the configuration asks for %" PRIu64 " (left as it is)",
				cfg->nats_stream, si->Config->Replicas, cfg->nats_replicas);
		jsStreamInfo_Destroy(si);
		return 0;
	}
	if (st != NATS_NOT_FOUND && jerr != JSStreamNotFoundErr) {
		snprintf(err, errlen, "stream %s: %s", cfg->nats_stream, nats_GetLastError(NULL));
		return -1;
	}
	snprintf(subj, sizeof(subj), "%s.>", cfg->nats_subject);
	jsStreamConfig_Init(&sc);
	sc.Name = cfg->nats_stream;
	sc.Subjects = subjects;
	sc.SubjectsLen = 1;
	sc.Storage = js_FileStorage;
	sc.Replicas = (int64_t)cfg->nats_replicas;
	sc.MaxAge = (int64_t)cfg->nats_max_age_ms * 1000000;
	st = js_AddStream(&si, n->js, &sc, NULL, &jerr);
	if (st != NATS_OK) {
		snprintf(err, errlen, "creating stream %s: %s", cfg->nats_stream,
			 nats_GetLastError(NULL));
		return -1;
	}
	nj_info("nats sink: created stream %s (subjects %s, file storage, %" PRIu64 " replicas)",
		cfg->nats_stream, subj, cfg->nats_replicas);
	jsStreamInfo_Destroy(si);
	return 0;
}

struct njc_sink *njc_sink_nats_open(const struct njc_config *cfg, char *err, size_t errlen)
{
	struct nats_sink *n = calloc(1, sizeof(*n));
	natsOptions *opts = NULL;
	jsOptions jo;
	natsStatus st;

	if (!n) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	n->base.ops = &nats_ops;
	/* the commit waits for JetStream's acknowledgements itself */
	n->base.done_fd = -1;
	n->cfg = cfg;
	pthread_mutex_init(&n->mu, NULL);
	pthread_cond_init(&n->cv, NULL);
	st = natsOptions_Create(&opts);
	if (st == NATS_OK)
		st = natsOptions_SetURL(opts, cfg->nats_url);
	if (st == NATS_OK)
		st = natsOptions_SetTimeout(opts, (int64_t)cfg->nats_timeout_ms);
	/* a NATS outage refuses batches (the agents keep them) until it is back */
	if (st == NATS_OK)
		st = natsOptions_SetMaxReconnect(opts, -1);
	if (st == NATS_OK)
		st = natsOptions_SetReconnectWait(opts, 500);
	if (st == NATS_OK)
		st = natsConnection_Connect(&n->nc, opts);
	natsOptions_Destroy(opts);
	if (st != NATS_OK) {
		snprintf(err, errlen, "cannot connect to %s: %s", cfg->nats_url,
			 nats_GetLastError(NULL));
		goto err_free;
	}
	jsOptions_Init(&jo);
	jo.Wait = (int64_t)cfg->nats_timeout_ms;
	jo.PublishAsync.AckHandler = on_ack;
	jo.PublishAsync.AckHandlerClosure = n;
	jo.PublishAsync.MaxPending = 1 << 16;
	st = natsConnection_JetStream(&n->js, n->nc, &jo);
	if (st != NATS_OK) {
		snprintf(err, errlen, "JetStream: %s", nats_GetLastError(NULL));
		goto err_conn;
	}
	n->max_payload = natsConnection_GetMaxPayload(n->nc);
	if (ensure_stream(n, err, errlen) < 0)
		goto err_js;
	return &n->base;

err_js:
	jsCtx_Destroy(n->js);
err_conn:
	natsConnection_Destroy(n->nc);
err_free:
	pthread_cond_destroy(&n->cv);
	pthread_mutex_destroy(&n->mu);
	free(n);
	return NULL;
}
