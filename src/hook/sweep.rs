//! The state a hook keeps per container (`ID.lock`, `.pid`, `.result`, `.owner`, and `.log` when
//! the hook failed) is removed by its poststop hook; a container whose poststop never ran (the
//! runtime was killed, a forced removal) left it for good. Every hook run now removes the state
//! of containers that are gone: no recorder holds its lock, the container's init (`ID.owner`:
//! its pid and start time, so a reused pid does not count) has exited, and nothing of it changed
//! for `GRACE` — long after a poststop hook would have run (`FINISH_TIMEOUT` + `STOP_GRACE`).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, SystemTime};

use nix::fcntl::{Flock, FlockArg};

/// How long a gone container's state stays (its log can still be read meanwhile).
pub const GRACE: Duration = Duration::from_secs(600);

/// The files a hook keeps per container.
const KINDS: [&str; 5] = ["lock", "pid", "result", "owner", "log"];

/// Entries looked at per run at most: a huge state directory cannot slow a container's start.
const MAX_ENTRIES: usize = 4096;

/// "PID STARTTIME" of process `pid`, for `ID.owner`.
pub fn owner_line(pid: i32) -> Option<String> {
    start_time(pid).map(|t| format!("{pid} {t}"))
}

/// Its start time (field 22 of /proc/PID/stat).
fn start_time(pid: i32) -> Option<u64> {
    crate::sandbox::sys::proc_stat_field(u32::try_from(pid).ok()?, 19)
}

/// Whether the process an `ID.owner` names still runs (the same one: same start time).
fn owner_runs(text: &str) -> bool {
    let mut w = text.split_whitespace();
    let (Some(pid), Some(t)) = (
        w.next().and_then(|p| p.parse::<i32>().ok()),
        w.next().and_then(|t| t.parse::<u64>().ok()),
    ) else {
        return false;
    };
    pid > 0 && start_time(pid) == Some(t)
}

/// Whether a recorder holds the lock at `path`.
fn locked(path: &Path) -> bool {
    let Ok(f) = std::fs::File::open(path) else {
        return false;
    };
    Flock::lock(f, FlockArg::LockSharedNonblock).is_err()
}

/// Removes the state of every gone container in `dir` but `own` (the running hook's); returns
/// the names removed, each with the kinds of file it had.
pub fn sweep(dir: &Path, own: &str, now: SystemTime) -> Vec<(String, Vec<&'static str>)> {
    let mut entries: BTreeMap<String, Vec<(&'static str, SystemTime)>> = BTreeMap::new();
    let Ok(list) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    for e in list.flatten().take(MAX_ENTRIES) {
        let name = e.file_name();
        let Some((stem, ext)) = name.to_str().and_then(|n| n.rsplit_once('.')) else {
            continue;
        };
        let Some(kind) = KINDS.iter().find(|k| **k == ext) else {
            continue;
        };
        // Regular files only; never followed.
        let Ok(meta) = std::fs::symlink_metadata(e.path()) else {
            continue;
        };
        if stem != own && meta.file_type().is_file() {
            let mtime = meta.modified().unwrap_or(now);
            entries
                .entry(stem.to_string())
                .or_default()
                .push((kind, mtime));
        }
    }
    let mut removed = Vec::new();
    for (stem, files) in entries {
        let base = dir.join(&stem);
        let recent = files
            .iter()
            .any(|(_, t)| now.duration_since(*t).unwrap_or_default() < GRACE);
        let path = |kind: &str| base.with_extension(kind);
        if recent
            || locked(&path("lock"))
            || std::fs::read_to_string(path("owner")).is_ok_and(|o| owner_runs(&o))
        {
            continue;
        }
        let kinds: Vec<&'static str> = files.iter().map(|(k, _)| *k).collect();
        for k in &kinds {
            let _ = std::fs::remove_file(path(k));
        }
        removed.push((stem, kinds));
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners_are_matched_by_pid_and_start_time() {
        let me = std::process::id() as i32;
        let line = owner_line(me).unwrap();
        assert!(owner_runs(&line), "{line}");
        let t: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
        // Same pid, another start: a process that took the number.
        assert!(!owner_runs(&format!("{me} {}", t + 1)));
        for bad in ["", "x 1", "1", "-1 5", "0 0", "4294967296 1"] {
            assert!(!owner_runs(bad), "{bad}");
        }
    }
}
