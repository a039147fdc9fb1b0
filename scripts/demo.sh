#!/bin/sh
# The main job end to end: run a real program confined by `syscage run` and look at it from inside.
set -eu
S=${1:-target/release/syscage}
step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }

step "$S run -v -- python3 <inspect the sandbox from inside>"
"$S" run -v -- python3 - <<'PY'
import os, ctypes, errno
status = dict(l.split(":", 1) for l in open("/proc/self/status"))
for k in ("Uid", "CapEff", "CapBnd", "NoNewPrivs", "Seccomp"):
    print(f"  {k:<11}{status[k].strip()}")
print("  uid_map   ", " ".join(open("/proc/self/uid_map").read().split()))
print("  pid       ", os.getpid(), "(init is pid 1)")
try:
    open("/usr/pwned", "w")
except OSError as e:
    print("  write /usr:", errno.errorcode[e.errno])
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall(250, 0, 0x7ffffff0, 0)        # keyctl(KEYCTL_GET_KEYRING_ID, bogus)
print("  keyctl:   ", errno.errorcode[ctypes.get_errno()], "(Docker's default profile denies it)")
PY

step "$S run -- sh -c 'exit 3'; echo \$?"
"$S" run -- sh -c 'exit 3' || echo "  exit status $?"

step "$S run --seccomp tests/fixtures/containers-common-seccomp.json -- python3 -c 'print(42)'"
"$S" run --seccomp tests/fixtures/containers-common-seccomp.json -- python3 -c 'print("  ", 42)'

step "$S run -- no-such-command; echo \$?"
"$S" run -- no-such-command || echo "  exit status $?"
