/* config.c - agent configuration: embedded defaults, overridden by a YAML file.
 *
 * The file is loaded with libyaml's document API and walked with one key table per mapping;
 * each key names the function that parses its value. Every refusal is one line,
 * "FILE:LINE:COL: what was wrong (what was expected)", at the offending node. A load fills a
 * copy of the config and commits it only once the whole file is valid, so a bad file never
 * leaves a half-applied configuration behind. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <yaml.h>

#include "config.h"
#include "log.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define KIB (1ULL << 10)
#define MIB (1ULL << 20)
#define GIB (1ULL << 30)

#define SEC_MS	(1000ULL)
#define MIN_MS	(60 * SEC_MS)
#define HOUR_MS (60 * MIN_MS)
#define DAY_MS	(24 * HOUR_MS)

#define YEAR_MS (365 * DAY_MS)

/* A config file is a few hundred bytes; the cap only stops a mistaken path such as
 * /dev/zero from eating memory. */
#define CFG_FILE_MAX (1 * MIB)

/* Most keys in one mapping; each table is checked against it below. */
#define CFG_MAX_KEYS 16

/* Room for one user value quoted in a message: long values are cut, control bytes escaped. */
#define QUOTE_SIZE 80

/* One suffix of a size or a duration. In each table the largest multiplier comes first, and
 * among equal ones the spelling used when printing a value. */
struct unit {
	const char *name;
	uint64_t mult;
};

static const struct unit duration_units[] = {
	{"d", DAY_MS}, {"h", HOUR_MS}, {"m", MIN_MS}, {"s", SEC_MS}, {"ms", 1},
};

static const struct unit size_units[] = {
	{"GiB", GIB}, {"G", GIB}, {"GB", GIB}, {"MiB", MIB}, {"M", MIB}, {"MB", MIB},
	{"KiB", KIB}, {"K", KIB}, {"KB", KIB}, {"B", 1},     {"", 1},
};

static const char *const output_names[] = {
	[NJ_OUTPUT_TEXT] = "text",
	[NJ_OUTPUT_JSON] = "json",
};

/* State of one nj_config_load() call. */
struct cfg_ctx {
	const char *file;
	char *err;
	size_t errlen;
	yaml_document_t *doc;
	struct nj_config *cfg; /* the copy being filled */
	bool paths_given;      /* watch.paths was in the file: paths replace watch_paths */
	char **paths;
	size_t n_paths;
	char *state_dir; /* state_dir from the file, committed with the rest */
	char *rules_dir; /* rules_dir likewise */
};

struct cfg_key;
typedef int (*cfg_parse_fn)(struct cfg_ctx *c, const struct cfg_key *k, const char *name,
			    yaml_node_t *val);

/* One key of a mapping: how its value is parsed and where it goes. */
struct cfg_key {
	const char *name;
	cfg_parse_fn parse;
	const char *want;	     /* what the value should be, for type errors */
	size_t off;		     /* field in struct nj_config */
	uint64_t min, max;	     /* accepted range, in the field's unit (ms or bytes) */
	bool pow2;		     /* a size that must be a power of two */
	const struct cfg_table *sub; /* keys of a nested mapping */
};

struct cfg_table {
	const char *name; /* dotted prefix for messages: "" at top level */
	const struct cfg_key *keys;
	size_t n_keys;
};

static int parse_output(struct cfg_ctx *c, const struct cfg_key *k, const char *name,
			yaml_node_t *val);
static int parse_size(struct cfg_ctx *c, const struct cfg_key *k, const char *name,
		      yaml_node_t *val);
static int parse_duration(struct cfg_ctx *c, const struct cfg_key *k, const char *name,
			  yaml_node_t *val);
static int parse_bool(struct cfg_ctx *c, const struct cfg_key *k, const char *name,
		      yaml_node_t *val);
static int parse_paths(struct cfg_ctx *c, const struct cfg_key *k, const char *name,
		       yaml_node_t *val);
static int parse_submap(struct cfg_ctx *c, const struct cfg_key *k, const char *name,
			yaml_node_t *val);
static int parse_dir(struct cfg_ctx *c, const struct cfg_key *k, const char *name,
		     yaml_node_t *val);
static int parse_count(struct cfg_ctx *c, const struct cfg_key *k, const char *name,
		       yaml_node_t *val);
static int parse_address(struct cfg_ctx *c, const struct cfg_key *k, const char *name,
			 yaml_node_t *val);
static int parse_name(struct cfg_ctx *c, const struct cfg_key *k, const char *name,
		      yaml_node_t *val);
static int parse_file(struct cfg_ctx *c, const struct cfg_key *k, const char *name,
		      yaml_node_t *val);

#define FIELD(f) offsetof(struct nj_config, f)

static const struct cfg_key watch_keys[] = {
	{.name = "defaults",
	 .parse = parse_bool,
	 .want = "true or false",
	 .off = FIELD(watch_defaults)},
	{.name = "paths", .parse = parse_paths, .want = "a list of patterns"},
	{.name = "rescan_interval",
	 .parse = parse_duration,
	 .want = "a duration",
	 .off = FIELD(rescan_interval_ms),
	 .min = SEC_MS,
	 .max = DAY_MS},
};

static const struct cfg_table watch_table = {"watch", watch_keys, ARRAY_SIZE(watch_keys)};

static const struct cfg_key spool_keys[] = {
	{.name = "max_size",
	 .parse = parse_size,
	 .want = "a size",
	 .off = FIELD(spool_max_bytes),
	 .min = MIB,
	 .max = 1024 * GIB},
	/* the real upper bound is max_size, checked once the whole file is read */
	{.name = "segment_size",
	 .parse = parse_size,
	 .want = "a size",
	 .off = FIELD(spool_segment_bytes),
	 .min = 64 * KIB,
	 .max = GIB},
	{.name = "max_age",
	 .parse = parse_duration,
	 .want = "a duration",
	 .off = FIELD(spool_max_age_ms),
	 .min = MIN_MS,
	 .max = 10 * YEAR_MS},
};

