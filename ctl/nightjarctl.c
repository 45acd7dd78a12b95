/* nightjarctl - read Nightjar's records: a host's spool, or a capture file from anywhere.
 *
 * Subcommands are a table of do_<verb> functions, as in bpftool. Records print through the
 * same descriptor-driven JSON printer and text line as the agent's own output, so
 * `nightjarctl read --json` and `nightjar-agent --output json` cannot drift apart. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "json.h"
#include "log.h"
#include "pbjson.h"
#include "spool.h"
#include "text.h"

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

/* ---- read ---------------------------------------------------------------------- */

static const char *const kinds[] = {"exec",   "fork",	  "exit", "connect", "accept",
				    "listen", "udp_send", "open", "alert",   "health"};

static void usage_read(FILE *f)
{
	fprintf(f,
		"Usage: nightjarctl read [PATH] [OPTIONS]\n"
		"Print the records of a spool directory (default: %s/spool) or of a capture file.\n"
		"\n"
		"  --json              one JSON object per line, as nightjar-agent --output json\n"
		"  --since WHEN        records at or after WHEN: RFC 3339, or 10m, 2h, 1d ago\n"
		"  --until WHEN        records at or before WHEN\n"
		"  --pid PID           records of this process id\n"
		"  --entity-id ID      records of this process (repeatable)\n"
		"  --tree              with --entity-id: its descendants too\n"
		"  --kind KIND         exec, fork, exit, connect, accept, listen, udp_send, open,\n"
		"                      alert or health\n"
		"  --host HOST         records of this host name or host id\n"
		"\n"
		"Damage (a torn or corrupt record) is reported with its file and offset; every\n"
		"intact record before it is printed, and the exit status is 1.\n",
		NJ_STATE_DIR_DEFAULT);
}

static int do_read(int argc, char **argv)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, 'j'},
		{"since", required_argument, NULL, 's'},
		{"until", required_argument, NULL, 'u'},
		{"pid", required_argument, NULL, 'p'},
		{"entity-id", required_argument, NULL, 'e'},
		{"tree", no_argument, NULL, 't'},
		{"kind", required_argument, NULL, 'k'},
		{"host", required_argument, NULL, 'H'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	struct filter f = {.pid = -1};
	const char *path = NJ_STATE_DIR_DEFAULT "/spool";
	uint64_t seq, printed = 0, damaged = 0;
	const uint8_t *payload;
	struct nj_reader *r;
	struct nj_json j;
	bool json = false;
	char err[512], *end;
	size_t len, i;
	int opt, n, ret = 2;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'j':
			json = true;
			break;
		case 's':
		case 'u':
			if (parse_when(optarg, opt == 's' ? &f.since_ns : &f.until_ns)) {
				p_err("--%s: '%s' is not a time (expected RFC 3339 such as "
				      "2026-11-28T16:40:00Z, or an age such as 10m, 2h, 1d)",
				      opt == 's' ? "since" : "until", optarg);
				goto out;
			}
			break;
		case 'p':
			errno = 0;
			f.pid = strtol(optarg, &end, 10);
			if (errno || *end || f.pid < 0 || f.pid > UINT32_MAX) {
				p_err("--pid: '%s' is not a process id", optarg);
				goto out;
			}
			break;
		case 'e':
			if (add_entity(&f, optarg)) {
				p_err("out of memory");
				goto out;
			}
			break;
		case 't':
			f.tree = true;
			break;
		case 'k':
			for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
				if (!strcmp(optarg, kinds[i]))
					break;
			if (i == sizeof(kinds) / sizeof(kinds[0])) {
				p_err("--kind: unknown kind '%s' (see nightjarctl read --help)",
				      optarg);
				goto out;
			}
			f.kind = optarg;
			break;
		case 'H':
			f.host = optarg;
			break;
		case 'h':
			usage_read(stdout);
			ret = 0;
			goto out;
		default:
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
	while ((n = nj_reader_next(r, &seq, &payload, &len, err, sizeof(err))) != 0) {
		Nightjar__Record *rec;

		if (n < 0) {
			p_err("%s", err);
			damaged++;
			continue;
		}
		rec = nightjar__record__unpack(NULL, len, payload);
		if (!rec) {
			p_err("%s: record %" PRIu64 " is not a nightjar.Record", path, seq);
			damaged++;
			continue;
		}
		if (matches(&f, rec)) {
			if (json) {
				nj_json_reset(&j);
				nj_pbjson_message(&j, NULL, &rec->base);
				if (!j.oom) {
					fwrite(j.buf, 1, j.len, stdout);
					fputc('\n', stdout);
				}
			} else {
				nj_text_record(stdout, rec);
			}
			printed++;
		}
		nightjar__record__free_unpacked(rec, NULL);
	}
	nj_json_free(&j);
	nj_reader_close(r);
	if (fflush(stdout) != 0) {
		p_err("writing to stdout: %s", strerror(errno));
		ret = 1;
		goto out;
	}
	ret = damaged ? 1 : 0;
out:
	for (i = 0; i < f.n_entities; i++)
		free(f.entities[i]);
	free(f.entities);
	return ret;
}

/* ---- main ---------------------------------------------------------------------- */

static const struct cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
} cmds[] = {
	{"read", do_read, "print the records of a spool or a capture file"},
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
