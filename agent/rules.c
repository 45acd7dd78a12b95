/* rules.c - loading detection rules (docs/rules.md). */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "rules.h"
#include "watch.h"

#define ARRAY_SIZE(a)  (sizeof(a) / sizeof((a)[0]))
#define ID_MAX	       64
#define RULES_FILE_MAX (16u << 20)

/* State of one document's load. */
struct rctx {
	const char *file;
	char *err;
	size_t errlen;
	yaml_document_t *doc;
};

static int fail(struct rctx *c, const yaml_node_t *n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct rctx *c, const yaml_node_t *n, const char *fmt, ...)
{
	size_t off;
	va_list ap;

	off = (size_t)snprintf(c->err, c->errlen, "%s:%zu:%zu: ", c->file,
			       n ? n->start_mark.line + 1 : 0, n ? n->start_mark.column + 1 : 0);
	if (off >= c->errlen)
		return -1;
	va_start(ap, fmt);
	vsnprintf(c->err + off, c->errlen - off, fmt, ap);
	va_end(ap);
	return -1;
}

static const char *scalar(const yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static yaml_node_t *node(struct rctx *c, int id)
{
	return yaml_document_get_node(c->doc, id);
}

/* ---- freeing --------------------------------------------------------------------------- */

static void strv_free(struct nj_strv *v)
{
	size_t i;

	for (i = 0; i < v->n; i++)
		free(v->v[i]);
	free(v->v);
	v->v = NULL;
	v->n = 0;
}

static void pmatch_free(struct nj_pmatch *m)
{
	size_t i;

	strv_free(&m->executable);
	strv_free(&m->name);
	strv_free(&m->args);
	strv_free(&m->args_prefix);
	strv_free(&m->args_all);
	strv_free(&m->args_any);
	strv_free(&m->parent_exe);
	strv_free(&m->ancestor_exe);
	free(m->optstring);
	for (i = 0; i < m->n_opts; i++)
		free(m->opts[i].glob);
	free(m->opts);
}

static void pmatches_free(struct nj_pmatch *m, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		pmatch_free(&m[i]);
	free(m);
}

static void rule_free(struct nj_rule *r)
{
	free(r->id);
	free(r->name);
	free(r->technique);
	free(r->where);
}

static void store_free(struct nj_store *s)
{
	rule_free(&s->r);
	strv_free(&s->paths);
	pmatches_free(s->consumers, s->n_consumers);
}

static void tool_free(struct nj_tool *t)
{
	rule_free(&t->r);
	pmatches_free(t->match, t->n_match);
	pmatches_free(t->except, t->n_except);
}

static void list_free(struct nj_destlist *l)
{
	rule_free(&l->r);
	free(l->cidrs);
	strv_free(&l->files);
}

void nj_rules_free(struct nj_rules *r)
{
	size_t i;

	for (i = 0; i < r->n_stores; i++)
		store_free(&r->stores[i]);
	for (i = 0; i < r->n_tools; i++)
		tool_free(&r->tools[i]);
	for (i = 0; i < r->n_lists; i++)
		list_free(&r->lists[i]);
	free(r->stores);
	free(r->tools);
	free(r->lists);
	free(r->proxy_ports);
	pmatches_free(r->relay_except, r->n_relay_except);
	memset(r, 0, sizeof(*r));
}

/* ---- values ---------------------------------------------------------------------------- */

static int oom(struct rctx *c, const yaml_node_t *n)
{
	return fail(c, n, "out of memory");
}

static int dup_scalar(struct rctx *c, const yaml_node_t *n, const char *what, char **out)
{
	const char *s = scalar(n);

	if (!s || !*s)
		return fail(c, n, "expected %s", what);
	free(*out);
	*out = strdup(s);
	return *out ? 0 : oom(c, n);
}

/* A glob or a list of globs. */
static int parse_strv(struct rctx *c, yaml_node_t *n, const char *what, struct nj_strv *out)
{
	yaml_node_item_t *it;
	size_t cap;

	strv_free(out);
	if (scalar(n)) {
		out->v = calloc(1, sizeof(*out->v));
		if (!out->v)
			return oom(c, n);
		out->n = 1;
		return dup_scalar(c, n, what, &out->v[0]);
	}
	if (n->type != YAML_SEQUENCE_NODE)
		return fail(c, n, "expected %s, or a list of them", what);
	cap = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
	if (cap == 0)
		return fail(c, n, "expected %s, not an empty list", what);
	out->v = calloc(cap, sizeof(*out->v));
	if (!out->v)
		return oom(c, n);
	for (it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
		yaml_node_t *e = node(c, *it);

		if (dup_scalar(c, e, what, &out->v[out->n]))
			return -1;
		out->n++;
	}
	return 0;
}

static int parse_bool(struct rctx *c, yaml_node_t *n, bool *out)
{
	const char *s = scalar(n);

	if (s && !strcmp(s, "true"))
		*out = true;
	else if (s && !strcmp(s, "false"))
		*out = false;
	else
		return fail(c, n, "expected true or false");
	return 0;
}

static int parse_uint(struct rctx *c, yaml_node_t *n, uint64_t min, uint64_t max, uint64_t *out)
{
	const char *s = scalar(n);
	char *end;
	unsigned long long v;

	if (!s || *s < '0' || *s > '9')
		return fail(c, n, "expected a number from %llu to %llu", (unsigned long long)min,
			    (unsigned long long)max);
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return fail(c, n, "expected a number from %llu to %llu, got '%s'",
			    (unsigned long long)min, (unsigned long long)max, s);
	*out = v;
	return 0;
}

static const struct {
	const char *name;
	uint32_t value;
} severities[] = {
	{"low", NJ_SEV_LOW},
	{"medium", NJ_SEV_MEDIUM},
	{"high", NJ_SEV_HIGH},
	{"critical", NJ_SEV_CRITICAL},
};

const char *nj_severity_label(uint32_t severity)
{
	/* each label covers the numbers up to the next one (Elastic's risk score bands) */
	if (severity >= NJ_SEV_CRITICAL)
		return "critical";
	if (severity >= NJ_SEV_HIGH)
		return "high";
	if (severity >= NJ_SEV_MEDIUM)
		return "medium";
	return "low";
}

static int parse_severity(struct rctx *c, yaml_node_t *n, uint32_t *out)
{
	const char *s = scalar(n);
	uint64_t v;
	size_t i;

	for (i = 0; s && i < ARRAY_SIZE(severities); i++)
		if (!strcmp(s, severities[i].name)) {
			*out = severities[i].value;
			return 0;
		}
	if (s && *s >= '0' && *s <= '9') {
		if (parse_uint(c, n, 1, 100, &v))
			return -1;
		*out = (uint32_t)v;
		return 0;
	}
	return fail(c, n, "expected low, medium, high, critical or a number from 1 to 100");
}

int nj_parse_cidr(const char *s, struct nj_cidr *out)
{
	char buf[INET6_ADDRSTRLEN + 8], *slash, *end;
	unsigned long plen;
	struct in_addr a4;
	int max;

	if (strlen(s) >= sizeof(buf))
		return -1;
	strcpy(buf, s);
	slash = strchr(buf, '/');
	if (slash)
		*slash++ = '\0';
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, buf, &a4) == 1) {
		out->addr[10] = out->addr[11] = 0xff;
		memcpy(&out->addr[12], &a4, 4);
		max = 32;
	} else if (inet_pton(AF_INET6, buf, out->addr) == 1) {
		max = 128;
	} else {
		return -1;
	}
	plen = (unsigned long)max;
	if (slash) {
		if (*slash < '0' || *slash > '9')
			return -1;
		plen = strtoul(slash, &end, 10);
		if (*end || plen > (unsigned long)max)
			return -1;
	}
	out->prefixlen = (uint8_t)(plen + (max == 32 ? 96 : 0));
	return 0;
}

