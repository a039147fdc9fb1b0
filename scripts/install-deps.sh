#!/bin/sh
# Installs the Debian packages syscage needs to build, test and benchmark, if any is missing.
# Usage: scripts/install-deps.sh build|demo|test|bench
set -eu
# clang and libbpf-dev (bpf_helpers.h) build the eBPF recorder (build.rs).
build="libseccomp-dev pkg-config gcc clang libbpf-dev"
demo="$build python3"
test="$demo busybox-static strace uidmap passwd procps crun runc apparmor podman tar nginx-light curl sqlite3 git golang-go redis-tools"
bench="$test bubblewrap hyperfine bpftrace"
case "${1:-test}" in
  build) want=$build ;;
  demo) want=$demo ;;
  test) want=$test ;;
  bench) want=$bench ;;
  *) echo "usage: $0 build|demo|test|bench" >&2; exit 2 ;;
esac
missing=""
for p in $want; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "installing:$missing"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# shellcheck disable=SC2086
$sudo apt-get install -y -qq $missing >/dev/null
command -v cargo >/dev/null || { echo "cargo is missing: install Rust with rustup" >&2; exit 1; }
