//! `syscage record` on real workloads of different kinds. For each:
//! 1. recording does not change its output or exit status;
//! 2. every syscall `strace -f` sees it make (in the same run) is in the profile;
//! 3. it runs three times under `syscage run --seccomp PROFILE` with the same output and status;
//! 4. crun and runc enforce the profile unchanged on a busybox-static bundle;
//! 5. the profile allows nothing beyond what strace saw, the required calls and the runtime base.
//!
//! Every backend (notify, ptrace, eBPF) must record the same set.

mod common;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::Stdio;

use common::*;

/// Required calls and the union ("any") runtime base, from the shipped data.
fn base_and_required() -> BTreeSet<String> {
    let v: serde_json::Value =
        serde_json::from_str(include_str!("../profiles/runtime-base.json")).unwrap();
    let mut names: BTreeSet<String> = v["runtimes"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|r| r["syscalls"].as_object().unwrap().keys().cloned())
        .collect();
    names.extend(
        [
            "execve",
            "exit",
            "exit_group",
            "rt_sigreturn",
            "restart_syscall",
            "futex",
            "clock_gettime",
            "clock_getres",
            "gettimeofday",
            "time",
            "getcpu",
            // What abort() needs (tgkill and tkill for SIGABRT only).
            "getpid",
            "gettid",
            "tgkill",
            "tkill",
        ]
        .map(String::from),
    );
    names
}

fn plain(args: &[String]) -> Out {
    let mut c = clean_command(&args[0]);
    c.args(&args[1..]);
    run_command(c)
}

fn record(
    dir: &TempDir,
    args: &[String],
    backend: &str,
    tag: &str,
) -> (Out, std::path::PathBuf, std::path::PathBuf) {
    let profile = dir.join(&format!("{tag}.json"));
    let rec = dir.join(&format!("{tag}.rec"));
    let mut c = clean_command(syscage());
    c.args(["record", "--backend", backend, "-o"])
        .arg(&profile)
        .arg("--recording")
        .arg(&rec)
        .arg("--")
        .args(args);
    (run_command(c), profile, rec)
}