/* ---- mappings -------------------------------------------------------------------------- */

/* Call fn for each key of a mapping; keys not in names[] are refused with the list. */
typedef int (*key_fn)(struct rctx *c, const char *key, yaml_node_t *val, void *arg);

static int each_key(struct rctx *c, yaml_node_t *map, const char *what, const char *const *names,
		    size_t n_names, key_fn fn, void *arg)
{
	yaml_node_pair_t *p;
	char list[512];
	size_t i, off;

	if (map->type != YAML_MAPPING_NODE)
		return fail(c, map, "expected %s (a mapping)", what);
	for (p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k = node(c, p->key), *v = node(c, p->value);
		const char *key = scalar(k);

		for (i = 0; key && i < n_names; i++)
			if (!strcmp(key, names[i]))
				break;
		if (!key || i == n_names) {
			off = 0;
			list[0] = '\0';
			for (i = 0; i < n_names && off < sizeof(list); i++)
				off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%s",
							i ? ", " : "", names[i]);
			return fail(c, k, "unknown key '%s' in %s (expected one of: %s)",
				    key ? key : "?", what, list);
		}
		if (fn(c, key, v, arg))
			return -1;
	}
	return 0;
}

/* options: {optstring: "...", any: [D, "o=*Forward*"]} */
struct opts_arg {
	struct nj_pmatch *m;
	yaml_node_t *any;
};

