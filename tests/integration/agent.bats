#!/usr/bin/env bats
# The agent as a program: configuration errors, its own activity, health counters, loss under
# overload, and a clean stop.

load helpers

setup() {
	requires_root
}

teardown() {
	stop_agent || true
}

nj_programs() {
	bpftool prog show 2>/dev/null | grep -cE ' name nj_' || true
}

@test "a bad key is refused with file, line and what was expected" {
	printf 'output: json\nwatchs:\n  paths: []\n' >"$BATS_TEST_TMPDIR/bad.yaml"
	run "$NJ_AGENT" --config "$BATS_TEST_TMPDIR/bad.yaml"
	[ "$status" -eq 1 ]
	[[ "$output" == *"$BATS_TEST_TMPDIR/bad.yaml:2:1: unknown key 'watchs'"* ]]
	[[ "$output" == *"expected one of"*"watch"* ]]
}

@test "a bad value is refused with its line" {
	printf 'watch:\n  rescan_interval: soon\n' >"$BATS_TEST_TMPDIR/bad.yaml"
	run "$NJ_AGENT" --config "$BATS_TEST_TMPDIR/bad.yaml"
	[ "$status" -eq 1 ]
	[[ "$output" == *"bad.yaml:2:20:"*"rescan_interval"* ]]
}

@test "--check-config accepts the defaults and a good file" {
	run "$NJ_AGENT" --check-config
	[ "$status" -eq 0 ]
	printf 'output: json\nwatch:\n  paths: [~/.config/acme/token]\n' >"$BATS_TEST_TMPDIR/ok.yaml"
	run "$NJ_AGENT" --check-config --config "$BATS_TEST_TMPDIR/ok.yaml"
	[ "$status" -eq 0 ]
	[[ "$output" == *"configuration OK"* ]]
}

@test "bad command-line arguments exit 2 with a reason" {
	run "$NJ_AGENT" --output yaml
	[ "$status" -eq 2 ]
	[[ "$output" == *"unknown format 'yaml'"* ]]
	run "$NJ_AGENT" --log-level loud
	[ "$status" -eq 2 ]
	run "$NJ_AGENT" stray
	[ "$status" -eq 2 ]
	run "$NJ_AGENT" --state-dir relative/dir
	[ "$status" -eq 2 ]
	[[ "$output" == *"--state-dir: expected an absolute directory path"* ]]
}

@test "logs the hook chosen for every capability" {
	start_agent "$BATS_TEST_TMPDIR"
	for cap in process file_open connect listen accept udp_send; do
		grep -q "hook for $cap: " "$AGENT_ERR"
	done
	grep -q 'hook for process: tp_btf/sched_process_exec' "$AGENT_ERR"
	# the choice is made by trying: on this kernel LSM programs are refused
	if ! grep -q 'hook for file_open: lsm/file_open' "$AGENT_ERR"; then
		grep -q 'lsm/file_open not usable' "$AGENT_ERR"
		grep -q 'hook for file_open: tracepoint/syscalls/sys_exit_openat' "$AGENT_ERR"
	fi
}

@test "the agent does not report its own activity" {
	# the agent reads /etc/passwd at every rescan; watch it and rescan every second
	cat >"$BATS_TEST_TMPDIR/agent.yaml" <<-YAML
		watch:
		  paths: [/etc/passwd]
		  rescan_interval: 1s
	YAML
	start_agent "$BATS_TEST_TMPDIR" --config "$BATS_TEST_TMPDIR/agent.yaml"
	sleep 2.5 # at least two rescans
	out=$(python3 "$TRIGGER" open /etc/passwd)
	wait_event ".event.action == \"open\" and .process.pid == $(jq .pid <<<"$out")"
	run events ".process.pid == $AGENT_PID or .process.parent.pid == $AGENT_PID"
	[ -z "$output" ]
}

