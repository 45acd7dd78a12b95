#!/usr/bin/env bats
# nightjarctl against the running agent: status, tail, capture; and the spool on a full disk.

load helpers

bats_require_minimum_version 1.5.0

setup() {
	requires_root
	export STATE_DIR="$BATS_TEST_TMPDIR/state"
}

teardown() {
	stop_agent || true
	if [ -n "${MADE_CONFIG:-}" ]; then
		rm -f /etc/nightjar/agent.yaml
		rmdir /etc/nightjar 2>/dev/null || true
	fi
	[ -z "${TAIL_PID:-}" ] || kill "$TAIL_PID" 2>/dev/null || true
	if mountpoint -q "$BATS_TEST_TMPDIR/small" 2>/dev/null; then
		umount "$BATS_TEST_TMPDIR/small"
	fi
}

@test "status: hooks, programs, rate, loss counters and spool" {
	start_agent "$BATS_TEST_TMPDIR"
	run "$NJ_CTL" status --state-dir "$STATE_DIR"
	[ "$status" -eq 0 ]
	[[ "$output" == *"pid $AGENT_PID"* ]]
	[[ "$output" == *"process    tp_btf/sched_process_exec"* ]]
	[[ "$output" == *"programs attached: "* ]]
	[[ "$output" == *"lost: ringbuf_drops 0"* ]]
	[[ "$output" == *"spool: $STATE_DIR/spool"* ]]
	run "$NJ_CTL" status --json --state-dir "$STATE_DIR"
	[ "$status" -eq 0 ]
	[ "$(jq .pid <<<"$output")" -eq "$AGENT_PID" ]
	[ "$(jq .programs_attached <<<"$output")" -gt 10 ]
	[ "$(jq -r .spool.dir <<<"$output")" = "$STATE_DIR/spool" ]
	[ "$(jq .spool.oldest_sequence <<<"$output")" -eq 1 ]
	[ "$(jq -r '.hooks | keys | join(",")' <<<"$output")" = "accept,connect,file_open,listen,process,udp_send" ]
	# only root may connect: the socket's mode, and the peer check behind it
	[ "$(stat -c %a "$STATE_DIR/control.sock")" = 600 ]
	run setpriv --reuid=65534 --regid=65534 --clear-groups "$NJ_CTL" status --state-dir "$STATE_DIR"
	[ "$status" -ne 0 ]
	stop_agent
	[ ! -e "$STATE_DIR/control.sock" ]
	run "$NJ_CTL" status --state-dir "$STATE_DIR"
	[ "$status" -eq 1 ]
	[[ "$output" == *"cannot reach the agent at $STATE_DIR/control.sock"* ]]
}

@test "tail follows live records with filters" {
	start_agent "$BATS_TEST_TMPDIR"
	"$NJ_CTL" tail --json --kind exec --state-dir "$STATE_DIR" >"$BATS_TEST_TMPDIR/tail.json" &
	TAIL_PID=$!
	retry 50 0.1 grep -q '"action":"exec"' "$BATS_TEST_TMPDIR/tail.json" || true
	/bin/true nj-tail-marker
	retry 50 0.1 grep -q 'nj-tail-marker' "$BATS_TEST_TMPDIR/tail.json"
	kill "$TAIL_PID"
	wait "$TAIL_PID" || true
	TAIL_PID=
	# only execs, and exactly as the agent printed them
	[ "$(jq -r .event.action "$BATS_TEST_TMPDIR/tail.json" | sort -u)" = exec ]
	line=$(grep nj-tail-marker "$BATS_TEST_TMPDIR/tail.json")
	grep -qxF "$line" "$AGENT_OUT"
}

