/* match.h - does a process match a process matcher of the rules (docs/rules.md). */
#ifndef NJ_MATCH_H
#define NJ_MATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rules.h"

#define NJ_MATCH_ARGV_MAX  128 /* arguments looked at; the rest are not matched */
#define NJ_MATCH_ANCESTORS 8

/* What a matcher looks at, gathered once per event. */
struct nj_subject {
	const char *exe; /* resolved executable, "" if unknown */
	const char *argv[NJ_MATCH_ARGV_MAX];
	size_t argc;				   /* argv[0] included */
	const char *ancestors[NJ_MATCH_ANCESTORS]; /* executables, parent first */
	size_t n_ancestors;
	uint32_t uid;
	bool has_owner; /* the file's owner is known (consumers of a store) */
	uint32_t owner;
};

/* Split NUL-separated argv (len bytes) into s->argv. */
void nj_subject_set_args(struct nj_subject *s, const char *args, size_t len);

bool nj_pmatch(const struct nj_pmatch *m, const struct nj_subject *s);
/* Any of n matchers. */
bool nj_pmatch_any(const struct nj_pmatch *m, size_t n, const struct nj_subject *s);

#endif
