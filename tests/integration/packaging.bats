#!/usr/bin/env bats
# The packages: both build, lintian passes, the rpm holds the deb's files, and the installed
# agent runs from its installed paths under its unit's user, capabilities and read-only
# filesystem, produces events, drops privileges, and purge leaves nothing behind.
#
# systemd is not PID 1 on every test machine, so the unit's constraints are applied by hand
# (setpriv and a private mount namespace); the unit files themselves are checked with
# systemd-analyze. The tests run in order and share the built packages.

load helpers

PKG_DIR="$NJ_TOP/.output/pkg"

setup_file() {
	[ "$(id -u)" -eq 0 ] || return 0
	# a copy from an earlier, interrupted run would hide what this one installs
	purge_installed
}

# purge_installed: remove what an interrupted run may have left
purge_installed() {
	local p
	for p in nightjar-agent nightjar-collector; do
		if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q installed; then
			DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq "$p" >/dev/null
		fi
	done
}

teardown_file() {
	[ "$(id -u)" -eq 0 ] || return 0
	purge_installed
	rm -rf /home/nj-pkgtest-*
}

setup() {
	requires_root
}

teardown() {
	stop_agent || true
}

deb() { echo "$PKG_DIR/$1_$(pkg_version)_$(dpkg --print-architecture).deb"; }
pkg_version() { sed -n 's/^#define NJ_VERSION "\(.*\)"$/\1/p' "$NJ_TOP/agent/version.h"; }
has_collector() { ls "$NJ_TOP"/collector/*.c >/dev/null 2>&1; }

# the file list of a package, normalised: see docs/packaging.md, "deb and rpm"
normalise() {
	sed -e 's|^\./|/|' -e 's|^/lib/systemd/|/usr/lib/systemd/|' -e 's|\.gz$||' |
		grep -v -e '^/usr/share/doc/' -e '^/usr/share/lintian/' -e '^/usr/lib/\.build-id' | sort
}
# non-directories, and the directories the package owns under /etc/nightjar
deb_files() {
	dpkg-deb -c "$1" | awk '{ print substr($1, 1, 1), $6 }' |
		awk '$1 != "d" || $2 ~ /^\.\/etc\/nightjar\// { sub(/\/$/, "", $2); print $2 }' | normalise
}
rpm_files() {
	rpm -qp --qf '[%{FILEMODES:perms} %{FILENAMES}\n]' "$1" 2>/dev/null |
		awk '{ print substr($1, 1, 1), $2 }' |
		awk '$1 != "d" || $2 ~ /^\/etc\/nightjar/ { print $2 }' | normalise
}

@test "make deb builds the packages" {
	run make -C "$NJ_TOP" --no-print-directory deb
	[ "$status" -eq 0 ] || { echo "$output" | tail -n 30; false; }
	[ -f "$(deb nightjar-agent)" ]
	if has_collector; then
		[ -f "$(deb nightjar-collector)" ]
	fi
	# Depends from shlibdeps: the libraries the agent links
	deps=$(dpkg-deb -f "$(deb nightjar-agent)" Depends)
	for lib in libbpf1 libc6 libcap2 libprotobuf-c1 libyaml-0-2; do
		[[ "$deps" == *"$lib"* ]] || { echo "Depends lacks $lib: $deps"; false; }
	done
	# configuration is kept across upgrades
	dpkg-deb -e "$(deb nightjar-agent)" "$BATS_TEST_TMPDIR/control"
	grep -qx /etc/nightjar/agent.yaml "$BATS_TEST_TMPDIR/control/conffiles"
	# the repository stays clean: the build ran in a copy
	[ ! -e "$NJ_TOP/debian" ]
}

@test "lintian passes, and every override says why" {
	run lintian --pedantic --display-info --fail-on error,warning,info \
		"$PKG_DIR"/nightjar_"$(pkg_version)"_*.changes
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	for f in "$NJ_TOP"/packaging/debian/*.lintian-overrides; do
		# each override comes after the comment that justifies it (one comment may cover a
		# run of overrides for the same reason)
		awk 'NF && !/^#/ && !justified { print FILENAME ":" NR ": no reason given"; bad = 1 }
		     /^#/ { justified = 1 } !NF { justified = 0 } END { exit bad }' "$f"
	done
}

@test "make rpm builds, and the rpm holds exactly the deb's files" {
	run make -C "$NJ_TOP" --no-print-directory rpm
	[ "$status" -eq 0 ] || { echo "$output" | tail -n 30; false; }
	pkgs=(nightjar-agent)
	has_collector && pkgs+=(nightjar-collector)
	for p in "${pkgs[@]}"; do
		rpmf=$(ls "$PKG_DIR/$p-$(pkg_version)"-*.rpm)
		diff -u <(deb_files "$(deb "$p")") <(rpm_files "$rpmf")
		# and the same configuration files
		diff -u <(dpkg-deb --ctrl-tarfile "$(deb "$p")" | tar -xO ./conffiles | sort) \
			<(rpm -qp --configfiles "$rpmf" | sort)
	done
}

@test "the man pages give every option the programs accept" {
	mandir="$BATS_TEST_TMPDIR/man"
	mkdir -p "$mandir"
	dpkg-deb -x "$(deb nightjar-agent)" "$mandir"
	opts() { grep -oE -- '--[a-z][a-z-]+' | sort -u; }
	# the OPTIONS section only: descriptions mention other programs' options
	man_opts() {
		zcat "$mandir/usr/share/man/man8/$1.8.gz" | sed -n '/^\.SH OPTIONS/,/^\.SH [^O]/p' |
			sed 's/\\-/-/g' | opts
	}
	diff -u <("$NJ_TOP/.output/nightjar-agent" --help | opts) <(man_opts nightjar-agent)
	diff -u <({ for c in read tail capture status; do
		"$NJ_TOP/.output/nightjarctl" "$c" --help; done
		echo --help; } | opts | grep -v -e '--output') \
		<(man_opts nightjarctl | grep -v -e '--output')
	diff -u <("$NJ_TOP/packaging/nightjar-enrol" --help | opts) <(man_opts nightjar-enrol)
	if has_collector; then
		dpkg-deb -x "$(deb nightjar-collector)" "$mandir"
		# the collector's help leaves out --version and --help, which it accepts
		diff -u <({ "$NJ_TOP/.output/nightjar-collector" --help
			"$NJ_TOP/.output/nightjar-collector" status --help
			echo --version --help; } | opts) <(man_opts nightjar-collector)
	fi
}

@test "the package installs, and its units pass systemd-analyze verify" {
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$(deb nightjar-agent)" >/dev/null
	[ -x /usr/sbin/nightjar-agent ] && [ -x /usr/sbin/nightjarctl ]
	getent passwd nightjar >/dev/null
	[ "$(stat -c '%U %a' /var/lib/nightjar)" = "nightjar 700" ]
	[ "$(stat -c '%U:%G %a' /etc/nightjar/tls)" = "root:nightjar 750" ]
	/usr/sbin/nightjar-agent --check-config | grep -q '/etc/nightjar/agent.yaml: configuration OK'
	run systemd-analyze verify /lib/systemd/system/nightjar-agent.service
	[ "$status" -eq 0 ] && [ -z "$output" ] || { echo "$output"; false; }
	run systemd-analyze security --offline=yes /lib/systemd/system/nightjar-agent.service
	echo "$output" | tail -n 1
	[[ "$output" == *"Overall exposure level for nightjar-agent.service"* ]]
	if has_collector; then
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$(deb nightjar-collector)" \
			>/dev/null
		getent passwd nightjar-collector >/dev/null
		[ "$(stat -c '%U %a' /var/lib/nightjar-collector)" = "nightjar-collector 700" ]
		/usr/sbin/nightjar-collector --check-config
		run systemd-analyze verify /lib/systemd/system/nightjar-collector.service
		[ "$status" -eq 0 ] && [ -z "$output" ] || { echo "$output"; false; }
	fi
}

# run_as_unit ARGS...: the installed agent as nightjar-agent.service would run it: as the
# unit's user with the unit's ambient capabilities (read from the installed unit), tracefs
# and securityfs mounted as systemd mounts them at boot, and, as ProtectSystem=strict and
# ProtectHome=read-only make it, a read-only root file system with the state directory
# writable. Sets AGENT_PID, AGENT_OUT, AGENT_ERR.
run_as_unit() {
	local unit=/lib/systemd/system/nightjar-agent.service caps user
	caps=$(sed -n 's/^AmbientCapabilities=//p' "$unit" | tr 'A-Z' 'a-z' |
		sed -e 's/cap_/,+/g' -e 's/ //g')
	user=$(sed -n 's/^User=//p' "$unit")
	AGENT_OUT="$BATS_TEST_TMPDIR/events.json"
	AGENT_ERR="$BATS_TEST_TMPDIR/agent.log"
	unshare -m --propagation slave -- sh -c '
		mountpoint -q /sys/kernel/tracing || mount -t tracefs tracefs /sys/kernel/tracing
		mountpoint -q /sys/kernel/security || mount -t securityfs securityfs /sys/kernel/security
		mount --bind /var/lib/nightjar /var/lib/nightjar
		mount -o remount,bind,ro /
		user=$1 caps=$2
		shift 2
		exec setpriv --reuid="$user" --regid="$user" --clear-groups --inh-caps="-all$caps" \
			--ambient-caps="-all$caps" --bounding-set="-all$caps" -- "$@"
	' sh "$user" "$caps" /usr/sbin/nightjar-agent --output json "${@}" \
		>"$AGENT_OUT" 2>"$AGENT_ERR" &
	AGENT_PID=$!
	export AGENT_PID AGENT_OUT AGENT_ERR
	retry 100 0.1 grep -q ': ready' "$AGENT_ERR" || { cat "$AGENT_ERR"; return 1; }
	# the pid that loaded BPF is the agent's, after sh and setpriv exec'd into it
	[ "$(cat /proc/$AGENT_PID/comm)" = nightjar-agent ]
}

@test "the installed agent runs as its unit would, produces events and drops privileges" {
	[ -x /usr/sbin/nightjar-agent ] || skip "the package is not installed"
	run_as_unit
	# only what running needs is left, and no way back
	retry 50 0.1 grep -q 'dropped privileges after attaching' "$AGENT_ERR"
	grep -q 'kept uid [0-9]*, capabilities cap_dac_read_search' "$AGENT_ERR"
	[ "$(awk '/^CapEff/ { print $2 }' /proc/$AGENT_PID/status)" = 0000000000000004 ]
	[ "$(awk '/^CapPrm/ { print $2 }' /proc/$AGENT_PID/status)" = 0000000000000004 ]
	[ "$(awk '/^CapAmb/ { print $2 }' /proc/$AGENT_PID/status)" = 0000000000000000 ]
	[ "$(awk '/^NoNewPrivs/ { print $2 }' /proc/$AGENT_PID/status)" = 1 ]
	[ "$(awk '/^Uid/ { print $3 }' /proc/$AGENT_PID/status)" = "$(id -u nightjar)" ]
	# the installed nightjarctl finds the agent through the installed configuration
	run /usr/sbin/nightjarctl status
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	[[ "$output" == *"privileges: uid $(id -u nightjar), capabilities cap_dac_read_search"* ]]
	# events flow after the drop, into stdout and into the spool
	out=$(python3 "$TRIGGER" tcp 127.0.0.1)
	wait_event ".event.action == \"connect\" and .process.pid == $(jq .pid <<<"$out")"
	/bin/true
	wait_event '.event.action == "exec" and .process.executable == "/usr/bin/true"'
	stop_agent
	/usr/sbin/nightjarctl read --kind connect | grep -q .
}

@test "after the drop, rescans still watch new credential files in private homes" {
	[ -x /usr/sbin/nightjar-agent ] || skip "the package is not installed"
	cat >"$BATS_TEST_TMPDIR/agent.yaml" <<-YAML
		state_dir: /var/lib/nightjar
		watch:
		  rescan_interval: 1s
	YAML
	chmod 0644 "$BATS_TEST_TMPDIR/agent.yaml"
	chmod 0755 "$BATS_TEST_TMPDIR"
	run_as_unit --config "$BATS_TEST_TMPDIR/agent.yaml"
	# a home created after the drop, 0700 and someone else's, seen read-only by the agent
	home=/home/nj-pkgtest-$$
	mkdir -p "$home/.aws"
	echo '[default]' >"$home/.aws/credentials"
	# a second name for the same file: only the watch by identity (a stat at rescan) sees it
	ln "$home/.aws/credentials" "$home/.aws/unremarkable"
	chown -R nobody:nogroup "$home"
	chmod 0700 "$home"
	sleep 2.5 # two rescans
	out=$(python3 "$TRIGGER" open "$home/.aws/unremarkable")
	ev=$(wait_event ".event.action == \"open\" and .process.pid == $(jq .pid <<<"$out")")
	expect_field "$ev" .nightjar.file.match '"inode"'
	rm -rf "$home"
}

# make_cert DIR NAME: a key and a certificate for NAME signed by DIR/ca.{crt,key}
make_cert() {
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1/$2.key" \
		-out "$1/$2.csr" -subj "/CN=$2" 2>/dev/null
	openssl x509 -req -in "$1/$2.csr" -CA "$1/ca.crt" -CAkey "$1/ca.key" -CAcreateserial \
		-days 2 -out "$1/$2.crt" 2>/dev/null
}

@test "nightjar-enrol: one idempotent step; refused input changes nothing" {
	[ -x /usr/sbin/nightjar-enrol ] || skip "the package is not installed"
	printf 'collector:\n  address: "c.example:6445"\n' >"$BATS_TEST_TMPDIR/probe.yaml"
	if /usr/sbin/nightjar-agent --check-config --config "$BATS_TEST_TMPDIR/probe.yaml" 2>&1 |
		grep -q "unknown key 'collector'"; then
		skip "this agent has no collector: settings yet (they come with the ship branch)"
	fi
	pki=$BATS_TEST_TMPDIR/pki
	mkdir -p "$pki"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
		-keyout "$pki/ca.key" -out "$pki/ca.crt" -subj /CN=test-ca 2>/dev/null
	make_cert "$pki" host
	make_cert "$pki" other

	run /usr/sbin/nightjar-enrol --collector c.example:6445 --ca "$pki/ca.crt" \
		--cert "$pki/host.crt" --key "$pki/host.key" --no-restart
	[ "$status" -eq 0 ] && [[ "$output" == *"(changed)"* ]] || { echo "$output"; false; }
	[ "$(stat -c '%U:%G %a' /etc/nightjar/tls/host.key)" = "root:nightjar 640" ]
	cmp "$pki/host.crt" /etc/nightjar/tls/host.crt
	grep -qx '  address: "c.example:6445"' /etc/nightjar/agent.yaml
	grep -qx '  key: /etc/nightjar/tls/host.key' /etc/nightjar/agent.yaml
	/usr/sbin/nightjar-agent --check-config
	# the packaged settings above the block are still there
	grep -qx 'state_dir: /var/lib/nightjar' /etc/nightjar/agent.yaml
	before=$(md5sum /etc/nightjar/agent.yaml /etc/nightjar/tls/*)

	# the same input again: nothing changes
	run /usr/sbin/nightjar-enrol --collector c.example:6445 --ca "$pki/ca.crt" \
		--cert "$pki/host.crt" --key "$pki/host.key" --no-restart
	[ "$status" -eq 0 ] && [[ "$output" == *"(unchanged)"* ]]
	[ "$(md5sum /etc/nightjar/agent.yaml /etc/nightjar/tls/*)" = "$before" ]

	# a certificate with another host's key is refused before anything is written
	run /usr/sbin/nightjar-enrol --collector c.example:6445 --ca "$pki/ca.crt" \
		--cert "$pki/host.crt" --key "$pki/other.key" --no-restart
	[ "$status" -eq 1 ] && [[ "$output" == *"does not match the key"* ]]
	[ "$(md5sum /etc/nightjar/agent.yaml /etc/nightjar/tls/*)" = "$before" ]

	# a bundle (docs/enrolment.md) replaces the block: one collector: key, the new address
	bundle=$BATS_TEST_TMPDIR/bundle
	mkdir -p "$bundle"
	cp "$pki/ca.crt" "$bundle/ca.crt"
	cp "$pki/other.crt" "$bundle/host.crt"
	cp "$pki/other.key" "$bundle/host.key"
	printf 'collector:\n  address: "d.example:6445"\n  server_name: "d.example"\n' \
		>"$bundle/collector.yaml"
	run /usr/sbin/nightjar-enrol --bundle "$bundle" --no-restart
	[ "$status" -eq 0 ] && [[ "$output" == *"(changed)"* ]] || { echo "$output"; false; }
	[ "$(grep -c '^collector:' /etc/nightjar/agent.yaml)" -eq 1 ]
	grep -qx '  address: "d.example:6445"' /etc/nightjar/agent.yaml
	grep -qx '  server_name: "d.example"' /etc/nightjar/agent.yaml
	cmp "$pki/other.key" /etc/nightjar/tls/host.key
	/usr/sbin/nightjar-agent --check-config
}

@test "purge removes every file, the configuration and the state" {
	[ -x /usr/sbin/nightjar-agent ] || skip "the package is not installed"
	dpkg -L nightjar-agent | while read -r f; do [ -d "$f" ] || echo "$f"; done \
		>"$BATS_TEST_TMPDIR/files"
	[ -s "$BATS_TEST_TMPDIR/files" ]
	# state and enrolment files the package did not ship
	[ -d /var/lib/nightjar/spool ]
	echo key >/etc/nightjar/tls/host.key
	# remove keeps configuration and state
	DEBIAN_FRONTEND=noninteractive apt-get remove -y -qq nightjar-agent >/dev/null
	[ ! -e /usr/sbin/nightjar-agent ]
	[ -f /etc/nightjar/agent.yaml ] && [ -d /var/lib/nightjar/spool ]
	[ -f /etc/nightjar/tls/host.key ]
	DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq nightjar-agent >/dev/null
	if has_collector; then
		dpkg -L nightjar-collector | while read -r f; do [ -d "$f" ] || echo "$f"; done \
			>>"$BATS_TEST_TMPDIR/files"
		DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq nightjar-collector >/dev/null
		[ ! -e /var/lib/nightjar-collector ]
	fi
	while read -r f; do
		[ ! -e "$f" ] || { echo "left behind: $f"; false; }
	done <"$BATS_TEST_TMPDIR/files"
	[ ! -e /var/lib/nightjar ]
	[ ! -e /etc/nightjar ]
	run dpkg-query -W -f='${Status}' nightjar-agent
	[[ "$output" != *installed* ]]
}
