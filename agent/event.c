/* event.c - kernel record + process table -> nightjar.Record. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "event.h"

void nj_event_init(struct nj_event *ev)
{
	memset(ev, 0, sizeof(*ev));
}

void nj_event_fini(struct nj_event *ev)
{
	size_t i;

	free(ev->args.v);
	free(ev->parent_args.v);
	for (i = 0; i < NJ_EVENT_ANCESTRY; i++)
		free(ev->anc_args[i].v);
	memset(ev, 0, sizeof(*ev));
}

const char *nj_event_path(const struct nj_event *ev)
{
	return ev->path;
}

static ProtobufCBinaryData bytes(const char *s, size_t n)
{
	return (ProtobufCBinaryData){.len = n, .data = (uint8_t *)s};
}

/* Split a NUL-separated argv area into the array, growing it as needed. */
static int split_args(struct nj_argv *a, const char *args, uint32_t len)
{
	uint32_t off = 0;

	a->n = 0;
	while (off < len) {
		size_t alen = strnlen(args + off, len - off);

		if (a->n == a->cap) {
			size_t cap = a->cap ? a->cap * 2 : 32;
			ProtobufCBinaryData *v = realloc(a->v, cap * sizeof(*v));

			if (!v)
				return -1;
			a->v = v;
			a->cap = cap;
		}
		a->v[a->n++] = bytes(args + off, alen);
		off += (uint32_t)alen + 1;
	}
	return 0;
}

/* The image (executable, argv) a process table entry knows. */
static int set_image(Nightjar__Process *pr, struct nj_argv *a, const struct nj_proc *p)
{
	if (p->exe) {
		pr->has_executable = 1;
		pr->executable = bytes(p->exe, strlen(p->exe));
	}
	if (p->args) {
		if (split_args(a, p->args, p->args_len))
			return -1;
		pr->n_args = a->n;
		pr->args = a->v;
		pr->has_args_count = 1;
		pr->args_count = (uint32_t)a->n;
	}
	if (p->args_trunc) {
		pr->has_args_truncated = 1;
		pr->args_truncated = 1;
	}
	return 0;
}

static int fill_process(struct nj_event *ev, const struct nj_host *host, const struct nj_task *t,
			const struct nj_proc *p, const struct nj_proc *parent, int64_t boot_to_real)
{
	Nightjar__Process *pr = &ev->proc, *pa = &ev->parent;

	pr->has_pid = 1;
	pr->pid = t->tgid;
	ev->thread.has_id = 1;
	ev->thread.id = t->pid;
	pr->thread = &ev->thread;
	if (p)
		pr->entity_id = (char *)p->entity_id;
	pr->has_name = 1;
	pr->name = bytes(t->comm, strnlen(t->comm, NJ_COMM_LEN));
	if (p && set_image(pr, &ev->args, p))
		return -1;
	pr->has_start_utc_ns = 1;
	pr->start_utc_ns = (uint64_t)((int64_t)t->start_ns + boot_to_real);

	pa->has_pid = 1;
	pa->pid = t->ppid;
	if (parent) {
		pa->entity_id = (char *)parent->entity_id;
		pa->has_name = 1;
		pa->name = bytes(parent->comm, strnlen(parent->comm, NJ_COMM_LEN));
		if (set_image(pa, &ev->parent_args, parent))
			return -1;
	} else {
		nj_entity_id(ev->parent_entity, host->boot_id, t->ppid, t->parent_start_ns);
		pa->entity_id = ev->parent_entity;
	}
	pr->parent = pa;
	ev->session.has_pid = 1;
	ev->session.pid = t->sid;
	pr->session_leader = &ev->session;
	return 0;
}

/* user, group, and the ids ECS has no name for */
static void fill_identity(struct nj_event *ev, const struct nj_task *t)
{
	snprintf(ev->uid, sizeof(ev->uid), "%u", t->uid);
	snprintf(ev->euid_s, sizeof(ev->euid_s), "%u", t->euid);
	snprintf(ev->gid, sizeof(ev->gid), "%u", t->gid);
	ev->user.id = ev->uid;
	ev->euid.id = ev->euid_s;
	ev->user.effective = &ev->euid;
	ev->group.id = ev->gid;
	if (t->loginuid != (uint32_t)-1) {
		ev->nj.has_loginuid = 1;
		ev->nj.loginuid = t->loginuid;
	}
	ev->nj.has_cgroup_id = 1;
	ev->nj.cgroup_id = t->cgroup_id;
	ev->ns.has_mnt = ev->ns.has_pid = ev->ns.has_net = 1;
	ev->ns.mnt = t->mntns;
	ev->ns.pid = t->pidns;
	ev->ns.net = t->netns;
	ev->nj.ns = &ev->ns;
}

