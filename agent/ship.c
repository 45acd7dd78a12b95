/* ship.c - the spool to the collector: TLS client, batches in a window, the acknowledged
 * position on disk, reconnects with back-off. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "cursor.h"
#include "log.h"
#include "ship.h"
#include "wire.h"

#define MS_NS	1000000ull
#define TICK_MS 100
/* the acknowledged position is written at most this often: after a crash the agent resends
 * what was acknowledged since, and the collector drops it as already stored */
#define POS_EVERY_NS (500 * MS_NS)
/* a connect or handshake that takes longer is given up */
#define SETUP_TIMEOUT_NS (10000 * MS_NS)
/* batches outstanding and nothing heard for this long: the path is dead */
#define ACK_TIMEOUT_NS (60000 * MS_NS)
/* the collector closes a connection idle for 60 s (docs/wire.md): say something before */
#define KEEPALIVE_NS (20000 * MS_NS)
#define WINDOW_MAX   64

enum state {
	ST_BACKOFF,    /* waiting for retry_at */
	ST_RESOLVING,  /* getaddrinfo_a under way */
	ST_CONNECTING, /* nonblocking connect */
	ST_HANDSHAKE,  /* TLS */
	ST_STREAMING,  /* batches out, acks in */
};

static const char *const state_names[] = {
	[ST_BACKOFF] = "backoff",     [ST_RESOLVING] = "resolving", [ST_CONNECTING] = "connecting",
	[ST_HANDSHAKE] = "handshake", [ST_STREAMING] = "connected",
};

/* a batch sent and not yet acknowledged */
struct flight {
	uint64_t first;
	uint32_t count;
};

struct nj_ship {
	struct nj_loop *loop;
	struct nj_collector_config cc;
	struct nj_spool *spool;
	char *spool_dir;
	char *pos_path;
	char host_id[33];
	SSL_CTX *ctx;

	enum state state;
	uint64_t state_ns; /* when the current state began */
	int fd;
	SSL *ssl;
	bool want_write;	/* EPOLLOUT asked for */
	struct gaicb *gai;	/* resolution under way (owned by glibc until done) */
	struct addrinfo *addrs; /* resolved, tried in turn */
	struct addrinfo *addr;	/* the one being tried */

	struct nj_cursor *cur; /* from acked + 1, read ahead up to the window */
	struct nj_batch batch;
	struct nj_wire_dec dec;
	uint8_t *out; /* encoded frames not yet taken by SSL_write */
	size_t out_len, out_off, out_cap;
	struct flight fl[WINDOW_MAX];
	unsigned int fl_head, fl_n;
	uint64_t next_seq; /* the sequence after the last one sent (keepalive batches) */
	uint64_t last_rx_ns, last_tx_ns;

	uint64_t acked;	    /* highest sequence the collector acknowledged */
	uint64_t pos_saved; /* what ship.pos holds */
	uint64_t pos_saved_ns;
	uint64_t lost_base; /* lost counted by earlier cursors */

	unsigned int attempt; /* failures since the last acknowledged batch */
	uint64_t retry_at_ns;
	char last_error[256]; /* kept after a reconnect, for status */
	uint64_t last_error_ns;
	bool error_logged; /* last_error was said in the log */
	uint64_t acked_records, sent_records;
	uint64_t failures, connects;
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- pieces with no connection: back-off, position file ---- */

uint64_t nj_backoff_ms(unsigned int attempt, uint64_t min_ms, uint64_t max_ms, uint64_t rnd)
{
	uint64_t cap = min_ms;

	while (attempt-- && cap < max_ms)
		cap *= 2;
	if (cap > max_ms)
		cap = max_ms;
	if (cap <= min_ms)
		return min_ms;
	/* full jitter above the floor: agents that lost the collector together spread out */
	return min_ms + rnd % (cap - min_ms + 1);
}

int nj_ship_pos_read(const char *path, uint64_t *seq, char *err, size_t errlen)
{
	char buf[64] = "", *end;
	unsigned long long v;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		if (errno == ENOENT)
			return 1;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	buf[n] = '\0';
	errno = 0;
	v = strtoull(buf, &end, 10);
	if (end == buf || buf[0] < '0' || buf[0] > '9' || (*end && *end != '\n') || errno) {
		snprintf(err, errlen,
			 "%s: expected one sequence number, found %zd bytes of "
			 "something else",
			 path, n);
		return -1;
	}
	*seq = v;
	return 0;
}

int nj_ship_pos_write(const char *path, uint64_t seq)
{
	char tmp[4096 + 16], buf[32], dir[4096 + 16];
	int fd, n, e = 0;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	n = snprintf(buf, sizeof(buf), "%" PRIu64 "\n", seq);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (write(fd, buf, (size_t)n) != n || fsync(fd) < 0)
		e = errno ? -errno : -EIO;
	close(fd);
	if (!e && rename(tmp, path) < 0)
		e = -errno;
	if (e) {
		unlink(tmp);
		return e;
	}
	/* the rename itself survives a power cut only once the directory is synced */
	snprintf(dir, sizeof(dir), "%s", path);
	fd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		if (fsync(fd) < 0)
			e = -errno;
		close(fd);
	}
	return e;
}

