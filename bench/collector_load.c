/* collector_load.c - load generator for nightjar-collector: N simulated agents, each a TLS 1.3
 * connection with its own host certificate, streaming Batches of realistic exec records and
 * timing every Ack. Prints records/s acknowledged, connections held, and the acknowledgement
 * latency (send of a batch to its Ack) at p50/p99/max. Driven by bench/collector.sh.
 *
 *   nightjar-collector-load --port P --ca CA --pki DIR --hosts N [--duration S] [--rate R]
 *                           [--batch B] [--window W] [--threads T] [--ramp S]
 *
 * Host i uses DIR/host-i.crt and DIR/host-i.key, whose CN is its host id. --rate is records/s
 * over all connections (0: as fast as the collector acknowledges). Each connection first sends
 * an empty batch to learn where the collector is for its host, then streams on from there, as
 * an agent resuming from its spool does. Figures count only the --duration window after every
 * connection is up. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <stdbool.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wire.h"

static const char *prog = "nightjar-collector-load";

#include "common.h"

#define MAX_WINDOW  64
#define LAT_BUCKETS 160

struct conn {
	int fd;
	SSL *ssl;
	int idx;
	bool up;    /* handshake done, position known */
	bool asked; /* the empty batch is out */
	bool dead;
	char host_id[64];
	uint64_t next_seq;
	uint64_t sent_ns[MAX_WINDOW];
	uint32_t sent_n[MAX_WINDOW];
	unsigned int head, inflight; /* ring of unacknowledged batches */
	uint8_t *out;
	size_t outlen, outoff;
	struct nj_wire_dec dec;
	double tokens;	 /* records it may send (rate limit) */
	uint32_t events; /* what epoll watches now */
};

struct worker {
	pthread_t th;
	int epfd;
	struct conn *conns;
	int n;
	/* results, read after join */
	uint64_t records, batches, errors;
	uint64_t lat[LAT_BUCKETS];
	int up, dead;
};

static struct {
	int port, hosts, threads, batch, window;
	double duration, rate, ramp;
	const char *ca, *pki;
} opt = {.threads = 1, .batch = 100, .window = 8, .duration = 10, .ramp = 30};

static SSL_CTX *ctx;
static uint8_t *record;
static size_t record_len;
static volatile int measuring; /* 0 warm-up, 1 measuring, 2 done */

static unsigned int lat_bucket(uint64_t us)
{
	unsigned int msb;

	if (us < 4)
		return (unsigned int)us;
	msb = 63u - (unsigned int)__builtin_clzll(us);
	return 4 * (msb - 1) + (unsigned int)((us >> (msb - 2)) & 3);
}

static uint64_t lat_bucket_top(unsigned int i)
{
	if (i < 4)
		return i + 1;
	return (uint64_t)(5 + i % 4) << (i / 4 - 1);
}