fn check_workload(name: &str, args: &[&str]) {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let dir = TempDir::new(name);
    let expected = plain(&args);
    assert_eq!(
        expected.code, 0,
        "{name} must work plainly: {}",
        expected.stderr
    );

    // 1. Recording changes neither output nor status; both backends record the same set.
    let (notify, _, notify_rec) = record(&dir, &args, "notify", "notify");
    assert_eq!(
        (notify.code, &notify.stdout),
        (expected.code, &expected.stdout),
        "{name} under record: {}",
        notify.stderr
    );
    let (traced, _, ptrace_rec) = record(&dir, &args, "ptrace", "ptrace");
    assert_eq!(
        (traced.code, &traced.stdout),
        (expected.code, &expected.stdout),
        "{name} under record --backend ptrace"
    );
    assert_eq!(
        recorded_names(&notify_rec),
        recorded_names(&ptrace_rec),
        "{name}: the backends disagree"
    );
    let (bpf, _, ebpf_rec) = record(&dir, &args, "ebpf", "ebpf");
    assert_eq!(
        (bpf.code, &bpf.stdout),
        (expected.code, &expected.stdout),
        "{name} under record --backend ebpf: {}",
        bpf.stderr
    );
    assert_eq!(
        recorded_names(&notify_rec),
        recorded_names(&ebpf_rec),
        "{name}: eBPF and notify disagree"
    );

    // 2 and 5, in one run: strace follows syscage and the workload.
    let profile = dir.join("profile.json");
    let trace = dir.join("strace.txt");
    let mut c = clean_command("strace");
    c.args(["-f", "-qq", "-s", "0", "-o"])
        .arg(&trace)
        .arg(syscage())
        .args(["record", "-q", "-o"])
        .arg(&profile)
        .arg("--")
        .args(&args);
    let out = run_command(c);
    assert_eq!(
        out.code, expected.code,
        "{name} under strace + record: {}",
        out.stderr
    );
    let seen = strace_workload_syscalls(&std::fs::read_to_string(&trace).unwrap());
    assert!(
        seen.contains("execve") && seen.len() > 5,
        "{name}: strace parse found {seen:?}"
    );
    let allowed = allowed_names(&profile);
    // clone3 is answered ENOSYS on purpose (its flags are out of seccomp's sight) and glibc
    // falls back to clone, which the profile then allows: both count as covered.
    let fallback = |n: &str| n == "clone3" && allowed.contains("clone");
    let missing: Vec<&String> = seen.difference(&allowed).filter(|n| !fallback(n)).collect();
    assert!(
        missing.is_empty(),
        "{name}: strace saw {missing:?} but the profile does not allow them"
    );
    let base = base_and_required();
    let extra: Vec<&String> = allowed
        .iter()
        .filter(|n| !seen.contains(*n) && !base.contains(*n))
        .filter(|n| !(*n == "clone" && seen.contains("clone3")))
        .collect();
    assert!(
        extra.is_empty(),
        "{name}: the profile allows {extra:?}, which strace never saw"
    );
    eprintln!(
        "{name}: strace saw {}, profile allows {} ({} beyond strace, all from the runtime base/required); Docker's default allows 370",
        seen.len(),
        allowed.len(),
        allowed.len() - allowed.intersection(&seen).count()
    );

    // 3. Three runs under syscage run with the profile.
    for i in 0..3 {
        let mut c = clean_command(syscage());
        c.args(["run", "--seccomp"])
            .arg(&profile)
            .arg("--")
            .args(&args);
        let out = run_command(c);
        assert_eq!(
            (out.code, &out.stdout),
            (expected.code, &expected.stdout),
            "{name} run {i}: {}",
            out.stderr
        );
    }

    // 4. crun and runc enforce it unchanged.
    for runtime in ["crun", "runc"] {
        let bundle = Bundle::new(runtime, &args, &profile, false);
        let out = bundle.run();
        assert_eq!(
            (out.code, &out.stdout),
            (expected.code, &expected.stdout),
            "{name} under {runtime}: {}",
            out.stderr
        );
    }
}

#[test]
fn coreutils_ls() {
    check_workload("ls", &["/usr/bin/ls", "-1", "/usr/share/common-licenses"]);
}

#[test]
fn python_with_threads() {
    check_workload(
        "python",
        &[
            "/usr/bin/python3",
            "-c",
            "import threading\nres = []\nlock = threading.Lock()\ndef work(i):\n    with lock: res.append(i * i)\n\
         ts = [threading.Thread(target=work, args=(i,)) for i in range(4)]\n[t.start() for t in ts]\n[t.join() for t in ts]\nprint(sorted(res))",
        ],
    );
}

#[test]
fn sh_pipeline() {
    check_workload(
        "pipeline",
        &[
            "/usr/bin/dash",
            "-c",
            "ls /usr/share/common-licenses | sort -r | head -n 3 | tr a-z A-Z",
        ],
    );
}

#[test]
fn static_busybox() {
    let bb = busybox();
    check_workload(
        "busybox",
        &[
            bb.to_str().unwrap(),
            "sh",
            "-c",
            "busybox ls /usr/share/common-licenses | busybox wc -l; busybox uname -s",
        ],
    );
}

#[test]
fn fork_exec_loop() {
    check_workload(
        "forkexec",
        &[
            "/usr/bin/dash",
            "-c",
            "i=0; while [ $i -lt 25 ]; do /usr/bin/true; i=$((i+1)); done; echo $i",
        ],
    );
}

// Exits 143 on SIGTERM by itself: under crun and runc the server is its container's PID 1, which
// the kernel does not let a default-action SIGTERM kill.
const SERVER: &str = "import socket, sys, signal\n\
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(143))\n\
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n\
    s.bind(('127.0.0.1', 0)); s.listen(8)\n\
    print(s.getsockname()[1], flush=True)\n\
    while True:\n\
    \x20   c, _ = s.accept(); c.sendall(b'pong:' + c.recv(100)); c.close()\n";

