#!/usr/bin/env bats
# Process lifecycle: exec, fork, exit, lineage, executable resolution, argv capture.

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

@test "exec: exact argv, resolved executable, parent and a stable entity id" {
	# /bin is a symlink to usr/bin on Debian: the kernel must report the real file
	sh -c 'echo $$ > "$1"; exec /bin/echo "two words" "" "é-ünïcode"' sh "$BATS_TEST_TMPDIR/pid" >/dev/null
	pid=$(cat "$BATS_TEST_TMPDIR/pid")
	ev=$(wait_event ".event.action == \"exec\" and .process.pid == $pid and .process.name == \"echo\"")
	expect_field "$ev" .process.args '["/bin/echo","two words","","é-ünïcode"]'
	expect_field "$ev" .process.args_count 4
	expect_field "$ev" .process.executable '"/usr/bin/echo"'
	expect_field "$ev" .process.name '"echo"'
	expect_field "$ev" .process.parent.pid "$BASHPID"
	expect_field "$ev" .event.category '"process"'
	expect_field "$ev" .event.kind '"event"'
	expect_field "$ev" .user.id "\"$(id -u)\""
	expect_field "$ev" .host.name "\"$(hostname)\""
	# the parent is this test's shell, known from the start-up snapshot or its own fork
	expect_field "$ev" .process.parent.executable '"/usr/bin/bash"'
	# the fork that made the child, its exec and its exit share one entity id
	entity=$(field "$ev" .process.entity_id)
	[[ "$entity" =~ ^\"[0-9a-f]{16}-$pid-[0-9]+\"$ ]]
	fork=$(wait_event ".event.action == \"fork\" and .process.pid == $pid")
	expect_field "$fork" .process.entity_id "$entity"
	expect_field "$fork" .process.parent.pid "$BASHPID"
	exit_ev=$(wait_event ".event.action == \"exit\" and .process.pid == $pid")
	expect_field "$exit_ev" .process.entity_id "$entity"
	expect_field "$exit_ev" .process.exit_code 0
	# the parent's entity id is the one its own events carry
	pe=$(field "$ev" .process.parent.entity_id)
	[[ "$pe" =~ ^\"[0-9a-f]{16}-$BASHPID-[0-9]+\"$ ]]
}

@test "exit: exit code, and 128+signal with the signal for a killed process" {
	run sh -c 'echo $$ > "$1"; exit 3' sh "$BATS_TEST_TMPDIR/pid3"
	[ "$status" -eq 3 ]
	pid=$(cat "$BATS_TEST_TMPDIR/pid3")
	ev=$(wait_event ".event.action == \"exit\" and .process.pid == $pid")
	expect_field "$ev" .process.exit_code 3
	expect_field "$ev" .event.type '"end"'

	run sh -c 'echo $$ > "$1"; kill -9 $$' sh "$BATS_TEST_TMPDIR/pid9"
	pid=$(cat "$BATS_TEST_TMPDIR/pid9")
	ev=$(wait_event ".event.action == \"exit\" and .process.pid == $pid")
	expect_field "$ev" .process.exit_code 137
	expect_field "$ev" .nightjar.exit_signal 9
}

@test "exec through a symlink reports the target" {
	ln -s /usr/bin/true "$BATS_TEST_TMPDIR/innocent-name"
	sh -c 'echo $$ > "$1"; exec "$2"' sh "$BATS_TEST_TMPDIR/pid" "$BATS_TEST_TMPDIR/innocent-name"
	pid=$(cat "$BATS_TEST_TMPDIR/pid")
	ev=$(wait_event ".event.action == \"exec\" and .process.pid == $pid and .process.name == \"innocent-name\"")
	expect_field "$ev" .process.executable '"/usr/bin/true"'
	expect_field "$ev" .process.args "[\"$BATS_TEST_TMPDIR/innocent-name\"]"
}

@test "fexecve of /dev/fd/N reports the real file" {
	out=$(python3 "$TRIGGER" exec-fd /usr/bin/true)
	pid=$(jq .pid <<<"$out")
	ev=$(wait_event ".event.action == \"exec\" and .process.pid == $pid and .process.args[0] == \"nj-fd-child\"")
	expect_field "$ev" .process.executable '"/usr/bin/true"'
	expect_field "$ev" .process.args '["nj-fd-child","fd-arg"]'
}

@test "exec from a memfd is flagged detached" {
	out=$(python3 "$TRIGGER" exec-memfd /usr/bin/true)
	pid=$(jq .pid <<<"$out")
	ev=$(wait_event ".event.action == \"exec\" and .process.pid == $pid and .process.args[0] == \"nj-memfd-child\"")
	expect_field "$ev" .process.executable '"/memfd:nj-memfd"'
	# no path on any filesystem, and no link left: both say "this binary is nowhere"
	expect_field "$ev" .nightjar.exe.flags '["detached","deleted"]'
	expect_field "$ev" .process.args '["nj-memfd-child","memfd-arg"]'
}

@test "argv longer than the capture is truncated and flagged" {
	long=$(head -c 12000 /dev/zero | tr '\0' 'a')
	sh -c 'echo $$ > "$1"; exec /bin/true "$2"' sh "$BATS_TEST_TMPDIR/pid" "$long"
	pid=$(cat "$BATS_TEST_TMPDIR/pid")
	ev=$(wait_event ".event.action == \"exec\" and .process.pid == $pid and .process.name == \"true\"")
	expect_field "$ev" .process.args_truncated true
	# argv[0] whole, argv[1] cut: 8191 bytes in all, NULs included
	expect_field "$ev" '.process.args[0]' '"/bin/true"'
	len=$(field "$ev" '.process.args[1] | length')
	[ "$len" -eq $((8191 - 10)) ]
}

@test "uid and gid of an unprivileged process" {
	# setpriv execs its command: the pid of the background job is the sleep's
	setpriv --reuid=65534 --regid=65534 --clear-groups /bin/sleep 0.1 &
	pid=$!
	wait $pid
	ev=$(wait_event ".event.action == \"exec\" and .process.pid == $pid and .process.name == \"sleep\"")
	expect_field "$ev" .user.id '"65534"'
	expect_field "$ev" .user.effective.id '"65534"'
	expect_field "$ev" .group.id '"65534"'
	expect_field "$ev" .process.parent.pid "$BASHPID"
}

@test "an executable under a path longer than 255 bytes" {
	dir=$(mktemp -d /tmp/nj-long.XXXXXX)
	deep="$dir/$(printf 'x%.0s' {1..120})/$(printf 'y%.0s' {1..120})/$(printf 'z%.0s' {1..40})"
	mkdir -p "$deep"
	cp /usr/bin/true "$deep/long-true"
	"$deep/long-true" &
	pid=$!
	wait $pid
	ev=$(wait_event ".event.action == \"exec\" and .process.pid == $pid")
	rm -rf "$dir"
	expect_field "$ev" .process.executable "\"$deep/long-true\""
}
