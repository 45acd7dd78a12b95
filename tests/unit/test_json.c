/* test_json.c - the streaming JSON writer: nesting and commas, every escape, UTF-8 passed
 * through or replaced byte by byte, numbers at their limits, reset. Every document is also
 * parsed back by a small strict reader written here, so the writer is checked against JSON's
 * grammar and Unicode's well-formed byte sequences, not only against expected strings. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* ---- a strict reader ---- */

/* Length of the well-formed UTF-8 sequence at s, per Unicode Table 3-7, or 0. */
static size_t wf_utf8(const unsigned char *s, size_t n)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t len, i;

	if (s[0] <= 0x7f)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4;
	else
		return 0;
	if (s[0] == 0xe0)
		lo = 0xa0;
	else if (s[0] == 0xed)
		hi = 0x9f;
	else if (s[0] == 0xf0)
		lo = 0x90;
	else if (s[0] == 0xf4)
		hi = 0x8f;
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return len;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static size_t put_utf8(unsigned char *o, uint32_t cp)
{
	if (cp < 0x80) {
		o[0] = (unsigned char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (unsigned char)(0xc0 | cp >> 6);
		o[1] = (unsigned char)(0x80 | (cp & 0x3f));
		return 2;
	}
	o[0] = (unsigned char)(0xe0 | cp >> 12);
	o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
	o[2] = (unsigned char)(0x80 | (cp & 0x3f));
	return 3;
}

/* A string at *pp: decoded into out (when not NULL) with its length in *olen. The writer never
 * emits surrogate escapes, so they are refused here. */
static bool rd_string(const char **pp, unsigned char *out, size_t *olen)
{
	const unsigned char *p = (const unsigned char *)*pp;
	size_t o = 0, len;
	unsigned char tmp[4];

	if (*p++ != '"')
		return false;
	for (;;) {
		unsigned char c = *p;

		if (c == '"')
			break;
		if (c < 0x20)
			return false; /* includes the end of the document */
		if (c == '\\') {
			const char *simple = "\"\\/bfnrt", *hit;
			static const char simple_out[] = "\"\\/\b\f\n\r\t";
			uint32_t cp = 0;
			int i, h;

			c = p[1];
			if (c == 'u') {
				for (i = 0; i < 4; i++) {
					h = hexval((char)p[2 + i]);
					if (h < 0)
						return false;
					cp = cp << 4 | (uint32_t)h;
				}
				if (cp >= 0xd800 && cp <= 0xdfff)
					return false;
				len = put_utf8(tmp, cp);
				if (out)
					memcpy(out + o, tmp, len);
				o += len;
				p += 6;
				continue;
			}
			hit = c ? strchr(simple, c) : NULL;
			if (!hit)
				return false;
			if (out)
				out[o] = (unsigned char)simple_out[hit - simple];
			o++;
			p += 2;
			continue;
		}
		len = wf_utf8(p, strlen((const char *)p));
		if (len == 0)
			return false;
		if (out)
			memcpy(out + o, p, len);
		o += len;
		p += len;
	}
	*pp = (const char *)p + 1;
	if (olen)
		*olen = o;
	return true;
}

static bool rd_value(const char **pp, int depth);

static bool rd_number(const char **pp)
{
	const char *p = *pp;

	if (*p == '-')
		p++;
	if (*p == '0')
		p++;
	else if (*p >= '1' && *p <= '9')
		while (*p >= '0' && *p <= '9')
			p++;
	else
		return false;
	*pp = p;
	return true;
}

static bool rd_container(const char **pp, int depth, char open, char close)
{
	const char *p = *pp;

	if (*p++ != open || depth > 64)
		return false;
	if (*p == close) {
		*pp = p + 1;
		return true;
	}
	for (;;) {
		if (open == '{') {
			if (!rd_string(&p, NULL, NULL) || *p++ != ':')
				return false;
		}
		if (!rd_value(&p, depth + 1))
			return false;
		if (*p == close) {
			*pp = p + 1;
			return true;
		}
		if (*p++ != ',')
			return false;
	}
}

static bool rd_value(const char **pp, int depth)
{
	switch (**pp) {
	case '{':
		return rd_container(pp, depth, '{', '}');
	case '[':
		return rd_container(pp, depth, '[', ']');
	case '"':
		return rd_string(pp, NULL, NULL);
	case 't':
		if (strncmp(*pp, "true", 4))
			return false;
		*pp += 4;
		return true;
	case 'f':
		if (strncmp(*pp, "false", 5))
			return false;
		*pp += 5;
		return true;
	default:
		return rd_number(pp);
	}
}

/* The writer's buffer holds exactly one JSON value, with no whitespace (the writer emits
 * none), and len agrees with the text. */
static void assert_one_value(const struct nj_json *j)
{
	const char *p = j->buf;

	assert_non_null(p);
	assert_int_equal(strlen(j->buf), j->len);
	if (!rd_value(&p, 0) || *p != '\0')
		fail_msg("not one JSON value at offset %td: %s", p - j->buf, j->buf);
}

#define assert_json(j, want) assert_json_at(__FILE__, __LINE__, j, want)
static void assert_json_at(const char *file, int line, const struct nj_json *j, const char *want)
{
	assert_false(j->oom);
	if (j->len != strlen(want) || strcmp(j->buf, want))
		fail_msg("%s:%d: wrote\n  %s\nexpected\n  %s", file, line, j->buf, want);
	assert_one_value(j);
}

/* Write n bytes of s as the one top-level string; it must come out exactly as want, and
 * read back as the bytes decoded (dlen of them). */
#define check_string(s, n, want, decoded, dlen)                                                    \
	check_string_at(__FILE__, __LINE__, s, n, want, decoded, dlen)
static void check_string_at(const char *file, int line, const char *s, size_t n, const char *want,
			    const char *decoded, size_t dlen)
{
	unsigned char back[256];
	struct nj_json j;
	const char *p;
	size_t blen;

	nj_json_init(&j);
	nj_json_strn(&j, NULL, s, n);
	assert_json_at(file, line, &j, want);
	p = j.buf;
	assert_true(j.len < sizeof(back));
	assert_true(rd_string(&p, back, &blen));
	if (blen != dlen || memcmp(back, decoded, dlen))
		fail_msg("%s:%d: %s reads back as %zu other bytes", file, line, j.buf, blen);
	nj_json_free(&j);
}

#define FFFD_JSON "\\ufffd"
#define FFFD_UTF8 "\xef\xbf\xbd"

/* ---- nesting and commas ---- */

static void test_empty_top_level(void **state)
{
	struct nj_json j;

	(void)state;
	nj_json_init(&j);
	assert_null(j.buf);
	assert_int_equal(j.len, 0);
	assert_int_equal(j.depth, 0);
	nj_json_obj_begin(&j, NULL);
	nj_json_obj_end(&j);
	assert_json(&j, "{}");
	assert_int_equal(j.depth, 0);
	nj_json_reset(&j);
	nj_json_arr_begin(&j, NULL);
	nj_json_arr_end(&j);
	assert_json(&j, "[]");
	nj_json_free(&j);
}

static void test_objects_in_arrays_in_objects(void **state)
{
	struct nj_json j;

	(void)state;
	nj_json_init(&j);
	nj_json_obj_begin(&j, NULL);
	nj_json_str(&j, "name", "x");
	nj_json_arr_begin(&j, "list");
	nj_json_obj_begin(&j, NULL);
	nj_json_u64(&j, "a", 1);
	nj_json_obj_end(&j);
	nj_json_obj_begin(&j, NULL);
	nj_json_obj_end(&j);
	nj_json_arr_begin(&j, NULL);
	nj_json_arr_end(&j);
	nj_json_obj_begin(&j, NULL);
	nj_json_arr_begin(&j, "in");
	nj_json_u64(&j, NULL, 1);
	nj_json_i64(&j, NULL, -2);
	nj_json_arr_end(&j);
	nj_json_obj_begin(&j, "o");
	nj_json_obj_end(&j);
	nj_json_obj_end(&j);
	nj_json_arr_end(&j);
	nj_json_obj_begin(&j, "empty");
	nj_json_obj_end(&j);
	nj_json_arr_begin(&j, "none");
	nj_json_arr_end(&j);
	nj_json_bool(&j, "t", true);
	nj_json_bool(&j, "f", false);
	nj_json_obj_end(&j);
	assert_json(&j, "{\"name\":\"x\",\"list\":[{\"a\":1},{},[],{\"in\":[1,-2],\"o\":{}}],"
			"\"empty\":{},\"none\":[],\"t\":true,\"f\":false}");
	assert_int_equal(j.depth, 0);
	nj_json_free(&j);
}

static void test_arrays_of_scalars(void **state)
{
	struct nj_json j;

	(void)state;
	nj_json_init(&j);
	nj_json_arr_begin(&j, NULL);
	nj_json_str(&j, NULL, "a");
	nj_json_strn(&j, NULL, "", 0);
	nj_json_u64(&j, NULL, 0);
	nj_json_i64(&j, NULL, 0);
	nj_json_bool(&j, NULL, true);
	nj_json_arr_begin(&j, NULL);
	nj_json_arr_begin(&j, NULL);
	nj_json_arr_end(&j);
	nj_json_arr_end(&j);
	nj_json_arr_begin(&j, NULL);
	nj_json_bool(&j, NULL, false);
	nj_json_arr_end(&j);
	nj_json_arr_end(&j);
	assert_json(&j, "[\"a\",\"\",0,0,true,[[]],[false]]");
	nj_json_free(&j);
}

/* Deeper than NJ_JSON_DEPTH levels of comma state: the bytes must still be right. */
static void test_nesting_deeper_than_tracked(void **state)
{
	char want[512];
	struct nj_json j;
	size_t o = 0;
	int i, levels = NJ_JSON_DEPTH + 4;

	(void)state;
	nj_json_init(&j);
	for (i = 0; i < levels; i++) {
		nj_json_arr_begin(&j, NULL);
		nj_json_u64(&j, NULL, (uint64_t)i);
		o += (size_t)snprintf(want + o, sizeof(want) - o, "[%d,", i);
	}
	nj_json_arr_begin(&j, NULL);
	nj_json_arr_end(&j);
	o += (size_t)snprintf(want + o, sizeof(want) - o, "[]");
	for (i = levels - 1; i >= 0; i--) {
		nj_json_bool(&j, NULL, i & 1);
		nj_json_arr_end(&j);
		o += (size_t)snprintf(want + o, sizeof(want) - o, ",%s]", i & 1 ? "true" : "false");
	}
	assert_true(o < sizeof(want));
	assert_json(&j, want);
	assert_int_equal(j.depth, 0);
	nj_json_free(&j);
}

/* ---- strings ---- */

static void test_quote_and_backslash(void **state)
{
	(void)state;
	check_string("\"", 1, "\"\\\"\"", "\"", 1);
	check_string("\\", 1, "\"\\\\\"", "\\", 1);
	check_string("a\"b\\c\\\"", 7, "\"a\\\"b\\\\c\\\\\\\"\"", "a\"b\\c\\\"", 7);
	/* '/' and DEL need no escape */
	check_string("/\x7f", 2, "\"/\x7f\"", "/\x7f", 2);
}

static void test_every_control_char(void **state)
{
	static const char want[] = "\"\\u0000\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007"
				   "\\u0008\\u0009\\u000a\\u000b\\u000c\\u000d\\u000e\\u000f"
				   "\\u0010\\u0011\\u0012\\u0013\\u0014\\u0015\\u0016\\u0017"
				   "\\u0018\\u0019\\u001a\\u001b\\u001c\\u001d\\u001e\\u001f\"";
	char in[32];
	int c;

	(void)state;
	for (c = 0; c < 32; c++)
		in[c] = (char)c;
	check_string(in, sizeof(in), want, in, sizeof(in));
	/* one at a time, between printable bytes */
	check_string("a\nb", 3, "\"a\\u000ab\"", "a\nb", 3);
	check_string("\t", 1, "\"\\u0009\"", "\t", 1);
	check_string(" \x1b[0m", 5, "\" \\u001b[0m\"", " \x1b[0m", 5);
}

static void test_keys_are_escaped(void **state)
{
	struct nj_json j;

	(void)state;
	nj_json_init(&j);
	nj_json_obj_begin(&j, NULL);
	nj_json_u64(&j, "a\"b\\c\n", 1);
	nj_json_str(&j, "\xc3\xa9\xff", "v");
	nj_json_obj_end(&j);
	assert_json(&j, "{\"a\\\"b\\\\c\\u000a\":1,\"\xc3\xa9\\ufffd\":\"v\"}");
	nj_json_free(&j);
}

static void test_valid_utf8_passes_through(void **state)
{
	static const struct {
		const char *s;
	} cases[] = {
		{"\xc2\x80"},		      /* U+0080, the smallest 2-byte form */
		{"\xc3\xa9t\xc3\xa9"},	      /* "été" */
		{"\xdf\xbf"},		      /* U+07FF */
		{"\xe0\xa0\x80"},	      /* U+0800 */
		{"\xe2\x82\xac"},	      /* U+20AC euro sign */
		{"\xed\x9f\xbf"},	      /* U+D7FF, just below the surrogates */
		{"\xee\x80\x80"},	      /* U+E000, just above them */
		{"\xef\xbf\xbd"},	      /* U+FFFD itself */
		{"\xef\xbf\xbf"},	      /* U+FFFF */
		{"\xf0\x90\x80\x80"},	      /* U+10000 */
		{"\xf0\x9f\x90\xa6"},	      /* U+1F426 bird */
		{"\xf4\x8f\xbf\xbf"},	      /* U+10FFFF, the last code point */
		{"\xe6\x97\xa5\xe6\x9c\xac"}, /* "日本" */
	};
	char want[64];
	size_t i, n;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		n = strlen(cases[i].s);
		snprintf(want, sizeof(want), "\"%s\"", cases[i].s);
		check_string(cases[i].s, n, want, cases[i].s, n);
	}
}

