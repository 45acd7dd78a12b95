/* output.c - events as JSON lines or text lines. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "output.h"

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
	if (gethostname(o->hostname, sizeof(o->hostname) - 1) < 0)
		snprintf(o->hostname, sizeof(o->hostname), "unknown");
	nj_output_sync_clock(o);
	return 0;
}

void nj_output_fini(struct nj_output *o)
{
	nj_json_free(&o->json);
}

void nj_format_time(char out[40], int64_t boot_to_real_ns, uint64_t boot_ns)
{
	/* An event and its process's start alternate between two seconds: keep the date part
	 * of the last two, so strftime runs once per second, not twice per event. */
	static struct {
		time_t sec;
		size_t len;
		char text[32];
	} cache[2] = {{.sec = -1}, {.sec = -1}};
	static unsigned int next;
	int64_t real = (int64_t)boot_ns + boot_to_real_ns;
	time_t sec = (time_t)(real / NS_PER_S);
	uint32_t frac = (uint32_t)(real % NS_PER_S);
	unsigned int c;
	struct tm tm;
	int i;

	c = cache[0].sec == sec ? 0 : cache[1].sec == sec ? 1 : 2;
	if (c == 2) {
		c = next;
		next ^= 1;
		gmtime_r(&sec, &tm);
		cache[c].len =
			strftime(cache[c].text, sizeof(cache[c].text), "%Y-%m-%dT%H:%M:%S.", &tm);
		cache[c].sec = sec;
	}
	memcpy(out, cache[c].text, cache[c].len);
	for (i = 8; i >= 0; i--, frac /= 10)
		out[cache[c].len + (size_t)i] = (char)('0' + frac % 10);
	out[cache[c].len + 9] = 'Z';
	out[cache[c].len + 10] = '\0';
}

size_t nj_open_flags(uint32_t flags, const char *names[], size_t max)
{
	static const struct {
		uint32_t bit;
		const char *name;
	} bits[] = {
		{O_APPEND, "O_APPEND"},
		{O_NONBLOCK, "O_NONBLOCK"},
		{O_DIRECT, "O_DIRECT"},
		{O_NOFOLLOW, "O_NOFOLLOW"},
		{O_NOATIME, "O_NOATIME"},
		{O_PATH, "O_PATH"},
		{O_TMPFILE & ~O_DIRECTORY, "O_TMPFILE"},
	};
	size_t n = 0, i;

	switch (flags & O_ACCMODE) {
	case O_RDONLY:
		names[n++] = "O_RDONLY";
		break;
	case O_WRONLY:
		names[n++] = "O_WRONLY";
		break;
	default:
		names[n++] = "O_RDWR";
		break;
	}
	for (i = 0; i < sizeof(bits) / sizeof(bits[0]) && n < max; i++)
		if (flags & bits[i].bit)
			names[n++] = bits[i].name;
	return n;
}

static const char *ip_string(char out[INET6_ADDRSTRLEN], uint16_t family, const uint8_t *addr)
{
	if (!inet_ntop(family == AF_INET6 ? AF_INET6 : AF_INET, addr, out, INET6_ADDRSTRLEN))
		snprintf(out, INET6_ADDRSTRLEN, "?");
	return out;
}

static const char *transport(uint16_t protocol)
{
	switch (protocol) {
	case IPPROTO_TCP:
		return "tcp";
	case IPPROTO_UDP:
		return "udp";
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		return "icmp";
	default:
		return "other";
	}
}

static const char *errno_name(int err)
{
	switch (err) {
	case ECONNREFUSED:
		return "ECONNREFUSED";
	case ETIMEDOUT:
		return "ETIMEDOUT";
	case ENETUNREACH:
		return "ENETUNREACH";
	case EHOSTUNREACH:
		return "EHOSTUNREACH";
	case EADDRINUSE:
		return "EADDRINUSE";
	case EADDRNOTAVAIL:
		return "EADDRNOTAVAIL";
	case EACCES:
		return "EACCES";
	case EPERM:
		return "EPERM";
	case EINPROGRESS:
		return "EINPROGRESS";
	case EALREADY:
		return "EALREADY";
	case EISCONN:
		return "EISCONN";
	case EINTR:
		return "EINTR";
	case ECONNRESET:
		return "ECONNRESET";
	case EAFNOSUPPORT:
		return "EAFNOSUPPORT";
	default:
		return NULL;
	}
}

