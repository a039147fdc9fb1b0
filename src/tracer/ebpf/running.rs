//! `record --attach`: recording processes that already run, with eBPF only. The program is
//! loaded and attached first, with the target's scope compiled in (a pid set, a cgroup, a
//! mount namespace); a task in scope joins at its next syscall or fork, and its children at
//! birth, so nothing started after the attach escapes. Only then are a pid target's existing
//! descendants named to the kernel (a child forked before its parent was named is in the
//! parent's `children` list when it is read; one forked after is caught by the fork hook).
//! The target is never stopped, signalled, ptraced or written to: if syscage dies, its
//! programs and maps go with its descriptors and the target runs on.

use std::os::fd::{AsFd, OwnedFd};
use std::time::{Duration, Instant};

use super::attribution::Attribution;
use super::{AttachScope, Losses, Probe, Wants, running_exe};
use crate::model::Recording;
use crate::sandbox::sys;
use crate::tracer::engines;

/// What `--attach` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Pid(u32),
    Container(String),
    Cgroup(String),
}

impl std::str::FromStr for Target {
    type Err = String;

    fn from_str(s: &str) -> Result<Target, String> {
        match s.split_once(':') {
            Some(("pid", n)) => n
                .parse::<u32>()
                .ok()
                .filter(|n| *n > 0)
                .map(Target::Pid)
                .ok_or_else(|| format!("--attach {s}: expected pid:N with N a process id")),
            Some(("container", c)) if !c.is_empty() => Ok(Target::Container(c.to_string())),
            Some(("cgroup", p)) if !p.is_empty() => Ok(Target::Cgroup(p.to_string())),
            _ => Err(format!(
                "--attach {s}: expected pid:N, container:NAME (or container:ENGINE:NAME) or cgroup:PATH"
            )),
        }
    }
}

/// The recording of what already ran, and what the summary should say about it.
pub struct Attached {
    pub recording: Recording,
    pub losses: Losses,
    /// For the profile's comment: what was attached to, when, and what the recording cannot
    /// hold (the target's start-up).
    pub comment: String,
    /// The OCI runtime that runs the target, when an engine said (for the runtime base set).
    pub runtime: Option<&'static str>,
    /// Why the recording ended.
    pub ended: String,
}

/// How the target is watched for its end.
enum Gone {
    /// The process (and, for a pid target, every process it led to) has exited.
    Process(OwnedFd, bool),
    /// The cgroup directory was removed.
    Cgroup(std::path::PathBuf),
}

