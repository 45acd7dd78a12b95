/* detect.c - the detectors. All state is in small fixed tables: a workstation produces a few
 * credential reads and connections per second, and a table that fills forgets its oldest
 * entry rather than growing without bound. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "detect.h"
#include "log.h"
#include "match.h"
#include "records.h"

#define N_TAINTS     128 /* credential reads egress would turn into exfiltration */
#define N_SWEEPS     64	 /* lineages reading stores */
#define SWEEP_STORES 16
#define N_ACCEPTS    256 /* recent accepts, for relays */
#define N_RELAYS     64	 /* listeners found to relay */
#define N_CONNECTS   256 /* recent connects, to name a relay's clients */
#define N_PROXY	     64	 /* recent proxy use, the context of other alerts */
#define N_DEDUPE     256
#define N_IDENT	     4096 /* watched identities */
#define N_ATTR	     1024 /* files attributed to a store (or to none) */
#define NS_PER_S     UINT64_C(1000000000)

/* A process by identity: pid and entity id (boot, pid, start time: unique across pid reuse). */
struct pref {
	uint32_t tgid;
	char entity[NJ_ENTITY_ID_LEN];
};

struct taint {
	uint64_t ts, seq;
	struct pref reader, parent;
	size_t store;
	char exe_name[64];
	char path[NJ_ALERT_PATH];
};

struct sweep {
	uint64_t ts; /* last read */
	struct pref lineage;
	size_t n;
	size_t stores[SWEEP_STORES];
	uint64_t seqs[SWEEP_STORES], when[SWEEP_STORES];
	char paths[NJ_ALERT_FILES][NJ_ALERT_PATH];
};

struct accept_rec {
	uint64_t ts, seq;
	struct pref proc;
	struct nj_alert_dest local;
};

struct relay {
	uint64_t ts;
	struct nj_alert_dest listener;
	char who[64];
	uint32_t tgid;
};

struct connect_rec {
	uint64_t ts, seq;
	struct pref proc;
	uint64_t start_ns;
	struct nj_alert_dest dest;
};

struct proxy_ctx {
	uint64_t ts;
	struct pref proc, parent;
	struct nj_alert_dest dest;
};

struct dedupe {
	bool used;
	uint64_t first_ts;
	struct pref lineage;
	struct nj_alert a; /* the first alert, then updated with each repeat */
};

struct ident {
	uint64_t ino;
	uint32_t dev;
	uint32_t store_plus1; /* 0: free slot */
};

struct attr_cache {
	bool valid;
	uint32_t dev;
	uint64_t ino, hash;
	size_t store; /* (size_t)-1: no store */
};

struct baseline_ent {
	size_t store;
	char *exe;
};

struct nj_detect {
	const struct nj_rules *rules;
	struct nj_detect_opts o;
	struct nj_proctab *procs;
	nj_alert_fn fn;
	void *arg;
	struct nj_detect_stats st;

	struct taint taints[N_TAINTS];
	size_t taint_next;
	struct sweep sweeps[N_SWEEPS];
	struct accept_rec accepts[N_ACCEPTS];
	size_t accept_next;
	struct relay relays[N_RELAYS];
	size_t relay_next;
	struct connect_rec connects[N_CONNECTS];
	size_t connect_next;
	struct proxy_ctx proxies[N_PROXY];
	size_t proxy_next;
	struct dedupe dedupe[N_DEDUPE];
	struct ident idents[N_IDENT];
	struct attr_cache attr[N_ATTR];

	struct baseline_ent *baseline;
	size_t n_baseline, cap_baseline;
	int baseline_fd;
};

