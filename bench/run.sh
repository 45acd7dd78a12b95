#!/usr/bin/env bash
# run.sh - Nightjar overhead benchmark: the same workloads with no agent (none), with every BPF
# program attached but returning at once (floor, --hooks-only), and with the agent on its
# defaults plus one watched file (agent). Configurations are interleaved within each round so
# the VM's slow drift hits all three alike. Prints a markdown report and writes it to
# bench/results/latest.md. Run as root; `make bench` builds first. See bench/README.md.
set -euo pipefail

ROUNDS=${ROUNDS:-5}
ITERS_OPEN=${ITERS_OPEN:-200000}
ITERS_EXEC=${ITERS_EXEC:-300}
ITERS_CONNECT=${ITERS_CONNECT:-5000}
EXEC_RATE=${EXEC_RATE:-2000}
EXEC_SECONDS=${EXEC_SECONDS:-5}
# Binaries; overridable to try run.sh against another build.
AGENT=${NIGHTJAR_AGENT:-.output/nightjar-agent}
BENCH=${NIGHTJAR_BENCH:-.output/nightjar-bench}
RESULTS=bench/results/latest.md
READY_TIMEOUT_S=30
STOP_TIMEOUT_S=60 # the agent writes out everything still in the ring before it exits

CONFIGS=(none floor agent)

BENCH_NAME=run.sh
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

for var in ROUNDS ITERS_OPEN ITERS_EXEC ITERS_CONNECT EXEC_RATE EXEC_SECONDS; do
	[[ ${!var} =~ ^[1-9][0-9]*$ ]] || die "$var='${!var}' is not a positive integer"
done
[[ $EUID -eq 0 ]] || die "must run as root: the agent loads BPF programs"
[[ -f bench/run.sh && -f Makefile ]] || die "run from the repository top: bench/run.sh"
[[ -x $BENCH ]] || die "$BENCH not found: run 'make bench' (or 'make' first)"
[[ -x $AGENT ]] || die "$AGENT not found: run 'make bench' (or 'make' first)"
command -v python3 >/dev/null || die "python3 not found: it computes the medians"
# Running agents this script did not start (a test elsewhere on a shared machine), one line
# each. They see our workloads too, so they must not overlap a run.
foreign_agents() {
	local pid
	for pid in $(pgrep -x nightjar-agent); do
		[[ $pid != "${agent_pid:-}" ]] && alive "$pid" && echo "$pid"
	done
	return 0
}

# Give a short-lived one a while to finish before starting.
for ((i = 0; ; i++)); do
	others=$(foreign_agents)
	[[ -n $others ]] || break
	((i < 60)) || die "nightjar-agent already running (pid ${others//$'\n'/ }): stop it first"
	if ((i == 0)); then
		note "waiting up to 30s for nightjar-agent (pid ${others//$'\n'/ }) to exit"
	fi
	sleep 0.5
done

agent_pid=""
dir=$(mktemp -d /tmp/nightjar-bench.XXXXXX)

cleanup() {
	local rc=$?
	if [[ -n $agent_pid ]]; then
		kill -INT "$agent_pid" 2>/dev/null || true
		gone "$agent_pid" 50 || kill -KILL "$agent_pid" 2>/dev/null || true
		wait "$agent_pid" 2>/dev/null || true
	fi
	rm -rf "$dir"
	exit "$rc"
}
trap cleanup EXIT
# Turn signals into an exit so the EXIT trap stops the agent.
trap 'exit 130' INT
trap 'exit 143' TERM

unwatched=$dir/ordinary-file # same path length as the watched file: equal path-walk cost
watched=$dir/watched-token
cfg=$dir/agent.yaml
echo "not a secret" >"$unwatched"
echo "pretend secret" >"$watched"
cat >"$cfg" <<EOF
watch:
  paths:
    - $watched
EOF
: >"$dir/results.csv"
: >"$dir/health.csv"