static const struct cfg_table spool_table = {"spool", spool_keys, ARRAY_SIZE(spool_keys)};

static const struct cfg_key detector_keys[] = {
	{.name = "egress_window",
	 .parse = parse_duration,
	 .want = "a duration",
	 .off = FIELD(egress_window_ms),
	 .min = SEC_MS,
	 .max = DAY_MS},
	{.name = "sweep_window",
	 .parse = parse_duration,
	 .want = "a duration",
	 .off = FIELD(sweep_window_ms),
	 .min = SEC_MS,
	 .max = DAY_MS},
	{.name = "sweep_min_stores",
	 .parse = parse_count,
	 .want = "a number of stores",
	 .off = FIELD(sweep_min_stores),
	 .min = 2,
	 .max = 16},
	{.name = "relay_window",
	 .parse = parse_duration,
	 .want = "a duration",
	 .off = FIELD(relay_window_ms),
	 .min = SEC_MS,
	 .max = DAY_MS},
	{.name = "dedupe_window",
	 .parse = parse_duration,
	 .want = "a duration",
	 .off = FIELD(dedupe_window_ms),
	 .min = SEC_MS,
	 .max = DAY_MS},
};

static const struct cfg_table detector_table = {"detectors", detector_keys,
						ARRAY_SIZE(detector_keys)};

static const struct cfg_key collector_keys[] = {
	{.name = "address", .parse = parse_address, .want = "host:port"},
	{.name = "server_name",
	 .parse = parse_name,
	 .want = "a host name or address",
	 .off = FIELD(collector.server_name),
	 .max = sizeof(((struct nj_collector_config *)0)->server_name) - 1},
	{.name = "ca",
	 .parse = parse_file,
	 .want = "an absolute file path",
	 .off = FIELD(collector.ca)},
	{.name = "cert",
	 .parse = parse_file,
	 .want = "an absolute file path",
	 .off = FIELD(collector.cert)},
	{.name = "key",
	 .parse = parse_file,
	 .want = "an absolute file path",
	 .off = FIELD(collector.key)},
	{.name = "batch_records",
	 .parse = parse_count,
	 .want = "a number of records",
	 .off = FIELD(collector.batch_records),
	 .min = 1,
	 .max = 65536},
	{.name = "batch_bytes",
	 .parse = parse_size,
	 .want = "a size",
	 .off = FIELD(collector.batch_bytes),
	 .min = 4 * KIB,
	 .max = 8 * MIB},
	{.name = "window",
	 .parse = parse_count,
	 .want = "a number of batches",
	 .off = FIELD(collector.window),
	 .min = 1,
	 .max = 64},
	{.name = "reconnect_min",
	 .parse = parse_duration,
	 .want = "a duration",
	 .off = FIELD(collector.reconnect_min_ms),
	 .min = 100,
	 .max = HOUR_MS},
	{.name = "reconnect_max",
	 .parse = parse_duration,
	 .want = "a duration",
	 .off = FIELD(collector.reconnect_max_ms),
	 .min = 100,
	 .max = DAY_MS},
};

static const struct cfg_table collector_table = {"collector", collector_keys,
						 ARRAY_SIZE(collector_keys)};

static const struct cfg_key top_keys[] = {
	{.name = "output", .parse = parse_output, .want = "text or json", .off = FIELD(output)},
	{.name = "ring_buffer_size",
	 .parse = parse_size,
	 .want = "a size",
	 .off = FIELD(ring_buffer_bytes),
	 .min = 64 * KIB,
	 .max = GIB,
	 .pow2 = true},
	/* the real upper bound is ring_buffer_size, checked once the whole file is read */
	{.name = "wakeup_threshold",
	 .parse = parse_size,
	 .want = "a size",
	 .off = FIELD(wakeup_bytes),
	 .min = 4 * KIB,
	 .max = UINT64_MAX},
	{.name = "flush_interval",
	 .parse = parse_duration,
	 .want = "a duration",
	 .off = FIELD(flush_interval_ms),
	 .min = 10,
	 .max = SEC_MS},
	{.name = "health_interval",
	 .parse = parse_duration,
	 .want = "a duration",
	 .off = FIELD(health_interval_ms),
	 .min = SEC_MS,
	 .max = DAY_MS},
	{.name = "watch",
	 .parse = parse_submap,
	 .want = "a mapping of watch settings",
	 .sub = &watch_table},
	/* directories are kept in the load's context until the whole file is good */
	{.name = "state_dir",
	 .parse = parse_dir,
	 .want = "an absolute directory path",
	 .off = offsetof(struct cfg_ctx, state_dir)},
	{.name = "rules_dir",
	 .parse = parse_dir,
	 .want = "an absolute directory path",
	 .off = offsetof(struct cfg_ctx, rules_dir)},
	{.name = "detectors",
	 .parse = parse_submap,
	 .want = "a mapping of detector settings",
	 .sub = &detector_table},
	{.name = "spool",
	 .parse = parse_submap,
	 .want = "a mapping of spool settings",
	 .sub = &spool_table},
	{.name = "collector",
	 .parse = parse_submap,
	 .want = "a mapping of collector settings",
	 .sub = &collector_table},
};

static const struct cfg_table top_table = {"", top_keys, ARRAY_SIZE(top_keys)};