/// Records `target` until `stop` (a signalfd: SIGINT/SIGTERM) is readable, `duration` has
/// passed, or the target is gone. `on_attached` is told, with the notes, once the recording
/// runs (from then on nothing the target does is missed).
pub fn record(
    target: &Target,
    args: bool,
    files: bool,
    duration: Option<Duration>,
    stop: &OwnedFd,
    on_attached: &dyn Fn(&[String]),
) -> Result<Attached, String> {
    let mut notes = Vec::new();
    let mut runtime = None;
    let (scope, gone, what) = match target {
        Target::Pid(pid) => {
            check_process(*pid)?;
            let fd = sys::pidfd_open(*pid as i32).map_err(|e| format!("process {pid}: {e}"))?;
            (
                AttachScope::Pids,
                Gone::Process(fd, true),
                format!("process {pid} and its descendants"),
            )
        }
        Target::Container(name) => {
            let f = engines::find(name)?;
            let gone = || {
                format!(
                    "container {name} exited during the attach (its init, pid {}, is gone)",
                    f.pid
                )
            };
            // The pid is pinned by a pidfd, its namespace read, then the engine asked again:
            // if it still names this pid and the pidfd's process still runs, the namespace is
            // the container's — not that of a process that took the number after it exited.
            let fd = sys::pidfd_open(f.pid as i32).map_err(|_| gone())?;
            check_process(f.pid)?;
            let ns = mount_namespace(f.pid).map_err(|_| gone())?;
            match engines::find(&f.again) {
                Ok(again) if again.pid == f.pid => {}
                Ok(again) => {
                    return Err(format!(
                        "container {name} restarted during the attach (init pid {} became {}): attach again",
                        f.pid, again.pid
                    ));
                }
                Err(_) => return Err(gone()),
            }
            if readable(&fd) {
                return Err(gone());
            }
            if ns == mount_namespace(std::process::id())? {
                return Err(format!(
                    "container {name} (pid {}) shares syscage's mount namespace: it cannot be told apart from the host; attach to pid:{} instead",
                    f.pid, f.pid
                ));
            }
            notes.push(format!(
                "container {name} found by {} (init pid {}); every process in its mount namespace {ns} is recorded (a container always has one of its own; its pid namespace may be the host's)",
                f.asked, f.pid
            ));
            runtime = Some(f.runtime);
            (
                AttachScope::MountNamespace(ns),
                Gone::Process(fd, false),
                format!("container {name}"),
            )
        }
        Target::Cgroup(path) => {
            let (dir, level, id) = cgroup(path)?;
            (
                AttachScope::Cgroup { level, id },
                Gone::Cgroup(dir.clone()),
                format!("cgroup {}", dir.display()),
            )
        }
    };
    let mut probe = Probe::load(Wants { args, files, scope })?;
    let started = utc_timestamp(unix_now());
    let mut attr = Attribution::attached();
    // What already runs is tracked from user space (a container's: every process in its mount
    // namespace now; the kernel takes those that enter later, from their exec on).
    let existing = match (target, scope) {
        (Target::Pid(pid), _) => track_tree(&probe, *pid),
        (_, AttachScope::MountNamespace(ns)) => {
            let procs = in_mount_namespace(ns);
            for p in &procs {
                track_threads(&probe, *p);
            }
            procs
        }
        _ => Vec::new(),
    };
    for p in existing {
        attr.adopt(p, &running_exe(p));
    }
    notes.push(format!(
        "attached to {what} at {started}: what it did before is not in this recording (a restart under the profile also needs its start-up: record it with `syscage record -- CMD` or merge)"
    ));
    on_attached(&notes);
    let deadline = duration.map(|d| Instant::now() + d);
    let ended = loop {
        let signalled = probe.wait(stop.as_fd()).map_err(|e| format!("poll: {e}"))?;
        probe.drain(&mut attr);
        if signalled {
            break "a signal asked to stop".to_string();
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            break format!(
                "--duration {} s passed",
                duration.unwrap_or_default().as_secs_f64()
            );
        }
        match &gone {
            Gone::Process(fd, tree) => {
                if readable(fd) {
                    attr.prune(&|tgid| std::path::Path::new(&format!("/proc/{tgid}")).exists());
                    if !*tree || attr.live() == 0 {
                        break format!("{what} exited");
                    }
                }
            }
            Gone::Cgroup(dir) => {
                if !dir.exists() {
                    break format!("{what} was removed");
                }
            }
        }
    };
    probe.drain(&mut attr);
    probe.flush_live(&mut attr);
    let (recording, losses, detach) = probe.finish(attr, vec![format!("attached to {what}")])?;
    drop(detach);
    let comment = format!(
        "recorded by syscage record --attach: {what} from {started} to {}; what it did before the attach (its start-up) is not in this profile: a restart under it also needs that part (record the start and merge)",
        utc_timestamp(unix_now())
    );
    Ok(Attached {
        recording,
        losses,
        comment,
        runtime,
        ended,
    })
}

/// Refuses a pid that is gone or a kernel thread (no syscalls of its own to record).
fn check_process(pid: u32) -> Result<(), String> {
    // After the command: state ppid pgrp session tty tpgid flags.
    let flags =
        sys::proc_stat_field(pid, 6).ok_or_else(|| format!("process {pid}: no such process"))?;
    const PF_KTHREAD: u64 = 0x0020_0000;
    if flags & PF_KTHREAD != 0 {
        return Err(format!(
            "process {pid} is a kernel thread: it makes no syscalls to record"
        ));
    }
    Ok(())
}

/// The inode of process `pid`'s mount namespace.
fn mount_namespace(pid: u32) -> Result<u64, String> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(format!("/proc/{pid}/ns/mnt"))
        .map(|m| m.ino())
        .map_err(|e| format!("the mount namespace of process {pid}: {e}"))
}