static int opts_key(struct rctx *c, const char *key, yaml_node_t *v, void *arg)
{
	struct opts_arg *a = arg;

	if (!strcmp(key, "optstring"))
		return dup_scalar(c, v, "a getopt(3) option string", &a->m->optstring);
	a->any = v;
	return 0;
}

static int parse_options(struct rctx *c, yaml_node_t *v, struct nj_pmatch *m)
{
	static const char *const keys[] = {"optstring", "any"};
	struct opts_arg a = {.m = m};
	struct nj_strv any = {0};
	const char *opt;
	size_t i;

	if (each_key(c, v, "options", keys, ARRAY_SIZE(keys), opts_key, &a))
		return -1;
	if (!m->optstring || !a.any)
		return fail(c, v, "options needs both optstring and any");
	if (parse_strv(c, a.any, "an option letter, or letter=glob", &any))
		return -1;
	m->opts = calloc(any.n, sizeof(*m->opts));
	if (!m->opts) {
		strv_free(&any);
		return oom(c, v);
	}
	for (i = 0; i < any.n; i++) {
		const char *in;

		opt = any.v[i];
		in = opt[0] && opt[0] != ':' ? strchr(m->optstring, opt[0]) : NULL;
		if (!in || (opt[1] && opt[1] != '=')) {
			fail(c, a.any, "option '%s' is not a letter of optstring \"%s\"", opt,
			     m->optstring);
			goto err;
		}
		if (opt[1] == '=' && in[1] != ':') {
			fail(c, a.any, "option '%c' takes no value in optstring \"%s\"", opt[0],
			     m->optstring);
			goto err;
		}
		m->opts[i].letter = opt[0];
		if (opt[1] == '=' && !(m->opts[i].glob = strdup(opt + 2))) {
			oom(c, a.any);
			goto err;
		}
		m->n_opts++;
	}
	strv_free(&any);
	return 0;
err:
	strv_free(&any);
	return -1;
}

static int pmatch_key(struct rctx *c, const char *key, yaml_node_t *v, void *arg)
{
	struct nj_pmatch *m = arg;
	uint64_t n;

	if (!strcmp(key, "executable"))
		return parse_strv(c, v, "an executable path glob", &m->executable);
	if (!strcmp(key, "name"))
		return parse_strv(c, v, "an executable name glob", &m->name);
	if (!strcmp(key, "args"))
		return parse_strv(c, v, "an argument glob", &m->args);
	if (!strcmp(key, "args_prefix"))
		return parse_strv(c, v, "an argument glob", &m->args_prefix);
	if (!strcmp(key, "nocase"))
		return parse_bool(c, v, &m->nocase);
	if (!strcmp(key, "args_all"))
		return parse_strv(c, v, "an argument glob", &m->args_all);
	if (!strcmp(key, "args_any"))
		return parse_strv(c, v, "an argument glob", &m->args_any);
	if (!strcmp(key, "parent_executable"))
		return parse_strv(c, v, "an executable path glob", &m->parent_exe);
	if (!strcmp(key, "ancestor_executable"))
		return parse_strv(c, v, "an executable path glob", &m->ancestor_exe);
	if (!strcmp(key, "owner"))
		return parse_bool(c, v, &m->owner);
	if (!strcmp(key, "min_args")) {
		if (parse_uint(c, v, 1, 1024, &n))
			return -1;
		m->min_args = (uint32_t)n;
		return 0;
	}
	return parse_options(c, v, m);
}

