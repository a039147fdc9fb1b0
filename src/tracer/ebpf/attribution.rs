//! Which executable and process made each syscall, from the eBPF recorder's per-process bitmaps
//! (sent when a process execs or exits) and fork events. Pure: the loader feeds it and asks it
//! for the recording; the exact counts come from the kernel, this only names who made them.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::model::Abi;
use crate::model::recording::{Builder, Recording, SyscallStats, note_started_as};

/// Syscall numbers per ABI in the kernel program's tables.
pub const NR_MAX: usize = 1024;
/// The ABIs the kernel program tells apart, by table index.
pub const ABIS: [Abi; 2] = [Abi::X86_64, Abi::I386];
/// 64-bit words in one bitmap.
pub const WORDS: usize = ABIS.len() * NR_MAX / 64;

/// Who made one (ABI, syscall).
#[derive(Default)]
struct Makers {
    /// (process birth order, executable) of the earliest process that made it.
    first: Option<(u64, u32)>,
    exes: BTreeSet<u32>,
    pids: BTreeSet<u32>,
}

/// What the bitmaps say so far.
pub struct Attribution {
    exe_names: Vec<String>,
    exe_ids: HashMap<String, u32>,
    /// The current executable and birth order of every known process.
    procs: HashMap<u32, (u32, u64)>,
    births: u64,
    makers: HashMap<usize, Makers>,
    /// Bitmaps of processes nothing was known about (their fork event was lost).
    pub unattributed: u64,
    /// Whether the first exec was seen (the recording has begun).
    started: bool,
    started_as: BTreeMap<String, BTreeSet<String>>,
    scripts: BTreeMap<String, BTreeSet<String>>,
}

/// The name the other backends give the first execve, which syscage itself makes.
pub const STARTER: &str = "syscage (starting the workload)";

impl Attribution {
    /// `first` is the workload's first process, tracked before it execs: until then it runs
    /// syscage's own code.
    pub fn new(first: u32) -> Attribution {
        let mut a = Attribution {
            exe_names: Vec::new(),
            exe_ids: HashMap::new(),
            procs: HashMap::new(),
            births: 0,
            makers: HashMap::new(),
            unattributed: 0,
            started: false,
            started_as: BTreeMap::new(),
            scripts: BTreeMap::new(),
        };
        let starter = a.exe_id(STARTER);
        a.procs.insert(first, (starter, 0));
        a
    }

    /// For processes that already run (`record --attach`): the recording has begun, and
    /// processes are named by `adopt` as they join.
    pub fn attached() -> Attribution {
        let mut a = Attribution::new(0);
        a.procs.clear();
        a.started = true;
        a
    }

    /// A running process joined the recording, running `exe`.
    pub fn adopt(&mut self, tgid: u32, exe: &str) {
        if !self.procs.contains_key(&tgid) {
            let exe = self.exe_id(exe);
            self.births += 1;
            self.procs.insert(tgid, (exe, self.births));
        }
    }

    fn exe_id(&mut self, path: &str) -> u32 {
        if let Some(id) = self.exe_ids.get(path) {
            return *id;
        }
        let id = self.exe_names.len() as u32;
        self.exe_names.push(path.to_string());
        self.exe_ids.insert(path.to_string(), id);
        id
    }

    fn take(&mut self, tgid: u32, seen: &[u64; WORDS]) {
        let Some(&(exe, birth)) = self.procs.get(&tgid) else {
            if seen.iter().any(|w| *w != 0) {
                self.unattributed += 1;
            }
            return;
        };
        for (w, word) in seen.iter().enumerate() {
            let mut bits = *word;
            while bits != 0 {
                let idx = w * 64 + bits.trailing_zeros() as usize;
                bits &= bits - 1;
                let m = self.makers.entry(idx).or_default();
                if m.first.is_none_or(|(b, _)| birth < b) {
                    m.first = Some((birth, exe));
                }
                m.exes.insert(exe);
                m.pids.insert(tgid);
            }
        }
    }

    /// A process forked a new one, which runs its parent's executable until it execs.
    pub fn fork(&mut self, parent: u32, child: u32) {
        let exe = match self.procs.get(&parent) {
            Some(&(exe, _)) => exe,
            None => self.exe_id("?"),
        };
        self.births += 1;
        self.procs.insert(child, (exe, self.births));
    }

    /// A process exec'd `new_exe`; `seen` is what it made as its previous image.
    /// `given` is the path passed to execve (empty when unknown), `script` whether it is a
    /// `#!` script (`new_exe` is then its interpreter).
    pub fn exec(
        &mut self,
        tgid: u32,
        seen: &[u64; WORDS],
        new_exe: &str,
        given: &str,
        script: bool,
    ) {
        // /dev/fd/N and the like: a descriptor, no name a user gave.
        if !given.starts_with("/dev/fd/") && !given.starts_with("/proc/") {
            let map = if script {
                &mut self.scripts
            } else {
                &mut self.started_as
            };
            note_started_as(map, new_exe, given);
        }
        self.started = true;
        self.take(tgid, seen);
        let exe = self.exe_id(new_exe);
        match self.procs.get_mut(&tgid) {
            Some(p) => p.0 = exe,
            None => {
                self.births += 1;
                self.procs.insert(tgid, (exe, self.births));
            }
        }
    }

