/* server.c - TLS connections from agents, batches in, Acks out, and the group commit.
 *
 * Every connection is a nonblocking socket with an OpenSSL object on the one epoll loop. Bytes
 * read go straight into the connection's frame decoder (agent/wire.c); each whole frame is a
 * Batch, checked against the client certificate, trimmed to what the host has not stored yet,
 * and handed to the sink. The loop's idle hook then commits the round (the sink makes every
 * record of it durable at once) and queues the Acks, in batch order per connection. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "log.h"
#include "pbjson.h"
#include "server.h"
#include "version.h"
#include "wire.h"

/* certificate names a connection may speak for: CN, SAN DNS names, nightjar:host: URIs */
#define NAMES_MAX 8
/* a connection with this many unacknowledged batches, or this many Ack bytes it has not
 * taken, is not read from until Acks go out: one that never reads its Acks is held up by TCP.
 * One callback reads at most ROUND_READ_MAX, so one fast agent cannot starve the rest. */
#define PENDING_MAX	 1024
#define ROUND_READ_MAX	 (4u << 20)
#define OUT_MAX		 (1u << 20)
#define ACCEPT_PER_ROUND 64
#define URI_PREFIX	 "nightjar:host:"
/* ack latency histogram, four buckets per power of two of µs (lat_bucket()) */
#define LAT_BUCKETS 128

enum conn_state { CONN_HANDSHAKE, CONN_OPEN, CONN_CLOSING };

struct hist {
	uint64_t b[LAT_BUCKETS];
	uint64_t n;
};

/* A round handed to the sink. */
struct job {
	struct njc_pending *head;
	uint64_t started_ns;
	bool async; /* the sink finishes it later (else it was done when handed over) */
	bool done;
};

struct njc_conn {
	int fd;
	SSL *ssl;
	enum conn_state state;
	char peer[INET6_ADDRSTRLEN + 16];
	char *names[NAMES_MAX];
	size_t nnames;
	struct nj_wire_dec dec;
	uint8_t *out;
	size_t outlen, outoff, outcap;
	size_t npend;	     /* batches received and not yet acknowledged */
	bool paused;	     /* not read from until the round is committed */
	bool write_blocked;  /* SSL_write wants the socket writable */
	bool read_blocked_w; /* SSL_read wants the socket writable */
	bool hs_wants_write; /* the handshake does */
	bool failed;	     /* an error Ack was queued: nothing more is acknowledged */
	bool in_flush;	     /* on the list of connections with new Acks */
	unsigned int events; /* what the loop watches now (NJ_LOOP_*) */
	bool dead;	     /* closed; freed when the round ends */
	uint64_t started_ms, last_rx_ms;
	struct njc_host *host; /* the host it spoke for last */
	struct njc_server *srv;
	struct njc_conn *prev, *next;
	struct njc_conn *next_flush;
};

struct njc_server {
	const struct njc_config *cfg;
	struct nj_loop *loop;
	struct njc_sink *sink;
	SSL_CTX *ctx;
	int lfd;
	struct njc_conn *conns;
	size_t nconns;
	struct nj_arena arena; /* one Batch unpacked at a time */
	/* the round being gathered: batches received, hosts touched */
	struct njc_pending *round_head, *round_tail;
	struct njc_host *round_hosts;
	/* earlier rounds, being made durable by the sink, oldest first */
	struct job jobs[NJC_MAX_COMMITS];
	unsigned int job_first, njobs;
	struct njc_conn *dead; /* closed during the round, freed after it */
	uint64_t started_ms;
	/* counters for the status */
	uint64_t accepted, refused_full, handshake_failures, identity_refusals, bad_frames, stalled,
		idle_closed, storage_failures, batches, acks, records_in, duplicates;
	struct hist ack_lat;	/* batch received -> Ack queued */
	struct hist commit_lat; /* round handed to the sink -> durable */
};

/* ---- TLS setup ---- */

static void ssl_errors(char *buf, size_t len)
{
	unsigned long e;
	size_t o = 0;

	buf[0] = '\0';
	while ((e = ERR_get_error()) && o + 2 < len) {
		if (o)
			o += (size_t)snprintf(buf + o, len - o, "; ");
		ERR_error_string_n(e, buf + o, len - o);
		o = strlen(buf);
	}
	if (!buf[0])
		snprintf(buf, len, "%s", errno ? strerror(errno) : "connection closed");
}

