//! A recording: every (ABI, syscall) a workload made, with counts, the executables that made it and
//! the task ids. Stored sorted, so identical runs serialise identically, and merged by union.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::Abi;

pub const FORMAT: &str = "syscage-recording/1";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyscallStats {
    pub abi: Abi,
    pub name: String,
    pub count: u64,
    /// The executable that made it first (after merging: the smallest of the firsts, so that
    /// merging is commutative).
    pub first_executable: String,
    pub executables: BTreeSet<String>,
    pub pids: BTreeSet<u32>,
    /// Values of the security-relevant constant arguments (see `model::args`), by label.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub args: BTreeMap<String, BTreeSet<u64>>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recording {
    pub format: String,
    /// The recorded command lines (several after a merge).
    pub commands: Vec<Vec<String>>,
    /// Sorted by (abi, name); one entry per pair.
    pub syscalls: Vec<SyscallStats>,
    /// Paths and what was done to them (`model::files`: read, readdir, write, create, remove,
    /// exec), for AppArmor and Landlock.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub files: BTreeMap<String, BTreeSet<String>>,
    /// Inet ports by operation ("bind", "connect").
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub ports: BTreeMap<String, BTreeSet<u16>>,
    /// The paths executables were started by where they name the same file differently (a
    /// symlink such as Debian's /usr/bin/redis-server to redis-check-rdb): executable → the
    /// paths given to execve.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub started_as: BTreeMap<String, BTreeSet<String>>,
    /// `#!` scripts exec'd, by the interpreter the kernel ran for them (a pyenv shim run by
    /// /usr/bin/env): interpreter → scripts.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub scripts: BTreeMap<String, BTreeSet<String>>,
}

/// Bounds of `started_as`: a workload exec'ing through endless links must not grow it.
const MAX_STARTED_AS: usize = 4096;
const MAX_ALIASES: usize = 16;

/// Records that `exe` was started by `path` (bounded; nothing when they are the same).
pub fn note_started_as(map: &mut BTreeMap<String, BTreeSet<String>>, exe: &str, path: &str) {
    if path.is_empty() || path == exe || exe.is_empty() {
        return;
    }
    if map.len() >= MAX_STARTED_AS && !map.contains_key(exe) {
        return;
    }
    let set = map.entry(exe.to_string()).or_default();
    if set.len() < MAX_ALIASES {
        set.insert(path.to_string());
    }
}

/// How an executable is shown everywhere: the path it was started by, the executable beside it
/// where they differ (`/usr/bin/redis-server (→ /usr/bin/redis-check-rdb)`).
pub fn executable_label(rec: &Recording, exe: &str) -> String {
    let mut names: Vec<&str> = Vec::new();
    for map in [&rec.started_as, &rec.scripts] {
        if let Some(set) = map.get(exe) {
            names.extend(set.iter().map(String::as_str));
        }
    }
    if names.is_empty() {
        return exe.to_string();
    }
    let more = if names.len() > 3 {
        format!(" +{}", names.len() - 3)
    } else {
        String::new()
    };
    names.truncate(3);
    format!("{}{more} (→ {exe})", names.join(", "))
}

type Key = (Abi, String);

impl Recording {
    pub fn new(command: Vec<String>) -> Recording {
        Recording {
            format: FORMAT.into(),
            commands: vec![command],
            ..Recording::default()
        }
    }

    fn into_map(self) -> BTreeMap<Key, SyscallStats> {
        self.syscalls
            .into_iter()
            .map(|s| ((s.abi, s.name.clone()), s))
            .collect()
    }

    /// Union of two recordings: counts add, sets unite. Commutative and, on identical inputs,
    /// idempotent in everything but the counts.
    pub fn merge(self, other: Recording) -> Recording {
        let mut commands = self.commands.clone();
        for c in &other.commands {
            if !commands.contains(c) {
                commands.push(c.clone());
            }
        }
        commands.sort();
        let mut files = self.files.clone();
        for (path, acc) in &other.files {
            files
                .entry(path.clone())
                .or_default()
                .extend(acc.iter().cloned());
        }
        let mut ports = self.ports.clone();
        for (op, p) in &other.ports {
            ports
                .entry(op.clone())
                .or_default()
                .extend(p.iter().copied());
        }
        let union = |a: &BTreeMap<String, BTreeSet<String>>,
                     b: &BTreeMap<String, BTreeSet<String>>| {
            let mut out = a.clone();
            for (exe, paths) in b {
                for p in paths {
                    note_started_as(&mut out, exe, p);
                }
            }
            out
        };
        let started_as = union(&self.started_as, &other.started_as);
        let scripts = union(&self.scripts, &other.scripts);
        let mut map = self.into_map();
        for (k, s) in other.into_map() {
            match map.get_mut(&k) {
                Some(m) => m.absorb(s),
                None => {
                    map.insert(k, s);
                }
            }
        }
        Recording {
            format: FORMAT.into(),
            commands,
            syscalls: map.into_values().collect(),
            files,
            ports,
            started_as,
            scripts,
        }
    }

    /// The set of (ABI, name) pairs.
    pub fn names(&self) -> BTreeSet<(Abi, &str)> {
        self.syscalls
            .iter()
            .map(|s| (s.abi, s.name.as_str()))
            .collect()
    }

    /// The ABIs used.
    pub fn abis(&self) -> BTreeSet<Abi> {
        self.syscalls.iter().map(|s| s.abi).collect()
    }

    pub fn total_calls(&self) -> u64 {
        self.syscalls.iter().map(|s| s.count).sum()
    }