static void head(struct nj_event *ev, const struct nj_host *host, uint64_t utc_ns, const char *kind,
		 const char *category, const char *type, const char *action, const char *outcome)
{
	ev->rec.has_timestamp_utc_ns = 1;
	ev->rec.timestamp_utc_ns = utc_ns;
	ev->event.kind = (char *)kind;
	ev->event.category = (char *)category;
	ev->event.type = (char *)type;
	ev->event.action = (char *)action;
	ev->event.outcome = (char *)outcome;
	ev->rec.event = &ev->event;
	ev->host.name = (char *)host->name;
	if (host->id[0])
		ev->host.id = (char *)host->id;
	ev->boot.id = (char *)host->boot_id;
	ev->host.boot = &ev->boot;
	ev->rec.host = &ev->host;
}

/* Every message the record may point to starts out unset. */
static void reset(struct nj_event *ev)
{
	nightjar__record__init(&ev->rec);
	nightjar__event__init(&ev->event);
	nightjar__host__init(&ev->host);
	nightjar__boot__init(&ev->boot);
	nightjar__process_event__init(&ev->pev);
	nightjar__network_event__init(&ev->nev);
	nightjar__file_event__init(&ev->fev);
	nightjar__health__init(&ev->health);
	nightjar__process__init(&ev->proc);
	nightjar__process__init(&ev->parent);
	nightjar__thread__init(&ev->thread);
	nightjar__pid_ref__init(&ev->session);
	nightjar__tty__init(&ev->tty);
	nightjar__user__init(&ev->user);
	nightjar__id_ref__init(&ev->euid);
	nightjar__group__init(&ev->group);
	nightjar__endpoint__init(&ev->src);
	nightjar__endpoint__init(&ev->dst);
	nightjar__network__init(&ev->net);
	nightjar__error__init(&ev->err);
	nightjar__file__init(&ev->file);
	nightjar__nightjar__init(&ev->nj);
	nightjar__namespaces__init(&ev->ns);
	nightjar__exe_info__init(&ev->exe);
	nightjar__file_match__init(&ev->match);
	nightjar__health_counters__init(&ev->counters);
	nightjar__alert__init(&ev->alert);
	nightjar__rule__init(&ev->rule);
	nightjar__threat__init(&ev->threat);
	nightjar__technique__init(&ev->technique);
	ev->path[0] = '\0';
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
	static const struct {
		int err;
		const char *name;
	} names[] = {
		{ECONNREFUSED, "ECONNREFUSED"},
		{ETIMEDOUT, "ETIMEDOUT"},
		{ENETUNREACH, "ENETUNREACH"},
		{EHOSTUNREACH, "EHOSTUNREACH"},
		{EADDRINUSE, "EADDRINUSE"},
		{EADDRNOTAVAIL, "EADDRNOTAVAIL"},
		{EACCES, "EACCES"},
		{EPERM, "EPERM"},
		{EALREADY, "EALREADY"},
		{EISCONN, "EISCONN"},
		{EINTR, "EINTR"},
		{ECONNRESET, "ECONNRESET"},
		{EAFNOSUPPORT, "EAFNOSUPPORT"},
		{ENETDOWN, "ENETDOWN"},
	};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].err == err)
			return names[i].name;
	return "other";
}

static void endpoint(Nightjar__Endpoint *e, char ip[INET6_ADDRSTRLEN], uint16_t family,
		     const uint8_t *addr, uint16_t port, int with_ip)
{
	if (with_ip &&
	    inet_ntop(family == AF_INET6 ? AF_INET6 : AF_INET, addr, ip, INET6_ADDRSTRLEN))
		e->ip = ip;
	if (port) {
		e->has_port = 1;
		e->port = port;
	}
}

