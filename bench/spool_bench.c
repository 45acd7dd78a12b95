/* spool_bench.c - nightjar-spool-bench: how fast records are numbered, packed and appended to
 * the spool, on one core, the way agent/output.c keep() does it.
 *
 *   nightjar-spool-bench append DIR COUNT
 *   nightjar-spool-bench pack COUNT
 *
 * Each mode prints one line of key=value figures on stdout:
 *   MODE records=N seconds=S records_per_s=R bytes_per_record=B
 * bytes_per_record is the packed nightjar.Record; the spool adds a 16-byte frame header to
 * each on disk. `pack` does the same serialization without the spool, so append minus pack is
 * the spool's own cost (framing, crc32, writev, fdatasync).
 *
 * The record is one exec of /usr/bin/curl with five arguments and a known parent, built by
 * the agent's own nj_event_build() from a kernel exec record (agent/event.c). Only the loop is
 * timed (CLOCK_MONOTONIC), with the final sync inside it; opening and closing the spool are not.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "event.h"
#include "log.h"
#include "nightjar.pb-c.h"
#include "proc.h"
#include "spool.h"

/* The agent syncs on its 100 ms flush timer, not per record: at the 500,000 records/s target
 * that is one fdatasync per 50,000 records, so every 10,000 is the stricter side. */
#define SYNC_EVERY 10000
#define MAX_COUNT  1000000000ULL

static const char *prog = "nightjar-spool-bench";

#include "common.h"

/* Every message one exec record points to, as struct nj_event holds them. */
/* The agent's own path to a record: a kernel exec record, the process table, then
 * nj_event_build(). Building it any other way would measure a record of another shape. */
struct sample {
	struct nj_proctab *procs;
	struct nj_event ev;
	struct nj_host host;
	uint8_t kernel[NJ_EXEC_MAX];
};

static void set_comm(char *dst, const char *comm)
{
	snprintf(dst, NJ_COMM_LEN, "%s", comm);
}

/* `curl -sS -o /tmp/out.json https://...` started from an interactive bash, as uid 1000. */
static Nightjar__Record *build_sample(struct sample *s)
{
	static const char args[] = "curl\0-sS\0-o\0/tmp/out.json\0"
				   "https://api.example.com/v1/items?limit=100";
	static const char parent_args[] = "bash\0--login";
	/* the dentry walk's order: leaf first, each component NUL-terminated */
	static const char exe[] = "curl\0bin\0usr";
	const uint64_t start = 6000000000000ULL, parent_start = 5990000000000ULL;
	struct nj_exec *e = (struct nj_exec *)s->kernel;
	struct nj_proc *parent, *proc;
	Nightjar__Record *rec;

	memset(s, 0, sizeof(*s));
	snprintf(s->host.name, sizeof(s->host.name), "web-07.prod.example.net");
	snprintf(s->host.id, sizeof(s->host.id), "4c1e9b3a2e8f5d0c7a416f1c2b9e4d7a");
	snprintf(s->host.boot_id, sizeof(s->host.boot_id), "6f1c2b9e-4d7a-4c1e-9b3a-2e8f5d0c7a41");
	s->procs = nj_proctab_new(s->host.boot_id);
	if (!s->procs)
		die("nj_proctab_new: out of memory");
	parent = nj_proc_get(s->procs, 48190, parent_start, 1, 0);
	if (!parent ||
	    nj_proc_set_image(parent, "/usr/bin/bash", parent_args, sizeof(parent_args), false))
		die("building the parent: out of memory");
	set_comm(parent->comm, "bash");
	proc = nj_proc_get(s->procs, 48213, start, 48190, parent_start);
	if (!proc || nj_proc_set_image(proc, "/usr/bin/curl", args, sizeof(args), false))
		die("building the process: out of memory");
	set_comm(proc->comm, "curl");

	e->hdr.kind = NJ_REC_EXEC;
	e->hdr.ts = start + 1800000;
	e->hdr.task = (struct nj_task){
		.tgid = 48213,
		.pid = 48213,
		.ppid = 48190,
		.uid = 1000,
		.gid = 1000,
		.euid = 1000,
		.loginuid = 1000,
		.sessionid = 3,
		.sid = 48190,
		.mntns = 4026531841U,
		.pidns = 4026531836U,
		.netns = 4026531840U,
		.start_ns = start,
		.parent_start_ns = parent_start,
		.cgroup_id = 10243,
	};
	set_comm(e->hdr.task.comm, "curl");
	e->args_len = sizeof(args);
	memcpy(e->data, args, sizeof(args));
	e->exe = (struct nj_path){.len = sizeof(exe), .depth = 3};
	memcpy(e->data + e->args_len, exe, sizeof(exe));
	e->exe_dev = (254u << 20) | 1;
	e->exe_ino = 1314052;
	snprintf(e->tty, sizeof(e->tty), "pts0");
	e->hdr.size = (uint32_t)(sizeof(*e) + e->args_len + e->exe.len);

	nj_event_init(&s->ev);
	/* boot clock to UTC: the exec lands on 2025-11-28 16:40 */
	rec = nj_event_build(&s->ev, &s->host, e, proc, parent,
			     (int64_t)(1764348024000000000ULL - start));
	if (!rec)
		die("nj_event_build: out of memory");
	rec->event->has_sequence = 1;
	return rec;
}