/* One exec record as the agent makes it: about 300 bytes packed. */
static void make_record(void)
{
	static char *args[] = {"/usr/bin/python3", "-m", "pip", "install", "--user", "requests"};
	Nightjar__Record r = NIGHTJAR__RECORD__INIT;
	Nightjar__Event ev = NIGHTJAR__EVENT__INIT;
	Nightjar__Host host = NIGHTJAR__HOST__INIT;
	Nightjar__Boot boot = NIGHTJAR__BOOT__INIT;
	Nightjar__ProcessEvent pe = NIGHTJAR__PROCESS_EVENT__INIT;
	Nightjar__Process p = NIGHTJAR__PROCESS__INIT, parent = NIGHTJAR__PROCESS__INIT;
	ProtobufCBinaryData argv[6];
	size_t i;

	r.has_timestamp_utc_ns = 1;
	r.timestamp_utc_ns = 1764350000123456789ull;
	ev.kind = "event";
	ev.category = "process";
	ev.type = "start";
	ev.action = "exec";
	ev.outcome = "success";
	ev.has_sequence = 1;
	ev.sequence = 123456789;
	host.name = "workstation-0042";
	host.id = "0123456789abcdef0123456789abcdef";
	boot.id = "6c3f1f4e-9a43-4d39-8a6f-1d2b3c4d5e6f";
	host.boot = &boot;
	p.has_pid = 1;
	p.pid = 48211;
	p.entity_id = "6c3f1f4e9a434d39-48211-1234567";
	p.has_name = 1;
	p.name = (ProtobufCBinaryData){7, (uint8_t *)"python3"};
	p.has_executable = 1;
	p.executable = (ProtobufCBinaryData){19, (uint8_t *)"/usr/bin/python3.11"};
	for (i = 0; i < 6; i++)
		argv[i] = (ProtobufCBinaryData){strlen(args[i]), (uint8_t *)args[i]};
	p.n_args = 6;
	p.args = argv;
	p.has_start_utc_ns = 1;
	p.start_utc_ns = 1764350000100000000ull;
	parent.has_pid = 1;
	parent.pid = 48100;
	parent.entity_id = "6c3f1f4e9a434d39-48100-1230000";
	parent.has_name = 1;
	parent.name = (ProtobufCBinaryData){4, (uint8_t *)"bash"};
	parent.has_executable = 1;
	parent.executable = (ProtobufCBinaryData){9, (uint8_t *)"/bin/bash"};
	p.parent = &parent;
	pe.process = &p;
	r.event = &ev;
	r.host = &host;
	r.body_case = NIGHTJAR__RECORD__BODY_EXEC;
	r.exec = &pe;
	record_len = protobuf_c_message_get_packed_size(&r.base);
	record = malloc(record_len);
	if (!record)
		die("out of memory");
	protobuf_c_message_pack(&r.base, record);
}

static void set_events(struct worker *w, struct conn *c, uint32_t ev)
{
	struct epoll_event e = {.events = ev, .data.ptr = c};

	/* a syscall only when it changes: a thousand connections are pumped every ms */
	if (ev == c->events)
		return;
	c->events = ev;
	epoll_ctl(w->epfd, EPOLL_CTL_MOD, c->fd, &e);
}

static void kill_conn(struct worker *w, struct conn *c, const char *why)
{
	if (c->dead)
		return;
	if (why && measuring < 2)
		fprintf(stderr, "%s: connection %d (%s): %s\n", prog, c->idx, c->host_id, why);
	c->dead = true;
	w->dead++;
	if (c->up)
		w->up--;
	epoll_ctl(w->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
}

static bool flush(struct worker *w, struct conn *c)
{
	while (c->outoff < c->outlen) {
		int n = SSL_write(c->ssl, c->out + c->outoff, (int)(c->outlen - c->outoff));

		if (n <= 0) {
			int e = SSL_get_error(c->ssl, n);

			if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ)
				return true;
			kill_conn(w, c, "write failed");
			return false;
		}
		c->outoff += (size_t)n;
	}
	free(c->out);
	c->out = NULL;
	c->outlen = c->outoff = 0;
	return true;
}

static void queue_batch(struct worker *w, struct conn *c, uint32_t n)
{
	ProtobufCBinaryData recs[1024];
	unsigned int slot;
	uint8_t *f, *o;
	size_t flen;
	uint32_t i;

	for (i = 0; i < n; i++)
		recs[i] = (ProtobufCBinaryData){record_len, record};
	if (nj_wire_encode_batch(c->host_id, c->next_seq, recs, n, 0, &f, &flen))
		die("cannot encode a batch");
	slot = (c->head + c->inflight) % MAX_WINDOW;
	c->sent_ns[slot] = now_ns();
	c->sent_n[slot] = n;
	c->inflight++;
	c->next_seq += n;
	if (!c->out) {
		c->out = f;
		c->outlen = flen;
		c->outoff = 0;
	} else {
		o = realloc(c->out, c->outlen + flen);
		if (!o)
			die("out of memory");
		memcpy(o + c->outlen, f, flen);
		c->out = o;
		c->outlen += flen;
		free(f);
	}
	(void)w;
}

