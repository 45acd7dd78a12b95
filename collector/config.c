/* config.c - nightjar-collector configuration from YAML (libyaml's document API, so every
 * node keeps its line and column for the error message). One key table per mapping, as in
 * agent/config.c; the sizes and durations are parsed by the agent's nj_parse_size() and
 * nj_parse_duration_ms(), so both daemons accept the same spellings. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "../agent/config.h"
#include "config.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define KIB	      (1ULL << 10)
#define MIB	      (1ULL << 20)
#define GIB	      (1ULL << 30)
#define SEC_MS	      1000ULL
#define DAY_MS	      (86400 * SEC_MS)
#define CFG_FILE_MAX  (1 * MIB)

enum kind { K_STRING, K_PATH, K_SIZE, K_DURATION, K_UINT, K_SINK, K_MAP };

struct key {
	const char *name;
	enum kind kind;
	size_t off;
	uint64_t min, max;
	const struct table *sub;
};

struct table {
	const char *prefix;
	const struct key *keys;
	size_t n;
};

#define F(f) offsetof(struct njc_config, f)

static const struct key tls_keys[] = {
	{"ca", K_PATH, F(tls_ca), 0, 0, NULL},
	{"cert", K_PATH, F(tls_cert), 0, 0, NULL},
	{"key", K_PATH, F(tls_key), 0, 0, NULL},
};
static const struct table tls_table = {"tls.", tls_keys, ARRAY_SIZE(tls_keys)};

static const struct key file_keys[] = {
	{"segment_size", K_SIZE, F(segment_bytes), 64 * KIB, 16 * GIB, NULL},
	{"alerts_max_size", K_SIZE, F(alerts_max_bytes), 4 * KIB, 16 * GIB, NULL},
	{"alerts_keep", K_UINT, F(alerts_keep), 1, 1000, NULL},
};
static const struct table file_table = {"file.", file_keys, ARRAY_SIZE(file_keys)};

static const struct key nats_keys[] = {
	{"url", K_STRING, F(nats_url), 0, 0, NULL},
	{"stream", K_STRING, F(nats_stream), 0, 0, NULL},
	{"subject", K_STRING, F(nats_subject), 0, 0, NULL},
	{"replicas", K_UINT, F(nats_replicas), 1, 5, NULL},
	{"timeout", K_DURATION, F(nats_timeout_ms), 100, 10 * 60 * SEC_MS, NULL},
	{"max_age", K_DURATION, F(nats_max_age_ms), 0, 100 * 365 * DAY_MS, NULL},
};
static const struct table nats_table = {"nats.", nats_keys, ARRAY_SIZE(nats_keys)};

static const struct key top_keys[] = {
	{"listen", K_STRING, F(listen), 0, 0, NULL},
	{"tls", K_MAP, 0, 0, 0, &tls_table},
	{"data_dir", K_PATH, F(data_dir), 0, 0, NULL},
	{"control_socket", K_PATH, F(control_socket), 0, 0, NULL},
	{"sink", K_SINK, F(sink), 0, 0, NULL},
	{"file", K_MAP, 0, 0, 0, &file_table},
	{"nats", K_MAP, 0, 0, 0, &nats_table},
	{"max_frame", K_SIZE, F(max_frame), 4 * KIB, 64 * MIB, NULL},
	{"idle_timeout", K_DURATION, F(idle_timeout_ms), SEC_MS, DAY_MS, NULL},
	{"frame_timeout", K_DURATION, F(frame_timeout_ms), 100, 10 * 60 * SEC_MS, NULL},
	{"handshake_timeout", K_DURATION, F(handshake_timeout_ms), 100, 10 * 60 * SEC_MS, NULL},
	{"max_connections", K_UINT, F(max_connections), 1, 1000000, NULL},
	{"silent_after", K_DURATION, F(silent_after_ms), SEC_MS, 30 * DAY_MS, NULL},
};
static const struct table top_table = {"", top_keys, ARRAY_SIZE(top_keys)};

void njc_config_defaults(struct njc_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->sink = NJC_SINK_FILE;
	cfg->segment_bytes = 64 * MIB;
	cfg->alerts_max_bytes = 64 * MIB;
	cfg->alerts_keep = 8;
	cfg->nats_replicas = 1;
	cfg->nats_timeout_ms = 5 * SEC_MS;
	cfg->max_frame = 16 * MIB;
	cfg->idle_timeout_ms = 60 * SEC_MS;
	cfg->frame_timeout_ms = 10 * SEC_MS;
	cfg->handshake_timeout_ms = 10 * SEC_MS;
	cfg->max_connections = 8192;
	cfg->silent_after_ms = 5 * 60 * SEC_MS;
}

static char **str_field(struct njc_config *cfg, size_t off)
{
	return (char **)((char *)cfg + off);
}

void njc_config_free(struct njc_config *cfg)
{
	const struct table *tabs[] = {&top_table, &tls_table, &file_table, &nats_table};
	size_t t, i;

	for (t = 0; t < ARRAY_SIZE(tabs); t++)
		for (i = 0; i < tabs[t]->n; i++) {
			const struct key *k = &tabs[t]->keys[i];

			if (k->kind == K_STRING || k->kind == K_PATH) {
				free(*str_field(cfg, k->off));
				*str_field(cfg, k->off) = NULL;
			}
		}
}

struct ctx {
	const char *file;
	char *err;
	size_t errlen;
	yaml_document_t *doc;
	struct njc_config *cfg;
};

__attribute__((format(printf, 3, 4))) static int cerr(struct ctx *c, const yaml_mark_t *m,
						      const char *fmt, ...)
{
	va_list ap;
	int n;

	if (m)
		n = snprintf(c->err, c->errlen, "%s:%zu:%zu: ", c->file, m->line + 1,
			     m->column + 1);
	else
		n = snprintf(c->err, c->errlen, "%s: ", c->file);
	if (n < 0 || (size_t)n >= c->errlen)
		return -1;
	va_start(ap, fmt);
	vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

/* a value quoted in a message: cut, with control bytes replaced */
static const char *quote(char out[64], const yaml_node_t *n)
{
	size_t i, len = n->data.scalar.length;

	if (len > 60)
		len = 60;
	for (i = 0; i < len; i++) {
		unsigned char ch = n->data.scalar.value[i];

		out[i] = ch < 0x20 || ch == 0x7f ? '?' : (char)ch;
	}
	out[len] = '\0';
	return out;
}