/* A matcher, or a list of matchers (any one). */
static int parse_pmatches(struct rctx *c, yaml_node_t *v, const char *what, struct nj_pmatch **out,
			  size_t *n_out)
{
	static const char *const keys[] = {"executable",
					   "name",
					   "args",
					   "args_prefix",
					   "args_all",
					   "args_any",
					   "options",
					   "owner",
					   "min_args",
					   "parent_executable",
					   "ancestor_executable",
					   "nocase"};
	yaml_node_item_t *it, *start, *top;
	yaml_node_item_t one;
	struct nj_pmatch *m;
	size_t cap;

	if (v->type == YAML_MAPPING_NODE) {
		one = (yaml_node_item_t)(v - c->doc->nodes.start + 1);
		start = &one;
		top = start + 1;
	} else if (v->type == YAML_SEQUENCE_NODE) {
		start = v->data.sequence.items.start;
		top = v->data.sequence.items.top;
	} else {
		return fail(c, v, "expected %s: a process matcher or a list of them", what);
	}
	cap = (size_t)(top - start);
	if (cap == 0)
		return fail(c, v, "expected at least one process matcher in %s", what);
	m = calloc(cap, sizeof(*m));
	if (!m)
		return oom(c, v);
	*out = m;
	*n_out = 0;
	for (it = start; it < top; it++) {
		yaml_node_t *e = node(c, *it);

		(*n_out)++;
		if (each_key(c, e, "a process matcher", keys, ARRAY_SIZE(keys), pmatch_key, m))
			return -1;
		if (e->data.mapping.pairs.top == e->data.mapping.pairs.start)
			return fail(c, e, "an empty process matcher would match every process");
		m++;
	}
	return 0;
}

/* ---- entries --------------------------------------------------------------------------- */

enum kind { STORE, TOOL, LIST };

struct entry {
	enum kind kind;
	struct nj_rule *r;
	union {
		struct nj_store *st;
		struct nj_tool *t;
		struct nj_destlist *l;
	} u;
	size_t keys; /* keys besides id and disabled */
};

