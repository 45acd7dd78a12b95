#!/usr/bin/env bats
# Detection: every detector against the real agent, with the default rules plus a local rules
# directory, positive and negative. Loopback only; the credential files are copies under the
# test's directory, caught by their names wherever they are.

load helpers

setup_file() {
	requires_root
	T="$BATS_FILE_TMPDIR"
	export T
	# credential files where a tool would keep them, in a home that is not in passwd
	mkdir -p "$T/home/.azure" "$T/home/.config/gh" "$T/home/.aws" "$T/app/.testapp"
	echo '{"RefreshToken": {}}' >"$T/home/.azure/msal_token_cache.json"
	echo 'github.com: {oauth_token: gho_x}' >"$T/home/.config/gh/hosts.yml"
	echo 'https://u:ghp_x@github.com' >"$T/home/.git-credentials"
	printf '[default]\naws_access_key_id = AKIA\n' >"$T/home/.aws/credentials"
	echo secret >"$T/app/.testapp/token"
	# the test store's consumer, and the same program somewhere else
	mkdir -p "$T/bin" "$T/other" "$T/learn"
	cp /usr/bin/cat "$T/bin/testapp-cli"
	cp /usr/bin/cat "$T/other/testapp-cli"
	cp /usr/bin/cat "$T/learn/reader"

	HTTP_PORT=$(python3 "$TRIGGER" free-port 127.0.0.1)
	INTEL_PORT=$(python3 "$TRIGGER" free-port 127.0.0.99)
	PROXY_PORT=$(python3 "$TRIGGER" free-port 127.0.0.1)
	export HTTP_PORT INTEL_PORT PROXY_PORT
	python3 -m http.server --bind 127.0.0.1 "$HTTP_PORT" >/dev/null 2>&1 3>&- &
	echo $! >"$T/http.pid"
	python3 -m http.server --bind 127.0.0.99 "$INTEL_PORT" >/dev/null 2>&1 3>&- &
	echo $! >"$T/http99.pid"

	mkdir -p "$T/rules.d"
	cat >"$T/rules.d/10-test.yaml" <<-YAML
		credential_stores:
		  - id: test.app-token
		    name: Test application token
		    technique: T1552.001
		    severity: high
		    paths: ["$T/app/.testapp/token"]
		    consumers:
		      - executable: ["$T/bin/testapp-cli"]
		proxy_ports: [1080, 3128, 8118, 9050, 9150, $PROXY_PORT]
		destination_lists:
		  - id: test.intel
		    name: Test proxy exits
		    technique: T1090.002
		    severity: high
		    cidrs: ["127.0.0.99/32"]
		relay_exceptions:
		  - name: ["python3*"]
		    args_prefix: ["$T/bin/db-app"]
	YAML
	cat >"$T/agent.yaml" <<-YAML
		rules_dir: $T/rules.d
		detectors:
		  dedupe_window: 3s
	YAML
	retry 50 0.1 curl -sf -o /dev/null "http://127.0.0.1:$HTTP_PORT/"
	retry 50 0.1 curl -sf -o /dev/null "http://127.0.0.99:$INTEL_PORT/"
	start_agent "$T" --config "$T/agent.yaml"
}

