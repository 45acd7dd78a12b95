#!/usr/bin/env bats
# Credential files: matched in the kernel however they are opened, and only those.

load helpers

setup_file() {
	requires_root
	export SECRETS="$BATS_FILE_TMPDIR/secrets"
	mkdir -p "$SECRETS"
	echo token >"$SECRETS/app-token"
	echo nothing >"$SECRETS/not-a-token"
	cat >"$BATS_FILE_TMPDIR/agent.yaml" <<-YAML
		watch:
		  paths:
		    - $SECRETS/app-token
	YAML
	# a process that exists before the agent, and opens the token once told to
	mkfifo "$BATS_FILE_TMPDIR/go"
	python3 "$TRIGGER" wait-then-open "$BATS_FILE_TMPDIR/early.pid" "$BATS_FILE_TMPDIR/go" \
		"$SECRETS/app-token" 3>&- &
	export EARLY_PID=$!
	retry 50 0.1 test -s "$BATS_FILE_TMPDIR/early.pid"
	start_agent "$BATS_FILE_TMPDIR" --config "$BATS_FILE_TMPDIR/agent.yaml"
}

teardown_file() {
	stop_agent
	kill "$EARLY_PID" 2>/dev/null || true
}

setup() {
	requires_root
}

# open_event PID PATH: the open event of PATH by PID
open_event() {
	wait_event ".event.action == \"open\" and .process.pid == $1 and .file.path == \"$2\""
}

@test "absolute path: path, inode, device, flags and process" {
	out=$(python3 "$TRIGGER" open "$SECRETS/app-token")
	pid=$(jq .pid <<<"$out")
	ev=$(open_event "$pid" "$SECRETS/app-token")
	expect_field "$ev" .file.inode "\"$(stat -c %i "$SECRETS/app-token")\""
	expect_field "$ev" .file.device "\"$(stat -c %Hd:%Ld "$SECRETS/app-token")\""
	expect_field "$ev" .file.name '"app-token"'
	expect_field "$ev" .nightjar.file.flags '["O_RDONLY"]'
	expect_field "$ev" .nightjar.file.match '"inode"'
	expect_field "$ev" .event.category '"file"'
	expect_field "$ev" .process.name '"python3"'
	expect_field "$ev" .process.parent.pid "$(jq .ppid <<<"$out")"
}

@test "relative path" {
	out=$(cd "$SECRETS" && python3 "$TRIGGER" open ./app-token)
	open_event "$(jq .pid <<<"$out")" "$SECRETS/app-token"
}

@test "symlink: the event names the target" {
	ln -s "$SECRETS/app-token" "$BATS_TEST_TMPDIR/link"
	out=$(python3 "$TRIGGER" open "$BATS_TEST_TMPDIR/link")
	open_event "$(jq .pid <<<"$out")" "$SECRETS/app-token"
}

@test "hardlink under another name is matched by identity" {
	ln "$SECRETS/app-token" "$BATS_TEST_TMPDIR/innocuous.txt"
	out=$(python3 "$TRIGGER" open "$BATS_TEST_TMPDIR/innocuous.txt")
	ev=$(open_event "$(jq .pid <<<"$out")" "$BATS_TEST_TMPDIR/innocuous.txt")
	expect_field "$ev" .nightjar.file.match '"inode"'
	expect_field "$ev" .file.inode "\"$(stat -c %i "$SECRETS/app-token")\""
}

@test "bind mount in a private mount namespace" {
	mkdir "$BATS_TEST_TMPDIR/mnt"
	out=$(unshare -m sh -c 'mount --bind "$1" "$2" && python3 "$3" open "$2/app-token"' sh \
		"$SECRETS" "$BATS_TEST_TMPDIR/mnt" "$TRIGGER")
	ev=$(open_event "$(jq .pid <<<"$out")" "$BATS_TEST_TMPDIR/mnt/app-token")
	expect_field "$ev" .file.inode "\"$(stat -c %i "$SECRETS/app-token")\""
}

