//! A recorded profile must survive what the recording never saw the workload do, because the
//! calls are not the program's choice: a signal handler that returns (`rt_sigreturn`), a sleep
//! interrupted by a stop or a cgroup freeze (`docker pause`), which the kernel resumes through
//! `restart_syscall`, and the clock reads the vDSO answers in user space here but hands to the
//! kernel on a node whose clock source it cannot read. A recording holds them only when such an
//! event came during it. Each test records with `--runtime syscage` (the smallest base set,
//! which holds none of them) and then does to the confined workload what the recording did not.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// Records `args` (no signal comes) into a profile in `dir`.
fn record(dir: &TempDir, args: &[&str]) -> std::path::PathBuf {
    let profile = dir.join("profile.json");
    let mut c = clean_command(syscage());
    c.args(["record", "-q", "--runtime", "syscage", "-o"])
        .arg(&profile)
        .arg("--")
        .args(args);
    let o = run_command(c);
    assert_eq!(o.code, 0, "record {args:?}: {}", o.stderr);
    profile
}

/// `sleep 1.2 MARKER` (coreutils adds its arguments up): a relative nanosleep, which the kernel
/// restarts with `restart_syscall` after a stop or a freeze.
fn sleep_args(marker: &str) -> Vec<String> {
    ["sleep", "1.2", marker].map(String::from).to_vec()
}

/// The arguments of `sleep_args` after `sleep`, as `pkill -f` (KillOnDrop) and `pgrep` see them.
fn sleep_pattern(marker: &str) -> String {
    sleep_args(marker)[1..].join(" ")
}

/// A unique, negligible duration that names the sleep among the host's processes.
fn marker() -> String {
    format!("0.0000{}", unique("").replace('x', ""))
}