teardown_file() {
	stop_agent
	local f
	for f in "$T"/*.pid; do
		[ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null
	done
	true
}

setup() {
	requires_root
}

# run_pid CMD...: run CMD in a new shell that execs it; print the shell's pid (= CMD's pid)
run_pid() {
	bash -c 'echo $$; exec "$@" >/dev/null 2>&1' _ "$@"
}

# in_shell PID: a jq condition for a process that is shell PID or its child (bash execs the last
# command of "bash -c", so that one runs as the shell itself)
in_shell() {
	echo "(.process.pid == $1 or .process.parent.pid == $1)"
}

# alert FILTER: the first alert matching a jq condition (waits for it)
alert() {
	wait_event ".event.kind == \"alert\" and ($1)"
}

# no_alert FILTER: fail if an alert matches
no_alert() {
	local got
	got=$(events ".event.kind == \"alert\" and ($1)" | head -n 1)
	if [ -n "$got" ]; then
		echo "unexpected alert: $got" >&2
		return 1
	fi
}

@test "credential access: cat of a token cache alerts, with rule, technique, ancestry and trigger" {
	local f="$T/home/.azure/msal_token_cache.json" pid ev open
	pid=$(run_pid cat "$f")
	open=$(wait_event ".event.action == \"open\" and .process.pid == $pid")
	ev=$(alert ".process.pid == $pid")
	expect_field "$ev" .rule.id '"cred.azure-cli-msal"'
	expect_field "$ev" .rule.category '"credential_access"'
	expect_field "$ev" .threat.technique.id '"T1528"'
	expect_field "$ev" .event.severity 73
	expect_field "$ev" .nightjar.severity '"high"'
	expect_field "$ev" .files "[{\"path\":\"$f\",\"name\":\"msal_token_cache.json\"}]"
	expect_field "$ev" .trigger_sequences "[$(field "$open" .event.sequence)]"
	expect_field "$ev" .process.executable '"/usr/bin/cat"'
	expect_field "$ev" .process.args "[\"cat\",\"$f\"]"
	expect_field "$ev" .process.parent.executable "\"$(readlink -f /bin/bash)\""
	expect_field "$ev" .user.id '"0"'
	# the chain above the parent: this test's own shell is in it, with its user
	[ "$(field "$ev" "[.nightjar.ancestry[] | select(.pid == $$)] | length")" = 1 ]
	[ "$(field "$ev" "[.nightjar.ancestry[] | .user.id] | unique")" = '["0"]' ]
	grep -q "cat (pid $pid, uid 0) read Azure CLI MSAL" <<<"$(field "$ev" .message)"
}

@test "credential access: the store's consumer reads it quietly, the same program elsewhere does not" {
	local pid
	pid=$(run_pid "$T/bin/testapp-cli" "$T/app/.testapp/token")
	wait_event ".event.action == \"open\" and .process.pid == $pid" >/dev/null
	# an alert is written right after the record that raised it: it would be here by now
	no_alert ".process.pid == $pid"

	pid=$(run_pid "$T/other/testapp-cli" "$T/app/.testapp/token")
	ev=$(alert ".process.pid == $pid")
	expect_field "$ev" .rule.id '"test.app-token"'
	expect_field "$ev" .threat.technique.id '"T1552.001"'
}

@test "credential access: a copy made elsewhere and read there alerts" {
	local copy="$T/stash/x/.azure/msal_token_cache.json" pid
	mkdir -p "$(dirname "$copy")"
	pid=$(run_pid cp "$T/home/.azure/msal_token_cache.json" "$copy")
	alert ".process.pid == $pid and .rule.id == \"cred.azure-cli-msal\"" >/dev/null
	pid=$(run_pid cat "$copy")
	ev=$(alert ".process.pid == $pid")
	expect_field "$ev" .files[0].path "\"$copy\""
}

@test "exfiltration: read then curl to a loopback listener is one alert naming both" {
	local f="$T/home/.azure/msal_token_cache.json" out sh
	out=$(bash -c 'echo $$; cat "$1" >/dev/null; curl -s -o /dev/null "http://127.0.0.1:$2/upload"' \
		_ "$f" "$HTTP_PORT")
	sh=$(head -n 1 <<<"$out")
	ev=$(alert ".rule.id == \"cred.exfiltration\" and $(in_shell "$sh")")
	expect_field "$ev" .rule.category '"exfiltration"'
	expect_field "$ev" .process.name '"curl"'
	expect_field "$ev" .event.severity 73
	expect_field "$ev" .files[0].path "\"$f\""
	expect_field "$ev" .destinations "[{\"ip\":\"127.0.0.1\",\"port\":$HTTP_PORT}]"
	# the triggers are the read and the connection
	open=$(wait_event ".event.action == \"open\" and $(in_shell "$sh")")
	conn=$(wait_event ".event.action == \"connect\" and $(in_shell "$sh")")
	expect_field "$ev" .trigger_sequences \
		"[$(field "$open" .event.sequence),$(field "$conn" .event.sequence)]"
	[ "$(events ".rule.id == \"cred.exfiltration\" and $(in_shell "$sh")" | wc -l)" = 1 ]
}

@test "exfiltration: curl to a loopback server with no credential read does not alert" {
	local out sh
	out=$(bash -c 'echo $$; curl -s -o /dev/null "http://127.0.0.1:$1/"' _ "$HTTP_PORT")
	sh=$(head -n 1 <<<"$out")
	wait_event ".event.action == \"connect\" and $(in_shell "$sh")" >/dev/null
	no_alert "$(in_shell "$sh")"
}

@test "credential sweep: one lineage reading three stores" {
	local out sh ev
	out=$(bash -c 'echo $$; cat "$1" "$2" "$3" >/dev/null' _ "$T/home/.azure/msal_token_cache.json" \
		"$T/home/.config/gh/hosts.yml" "$T/home/.git-credentials")
	sh=$(head -n 1 <<<"$out")
	ev=$(alert ".rule.id == \"cred.sweep\" and $(in_shell "$sh")")
	expect_field "$ev" .rule.category '"credential_sweep"'
	expect_field "$ev" '.files | length' 3
	expect_field "$ev" '.trigger_sequences | length' 3
	# two stores are not a sweep
	out=$(bash -c 'echo $$; cat "$1" "$2" >/dev/null' _ "$T/home/.azure/msal_token_cache.json" \
		"$T/home/.config/gh/hosts.yml")
	sh=$(head -n 1 <<<"$out")
	alert ".rule.id == \"cred.gh-cli\" and $(in_shell "$sh")" >/dev/null
	no_alert ".rule.id == \"cred.sweep\" and $(in_shell "$sh")"
}

@test "shared credential file: the first reader is learned, persisted, and quiet after" {
	local f="$T/home/.aws/credentials" pid ev
	pid=$(run_pid "$T/learn/reader" "$f")
	ev=$(alert ".process.pid == $pid")
	expect_field "$ev" .rule.id '"cred.first-seen-reader"'
	expect_field "$ev" .nightjar.severity '"low"'
	grep -qxF "cred.aws-credentials	$T/learn/reader" "$STATE_DIR/baseline"
	# another run of the same executable, from another shell: known now
	pid=$(run_pid "$T/learn/reader" "$f")
	wait_event ".event.action == \"open\" and .process.pid == $pid" >/dev/null
	no_alert ".process.pid == $pid"
}

@test "tunnel: ssh -D against a test sshd alerts; a plain ssh command does not" {
	local key="$T/ssh/id" port socks pid ev
	mkdir -p "$T/ssh" /run/sshd
	ssh-keygen -q -t ed25519 -N '' -f "$T/ssh/host"
	ssh-keygen -q -t ed25519 -N '' -f "$key"
	cp "$key.pub" "$T/ssh/authorized_keys"
	port=$(python3 "$TRIGGER" free-port 127.0.0.1)
	socks=$(python3 "$TRIGGER" free-port 127.0.0.1)
	cat >"$T/ssh/sshd_config" <<-EOF
		ListenAddress 127.0.0.1
		Port $port
		HostKey $T/ssh/host
		AuthorizedKeysFile $T/ssh/authorized_keys
		PidFile $T/sshd.pid
		StrictModes no
		UsePAM no
		PermitRootLogin yes
		AllowTcpForwarding yes
	EOF
	/usr/sbin/sshd -f "$T/ssh/sshd_config" -E "$T/ssh/sshd.log"
	retry 50 0.1 test -s "$T/sshd.pid"
	local opts=(-i "$key" -p "$port" -o BatchMode=yes -o StrictHostKeyChecking=no
		-o UserKnownHostsFile=/dev/null)
	ssh "${opts[@]}" root@127.0.0.1 true

	ssh "${opts[@]}" -N -D "127.0.0.1:$socks" root@127.0.0.1 3>&- &
	pid=$!
	ev=$(alert ".process.pid == $pid")
	expect_field "$ev" .rule.id '"tunnel.ssh-forward"'
	expect_field "$ev" .rule.category '"tunnel_tool"'
	expect_field "$ev" .threat.technique.id '"T1572"'
	# and it works: a request through the SOCKS port reaches the web server
	retry 50 0.1 curl -sf -o /dev/null --socks5 "127.0.0.1:$socks" "http://127.0.0.1:$HTTP_PORT/"
	kill "$pid"

	# the plain command above ran too, and is no tunnel
	no_alert ".rule.category == \"tunnel_tool\" and .process.name == \"ssh\" and
		(.process.args | index(\"true\"))"
}

@test "tunnel: a socat relay is named by its argv and caught relaying" {
	local port pid ev
	port=$(python3 "$TRIGGER" free-port 127.0.0.1)
	socat "TCP-LISTEN:$port,bind=127.0.0.1,fork,reuseaddr" "TCP:127.0.0.1:$HTTP_PORT" 3>&- &
	pid=$!
	echo "$pid" >"$T/socat.pid"
	ev=$(alert ".process.pid == $pid and .rule.category == \"tunnel_tool\"")
	expect_field "$ev" .rule.id '"tunnel.socat-relay"'
	retry 50 0.1 curl -sf -o /dev/null "http://127.0.0.1:$port/"
	# socat accepts, its forked child connects out: one relay
	ev=$(alert ".rule.id == \"relay.accept-connect\" and (.destinations | map(.port) | index($port))")
	expect_field "$ev" .rule.category '"relay"'
	expect_field "$ev" .destinations \
		"[{\"ip\":\"127.0.0.1\",\"port\":$port},{\"ip\":\"127.0.0.1\",\"port\":$HTTP_PORT}]"
	kill "$pid"
}

@test "relay: a Python relay under an innocent name is caught by what it does" {
	local pid port ev curl_pid
	cp "$BATS_TEST_DIRNAME/relay.py" "$T/bin/backup-sync"
	python3 "$T/bin/backup-sync" "$T/relay.port" 127.0.0.1 "$HTTP_PORT" 3>&- &
	pid=$!
	echo "$pid" >"$T/relay.pid"
	retry 50 0.1 test -s "$T/relay.port"
	port=$(cat "$T/relay.port")
	curl_pid=$(run_pid curl -sf "http://127.0.0.1:$port/")
	ev=$(alert ".rule.id == \"relay.accept-connect\" and .process.pid == $pid")
	grep -q "accepted a connection on 127.0.0.1:$port and connected out to 127.0.0.1:$HTTP_PORT" \
		<<<"$(field "$ev" .message)"
	# its client went through a proxy: an alert of its own
	ev=$(alert ".rule.id == \"proxy.relay-client\" and .process.pid == $curl_pid")
	expect_field "$ev" .destinations "[{\"ip\":\"127.0.0.1\",\"port\":$port}]"
	# the name says nothing, so no tunnel tool rule fired on it
	no_alert ".process.pid == $pid and .rule.category == \"tunnel_tool\""
	kill "$pid"
}

@test "relay: a server the rules except connects out per request without an alert" {
	local pid port curl_pid
	cp "$BATS_TEST_DIRNAME/relay.py" "$T/bin/db-app"
	python3 "$T/bin/db-app" "$T/db-app.port" 127.0.0.1 "$HTTP_PORT" 3>&- &
	pid=$!
	echo "$pid" >"$T/db-app.pid"
	retry 50 0.1 test -s "$T/db-app.port"
	port=$(cat "$T/db-app.port")
	curl_pid=$(run_pid curl -sf "http://127.0.0.1:$port/")
	# it did accept and connect out: both records are there
	wait_event ".event.action == \"accept\" and .process.pid == $pid" >/dev/null
	wait_event ".event.action == \"connect\" and .process.pid == $pid" >/dev/null
	no_alert ".process.pid == $pid or .process.pid == $curl_pid"
	kill "$pid"
}

@test "proxy use: reading a token, then going out through a proxy port, raises the alert" {
	local pid out sh ev
	python3 "$BATS_TEST_DIRNAME/relay.py" "$T/proxy.port" 127.0.0.1 "$HTTP_PORT" "$PROXY_PORT" 3>&- &
	pid=$!
	echo "$pid" >"$T/proxy.pid"
	retry 50 0.1 test -s "$T/proxy.port"
	out=$(bash -c 'echo $$; cat "$1" >/dev/null; curl -s -o /dev/null "http://127.0.0.1:$2/"' \
		_ "$T/home/.azure/msal_token_cache.json" "$PROXY_PORT")
	sh=$(head -n 1 <<<"$out")
	ev=$(alert ".rule.id == \"cred.exfiltration\" and $(in_shell "$sh")")
	# high, one band up for the proxy
	expect_field "$ev" .nightjar.severity '"critical"'
	grep -q "through the proxy at 127.0.0.1:$PROXY_PORT" <<<"$(field "$ev" .message)"
	kill "$pid"
}

@test "destination list: a listed address alerts, matched in the kernel; others do not" {
	local pid ev
	pid=$(run_pid curl -s "http://127.0.0.99:$INTEL_PORT/")
	ev=$(alert ".process.pid == $pid")
	expect_field "$ev" .rule.id '"test.intel"'
	expect_field "$ev" .rule.category '"destination_list"'
	expect_field "$ev" .destinations "[{\"ip\":\"127.0.0.99\",\"port\":$INTEL_PORT}]"
	pid=$(run_pid curl -s "http://127.0.0.1:$HTTP_PORT/")
	wait_event ".event.action == \"connect\" and .process.pid == $pid" >/dev/null
	no_alert ".process.pid == $pid"
}

@test "deduplication: one alert per lineage and rule, then its count when the window closes" {
	local out sh ev
	out=$(bash -c 'echo $$; for i in 1 2 3; do cat "$1" >/dev/null; done' _ "$T/app/.testapp/token")
	sh=$(head -n 1 <<<"$out")
	ev=$(alert ".rule.id == \"test.app-token\" and $(in_shell "$sh")")
	expect_field "$ev" .nightjar.count 1
	# the window is 3 s here
	ev=$(alert ".rule.id == \"test.app-token\" and $(in_shell "$sh") and
		.nightjar.count == 3")
	expect_field "$ev" '.trigger_sequences | length' 3
	[ "$(events ".rule.id == \"test.app-token\" and $(in_shell "$sh")" | wc -l)" = 2 ]
}

@test "rules errors name the file, line and column; --check-config counts the rules" {
	mkdir -p "$BATS_TEST_TMPDIR/bad"
	printf 'tunnel_tools:\n  - id: x.y\n    name: X\n    match: {nmae: [x]}\n' \
		>"$BATS_TEST_TMPDIR/bad/1.yaml"
	printf 'rules_dir: %s\n' "$BATS_TEST_TMPDIR/bad" >"$BATS_TEST_TMPDIR/a.yaml"
	run "$NJ_AGENT" --check-config --config "$BATS_TEST_TMPDIR/a.yaml"
	[ "$status" -ne 0 ]
	grep -qF "$BATS_TEST_TMPDIR/bad/1.yaml:4:13: unknown key 'nmae' in a process matcher" <<<"$output"

	printf 'credential_stores:\n  - id: cred.nothing-here\n    disabled: true\n' \
		>"$BATS_TEST_TMPDIR/bad/1.yaml"
	run "$NJ_AGENT" --check-config --config "$BATS_TEST_TMPDIR/a.yaml"
	[ "$status" -ne 0 ]
	grep -qF "no credential store 'cred.nothing-here' to disable" <<<"$output"

	run "$NJ_AGENT" --check-config --config "$T/agent.yaml"
	[ "$status" -eq 0 ]
	grep -qE '^rules: [0-9]+ credential stores, [0-9]+ tunnel tools, 6 proxy ports, 1 destination lists' \
		<<<"$output"
}

@test "false positives: building this repository, installing a package and shell use raise none" {
	# its own agent, on the embedded defaults (bench/false-positives.sh, docs/detection.md)
	run "$NJ_TOP/bench/false-positives.sh"
	echo "$output"
	[ "$status" -eq 0 ]
	grep -qF '| **all** | **0** |' <<<"$output"
	# and it did the work: three workloads were counted
	[ "$(grep -cE '^\| (shell|package|build) \| [0-9]+ \|$' <<<"$output")" = 3 ]
}