_Static_assert(ARRAY_SIZE(top_keys) <= CFG_MAX_KEYS, "raise CFG_MAX_KEYS");
_Static_assert(ARRAY_SIZE(watch_keys) <= CFG_MAX_KEYS, "raise CFG_MAX_KEYS");
_Static_assert(ARRAY_SIZE(spool_keys) <= CFG_MAX_KEYS, "raise CFG_MAX_KEYS");
_Static_assert(ARRAY_SIZE(detector_keys) <= CFG_MAX_KEYS, "raise CFG_MAX_KEYS");
_Static_assert(ARRAY_SIZE(collector_keys) <= CFG_MAX_KEYS, "raise CFG_MAX_KEYS");

/* ---- numbers with units ---- */

/* Leading decimal digits of s into *v. Returns what follows them, or NULL if s does not start
 * with a digit or the number does not fit in 64 bits. Unlike strtoull(): no sign (which
 * strtoull would wrap), no leading space, no base prefix. */
static const char *parse_u64(const char *s, uint64_t *v)
{
	uint64_t n = 0;

	if (!s || *s < '0' || *s > '9')
		return NULL;
	for (; *s >= '0' && *s <= '9'; s++) {
		unsigned int d = (unsigned int)(*s - '0');

		if (n > (UINT64_MAX - d) / 10)
			return NULL;
		n = n * 10 + d;
	}
	*v = n;
	return s;
}

static int parse_with_units(const char *s, const struct unit *units, size_t n_units, uint64_t *out)
{
	const char *rest;
	uint64_t v;
	size_t i;

	rest = parse_u64(s, &v);
	if (!rest)
		return -1;
	for (i = 0; i < n_units; i++) {
		if (strcmp(rest, units[i].name))
			continue;
		if (v > UINT64_MAX / units[i].mult)
			return -1;
		*out = v * units[i].mult;
		return 0;
	}
	return -1;
}

int nj_parse_duration_ms(const char *s, uint64_t *ms)
{
	return parse_with_units(s, duration_units, ARRAY_SIZE(duration_units), ms);
}

int nj_parse_size(const char *s, uint64_t *bytes)
{
	return parse_with_units(s, size_units, ARRAY_SIZE(size_units), bytes);
}

/* v with the largest unit that divides it: 65536 -> "64KiB", 1500 -> "1500ms". */
static const char *fmt_units(char *buf, size_t size, uint64_t v, const struct unit *units,
			     size_t n_units)
{
	const struct unit *u = &units[n_units - 1];
	size_t i;

	for (i = 0; v && i < n_units; i++) {
		if (v % units[i].mult == 0) {
			u = &units[i];
			break;
		}
	}
	snprintf(buf, size, "%" PRIu64 "%s", v / u->mult, u->name);
	return buf;
}

static const char *fmt_size(char *buf, size_t size, uint64_t v)
{
	/* the last entry is the bare byte count; print bytes with their "B" */
	return fmt_units(buf, size, v, size_units, ARRAY_SIZE(size_units) - 1);
}

static const char *fmt_duration(char *buf, size_t size, uint64_t v)
{
	return fmt_units(buf, size, v, duration_units, ARRAY_SIZE(duration_units));
}

/* ---- errors ---- */

/* s (len bytes) as it may appear inside '...' in a one-line message: control bytes are
 * escaped, so a value with a newline cannot split the line, and long values are cut. */
static const char *quote(char *buf, size_t size, const char *s, size_t len)
{
	size_t i = 0, o = 0;

	while (i < len) {
		unsigned char ch = (unsigned char)s[i];
		/* keep a UTF-8 sequence whole: lead byte 110x, 1110, 11110 */
		size_t seq = ch >= 0xf0 ? 4 : ch >= 0xe0 ? 3 : ch >= 0xc0 ? 2 : 1;

		if (seq > len - i)
			seq = 1;
		/* worst case this step writes 4 bytes; keep room for "..." and the NUL */
		if (o + 4 + sizeof("...") > size) {
			memcpy(buf + o, "...", sizeof("..."));
			return buf;
		}
		if (ch == '\n' || ch == '\t' || ch == '\r') {
			buf[o++] = '\\';
			buf[o++] = ch == '\n' ? 'n' : ch == '\t' ? 't' : 'r';
		} else if (ch < 0x20 || ch == 0x7f) {
			o += (size_t)snprintf(buf + o, size - o, "\\x%02x", ch);
		} else {
			memcpy(buf + o, s + i, seq);
			o += seq;
			i += seq - 1;
		}
		i++;
	}
	buf[o] = '\0';
	return buf;
}

static const char *quote_node(char *buf, size_t size, const yaml_node_t *n)
{
	return quote(buf, size, (const char *)n->data.scalar.value, n->data.scalar.length);
}

static void verror(struct cfg_ctx *c, const yaml_mark_t *mark, const char *fmt, va_list ap)
{
	int n;

	if (!c->err || !c->errlen)
		return;
	if (mark)
		n = snprintf(c->err, c->errlen, "%s:%zu:%zu: ", c->file, mark->line + 1,
			     mark->column + 1);
	else
		n = snprintf(c->err, c->errlen, "%s: ", c->file);
	if (n >= 0 && (size_t)n < c->errlen)
		vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
}

/* The one error path of the loader: "FILE:LINE:COL: message". Returns -1. */
__attribute__((format(printf, 3, 4))) static int
cfg_error(struct cfg_ctx *c, const yaml_mark_t *mark, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verror(c, mark, fmt, ap);
	va_end(ap);
	return -1;
}

/* What a node is, for "expected X, got Y". */
static const char *node_kind(char *buf, size_t size, const yaml_node_t *n)
{
	char q[QUOTE_SIZE];

	switch (n->type) {
	case YAML_SEQUENCE_NODE:
		return "a list";
	case YAML_MAPPING_NODE:
		return "a mapping";
	case YAML_SCALAR_NODE:
		if (!n->data.scalar.length)
			return "an empty value";
		snprintf(buf, size, "the single value '%s'", quote_node(q, sizeof(q), n));
		return buf;
	default:
		return "nothing";
	}
}