static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
		       const unsigned char *in, unsigned int inlen, void *arg)
{
	static const unsigned char ours[] = "\x0a" NJ_WIRE_ALPN;
	unsigned char *sel;

	(void)ssl;
	(void)arg;
	if (SSL_select_next_proto(&sel, outlen, ours, sizeof(ours) - 1, in, inlen) !=
	    OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_ALERT_FATAL;
	*out = sel;
	return SSL_TLSEXT_ERR_OK;
}

static SSL_CTX *tls_context(const struct njc_config *cfg, char *err, size_t errlen)
{
	char why[512];
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	STACK_OF(X509_NAME) * cas;

	if (!ctx)
		goto err;
	SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
	if (SSL_CTX_use_certificate_chain_file(ctx, cfg->tls_cert) != 1) {
		ssl_errors(why, sizeof(why));
		snprintf(err, errlen, "tls.cert %s: %s", cfg->tls_cert, why);
		goto err_free;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, cfg->tls_key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		ssl_errors(why, sizeof(why));
		snprintf(err, errlen, "tls.key %s: %s", cfg->tls_key, why);
		goto err_free;
	}
	if (SSL_CTX_load_verify_locations(ctx, cfg->tls_ca, NULL) != 1) {
		ssl_errors(why, sizeof(why));
		snprintf(err, errlen, "tls.ca %s: %s", cfg->tls_ca, why);
		goto err_free;
	}
	cas = SSL_load_client_CA_file(cfg->tls_ca);
	if (cas)
		SSL_CTX_set_client_CA_list(ctx, cas);
	/* a client without a certificate from this CA never gets past the handshake */
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	SSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);
	/* partial writes of the Ack buffer, which moves as it grows; idle connections give
	 * their 16 KiB record buffers back (a thousand agents mostly wait) */
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
				      SSL_MODE_RELEASE_BUFFERS);
	/* An agent that closes without close_notify ends its stream like one that sends it:
	 * frames are self-delimiting, so a cut inside one is still seen (mid-frame). */
	SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
	/* agents reconnect rarely; resumption would only add state to keep */
	SSL_CTX_set_num_tickets(ctx, 0);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	return ctx;
err:
	ssl_errors(why, sizeof(why));
	snprintf(err, errlen, "TLS: %s", why);
	return NULL;
err_free:
	SSL_CTX_free(ctx);
	return NULL;
}

/* ---- connections ---- */

static void update_events(struct njc_conn *c);
static void conn_read(struct njc_conn *c);
static void conn_close(struct njc_conn *c, const char *why);

static void peer_name(int fd, char *out, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char host[INET6_ADDRSTRLEN], port[8];

	if (getpeername(fd, (struct sockaddr *)&ss, &sl) < 0 ||
	    getnameinfo((struct sockaddr *)&ss, sl, host, sizeof(host), port, sizeof(port),
			NI_NUMERICHOST | NI_NUMERICSERV))
		snprintf(out, len, "?");
	else if (ss.ss_family == AF_INET6)
		snprintf(out, len, "[%s]:%s", host, port);
	else
		snprintf(out, len, "%s:%s", host, port);
}

static void add_name(struct njc_conn *c, const unsigned char *s, int len)
{
	char *n;

	/* a name with a NUL inside would compare equal to its prefix */
	if (len <= 0 || len > NJC_HOST_ID_MAX || memchr(s, 0, (size_t)len) ||
	    c->nnames == NAMES_MAX)
		return;
	n = strndup((const char *)s, (size_t)len);
	if (n)
		c->names[c->nnames++] = n;
}

/* The names of the verified client certificate a batch's host id may equal. */
static void cert_names(struct njc_conn *c)
{
	X509 *cert = SSL_get1_peer_certificate(c->ssl);
	GENERAL_NAMES *sans;
	X509_NAME *subj;
	int i;

	if (!cert)
		return;
	subj = X509_get_subject_name(cert);
	i = subj ? X509_NAME_get_index_by_NID(subj, NID_commonName, -1) : -1;
	if (i >= 0) {
		ASN1_STRING *d = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, i));

		add_name(c, ASN1_STRING_get0_data(d), ASN1_STRING_length(d));
	}
	sans = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	for (i = 0; sans && i < sk_GENERAL_NAME_num(sans); i++) {
		GENERAL_NAME *g = sk_GENERAL_NAME_value(sans, i);
		const unsigned char *s;
		int len;

		if (g->type == GEN_DNS) {
			add_name(c, ASN1_STRING_get0_data(g->d.dNSName),
				 ASN1_STRING_length(g->d.dNSName));
		} else if (g->type == GEN_URI) {
			s = ASN1_STRING_get0_data(g->d.uniformResourceIdentifier);
			len = ASN1_STRING_length(g->d.uniformResourceIdentifier);
			if (len > (int)strlen(URI_PREFIX) &&
			    !memcmp(s, URI_PREFIX, strlen(URI_PREFIX)))
				add_name(c, s + strlen(URI_PREFIX), len - (int)strlen(URI_PREFIX));
		}
	}
	GENERAL_NAMES_free(sans);
	X509_free(cert);
}

static bool cert_allows(const struct njc_conn *c, const char *host_id)
{
	size_t i;

	for (i = 0; i < c->nnames; i++)
		if (!strcmp(c->names[i], host_id))
			return true;
	return false;
}

static int on_conn(int fd, void *arg);

static void accept_one(struct njc_server *s, int fd)
{
	struct njc_conn *c;
	int one = 1;

	if (s->nconns >= s->cfg->max_connections) {
		s->refused_full++;
		if (s->refused_full == 1 || s->refused_full % 1000 == 0)
			nj_warn("%zu connections open (max_connections): refusing more (%" PRIu64
				" so far)",
				s->nconns, s->refused_full);
		close(fd);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return;
	}
	/* Acks are small and latency matters more than packet count */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->fd = fd;
	c->srv = s;
	c->state = CONN_HANDSHAKE;
	c->events = NJ_LOOP_READ; /* as nj_loop_add_fd() watches it */
	c->started_ms = c->last_rx_ms = njc_now_ms();
	peer_name(fd, c->peer, sizeof(c->peer));
	nj_wire_dec_init(&c->dec, (uint32_t)s->cfg->max_frame);
	c->ssl = SSL_new(s->ctx);
	if (!c->ssl || SSL_set_fd(c->ssl, fd) != 1 || nj_loop_add_fd(s->loop, fd, on_conn, c)) {
		nj_err("peer %s: cannot set up the connection", c->peer);
		SSL_free(c->ssl);
		close(fd);
		free(c);
		return;
	}
	SSL_set_accept_state(c->ssl);
	c->next = s->conns;
	if (s->conns)
		s->conns->prev = c;
	s->conns = c;
	s->nconns++;
	s->accepted++;
}