static int entry_key(struct rctx *c, const char *key, yaml_node_t *v, void *arg)
{
	struct entry *e = arg;

	if (strcmp(key, "id") && strcmp(key, "disabled"))
		e->keys++;
	if (!strcmp(key, "id")) {
		const char *s = scalar(v);

		if (!s || !*s || strlen(s) > ID_MAX ||
		    strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789.-") != strlen(s))
			return fail(c, v, "expected an id: up to %d of a-z 0-9 . -", ID_MAX);
		return dup_scalar(c, v, "an id", &e->r->id);
	}
	if (!strcmp(key, "name"))
		return dup_scalar(c, v, "a one-line name", &e->r->name);
	if (!strcmp(key, "severity"))
		return parse_severity(c, v, &e->r->severity);
	if (!strcmp(key, "technique"))
		return dup_scalar(c, v, "a MITRE ATT&CK technique id such as T1552.001",
				  &e->r->technique);
	if (!strcmp(key, "disabled"))
		return parse_bool(c, v, &e->r->disabled);
	switch (e->kind) {
	case STORE:
		if (!strcmp(key, "paths"))
			return parse_strv(c, v, "a path pattern", &e->u.st->paths);
		if (!strcmp(key, "learn"))
			return parse_bool(c, v, &e->u.st->learn);
		return parse_pmatches(c, v, "consumers", &e->u.st->consumers,
				      &e->u.st->n_consumers);
	case TOOL:
		if (!strcmp(key, "except"))
			return parse_pmatches(c, v, "except", &e->u.t->except, &e->u.t->n_except);
		return parse_pmatches(c, v, "match", &e->u.t->match, &e->u.t->n_match);
	case LIST:
		if (!strcmp(key, "files"))
			return parse_strv(c, v, "a file of CIDRs", &e->u.l->files);
		{
			struct nj_strv cidrs = {0};
			size_t i;

			if (parse_strv(c, v, "a CIDR", &cidrs))
				return -1;
			e->u.l->cidrs = calloc(cidrs.n, sizeof(*e->u.l->cidrs));
			if (!e->u.l->cidrs) {
				strv_free(&cidrs);
				return oom(c, v);
			}
			for (i = 0; i < cidrs.n; i++)
				if (nj_parse_cidr(cidrs.v[i], &e->u.l->cidrs[i])) {
					fail(c, v, "'%s' is not an address or CIDR prefix",
					     cidrs.v[i]);
					strv_free(&cidrs);
					return -1;
				}
			e->u.l->n_cidrs = cidrs.n;
			strv_free(&cidrs);
			return 0;
		}
	}
	return 0;
}

static const char *const store_keys[] = {"id",	     "name",  "severity",  "technique",
					 "disabled", "paths", "consumers", "learn"};
static const char *const tool_keys[] = {"id",	    "name",  "severity", "technique",
					"disabled", "match", "except"};
static const char *const list_keys[] = {"id",	    "name",  "severity", "technique",
					"disabled", "cidrs", "files"};

static int check_path(struct rctx *c, yaml_node_t *n, const char *p)
{
	if (p[0] != '/' && strncmp(p, "~/", 2))
		return fail(c, n, "path '%s' must be absolute or start with ~/ (every home)", p);
	return 0;
}

static int parse_entry(struct rctx *c, yaml_node_t *n, struct entry *e)
{
	const char *const *keys = e->kind == STORE  ? store_keys
				  : e->kind == TOOL ? tool_keys
						    : list_keys;
	size_t nk = e->kind == STORE  ? ARRAY_SIZE(store_keys)
		    : e->kind == TOOL ? ARRAY_SIZE(tool_keys)
				      : ARRAY_SIZE(list_keys);
	const char *what = e->kind == STORE  ? "a credential store"
			   : e->kind == TOOL ? "a tunnel tool"
					     : "a destination list";
	char where[512];
	size_t i;

	e->r->severity = NJ_SEV_MEDIUM;
	if (each_key(c, n, what, keys, nk, entry_key, e))
		return -1;
	if (!e->r->id)
		return fail(c, n, "%s needs an id", what);
	snprintf(where, sizeof(where), "%s:%zu:%zu", c->file, n->start_mark.line + 1,
		 n->start_mark.column + 1);
	e->r->where = strdup(where);
	if (!e->r->where)
		return oom(c, n);
	/* "id + disabled: true" alone switches off an entry defined earlier */
	if (e->r->disabled && e->keys == 0)
		return 0;
	if (!e->r->name)
		return fail(c, n, "%s '%s' needs a name", what, e->r->id);
	switch (e->kind) {
	case STORE:
		if (!e->u.st->paths.n)
			return fail(c, n, "credential store '%s' needs paths", e->r->id);
		for (i = 0; i < e->u.st->paths.n; i++)
			if (check_path(c, n, e->u.st->paths.v[i]))
				return -1;
		break;
	case TOOL:
		if (!e->u.t->n_match)
			return fail(c, n, "tunnel tool '%s' needs match", e->r->id);
		break;
	case LIST:
		if (!e->u.l->n_cidrs && !e->u.l->files.n)
			return fail(c, n, "destination list '%s' needs cidrs or files", e->r->id);
		break;
	}
	return 0;
}

/* Grow an array by one zeroed element. */
static void *grow(void *arr, size_t n, size_t size)
{
	char *p = realloc(arr, (n + 1) * size);

	if (p)
		memset(p + n * size, 0, size);
	return p;
}

static int parse_list(struct rctx *c, yaml_node_t *seq, enum kind kind, struct nj_rules *add)
{
	yaml_node_item_t *it;

	if (seq->type != YAML_SEQUENCE_NODE)
		return fail(c, seq, "expected a list of entries");
	for (it = seq->data.sequence.items.start; it < seq->data.sequence.items.top; it++) {
		struct entry e = {.kind = kind};
		void *p;

		if (kind == STORE) {
			if (!(p = grow(add->stores, add->n_stores, sizeof(*add->stores))))
				return oom(c, seq);
			add->stores = p;
			e.u.st = &add->stores[add->n_stores++];
			e.r = &e.u.st->r;
		} else if (kind == TOOL) {
			if (!(p = grow(add->tools, add->n_tools, sizeof(*add->tools))))
				return oom(c, seq);
			add->tools = p;
			e.u.t = &add->tools[add->n_tools++];
			e.r = &e.u.t->r;
		} else {
			if (!(p = grow(add->lists, add->n_lists, sizeof(*add->lists))))
				return oom(c, seq);
			add->lists = p;
			e.u.l = &add->lists[add->n_lists++];
			e.r = &e.u.l->r;
		}
		if (parse_entry(c, node(c, *it), &e))
			return -1;
	}
	return 0;
}

static int parse_ports(struct rctx *c, yaml_node_t *seq, struct nj_rules *add)
{
	yaml_node_item_t *it;
	uint64_t port;

	if (seq->type != YAML_SEQUENCE_NODE)
		return fail(c, seq, "expected a list of port numbers");
	for (it = seq->data.sequence.items.start; it < seq->data.sequence.items.top; it++) {
		uint16_t *p;

		if (parse_uint(c, node(c, *it), 1, 65535, &port))
			return -1;
		p = realloc(add->proxy_ports, (add->n_proxy_ports + 1) * sizeof(*p));
		if (!p)
			return oom(c, seq);
		add->proxy_ports = p;
		p[add->n_proxy_ports++] = (uint16_t)port;
	}
	/* an empty list is a way to say "none" */
	if (!add->proxy_ports && !(add->proxy_ports = calloc(1, sizeof(uint16_t))))
		return oom(c, seq);
	return 0;
}

static int top_key(struct rctx *c, const char *key, yaml_node_t *v, void *arg)
{
	struct nj_rules *add = arg;

	if (!strcmp(key, "credential_stores"))
		return parse_list(c, v, STORE, add);
	if (!strcmp(key, "tunnel_tools"))
		return parse_list(c, v, TOOL, add);
	if (!strcmp(key, "destination_lists"))
		return parse_list(c, v, LIST, add);
	if (!strcmp(key, "relay_exceptions")) {
		pmatches_free(add->relay_except, add->n_relay_except);
		return parse_pmatches(c, v, "relay_exceptions", &add->relay_except,
				      &add->n_relay_except);
	}
	return parse_ports(c, v, add);
}

/* ---- merging --------------------------------------------------------------------------- */

/* Move entries of add into r: same id replaces, "disabled only" switches off. */
#define MERGE(arr, n, addarr, addn, freefn)                                                        \
	do {                                                                                       \
		size_t i_, j_;                                                                     \
		for (i_ = 0; i_ < (addn); i_++) {                                                  \
			for (j_ = 0; j_ < (n); j_++)                                               \
				if (!strcmp((arr)[j_].r.id, (addarr)[i_].r.id))                    \
					break;                                                     \
			if (j_ < (n) && (addarr)[i_].r.disabled && !(addarr)[i_].r.name) {         \
				(arr)[j_].r.disabled = true;                                       \
				freefn(&(addarr)[i_]);                                             \
				continue;                                                          \
			}                                                                          \
			if (j_ < (n))                                                              \
				freefn(&(arr)[j_]);                                                \
			else                                                                       \
				(n)++;                                                             \
			(arr)[j_] = (addarr)[i_];                                                  \
		}                                                                                  \
		free(addarr);                                                                      \
		(addarr) = NULL;                                                                   \
		(addn) = 0;                                                                        \
	} while (0)

/* A "disabled only" entry naming no earlier entry: a typo, reported at the entry. */
static int no_such(struct rctx *c, const char *what, const char *where, const char *id)
{
	snprintf(c->err, c->errlen,
		 "%s: no %s '%s' to disable (expected the id of a default or of an entry in an "
		 "earlier rules file)",
		 where, what, id);
	return -1;
}

/* Check that "disabled only" entries name something, and that arrays can hold the merge. */
static int prepare_merge(struct rctx *c, struct nj_rules *r, struct nj_rules *add)
{
	size_t i, j;
	void *p;

	for (i = 0; i < add->n_stores; i++) {
		if (!add->stores[i].r.disabled || add->stores[i].r.name)
			continue;
		for (j = 0; j < r->n_stores && strcmp(r->stores[j].r.id, add->stores[i].r.id); j++)
			;
		if (j == r->n_stores)
			return no_such(c, "credential store", add->stores[i].r.where,
				       add->stores[i].r.id);
	}
	for (i = 0; i < add->n_tools; i++) {
		if (!add->tools[i].r.disabled || add->tools[i].r.name)
			continue;
		for (j = 0; j < r->n_tools && strcmp(r->tools[j].r.id, add->tools[i].r.id); j++)
			;
		if (j == r->n_tools)
			return no_such(c, "tunnel tool", add->tools[i].r.where, add->tools[i].r.id);
	}
	for (i = 0; i < add->n_lists; i++) {
		if (!add->lists[i].r.disabled || add->lists[i].r.name)
			continue;
		for (j = 0; j < r->n_lists && strcmp(r->lists[j].r.id, add->lists[i].r.id); j++)
			;
		if (j == r->n_lists)
			return no_such(c, "destination list", add->lists[i].r.where,
				       add->lists[i].r.id);
	}
	if (!(p = realloc(r->stores, (r->n_stores + add->n_stores + 1) * sizeof(*r->stores))))
		return oom(c, NULL);
	r->stores = p;
	if (!(p = realloc(r->tools, (r->n_tools + add->n_tools + 1) * sizeof(*r->tools))))
		return oom(c, NULL);
	r->tools = p;
	if (!(p = realloc(r->lists, (r->n_lists + add->n_lists + 1) * sizeof(*r->lists))))
		return oom(c, NULL);
	r->lists = p;
	return 0;
}

int nj_rules_load_text(struct nj_rules *r, const char *name, const char *text, size_t len,
		       char *err, size_t errlen)
{
	static const char *const keys[] = {"credential_stores", "tunnel_tools", "proxy_ports",
					   "destination_lists", "relay_exceptions"};
	struct rctx c = {.file = name, .err = err, .errlen = errlen};
	struct nj_rules add = {0};
	yaml_parser_t parser;
	yaml_document_t doc;
	yaml_node_t *root;
	int ret = -1;

	if (!yaml_parser_initialize(&parser)) {
		snprintf(err, errlen, "%s: out of memory", name);
		return -1;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &doc)) {
		snprintf(err, errlen, "%s:%zu:%zu: %s", name, parser.problem_mark.line + 1,
			 parser.problem_mark.column + 1,
			 parser.problem ? parser.problem : "YAML syntax error");
		yaml_parser_delete(&parser);
		return -1;
	}
	c.doc = &doc;
	root = yaml_document_get_root_node(&doc);
	if (root && !(root->type == YAML_SCALAR_NODE && !root->data.scalar.length) &&
	    each_key(&c, root, "a rules file", keys, ARRAY_SIZE(keys), top_key, &add))
		goto out;
	if (prepare_merge(&c, r, &add))
		goto out;
	MERGE(r->stores, r->n_stores, add.stores, add.n_stores, store_free);
	MERGE(r->tools, r->n_tools, add.tools, add.n_tools, tool_free);
	MERGE(r->lists, r->n_lists, add.lists, add.n_lists, list_free);
	if (add.proxy_ports) {
		free(r->proxy_ports);
		r->proxy_ports = add.proxy_ports;
		r->n_proxy_ports = add.n_proxy_ports;
		add.proxy_ports = NULL;
	}
	/* exceptions add up, file after file */
	if (add.n_relay_except) {
		struct nj_pmatch *m = realloc(
			r->relay_except, (r->n_relay_except + add.n_relay_except) * sizeof(*m));

		if (!m) {
			snprintf(err, errlen, "%s: out of memory", name);
			goto out;
		}
		memcpy(m + r->n_relay_except, add.relay_except, add.n_relay_except * sizeof(*m));
		r->relay_except = m;
		r->n_relay_except += add.n_relay_except;
		free(add.relay_except);
		add.relay_except = NULL;
		add.n_relay_except = 0;
	}
	r->files++;
	ret = 0;
out:
	nj_rules_free(&add);
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	return ret;
}