/* connect's result: (ECS outcome, nightjar.result) */
static void connect_result(const struct nj_net *n, const char **outcome, const char **result)
{
	if (n->ret == 0) {
		*outcome = "success";
		*result = n->protocol == IPPROTO_UDP ? "connected" : "established";
	} else if (n->ret == -EINPROGRESS) {
		*outcome = "unknown";
		*result = "in_progress";
	} else if (n->ret == -ECONNREFUSED) {
		*outcome = "failure";
		*result = "refused";
	} else {
		*outcome = "failure";
		*result = "error";
	}
}

/* ---- lineage ----------------------------------------------------------------------- */

/* The process a record speaks of, created in the table if this is the first we hear. */
static struct nj_proc *record_proc(struct nj_output *o, const struct nj_task *t)
{
	struct nj_proc *p =
		nj_proc_get(o->procs, t->tgid, t->start_ns, t->ppid, t->parent_start_ns);

	if (p) {
		memcpy(p->comm, t->comm, sizeof(p->comm));
		p->comm[NJ_COMM_LEN - 1] = '\0';
		p->uid = t->uid;
	}
	return p;
}

static void json_args(struct nj_json *j, const char *key, const char *args, uint32_t len)
{
	uint32_t off = 0, n = 0;

	nj_json_arr_begin(j, key);
	while (off < len) {
		size_t alen = strnlen(args + off, len - off);

		nj_json_strn(j, NULL, args + off, alen);
		off += (uint32_t)alen + 1;
		n++;
	}
	nj_json_arr_end(j);
	nj_json_u64(j, "args_count", n);
}

static void json_image(struct nj_json *j, const struct nj_proc *p)
{
	if (p->exe)
		nj_json_str(j, "executable", p->exe);
	if (p->args)
		json_args(j, "args", p->args, p->args_len);
}

static void json_process(struct nj_output *o, const struct nj_task *t, const struct nj_proc *p)
{
	struct nj_json *j = &o->json;
	struct nj_proc *parent = nj_proc_find(o->procs, t->ppid, t->parent_start_ns);
	char entity[NJ_ENTITY_ID_LEN], when[40];

	nj_json_obj_begin(j, "process");
	nj_json_u64(j, "pid", t->tgid);
	nj_json_obj_begin(j, "thread");
	nj_json_u64(j, "id", t->pid);
	nj_json_obj_end(j);
	if (p)
		nj_json_str(j, "entity_id", p->entity_id);
	nj_json_strn(j, "name", t->comm, strnlen(t->comm, NJ_COMM_LEN));
	if (p) {
		json_image(j, p);
		if (p->args_trunc)
			nj_json_bool(j, "args_truncated", true);
	}
	nj_format_time(when, o->boot_to_real_ns, t->start_ns);
	nj_json_str(j, "start", when);
	nj_json_obj_begin(j, "parent");
	nj_json_u64(j, "pid", t->ppid);
	if (parent) {
		nj_json_str(j, "entity_id", parent->entity_id);
	} else {
		nj_entity_id(entity, nj_proctab_boot_id(o->procs), t->ppid, t->parent_start_ns);
		nj_json_str(j, "entity_id", entity);
	}
	if (parent) {
		nj_json_str(j, "name", parent->comm);
		json_image(j, parent);
	}
	nj_json_obj_end(j);
	nj_json_obj_begin(j, "session_leader");
	nj_json_u64(j, "pid", t->sid);
	nj_json_obj_end(j);
}