static int type_error(struct cfg_ctx *c, const yaml_node_t *n, const char *want, const char *name)
{
	char kind[QUOTE_SIZE + 32];

	return cfg_error(c, &n->start_mark, "expected %s for '%s', got %s", want, name,
			 node_kind(kind, sizeof(kind), n));
}

/* The text of a scalar node, or an error naming what the key wanted. */
static int get_scalar(struct cfg_ctx *c, const struct cfg_key *k, const char *name,
		      const yaml_node_t *n, const char **out)
{
	char q[QUOTE_SIZE];

	if (n->type != YAML_SCALAR_NODE)
		return type_error(c, n, k->want, name);
	/* a double-quoted "\0" would otherwise cut the value short without a word */
	if (strlen((const char *)n->data.scalar.value) != n->data.scalar.length)
		return cfg_error(c, &n->start_mark, "value '%s' for '%s' contains a NUL byte",
				 quote_node(q, sizeof(q), n), name);
	*out = (const char *)n->data.scalar.value;
	return 0;
}

/* "(10ms..1s)", "(at least 4KiB)" */
static const char *fmt_range(char *buf, size_t size, const struct cfg_key *k,
			     const char *(*fmt)(char *, size_t, uint64_t))
{
	char lo[32], hi[32];

	if (k->max == UINT64_MAX)
		snprintf(buf, size, "at least %s", fmt(lo, sizeof(lo), k->min));
	else
		snprintf(buf, size, "%s..%s", fmt(lo, sizeof(lo), k->min),
			 fmt(hi, sizeof(hi), k->max));
	return buf;
}

/* ---- value parsers, one per kind of key ---- */

static int parse_output(struct cfg_ctx *c, const struct cfg_key *k, const char *name,
			yaml_node_t *val)
{
	enum nj_format *out = (enum nj_format *)((char *)c->cfg + k->off);
	char q[QUOTE_SIZE];
	const char *s = NULL;
	size_t i;

	if (get_scalar(c, k, name, val, &s))
		return -1;
	for (i = 0; i < ARRAY_SIZE(output_names); i++) {
		if (!strcmp(s, output_names[i])) {
			*out = (enum nj_format)i;
			return 0;
		}
	}
	return cfg_error(c, &val->start_mark, "bad value '%s' for '%s': expected %s",
			 quote_node(q, sizeof(q), val), name, k->want);
}

static int parse_size(struct cfg_ctx *c, const struct cfg_key *k, const char *name,
		      yaml_node_t *val)
{
	uint64_t *out = (uint64_t *)((char *)c->cfg + k->off);
	char q[QUOTE_SIZE], range[80], lo[32], hi[32];
	const char *s = NULL;
	uint64_t v;

	if (get_scalar(c, k, name, val, &s))
		return -1;
	fmt_range(range, sizeof(range), k, fmt_size);
	if (nj_parse_size(s, &v))
		return cfg_error(c, &val->start_mark,
				 "bad value '%s' for '%s': expected a size such as 64KiB, 4MiB, "
				 "1GiB (%s%s)",
				 quote_node(q, sizeof(q), val), name, range,
				 k->pow2 ? ", a power of two" : "");
	if (v < k->min || v > k->max)
		return cfg_error(c, &val->start_mark,
				 "value '%s' for '%s' is out of range (expected %s)",
				 quote_node(q, sizeof(q), val), name, range);
	/* v >= min > 0 here, so the bit scan is defined */
	if (k->pow2 && (v & (v - 1))) {
		uint64_t below = 1ULL << (63 - __builtin_clzll(v));

		return cfg_error(
			c, &val->start_mark,
			"value '%s' for '%s' is not a power of two (expected e.g. %s or %s)",
			quote_node(q, sizeof(q), val), name, fmt_size(lo, sizeof(lo), below),
			fmt_size(hi, sizeof(hi), below << 1));
	}
	*out = v;
	return 0;
}

static int parse_duration(struct cfg_ctx *c, const struct cfg_key *k, const char *name,
			  yaml_node_t *val)
{
	uint64_t *out = (uint64_t *)((char *)c->cfg + k->off);
	char q[QUOTE_SIZE], range[80];
	const char *s = NULL;
	uint64_t v;

	if (get_scalar(c, k, name, val, &s))
		return -1;
	fmt_range(range, sizeof(range), k, fmt_duration);
	if (nj_parse_duration_ms(s, &v))
		return cfg_error(
			c, &val->start_mark,
			"bad value '%s' for '%s': expected a duration such as 100ms, 5s, 2m "
			"(%s)",
			quote_node(q, sizeof(q), val), name, range);
	if (v < k->min || v > k->max)
		return cfg_error(c, &val->start_mark,
				 "value '%s' for '%s' is out of range (expected %s)",
				 quote_node(q, sizeof(q), val), name, range);
	*out = v;
	return 0;
}

static int parse_bool(struct cfg_ctx *c, const struct cfg_key *k, const char *name,
		      yaml_node_t *val)
{
	/* YAML 1.1 booleans, which is what libyaml implements and what users write */
	static const struct {
		const char *name;
		bool value;
	} words[] = {
		{"true", true},	  {"yes", true}, {"on", true},
		{"false", false}, {"no", false}, {"off", false},
	};
	bool *out = (bool *)((char *)c->cfg + k->off);
	char q[QUOTE_SIZE];
	const char *s = NULL;
	size_t i;

	if (get_scalar(c, k, name, val, &s))
		return -1;
	for (i = 0; i < ARRAY_SIZE(words); i++) {
		if (!strcasecmp(s, words[i].name)) {
			*out = words[i].value;
			return 0;
		}
	}
	return cfg_error(c, &val->start_mark,
			 "bad value '%s' for '%s': expected true or false (also yes/no, on/off)",
			 quote_node(q, sizeof(q), val), name);
}