static int any_addr(const uint8_t *a, uint16_t family)
{
	static const uint8_t zero[16];

	return memcmp(a, zero, family == AF_INET6 ? 16 : 4) == 0;
}

static void build_net(struct nj_event *ev, const struct nj_net *n)
{
	Nightjar__NetworkEvent *ne = &ev->nev;
	const char *action = "udp_send", *type = "connection", *outcome = "success";
	const char *direction = "egress";

	switch (n->hdr.kind) {
	case NJ_REC_CONNECT:
		action = "connect";
		if (n->ret == 0) {
			ev->nj.result = n->protocol == IPPROTO_UDP ? "connected" : "established";
		} else if (n->ret == -EINPROGRESS) {
			outcome = "unknown";
			ev->nj.result = "in_progress";
		} else {
			outcome = "failure";
			ev->nj.result = n->ret == -ECONNREFUSED ? "refused" : "error";
			ev->err.code = (char *)errno_name(-n->ret);
			ev->err.message = strerror(-n->ret);
			ne->error = &ev->err;
		}
		break;
	case NJ_REC_ACCEPT:
		action = "accept";
		direction = "ingress";
		break;
	case NJ_REC_LISTEN:
		action = "listen";
		type = "start";
		direction = NULL;
		break;
	}
	ev->event.action = (char *)action;
	ev->event.type = (char *)type;
	ev->event.outcome = (char *)outcome;

	if (n->hdr.kind == NJ_REC_ACCEPT) {
		/* ECS: source is the side that opened the connection, the remote peer */
		endpoint(&ev->src, ev->src_ip, n->family, n->daddr, n->dport, 1);
		endpoint(&ev->dst, ev->dst_ip, n->family, n->saddr, n->sport, 1);
		ne->destination = &ev->dst;
	} else if (n->hdr.kind == NJ_REC_LISTEN) {
		endpoint(&ev->src, ev->src_ip, n->family, n->saddr, n->sport, 1);
	} else {
		endpoint(&ev->src, ev->src_ip, n->family, n->saddr, n->sport,
			 !any_addr(n->saddr, n->family));
		endpoint(&ev->dst, ev->dst_ip, n->family, n->daddr, n->dport, 1);
		ne->destination = &ev->dst;
	}
	if (ev->src.ip || ev->src.has_port)
		ne->source = &ev->src;
	ev->net.transport = (char *)transport(n->protocol);
	ev->net.type = n->family == AF_INET6 ? "ipv6" : "ipv4";
	ev->net.direction = (char *)direction;
	ne->network = &ev->net;
	ne->process = &ev->proc;
	ne->user = &ev->user;
	ne->group = &ev->group;
	ne->nightjar = &ev->nj;
	switch (n->hdr.kind) {
	case NJ_REC_CONNECT:
		ev->rec.body_case = NIGHTJAR__RECORD__BODY_CONNECT;
		ev->rec.connect = ne;
		break;
	case NJ_REC_ACCEPT:
		ev->rec.body_case = NIGHTJAR__RECORD__BODY_ACCEPT;
		ev->rec.accept = ne;
		break;
	case NJ_REC_LISTEN:
		ev->rec.body_case = NIGHTJAR__RECORD__BODY_LISTEN;
		ev->rec.listen = ne;
		break;
	default:
		ev->rec.body_case = NIGHTJAR__RECORD__BODY_UDP_SEND;
		ev->rec.udp_send = ne;
		break;
	}
}

static void build_exec(struct nj_event *ev, const struct nj_exec *e)
{
	size_t nf = 0;

	if (e->tty[0]) {
		ev->tty.has_name = 1;
		ev->tty.name = bytes(e->tty, strnlen(e->tty, NJ_TTY_LEN));
		ev->proc.tty = &ev->tty;
	}
	snprintf(ev->inode, sizeof(ev->inode), "%llu", (unsigned long long)e->exe_ino);
	snprintf(ev->device, sizeof(ev->device), "%u:%u", nj_kdev_major(e->exe_dev),
		 nj_kdev_minor(e->exe_dev));
	ev->exe.inode = ev->inode;
	ev->exe.device = ev->device;
	if (e->exe.flags & NJ_PATH_DETACHED)
		ev->flags[nf++] = "detached";
	if (e->exe.flags & NJ_PATH_DELETED)
		ev->flags[nf++] = "deleted";
	if (e->exe.flags & NJ_PATH_TRUNCATED)
		ev->flags[nf++] = "truncated";
	ev->exe.n_flags = nf;
	ev->exe.flags = ev->flags;
	ev->nj.exe = &ev->exe;
}

