#!/bin/sh
# Install the Debian packages Nightjar needs to build, run and test, if any are missing.
# Idempotent and quiet when everything is present (Debian 12, run as root).
set -eu

# auditd: what bench/compare.sh measures Nightjar against (smoke-tested by make check). On a
# host with systemd its package starts the daemon; compare.sh then asks for it to be stopped.
# curl, socat, ssh client and server: the tunnels, relays and exfiltration of detect.bats.
PKGS="make gcc clang llvm bpftool libbpf-dev libelf-dev zlib1g-dev libyaml-dev
libcmocka-dev libssl-dev libcap-dev protobuf-c-compiler libprotobuf-c-dev bats jq clang-format iproute2 util-linux python3 procps
libnats-dev nats-server openssl auditd
debhelper dpkg-dev fakeroot lintian rpm strace
curl socat openssh-client openssh-server"

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "deps.sh: missing packages:$missing; run as root or install them" >&2
	exit 1
fi
echo "deps.sh: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