static void free_sample(struct sample *s)
{
	nj_event_fini(&s->ev);
	nj_proctab_free(s->procs);
}

/* Pack into *buf, growing it as keep() does; returns the packed length. */
static size_t pack(Nightjar__Record *rec, uint8_t **buf, size_t *cap)
{
	size_t need = protobuf_c_message_get_packed_size(&rec->base);

	if (need > *cap) {
		uint8_t *b = realloc(*buf, need);

		if (!b)
			die("realloc(%zu): out of memory", need);
		*buf = b;
		*cap = need;
	}
	if (protobuf_c_message_pack(&rec->base, *buf) != need)
		die("protobuf_c_message_pack: packed size differs from get_packed_size (%zu)",
		    need);
	return need;
}

static void report(const char *mode, uint64_t count, uint64_t elapsed_ns, uint64_t packed_bytes)
{
	if (elapsed_ns == 0)
		elapsed_ns = 1;
	printf("%s records=%" PRIu64 " seconds=%.3f records_per_s=%" PRIu64
	       " bytes_per_record=%" PRIu64 "\n",
	       mode, count, (double)elapsed_ns / (double)NSEC_PER_SEC,
	       (uint64_t)((double)count * (double)NSEC_PER_SEC / (double)elapsed_ns),
	       (packed_bytes + count / 2) / count);
}

static int do_append(const char *mode, char **argv)
{
	const char *dir = argv[0];
	uint64_t count = parse_count(argv[1], "COUNT", MAX_COUNT), i, t0, t1, packed = 0;
	struct nj_spool_opts o = {
		.dir = dir,
		.max_bytes = 4ULL << 30,
		.segment_bytes = 64ULL << 20,
		.max_age_ms = 24ULL * 3600 * 1000,
	};
	struct nj_spool_stats st;
	struct nj_spool *s;
	struct sample sm;
	Nightjar__Record *rec = build_sample(&sm);
	uint8_t *buf = NULL;
	size_t cap = 0, len;
	char err[512];
	int e;

	e = nj_spool_open(&s, &o, err, sizeof(err));
	if (e)
		die("nj_spool_open(%s): %s", dir, err);
	t0 = now_ns();
	for (i = 0; i < count; i++) {
		rec->event->sequence = nj_spool_next_seq(s);
		len = pack(rec, &buf, &cap);
		packed += len;
		e = nj_spool_append(s, buf, len);
		if (e)
			die("nj_spool_append(%s): record %" PRIu64 " of %" PRIu64 ": %s", dir,
			    i + 1, count, strerror(-e));
		if ((i + 1) % SYNC_EVERY == 0 && (e = nj_spool_sync(s)))
			die("nj_spool_sync(%s): after record %" PRIu64 ": %s", dir, i + 1,
			    strerror(-e));
	}
	e = nj_spool_sync(s);
	if (e)
		die("nj_spool_sync(%s): at the end: %s", dir, strerror(-e));
	t1 = now_ns();

	/* the spool's own count must agree, or the figure is for a different workload */
	nj_spool_stats(s, &st);
	if (st.records != count || st.write_errors || st.evicted_records)
		die("nj_spool_stats(%s): records=%" PRIu64 " write_errors=%" PRIu64
		    " evicted_records=%" PRIu64 ", expected records=%" PRIu64 " and no losses",
		    dir, st.records, st.write_errors, st.evicted_records, count);
	nj_spool_close(s);
	free(buf);
	free_sample(&sm);
	report(mode, count, t1 - t0, packed);
	return 0;
}

static int do_pack(const char *mode, char **argv)
{
	uint64_t count = parse_count(argv[0], "COUNT", MAX_COUNT), i, t0, t1, packed = 0;
	/* a checksum of the output, printed nowhere, so the compiler cannot drop the packing */
	volatile uint8_t sink = 0;
	struct sample sm;
	Nightjar__Record *rec = build_sample(&sm);
	uint8_t *buf = NULL;
	size_t cap = 0, len;

	t0 = now_ns();
	for (i = 0; i < count; i++) {
		rec->event->sequence = i + 1;
		len = pack(rec, &buf, &cap);
		packed += len;
		sink ^= buf[len - 1];
	}
	t1 = now_ns();
	(void)sink;
	free(buf);
	free_sample(&sm);
	report(mode, count, t1 - t0, packed);
	return 0;
}

static const struct bench_cmd cmds[] = {
	{.name = "append", .nargs = 2, .args = "DIR COUNT", .fn = do_append},
	{.name = "pack", .nargs = 1, .args = "COUNT", .fn = do_pack},
};

static void usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: %s MODE [ARGS]\n", prog);
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(f, "       %s %s %s\n", prog, cmds[i].name, cmds[i].args);
}

int main(int argc, char **argv)
{
	/* the spool reports through the agent's logger: say whose messages they are */
	nj_log_init(prog, NJ_LOG_WARN);
	return bench_main(argc, argv, cmds, sizeof(cmds) / sizeof(cmds[0]), usage, "mode");
}
