#!/bin/bash
# measure-caps.sh - which capabilities does nightjar-agent need? Measured, not guessed.
#
# Runs the real agent as root with a reduced capability bounding set (what systemd's
# CapabilityBoundingSet= does to a root service), once with every candidate capability and
# then once without each of them, and reports what broke. Then the same for the permission
# checks the agent makes at start outside bpf() (reading another user's /proc/PID/exe,
# stat in a 0700 home), run as a probe under the same set.
#
#   usage (as root, from the repository): packaging/measure-caps.sh [AGENT]
# Prints a markdown table (docs/hardening.md holds the result). Loads BPF: run it under
# flock /tmp/nightjar-bats.lock.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
agent=${1:-$top/.output/nightjar-agent}
trigger=$top/tests/integration/trigger.py
# CAPS: the candidate set; each row drops one of them. CAP_SYS_ADMIN covers CAP_BPF and
# CAP_PERFMON and CAP_DAC_OVERRIDE covers CAP_DAC_READ_SEARCH, so a set holding both hides the
# need for the smaller one: measure with and without the broad ones.
read -r -a CANDIDATES <<<"${CAPS:-sys_admin bpf perfmon net_admin dac_read_search sys_ptrace}"

# SYSTEMD_MOUNTS=1: tracefs and securityfs mounted where systemd mounts them at boot (in a
# mount namespace of this script, so the host is untouched); the agent then needs no mount
# of its own.
if [ "${SYSTEMD_MOUNTS:-0}" = 1 ] && [ -z "${NJ_CAPS_INNER:-}" ]; then
	exec env NJ_CAPS_INNER=1 unshare -m --propagation slave -- "$0" "$@"
fi
if [ -n "${NJ_CAPS_INNER:-}" ]; then
	mountpoint -q /sys/kernel/tracing || mount -t tracefs tracefs /sys/kernel/tracing
	mountpoint -q /sys/kernel/security || mount -t securityfs securityfs /sys/kernel/security
fi

work=$(mktemp -d /tmp/nj-caps.XXXXXX)
# a home the agent must stat through: 0700, owned by another user
home=/home/nj-capprobe-$$
cleanup() {
	[ -n "${pid:-}" ] && kill -INT "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	kill "$root_pid" "$user_pid" 2>/dev/null
	rm -rf "$work" "$home"
}
trap cleanup EXIT
sleep 600 &
root_pid=$!
setpriv --reuid=nobody --regid=nogroup --clear-groups sleep 600 &
user_pid=$!
mkdir -p "$home/.aws"
echo '[default]' >"$home/.aws/credentials"
chown -R nobody:nogroup "$home"
chmod 0700 "$home"

bounding() { # bounding SET: "-all,+a,+b"
	local s=-all c
	for c in "$@"; do s="$s,+$c"; done
	echo "$s"
}

# run_agent CAP...: start the agent with only these capabilities, check that it loads, sees an
# exec, a connect, an unconnected UDP send (cgroup program) and knows the 0700 home's file by
# identity. Prints "ok" or what failed.
run_agent() {
	local set d=$work/run i
	set=$(bounding "$@")
	rm -rf "$d" && mkdir -p "$d"
	setpriv --bounding-set "$set" --inh-caps=-all -- \
		"$agent" --output json --state-dir "$d/state" --log-level info \
		>"$d/out" 2>"$d/err" &
	pid=$!
	for i in $(seq 100); do
		grep -q ': ready' "$d/err" && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if ! grep -q ': ready' "$d/err"; then
		wait "$pid" 2>/dev/null || true
		pid=
		grep -m1 ': error: ' "$d/err" | sed 's/^nightjar-agent: //' || echo "no ready line"
		return
	fi
	local fails=()
	grep -q "watched files by identity" "$d/err"
	local ident
	ident=$(sed -n 's/.* \([0-9]*\) watched files by identity.*/\1/p' "$d/err")
	grep -q 'hook for udp_send: cgroup/' "$d/err" ||
		fails+=("udp_send: $(grep -m1 -E 'cgroup/sendmsg4' "$d/err" | sed 's/^nightjar-agent: //')")
	/bin/true
	python3 "$trigger" tcp 127.0.0.1 >/dev/null
	python3 "$trigger" udp 127.0.0.1 9 10 >/dev/null 2>&1 || true
	sleep 0.5
	kill -INT "$pid"
	wait "$pid" || fails+=("exit status $?")
	pid=
	grep -q '"action":"exec"' "$d/out" || fails+=("no exec event")
	grep -q '"action":"connect"' "$d/out" || fails+=("no connect event")
	grep -q '"action":"udp_send"' "$d/out" || fails+=("no UDP send event")
	echo "identity=$ident ${fails[*]:-}"
}

# probe CAP...: the agent's start-up permission checks outside bpf(), as root under the set:
# the snapshot reads /proc/PID/exe of every process (here a full-capability root process and
# another user's), and the watch expansion stats files in 0700 homes
probe() {
	local set out=() t
	set=$(bounding "$@")
	for t in "$root_pid" "$user_pid"; do
		setpriv --bounding-set "$set" --inh-caps=-all -- readlink "/proc/$t/exe" \
			>/dev/null 2>&1 || out+=("readlink /proc/PID/exe of $(ps -o user= -p "$t") fails")
	done
	setpriv --bounding-set "$set" --inh-caps=-all -- stat "$home/.aws/credentials" \
		>/dev/null 2>"$work/stat.err" || out+=("$(head -n 1 "$work/stat.err")")
	echo "${out[*]:-ok}"
}

echo "| capabilities (SYSTEMD_MOUNTS=${SYSTEMD_MOUNTS:-0}) | agent | start-up probes |"
echo "|---|---|---|"
echo "| ${CANDIDATES[*]} | $(run_agent "${CANDIDATES[@]}") | $(probe "${CANDIDATES[@]}") |"
for drop in "${CANDIDATES[@]}"; do
	rest=()
	for c in "${CANDIDATES[@]}"; do [ "$c" = "$drop" ] || rest+=("$c"); done
	echo "| without $drop | $(run_agent "${rest[@]}") | $(probe "${rest[@]}") |"
done
if [ -n "${KEEP:-}" ]; then
	read -r -a keep <<<"$KEEP"
	echo "| only $KEEP | $(run_agent "${keep[@]}") | $(probe "${keep[@]}") |"
fi