static void json_head(struct nj_output *o, uint64_t ts, const char *kind, const char *category,
		      const char *type, const char *action, const char *outcome)
{
	struct nj_json *j = &o->json;
	char when[40];

	nj_json_reset(j);
	nj_json_obj_begin(j, NULL);
	nj_format_time(when, o->boot_to_real_ns, ts);
	nj_json_str(j, "@timestamp", when);
	nj_json_obj_begin(j, "event");
	nj_json_str(j, "kind", kind);
	nj_json_str(j, "category", category);
	nj_json_str(j, "type", type);
	nj_json_str(j, "action", action);
	if (outcome)
		nj_json_str(j, "outcome", outcome);
	nj_json_obj_end(j);
	nj_json_obj_begin(j, "host");
	nj_json_str(j, "name", o->hostname);
	nj_json_obj_end(j);
}

/* user, group and the ids ECS has no name for */
static void json_identity(struct nj_json *j, const struct nj_task *t)
{
	char id[16];

	nj_json_obj_begin(j, "user");
	snprintf(id, sizeof(id), "%u", t->uid);
	nj_json_str(j, "id", id);
	nj_json_obj_begin(j, "effective");
	snprintf(id, sizeof(id), "%u", t->euid);
	nj_json_str(j, "id", id);
	nj_json_obj_end(j);
	nj_json_obj_end(j);
	nj_json_obj_begin(j, "group");
	snprintf(id, sizeof(id), "%u", t->gid);
	nj_json_str(j, "id", id);
	nj_json_obj_end(j);
}

static void json_nightjar_begin(struct nj_json *j, const struct nj_task *t)
{
	nj_json_obj_begin(j, "nightjar");
	if (t->loginuid != (uint32_t)-1)
		nj_json_u64(j, "loginuid", t->loginuid);
	nj_json_u64(j, "cgroup_id", t->cgroup_id);
	nj_json_obj_begin(j, "ns");
	nj_json_u64(j, "mnt", t->mntns);
	nj_json_u64(j, "pid", t->pidns);
	nj_json_u64(j, "net", t->netns);
	nj_json_obj_end(j);
}

static void json_endpoint(struct nj_json *j, const char *key, uint16_t family, const uint8_t *a,
			  uint16_t port, bool with_ip)
{
	char ip[INET6_ADDRSTRLEN];

	if (!with_ip && !port)
		return; /* nothing known yet: no empty object */
	nj_json_obj_begin(j, key);
	if (with_ip)
		nj_json_str(j, "ip", ip_string(ip, family, a));
	if (port)
		nj_json_u64(j, "port", port);
	nj_json_obj_end(j);
}

static void json_network(struct nj_json *j, const struct nj_net *n, const char *direction)
{
	nj_json_obj_begin(j, "network");
	nj_json_str(j, "transport", transport(n->protocol));
	nj_json_str(j, "type", n->family == AF_INET6 ? "ipv6" : "ipv4");
	if (direction)
		nj_json_str(j, "direction", direction);
	nj_json_obj_end(j);
}

static bool any_addr(const uint8_t *a, uint16_t family)
{
	static const uint8_t zero[16];

	return memcmp(a, zero, family == AF_INET6 ? 16 : 4) == 0;
}

static void json_net(struct nj_output *o, const struct nj_net *n, struct nj_proc *p)
{
	struct nj_json *j = &o->json;
	const char *outcome = "success", *result = NULL, *action, *type = "connection";

	switch (n->hdr.kind) {
	case NJ_REC_CONNECT:
		action = "connect";
		connect_result(n, &outcome, &result);
		break;
	case NJ_REC_ACCEPT:
		action = "accept";
		break;
	case NJ_REC_LISTEN:
		action = "listen";
		type = "start";
		break;
	default:
		action = "udp_send";
		break;
	}
	json_head(o, n->hdr.ts, "event", "network", type, action, outcome);
	json_process(o, &n->hdr.task, p);
	nj_json_obj_end(j);
	json_identity(j, &n->hdr.task);
	if (n->hdr.kind == NJ_REC_ACCEPT) {
		/* ECS: source is the side that initiated the connection, the remote peer */
		json_endpoint(j, "source", n->family, n->daddr, n->dport, true);
		json_endpoint(j, "destination", n->family, n->saddr, n->sport, true);
		json_network(j, n, "ingress");
	} else if (n->hdr.kind == NJ_REC_LISTEN) {
		json_endpoint(j, "source", n->family, n->saddr, n->sport, true);
		json_network(j, n, NULL);
	} else {
		json_endpoint(j, "source", n->family, n->saddr, n->sport,
			      !any_addr(n->saddr, n->family));
		json_endpoint(j, "destination", n->family, n->daddr, n->dport, true);
		json_network(j, n, "egress");
	}
	if (result && n->ret < 0) {
		const char *name = errno_name(-n->ret);

		nj_json_obj_begin(j, "error");
		nj_json_str(j, "code", name ? name : "other");
		nj_json_str(j, "message", strerror(-n->ret));
		nj_json_obj_end(j);
	}
	json_nightjar_begin(j, &n->hdr.task);
	if (result)
		nj_json_str(j, "result", result);
	nj_json_obj_end(j);
}