/// A cgroup v2 directory: its path on the host, its level below the hierarchy's root and its
/// id (the directory's inode, as the kernel's cgroup id). PATH is absolute, or relative to the
/// cgroup2 mount.
fn cgroup(path: &str) -> Result<(std::path::PathBuf, u32, u64), String> {
    use std::os::unix::fs::MetadataExt;
    let mounts = std::fs::read_to_string("/proc/self/mountinfo")
        .map_err(|e| format!("/proc/self/mountinfo: {e}"))?;
    // mountinfo: ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS... - FSTYPE SOURCE SUPEROPTS
    let mount = mounts
        .lines()
        .filter_map(|l| {
            let (left, right) = l.split_once(" - ")?;
            let f: Vec<&str> = left.split_whitespace().collect();
            (right.split_whitespace().next() == Some("cgroup2") && f.get(3) == Some(&"/"))
                .then(|| f.get(4).map(|m| m.to_string()))?
        })
        .next()
        .ok_or(
            "cgroup:PATH needs cgroup v2 mounted (no cgroup2 file system in /proc/self/mountinfo)",
        )?;
    let dir = if path.starts_with('/') {
        std::path::PathBuf::from(path)
    } else {
        std::path::Path::new(&mount).join(path)
    };
    let dir = dir
        .canonicalize()
        .map_err(|e| format!("cgroup {path}: {e}"))?;
    let rel = dir
        .strip_prefix(&mount)
        .map_err(|_| format!("cgroup {path}: not under the cgroup2 mount {mount}"))?;
    if !dir.join("cgroup.procs").exists() {
        return Err(format!("cgroup {path}: {} is not a cgroup", dir.display()));
    }
    let id = std::fs::metadata(&dir)
        .map_err(|e| format!("cgroup {path}: {e}"))?
        .ino();
    Ok((dir.clone(), rel.components().count() as u32, id))
}

/// Tracks `pid` and its descendants, every thread, and returns the processes. Each process's
/// threads are listed again until a listing finds none untracked (a thread made by one not yet
/// tracked is not followed by the fork hook); its children are read once its threads are
/// tracked (a child forked before is in the list, one forked after is followed by the hook).
fn track_tree(probe: &Probe, pid: u32) -> Vec<u32> {
    let mut procs = vec![pid];
    let mut known: std::collections::HashSet<u32> = procs.iter().copied().collect();
    let mut i = 0;
    while i < procs.len() && procs.len() < 65536 {
        let p = procs[i];
        for t in &track_threads(probe, p) {
            let children =
                std::fs::read_to_string(format!("/proc/{p}/task/{t}/children")).unwrap_or_default();
            for c in children.split_whitespace().filter_map(|c| c.parse().ok()) {
                if known.insert(c) {
                    procs.push(c);
                }
            }
        }
        i += 1;
    }
    procs
}

/// Tracks every thread of process `p`, listing them again until a listing finds none new;
/// returns them.
fn track_threads(probe: &Probe, p: u32) -> std::collections::HashSet<i32> {
    let mut tracked: std::collections::HashSet<i32> = Default::default();
    loop {
        let tids: Vec<i32> = std::fs::read_dir(format!("/proc/{p}/task"))
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|t| t.file_name().to_str()?.parse().ok())
            .filter(|t| !tracked.contains(t))
            .collect();
        if tids.is_empty() {
            return tracked;
        }
        for t in tids {
            probe.track_task(t);
            tracked.insert(t);
        }
    }
}

/// The processes in the mount namespace whose inode is `ns`.
fn in_mount_namespace(ns: u64) -> Vec<u32> {
    let mut out: Vec<u32> = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .filter(|p: &u32| mount_namespace(*p) == Ok(ns))
        .collect();
    out.sort_unstable();
    out
}

/// Whether `fd` polls readable now (a pidfd: its process has exited).
fn readable(fd: &OwnedFd) -> bool {
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
    matches!(poll(&mut fds, PollTimeout::ZERO), Ok(n) if n > 0)
}

/// The wall-clock time now, as UTC HH:MM:SS.
fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `secs` since the epoch as "YYYY-MM-DD HH:MM:SS UTC" (the civil date by Hinnant's
/// days-to-civil; no time zone database is read).
fn utc_timestamp(secs: u64) -> String {
    let days = secs / 86_400;
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        (secs / 3600) % 24,
        (secs / 60) % 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::{Target, utc_timestamp};

    #[test]
    fn timestamps_are_civil_utc() {
        assert_eq!(utc_timestamp(0), "1970-01-01 00:00:00 UTC");
        // A leap day and the turn of a century year that is a leap year.
        assert_eq!(utc_timestamp(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(utc_timestamp(1_796_268_430), "2026-12-03 03:27:10 UTC");
        assert_eq!(utc_timestamp(4_107_542_399), "2100-02-28 23:59:59 UTC");
    }

    #[test]
    fn targets_parse_or_say_what_is_expected() {
        assert_eq!("pid:42".parse(), Ok(Target::Pid(42)));
        assert_eq!(
            "container:podman:web".parse(),
            Ok(Target::Container("podman:web".into()))
        );
        assert_eq!("cgroup:a/b".parse(), Ok(Target::Cgroup("a/b".into())));
        for bad in [
            "pid:0",
            "pid:x",
            "pid:",
            "container:",
            "cgroup:",
            "42",
            "box:1",
        ] {
            let e = bad.parse::<Target>().unwrap_err();
            assert!(e.contains("expected"), "{bad}: {e}");
        }
    }
}