static void save_pos(struct nj_ship *s, bool force)
{
	uint64_t now = mono_ns();
	int e;

	if (s->acked == s->pos_saved || (!force && now - s->pos_saved_ns < POS_EVERY_NS))
		return;
	e = nj_ship_pos_write(s->pos_path, s->acked);
	if (e < 0) {
		/* not fatal: after a restart the agent resends a little more */
		nj_warn("shipping: cannot write %s: %s", s->pos_path, strerror(-e));
		return;
	}
	s->pos_saved = s->acked;
	s->pos_saved_ns = now;
}

/* ---- TLS ---- */

/* The OpenSSL error queue as one line, emptied. */
static void ssl_errors(char *out, size_t len)
{
	unsigned long e;
	size_t o = 0;

	out[0] = '\0';
	while ((e = ERR_get_error()) && o + 2 < len) {
		char one[256];

		ERR_error_string_n(e, one, sizeof(one));
		o += (size_t)snprintf(out + o, len - o, "%s%s", o ? "; " : "", one);
	}
	if (!out[0])
		snprintf(out, len, "no detail from OpenSSL");
}

static int file_error(const struct nj_config_file *f, const char *key, char *err, size_t errlen,
		      const char *what)
{
	snprintf(err, errlen, "%s: collector.%s '%s': %s", f->at[0] ? f->at : "configuration", key,
		 f->path, what);
	return -1;
}

/* Can the file be opened? Says why not in the words of errno. */
static int readable(const struct nj_config_file *f, const char *key, char *err, size_t errlen)
{
	char why[300];
	FILE *fp = fopen(f->path, "re");

	if (!fp) {
		snprintf(why, sizeof(why), "cannot read: %s", strerror(errno));
		return file_error(f, key, err, errlen, why);
	}
	fclose(fp);
	return 0;
}

/* The client context: TLS 1.3 only, our certificate and key, the CA for the collector's. */
static SSL_CTX *make_ctx(const struct nj_collector_config *cc, char *err, size_t errlen)
{
	static const unsigned char alpn[] = "\x0a" NJ_WIRE_ALPN;
	char why[512], ossl[400];
	SSL_CTX *ctx;

	if (readable(&cc->ca, "ca", err, errlen) || readable(&cc->cert, "cert", err, errlen) ||
	    readable(&cc->key, "key", err, errlen))
		return NULL;
	ERR_clear_error();
	ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx) {
		ssl_errors(ossl, sizeof(ossl));
		snprintf(err, errlen, "shipping: cannot create a TLS context: %s", ossl);
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
	SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (SSL_CTX_load_verify_locations(ctx, cc->ca.path, NULL) != 1) {
		ssl_errors(ossl, sizeof(ossl));
		snprintf(why, sizeof(why), "no CA certificate in it (%s)", ossl);
		file_error(&cc->ca, "ca", err, errlen, why);
		goto err_free_ctx;
	}
	if (SSL_CTX_use_certificate_chain_file(ctx, cc->cert.path) != 1) {
		ssl_errors(ossl, sizeof(ossl));
		snprintf(why, sizeof(why), "not a PEM certificate (%s)", ossl);
		file_error(&cc->cert, "cert", err, errlen, why);
		goto err_free_ctx;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, cc->key.path, SSL_FILETYPE_PEM) != 1) {
		ssl_errors(ossl, sizeof(ossl));
		snprintf(why, sizeof(why), "not a PEM private key (%s)", ossl);
		file_error(&cc->key, "key", err, errlen, why);
		goto err_free_ctx;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		ERR_clear_error();
		file_error(&cc->key, "key", err, errlen,
			   "does not belong to the certificate in collector.cert");
		goto err_free_ctx;
	}
	if (SSL_CTX_set_alpn_protos(ctx, alpn, sizeof(alpn) - 1) != 0) {
		snprintf(err, errlen, "shipping: cannot set ALPN");
		goto err_free_ctx;
	}
	return ctx;