@test "capture: a self-contained file that read opens on its own" {
	start_agent "$BATS_TEST_TMPDIR"
	"$NJ_CTL" capture -w "$BATS_TEST_TMPDIR/cap.njc" --duration 2s --state-dir "$STATE_DIR" \
		--kind exec 2>"$BATS_TEST_TMPDIR/capture.err" &
	cpid=$!
	sleep 0.5
	/bin/true nj-capture-marker
	wait "$cpid"
	grep -q "records captured in $BATS_TEST_TMPDIR/cap.njc" "$BATS_TEST_TMPDIR/capture.err"
	stop_agent
	# the agent and its spool are gone: the capture stands alone
	rm -rf "$STATE_DIR"
	run "$NJ_CTL" read "$BATS_TEST_TMPDIR/cap.njc" --json
	[ "$status" -eq 0 ]
	head=$(head -n 1 <<<"$output")
	[ "$(jq -r .event.action <<<"$head")" = capture ]
	[ "$(jq -r .host.name <<<"$head")" = "$(hostname)" ]
	[[ "$(jq -r .host.id <<<"$head")" =~ ^[0-9a-f]{32}$ ]]
	[ "$(jq -r .capture.agent_version <<<"$head")" = 0.1.0 ]
	[ "$(jq -r .capture.filters <<<"$head")" = "--kind exec" ]
	records=$(jq .capture.records <<<"$head")
	[ "$records" -eq $(($(wc -l <<<"$output") - 1)) ]
	# start and end two seconds apart
	start=$(date -d "$(jq -r .capture.start <<<"$head")" +%s)
	end=$(date -d "$(jq -r .capture.end <<<"$head")" +%s)
	[ $((end - start)) -ge 1 ] && [ $((end - start)) -le 4 ]
	grep -q nj-capture-marker <<<"$output"
	# the host's own sequence numbers are kept
	[ "$(tail -n +2 <<<"$output" | jq -r .event.action | sort -u)" = exec ]
	[ "$(tail -n +2 <<<"$output" | jq .event.sequence | head -n 1)" -gt 0 ]
}

@test "full disk: the agent keeps running, counts what it could not store, and recovers" {
	mkdir "$BATS_TEST_TMPDIR/small"
	mount -t tmpfs -o size=1m tmpfs "$BATS_TEST_TMPDIR/small"
	export STATE_DIR="$BATS_TEST_TMPDIR/small/state"
	echo x >"$BATS_TEST_TMPDIR/token"
	printf 'watch:\n  paths: [%s]\nhealth_interval: 1s\n' "$BATS_TEST_TMPDIR/token" \
		>"$BATS_TEST_TMPDIR/agent.yaml"
	start_agent "$BATS_TEST_TMPDIR" --config "$BATS_TEST_TMPDIR/agent.yaml"
	# fill the disk
	dd if=/dev/zero of="$BATS_TEST_TMPDIR/small/filler" bs=64k 2>/dev/null || true
	python3 "$TRIGGER" flood "$BATS_TEST_TMPDIR/token" 500 >/dev/null
	marker=$(python3 "$TRIGGER" open "$BATS_TEST_TMPDIR/token")
	# still printing events
	wait_event ".event.action == \"open\" and .process.pid == $(jq .pid <<<"$marker")"
	retry 50 0.1 grep -q 'not stored' "$AGENT_ERR"
	# space returns: new records are stored again without a restart
	rm "$BATS_TEST_TMPDIR/small/filler"
	after=$(python3 "$TRIGGER" open "$BATS_TEST_TMPDIR/token")
	wait_event ".event.action == \"open\" and .process.pid == $(jq .pid <<<"$after")"
	stop_agent
	ev=$(events '.event.action == "health"' | tail -n 1)
	[ "$(field "$ev" .nightjar.health.spool_write_errors)" -gt 0 ]
	run --separate-stderr "$NJ_CTL" read "$STATE_DIR/spool" --json --pid "$(jq .pid <<<"$after")"
	[ "$status" -eq 0 ]
	[ "$(jq -r .event.action <<<"$output" | grep -c open)" -ge 1 ]
	# numbers given to lost records are not reused
	run "$NJ_CTL" read "$STATE_DIR/spool" --json
	[ "$(jq .event.sequence <<<"$output" | sort -n | uniq -d | wc -l)" -eq 0 ]
}

@test "without flags, nightjarctl finds the agent's state directory from its configuration" {
	[ ! -e /etc/nightjar/agent.yaml ] || skip "this host has a real /etc/nightjar/agent.yaml"
	mkdir -p /etc/nightjar
	MADE_CONFIG=1
	printf 'state_dir: %s\n' "$STATE_DIR" >/etc/nightjar/agent.yaml
	start_agent "$BATS_TEST_TMPDIR"
	run "$NJ_CTL" status
	[ "$status" -eq 0 ]
	[[ "$output" == *"spool: $STATE_DIR/spool"* ]]
	stop_agent
	run "$NJ_CTL" read --json --kind health
	[ "$status" -eq 0 ]
	[ "$(jq -r .event.action <<<"$output" | sort -u)" = health ]
}