/* Every byte that does not start a well-formed sequence becomes one U+FFFD; the bytes after
 * it are looked at again on their own. */
static void test_invalid_utf8_replaced(void **state)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
		/* lone continuation bytes */
		{"\x80", FFFD_JSON},
		{"a\xbf"
		 "b",
		 "a" FFFD_JSON "b"},
		/* overlong forms */
		{"\xc0\x80", FFFD_JSON FFFD_JSON},
		{"\xc1\xbf", FFFD_JSON FFFD_JSON},
		{"\xe0\x80\xaf", FFFD_JSON FFFD_JSON FFFD_JSON},
		{"\xe0\x9f\xbf", FFFD_JSON FFFD_JSON FFFD_JSON},
		{"\xf0\x80\x80\xaf", FFFD_JSON FFFD_JSON FFFD_JSON FFFD_JSON},
		{"\xf0\x8f\xbf\xbf", FFFD_JSON FFFD_JSON FFFD_JSON FFFD_JSON},
		/* UTF-16 surrogates */
		{"\xed\xa0\x80", FFFD_JSON FFFD_JSON FFFD_JSON},
		{"\xed\xbf\xbf", FFFD_JSON FFFD_JSON FFFD_JSON},
		{"\xed\xa0\xbd\xed\xb2\xa9",
		 FFFD_JSON FFFD_JSON FFFD_JSON FFFD_JSON FFFD_JSON FFFD_JSON},
		/* sequences cut by the end of the string */
		{"\xc3", FFFD_JSON},
		{"x\xe2\x82", "x" FFFD_JSON FFFD_JSON},
		{"\xf0\x9f\x90", FFFD_JSON FFFD_JSON FFFD_JSON},
		/* cut by the next character */
		{"\xe2\x82"
		 "A",
		 FFFD_JSON FFFD_JSON "A"},
		{"\xc3\"", FFFD_JSON "\\\""},
		{"\xe2\n", FFFD_JSON "\\u000a"},
		{"\xf0\x9f\xc3\xa9", FFFD_JSON FFFD_JSON "\xc3\xa9"},
		/* past U+10FFFF */
		{"\xf4\x90\x80\x80", FFFD_JSON FFFD_JSON FFFD_JSON FFFD_JSON},
		{"\xf5\x80\x80\x80", FFFD_JSON FFFD_JSON FFFD_JSON FFFD_JSON},
		{"\xf7\xbf\xbf\xbf", FFFD_JSON FFFD_JSON FFFD_JSON FFFD_JSON},
		/* bytes that never appear in UTF-8 */
		{"\xf8\x88\x80\x80\x80", FFFD_JSON FFFD_JSON FFFD_JSON FFFD_JSON FFFD_JSON},
		{"\xfe\xff", FFFD_JSON FFFD_JSON},
		/* a bad byte between good ones */
		{"\xc3\xa9\xff\xc3\xa9", "\xc3\xa9" FFFD_JSON "\xc3\xa9"},
	};
	char want[128], decoded[128];
	size_t i, o, d;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		snprintf(want, sizeof(want), "\"%s\"", cases[i].want);
		/* what a reader gets: every \ufffd as its three bytes, other escapes undone */
		for (o = 0, d = 0; cases[i].want[o];) {
			if (!strncmp(cases[i].want + o, FFFD_JSON, 6)) {
				memcpy(decoded + d, FFFD_UTF8, 3);
				d += 3;
				o += 6;
			} else if (!strncmp(cases[i].want + o, "\\u000a", 6)) {
				decoded[d++] = '\n';
				o += 6;
			} else if (!strncmp(cases[i].want + o, "\\\"", 2)) {
				decoded[d++] = '"';
				o += 2;
			} else {
				decoded[d++] = cases[i].want[o++];
			}
		}
		check_string(cases[i].in, strlen(cases[i].in), want, decoded, d);
	}
}