err_free_ctx:
	SSL_CTX_free(ctx);
	return NULL;
}

/* Our certificate against the CA: a certificate from another CA (or expired) would only be
 * refused by the collector, later and with less to go on. */
static int check_chain(SSL_CTX *ctx, const struct nj_collector_config *cc, const char *host_id,
		       char *err, size_t errlen)
{
	X509 *cert = SSL_CTX_get0_certificate(ctx);
	X509_STORE_CTX *vc = X509_STORE_CTX_new();
	STACK_OF(X509) *chain = NULL;
	char why[400];
	int ok;

	if (!vc || !cert) {
		X509_STORE_CTX_free(vc);
		snprintf(err, errlen, "shipping: out of memory");
		return -1;
	}
	SSL_CTX_get0_chain_certs(ctx, &chain);
	ok = X509_STORE_CTX_init(vc, SSL_CTX_get_cert_store(ctx), cert, chain) == 1 &&
	     X509_STORE_CTX_set_purpose(vc, X509_PURPOSE_SSL_CLIENT) == 1 &&
	     X509_verify_cert(vc) == 1;
	if (!ok) {
		snprintf(why, sizeof(why), "not accepted by the CA in collector.ca (%s)",
			 X509_verify_cert_error_string(X509_STORE_CTX_get_error(vc)));
		X509_STORE_CTX_free(vc);
		ERR_clear_error();
		return file_error(&cc->cert, "cert", err, errlen, why);
	}
	X509_STORE_CTX_free(vc);
	if (host_id &&
	    X509_check_host(cert, host_id, 0, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS, NULL) != 1) {
		char cn[256] = "?";

		X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn,
					  sizeof(cn));
		nj_warn("%s: collector.cert '%s' is for '%s', not for this host's id %s: the "
			"collector will refuse its batches (docs/enrolment.md)",
			cc->cert.at, cc->cert.path, cn, host_id);
	}
	return 0;
}

int nj_ship_check(const struct nj_collector_config *cc, const char *host_id, char *err,
		  size_t errlen)
{
	SSL_CTX *ctx = make_ctx(cc, err, errlen);
	int ret;

	if (!ctx)
		return -1;
	ret = check_chain(ctx, cc, host_id, err, errlen);
	SSL_CTX_free(ctx);
	return ret;
}

/* ---- connection ---- */

static void set_state(struct nj_ship *s, enum state st)
{
	s->state = st;
	s->state_ns = mono_ns();
}

static void want_write(struct nj_ship *s, bool on)
{
	if (s->want_write == on || s->fd < 0)
		return;
	if (nj_loop_set_events(s->loop, s->fd, NJ_LOOP_READ | (on ? NJ_LOOP_WRITE : 0u)) == 0)
		s->want_write = on;
}

/* Everything of one connection goes; the position stays. */
static void disconnect(struct nj_ship *s)
{
	if (s->ssl) {
		SSL_free(s->ssl);
		s->ssl = NULL;
	}
	if (s->fd >= 0) {
		nj_loop_del_fd(s->loop, s->fd);
		close(s->fd);
		s->fd = -1;
	}
	s->want_write = false;
	if (s->cur) {
		s->lost_base += nj_cursor_lost(s->cur);
		nj_cursor_close(s->cur);
		s->cur = NULL;
	}
	nj_wire_dec_free(&s->dec);
	s->out_len = s->out_off = 0;
	s->fl_head = s->fl_n = 0;
}

