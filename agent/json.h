/* json.h - a small streaming JSON writer into a growable buffer. Commas and nesting are
 * tracked by the writer, strings are escaped and made valid UTF-8. */
#ifndef NJ_JSON_H
#define NJ_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NJ_JSON_DEPTH 16

struct nj_json {
	char *buf;
	size_t len, cap;
	int depth;
	bool first[NJ_JSON_DEPTH]; /* no member written yet at this level */
	bool oom;
};

void nj_json_init(struct nj_json *j);
void nj_json_reset(struct nj_json *j);
void nj_json_free(struct nj_json *j);

/* key is NULL inside arrays and for the top-level value */
void nj_json_obj_begin(struct nj_json *j, const char *key);
void nj_json_obj_end(struct nj_json *j);
void nj_json_arr_begin(struct nj_json *j, const char *key);
void nj_json_arr_end(struct nj_json *j);
void nj_json_str(struct nj_json *j, const char *key, const char *s);
void nj_json_strn(struct nj_json *j, const char *key, const char *s, size_t n);
void nj_json_u64(struct nj_json *j, const char *key, uint64_t v);
void nj_json_i64(struct nj_json *j, const char *key, int64_t v);
void nj_json_bool(struct nj_json *j, const char *key, bool v);

#endif
