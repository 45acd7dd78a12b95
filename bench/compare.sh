#!/usr/bin/env bash
# compare.sh - Nightjar against auditd on the same work. Four configurations, interleaved in
# each round on one machine: no monitor (none), every Nightjar program attached but returning
# at once (floor), the Nightjar agent on its embedded defaults (nightjar), and Debian's auditd
# with rules for the same work, writing its log (auditd). Each runs the four timed workloads,
# then a steady exec load at each rate of RATES, while the monitor's CPU and drops are
# sampled. Prints a markdown report and writes it to bench/results/compare.md, with the raw
# per-run figures in bench/results/compare.csv. Run as root
# from the repository top; `make bench-compare` builds first. See bench/README.md.
set -euo pipefail

ROUNDS=${ROUNDS:-7}
ITERS_OPEN=${ITERS_OPEN:-100000}
ITERS_EXEC=${ITERS_EXEC:-300}
ITERS_CONNECT=${ITERS_CONNECT:-5000}
RATES=${RATES:-100 400 1600}
RATE_SECONDS=${RATE_SECONDS:-6}
RATE_WORKERS=${RATE_WORKERS:-2}
# A file both monitors watch by default, and an unwatched one in the same directory with a name
# of the same length: the same path walk.
WATCHED=${WATCHED:-/etc/shadow}
UNWATCHED=${UNWATCHED:-/etc/passwd}
AGENT=${NIGHTJAR_AGENT:-.output/nightjar-agent}
BENCH=${NIGHTJAR_BENCH:-.output/nightjar-bench}
CTL=${NIGHTJARCTL:-.output/nightjarctl}
TRUE_BIN=${NIGHTJAR_TRUE:-.output/nightjar-true}
RESULTS=${RESULTS:-bench/results/compare.md}
READY_TIMEOUT_S=30
STOP_TIMEOUT_S=60 # the agent writes out everything still in the ring before it exits
AUDIT_LOG=/var/log/audit/audit.log # auditd.conf's log_file on Debian

CONFIGS=(none floor nightjar auditd)

BENCH_NAME=compare.sh
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

for var in ROUNDS ITERS_OPEN ITERS_EXEC ITERS_CONNECT RATE_SECONDS RATE_WORKERS; do
	[[ ${!var} =~ ^[1-9][0-9]*$ ]] || die "$var='${!var}' is not a positive integer"
done
for rate in $RATES; do
	[[ $rate =~ ^[1-9][0-9]*$ ]] || die "RATES: '$rate' is not a positive integer"
done
[[ $EUID -eq 0 ]] || die "must run as root: it loads BPF programs and audit rules"
[[ -f bench/compare.sh && -f Makefile ]] || die "run from the repository top: bench/compare.sh"
for bin in "$AGENT" "$BENCH" "$CTL" "$TRUE_BIN"; do
	[[ -x $bin ]] || die "$bin not found: run 'make bench-compare' (or 'make' first)"
done
for f in "$WATCHED" "$UNWATCHED"; do
	[[ -r $f ]] || die "$f: not a readable file (set WATCHED / UNWATCHED)"
done
if ! command -v auditd >/dev/null || ! command -v auditctl >/dev/null; then
	# Debian's package; its postinst does not start the daemon where no init system runs
	note "installing auditd"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends auditd \
		>/dev/null || die "apt-get install auditd failed"
fi
for cmd in python3 jq; do
	command -v "$cmd" >/dev/null || die "$cmd not found: run scripts/deps.sh"
done
[[ -e /etc/nightjar/agent.yaml ]] &&
	note "warning: /etc/nightjar/agent.yaml exists: the agent runs on it, not on its embedded defaults"

# One field of `auditctl -s` ("enabled 1" ...), from a saved copy or a fresh one.
audit_field() {
	awk -v k="$1" '$1 == k { print $2; exit }' <<<"${2:-$(auditctl -s)}"
}

# The kernel's audit state is host-wide: refuse to share it, and put it back as found.
audit_found=$(auditctl -s) || die "auditctl -s failed: no audit support in this kernel?"
[[ $(audit_field pid "$audit_found") == 0 ]] ||
	die "auditd already runs (pid $(audit_field pid "$audit_found")): stop it first"
[[ $(audit_field enabled "$audit_found") != 2 ]] ||
	die "the audit configuration is locked (enabled 2) until reboot"