fn confined(profile: &std::path::Path, args: &[String]) -> Command {
    let mut c = clean_command(syscage());
    c.args(["run", "--seccomp"])
        .arg(profile)
        .arg("--")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

/// The host pid of the confined `program` (not of `syscage run`, which holds the same
/// arguments) whose arguments include `marker`.
fn workload_pid(program: &str, marker: &str) -> Option<u32> {
    host_pid_matching(|c| {
        c.starts_with(format!("{program}\0").as_bytes())
            && c.split(|b| *b == 0).any(|a| a == marker.as_bytes())
    })
}

/// The host pid of the confined `sleep` carrying `marker`, once it sleeps (in nanosleep).
fn sleeping(marker: &str) -> Pid {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let Some(pid) = workload_pid("sleep", marker) else {
            assert!(std::time::Instant::now() < deadline, "no confined sleep");
            std::thread::sleep(Duration::from_millis(5));
            continue;
        };
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let state = stat.rsplit(") ").next().unwrap_or("").chars().next();
        if state == Some('S') {
            return Pid::from_raw(pid as i32);
        }
        assert!(std::time::Instant::now() < deadline, "sleep never slept");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn a_sleep_stopped_and_continued_finishes_under_its_recorded_profile() {
    let dir = TempDir::new("sig-stop");
    let m = marker();
    let _cleanup = KillOnDrop(sleep_pattern(&m));
    let profile = record(&dir, &["sleep", "0.05"]);
    let child = confined(&profile, &sleep_args(&m)).spawn().unwrap();
    let pid = sleeping(&m);
    kill(pid, Signal::SIGSTOP).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    kill(pid, Signal::SIGCONT).unwrap();
    let o = finish(child);
    assert_eq!(
        (o.code, o.stderr.as_str()),
        (0, ""),
        "sleep resumed after SIGSTOP/SIGCONT under its recorded profile"
    );
}

#[test]
fn a_sleep_in_a_frozen_cgroup_finishes_under_its_recorded_profile() {
    // What `docker pause` / `crun pause` do on cgroup v2: the cgroup's tasks are frozen inside
    // the kernel and resumed with restart_syscall. The cgroup is ours, made and removed here,
    // in a mount namespace whose /sys/fs/cgroup is cgroup2 (scripts/cgroup2-ns.sh).
    let dir = TempDir::new("sig-freeze");
    let m = marker();
    let _cleanup = KillOnDrop(sleep_pattern(&m));
    let profile = record(&dir, &["sleep", "0.05"]);
    let cg = unique("syscage-test-freeze");
    let script = r#"set -eu
cg=/sys/fs/cgroup/$1; shift
mkdir "$cg"
# A reaped task leaves its cgroup a moment later: rmdir once the kernel says it is empty.
gone() { i=0; until grep -qx 'populated 0' "$cg/cgroup.events" || [ $i -ge 500 ]; do sleep 0.01; i=$((i+1)); done; rmdir "$cg"; }
trap gone EXIT
sh -c 'echo $$ > "$0/cgroup.procs"; exec "$@"' "$cg" "$@" &
child=$!
# Freeze once the sleep sleeps (its stat field 3 is S), thaw 100 ms later.
while ! pid=$(pgrep -f -x "sleep $MARKER") || [ "$(cut -d' ' -f3 /proc/$pid/stat)" != S ]; do
  if ! kill -0 $child 2>/dev/null; then
    rc=0; wait $child || rc=$?
    echo "the confined sleep ended (status $rc) before it slept" >&2; exit 1
  fi
  sleep 0.01
done
echo 1 > "$cg/cgroup.freeze"
until grep -qx 'frozen 1' "$cg/cgroup.events"; do sleep 0.01; done
echo frozen
sleep 0.1
echo 0 > "$cg/cgroup.freeze"
wait $child
"#;
    let sleep = sleep_args(&m);
    let mut c = clean_command(cgroup2_ns());
    c.env("MARKER", sleep_pattern(&m))
        .args(["sh", "-c", script, "sh", &cg, syscage().to_str().unwrap()])
        .args(["run", "--seccomp", profile.to_str().unwrap(), "--"])
        .args(&sleep);
    let o = run_command(c);
    assert!(
        o.stdout.contains("frozen"),
        "the cgroup never froze: {}{}",
        o.stdout,
        o.stderr
    );
    assert_eq!(
        (o.code, o.stderr.as_str()),
        (0, ""),
        "sleep resumed after a cgroup freeze under its recorded profile: {}",
        o.stdout
    );
}

#[test]
fn a_signal_handler_returns_under_a_profile_recorded_without_signals() {
    let dir = TempDir::new("sig-handler");
    // The handler only takes note: printing from it could land inside print('ready').
    let script = "import signal, sys, time\n\
        got = []\n\
        signal.signal(signal.SIGUSR1, lambda *a: got.append(1))\n\
        print('ready', flush=True)\n\
        time.sleep(float(sys.argv[1]))\n\
        print('handled' if got else 'no signal', flush=True)\n\
        print('done', flush=True)\n";
    let profile = record(&dir, &["python3", "-I", "-S", "-c", script, "0.01"]);
    let m = unique("handler");
    let mut child = confined(
        &profile,
        &["python3", "-I", "-S", "-c", script, "1", &m].map(String::from),
    )
    .spawn()
    .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap())
        .lines()
        .map_while(Result::ok);
    assert_eq!(lines.next().as_deref(), Some("ready"));
    let pid = workload_pid("python3", &m).expect("the confined python");
    kill(Pid::from_raw(pid as i32), Signal::SIGUSR1).unwrap();
    let (handled, done) = (lines.next(), lines.next());
    let o = finish(child);
    assert_eq!(
        (
            handled.as_deref(),
            done.as_deref(),
            o.code,
            o.stderr.as_str()
        ),
        (Some("handled"), Some("done"), 0, ""),
        "python whose handler ran (139: SIGSEGV on the handler's return)"
    );
}

#[test]
fn the_vdso_fallbacks_are_allowed_though_no_recording_sees_them() {
    let dir = TempDir::new("vdso");
    // Both runs load ctypes; only the second makes the syscalls glibc makes where the vDSO
    // falls back (a clock source without vDSO support: Xen, Hyper-V, an unstable TSC).
    let script = "import ctypes, sys, time\n\
        libc = ctypes.CDLL(None, use_errno=True)\n\
        print(int(time.time()) > 0, time.monotonic() > 0)\n\
        if sys.argv[1] == 'raw':\n\
        \x20   ts = (ctypes.c_long * 2)()\n\
        \x20   for name, nr, args in [('clock_gettime', 228, (1, ts)), ('gettimeofday', 96, (ts, None)),\n\
        \x20                          ('time', 201, (None,)), ('clock_getres', 229, (1, ts)),\n\
        \x20                          ('getcpu', 309, (None, None, None))]:\n\
        \x20       r = libc.syscall(nr, *args)\n\
        \x20       print(name, 'ok' if r >= 0 else 'errno %d' % ctypes.get_errno())\n";
    let profile = dir.join("profile.json");
    let rec = dir.join("vdso.rec");
    let mut c = clean_command(syscage());
    c.args(["record", "-q", "--runtime", "syscage", "-o"])
        .arg(&profile)
        .arg("--recording")
        .arg(&rec)
        .args(["--", "python3", "-I", "-S", "-c", script, "vdso"]);
    let o = run_command(c);
    assert_eq!(o.code, 0, "record: {}", o.stderr);
    let clocks = [
        "clock_gettime",
        "gettimeofday",
        "time",
        "clock_getres",
        "getcpu",
    ];
    let recorded: Vec<String> = recorded_names(&rec)
        .into_iter()
        .map(|(_, n)| n)
        .filter(|n| clocks.contains(&n.as_str()))
        .collect();
    assert!(
        recorded.is_empty(),
        "the vDSO answered the clock reads, so the recording should not hold {recorded:?}"
    );
    let mut c = clean_command(syscage());
    c.args(["run", "--seccomp"])
        .arg(&profile)
        .args(["--", "python3", "-I", "-S", "-c", script, "raw"]);
    let o = run_command(c);
    let want: String = std::iter::once("True True".to_string())
        .chain(clocks.iter().map(|n| format!("{n} ok")))
        .map(|l| l + "\n")
        .collect();
    assert_eq!(
        (o.code, o.stdout.as_str(), o.stderr.as_str()),
        (0, want.as_str(), ""),
        "the clock syscalls the vDSO falls back to, under the recorded profile"
    );
}

const CONTENDED: &str = r#"#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static long counter, iters;
static void *work(void *a) {
  for (long i = 0; i < iters; i++) { pthread_mutex_lock(&m); counter++; pthread_mutex_unlock(&m); }
  return a;
}
int main(int argc, char **argv) {
  int n = atoi(argv[1]);
  iters = atol(argv[2]);
  pthread_t t[8];
  for (int i = 0; i < n && i < 8; i++) pthread_create(&t[i], 0, work, 0);
  /* At low load the threads are done before the joins: nobody waits. */
  if (iters == 1) usleep(100000);
  for (int i = 0; i < n && i < 8; i++) pthread_join(t[i], 0);
  printf("%ld\n", counter);
  return 0;
}
"#;

#[test]
fn a_lock_contended_only_under_load_works_under_a_profile_recorded_at_low_load() {
    let dir = TempDir::new("futex");
    let prog = cc(dir.path(), "contended", CONTENDED, &["-O2", "-pthread"]);
    let prog = prog.to_str().unwrap();
    // Two threads locking once each: a recording without contention, hence without futex
    // (checked; on the rare run where the two met, recorded again).
    let profile = dir.join("profile.json");
    let rec = dir.join("low.rec");
    let quiet = (0..5).any(|_| {
        let mut c = clean_command(syscage());
        c.args(["record", "-q", "--runtime", "syscage", "-o"])
            .arg(&profile)
            .arg("--recording")
            .arg(&rec)
            .args(["--", prog, "2", "1"]);
        let o = run_command(c);
        assert_eq!(
            (o.code, o.stdout.as_str()),
            (0, "2\n"),
            "record: {}",
            o.stderr
        );
        !recorded_names(&rec).iter().any(|(_, n)| n == "futex")
    });
    assert!(quiet, "every recording of the quiet run saw futex");
    // Four threads hammering the lock on this machine's cores wait for it.
    let mut c = clean_command(syscage());
    c.args(["run", "--seccomp"])
        .arg(&profile)
        .args(["--", prog, "4", "300000"]);
    let o = run_command(c);
    assert_eq!(
        (o.code, o.stdout.as_str(), o.stderr.as_str()),
        (0, "1200000\n", ""),
        "the contended run under the profile recorded without contention (glibc aborts when futex fails)"
    );
}

/// A program that aborts on a path its recording never took dies of SIGABRT, as it would
/// unconfined — not of the SIGSEGV glibc ends in when it cannot signal itself (its raise asks
/// getpid and gettid, then tgkill) — while signalling itself with anything else stays denied.
#[test]
fn an_abort_on_an_unrecorded_path_is_a_sigabrt_and_other_signals_stay_denied() {
    let dir = TempDir::new("abort");
    let prog = cc(
        dir.path(),
        "aborts",
        "#include <signal.h>\n#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n\
         int main(int c, char **v) {\n\
           if (c > 1 && !strcmp(v[1], \"abort\")) abort();\n\
           if (c > 1 && !strcmp(v[1], \"term\")) { printf(\"%d\\n\", raise(SIGTERM)); return 0; }\n\
           puts(\"ok\"); return 0;\n}\n",
        &["-O2"],
    );
    let prog = prog.to_str().unwrap();
    let profile = record(&dir, &[prog]);
    let run = |arg: &str| {
        let mut c = clean_command(syscage());
        c.args(["run", "--seccomp"])
            .arg(&profile)
            .args(["--", prog, arg]);
        run_command(c)
    };
    let o = run("abort");
    assert_eq!(
        o.code,
        128 + libc::SIGABRT,
        "abort() under a profile recorded without it (139: the SIGSEGV of a denied tgkill or gettid): {}",
        o.stderr
    );
    let o = run("term");
    assert_eq!(
        (o.code, o.stdout.as_str()),
        (0, "-1\n"),
        "raise(SIGTERM) must stay denied (only SIGABRT is allowed): {}",
        o.stderr
    );
}
