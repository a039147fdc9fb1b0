#!/bin/sh
# Installs the Debian packages syscage needs to build, test and benchmark, if any is missing.
# Usage: scripts/install-deps.sh build|demo|test|bench
set -eu
# clang and libbpf-dev (bpf_helpers.h) build the eBPF recorder (build.rs). libc6-dbg: glibc's
# debug files, whose symbol tables bound libc's data objects for `analyze` (src/analyze/bounds.rs),
# so the tests check that refinement against what real programs do. qemu-user-static
# runs Debian's arm64 busybox and coreutils for the --arch tests (scripts/fetch-arm64.sh).
build="libseccomp-dev pkg-config gcc clang libbpf-dev"
demo="$build python3"
test="$demo libc6-dbg busybox-static strace uidmap passwd procps crun runc apparmor podman tar nginx-light curl sqlite3 git golang-go redis-tools docker.io qemu-user-static openssl iptables xvfb libx11-6 libxcursor1"
bench="$test bubblewrap hyperfine bpftrace"
case "${1:-test}" in
  build) want=$build ;;
  demo) want=$demo ;;
  test) want=$test ;;
  bench) want=$bench ;;
  *) echo "usage: $0 build|demo|test|bench" >&2; exit 2 ;;
esac
# The self-contained build (`make static`, `make static-test`) links against musl: Rust's musl
# standard library comes from rustup, as the toolchain does.
musl=x86_64-unknown-linux-musl
if command -v rustc >/dev/null && [ ! -d "$(rustc --print sysroot)/lib/rustlib/$musl" ]; then
  if command -v rustup >/dev/null; then
    rustup target add "$musl"
  else
    echo "Rust's $musl target is missing and there is no rustup to add it: install Rust with rustup" >&2
    exit 1
  fi
fi
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
# Packages that ship a daemon (docker.io, containerd) must not start it here: the tests start
# their own, with no bridge and no iptables rules, and the packaged service would change the
# host's network. policy-rc.d 101 tells the maintainer scripts not to start services.
norc=""
if [ ! -e /usr/sbin/policy-rc.d ]; then
  norc=1
  trap '$sudo rm -f /usr/sbin/policy-rc.d' EXIT
  printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
  $sudo chmod 755 /usr/sbin/policy-rc.d
fi
# shellcheck disable=SC2086
$sudo apt-get install -y -qq $missing >/dev/null
[ -z "$norc" ] || $sudo rm -f /usr/sbin/policy-rc.d
command -v cargo >/dev/null || { echo "cargo is missing: install Rust with rustup" >&2; exit 1; }