[[ $(auditctl -l) == "No rules" ]] || die "audit rules are loaded (auditctl -l): remove them first"
# Another agent's hooks would be in every configuration's figures. Give a short-lived one (a
# test elsewhere on a shared machine) a while to finish.
for ((i = 0; ; i++)); do
	others=$(pgrep -x nightjar-agent || true)
	[[ -n $others ]] || break
	((i < 60)) || die "nightjar-agent already running (pid ${others//$'\n'/ }): stop it first"
	((i > 0)) || note "waiting up to 30s for nightjar-agent (pid ${others//$'\n'/ }) to exit"
	sleep 0.5
done
bpf_stats_found=$(cat /proc/sys/kernel/bpf_stats_enabled)

agent_pid=""
auditd_pid=""
audit_touched=0
dir=$(mktemp -d /tmp/nightjar-compare.XXXXXX)

stop_auditd_now() {
	auditctl -D >/dev/null 2>&1 || true
	if [[ -n $auditd_pid ]]; then
		kill -TERM "$auditd_pid" 2>/dev/null || true
		gone "$auditd_pid" 100 || kill -KILL "$auditd_pid" 2>/dev/null || true
		wait "$auditd_pid" 2>/dev/null || true
		auditd_pid=""
	fi
}

# Put back what auditd and its rules changed: no rules, and the status values as found.
restore_audit() {
	stop_auditd_now
	auditctl -e "$(audit_field enabled "$audit_found")" \
		-f "$(audit_field failure "$audit_found")" \
		-r "$(audit_field rate_limit "$audit_found")" \
		-b "$(audit_field backlog_limit "$audit_found")" \
		--backlog_wait_time "$(audit_field backlog_wait_time "$audit_found")" >/dev/null
}

cleanup() {
	local rc=$?
	if [[ -n $agent_pid ]]; then
		kill -INT "$agent_pid" 2>/dev/null || true
		gone "$agent_pid" 50 || kill -KILL "$agent_pid" 2>/dev/null || true
		wait "$agent_pid" 2>/dev/null || true
	fi
	if ((audit_touched)); then
		restore_audit || {
			note "could not restore the audit state; it was:"
			echo "$audit_found" >&2
			rc=1
		}
	fi
	echo "$bpf_stats_found" >/proc/sys/kernel/bpf_stats_enabled || true
	rm -rf "$dir"
	exit "$rc"
}
trap cleanup EXIT
# Turn signals into an exit so the EXIT trap stops the monitors.
trap 'exit 130' INT
trap 'exit 143' TERM

# BPF programs count their run time only while this is on; the agent's programs run inside
# the watched processes, so this is where their CPU shows.
echo 1 >/proc/sys/kernel/bpf_stats_enabled
kauditd=$(pgrep -x kauditd) || die "no kauditd kernel thread: no audit support in this kernel?"

# start_agent CONFIG TAG [FLAGS...]: start the agent as `make run` does (no config file,
# default output) with its own state directory, and wait until it says it is attached. stdout
# (the events) goes to /dev/null; the spool under the state directory is still written.
start_agent() {
	local config=$1 tag=$2
	shift 2

	# Background commands of a non-interactive shell start with SIGINT ignored; reset it.
	env --default-signal=INT "$AGENT" "$@" --state-dir "$dir/state-$tag" \
		>/dev/null 2>"$dir/$tag.err" &
	agent_pid=$!
	wait_ready "$config" "$tag"
}

stop_agent() {
	local config=$1 tag=$2

	halt_agent "$config" "$tag"
	((agent_rc == 0)) || note "warning: $AGENT ($config) exited with status $agent_rc after SIGINT"
	rm -rf "$dir/state-$tag"
}

# The files the agent watches by identity on this host, from its debug log: its own expansion
# of its default patterns in every home, so auditd watches exactly the same files.
note "asking the agent which files it watches here"
start_agent nightjar watchlist --log-level debug
stop_agent nightjar watchlist
sed -n 's/^nightjar-agent: debug: watching \(.*\) (inode [0-9]*)$/\1/p' "$dir/watchlist.err" |
	sort -u >"$dir/watched.txt"
