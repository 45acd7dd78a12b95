/* output.c - kernel records to printed events. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "output.h"
#include "pbjson.h"
#include "text.h"

#define NS_PER_S 1000000000LL

static int64_t ts_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

void nj_output_sync_clock(struct nj_output *o)
{
	o->boot_to_real_ns = ts_ns(CLOCK_REALTIME) - ts_ns(CLOCK_BOOTTIME);
}

int nj_output_init(struct nj_output *o, FILE *out, enum nj_format mode, struct nj_proctab *procs)
{
	memset(o, 0, sizeof(*o));
	o->out = out;
	o->mode = mode;
	o->procs = procs;
	nj_json_init(&o->json);
	nj_event_init(&o->ev);
	if (gethostname(o->host.name, sizeof(o->host.name) - 1) < 0)
		snprintf(o->host.name, sizeof(o->host.name), "unknown");
	snprintf(o->host.boot_id, sizeof(o->host.boot_id), "%s", nj_proctab_boot_id(procs));
	nj_output_sync_clock(o);
	return 0;
}

void nj_output_fini(struct nj_output *o)
{
	free(o->packed);
	nj_json_free(&o->json);
	nj_event_fini(&o->ev);
}

void nj_format_time(char out[40], int64_t boot_to_real_ns, uint64_t boot_ns)
{
	nj_format_utc(out, (uint64_t)((int64_t)boot_ns + boot_to_real_ns));
}

/* Number the record and queue it for the spool; nj_output_flush() writes the batch. */
static void keep(struct nj_output *o, Nightjar__Record *rec)
{
	size_t need;

	rec->event->has_sequence = 1;
	if (!o->spool) {
		rec->event->sequence = ++o->next_seq;
		return;
	}
	rec->event->sequence = nj_spool_next_seq(o->spool);
	need = protobuf_c_message_get_packed_size(&rec->base);
	if (need > o->packed_cap) {
		uint8_t *p = realloc(o->packed, need);

		if (!p) {
			nj_warn("out of memory packing record %" PRIu64, rec->event->sequence);
			return;
		}
		o->packed = p;
		o->packed_cap = need;
	}
	protobuf_c_message_pack(&rec->base, o->packed);
	/* an error here is counted by the spool and reported at the flush */
	nj_spool_append(o->spool, o->packed, need);
}

int nj_output_flush(struct nj_output *o)
{
	struct nj_spool_stats st;
	const uint8_t *frames;
	size_t len;
	int e;

	if (!o->spool)
		return 0;
	/* tail clients get the batch whether or not the disk takes it */
	nj_spool_pending(o->spool, &frames, &len);
	nj_control_broadcast(o->control, frames, len);
	e = nj_spool_flush(o->spool);
	nj_spool_stats(o->spool, &st);
	/* say it once per burst of failures, not once per batch */
	if (st.write_errors > o->spool_warned) {
		if (o->spool_warned == 0 || st.write_errors - o->spool_warned >= 1000)
			nj_warn("spool: records not stored: %s (%" PRIu64
				" lost so far); events are still printed",
				e ? strerror(-e) : "write failed", st.write_errors);
		o->spool_warned = st.write_errors;
	}
	return e;
}

static void print(struct nj_output *o, Nightjar__Record *rec)
{
	struct nj_json *j = &o->json;

	keep(o, rec);

	if (o->mode == NJ_OUTPUT_TEXT) {
		nj_text_record(o->out, rec);
		return;
	}
	nj_json_reset(j);
	nj_pbjson_message(j, NULL, &rec->base);
	if (j->oom) {
		nj_warn("out of memory formatting an event");
		return;
	}
	/* the writer always leaves a byte free after the text */
	j->buf[j->len] = '\n';
	if (fwrite(j->buf, 1, j->len + 1, o->out) != j->len + 1)
		o->write_failed = true;
}

