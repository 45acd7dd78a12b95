#!/usr/bin/env bats
# The agent ships its spool to the collector: the real agent and the real nightjar-collector
# on loopback, certificates made with scripts/nightjar-pki. Every record arrives once, across a
# collector killed mid-stream and an agent killed with -9; a wrong CA and a certificate for
# another host are refused and said so.

load helpers

bats_require_minimum_version 1.5.0

PKI_TOOL="$NJ_TOP/scripts/nightjar-pki"
NJ_COLLECTOR="${NJ_COLLECTOR:-$NJ_TOP/.output/nightjar-collector}"

# a free loopback port
coll_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_coll DIR: the real collector on 127.0.0.1:$PORT (a free port unless set), data in
# DIR/data, log in DIR/collector.log. Sets COLLECTOR_PID, PORT, CDIR.
start_coll() {
	CDIR=$1
	PORT=${PORT:-$(coll_port)}
	cat >"$CDIR/collector.yaml" <<-YAML
		listen: 127.0.0.1:$PORT
		tls:
		  ca: $PKI/ca.crt
		  cert: $PKI/collector/127.0.0.1.crt
		  key: $PKI/collector/127.0.0.1.key
		data_dir: $CDIR/data
	YAML
	"$NJ_COLLECTOR" --config "$CDIR/collector.yaml" >>"$CDIR/collector.log" 2>&1 &
	COLLECTOR_PID=$!
	export COLLECTOR_PID PORT CDIR
	if ! retry 100 0.1 grep -q "listening on 127.0.0.1:$PORT" "$CDIR/collector.log"; then
		echo "collector did not start:" >&2
		cat "$CDIR/collector.log" >&2
		return 1
	fi
}

# stop_coll [SIGNAL]: default SIGTERM; waits for the process to go
stop_coll() {
	local sig=${1:-TERM}
	[ -n "${COLLECTOR_PID:-}" ] || return 0
	kill -"$sig" "$COLLECTOR_PID" 2>/dev/null || true
	wait "$COLLECTOR_PID" 2>/dev/null || true
	COLLECTOR_PID=
}

setup_file() {
	[ "$(id -u)" -eq 0 ] || return 0
	export PKI="$BATS_FILE_TMPDIR/pki" OTHER="$BATS_FILE_TMPDIR/other"
	# the host id this agent will send: its certificate must carry it
	export HOST_ID
	HOST_ID=$("$NJ_AGENT" --host-id --state-dir "$BATS_FILE_TMPDIR/id")
	"$PKI_TOOL" -d "$PKI" init
	"$PKI_TOOL" -d "$PKI" host "$HOST_ID"
	"$PKI_TOOL" -d "$PKI" host not-this-host
	"$PKI_TOOL" -d "$PKI" collector 127.0.0.1 localhost
	# a second CA, unknown to the collector, with a certificate for the same host id
	"$PKI_TOOL" -d "$OTHER" init
	"$PKI_TOOL" -d "$OTHER" host "$HOST_ID"
}

setup() {
	requires_root
	export STATE_DIR="$BATS_TEST_TMPDIR/state"
	unset PORT
	echo x >"$BATS_TEST_TMPDIR/token"
}

teardown() {
	stop_agent || true
	stop_coll || true
}