/// Starts a server command, talks to it twice, stops it with `sig` (or with `stop`), returns its
/// exit code.
fn serve_and_stop(cmd: std::process::Command, sig: nix::sys::signal::Signal) -> i32 {
    serve_and_stop_with(cmd, |pid| {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), sig).unwrap()
    })
}

fn serve_and_stop_with(mut cmd: std::process::Command, stop: impl FnOnce(u32)) -> i32 {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut port = String::new();
    out.read_line(&mut port).unwrap();
    let port: u16 = port
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("no port printed: {port:?}"));
    for msg in ["one", "two"] {
        let mut conn = TcpStream::connect(("127.0.0.1", port)).unwrap();
        conn.write_all(msg.as_bytes()).unwrap();
        let mut reply = String::new();
        conn.read_to_string(&mut reply).unwrap();
        assert_eq!(reply, format!("pong:{msg}"));
    }
    stop(child.id());
    let status = child.wait().unwrap();
    use std::os::unix::process::ExitStatusExt;
    status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap())
}

#[test]
fn server_stopped_by_a_signal_still_yields_its_profile() {
    let dir = TempDir::new("server");
    let args = ["/usr/bin/python3".to_string(), "-c".into(), SERVER.into()];
    for (backend, sig) in [
        ("notify", nix::sys::signal::Signal::SIGTERM),
        ("ptrace", nix::sys::signal::Signal::SIGQUIT),
        ("ebpf", nix::sys::signal::Signal::SIGHUP),
    ] {
        let profile = dir.join(&format!("{backend}.json"));
        let _ = std::fs::remove_file(&profile);
        let mut c = clean_command(syscage());
        c.args(["record", "-q", "--backend", backend, "-o"])
            .arg(&profile)
            .arg("--")
            .args(&args);
        let code = serve_and_stop(c, sig);
        assert_eq!(
            code,
            128 + sig as i32,
            "syscage exits with the workload's status"
        );
        let allowed = allowed_names(&profile);
        for n in [
            "socket",
            "bind",
            "listen",
            "accept4",
            "sendto",
            "recvfrom",
            "exit_group",
        ] {
            assert!(
                allowed.contains(n),
                "{backend}: {n} missing from {allowed:?}"
            );
        }
    }
    let profile = dir.join("notify.json");
    // The recorded profile serves under syscage run, crun and runc (sharing the host network).
    let mut c = clean_command(syscage());
    c.args(["run", "--seccomp"])
        .arg(&profile)
        .arg("--")
        .args(&args);
    assert_eq!(serve_and_stop(c, nix::sys::signal::Signal::SIGTERM), 143);
    for runtime in ["crun", "runc"] {
        let bundle = Bundle::new(runtime, &args, &profile, true);
        let code = serve_and_stop_with(bundle.command(), |_| bundle.kill("TERM"));
        assert_eq!(
            code, 143,
            "{runtime}: the server ends by SIGTERM, not by a denied syscall"
        );
    }
}

#[test]
fn a_bare_profile_fails_under_runc_and_the_runtime_base_fixes_it() {
    // The control that shows why runtime base sets exist.
    let dir = TempDir::new("bare");
    let args = vec!["/bin/busybox".to_string(), "true".into()];
    let bare = dir.join("bare.json");
    let mut c = clean_command(syscage());
    c.args(["record", "-q", "--runtime", "syscage", "-o"])
        .arg(&bare)
        .arg("--")
        .args(&args);
    run_command(c).assert_code(0);
    let out = Bundle::new("runc", &args, &bare, false).run();
    assert_ne!(out.code, 0, "runc must fail with a bare profile");
    // Usually "ensure /proc/self/fd is on procfs: operation not permitted"; sometimes runc only
    // notices that its init died.
    assert!(out.stderr.contains("runc"), "{}", out.stderr);
    let with_base = dir.join("runc.json");
    let mut c = clean_command(syscage());
    c.args(["record", "-q", "--runtime", "runc", "-o"])
        .arg(&with_base)
        .arg("--")
        .args(&args);
    run_command(c).assert_code(0);
    Bundle::new("runc", &args, &with_base, false)
        .run()
        .assert_code(0);
}