static void free_paths(char **paths, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(paths[i]);
	free(paths);
}

static int check_pattern(struct cfg_ctx *c, const char *name, const yaml_node_t *n)
{
	const char *s = (const char *)n->data.scalar.value;
	char q[QUOTE_SIZE];

	if (n->data.scalar.length > NJ_CONFIG_PATTERN_MAX)
		return cfg_error(c, &n->start_mark,
				 "pattern '%s' in '%s' is %zu bytes long (expected at most %d)",
				 quote_node(q, sizeof(q), n), name, n->data.scalar.length,
				 NJ_CONFIG_PATTERN_MAX);
	/* the watcher resolves patterns from / or from each home; there is no working directory
	 * to be relative to, and "~user/" would name one home only */
	if (s[0] != '/' && strncmp(s, "~/", 2))
		return cfg_error(c, &n->start_mark,
				 "bad pattern '%s' in '%s': expected an absolute path (/...) or "
				 "~/... (that path under every home directory)",
				 quote_node(q, sizeof(q), n), name);
	return 0;
}

static int parse_paths(struct cfg_ctx *c, const struct cfg_key *k, const char *name,
		       yaml_node_t *val)
{
	yaml_node_item_t *item;
	size_t n;

	if (val->type != YAML_SEQUENCE_NODE)
		return type_error(c, val, k->want, name);
	n = (size_t)(val->data.sequence.items.top - val->data.sequence.items.start);
	c->paths_given = true;
	if (!n)
		return 0;
	c->paths = calloc(n, sizeof(*c->paths));
	if (!c->paths)
		return cfg_error(c, &val->start_mark, "out of memory for %zu patterns in '%s'", n,
				 name);
	for (item = val->data.sequence.items.start; item < val->data.sequence.items.top; item++) {
		yaml_node_t *p = yaml_document_get_node(c->doc, *item);
		const char *s = NULL;

		if (p->type != YAML_SCALAR_NODE)
			return type_error(c, p, "a pattern (one path per item)", name);
		if (get_scalar(c, k, name, p, &s) || check_pattern(c, name, p))
			return -1;
		c->paths[c->n_paths] = strdup(s);
		if (!c->paths[c->n_paths])
			return cfg_error(c, &p->start_mark, "out of memory for a pattern in '%s'",
					 name);
		c->n_paths++;
	}
	return 0;
}

/* k->off is a field of struct cfg_ctx here: the string is committed with the rest. */
static int parse_dir(struct cfg_ctx *c, const struct cfg_key *k, const char *name, yaml_node_t *val)
{
	char **out = (char **)((char *)c + k->off);
	char q[QUOTE_SIZE];
	const char *s = NULL;

	if (get_scalar(c, k, name, val, &s))
		return -1;
	if (s[0] != '/' || strlen(s) > NJ_CONFIG_PATTERN_MAX)
		return cfg_error(c, &val->start_mark, "bad value '%s' for '%s': expected %s",
				 quote_node(q, sizeof(q), val), name, k->want);
	free(*out);
	*out = strdup(s);
	if (!*out)
		return cfg_error(c, &val->start_mark, "out of memory for '%s'", name);
	return 0;
}

static int parse_count(struct cfg_ctx *c, const struct cfg_key *k, const char *name,
		       yaml_node_t *val)
{
	uint64_t *out = (uint64_t *)((char *)c->cfg + k->off);
	char q[QUOTE_SIZE];
	const char *s = NULL, *rest;
	uint64_t v = 0;

	if (get_scalar(c, k, name, val, &s))
		return -1;
	rest = parse_u64(s, &v);
	if (!rest || *rest || v < k->min || v > k->max)
		return cfg_error(c, &val->start_mark,
				 "bad value '%s' for '%s': expected %s, %" PRIu64 "..%" PRIu64,
				 quote_node(q, sizeof(q), val), name, k->want, k->min, k->max);
	*out = v;
	return 0;
}

/* A host name or an address literal: no spaces, no control bytes, no brackets. */
static bool plausible_host(const char *s, size_t len)
{
	size_t i;

	if (!len)
		return false;
	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] <= ' ' || s[i] == '[' || s[i] == ']' || s[i] == '/' ||
		    s[i] == 0x7f)
			return false;
	return true;
}

/* "host:port", "[v6]:port", or a host alone (the collector's default port). */
static int parse_address(struct cfg_ctx *c, const struct cfg_key *k, const char *name,
			 yaml_node_t *val)
{
	struct nj_collector_config *cc = &c->cfg->collector;
	const char *s = NULL, *host, *port = NULL, *colon;
	char q[QUOTE_SIZE];
	size_t hlen;
	uint64_t p = 0;

	if (get_scalar(c, k, name, val, &s))
		return -1;
	if (s[0] == '[') {
		const char *end = strchr(s, ']');

		host = s + 1;
		hlen = end ? (size_t)(end - host) : 0;
		if (end && end[1] == ':')
			port = end + 2;
		else if (end && end[1])
			hlen = 0;
	} else {
		colon = strrchr(s, ':');
		host = s;
		hlen = strlen(s);
		/* two colons without brackets: an IPv6 literal without a port */
		if (colon && strchr(s, ':') == colon) {
			hlen = (size_t)(colon - s);
			port = colon + 1;
		}
	}
	if (port) {
		const char *end = parse_u64(port, &p);

		if (!end || *end || !p || p > 65535)
			hlen = 0;
	}
	if (!plausible_host(host, hlen) || hlen >= sizeof(cc->host))
		return cfg_error(c, &val->start_mark,
				 "bad value '%s' for '%s': expected host:port, [IPv6]:port or a "
				 "host alone (port 6445)",
				 quote_node(q, sizeof(q), val), name);
	memcpy(cc->host, host, hlen);
	cc->host[hlen] = '\0';
	snprintf(cc->port, sizeof(cc->port), "%u", port ? (unsigned int)p : 6445u);
	return 0;
}

