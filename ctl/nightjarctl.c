/* nightjarctl - read Nightjar's records: a host's spool, or a capture file from anywhere.
 *
 * Subcommands are a table of do_<verb> functions, as in bpftool. Records print through the
 * same descriptor-driven JSON printer and text line as the agent's own output, so
 * `nightjarctl read --json` and `nightjar-agent --output json` cannot drift apart. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "host.h"
#include "json.h"
#include "log.h"
#include "pbjson.h"
#include "spool.h"
#include "text.h"
#include "version.h"

#define NS_PER_S 1000000000ULL

static void p_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void p_err(const char *fmt, ...)
{
	va_list ap;

	fputs("nightjarctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* The agent's state directory: the state_dir of its configuration file if it sets one, so
 * that every subcommand finds the same spool and socket as the agent without flags. */
static char state_dir_buf[4096];

static const char *agent_state_dir(void)
{
	struct nj_config cfg;
	char err[512];

	if (state_dir_buf[0])
		return state_dir_buf;
	nj_config_defaults(&cfg);
	if (access(NJ_CONFIG_DEFAULT_PATH, F_OK) == 0 &&
	    nj_config_load(&cfg, NJ_CONFIG_DEFAULT_PATH, err, sizeof(err)) < 0)
		p_err("%s (using %s)", err, NJ_STATE_DIR_DEFAULT);
	snprintf(state_dir_buf, sizeof(state_dir_buf), "%s", nj_config_state_dir(&cfg));
	nj_config_free(&cfg);
	return state_dir_buf;
}

/* ---- filters ------------------------------------------------------------------ */

struct filter {
	uint64_t since_ns, until_ns; /* UTC; 0 = open */
	long pid;		     /* -1 = any */
	const char *kind;
	const char *host;
	char **entities; /* --entity-id, grown with descendants when tree */
	size_t n_entities, cap_entities;
	bool tree;
};

/* RFC 3339 ("2026-11-28T16:40:24Z", fractions and offsets allowed) or relative to now
 * ("90s", "10m", "2h", "1d": that long ago). */
static int parse_when(const char *s, uint64_t *utc_ns)
{
	uint64_t ms, frac = 0, scale = NS_PER_S;
	struct timespec now;
	struct tm tm = {0};
	const char *p;
	long off = 0;
	time_t t;

	if (nj_parse_duration_ms(s, &ms) == 0) {
		clock_gettime(CLOCK_REALTIME, &now);
		*utc_ns = (uint64_t)now.tv_sec * NS_PER_S + (uint64_t)now.tv_nsec - ms * 1000000ULL;
		return 0;
	}
	p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!p)
		return -1;
	if (*p == '.') {
		for (p++; *p >= '0' && *p <= '9'; p++) {
			if (scale > 1) {
				scale /= 10;
				frac += (uint64_t)(*p - '0') * scale;
			}
		}
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if ((*p == '+' || *p == '-') && p[1] && p[2] && p[3] == ':' && p[4] && p[5]) {
		off = ((p[1] - '0') * 10 + (p[2] - '0')) * 3600 +
		      ((p[4] - '0') * 10 + (p[5] - '0')) * 60;
		if (*p == '-')
			off = -off;
		p += 6;
	} else {
		return -1;
	}
	if (*p)
		return -1;
	t = timegm(&tm) - off;
	if (t < 0)
		return -1;
	*utc_ns = (uint64_t)t * NS_PER_S + frac;
	return 0;
}

static int add_entity(struct filter *f, const char *id)
{
	if (f->n_entities == f->cap_entities) {
		size_t cap = f->cap_entities ? f->cap_entities * 2 : 16;
		char **e = realloc(f->entities, cap * sizeof(*e));

		if (!e)
			return -1;
		f->entities = e;
		f->cap_entities = cap;
	}
	f->entities[f->n_entities] = strdup(id);
	return f->entities[f->n_entities] ? (int)(f->n_entities++, 0) : -1;
}

static bool has_entity(const struct filter *f, const char *id)
{
	size_t i;

	for (i = 0; id && i < f->n_entities; i++)
		if (!strcmp(f->entities[i], id))
			return true;
	return false;
}

