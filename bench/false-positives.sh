#!/bin/bash
# False positives: run the agent on its default configuration and rules while this machine
# does ordinary work, and count the alerts that work raised. The target is zero.
#
#   bench/false-positives.sh [--quick]
#
# Work, each in its own shell so its alerts can be told apart from anything else running:
#   build   - a clean build of this repository (make clean all) in a copy
#   package - apt-get install --reinstall of a small package (downloads and runs dpkg)
#   shell   - everyday shell use: ls, grep, find in /etc, git log/status, ssh -V, curl and
#             python3 against a loopback web server, tar of /etc/skel, ps, df, man
# --quick skips the build. Prints a markdown table and writes bench/results/false-positives.md.
# Run as root from the repository top.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
agent="$top/.output/nightjar-agent"
quick=0
[ "${1:-}" = "--quick" ] && quick=1
[ "$(id -u)" -eq 0 ] || { echo "false-positives.sh: run as root" >&2; exit 1; }
[ -x "$agent" ] || { echo "false-positives.sh: build first (make)" >&2; exit 1; }

dir=$(mktemp -d /tmp/nj-fp.XXXXXX)
agent_pid=
http_pid=
cleanup() {
	[ -n "$agent_pid" ] && kill -INT "$agent_pid" 2>/dev/null && wait "$agent_pid" 2>/dev/null
	[ -n "$http_pid" ] && kill "$http_pid" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT

# the embedded defaults: no configuration file, the built-in rules, a private state dir
"$agent" --config /dev/null --output json --state-dir "$dir/state" >"$dir/events.json" \
	2>"$dir/agent.log" &
agent_pid=$!
for _ in $(seq 300); do grep -q ': ready' "$dir/agent.log" && break; sleep 0.1; done
grep -q ': ready' "$dir/agent.log" || { cat "$dir/agent.log" >&2; exit 1; }

# run NAME CMD...: run a workload in a shell of its own, remember that shell's pid
declare -A roots
run() {
	local name=$1
	shift
	bash -c 'echo $$ >"$1"; shift; "$@"' _ "$dir/$name.pid" "$@" >"$dir/$name.log" 2>&1 ||
		echo "false-positives.sh: workload $name failed (see above); counting anyway" >&2
	roots[$name]=$(cat "$dir/$name.pid")
}

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 -m http.server --bind 127.0.0.1 "$port" --directory "$dir" >/dev/null 2>&1 &
http_pid=$!

shell_work() {
	ls -la /etc >/dev/null
	grep -r root /etc/passwd /etc/group >/dev/null
	find /etc -name '*.conf' -newer /etc/hostname >/dev/null 2>&1 || true
	git -C "$top" log --oneline -20 >/dev/null
	git -C "$top" status --short >/dev/null
	ssh -V 2>/dev/null
	sleep 0.5
	curl -s -o /dev/null "http://127.0.0.1:$port/"
	python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/').read()"
	tar -C /etc -cf - skel | wc -c >/dev/null
	ps aux >/dev/null
	df -h >/dev/null
	man -w ls >/dev/null 2>&1 || true
	id; whoami; hostname; date
}
export -f shell_work
export top port

start=$(date +%s)
run shell bash -c shell_work
run package apt-get install --reinstall -y -qq hostname
if [ "$quick" -eq 0 ]; then
	git -C "$top" worktree add -q --detach "$dir/src" HEAD
	run build make -C "$dir/src" -j2 all
	git -C "$top" worktree remove --force "$dir/src"
fi
elapsed=$(($(date +%s) - start))
sleep 1 # the last records drain on the next flush

# an alert belongs to a workload when the workload's shell is the process, its parent or an
# ancestor
count() {
	jq -c --argjson r "$1" 'select(.event.kind == "alert") |
		select(.process.pid == $r or .process.parent.pid == $r or
		       ([.nightjar.ancestry[]?.pid] | index($r)))' "$dir/events.json" | wc -l
}
events=$(wc -l <"$dir/events.json")
report="bench/results/false-positives.md"
mkdir -p "$(dirname "$report")"
{
	echo "| work | alerts |"
	echo "|---|---:|"
	total=0
	for name in shell package build; do
		[ -n "${roots[$name]:-}" ] || continue
		n=$(count "${roots[$name]}")
		total=$((total + n))
		echo "| $name | $n |"
	done
	echo "| **all** | **$total** |"
	echo
	echo "$events records in ${elapsed} s; agent on its embedded defaults ($(grep -o 'detection: .*' "$dir/agent.log"))."
} | tee "$top/$report"
# show what fired, if anything, so a false positive can be fixed
for name in "${!roots[@]}"; do
	jq -r --argjson r "${roots[$name]}" 'select(.event.kind == "alert") |
		select(.process.pid == $r or .process.parent.pid == $r or
		       ([.nightjar.ancestry[]?.pid] | index($r))) | "  \(.rule.id): \(.message)"' \
		"$dir/events.json"
done