static void json_exec(struct nj_output *o, const struct nj_exec *e, struct nj_proc *p)
{
	struct nj_json *j = &o->json;
	char num[32];

	json_head(o, e->hdr.ts, "event", "process", "start", "exec", "success");
	json_process(o, &e->hdr.task, p);
	if (e->tty[0]) {
		nj_json_obj_begin(j, "tty");
		nj_json_strn(j, "name", e->tty, strnlen(e->tty, NJ_TTY_LEN));
		nj_json_obj_end(j);
	}
	nj_json_obj_end(j);
	json_identity(j, &e->hdr.task);
	json_nightjar_begin(j, &e->hdr.task);
	nj_json_obj_begin(j, "exe");
	snprintf(num, sizeof(num), "%llu", (unsigned long long)e->exe_ino);
	nj_json_str(j, "inode", num);
	snprintf(num, sizeof(num), "%u:%u", nj_kdev_major(e->exe_dev), nj_kdev_minor(e->exe_dev));
	nj_json_str(j, "device", num);
	nj_json_arr_begin(j, "flags");
	if (e->exe.flags & NJ_PATH_DETACHED)
		nj_json_str(j, NULL, "detached");
	if (e->exe.flags & NJ_PATH_DELETED)
		nj_json_str(j, NULL, "deleted");
	if (e->exe.flags & NJ_PATH_TRUNCATED)
		nj_json_str(j, NULL, "truncated");
	nj_json_arr_end(j);
	nj_json_obj_end(j);
	nj_json_obj_end(j);
}

static void json_lifecycle(struct nj_output *o, const struct nj_hdr *h, struct nj_proc *p)
{
	struct nj_json *j = &o->json;
	bool exit = h->kind == NJ_REC_EXIT;

	json_head(o, h->ts, "event", "process", exit ? "end" : "start", exit ? "exit" : "fork",
		  "success");
	json_process(o, &h->task, p);
	if (exit) {
		uint32_t status = ((const struct nj_exit *)h)->exit_code;

		/* a wait status: killed by a signal reads as 128 + signal, like a shell */
		nj_json_i64(j, "exit_code", status & 0x7f ? 128 + (status & 0x7f) : status >> 8);
	}
	nj_json_obj_end(j);
	json_identity(j, &h->task);
	json_nightjar_begin(j, &h->task);
	if (exit && (((const struct nj_exit *)h)->exit_code & 0x7f))
		nj_json_u64(j, "exit_signal", ((const struct nj_exit *)h)->exit_code & 0x7f);
	nj_json_obj_end(j);
}

static const char *match_name(uint32_t match)
{
	switch (match) {
	case NJ_MATCH_INODE:
		return "inode";
	case NJ_MATCH_NAME:
		return "name";
	default:
		return "signature";
	}
}

static void json_open(struct nj_output *o, const struct nj_open *e, const char *path,
		      struct nj_proc *p)
{
	struct nj_json *j = &o->json;
	const char *flags[12], *slash = strrchr(path, '/');
	char num[32];
	size_t n, i;