/* Give up on this attempt: say why, wait, try again. */
static void fail(struct nj_ship *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(struct nj_ship *s, const char *fmt, ...)
{
	uint64_t rnd = 0, delay;
	char msg[sizeof(s->last_error)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	disconnect(s);
	if (s->addr && s->addr->ai_next && s->state != ST_STREAMING) {
		/* another address of the same name may work: the next attempt tries it */
		s->addr = s->addr->ai_next;
	} else {
		freeaddrinfo(s->addrs);
		s->addrs = s->addr = NULL;
	}
	RAND_bytes((unsigned char *)&rnd, sizeof(rnd));
	delay = nj_backoff_ms(s->attempt, s->cc.reconnect_min_ms, s->cc.reconnect_max_ms, rnd);
	/* the same error again and again is said once, then every tenth time */
	if (strcmp(msg, s->last_error) || !s->error_logged || s->attempt % 10 == 0)
		nj_warn("shipping to %s:%s: %s; retrying in %" PRIu64 " ms", s->cc.host, s->cc.port,
			msg, delay);
	snprintf(s->last_error, sizeof(s->last_error), "%s", msg);
	s->last_error_ns = mono_ns();
	s->error_logged = true;
	s->attempt++;
	s->failures++;
	s->retry_at_ns = mono_ns() + delay * MS_NS;
	set_state(s, ST_BACKOFF);
}

static int on_fd(int fd, void *arg);

static void try_connect(struct nj_ship *s)
{
	const struct addrinfo *a = s->addr;
	int one = 1;

	s->fd = socket(a->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->fd < 0) {
		fail(s, "socket: %s", strerror(errno));
		return;
	}
	/* batches are large and written whole; a keepalive or the tail of one must not wait
	 * for Nagle */
	setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (nj_loop_add_fd(s->loop, s->fd, on_fd, s) < 0) {
		close(s->fd);
		s->fd = -1;
		fail(s, "no room in the event loop");
		return;
	}
	set_state(s, ST_CONNECTING);
	if (connect(s->fd, a->ai_addr, a->ai_addrlen) < 0 && errno != EINPROGRESS) {
		fail(s, "connect: %s", strerror(errno));
		return;
	}
	/* writable once connected (or failed); on loopback possibly at once */
	want_write(s, true);
}

static void start_attempt(struct nj_ship *s)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV};
	struct gaicb *list[1];
	int e;

	s->connects++;
	if (s->addr) {
		try_connect(s);
		return;
	}
	/* an address literal needs no resolver */
	if (getaddrinfo(s->cc.host, s->cc.port, &hints, &s->addrs) == 0) {
		s->addr = s->addrs;
		try_connect(s);
		return;
	}
	/* A name: resolved off the loop (glibc's resolver thread), so a dead DNS server on an
	 * offline laptop never stalls the ring buffer's reader. Polled on the tick. */
	s->gai = calloc(1, sizeof(*s->gai) + sizeof(struct addrinfo));
	if (!s->gai) {
		fail(s, "out of memory");
		return;
	}
	hints.ai_flags = AI_NUMERICSERV | AI_ADDRCONFIG;
	memcpy(s->gai + 1, &hints, sizeof(hints));
	s->gai->ar_name = s->cc.host;
	s->gai->ar_service = s->cc.port;
	s->gai->ar_request = (struct addrinfo *)(s->gai + 1);
	list[0] = s->gai;
	set_state(s, ST_RESOLVING);
	e = getaddrinfo_a(GAI_NOWAIT, list, 1, NULL);
	if (e) {
		free(s->gai);
		s->gai = NULL;
		fail(s, "resolving %s: %s", s->cc.host, gai_strerror(e));
	}
}

static void poll_resolver(struct nj_ship *s)
{
	int e = gai_error(s->gai);

	if (e == EAI_INPROGRESS)
		return;
	s->addrs = s->addr = e ? NULL : s->gai->ar_result;
	free(s->gai);
	s->gai = NULL;
	if (e || !s->addr) {
		fail(s, "resolving %s: %s", s->cc.host, e ? gai_strerror(e) : "no address");
		return;
	}
	try_connect(s);
}

static void start_handshake(struct nj_ship *s)
{
	X509_VERIFY_PARAM *vp;
	char ossl[400];

	ERR_clear_error();
	s->ssl = SSL_new(s->ctx);
	if (!s->ssl || SSL_set_fd(s->ssl, s->fd) != 1) {
		ssl_errors(ossl, sizeof(ossl));
		fail(s, "TLS: %s", ossl);
		return;
	}
	SSL_set_connect_state(s->ssl);
	/* the collector's certificate must carry the configured name: an address (IP SAN) or
	 * a DNS name, which is also sent as SNI */
	vp = SSL_get0_param(s->ssl);
	if (X509_VERIFY_PARAM_set1_ip_asc(vp, s->cc.server_name) != 1) {
		ERR_clear_error();
		SSL_set_tlsext_host_name(s->ssl, s->cc.server_name);
		SSL_set1_host(s->ssl, s->cc.server_name);
	}
	set_state(s, ST_HANDSHAKE);
}

