#!/usr/bin/env bats
# nightjar-collector, as real processes on loopback: mutual TLS and the host-id binding, every
# record stored exactly once across a collector killed mid-stream, bad input costing only its
# own connection, gaps and silence in the status, and the JetStream sink against a real
# nats-server.

load helpers
load collector_helpers

bats_require_minimum_version 1.5.0

setup_file() {
	export PKI="$BATS_FILE_TMPDIR/pki"
	make_pki "$PKI"
}

setup() {
	unset PORT
}

teardown() {
	stop_collector || true
	if [ -n "${NATS_PID:-}" ]; then
		kill "$NATS_PID" 2>/dev/null || true
		wait "$NATS_PID" 2>/dev/null || true
	fi
}

@test "collector: stores every record, readable with nightjarctl read; alerts as JSON lines" {
	start_collector "$BATS_TEST_TMPDIR"
	run client send h1 $H1 --first 1 --count 1000 --batch 100 --alert-every 250
	[ "$status" -eq 0 ]
	# every Ack in order, the last one saying all is stored
	[ "$(grep -c '"error"' <<<"$output")" -eq 0 ]
	[ "$(tail -n 1 <<<"$output")" = '{"first": 901, "count": 100, "stored_through": 1000}' ]
	diff <(stored_sequences $H1) <(seq 1 1000)
	# the records are the agent's, byte for byte readable
	run "$NJ_CTL" read "$CDIR/data/hosts/$H1" --json
	[ "$(head -n 1 <<<"$output" | jq -r '.host.id')" = "$H1" ]
	[ "$(head -n 1 <<<"$output" | jq -r '.process.executable')" = /usr/bin/true ]
	# 250, 500, 750, 1000
	[ "$(wc -l <"$CDIR/data/alerts.jsonl")" -eq 4 ]
	[ "$(jq -r '.event.sequence' "$CDIR/data/alerts.jsonl" | tr '\n' ' ')" = "250 500 750 1000 " ]
	[ "$(jq -r '.rule.id' "$CDIR/data/alerts.jsonl" | sort -u)" = test.rule ]
	# and the status knows the host
	[ "$(host_field $H1 .stored_through)" -eq 1000 ]
	[ "$(host_field $H1 .records)" -eq 1000 ]
	[ "$(host_field $H1 .gaps)" -eq 0 ]
}

@test "collector: a host id in a SAN DNS name is accepted; resent records are acknowledged, not stored again" {
	start_collector "$BATS_TEST_TMPDIR"
	run client send h2 $H2 --first 1 --count 300 --batch 50
	[ "$status" -eq 0 ]
	# the same again, and an overlap: acknowledged with what is stored
	run client send h2 $H2 --first 1 --count 400 --batch 50
	[ "$status" -eq 0 ]
	[ "$(head -n 1 <<<"$output")" = '{"first": 1, "count": 50, "stored_through": 300}' ]
	[ "$(tail -n 1 <<<"$output")" = '{"first": 351, "count": 50, "stored_through": 400}' ]
	diff <(stored_sequences $H2) <(seq 1 400)
	[ "$(host_field $H2 .duplicates)" -eq 300 ]
	# an empty batch asks where the collector is
	run client send h2 $H2 --first 401 --count 0
	[ "$status" -eq 0 ]
	[ "$output" = '{"first": 401, "count": 0, "stored_through": 400}' ]
}

@test "collector: killed (-9) and restarted mid-stream, every record arrives exactly once" {
	start_collector "$BATS_TEST_TMPDIR"
	client agent h1 $H1 --first 1 --count 60000 --batch 200 --window 8 --timeout 120 \
		>"$BATS_TEST_TMPDIR/agent.out" &
	agent=$!
	# mid-stream: some stored, not all
	retry 200 0.05 bash -c "[ \"\$(\"$NJ_COLLECTOR\" status --json --config '$CDIR/collector.yaml' |
		jq '.hosts[0].stored_through // 0')\" -ge 5000 ]"
	stop_collector KILL || true
	before=$(stored_sequences $H1 | wc -l)
	[ "$before" -ge 5000 ]
	[ "$before" -lt 60000 ]
	start_collector "$BATS_TEST_TMPDIR"
	wait "$agent"
	tail -n 1 "$BATS_TEST_TMPDIR/agent.out" | jq -e '.done and .acked == 60000'
	# the agent reconnected and resent from its acknowledged position
	[ "$(grep -c '"connected"' "$BATS_TEST_TMPDIR/agent.out")" -ge 2 ]
	diff <(stored_sequences $H1) <(seq 1 60000)
	# and the restarted collector knew where the host was
	grep -q "host $H1: stored through sequence [1-9]" "$CDIR/collector.log"
}