static bool matches(struct filter *f, const Nightjar__Record *r)
{
	const Nightjar__Process *p = nj_record_process(r);

	if (f->since_ns && r->timestamp_utc_ns < f->since_ns)
		return false;
	if (f->until_ns && r->timestamp_utc_ns > f->until_ns)
		return false;
	if (f->kind && strcmp(nj_record_kind(r), f->kind))
		return false;
	if (f->host && (!r->host || ((!r->host->name || strcmp(r->host->name, f->host)) &&
				     (!r->host->id || strcmp(r->host->id, f->host)))))
		return false;
	if (f->pid >= 0 && (!p || p->pid != (uint32_t)f->pid))
		return false;
	if (f->n_entities) {
		if (!p)
			return false;
		/* records come in order, so a child is seen after its parent joined the tree */
		if (f->tree && !has_entity(f, p->entity_id) && p->parent &&
		    has_entity(f, p->parent->entity_id) && p->entity_id)
			add_entity(f, p->entity_id);
		if (!has_entity(f, p->entity_id))
			return false;
	}
	return true;
}

/* ---- options shared by read, tail and capture --------------------------------- */

static const char *const kinds[] = {"exec",	"fork", "exit",	 "connect", "accept", "listen",
				    "udp_send", "open", "alert", "health",  "capture"};

#define FILTER_HELP                                                                                \
	"  --since WHEN        records at or after WHEN: RFC 3339, or 10m, 2h, 1d ago\n"           \
	"  --until WHEN        records at or before WHEN\n"                                        \
	"  --pid PID           records of this process id\n"                                       \
	"  --entity-id ID      records of this process (repeatable)\n"                             \
	"  --tree              with --entity-id: its descendants too\n"                            \
	"  --kind KIND         exec, fork, exit, connect, accept, listen, udp_send, open,\n"       \
	"                      alert, health or capture\n"                                         \
	"  --host HOST         records of this host name or host id\n"

enum {
	OPT_JSON = 256,
	OPT_SINCE,
	OPT_UNTIL,
	OPT_PID,
	OPT_ENTITY,
	OPT_TREE,
	OPT_KIND,
	OPT_HOST,
	OPT_STATE,
	OPT_WRITE,
	OPT_DURATION,
	OPT_HELP
};

#define FILTER_OPTIONS                                                                             \
	{"since", required_argument, NULL, OPT_SINCE},                                             \
		{"until", required_argument, NULL, OPT_UNTIL},                                     \
		{"pid", required_argument, NULL, OPT_PID},                                         \
		{"entity-id", required_argument, NULL, OPT_ENTITY},                                \
		{"tree", no_argument, NULL, OPT_TREE},                                             \
		{"kind", required_argument, NULL, OPT_KIND},                                       \
	{                                                                                          \
		"host", required_argument, NULL, OPT_HOST                                          \
	}

/* One filter option: 1 if handled, 0 if not a filter option, -1 on a bad value. The
 * command line of filters is also kept, for the capture header. */
static int filter_opt(struct filter *f, int opt, const char *arg, char *desc, size_t desclen)
{
	char *end;
	size_t i;

	switch (opt) {
	case OPT_SINCE:
	case OPT_UNTIL:
		if (parse_when(arg, opt == OPT_SINCE ? &f->since_ns : &f->until_ns)) {
			p_err("--%s: '%s' is not a time (expected RFC 3339 such as "
			      "2026-11-28T16:40:00Z, or an age such as 10m, 2h, 1d)",
			      opt == OPT_SINCE ? "since" : "until", arg);
			return -1;
		}
		break;
	case OPT_PID:
		errno = 0;
		f->pid = strtol(arg, &end, 10);
		if (errno || *end || f->pid < 0 || f->pid > UINT32_MAX) {
			p_err("--pid: '%s' is not a process id", arg);
			return -1;
		}
		break;
	case OPT_ENTITY:
		if (add_entity(f, arg)) {
			p_err("out of memory");
			return -1;
		}
		break;
	case OPT_TREE:
		f->tree = true;
		break;
	case OPT_KIND:
		for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
			if (!strcmp(arg, kinds[i]))
				break;
		if (i == sizeof(kinds) / sizeof(kinds[0])) {
			p_err("--kind: unknown kind '%s' (see --help)", arg);
			return -1;
		}
		f->kind = arg;
		break;
	case OPT_HOST:
		f->host = arg;
		break;
	default:
		return 0;
	}
	if (desc) {
		size_t n = strlen(desc);
		const char *name = opt == OPT_SINCE    ? "since"
				   : opt == OPT_UNTIL  ? "until"
				   : opt == OPT_PID    ? "pid"
				   : opt == OPT_ENTITY ? "entity-id"
				   : opt == OPT_TREE   ? "tree"
				   : opt == OPT_KIND   ? "kind"
						       : "host";

		snprintf(desc + n, desclen - n, "%s--%s%s%s", n ? " " : "", name,
			 opt == OPT_TREE ? "" : " ", opt == OPT_TREE ? "" : arg);
	}
	return 1;
}