/* Why an SSL call failed, for the log and status. */
static void io_failed(struct nj_ship *s, const char *what, int ret)
{
	int e = SSL_get_error(s->ssl, ret);
	long vr = SSL_get_verify_result(s->ssl);
	char ossl[400];

	if (e == SSL_ERROR_ZERO_RETURN) {
		fail(s, "%s: the collector closed the connection", what);
		return;
	}
	if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) {
		fail(s, "%s: %s", what,
		     ret == 0 || errno == 0 ? "connection closed by the collector"
					    : strerror(errno));
		return;
	}
	ssl_errors(ossl, sizeof(ossl));
	if (vr != X509_V_OK)
		fail(s, "%s: the collector's certificate: %s (%s)", what,
		     X509_verify_cert_error_string(vr), ossl);
	else
		fail(s, "%s: %s", what, ossl);
}

static void pump(struct nj_ship *s);

static void handshake(struct nj_ship *s)
{
	const unsigned char *proto = NULL;
	unsigned int plen = 0;
	int r;

	ERR_clear_error();
	r = SSL_connect(s->ssl);
	if (r != 1) {
		int e = SSL_get_error(s->ssl, r);

		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
			want_write(s, e == SSL_ERROR_WANT_WRITE);
			return;
		}
		io_failed(s, "TLS handshake", r);
		return;
	}
	SSL_get0_alpn_selected(s->ssl, &proto, &plen);
	if (plen != strlen(NJ_WIRE_ALPN) || memcmp(proto, NJ_WIRE_ALPN, plen)) {
		fail(s, "the collector did not agree on protocol %s (ALPN)", NJ_WIRE_ALPN);
		return;
	}
	/* everything after the acknowledged position, again: the collector drops what it has */
	s->cur = nj_cursor_open(s->spool_dir, s->acked + 1);
	if (!s->cur) {
		fail(s, "out of memory");
		return;
	}
	nj_wire_dec_init(&s->dec, NJ_WIRE_MAX_FRAME);
	s->next_seq = s->acked + 1;
	s->last_rx_ns = s->last_tx_ns = mono_ns();
	set_state(s, ST_STREAMING);
	nj_info("shipping to %s:%s: connected (TLS 1.3, %s), resending from sequence %" PRIu64,
		s->cc.host, s->cc.port, SSL_get_cipher_name(s->ssl), s->acked + 1);
	pump(s);
}

static int out_append(struct nj_ship *s, uint8_t *frame, size_t len)
{
	if (s->out_off == s->out_len) {
		/* nothing queued: take the frame's buffer as it is */
		free(s->out);
		s->out = frame;
		s->out_cap = len;
		s->out_len = len;
		s->out_off = 0;
		return 0;
	}
	if (s->out_len + len > s->out_cap) {
		size_t cap = s->out_cap * 2 > s->out_len + len ? s->out_cap * 2 : s->out_len + len;
		uint8_t *b = realloc(s->out, cap);

		if (!b) {
			free(frame);
			return -1;
		}
		s->out = b;
		s->out_cap = cap;
	}
	memcpy(s->out + s->out_len, frame, len);
	s->out_len += len;
	free(frame);
	return 0;
}

/* Queue one batch frame and remember it until acknowledged. */
static int send_batch(struct nj_ship *s, uint64_t first, const ProtobufCBinaryData *recs,
		      size_t count)
{
	uint8_t *frame;
	size_t len;
	int e = nj_wire_encode_batch(s->host_id, first, recs, count, NJ_WIRE_MAX_FRAME, &frame,
				     &len);

	if (e)
		return e;
	if (out_append(s, frame, len))
		return -ENOMEM;
	s->fl[(s->fl_head + s->fl_n) % WINDOW_MAX] = (struct flight){first, (uint32_t)count};
	s->fl_n++;
	s->sent_records += count;
	s->last_tx_ns = mono_ns();
	if (count)
		s->next_seq = first + count;
	return 0;
}

/* Write what is queued; true when all of it went. */
static bool flush_out(struct nj_ship *s)
{
	int r, e;

	while (s->out_off < s->out_len) {
		ERR_clear_error();
		r = SSL_write(s->ssl, s->out + s->out_off, (int)(s->out_len - s->out_off));
		if (r > 0) {
			s->out_off += (size_t)r;
			continue;
		}
		e = SSL_get_error(s->ssl, r);
		if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) {
			want_write(s, e == SSL_ERROR_WANT_WRITE);
			return false;
		}
		io_failed(s, "sending", r);
		return false;
	}
	s->out_off = s->out_len = 0;
	want_write(s, false);
	return true;
}