# start_agent CONFIG TAG: start the agent for CONFIG (floor or agent) and wait until it says
# it is attached. Its stdout (events) and stderr (logs) go to $dir/TAG.json and $dir/TAG.err.
start_agent() {
	local config=$1 tag=$2
	local flags=()

	[[ $config == floor ]] && flags=(--hooks-only)
	# Background commands of a non-interactive shell start with SIGINT ignored; reset it so
	# the kill -INT that stops the agent reaches it whatever way it handles signals.
	# a state directory per run: the spool is part of what the agent costs, and the host's
	# /var/lib/nightjar is left alone
	env --default-signal=INT "$AGENT" "${flags[@]}" --config "$cfg" --output json \
		--state-dir "$dir/state-$tag" >"$dir/$tag.json" 2>"$dir/$tag.err" &
	agent_pid=$!
	wait_ready "$config" "$tag"
}

# stop_agent CONFIG TAG: stop the agent as an operator would (SIGINT), so it drains the ring
# and writes its final health record.
stop_agent() {
	local config=$1 tag=$2

	halt_agent "$config" "$tag"
	if ((agent_rc != 0)); then
		tail -n 20 "$dir/$tag.err" >&2
		note "warning: $AGENT ($config) exited with status $agent_rc after SIGINT"
	fi
}

# health ROUND CONFIG TAG [BENCH_PID]: append the run's final health counters to health.csv
# (with BENCH_PID, also exec events, those whose parent is BENCH_PID, lines and invalid lines),
# then drop the event file (a round writes hundreds of MB of watched-open events).
health() {
	local round=$1 config=$2 tag=$3 bench_pid=${4:-0}

	python3 - "$dir/$tag.json" "$bench_pid" "$round" "$config" >>"$dir/health.csv" <<'EOF'
import json, sys

path, bench_pid, round_, config = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]

def get(obj, key):
    """Field by ECS dotted name, whether the JSON nests it or spells it flat."""
    if not isinstance(obj, dict):
        return None
    if key in obj:
        return obj[key]
    parts = key.split(".")
    for i in range(1, len(parts)):
        head = ".".join(parts[:i])
        if head in obj:
            found = get(obj[head], ".".join(parts[i:]))
            if found is not None:
                return found
    return None

last_health, lines, execs, bench_execs, bad = None, 0, 0, 0, 0
with open(path, "rb") as f:
    for line in f:
        lines += 1
        # A round holds ~10^5 open events: there, decode only the lines that can matter.
        # The exec_rate run is small, so every line is checked as JSON.
        if not bench_pid and b'"health"' not in line:
            continue
        try:
            ev = json.loads(line)
        except ValueError:
            bad += 1
            continue
        action = get(ev, "event.action")
        if action == "health":
            last_health = ev
        elif action == "exec":
            execs += 1
            if str(get(ev, "process.parent.pid")) == str(bench_pid):
                bench_execs += 1

def counter(name):
    v = get(last_health, "nightjar.health." + name) if last_health else None
    return "" if v is None else str(v)

if bad:
    print(f"run.sh: warning: {bad} lines of {config} output (round {round_}) are not valid JSON",
          file=sys.stderr)
exec_cols = [str(execs), str(bench_execs), str(lines), str(bad)] if bench_pid else [""] * 4
print(",".join([round_, config, counter("records"), counter("ringbuf_drops")] + exec_cols))
EOF
	rm -f "$dir/$tag.json"
}

# Counted and flagged in the report when one appears during a run.
foreign_runs=0
check_foreign() {
	local pids
	pids=$(foreign_agents)
	[[ -n $pids ]] || return 0
	foreign_runs=$((foreign_runs + 1))
	note "warning: another nightjar-agent is running (pid ${pids//$'\n'/ }): $1 figures are skewed"
}