@test "a file replaced by rename is still watched" {
	echo rotated >"$SECRETS/.app-token.tmp"
	mv "$SECRETS/.app-token.tmp" "$SECRETS/app-token"
	out=$(python3 "$TRIGGER" open "$SECRETS/app-token")
	ev=$(open_event "$(jq .pid <<<"$out")" "$SECRETS/app-token")
	expect_field "$ev" .file.inode "\"$(stat -c %i "$SECRETS/app-token")\""
}

@test "a process started before the agent" {
	echo go >"$BATS_FILE_TMPDIR/go"
	ev=$(open_event "$EARLY_PID" "$SECRETS/app-token")
	# known from the start-up snapshot: image, arguments and parent
	expect_field "$ev" '.process.args[1]' "\"$TRIGGER\""
	expect_field "$ev" '.process.args[2]' '"wait-then-open"'
	expect_field "$ev" '.process.executable | test("python3")' true
	expect_field "$ev" '.process.entity_id | test("-'"$EARLY_PID"'-")' true
}

@test "a copy of AWS credentials under /tmp is recognised by its name" {
	dir=$(mktemp -d /tmp/nj-copy.XXXXXX)
	mkdir "$dir/.aws"
	echo "[default]" >"$dir/.aws/credentials"
	out=$(python3 "$TRIGGER" open "$dir/.aws/credentials")
	ev=$(open_event "$(jq .pid <<<"$out")" "$dir/.aws/credentials")
	expect_field "$ev" .nightjar.file.match '"signature"'
	rm -rf "$dir"
}

@test "a home created after the agent started" {
	home=/home/nj-test-$$
	mkdir -p "$home/.kube"
	echo "apiVersion: v1" >"$home/.kube/config"
	out=$(python3 "$TRIGGER" open "$home/.kube/config")
	ev=$(open_event "$(jq .pid <<<"$out")" "$home/.kube/config")
	rm -rf "$home"
	expect_field "$ev" .nightjar.file.match '"signature"'
}

@test "writes carry their flags" {
	sh -c 'echo $$ > "$1"; exec 3>>"$2"' sh "$BATS_TEST_TMPDIR/pid" "$SECRETS/app-token"
	ev=$(open_event "$(cat "$BATS_TEST_TMPDIR/pid")" "$SECRETS/app-token")
	expect_field "$ev" .nightjar.file.flags '["O_WRONLY","O_APPEND"]'
}

@test "an unwatched file gives no event" {
	out=$(python3 "$TRIGGER" open "$SECRETS/not-a-token")
	pid=$(jq .pid <<<"$out")
	# a watched open after it: once that arrives, anything before it has arrived too
	marker=$(python3 "$TRIGGER" open "$SECRETS/app-token")
	open_event "$(jq .pid <<<"$marker")" "$SECRETS/app-token"
	run events ".event.action == \"open\" and .file.path == \"$SECRETS/not-a-token\""
	[ -z "$output" ]
	run events ".event.action == \"open\" and .process.pid == $pid"
	[ -z "$output" ]
}

@test "a credential file under a path longer than 255 bytes" {
	# every length of path must size its record right (a 256-byte path once did not)
	dir=$(mktemp -d /tmp/nj-long.XXXXXX)
	deep="$dir/$(printf 'a%.0s' {1..100})/$(printf 'b%.0s' {1..100})/$(printf 'c%.0s' {1..90})"
	mkdir -p "$deep/.aws"
	echo "[default]" >"$deep/.aws/credentials"
	out=$(python3 "$TRIGGER" open "$deep/.aws/credentials")
	ev=$(open_event "$(jq .pid <<<"$out")" "$deep/.aws/credentials")
	rm -rf "$dir"
	expect_field "$ev" .nightjar.file.match '"signature"'
	run grep -c 'malformed' "$AGENT_ERR"
	[ "$output" = 0 ]
}