static int parse_name(struct cfg_ctx *c, const struct cfg_key *k, const char *name,
		      yaml_node_t *val)
{
	char *out = (char *)c->cfg + k->off;
	char q[QUOTE_SIZE];
	const char *s = NULL;

	if (get_scalar(c, k, name, val, &s))
		return -1;
	if (!plausible_host(s, strlen(s)) || strlen(s) > k->max)
		return cfg_error(c, &val->start_mark, "bad value '%s' for '%s': expected %s",
				 quote_node(q, sizeof(q), val), name, k->want);
	strcpy(out, s);
	return 0;
}

/* An absolute path, kept with where it was given. Whether the file exists and holds what it
 * should is checked by its user (agent/ship.c), which names this place in its message. */
static int parse_file(struct cfg_ctx *c, const struct cfg_key *k, const char *name,
		      yaml_node_t *val)
{
	struct nj_config_file *out = (struct nj_config_file *)((char *)c->cfg + k->off);
	char q[QUOTE_SIZE];
	const char *s = NULL;

	if (get_scalar(c, k, name, val, &s))
		return -1;
	if (s[0] != '/' || strlen(s) >= sizeof(out->path))
		return cfg_error(c, &val->start_mark, "bad value '%s' for '%s': expected %s",
				 quote_node(q, sizeof(q), val), name, k->want);
	strcpy(out->path, s);
	snprintf(out->at, sizeof(out->at), "%s:%zu:%zu", c->file, val->start_mark.line + 1,
		 val->start_mark.column + 1);
	return 0;
}

static const struct cfg_key *find_key(const struct cfg_table *t, const yaml_node_t *key)
{
	size_t i;

	for (i = 0; i < t->n_keys; i++) {
		if (strlen(t->keys[i].name) == key->data.scalar.length &&
		    !memcmp(t->keys[i].name, key->data.scalar.value, key->data.scalar.length))
			return &t->keys[i];
	}
	return NULL;
}

static int unknown_key(struct cfg_ctx *c, const struct cfg_table *t, const yaml_node_t *key)
{
	char q[QUOTE_SIZE], names[256] = "", where[64] = "";
	size_t i, o = 0;

	for (i = 0; i < t->n_keys && o < sizeof(names); i++)
		o += (size_t)snprintf(names + o, sizeof(names) - o, "%s%s", i ? ", " : "",
				      t->keys[i].name);
	if (*t->name)
		snprintf(where, sizeof(where), " in '%s'", t->name);
	return cfg_error(c, &key->start_mark, "unknown key '%s'%s (expected one of: %s)",
			 quote_node(q, sizeof(q), key), where, names);
}

/* Walk a mapping through its key table. Each key may appear once. */
static int parse_mapping(struct cfg_ctx *c, const struct cfg_table *t, const yaml_node_t *map)
{
	const yaml_node_t *seen[CFG_MAX_KEYS] = {NULL};
	yaml_node_pair_t *pair;

	for (pair = map->data.mapping.pairs.start; pair < map->data.mapping.pairs.top; pair++) {
		yaml_node_t *key = yaml_document_get_node(c->doc, pair->key);
		yaml_node_t *val = yaml_document_get_node(c->doc, pair->value);
		const struct cfg_key *k;
		char kind[QUOTE_SIZE + 32], name[64];
		size_t i;

		if (key->type != YAML_SCALAR_NODE)
			return cfg_error(c, &key->start_mark, "expected a key name, got %s",
					 node_kind(kind, sizeof(kind), key));
		k = find_key(t, key);
		if (!k)
			return unknown_key(c, t, key);
		i = (size_t)(k - t->keys);
		if (seen[i])
			return cfg_error(c, &key->start_mark,
					 "duplicate key '%s' (first given at line %zu, column %zu)",
					 k->name, seen[i]->start_mark.line + 1,
					 seen[i]->start_mark.column + 1);
		seen[i] = key;
		snprintf(name, sizeof(name), "%s%s%s", t->name, *t->name ? "." : "", k->name);
		if (k->parse(c, k, name, val))
			return -1;
	}
	return 0;
}

static int parse_submap(struct cfg_ctx *c, const struct cfg_key *k, const char *name,
			yaml_node_t *val)
{
	if (val->type != YAML_MAPPING_NODE)
		return type_error(c, val, k->want, name);
	return parse_mapping(c, k->sub, val);
}

/* ---- the file ---- */

/* The value node of a top-level key, or NULL. Only used after parse_mapping() has refused
 * duplicates, so the first match is the only one. */
static const yaml_node_t *find_value(struct cfg_ctx *c, const yaml_node_t *map, const char *name)
{
	yaml_node_pair_t *pair;

	for (pair = map->data.mapping.pairs.start; pair < map->data.mapping.pairs.top; pair++) {
		yaml_node_t *key = yaml_document_get_node(c->doc, pair->key);

		if (!strcmp((const char *)key->data.scalar.value, name))
			return yaml_document_get_node(c->doc, pair->value);
	}
	return NULL;
}