    /// A task of process `tgid` exited, having made `seen` since its last flush; `last` when it
    /// was the process's last task.
    pub fn exit(&mut self, tgid: u32, seen: &[u64; WORDS], last: bool) {
        self.take(tgid, seen);
        if last {
            self.procs.remove(&tgid);
        }
    }

    /// Processes alive and tracked, as the events tell.
    pub fn live(&self) -> usize {
        self.procs.len()
    }

    /// The processes alive and tracked, as the events tell.
    pub fn processes(&self) -> Vec<u32> {
        let mut p: Vec<u32> = self.procs.keys().copied().collect();
        p.sort_unstable();
        p
    }

    /// Whether the first exec was seen.
    pub fn started(&self) -> bool {
        self.started
    }

    /// Forgets the processes `alive` says are gone (their exit event was lost).
    pub fn prune(&mut self, alive: &dyn Fn(u32) -> bool) {
        self.procs.retain(|tgid, _| alive(*tgid));
    }

    /// The recording: `counts[abi * NR_MAX + nr]` from the kernel, names from the bitmaps.
    pub fn finish(self, counts: &[u64], command: Vec<String>) -> Recording {
        let mut b = Builder::default();
        for (idx, &count) in counts.iter().enumerate().filter(|(_, c)| **c > 0) {
            let abi = ABIS[(idx / NR_MAX).min(ABIS.len() - 1)];
            let nr = (idx % NR_MAX) as i64;
            let name = abi
                .syscall_name(nr)
                .map(str::to_string)
                .unwrap_or_else(|| format!("unknown_{nr}"));
            let m = self.makers.get(&idx);
            let exe_name = |id: &u32| self.exe_names[*id as usize].clone();
            b.add_stats(SyscallStats {
                abi,
                name,
                count,
                first_executable: m
                    .and_then(|m| m.first)
                    .map(|(_, e)| exe_name(&e))
                    .unwrap_or_else(|| "?".into()),
                executables: m
                    .map(|m| m.exes.iter().map(exe_name).collect())
                    .unwrap_or_default(),
                pids: m.map(|m| m.pids.clone()).unwrap_or_default(),
                args: Default::default(),
            });
        }
        let mut rec = b.finish(command);
        rec.started_as = self.started_as;
        rec.scripts = self.scripts;
        rec
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bits(idx: &[usize]) -> [u64; WORDS] {
        let mut s = [0u64; WORDS];
        for i in idx {
            s[i / 64] |= 1 << (i % 64);
        }
        s
    }

    #[test]
    fn images_and_children_get_their_own_syscalls() {
        let mut a = Attribution::new(100);
        // The first exec: syscage's execve, then the workload (sh) forks a child that runs
        // getppid (110) as sh, execs ls, which writes (1); the child exits, then sh exits.
        a.exec(100, &bits(&[59]), "/bin/sh", "/bin/sh", false);
        a.fork(100, 101);
        a.exec(101, &bits(&[110]), "/usr/bin/ls", "/bin/ls", false);
        a.exit(101, &bits(&[1, 231]), true);
        // A thread of sh exits first (its process lives on), then sh.
        a.exit(100, &bits(&[202]), false);
        a.exit(100, &bits(&[61, 231, NR_MAX + 20]), true);
        assert_eq!(a.live(), 0);
        let mut counts = vec![0u64; 2 * NR_MAX];
        for i in [59, 110, 1, 231, 61, 202, NR_MAX + 20] {
            counts[i] = 3;
        }
        let rec = a.finish(&counts, vec!["sh".into()]);
        let get = |abi: Abi, n: &str| {
            rec.syscalls
                .iter()
                .find(|s| s.abi == abi && s.name == n)
                .unwrap_or_else(|| panic!("{n}"))
        };
        assert_eq!(get(Abi::X86_64, "execve").first_executable, STARTER);
        assert_eq!(get(Abi::X86_64, "getppid").first_executable, "/bin/sh");
        assert_eq!(get(Abi::X86_64, "write").first_executable, "/usr/bin/ls");
        assert_eq!(
            rec.started_as,
            BTreeMap::from([("/usr/bin/ls".into(), BTreeSet::from(["/bin/ls".into()]))])
        );
        let exit = get(Abi::X86_64, "exit_group");
        assert_eq!(exit.first_executable, "/bin/sh", "the older process first");
        assert_eq!(exit.executables.len(), 2);
        assert_eq!(exit.pids, BTreeSet::from([100, 101]));
        assert_eq!(get(Abi::I386, "getpid").count, 3);
        assert_eq!(get(Abi::X86_64, "futex").first_executable, "/bin/sh");
        assert_eq!(rec.syscalls.len(), 7);
    }

    #[test]
    fn unknown_processes_are_counted_not_lost() {
        let mut a = Attribution::new(1);
        a.exit(999, &bits(&[3]), true);
        assert_eq!(a.unattributed, 1);
        let mut counts = vec![0u64; 2 * NR_MAX];
        counts[3] = 1;
        let rec = a.finish(&counts, vec![]);
        assert_eq!(rec.syscalls[0].name, "close");
        assert_eq!(rec.syscalls[0].first_executable, "?");
    }
}