    /// Parses a recording; errors name the file, line and column.
    pub fn parse(bytes: &[u8], path: &Path) -> Result<Recording, String> {
        let r: Recording = serde_json::from_slice(bytes)
            .map_err(|e| format!("{}:{}:{}: {e}", path.display(), e.line(), e.column()))?;
        if r.format != FORMAT {
            return Err(format!(
                "{}: format \"{}\" is not {FORMAT}",
                path.display(),
                r.format
            ));
        }
        Ok(r)
    }

    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).unwrap_or_default();
        s.push('\n');
        s
    }
}

impl SyscallStats {
    fn absorb(&mut self, o: SyscallStats) {
        self.count = self.count.saturating_add(o.count);
        if o.first_executable < self.first_executable {
            self.first_executable = o.first_executable;
        }
        self.executables.extend(o.executables);
        self.pids.extend(o.pids);
        for (label, values) in o.args {
            self.args.entry(label).or_default().extend(values);
        }
    }
}

/// Accumulates events during a recording. Bounded whatever the workload does: counts are exact,
/// but at most `MAX_EXECUTABLE_ENTRIES` (syscall, executable) and `MAX_PID_ENTRIES` (syscall,
/// pid) attributions are kept (a workload exec'ing ever new files, or forking for ever, would
/// otherwise grow them without end), and `MAX_ARG_VALUES` values per argument label.
#[derive(Debug, Default)]
pub struct Builder {
    map: BTreeMap<Key, SyscallStats>,
    exe_entries: usize,
    pid_entries: usize,
}

pub const MAX_EXECUTABLE_ENTRIES: usize = 4096;
pub const MAX_PID_ENTRIES: usize = 65536;
pub const MAX_ARG_VALUES: usize = 1024;

impl Builder {
    pub fn add(&mut self, abi: Abi, name: &str, pid: u32, exe: &str) {
        if let Some(s) = self.map.get_mut(&(abi, name.to_string())) {
            s.count += 1;
            if self.exe_entries < MAX_EXECUTABLE_ENTRIES && !s.executables.contains(exe) {
                s.executables.insert(exe.to_string());
                self.exe_entries += 1;
            }
            if self.pid_entries < MAX_PID_ENTRIES && s.pids.insert(pid) {
                self.pid_entries += 1;
            }
            return;
        }
        self.exe_entries += 1;
        self.pid_entries += 1;
        self.map.insert(
            (abi, name.to_string()),
            SyscallStats {
                abi,
                name: name.to_string(),
                count: 1,
                first_executable: exe.to_string(),
                executables: BTreeSet::from([exe.to_string()]),
                pids: BTreeSet::from([pid]),
                args: BTreeMap::new(),
            },
        );
    }

    /// Adds an argument sample (`model::args`) to a syscall already added.
    pub fn add_arg(&mut self, abi: Abi, name: &str, label: &str, value: u64) {
        if let Some(s) = self.map.get_mut(&(abi, name.to_string())) {
            let values = s.args.entry(label.to_string()).or_default();
            if values.len() < MAX_ARG_VALUES {
                values.insert(value);
            }
        }
    }

    /// Adds a syscall already counted elsewhere.
    pub fn add_stats(&mut self, s: SyscallStats) {
        let (abi, name) = (s.abi, s.name.clone());
        match self.map.get_mut(&(abi, name.clone())) {
            Some(m) => m.absorb(s),
            None => {
                self.map.insert((abi, name), s);
            }
        }
    }

    pub fn finish(self, command: Vec<String>) -> Recording {
        Recording {
            format: FORMAT.into(),
            commands: vec![command],
            syscalls: self.map.into_values().collect(),
            ..Recording::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(cmd: &str, events: &[(Abi, &str, u32, &str)]) -> Recording {
        let mut b = Builder::default();
        for (abi, name, pid, exe) in events {
            b.add(*abi, name, *pid, exe);
        }
        b.finish(vec![cmd.into()])
    }

    #[test]
    fn merge_is_a_commutative_union() {
        let a = rec(
            "a",
            &[
                (Abi::X86_64, "read", 1, "/b"),
                (Abi::X86_64, "read", 2, "/b"),
            ],
        );
        let b = rec(
            "b",
            &[
                (Abi::X86_64, "read", 3, "/a"),
                (Abi::I386, "getpid", 3, "/a"),
            ],
        );
        let ab = a.clone().merge(b.clone());
        assert_eq!(ab, b.clone().merge(a.clone()));
        let read = &ab.syscalls[0];
        assert_eq!(
            (
                read.name.as_str(),
                read.count,
                read.first_executable.as_str()
            ),
            ("read", 3, "/a")
        );
        assert_eq!(ab.names().len(), 2);
        assert_eq!(ab.abis(), BTreeSet::from([Abi::X86_64, Abi::I386]));
        // Idempotent on the set of syscalls.
        assert_eq!(ab.clone().merge(ab.clone()).names(), ab.names());
    }

    #[test]
    fn serialisation_is_deterministic_and_round_trips() {
        let a = rec(
            "a",
            &[
                (Abi::X86_64, "write", 9, "/x"),
                (Abi::X86_64, "read", 1, "/x"),
            ],
        );
        let text = a.to_json();
        assert_eq!(
            text,
            rec(
                "a",
                &[
                    (Abi::X86_64, "read", 1, "/x"),
                    (Abi::X86_64, "write", 9, "/x")
                ]
            )
            .to_json()
        );
        assert_eq!(
            Recording::parse(text.as_bytes(), Path::new("r.json")).unwrap(),
            a
        );
        let err = Recording::parse(b"{\"format\": 1}", Path::new("r.json")).unwrap_err();
        assert!(err.starts_with("r.json:1:"), "{err}");
    }
}