/* A collector block names where to ship and the three files of its identity, or is absent. */
static int check_collector(struct cfg_ctx *c, const yaml_node_t *root)
{
	struct nj_collector_config *cc = &c->cfg->collector;
	const yaml_node_t *node = find_value(c, root, "collector");
	char missing[64] = "";

	if (!node)
		return 0;
	if (!cc->host[0])
		strcat(missing, " address");
	if (!cc->ca.path[0])
		strcat(missing, " ca");
	if (!cc->cert.path[0])
		strcat(missing, " cert");
	if (!cc->key.path[0])
		strcat(missing, " key");
	if (missing[0])
		return cfg_error(c, &node->start_mark,
				 "'collector' lacks:%s (expected address, ca, cert and key; "
				 "docs/enrolment.md)",
				 missing);
	if (cc->reconnect_min_ms > cc->reconnect_max_ms)
		return cfg_error(c, &node->start_mark,
				 "'collector.reconnect_min' is above 'collector.reconnect_max'");
	if (!cc->server_name[0])
		snprintf(cc->server_name, sizeof(cc->server_name), "%s", cc->host);
	return 0;
}

/* Checks between keys, run once the whole file is read so key order does not matter. */
static int check_whole(struct cfg_ctx *c, const yaml_node_t *root)
{
	const struct nj_config *cfg = c->cfg;
	const yaml_node_t *wake, *ring;
	char w[32], r[32];

	/* a segment is rotated when full: one larger than the whole spool never would be */
	if (cfg->spool_segment_bytes >= cfg->spool_max_bytes) {
		const yaml_node_t *spool = find_value(c, root, "spool");

		fmt_size(w, sizeof(w), cfg->spool_segment_bytes);
		fmt_size(r, sizeof(r), cfg->spool_max_bytes);
		return cfg_error(c, spool ? &spool->start_mark : NULL,
				 "'spool.segment_size' %s must be smaller than 'spool.max_size' %s "
				 "(expected a small fraction, such as 1/32)",
				 w, r);
	}
	if (check_collector(c, root))
		return -1;
	/* the ring would be full (and reserves failing) before the agent is woken */
	if (cfg->wakeup_bytes < cfg->ring_buffer_bytes)
		return 0;
	fmt_size(w, sizeof(w), cfg->wakeup_bytes);
	fmt_size(r, sizeof(r), cfg->ring_buffer_bytes);
	wake = find_value(c, root, "wakeup_threshold");
	if (wake)
		return cfg_error(c, &wake->start_mark,
				 "'wakeup_threshold' %s must be smaller than 'ring_buffer_size' %s "
				 "(expected a fraction of the ring, such as 1/64)",
				 w, r);
	ring = find_value(c, root, "ring_buffer_size");
	if (ring)
		return cfg_error(c, &ring->start_mark,
				 "'ring_buffer_size' %s must be larger than 'wakeup_threshold' "
				 "(currently %s); set a smaller wakeup_threshold too",
				 r, w);
	/* neither came from this file: not this file's error */
	return 0;
}

/* Read the whole file: libyaml reports encoding errors as a byte offset, which we turn into
 * a line and column from the buffer. */
static int read_file(struct cfg_ctx *c, unsigned char **out, size_t *out_len)
{
	unsigned char *buf = NULL, *grown;
	size_t len = 0, cap = 0, got;
	int ret = -1;
	FILE *f;

	f = fopen(c->file, "re");
	if (!f)
		return cfg_error(c, NULL, "cannot open: %s", strerror(errno));
	do {
		if (len == cap) {
			cap = cap ? cap * 2 : 4096;
			grown = realloc(buf, cap);
			if (!grown) {
				cfg_error(c, NULL, "cannot read: out of memory");
				goto err_free;
			}
			buf = grown;
		}
		got = fread(buf + len, 1, cap - len, f);
		len += got;
		if (len > CFG_FILE_MAX) {
			cfg_error(c, NULL,
				  "cannot read: larger than %llu bytes (expected a config file)",
				  CFG_FILE_MAX);
			goto err_free;
		}
	} while (got);
	if (ferror(f)) {
		/* fread sets errno on glibc, e.g. EISDIR for a directory */
		cfg_error(c, NULL, "cannot read: %s", strerror(errno));
		goto err_free;
	}
	*out = buf;
	*out_len = len;
	buf = NULL;
	ret = 0;
err_free:
	free(buf);
	fclose(f);
	return ret;
}

static yaml_mark_t offset_mark(const unsigned char *buf, size_t len, size_t offset)
{
	yaml_mark_t m = {.index = offset};
	size_t i;

	for (i = 0; i < offset && i < len; i++) {
		if (buf[i] == '\n') {
			m.line++;
			m.column = 0;
		} else if ((buf[i] & 0xc0) != 0x80) { /* count characters, not UTF-8 bytes */
			m.column++;
		}
	}
	return m;
}

static int syntax_error(struct cfg_ctx *c, const yaml_parser_t *p, const unsigned char *buf,
			size_t len)
{
	const char *problem = p->problem ? p->problem : "unknown error";
	yaml_mark_t m;

	switch (p->error) {
	case YAML_MEMORY_ERROR:
		return cfg_error(c, NULL, "out of memory while parsing YAML");
	case YAML_READER_ERROR:
		m = offset_mark(buf, len, p->problem_offset);
		if (p->problem_value != -1)
			return cfg_error(c, &m,
					 "invalid YAML: %s (byte 0x%02x, expected UTF-8 text)",
					 problem, (unsigned int)p->problem_value);
		return cfg_error(c, &m, "invalid YAML: %s (expected UTF-8 text)", problem);
	default:
		if (p->context)
			return cfg_error(c, &p->problem_mark,
					 "invalid YAML: %s (%s at line %zu, column %zu)", problem,
					 p->context, p->context_mark.line + 1,
					 p->context_mark.column + 1);
		return cfg_error(c, &p->problem_mark, "invalid YAML: %s", problem);
	}
}

