#!/usr/bin/env bats
# The spool and nightjarctl read: every record kept, numbered, recoverable, bounded.

load helpers

bats_require_minimum_version 1.5.0

setup() {
	requires_root
	export STATE_DIR="$BATS_TEST_TMPDIR/state"
}

teardown() {
	stop_agent || true
}

# some of every kind of event
activity() {
	python3 "$TRIGGER" tcp 127.0.0.1 >/dev/null
	python3 "$TRIGGER" refused 127.0.0.1 >/dev/null
	python3 "$TRIGGER" udp 127.0.0.1 53 5353 >/dev/null
	cat /etc/shadow >/dev/null
	sh -c 'exit 3' || true
}

# the sequence numbers of a read, one per line
sequences() {
	"$NJ_CTL" read "$STATE_DIR/spool" --json | jq -r '.event.sequence'
}

@test "round trip: nightjarctl read --json prints exactly what the agent printed" {
	start_agent "$BATS_TEST_TMPDIR"
	activity
	marker=$(python3 "$TRIGGER" open /etc/shadow)
	wait_event ".event.action == \"open\" and .process.pid == $(jq .pid <<<"$marker")"
	stop_agent
	run "$NJ_CTL" read "$STATE_DIR/spool" --json
	[ "$status" -eq 0 ]
	diff <(printf '%s\n' "$output") "$AGENT_OUT"
	# every kind the agent makes is in there
	for kind in exec fork exit connect accept listen udp_send open health; do
		grep -q "\"action\":\"$kind\"" "$AGENT_OUT"
	done
	# numbered one by one from 1, with the host id on every record
	sequences >"$BATS_TEST_TMPDIR/seq"
	n=$(wc -l <"$BATS_TEST_TMPDIR/seq")
	[ "$n" -gt 20 ]
	diff "$BATS_TEST_TMPDIR/seq" <(seq 1 "$n")
	[ "$(jq -r '.host.id' "$AGENT_OUT" | sort -u | wc -l)" -eq 1 ]
	[[ "$(jq -r '.host.id' "$AGENT_OUT" | head -n 1)" =~ ^[0-9a-f]{32}$ ]]
}

@test "kill -9 during a flood: restart continues the sequence, nothing torn, nothing reused" {
	echo x >"$BATS_TEST_TMPDIR/token"
	printf 'watch:\n  paths: [%s]\n' "$BATS_TEST_TMPDIR/token" >"$BATS_TEST_TMPDIR/agent.yaml"
	start_agent "$BATS_TEST_TMPDIR" --config "$BATS_TEST_TMPDIR/agent.yaml"
	python3 "$TRIGGER" flood "$BATS_TEST_TMPDIR/token" 200000 >/dev/null &
	flood=$!
	sleep 1
	kill -9 "$AGENT_PID"
	wait "$AGENT_PID" 2>/dev/null || true
	AGENT_PID=
	wait $flood
	before=$(sequences | tail -n 1)
	[ "$before" -gt 1000 ]
	start_agent "$BATS_TEST_TMPDIR" --config "$BATS_TEST_TMPDIR/agent.yaml"
	if ! grep -q "next sequence $((before + 1))" "$AGENT_ERR"; then
		echo "last record on disk: $before" >&2
		grep 'spool' "$AGENT_ERR" >&2
		ls -l "$STATE_DIR/spool" >&2
		false
	fi
	out=$(python3 "$TRIGGER" open "$BATS_TEST_TMPDIR/token")
	wait_event ".event.action == \"open\" and .process.pid == $(jq .pid <<<"$out")"
	stop_agent
	run "$NJ_CTL" read "$STATE_DIR/spool"
	[ "$status" -eq 0 ]
	sequences >"$BATS_TEST_TMPDIR/seq"
	diff "$BATS_TEST_TMPDIR/seq" <(seq 1 "$(wc -l <"$BATS_TEST_TMPDIR/seq")")
}

