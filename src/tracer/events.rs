//! Turns raw syscall events (task, audit arch, number, arguments) into a recording. Kept cheap:
//! it runs once per syscall of the workload.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use super::memory;
use crate::model::recording::{Builder, Recording, SyscallStats, note_started_as};
use crate::model::{Abi, args, files};
use crate::sandbox::sys::SyscallEvent;

#[derive(Default)]
struct Entry {
    count: u64,
    first_exe: u32,
    exes: HashSet<u32>,
    pids: HashSet<u32>,
    args: BTreeMap<&'static str, BTreeSet<u64>>,
}

/// Which part of each task's life is recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scope {
    /// Everything the workload does.
    #[default]
    All,
    /// Only what a task does after the last seccomp filter it loads before an execve, up to and
    /// including that execve: what a container runtime needs its container's profile to allow.
    /// (Runtimes probe seccomp with loads that fail; the last one before exec is the real one.)
    AfterFilterLoad,
}

/// Distinct numbers outside the syscall table kept apart; the rest are counted together.
const MAX_UNKNOWN_NUMBERS: usize = 64;
/// Bounds on what a workload can make the recorder keep (learn mode serves hostile workloads
/// too): paths and distinct executables kept, pids attributed per syscall. Counts stay exact.
const MAX_PATHS: usize = 16384;
const MAX_EXECUTABLES: usize = 4096;
const MAX_PIDS_PER_SYSCALL: usize = 4096;
/// Caches (a task's executable, a path's classification) are cleared when they grow past this.
const MAX_CACHED: usize = 65536;
/// What stands for executables past `MAX_EXECUTABLES`.
const OTHER_EXECUTABLES: &str = "(other executables: too many distinct ones to name)";
const UNKNOWN_OTHER: i64 = i64::MIN;

pub struct Recorder {
    unknown_numbers: usize,
    scope: Scope,
    entries: HashMap<(Abi, i64), Entry>,
    exe_names: Vec<String>,
    exe_ids: HashMap<String, u32>,
    /// Executable of each task, until it execs again.
    exe_of: HashMap<u32, u32>,
    /// Syscalls since each process's latest filter load, committed when it execs. By thread
    /// group: runtimes load with TSYNC, so every thread is filtered from then on.
    since_load: HashMap<u32, Vec<SyscallEvent>>,
    tgid_of: HashMap<u32, u32>,
    /// Events whose arch syscage cannot name.
    pub unknown_arch: u64,
    /// syscage's own executable: the workload's first execve is made by it.
    own_exe: String,
    files: BTreeMap<String, BTreeSet<&'static str>>,
    ports: BTreeMap<&'static str, BTreeSet<u16>>,
    /// Classified opens (path, deciding flag bits) and executables whose interpreter was looked
    /// up: each needs the filesystem once, not once per process.
    open_seen: HashMap<(String, u64), Vec<&'static str>>,
    exec_seen: HashSet<String>,
    /// The path each task last passed to execve, until its next event names the result.
    exec_path: HashMap<u32, String>,
    started_seen: HashMap<(String, String), Option<Started>>,
    started_as: BTreeMap<String, BTreeSet<String>>,
    scripts: BTreeMap<String, BTreeSet<String>>,
}

/// How an exec'd path relates to the executable that then runs.
#[derive(Clone, Copy)]
enum Started {
    /// The same file under another name (a symlink).
    Same,
    /// A `#!` script; the executable is its interpreter.
    Script,
}

/// Whether the file at `on_disk` is a `#!` script.
pub(crate) fn is_script(on_disk: &str) -> bool {
    let mut head = [0u8; 2];
    std::fs::File::open(on_disk)
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut head))
        .is_ok_and(|_| &head == b"#!")
}

/// The interpreter the kernel itself opens (and needs execute permission on) when the file at
/// `on_disk` is exec'd: a script's `#!` program or an ELF's loader, as an absolute path.
pub(crate) fn interpreter_on_disk(on_disk: &str) -> Option<String> {
    let mut head = vec![0u8; 4096];
    let n = std::fs::File::open(on_disk)
        .and_then(|mut f| std::io::Read::read(&mut f, &mut head))
        .unwrap_or(0);
    files::interpreter(&head[..n]).map(|i| files::join("/", &i))
}

fn nr(abi: Abi, name: &str) -> i64 {
    abi.syscall_nr(name).unwrap_or(-1)
}

