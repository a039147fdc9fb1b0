//! The eBPF backend records exactly the workload: from its exec on, every process and thread it
//! creates, and nothing else. Two recordings at once each get only their own syscalls, and a
//! busy process outside the workload adds nothing.

mod common;

use std::process::{Command, Stdio};

use common::*;

/// A python workload that runs for about `secs`, making `marker` (an os function with its own
/// syscall) in a loop, in a thread and in a child process.
fn workload(marker: &str, secs: f64) -> Vec<String> {
    let code = format!(
        "import os, threading, time\n\
         def spin():\n    t = time.time()\n    while time.time() - t < {secs}: {marker}\n\
         th = threading.Thread(target=spin); th.start()\n\
         pid = os.fork()\n\
         if pid == 0:\n    spin(); os._exit(0)\n\
         spin(); th.join(); os.waitpid(pid, 0)\n"
    );
    vec!["/usr/bin/python3".into(), "-c".into(), code]
}

#[test]
fn concurrent_recordings_and_a_busy_neighbour_do_not_mix() {
    let dir = TempDir::new("ebpfmix");
    // The neighbour: started first, busy with two syscalls the workloads never make.
    let mut neighbour = Command::new("/usr/bin/python3")
        .args([
            "-c",
            "import os, time\nt = time.time()\nwhile time.time() - t < 4: os.getsid(0); os.times()",
        ])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let start = |tag: &str, marker: &str| {
        let rec = dir.join(&format!("{tag}.rec"));
        let mut c = clean_command(syscage());
        c.args(["record", "-q", "--backend", "ebpf", "-o"])
            .arg(dir.join(&format!("{tag}.json")))
            .arg("--recording")
            .arg(&rec)
            .arg("--")
            .args(workload(marker, 1.5));
        c.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        (c.spawn().unwrap(), rec)
    };
    let (a, a_rec) = start("a", "os.getpriority(os.PRIO_PROCESS, 0)");
    let (b, b_rec) = start("b", "os.getresuid()");
    finish(a).assert_code(0);
    finish(b).assert_code(0);
    let _ = neighbour.kill();
    let _ = neighbour.wait();
    let a = recorded_names(&a_rec);
    let b = recorded_names(&b_rec);
    let has = |set: &std::collections::BTreeSet<(String, String)>, n: &str| {
        set.contains(&("x86_64".to_string(), n.to_string()))
    };
    assert!(has(&a, "getpriority") && !has(&a, "getresuid"), "a: {a:?}");
    assert!(has(&b, "getresuid") && !has(&b, "getpriority"), "b: {b:?}");
    for (tag, set) in [("a", &a), ("b", &b)] {
        assert!(
            !has(set, "getsid") && !has(set, "times"),
            "{tag} holds the neighbour's syscalls: {set:?}"
        );
        // Threads and the forked child are recorded (clone for both, wait4 by the parent).
        assert!(has(set, "wait4") && has(set, "clone3"), "{tag}: {set:?}");
    }
}

#[test]
fn syscage_own_setup_is_not_recorded() {
    // What syscage does before the workload's exec (namespaces, mounts, the hand-over of a
    // pidfd) is not the workload's: a static program that makes a dozen syscalls shows it.
    let dir = TempDir::new("ebpfown");
    let mut sets = Vec::new();
    for backend in ["ebpf", "notify"] {
        let rec = dir.join(&format!("{backend}.rec"));
        let mut c = clean_command(syscage());
        c.args(["record", "-q", "--backend", backend, "-o"])
            .arg(dir.join("p.json"))
            .arg("--recording")
            .arg(&rec)
            .args(["--", "/bin/busybox", "true"]);
        run_command(c).assert_code(0);
        sets.push(recorded_names(&rec));
    }
    let names: Vec<&String> = sets[0].iter().map(|(_, n)| n).collect();
    for own in [
        "mount",
        "clone",
        "unshare",
        "pivot_root",
        "pidfd_open",
        "sendmsg",
        "wait4",
    ] {
        assert!(!names.iter().any(|n| *n == own), "{own} in {names:?}");
    }
    assert_eq!(sets[0], sets[1], "eBPF and notify start at the same point");
}
