#!/bin/sh
# The analysis against the machine: every ELF executable of /usr/bin and /usr/sbin is analysed
# (cold: each its own syscage process) and run once with --version, then --help, under
# `syscage record` as nobody (stdin /dev/null, 5 s timeout, so no program can change the
# machine); every recorded syscall the analysis missed is printed, and their count must be 0.
# Usage: bench/analyze-corpus.sh path/to/syscage [LIMIT [PROGRAM...]]
#   LIMIT: the first N programs only; PROGRAMs: these instead of /usr/bin and /usr/sbin.
set -eu
S=$(realpath "$1")
LIMIT=${2:-100000}
shift; [ $# -gt 0 ] && shift
[ $# -gt 0 ] || set -- /usr/bin/* /usr/sbin/*
W=$(mktemp -d /var/tmp/syscage-corpus.XXXXXX)
# KEEP=1 keeps the analyses and recordings (their directory is printed) for a closer look.
if [ "${KEEP:-0}" = 1 ]; then echo "keeping $W"; else trap 'rm -rf "$W"' EXIT; fi
# The recordings run as nobody and write here.
chmod 1777 "$W"
# The analyses share a cache of their own (the first programs fill it with libc and the
# other common libraries, as analysing a whole image does); nothing lands in ~/.cache.
mkdir -m 700 "$W/cache"
n=0
for p in "$@"; do
  [ -f "$p" ] && [ -x "$p" ] || continue
  head -c 4 "$p" | grep -q "ELF" || continue
  n=$((n + 1)); [ "$n" -le "$LIMIT" ] || break
  b=$(basename "$p")
  start=$(date +%s%N)
  # Two minutes each: a program that takes longer is reported (code 137), not waited for.
  code=0; SYSCAGE_CACHE_DIR="$W/cache" timeout -s KILL 120 "$S" analyze --recording "$W/$b.a" "$p" 2>"$W/$b.aerr" >/dev/null || code=$?
  end=$(date +%s%N)
  echo "$b $code $(( (end - start) / 1000000 ))" >> "$W/times"
  echo "$b $p" >> "$W/paths"
  for arg in --version --help; do
    SYSCAGE_CACHE_DIR= timeout -s KILL 5 setpriv --reuid=65534 --regid=65534 --clear-groups \
      "$S" record -q --backend notify --recording "$W/$b$arg.r" -o "$W/$b$arg.json" -- "$p" "$arg" \
      </dev/null >/dev/null 2>&1 || true
  done
done
python3 - "$W" <<'PY'
import json, os, statistics, sys
w = sys.argv[1]
sizes, complete, missed, times, errors = [], 0, [], [], []
paths = dict(line.split() for line in open(os.path.join(w, "paths")))
for line in open(os.path.join(w, "times")):
    b, code, ms = line.split()
    times.append(int(ms))
    a = os.path.join(w, b + ".a")
    if code not in ("0", "3") or not os.path.exists(a):
        why = "killed after 120 s" if code == "137" else open(os.path.join(w, b + ".aerr")).read().strip()[:200]
        errors.append((b, why))
        continue
    complete += code == "0"
    exe = os.path.realpath(paths[b])
    why = ""
    if code == "3":
        lines = [l for l in open(os.path.join(w, b + ".aerr")) if "incomplete:" in l]
        why = lines[0].split("incomplete:", 1)[1].strip()[:120] if lines else "?"
    got = {(s["abi"], s["name"]) for s in json.load(open(a))["syscalls"]}
    sizes.append(len(got))
    for arg in ("--version", "--help"):
        r = os.path.join(w, b + arg + ".r")
        if os.path.exists(r):
            # What the program itself made: a child it runs (a pager) is another program.
            seen = {(s["abi"], s["name"]) for s in json.load(open(r))["syscalls"]
                    if exe in s.get("executables", [exe])}
            for m in sorted(seen - got):
                missed.append((b, arg, m, why))
print(f"programs analysed: {len(sizes)} (errors: {len(errors)}); complete: {complete} "
      f"({100 * complete / max(1, len(sizes)):.0f}%)")
print(f"set size: mean {statistics.mean(sizes):.1f}, median {statistics.median(sizes)}")
print(f"analysis time per program (shared cache, ms): median {statistics.median(times)}, "
      f"mean {statistics.mean(times):.0f}, max {max(times)}, total {sum(times) / 1000:.0f} s")
# A miss in a complete result is an analysis bug; in an incomplete one, the result said it
# could miss (a computed dlopen, an unresolved site) and named why.
bugs = [m for m in missed if not m[3]]
declared = [m for m in missed if m[3]]
print(f"recorded syscalls missing from the analysis: {len(missed)}: {len(bugs)} in complete "
      f"results (analysis bugs), {len(declared)} in results that said they were incomplete")
for b, arg, m, _ in bugs:
    print("  MISSED", b, arg, *m)
by_prog = {}
for b, arg, m, why in declared:
    by_prog.setdefault(b, (set(), why))[0].add(m[1])
for b, (names, why) in sorted(by_prog.items()):
    print(f"  missed by an incomplete result: {b}: {', '.join(sorted(names))} (it said: {why})")
for e in errors[:20]:
    print("  ERROR", *e)
sys.exit(1 if bugs else 0)
PY
