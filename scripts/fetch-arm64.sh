#!/bin/sh
# Debian's arm64 builds of busybox, coreutils and python3.11 (its minimal standard library; with
# the libraries they link), unpacked into
# DEST/root, for the tests that check translated profiles under qemu-aarch64-static. Uses an apt
# state of its own under DEST (the host's dpkg architectures and package lists are not touched);
# apt verifies every package against the signed archive as usual. Does nothing when present.
# Usage: scripts/fetch-arm64.sh DEST
set -eu
dest=${1:?usage: $0 DEST}
mkdir -p "$dest"
dest=$(cd "$dest" && pwd)
pkgs="busybox-static libc6 coreutils libacl1 libattr1 libselinux1 libpcre2-8-0 libgmp10 libssl3
  python3.11-minimal libpython3.11-minimal zlib1g libexpat1"
[ -x "$dest/root/bin/busybox" ] && [ -x "$dest/root/bin/ls" ] && [ -x "$dest/root/usr/bin/python3.11" ] && exit 0
command -v apt-get >/dev/null || { echo "$0: apt-get is missing (a Debian machine is needed)" >&2; exit 1; }
. /etc/os-release
apt="$dest/apt"
rm -rf "$apt" "$dest/root.tmp"
mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$apt/debs" "$dest/root.tmp"
echo "deb [arch=arm64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian ${VERSION_CODENAME:-bookworm} main" >"$apt/sources.list"
set -- -o Dir::Etc::SourceList="$apt/sources.list" -o Dir::Etc::SourceParts=/dev/null \
  -o Dir::State="$apt" -o Dir::State::status=/dev/null \
  -o Dir::Cache="$apt/cache" -o APT::Architecture=arm64 -o APT::Architectures::=arm64 \
  -o Debug::NoLocking=1 -o APT::Sandbox::User="$(id -un)"
echo "fetching Debian's arm64 $pkgs"
apt-get "$@" -qq update
(cd "$apt/debs" && apt-get "$@" -qq download $(for p in $pkgs; do echo "$p:arm64"; done))
for d in "$apt"/debs/*.deb; do dpkg-deb -x "$d" "$dest/root.tmp"; done
rm -rf "$dest/root"
mv "$dest/root.tmp" "$dest/root"
rm -rf "$apt"
