#!/bin/sh
# Side-by-side benchmarks in one hyperfine run per table: medians of several hundred runs and
# ratios. Usage: bench/run.sh [path/to/syscage]   (RUNS=300 by default)
set -eu
cd "$(dirname "$0")/.."
# crun refuses hybrid cgroup hosts (this machine kind's): run the whole benchmark in a private
# mount namespace whose /sys/fs/cgroup is pure cgroup2. The host is left as it is.
if [ -z "${SYSCAGE_CGROUP2_NS:-}" ]; then
  SYSCAGE_CGROUP2_NS=1 exec ./scripts/cgroup2-ns.sh "$0" "$@"
fi
# SECTIONS="startup record hook watch attach ebpfstart analyze" by default; pick one with SECTIONS=record.
SECTIONS=${SECTIONS:-startup record hook watch attach ebpfstart analyze}
S=$(realpath "${1:-target/release/syscage}")
STATIC=$(realpath "${SYSCAGE_STATIC:-target/static/x86_64-unknown-linux-musl/release/syscage}")
RUNS=${RUNS:-300}
cargo build --release --examples -q
TOOL=$(realpath target/release/examples/profile_tool)
W=$(mktemp -d /var/tmp/syscage-bench.XXXXXX)
trap 'rm -rf "$W"' EXIT
DOCKER=$(realpath tests/fixtures/docker-default-seccomp.json)

startup() {
# --- launcher start-up: /bin/true ---------------------------------------------------------------
# The same Docker profile everywhere: compiled to BPF for bwrap (no capabilities, like
# --cap-drop ALL), resolved to OCI linux.seccomp for crun/runc with their default bundle caps.
"$TOOL" bpf "$DOCKER" "$W/docker.bpf"
for rt in crun runc; do
  b="$W/$rt"; mkdir -p "$b/rootfs/bin" "$b/rootfs/proc" "$b/rootfs/dev" "$b/rootfs/tmp"
  cp /bin/busybox "$b/rootfs/bin/busybox"; ln -s busybox "$b/rootfs/bin/true"
  (cd "$b" && $rt spec)
  "$TOOL" oci "$DOCKER" AUDIT_WRITE KILL NET_BIND_SERVICE > "$W/oci.json"
  python3 - "$b/config.json" "$W/oci.json" <<'PY'
import json, sys
cfg = json.load(open(sys.argv[1]))
cfg["process"]["args"] = ["/bin/true"]
cfg["process"]["terminal"] = False
cfg["root"] = {"path": "rootfs", "readonly": True}
cfg["linux"]["seccomp"] = json.load(open(sys.argv[2]))
json.dump(cfg, open(sys.argv[1], "w"), indent=1)
PY
done
CACHE="$W/cache"; mkdir -m 700 "$CACHE"
export SYSCAGE_CACHE_DIR="$CACHE"
"$S" run -- /bin/true   # warm the compiled-filter cache
# The self-contained build (`make static`: static glibc and libseccomp, no dynamic loader), the
# one copied into images as an entrypoint, when it has been built.
set --
if [ -x "$STATIC" ]; then
  "$STATIC" run -- /bin/true
  set -- -n "syscage run, static build" "sh -c 'exec $STATIC run -- /bin/true'"
fi
hyperfine -N --warmup 20 --runs "$RUNS" --export-json "$W/startup.json" \
  -n plain "sh -c 'exec /bin/true'" \
  -n "bwrap + docker filter" "sh -c 'exec bwrap --unshare-user --unshare-pid --ro-bind / / --cap-drop ALL --seccomp 3 /bin/true 3<$W/docker.bpf'" \
  -n "crun + docker profile" "sh -c 'exec crun --cgroup-manager=disabled run -b $W/crun sb-crun-$$'" \
  -n "runc + docker profile" "sh -c 'exec runc run -b $W/runc sb-runc-$$'" \
  -n "bwrap, syscage's confinement" "sh -c 'exec bwrap --unshare-user --unshare-pid --unshare-ipc --unshare-uts --hostname syscage --ro-bind / / --proc /proc --dev /dev --tmpfs /tmp --cap-drop ALL --seccomp 3 /bin/true 3<$W/docker.bpf'" \
  -n "syscage run (default filter)" "sh -c 'exec $S run -- /bin/true'" \
  -n "syscage run (no filter cache)" "sh -c 'SYSCAGE_CACHE_DIR= exec $S run -- /bin/true'" \
  "$@" >/dev/null

python3 - "$W/startup.json" <<'PY'
import json, statistics, sys
res = json.load(open(sys.argv[1]))["results"]
med = {r["command"]: statistics.median(r["times"]) * 1000 for r in res}
base = med["plain"]
bw = med["bwrap + docker filter"]
same = med["bwrap, syscage's confinement"]
print("| launcher (`/bin/true`) | median ms | min ms | vs plain | vs bwrap | vs bwrap, same confinement |")
print("|---|---|---|---|---|---|")
for r in res:
    m = med[r["command"]]
    print(f"| {r['command']} | {m:.2f} | {min(r['times'])*1000:.2f} | {m/base:.2f}x | {m/bw:.2f}x | {m/same:.2f}x |")
PY
}

