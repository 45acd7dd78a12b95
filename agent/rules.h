/* rules.h - detection content: credential stores and their consumers, tunnel tool signatures,
 * proxy ports and destination lists (docs/rules.md).
 *
 * The default ruleset (the YAML files of rules/) is compiled in; files of a rules directory are
 * loaded after it, and an entry whose id exists replaces it. Parsed with libyaml's document API, as
 * the configuration is, so every error names FILE:LINE:COL. */
#ifndef NJ_RULES_H
#define NJ_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NJ_SEV_LOW	21
#define NJ_SEV_MEDIUM	47
#define NJ_SEV_HIGH	73
#define NJ_SEV_CRITICAL 99

struct nj_strv {
	char **v;
	size_t n;
};

/* options: {any: [...]}: a letter, with a glob on its value or NULL for its presence */
struct nj_opt {
	char letter;
	char *glob;
};

/* A process matcher: every key given must hold (docs/rules.md, "Process matchers"). */
struct nj_pmatch {
	struct nj_strv executable, name, args, args_prefix, args_all, args_any, parent_exe,
		ancestor_exe;
	char *optstring; /* NULL: no options key */
	struct nj_opt *opts;
	size_t n_opts;
	bool owner;
	bool nocase; /* argument globs ignore case (socat's address keywords do) */
	uint32_t min_args;
};

struct nj_rule {
	char *id, *name, *technique; /* technique may be NULL */
	uint32_t severity;	     /* 1..100 */
	bool disabled;
	char *where; /* "FILE:LINE:COL" of the definition */
};

struct nj_store {
	struct nj_rule r;
	struct nj_strv paths; /* watch patterns: absolute or "~/..." */
	struct nj_pmatch *consumers;
	size_t n_consumers;
	bool learn; /* readers are learned per host, the first one is a low alert */
};

struct nj_tool {
	struct nj_rule r;
	struct nj_pmatch *match; /* any one */
	size_t n_match;
	struct nj_pmatch *except; /* none of these: sanctioned uses */
	size_t n_except;
};

/* An address prefix; IPv4 as ::ffff:a.b.c.d, prefix + 96. */
struct nj_cidr {
	uint8_t addr[16];
	uint8_t prefixlen;
};

struct nj_destlist {
	struct nj_rule r;
	struct nj_cidr *cidrs; /* cidrs and the contents of files, once loaded */
	size_t n_cidrs;
	struct nj_strv files;
};

struct nj_rules {
	struct nj_store *stores;
	size_t n_stores;
	struct nj_tool *tools;
	size_t n_tools;
	struct nj_destlist *lists;
	size_t n_lists;
	uint16_t *proxy_ports;
	size_t n_proxy_ports;
	struct nj_pmatch *relay_except; /* processes detector 5 never reports (local servers) */
	size_t n_relay_except;
	size_t files; /* rules files loaded */
};

/* Parse one rules document from memory (name is used in messages). Entries are merged into
 * r by id. On error returns -1 with "NAME:LINE:COL: message" in err, and r keeps what it had
 * before this document (it is applied whole or not at all). */
int nj_rules_load_text(struct nj_rules *r, const char *name, const char *text, size_t len,
		       char *err, size_t errlen);
int nj_rules_load_file(struct nj_rules *r, const char *path, char *err, size_t errlen);
/* The compiled-in default ruleset. */
int nj_rules_load_defaults(struct nj_rules *r, char *err, size_t errlen);
/* Every *.yaml / *.yml of dir in name order. A missing directory is not an error (returns 0
 * and loads nothing); an unreadable one is. */
int nj_rules_load_dir(struct nj_rules *r, const char *dir, char *err, size_t errlen);
/* After the last load: read destination list files into their cidrs. -1 with err on a bad
 * line ("FILE:LINE: ..."). */
int nj_rules_finish(struct nj_rules *r, char *err, size_t errlen);
void nj_rules_free(struct nj_rules *r);

/* "203.0.113.0/24", "2001:db8::/32", or a bare address (a full-length prefix). */
int nj_parse_cidr(const char *s, struct nj_cidr *out);
/* "low", "medium", "high", "critical" for a severity number. */
const char *nj_severity_label(uint32_t severity);

/* Does path belong to store st: one of its patterns names it, in any home or as a copy under
 * any directory ("/tmp/x/.aws/credentials" for "~/.aws/credentials"), or the path has the name
 * signature the sensor matches for one of its patterns (watch.h: "/tmp/p/Login Data" for
 * "~/.config/google-chrome/PROFILE/Login Data"). */
bool nj_store_has_path(const struct nj_store *st, const char *path);

/* The embedded defaults, generated from the rules directory at build time (rules_default.c). */
struct nj_rules_blob {
	const char *name;
	const char *text;
	size_t len;
};
extern const struct nj_rules_blob nj_default_rules[];
extern const size_t nj_n_default_rules;

#endif
