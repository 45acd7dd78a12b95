#!/usr/bin/env bats
# Network: connect (TCP/UDP, v4/v6, outcomes), listen, accept, unconnected UDP sends.
# Loopback only.

load helpers

setup_file() {
	requires_root
	start_agent "$BATS_FILE_TMPDIR"
}

teardown_file() {
	stop_agent
}

setup() {
	requires_root
}

# tcp_case HOST TYPE: listen, connect and accept of one connection, field by field
tcp_case() {
	local host=$1 type=$2 out pid lport cport ev
	out=$(python3 "$TRIGGER" tcp "$host")
	pid=$(jq .pid <<<"$out")
	lport=$(jq .listen_port <<<"$out")
	cport=$(jq .client_port <<<"$out")

	ev=$(wait_event ".event.action == \"listen\" and .process.pid == $pid")
	expect_field "$ev" .source.ip "\"$host\""
	expect_field "$ev" .source.port "$lport"
	expect_field "$ev" .network.transport '"tcp"'
	expect_field "$ev" .network.type "\"$type\""
	expect_field "$ev" .event.category '"network"'
	expect_field "$ev" .process.name '"python3"'

	ev=$(wait_event ".event.action == \"connect\" and .process.pid == $pid")
	expect_field "$ev" .destination.ip "\"$host\""
	expect_field "$ev" .destination.port "$lport"
	expect_field "$ev" .source.ip "\"$host\""
	expect_field "$ev" .source.port "$cport"
	expect_field "$ev" .event.outcome '"success"'
	expect_field "$ev" .nightjar.result '"established"'
	expect_field "$ev" .network.direction '"egress"'
	expect_field "$ev" .network.type "\"$type\""
	expect_field "$ev" .process.parent.pid "$(jq .ppid <<<"$out")"

	ev=$(wait_event ".event.action == \"accept\" and .process.pid == $pid")
	expect_field "$ev" .source.ip "\"$host\""
	expect_field "$ev" .source.port "$cport"
	expect_field "$ev" .destination.port "$lport"
	expect_field "$ev" .network.direction '"ingress"'
}

@test "TCP over IPv4 loopback: listen, connect, accept" {
	tcp_case 127.0.0.1 ipv4
}

@test "TCP over IPv6 loopback: listen, connect, accept" {
	tcp_case ::1 ipv6
}

@test "a refused connect is a failure with ECONNREFUSED" {
	out=$(python3 "$TRIGGER" refused 127.0.0.1)
	pid=$(jq .pid <<<"$out")
	port=$(jq .port <<<"$out")
	[ "$(jq .errno <<<"$out")" -eq 111 ]
	ev=$(wait_event ".event.action == \"connect\" and .process.pid == $pid")
	expect_field "$ev" .destination.ip '"127.0.0.1"'
	expect_field "$ev" .destination.port "$port"
	expect_field "$ev" .event.outcome '"failure"'
	expect_field "$ev" .nightjar.result '"refused"'
	expect_field "$ev" .error.code '"ECONNREFUSED"'
}

@test "a non-blocking connect reports in progress" {
	out=$(python3 "$TRIGGER" nonblock 127.0.0.1)
	pid=$(jq .pid <<<"$out")
	port=$(jq .port <<<"$out")
	ev=$(wait_event ".event.action == \"connect\" and .process.pid == $pid")
	expect_field "$ev" .destination.port "$port"
	# loopback may complete a non-blocking connect at once; the agent must say which
	if [ "$(jq .inprogress <<<"$out")" = true ]; then
		expect_field "$ev" .nightjar.result '"in_progress"'
		expect_field "$ev" .event.outcome '"unknown"'
	else
		expect_field "$ev" .nightjar.result '"established"'
	fi
}

@test "unconnected UDP: each new destination once per socket" {
	out=$(python3 "$TRIGGER" udp 127.0.0.1 53 5353)
	pid=$(jq .pid <<<"$out")
	sport=$(jq .sport <<<"$out")
	ev=$(wait_event ".event.action == \"udp_send\" and .process.pid == $pid and .destination.port == 5353")
	expect_field "$ev" .destination.ip '"127.0.0.1"'
	expect_field "$ev" .network.transport '"udp"'
	expect_field "$ev" .source.port "$sport"
	# two sends to port 53, one event; the 5353 event came after both, so all are in
	[ "$(events ".event.action == \"udp_send\" and .process.pid == $pid and .destination.port == 53" | wc -l)" -eq 1 ]
}

@test "unconnected UDP over IPv6" {
	out=$(python3 "$TRIGGER" udp ::1 53 5353)
	pid=$(jq .pid <<<"$out")
	ev=$(wait_event ".event.action == \"udp_send\" and .process.pid == $pid and .destination.port == 53")
	expect_field "$ev" .destination.ip '"::1"'
	expect_field "$ev" .network.type '"ipv6"'
}

@test "a connected UDP socket is a connect" {
	out=$(python3 "$TRIGGER" udp-connect 127.0.0.1 53)
	pid=$(jq .pid <<<"$out")
	ev=$(wait_event ".event.action == \"connect\" and .process.pid == $pid")
	expect_field "$ev" .network.transport '"udp"'
	expect_field "$ev" .destination.port 53
	expect_field "$ev" .source.port "$(jq .sport <<<"$out")"
	expect_field "$ev" .nightjar.result '"connected"'
}