static bool is_null(const yaml_node_t *n)
{
	static const char *const nulls[] = {"", "~", "null", "Null", "NULL"};
	size_t i;

	if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	for (i = 0; i < ARRAY_SIZE(nulls); i++) {
		if (!strcmp((const char *)n->data.scalar.value, nulls[i]))
			return true;
	}
	return false;
}

/* Parse the document and check there is no second one. */
static int parse_stream(struct cfg_ctx *c, yaml_parser_t *parser, const unsigned char *buf,
			size_t len)
{
	yaml_document_t doc, next;
	yaml_node_t *root;
	char kind[QUOTE_SIZE + 32];
	int ret = -1;

	if (!yaml_parser_load(parser, &doc))
		return syntax_error(c, parser, buf, len);
	c->doc = &doc;
	root = yaml_document_get_root_node(&doc);
	/* no document, or one holding only a null (e.g. a lone "---"): no settings */
	if (!root || is_null(root)) {
		ret = 0;
	} else if (root->type != YAML_MAPPING_NODE) {
		ret = cfg_error(
			c, &root->start_mark,
			"expected a mapping of settings (key: value) at the top level, got %s",
			node_kind(kind, sizeof(kind), root));
	} else {
		ret = parse_mapping(c, &top_table, root);
		if (!ret)
			ret = check_whole(c, root);
	}
	if (!ret && root) {
		/* yaml_parser_load() reads one document; a second would be ignored silently */
		if (!yaml_parser_load(parser, &next)) {
			ret = syntax_error(c, parser, buf, len);
		} else {
			if (yaml_document_get_root_node(&next))
				ret = cfg_error(
					c, &next.start_mark,
					"unexpected second YAML document (expected one per file)");
			yaml_document_delete(&next);
		}
	}
	c->doc = NULL;
	yaml_document_delete(&doc);
	return ret;
}

int nj_config_load(struct nj_config *cfg, const char *file, char *err, size_t errlen)
{
	struct nj_config next = *cfg;
	struct cfg_ctx c = {
		.file = file,
		.err = err,
		.errlen = errlen,
		.cfg = &next,
	};
	yaml_parser_t parser;
	unsigned char *buf = NULL;
	size_t len = 0;
	int ret = -1;

	if (err && errlen)
		err[0] = '\0';
	if (read_file(&c, &buf, &len))
		return -1;
	if (!yaml_parser_initialize(&parser)) {
		cfg_error(&c, NULL, "out of memory while parsing YAML");
		goto err_free_buf;
	}
	yaml_parser_set_input_string(&parser, buf, len);
	if (parse_stream(&c, &parser, buf, len))
		goto err_delete_parser;

	if (c.paths_given) {
		free_paths(cfg->watch_paths, cfg->n_watch_paths);
		next.watch_paths = c.paths;
		next.n_watch_paths = c.n_paths;
		c.paths = NULL;
		c.n_paths = 0;
	}
	if (c.state_dir) {
		free(cfg->state_dir);
		next.state_dir = c.state_dir;
		c.state_dir = NULL;
	}
	if (c.rules_dir) {
		free(cfg->rules_dir);
		next.rules_dir = c.rules_dir;
		c.rules_dir = NULL;
	}
	*cfg = next;
	ret = 0;
err_delete_parser:
	free_paths(c.paths, c.n_paths);
	free(c.state_dir);
	free(c.rules_dir);
	yaml_parser_delete(&parser);
err_free_buf:
	free(buf);
	return ret;
}

void nj_config_defaults(struct nj_config *cfg)
{
	*cfg = (struct nj_config){
		.output = NJ_OUTPUT_TEXT,
		.ring_buffer_bytes = 4 * MIB,
		.wakeup_bytes = 64 * KIB,
		.flush_interval_ms = 100,
		.health_interval_ms = 60 * SEC_MS,
		.watch_defaults = true,
		.watch_paths = NULL,
		.n_watch_paths = 0,
		.rescan_interval_ms = 30 * SEC_MS,
		.state_dir = NULL, /* NJ_STATE_DIR_DEFAULT; see nj_config_state_dir() */
		.spool_max_bytes = 256 * MIB,
		.spool_segment_bytes = 8 * MIB,
		.spool_max_age_ms = 7 * DAY_MS,
		.rules_dir = NULL, /* NJ_RULES_DIR_DEFAULT; see nj_config_rules_dir() */
		.egress_window_ms = MIN_MS,
		.sweep_window_ms = 5 * MIN_MS,
		.sweep_min_stores = 3,
		.relay_window_ms = MIN_MS,
		.dedupe_window_ms = 10 * MIN_MS,
		.collector =
			{
				.batch_records = 2048,
				.batch_bytes = 256 * KIB,
				.window = 8,
				.reconnect_min_ms = SEC_MS,
				.reconnect_max_ms = 5 * MIN_MS,
			},
	};
}

const char *nj_config_rules_dir(const struct nj_config *cfg)
{
	return cfg->rules_dir ? cfg->rules_dir : NJ_RULES_DIR_DEFAULT;
}

const char *nj_config_state_dir(const struct nj_config *cfg)
{
	return cfg->state_dir ? cfg->state_dir : NJ_STATE_DIR_DEFAULT;
}

int nj_config_set_state_dir(struct nj_config *cfg, const char *dir)
{
	char *d = strdup(dir);

	if (!d)
		return -1;
	free(cfg->state_dir);
	cfg->state_dir = d;
	return 0;
}

void nj_config_free(struct nj_config *cfg)
{
	free_paths(cfg->watch_paths, cfg->n_watch_paths);
	cfg->watch_paths = NULL;
	cfg->n_watch_paths = 0;
	free(cfg->state_dir);
	cfg->state_dir = NULL;
	free(cfg->rules_dir);
	cfg->rules_dir = NULL;
}
