/* test_pbjson.c - the descriptor-driven JSON printer and the text line, on built records. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pbjson.h"
#include "text.h"

static char *to_json(const ProtobufCMessage *m)
{
	struct nj_json j;
	char *s;

	nj_json_init(&j);
	nj_pbjson_message(&j, NULL, m);
	assert_false(j.oom);
	s = strdup(j.buf);
	nj_json_free(&j);
	return s;
}

/* A record exercising every convention: @timestamp, *_utc_ns, bytes, repeated bytes, a oneof
 * body printed inline, explicit zero, absent fields left out, nested messages. */
static void test_record_conventions(void **state)
{
	Nightjar__Record r = NIGHTJAR__RECORD__INIT;
	Nightjar__Event e = NIGHTJAR__EVENT__INIT;
	Nightjar__ProcessEvent pe = NIGHTJAR__PROCESS_EVENT__INIT;
	Nightjar__Process p = NIGHTJAR__PROCESS__INIT, parent = NIGHTJAR__PROCESS__INIT;
	ProtobufCBinaryData args[2] = {{3, (uint8_t *)"cat"}, {3, (uint8_t *)"a\xffz"}};
	char *s;

	(void)state;
	r.has_timestamp_utc_ns = 1;
	r.timestamp_utc_ns = 1764348024123456789ULL; /* 2025-11-28T16:40:24.123456789Z */
	e.action = "exit";
	e.has_sequence = 1;
	e.sequence = 0;
	r.event = &e;
	p.has_pid = 1;
	p.pid = 42;
	p.has_executable = 1;
	p.executable = (ProtobufCBinaryData){8, (uint8_t *)"/bin/cat"};
	p.n_args = 2;
	p.args = args;
	p.has_start_utc_ns = 1;
	p.start_utc_ns = 1764348024000000000ULL;
	p.has_exit_code = 1;
	p.exit_code = 0;
	parent.has_pid = 1;
	parent.pid = 1;
	p.parent = &parent;
	pe.process = &p;
	r.body_case = NIGHTJAR__RECORD__BODY_EXIT;
	r.exit = &pe;

	s = to_json(&r.base);
	assert_string_equal(
		s, "{\"@timestamp\":\"2025-11-28T16:40:24.123456789Z\","
		   "\"event\":{\"action\":\"exit\",\"sequence\":0},"
		   "\"process\":{\"pid\":42,\"executable\":\"/bin/cat\","
		   "\"args\":[\"cat\",\"a\\ufffdz\"],\"start\":\"2025-11-28T16:40:24.000000000Z\","
		   "\"parent\":{\"pid\":1},\"exit_code\":0}}");
	free(s);
}

static void test_health_counters_print_zeroes(void **state)
{
	Nightjar__Record r = NIGHTJAR__RECORD__INIT;
	Nightjar__Health h = NIGHTJAR__HEALTH__INIT;
	Nightjar__Nightjar nj = NIGHTJAR__NIGHTJAR__INIT;
	Nightjar__HealthCounters c = NIGHTJAR__HEALTH_COUNTERS__INIT;
	char *s;

	(void)state;
	c.has_ringbuf_drops = 1;
	c.ringbuf_drops = 0;
	c.has_records = 1;
	c.records = UINT64_MAX;
	nj.health = &c;
	h.nightjar = &nj;
	r.body_case = NIGHTJAR__RECORD__BODY_HEALTH;
	r.health = &h;
	s = to_json(&r.base);
	assert_string_equal(s, "{\"nightjar\":{\"health\":{\"records\":18446744073709551615,"
			       "\"ringbuf_drops\":0}}}");
	free(s);
}