[[ -s $dir/watched.txt ]] || die "the agent watches no file here (no 'watching' line in its log)"
grep -qxF "$WATCHED" "$dir/watched.txt" ||
	die "$WATCHED is not among the files the agent watches: set WATCHED to one of them"
grep -qxF "$UNWATCHED" "$dir/watched.txt" && die "UNWATCHED=$UNWATCHED is watched by the agent"

# Debian's /etc/audit/rules.d/audit.rules settings, then rules for what Nightjar records of the
# workloads: every exec, every connect, and reads of the same credential files.
{
	echo "-D"
	echo "-b 8192"
	echo "--backlog_wait_time 60000"
	echo "-f 1"
	echo "-a always,exit -F arch=b64 -S execve,execveat -k nj_exec"
	echo "-a always,exit -F arch=b64 -S connect -k nj_connect"
	while IFS= read -r f; do
		echo "-w $f -p r -k nj_cred"
	done <"$dir/watched.txt"
} >"$dir/audit.rules"

# start_auditd: the daemon with Debian's /etc/audit/auditd.conf, in the foreground of its own
# process (-n: no init system is needed, and we stop it by pid), then the rules.
start_auditd() {
	local i
	audit_touched=1
	auditd -n >"$dir/auditd.out" 2>&1 &
	auditd_pid=$!
	for ((i = 0; i < READY_TIMEOUT_S * 10; i++)); do
		[[ $(audit_field pid) == "$auditd_pid" ]] && break
		if ! alive "$auditd_pid"; then
			cat "$dir/auditd.out" >&2
			auditd_pid=""
			die "auditd exited before it registered with the kernel"
		fi
		sleep 0.1
	done
	[[ $(audit_field pid) == "$auditd_pid" ]] || die "auditd not registered after ${READY_TIMEOUT_S}s"
	auditctl -R "$dir/audit.rules" >"$dir/auditctl.out" 2>&1 || {
		cat "$dir/auditctl.out" >&2
		die "auditctl -R failed"
	}
	auditctl -e 1 >/dev/null
}

stop_auditd() {
	alive "$auditd_pid" || die "auditd died during the workloads: figures are void"
	stop_auditd_now
	# disabled again between its runs, as found (its backlog settings stay until the end)
	auditctl -e "$(audit_field enabled "$audit_found")" >/dev/null
}

# A record with each key of the rules reached the log: auditd really does the work it is
# timed on. Also enables audit once before the first timed run: from then on the kernel gives
# every new task an audit context (until reboot), so all configurations run alike.
note "preflight: auditd with $(grep -c -- '-w ' "$dir/audit.rules") file watches"
start_auditd
# Records are found by their time stamp, not by offset: auditd rotates its log at 8 MB, also
# in the middle of this check, so the one before the current file is searched too.
since=$(($(date +%s) - 1))
"$BENCH" fork_exec 1 >/dev/null
"$BENCH" connect 1 >/dev/null
"$BENCH" open_watched "$WATCHED" 1 >/dev/null
# logged KEY: a record with KEY stamped at or after $since is in the log
logged() {
	# grep fails on a missing .1 (no rotation yet) or on no match: only awk's verdict counts
	{ grep -h -- "key=\"$1\"" "$AUDIT_LOG" "$AUDIT_LOG.1" 2>/dev/null || true; } |
		sed -n 's/.*msg=audit(\([0-9]*\)\..*/\1/p' | awk -v t="$since" '$1 >= t { f = 1 } END { exit !f }'
}
for ((i = 0; i < 50; i++)); do
	logged nj_exec && logged nj_connect && logged nj_cred && break
	sleep 0.1
done
for key in nj_exec nj_connect nj_cred; do
	logged "$key" || die "auditd wrote no $key record to $AUDIT_LOG"
done
stop_auditd

# monitor_cpu_ns CONFIG: CPU time the monitor has used so far, in ns. nightjar/floor: the agent
# process (every thread) plus the run time of its BPF programs (bpf_stats, read from the fdinfo
# of the program fds it holds). auditd: the daemon (every thread) plus the kauditd kernel
# thread that hands records to it. schedstat's first field is ns on the CPU.
monitor_cpu_ns() {
	local total=0 t f
	case $1 in
	none) ;;
	floor | nightjar)
		for f in /proc/"$agent_pid"/task/*/schedstat; do
			read -r t _ <"$f" && total=$((total + t))
		done
		t=$(awk 'FNR == 1 { id = "" } /^prog_id:/ { id = $2 }
			/^run_time_ns:/ && id != "" { ns[id] = $2 }
			END { s = 0; for (i in ns) s += ns[i]; print s }' /proc/"$agent_pid"/fdinfo/* 2>/dev/null)
		total=$((total + t))
		;;
	auditd)
		for f in /proc/"$auditd_pid"/task/*/schedstat /proc/"$kauditd"/schedstat; do
			read -r t _ <"$f" && total=$((total + t))
		done
		;;
	esac
	echo "$total"
}

