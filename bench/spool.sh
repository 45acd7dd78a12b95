#!/usr/bin/env bash
# spool.sh - spool throughput: records appended per second (pack + frame + write, one core),
# and records per second `nightjarctl read` prints back, text and --json.
#
# Run from anywhere inside the repository after `make`; prints a markdown table and writes it
# to bench/results/spool.md (git-ignored). Every figure is the median of RUNS runs. The spool
# and the read outputs live in one temp directory, removed on exit.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

RECORDS=${RECORDS:-1000000}
RUNS=${RUNS:-3}
SPOOL_BENCH=${NIGHTJAR_SPOOL_BENCH:-.output/nightjar-spool-bench}
CTL=${NIGHTJARCTL:-.output/nightjarctl}
RESULTS=bench/results/spool.md
# the issue's targets, in records per second
TARGET_APPEND=500000
TARGET_READ_JSON=200000

die() {
	echo "spool.sh: $*" >&2
	exit 1
}

for b in "$SPOOL_BENCH" "$CTL"; do
	[[ -x $b ]] || die "$b not found or not executable: build it first (make $b)"
done
[[ $RECORDS =~ ^[1-9][0-9]*$ ]] || die "RECORDS='$RECORDS' is not a positive integer"
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "RUNS='$RUNS' is not a positive integer"

# The spool needs about 500 bytes a record on disk. /tmp may be a small tmpfs (RAM), where
# the spool would not fit; /var/tmp is on disk, as the agent's own spool is.
need=$((RECORDS * 600))
base=/tmp
if [[ $(df --output=fstype /tmp | tail -1) == tmpfs ]] &&
	(($(df --output=avail -B1 /tmp | tail -1) < need * 2)); then
	base=/var/tmp
fi
(($(df --output=avail -B1 "$base" | tail -1) >= need)) ||
	die "$base has less than $((need >> 20)) MiB free for a $RECORDS-record spool"

tmp=$(mktemp -d "$base/nightjar-spool-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
spool=$tmp/spool

# median of the arguments (numbers)
median() {
	printf '%s\n' "$@" | sort -g | sed -n "$((($# + 1) / 2))p"
}

# one figure from a "MODE key=value..." line
field() {
	sed -nE "s/.* $2=([^ ]+).*/\1/p" <<<"$1"
}

now_ns() {
	date +%s%N
}

rate() {
	awk -v n="$1" -v s="$2" 'BEGIN { printf "%d", n / s }'
}

commas() {
	sed -E ':a; s/^([0-9]+)([0-9]{3})/\1,\2/; ta' <<<"$1"
}

rows=()
# row OPERATION SECONDS... TARGET: one table line from the runs' seconds
row() {
	local op=$1 target=${*: -1} secs=("${@:2:$#-2}") med r met=—
	med=$(median "${secs[@]}")
	r=$(rate "$RECORDS" "$med")
	if [[ $target != — ]]; then
		met=$( ((r >= target)) && echo yes || echo "**no**")
		target="≥ $(commas "$target")"
	fi
	rows+=("| $op | $(commas "$RECORDS") | $med | $(commas "$r") | $target | $met |")
	runs_note+=("- $op: ${secs[*]} s")
}
runs_note=()

# ---- append: a fresh spool each run; the last one stays for the reads -----------------
append_s=() pack_s=() bpr=
for ((i = 0; i < RUNS; i++)); do
	rm -rf "$spool"
	out=$("$SPOOL_BENCH" append "$spool" "$RECORDS") || die "append run $((i + 1)) failed"
	append_s+=("$(field "$out" seconds)")
	bpr=$(field "$out" bytes_per_record)
	out=$("$SPOOL_BENCH" pack "$RECORDS") || die "pack run $((i + 1)) failed"
	pack_s+=("$(field "$out" seconds)")
done
spool_bytes=$(du -sb "$spool" | cut -f1)

# ---- read: first an untimed pass that checks every record comes back ----------------------
for mode in text json; do
	args=()
	[[ $mode == json ]] && args=(--json)
	n=$("$CTL" read "$spool" "${args[@]}" | wc -l) || die "nightjarctl read ${args[*]} failed"
	((n == RECORDS)) || die "nightjarctl read ${args[*]} printed $n lines, expected $RECORDS"
done

read_json_s=() read_text_s=()
for ((i = 0; i < RUNS; i++)); do
	t0=$(now_ns)
	"$CTL" read "$spool" --json >/dev/null || die "nightjarctl read --json failed"
	t1=$(now_ns)
	read_json_s+=("$(awk -v d=$((t1 - t0)) 'BEGIN { printf "%.3f", d / 1e9 }')")
	t0=$(now_ns)
	"$CTL" read "$spool" >/dev/null || die "nightjarctl read failed"
	t1=$(now_ns)
	read_text_s+=("$(awk -v d=$((t1 - t0)) 'BEGIN { printf "%.3f", d / 1e9 }')")
done

row "append (pack + spool, sync every 10,000)" "${append_s[@]}" "$TARGET_APPEND"
row "pack only (no spool)" "${pack_s[@]}" —
row "nightjarctl read --json" "${read_json_s[@]}" "$TARGET_READ_JSON"
row "nightjarctl read (text)" "${read_text_s[@]}" —

mkdir -p "$(dirname "$RESULTS")"
{
	echo "# Spool throughput"
	echo
	echo "$(date -u +%Y-%m-%dT%H:%M:%SZ), $(uname -r), $(nproc) CPUs," \
		"load $(cut -d' ' -f1-3 /proc/loadavg); spool on $(df --output=fstype "$tmp" | tail -1)" \
		"($base): $(commas "$spool_bytes") bytes, $bpr bytes a packed record" \
		"+ 16 of frame header"
	echo
	echo "| operation | records | seconds | records/s | target | met? |"
	echo "|---|---:|---:|---:|---|---|"
	printf '%s\n' "${rows[@]}"
	echo
	if ((RUNS == 1)); then echo "One run:"; else echo "Median of $RUNS runs. Each run's seconds:"; fi
	echo
	printf '%s\n' "${runs_note[@]}"
} | tee "$RESULTS"
