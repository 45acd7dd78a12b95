#!/usr/bin/env bats
# bench/compare.sh end to end, on tiny settings: it starts the real agent and the real auditd,
# prints every row of its report, and leaves the host's audit state as it found it, also when
# it fails half-way. The figures of such a short run mean nothing and are not checked.

load helpers

bats_require_minimum_version 1.5.0

setup() {
	requires_root
	command -v auditctl >/dev/null || skip "auditd is not installed (scripts/deps.sh installs it)"
	[ "$(auditctl -s | awk '$1 == "pid" { print $2 }')" = 0 ] ||
		skip "auditd already runs on this host: compare.sh needs the audit subsystem to itself"
	[ "$(auditctl -l)" = "No rules" ] || skip "audit rules are loaded on this host"
	AUDIT_BEFORE=$(auditctl -s | grep -Ev '^(lost|backlog|backlog_wait_time_actual) ')
	BPF_STATS_BEFORE=$(cat /proc/sys/kernel/bpf_stats_enabled)
	AGENTS_BEFORE=$(pgrep -x nightjar-agent || true)
	cd "$NJ_TOP" || return 1
}

# The audit state compare.sh touches is back as it was, and nothing it started still runs.
audit_as_found() {
	[ "$(auditctl -l)" = "No rules" ]
	[ "$(auditctl -s | grep -Ev '^(lost|backlog|backlog_wait_time_actual) ')" = "$AUDIT_BEFORE" ]
	[ "$(cat /proc/sys/kernel/bpf_stats_enabled)" = "$BPF_STATS_BEFORE" ]
	# a bare `! cmd` would not fail the test: bats ignores its status
	[ -z "$(pgrep -x auditd)" ]
	[ "$(pgrep -x nightjar-agent || true)" = "$AGENTS_BEFORE" ]
}

@test "compare.sh: a short run reports every workload and monitor, then restores the audit state" {
	run env ROUNDS=1 ITERS_OPEN=2000 ITERS_EXEC=5 ITERS_CONNECT=100 RATES="100 400" \
		RATE_SECONDS=1 RESULTS="$BATS_TEST_TMPDIR/compare.md" bench/compare.sh
	echo "$output"
	[ "$status" -eq 0 ]
	for w in "open+close, unwatched file" "open+close, watched file" "fork + exec + wait" \
		"loopback TCP connect + accept"; do
		for m in none floor nightjar auditd; do
			grep -qF "| $w | $m | " "$BATS_TEST_TMPDIR/compare.md"
		done
	done
	for rate in 100 400; do
		for m in none floor nightjar auditd; do
			grep -qE "^\| $rate \| $m \| [0-9,]+ \|" "$BATS_TEST_TMPDIR/compare.md"
		done
	done
	# both monitors did work the CPU column saw: a zero would mean the sampling is broken
	grep -E '^\| open\+close, watched file \| (nightjar|auditd) \| ' "$BATS_TEST_TMPDIR/compare.md" |
		awk -F'|' '{ gsub(/ /, "", $6); if ($6 + 0 <= 0) exit 1 }'
	grep -q '^Targets:' "$BATS_TEST_TMPDIR/compare.md"
	audit_as_found
}

@test "compare.sh: a workload that fails with auditd running still stops it and deletes its rules" {
	# the driver fails at the preflight, after auditd is started and its rules are loaded
	run env ROUNDS=1 NIGHTJAR_BENCH=/bin/false RESULTS="$BATS_TEST_TMPDIR/compare.md" \
		bench/compare.sh
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"preflight: auditd"* ]]
	[ ! -e "$BATS_TEST_TMPDIR/compare.md" ]
	audit_as_found
}