# host_cpu: busy and total jiffies of the whole machine (all vCPUs), from /proc/stat.
host_cpu() {
	local _cpu user nice system idle iowait irq softirq steal _rest
	read -r _cpu user nice system idle iowait irq softirq steal _rest </proc/stat
	echo "$((user + nice + system + irq + softirq + steal)) $((user + nice + system + idle + iowait + irq + softirq + steal))"
}

# monitor_counters CONFIG TAG: "drops events_or_backlog_wait" so far. nightjar/floor: records
# the ring buffer dropped, and events the agent wrote. auditd: the kernel's lost counter, and
# the time writers were held back on a full backlog (backlog_wait_time_actual).
monitor_counters() {
	local s
	case $1 in
	none) echo "0 0" ;;
	floor | nightjar)
		s=$("$CTL" status --json --state-dir "$dir/state-$2") ||
			die "nightjarctl status failed against the $1 agent"
		jq -r '"\(.lost.ringbuf_drops) \(.events)"' <<<"$s"
		;;
	auditd)
		s=$(auditctl -s)
		echo "$(audit_field lost "$s") $(audit_field backlog_wait_time_actual "$s")"
		;;
	esac
}

# Runs during which an agent this script did not start was seen: its hooks skew the figures.
foreign_runs=0
check_foreign() {
	local pid
	for pid in $(pgrep -x nightjar-agent); do
		if [[ $pid != "${agent_pid:-}" ]] && alive "$pid"; then
			foreign_runs=$((foreign_runs + 1))
			note "warning: another nightjar-agent is running (pid $pid): $1 figures are skewed"
			return 0
		fi
	done
}

# measure ROUND CONFIG TAG NAME CMD...: run CMD once (one workload) and append to results.csv
# round,config,name,line-from-bench,monitor_cpu_ns,wall_ns,host_busy,host_total,drops,extra
measure() {
	local round=$1 config=$2 tag=$3 name=$4 c0 c1 m0 m1 h0 h1 t0 t1 line
	local d0 d1 e0 e1 hb0 hb1 ht0 ht1
	shift 4

	check_foreign "round $round $config $name"
	# counters outside the timed window: asking the agent costs it a little CPU
	c0=$(monitor_counters "$config" "$tag")
	m0=$(monitor_cpu_ns "$config")
	h0=$(host_cpu)
	t0=${EPOCHREALTIME/./}
	line=$("$@") || die "$BENCH failed: $*"
	t1=${EPOCHREALTIME/./}
	h1=$(host_cpu)
	m1=$(monitor_cpu_ns "$config")
	c1=$(monitor_counters "$config" "$tag")
	read -r d0 e0 <<<"$c0"
	read -r d1 e1 <<<"$c1"
	read -r hb0 ht0 <<<"$h0"
	read -r hb1 ht1 <<<"$h1"
	echo "$round,$config,$name,$line,$((m1 - m0)),$(((t1 - t0) * 1000)),$((hb1 - hb0)),$((ht1 - ht0)),$((d1 - d0)),$((e1 - e0))" >>"$dir/results.csv"
}

