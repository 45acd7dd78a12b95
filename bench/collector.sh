#!/usr/bin/env bash
# collector.sh - nightjar-collector ingest: records/s into the file sink, connections held, and
# acknowledgement latency at the peak rate and at half of it.
#
#   bench/collector.sh            (from the repository, after make; root not needed)
#   HOSTS=1000 DURATION=10 BATCH=100 WINDOW=8 bench/collector.sh
#
# A throwaway PKI (a CA, the collector's certificate, one certificate per simulated host whose
# CN is its host id) is made once under .output/bench-pki and reused. Each run gets a fresh data
# directory on disk (/var/tmp), removed on exit. Three runs:
#   1. peak: HOSTS agents as fast as the collector acknowledges (window WINDOW batches each)
#   2. half: the same agents held to half the peak rate: p99 acknowledgement latency
#   3. many: CONNS agents (default 1000) at a modest rate: connections held
# Prints the load generator's lines and a markdown table; writes bench/results/collector.md.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

COLLECTOR=${NIGHTJAR_COLLECTOR:-.output/nightjar-collector}
LOAD=${NIGHTJAR_COLLECTOR_LOAD:-.output/nightjar-collector-load}
PKI=${PKI:-.output/bench-pki}
HOSTS=${HOSTS:-50}
CONNS=${CONNS:-1000}
DURATION=${DURATION:-10}
BATCH=${BATCH:-100}
WINDOW=${WINDOW:-8}
RESULTS=bench/results/collector.md

die() {
	echo "collector.sh: $*" >&2
	exit 1
}

for b in "$COLLECTOR" "$LOAD"; do
	[[ -x $b ]] || die "$b not found: build it first (make)"
done
need=$((CONNS > HOSTS ? CONNS : HOSTS))

# ---- PKI: one certificate per simulated host, made once ----
mkdir -p "$PKI"
if [[ ! -s $PKI/ca.crt ]]; then
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$PKI/ca.key" \
		-out "$PKI/ca.crt" -subj "/CN=nightjar bench CA" -days 3650 2>/dev/null
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$PKI/server.key" \
		-out "$PKI/server.csr" -subj /CN=localhost 2>/dev/null
	openssl x509 -req -in "$PKI/server.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" \
		-CAcreateserial -out "$PKI/server.crt" -days 3650 \
		-extfile <(echo "subjectAltName=DNS:localhost,IP:127.0.0.1") 2>/dev/null
fi
issue() {
	local i=$1 id
	[[ -s $PKI/host-$i.crt ]] && return 0
	# a host id as the agent makes one: 32 hex digits
	id=$(printf 'bench-host-%d' "$i" | sha256sum | cut -c 1-32)
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$PKI/host-$i.key" \
		-out "$PKI/host-$i.csr" -subj "/CN=$id" 2>/dev/null
	openssl x509 -req -in "$PKI/host-$i.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" \
		-set_serial "$((1000 + i))" -out "$PKI/host-$i.crt" -days 3650 2>/dev/null
	echo "$id" >"$PKI/host-$i.id"
	rm -f "$PKI/host-$i.csr"
}
export -f issue
export PKI
missing=0
for ((i = 0; i < need; i++)); do
	[[ -s $PKI/host-$i.crt ]] || missing=$((missing + 1))
done
if ((missing)); then
	echo "collector.sh: issuing $missing host certificates (once)" >&2
	seq 0 $((need - 1)) | xargs -P "$(nproc)" -I{} bash -c 'issue {}'
fi

# ---- one collector per run, on a fresh data directory ----
work=$(mktemp -d /var/tmp/nightjar-collector-bench.XXXXXX)
cpid=
cleanup() {
	[[ -n $cpid ]] && kill "$cpid" 2>/dev/null && wait "$cpid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
start() {
	rm -rf "$work/data"
	cat >"$work/collector.yaml" <<-YAML
		listen: 127.0.0.1:$port
		tls: {ca: $PWD/$PKI/ca.crt, cert: $PWD/$PKI/server.crt, key: $PWD/$PKI/server.key}
		data_dir: $work/data
	YAML
	"$COLLECTOR" --config "$work/collector.yaml" --log-level warning 2>"$work/collector.log" &
	cpid=$!
	for _ in $(seq 100); do
		python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 0.2)" \
			2>/dev/null && return 0
		sleep 0.1
	done
	cat "$work/collector.log" >&2
	die "the collector did not start"
}
stop() {
	kill "$cpid"
	wait "$cpid" || true
	cpid=
}
load() {
	"$LOAD" --port "$port" --ca "$PKI/ca.crt" --pki "$PKI" --duration "$DURATION" \
		--batch "$BATCH" --window "$WINDOW" "$@"
}
get() { grep -o "$1=[^ ]*" <<<"$2" | cut -d= -f2; }

start
peak=$(load --hosts "$HOSTS")
echo "peak: $peak"
stop
rate=$(get records_per_s "$peak")
half_rate=$((${rate%.*} / 2))
start
half=$(load --hosts "$HOSTS" --rate "$half_rate")
echo "half: $half"
stop
start
many=$(load --hosts "$CONNS" --rate 100000 --window 2)
echo "many: $many"
stop

mkdir -p bench/results
{
	echo "| run | connections held | records/s acknowledged | ack p50 | ack p99 | ack max |"
	echo "|---|---:|---:|---:|---:|---:|"
	for r in peak half many; do
		line=${!r}
		printf '| %s | %s/%s | %s | %s ms | %s ms | %s ms |\n' "$r" "$(get held "$line")" \
			"$(get connections "$line")" "$(get records_per_s "$line")" \
			"$(get ack_p50_ms "$line")" "$(get ack_p99_ms "$line")" "$(get ack_max_ms "$line")"
	done
	echo
	echo "$(nproc) CPUs, $(uname -r); batch $BATCH records of $(get record_bytes "$peak") bytes," \
		"window $WINDOW, $DURATION s per run; file sink on $(df --output=fstype /var/tmp | tail -1)"
} | tee "$RESULTS"