# --- recording overhead ------------------------------------------------------------------------
# Each workload untraced and under every recorder, all rows in one hyperfine run per workload:
# strace -f, syscage record with each backend, and a bpftrace one-liner that counts the syscalls
# of the workload's process tree (the cheapest thing an expert would write by hand).
record() {
RRUNS=${RRUNS:-5}
P="$W/rec.json"
# bpftrace needs tracefs: mounted in this private mount namespace only (see the top).
mountpoint -q /sys/kernel/tracing || mount -t tracefs nodev /sys/kernel/tracing
printf '#include <unistd.h>\n#include <sys/syscall.h>\n#include <stdlib.h>\nint main(int c, char **v) { long n = atol(v[1]); for (long i = 0; i < n; i++) syscall(SYS_getppid); return 0; }\n' > "$W/loop.c"
gcc -O2 -o "$W/loop" "$W/loop.c"
# Each workload is a script, so that every row runs exactly the same command line.
printf '#!/bin/sh\nexec /bin/busybox find /usr/share -type f >/dev/null\n' > "$W/wl1"
printf '#!/bin/sh\nexec %s 2000000\n' "$W/loop" > "$W/wl2"
printf '#!/bin/sh\nfor i in $(seq 200); do /bin/true; done\n' > "$W/wl3"
chmod +x "$W/wl1" "$W/wl2" "$W/wl3"
TREE='BEGIN { @t[cpid] = 1 } tracepoint:sched:sched_process_fork /@t[args->parent_pid]/ { @t[args->child_pid] = 1 } tracepoint:raw_syscalls:sys_enter /@t[pid]/ { @c[args->id] = count() } END { clear(@t) }'
# Where bpftrace cannot start at all, its row is left out, and said so. (Where it cannot raise
# RLIMIT_MEMLOCK - a bounding set without CAP_SYS_RESOURCE - it prints an error and runs anyway:
# this kernel charges BPF memory to the cgroup.)
BPFT=1
if ! err=$(bpftrace -q -e 'BEGIN { exit(); }' 2>&1 >/dev/null); then
  BPFT=
  echo "bench: the bpftrace row is left out: bpftrace does not start here: $(echo "$err" | head -1)" >&2
fi
for i in 1 2 3; do
  wl="$W/wl$i"
  # strace takes minutes on the 2M-syscall loop: its row is left out there.
  set -- -n untraced "$wl"
  [ "$i" = 2 ] || set -- "$@" -n "strace -f" "strace -f -o /dev/null $wl"
  set -- "$@" -n "syscage record (notify)" "$S record -q --backend notify -o $P -- $wl" \
    -n "syscage record (ptrace)" "$S record -q --backend ptrace -o $P -- $wl"
  [ -z "$BPFT" ] || set -- "$@" -n "bpftrace tree counter" "bpftrace -q -o /dev/null -e '$TREE' -c '/bin/sh $wl'"
  # The static (musl) build is what `make install` installs: its row beside the default build's.
  [ ! -x "$STATIC" ] || set -- "$@" -n "syscage record (ebpf, static build)" "$STATIC record -q --backend ebpf -o $P -- $wl"
  hyperfine -N --warmup 1 --runs "$RRUNS" --export-json "$W/rec$i.json" "$@" \
    -n "syscage record (ebpf)" "$S record -q --backend ebpf -o $P -- $wl" \
    >/dev/null
done
# The same workloads timed from inside (date before and after, in the traced shell): what the
# workload pays while the recorder is attached, each tool's own start-up and teardown left out.
# Runs alternate between tools so that they share the machine's state.
for i in 1 2 3; do
  case $i in
    1) body='/bin/busybox find /usr/share -type f >/dev/null' ;;
    2) body="$W/loop 2000000" ;;
    3) body='for i in $(seq 200); do /bin/true; done' ;;
  esac
  printf '#!/bin/sh\nt0=$(date +%%s%%N)\n%s\nt1=$(date +%%s%%N)\necho $(( (t1 - t0) / 1000 )) >> "$1"\n' "$body" > "$W/timed$i"
  for run in $(seq "$RRUNS"); do
    /bin/sh "$W/timed$i" "$W/t$i-untraced"
    [ "$i" = 2 ] || strace -f -o /dev/null /bin/sh "$W/timed$i" "$W/t$i-strace"
    "$S" record -q --backend notify -o "$P" -- /bin/sh "$W/timed$i" "$W/t$i-notify"
    "$S" record -q --backend ptrace -o "$P" -- /bin/sh "$W/timed$i" "$W/t$i-ptrace"
    [ -z "$BPFT" ] || bpftrace -q -o /dev/null -e "$TREE" -c "/bin/sh $W/timed$i $W/t$i-bpftrace"
    "$S" record -q --backend ebpf -o "$P" -- /bin/sh "$W/timed$i" "$W/t$i-ebpf"
  done
