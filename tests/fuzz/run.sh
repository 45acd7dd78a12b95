#!/usr/bin/env bash
# run.sh - fuzz one target for SECONDS (default 30); builds nothing.
#
#   tests/fuzz/run.sh [--target NAME] [SECONDS] [LIBFUZZER FLAGS...]
#       e.g. tests/fuzz/run.sh 3600 -fork=4
#   NAME: fuzz_reader (the record reader, default; seeds tests/fuzz/corpus) or fuzz_wire (the
#   collector's frame decoder and Batch unpacking; seeds tests/fuzz/corpus-wire)
#
# The committed seeds are copied into a temporary work corpus that libFuzzer grows; the
# committed corpus is never written to. Prints one summary line. On a crash, leak, undefined
# behaviour, timeout or out-of-memory the exit status is non-zero, and the input is kept under
# .output/fuzz/ with the full log; both paths are printed. See tests/fuzz/README.md.
set -euo pipefail

cd "$(dirname "$0")/../.."
top=$PWD
target=fuzz_reader
if [ "${1:-}" = "--target" ]; then
	target=${2:?--target needs a name}
	shift 2
fi
case "$target" in
fuzz_reader) SEEDS=tests/fuzz/corpus ;;
fuzz_wire) SEEDS=tests/fuzz/corpus-wire ;;
*)
	echo "run.sh: unknown target '$target' (fuzz_reader or fuzz_wire)" >&2
	exit 2
	;;
esac
FUZZER=.output/$target
KEEP=$top/.output/fuzz

secs=${1:-30}
[ $# -gt 0 ] && shift
if ! [[ "$secs" =~ ^[0-9]+$ ]] || [ "$secs" -eq 0 ]; then
	echo "run.sh: '$secs' is not a number of seconds (usage: tests/fuzz/run.sh [SECONDS] [FLAGS...])" >&2
	exit 2
fi
if [ ! -x "$FUZZER" ]; then
	echo "run.sh: $FUZZER is missing: build it first (tests/fuzz/README.md)" >&2
	exit 2
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/nightjar-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/corpus-work" "$KEEP"
cp "$SEEDS"/* "$work/corpus-work/"
log=$work/fuzz.log
touch "$work/started"

# -fork and -jobs write fuzz-N.log files into the current directory: run in the work dir
rc=0
start=$SECONDS
(cd "$work" && exec "$top/$FUZZER" -max_total_time="$secs" -max_len=65536 -timeout=25 \
	-artifact_prefix="$KEEP/" -print_final_stats=1 "$@" corpus-work) >"$log" 2>&1 ||
	rc=$?
took=$((SECONDS - start))

# the last status line, "#123 NEW cov: 456 ft: 789 corp: 12/3Kb ... exec/s: 4567 rss: 45Mb"
# (in -fork mode "#123: cov: 456 ft: 789 corp: 12 exec/s 4567 ...")
status=$(grep -E '^#[0-9]+' "$log" | tail -n 1 || true)
field() { grep -oE "(^| )$1:? [^ ]+" <<<"$status" | awk '{ print $NF }' || true; }
runs=$(grep -oE '^#[0-9]+' <<<"$status" | tr -d '#' || true)
# the whole run's average when libFuzzer prints one (not in -fork mode)
rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
summary="runs=${runs:-?} exec/s=${rate:-$(field exec/s)} cov=$(field cov) ft=$(field ft)"
summary+=" corpus=$(field corp)"

# every input libFuzzer kept during this run (crash-, leak-, timeout-, oom-, slow-unit-...)
mapfile -t kept < <(find "$KEEP" -maxdepth 1 -type f -newer "$work/started" ! -name '*.log')
if [ "$rc" -ne 0 ] || [ "${#kept[@]}" -gt 0 ]; then
	keptlog=$KEEP/$target-$(date +%Y%m%d-%H%M%S).log
	cp "$log" "$keptlog"
	# the first report, up to its SUMMARY line
	sed -n '/==ERROR\|runtime error\|ALARM\|out-of-memory/,/^SUMMARY/p' "$log" | head -n 60 >&2
	echo "$target: FAILED after ${took}s (exit $rc): $summary;" \
		"input: ${kept[*]:-none written}; log: $keptlog" >&2
	echo "reproduce: $FUZZER ${kept[0]:-<input>}" >&2
	[ "$rc" -ne 0 ] || rc=1
	exit "$rc"
fi
echo "$target: ok, ${took}s, no crash or leak: $summary"