static void test_strn_embedded_nul(void **state)
{
	struct nj_json j;

	(void)state;
	check_string("a\0b", 3, "\"a\\u0000b\"", "a\0b", 3);
	check_string("\0\0", 2, "\"\\u0000\\u0000\"", "\0\0", 2);
	/* n, not the NUL, ends the string: shorter, and zero */
	check_string("abcdef", 3, "\"abc\"", "abc", 3);
	check_string("abc", 0, "\"\"", "", 0);
	/* a multi-byte character cut by n is a truncated sequence */
	check_string("\xc3\xa9", 1, "\"" FFFD_JSON "\"", FFFD_UTF8, 3);

	nj_json_init(&j);
	nj_json_obj_begin(&j, NULL);
	nj_json_strn(&j, "argv", "ls\0-l\0/tmp\0", 11);
	nj_json_obj_end(&j);
	assert_json(&j, "{\"argv\":\"ls\\u0000-l\\u0000/tmp\\u0000\"}");
	nj_json_free(&j);
}

/* Random byte strings against a reference built on Table 3-7: each byte that does not start a
 * well-formed sequence reads back as U+FFFD, every other byte as itself. */
static void test_random_bytes_read_back(void **state)
{
	static const unsigned char edge[] = {
		0x00, 0x01, 0x1f, '"',	'\\', 'a',  0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf,
		0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xe1, 0xed, 0xee, 0xef, 0xf0, 0xf4, 0xf5, 0xff,
	};
	unsigned char in[48], ref[48 * 3], back[48 * 3];
	uint64_t x = 0x9e3779b97f4a7c15ull;
	size_t i, n, k, r, blen;
	struct nj_json j;
	const char *p;
	int iter;

	(void)state;
	nj_json_init(&j);
	for (iter = 0; iter < 20000; iter++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		n = x % sizeof(in);
		for (i = 0; i < n; i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			in[i] = (x & 0x100) ? edge[(x >> 9) % sizeof(edge)]
					    : (unsigned char)(x >> 20);
		}
		for (i = 0, r = 0; i < n; i += k) {
			k = wf_utf8(in + i, n - i);
			if (k) {
				memcpy(ref + r, in + i, k);
				r += k;
			} else {
				memcpy(ref + r, FFFD_UTF8, 3);
				r += 3;
				k = 1;
			}
		}
		nj_json_reset(&j);
		nj_json_strn(&j, NULL, (const char *)in, n);
		assert_one_value(&j);
		p = j.buf;
		assert_true(rd_string(&p, back, &blen));
		if (blen != r || memcmp(back, ref, r))
			fail_msg("iteration %d: %s does not read back as the reference", iter,
				 j.buf);
	}
	nj_json_free(&j);
}