/* Copy a string, cut to fit: alert paths and names are bounded, the records keep them whole. */
static void cut(char *dst, size_t size, const char *src)
{
	size_t n = strnlen(src, size - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* ---- processes ------------------------------------------------------------------------- */

static void pref_of(struct pref *r, const struct nj_proc *p)
{
	if (!p) {
		memset(r, 0, sizeof(*r));
		return;
	}
	r->tgid = p->tgid;
	cut(r->entity, sizeof(r->entity), p->entity_id);
}

static bool pref_eq(const struct pref *a, const struct pref *b)
{
	return a->entity[0] && !strcmp(a->entity, b->entity);
}

static const struct nj_proc *parent_of(struct nj_detect *d, const struct nj_proc *p)
{
	return p ? nj_proc_find(d->procs, p->ppid, p->parent_start_ns) : NULL;
}

/* Where a dedupe window and a sweep are kept: the process that started this one (the shell
 * of a pipeline, the script of its commands), or the process itself without a known parent. */
static void lineage_of(struct nj_detect *d, struct pref *r, const struct nj_proc *p)
{
	const struct nj_proc *parent = parent_of(d, p);

	pref_of(r, parent ? parent : p);
}

static bool is_ancestor(struct nj_detect *d, const struct nj_proc *p, const struct pref *who)
{
	const struct nj_proc *q = p;
	int i;

	for (i = 0; i < NJ_MATCH_ANCESTORS && (q = parent_of(d, q)); i++)
		if (!strcmp(q->entity_id, who->entity))
			return true;
	return false;
}

static const char *base(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

/* A short name for messages: the executable's base name, else comm. */
static const char *pname(const struct nj_proc *p)
{
	return p->exe && *p->exe ? base(p->exe) : p->comm;
}

static void subject_of(struct nj_detect *d, const struct nj_proc *p, struct nj_subject *s)
{
	const struct nj_proc *q = p;

	memset(s, 0, sizeof(*s));
	s->exe = p->exe ? p->exe : "";
	nj_subject_set_args(s, p->args, p->args_len);
	s->uid = p->uid;
	while (s->n_ancestors < NJ_MATCH_ANCESTORS && (q = parent_of(d, q)))
		s->ancestors[s->n_ancestors++] = q->exe ? q->exe : "";
}

static void dest_of(struct nj_alert_dest *out, uint16_t family, const uint8_t *addr, uint16_t port)
{
	memset(out, 0, sizeof(*out));
	out->family = family;
	out->port = port;
	memcpy(out->addr, addr, family == AF_INET ? 4 : 16);
}

static bool dest_eq(const struct nj_alert_dest *a, const struct nj_alert_dest *b)
{
	return a->family == b->family && a->port == b->port && !memcmp(a->addr, b->addr, 16);
}

static bool is_any_addr(const struct nj_alert_dest *a)
{
	static const uint8_t zero[16];

	return !memcmp(a->addr, zero, 16);
}

static const char *dest_str(char *buf, size_t len, const struct nj_alert_dest *a)
{
	char ip[INET6_ADDRSTRLEN] = "?";

	inet_ntop(a->family, a->addr, ip, sizeof(ip));
	snprintf(buf, len, a->family == AF_INET6 ? "[%s]:%u" : "%s:%u", ip, a->port);
	return buf;
}

/* Append to an alert's message, cut to fit. */
static void say(struct nj_alert *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void say(struct nj_alert *a, const char *fmt, ...)
{
	size_t n = strlen(a->message);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(a->message + n, sizeof(a->message) - n, fmt, ap);
	va_end(ap);
}

/* ---- alerts and deduplication ---------------------------------------------------------- */

static void alert_init(struct nj_alert *a, const struct nj_rule *r, const char *category,
		       const struct nj_proc *p, uint64_t ts)
{
	memset(a, 0, sizeof(*a));
	a->rule_id = r->id;
	a->rule_name = r->name;
	a->technique = r->technique;
	a->severity = r->severity;
	a->category = category;
	a->tgid = p->tgid;
	a->start_ns = p->start_ns;
	a->count = 1;
	a->ts = ts;
}

static void add_seq(struct nj_alert *a, uint64_t seq)
{
	if (a->n_seqs < NJ_ALERT_SEQS)
		a->seqs[a->n_seqs++] = seq;
}

static void add_file(struct nj_alert *a, const char *path)
{
	size_t i;

	for (i = 0; i < a->n_files; i++)
		if (!strcmp(a->files[i], path))
			return;
	if (a->n_files < NJ_ALERT_FILES)
		cut(a->files[a->n_files++], NJ_ALERT_PATH, path);
}

static void add_dest(struct nj_alert *a, const struct nj_alert_dest *dst)
{
	size_t i;

	for (i = 0; i < a->n_dests; i++)
		if (dest_eq(&a->dests[i], dst))
			return;
	if (a->n_dests < NJ_ALERT_DESTS)
		a->dests[a->n_dests++] = *dst;
}

/* Detector 6's context: this process or its lineage went through a proxy recently. */
static const struct proxy_ctx *proxy_context(struct nj_detect *d, const struct nj_proc *p,
					     uint64_t now)
{
	struct pref self, parent;
	size_t i;

	pref_of(&self, p);
	pref_of(&parent, parent_of(d, p));
	for (i = 0; i < N_PROXY; i++) {
		const struct proxy_ctx *c = &d->proxies[i];

		if (!c->ts || now - c->ts > d->o.egress_window_ns)
			continue;
		if (pref_eq(&c->proc, &self) || pref_eq(&c->parent, &self) ||
		    (parent.entity[0] && pref_eq(&c->parent, &parent)) ||
		    is_ancestor(d, p, &c->proc))
			return c;
	}
	return NULL;
}

static void emit(struct nj_detect *d, const struct nj_alert *a)
{
	d->st.alerts++;
	d->fn(d->arg, a);
}

/* Report a repeated alert's count when its window closes. */
static void rollup(struct nj_detect *d, struct dedupe *e)
{
	struct nj_alert a;

	if (e->a.count > 1) {
		a = e->a;
		a.message[0] = '\0';
		say(&a, "repeated %u times: ", e->a.count);
		say(&a, "%s", e->a.message);
		emit(d, &a);
	}
	e->used = false;
}

/* One alert per rule and lineage within the dedupe window; repeats are counted into it. */
static void fire(struct nj_detect *d, struct nj_alert *a, const struct nj_proc *p,
		 const struct pref *lineage)
{
	const struct proxy_ctx *px = proxy_context(d, p, a->ts);
	struct dedupe *e, *free_slot = NULL, *oldest = NULL;
	char buf[64];
	size_t i, n;

	if (px && strcmp(a->category, "proxy_use")) {
		/* one band up: the same act, hidden behind a proxy */
		a->severity = a->severity >= NJ_SEV_HIGH     ? NJ_SEV_CRITICAL
			      : a->severity >= NJ_SEV_MEDIUM ? NJ_SEV_HIGH
							     : NJ_SEV_MEDIUM;
		say(a, " (through the proxy at %s)", dest_str(buf, sizeof(buf), &px->dest));
		add_dest(a, &px->dest);
	}
	for (i = 0; i < N_DEDUPE; i++) {
		e = &d->dedupe[i];
		if (!e->used) {
			if (!free_slot)
				free_slot = e;
			continue;
		}
		if (strcmp(e->a.rule_id, a->rule_id) || !pref_eq(&e->lineage, lineage)) {
			if (!oldest || e->first_ts < oldest->first_ts)
				oldest = e;
			continue;
		}
		/* records from two CPUs can arrive a little out of time order */
		if (a->ts < e->first_ts || a->ts - e->first_ts < d->o.dedupe_window_ns) {
			e->a.count++;
			if (a->ts > e->a.ts)
				e->a.ts = a->ts;
			for (n = 0; n < a->n_seqs; n++)
				add_seq(&e->a, a->seqs[n]);
			for (n = 0; n < a->n_files; n++)
				add_file(&e->a, a->files[n]);
			for (n = 0; n < a->n_dests; n++)
				add_dest(&e->a, &a->dests[n]);
			d->st.suppressed++;
			return;
		}
		rollup(d, e);
		free_slot = e;
		break;
	}
	if (!free_slot) {
		rollup(d, oldest);
		free_slot = oldest;
	}
	emit(d, a);
	free_slot->used = true;
	free_slot->first_ts = a->ts;
	free_slot->lineage = *lineage;
	free_slot->a = *a;
}

void nj_detect_tick(struct nj_detect *d, uint64_t now_ns)
{
	size_t i;

	for (i = 0; i < N_DEDUPE; i++)
		if (d->dedupe[i].used && now_ns - d->dedupe[i].first_ts >= d->o.dedupe_window_ns)
			rollup(d, &d->dedupe[i]);
}

/* ---- the learned baseline (learn: true stores) ----------------------------------------- */

static bool baseline_has(const struct nj_detect *d, size_t store, const char *exe)
{
	size_t i;

	for (i = 0; i < d->n_baseline; i++)
		if (d->baseline[i].store == store && !strcmp(d->baseline[i].exe, exe))
			return true;
	return false;
}

static int baseline_add(struct nj_detect *d, size_t store, const char *exe)
{
	struct baseline_ent *b;
	char *copy;

	if (d->n_baseline == d->cap_baseline) {
		size_t cap = d->cap_baseline ? 2 * d->cap_baseline : 64;

		b = realloc(d->baseline, cap * sizeof(*b));
		if (!b)
			return -1;
		d->baseline = b;
		d->cap_baseline = cap;
	}
	copy = strdup(exe);
	if (!copy)
		return -1;
	d->baseline[d->n_baseline].store = store;
	d->baseline[d->n_baseline++].exe = copy;
	return 0;
}

static size_t store_by_id(const struct nj_detect *d, const char *id)
{
	size_t i;

	for (i = 0; i < d->rules->n_stores; i++)
		if (!strcmp(d->rules->stores[i].r.id, id))
			return i;
	return (size_t)-1;
}

/* "store-id TAB executable" per line; an entry of a store no longer defined is kept in the
 * file but not used. */
static void baseline_load(struct nj_detect *d)
{
	char line[4096 + 128], *tab;
	size_t store;
	FILE *f;

	d->baseline_fd = -1;
	if (!d->o.baseline_path)
		return;
	f = fopen(d->o.baseline_path, "re");
	if (f) {
		while (fgets(line, sizeof(line), f)) {
			line[strcspn(line, "\n")] = '\0';
			tab = strchr(line, '\t');
			if (!tab)
				continue;
			*tab = '\0';
			store = store_by_id(d, line);
			if (store != (size_t)-1 && !baseline_has(d, store, tab + 1))
				baseline_add(d, store, tab + 1);
		}
		fclose(f);
	} else if (errno != ENOENT) {
		nj_warn("baseline %s: %s; starting with an empty one", d->o.baseline_path,
			strerror(errno));
	}
	d->baseline_fd = open(d->o.baseline_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (d->baseline_fd < 0)
		nj_warn("baseline %s: %s; what is learned will not survive a restart",
			d->o.baseline_path, strerror(errno));
	else
		nj_info("baseline %s: %zu learned readers", d->o.baseline_path, d->n_baseline);
}

/* Learn a reader; the line is synced so a restart does not alert on it again. */
static void baseline_learn(struct nj_detect *d, size_t store, const char *exe)
{
	char line[4096 + 128];
	int n;

	if (baseline_add(d, store, exe)) {
		d->st.baseline_errors++;
		return;
	}
	d->st.learned++;
	if (d->baseline_fd < 0)
		return;
	n = snprintf(line, sizeof(line), "%s\t%s\n", d->rules->stores[store].r.id, exe);
	if (n < 0 || (size_t)n >= sizeof(line) || write(d->baseline_fd, line, (size_t)n) != n ||
	    fdatasync(d->baseline_fd)) {
		d->st.baseline_errors++;
		nj_warn("baseline %s: cannot record %s: %s", d->o.baseline_path, exe,
			strerror(errno));
	}
}

/* ---- identities ------------------------------------------------------------------------ */

static size_t ident_slot(uint32_t dev, uint64_t ino)
{
	return (size_t)((ino * 0x9E3779B97F4A7C15ull) ^ dev) % N_IDENT;
}

void nj_detect_identities_clear(struct nj_detect *d)
{
	memset(d->idents, 0, sizeof(d->idents));
	/* attributions rest on the identities */
	memset(d->attr, 0, sizeof(d->attr));
}

void nj_detect_identity(struct nj_detect *d, uint32_t kdev, uint64_t ino, size_t store)
{
	size_t i, h = ident_slot(kdev, ino);

	for (i = 0; i < N_IDENT; i++) {
		struct ident *e = &d->idents[(h + i) % N_IDENT];

		if (!e->store_plus1 || (e->ino == ino && e->dev == kdev)) {
			e->ino = ino;
			e->dev = kdev;
			e->store_plus1 = (uint32_t)store + 1;
			return;
		}
	}
}

static size_t ident_store(const struct nj_detect *d, uint32_t kdev, uint64_t ino)
{
	size_t i, h = ident_slot(kdev, ino);

	for (i = 0; i < N_IDENT; i++) {
		const struct ident *e = &d->idents[(h + i) % N_IDENT];

		if (!e->store_plus1)
			break;
		if (e->ino == ino && e->dev == kdev)
			return e->store_plus1 - 1;
	}
	return (size_t)-1;
}

/* ---- detectors 1-3: credential access, exfiltration, sweep ----------------------------- */

static struct sweep *sweep_of(struct nj_detect *d, const struct pref *lineage)
{
	struct sweep *s, *victim = &d->sweeps[0];
	size_t i;

	for (i = 0; i < N_SWEEPS; i++) {
		s = &d->sweeps[i];
		if (s->ts && pref_eq(&s->lineage, lineage))
			return s;
		if (s->ts < victim->ts)
			victim = s;
	}
	memset(victim, 0, sizeof(*victim));
	victim->lineage = *lineage;
	return victim;
}

static void sweep_read(struct nj_detect *d, const struct nj_proc *p, size_t store, const char *path,
		       uint64_t seq, uint64_t now)
{
	struct pref lineage;
	struct sweep *s;
	struct nj_alert a;
	size_t i, j;

	lineage_of(d, &lineage, p);
	s = sweep_of(d, &lineage);
	s->ts = now;
	/* forget reads older than the window */
	for (i = j = 0; i < s->n; i++)
		if (now - s->when[i] <= d->o.sweep_window_ns) {
			s->stores[j] = s->stores[i];
			s->seqs[j] = s->seqs[i];
			s->when[j++] = s->when[i];
		}
	s->n = j;
	for (i = 0; i < s->n && s->stores[i] != store; i++)
		;
	if (i < s->n)
		return;
	if (s->n == SWEEP_STORES)
		return;
	cut(s->paths[s->n % NJ_ALERT_FILES], NJ_ALERT_PATH, path);
	s->stores[s->n] = store;
	s->seqs[s->n] = seq;
	s->when[s->n++] = now;
	if (s->n < d->o.sweep_min_stores)
		return;

	{
		static const struct nj_rule sweep_rule = {
			.id = "cred.sweep",
			.name = "One process lineage read several credential stores",
			.technique = "T1552.001",
			.severity = NJ_SEV_HIGH,
		};
		alert_init(&a, &sweep_rule, "credential_sweep", p, now);
	}
	say(&a, "%s (pid %u) and its lineage read %zu credential stores within %" PRIu64 " s:",
	    pname(p), p->tgid, s->n, d->o.sweep_window_ns / NS_PER_S);
	for (i = 0; i < s->n; i++) {
		say(&a, "%s %s", i ? "," : "", d->rules->stores[s->stores[i]].r.name);
		add_seq(&a, s->seqs[i]);
		if (i < NJ_ALERT_FILES)
			add_file(&a, s->paths[i]);
	}
	fire(d, &a, p, &lineage);
}

static void taint(struct nj_detect *d, const struct nj_proc *p, size_t store, const char *path,
		  uint64_t seq, uint64_t now)
{
	struct taint *t = &d->taints[d->taint_next++ % N_TAINTS];

	t->ts = now;
	t->seq = seq;
	t->store = store;
	pref_of(&t->reader, p);
	pref_of(&t->parent, parent_of(d, p));
	cut(t->exe_name, sizeof(t->exe_name), pname(p));
	cut(t->path, sizeof(t->path), path);
}

/* Who a learned reader is: the executable, and for an interpreter the script or module it
 * runs, so learning "python3 -m awscli" does not also quiet every other python script. */
static void reader_key(const struct nj_proc *p, const struct nj_subject *s, char *out, size_t len)
{
	static const char *const interpreters[] = {
		"python*", "node*", "nodejs", "perl*", "ruby*", "php*", "bash", "sh",	  "dash",
		"zsh",	   "ksh",   "java",   "pwsh",  "deno",	"bun",	"lua*", "Rscript"};
	const char *exe = p->exe && *p->exe ? p->exe : p->comm;
	size_t i, n;
	char *c;

	cut(out, len, exe);
	for (i = 0; i < sizeof(interpreters) / sizeof(interpreters[0]); i++)
		if (!fnmatch(interpreters[i], base(exe), 0))
			break;
	if (i == sizeof(interpreters) / sizeof(interpreters[0]))
		i = s->argc; /* not an interpreter: the executable is the program */
	else
		i = 1;
	for (; i < s->argc; i++) {
		const char *a = s->argv[i];

		n = strlen(out);
		/* -m MODULE, or flags that take no value ending in m (-Im): the module is the
		 * program. Anything else ending in m (-Wm, "-c...m") is not. */
		if (a[0] == '-' && a[1] && strspn(a + 1, "bBdEhiIOqsSuvx") == strlen(a) - 2 &&
		    a[strlen(a) - 1] == 'm' && i + 1 < s->argc) {
			snprintf(out + n, len - n, " -m %s", s->argv[i + 1]);
			break;
		}
		/* a flag that takes a value: the value is not the script */
		if (a[0] == '-' && a[1] && a[2] == '\0' && strchr("cWXQ", a[1])) {
			i++;
			continue;
		}
		if (a[0] != '-') {
			snprintf(out + n, len - n, " %s", a);
			break;
		}
	}
	/* the baseline file is one "store TAB reader" per line */
	for (c = out; *c; c++)
		if (*c == '\t' || *c == '\n')
			*c = ' ';
}

static void store_read(struct nj_detect *d, const struct nj_open *o, const struct nj_proc *p,
		       size_t si, const char *path, uint64_t seq)
{
	const struct nj_store *st = &d->rules->stores[si];
	static const struct nj_rule first_seen = {
		.id = "cred.first-seen-reader",
		.name = "First reader of a shared credential file seen on this host",
		.technique = "T1552.001",
		.severity = NJ_SEV_LOW,
	};
	struct nj_subject s;
	struct nj_alert a;
	struct pref lineage;
	uint64_t now = o->hdr.ts;

	subject_of(d, p, &s);
	s.has_owner = true;
	s.owner = o->owner;
	if (nj_pmatch_any(st->consumers, st->n_consumers, &s))
		return;
	if (st->learn) {
		char exe[1024];

		reader_key(p, &s, exe, sizeof(exe));
		if (baseline_has(d, si, exe))
			return;
		baseline_learn(d, si, exe);
		alert_init(&a, &first_seen, "credential_access", p, now);
		say(&a, "%s (pid %u, %s) is the first reader of %s seen on this host: %s", pname(p),
		    p->tgid, exe, st->r.name, path);
	} else {
		alert_init(&a, &st->r, "credential_access", p, now);
		say(&a, "%s (pid %u, uid %u) read %s, and is not one of its consumers: %s",
		    pname(p), p->tgid, p->uid, st->r.name, path);
	}
	add_seq(&a, seq);
	add_file(&a, path);
	lineage_of(d, &lineage, p);
	fire(d, &a, p, &lineage);
	taint(d, p, si, path, seq, now);
	sweep_read(d, p, si, path, seq, now);
}

static uint64_t path_hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */

	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 0x100000001b3ull;
	return h;
}

/* The store a file belongs to: the first whose pattern names it (by identity or by path).
 * Matching a path against every pattern costs tens of microseconds, and the same few files
 * are opened again and again, so the answer is cached by (dev, ino, path). */
static size_t store_of(struct nj_detect *d, const struct nj_open *o, const char *path)
{
	uint64_t h = path_hash(path);
	struct attr_cache *c = &d->attr[(h ^ o->ino ^ o->dev) % N_ATTR];
	size_t i, by_ident = ident_store(d, o->dev, o->ino);

	if (c->valid && c->ino == o->ino && c->dev == o->dev && c->hash == h)
		return c->store;
	for (i = 0; i < d->rules->n_stores; i++) {
		const struct nj_store *st = &d->rules->stores[i];

		if (!st->r.disabled && (i == by_ident || nj_store_has_path(st, path)))
			break;
	}
	c->valid = true;
	c->ino = o->ino;
	c->dev = o->dev;
	c->hash = h;
	c->store = i < d->rules->n_stores ? i : (size_t)-1;
	return c->store;
}

static void on_open(struct nj_detect *d, const struct nj_open *o, const struct nj_proc *p,
		    uint64_t seq)
{
	char path[NJ_PATH_STR_MAX];
	size_t store;

	nj_path_string(path, sizeof(path), o->data, &o->path);
	store = store_of(d, o, path);
	if (store != (size_t)-1)
		store_read(d, o, p, store, path, seq);
}

/* Is the connecting process q related to the reader of taint t: the reader itself, its
 * descendant, or its sibling (the other side of "cat token | curl"). */
static bool related(struct nj_detect *d, const struct nj_proc *q, const struct taint *t)
{
	struct pref self, parent;

	pref_of(&self, q);
	pref_of(&parent, parent_of(d, q));
	return pref_eq(&self, &t->reader) || is_ancestor(d, q, &t->reader) ||
	       (parent.entity[0] && pref_eq(&parent, &t->parent)) || pref_eq(&self, &t->parent);
}

static void egress(struct nj_detect *d, const struct nj_proc *p, const struct nj_alert_dest *dst,
		   uint64_t seq, uint64_t now)
{
	static const struct nj_rule exfil = {
		.id = "cred.exfiltration",
		.name = "Credential read followed by a connection out",
		.technique = "T1041",
		.severity = NJ_SEV_HIGH,
	};
	const struct taint *t;
	struct pref lineage;
	struct nj_alert a;
	char buf[64];
	size_t i;

	for (i = 0; i < N_TAINTS; i++) {
		t = &d->taints[(d->taint_next - 1 - i) % N_TAINTS];
		if (!t->ts || now < t->ts || now - t->ts > d->o.egress_window_ns ||
		    !related(d, p, t))
			continue;
		alert_init(&a, &exfil, "exfiltration", p, now);
		say(&a, "%s (pid %u) connected to %s %" PRIu64 " s after %s (pid %u) read %s: %s",
		    pname(p), p->tgid, dest_str(buf, sizeof(buf), dst), (now - t->ts) / NS_PER_S,
		    t->exe_name, t->reader.tgid, d->rules->stores[t->store].r.name, t->path);
		add_seq(&a, t->seq);
		add_seq(&a, seq);
		add_file(&a, t->path);
		add_dest(&a, dst);
		lineage_of(d, &lineage, p);
		fire(d, &a, p, &lineage);
		return;
	}
}

/* ---- detectors 4-7: tunnels, relays, proxies, destination lists ------------------------ */

static void on_exec(struct nj_detect *d, const struct nj_exec *e, const struct nj_proc *p,
		    uint64_t seq)
{
	struct nj_subject s;
	struct pref lineage;
	struct nj_alert a;
	size_t i, j;

	subject_of(d, p, &s);
	for (i = 0; i < d->rules->n_tools; i++) {
		const struct nj_tool *t = &d->rules->tools[i];

		if (t->r.disabled || !nj_pmatch_any(t->match, t->n_match, &s) ||
		    nj_pmatch_any(t->except, t->n_except, &s))
			continue;
		alert_init(&a, &t->r, "tunnel_tool", p, e->hdr.ts);
		say(&a, "%s (pid %u) started: %s:", pname(p), p->tgid, t->r.name);
		for (j = 0; j < s.argc; j++)
			say(&a, " %s", s.argv[j]);
		add_seq(&a, seq);
		/* the process itself is the lineage: two tunnels from one shell are two */
		pref_of(&lineage, p);
		fire(d, &a, p, &lineage);
		return;
	}
}

static bool is_proxy_port(const struct nj_detect *d, uint16_t port)
{
	size_t i;

	for (i = 0; i < d->rules->n_proxy_ports; i++)
		if (d->rules->proxy_ports[i] == port)
			return true;
	return false;
}

/* A connection to dst reaches listener l: same port, and the same address or l listens on
 * every address. */
static bool reaches(const struct nj_alert_dest *l, const struct nj_alert_dest *dst)
{
	return l->port == dst->port && (is_any_addr(l) || !memcmp(l->addr, dst->addr, 16));
}

static const struct relay *relay_at(const struct nj_detect *d, const struct nj_alert_dest *dst)
{
	size_t i;

	for (i = 0; i < N_RELAYS; i++)
		if (d->relays[i].ts && reaches(&d->relays[i].listener, dst))
			return &d->relays[i];
	return NULL;
}

static const struct nj_rule relay_client_rule = {
	.id = "proxy.relay-client",
	.name = "Connection through a local relay",
	.technique = "T1090.001",
	.severity = NJ_SEV_MEDIUM,
};

static void relay_client(struct nj_detect *d, const struct connect_rec *c, const struct relay *r)
{
	const struct nj_proc *p = nj_proc_find(d->procs, c->proc.tgid, c->start_ns);
	struct nj_proc stub = {0};
	struct pref lineage;
	struct nj_alert a;
	char buf[64];

	if (!p) { /* gone already: name it by what the connect record said */
		stub.tgid = c->proc.tgid;
		stub.start_ns = c->start_ns;
		cut(stub.entity_id, sizeof(stub.entity_id), c->proc.entity);
		cut(stub.comm, sizeof(stub.comm), "?");
		p = &stub;
	}
	alert_init(&a, &relay_client_rule, "proxy_use", p, c->ts);
	say(&a, "%s (pid %u) connected to %s, a listener of %s (pid %u) that relays connections",
	    pname(p), p->tgid, dest_str(buf, sizeof(buf), &c->dest), r->who, r->tgid);
	add_seq(&a, c->seq);
	add_dest(&a, &c->dest);
	lineage = c->proc;
	fire(d, &a, p, &lineage);
}

static void found_relay(struct nj_detect *d, const struct accept_rec *acc, const struct nj_proc *p,
			const struct nj_alert_dest *out, uint64_t seq, uint64_t now)
{
	static const struct nj_rule relay_rule = {
		.id = "relay.accept-connect",
		.name = "A process accepts connections and connects out: a proxy or port forwarder",
		.technique = "T1090",
		.severity = NJ_SEV_HIGH,
	};
	struct relay *r = NULL;
	struct pref lineage;
	struct nj_alert a;
	char in[64], o[64];
	size_t i;

	for (i = 0; i < N_RELAYS && !r; i++)
		if (d->relays[i].ts && dest_eq(&d->relays[i].listener, &acc->local))
			r = &d->relays[i];
	if (!r) {
		r = &d->relays[d->relay_next++ % N_RELAYS];
		r->listener = acc->local;
		r->tgid = acc->proc.tgid;
		cut(r->who, sizeof(r->who), pname(p));
		/* the clients that reached it before it showed what it is */
		for (i = 0; i < N_CONNECTS; i++) {
			const struct connect_rec *c = &d->connects[i];

			if (c->ts && now - c->ts <= d->o.relay_window_ns &&
			    reaches(&acc->local, &c->dest) && !pref_eq(&c->proc, &acc->proc))
				relay_client(d, c, r);
		}
	}
	r->ts = now;
	alert_init(&a, &relay_rule, "relay", p, now);
	say(&a,
	    "%s (pid %u) accepted a connection on %s and connected out to %s within %" PRIu64
	    " s: it relays",
	    pname(p), p->tgid, dest_str(in, sizeof(in), &acc->local), dest_str(o, sizeof(o), out),
	    (now - acc->ts) / NS_PER_S);
	add_seq(&a, acc->seq);
	add_seq(&a, seq);
	add_dest(&a, &acc->local);
	add_dest(&a, out);
	/* the accepting process: a forking relay's children are one relay */
	lineage = acc->proc;
	fire(d, &a, p, &lineage);
}

static bool relay_excepted(struct nj_detect *d, const struct nj_proc *p)
{
	struct nj_subject s;

	if (!d->rules->n_relay_except)
		return false;
	subject_of(d, p, &s);
	return nj_pmatch_any(d->rules->relay_except, d->rules->n_relay_except, &s);
}

static void on_accept(struct nj_detect *d, const struct nj_net *n, const struct nj_proc *p,
		      uint64_t seq)
{
	struct accept_rec *acc = &d->accepts[d->accept_next++ % N_ACCEPTS];

	acc->ts = n->hdr.ts;
	acc->seq = seq;
	pref_of(&acc->proc, p);
	dest_of(&acc->local, n->family, n->saddr, n->sport);
}

static void on_connect(struct nj_detect *d, const struct nj_net *n, const struct nj_proc *p,
		       uint64_t seq)
{
	const uint64_t now = n->hdr.ts;
	struct pref self, parent;
	struct nj_alert_dest dst;
	const struct relay *r;
	struct connect_rec *c;
	struct nj_alert a;
	char buf[64];
	size_t i;

	/* a connect that failed at once sent nothing; in progress or done counts */
	if (n->hdr.kind == NJ_REC_CONNECT && n->ret != 0 && n->ret != -EINPROGRESS)
		return;
	dest_of(&dst, n->family, n->daddr, n->dport);
	/* a resolver query is not the data going out */
	if (n->hdr.kind == NJ_REC_UDP_SEND && n->dport == 53)
		return;
	pref_of(&self, p);
	pref_of(&parent, parent_of(d, p));

	c = &d->connects[d->connect_next++ % N_CONNECTS];
	c->ts = now;
	c->seq = seq;
	c->proc = self;
	c->start_ns = p->start_ns;
	c->dest = dst;

	/* 6: a proxy port, or a listener already seen relaying */
	r = relay_at(d, &dst);
	if (is_proxy_port(d, dst.port) || r) {
		struct proxy_ctx *px = &d->proxies[d->proxy_next++ % N_PROXY];

		px->ts = now;
		px->proc = self;
		px->parent = parent;
		px->dest = dst;
	}
	if (r && r->tgid != p->tgid)
		relay_client(d, c, r);

	/* 7: in a destination list (matched in the kernel) */
	if (n->intel && n->intel <= d->rules->n_lists) {
		const struct nj_destlist *l = &d->rules->lists[n->intel - 1];
		struct pref lineage;

		alert_init(&a, &l->r, "destination_list", p, now);
		say(&a, "%s (pid %u) connected to %s, listed in %s", pname(p), p->tgid,
		    dest_str(buf, sizeof(buf), &dst), l->r.name);
		add_seq(&a, seq);
		add_dest(&a, &dst);
		lineage_of(d, &lineage, p);
		fire(d, &a, p, &lineage);
	}

	/* 5: this process, or the process that forked it, accepted a connection lately (unless
	 * it is a server the rules except: an application that opens a connection to its
	 * database per request behaves like a forwarder) */
	for (i = 0; i < N_ACCEPTS; i++) {
		const struct accept_rec *acc = &d->accepts[(d->accept_next - 1 - i) % N_ACCEPTS];

		if (!acc->ts || now < acc->ts || now - acc->ts > d->o.relay_window_ns)
			continue;
		if (!pref_eq(&acc->proc, &self) && !pref_eq(&acc->proc, &parent))
			continue;
		if (reaches(&acc->local, &dst)) /* connecting to itself is no relay */
			continue;
		if (!relay_excepted(d, p))
			found_relay(d, acc, p, &dst, seq, now);
		break;
	}

	/* 2: after a credential read in this lineage */
	egress(d, p, &dst, seq, now);
}

/* ---- entry points ---------------------------------------------------------------------- */

void nj_detect_record(struct nj_detect *d, int kind, const void *data, const struct nj_proc *p,
		      uint64_t seq)
{
	if (!p)
		return;
	switch (kind) {
	case NJ_REC_EXEC:
		on_exec(d, data, p, seq);
		break;
	case NJ_REC_OPEN:
		on_open(d, data, p, seq);
		break;
	case NJ_REC_ACCEPT:
		on_accept(d, data, p, seq);
		break;
	case NJ_REC_CONNECT:
	case NJ_REC_UDP_SEND:
		on_connect(d, data, p, seq);
		break;
	default:
		break;
	}
}

struct nj_detect *nj_detect_new(const struct nj_rules *rules, const struct nj_detect_opts *o,
				struct nj_proctab *procs, nj_alert_fn fn, void *arg)
{
	struct nj_detect *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	d->rules = rules;
	d->o = *o;
	d->procs = procs;
	d->fn = fn;
	d->arg = arg;
	baseline_load(d);
	return d;
}

void nj_detect_free(struct nj_detect *d)
{
	size_t i;

	if (!d)
		return;
	for (i = 0; i < d->n_baseline; i++)
		free(d->baseline[i].exe);
	free(d->baseline);
	if (d->baseline_fd >= 0)
		close(d->baseline_fd);
	free(d);
}

void nj_detect_stats(const struct nj_detect *d, struct nj_detect_stats *out)
{
	*out = d->st;
}