static void build_open(struct nj_event *ev, const struct nj_open *e)
{
	const char *slash = strrchr(ev->path, '/');

	ev->file.has_path = ev->file.has_name = 1;
	ev->file.path = bytes(ev->path, strlen(ev->path));
	ev->file.name = slash ? bytes(slash + 1, strlen(slash + 1)) : ev->file.path;
	snprintf(ev->inode, sizeof(ev->inode), "%llu", (unsigned long long)e->ino);
	snprintf(ev->owner, sizeof(ev->owner), "%u", e->owner);
	ev->file.uid = ev->owner;
	snprintf(ev->device, sizeof(ev->device), "%u:%u", nj_kdev_major(e->dev),
		 nj_kdev_minor(e->dev));
	ev->file.inode = ev->inode;
	ev->file.device = ev->device;
	ev->match.match = e->match == NJ_MATCH_INODE  ? "inode"
			  : e->match == NJ_MATCH_NAME ? "name"
						      : "signature";
	ev->match.n_flags = nj_open_flags(e->flags, (const char **)ev->flags,
					  sizeof(ev->flags) / sizeof(ev->flags[0]));
	ev->match.flags = ev->flags;
	if (e->path.flags & NJ_PATH_TRUNCATED) {
		ev->match.has_path_truncated = 1;
		ev->match.path_truncated = 1;
	}
	ev->nj.file = &ev->match;
	ev->fev.process = &ev->proc;
	ev->fev.user = &ev->user;
	ev->fev.group = &ev->group;
	ev->fev.file = &ev->file;
	ev->fev.nightjar = &ev->nj;
	ev->rec.body_case = NIGHTJAR__RECORD__BODY_OPEN;
	ev->rec.open = &ev->fev;
}

Nightjar__Record *nj_event_build(struct nj_event *ev, const struct nj_host *host, const void *data,
				 const struct nj_proc *p, const struct nj_proc *parent,
				 int64_t boot_to_real_ns)
{
	const struct nj_hdr *h = data;
	uint32_t status;

	reset(ev);
	head(ev, host, (uint64_t)((int64_t)h->ts + boot_to_real_ns), "event", "process", "start",
	     NULL, "success");
	if (fill_process(ev, host, &h->task, p, parent, boot_to_real_ns))
		return NULL;
	fill_identity(ev, &h->task);
	ev->pev.process = &ev->proc;
	ev->pev.user = &ev->user;
	ev->pev.group = &ev->group;
	ev->pev.nightjar = &ev->nj;

	switch (h->kind) {
	case NJ_REC_EXEC: {
		const struct nj_exec *e = data;

		nj_path_string(ev->path, sizeof(ev->path), e->data + e->args_len, &e->exe);
		ev->event.action = "exec";
		build_exec(ev, e);
		ev->rec.body_case = NIGHTJAR__RECORD__BODY_EXEC;
		ev->rec.exec = &ev->pev;
		break;
	}
	case NJ_REC_FORK:
		ev->event.action = "fork";
		ev->rec.body_case = NIGHTJAR__RECORD__BODY_FORK;
		ev->rec.fork = &ev->pev;
		break;
	case NJ_REC_EXIT:
		status = ((const struct nj_exit *)data)->exit_code;
		ev->event.action = "exit";
		ev->event.type = "end";
		/* a wait status: killed by a signal reads as 128 + signal, as in a shell */
		ev->proc.has_exit_code = 1;
		ev->proc.exit_code = (int32_t)(status & 0x7f ? 128 + (status & 0x7f) : status >> 8);
		if (status & 0x7f) {
			ev->nj.has_exit_signal = 1;
			ev->nj.exit_signal = status & 0x7f;
		}
		ev->rec.body_case = NIGHTJAR__RECORD__BODY_EXIT;
		ev->rec.exit = &ev->pev;
		break;
	case NJ_REC_OPEN: {
		const struct nj_open *e = data;

		nj_path_string(ev->path, sizeof(ev->path), e->data, &e->path);
		ev->event.category = "file";
		ev->event.type = "access";
		ev->event.action = "open";
		build_open(ev, e);
		break;
	}
	default:
		ev->event.category = "network";
		build_net(ev, data);
		break;
	}
	return &ev->rec;
}