/* ---- numbers ---- */

static void test_number_limits(void **state)
{
	struct nj_json j;

	(void)state;
	nj_json_init(&j);
	nj_json_obj_begin(&j, NULL);
	nj_json_u64(&j, "umax", UINT64_MAX);
	nj_json_u64(&j, "u0", 0);
	nj_json_i64(&j, "imin", INT64_MIN);
	nj_json_i64(&j, "imax", INT64_MAX);
	nj_json_i64(&j, "m1", -1);
	nj_json_u64(&j, "u32", UINT32_MAX);
	nj_json_obj_end(&j);
	assert_json(&j, "{\"umax\":18446744073709551615,\"u0\":0,\"imin\":-9223372036854775808,"
			"\"imax\":9223372036854775807,\"m1\":-1,\"u32\":4294967295}");
	nj_json_free(&j);
}

/* ---- buffer ---- */

static void test_reset_reuses_buffer(void **state)
{
	char big[3000];
	struct nj_json j;
	char *buf;
	size_t cap;

	(void)state;
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	nj_json_init(&j);
	/* a first record that grows the buffer and is left open */
	nj_json_obj_begin(&j, NULL);
	nj_json_str(&j, "big", big);
	nj_json_arr_begin(&j, "open");
	nj_json_u64(&j, NULL, 1);
	assert_int_equal(j.len, strlen("{\"big\":\"\",\"open\":[1") + sizeof(big) - 1);
	assert_true(j.cap > j.len);
	assert_int_equal(j.depth, 2);
	buf = j.buf;
	cap = j.cap;

	nj_json_reset(&j);
	assert_int_equal(j.len, 0);
	assert_int_equal(j.depth, 0);
	assert_ptr_equal(j.buf, buf);
	assert_int_equal(j.cap, cap);
	/* the next record starts clean: no comma carried over from the last one */
	nj_json_obj_begin(&j, NULL);
	nj_json_u64(&j, "a", 1);
	nj_json_obj_end(&j);
	assert_json(&j, "{\"a\":1}");
	assert_ptr_equal(j.buf, buf);
	assert_int_equal(j.cap, cap);

	/* without a reset, a second top-level value is a sibling of the first */
	nj_json_u64(&j, NULL, 2);
	assert_string_equal(j.buf, "{\"a\":1},2");
	nj_json_reset(&j);
	nj_json_u64(&j, NULL, 3);
	assert_json(&j, "3");
	nj_json_free(&j);
}