impl Recorder {
    pub fn new(scope: Scope) -> Recorder {
        Recorder {
            unknown_numbers: 0,
            scope,
            entries: HashMap::new(),
            exe_names: Vec::new(),
            exe_ids: HashMap::new(),
            exe_of: HashMap::new(),
            since_load: HashMap::new(),
            tgid_of: HashMap::new(),
            unknown_arch: 0,
            own_exe: std::env::current_exe()
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default(),
            files: BTreeMap::new(),
            ports: BTreeMap::new(),
            open_seen: HashMap::new(),
            exec_seen: HashSet::new(),
            exec_path: HashMap::new(),
            started_seen: HashMap::new(),
            started_as: BTreeMap::new(),
            scripts: BTreeMap::new(),
        }
    }

    fn exe(&mut self, pid: u32) -> u32 {
        if let Some(id) = self.exe_of.get(&pid) {
            return *id;
        }
        let path = std::fs::read_link(format!("/proc/{pid}/exe"))
            .map(|p| p.to_string_lossy().into_owned())
            .map(|p| {
                if p == self.own_exe {
                    "syscage (starting the workload)".into()
                } else {
                    p
                }
            })
            .unwrap_or_else(|_| "?".into());
        if let Some(given) = self.exec_path.remove(&pid) {
            // Once per (path given, executable): a workload exec's the same programs again and
            // again, and each check costs a path walk.
            if self.started_seen.len() >= MAX_CACHED {
                self.started_seen.clear();
            }
            let key = (given.clone(), path.clone());
            let kind = match self.started_seen.get(&key) {
                Some(k) => *k,
                None => {
                    let k = Self::started(pid, &given, &path);
                    self.started_seen.insert(key, k);
                    k
                }
            };
            match kind {
                Some(Started::Same) => note_started_as(&mut self.started_as, &path, &given),
                Some(Started::Script) => note_started_as(&mut self.scripts, &path, &given),
                None => {}
            }
        }
        let path = if self.exe_names.len() >= MAX_EXECUTABLES && !self.exe_ids.contains_key(&path) {
            OTHER_EXECUTABLES.to_string()
        } else {
            path
        };
        let next = self.exe_names.len() as u32;
        let id = *self.exe_ids.entry(path.clone()).or_insert(next);
        if id == next {
            self.exe_names.push(path);
        }
        if self.exe_of.len() >= MAX_CACHED {
            self.exe_of.clear();
        }
        self.exe_of.insert(pid, id);
        id
    }

    /// Whether `exe`, what task `pid` runs now, is what its exec of `given` started: the same
    /// file, or the interpreter of that `#!` script (an exec that failed names neither).
    fn started(pid: u32, given: &str, exe: &str) -> Option<Started> {
        let on_disk = Self::seen_by(pid, given);
        let same = |p: &str| {
            // From here a container's file shows under its root's host path.
            std::fs::canonicalize(p)
                .is_ok_and(|c| c.ends_with(exe.trim_start_matches('/')) && exe.starts_with('/'))
        };
        if same(&on_disk) {
            return Some(Started::Same);
        }
        (is_script(&on_disk)
            && interpreter_on_disk(&on_disk).is_some_and(|i| same(&Self::seen_by(pid, &i))))
        .then_some(Started::Script)
    }

    /// The path an execve or execveat names, as absolute as the task's cwd makes it.
    fn exec_target(pid: u32, abi: Abi, nr_: i64, args: &[u64; 6]) -> Option<String> {
        let (dirfd, addr) = if nr_ == nr(abi, "execve") {
            (None, args[0])
        } else {
            (Some(args[0]), args[1])
        };
        let raw = memory::c_string(pid, addr)?;
        if raw.is_empty() {
            return None; // fexecve: a descriptor, no path
        }
        Some(Self::absolute(pid, dirfd, &raw))
    }

    /// `raw`, a path a task passed, made absolute against its cwd or directory descriptor.
    fn absolute(pid: u32, dirfd: Option<u64>, raw: &str) -> String {
        if raw.starts_with('/') {
            files::join("/", raw)
        } else {
            files::join(&Self::base_dir(pid, dirfd), raw)
        }
    }

    pub fn event(&mut self, ev: &SyscallEvent) {
        let Some((abi, nr_)) = Abi::from_audit(ev.arch, ev.nr) else {
            self.unknown_arch += 1;
            return;
        };
        let is_exec = nr_ == nr(abi, "execve") || nr_ == nr(abi, "execveat");
        self.count_event(ev, abi, nr_, is_exec);
        // After the exec is counted (under the old executable): the next event names the result.
        if is_exec && abi == Abi::X86_64 {
            if self.exec_path.len() >= MAX_CACHED {
                self.exec_path.clear();
            }
            match Self::exec_target(ev.pid, abi, nr_, &ev.args) {
                Some(p) => self.exec_path.insert(ev.pid, p),
                None => self.exec_path.remove(&ev.pid),
            };
        }
    }