/* Read a whole file (bounded) into a buffer. */
static char *slurp(const char *path, size_t *len, char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	long n;

	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if (fseek(f, 0, SEEK_END) || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET)) {
		snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
		goto out;
	}
	if ((unsigned long)n > RULES_FILE_MAX) {
		snprintf(err, errlen, "%s: larger than %u bytes", path, RULES_FILE_MAX);
		goto out;
	}
	buf = malloc((size_t)n + 1);
	if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
		snprintf(err, errlen, "%s: cannot read: %s", path,
			 buf ? "short read" : "out of memory");
		free(buf);
		buf = NULL;
		goto out;
	}
	buf[n] = '\0';
	*len = (size_t)n;
out:
	fclose(f);
	return buf;
}

int nj_rules_load_file(struct nj_rules *r, const char *path, char *err, size_t errlen)
{
	size_t len;
	char *text = slurp(path, &len, err, errlen);
	int ret;

	if (!text)
		return -1;
	ret = nj_rules_load_text(r, path, text, len, err, errlen);
	free(text);
	return ret;
}

int nj_rules_load_defaults(struct nj_rules *r, char *err, size_t errlen)
{
	size_t i;

	for (i = 0; i < nj_n_default_rules; i++)
		if (nj_rules_load_text(r, nj_default_rules[i].name, nj_default_rules[i].text,
				       nj_default_rules[i].len, err, errlen))
			return -1;
	return 0;
}