@test "a torn tail (power loss mid-write) is cut at start, every whole record kept" {
	start_agent "$BATS_TEST_TMPDIR"
	stop_agent
	last=$(sequences | tail -n 1)
	seg=$(ls "$STATE_DIR"/spool/*.seg | tail -n 1)
	# half a frame: a length promising more than follows
	printf '\x00\x10\x00\x00\xde\xad\xbe\xef\x01\x02' >>"$seg"
	run "$NJ_CTL" read "$STATE_DIR/spool"
	[ "$status" -eq 1 ]
	[[ "$output" == *"$seg: offset "*"truncated"* ]]
	start_agent "$BATS_TEST_TMPDIR"
	grep -q 'cut a torn tail of 10 bytes' "$AGENT_ERR"
	stop_agent
	run "$NJ_CTL" read "$STATE_DIR/spool"
	[ "$status" -eq 0 ]
	sequences >"$BATS_TEST_TMPDIR/seq"
	diff "$BATS_TEST_TMPDIR/seq" <(seq 1 "$(wc -l <"$BATS_TEST_TMPDIR/seq")")
	[ "$(wc -l <"$BATS_TEST_TMPDIR/seq")" -gt "$last" ]
}

@test "corruption is reported with file and offset; records before it are still read" {
	start_agent "$BATS_TEST_TMPDIR"
	activity
	stop_agent
	total=$(sequences | wc -l)
	seg=$(ls "$STATE_DIR"/spool/*.seg | head -n 1)
	size=$(stat -c %s "$seg")
	# flip one byte two thirds of the way in
	off=$((size * 2 / 3))
	printf '\xff' | dd of="$seg" bs=1 seek="$off" conv=notrunc status=none
	run --separate-stderr "$NJ_CTL" read "$STATE_DIR/spool" --json
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"nightjarctl: $seg: offset "*": checksum mismatch"* ||
		"$stderr" == *"nightjarctl: $seg: offset "*": record length"* ]]
	good=$(wc -l <<<"$output")
	[ "$good" -gt 0 ]
	[ "$good" -lt "$total" ]
	# the records printed are exactly the first ones
	diff <(jq -r .event.sequence <<<"$output") <(seq 1 "$good")
}

@test "the size bound holds and eviction is counted" {
	cat >"$BATS_TEST_TMPDIR/agent.yaml" <<-YAML
		watch:
		  paths: [$BATS_TEST_TMPDIR/token]
		spool:
		  max_size: 1MiB
		  segment_size: 64KiB
	YAML
	echo x >"$BATS_TEST_TMPDIR/token"
	start_agent "$BATS_TEST_TMPDIR" --config "$BATS_TEST_TMPDIR/agent.yaml"
	python3 "$TRIGGER" flood "$BATS_TEST_TMPDIR/token" 20000 >/dev/null
	stop_agent
	bytes=$(du -cb "$STATE_DIR"/spool/*.seg | tail -n 1 | cut -f1)
	[ "$bytes" -le $((1024 * 1024)) ]
	ev=$(events '.event.action == "health"' | tail -n 1)
	evicted=$(field "$ev" .nightjar.health.spool_evicted_records)
	[ "$evicted" -gt 0 ]
	grep -q 'spool: evicted .* size bound' "$AGENT_ERR"
	# what is left reads cleanly, from the oldest kept record on, without gaps
	sequences >"$BATS_TEST_TMPDIR/seq"
	first=$(head -n 1 "$BATS_TEST_TMPDIR/seq")
	[ "$first" -eq $((evicted + 1)) ]
	diff "$BATS_TEST_TMPDIR/seq" <(seq "$first" "$((first + $(wc -l <"$BATS_TEST_TMPDIR/seq") - 1))")
}

@test "read filters: kind, pid, entity tree, time" {
	start_agent "$BATS_TEST_TMPDIR"
	sh -c 'echo $$ > "$1"; /bin/true child-marker' sh "$BATS_TEST_TMPDIR/pid"
	pid=$(cat "$BATS_TEST_TMPDIR/pid")
	wait_event ".event.action == \"exit\" and .process.pid == $pid"
	stop_agent
	spool="$STATE_DIR/spool"

	run "$NJ_CTL" read "$spool" --json --kind exec --pid "$pid"
	[ "$status" -eq 0 ]
	[ "$(jq -r .process.name <<<"$output")" = sh ]

	# the sh process and, with --tree, the /bin/true it started
	entity=$(jq -r .process.entity_id <<<"$output")
	run "$NJ_CTL" read "$spool" --json --kind exec --entity-id "$entity" --tree
	[ "$status" -eq 0 ]
	[ "$(jq -r .process.name <<<"$output" | sort | tr '\n' ' ')" = "sh true " ]
	run "$NJ_CTL" read "$spool" --json --kind exec --entity-id "$entity"
	[ "$(wc -l <<<"$output")" -eq 1 ]

	run "$NJ_CTL" read "$spool" --json --since 1h
	[ -n "$output" ]
	run "$NJ_CTL" read "$spool" --json --kind exec --host "$(hostname)"
	[ "$(jq -r .host.name <<<"$output" | sort -u)" = "$(hostname)" ]
	run "$NJ_CTL" read "$spool" --json --host not-this-host
	[ -z "$output" ]
	run "$NJ_CTL" read "$spool" --json --until 2000-01-01T00:00:00Z
	[ -z "$output" ]
	run "$NJ_CTL" read "$spool" --since yesterday
	[ "$status" -eq 2 ]
	[[ "$output" == *"--since: 'yesterday' is not a time"* ]]
	run "$NJ_CTL" read "$spool" --kind exce
	[ "$status" -eq 2 ]
	run "$NJ_CTL" read /nonexistent
	[ "$status" -eq 1 ]
	[[ "$output" == *"/nonexistent: No such file or directory"* ]]
}