static void pump(struct worker *w, struct conn *c)
{
	while (c->up && c->inflight < (unsigned int)opt.window &&
	       (opt.rate <= 0 || c->tokens >= opt.batch)) {
		queue_batch(w, c, (uint32_t)opt.batch);
		if (opt.rate > 0)
			c->tokens -= opt.batch;
	}
	if (c->out && !flush(w, c))
		return;
	set_events(w, c, EPOLLIN | (c->out ? EPOLLOUT : 0));
}

static void on_ack(struct worker *w, struct conn *c, const uint8_t *frame, size_t len)
{
	char err[256];
	Nightjar__Ack *a = nj_wire_ack_unpack(NULL, frame, len, err, sizeof(err));
	uint64_t now = now_ns();

	if (!a) {
		kill_conn(w, c, err);
		return;
	}
	if (a->error) {
		w->errors++;
		kill_conn(w, c, a->error);
	} else if (!c->up) {
		/* the answer to the empty batch: resume after what is stored */
		c->next_seq = a->stored_through + 1;
		c->up = true;
		w->up++;
	} else if (c->inflight) {
		unsigned int slot = c->head;

		if (measuring == 1) {
			unsigned int b = lat_bucket((now - c->sent_ns[slot]) / 1000);

			w->lat[b < LAT_BUCKETS ? b : LAT_BUCKETS - 1]++;
			w->records += c->sent_n[slot];
			w->batches++;
		}
		c->head = (c->head + 1) % MAX_WINDOW;
		c->inflight--;
	}
	nightjar__ack__free_unpacked(a, NULL);
}

static void on_readable(struct worker *w, struct conn *c)
{
	const uint8_t *frame;
	uint8_t *p;
	size_t room, flen;
	char err[256];
	int n, r;

	for (;;) {
		if (nj_wire_dec_space(&c->dec, &p, &room) < 0)
			die("out of memory");
		n = SSL_read(c->ssl, p, (int)room);
		if (n <= 0) {
			int e = SSL_get_error(c->ssl, n);

			if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
				kill_conn(w, c, "closed by the collector");
			return;
		}
		nj_wire_dec_commit(&c->dec, (size_t)n);
		while ((r = nj_wire_dec_next(&c->dec, &frame, &flen, err, sizeof(err))) == 1 &&
		       !c->dead)
			on_ack(w, c, frame, flen);
		if (r < 0) {
			kill_conn(w, c, err);
			return;
		}
		if (c->dead)
			return;
	}
}

static void handshake(struct worker *w, struct conn *c)
{
	int r = SSL_do_handshake(c->ssl), e;

	if (r == 1) {
		/* an empty batch: where is the collector for this host? */
		if (nj_wire_encode_batch(c->host_id, 1, NULL, 0, 0, &c->out, &c->outlen))
			die("cannot encode");
		c->asked = true;
		if (flush(w, c))
			set_events(w, c, EPOLLIN | (c->out ? EPOLLOUT : 0));
		return;
	}
	e = SSL_get_error(c->ssl, r);
	if (e == SSL_ERROR_WANT_READ)
		set_events(w, c, EPOLLIN);
	else if (e == SSL_ERROR_WANT_WRITE)
		set_events(w, c, EPOLLOUT);
	else {
		char buf[256];

		ERR_error_string_n(ERR_get_error(), buf, sizeof(buf));
		kill_conn(w, c, buf);
	}
}