    fn count_event(&mut self, ev: &SyscallEvent, abi: Abi, nr_: i64, is_exec: bool) {
        if self.scope == Scope::AfterFilterLoad {
            // libseccomp probes flag support with a NULL program (EFAULT): not a load.
            let loads = ev.args[2] != 0
                && ((nr_ == nr(abi, "seccomp") && ev.args[0] == 1)
                    || (nr_ == nr(abi, "prctl")
                        && ev.args[0] == libc::PR_SET_SECCOMP as u64
                        && ev.args[1] == 2));
            let tgid = self.tgid(ev.pid);
            if loads {
                self.since_load.insert(tgid, Vec::new());
                return;
            }
            let Some(buf) = self.since_load.get_mut(&tgid) else {
                return;
            };
            buf.push(*ev);
            if !is_exec {
                return;
            }
            let committed = self.since_load.remove(&tgid).unwrap_or_default();
            for e in &committed {
                if let Some((a, n)) = Abi::from_audit(e.arch, e.nr) {
                    self.count(a, n, e.pid, &e.args);
                }
            }
            self.exe_of.remove(&ev.pid);
            return;
        }
        self.count(abi, nr_, ev.pid, &ev.args);
        if is_exec {
            // The task's executable changes if this exec succeeds: look it up again next time.
            self.exe_of.remove(&ev.pid);
        }
    }

    fn count(&mut self, abi: Abi, nr_: i64, pid: u32, args: &[u64; 6]) {
        // Numbers outside the table each get an entry, up to a bound: a workload counting
        // through them must not grow the recording without end.
        let mut nr_ = nr_;
        if abi.syscall_name(nr_).is_none() && !self.entries.contains_key(&(abi, nr_)) {
            if self.unknown_numbers >= MAX_UNKNOWN_NUMBERS {
                nr_ = UNKNOWN_OTHER;
            } else {
                self.unknown_numbers += 1;
            }
        }
        let exe = self.exe(pid);
        let e = self.entries.entry((abi, nr_)).or_insert_with(|| Entry {
            first_exe: exe,
            ..Entry::default()
        });
        e.count += 1;
        e.exes.insert(exe);
        if e.pids.len() < MAX_PIDS_PER_SYSCALL {
            e.pids.insert(pid);
        }
        // Argument layouts differ between ABIs; samples are kept for the native one only.
        if abi != Abi::X86_64 {
            return;
        }
        let Some(name) = abi.syscall_name(nr_) else {
            return;
        };
        if let Some((label, value)) = args::sample(name, args) {
            e.args.entry(label).or_default().insert(value);
        }
        if self.scope == Scope::All {
            self.file_facts(name, pid, args);
        }
    }

    /// The directory a relative path is resolved against: the cwd or a directory descriptor.
    fn base_dir(pid: u32, dirfd: Option<u64>) -> String {
        let link = match dirfd.map(|d| d as i32) {
            Some(fd) if fd != libc::AT_FDCWD => format!("/proc/{pid}/fd/{fd}"),
            _ => format!("/proc/{pid}/cwd"),
        };
        std::fs::read_link(link)
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_else(|_| "/".into())
    }

    /// `path` as the task sees it, from here: through its root (a container's, after
    /// pivot_root) and with /proc/self meaning the task, not us.
    fn seen_by(pid: u32, path: &str) -> String {
        match path.strip_prefix("/proc/self/") {
            Some(rest) => format!("/proc/{pid}/{rest}"),
            None => format!("/proc/{pid}/root{path}"),
        }
    }

