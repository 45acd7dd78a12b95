#!/usr/bin/env bash
# ship.sh - shipping throughput from a backlog: how many records per second the agent's shipper
# (agent/ship.c, driven by nightjar-ship-bench without the sensor) catches up to a real
# nightjar-collector with the file sink, over TLS 1.3 on loopback, after an outage.
#
# Run from anywhere inside the repository after `make`; prints a markdown table and writes it
# to bench/results/ship.md (git-ignored). One backlog (nightjar-spool-bench append), RUNS runs,
# each against a fresh collector data directory and from an empty position; the median is
# reported. Needs no BPF. Everything lives in one temp directory, removed on exit.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

RECORDS=${RECORDS:-1000000}
RUNS=${RUNS:-3}
SPOOL_BENCH=${NIGHTJAR_SPOOL_BENCH:-.output/nightjar-spool-bench}
SHIP_BENCH=${NIGHTJAR_SHIP_BENCH:-.output/nightjar-ship-bench}
COLLECTOR=${NIGHTJAR_COLLECTOR:-.output/nightjar-collector}
PKI_TOOL=scripts/nightjar-pki
RESULTS=bench/results/ship.md

die() {
	echo "ship.sh: $*" >&2
	exit 1
}

for b in "$SPOOL_BENCH" "$SHIP_BENCH" "$COLLECTOR"; do
	[[ -x $b ]] || die "$b not found or not executable: build it first (make)"
done
[[ $RECORDS =~ ^[1-9][0-9]*$ ]] || die "RECORDS='$RECORDS' is not a positive integer"
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "RUNS='$RUNS' is not a positive integer"

# the backlog and the collector's copy: about 500 bytes a record each, on disk (not tmpfs)
need=$((RECORDS * 1200))
base=/tmp
if [[ $(df --output=fstype /tmp | tail -1) == tmpfs ]]; then
	base=/var/tmp
fi
(($(df --output=avail -B1 "$base" | tail -1) >= need)) ||
	die "$base has less than $((need >> 20)) MiB free for a $RECORDS-record backlog"

tmp=$(mktemp -d "$base/nightjar-ship-bench.XXXXXX")
collector_pid=
cleanup() {
	if [[ -n $collector_pid ]]; then
		kill "$collector_pid" 2>/dev/null || true
		wait "$collector_pid" 2>/dev/null || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT

state=$tmp/state
mkdir -p "$state"
host_id=$(.output/nightjar-agent --host-id --state-dir "$state")
"$PKI_TOOL" -d "$tmp/pki" init >/dev/null
"$PKI_TOOL" -d "$tmp/pki" host "$host_id" >/dev/null
"$PKI_TOOL" -d "$tmp/pki" collector 127.0.0.1 >/dev/null
"$SPOOL_BENCH" append "$state/spool" "$RECORDS" >/dev/null || die "making the backlog failed"
backlog_bytes=$(du -sb "$state/spool" | cut -f1)

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$tmp/agent.yaml" <<EOF
spool:
  max_size: $((backlog_bytes * 2 / 1048576 + 16))MiB
collector:
  address: 127.0.0.1:$port
  ca: $tmp/pki/ca.crt
  cert: $tmp/pki/hosts/$host_id.crt
  key: $tmp/pki/hosts/$host_id.key
EOF

median() {
	printf '%s\n' "$@" | sort -g | sed -n "$((($# + 1) / 2))p"
}

field() {
	sed -nE "s/.* $2=([^ ]+).*/\1/p" <<<"$1"
}

commas() {
	sed -E ':a; s/^([0-9]+)([0-9]{3})/\1,\2/; ta' <<<"$1"
}

secs=()
for ((i = 0; i < RUNS; i++)); do
	rm -rf "$tmp/data" "$state/ship.pos"
	cat >"$tmp/collector.yaml" <<EOF
listen: 127.0.0.1:$port
tls:
  ca: $tmp/pki/ca.crt
  cert: $tmp/pki/collector/127.0.0.1.crt
  key: $tmp/pki/collector/127.0.0.1.key
data_dir: $tmp/data
EOF
	"$COLLECTOR" --config "$tmp/collector.yaml" >"$tmp/collector.log" 2>&1 &
	collector_pid=$!
	for _ in $(seq 100); do
		grep -q "listening on" "$tmp/collector.log" && break
		sleep 0.1
	done
	out=$("$SHIP_BENCH" "$tmp/agent.yaml" "$state") || die "run $((i + 1)) failed"
	[[ $(field "$out" records) == "$RECORDS" ]] || die "run $((i + 1)): $out"
	secs+=("$(field "$out" seconds)")
	kill "$collector_pid"
	wait "$collector_pid" 2>/dev/null || true
	collector_pid=
	# every record arrived, once
	stored=$(.output/nightjarctl read "$tmp/data/hosts/$host_id" | wc -l)
	((stored == RECORDS)) || die "run $((i + 1)): the collector stored $stored of $RECORDS"
done

med=$(median "${secs[@]}")
rate=$(awk -v n="$RECORDS" -v s="$med" 'BEGIN { printf "%d", n / s }')
mbs=$(awk -v b="$backlog_bytes" -v s="$med" 'BEGIN { printf "%.1f", b / s / 1e6 }')
mkdir -p "$(dirname "$RESULTS")"
{
	echo "# Shipping throughput from a backlog"
	echo
	echo "$(date -u +%Y-%m-%dT%H:%M:%SZ), $(uname -r), $(nproc) CPUs," \
		"load $(cut -d' ' -f1-3 /proc/loadavg); spool and collector on" \
		"$(df --output=fstype "$tmp" | tail -1) ($base); defaults: batch_records 2048," \
		"batch_bytes 256KiB, window 8; file sink"
	echo
	echo "| backlog | spool bytes | seconds | records/s | MB/s |"
	echo "|---:|---:|---:|---:|---:|"
	echo "| $(commas "$RECORDS") | $(commas "$backlog_bytes") | $med | $(commas "$rate") | $mbs |"
	echo
	echo "Median of $RUNS runs; each run's seconds: ${secs[*]}"
} | tee "$RESULTS"