# run_workloads ROUND CONFIG: run every timed workload once, appending to results.csv.
run_workloads() {
	local round=$1 config=$2 line w

	check_foreign "round $round $config"
	for w in open_unwatched open_watched fork_exec connect; do
		case $w in
		open_unwatched) line=$("$BENCH" "$w" "$unwatched" "$ITERS_OPEN") ;;
		open_watched) line=$("$BENCH" "$w" "$watched" "$ITERS_OPEN") ;;
		fork_exec) line=$("$BENCH" "$w" "$ITERS_EXEC") ;;
		connect) line=$("$BENCH" "$w" "$ITERS_CONNECT") ;;
		esac
		[[ $line =~ ns_per_op=([0-9]+) ]] || die "unexpected output from $BENCH $w: '$line'"
		echo "$round,$config,$w,${BASH_REMATCH[1]}" >>"$dir/results.csv"
	done
	check_foreign "round $round $config"
}

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
t_start=$SECONDS
for ((r = 1; r <= ROUNDS; r++)); do
	# Rotate the order by one each round: no configuration always runs first or last.
	for ((k = 0; k < ${#CONFIGS[@]}; k++)); do
		config=${CONFIGS[((r - 1 + k) % ${#CONFIGS[@]})]}
		note "round $r/$ROUNDS: $config"
		tag=$config.$r
		if [[ $config != none ]]; then
			start_agent "$config" "$tag"
		fi
		run_workloads "$r" "$config"
		if [[ $config != none ]]; then
			stop_agent "$config" "$tag"
			health "$r" "$config" "$tag"
		fi
	done
done

# The exec load runs once, against the full agent alone: the question is whether its ring
# keeps up, not what it costs.
note "exec_rate: $EXEC_RATE execs/s for ${EXEC_SECONDS}s under the agent"
start_agent agent exec_rate
check_foreign exec_rate
line=$("$BENCH" exec_rate "$EXEC_RATE" "$EXEC_SECONDS")
check_foreign exec_rate
stop_agent agent exec_rate
[[ $line =~ achieved=([0-9]+).*execs=([0-9]+).*pid=([0-9]+) ]] ||
	die "unexpected output from $BENCH exec_rate: '$line'"
exec_achieved=${BASH_REMATCH[1]}
exec_count=${BASH_REMATCH[2]}
health exec_rate agent exec_rate "${BASH_REMATCH[3]}"
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

mkdir -p "$(dirname "$RESULTS")"
NB_DATE=$(date -u +%Y-%m-%dT%H:%M:%SZ)
NB_KERNEL=$(uname -r)
NB_CPU="$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1) × $(nproc)"
NB_LOAD="$load_start at start, $load_end at end"
NB_ELAPSED=$((SECONDS - t_start))
export ROUNDS ITERS_OPEN ITERS_EXEC ITERS_CONNECT EXEC_RATE EXEC_SECONDS
export NB_DATE NB_KERNEL NB_CPU NB_LOAD NB_ELAPSED exec_achieved exec_count foreign_runs
python3 - "$dir/results.csv" "$dir/health.csv" >"$dir/report.md" <<'EOF'
import csv, os, statistics, sys

env = os.environ
WORKLOADS = ["open_unwatched", "open_watched", "fork_exec", "connect"]
CONFIGS = ["none", "floor", "agent"]
# Printed next to the figures, not enforced: the ratio they apply to and its limit.
TARGETS = {
    "open_unwatched": ("floor", 1.05),
    "open_watched": ("none", 1.30),
    "fork_exec": ("none", 1.05),
    "connect": ("none", 1.05),
}

ns = {}  # (workload, config) -> {round: ns/op}
for rnd, config, workload, value in csv.reader(open(sys.argv[1])):
    ns.setdefault((workload, config), {})[int(rnd)] = int(value)
health = list(csv.reader(open(sys.argv[2])))

def median(values):
    return statistics.median(values) if values else None

def paired(workload, base):
    """Median over rounds of agent / base measured in the same round: cancels slow drift."""
    a, b = ns.get((workload, "agent"), {}), ns.get((workload, base), {})
    return median([a[r] / b[r] for r in a if r in b])

def ratio(x):
    return "n/a" if x is None else f"{x:.2f}×"

def num(x):
    return "n/a" if x is None else f"{x:.0f}"

print("# Nightjar overhead benchmark")
print()
print(f"- {env['NB_DATE']}, kernel {env['NB_KERNEL']}, CPU {env['NB_CPU']}")
rounds = "1 round" if env["ROUNDS"] == "1" else f"{env['ROUNDS']} interleaved rounds"
print(f"- {rounds} of none / floor / agent; iterations per run: "
      f"open {env['ITERS_OPEN']}, fork_exec {env['ITERS_EXEC']}, "
      f"connect {env['ITERS_CONNECT']}; {env['NB_ELAPSED']} s in all")
print(f"- load average (1, 5, 15 min): {env['NB_LOAD']}")
if env["foreign_runs"] != "0":
    print(f"- **warning:** another nightjar-agent ran during {env['foreign_runs']} check(s) "
          "before or after a run: those figures include its overhead")
print()
print("Medians over rounds. Each ratio is the ratio of the medians, then (paired) the median of "
      "the ratios within each round. floor = every BPF program attached, returning at once.")
print()
print("| workload | none ns/op | floor ns/op | agent ns/op | agent/floor | agent/none | target |")
print("|---|---:|---:|---:|---:|---:|---|")
for w in WORKLOADS:
    m = {c: median(list(ns.get((w, c), {}).values())) for c in CONFIGS}
    cells, pair = [], {}
    for base in ("floor", "none"):
        whole = m["agent"] / m[base] if m["agent"] is not None and m[base] else None
        pair[base] = paired(w, base)
        cells.append(f"{ratio(whole)} (paired {ratio(pair[base])})")
    base, limit = TARGETS[w]
    got = pair[base]
    verdict = "n/a" if got is None else ("met" if got <= limit else "over")
    print(f"| {w} | {num(m['none'])} | {num(m['floor'])} | {num(m['agent'])} | "
          f"{cells[0]} | {cells[1]} | agent/{base} ≤ {limit:.2f}×: {verdict} |")
print()
print("Spread, and the cost each configuration adds to none's median:")
print()
print("| workload | config | n | median ns/op | min–max | added ns/op |")
print("|---|---|---:|---:|---|---:|")
for w in WORKLOADS:
    none = median(list(ns.get((w, "none"), {}).values()))
    for c in CONFIGS:
        v = list(ns.get((w, c), {}).values())
        if v:
            added = "n/a" if none is None else f"{median(v) - none:+.0f}"
            print(f"| {w} | {c} | {len(v)} | {median(v):.0f} | {min(v)}–{max(v)} | {added} |")
print()

def ints(rows, col):
    return [int(r[col]) for r in rows if r[col] != ""]

for config in ("floor", "agent"):
    rows = [h for h in health if h[0] != "exec_rate" and h[1] == config]
    rec, drops = ints(rows, 2), ints(rows, 3)
    line = (f"- {config} runs: records {min(rec)}–{max(rec)} per run, "
            f"ringbuf_drops {sum(drops)} in all" if rec else
            f"- {config} runs: no final health record")
    if rec and len(rec) < len(rows):
        line += f" ({len(rows) - len(rec)} run(s) had no final health record)"
    print(line)

rate, achieved = int(env["EXEC_RATE"]), int(env["exec_achieved"])
row = next(h for h in health if h[0] == "exec_rate")
records, drops, execs, bench_execs, lines, bad = (v if v != "" else "n/a" for v in row[2:8])
verdict = "n/a" if drops == "n/a" else ("met" if drops == "0" else "over")
print(f"- exec_rate (agent): achieved {achieved} execs/s, target {rate}, over "
      f"{env['EXEC_SECONDS']} s ({env['exec_count']} execs); records {records}, "
      f"ringbuf_drops {drops} (target 0: {verdict}); exec events {execs}, "
      f"{bench_execs} of them children of nightjar-bench")
if bad not in ("0", "n/a"):
    print(f"  - {bad} of the agent's {lines} output lines are not valid JSON: events among them "
          "are missing from the exec counts")
if achieved < rate * 0.95:
    print(f"  - below the target: nightjar-bench could not fork+exec /bin/true {rate} times a "
          f"second here, so the drop count answers for {achieved} execs/s only")
EOF
cp "$dir/report.md" "$RESULTS.tmp"
mv "$RESULTS.tmp" "$RESULTS"
cat "$dir/report.md"
note "written to $RESULTS"
