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
 * The record is one exec of /usr/bin/curl with five arguments and a known parent, filled in
 * the shape nj_event_build() gives it (agent/event.c). Only the loop is timed
 * (CLOCK_MONOTONIC), with the final sync inside it; opening and closing the spool are not.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "nightjar.pb-c.h"
#include "spool.h"

/* The agent syncs on its 100 ms flush timer, not per record: at the 500,000 records/s target
 * that is one fdatasync per 50,000 records, so every 10,000 is the stricter side. */
#define SYNC_EVERY 10000
#define MAX_COUNT  1000000000ULL

static const char *prog = "nightjar-spool-bench";

#include "common.h"

static ProtobufCBinaryData bytes(const char *s)
{
	return (ProtobufCBinaryData){.len = strlen(s), .data = (uint8_t *)s};
}

/* Every message one exec record points to, as struct nj_event holds them. */
struct sample {
	Nightjar__Record rec;
	Nightjar__Event event;
	Nightjar__Host host;
	Nightjar__Boot boot;
	Nightjar__ProcessEvent pev;
	Nightjar__Process proc, parent;
	Nightjar__Thread thread;
	Nightjar__PidRef session;
	Nightjar__Tty tty;
	Nightjar__User user;
	Nightjar__IdRef euid;
	Nightjar__Group group;
	Nightjar__Nightjar nj;
	Nightjar__Namespaces ns;
	Nightjar__ExeInfo exe;
	ProtobufCBinaryData args[5], parent_args[2];
};