: >"$dir/results.csv"
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
t_start=$SECONDS
for ((r = 1; r <= ROUNDS; r++)); do
	# Rotate the order by one each round: no configuration always runs first or last.
	for ((k = 0; k < ${#CONFIGS[@]}; k++)); do
		config=${CONFIGS[((r - 1 + k) % ${#CONFIGS[@]})]}
		tag=$config.$r
		note "round $r/$ROUNDS: $config"
		case $config in
		floor) start_agent floor "$tag" --hooks-only ;;
		nightjar) start_agent nightjar "$tag" ;;
		auditd) start_auditd ;;
		esac
		measure "$r" "$config" "$tag" open_unwatched "$BENCH" open_unwatched "$UNWATCHED" "$ITERS_OPEN"
		measure "$r" "$config" "$tag" open_watched "$BENCH" open_watched "$WATCHED" "$ITERS_OPEN"
		measure "$r" "$config" "$tag" fork_exec "$BENCH" fork_exec "$ITERS_EXEC"
		measure "$r" "$config" "$tag" connect "$BENCH" connect "$ITERS_CONNECT"
		for rate in $RATES; do
			measure "$r" "$config" "$tag" "exec_$rate" \
				"$BENCH" exec_steady "$rate" "$RATE_SECONDS" "$RATE_WORKERS" "$TRUE_BIN"
		done
		case $config in
		floor | nightjar) stop_agent "$config" "$tag" ;;
		auditd) stop_auditd ;;
		esac
	done
done
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

mkdir -p "$(dirname "$RESULTS")"
NB_DATE=$(date -u +%Y-%m-%dT%H:%M:%SZ)
NB_KERNEL=$(uname -r)
NB_CPU="$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1), $(nproc) vCPUs"
NB_MEM="$(awk '/^MemTotal:/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)"
NB_LOAD="$load_start at start, $load_end at end"
NB_ELAPSED=$((SECONDS - t_start))
NB_AGENT=$("$AGENT" --version)
NB_AUDITD="auditd $(dpkg-query -W -f='${Version}' auditd 2>/dev/null || auditctl -v)"
NB_WATCHED=$(paste -sd' ' "$dir/watched.txt")
NB_HZ=$( (zcat /proc/config.gz 2>/dev/null || cat "/boot/config-$NB_KERNEL" 2>/dev/null) |
	sed -n 's/^CONFIG_HZ=//p')
export ROUNDS ITERS_OPEN ITERS_EXEC ITERS_CONNECT RATES RATE_SECONDS RATE_WORKERS WATCHED UNWATCHED
export NB_DATE NB_KERNEL NB_CPU NB_MEM NB_LOAD NB_ELAPSED NB_AGENT NB_AUDITD NB_WATCHED NB_HZ
export foreign_runs
python3 - "$dir/results.csv" >"$dir/report.md" <<'PY'
import csv, os, re, statistics, sys

env = os.environ
WORKLOADS = [
    ("open_unwatched", "open+close, unwatched file"),
    ("open_watched", "open+close, watched file"),
    ("fork_exec", "fork + exec + wait"),
    ("connect", "loopback TCP connect + accept"),
]
CONFIGS = ["none", "floor", "nightjar", "auditd"]
RATES = [int(r) for r in env["RATES"].split()]

rows = {}  # (name, config) -> {round: dict}
for rnd, config, name, line, mon, wall, hbusy, htotal, drops, extra in csv.reader(open(sys.argv[1])):
    fig = dict(re.findall(r"(\w+)=(\d+)", line))
    rows.setdefault((name, config), {})[int(rnd)] = {
        "fig": {k: int(v) for k, v in fig.items()},
        "mon": int(mon), "wall": int(wall), "hbusy": int(hbusy), "htotal": int(htotal),
        "drops": int(drops), "extra": int(extra),
    }

def runs(name, config):
    return rows.get((name, config), {})

def med(values):
    values = list(values)
    return statistics.median(values) if values else None

def cpu_pct(r):
    return 100.0 * r["mon"] / r["wall"] if r["wall"] else 0.0

def ns_op(name, config):
    return med(r["fig"]["ns_per_op"] for r in runs(name, config).values())

def paired(name, config):
    a, b = runs(name, config), runs(name, "none")
    return med(a[k]["fig"]["ns_per_op"] / b[k]["fig"]["ns_per_op"] for k in a if k in b)

def mon_pct(name, config):
    return med(cpu_pct(r) for r in runs(name, config).values())

def drops(name, config):
    return sum(r["drops"] for r in runs(name, config).values())

def fmt(x, spec=".0f", unit=""):
    return "n/a" if x is None else f"{x:{spec}}{unit}"

def monitor_cells(name, config):
    if config == "none":
        return "—", "—"
    d = drops(name, config)
    cell = f"{d:,}"
    if d and config != "auditd":
        # the agent's extra column is the events it wrote: give the share lost
        written = sum(r["extra"] for r in runs(name, config).values())
        share = 100.0 * d / (d + written)
        cell += f" ({'<0.1' if share < 0.1 else f'{share:.1f}'} % of records)"
    return fmt(mon_pct(name, config), ".1f"), cell

rounds = "1 round" if env["ROUNDS"] == "1" else f"{env['ROUNDS']} interleaved rounds"
print("# Nightjar against auditd")
print()
print(f"- {env['NB_DATE']}; {env['NB_CPU']}, {env['NB_MEM']}; kernel {env['NB_KERNEL']}")
print(f"- {env['NB_AGENT']} on its embedded defaults; {env['NB_AUDITD']} (Debian) with "
      "Debian's auditd.conf, writing /var/log/audit/audit.log")
print(f"- {rounds} of none / floor / nightjar / auditd, order rotated each round; "
      f"per run: {env['ITERS_OPEN']} opens, {env['ITERS_EXEC']} fork+exec, "
      f"{env['ITERS_CONNECT']} connects, then {env['RATE_SECONDS']} s at each exec rate; "
      f"{env['NB_ELAPSED']} s in all")
print(f"- load average (1, 5, 15 min): {env['NB_LOAD']}")
if env["foreign_runs"] != "0":
    print(f"- **warning:** another nightjar-agent ran during {env['foreign_runs']} run(s): "
          "their figures include its hooks")
print()
print("| workload | monitor | ns/op | × none | monitor CPU % | drops |")
print("|---|---|---:|---:|---:|---:|")
for name, label in WORKLOADS:
    for c in CONFIGS:
        ratio = "1.00×" if c == "none" else fmt(paired(name, c), ".2f", "×")
        cpu, d = monitor_cells(name, c)
        print(f"| {label} | {c} | {fmt(ns_op(name, c))} | {ratio} | {cpu} | {d} |")
print()
print(f"Steady exec load: a static no-op program started at a fixed rate by "
      f"{env['RATE_WORKERS']} paced workers for {env['RATE_SECONDS']} s.")
print()
print("| execs/s asked | monitor | execs/s achieved | monitor CPU % | monitor µs/exec "
      "| machine CPU % | drops |")
print("|---:|---|---:|---:|---:|---:|---:|")
for rate in RATES:
    name = f"exec_{rate}"
    for c in CONFIGS:
        rs = runs(name, c).values()
        achieved = med(r["fig"]["achieved"] for r in rs)
        per_exec = "—" if c == "none" else fmt(
            med(r["mon"] / 1000 / r["fig"]["execs"] for r in rs if r["fig"]["execs"]), ".1f")
        host = med(100.0 * r["hbusy"] / r["htotal"] for r in rs if r["htotal"])
        cpu, d = monitor_cells(name, c)
        print(f"| {rate:,} | {c} | {fmt(achieved, ',.0f')} | {cpu} | {per_exec} | "
              f"{fmt(host, '.0f')} | {d} |")
print()

print("Spread of the timed workloads over rounds, and what each monitor adds to none's median:")
print()
print("| workload | monitor | n | median ns/op | min–max | added ns/op |")
print("|---|---|---:|---:|---|---:|")
for name, label in WORKLOADS:
    none = ns_op(name, "none")
    for c in CONFIGS:
        v = [r["fig"]["ns_per_op"] for r in runs(name, c).values()]
        if v:
            added = "n/a" if none is None else f"{statistics.median(v) - none:+.0f}"
            print(f"| {label} | {c} | {len(v)} | {statistics.median(v):.0f} | "
                  f"{min(v)}–{max(v)} | {added} |")
print()

# The targets, judged on the medians above.
print("Targets:")
print()
verdicts = []
for name, label in WORKLOADS:
    nj, au = ns_op(name, "nightjar"), ns_op(name, "auditd")
    ok = nj is not None and au is not None and nj < au
    verdicts.append(ok)
    print(f"- {label}: nightjar {fmt(nj)} ns/op vs auditd {fmt(au)}: "
          f"{'met' if ok else 'missed'}")
for rate in RATES:
    name = f"exec_{rate}"
    nj, au = mon_pct(name, "nightjar"), mon_pct(name, "auditd")
    ok = nj is not None and au is not None and nj < au
    verdicts.append(ok)
    print(f"- {rate:,} execs/s: nightjar CPU {fmt(nj, '.1f')} % vs auditd {fmt(au, '.1f')} %: "
          f"{'met' if ok else 'missed'}")
top = f"exec_{max(RATES)}"
nj, au = mon_pct(top, "nightjar"), mon_pct(top, "auditd")
half = nj is not None and au is not None and nj < au / 2
zero = drops(top, "nightjar") == 0
achieved = med(r["fig"]["achieved"] for r in runs(top, "nightjar").values())
print(f"- {max(RATES):,} execs/s: nightjar CPU under half of auditd's: "
      f"{'met' if half else 'missed'} ({fmt(nj, '.1f')} % vs {fmt(au, '.1f')} %); "
      f"zero drops: {'met' if zero else 'missed'} ({drops(top, 'nightjar'):,})")
if achieved is not None and achieved < 0.95 * max(RATES):
    print(f"  - the machine started {achieved:,.0f} execs/s under nightjar, not "
          f"{max(RATES):,}: the verdict holds for that rate")
print()

# What the columns hold, and the side figures that explain them.
hz = env.get("NB_HZ") or ""
waits = {name: sum(r["extra"] for r in runs(name, "auditd").values())
         for name in [w for w, _ in WORKLOADS] + [f"exec_{r}" for r in RATES]}
held = ", ".join(f"{n} {v * 1000 // int(hz) if hz else v} {'ms' if hz else 'jiffies'}"
                 for n, v in waits.items() if v)
events = []
for rate in RATES:
    rs = [r for r in runs(f"exec_{rate}", "nightjar").values() if r["fig"]["execs"]]
    if rs:
        events.append(f"{med(r['extra'] / r['fig']['execs'] for r in rs):.1f} at {rate:,}/s")
print("Notes:")
print()
print("- **ns/op**: median over rounds of the workload's own timed loop; **× none** is the "
      "median of the ratios within each round. In-line costs land here: Nightjar's BPF "
      "programs and audit's syscall-exit filtering and record formatting both run in the "
      "process doing the work.")
print("- **monitor CPU %**: the monitor's CPU time during the run over its wall time; 100 % "
      "is one vCPU. *nightjar* and *floor*: the agent process (all threads, "
      "/proc/PID/task/*/schedstat) plus the run time of its BPF programs "
      "(kernel.bpf_stats_enabled, run_time_ns of the programs it holds). *auditd*: the auditd "
      "daemon (all threads) plus the kauditd kernel thread; audit's in-syscall work is not in "
      "it (it is in ns/op). Writeback of either one's files by kernel flusher threads is in "
      "neither.")
print("- **monitor µs/exec**: the same CPU time divided by the execs started. **machine CPU %**: "
      "all vCPUs, busy over total, from /proc/stat: the load, both monitors' in-line costs "
      "and anything else running.")
print("- **drops**: nightjar and floor: `ringbuf_drops` from `nightjarctl status` before and "
      "after each run; auditd: the kernel's `lost` counter (`auditctl -s`). With Debian's "
      "`--backlog_wait_time 60000` audit does not drop on a full backlog, it holds the "
      "writing process back"
      + (f" (backlog_wait_time_actual, summed over rounds: {held})." if held else "."))
if events:
    print(f"- nightjar events per exec started (fork, exec, exit and the rest of the host): "
          f"{', '.join(events)}.")
print(f"- Watched by both: {env['NB_WATCHED']} (the agent's identity watches on this host, "
      f"from its debug log; auditd gets `-w FILE -p r` for each). Nightjar also matches "
      f"copies of credential files by name anywhere, which auditd cannot. open_watched opens "
      f"{env['WATCHED']}, open_unwatched {env['UNWATCHED']}.")
print("- auditd rules: Debian's defaults (`-b 8192 --backlog_wait_time 60000 -f 1`), "
      "`-a always,exit -F arch=b64 -S execve,execveat`, `-a always,exit -F arch=b64 -S connect`, "
      "and the watches. Audit is enabled once before the first timed run, so every "
      "configuration runs with the per-task audit context the kernel then gives each new task.")
PY
cp "$dir/report.md" "$RESULTS.tmp"
mv "$RESULTS.tmp" "$RESULTS"
cp "$dir/results.csv" "${RESULTS%.md}.csv"
cat "$dir/report.md"
note "written to $RESULTS"