static void start_conn(struct worker *w, struct conn *c)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)opt.port)};
	struct epoll_event e = {.events = EPOLLOUT, .data.ptr = c};
	char crt[4096], key[4096];
	SSL_CTX *cctx;
	int one = 1;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	snprintf(crt, sizeof(crt), "%s/host-%d.crt", opt.pki, c->idx);
	snprintf(key, sizeof(key), "%s/host-%d.key", opt.pki, c->idx);
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		die("socket: %s", strerror(errno));
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS)
		die("connect: %s", strerror(errno));
	cctx = ctx;
	c->ssl = SSL_new(cctx);
	if (!c->ssl || SSL_use_certificate_file(c->ssl, crt, SSL_FILETYPE_PEM) != 1 ||
	    SSL_use_PrivateKey_file(c->ssl, key, SSL_FILETYPE_PEM) != 1)
		die("%s: cannot load the host certificate and key", crt);
	SSL_set_fd(c->ssl, c->fd);
	SSL_set_connect_state(c->ssl);
	nj_wire_dec_init(&c->dec, 0);
	c->events = e.events;
	epoll_ctl(w->epfd, EPOLL_CTL_ADD, c->fd, &e);
}

static void *run(void *arg)
{
	struct worker *w = arg;
	struct epoll_event evs[256];
	uint64_t last = now_ns(), t;
	double per_conn = opt.rate > 0 ? opt.rate / opt.hosts : 0;
	int i, n;

	for (i = 0; i < w->n; i++)
		start_conn(w, &w->conns[i]);
	while (measuring < 2) {
		n = epoll_wait(w->epfd, evs, 256, 1);
		for (i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;

			if (c->dead)
				continue;
			if (!c->asked) {
				handshake(w, c);
				continue;
			}
			if (evs[i].events & EPOLLIN)
				on_readable(w, c);
			if (!c->dead && c->out && !flush(w, c))
				continue;
			if (!c->dead)
				pump(w, c);
		}
		t = now_ns();
		if (per_conn > 0 && t - last >= 1000000) {
			double add = per_conn * (double)(t - last) / 1e9;

			for (i = 0; i < w->n; i++) {
				struct conn *c = &w->conns[i];

				if (c->dead || !c->up)
					continue;
				/* at most one window's worth banked: no bursts after a stall */
				c->tokens += add;
				if (c->tokens > (double)opt.batch * opt.window)
					c->tokens = (double)opt.batch * opt.window;
				if (c->tokens >= opt.batch &&
				    c->inflight < (unsigned int)opt.window)
					pump(w, c);
			}
			last = t;
		}
	}
	return NULL;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{"port", required_argument, NULL, 'p'},
		{"ca", required_argument, NULL, 'c'},
		{"pki", required_argument, NULL, 'k'},
		{"hosts", required_argument, NULL, 'n'},
		{"duration", required_argument, NULL, 'd'},
		{"rate", required_argument, NULL, 'r'},
		{"batch", required_argument, NULL, 'b'},
		{"window", required_argument, NULL, 'w'},
		{"threads", required_argument, NULL, 't'},
		{"ramp", required_argument, NULL, 'R'},
		{0},
	};
	struct worker *ws;
	uint64_t lat[LAT_BUCKETS] = {0}, records = 0, batches = 0, errors = 0, t0, t1, seen;
	uint64_t p50 = 0, p99 = 0, pmax = 0;
	struct rlimit rl;
	int o, i, up, dead;
	double secs;

	while ((o = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (o) {
		case 'p':
			opt.port = atoi(optarg);
			break;
		case 'c':
			opt.ca = optarg;
			break;
		case 'k':
			opt.pki = optarg;
			break;
		case 'n':
			opt.hosts = atoi(optarg);
			break;
		case 'd':
			opt.duration = atof(optarg);
			break;
		case 'r':
			opt.rate = atof(optarg);
			break;
		case 'b':
			opt.batch = atoi(optarg);
			break;
		case 'w':
			opt.window = atoi(optarg);
			break;
		case 't':
			opt.threads = atoi(optarg);
			break;
		case 'R':
			opt.ramp = atof(optarg);
			break;
		default:
			return 2;
		}
	}
	if (!opt.port || !opt.ca || !opt.pki || opt.hosts < 1 || opt.threads < 1 || opt.batch < 1 ||
	    opt.batch > 1024 || opt.window < 1 || opt.window > MAX_WINDOW)
		die("usage: --port P --ca CA --pki DIR --hosts N [--duration S] [--rate R] "
		    "[--batch 1..1024] [--window 1..64] [--threads T]");
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	make_record();
	ctx = SSL_CTX_new(TLS_client_method());
	SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
	if (SSL_CTX_load_verify_locations(ctx, opt.ca, NULL) != 1)
		die("%s: cannot load the CA", opt.ca);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_alpn_protos(ctx, (const unsigned char *)"\x0anightjar/1", 11);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	if (opt.threads > opt.hosts)
		opt.threads = opt.hosts;
	ws = calloc((size_t)opt.threads, sizeof(*ws));
	if (!ws)
		die("out of memory");
	for (i = 0; i < opt.hosts; i++) {
		struct worker *w = &ws[i % opt.threads];

		w->n++;
	}
	for (i = 0, o = 0; i < opt.threads; i++) {
		int j;

		ws[i].epfd = epoll_create1(EPOLL_CLOEXEC);
		ws[i].conns = calloc((size_t)ws[i].n, sizeof(struct conn));
		if (!ws[i].conns)
			die("out of memory");
		for (j = 0; j < ws[i].n; j++) {
			struct conn *c = &ws[i].conns[j];
			char cn[256];
			FILE *f;

			c->idx = o++;
			snprintf(cn, sizeof(cn), "%s/host-%d.id", opt.pki, c->idx);
			f = fopen(cn, "r");
			if (!f || !fgets(c->host_id, sizeof(c->host_id), f))
				die("%s: cannot read the host id", cn);
			fclose(f);
			c->host_id[strcspn(c->host_id, "\n")] = '\0';
		}
	}
	t0 = now_ns();
	for (i = 0; i < opt.threads; i++)
		pthread_create(&ws[i].th, NULL, run, &ws[i]);
	/* every connection up (or failed), then measure */
	for (;;) {
		up = dead = 0;
		for (i = 0; i < opt.threads; i++) {
			up += ws[i].up;
			dead += ws[i].dead;
		}
		if (up + dead >= opt.hosts || (double)(now_ns() - t0) / 1e9 > opt.ramp)
			break;
		usleep(10000);
	}
	fprintf(stderr, "%s: %d of %d connections up after %.1f s; measuring for %.0f s\n", prog,
		up, opt.hosts, (double)(now_ns() - t0) / 1e9, opt.duration);
	t0 = now_ns();
	measuring = 1;
	usleep((useconds_t)(opt.duration * 1e6));
	measuring = 2;
	t1 = now_ns();
	up = 0;
	for (i = 0; i < opt.threads; i++) {
		int b;

		pthread_join(ws[i].th, NULL);
		records += ws[i].records;
		batches += ws[i].batches;
		errors += ws[i].errors;
		up += ws[i].up;
		for (b = 0; b < LAT_BUCKETS; b++)
			lat[b] += ws[i].lat[b];
	}
	seen = 0;
	for (i = 0; i < LAT_BUCKETS; i++) {
		if (!lat[i])
			continue;
		seen += lat[i];
		if (!p50 && seen * 2 >= batches)
			p50 = lat_bucket_top((unsigned int)i);
		if (!p99 && seen * 100 >= batches * 99)
			p99 = lat_bucket_top((unsigned int)i);
		pmax = lat_bucket_top((unsigned int)i);
	}
	secs = (double)(t1 - t0) / 1e9;
	printf("connections=%d held=%d seconds=%.1f records=%" PRIu64 " records_per_s=%.0f "
	       "batches=%" PRIu64 " batch=%d window=%d record_bytes=%zu ack_p50_ms=%.2f "
	       "ack_p99_ms=%.2f ack_max_ms=%.2f errors=%" PRIu64 " target_rate=%.0f\n",
	       opt.hosts, up, secs, records, (double)records / secs, batches, opt.batch, opt.window,
	       record_len, (double)p50 / 1000, (double)p99 / 1000, (double)pmax / 1000, errors,
	       opt.rate);
	return errors ? 1 : 0;
}