static int yaml_name(const struct dirent *d)
{
	size_t n = strlen(d->d_name);

	return d->d_name[0] != '.' && ((n > 5 && !strcmp(d->d_name + n - 5, ".yaml")) ||
				       (n > 4 && !strcmp(d->d_name + n - 4, ".yml")));
}

int nj_rules_load_dir(struct nj_rules *r, const char *dir, char *err, size_t errlen)
{
	struct dirent **names;
	char path[4096];
	int n, i, ret = 0;

	n = scandir(dir, &names, yaml_name, alphasort);
	if (n < 0) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (!ret) {
			snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
			ret = nj_rules_load_file(r, path, err, errlen);
		}
		free(names[i]);
	}
	free(names);
	return ret;
}

/* One destination list file: a CIDR per line, '#' comments, blank lines. */
static int load_cidr_file(struct nj_destlist *l, const char *path, char *err, size_t errlen)
{
	size_t len, lineno = 0;
	char *text = slurp(path, &len, err, errlen), *line, *save = NULL;
	int ret = 0;

	if (!text)
		return -1;
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *hash = strchr(line, '#'), *end;
		struct nj_cidr *p;

		lineno++;
		if (hash)
			*hash = '\0';
		line += strspn(line, " \t\r");
		end = line + strlen(line);
		while (end > line && strchr(" \t\r", end[-1]))
			*--end = '\0';
		if (!*line)
			continue;
		p = realloc(l->cidrs, (l->n_cidrs + 1) * sizeof(*p));
		if (!p) {
			snprintf(err, errlen, "%s: out of memory", path);
			ret = -1;
			break;
		}
		l->cidrs = p;
		if (nj_parse_cidr(line, &p[l->n_cidrs])) {
			snprintf(err, errlen, "%s:%zu: '%s' is not an address or CIDR prefix", path,
				 lineno, line);
			ret = -1;
			break;
		}
		l->n_cidrs++;
	}
	free(text);
	return ret;
}