Nightjar__Record *nj_event_health(struct nj_event *ev, const struct nj_host *host,
				  const struct nj_health_in *h, uint64_t utc_ns)
{
	Nightjar__HealthCounters *c = &ev->counters;

	reset(ev);
	head(ev, host, utc_ns, "metric", "host", "info", "health", NULL);
	c->has_records = c->has_ringbuf_drops = c->has_args_truncated = 1;
	c->has_paths_truncated = c->has_skstorage_fail = c->has_open_matched = 1;
	c->has_events = c->has_bad_records = c->has_watched_inodes = c->has_watched_names = 1;
	c->has_watch_errors = c->has_processes = c->has_uptime_s = 1;
	c->records = h->stats[NJ_STAT_RECORDS];
	c->ringbuf_drops = h->stats[NJ_STAT_RB_DROP];
	c->args_truncated = h->stats[NJ_STAT_ARGS_TRUNC];
	c->paths_truncated = h->stats[NJ_STAT_PATH_TRUNC];
	c->skstorage_fail = h->stats[NJ_STAT_SKSTORAGE_FAIL];
	c->open_matched = h->stats[NJ_STAT_OPEN_MATCHED];
	c->events = h->events;
	c->bad_records = h->bad_records;
	c->watched_inodes = h->watched_inodes;
	c->watched_names = h->watched_names;
	c->watch_errors = h->watch_errors;
	c->processes = h->processes;
	c->uptime_s = h->uptime_s;
	c->has_alerts = c->has_alert_repeats = 1;
	c->alerts = h->alerts;
	c->alert_repeats = h->alert_repeats;
	if (h->has_spool) {
		c->has_spool_bytes = c->has_spool_segments = c->has_spool_oldest_sequence = 1;
		c->has_spool_evicted_records = c->has_spool_write_errors = 1;
		c->has_spool_truncated_bytes = 1;
		c->spool_bytes = h->spool_bytes;
		c->spool_segments = h->spool_segments;
		c->spool_oldest_sequence = h->spool_oldest_seq;
		c->spool_evicted_records = h->spool_evicted;
		c->spool_write_errors = h->spool_errors;
		c->spool_truncated_bytes = h->spool_truncated;
	}
	c->has_ship_acked_sequence = c->has_ship_acked_records = h->has_ship;
	c->has_ship_backlog_records = c->has_ship_lost_records = h->has_ship;
	c->ship_acked_sequence = h->ship_acked_seq;
	c->ship_acked_records = h->ship_acked;
	c->ship_backlog_records = h->ship_backlog;
	c->ship_lost_records = h->ship_lost;
	ev->nj.health = c;
	ev->health.nightjar = &ev->nj;
	ev->rec.body_case = NIGHTJAR__RECORD__BODY_HEALTH;
	ev->rec.health = &ev->health;
	return &ev->rec;
}

/* One ancestor: what the table knows of it. */
static int fill_ancestor(struct nj_event *ev, size_t i, const struct nj_proc *q,
			 int64_t boot_to_real)
{
	Nightjar__Process *pr = &ev->anc[i];

	nightjar__process__init(pr);
	nightjar__user__init(&ev->anc_user[i]);
	pr->has_pid = 1;
	pr->pid = q->tgid;
	pr->entity_id = (char *)q->entity_id;
	pr->has_name = 1;
	pr->name = bytes(q->comm, strnlen(q->comm, NJ_COMM_LEN));
	pr->has_start_utc_ns = 1;
	pr->start_utc_ns = (uint64_t)((int64_t)q->start_ns + boot_to_real);
	snprintf(ev->anc_uid[i], sizeof(ev->anc_uid[i]), "%u", q->uid);
	ev->anc_user[i].id = ev->anc_uid[i];
	pr->user = &ev->anc_user[i];
	ev->anc_p[i] = pr;
	return set_image(pr, &ev->anc_args[i], q);
}