# agent_config CA CERT KEY [LINES...]: an agent.yaml shipping to 127.0.0.1:$PORT, watching the
# token file; more collector settings in LINES
agent_config() {
	cat >"$BATS_TEST_TMPDIR/agent.yaml" <<-YAML
		watch:
		  paths: [$BATS_TEST_TMPDIR/token]
		collector:
		  address: 127.0.0.1:$PORT
		  ca: $1
		  cert: $2
		  key: $3
		  reconnect_min: 100ms
		  reconnect_max: 500ms
	YAML
	shift 3
	[ $# -eq 0 ] || printf '  %s\n' "$@" >>"$BATS_TEST_TMPDIR/agent.yaml"
}

good_config() {
	agent_config "$PKI/ca.crt" "$PKI/hosts/$HOST_ID.crt" "$PKI/hosts/$HOST_ID.key" "$@"
}

ship_status() {
	"$NJ_CTL" status --json --state-dir "$STATE_DIR" | jq -r ".collector$1"
}

last_spooled() {
	"$NJ_CTL" read "$STATE_DIR/spool" --json | tail -n 1 | jq -r '.event.sequence'
}

# shipped_through N: the collector has acknowledged every record up to N
shipped_through() {
	[ "$(ship_status .acked_sequence)" -ge "$1" ]
}

# wait_shipped: whatever is in the spool now has been acknowledged (within 30 s)
wait_shipped() {
	local last
	last=$(last_spooled)
	if ! retry 300 0.1 shipped_through "$last"; then
		echo "not shipped through $last:" >&2
		"$NJ_CTL" status --state-dir "$STATE_DIR" >&2
		return 1
	fi
}

# same_records: the collector's copy of this host equals the agent's spool, record for record,
# up to what the collector stored (the agent may have written more since: its last health
# record at stop), with no sequence twice
same_records() {
	local through
	"$NJ_CTL" read "$CDIR/data/hosts/$HOST_ID" --json >"$BATS_TEST_TMPDIR/stored.json"
	through=$(tail -n 1 "$BATS_TEST_TMPDIR/stored.json" | jq -r '.event.sequence')
	"$NJ_CTL" read "$STATE_DIR/spool" --json |
		jq -c "select(.event.sequence <= $through)" >"$BATS_TEST_TMPDIR/spooled.json"
	jq -c . "$BATS_TEST_TMPDIR/stored.json" >"$BATS_TEST_TMPDIR/stored.c.json"
	[ -z "$(jq -r '.event.sequence' "$BATS_TEST_TMPDIR/stored.json" | sort -n | uniq -d)" ]
	diff -q "$BATS_TEST_TMPDIR/spooled.json" "$BATS_TEST_TMPDIR/stored.c.json"
	echo "$through"
}

@test "ship: agent -> collector -> file sink end to end, the same records as the spool" {
	start_coll "$BATS_TEST_TMPDIR"
	good_config
	start_agent "$BATS_TEST_TMPDIR" --config "$BATS_TEST_TMPDIR/agent.yaml"
	retry 50 0.1 grep -q "shipping to 127.0.0.1:$PORT: connected (TLS 1.3" "$AGENT_ERR"
	python3 "$TRIGGER" flood "$BATS_TEST_TMPDIR/token" 5000 >/dev/null
	marker=$(python3 "$TRIGGER" open "$BATS_TEST_TMPDIR/token")
	wait_event ".event.action == \"open\" and .process.pid == $(jq .pid <<<"$marker")" >/dev/null
	wait_shipped
	[ "$(ship_status .state)" = connected ]
	[ "$(ship_status .lost_records)" -eq 0 ]
	run "$NJ_CTL" status --state-dir "$STATE_DIR"
	grep -q "^collector: 127.0.0.1:$PORT connected for [0-9]* s; acked through [0-9]*, backlog" <<<"$output"
	stop_agent
	through=$(same_records)
	[ "$through" -gt 5000 ]
	# the marker is there, and every record carries this host's id
	grep -q "\"pid\":$(jq .pid <<<"$marker")," "$BATS_TEST_TMPDIR/stored.json"
	[ "$(jq -r '.host.id' "$BATS_TEST_TMPDIR/stored.json" | sort -u)" = "$HOST_ID" ]
	# the acknowledged position is on disk
	[ "$(cat "$STATE_DIR/ship.pos")" -ge "$through" ]
	# health records carry the shipping counters
	health=$(jq -c 'select(.event.action == "health") | .nightjar.health' "$AGENT_OUT" | tail -n 1)
	[ "$(field "$health" .ship_acked_records)" -ge 5000 ]
	[ "$(field "$health" .ship_lost_records)" -eq 0 ]
	[ "$(field "$health" .ship_acked_sequence)" -ge 5000 ]
}

@test "ship: an outage, then the collector killed (-9) mid-catch-up and restarted: every record exactly once" {
	PORT=$(coll_port)
	export PORT
	# small batches, one at a time: the catch-up lasts long enough to be interrupted
	good_config "batch_records: 200" "window: 1"
	# the collector is not there yet: a backlog builds in the spool
	start_agent "$BATS_TEST_TMPDIR" --config "$BATS_TEST_TMPDIR/agent.yaml"
	python3 "$TRIGGER" flood "$BATS_TEST_TMPDIR/token" 100000 >/dev/null
	retry 50 0.1 grep -q "shipping to 127.0.0.1:$PORT: connect: Connection refused" "$AGENT_ERR"
	[ "$(ship_status .state)" = backoff ]
	ship_status .last_error | grep -q "Connection refused"
	# (a flood may overrun the ring buffer: not every open is a record)
	[ "$(ship_status .backlog_records)" -gt 50000 ]
	start_coll "$BATS_TEST_TMPDIR"
	# mid-stream: some stored, not all
	retry 300 0.02 bash -c "[ \"\$(\"$NJ_COLLECTOR\" status --json --config '$CDIR/collector.yaml' |
		jq '.hosts[0].stored_through // 0')\" -ge 2000 ]"
	stop_coll KILL || true
	before=$("$NJ_CTL" read "$CDIR/data/hosts/$HOST_ID" | wc -l)
	[ "$before" -ge 2000 ]
	[ "$before" -lt 100000 ]
	start_coll "$BATS_TEST_TMPDIR"
	python3 "$TRIGGER" flood "$BATS_TEST_TMPDIR/token" 1000 >/dev/null
	wait_shipped
	stop_agent
	through=$(same_records)
	[ "$through" -gt 101000 ]
	# numbered from 1 without a gap: every record of the spool is at the collector
	diff <(jq -r '.event.sequence' "$BATS_TEST_TMPDIR/stored.json") <(seq 1 "$through")
	[ "$(grep -c ': connected (TLS 1.3' "$AGENT_ERR")" -ge 2 ]
}