static const char *want(enum kind k)
{
	static const char *const w[] = {
		[K_STRING] = "a string",
		[K_PATH] = "an absolute path",
		[K_SIZE] = "a size such as 64KiB, 4MiB, 1GiB",
		[K_DURATION] = "a duration such as 500ms, 30s, 5m, 2h, 1d",
		[K_UINT] = "a whole number",
		[K_SINK] = "file or nats",
		[K_MAP] = "a mapping",
	};
	return w[k];
}

static int parse_value(struct ctx *c, const struct table *t, const struct key *k, yaml_node_t *v);

static int parse_map(struct ctx *c, const struct table *t, yaml_node_t *map)
{
	yaml_node_pair_t *p;
	char q[64];

	if (map->type != YAML_MAPPING_NODE)
		return cerr(c, &map->start_mark, "expected a mapping of settings");
	for (p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *kn = yaml_document_get_node(c->doc, p->key);
		yaml_node_t *vn = yaml_document_get_node(c->doc, p->value);
		const struct key *k = NULL;
		size_t i;

		if (!kn || kn->type != YAML_SCALAR_NODE)
			return cerr(c, kn ? &kn->start_mark : NULL, "expected a key name");
		for (i = 0; i < t->n && !k; i++)
			if (!strcmp((const char *)kn->data.scalar.value, t->keys[i].name))
				k = &t->keys[i];
		if (!k) {
			char known[512];
			size_t o = 0;

			for (i = 0; i < t->n; i++)
				o += (size_t)snprintf(known + o, sizeof(known) - o, "%s%s",
						      i ? ", " : "", t->keys[i].name);
			return cerr(c, &kn->start_mark, "unknown key '%s%s' (expected one of: %s)",
				    t->prefix, quote(q, kn), known);
		}
		if (parse_value(c, t, k, vn))
			return -1;
	}
	return 0;
}