    fn file_facts(&mut self, name: &str, pid: u32, args: &[u64; 6]) {
        if matches!(name, "bind" | "connect") {
            let len = (args[2] as usize).min(128);
            if let Some(port) = memory::bytes(pid, args[1], len).and_then(|a| files::inet_port(&a))
            {
                self.ports
                    .entry(if name == "bind" { "bind" } else { "connect" })
                    .or_default()
                    .insert(port);
            }
            return;
        }
        for pa in files::path_args(name) {
            let Some(raw) = memory::c_string(pid, args[pa.path]) else {
                continue;
            };
            let path = Self::absolute(pid, pa.dirfd.map(|i| args[i]), &raw);
            let acc: Vec<&'static str> = match (pa.access, pa.flags) {
                (Some(a), _) => vec![a],
                (None, Some(i)) => {
                    // One stat per path and open mode: the same opens repeat in every process.
                    // O_ACCMODE | O_CREAT | O_TRUNC | O_DIRECTORY | O_PATH
                    let key = (path.clone(), args[i] & 0o10201103);
                    match self.open_seen.get(&key) {
                        Some(acc) => acc.clone(),
                        None => {
                            if self.open_seen.len() >= MAX_CACHED {
                                self.open_seen.clear();
                            }
                            let meta = std::fs::metadata(Self::seen_by(pid, &path));
                            let acc = files::open_access(
                                args[i],
                                meta.is_ok(),
                                meta.is_ok_and(|m| m.is_dir()),
                            );
                            self.open_seen.insert(key, acc.clone());
                            acc
                        }
                    }
                }
                (None, None) => Vec::new(),
            };
            if self.exec_seen.len() >= MAX_CACHED {
                self.exec_seen.clear();
            }
            if acc.contains(&files::EXEC)
                && self.exec_seen.insert(path.clone())
                && let Some(interp) = interpreter_on_disk(&Self::seen_by(pid, &path))
            {
                self.files.entry(interp).or_default().insert(files::EXEC);
            }
            if !acc.is_empty() && (self.files.len() < MAX_PATHS || self.files.contains_key(&path)) {
                self.files.entry(path).or_default().extend(acc);
            }
        }
    }

    fn tgid(&mut self, tid: u32) -> u32 {
        if self.tgid_of.len() >= MAX_CACHED && !self.tgid_of.contains_key(&tid) {
            self.tgid_of.clear();
        }
        *self.tgid_of.entry(tid).or_insert_with(|| {
            std::fs::read_to_string(format!("/proc/{tid}/status"))
                .ok()
                .and_then(|s| {
                    s.lines()
                        .find_map(|l| l.strip_prefix("Tgid:"))
                        .and_then(|v| v.trim().parse().ok())
                })
                .unwrap_or(tid)
        })
    }

    /// Calls and distinct syscalls so far, for the live line.
    pub fn progress(&self) -> (u64, usize) {
        (
            self.entries.values().map(|e| e.count).sum(),
            self.entries.len(),
        )
    }

    /// Tasks whose pid may be reused by a later task must not keep their executable.
    pub fn forget(&mut self, pid: u32) {
        self.exe_of.remove(&pid);
        self.exec_path.remove(&pid);
        self.tgid_of.remove(&pid);
    }

    pub fn finish(self, command: Vec<String>) -> Recording {
        let files = self
            .files
            .iter()
            .map(|(p, a)| (p.clone(), a.iter().map(|s| s.to_string()).collect()))
            .collect();
        let ports = self
            .ports
            .iter()
            .map(|(op, p)| (op.to_string(), p.clone()))
            .collect();
        let mut b = Builder::default();
        let mut entries: Vec<_> = self.entries.into_iter().collect();
        entries.sort_by_key(|((abi, nr), _)| (*abi, *nr));
        for ((abi, nr), e) in entries {
            let name = match abi.syscall_name(nr) {
                Some(n) => n.to_string(),
                None if nr == UNKNOWN_OTHER => "unknown_other".into(),
                None => format!("unknown_{nr}"),
            };
            b.add_stats(SyscallStats {
                abi,
                name,
                count: e.count,
                first_executable: self.exe_names[e.first_exe as usize].clone(),
                executables: e
                    .exes
                    .iter()
                    .map(|i| self.exe_names[*i as usize].clone())
                    .collect(),
                pids: e.pids.into_iter().collect(),
                args: e
                    .args
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v))
                    .collect(),
            });
        }
        let mut rec = b.finish(command);
        rec.files = files;
        rec.ports = ports;
        rec.started_as = self.started_as;
        rec.scripts = self.scripts;
        rec
    }
}

impl crate::sandbox::watch::Learner for Recorder {
    fn event(&mut self, ev: &SyscallEvent) {
        Recorder::event(self, ev)
    }
    fn finish(self: Box<Self>, command: Vec<String>) -> Recording {
        Recorder::finish(*self, command)
    }
}

/// Learn mode's recorder: everything a workload does, as `record` keeps it.
pub fn learner() -> Box<dyn crate::sandbox::watch::Learner> {
    Box::new(Recorder::new(Scope::All))
}