Nightjar__Record *nj_event_alert(struct nj_event *ev, const struct nj_host *host,
				 const struct nj_alert *a, struct nj_proctab *procs,
				 int64_t boot_to_real_ns)
{
	const struct nj_proc *p = nj_proc_find(procs, a->tgid, a->start_ns), *q;
	Nightjar__Alert *al = &ev->alert;
	struct nj_task *t = &ev->alert_task;
	size_t i;

	reset(ev);
	head(ev, host, (uint64_t)((int64_t)a->ts + boot_to_real_ns), "alert", "intrusion_detection",
	     "info", a->category, NULL);
	ev->event.has_severity = 1;
	ev->event.severity = a->severity;
	ev->nj.severity = (char *)nj_severity_label(a->severity);
	ev->nj.has_count = 1;
	ev->nj.count = a->count;

	/* the acting process as the table knows it; the task fields come from it */
	memset(t, 0, sizeof(*t));
	t->tgid = t->pid = a->tgid;
	t->start_ns = a->start_ns;
	if (p) {
		t->ppid = p->ppid;
		t->parent_start_ns = p->parent_start_ns;
		t->uid = t->euid = p->uid;
		t->sid = p->sid;
		memcpy(t->comm, p->comm, sizeof(t->comm));
	}
	if (fill_process(ev, host, t, p,
			 p ? nj_proc_find(procs, p->ppid, p->parent_start_ns) : NULL,
			 boot_to_real_ns))
		return NULL;
	if (!p || !p->sid)
		ev->proc.session_leader = NULL;
	if (!p) { /* gone from the table: its pid is all that is left to say */
		ev->proc.parent = NULL;
		ev->proc.has_name = 0;
	}
	snprintf(ev->uid, sizeof(ev->uid), "%u", t->uid);
	ev->user.id = ev->uid;
	if (p)
		al->user = &ev->user;
	al->process = &ev->proc;

	/* above the parent, ending at the session leader (or init, or what the table forgot) */
	q = p ? nj_proc_find(procs, p->ppid, p->parent_start_ns) : NULL;
	for (i = 0; i < NJ_EVENT_ANCESTRY; i++) {
		if (!q || q->tgid <= 1 || q->tgid == q->sid)
			break;
		q = nj_proc_find(procs, q->ppid, q->parent_start_ns);
		if (!q)
			break;
		if (fill_ancestor(ev, i, q, boot_to_real_ns))
			return NULL;
		ev->nj.n_ancestry = i + 1;
	}
	ev->nj.ancestry = ev->anc_p;

	ev->rule.id = (char *)a->rule_id;
	ev->rule.name = (char *)a->rule_name;
	ev->rule.category = (char *)a->category;
	al->rule = &ev->rule;
	if (a->technique) {
		ev->technique.id = (char *)a->technique;
		ev->threat.framework = "MITRE ATT&CK";
		ev->threat.technique = &ev->technique;
		al->threat = &ev->threat;
	}
	al->message = (char *)a->message;
	al->n_trigger_sequences = a->n_seqs;
	al->trigger_sequences = (uint64_t *)a->seqs;
	for (i = 0; i < a->n_files; i++) {
		const char *slash = strrchr(a->files[i], '/');

		nightjar__file__init(&ev->files[i]);
		ev->files[i].has_path = ev->files[i].has_name = 1;
		ev->files[i].path = bytes(a->files[i], strlen(a->files[i]));
		ev->files[i].name = bytes(slash ? slash + 1 : a->files[i],
					  strlen(slash ? slash + 1 : a->files[i]));
		ev->file_p[i] = &ev->files[i];
	}
	al->n_files = a->n_files;
	al->files = ev->file_p;
	for (i = 0; i < a->n_dests; i++) {
		nightjar__endpoint__init(&ev->dests[i]);
		endpoint(&ev->dests[i], ev->dest_ip[i], a->dests[i].family, a->dests[i].addr,
			 a->dests[i].port, 1);
		ev->dest_p[i] = &ev->dests[i];
	}
	al->n_destinations = a->n_dests;
	al->destinations = ev->dest_p;
	al->nightjar = &ev->nj;
	ev->rec.body_case = NIGHTJAR__RECORD__BODY_ALERT;
	ev->rec.alert = al;
	return &ev->rec;
}