done
python3 - "$W" <<'PY'
import json, os, statistics, sys
w = sys.argv[1]
names = ["busybox find /usr/share -type f", "C loop, 2M getppid()", "sh loop, 200 fork+exec /bin/true"]
tools = ["strace", "notify", "ptrace", "bpftrace", "ebpf"]
print()
print("Timed inside the workload (recorder attached; its start-up and teardown excluded):")
print()
print("| workload | untraced ms | strace -f | syscage notify | syscage ptrace | bpftrace tree counter | **syscage ebpf** |")
print("|---|---|---|---|---|---|---|")
for i, name in enumerate(names, 1):
    def med(tool):
        f = f"{w}/t{i}-{tool}"
        return statistics.median(int(x) for x in open(f).read().split()) / 1000 if os.path.exists(f) else None
    u = med("untraced")
    cells = []
    for t in tools:
        m = med(t)
        cells.append("-" if m is None else f"{m:.0f} ({m/u:.2f}x)")
    print(f"| {name} | {u:.0f} | " + " | ".join(cells) + " |")
PY
python3 - "$W" <<'PY'
import json, statistics, sys
w = sys.argv[1]
print()
print("Whole commands (hyperfine; each tool's start-up and teardown included):")
print()
names = ["busybox find /usr/share -type f", "C loop, 2M getppid()", "sh loop, 200 fork+exec /bin/true"]
cols = ["strace -f", "syscage record (notify)", "syscage record (ptrace)", "bpftrace tree counter", "syscage record (ebpf)", "syscage record (ebpf, static build)"]
print("| workload | untraced ms | strace -f | syscage notify | syscage ptrace | bpftrace tree counter | **syscage ebpf** | syscage ebpf, static build |")
print("|---|---|---|---|---|---|---|---|")
for i, name in enumerate(names, 1):
    res = {r["command"]: statistics.median(r["times"]) * 1000 for r in json.load(open(f"{w}/rec{i}.json"))["results"]}
    u = res["untraced"]
    cells = [f"{res[c]:.0f} ({res[c]/u:.2f}x)" if c in res else "-" for c in cols]
    print(f"| {name} | {u:.0f} | " + " | ".join(cells) + " |")
PY
}