static int on_listen(int fd, void *arg)
{
	struct njc_server *s = arg;
	int i, cfd;

	for (i = 0; i < ACCEPT_PER_ROUND; i++) {
		cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				nj_warn("accept: %s", strerror(errno));
			break;
		}
		accept_one(s, cfd);
	}
	return 0;
}

static void conn_close(struct njc_conn *c, const char *why)
{
	struct njc_server *s = c->srv;
	struct njc_pending *p;
	size_t i;

	if (why)
		nj_info("peer %s%s%s: closed: %s", c->peer, c->host ? " host " : "",
			c->host ? c->host->id : "", why);
	/* its batches are still committed, just not acknowledged */
	for (p = s->round_head; p; p = p->next_in_group)
		if (p->conn == c)
			p->conn = NULL;
	for (unsigned int k = 0; k < s->njobs; k++)
		for (p = s->jobs[(s->job_first + k) % NJC_MAX_COMMITS].head; p;
		     p = p->next_in_group)
			if (p->conn == c)
				p->conn = NULL;
	if (c->host)
		c->host->conns--;
	nj_loop_del_fd(s->loop, c->fd);
	if (c->state != CONN_HANDSHAKE)
		SSL_shutdown(c->ssl); /* best effort close_notify; nothing waits for the reply */
	SSL_free(c->ssl);
	close(c->fd);
	nj_wire_dec_free(&c->dec);
	free(c->out);
	for (i = 0; i < c->nnames; i++)
		free(c->names[i]);
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	s->nconns--;
	/* callers up the stack may still hold c: free it once the round is over */
	c->dead = true;
	c->next = s->dead;
	s->dead = c;
}

/* Write what is queued. false when the connection broke (and was closed). */
static bool conn_flush(struct njc_conn *c)
{
	char why[256];
	int n;

	c->write_blocked = false;
	while (c->outoff < c->outlen) {
		ERR_clear_error();
		n = SSL_write(c->ssl, c->out + c->outoff, (int)(c->outlen - c->outoff));
		if (n > 0) {
			c->outoff += (size_t)n;
			continue;
		}
		switch (SSL_get_error(c->ssl, n)) {
		case SSL_ERROR_WANT_WRITE:
			c->write_blocked = true;
			return true;
		case SSL_ERROR_WANT_READ:
			return true;
		default:
			ssl_errors(why, sizeof(why));
			conn_close(c, why);
			return false;
		}
	}
	c->outoff = c->outlen = 0;
	if (c->state == CONN_CLOSING) {
		conn_close(c, NULL);
		return false;
	}
	return true;
}

static void queue_ack(struct njc_conn *c, uint64_t first, uint32_t count, uint64_t through,
		      const char *error)
{
	if (c->outcap - c->outlen < NJ_WIRE_ACK_MAX) {
		size_t cap = c->outcap ? c->outcap * 2 : 4096;
		uint8_t *b;

		while (cap - c->outlen < NJ_WIRE_ACK_MAX)
			cap *= 2;
		b = realloc(c->out, cap);
		if (!b)
			return; /* the agent times out and resends: nothing is lost */
		c->out = b;
		c->outcap = cap;
	}
	c->outlen += nj_wire_encode_ack(c->out + c->outlen, first, count, through, error);
}

static void join_round(struct njc_server *s, struct njc_pending *p)
{
	if (s->round_tail)
		s->round_tail->next_in_group = p;
	else
		s->round_head = p;
	s->round_tail = p;
	if (p->conn)
		p->conn->npend++;
	if (p->host)
		p->host->unacked++;
	if (p->host && !p->host->in_group) {
		p->host->in_group = true;
		p->host->next_in_group = s->round_hosts;
		s->round_hosts = p->host;
	}
}

