#!/bin/sh
# build.sh deb|rpm OUTDIR - build the Nightjar packages from a copy of the tree, so that the
# repository stays clean; packages land in OUTDIR (make deb, make rpm: .output/pkg).
# Without collector sources (before the collector is merged) only nightjar-agent is built.
set -eu

kind=$1
top=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$2"
out=$(cd "$2" && pwd)
version=$(sed -n 's/^#define NJ_VERSION "\(.*\)"$/\1/p' "$top/agent/version.h")
work=$out/build-$kind
stage=$work/nightjar-$version

if ls "$top"/collector/*.c >/dev/null 2>&1; then
	collector=yes
else
	collector=
	echo "build.sh: no collector sources; building nightjar-agent only" >&2
fi

rm -rf "$work"
mkdir -p "$stage"
# the sources as they are now, committed or not, without build output or git metadata
tar -C "$top" --exclude=./.output --exclude=./.git --exclude=./bench/results -cf - . |
	tar -C "$stage" -xf -

case $kind in
deb)
	changelog=$(dpkg-parsechangelog -l "$top/packaging/debian/changelog" -S Version)
	if [ "$changelog" != "$version" ]; then
		echo "build.sh: packaging/debian/changelog is at $changelog, agent/version.h at" \
			"$version: add a changelog entry (dch -v $version)" >&2
		exit 1
	fi
	cp -r "$stage/packaging/debian" "$stage/debian"
	(
		cd "$stage"
		if [ -z "$collector" ]; then
			export DEB_BUILD_PROFILES="${DEB_BUILD_PROFILES:+$DEB_BUILD_PROFILES }pkg.nightjar.nocollector"
		fi
		dpkg-buildpackage -b -us -uc
	)
	rm -f "$out"/*.deb "$out"/*.changes "$out"/*.buildinfo
	mv "$work"/*.deb "$work"/*.changes "$work"/*.buildinfo "$out"/
	;;
rpm)
	mkdir -p "$work/SOURCES" "$work/SPECS"
	tar -C "$work" -czf "$work/SOURCES/nightjar-$version.tar.gz" "nightjar-$version"
	# Debian's rpmbuild cannot see Debian's packages: --nodeps skips BuildRequires, which
	# scripts/deps.sh has installed
	rpmbuild -bb --nodeps --define "_topdir $work" --define "nj_version $version" \
		${collector:+--with collector} "$top/packaging/rpm/nightjar.spec"
	rm -f "$out"/*.rpm
	find "$work/RPMS" -name '*.rpm' -exec mv {} "$out"/ \;
	;;
*)
	echo "usage: build.sh deb|rpm OUTDIR" >&2
	exit 2
	;;
esac
rm -rf "$work"
ls -1 "$out"
