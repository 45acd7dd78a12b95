/* pbjson.c - descriptor-driven JSON printer for protobuf-c messages. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nightjar.pb-c.h"
#include "pbjson.h"

#define UTC_SUFFIX     "_utc_ns"
#define UTC_SUFFIX_LEN (sizeof(UTC_SUFFIX) - 1)

void nj_format_utc(char out[40], uint64_t utc_ns)
{
	/* Events come in bursts, and an event's time and its process's start alternate between
	 * two seconds: keep the date part of the last two, so strftime runs about once a second
	 * rather than twice per event. */
	static struct {
		time_t sec;
		size_t len;
		char text[32];
	} cache[2] = {{.sec = -1}, {.sec = -1}};
	static unsigned int next;
	time_t sec = (time_t)(utc_ns / 1000000000ULL);
	uint32_t frac = (uint32_t)(utc_ns % 1000000000ULL);
	unsigned int c;
	struct tm tm;
	int i;

	c = cache[0].sec == sec ? 0 : cache[1].sec == sec ? 1 : 2;
	if (c == 2) {
		c = next;
		next ^= 1;
		gmtime_r(&sec, &tm);
		cache[c].len =
			strftime(cache[c].text, sizeof(cache[c].text), "%Y-%m-%dT%H:%M:%S.", &tm);
		cache[c].sec = sec;
	}
	memcpy(out, cache[c].text, cache[c].len);
	for (i = 8; i >= 0; i--, frac /= 10)
		out[cache[c].len + (size_t)i] = (char)('0' + frac % 10);
	out[cache[c].len + 9] = 'Z';
	out[cache[c].len + 10] = '\0';
}

static const void *field_ptr(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f)
{
	return (const char *)m + f->offset;
}

/* Is an optional or oneof field set? Repeated fields are handled by count. */
static int present(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f)
{
	const char *q = (const char *)m + f->quantifier_offset;

	if (f->label == PROTOBUF_C_LABEL_REQUIRED)
		return 1;
	if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
		return *(const uint32_t *)q == f->id;
	switch (f->type) {
	case PROTOBUF_C_TYPE_MESSAGE:
	case PROTOBUF_C_TYPE_STRING:
		return *(const void *const *)field_ptr(m, f) != NULL;
	default:
		return *(const protobuf_c_boolean *)q;
	}
}

/* The JSON key of a field, and whether it is a UTC time. */
static const char *json_key(const ProtobufCFieldDescriptor *f, char buf[64], int *is_time, int top)
{
	size_t n;

	*is_time = 0;
	if (f->type != PROTOBUF_C_TYPE_UINT64 && f->type != PROTOBUF_C_TYPE_FIXED64)
		return f->name;
	n = strlen(f->name);
	if (n > UTC_SUFFIX_LEN && !strcmp(f->name + n - UTC_SUFFIX_LEN, UTC_SUFFIX) &&
	    n - UTC_SUFFIX_LEN < 64) {
		*is_time = 1;
		if (top && !strcmp(f->name, "timestamp" UTC_SUFFIX))
			return "@timestamp";
		memcpy(buf, f->name, n - UTC_SUFFIX_LEN);
		buf[n - UTC_SUFFIX_LEN] = '\0';
		return buf;
	}
	return f->name;
}

static void value(struct nj_json *j, const char *key, const ProtobufCFieldDescriptor *f,
		  const void *p, int is_time)
{
	char when[40];

	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
		nj_json_i64(j, key, *(const int32_t *)p);
		break;
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		nj_json_u64(j, key, *(const uint32_t *)p);
		break;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		nj_json_i64(j, key, *(const int64_t *)p);
		break;
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		if (is_time) {
			nj_format_utc(when, *(const uint64_t *)p);
			nj_json_str(j, key, when);
		} else {
			nj_json_u64(j, key, *(const uint64_t *)p);
		}
		break;
	case PROTOBUF_C_TYPE_BOOL:
		nj_json_bool(j, key, *(const protobuf_c_boolean *)p);
		break;
	case PROTOBUF_C_TYPE_FLOAT:
	case PROTOBUF_C_TYPE_DOUBLE:
		/* the schema has none; printing them would need a float formatter */
		nj_json_str(j, key, "unsupported");
		break;
	case PROTOBUF_C_TYPE_ENUM: {
		const ProtobufCEnumValue *ev =
			protobuf_c_enum_descriptor_get_value(f->descriptor, *(const int *)p);

		if (ev)
			nj_json_str(j, key, ev->name);
		else
			nj_json_i64(j, key, *(const int *)p);
		break;
	}
	case PROTOBUF_C_TYPE_STRING:
		nj_json_str(j, key, *(const char *const *)p);
		break;
	case PROTOBUF_C_TYPE_BYTES: {
		const ProtobufCBinaryData *b = p;

		nj_json_strn(j, key, (const char *)b->data, b->len);
		break;
	}
	case PROTOBUF_C_TYPE_MESSAGE:
		nj_pbjson_message(j, key, *(const ProtobufCMessage *const *)p);
		break;
	}
}