@test "ship: the agent killed with -9 mid-stream and restarted: no gap, no duplicate" {
	start_coll "$BATS_TEST_TMPDIR"
	good_config
	start_agent "$BATS_TEST_TMPDIR" --config "$BATS_TEST_TMPDIR/agent.yaml"
	python3 "$TRIGGER" flood "$BATS_TEST_TMPDIR/token" 200000 >/dev/null &
	flood=$!
	retry 100 0.05 bash -c "[ \"\$(\"$NJ_CTL\" status --json --state-dir '$STATE_DIR' |
		jq '.collector.acked_sequence')\" -ge 5000 ]"
	kill -9 "$AGENT_PID"
	wait "$AGENT_PID" 2>/dev/null || true
	AGENT_PID=
	wait $flood
	start_agent "$BATS_TEST_TMPDIR" --config "$BATS_TEST_TMPDIR/agent.yaml"
	# it resumes from the position it saved (at most ~0.5 s old), not from the start
	grep -q "shipping to 127.0.0.1:$PORT as host $HOST_ID, from sequence [1-9][0-9]*" "$AGENT_ERR"
	[ -z "$(grep "from sequence 1\$" "$AGENT_ERR")" ]
	python3 "$TRIGGER" flood "$BATS_TEST_TMPDIR/token" 1000 >/dev/null
	wait_shipped
	stop_agent
	through=$(same_records)
	diff <(jq -r '.event.sequence' "$BATS_TEST_TMPDIR/stored.json") <(seq 1 "$through")
	# the resent overlap was dropped by the collector, not stored twice
	"$NJ_COLLECTOR" status --json --config "$CDIR/collector.yaml" | jq -e '.hosts[0].gaps == 0'
}