static void test_growth_keeps_content(void **state)
{
	char s[5000], want[5000 * 6 + 3];
	struct nj_json j;
	size_t i, o = 0;

	(void)state;
	/* every character escaped: six bytes each, well past the first allocation */
	memset(s, '\x01', sizeof(s));
	want[o++] = '"';
	for (i = 0; i < sizeof(s); i++) {
		memcpy(want + o, "\\u0001", 6);
		o += 6;
	}
	want[o++] = '"';
	want[o] = '\0';
	nj_json_init(&j);
	nj_json_strn(&j, NULL, s, sizeof(s));
	assert_json(&j, want);
	assert_true(j.cap >= j.len + 1);
	nj_json_free(&j);
}

static void test_free_returns_to_init(void **state)
{
	struct nj_json j;

	(void)state;
	nj_json_init(&j);
	nj_json_arr_begin(&j, NULL);
	nj_json_u64(&j, NULL, 7);
	nj_json_free(&j);
	assert_null(j.buf);
	assert_int_equal(j.len, 0);
	assert_int_equal(j.cap, 0);
	assert_int_equal(j.depth, 0);
	assert_false(j.oom);
	/* usable again, and freeing twice is harmless */
	nj_json_arr_begin(&j, NULL);
	nj_json_arr_end(&j);
	assert_json(&j, "[]");
	nj_json_free(&j);
	nj_json_free(&j);
	assert_null(j.buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty_top_level),
		cmocka_unit_test(test_objects_in_arrays_in_objects),
		cmocka_unit_test(test_arrays_of_scalars),
		cmocka_unit_test(test_nesting_deeper_than_tracked),
		cmocka_unit_test(test_quote_and_backslash),
		cmocka_unit_test(test_every_control_char),
		cmocka_unit_test(test_keys_are_escaped),
		cmocka_unit_test(test_valid_utf8_passes_through),
		cmocka_unit_test(test_invalid_utf8_replaced),
		cmocka_unit_test(test_strn_embedded_nul),
		cmocka_unit_test(test_random_bytes_read_back),
		cmocka_unit_test(test_number_limits),
		cmocka_unit_test(test_reset_reuses_buffer),
		cmocka_unit_test(test_growth_keeps_content),
		cmocka_unit_test(test_free_returns_to_init),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