/* Refuse: an Ack with the error goes out in its turn, then the connection closes. */
static void refuse(struct njc_conn *c, uint64_t first, uint32_t count, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void refuse(struct njc_conn *c, uint64_t first, uint32_t count, const char *fmt, ...)
{
	struct njc_pending *p = calloc(1, sizeof(*p));
	char msg[NJ_WIRE_ERROR_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	c->state = CONN_CLOSING;
	if (!p) {
		conn_close(c, msg);
		return;
	}
	p->conn = c;
	p->first_seq = first;
	p->count = count;
	p->error = strdup(msg);
	p->t_recv_ns = njc_now_ns();
	join_round(c->srv, p);
}

static void batch(struct njc_conn *c, const uint8_t *frame, size_t len)
{
	struct njc_server *s = c->srv;
	char err[NJ_WIRE_ERROR_MAX], names[256];
	struct njc_pending *p;
	struct njc_host *h;
	Nightjar__Batch *b;
	uint64_t first, start, skip;
	size_t n, i, o;
	int e;

	nj_arena_reset(&s->arena);
	b = nj_wire_batch_unpack(&s->arena.alloc, frame, len, err, sizeof(err));
	if (!b) {
		s->bad_frames++;
		nj_warn("peer %s: %s", c->peer, err);
		refuse(c, 0, 0, "%s", err);
		return;
	}
	first = b->first_sequence;
	n = b->n_records;
	s->batches++;
	if (!njc_host_id_valid(b->host_id)) {
		s->identity_refusals++;
		nj_warn("peer %s: refused a batch: host id is not 1-64 characters of "
			"[0-9A-Za-z._-]",
			c->peer);
		refuse(c, first, (uint32_t)n, "host id is not 1-64 characters of [0-9A-Za-z._-]");
		return;
	}
	if (!cert_allows(c, b->host_id)) {
		for (i = 0, o = 0, names[0] = '\0'; i < c->nnames && o < sizeof(names); i++)
			o += (size_t)snprintf(names + o, sizeof(names) - o, "%s'%s'", i ? ", " : "",
					      c->names[i]);
		s->identity_refusals++;
		nj_warn("peer %s: host id '%s' does not match the client certificate (names %s): "
			"refused",
			c->peer, b->host_id, c->nnames ? names : "none");
		refuse(c, first, (uint32_t)n,
		       "host id '%s' does not match the client certificate (names %s)", b->host_id,
		       c->nnames ? names : "none");
		return;
	}
	h = njc_host_get(b->host_id, true);
	if (!h) {
		refuse(c, first, (uint32_t)n, "collector out of memory");
		return;
	}
	if (!h->opened) {
		e = s->sink->ops->host_open(s->sink, h, err, sizeof(err));
		if (e) {
			s->storage_failures++;
			nj_err("host %s: %s", h->id, err);
			refuse(c, first, (uint32_t)n, "storage failed: %s", err);
			return;
		}
		nj_info("host %s: stored through sequence %" PRIu64, h->id, h->durable);
	} else if (c->host != h && s->sink->ops->host_refresh && !h->unacked) {
		e = s->sink->ops->host_refresh(s->sink, h, err, sizeof(err));
		if (e) {
			s->storage_failures++;
			nj_err("host %s: %s", h->id, err);
			refuse(c, first, (uint32_t)n, "storage failed: %s", err);
			return;
		}
	}
	if (c->host != h) {
		if (c->host)
			c->host->conns--;
		c->host = h;
		h->conns++;
		nj_info("peer %s: host %s connected", c->peer, h->id);
	}
	h->last_seen_utc_ns = njc_utc_ns();
	h->last_seen_mono_ms = njc_now_ms();
	p = calloc(1, sizeof(*p));
	if (!p) {
		refuse(c, first, (uint32_t)n, "collector out of memory");
		return;
	}
	p->conn = c;
	p->host = h;
	p->first_seq = first;
	p->count = (uint32_t)n;
	p->t_recv_ns = njc_now_ns();
	p->failures = h->failures;
	s->records_in += n;
	/* records at or below the mark are stored already: acknowledged, not stored again */
	skip = h->accepted >= first ? h->accepted - first + 1 : 0;
	if (skip > n)
		skip = n;
	h->duplicates += skip;
	s->duplicates += skip;
	if (skip < n) {
		start = first + skip;
		if (h->accepted && start > h->accepted + 1) {
			h->gaps++;
			h->missing += start - h->accepted - 1;
			h->last_gap_from = h->accepted;
			h->last_gap_to = start;
			nj_warn("host %s: sequence jumped from %" PRIu64 " to %" PRIu64 " (%" PRIu64
				" records missing)",
				h->id, h->accepted, start, start - h->accepted - 1);
		} else if (!h->accepted && start > 1) {
			nj_info("host %s: its first records here start at sequence %" PRIu64, h->id,
				start);
		}
		e = s->sink->ops->store(s->sink, h, p, start, b->records + skip, n - skip, err,
					sizeof(err));
		if (e) {
			s->storage_failures++;
			nj_err("host %s: %s", h->id, err);
			if (asprintf(&p->error, "storage failed: %s", err) < 0)
				p->error = NULL;
			c->state = CONN_CLOSING;
		} else {
			h->accepted = start + (n - skip) - 1;
			p->last_new = h->accepted;
			h->records += n - skip;
		}
	}
	join_round(s, p);
}

static void conn_read(struct njc_conn *c)
{
	struct njc_server *s = c->srv;
	const uint8_t *frame;
	size_t room, flen, got = 0;
	char why[256];
	uint8_t *buf;
	int n, r;

	c->read_blocked_w = false;
	while (c->state == CONN_OPEN && !c->paused) {
		if (nj_wire_dec_space(&c->dec, &buf, &room) < 0) {
			conn_close(c, "out of memory for its frame");
			return;
		}
		ERR_clear_error();
		errno = 0;
		n = SSL_read(c->ssl, buf, room > INT32_MAX ? INT32_MAX : (int)room);
		if (n <= 0) {
			switch (SSL_get_error(c->ssl, n)) {
			case SSL_ERROR_WANT_READ:
				return;
			case SSL_ERROR_WANT_WRITE:
				c->read_blocked_w = true;
				return;
			case SSL_ERROR_ZERO_RETURN:
				conn_close(c, nj_wire_dec_partial(&c->dec)
						      ? "the agent closed the connection mid-frame"
						      : NULL);
				return;
			default:
				ssl_errors(why, sizeof(why));
				conn_close(c, why);
				return;
			}
		}
		nj_wire_dec_commit(&c->dec, (size_t)n);
		c->last_rx_ms = njc_now_ms();
		got += (size_t)n;
		while (c->state == CONN_OPEN &&
		       (r = nj_wire_dec_next(&c->dec, &frame, &flen, why, sizeof(why))) != 0) {
			if (r < 0) {
				s->bad_frames++;
				nj_warn("peer %s: %s", c->peer, why);
				refuse(c, 0, 0, "%s", why);
				break;
			}
			batch(c, frame, flen);
		}
		if (c->npend >= PENDING_MAX || c->outlen - c->outoff >= OUT_MAX)
			c->paused = true;
		/* fair shares: the socket stays readable, so epoll brings us back to it after
		 * the others (unless TLS holds the rest of a record, which no event announces) */
		if (got >= ROUND_READ_MAX && !SSL_pending(c->ssl))
			return;
	}
}

static void handshake(struct njc_conn *c)
{
	struct njc_server *s = c->srv;
	const unsigned char *alpn;
	unsigned int alpn_len;
	char why[512];
	int r;

	ERR_clear_error();
	errno = 0;
	r = SSL_do_handshake(c->ssl);
	c->hs_wants_write = false;
	if (r != 1) {
		switch (SSL_get_error(c->ssl, r)) {
		case SSL_ERROR_WANT_READ:
			return;
		case SSL_ERROR_WANT_WRITE:
			c->hs_wants_write = true;
			return;
		default:
			s->handshake_failures++;
			ssl_errors(why, sizeof(why));
			nj_warn("peer %s: TLS handshake failed: %s", c->peer, why);
			conn_close(c, NULL);
			return;
		}
	}
	SSL_get0_alpn_selected(c->ssl, &alpn, &alpn_len);
	if (alpn_len != strlen(NJ_WIRE_ALPN)) {
		s->handshake_failures++;
		nj_warn("peer %s: TLS handshake failed: the client did not offer ALPN '%s'",
			c->peer, NJ_WIRE_ALPN);
		conn_close(c, NULL);
		return;
	}
	cert_names(c);
	c->state = CONN_OPEN;
	nj_debug("peer %s: connected, certificate %s", c->peer, c->nnames ? c->names[0] : "?");
	conn_read(c);
}

static void update_events(struct njc_conn *c)
{
	unsigned int ev = 0;

	if (c->dead)
		return;
	switch (c->state) {
	case CONN_HANDSHAKE:
		ev = c->hs_wants_write ? NJ_LOOP_WRITE : NJ_LOOP_READ;
		break;
	case CONN_OPEN:
		if (!c->paused)
			ev |= c->read_blocked_w ? NJ_LOOP_WRITE : NJ_LOOP_READ;
		if (c->write_blocked)
			ev |= NJ_LOOP_WRITE;
		break;
	case CONN_CLOSING:
		if (c->write_blocked)
			ev |= NJ_LOOP_WRITE;
		break;
	}
	/* one epoll_ctl only when it changes, not one per callback */
	if (ev != c->events && nj_loop_set_events(c->srv->loop, c->fd, ev) == 0)
		c->events = ev;
}

static int on_conn(int fd, void *arg)
{
	struct njc_conn *c = arg;

	(void)fd;
	if (c->state == CONN_HANDSHAKE) {
		handshake(c);
	} else {
		if (c->outlen && !conn_flush(c))
			return 0;
		conn_read(c);
	}
	if (!c->dead)
		update_events(c);
	return 0;
}

/* ---- the group commit ---- */

/* Bucket of a latency in µs: four per power of two (each at most 25% wide). */
static unsigned int lat_bucket(uint64_t us)
{
	unsigned int msb;

	if (us < 4)
		return (unsigned int)us;
	msb = 63u - (unsigned int)__builtin_clzll(us);
	return 4 * (msb - 1) + (unsigned int)((us >> (msb - 2)) & 3);
}

/* The upper end of bucket i, in µs. */
static uint64_t lat_bucket_top(unsigned int i)
{
	if (i < 4)
		return i + 1;
	return (uint64_t)(5 + i % 4) << (i / 4 - 1);
}

static void record_latency(struct hist *h, uint64_t ns)
{
	unsigned int i = lat_bucket(ns / 1000);

	h->b[i < LAT_BUCKETS ? i : LAT_BUCKETS - 1]++;
	h->n++;
}

static double latency_ms(const struct hist *h, double q)
{
	uint64_t want = (uint64_t)((double)h->n * q), seen = 0;
	unsigned int i;

	for (i = 0; i < LAT_BUCKETS && h->n; i++) {
		seen += h->b[i];
		if (seen > want)
			return (double)lat_bucket_top(i) / 1000.0;
	}
	return 0;
}

static void free_dead(struct njc_server *s)
{
	while (s->dead) {
		struct njc_conn *c = s->dead;

		s->dead = c->next;
		free(c);
	}
}

/* Acknowledge a committed round, in each connection's batch order. */
static void ack_job(struct njc_server *s, struct njc_pending *head)
{
	struct njc_conn *c, *cn, *flush = NULL;
	struct njc_pending *p, *next;
	uint64_t now = njc_now_ns();

	for (p = head; p; p = next) {
		next = p->next_in_group;
		c = p->conn;
		/* Its records may have been skipped as already received by a batch that then
		 * failed to be stored: only a resend can tell, so it is refused too. */
		if (p->host && p->failures != p->host->failures && !p->error)
			p->error = strdup("storage failed: an earlier batch of this host was not "
					  "stored; resend");
		if (p->host) {
			p->host->unacked--;
			if (!p->error && p->last_new > p->host->durable)
				p->host->durable = p->last_new;
			/* the sink reopens it from its storage at the next batch */
			if (!p->host->opened)
				p->host->durable = p->host->accepted = 0;
		}
		if (c) {
			c->npend--;
			if (!c->failed) {
				if (p->error) {
					c->failed = true;
					c->state = CONN_CLOSING;
				}
				queue_ack(c, p->first_seq, p->count, p->host ? p->host->durable : 0,
					  p->error);
				s->acks++;
				record_latency(&s->ack_lat, now - p->t_recv_ns);
			}
			if (!c->in_flush) {
				c->in_flush = true;
				c->next_flush = flush;
				flush = c;
			}
		}
		free(p->error);
		free(p);
	}
	for (c = flush; c; c = cn) {
		cn = c->next_flush;
		c->in_flush = false;
		if (c->dead || !conn_flush(c))
			continue;
		if (c->paused && c->npend < PENDING_MAX / 2 && c->outlen - c->outoff < OUT_MAX) {
			c->paused = false;
			/* TLS may hold decrypted bytes that no epoll event will announce */
			conn_read(c);
		}
		update_events(c);
	}
}

/* Acknowledge the oldest rounds that are durable, in order. */
static void ack_done_jobs(struct njc_server *s)
{
	while (s->njobs && s->jobs[s->job_first].done) {
		struct job *j = &s->jobs[s->job_first];
		struct njc_pending *head = j->head;

		record_latency(&s->commit_lat, njc_now_ns() - j->started_ns);
		j->head = NULL;
		s->job_first = (s->job_first + 1) % NJC_MAX_COMMITS;
		s->njobs--;
		ack_job(s, head);
	}
}

/* Hand the gathered round to the sink; the next round gathers meanwhile. */
static void submit(struct njc_server *s)
{
	struct job *j = &s->jobs[(s->job_first + s->njobs) % NJC_MAX_COMMITS];
	struct njc_host *h, *hn;
	int r;

	*j = (struct job){.head = s->round_head, .started_ns = njc_now_ns()};
	s->njobs++;
	s->round_head = s->round_tail = NULL;
	r = s->sink->ops->commit(s->sink, s->round_hosts, j->head);
	for (h = s->round_hosts; h; h = hn) {
		hn = h->next_in_group;
		h->in_group = false;
		h->next_in_group = NULL;
	}
	s->round_hosts = NULL;
	j->async = r != 0;
	j->done = r == 0;
	/* done at once (nothing to sync, or a synchronous sink): still after the older ones */
	ack_done_jobs(s);
}

/* The loop's idle hook: every ready connection has been read; commit what they sent. */
static int on_idle(void *arg)
{
	struct njc_server *s = arg;

	if (s->round_head && s->njobs < NJC_MAX_COMMITS)
		submit(s);
	free_dead(s);
	/* reading paused connections in ack_job() may have gathered a round already */
	return s->round_head && s->njobs < NJC_MAX_COMMITS ? 0 : -1;
}

/* The sink finished commits (its done_fd is readable). */
static int on_sink_done(int fd, void *arg)
{
	struct njc_server *s = arg;
	unsigned int n, k;

	(void)fd;
	n = s->sink->ops->finish(s->sink);
	/* the sink finishes its own commits in order: the oldest n asynchronous ones */
	for (k = 0; k < s->njobs && n; k++) {
		struct job *j = &s->jobs[(s->job_first + k) % NJC_MAX_COMMITS];

		if (j->async && !j->done) {
			j->done = true;
			n--;
		}
	}
	ack_done_jobs(s);
	if (s->round_head && s->njobs < NJC_MAX_COMMITS)
		submit(s);
	return 0;
}

/* Commit and acknowledge everything received, waiting for the sink. */
static void drain(struct njc_server *s)
{
	struct pollfd pfd = {.fd = s->sink->done_fd, .events = POLLIN};

	while (s->njobs || s->round_head) {
		if (s->round_head && s->njobs < NJC_MAX_COMMITS)
			submit(s);
		if (s->njobs && poll(&pfd, 1, -1) > 0)
			on_sink_done(pfd.fd, s);
	}
}

/* ---- deadlines ---- */

static int on_tick(int fd, void *arg)
{
	struct njc_server *s = arg;
	const struct njc_config *cfg = s->cfg;
	uint64_t now = njc_now_ms();
	struct njc_conn *c, *next;

	(void)fd;
	for (c = s->conns; c; c = next) {
		next = c->next;
		if (c->state == CONN_HANDSHAKE && now - c->started_ms > cfg->handshake_timeout_ms) {
			s->handshake_failures++;
			nj_warn("peer %s: TLS handshake not finished after %" PRIu64 " ms", c->peer,
				cfg->handshake_timeout_ms);
			conn_close(c, NULL);
		} else if (c->state != CONN_HANDSHAKE && nj_wire_dec_partial(&c->dec) &&
			   now - c->last_rx_ms > cfg->frame_timeout_ms) {
			s->stalled++;
			conn_close(c, "stalled mid-frame (frame_timeout)");
		} else if (c->state != CONN_HANDSHAKE && !c->npend &&
			   now - c->last_rx_ms > cfg->idle_timeout_ms) {
			s->idle_closed++;
			conn_close(c, "idle (idle_timeout)");
		}
	}
	njc_hosts_tick(now, cfg->silent_after_ms);
	return 0;
}

/* ---- status ---- */

struct host_list {
	struct njc_host **v;
	size_t n;
};

static void collect(struct njc_host *h, void *arg)
{
	struct host_list *l = arg;

	l->v[l->n++] = h;
}

static int by_id(const void *a, const void *b)
{
	return strcmp((*(struct njc_host *const *)a)->id, (*(struct njc_host *const *)b)->id);
}

static const char *host_state(const struct njc_host *h)
{
	if (!h->last_seen_mono_ms)
		return "not seen since start";
	if (h->silent)
		return "silent";
	return h->conns ? "connected" : "disconnected";
}

void njc_server_status(void *arg, FILE *out, bool json)
{
	struct njc_server *s = arg;
	uint64_t now = njc_now_ms(), utc = njc_utc_ns();
	struct host_list l = {calloc(njc_host_count() + 1, sizeof(*l.v)), 0};
	struct nj_json j;
	size_t i;

	if (!l.v)
		return;
	njc_host_foreach(collect, &l);
	qsort(l.v, l.n, sizeof(*l.v), by_id);
	if (!json) {
		fprintf(out, "nightjar-collector %s: listening on %s, up %" PRIu64 " s\n",
			NJ_VERSION, s->cfg->listen, (now - s->started_ms) / 1000);
		fprintf(out,
			"connections: %zu open (max %" PRIu64 "), %" PRIu64 " accepted, %" PRIu64
			" refused (max_connections), %" PRIu64 " failed the TLS handshake\n",
			s->nconns, s->cfg->max_connections, s->accepted, s->refused_full,
			s->handshake_failures);
		fprintf(out,
			"batches: %" PRIu64 " received, %" PRIu64 " acknowledged; %" PRIu64
			" records received, %" PRIu64 " duplicates skipped; refused: %" PRIu64
			" identity, %" PRIu64 " bad frames, %" PRIu64 " stalled, %" PRIu64
			" idle, %" PRIu64 " storage failures\n",
			s->batches, s->acks, s->records_in, s->duplicates, s->identity_refusals,
			s->bad_frames, s->stalled, s->idle_closed, s->storage_failures);
		fprintf(out,
			"ack latency (received to acknowledged): p50 %.2f ms, p99 %.2f ms; commit "
			"(handed to the sink to durable): p50 %.2f ms, p99 %.2f ms, %" PRIu64 "\n",
			latency_ms(&s->ack_lat, 0.5), latency_ms(&s->ack_lat, 0.99),
			latency_ms(&s->commit_lat, 0.5), latency_ms(&s->commit_lat, 0.99),
			s->commit_lat.n);
		s->sink->ops->status(s->sink, out, NULL);
		fprintf(out, "hosts: %zu\n", l.n);
		fprintf(out, "%-34s %-22s %10s %14s %6s %9s %5s  %s\n", "HOST", "LAST SEEN",
			"RECORDS/s", "STORED THROUGH", "GAPS", "MISSING", "CONNS", "STATE");
		for (i = 0; i < l.n; i++) {
			struct njc_host *h = l.v[i];
			char seen[40] = "-";

			if (h->last_seen_mono_ms)
				snprintf(seen, sizeof(seen), "%" PRIu64 " s ago",
					 (now - h->last_seen_mono_ms) / 1000);
			fprintf(out,
				"%-34s %-22s %10.1f %14" PRIu64 " %6" PRIu64 " %9" PRIu64
				" %5u  %s",
				h->id, seen, h->rate, h->durable, h->gaps, h->missing, h->conns,
				host_state(h));
			if (h->gaps)
				fprintf(out, " (last gap %" PRIu64 "..%" PRIu64 ")",
					h->last_gap_from, h->last_gap_to);
			fputc('\n', out);
		}
		free(l.v);
		return;
	}
	nj_json_init(&j);
	nj_json_obj_begin(&j, NULL);
	nj_json_str(&j, "version", NJ_VERSION);
	nj_json_str(&j, "listen", s->cfg->listen);
	nj_json_u64(&j, "uptime_s", (now - s->started_ms) / 1000);
	nj_json_obj_begin(&j, "connections");
	nj_json_u64(&j, "open", s->nconns);
	nj_json_u64(&j, "max", s->cfg->max_connections);
	nj_json_u64(&j, "accepted", s->accepted);
	nj_json_u64(&j, "refused_full", s->refused_full);
	nj_json_u64(&j, "handshake_failures", s->handshake_failures);
	nj_json_obj_end(&j);
	nj_json_obj_begin(&j, "batches");
	nj_json_u64(&j, "received", s->batches);
	nj_json_u64(&j, "acknowledged", s->acks);
	nj_json_u64(&j, "records", s->records_in);
	nj_json_u64(&j, "duplicates", s->duplicates);
	nj_json_u64(&j, "identity_refusals", s->identity_refusals);
	nj_json_u64(&j, "bad_frames", s->bad_frames);
	nj_json_u64(&j, "stalled", s->stalled);
	nj_json_u64(&j, "idle_closed", s->idle_closed);
	nj_json_u64(&j, "storage_failures", s->storage_failures);
	nj_json_u64(&j, "ack_p50_us", (uint64_t)(latency_ms(&s->ack_lat, 0.5) * 1000));
	nj_json_u64(&j, "ack_p99_us", (uint64_t)(latency_ms(&s->ack_lat, 0.99) * 1000));
	nj_json_u64(&j, "commits", s->commit_lat.n);
	nj_json_u64(&j, "commit_p50_us", (uint64_t)(latency_ms(&s->commit_lat, 0.5) * 1000));
	nj_json_u64(&j, "commit_p99_us", (uint64_t)(latency_ms(&s->commit_lat, 0.99) * 1000));
	nj_json_obj_end(&j);
	s->sink->ops->status(s->sink, NULL, &j);
	nj_json_arr_begin(&j, "hosts");
	for (i = 0; i < l.n; i++) {
		struct njc_host *h = l.v[i];

		nj_json_obj_begin(&j, NULL);
		nj_json_str(&j, "id", h->id);
		nj_json_str(&j, "state", host_state(h));
		if (h->last_seen_mono_ms) {
			char ts[40];

			nj_format_utc(ts, h->last_seen_utc_ns);
			nj_json_str(&j, "last_seen", ts);
			nj_json_u64(&j, "last_seen_s_ago", (now - h->last_seen_mono_ms) / 1000);
		}
		nj_json_u64(&j, "records_per_s", (uint64_t)(h->rate + 0.5));
		nj_json_u64(&j, "stored_through", h->durable);
		nj_json_u64(&j, "records", h->records);
		nj_json_u64(&j, "duplicates", h->duplicates);
		nj_json_u64(&j, "gaps", h->gaps);
		nj_json_u64(&j, "missing", h->missing);
		if (h->gaps) {
			nj_json_u64(&j, "last_gap_from", h->last_gap_from);
			nj_json_u64(&j, "last_gap_to", h->last_gap_to);
		}
		nj_json_u64(&j, "connections", h->conns);
		nj_json_obj_end(&j);
	}
	nj_json_arr_end(&j);
	nj_json_obj_end(&j);
	(void)utc;
	if (!j.oom) {
		fwrite(j.buf, 1, j.len, out);
		fputc('\n', out);
	}
	nj_json_free(&j);
	free(l.v);
}

/* ---- setup ---- */

static int listen_on(const char *spec, char *err, size_t errlen)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC,
				 .ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV};
	struct addrinfo *ai;
	char host[256];
	const char *colon = strrchr(spec, ':');
	const char *h = spec;
	size_t hl;
	int fd, one = 1, r;

	if (!colon || !colon[1]) {
		snprintf(err, errlen,
			 "listen '%s': expected ADDRESS:PORT ([ADDRESS]:PORT for IPv6)", spec);
		return -1;
	}
	hl = (size_t)(colon - spec);
	if (hl >= 2 && spec[0] == '[' && spec[hl - 1] == ']') {
		h = spec + 1;
		hl -= 2;
	}
	if (hl >= sizeof(host)) {
		snprintf(err, errlen, "listen '%s': address too long", spec);
		return -1;
	}
	memcpy(host, h, hl);
	host[hl] = '\0';
	r = getaddrinfo(hl ? host : NULL, colon + 1, &hints, &ai);
	if (r) {
		snprintf(err, errlen, "listen '%s': %s", spec, gai_strerror(r));
		return -1;
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 4096) < 0) {
		snprintf(err, errlen, "listen on %s: %s", spec, strerror(errno));
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	return fd;
}