/* The process a record speaks of, created in the table if this is the first we hear. */
static struct nj_proc *record_proc(struct nj_output *o, const struct nj_task *t)
{
	struct nj_proc *p =
		nj_proc_get(o->procs, t->tgid, t->start_ns, t->ppid, t->parent_start_ns);

	if (p) {
		memcpy(p->comm, t->comm, sizeof(p->comm));
		p->comm[NJ_COMM_LEN - 1] = '\0';
		p->uid = t->uid;
		p->sid = t->sid;
	}
	return p;
}

void nj_output_record(struct nj_output *o, const void *data, size_t len)
{
	const struct nj_hdr *h = data;
	Nightjar__Record *rec;
	const char *why = NULL;
	struct nj_proc *p;
	int kind;

	kind = nj_record_check(data, len, &why);
	if (kind < 0) {
		o->bad_records++;
		nj_warn("dropping a malformed record (%zu bytes): %s", len, why);
		return;
	}
	p = record_proc(o, &h->task);
	if (kind == NJ_REC_EXEC && p) {
		const struct nj_exec *e = data;
		char exe[NJ_PATH_STR_MAX];

		nj_path_string(exe, sizeof(exe), e->data + e->args_len, &e->exe);
		if (nj_proc_set_image(p, exe, e->args_len ? e->data : NULL, e->args_len,
				      e->args_trunc))
			nj_warn("out of memory recording the image of pid %u", h->task.tgid);
	}
	rec = nj_event_build(&o->ev, &o->host, data, p,
			     nj_proc_find(o->procs, h->task.ppid, h->task.parent_start_ns),
			     o->boot_to_real_ns);
	if (!rec) {
		nj_warn("out of memory building an event of pid %u", h->task.tgid);
		return;
	}
	print(o, rec);
	o->events++;
	/* after the record has its number: an alert names the records that made it fire */
	if (o->detect)
		nj_detect_record(o->detect, kind, data, p, rec->event->sequence);
	if (kind == NJ_REC_EXIT && p)
		nj_proc_exited(o->procs, p, (uint64_t)ts_ns(CLOCK_MONOTONIC));
}

void nj_output_alert(void *arg, const struct nj_alert *a)
{
	struct nj_output *o = arg;
	Nightjar__Record *rec = nj_event_alert(&o->ev, &o->host, a, o->procs, o->boot_to_real_ns);

	if (!rec) {
		nj_warn("out of memory building alert %s", a->rule_id);
		return;
	}
	print(o, rec);
	o->alerts++;
}

void nj_output_health(struct nj_output *o, const struct nj_health *h)
{
	struct nj_health_in in = {0};

	memcpy(in.stats, h->stats, sizeof(in.stats));
	in.events = o->events;
	in.bad_records = o->bad_records;
	in.watched_inodes = h->watched_inodes;
	in.watched_names = h->watched_names;
	in.watch_errors = h->watch_errors;
	in.processes = nj_proctab_size(o->procs);
	in.uptime_s = h->uptime_s;
	in.alerts = o->alerts;
	if (o->detect) {
		struct nj_detect_stats ds;

		nj_detect_stats(o->detect, &ds);
		in.alert_repeats = ds.suppressed;
	}
	in.has_ship = h->has_ship;
	in.ship_acked_seq = h->ship_acked_seq;
	in.ship_acked = h->ship_acked;
	in.ship_backlog = h->ship_backlog;
	in.ship_lost = h->ship_lost;
	if (o->spool) {
		struct nj_spool_stats st;

		nj_spool_stats(o->spool, &st);
		in.has_spool = true;
		in.spool_bytes = st.bytes;
		in.spool_segments = st.segments;
		in.spool_oldest_seq = st.oldest_seq;
		in.spool_evicted = st.evicted_records;
		in.spool_errors = st.write_errors;
		in.spool_truncated = st.truncated_bytes;
	}
	print(o, nj_event_health(&o->ev, &o->host, &in, (uint64_t)ts_ns(CLOCK_REALTIME)));
}