# --- the OCI hook --------------------------------------------------------------------------------
# A crun container running `busybox find /usr/lib -type f` (host /usr bound read-only): without the
# hook, recording through `syscage hook` (eBPF, its default here, and ptrace), and with the hook
# listed twice (both hooks.d files matching) - which must cost no more than once.
hook() {
HRUNS=${HRUNS:-10}
b="$W/hookb"; mkdir -p "$b/rootfs/bin" "$b/rootfs/proc" "$b/rootfs/dev" "$b/rootfs/usr" "$W/hookout"
cp /bin/busybox "$b/rootfs/bin/busybox"
(cd "$b" && crun spec)
VARIANTS="none ebpf ptrace twice"
[ ! -x "$STATIC" ] || VARIANTS="$VARIANTS static"
for variant in $VARIANTS; do
  python3 - "$b/config.json" "$b/$variant.json" "$S" "$W/hookout" "$variant" "$STATIC" <<'PY'
import json, sys
src, dst, s, out, variant, static = sys.argv[1:7]
if variant == "static":
    s = static
c = json.load(open(src))
c["process"].update(args=["/bin/busybox", "find", "/usr/lib", "-type", "f"], terminal=False)
c["root"] = {"path": "rootfs", "readonly": True}
c["mounts"].append({"destination": "/usr", "type": "bind", "source": "/usr", "options": ["rbind", "ro"]})
h = {"path": s, "args": ["syscage", "hook", "--output-dir", out]}
if variant == "ptrace":
    h["args"] += ["--backend", "ptrace"]
n = {"none": 0, "ebpf": 1, "ptrace": 1, "twice": 2, "static": 1}[variant]
if n:
    c["hooks"] = {"createRuntime": [h] * n, "poststop": [h] * n}
    c["annotations"] = {"io.syscage.record": "find.json", "io.containers.trace-syscall": "of:find2.json"}
json.dump(c, open(dst, "w"), indent=1)
PY
done
for variant in $VARIANTS; do
  cp "$b/$variant.json" "$b/config.json"
  hyperfine -N --warmup 1 --runs "$HRUNS" --export-json "$W/hook-$variant.json" \
    -n "crun, hook: $variant" "sh -c 'exec crun --cgroup-manager=disabled run -b $b hb-$variant-$$ >/dev/null'" >/dev/null
done
python3 - "$W" <<'PY'
import json, statistics, sys
w = sys.argv[1]
med = {}
for v in ("none", "ebpf", "ptrace", "twice", "static"):
    try:
        r = json.load(open(f"{w}/hook-{v}.json"))["results"][0]
    except FileNotFoundError:
        continue
    med[v] = statistics.median(r["times"]) * 1000
print("| crun container, `busybox find /usr/lib -type f` | median ms | vs no hook |")
print("|---|---|---|")
for v, label in (("none", "no hook"), ("ebpf", "syscage hook (eBPF, default)"), ("ptrace", "syscage hook --backend ptrace"), ("twice", "syscage hook listed twice (eBPF)"), ("static", "syscage hook (eBPF), static build (what make install installs)")):
    if v in med:
        print(f"| {label} | {med[v]:.0f} | {med[v]/med['none']:.2f}x |")
PY
}

# --- run --monitor / --learn ------------------------------------------------------------------
# A workload whose profile is complete (recorded from it) under plain enforcement, --monitor and
# --learn: only unlisted syscalls reach syscage, so these should cost nothing. Then 10,000
# violations (the probe's `repeat`) enforced and monitored: the difference per call is a
# violation's round trip through syscage.
watch() {
WRUNS=${WRUNS:-10}
P="$W/watch-find.json"
"$S" record -q --backend notify -o "$P" -- /bin/busybox find /usr/lib -type f >/dev/null
PROBE=$(realpath target/release/examples/probe)
PP="$W/watch-probe.json"
"$S" record -q --backend notify -o "$PP" -- "$PROBE" repeat 3 getppid >/dev/null
hyperfine -N --warmup 2 --runs "$WRUNS" --export-json "$W/watch.json" \
  -n "enforced" "$S run --seccomp $P -- /bin/busybox find /usr/lib -type f" \
  -n "monitor" "$S run --seccomp $P --monitor $W/ev.jsonl -- /bin/busybox find /usr/lib -type f" \
  -n "learn" "$S run --seccomp $P --learn $W/delta.rec -- /bin/busybox find /usr/lib -type f" \
  -n "10k violations, enforced" "$S run --seccomp $PP -- $PROBE repeat 10000 personality" \
  -n "10k violations, monitored" "$S run --seccomp $PP --monitor $W/ev2.jsonl -- $PROBE repeat 10000 personality" \
  >/dev/null
python3 - "$W/watch.json" <<'PY'
import json, statistics, sys
res = json.load(open(sys.argv[1]))["results"]
med = {r["command"]: statistics.median(r["times"]) * 1000 for r in res}
print("| `syscage run`, busybox find /usr/lib -type f (complete profile) | median ms | vs enforced |")
print("|---|---|---|")
for k in ("enforced", "monitor", "learn"):
    print(f"| {k} | {med[k]:.1f} | {med[k]/med['enforced']:.3f}x |")
rt = (med["10k violations, monitored"] - med["10k violations, enforced"]) * 1000 / 10000
print(f"\nA violation's round trip through syscage (--monitor): {rt:.1f} us "
      f"({med['10k violations, enforced']:.1f} ms enforced vs {med['10k violations, monitored']:.1f} ms monitored, 10,000 calls)")
PY
}