/* Fill the window from the spool and send. */
static void pump(struct nj_ship *s)
{
	int n, e;

	/* caught up with the spool: no need to look at its files (the tick comes 10 times a
	 * second) */
	if (s->next_seq >= nj_spool_next_seq(s->spool) && s->out_off == s->out_len)
		return;
	while (s->state == ST_STREAMING && s->fl_n < s->cc.window) {
		n = nj_batch_fill(&s->batch, s->cur, s->cc.batch_records, s->cc.batch_bytes);
		if (n <= 0)
			break;
		e = send_batch(s, s->batch.first_seq, s->batch.recs, (size_t)n);
		if (e == -EMSGSIZE && n == 1) {
			/* one record larger than a frame may be: it can never go */
			nj_warn("shipping: record %" PRIu64 " (%zu bytes) is too large to ship; "
				"skipped",
				s->batch.first_seq, s->batch.bytes);
			s->lost_base++;
			continue;
		}
		if (e) {
			fail(s, "encoding a batch: %s", strerror(-e));
			return;
		}
	}
	if (s->state == ST_STREAMING)
		flush_out(s);
}

static void on_ack(struct nj_ship *s, const uint8_t *frame, size_t len)
{
	struct flight *f = &s->fl[s->fl_head];
	char err[256];
	Nightjar__Ack *a = nj_wire_ack_unpack(NULL, frame, len, err, sizeof(err));

	if (!a) {
		fail(s, "from the collector: %s", err);
		return;
	}
	if (a->error) {
		nj_err("shipping: the collector refused batch %" PRIu64 "+%u: %s", f->first,
		       f->count, a->error);
		fail(s, "refused by the collector: %s", a->error);
	} else if (!s->fl_n || a->first_sequence != f->first || a->count != f->count) {
		fail(s, "acknowledgement for %" PRIu64 "+%u, expected %" PRIu64 "+%u",
		     (uint64_t)a->first_sequence, a->count, s->fl_n ? f->first : 0,
		     s->fl_n ? f->count : 0);
	} else {
		if (f->count) {
			s->acked = f->first + f->count - 1;
			s->acked_records += f->count;
			/* the collector works: the next failure starts the back-off afresh, and
			 * is logged even if it is the same as the last one */
			s->attempt = 0;
			s->error_logged = false;
		}
		s->fl_head = (s->fl_head + 1) % WINDOW_MAX;
		s->fl_n--;
	}
	nightjar__ack__free_unpacked(a, NULL);
}

static void receive(struct nj_ship *s)
{
	const uint8_t *frame;
	char err[256];
	uint8_t *p;
	size_t room, len;
	int r, e;

	for (;;) {
		if (nj_wire_dec_space(&s->dec, &p, &room) < 0) {
			fail(s, "out of memory");
			return;
		}
		ERR_clear_error();
		r = SSL_read(s->ssl, p, room > INT32_MAX ? INT32_MAX : (int)room);
		if (r <= 0) {
			e = SSL_get_error(s->ssl, r);
			if (e == SSL_ERROR_WANT_READ)
				return;
			if (e == SSL_ERROR_WANT_WRITE) {
				want_write(s, true);
				return;
			}
			io_failed(s, "receiving", r);
			return;
		}
		nj_wire_dec_commit(&s->dec, (size_t)r);
		s->last_rx_ns = mono_ns();
		while ((e = nj_wire_dec_next(&s->dec, &frame, &len, err, sizeof(err))) == 1) {
			on_ack(s, frame, len);
			if (s->state != ST_STREAMING)
				return;
		}
		if (e < 0) {
			fail(s, "from the collector: %s", err);
			return;
		}
	}
}

static int on_fd(int fd, void *arg)
{
	struct nj_ship *s = arg;
	socklen_t sl = sizeof(int);
	int soerr = 0;

	(void)fd;
	switch (s->state) {
	case ST_CONNECTING:
		if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
			soerr = errno;
		if (soerr) {
			fail(s, "connect: %s", strerror(soerr));
			break;
		}
		start_handshake(s);
		if (s->state == ST_HANDSHAKE)
			handshake(s);
		break;
	case ST_HANDSHAKE:
		handshake(s);
		break;
	case ST_STREAMING:
		receive(s);
		if (s->state == ST_STREAMING)
			pump(s);
		break;
	default:
		break;
	}
	/* a failed connection is retried later; the agent goes on */
	return 0;
}