	json_head(o, e->hdr.ts, "event", "file", "access", "open", "success");
	json_process(o, &e->hdr.task, p);
	nj_json_obj_end(j);
	json_identity(j, &e->hdr.task);
	nj_json_obj_begin(j, "file");
	nj_json_str(j, "path", path);
	nj_json_str(j, "name", slash ? slash + 1 : path);
	snprintf(num, sizeof(num), "%llu", (unsigned long long)e->ino);
	nj_json_str(j, "inode", num);
	snprintf(num, sizeof(num), "%u:%u", nj_kdev_major(e->dev), nj_kdev_minor(e->dev));
	nj_json_str(j, "device", num);
	nj_json_obj_end(j);
	json_nightjar_begin(j, &e->hdr.task);
	nj_json_obj_begin(j, "file");
	nj_json_str(j, "match", match_name(e->match));
	nj_json_arr_begin(j, "flags");
	n = nj_open_flags(e->flags, flags, sizeof(flags) / sizeof(flags[0]));
	for (i = 0; i < n; i++)
		nj_json_str(j, NULL, flags[i]);
	nj_json_arr_end(j);
	if (e->path.flags & NJ_PATH_TRUNCATED)
		nj_json_bool(j, "path_truncated", true);
	nj_json_obj_end(j);
	nj_json_obj_end(j);
}

/* ---- text ------------------------------------------------------------------------ */

static void text_args(FILE *f, const struct nj_proc *p)
{
	uint32_t off = 0;

	if (!p || !p->args)
		return;
	while (off < p->args_len) {
		size_t alen = strnlen(p->args + off, p->args_len - off);

		fprintf(f, " %.*s", (int)alen, p->args + off);
		off += (uint32_t)alen + 1;
	}
}

static void text_record(struct nj_output *o, const struct nj_hdr *h, const struct nj_proc *p,
			const char *path)
{
	const struct nj_task *t = &h->task;
	char when[40], a[INET6_ADDRSTRLEN], b[INET6_ADDRSTRLEN];
	const struct nj_net *n = (const void *)h;
	const char *outcome, *result;

	nj_format_time(when, o->boot_to_real_ns, h->ts);
	fprintf(o->out, "%.23sZ %-8s pid=%u ppid=%u uid=%u %.16s", when,
		h->kind == NJ_REC_EXEC	     ? "exec"
		: h->kind == NJ_REC_FORK     ? "fork"
		: h->kind == NJ_REC_EXIT     ? "exit"
		: h->kind == NJ_REC_CONNECT  ? "connect"
		: h->kind == NJ_REC_ACCEPT   ? "accept"
		: h->kind == NJ_REC_LISTEN   ? "listen"
		: h->kind == NJ_REC_UDP_SEND ? "udp_send"
					     : "open",
		t->tgid, t->ppid, t->uid, t->comm);
	switch (h->kind) {
	case NJ_REC_EXEC:
		fprintf(o->out, " exe=%s args:", p && p->exe ? p->exe : "?");
		text_args(o->out, p);
		break;
	case NJ_REC_EXIT: {
		uint32_t st = ((const struct nj_exit *)h)->exit_code;

		fprintf(o->out, " code=%u", st & 0x7f ? 128 + (st & 0x7f) : st >> 8);
		break;
	}
	case NJ_REC_OPEN:
		fprintf(o->out, " file=%s match=%s", path,
			match_name(((const struct nj_open *)h)->match));
		break;
	case NJ_REC_FORK:
		break;
	default:
		fprintf(o->out, " %s %s:%u -> %s:%u", transport(n->protocol),
			ip_string(a, n->family, n->saddr), n->sport,
			ip_string(b, n->family, n->daddr), n->dport);
		if (h->kind == NJ_REC_CONNECT) {
			connect_result(n, &outcome, &result);
			fprintf(o->out, " %s", result);
		}
		break;
	}
	fputc('\n', o->out);
}

/* ---- records ---------------------------------------------------------------------- */