@test "collector: wrong CA, missing client certificate, host-id mismatch and missing ALPN are refused" {
	start_collector "$BATS_TEST_TMPDIR"
	# a certificate from another CA never gets past the handshake
	run python3 "$CLIENT" send --port "$PORT" --ca "$PKI/ca.crt" --cert "$PKI/stranger.crt" \
		--key "$PKI/stranger.key" --host-id $H1 --count 5
	[ "$status" -eq 2 ]
	retry 50 0.1 grep -q "TLS handshake failed: .*certificate verify failed" "$CDIR/collector.log"
	# no certificate at all
	run python3 "$CLIENT" send --port "$PORT" --ca "$PKI/ca.crt" --host-id $H1 --count 5
	[ "$status" -eq 2 ]
	retry 50 0.1 grep -q "TLS handshake failed: .*peer did not return a certificate" \
		"$CDIR/collector.log"
	# a valid certificate for another host
	run client send h1 $H2 --count 5
	[ "$status" -eq 1 ]
	grep -q "host id '$H2' does not match the client certificate" <<<"$output"
	grep -q "peer 127.0.0.1:[0-9]*: host id '$H2' does not match the client certificate (names '$H1')" \
		"$CDIR/collector.log"
	# no ALPN
	run client send h1 $H1 --count 5 --alpn ""
	[ "$status" -eq 2 ]
	retry 50 0.1 grep -q "did not offer ALPN 'nightjar/1'" "$CDIR/collector.log"
	# nothing of theirs was stored
	[ ! -e "$CDIR/data/hosts/$H2" ]
	[ -z "$(ls "$CDIR/data/hosts/$H1" 2>/dev/null)" ] || [ -z "$(stored_sequences $H1)" ]
	# and the collector serves the next one as before
	run client send h1 $H1 --count 5
	[ "$status" -eq 0 ]
	[ "$(status_json | jq '.connections.handshake_failures')" -ge 3 ]
	[ "$(status_json | jq '.batches.identity_refusals')" -eq 1 ]
}

@test "collector: garbage, oversized and stalled frames cost only their connection" {
	start_collector "$BATS_TEST_TMPDIR"
	# a steady agent runs throughout
	client agent h1 $H1 --first 1 --count 3000 --batch 10 --window 1 --pause 0.002 \
		--timeout 60 >"$BATS_TEST_TMPDIR/agent.out" &
	agent=$!
	# not protobuf: an error Ack, then the close
	run client raw h2 $H2 --hex 00000005ffffffffff
	jq -e '.ack.error | test("not a nightjar.Batch")' <<<"$(head -n 1 <<<"$output")"
	jq -e '.closed' <<<"$(tail -n 1 <<<"$output")"
	# a length above max_frame (16 MiB)
	run client raw h2 $H2 --oversize 2000000000
	jq -e '.ack.error | test("larger than the limit")' <<<"$(head -n 1 <<<"$output")"
	# an empty frame
	run client raw h2 $H2 --hex 00000000
	jq -e '.ack.error | test("empty frame")' <<<"$(head -n 1 <<<"$output")"
	# half a frame, then silence: dropped after frame_timeout (1 s)
	run client raw h2 $H2 --stall
	jq -e '.ack == null and .after_s >= 0.9 and .after_s < 5' <<<"$output"
	grep -q "stalled mid-frame" "$CDIR/collector.log"
	wait "$agent"
	tail -n 1 "$BATS_TEST_TMPDIR/agent.out" | jq -e '.done and .acked == 3000 and .connections == 1'
	diff <(stored_sequences $H1) <(seq 1 3000)
	[ "$(status_json | jq '.batches.bad_frames')" -eq 3 ]
	[ "$(status_json | jq '.batches.stalled')" -eq 1 ]
}

