# collector_helpers.bash - for tests of nightjar-collector: a throwaway PKI made with the
# openssl CLI, a collector started on a free loopback port and stopped by pid, and the test
# agent tests/integration/collector_client.py.

NJ_COLLECTOR="${NJ_COLLECTOR:-$NJ_TOP/.output/nightjar-collector}"
CLIENT="$BATS_TEST_DIRNAME/collector_client.py"
H1=0123456789abcdef0123456789abcdef
H2=fedcba9876543210fedcba9876543210

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# make_pki DIR: ca (the collector's), other-ca (a stranger), a server certificate for
# localhost, h1 (CN = host id), h2 (CN unrelated, host id as a SAN DNS name), stranger (h1's
# id, signed by other-ca)
make_pki() {
	local d=$1 n
	mkdir -p "$d"
	(
		cd "$d"
		for ca in ca other-ca; do
			openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
				-keyout $ca.key -out $ca.crt -subj "/CN=nightjar test $ca" -days 2
		done
		# name CN CA EXT
		issue() {
			openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1.key" \
				-out "$1.csr" -subj "/CN=$2"
			openssl x509 -req -in "$1.csr" -CA "$3.crt" -CAkey "$3.key" -CAcreateserial \
				-out "$1.crt" -days 2 -extfile <(printf '%s\n' "$4")
		}
		issue server localhost ca "subjectAltName=DNS:localhost,IP:127.0.0.1"
		issue h1 $H1 ca "basicConstraints=CA:FALSE"
		issue h2 "workstation-42" ca "subjectAltName=DNS:$H2"
		issue stranger $H1 other-ca "basicConstraints=CA:FALSE"
	) >/dev/null 2>&1
	for n in ca server h1 h2 stranger; do
		[ -s "$d/$n.crt" ] || return 1
	done
}

# start_collector DIR [EXTRA YAML LINES]: config in DIR/collector.yaml, data in DIR/data, log
# in DIR/collector.log. Sets COLLECTOR_PID, PORT, CDIR.
start_collector() {
	CDIR=$1
	shift
	PORT=${PORT:-$(free_port)}
	cat >"$CDIR/collector.yaml" <<-YAML
		listen: 127.0.0.1:$PORT
		tls:
		  ca: $PKI/ca.crt
		  cert: $PKI/server.crt
		  key: $PKI/server.key
		data_dir: $CDIR/data
		frame_timeout: 1s
		$(printf '%s\n' "$@")
	YAML
	"$NJ_COLLECTOR" --config "$CDIR/collector.yaml" >>"$CDIR/collector.log" 2>&1 &
	COLLECTOR_PID=$!
	export COLLECTOR_PID PORT CDIR
	if ! retry 100 0.1 grep -q "listening on 127.0.0.1:$PORT" "$CDIR/collector.log"; then
		echo "collector did not start:" >&2
		cat "$CDIR/collector.log" >&2
		return 1
	fi
}

# stop_collector [SIGNAL]: default SIGTERM; waits for the process to go
stop_collector() {
	local sig=${1:-TERM} rc=0
	[ -n "${COLLECTOR_PID:-}" ] || return 0
	kill -"$sig" "$COLLECTOR_PID" 2>/dev/null || true
	wait "$COLLECTOR_PID" 2>/dev/null || rc=$?
	COLLECTOR_PID=
	return $rc
}

# client MODE CERT HOST_ID [ARGS...]: the test agent with the certificate CERT of $PKI
client() {
	local mode=$1 cert=$2 id=$3
	shift 3
	python3 "$CLIENT" "$mode" --port "$PORT" --ca "$PKI/ca.crt" --cert "$PKI/$cert.crt" \
		--key "$PKI/$cert.key" --host-id "$id" "$@"
}

status_json() {
	"$NJ_COLLECTOR" status --json --config "$CDIR/collector.yaml"
}

# host_field ID JQ: one field of a host in the status
host_field() {
	status_json | jq -r --arg id "$1" ".hosts[] | select(.id == \$id) | $2"
}

# stored_sequences ID: the sequence of every record stored for the host, one per line
stored_sequences() {
	"$NJ_CTL" read "$CDIR/data/hosts/$1" --json | jq -r '.event.sequence'
}