/* Close the event json_head() opened and write it as one line. */
static void emit(struct nj_output *o)
{
	nj_json_obj_end(&o->json);
	if (o->json.depth != 0)
		nj_warn("internal error: unbalanced JSON event (depth %d)", o->json.depth);
	if (o->json.oom) {
		nj_warn("out of memory formatting an event");
		return;
	}
	o->json.buf[o->json.len] = '\n';
	if (fwrite(o->json.buf, 1, o->json.len + 1, o->out) != o->json.len + 1)
		o->write_failed = true;
}

void nj_output_record(struct nj_output *o, const void *data, size_t len)
{
	static char path[NJ_PATH_STR_MAX];
	const struct nj_hdr *h = data;
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
	path[0] = '\0';
	if (kind == NJ_REC_EXEC) {
		const struct nj_exec *e = data;

		nj_path_string(path, sizeof(path), e->data + e->args_len, &e->exe);
		if (p && nj_proc_set_image(p, path, e->args_len ? e->data : NULL, e->args_len,
					   e->args_trunc))
			nj_warn("out of memory recording the image of pid %u", h->task.tgid);
	} else if (kind == NJ_REC_OPEN) {
		const struct nj_open *e = data;

		nj_path_string(path, sizeof(path), e->data, &e->path);
	}

	if (o->mode == NJ_OUTPUT_TEXT) {
		text_record(o, h, p, path);
	} else {
		switch (kind) {
		case NJ_REC_EXEC:
			json_exec(o, data, p);
			break;
		case NJ_REC_FORK:
		case NJ_REC_EXIT:
			json_lifecycle(o, h, p);
			break;
		case NJ_REC_OPEN:
			json_open(o, data, path, p);
			break;
		default:
			json_net(o, data, p);
			break;
		}
		emit(o);
	}
	o->events++;
	if (kind == NJ_REC_EXIT && p)
		nj_proc_exited(o->procs, p, (uint64_t)ts_ns(CLOCK_MONOTONIC));
}

void nj_output_health(struct nj_output *o, const struct nj_health *h)
{
	struct nj_json *j = &o->json;

	if (o->mode == NJ_OUTPUT_TEXT) {
		fprintf(o->out,
			"health records=%llu ringbuf_drops=%llu args_truncated=%llu "
			"paths_truncated=%llu events=%llu watched_inodes=%zu\n",
			(unsigned long long)h->stats[NJ_STAT_RECORDS],
			(unsigned long long)h->stats[NJ_STAT_RB_DROP],
			(unsigned long long)h->stats[NJ_STAT_ARGS_TRUNC],
			(unsigned long long)h->stats[NJ_STAT_PATH_TRUNC],
			(unsigned long long)o->events, h->watched_inodes);
		return;
	}
	json_head(o, (uint64_t)ts_ns(CLOCK_BOOTTIME), "metric", "host", "info", "health", NULL);
	nj_json_obj_begin(j, "nightjar");
	nj_json_obj_begin(j, "health");
	nj_json_u64(j, "records", h->stats[NJ_STAT_RECORDS]);
	nj_json_u64(j, "ringbuf_drops", h->stats[NJ_STAT_RB_DROP]);
	nj_json_u64(j, "args_truncated", h->stats[NJ_STAT_ARGS_TRUNC]);
	nj_json_u64(j, "paths_truncated", h->stats[NJ_STAT_PATH_TRUNC]);
	nj_json_u64(j, "skstorage_fail", h->stats[NJ_STAT_SKSTORAGE_FAIL]);
	nj_json_u64(j, "open_matched", h->stats[NJ_STAT_OPEN_MATCHED]);
	nj_json_u64(j, "events", o->events);
	nj_json_u64(j, "bad_records", o->bad_records);
	nj_json_u64(j, "watched_inodes", h->watched_inodes);
	nj_json_u64(j, "watched_names", h->watched_names);
	nj_json_u64(j, "watch_errors", h->watch_errors);
	nj_json_u64(j, "processes", nj_proctab_size(o->procs));
	nj_json_u64(j, "uptime_s", h->uptime_s);
	nj_json_obj_end(j);
	nj_json_obj_end(j);
	emit(o);
}