@test "ship: a certificate from another CA, a host id that is not the certificate's: refused, nothing stored" {
	start_coll "$BATS_TEST_TMPDIR"
	# our certificate signed by a CA the configured one does not know: refused at the start
	agent_config "$PKI/ca.crt" "$OTHER/hosts/$HOST_ID.crt" "$OTHER/hosts/$HOST_ID.key"
	run "$NJ_AGENT" --config "$BATS_TEST_TMPDIR/agent.yaml" --check-config
	[ "$status" -eq 1 ]
	grep -q "agent.yaml:[0-9]*:[0-9]*: collector.cert '$OTHER/hosts/$HOST_ID.crt': not accepted by the CA in collector.ca" <<<"$output"
	# at start the agent records anyway; the collector refuses it at the handshake
	start_agent "$BATS_TEST_TMPDIR" --config "$BATS_TEST_TMPDIR/agent.yaml"
	grep -q "not accepted by the CA in collector.ca .*; recording goes on" "$AGENT_ERR"
	retry 50 0.1 grep -q "TLS handshake failed: .*certificate verify failed" "$CDIR/collector.log"
	retry 50 0.1 grep -q "shipping to 127.0.0.1:$PORT: .*alert" "$AGENT_ERR"
	[ "$(ship_status .acked_sequence)" -eq 0 ]
	stop_agent

	# a whole identity from another CA: the collector and the agent do not trust each other
	agent_config "$OTHER/ca.crt" "$OTHER/hosts/$HOST_ID.crt" "$OTHER/hosts/$HOST_ID.key"
	start_agent "$BATS_TEST_TMPDIR" --config "$BATS_TEST_TMPDIR/agent.yaml"
	retry 50 0.1 grep -q "shipping to 127.0.0.1:$PORT: TLS handshake: the collector's certificate: " "$AGENT_ERR"
	ship_status .last_error | grep -q "certificate verify failed"
	[ "$(ship_status .state)" != connected ]
	stop_agent
	rm -rf "$STATE_DIR"

	# no client certificate at all: the configuration says what is missing, where
	printf 'collector:\n  address: 127.0.0.1:%s\n  ca: %s\n' "$PORT" "$PKI/ca.crt" \
		>"$BATS_TEST_TMPDIR/agent.yaml"
	run "$NJ_AGENT" --config "$BATS_TEST_TMPDIR/agent.yaml" --check-config
	[ "$status" -eq 1 ]
	[ "$output" = "nightjar-agent: error: $BATS_TEST_TMPDIR/agent.yaml:2:3: 'collector' lacks: cert key (expected address, ca, cert and key; docs/enrolment.md)" ]

	# a valid certificate of this CA, for another host: the collector refuses every batch
	agent_config "$PKI/ca.crt" "$PKI/hosts/not-this-host.crt" "$PKI/hosts/not-this-host.key"
	start_agent "$BATS_TEST_TMPDIR" --config "$BATS_TEST_TMPDIR/agent.yaml"
	grep -q "collector.cert '$PKI/hosts/not-this-host.crt' is for 'not-this-host', not for this host's id $HOST_ID" "$AGENT_ERR"
	retry 50 0.1 grep -q "refused by the collector: host id '$HOST_ID' does not match the client certificate" "$AGENT_ERR"
	ship_status .last_error | grep -q "does not match the client certificate"
	[ "$(ship_status .acked_sequence)" -eq 0 ]
	grep -q "host id '$HOST_ID' does not match the client certificate" "$CDIR/collector.log"
	stop_agent
	# nothing of this host was stored, in any of the three attempts
	[ -z "$(ls "$CDIR/data/hosts/$HOST_ID" 2>/dev/null)" ] ||
		[ -z "$("$NJ_CTL" read "$CDIR/data/hosts/$HOST_ID")" ]
}

@test "ship: nightjar-pki bundle and install enrol a host in one step" {
	bundle=$("$PKI_TOOL" -d "$PKI" bundle "$HOST_ID" "127.0.0.1:6445" | sed -n 's/^bundle for [^:]*: \([^ ]*\) .*/\1/p')
	[ -f "$bundle/host.key" ]
	[ "$(stat -c %a "$bundle/host.key")" = 600 ]
	PATH="$(dirname "$NJ_AGENT"):$PATH" NIGHTJAR_TLS_DIR="$BATS_TEST_TMPDIR/tls" \
		run "$PKI_TOOL" install "$bundle" "$BATS_TEST_TMPDIR/agent.yaml"
	[ "$status" -eq 0 ]
	grep -q "configuration OK" <<<"$output"
	[ "$(stat -c %a "$BATS_TEST_TMPDIR/tls/host.key")" = 600 ]
	grep -q "^  cert: $BATS_TEST_TMPDIR/tls/host.crt\$" "$BATS_TEST_TMPDIR/agent.yaml"
	# a second install does not add a second block
	PATH="$(dirname "$NJ_AGENT"):$PATH" NIGHTJAR_TLS_DIR="$BATS_TEST_TMPDIR/tls" \
		run "$PKI_TOOL" install "$bundle" "$BATS_TEST_TMPDIR/agent.yaml"
	[ "$status" -eq 1 ]
	grep -q "has a collector: block already" <<<"$output"
}
