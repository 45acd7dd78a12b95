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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_record_conventions),
		cmocka_unit_test(test_health_counters_print_zeroes),
		cmocka_unit_test(test_text_line),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
