# shellcheck shell=bash disable=SC2154  # dir, AGENT, agent_pid...: set by the including script
# lib.sh - what bench/run.sh and bench/compare.sh share: messages, process checks, and waiting
# for the agent to attach and to stop. The including script sets BENCH_NAME (for messages),
# AGENT, READY_TIMEOUT_S, STOP_TIMEOUT_S and dir, and keeps the running agent in agent_pid.

die() {
	echo "$BENCH_NAME: $*" >&2
	exit 1
}

note() {
	echo "$BENCH_NAME: $*" >&2
}

# True while pid runs. kill -0 is not enough: it succeeds on a zombie not yet reaped.
alive() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	[[ ${stat%% *} != Z ]]
}

# gone PID TENTHS: wait up to TENTHS tenths of a second for pid to end; false if it did not.
gone() {
	local i
	for ((i = 0; i < $2; i++)); do
		alive "$1" || return 0
		sleep 0.1
	done
	! alive "$1"
}

# wait_ready CONFIG TAG: the agent just started as agent_pid, logging to $dir/TAG.err; wait
# until it says it is attached, or die with its log.
wait_ready() {
	local config=$1 tag=$2 i rc=0

	for ((i = 0; i < READY_TIMEOUT_S * 10; i++)); do
		grep -qw ready "$dir/$tag.err" && return 0
		if ! alive "$agent_pid"; then
			wait "$agent_pid" || rc=$?
			agent_pid=""
			cat "$dir/$tag.err" >&2
			die "$AGENT ($config) exited with status $rc before it was ready"
		fi
		sleep 0.1
	done
	cat "$dir/$tag.err" >&2
	die "$AGENT ($config) not ready after ${READY_TIMEOUT_S}s"
}

# halt_agent CONFIG TAG: stop the agent as an operator would (SIGINT), so it drains the ring
# and writes its final health record. Dies if it was already dead (the figures are void) or
# does not stop; its exit status is left in agent_rc.
halt_agent() {
	local config=$1 tag=$2

	agent_rc=0
	if ! alive "$agent_pid"; then
		wait "$agent_pid" || agent_rc=$?
		agent_pid=""
		cat "$dir/$tag.err" >&2
		die "$AGENT ($config) died during the workloads (status $agent_rc): figures are void"
	fi
	kill -INT "$agent_pid"
	if ! gone "$agent_pid" $((STOP_TIMEOUT_S * 10)); then
		cat "$dir/$tag.err" >&2
		die "$AGENT ($config) still running ${STOP_TIMEOUT_S}s after SIGINT"
	fi
	wait "$agent_pid" || agent_rc=$?
	agent_pid=""
}