int nj_rules_finish(struct nj_rules *r, char *err, size_t errlen)
{
	size_t i, j;

	for (i = 0; i < r->n_lists; i++) {
		if (r->lists[i].r.disabled)
			continue;
		for (j = 0; j < r->lists[i].files.n; j++)
			if (load_cidr_file(&r->lists[i], r->lists[i].files.v[j], err, errlen))
				return -1;
	}
	return 0;
}

/* Does path carry the name signature the sensor matches for pattern p (watch.h): its leaf, and
 * the parent directory's name where the signature has one. */
static bool has_signature(const char *p, const char *path)
{
	char leaf[NJ_LEAF_MAX], parent[NJ_PARENT_MAX];
	const char *base = strrchr(path, '/'), *dir;
	uint32_t sig = nj_watch_signature(p, leaf, parent);

	if (!sig || !base || strcmp(base + 1, leaf))
		return false;
	if (sig == NJ_NAME_ANY_PARENT)
		return true;
	for (dir = base; dir > path && dir[-1] != '/'; dir--)
		;
	return (size_t)(base - dir) == strlen(parent) && !strncmp(dir, parent, strlen(parent));
}

bool nj_store_has_path(const struct nj_store *st, const char *path)
{
	char pat[4096 + 2];
	const char *rel;
	size_t i;

	for (i = 0; i < st->paths.n; i++) {
		const char *p = st->paths.v[i];

		if (p[0] == '/' && !fnmatch(p, path, 0))
			return true;
		/* "~/.aws/credentials" and copies: any path ending in "/.aws/credentials" */
		rel = p[0] == '~' ? p + 2 : p + 1;
		snprintf(pat, sizeof(pat), "*/%s", rel);
		if (!fnmatch(pat, path, 0))
			return true;
		/* what the sensor reports by name ("Login Data" anywhere, "gh/hosts.yml" under
		 * any directory named gh) belongs to the store whose pattern gave that name */
		if (has_signature(p, path))
			return true;
	}
	return false;
}