struct njc_server *njc_server_open(const struct njc_config *cfg, struct nj_loop *loop,
				   struct njc_sink *sink, char *err, size_t errlen)
{
	struct njc_server *s = calloc(1, sizeof(*s));

	if (!s) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->cfg = cfg;
	s->loop = loop;
	s->sink = sink;
	s->started_ms = njc_now_ms();
	s->ctx = tls_context(cfg, err, errlen);
	if (!s->ctx)
		goto err_free;
	s->lfd = listen_on(cfg->listen, err, errlen);
	if (s->lfd < 0)
		goto err_ctx;
	nj_arena_init(&s->arena, 1 << 20);
	if (nj_loop_add_fd(loop, s->lfd, on_listen, s) ||
	    nj_loop_add_timer(loop, 1000, on_tick, s)) {
		snprintf(err, errlen, "cannot watch the listening socket");
		goto err_close;
	}
	if (sink->done_fd >= 0 && nj_loop_add_fd(loop, sink->done_fd, on_sink_done, s)) {
		snprintf(err, errlen, "cannot watch the sink");
		goto err_close;
	}
	nj_loop_set_idle(loop, on_idle, s);
	return s;

err_close:
	nj_arena_free(&s->arena);
	close(s->lfd);
err_ctx:
	SSL_CTX_free(s->ctx);
err_free:
	free(s);
	return NULL;
}

void njc_server_close(struct njc_server *s)
{
	if (!s)
		return;
	/* what was received is stored and acknowledged before the connections go */
	drain(s);
	while (s->conns)
		conn_close(s->conns, NULL);
	free_dead(s);
	nj_loop_set_idle(s->loop, NULL, NULL);
	if (s->sink->done_fd >= 0)
		nj_loop_del_fd(s->loop, s->sink->done_fd);
	nj_loop_del_fd(s->loop, s->lfd);
	close(s->lfd);
	nj_arena_free(&s->arena);
	SSL_CTX_free(s->ctx);
	free(s);
}
