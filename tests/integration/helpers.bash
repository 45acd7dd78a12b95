# helpers.bash - shared by the integration tests: start the real agent, wait for events,
# compare fields. Every test that loads BPF needs root; each file runs one agent.

NJ_TOP="$(cd "$BATS_TEST_DIRNAME/../.." && pwd)"
NJ_AGENT="${NJ_AGENT:-$NJ_TOP/.output/nightjar-agent}"
NJ_CTL="${NJ_CTL:-$NJ_TOP/.output/nightjarctl}"
TRIGGER="$BATS_TEST_DIRNAME/trigger.py"

requires_root() {
	[ "$(id -u)" -eq 0 ] || skip "needs root to load BPF programs"
}

# retry N DELAY CMD...: run CMD until it succeeds, at most N times
retry() {
	local n=$1 delay=$2 i
	shift 2
	for ((i = 0; i < n; i++)); do
		"$@" && return 0
		sleep "$delay"
	done
	return 1
}

# start_agent DIR [ARGS...]: run the agent in the background with JSON output in DIR, wait
# until it is attached. Sets AGENT_PID, AGENT_OUT, AGENT_ERR.
start_agent() {
	local dir=$1
	shift
	AGENT_OUT="$dir/events.json"
	AGENT_ERR="$dir/agent.log"
	# each test's own state: its spool, never the host's /var/lib/nightjar
	STATE_DIR="${STATE_DIR:-$dir/state}"
	export STATE_DIR
	# fd 3 closed: an agent a failed test leaves behind must not keep bats waiting on it
	"$NJ_AGENT" --output json --state-dir "$STATE_DIR" "$@" >"$AGENT_OUT" 2>"$AGENT_ERR" 3>&- &
	AGENT_PID=$!
	export AGENT_PID AGENT_OUT AGENT_ERR
	if ! retry 300 0.1 grep -q ': ready' "$AGENT_ERR"; then
		echo "agent did not become ready:" >&2
		cat "$AGENT_ERR" >&2
		return 1
	fi
}

# stop_agent: SIGINT, wait, and return the agent's exit status
stop_agent() {
	local rc=0
	[ -n "${AGENT_PID:-}" ] || return 0
	kill -INT "$AGENT_PID" 2>/dev/null || true
	wait "$AGENT_PID" 2>/dev/null || rc=$?
	# wait cannot reap a process started by setup_file in another shell: poll for it
	retry 100 0.1 bash -c "! kill -0 $AGENT_PID 2>/dev/null" || {
		kill -KILL "$AGENT_PID" 2>/dev/null
		rc=137
	}
	AGENT_PID=
	return $rc
}

# events FILTER: every event matching a jq boolean expression, one per line
events() {
	jq -c "select($1)" "$AGENT_OUT" 2>/dev/null
}

has_event() {
	[ -n "$(events "$1" | head -n 1)" ]
}

# wait_event FILTER: wait (up to 10 s) for a matching event and print the first one. The agent
# flushes at least every 100 ms, so a long wait means the event is missing.
wait_event() {
	if ! retry 100 0.1 has_event "$1"; then
		echo "no event matched: $1" >&2
		echo "last events:" >&2
		tail -n 3 "$AGENT_OUT" | cut -c 1-400 >&2
		return 1
	fi
	events "$1" | head -n 1
}

# field JSON PATH: one field of an event, compact JSON
field() {
	jq -c "$2" <<<"$1"
}

# expect_field JSON PATH EXPECTED: compare, and show both on failure
expect_field() {
	local got
	got=$(jq -c "$2" <<<"$1")
	if [ "$got" != "$3" ]; then
		echo "field $2: expected $3, got $got" >&2
		echo "event: $1" >&2
		return 1
	fi
}