static void filter_free(struct filter *f)
{
	size_t i;

	for (i = 0; i < f->n_entities; i++)
		free(f->entities[i]);
	free(f->entities);
}

/* Print one record as JSON or text. */
static void print_record(const Nightjar__Record *rec, bool json, struct nj_json *j)
{
	if (!json) {
		nj_text_record(stdout, rec);
		return;
	}
	nj_json_reset(j);
	nj_pbjson_message(j, NULL, &rec->base);
	if (!j->oom) {
		fwrite(j->buf, 1, j->len, stdout);
		fputc('\n', stdout);
	}
}

/* ---- read ---------------------------------------------------------------------- */

static void usage_read(FILE *f)
{
	fprintf(f,
		"Usage: nightjarctl read [PATH] [OPTIONS]\n"
		"Print the records of a spool directory (default: the agent's, from %s,\n"
		"else %s/spool) or of a capture file.\n"
		"\n"
		"  --json              one JSON object per line, as nightjar-agent --output "
		"json\n" FILTER_HELP "\n"
		"Damage (a torn or corrupt record) is reported with its file and offset; every\n"
		"intact record before it is printed, and the exit status is 1.\n",
		NJ_CONFIG_DEFAULT_PATH, NJ_STATE_DIR_DEFAULT);
}

static int do_read(int argc, char **argv)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, OPT_JSON},
		FILTER_OPTIONS,
		{"help", no_argument, NULL, OPT_HELP},
		{0},
	};
	struct filter f = {.pid = -1};
	char spool[4096 + 8];
	const char *path = spool;
	uint64_t seq, damaged = 0;
	const uint8_t *payload;
	struct nj_arena arena;
	struct nj_reader *r;
	struct nj_json j;
	bool json = false;
	char err[512];
	size_t len;
	int opt, n, ret = 2;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (opt == OPT_JSON) {
			json = true;
		} else if (opt == OPT_HELP) {
			usage_read(stdout);
			ret = 0;
			goto out;
		} else if ((n = filter_opt(&f, opt, optarg, NULL, 0)) <= 0) {
			if (n == 0)
				usage_read(stderr);
			goto out;
		}
	}
	if (f.tree && !f.n_entities) {
		p_err("--tree needs --entity-id");
		goto out;
	}
	if (optind < argc)
		path = argv[optind++];
	else
		snprintf(spool, sizeof(spool), "%s/spool", agent_state_dir());
	if (optind < argc) {
		p_err("read: unexpected argument '%s'", argv[optind]);
		goto out;
	}
	r = nj_reader_open(path, err, sizeof(err));
	if (!r) {
		p_err("%s", err);
		ret = 1;
		goto out;
	}
	nj_json_init(&j);
	nj_arena_init(&arena, 256 << 10);
	while ((n = nj_reader_next(r, &seq, &payload, &len, err, sizeof(err))) != 0) {
		Nightjar__Record *rec;

		if (n < 0) {
			p_err("%s", err);
			damaged++;
			continue;
		}
		/* freed all at once by the next unpack: no free() per sub-message */
		rec = nj_record_unpack_arena(&arena, payload, len);
		if (!rec) {
			p_err("%s: record %" PRIu64 " is not a nightjar.Record", path, seq);
			damaged++;
			continue;
		}
		if (matches(&f, rec))
			print_record(rec, json, &j);
	}
	nj_arena_free(&arena);
	nj_json_free(&j);
	nj_reader_close(r);
	if (fflush(stdout) != 0) {
		p_err("writing to stdout: %s", strerror(errno));
		ret = 1;
		goto out;
	}
	ret = damaged ? 1 : 0;