static void test_text_line(void **state)
{
	Nightjar__Record r = NIGHTJAR__RECORD__INIT;
	Nightjar__Event e = NIGHTJAR__EVENT__INIT;
	Nightjar__NetworkEvent ne = NIGHTJAR__NETWORK_EVENT__INIT;
	Nightjar__Process p = NIGHTJAR__PROCESS__INIT, parent = NIGHTJAR__PROCESS__INIT;
	Nightjar__User u = NIGHTJAR__USER__INIT;
	Nightjar__Endpoint src = NIGHTJAR__ENDPOINT__INIT, dst = NIGHTJAR__ENDPOINT__INIT;
	Nightjar__Network net = NIGHTJAR__NETWORK__INIT;
	char buf[512];
	FILE *f;

	(void)state;
	r.timestamp_utc_ns = 1764348024123456789ULL;
	e.action = "connect";
	r.event = &e;
	p.pid = 7;
	parent.pid = 1;
	p.parent = &parent;
	p.name = (ProtobufCBinaryData){4, (uint8_t *)"curl"};
	u.id = "1000";
	src.ip = "127.0.0.1";
	src.has_port = 1;
	src.port = 40000;
	dst.ip = "::1";
	dst.has_port = 1;
	dst.port = 443;
	net.transport = "tcp";
	ne.process = &p;
	ne.user = &u;
	ne.source = &src;
	ne.destination = &dst;
	ne.network = &net;
	r.body_case = NIGHTJAR__RECORD__BODY_CONNECT;
	r.connect = &ne;
	f = fmemopen(buf, sizeof(buf), "w");
	assert_non_null(f);
	nj_text_record(f, &r);
	fclose(f);
	assert_string_equal(buf, "2025-11-28T16:40:24.123Z connect  pid=7 ppid=1 uid=1000 curl tcp "
				 "127.0.0.1:40000 -> [::1]:443\n");
}

/* Records missing optional parts (as a damaged or foreign file has them) print without a
 * crash: each payload is a whole record the fuzzer found or that is its shape. */
static void test_text_missing_parts(void **state)
{
	static const struct {
		const uint8_t *bytes;
		size_t len;
	} cases[] = {
		{(const uint8_t *)"\x9a\x01\x00", 3},	      /* health, no nightjar */
		{(const uint8_t *)"\x9a\x01\x02\x0a\x00", 5}, /* health, empty nightjar */
		{(const uint8_t *)"\x52\x00", 2},	      /* exec, no process */
		{(const uint8_t *)"\x62\x00", 2},	      /* exit, no process */
		{(const uint8_t *)"\x8a\x01\x00", 3},	      /* open, no file */
		{(const uint8_t *)"\x6a\x00", 2},	      /* connect, nothing */
	};
	char buf[512];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		Nightjar__Record *r = nj_record_unpack(cases[i].bytes, cases[i].len);
		FILE *f = fmemopen(buf, sizeof(buf), "w");

		assert_non_null(r);
		assert_non_null(f);
		nj_text_record(f, r);
		fclose(f);
		assert_non_null(strchr(buf, '\n'));
		nightjar__record__free_unpacked(r, NULL);
	}
}

/* A parent of a parent ... 10,000 deep would overflow the stack inside protobuf-c. */
static void test_deep_nesting_refused(void **state)
{
	size_t cap = 1 << 20, len = 0, i;
	uint8_t *a = malloc(cap), *b = malloc(cap), *t;
	Nightjar__Record *r;

	(void)state;
	assert_non_null(a);
	assert_non_null(b);
	/* innermost Process{pid=1}, then Process{pid=1, parent=<previous>} around it */
	a[len++] = 0x08;
	a[len++] = 0x01;
	for (i = 0; i < 10000; i++) {
		size_t n = 0, l = len;

		b[n++] = 0x08;
		b[n++] = 0x01;
		b[n++] = (10 << 3) | 2;
		do {
			b[n++] = (uint8_t)((l & 0x7f) | (l > 0x7f ? 0x80 : 0));
			l >>= 7;
		} while (l);
		assert_true(n + len <= cap);
		memcpy(b + n, a, len);
		len += n;
		t = a;
		a = b;
		b = t;
	}
	assert_null(nj_record_unpack(a, len));
	/* a legitimate record nests a handful deep and passes */
	r = nj_record_unpack((const uint8_t *)"\x62\x04\x0a\x02\x08\x07", 6);
	assert_non_null(r);
	assert_int_equal(r->exit->process->pid, 7);
	nightjar__record__free_unpacked(r, NULL);
	free(a);
	free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_record_conventions),
		cmocka_unit_test(test_health_counters_print_zeroes),
		cmocka_unit_test(test_text_line),
		cmocka_unit_test(test_text_missing_parts),
		cmocka_unit_test(test_deep_nesting_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
