#!/bin/sh
# Measures what crun and runc do after loading a container's seccomp filter and before exec'ing
# the container's process, by recording the runtimes themselves (syscage record, scope "after
# seccomp load"), with NoNewPrivileges on and off (the runtimes load the filter at different
# points). Writes the union per runtime to profiles/runtime-base.json.
# Usage: scripts/measure-runtime-base.sh [path/to/syscage]   (as root; needs crun, runc, busybox-static)
set -eu
cd "$(dirname "$0")/.."
# crun refuses hybrid cgroup hosts: measure in a private, pure-cgroup2 mount namespace.
if [ -z "${SYSCAGE_CGROUP2_NS:-}" ]; then
  SYSCAGE_CGROUP2_NS=1 exec ./scripts/cgroup2-ns.sh "$0" "$@"
fi
S=$(realpath "${1:-target/debug/syscage}")
W=$(mktemp -d /var/tmp/syscage-measure.XXXXXX)
trap '[ -n "${KEEP:-}" ] || rm -rf "$W"' EXIT; echo "work dir: $W"
mkdir -p "$W/rootfs/bin" "$W/rootfs/proc" "$W/rootfs/dev" "$W/rootfs/tmp"
cp /bin/busybox "$W/rootfs/bin/busybox"
ln -s busybox "$W/rootfs/bin/true"
for rt in crun runc; do
  for nnp in true false; do
    b="$W/$rt-$nnp"; mkdir -p "$b"
    cp -a "$W/rootfs" "$b/rootfs"
    (cd "$b" && $rt spec)
    python3 - "$b/config.json" "$nnp" <<'PY'
import json, sys
p, nnp = sys.argv[1], sys.argv[2] == "true"
c = json.load(open(p))
c["process"].update(args=["/bin/true"], terminal=False, noNewPrivileges=nnp)
c["root"] = {"path": "rootfs", "readonly": True}
# Allow everything, so that every syscall the runtime makes is seen.
c["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"]}
json.dump(c, open(p, "w"), indent=1)
PY
    case $rt in
      crun) rtc="crun --cgroup-manager=disabled --root $W/state" ;;
      runc) rtc="runc --root $W/state" ;;
    esac
    # Go's runtime threads vary from run to run: take the union of several runs. Both ways a
    # runtime is driven: `run`, and `create` + `start` (podman, CRI-O, containerd), where the
    # container's init waits for `start` after loading the filter.
    for i in $(seq "${REPEAT:-10}"); do
      id="measure-$$-$rt-$nnp-$i"
      "$S" record --quiet --after-seccomp-load --no-runtime-base --recording "$W/$rt-$nnp-run-$i.rec" -o "$W/$rt.json" -- \
        sh -c "$rtc run -b $b $id"
      "$S" record --quiet --after-seccomp-load --no-runtime-base --recording "$W/$rt-$nnp-create-$i.rec" -o "$W/$rt.json" -- \
        sh -c "$rtc create -b $b $id-c && $rtc start $id-c; sleep 0.2; $rtc delete -f $id-c"
    done
  done
done
python3 - "$W" "$(crun --version | head -1)" "$(runc --version | head -1)" <<'PY'
import json, sys, collections, glob
w, crun_v, runc_v = sys.argv[1:4]
out = {
    "comment": "What each runtime does after loading a container's seccomp filter and before exec'ing the container's process: these syscalls must be in every profile the runtime enforces. Measured by scripts/measure-runtime-base.sh (syscage record of the runtime itself on a busybox bundle, NoNewPrivileges true and false); do not edit by hand.",
    "runtimes": {
        "syscage": {
            "measured": "syscage run loads the filter immediately before execve",
            "syscalls": {"execve": "the workload's execve"},
        }
    },
}
for rt, version in (("crun", crun_v), ("runc", runc_v)):
    calls = collections.defaultdict(dict)
    runs = {}
    for nnp in ("true", "false"):
        for f in sorted(glob.glob(f"{w}/{rt}-{nnp}-*.rec")):  # run and create+start
            runs[nnp] = runs.get(nnp, 0) + 1
            for s in json.load(open(f))["syscalls"]:
                calls[s["name"]][nnp] = calls[s["name"]].get(nnp, 0) + 1
    out["runtimes"][rt] = {
        "measured": f"{version} (Debian 12), x86_64; `run` and `create`+`start`",
        "syscalls": {
            name: "; ".join(f"seen in {v}/{runs[k]} runs with NoNewPrivileges={k}" for k, v in sorted(c.items()))
            for name, c in sorted(calls.items())
        },
    }
json.dump(out, open("profiles/runtime-base.json", "w"), indent=2)
open("profiles/runtime-base.json", "a").write("\n")
PY
echo "wrote profiles/runtime-base.json"