static int on_tick(int fd, void *arg)
{
	struct nj_ship *s = arg;
	uint64_t now = mono_ns();

	(void)fd;
	save_pos(s, false);
	switch (s->state) {
	case ST_BACKOFF:
		if (now >= s->retry_at_ns)
			start_attempt(s);
		break;
	case ST_RESOLVING:
		poll_resolver(s);
		break;
	case ST_CONNECTING:
	case ST_HANDSHAKE:
		if (now - s->state_ns > SETUP_TIMEOUT_NS)
			fail(s, "%s timed out after %llu s",
			     s->state == ST_CONNECTING ? "connect" : "TLS handshake",
			     SETUP_TIMEOUT_NS / 1000000000ull);
		break;
	case ST_STREAMING:
		if (s->fl_n && now - s->last_rx_ns > ACK_TIMEOUT_NS) {
			fail(s, "no acknowledgement for %llu s", ACK_TIMEOUT_NS / 1000000000ull);
			break;
		}
		/* new records in the spool since the last acknowledgement */
		pump(s);
		if (s->state == ST_STREAMING && !s->fl_n && now - s->last_tx_ns > KEEPALIVE_NS) {
			/* an empty batch: answered with where the collector is, keeps the
			 * connection from being closed as idle */
			if (send_batch(s, s->next_seq, NULL, 0) == 0)
				flush_out(s);
		}
		break;
	}
	return 0;
}

struct nj_ship *nj_ship_start(struct nj_loop *loop, const struct nj_collector_config *cc,
			      struct nj_spool *spool, const char *spool_dir, const char *state_dir,
			      const char *host_id, char *err, size_t errlen)
{
	struct nj_ship *s = calloc(1, sizeof(*s));
	struct nj_spool_stats st;
	char path[4096 + 16], why[1024];
	uint64_t pos = 0;
	int r;

	if (!s) {
		snprintf(err, errlen, "shipping: out of memory");
		return NULL;
	}
	s->loop = loop;
	s->cc = *cc;
	if (s->cc.window > WINDOW_MAX)
		s->cc.window = WINDOW_MAX;
	s->spool = spool;
	s->fd = -1;
	snprintf(s->host_id, sizeof(s->host_id), "%s", host_id);
	snprintf(path, sizeof(path), "%s/ship.pos", state_dir);
	s->spool_dir = strdup(spool_dir);
	s->pos_path = strdup(path);
	if (!s->spool_dir || !s->pos_path) {
		snprintf(err, errlen, "shipping: out of memory");
		goto err_free;
	}
	s->ctx = make_ctx(cc, err, errlen);
	if (!s->ctx)
		goto err_free;
	/* An expired certificate (or one of another CA) is refused by --check-config, but at
	 * start it must not cost the host its forensic record: record, and keep trying. */
	if (check_chain(s->ctx, cc, host_id, why, sizeof(why)))
		nj_err("%s; recording goes on, the collector will refuse this agent until the "
		       "certificate is replaced (docs/enrolment.md)",
		       why);
	r = nj_ship_pos_read(path, &pos, why, sizeof(why));
	if (r < 0)
		nj_warn("shipping: %s; shipping the whole spool again (the collector drops "
			"what it has)",
			why);
	nj_spool_stats(spool, &st);
	if (r == 0 && pos >= st.next_seq) {
		/* the spool was replaced under an old position: its records would be skipped */
		nj_warn("shipping: %s says %" PRIu64 " was shipped, but the spool ends at %" PRIu64
			"; shipping the whole spool",
			path, pos, st.next_seq - 1);
		pos = 0;
	}
	s->acked = s->pos_saved = r == 0 ? pos : 0;
	if (nj_loop_add_timer(loop, TICK_MS, on_tick, s) < 0) {
		snprintf(err, errlen, "shipping: no room for a timer in the event loop");
		goto err_free;
	}
	nj_info("shipping to %s:%s as host %s, from sequence %" PRIu64, cc->host, cc->port, host_id,
		s->acked + 1);
	/* the first attempt on the first tick */
	set_state(s, ST_BACKOFF);
	s->retry_at_ns = 0;
	return s;
err_free:
	SSL_CTX_free(s->ctx);
	free(s->spool_dir);
	free(s->pos_path);
	free(s);
	return NULL;
}

