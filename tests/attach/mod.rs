//! Helpers of the `record --attach` tests: starting and stopping a recording, and guards that
//! remove every process, container and cgroup a test made.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;

/// Starts `record --attach TARGET` and returns once it says it is attached (its stderr is
/// then drained on a thread, returned by the handle).
pub fn attach(target: &str, out: &Path, rec: &Path) -> (Child, std::thread::JoinHandle<String>) {
    attach_with(syscage_cmd(), target, out, rec)
}

/// `attach` with a prepared syscage command (its environment).
pub fn attach_with(
    mut c: Command,
    target: &str,
    out: &Path,
    rec: &Path,
) -> (Child, std::thread::JoinHandle<String>) {
    c.args(["record", "--attach", target, "-o"])
        .arg(out)
        .arg("--recording")
        .arg(rec)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        let n = err.read_line(&mut line).unwrap();
        seen.push_str(&line);
        assert!(
            n > 0,
            "record --attach {target} ended before attaching: {seen}"
        );
        if line.contains("attached to ") {
            break;
        }
    }
    let rest = std::thread::spawn(move || {
        let mut s = seen;
        let _ = std::io::Read::read_to_string(&mut err, &mut s);
        s
    });
    (child, rest)
}

/// Ends the recording with SIGTERM, as an operator's Ctrl-C would, and returns its stderr.
pub fn stop(mut child: Child, err: std::thread::JoinHandle<String>) -> String {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let status = child.wait().unwrap();
    let err = err.join().unwrap();
    assert_eq!(status.code(), Some(0), "record --attach: {err}");
    err
}

pub fn wait_for(path: &Path, what: &str) {
    let start = Instant::now();
    while !path.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{what} never happened"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn names(rec: &Path) -> std::collections::BTreeSet<String> {
    recorded_names(rec).into_iter().map(|(_, n)| n).collect()
}

/// Kills the process group a target was started in (`group`), whatever is left of it.
pub struct KillPid(pub u32);

impl Drop for KillPid {
    fn drop(&mut self) {
        // Quietly: the group may be gone already.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.0)])
            .stderr(Stdio::null())
            .status();
    }
}

/// A target started with `group`: its whole group killed and the target reaped on drop.
pub struct Group(pub Child);

impl Group {
    pub fn id(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        drop(KillPid(self.0.id()));
        let _ = self.0.wait();
    }
}

/// `cmd` in a process group of its own, so that the test can kill all it started.
pub fn group(mut cmd: Command) -> Child {
    use std::os::unix::process::CommandExt;
    cmd.process_group(0).spawn().unwrap()
}

/// A crun or runc container a test runs: deleted by force, its `run` reaped, on drop.
pub struct DeleteContainer {
    pub runtime: &'static str,
    pub state: std::path::PathBuf,
    pub id: String,
    pub run: Child,
}

impl Drop for DeleteContainer {
    fn drop(&mut self) {
        let _ = runtime_command(self.runtime)
            .arg("--root")
            .arg(&self.state)
            .args(["delete", "-f", &self.id])
            .output();
        let _ = self.run.kill();
        let _ = self.run.wait();
    }
}

pub struct RemoveContainer(pub String);

impl Drop for RemoveContainer {
    fn drop(&mut self) {
        let _ = runtime_command("podman")
            .args(["rm", "-f", "-t", "0", &self.0])
            .output();
    }
}

/// Removes a cgroup made by a test, first killing what is left in it.
pub struct RemoveCgroup(pub std::path::PathBuf);

impl Drop for RemoveCgroup {
    fn drop(&mut self) {
        for _ in 0..50 {
            let procs = std::fs::read_to_string(self.0.join("cgroup.procs")).unwrap_or_default();
            for p in procs.split_whitespace() {
                let _ = Command::new("kill").args(["-KILL", p]).status();
            }
            if std::fs::remove_dir(&self.0).is_ok() || !self.0.exists() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// `sh -c SCRIPT` in a process group of its own, killed whole on drop.
pub fn shell_group(script: &str) -> Group {
    let mut c = Command::new("/bin/sh");
    c.args(["-c", script]);
    Group(group(c))
}

/// Waits (up to 20 s) for `child` to end by itself and returns its status.
pub fn wait_exit(child: &mut Child, what: &str) -> ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "{what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}