# --- record --attach: what a running server loses while it is recorded --------------------------
# redis (Debian's redis-check-rdb, run as redis-server) on a unix socket, loaded by redis-benchmark
# (GET and SET, 50 clients): requests per second alone and while `record --attach pid:` records
# it. The server has CPU 1 to itself, the client and syscage share CPU 0 (with both on both CPUs
# the client's scheduling noise, up to 10% from run to run, hides a 2% effect). Pairs run
# alone/attached then attached/alone (ABBA, cancelling drift); the figure is the median of the
# pairs' ratios (goal: at most 3% fewer). Beside them, the floor of any sys_enter recorder: an
# empty program attached there (bench/anchor/empty.bpf.c, loaded by the anchor's loader).
attach() {
ARUNS=${ARUNS:-8}
sock="$W/redis.sock"
clang -O2 -g -target bpf -D__TARGET_ARCH_x86 -I/usr/include/x86_64-linux-gnu \
  -c bench/anchor/empty.bpf.c -o "$W/empty.bpf.o"
cc -O2 -o "$W/anchor" bench/anchor/anchor.c -lbpf
ln -sf /usr/bin/redis-check-rdb "$W/redis-server"
taskset -c 1 "$W/redis-server" --port 0 --unixsocket "$sock" --save '' --appendonly no --dir "$W" >/dev/null &
rpid=$!
trap 'kill "$rpid" 2>/dev/null; rm -rf "$W"' EXIT
while [ ! -S "$sock" ]; do sleep 0.05; done
# The server's time on CPU (all its threads, ns, /proc/PID/task/*/schedstat): per request it is
# what the recorder costs the server itself, free of the client's scheduling noise.
oncpu() { cat /proc/"$rpid"/task/*/schedstat | awk '{s += $1} END {printf "%.0f\n", s}'; }
rps() {
  c0=$(oncpu)
  r=$(taskset -c 0 redis-benchmark -s "$sock" -n 100000 -c 50 -t get,set -q 2>/dev/null |
    awk '{for (i = 1; i <= NF; i++) if ($i == "requests") s += $(i - 1)} END {print s / 2}')
  echo "$r $(( $(oncpu) - c0 ))"
}
attached() {
  taskset -c 0 "$S" record -q --attach "pid:$rpid" -o "$W/attach.json" & apid=$!
  sleep 1
  rps >> "$W/attached"
  kill -TERM "$apid"; wait "$apid" || true
}
# The floor: a sys_enter program that does nothing (libbpf), attached for the same time.
empty() {
  taskset -c 0 "$W/anchor" "$W/empty.bpf.o" sleep 600 2>/dev/null & epid=$!
  sleep 1
  rps >> "$W/empty"
  pkill -P "$epid" sleep; wait "$epid" 2>/dev/null || true
}
rps >/dev/null
: > "$W/alone"; : > "$W/attached"; : > "$W/empty"
for i in $(seq "$ARUNS"); do
  if [ $((i % 2)) = 1 ]; then rps >> "$W/alone"; empty; attached; else attached; empty; rps >> "$W/alone"; fi
done
kill "$rpid"; wait "$rpid" 2>/dev/null || true
python3 - "$W/alone" "$W/attached" "$W/empty" <<'PY'
import statistics, sys
runs = [[l.split() for l in open(f) if l.strip()] for f in sys.argv[1:4]]
alone, att, emp = ([float(r[0]) for r in f] for f in runs)
# Server CPU per request (200,000 requests a run: GET and SET, 100,000 each), in us.
cpu = [[int(r[1]) / 200000 / 1000 for r in f] for f in runs]
a, b, e = statistics.median(alone), statistics.median(att), statistics.median(emp)
r = statistics.median(y / x for x, y in zip(alone, att))
f = statistics.median(y / x for x, y in zip(alone, emp))
print(f"redis GET+SET requests/s (server pinned to CPU 1), {len(alone)} ABCCBA rounds: alone median {a:.0f}, "
      f"while recorded by record --attach {b:.0f}; median of the pairs' ratios {100 * (1 - r):+.1f}% fewer "
      f"(goal <= 3%; pairs: {', '.join(f'{100 * (1 - y / x):+.1f}' for x, y in zip(alone, att))})")
print(f"the floor, an empty sys_enter program (libbpf) attached: {e:.0f}, {100 * (1 - f):+.1f}% fewer "
      f"(pairs: {', '.join(f'{100 * (1 - y / x):+.1f}' for x, y in zip(alone, emp))}); "
      f"syscage's recorder above that floor: {100 * (f - r) / f:+.1f}%")
ca, cr, ce = (statistics.median(c) for c in cpu)
pr = statistics.median(y / x for x, y in zip(cpu[0], cpu[1]))
pe = statistics.median(y / x for x, y in zip(cpu[0], cpu[2]))
print(f"the server's CPU per request (median of runs): alone {ca:.2f} us, recorded {cr:.2f} us "
      f"({100 * (pr - 1):+.1f}%, pairs' median), empty sys_enter program {ce:.2f} us ({100 * (pe - 1):+.1f}%)")
PY
}

# --- eBPF start-up against a libbpf anchor ------------------------------------------------------
# bench/anchor: a minimal recorder of the same design (CO-RE, tp_btf sys_enter/exec/fork, task
# storage, per-CPU counts) loaded by libbpf, built here with clang and libbpf-dev. Both record
# /bin/true; the ratio is syscage's start-up cost against the loader floor (goal: <= 1.2x).
ebpfstart() {
clang -O2 -g -target bpf -D__TARGET_ARCH_x86 -I/usr/include/x86_64-linux-gnu \
  -c bench/anchor/anchor.bpf.c -o "$W/anchor.bpf.o"
cc -O2 -o "$W/anchor" bench/anchor/anchor.c -lbpf
"$S" record -q --backend ebpf -o "$W/warm.json" -- /bin/true # the per-boot CO-RE copy
hyperfine -N --warmup 5 --runs "${ERUNS:-60}" --export-json "$W/ebpfstart.json" \
  -n "libbpf anchor" "$W/anchor $W/anchor.bpf.o /bin/true" \
  -n "syscage record --backend ebpf" "$S record -q --backend ebpf -o $W/e.json -- /bin/true" >/dev/null
python3 - "$W/ebpfstart.json" <<'PY'
import json, statistics, sys
res = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
a, s = res["libbpf anchor"], res["syscage record --backend ebpf"]
ma, ms = statistics.median(a["times"]) * 1000, statistics.median(s["times"]) * 1000
print(f"eBPF start-up, /bin/true recorded: libbpf anchor {ma:.1f} ms (user {a['user'] * 1000:.1f}), "
      f"syscage {ms:.1f} ms (user {s['user'] * 1000:.1f}): {ms / ma:.2f}x (goal <= 1.2x)")
PY
}

analyze() {
# --- syscage analyze: time per program, cold and warm, and the corpus check -------------------
# Cold: --no-cache. Warm: a cache of the bench's own (nothing lands in ~/.cache), filled by the
# warmup run. redis-server is Debian's redis-check-rdb (redis-tools), the same file.
export SYSCAGE_CACHE_DIR="$W/cache"
for mode in "--no-cache" ""; do
  hyperfine -N --warmup 1 --runs 5 --export-json "$W/analyze$mode.json" \
    -n "libc alone (/bin/true) $mode" "$S analyze $mode /bin/true" \
    -n "redis-server $mode" "$S analyze $mode /usr/bin/redis-check-rdb" \
    -n "nginx $mode" "$S analyze $mode /usr/sbin/nginx" \
    -n "git $mode" "$S analyze $mode git" \
    -n "curl $mode" "$S analyze $mode curl" \
    -n "python3 (with every native module) $mode" "$S analyze $mode python3" || true
done
for p in /bin/true /usr/bin/redis-check-rdb /usr/sbin/nginx git curl python3; do
  printf '%s: ' "$p"; "$S" analyze "$p" 2>&1 | sed -n 's/^syscage: \([0-9]* reachable syscalls\).*/\1/p'
done
unset SYSCAGE_CACHE_DIR
./bench/analyze-corpus.sh "$S"
}

for section in $SECTIONS; do "$section"; done