out:
	filter_free(&f);
	return ret;
}

/* ---- the agent's control socket ------------------------------------------------- */

static int connect_agent(const char *state_dir, const char *request)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/control.sock", state_dir);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		p_err("cannot reach the agent at %s: %s (is nightjar-agent running, and are you "
		      "root?)",
		      sa.sun_path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (write(fd, request, strlen(request)) != (ssize_t)strlen(request)) {
		p_err("sending to the agent: %s", strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static int do_status(int argc, char **argv)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, OPT_JSON},
		{"state-dir", required_argument, NULL, OPT_STATE},
		{"help", no_argument, NULL, OPT_HELP},
		{0},
	};
	const char *state = NULL;
	bool json = false;
	char buf[4096];
	ssize_t n;
	int opt, fd;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case OPT_JSON:
			json = true;
			break;
		case OPT_STATE:
			state = optarg;
			break;
		case OPT_HELP:
			printf("Usage: nightjarctl status [--json] [--state-dir DIR]\n"
			       "(default state directory: state_dir in " NJ_CONFIG_DEFAULT_PATH
			       ", else " NJ_STATE_DIR_DEFAULT ")\n"
			       "The running agent's hooks, attached programs, event rate, every "
			       "loss\n"
			       "counter, and its spool: size, segments, oldest record.\n");
			return 0;
		default:
			return 2;
		}
	}
	fd = connect_agent(state ? state : agent_state_dir(), json ? "status json\n" : "status\n");
	if (fd < 0)
		return 1;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		fwrite(buf, 1, (size_t)n, stdout);
	close(fd);
	return n < 0 ? 1 : 0;
}

/* ---- tail and capture: both follow the agent's stream --------------------------- */

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

struct capture {
	int fd;
	const char *path;
	off_t info_off; /* where the capture header record sits, rewritten at the end */
	Nightjar__Record rec;
	Nightjar__Host host;
	Nightjar__Event event;
	Nightjar__CaptureInfo info;
	Nightjar__CaptureEvent body;
	uint8_t *packed;
	size_t packed_len;
	char hostname[256];
	char host_id[33];
	uint64_t records;
};

