//! `run --monitor` and `run --learn`: a workload doing A then B, where B needs syscalls a profile
//! recorded from A alone lacks. Enforced, B fails; monitored, B still fails and the events name
//! exactly the missing syscalls; learning, everything runs and the delta holds exactly them;
//! merged, the healed profile runs A and B enforced. Nothing is weakened meanwhile.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use common::*;

/// A: read a file and print. B: ask the scheduler for the process's priority and the system
/// for its uptime and load (syscalls A never makes). (Nothing whose failure makes python fall
/// back to other syscalls: the events would rightly name those too.)
const SCRIPT: &str = r#"
import sys, os
open("/etc/hostname").read()
print("A ok", flush=True)
if len(sys.argv) > 1:
    denied = 0
    for call in (lambda: os.getpriority(os.PRIO_PROCESS, 0), lambda: os.sched_getscheduler(0)):
        try:
            call()
        except PermissionError:
            denied += 1
    print("B EPERM" if denied else "B ok")
"#;

fn workload(b: bool) -> Vec<String> {
    let mut v = vec!["/usr/bin/python3".to_string(), "-c".into(), SCRIPT.into()];
    if b {
        v.push("B".into());
    }
    v
}

fn record(dir: &TempDir, name: &str, extra: &[&str], cmd: &[String]) -> (PathBuf, PathBuf) {
    let (profile, rec) = (
        dir.join(&format!("{name}.json")),
        dir.join(&format!("{name}.rec")),
    );
    let mut c = clean_command(syscage());
    c.args(["record", "-q", "--backend", "notify", "-o"])
        .arg(&profile)
        .arg("--recording")
        .arg(&rec)
        .args(extra)
        .arg("--")
        .args(cmd);
    run_command(c).assert_code(0);
    (profile, rec)
}

fn run(opts: &[&str], cmd: &[String]) -> Out {
    let mut c = clean_command(syscage());
    c.arg("run").args(opts).arg("--").args(cmd);
    run_command(c)
}