@test "collector: a sequence jump is a gap in the status and the log; a silent host is reported" {
	start_collector "$BATS_TEST_TMPDIR" "silent_after: 1s"
	client send h1 $H1 --first 1 --count 10
	client send h1 $H1 --first 50 --count 10
	[ "$(host_field $H1 .gaps)" -eq 1 ]
	[ "$(host_field $H1 .missing)" -eq 39 ]
	[ "$(host_field $H1 .last_gap_from)" -eq 10 ]
	[ "$(host_field $H1 .last_gap_to)" -eq 50 ]
	grep -q "host $H1: sequence jumped from 10 to 50 (39 records missing)" "$CDIR/collector.log"
	retry 50 0.1 grep -q "host $H1: silent: nothing received" "$CDIR/collector.log"
	[ "$(host_field $H1 .state)" = silent ]
	run "$NJ_COLLECTOR" status --config "$CDIR/collector.yaml"
	[ "$status" -eq 0 ]
	grep -E "^$H1 .* 59 +1 +39 +0  silent \(last gap 10\.\.50\)" <<<"$output"
	diff <(stored_sequences $H1) <( (seq 1 10; seq 50 59))
}

@test "collector: a bad configuration is refused with FILE:LINE:COL" {
	cfg="$BATS_TEST_TMPDIR/bad.yaml"
	printf 'listen: 127.0.0.1:1\ntls:\n  ca: /x\n  cret: /y\n' >"$cfg"
	run "$NJ_COLLECTOR" --config "$cfg" --check-config
	[ "$status" -eq 1 ]
	[ "$output" = "nightjar-collector: $cfg:4:3: unknown key 'tls.cret' (expected one of: ca, cert, key)" ]
	printf 'tls: {ca: /a, cert: /b, key: /c}\nmax_frame: 1GiB\n' >"$cfg"
	run "$NJ_COLLECTOR" --config "$cfg" --check-config
	[ "$status" -eq 1 ]
	grep -q "$cfg:2:12: value '1GiB' for 'max_frame' is out of range" <<<"$output"
}

# ---- JetStream ----

# start_nats DIR: nats-server -js on a free loopback port, store in DIR/js, monitoring port
start_nats() {
	NATS_PORT=$(free_port)
	"${NATS_SERVER:-nats-server}" -js -a 127.0.0.1 -p "$NATS_PORT" -sd "$1/js" >"$1/nats.log" 2>&1 &
	NATS_PID=$!
	export NATS_PID NATS_PORT
	retry 100 0.1 grep -q "Server is ready" "$1/nats.log"
}

@test "collector: JetStream sink stores each record once, acknowledged after the publish ack" {
	command -v nats-server >/dev/null || skip "nats-server is not installed (scripts/deps.sh)"
	start_nats "$BATS_TEST_TMPDIR"
	start_collector "$BATS_TEST_TMPDIR" "sink: nats" "nats:" "  url: nats://127.0.0.1:$NATS_PORT" \
		"  stream: NJTEST" "  subject: nj.records"
	grep -q "created stream NJTEST" "$CDIR/collector.log"
	run client send h1 $H1 --first 1 --count 500 --batch 100
	[ "$status" -eq 0 ]
	[ "$(tail -n 1 <<<"$output")" = '{"first": 401, "count": 100, "stored_through": 500}' ]
	# a restarted collector learns the mark from the stream: the resend is not stored again
	stop_collector
	start_collector "$BATS_TEST_TMPDIR" "sink: nats" "nats:" "  url: nats://127.0.0.1:$NATS_PORT" \
		"  stream: NJTEST" "  subject: nj.records"
	run client send h1 $H1 --first 301 --count 400 --batch 100
	[ "$status" -eq 0 ]
	[ "$(head -n 1 <<<"$output")" = '{"first": 301, "count": 100, "stored_through": 500}' ]
	# what a consumer reads from the stream: every sequence exactly once, in order
	run python3 "$BATS_TEST_DIRNAME/nats_read.py" --port "$NATS_PORT" --stream NJTEST
	[ "$status" -eq 0 ]
	diff <(jq -r '.sequence' <<<"$output") <(seq 1 700)
	[ "$(jq -r '.subject' <<<"$output" | sort -u)" = "nj.records.$H1" ]
	# JetStream down: batches are refused (the agent keeps them), none is acknowledged
	kill "$NATS_PID"
	wait "$NATS_PID" || true
	NATS_PID=
	run client send h1 $H1 --first 701 --count 10
	[ "$status" -ne 0 ]
	! grep -q '"stored_through": 710' <<<"$output"
}
