//! `record --attach`: what already runs is recorded from the attach on — a process tree, a
//! cgroup — and nothing else; the target runs on untouched when syscage ends or is killed; the
//! recording ends with its target; bad targets are refused.

mod attach;
mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use attach::*;
use common::*;

/// A python process tree: a child forked before the attach, the parent, a child forked after;
/// each makes its own marker syscall once `go` exists, then they wait for `end`.
const TREE: &str = "import os, sys, time\n\
d = sys.argv[1]\n\
def until(name):\n    while not os.path.exists(os.path.join(d, name)): time.sleep(0.02)\n\
early = os.fork()\n\
if early == 0:\n    until('go'); os.getpgid(0); open(os.path.join(d, 'early-done'), 'w').close(); until('end'); os._exit(0)\n\
open(os.path.join(d, 'ready'), 'w').close()\n\
until('go')\n\
os.times()\n\
late = os.fork()\n\
if late == 0:\n    os.getsid(0); os._exit(0)\n\
os.waitpid(late, 0)\n\
open(os.path.join(d, 'done'), 'w').close()\n\
until('end')\n\
os.waitpid(early, 0)\n";

#[test]
fn a_process_tree_is_recorded_from_the_attach_on_and_nothing_else() {
    let dir = TempDir::new("attachpid");
    let mut tree = group({
        let mut c = Command::new("/usr/bin/python3");
        c.args(["-c", TREE, dir.str()]);
        c
    });
    let _kill_tree = KillPid(tree.id());
    // A neighbour outside the tree, busy with a syscall the tree never makes.
    let mut neighbour = group({
        let mut c = Command::new("/usr/bin/python3");
        c.args([
            "-c",
            "import os, time\nt = time.time()\nwhile time.time() - t < 20: os.getpriority(os.PRIO_PROCESS, 0); time.sleep(0.01)",
        ]);
        c
    });
    let _kill_neighbour = KillPid(neighbour.id());
    wait_for(&dir.join("ready"), "the tree's start");
    let (out, rec) = (dir.join("p.json"), dir.join("p.rec"));
    let (child, err) = attach(&format!("pid:{}", tree.id()), &out, &rec);
    std::fs::write(dir.join("go"), "").unwrap();
    wait_for(&dir.join("done"), "the tree's markers");
    wait_for(&dir.join("early-done"), "the early child's marker");
    let err = stop(child, err);
    // The target outlives the recording, untouched.
    assert!(
        tree.try_wait().unwrap().is_none(),
        "the tree was stopped: {err}"
    );
    let got = names(&rec);
    for marker in ["times", "getsid", "getpgid", "wait4"] {
        assert!(got.contains(marker), "{marker} missing from {got:?}\n{err}");
    }
    assert!(
        !got.contains("getpriority"),
        "the neighbour was recorded: {got:?}"
    );
    assert!(allowed_names(&out).contains("getsid"));
    // The profile itself says what it cannot hold, for whoever deploys it later.
    let profile: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    let comment = profile["comment"].as_str().unwrap_or_default();
    assert!(
        comment.contains(&format!("process {} and its descendants from 2", tree.id()))
            && comment.contains("its start-up) is not in this profile"),
        "{comment}"
    );
    assert!(
        err.contains("what it did before is not in this recording"),
        "{err}"
    );
    std::fs::write(dir.join("end"), "").unwrap();
    assert!(tree.wait().unwrap().success());
    let _ = neighbour.kill();
    let _ = neighbour.wait();
}

/// The ids of the eBPF programs process `pid` holds (from its descriptors' fdinfo).
fn prog_ids(pid: u32) -> Vec<String> {
    let mut ids = Vec::new();
    for fd in std::fs::read_dir(format!("/proc/{pid}/fdinfo"))
        .into_iter()
        .flatten()
        .flatten()
    {
        let info = std::fs::read_to_string(fd.path()).unwrap_or_default();
        for l in info.lines() {
            if let Some(id) = l.strip_prefix("prog_id:") {
                ids.push(id.trim().to_string());
            }
        }
    }
    ids
}

/// Whether any process holds eBPF program `id`.
fn prog_held(id: &str) -> bool {
    for p in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(fds) = std::fs::read_dir(p.path().join("fdinfo")) else {
            continue;
        };
        for fd in fds.flatten() {
            let info = std::fs::read_to_string(fd.path()).unwrap_or_default();
            if info
                .lines()
                .any(|l| l.strip_prefix("prog_id:").map(str::trim) == Some(id))
            {
                return true;
            }
        }
    }
    false
}

