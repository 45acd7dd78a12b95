/* hosts.c - the table of agent hosts: identity checks, per-host health (last seen, rate,
 * gaps), and the cheap look at a record that tells an alert from the rest. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "collector.h"
#include "log.h"

/* a power of two; chains stay short up to a few hundred thousand hosts */
#define HOST_BUCKETS 16384

static struct njc_host *buckets[HOST_BUCKETS];
static size_t nhosts;

uint64_t njc_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t njc_now_ms(void)
{
	return njc_now_ns() / 1000000;
}

uint64_t njc_utc_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

bool njc_host_id_valid(const char *id)
{
	size_t i;

	if (!id[0] || id[0] == '.')
		return false;
	for (i = 0; id[i]; i++) {
		char c = id[i];

		if (i >= NJC_HOST_ID_MAX)
			return false;
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

static unsigned int hash(const char *s)
{
	unsigned int h = 2166136261u; /* FNV-1a */

	while (*s)
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return h & (HOST_BUCKETS - 1);
}

struct njc_host *njc_host_get(const char *id, bool create)
{
	unsigned int b = hash(id);
	struct njc_host *h;

	for (h = buckets[b]; h; h = h->next_hash)
		if (!strcmp(h->id, id))
			return h;
	if (!create || !njc_host_id_valid(id))
		return NULL;
	h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	strcpy(h->id, id);
	h->next_hash = buckets[b];
	buckets[b] = h;
	nhosts++;
	return h;
}

size_t njc_host_count(void)
{
	return nhosts;
}

void njc_host_foreach(void (*cb)(struct njc_host *h, void *arg), void *arg)
{
	size_t b;

	for (b = 0; b < HOST_BUCKETS; b++)
		for (struct njc_host *h = buckets[b]; h; h = h->next_hash)
			cb(h, arg);
}

struct tick {
	uint64_t now_ms, silent_after_ms, dt_ms;
};

static void tick_host(struct njc_host *h, void *arg)
{
	struct tick *t = arg;
	double inst;

	if (t->dt_ms) {
		inst = (double)(h->records - h->rate_mark) * 1000.0 / (double)t->dt_ms;
		/* smoothed over about five seconds */
		h->rate = h->rate * 0.8 + inst * 0.2;
		if (h->rate < 0.01)
			h->rate = 0;
	}
	h->rate_mark = h->records;
	if (!h->last_seen_mono_ms)
		return;
	if (!h->silent && t->now_ms - h->last_seen_mono_ms > t->silent_after_ms) {
		h->silent = true;
		nj_warn("host %s: silent: nothing received for %" PRIu64
			" s (last stored sequence %" PRIu64 ")",
			h->id, (t->now_ms - h->last_seen_mono_ms) / 1000, h->durable);
	} else if (h->silent && t->now_ms - h->last_seen_mono_ms <= t->silent_after_ms) {
		h->silent = false;
		nj_info("host %s: reporting again", h->id);
	}
}

void njc_hosts_tick(uint64_t now_ms, uint64_t silent_after_ms)
{
	static uint64_t last;
	struct tick t = {now_ms, silent_after_ms, last ? now_ms - last : 0};

	last = now_ms;
	njc_host_foreach(tick_host, &t);
}

/* protobuf varint at *p (below end): advance *p, false when cut or longer than 10 bytes */
static bool varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	unsigned int shift = 0;

	*v = 0;
	while (*p < end && shift < 70) {
		uint8_t b = *(*p)++;

		*v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return true;
		shift += 7;
	}
	return false;
}

bool njc_record_is_alert(const uint8_t *p, size_t len)
{
	const uint8_t *end = p + len;
	uint64_t key, v;

	while (p < end) {
		if (!varint(&p, end, &key))
			return false;
		if (key >> 3 == 18)
			return (key & 7) == 2;
		switch (key & 7) {
		case 0:
			if (!varint(&p, end, &v))
				return false;
			break;
		case 1:
			if (end - p < 8)
				return false;
			p += 8;
			break;
		case 2:
			if (!varint(&p, end, &v) || v > (uint64_t)(end - p))
				return false;
			p += v;
			break;
		case 5:
			if (end - p < 4)
				return false;
			p += 4;
			break;
		default:
			return false;
		}
	}
	return false;
}