/// The event lines of a monitor file.
fn events(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn names_of(events: &[serde_json::Value], kind: &str) -> BTreeSet<String> {
    events
        .iter()
        .filter(|e| e["event"] == kind)
        .map(|e| e["syscall"].as_str().unwrap().to_string())
        .collect()
}

/// What A+B makes that the profile recorded from A does not allow.
fn missing(dir: &TempDir, profile: &Path) -> BTreeSet<String> {
    let (_, full) = record(dir, "full", &[], &workload(true));
    let allowed = allowed_names(profile);
    recorded_names(&full)
        .into_iter()
        .filter(|(abi, _)| abi == "x86_64")
        .map(|(_, n)| n)
        .filter(|n| !allowed.contains(n))
        .collect()
}

#[test]
fn monitor_names_exactly_what_fails_learn_heals_it() {
    let dir = TempDir::new("monitor");
    let (p, _) = record(&dir, "a", &[], &workload(false));
    let p_str = p.to_str().unwrap();
    let missing = missing(&dir, &p);
    assert!(missing.contains("getpriority"), "{missing:?}");

    // Enforced: B fails.
    let out = run(&["--seccomp", p_str], &workload(true));
    assert_eq!(
        out.assert_code(0).stdout,
        "A ok\nB EPERM\n",
        "{}",
        out.stderr
    );

    // Monitored: B still fails; the events name exactly the missing syscalls, with the
    // executable, and the profile's action.
    let ev_file = dir.join("events.jsonl");
    let out = run(
        &[
            "--seccomp",
            p_str,
            "--monitor",
            ev_file.to_str().unwrap(),
            "--id",
            "job-7",
        ],
        &workload(true),
    );
    assert_eq!(
        out.assert_code(0).stdout,
        "A ok\nB EPERM\n",
        "{}",
        out.stderr
    );
    let ev = events(&ev_file);
    assert_eq!(names_of(&ev, "first"), missing, "{ev:?}");
    assert_eq!(names_of(&ev, "total"), missing);
    let call = ev
        .iter()
        .find(|e| e["syscall"] == "getpriority" && e["event"] == "first")
        .unwrap();
    let python = std::fs::canonicalize("/usr/bin/python3").unwrap();
    assert_eq!(call["executable"], python.to_str().unwrap());
    assert_eq!(call["action"], "errno 1 (EPERM)");
    assert_eq!(call["reason"], "unlisted");
    assert_eq!(call["abi"], "x86_64");
    assert_eq!(call["id"], "job-7");
    assert_eq!(call["args"][0], "0x0", "PRIO_PROCESS");
    assert!(call["pid"].as_u64().unwrap() > 0 && call["time"].as_f64().unwrap() > 1.7e9);
    // The sandbox has a pid namespace of its own: the pid the workload sees is beside the host's.
    let nspid = call["nspid"]
        .as_u64()
        .unwrap_or_else(|| panic!("no nspid: {call}"));
    assert!(
        nspid < 10 && nspid != call["pid"].as_u64().unwrap(),
        "{call}"
    );

    // Learning: everything runs; the delta holds exactly the missing syscalls.
    let delta = dir.join("delta.rec");
    let out = run(
        &["--seccomp", p_str, "--learn", delta.to_str().unwrap()],
        &workload(true),
    );
    assert_eq!(out.assert_code(0).stdout, "A ok\nB ok\n", "{}", out.stderr);
    assert!(out.stderr.contains("learn mode"), "{}", out.stderr);
    let learned: BTreeSet<String> = recorded_names(&delta).into_iter().map(|(_, n)| n).collect();
    assert_eq!(learned, missing);

    // Merged: the healed profile runs A and B, enforced.
    let p2 = dir.join("p2.json");
    let mut c = clean_command(syscage());
    c.args(["merge", p_str]).arg(&delta).arg("-o").arg(&p2);
    run_command(c).assert_code(0);
    let out = run(&["--seccomp", p2.to_str().unwrap()], &workload(true));
    assert_eq!(out.assert_code(0).stdout, "A ok\nB ok\n", "{}", out.stderr);
}

#[test]
fn argument_rules_still_stop_disallowed_values_under_monitor_and_learn() {
    let dir = TempDir::new("monargs");
    // Recorded with --args from a workload that opens only AF_UNIX sockets.
    let unix_only = vec![
        "/usr/bin/python3".to_string(),
        "-c".into(),
        "import socket\nsocket.socket(socket.AF_UNIX).close()\nprint('unix ok')".into(),
    ];
    let (p, _) = record(&dir, "unix", &["--args"], &unix_only);
    let inet = vec![
        "/usr/bin/python3".to_string(),
        "-c".into(),
        "import socket\ntry:\n    socket.socket(socket.AF_INET6); print('inet ok')\nexcept PermissionError: print('inet EPERM')".into(),
    ];
    let delta = dir.join("delta.rec");
    let ev_file = dir.join("ev.jsonl");
    for opts in [
        vec!["--monitor", ev_file.to_str().unwrap()],
        vec![
            "--learn",
            delta.to_str().unwrap(),
            "--monitor",
            ev_file.to_str().unwrap(),
        ],
    ] {
        let mut all = vec!["--seccomp", p.to_str().unwrap()];
        all.extend(opts.iter().copied());
        let out = run(&all, &inet);
        assert_eq!(
            out.assert_code(0).stdout,
            "inet EPERM\n",
            "{opts:?}: {}",
            out.stderr
        );
    }
    let ev = events(&ev_file);
    let socket: Vec<_> = ev.iter().filter(|e| e["syscall"] == "socket").collect();
    assert!(!socket.is_empty(), "{ev:?}");
    assert!(
        socket
            .iter()
            .all(|e| e["reason"] == "arguments" && e["action"] == "errno 1 (EPERM)")
    );
    let learned: BTreeSet<String> = recorded_names(&delta).into_iter().map(|(_, n)| n).collect();
    assert!(!learned.contains("socket"), "{learned:?}");
}

#[test]
fn monitored_probes_are_blocked_as_enforced_ones() {
    let dir = TempDir::new("monsec");
    let probe = probe();
    let (p, _) = record(
        &dir,
        "probe",
        &[],
        &[
            probe.display().to_string(),
            "syscall".into(),
            "getppid".into(),
        ],
    );
    let ev_file = dir.join("ev.jsonl");
    for attack in PROBE_ATTACKS {
        let out = probe_run(
            &[
                "--seccomp",
                p.to_str().unwrap(),
                "--monitor",
                ev_file.to_str().unwrap(),
            ],
            &["syscall", attack],
        );
        assert_eq!(
            out.assert_code(0).line(&format!("{attack}:")),
            format!("{attack}: EPERM"),
            "{attack} under --monitor: {}",
            out.stderr
        );
    }
    // int 0x80 from a 64-bit-only profile is still killed (the bad-arch action stays in the
    // kernel).
    let out = probe_run(
        &[
            "--seccomp",
            p.to_str().unwrap(),
            "--monitor",
            ev_file.to_str().unwrap(),
        ],
        &["int80", "getpid"],
    );
    out.assert_code(128 + libc::SIGSYS);
    let names = names_of(&events(&ev_file), "first");
    for n in [
        "keyctl",
        "unshare",
        "ptrace",
        "mount",
        "bpf",
        "personality",
        "socket",
    ] {
        assert!(names.contains(n), "{n} not reported: {names:?}");
    }
}

#[test]
fn floods_are_bounded_and_counted_exactly() {
    let dir = TempDir::new("monflood");
    let base = vec![
        "/usr/bin/python3".to_string(),
        "-c".into(),
        "import os\nprint('ok')".into(),
    ];
    let (p, _) = record(&dir, "base", &[], &base);
    // 10,000 denied uname calls, and the workload goes on.
    let flood = vec![
        "/usr/bin/python3".to_string(),
        "-c".into(),
        "import os\nn = 0\nfor _ in range(10000):\n    try: os.uname()\n    except PermissionError: n += 1\nprint(n)".into(),
    ];
    let ev_file = dir.join("ev.jsonl");
    let out = run(
        &[
            "--seccomp",
            p.to_str().unwrap(),
            "--monitor",
            ev_file.to_str().unwrap(),
        ],
        &flood,
    );
    assert_eq!(out.assert_code(0).stdout, "10000\n", "{}", out.stderr);
    let ev = events(&ev_file);
    let uname: Vec<_> = ev.iter().filter(|e| e["syscall"] == "uname").collect();
    assert!(uname.len() <= 2 + 30, "bounded: {} lines", uname.len());
    let total = uname.iter().find(|e| e["event"] == "total").unwrap();
    assert_eq!(total["count"], 10000);
}

/// syscage's peak resident set (VmHWM, kB) once `child` has finished, polled while it runs.
fn peak_rss_kb(child: &std::process::Child) -> u64 {
    std::fs::read_to_string(format!("/proc/{}/status", child.id()))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// A workload counting through syscall numbers (1000, 1001, ... none of them a syscall) for 3 s:
/// one key, a handful of lines, exact totals, a delta without them, and syscage's memory flat.
/// (Before: one key and its own lines per number, 175 MB of events in 8 s, RSS rising.)
#[test]
fn distinct_unknown_numbers_are_one_key_never_learned_and_bounded() {
    let dir = TempDir::new("numflood");
    let p = probe();
    for mode in ["--monitor", "--learn"] {
        let ev_file = dir.join(&format!("ev{mode}.jsonl"));
        let delta = dir.join("delta.rec");
        let mut c = clean_command(syscage());
        c.arg("run");
        if mode == "--learn" {
            c.args(["--learn", delta.to_str().unwrap(), "--monitor"]);
        } else {
            c.arg("--monitor");
        }
        c.arg(&ev_file)
            .arg("--")
            .arg(&p)
            .args(["count-numbers", "3000"])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let child = c.spawn().expect("spawn syscage");
        let mut peak_early = 0;
        let start = std::time::Instant::now();
        let mut peak = 0;
        while child_running(&child) {
            peak = peak.max(peak_rss_kb(&child));
            if start.elapsed() < std::time::Duration::from_millis(800) {
                peak_early = peak;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let out = finish(child);
        out.assert_code(0);
        let line = out.line("count-numbers x");
        let (n, outcome) = line
            .trim_start_matches("count-numbers x")
            .split_once(": ")
            .unwrap();
        let n: u64 = n.parse().unwrap();
        assert!(n > 10_000, "the flood ran: {line}");
        assert_eq!(outcome, format!("EPERM x{n}"), "{mode}: never let through");
        let ev = events(&ev_file);
        assert!(
            ev.len() <= 8,
            "{mode}: {} event lines for {n} numbers",
            ev.len()
        );
        let first = ev.iter().find(|e| e["event"] == "first").unwrap();
        assert_eq!(
            (first["syscall"].as_str(), first["nr"].as_i64()),
            (Some("unknown"), Some(1000))
        );
        assert_eq!(first["reason"], "unknown-number");
        let total = ev.iter().find(|e| e["event"] == "total").unwrap();
        assert_eq!(total["count"].as_u64(), Some(n), "{mode}: exact count");
        assert!(
            peak < 64 * 1024 && peak <= peak_early + 4 * 1024,
            "{mode}: syscage's memory grew with the numbers: {peak_early} kB at 0.8 s, {peak} kB at the end"
        );
        if mode == "--learn" {
            let text = std::fs::read_to_string(&delta).unwrap();
            assert!(!text.contains("unknown"), "learned: {text}");
            assert!(
                out.stderr
                    .contains(&format!("{n} calls denied as the profile does")),
                "{}",
                out.stderr
            );
        }
    }
}

fn child_running(child: &std::process::Child) -> bool {
    // Not reaped yet: a zombie's status has no VmHWM, which ends the loop too.
    std::fs::read_to_string(format!("/proc/{}/status", child.id()))
        .map(|s| s.contains("VmHWM:"))
        .unwrap_or(false)
}

#[test]
fn learn_writes_its_delta_when_stopped_and_both_modes_work_unprivileged() {
    let dir = TempDir::new("monlearn");
    let (p, _) = record(&dir, "a", &[], &workload(false));
    // Stopped by SIGTERM mid-run: the delta is still written, atomically.
    let delta = dir.join("stopped.rec");
    let mut c = clean_command(syscage());
    c.args(["run", "--seccomp", p.to_str().unwrap(), "--learn"])
        .arg(&delta)
        .args([
            "--",
            "/usr/bin/python3",
            "-c",
            "import os, time\nos.uname()\nprint('started', flush=True)\ntime.sleep(30)",
        ]);
    c.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = c.spawn().unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.as_mut().unwrap()),
        &mut line,
    )
    .unwrap();
    assert_eq!(line, "started\n");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    finish(child);
    let learned: BTreeSet<String> = recorded_names(&delta).into_iter().map(|(_, n)| n).collect();
    assert!(learned.contains("uname"), "{learned:?}");

    // Unprivileged: the same learn run as a plain user.
    let user = TestUser::new(false);
    let shared = TempDir::new("monlearnu");
    std::fs::set_permissions(
        shared.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .unwrap();
    let up = shared.join("p.json");
    std::fs::copy(&p, &up).unwrap();
    std::fs::set_permissions(&up, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    let udelta = shared.join("delta.rec");
    let mut args = vec![
        "run".to_string(),
        "--seccomp".into(),
        up.display().to_string(),
        "--learn".into(),
        udelta.display().to_string(),
        "--".into(),
    ];
    args.extend(workload(true));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = user.run(&args);
    assert_eq!(out.assert_code(0).stdout, "A ok\nB ok\n", "{}", out.stderr);
    let learned: BTreeSet<String> = recorded_names(&udelta)
        .into_iter()
        .map(|(_, n)| n)
        .collect();
    assert!(learned.contains("getpriority"), "{learned:?}");

    // And monitored as a plain user: still denied, reported.
    let uev = shared.join("ev.jsonl");
    let mut args = vec![
        "run".to_string(),
        "--seccomp".into(),
        up.display().to_string(),
        "--monitor".into(),
        uev.display().to_string(),
        "--".into(),
    ];
    args.extend(workload(true));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = user.run(&args);
    assert_eq!(
        out.assert_code(0).stdout,
        "A ok\nB EPERM\n",
        "{}",
        out.stderr
    );
    assert!(names_of(&events(&uev), "first").contains("getpriority"));
}

/// A profile without `read`: syscage's own wait for the supervisor (a `read` before the
/// program's exec) is let through unreported, and the program's own reads are denied and
/// reported under its name — the launcher's exemption ends at the exec.
#[test]
fn the_launchers_own_calls_are_exempt_only_until_the_exec() {
    let dir = TempDir::new("monlaunch");
    let (p, _) = record(&dir, "true", &[], &["/bin/true".to_string()]);
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
    let rules = v["syscalls"].as_array_mut().unwrap();
    for rule in rules.iter_mut() {
        rule["names"]
            .as_array_mut()
            .unwrap()
            .retain(|n| n != "read");
    }
    rules.retain(|r| !r["names"].as_array().unwrap().is_empty());
    std::fs::write(&p, serde_json::to_vec(&v).unwrap()).unwrap();
    let ev_file = dir.join("ev.jsonl");
    let out = run(
        &[
            "--seccomp",
            p.to_str().unwrap(),
            "--monitor",
            ev_file.to_str().unwrap(),
        ],
        &["/bin/true".to_string()],
    );
    assert_ne!(out.code, 125, "{}", out.stderr);
    assert_ne!(out.code, 0, "the loader cannot read libc: {}", out.stderr);
    let ev = events(&ev_file);
    let true_exe = std::fs::canonicalize("/bin/true").unwrap();
    assert!(
        ev.iter().any(|e| e["syscall"] == "read"
            && e["executable"] == true_exe.to_str().unwrap()
            && e["action"] == "errno 1 (EPERM)"),
        "{ev:?}"
    );
    assert!(
        ev.iter()
            .all(|e| e["executable"] == true_exe.to_str().unwrap()),
        "syscage's own calls are not reported: {ev:?}"
    );
}

/// A profile whose default action is `trap`, enforced and monitored, on a workload that handles
/// SIGSYS (SA_RESTART), ignores it or blocks it. The kernel runs the handler once, before the
/// call returns, and kills a process that ignores or blocks SIGSYS; monitored, the same happens
/// (the handler once, as the call returns ENOSYS; killed, by SIGKILL) — before, an ignoring or
/// blocking workload survived, and a handler saw EINTR or fifteen restarts.
#[test]
fn trap_actions_under_monitor_behave_as_the_kernels() {
    let dir = TempDir::new("trap");
    let p = probe();
    let p = p.to_str().unwrap();
    let (profile, _) = record(
        &dir,
        "trap",
        &[],
        &[
            p.to_string(),
            "trap".into(),
            "getppid".into(),
            "handler".into(),
        ],
    );
    let mut v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&profile).unwrap()).unwrap();
    v["defaultAction"] = "SCMP_ACT_TRAP".into();
    v.as_object_mut().unwrap().remove("defaultErrnoRet");
    std::fs::write(&profile, serde_json::to_vec(&v).unwrap()).unwrap();
    let profile = profile.to_str().unwrap();
    let ev_file = dir.join("ev.jsonl");
    let watched = ["--seccomp", profile, "--monitor", ev_file.to_str().unwrap()];
    let cmd =
        |mode: &str| -> Vec<String> { vec![p.into(), "trap".into(), "keyctl".into(), mode.into()] };

    let enforced = run(&["--seccomp", profile], &cmd("handler"));
    assert_eq!(
        enforced.assert_code(0).line("trap keyctl"),
        // The kernel's SIGSYS: si_code SYS_SECCOMP; the skipped call returns its own number.
        "trap keyctl handler: ok; SIGSYS x1 si_code 1"
    );
    let monitored = run(&watched, &cmd("handler"));
    assert_eq!(
        monitored.assert_code(0).line("trap keyctl"),
        "trap keyctl handler: ENOSYS; SIGSYS x1 si_code -6",
        "the handler ran once, before the call returned"
    );
    for mode in ["ignore", "block"] {
        let enforced = run(&["--seccomp", profile], &cmd(mode));
        assert_eq!(enforced.code, 128 + libc::SIGSYS, "{}", enforced.stdout);
        let monitored = run(&watched, &cmd(mode));
        assert_eq!(
            monitored.code,
            128 + libc::SIGKILL,
            "{mode}: the process must not survive: {}",
            monitored.stdout
        );
        assert!(
            !monitored.stdout.contains("trap keyctl"),
            "{}",
            monitored.stdout
        );
    }
    let ev = events(&ev_file);
    assert!(
        ev.iter()
            .all(|e| e["syscall"] == "keyctl" && e["action"] == "trap"),
        "{ev:?}"
    );
}

/// Learn mode records the paths of the calls it lets through, as `record` does, so that a
/// healed profile heals its Landlock ruleset too: A reads a file; B also makes a directory
/// (mkdirat/mkdir, which the profile from A lacks). The delta holds the new directory as
/// created; the ruleset merged from A's recording and the delta lets B run under Landlock,
/// where A's alone refuses the mkdir (before: a delta had no file facts at all).
#[test]
fn learn_mode_records_paths_so_landlock_heals_too() {
    let dir = TempDir::new("learnfiles");
    let work = TempDir::new("learnwork");
    // Root inside is host uid 1000000000 when root runs syscage: it must own the directory.
    nix::unistd::chown(
        work.path(),
        Some(1_000_000_000.into()),
        Some(1_000_000_000.into()),
    )
    .unwrap();
    let script = "import os, sys\nopen('/etc/hostname').read()\nif len(sys.argv) > 2: os.mkdir(sys.argv[1] + '/' + sys.argv[2])\nprint('done')";
    let cmd = |sub: Option<&str>| -> Vec<String> {
        let mut v = vec![
            "/usr/bin/python3".to_string(),
            "-c".into(),
            script.into(),
            work.str().into(),
        ];
        v.extend(sub.map(String::from));
        v
    };
    let (profile, rec) = record(&dir, "a", &[], &cmd(None));
    let delta = dir.join("delta.rec");
    let rw = ["--rw", work.str()];
    let mut learn_opts = vec![
        "--seccomp",
        profile.to_str().unwrap(),
        "--learn",
        delta.to_str().unwrap(),
    ];
    learn_opts.extend(rw);
    let out = run(&learn_opts, &cmd(Some("learned")));
    assert_eq!(out.assert_code(0).stdout, "done\n", "{}", out.stderr);
    let text = std::fs::read_to_string(&delta).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let made = format!("{}/learned", work.str());
    assert_eq!(v["files"][&made], serde_json::json!(["create"]), "{text}");

    let (healed, only_a) = (dir.join("healed.ll"), dir.join("a.ll"));
    for (inputs, out) in [(vec![&rec, &delta], &healed), (vec![&rec], &only_a)] {
        let mut c = clean_command(syscage());
        c.arg("merge")
            .args(inputs)
            .arg("-o")
            .arg(dir.join("m.json"))
            .arg("--landlock")
            .arg(out);
        run_command(c).assert_code(0);
    }
    let under = |ruleset: &std::path::Path, sub: &str| {
        let mut opts = vec![
            "--seccomp",
            "unconfined",
            "--landlock",
            ruleset.to_str().unwrap(),
        ];
        opts.extend(rw);
        run(&opts, &cmd(Some(sub)))
    };
    let healed_run = under(&healed, "again");
    assert_eq!(
        healed_run.assert_code(0).stdout,
        "done\n",
        "{}",
        healed_run.stderr
    );
    let refused = under(&only_a, "refused");
    assert!(
        refused.stderr.contains("PermissionError"),
        "A's ruleset alone must refuse the mkdir: {} {}",
        refused.stdout,
        refused.stderr
    );
}

/// A monitor event shows the flags of the denied call as strace would, beside the raw values.
#[test]
fn events_decode_flags_beside_the_raw_values() {
    let dir = TempDir::new("decode");
    let p = probe();
    let (profile, _) = record(
        &dir,
        "fork",
        &[],
        &[p.to_str().unwrap().into(), "syscall".into(), "fork".into()],
    );
    let ev_file = dir.join("ev.jsonl");
    let out = run(
        &[
            "--seccomp",
            profile.to_str().unwrap(),
            "--monitor",
            ev_file.to_str().unwrap(),
        ],
        &[
            p.to_str().unwrap().into(),
            "syscall".into(),
            "clone-newuser".into(),
        ],
    );
    assert_eq!(
        out.assert_code(0).line("clone-newuser"),
        "clone-newuser: EPERM"
    );
    let ev = events(&ev_file);
    let clone = ev
        .iter()
        .find(|e| e["event"] == "first" && e["syscall"] == "clone")
        .unwrap_or_else(|| panic!("{ev:?}"));
    assert_eq!(clone["reason"], "arguments");
    let decoded = clone["decoded"]["arg0"].as_str().unwrap();
    assert!(decoded.contains("CLONE_NEWUSER"), "{decoded}");
    assert!(clone["args"][0].as_str().unwrap().starts_with("0x"));
}