/* Element size of a repeated field's array. */
static size_t elem_size(const ProtobufCFieldDescriptor *f)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
	case PROTOBUF_C_TYPE_FLOAT:
	case PROTOBUF_C_TYPE_ENUM:
		return 4;
	case PROTOBUF_C_TYPE_BOOL:
		return sizeof(protobuf_c_boolean);
	case PROTOBUF_C_TYPE_BYTES:
		return sizeof(ProtobufCBinaryData);
	case PROTOBUF_C_TYPE_STRING:
	case PROTOBUF_C_TYPE_MESSAGE:
		return sizeof(void *);
	default:
		return 8;
	}
}

/* protobuf-c keeps no oneof names, so the rule is by kind: a message in a oneof is a record's
 * body and prints inside its parent. */
static int is_body(const ProtobufCFieldDescriptor *f)
{
	return (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) && f->type == PROTOBUF_C_TYPE_MESSAGE;
}

static void members(struct nj_json *j, const ProtobufCMessage *m, int top)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;
	unsigned int i;
	size_t k;

	for (i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		const char *key;
		char buf[64];
		int is_time;

		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t n = *(const size_t *)((const char *)m + f->quantifier_offset);
			const char *arr = *(const char *const *)field_ptr(m, f);

			if (n == 0)
				continue;
			key = json_key(f, buf, &is_time, top);
			nj_json_arr_begin(j, key);
			for (k = 0; k < n; k++)
				value(j, NULL, f, arr + k * elem_size(f), is_time);
			nj_json_arr_end(j);
			continue;
		}
		/* most fields of most records are absent: decide that before anything else */
		if (!present(m, f))
			continue;
		if (is_body(f)) {
			members(j, *(const ProtobufCMessage *const *)field_ptr(m, f), 0);
			continue;
		}
		key = json_key(f, buf, &is_time, top);
		value(j, key, f, field_ptr(m, f), is_time);
	}
}

void nj_pbjson_message(struct nj_json *j, const char *key, const ProtobufCMessage *msg)
{
	nj_json_obj_begin(j, key);
	members(j, msg, key == NULL);
	nj_json_obj_end(j);
}

static int varint(const uint8_t *p, size_t len, size_t *off, uint64_t *v)
{
	unsigned int shift;

	*v = 0;
	for (shift = 0; shift < 64 && *off < len; shift += 7) {
		uint8_t b = p[(*off)++];

		*v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return 1;
	}
	return 0;
}

/* Walk the wire format with the descriptors: only fields known to hold messages are entered,
 * so a string that happens to look like a message costs nothing. */
static int nesting_ok(const ProtobufCMessageDescriptor *d, const uint8_t *p, size_t len, int depth)
{
	const ProtobufCFieldDescriptor *f;
	uint64_t key, l;
	size_t off = 0;

	if (depth > NJ_PB_MAX_DEPTH)
		return 0;
	while (off < len) {
		if (!varint(p, len, &off, &key))
			return 0;
		switch (key & 7) {
		case 0:
			if (!varint(p, len, &off, &l))
				return 0;
			break;
		case 1:
			off += 8;
			break;
		case 5:
			off += 4;
			break;
		case 2:
			if (!varint(p, len, &off, &l) || l > len - off)
				return 0;
			f = protobuf_c_message_descriptor_get_field(d, (unsigned)(key >> 3));
			if (f && f->type == PROTOBUF_C_TYPE_MESSAGE &&
			    !nesting_ok(f->descriptor, p + off, (size_t)l, depth + 1))
				return 0;
			off += (size_t)l;
			break;
		default:
			return 0; /* groups: not in this schema, and deprecated */
		}
		if (off > len)
			return 0;
	}
	return 1;
}

Nightjar__Record *nj_record_unpack(const uint8_t *buf, size_t len)
{
	if (!nesting_ok(&nightjar__record__descriptor, buf, len, 0))
		return NULL;
	return nightjar__record__unpack(NULL, len, buf);
}

static void *arena_alloc(void *data, size_t size)
{
	struct nj_arena *a = data;
	size_t at = (a->len + 15) & ~(size_t)15;
	void **big, *p;

	if (at + size <= a->cap) {
		a->len = at + size;
		return a->buf + at;
	}
	/* larger than what is left: a block of its own, freed at the next reset */
	big = realloc(a->big, (a->nbig + 1) * sizeof(*big));
	if (!big)
		return NULL;
	a->big = big;
	p = malloc(size);
	if (p)
		a->big[a->nbig++] = p;
	return p;
}

static void arena_free(void *data, void *p)
{
	(void)data;
	(void)p; /* everything goes at nj_arena_reset() */
}

void nj_arena_init(struct nj_arena *a, size_t cap)
{
	memset(a, 0, sizeof(*a));
	a->buf = malloc(cap);
	a->cap = a->buf ? cap : 0;
	a->alloc = (ProtobufCAllocator){arena_alloc, arena_free, a};
}

void nj_arena_reset(struct nj_arena *a)
{
	size_t i;

	for (i = 0; i < a->nbig; i++)
		free(a->big[i]);
	a->nbig = 0;
	a->len = 0;
}

void nj_arena_free(struct nj_arena *a)
{
	nj_arena_reset(a);
	free(a->big);
	free(a->buf);
	memset(a, 0, sizeof(*a));
}

Nightjar__Record *nj_record_unpack_arena(struct nj_arena *a, const uint8_t *buf, size_t len)
{
	nj_arena_reset(a);
	if (!nesting_ok(&nightjar__record__descriptor, buf, len, 0))
		return NULL;
	return nightjar__record__unpack(&a->alloc, len, buf);
}