#[test]
fn killing_syscage_mid_recording_leaves_the_target_running_and_nothing_in_the_kernel() {
    let dir = TempDir::new("attachkill");
    let count = dir.join("count");
    // The target counts in a file: it must go on counting after syscage is killed.
    let script = format!(
        "i=0; while :; do i=$((i+1)); echo $i > {0}.tmp; mv {0}.tmp {0}; sleep 0.05; done",
        count.display()
    );
    let target = shell_group(&script);
    wait_for(&count, "the target's first count");
    let (mut child, err) = attach(
        &format!("pid:{}", target.id()),
        &dir.join("k.json"),
        &dir.join("k.rec"),
    );
    let progs = prog_ids(child.id());
    assert!(
        !progs.is_empty(),
        "syscage holds no eBPF program while attached"
    );
    child.kill().unwrap();
    child.wait().unwrap();
    drop(err);
    let read = || {
        std::fs::read_to_string(&count)
            .unwrap_or_default()
            .trim()
            .parse::<u64>()
            .unwrap_or(0)
    };
    let before = read();
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        read() > before,
        "the target stopped counting when syscage was killed"
    );
    assert!(
        !dir.join("k.json").exists(),
        "a profile was written by a killed recording"
    );
    // The kernel frees the programs with the last descriptor: give RCU a moment.
    let start = Instant::now();
    while progs.iter().any(|id| prog_held(id)) {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "eBPF programs {progs:?} are still held after syscage was killed"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_cgroup_is_recorded_with_what_joins_it_later() {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let mount = mountinfo
        .lines()
        .find(|l| l.contains(" - cgroup2 ") && l.split_whitespace().nth(3) == Some("/"))
        .and_then(|l| l.split_whitespace().nth(4))
        .expect("cgroup v2 is not mounted: the kernel here has it; mount cgroup2 (systemd does)")
        .to_string();
    let dir = TempDir::new("attachcg");
    let name = unique("syscage-attach");
    let cg = Path::new(&mount).join(&name);
    std::fs::create_dir(&cg).unwrap();
    let _rm = RemoveCgroup(cg.clone());
    let go = dir.join("go");
    let script = format!(
        "echo $$ > {}/cgroup.procs; exec /bin/sh -c 'while :; do sleep 0.05; [ -e {} ] && sync; done'",
        cg.display(),
        go.display()
    );
    let _target = shell_group(&script);
    let start = Instant::now();
    while std::fs::read_to_string(cg.join("cgroup.procs"))
        .unwrap_or_default()
        .trim()
        .is_empty()
    {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the target never joined {}",
            cg.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let (out, rec) = (dir.join("g.json"), dir.join("g.rec"));
    let (child, err) = attach(&format!("cgroup:{name}"), &out, &rec);
    std::fs::write(&go, "").unwrap();
    std::thread::sleep(Duration::from_millis(400));
    let err = stop(child, err);
    let got = names(&rec);
    assert!(
        got.contains("sync") && got.contains("execve"),
        "{got:?}\n{err}"
    );
}

/// The recording ends by itself when the target is gone — a process tree that exits, a
/// container that stops — and the profile is written then.
#[test]
fn the_recording_ends_when_the_target_is_gone() {
    let dir = TempDir::new("attachgone");
    let go = dir.join("go");
    let script = format!(
        "while [ ! -e {0} ]; do sleep 0.05; done; sync; (sleep 0.2; sync) & wait",
        go.display()
    );
    let _target = shell_group(&script);
    let (out, rec) = (dir.join("g.json"), dir.join("g.rec"));
    let (mut child, err) = attach(&format!("pid:{}", _target.id()), &out, &rec);
    std::fs::write(&go, "").unwrap();
    let status = wait_exit(&mut child, "the recording did not end with its target");
    let err = err.join().unwrap();
    assert_eq!(status.code(), Some(0), "{err}");
    assert!(err.contains("exited"), "{err}");
    assert!(names(&rec).contains("sync") && out.exists(), "{err}");

    // A podman container that stops during the recording.
    let image = PodmanImage::with_probe(&dir, "attachgone");
    let name = unique("attach-gone");
    let _c = RemoveContainer(name.clone());
    let mut args: Vec<&str> = PODMAN_RUN.to_vec();
    args.retain(|a| *a != "--rm");
    args.extend(["-d", "--name", &name, image.0.as_str(), "/bin/sh", "-c"]);
    args.push("while [ ! -e /tmp/go ]; do /bin/busybox sleep 0.05; done; /bin/busybox sync");
    podman(&args).assert_code(0);
    let (out, rec) = (dir.join("c.json"), dir.join("c.rec"));
    let (mut child, err) = attach(&format!("container:podman:{name}"), &out, &rec);
    podman(&["exec", &name, "/bin/busybox", "touch", "/tmp/go"]).assert_code(0);
    let status = wait_exit(&mut child, "the recording did not end with its container");
    let err = err.join().unwrap();
    assert_eq!(status.code(), Some(0), "{err}");
    assert!(err.contains(&format!("{name} exited")), "{err}");
    assert!(names(&rec).contains("sync") && out.exists(), "{err}");
}

/// A container whose init exits, or that restarts, between the engine's answer and the attach:
/// the engine is asked again once its pid is pinned by a pidfd, so syscage never records a
/// process that took the number after the container's init exited. The race is made certain
/// with an engine CLI of the test's own on PATH (`podman`), answering what a real one would.
#[test]
fn a_container_that_exits_or_restarts_during_the_attach_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new("attachrace");
    let bin = dir.join("bin");
    std::fs::create_dir(&bin).unwrap();
    let fake = |script: &str| {
        let p = bin.join("podman");
        std::fs::write(&p, format!("#!/bin/sh\n{script}\n")).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    };
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let attach_fake = || {
        let out = dir.join("never.json");
        let o = run_command({
            let mut c = syscage_cmd();
            c.env("PATH", &path)
                .args(["record", "--attach", "container:podman:web", "-o"])
                .arg(&out);
            c
        });
        o.assert_no_panic();
        assert!(!out.exists(), "a profile was written: {}", o.stderr);
        o
    };
    // Its init exited after the engine answered: the pid is free.
    let mut gone = Command::new("/bin/true").spawn().unwrap();
    let dead = gone.id();
    gone.wait().unwrap();
    fake(&format!("echo '{dead} true'"));
    let o = attach_fake();
    o.assert_code(125);
    assert!(
        o.stderr.contains("exited during the attach"),
        "{}",
        o.stderr
    );
    // It restarted: the engine names another init the second time it is asked.
    let first = shell_group("exec unshare -m sleep 60");
    let counter = dir.join("asked");
    fake(&format!(
        "if [ -e {c} ]; then echo '{other} true'; else : > {c}; echo '{pid} true'; fi",
        c = counter.display(),
        other = std::process::id(),
        pid = first.id()
    ));
    wait_for_mount_namespace_change(first.id());
    let o = attach_fake();
    o.assert_code(125);
    assert!(
        o.stderr.contains("restarted during the attach"),
        "{}",
        o.stderr
    );
}

/// Waits until `pid` has left syscage's mount namespace (`unshare -m` has run).
fn wait_for_mount_namespace_change(pid: u32) {
    let own = std::fs::read_link("/proc/self/ns/mnt").unwrap();
    let start = Instant::now();
    while std::fs::read_link(format!("/proc/{pid}/ns/mnt"))
        .ok()
        .as_ref()
        == Some(&own)
    {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "unshare -m never ran"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn bad_targets_are_refused_and_leave_nothing() {
    let dir = TempDir::new("attachbad");
    let out = dir.join("never.json");
    // kthreadd (pid 2) is a kernel thread on every Linux.
    for (target, says) in [
        ("pid:2", "kernel thread"),
        ("pid:4294967295", "no such process"),
        ("container:syscage-no-such-box", "not found"),
        ("container:nosuchengine:x", "unknown engine"),
        ("cgroup:syscage-no-such-cgroup", "cgroup"),
        ("box:1", "expected pid:N"),
    ] {
        let o = run_command({
            let mut c = syscage_cmd();
            c.args(["record", "--attach", target, "-o"]).arg(&out);
            c
        });
        o.assert_code(125).assert_no_panic();
        assert!(o.stderr.contains(says), "{target}: {}", o.stderr);
        assert!(!out.exists(), "{target}: a profile was written");
    }
    let o = run_command({
        let mut c = syscage_cmd();
        c.args(["record", "--attach", "pid:1", "--duration", "soon", "-o"])
            .arg(&out);
        c
    });
    o.assert_code(125);
    assert!(o.stderr.contains("--duration soon"), "{}", o.stderr);
    // Unprivileged: no eBPF, said plainly.
    let user = TestUser::new(false);
    let o = user.run(&[
        "record",
        "--attach",
        "pid:1",
        "-o",
        "/tmp/never-written.json",
    ]);
    o.assert_code(125);
    assert!(o.stderr.contains("root"), "{}", o.stderr);
}