static uint64_t now_utc(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

/* (Re)write the capture header record: same size each time, since its times and count are
 * fixed64. Sequence 0: it is not one of the host's records. */
static int write_info(struct capture *c)
{
	uint8_t hdr[NJ_FRAME_HEADER_LEN];
	size_t len = protobuf_c_message_get_packed_size(&c->rec.base);

	if (!c->packed) {
		c->packed = malloc(len);
		c->packed_len = len;
	}
	if (!c->packed || len != c->packed_len)
		return -1;
	protobuf_c_message_pack(&c->rec.base, c->packed);
	nj_frame_header(hdr, 0, c->packed, len);
	if (pwrite(c->fd, hdr, sizeof(hdr), c->info_off) != (ssize_t)sizeof(hdr) ||
	    pwrite(c->fd, c->packed, len, c->info_off + (off_t)sizeof(hdr)) != (ssize_t)len)
		return -1;
	return 0;
}

static int capture_open(struct capture *c, const char *path, const char *filters,
			const char *state_dir)
{
	uint8_t fh[NJ_FILE_HEADER_LEN];
	char err[256];

	c->path = path;
	c->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (c->fd < 0) {
		p_err("%s: %s", path, strerror(errno));
		return -1;
	}
	nj_file_header(fh, NJ_FILE_CAPTURE);
	if (write(c->fd, fh, sizeof(fh)) != (ssize_t)sizeof(fh)) {
		p_err("%s: %s", path, strerror(errno));
		return -1;
	}
	c->info_off = sizeof(fh);
	nightjar__record__init(&c->rec);
	nightjar__host__init(&c->host);
	nightjar__event__init(&c->event);
	nightjar__capture_info__init(&c->info);
	nightjar__capture_event__init(&c->body);
	c->body.capture = &c->info;
	gethostname(c->hostname, sizeof(c->hostname) - 1);
	c->host.name = c->hostname;
	/* the same id the agent puts in every record of this host */
	if (nj_host_id(c->host_id, "/etc/machine-id", state_dir, err, sizeof(err)) == 0)
		c->host.id = c->host_id;
	c->event.kind = "event";
	c->event.category = "host";
	c->event.type = "info";
	c->event.action = "capture";
	c->info.agent_version = NJ_VERSION;
	c->info.has_start_utc_ns = c->info.has_end_utc_ns = c->info.has_records = 1;
	c->info.start_utc_ns = c->info.end_utc_ns = now_utc();
	c->info.filters = (char *)filters;
	c->rec.has_timestamp_utc_ns = 1;
	c->rec.timestamp_utc_ns = c->info.start_utc_ns;
	c->rec.event = &c->event;
	c->rec.host = &c->host;
	c->rec.body_case = NIGHTJAR__RECORD__BODY_CAPTURE;
	c->rec.capture = &c->body;
	if (write_info(c) < 0 || lseek(c->fd, 0, SEEK_END) < 0) {
		p_err("%s: writing the capture header: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

static int capture_add(struct capture *c, uint64_t seq, const uint8_t *payload, size_t len)
{
	uint8_t hdr[NJ_FRAME_HEADER_LEN];
	struct iovec iov[2] = {{hdr, sizeof(hdr)}, {(void *)payload, len}};

	/* the host's own numbering and bytes, untouched: the capture is evidence */
	nj_frame_header(hdr, seq, payload, len);
	if (writev(c->fd, iov, 2) != (ssize_t)(sizeof(hdr) + len)) {
		p_err("%s: %s", c->path, strerror(errno ? errno : ENOSPC));
		return -1;
	}
	c->records++;
	return 0;
}

static int capture_close(struct capture *c)
{
	int ret = 0;

	c->info.end_utc_ns = now_utc();
	c->info.records = c->records;
	if (write_info(c) < 0 || fsync(c->fd) < 0) {
		p_err("%s: finishing the capture: %s", c->path, strerror(errno));
		ret = -1;
	}
	close(c->fd);
	free(c->packed);
	return ret;
}

static void usage_follow(FILE *f, bool capture)
{
	if (capture)
		fprintf(f, "Usage: nightjarctl capture -w FILE --duration D [OPTIONS]\n"
			   "Write the agent's live records to a self-contained capture file that\n"
			   "`nightjarctl read FILE` opens on any machine.\n\n"
			   "  -w, --write FILE    the capture file (replaced if it exists)\n"
			   "  --duration D        how long: 30s, 10m, 2h (SIGINT ends it early)\n");
	else
		fprintf(f, "Usage: nightjarctl tail [OPTIONS]\n"
			   "Print the agent's records as they happen, until interrupted.\n\n"
			   "  --json              one JSON object per line\n");
	fprintf(f,
		"  --state-dir DIR     the agent's state directory (default: state_dir in %s,\n"
		"                      else %s)\n" FILTER_HELP,
		NJ_CONFIG_DEFAULT_PATH, NJ_STATE_DIR_DEFAULT);
}

static int follow(int argc, char **argv, bool capture)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, OPT_JSON},
		{"state-dir", required_argument, NULL, OPT_STATE},
		{"write", required_argument, NULL, OPT_WRITE},
		{"duration", required_argument, NULL, OPT_DURATION},
		FILTER_OPTIONS,
		{"help", no_argument, NULL, OPT_HELP},
		{0},
	};
	struct filter f = {.pid = -1};
	const char *state = NULL, *out = NULL, *duration = NULL;
	struct capture cap = {.fd = -1};
	struct nj_stream st = {0};
	uint64_t duration_ms = 0, deadline = 0, seq, seen = 0;
	struct sigaction sa = {.sa_handler = on_signal};
	char err[512], desc[1024] = "";
	const uint8_t *payload;
	struct nj_json j;
	bool json = false;
	int opt, fd = -1, n, ret = 2;
	size_t len;

	optind = 1;
	while ((opt = getopt_long(argc, argv, capture ? "w:" : "", opts, NULL)) != -1) {
		if (opt == OPT_JSON && !capture) {
			json = true;
		} else if (opt == OPT_STATE) {
			state = optarg;
		} else if ((opt == OPT_WRITE || opt == 'w') && capture) {
			out = optarg;
		} else if (opt == OPT_DURATION && capture) {
			duration = optarg;
			if (nj_parse_duration_ms(optarg, &duration_ms) || !duration_ms) {
				p_err("--duration: '%s' is not a duration (expected 30s, 10m, 2h)",
				      optarg);
				goto out;
			}
		} else if (opt == OPT_HELP) {
			usage_follow(stdout, capture);
			ret = 0;
			goto out;
		} else if ((n = filter_opt(&f, opt, optarg, desc, sizeof(desc))) <= 0) {
			if (n == 0)
				usage_follow(stderr, capture);
			goto out;
		}
	}
	if (optind < argc) {
		p_err("unexpected argument '%s'", argv[optind]);
		goto out;
	}
	if (capture && (!out || !duration_ms)) {
		p_err("capture needs -w FILE and --duration D");
		goto out;
	}
	if (f.tree && !f.n_entities) {
		p_err("--tree needs --entity-id");
		goto out;
	}
	ret = 1;
	if (!state)
		state = agent_state_dir();
	fd = connect_agent(state, "tail\n");
	if (fd < 0)
		goto out;
	if (capture && capture_open(&cap, out, desc, state) < 0)
		goto out;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (capture) {
		deadline = now_utc() + duration_ms * 1000000ULL;
		fprintf(stderr, "nightjarctl: capturing to %s for %s (Ctrl-C ends it early)\n", out,
			duration);
	}
	nj_json_init(&j);
	ret = 0;
	while (!stop) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		char buf[65536];
		int timeout = -1;
		ssize_t got;

		if (capture) {
			uint64_t now = now_utc();

			if (now >= deadline)
				break;
			timeout = (int)((deadline - now) / 1000000ULL) + 1;
		}
		n = poll(&pfd, 1, timeout);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			continue;
		got = read(fd, buf, sizeof(buf));
		if (got <= 0) {
			if (got < 0 && errno == EINTR)
				continue;
			p_err("the agent closed the stream%s", got < 0 ? " with an error" : "");
			ret = 1;
			break;
		}
		if (nj_stream_feed(&st, buf, (size_t)got) < 0) {
			p_err("out of memory");
			ret = 1;
			break;
		}
		while ((n = nj_stream_next(&st, &seq, &payload, &len, err, sizeof(err))) == 1) {
			Nightjar__Record *rec = nj_record_unpack(payload, len);

			if (!rec)
				continue;
			seen++;
			if (matches(&f, rec)) {
				if (capture)
					ret = capture_add(&cap, seq, payload, len) < 0 ? 1 : 0;
				else
					print_record(rec, json, &j);
			}
			nightjar__record__free_unpacked(rec, NULL);
			if (ret)
				break;
		}
		if (n < 0) {
			p_err("%s", err);
			ret = 1;
		}
		if (ret)
			break;
		fflush(stdout);
	}
	nj_json_free(&j);
	if (capture) {
		if (capture_close(&cap) < 0)
			ret = 1;
		fprintf(stderr, "nightjarctl: %" PRIu64 " of %" PRIu64 " records captured in %s\n",
			cap.records, seen, out);
	}
out:
	if (fd >= 0)
		close(fd);
	nj_stream_free(&st);
	filter_free(&f);
	return ret;
}

static int do_tail(int argc, char **argv)
{
	return follow(argc, argv, false);
}

static int do_capture(int argc, char **argv)
{
	return follow(argc, argv, true);
}

/* ---- main ---------------------------------------------------------------------- */

static const struct cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
} cmds[] = {
	{"read", do_read, "print the records of a spool or a capture file"},
	{"tail", do_tail, "print the running agent's records as they happen"},
	{"capture", do_capture, "write live records to a self-contained capture file"},
	{"status", do_status, "hooks, programs, rates, loss counters and spool of the agent"},
};

static void usage(FILE *f)
{
	size_t i;

	fprintf(f, "Usage: nightjarctl COMMAND [ARGS]\n\nCommands:\n");
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(f, "  %-8s %s\n", cmds[i].name, cmds[i].help);
	fprintf(f, "\nnightjarctl COMMAND --help describes each.\n");
}

int main(int argc, char **argv)
{
	size_t i;

	nj_log_init("nightjarctl", NJ_LOG_WARN);
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(argv[1], cmds[i].name))
			return cmds[i].fn(argc - 1, argv + 1);
	p_err("unknown command '%s' (see nightjarctl --help)", argv[1]);
	return 2;
}
