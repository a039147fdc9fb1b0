#!/bin/sh
# The main job end to end, in a few seconds: record a real program, look at its profile, run it
# confined by that profile, and watch an attack it never made get blocked.
set -eu
S=$(realpath "${1:-target/release/syscage}")
cd "$(dirname "$0")"
# Under /var/tmp: sandboxes get a fresh /tmp, and the checkout may live there.
W=$(mktemp -d /var/tmp/syscage-demo.XXXXXX)
trap 'rm -rf "$W"' EXIT
chmod 755 "$W"   # root in the sandbox maps to an unprivileged host uid
cp demo-app.py "$W/app.py"
PY=/usr/bin/python3
step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
say() { printf '\033[2m# %s\033[0m\n' "$*"; }

say "app.py: a tiny HTTP service on 127.0.0.1 (a thread serves, the main thread fetches)."
step "syscage record -o app.json --recording app.rec -- python3 app.py"
"$S" record -o "$W/app.json" --recording "$W/app.rec" -- $PY "$W/app.py"

step "syscage report app.rec | head -12"
"$S" report "$W/app.rec" | head -12

step "syscage check app.json"
"$S" check "$W/app.json" || true

step "syscage run --seccomp app.json -- python3 app.py"
"$S" run --seccomp "$W/app.json" -- $PY "$W/app.py"

say "Now the app is taken over: it tries to spawn a shell and create a user namespace."
step "python3 app.py --exploited                                 # unconfined"
$PY "$W/app.py" --exploited

step "syscage run --seccomp app.json -- python3 app.py --exploited"
"$S" run --seccomp "$W/app.json" -- $PY "$W/app.py" --exploited

say "What a confined process sees (no options: Docker's default profile, no capabilities, read-only /):"
step "syscage run -- python3 <inspect the sandbox from inside>"
"$S" run -- $PY - <<'PY'
import os, errno
status = dict(l.split(":", 1) for l in open("/proc/self/status"))
for k in ("Uid", "CapEff", "CapBnd", "NoNewPrivs", "Seccomp"):
    print(f"  {k:<11}{status[k].strip()}")
print("  uid_map   ", " ".join(open("/proc/self/uid_map").read().split()))
print("  pid       ", os.getpid(), "(syscage's init is pid 1)")
try:
    open("/usr/pwned", "w")
except OSError as e:
    print("  write /usr:", errno.errorcode[e.errno])
PY

step "syscage run -- sh -c 'exit 3'; echo \$?"
"$S" run -- sh -c 'exit 3' || echo "  exit status $?"