static int parse_value(struct ctx *c, const struct table *t, const struct key *k, yaml_node_t *v)
{
	void *field = (char *)c->cfg + k->off;
	const char *s;
	uint64_t x = 0;
	char q[64];
	int bad;

	if (k->kind == K_MAP) {
		if (v->type != YAML_MAPPING_NODE)
			return cerr(c, &v->start_mark, "expected a mapping for '%s%s'", t->prefix,
				    k->name);
		return parse_map(c, k->sub, v);
	}
	if (v->type != YAML_SCALAR_NODE)
		return cerr(c, &v->start_mark, "expected %s for '%s%s', got %s", want(k->kind),
			    t->prefix, k->name,
			    v->type == YAML_MAPPING_NODE ? "a mapping" : "a list");
	s = (const char *)v->data.scalar.value;
	if (strlen(s) != v->data.scalar.length || !s[0])
		return cerr(c, &v->start_mark, "expected %s for '%s%s', got an empty value",
			    want(k->kind), t->prefix, k->name);
	switch (k->kind) {
	case K_PATH:
		if (s[0] != '/')
			return cerr(c, &v->start_mark,
				    "bad value '%s' for '%s%s': expected an absolute path",
				    quote(q, v), t->prefix, k->name);
		/* fall through */
	case K_STRING:
		free(*(char **)field);
		*(char **)field = strdup(s);
		return *(char **)field ? 0 : cerr(c, NULL, "out of memory");
	case K_SINK:
		if (!strcmp(s, "file"))
			*(enum njc_sink_type *)field = NJC_SINK_FILE;
		else if (!strcmp(s, "nats"))
			*(enum njc_sink_type *)field = NJC_SINK_NATS;
		else
			return cerr(c, &v->start_mark, "bad value '%s' for '%s%s': expected %s",
				    quote(q, v), t->prefix, k->name, want(k->kind));
		return 0;
	case K_SIZE:
		bad = nj_parse_size(s, &x);
		break;
	case K_DURATION:
		bad = nj_parse_duration_ms(s, &x);
		/* "0" is a duration too where 0 is allowed (off) */
		if (bad && !strcmp(s, "0")) {
			bad = 0;
			x = 0;
		}
		break;
	case K_UINT: {
		char *end;

		errno = 0;
		x = strtoull(s, &end, 10);
		bad = s[0] < '0' || s[0] > '9' || *end || errno;
		break;
	}
	default:
		return -1;
	}
	if (bad)
		return cerr(c, &v->start_mark, "bad value '%s' for '%s%s': expected %s",
			    quote(q, v), t->prefix, k->name, want(k->kind));
	if (x < k->min || x > k->max)
		return cerr(c, &v->start_mark,
			    "value '%s' for '%s%s' is out of range (expected %" PRIu64 "..%" PRIu64
			    "%s)",
			    quote(q, v), t->prefix, k->name, k->min, k->max,
			    k->kind == K_SIZE	    ? " bytes"
			    : k->kind == K_DURATION ? " ms"
						    : "");
	*(uint64_t *)field = x;
	return 0;
}

int njc_config_load(struct njc_config *cfg, const char *file, char *err, size_t errlen)
{
	struct ctx c = {.file = file, .err = err, .errlen = errlen, .cfg = cfg};
	yaml_parser_t parser;
	yaml_document_t doc;
	yaml_node_t *root;
	unsigned char *buf;
	size_t len;
	FILE *f;
	int ret = -1;

	f = fopen(file, "re");
	if (!f)
		return cerr(&c, NULL, "cannot open: %s", strerror(errno));
	buf = malloc(CFG_FILE_MAX + 1);
	if (!buf) {
		fclose(f);
		return cerr(&c, NULL, "out of memory");
	}
	len = fread(buf, 1, CFG_FILE_MAX + 1, f);
	fclose(f);
	if (len > CFG_FILE_MAX) {
		free(buf);
		return cerr(&c, NULL, "larger than 1 MiB: not a configuration file");
	}
	yaml_parser_initialize(&parser);
	yaml_parser_set_input_string(&parser, buf, len);
	if (!yaml_parser_load(&parser, &doc)) {
		yaml_mark_t m = parser.problem_mark;

		cerr(&c, &m, "%s%s%s", parser.problem ? parser.problem : "not YAML",
		     parser.context ? " " : "", parser.context ? parser.context : "");
		goto out_parser;
	}
	c.doc = &doc;
	root = yaml_document_get_root_node(&doc);
	/* an empty file sets nothing */
	if (!root || (root->type == YAML_SCALAR_NODE && !root->data.scalar.length))
		ret = 0;
	else if (root->type != YAML_MAPPING_NODE)
		cerr(&c, &root->start_mark, "expected a mapping of settings at the top level");
	else
		ret = parse_map(&c, &top_table, root);
	if (!ret && (!cfg->tls_ca || !cfg->tls_cert || !cfg->tls_key))
		ret = cerr(&c, NULL, "tls.ca, tls.cert and tls.key are required");
	if (!ret && cfg->sink == NJC_SINK_NATS && !cfg->nats_url)
		ret = cerr(&c, NULL, "sink nats needs nats.url");
	yaml_document_delete(&doc);
out_parser:
	yaml_parser_delete(&parser);
	free(buf);
	return ret;
}