void nj_ship_stop(struct nj_ship *s)
{
	if (!s)
		return;
	save_pos(s, true);
	if (s->ssl && s->state == ST_STREAMING) {
		/* a courtesy: tell the collector we are going */
		ERR_clear_error();
		SSL_shutdown(s->ssl);
	}
	disconnect(s);
	/* a resolution under way belongs to glibc's thread until it ends: leave it */
	if (s->gai && gai_cancel(s->gai) == EAI_CANCELED) {
		free(s->gai);
		s->gai = NULL;
	}
	freeaddrinfo(s->addrs);
	nj_batch_free(&s->batch);
	free(s->out);
	SSL_CTX_free(s->ctx);
	free(s->spool_dir);
	free(s->pos_path);
	free(s);
}

void nj_ship_stats(const struct nj_ship *s, struct nj_ship_stats *st)
{
	struct nj_spool_stats sp;
	uint64_t from;

	memset(st, 0, sizeof(*st));
	if (!s)
		return;
	nj_spool_stats(s->spool, &sp);
	st->acked_seq = s->acked;
	st->acked_records = s->acked_records;
	st->sent_records = s->sent_records;
	st->lost_records = s->lost_base + (s->cur ? nj_cursor_lost(s->cur) : 0);
	from = s->acked + 1 > sp.oldest_seq ? s->acked + 1 : sp.oldest_seq;
	st->backlog = sp.next_seq > from ? sp.next_seq - from : 0;
	st->connected = s->state == ST_STREAMING;
}

void nj_ship_status_text(const struct nj_ship *s, FILE *f)
{
	struct nj_ship_stats st;
	uint64_t now = mono_ns();

	if (!s) {
		fprintf(f, "collector: not configured\n");
		return;
	}
	nj_ship_stats(s, &st);
	fprintf(f, "collector: %s:%s %s", s->cc.host, s->cc.port, state_names[s->state]);
	if (s->state == ST_STREAMING)
		fprintf(f, " for %" PRIu64 " s", (uint64_t)((now - s->state_ns) / 1000000000ull));
	else if (s->state == ST_BACKOFF)
		fprintf(f, ", next attempt in %.1f s",
			s->retry_at_ns > now ? (double)(s->retry_at_ns - now) / 1e9 : 0.0);
	fprintf(f,
		"; acked through %" PRIu64 ", backlog %" PRIu64 " records, shipped %" PRIu64
		", lost before shipping %" PRIu64 ", failures %" PRIu64 "\n",
		st.acked_seq, st.backlog, st.acked_records, st.lost_records, s->failures);
	if (s->last_error[0])
		fprintf(f, "collector last error (%" PRIu64 " s ago): %s\n",
			(uint64_t)((now - s->last_error_ns) / 1000000000ull), s->last_error);
}

void nj_ship_status_json(const struct nj_ship *s, struct nj_json *j)
{
	struct nj_ship_stats st;
	char addr[300];
	uint64_t now = mono_ns();

	if (!s)
		return;
	nj_ship_stats(s, &st);
	snprintf(addr, sizeof(addr), "%s:%s", s->cc.host, s->cc.port);
	nj_json_obj_begin(j, "collector");
	nj_json_str(j, "address", addr);
	nj_json_str(j, "server_name", s->cc.server_name);
	nj_json_str(j, "state", state_names[s->state]);
	if (s->state == ST_BACKOFF)
		nj_json_u64(j, "retry_in_ms",
			    s->retry_at_ns > now ? (s->retry_at_ns - now) / MS_NS : 0);
	if (s->state == ST_STREAMING)
		nj_json_u64(j, "connected_s", (uint64_t)((now - s->state_ns) / 1000000000ull));
	nj_json_u64(j, "acked_sequence", st.acked_seq);
	nj_json_u64(j, "backlog_records", st.backlog);
	nj_json_u64(j, "shipped_records", st.acked_records);
	nj_json_u64(j, "sent_records", st.sent_records);
	nj_json_u64(j, "lost_records", st.lost_records);
	nj_json_u64(j, "in_flight_batches", s->fl_n);
	nj_json_u64(j, "failures", s->failures);
	if (s->last_error[0]) {
		nj_json_str(j, "last_error", s->last_error);
		nj_json_u64(j, "last_error_age_s", (now - s->last_error_ns) / 1000000000ull);
	}
	nj_json_obj_end(j);
}