@test "SIGTERM: exit 0, a final health record, every program detached, no mount left" {
	before=$(nj_programs)
	mounts_before=$(grep -c . /proc/self/mountinfo)
	start_agent "$BATS_TEST_TMPDIR"
	[ "$(nj_programs)" -gt "$before" ]
	kill -TERM "$AGENT_PID"
	wait "$AGENT_PID"
	AGENT_PID=
	ev=$(events '.event.action == "health"' | tail -n 1)
	expect_field "$ev" .event.kind '"metric"'
	expect_field "$ev" .nightjar.health.ringbuf_drops 0
	[ "$(field "$ev" .nightjar.health.records)" -gt 0 ]
	[ "$(nj_programs)" -eq "$before" ]
	[ "$(grep -c . /proc/self/mountinfo)" -eq "$mounts_before" ]
	grep -q 'received Terminated, stopping' "$AGENT_ERR"
}

@test "a flood that overflows the ring buffer is counted, and the agent keeps working" {
	echo x >"$BATS_TEST_TMPDIR/token"
	cat >"$BATS_TEST_TMPDIR/agent.yaml" <<-YAML
		ring_buffer_size: 64KiB
		wakeup_threshold: 32KiB
		watch:
		  paths: [$BATS_TEST_TMPDIR/token]
	YAML
	start_agent "$BATS_TEST_TMPDIR" --config "$BATS_TEST_TMPDIR/agent.yaml"
	# a stopped reader cannot drain: 5,000 opens of ~250-byte records overflow 64 KiB
	kill -STOP "$AGENT_PID"
	python3 "$TRIGGER" flood "$BATS_TEST_TMPDIR/token" 5000 >/dev/null
	kill -CONT "$AGENT_PID"
	# still working: a new open after the flood arrives
	out=$(python3 "$TRIGGER" open "$BATS_TEST_TMPDIR/token")
	wait_event ".event.action == \"open\" and .process.pid == $(jq .pid <<<"$out")"
	stop_agent
	ev=$(events '.event.action == "health"' | tail -n 1)
	drops=$(field "$ev" .nightjar.health.ringbuf_drops)
	seen=$(events '.event.action == "open"' | wc -l)
	[ "$drops" -gt 0 ]
	# every open is either printed or counted as lost, none silently missing
	[ $((seen + drops)) -ge 5001 ]
	grep -q 'records lost because the ring buffer was full' "$AGENT_ERR"
}

@test "text output is one line per event" {
	"$NJ_AGENT" --output text --state-dir "$BATS_TEST_TMPDIR/state" \
		>"$BATS_TEST_TMPDIR/text.out" 2>"$BATS_TEST_TMPDIR/text.err" &
	pid=$!
	retry 300 0.1 grep -q ': ready' "$BATS_TEST_TMPDIR/text.err"
	/bin/true nj-text-marker
	retry 50 0.1 grep -q 'nj-text-marker' "$BATS_TEST_TMPDIR/text.out"
	kill -INT $pid
	wait $pid
	grep -E '^[0-9T:.-]+Z exec +seq=[0-9]+ pid=[0-9]+ ppid=[0-9]+ uid=0 true exe=/usr/bin/true args: /bin/true nj-text-marker$' "$BATS_TEST_TMPDIR/text.out"
}

@test "SIGINT stops the agent even when it was started with SIGINT ignored" {
	# what a shell script's background job inherits
	(
		trap '' INT
		exec "$NJ_AGENT" --state-dir "$BATS_TEST_TMPDIR/state" >/dev/null 2>"$BATS_TEST_TMPDIR/err"
	) &
	pid=$!
	retry 300 0.1 grep -q ': ready' "$BATS_TEST_TMPDIR/err"
	kill -INT "$pid"
	retry 100 0.1 bash -c "! kill -0 $pid 2>/dev/null" || {
		kill -KILL "$pid"
		false
	}
	wait "$pid"
	grep -q 'received Interrupt, stopping' "$BATS_TEST_TMPDIR/err"
}