/* `curl -sS -o /tmp/out.json https://...` started from an interactive bash, as uid 1000. */
static Nightjar__Record *build_sample(struct sample *s)
{
	static const char boot_id[] = "6f1c2b9e-4d7a-4c1e-9b3a-2e8f5d0c7a41";
	static const uint64_t start_ns = 1764348024123456789ULL;

	*s = (struct sample){
		.rec = NIGHTJAR__RECORD__INIT,
		.event = NIGHTJAR__EVENT__INIT,
		.host = NIGHTJAR__HOST__INIT,
		.boot = NIGHTJAR__BOOT__INIT,
		.pev = NIGHTJAR__PROCESS_EVENT__INIT,
		.proc = NIGHTJAR__PROCESS__INIT,
		.parent = NIGHTJAR__PROCESS__INIT,
		.thread = NIGHTJAR__THREAD__INIT,
		.session = NIGHTJAR__PID_REF__INIT,
		.tty = NIGHTJAR__TTY__INIT,
		.user = NIGHTJAR__USER__INIT,
		.euid = NIGHTJAR__ID_REF__INIT,
		.group = NIGHTJAR__GROUP__INIT,
		.nj = NIGHTJAR__NIGHTJAR__INIT,
		.ns = NIGHTJAR__NAMESPACES__INIT,
		.exe = NIGHTJAR__EXE_INFO__INIT,
	};

	s->rec.has_timestamp_utc_ns = 1;
	s->rec.timestamp_utc_ns = start_ns + 1800000;
	s->event.kind = "event";
	s->event.category = "process";
	s->event.type = "start";
	s->event.action = "exec";
	s->event.outcome = "success";
	s->event.has_sequence = 1;
	s->rec.event = &s->event;

	s->host.name = "web-07.prod.example.net";
	s->host.id = "4c1e9b3a2e8f5d0c7a416f1c2b9e4d7a";
	s->boot.id = (char *)boot_id;
	s->host.boot = &s->boot;
	s->rec.host = &s->host;

	s->args[0] = bytes("curl");
	s->args[1] = bytes("-sS");
	s->args[2] = bytes("-o");
	s->args[3] = bytes("/tmp/out.json");
	s->args[4] = bytes("https://api.example.com/v1/items?limit=100");
	s->proc.has_pid = 1;
	s->proc.pid = 48213;
	s->thread.has_id = 1;
	s->thread.id = 48213;
	s->proc.thread = &s->thread;
	/* nj_entity_id(): boot id's first 64 bits, pid, start in clock ticks */
	s->proc.entity_id = "6f1c2b9e4d7a4c1e-48213-176434802412";
	s->proc.has_name = 1;
	s->proc.name = bytes("curl");
	s->proc.has_executable = 1;
	s->proc.executable = bytes("/usr/bin/curl");
	s->proc.n_args = 5;
	s->proc.args = s->args;
	s->proc.has_args_count = 1;
	s->proc.args_count = 5;
	s->proc.has_start_utc_ns = 1;
	s->proc.start_utc_ns = start_ns;

	s->parent_args[0] = bytes("bash");
	s->parent_args[1] = bytes("--login");
	s->parent.has_pid = 1;
	s->parent.pid = 48190;
	s->parent.entity_id = "6f1c2b9e4d7a4c1e-48190-176434790133";
	s->parent.has_name = 1;
	s->parent.name = bytes("bash");
	s->parent.has_executable = 1;
	s->parent.executable = bytes("/usr/bin/bash");
	s->parent.n_args = 2;
	s->parent.args = s->parent_args;
	s->parent.has_args_count = 1;
	s->parent.args_count = 2;
	s->proc.parent = &s->parent;

	s->session.has_pid = 1;
	s->session.pid = 48190;
	s->proc.session_leader = &s->session;
	s->tty.has_name = 1;
	s->tty.name = bytes("pts/0");
	s->proc.tty = &s->tty;

	s->user.id = "1000";
	s->euid.id = "1000";
	s->user.effective = &s->euid;
	s->group.id = "1000";

	s->nj.has_loginuid = 1;
	s->nj.loginuid = 1000;
	s->nj.has_cgroup_id = 1;
	s->nj.cgroup_id = 10243;
	s->ns.has_mnt = s->ns.has_pid = s->ns.has_net = 1;
	s->ns.mnt = 4026531841ULL;
	s->ns.pid = 4026531836ULL;
	s->ns.net = 4026531840ULL;
	s->nj.ns = &s->ns;
	s->exe.inode = "1314052";
	s->exe.device = "254:1";
	s->nj.exe = &s->exe;

	s->pev.process = &s->proc;
	s->pev.user = &s->user;
	s->pev.group = &s->group;
	s->pev.nightjar = &s->nj;
	s->rec.body_case = NIGHTJAR__RECORD__BODY_EXEC;
	s->rec.exec = &s->pev;
	return &s->rec;
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
		sm.event.sequence = nj_spool_next_seq(s);
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
		sm.event.sequence = i + 1;
		len = pack(rec, &buf, &cap);
		packed += len;
		sink ^= buf[len - 1];
	}
	t1 = now_ns();
	(void)sink;
	free(buf);
	report(mode, count, t1 - t0, packed);
	return 0;
}

static const struct cmd {
	const char *name;
	int nargs;
	const char *args;
	int (*fn)(const char *name, char **argv);
} cmds[] = {
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
	size_t i;
	int ret;

	/* the spool reports through the agent's logger: say whose messages they are */
	nj_log_init(prog, NJ_LOG_WARN);
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		usage(stdout);
		return 0;
	}
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (strcmp(argv[1], cmds[i].name))
			continue;
		if (argc - 2 != cmds[i].nargs) {
			fprintf(stderr, "%s: %s takes %d argument%s: %s\n", prog, cmds[i].name,
				cmds[i].nargs, cmds[i].nargs == 1 ? "" : "s", cmds[i].args);
			return 2;
		}
		ret = cmds[i].fn(cmds[i].name, argv + 2);
		/* the line is the product: losing it (full disk, closed pipe) is a failure */
		if (fflush(stdout) || ferror(stdout))
			die("writing to stdout: %s", strerror(errno));
		return ret;
	}
	fprintf(stderr, "%s: unknown mode '%s'\n", prog, argv[1]);
	usage(stderr);
	return 2;
}
