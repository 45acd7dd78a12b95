/* json.c - streaming JSON writer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

void nj_json_init(struct nj_json *j)
{
	memset(j, 0, sizeof(*j));
	j->first[0] = true;
}

void nj_json_reset(struct nj_json *j)
{
	j->len = 0;
	j->depth = 0;
	j->first[0] = true;
	j->oom = false;
}

void nj_json_free(struct nj_json *j)
{
	free(j->buf);
	nj_json_init(j);
}

static bool grow(struct nj_json *j, size_t n)
{
	size_t cap;
	char *p;

	if (j->oom)
		return false;
	cap = j->cap ? j->cap : 1024;
	while (cap < j->len + n + 1)
		cap *= 2;
	p = realloc(j->buf, cap);
	if (!p) {
		j->oom = true;
		return false;
	}
	j->buf = p;
	j->cap = cap;
	return true;
}

/* The hot path of every event: one bounds check and a copy. A byte is always left for the
 * terminating NUL (and for the newline the agent puts there). */
static inline void put(struct nj_json *j, const char *s, size_t n)
{
	if (j->len + n + 1 > j->cap && !grow(j, n))
		return;
	memcpy(j->buf + j->len, s, n);
	j->len += n;
	j->buf[j->len] = '\0';
}

static inline void putc_(struct nj_json *j, char c)
{
	put(j, &c, 1);
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	size_t len, i;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0) {
		len = 2;
		cp = s[0] & 0x1f;
	} else if ((s[0] & 0xf0) == 0xe0) {
		len = 3;
		cp = s[0] & 0x0f;
	} else if ((s[0] & 0xf8) == 0xf0) {
		len = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	/* reject overlong forms, surrogates and values past U+10FFFF */
	if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return len;
}

/* Bytes that go out as they are: printable ASCII other than '"' and '\\'. */
static inline bool plain(unsigned char c)
{
	return c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
}

static void put_string(struct nj_json *j, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, start, run;
	char esc[8];

	putc_(j, '"');
	while (i < n) {
		/* copy the longest stretch that needs no escaping in one go */
		start = i;
		while (i < n && plain(p[i]))
			i++;
		if (i > start)
			put(j, s + start, i - start);
		if (i == n)
			break;
		if (p[i] == '"' || p[i] == '\\') {
			esc[0] = '\\';
			esc[1] = (char)p[i];
			put(j, esc, 2);
			i++;
		} else if (p[i] < 0x20) {
			snprintf(esc, sizeof(esc), "\\u%04x", p[i]);
			put(j, esc, 6);
			i++;
		} else {
			run = utf8_len(p + i, n - i);
			if (run == 0) {
				/* not UTF-8: keep the document valid, mark the byte as replaced */
				put(j, "\\ufffd", 6);
				i++;
			} else {
				put(j, s + i, run);
				i += run;
			}
		}
	}
	putc_(j, '"');
}

static void member(struct nj_json *j, const char *key)
{
	char head[64];
	size_t n = 0, k;

	if (!j->first[j->depth])
		head[n++] = ',';
	j->first[j->depth] = false;
	if (!key) {
		put(j, head, n);
		return;
	}
	/* keys are nearly always short plain literals (ECS names): copy those in one go */
	head[n++] = '"';
	for (k = 0; key[k] && plain((unsigned char)key[k]) && n < sizeof(head) - 2; k++)
		head[n++] = key[k];
	if (key[k]) {
		put(j, head, n - k - 1);
		put_string(j, key, strlen(key));
		putc_(j, ':');
		return;
	}
	head[n++] = '"';
	head[n++] = ':';
	put(j, head, n);
}

static void open_(struct nj_json *j, const char *key, char c)
{
	member(j, key);
	putc_(j, c);
	if (j->depth + 1 < NJ_JSON_DEPTH)
		j->depth++;
	j->first[j->depth] = true;
}

static void close_(struct nj_json *j, char c)
{
	putc_(j, c);
	if (j->depth > 0)
		j->depth--;
}

void nj_json_obj_begin(struct nj_json *j, const char *key)
{
	open_(j, key, '{');
}

void nj_json_obj_end(struct nj_json *j)
{
	close_(j, '}');
}

void nj_json_arr_begin(struct nj_json *j, const char *key)
{
	open_(j, key, '[');
}

void nj_json_arr_end(struct nj_json *j)
{
	close_(j, ']');
}

void nj_json_strn(struct nj_json *j, const char *key, const char *s, size_t n)
{
	member(j, key);
	put_string(j, s, n);
}

void nj_json_str(struct nj_json *j, const char *key, const char *s)
{
	nj_json_strn(j, key, s, strlen(s));
}

/* Decimal digits of v, right-aligned in buf[24]; returns where they start. */
static char *utoa(char buf[24], uint64_t v)
{
	char *p = buf + 24;

	do
		*--p = (char)('0' + v % 10);
	while (v /= 10);
	return p;
}

void nj_json_u64(struct nj_json *j, const char *key, uint64_t v)
{
	char num[24], *p = utoa(num, v);

	member(j, key);
	put(j, p, (size_t)(num + sizeof(num) - p));
}

void nj_json_i64(struct nj_json *j, const char *key, int64_t v)
{
	/* the magnitude as unsigned, so INT64_MIN does not overflow */
	uint64_t mag = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
	char num[24], *p = utoa(num, mag);

	if (v < 0)
		*--p = '-';
	member(j, key);
	put(j, p, (size_t)(num + sizeof(num) - p));
}

void nj_json_bool(struct nj_json *j, const char *key, bool v)
{
	member(j, key);
	put(j, v ? "true" : "false", v ? 4 : 5);
}
