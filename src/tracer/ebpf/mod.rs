//! The eBPF recording backend: the CO-RE program in `recorder.bpf.c` (built by build.rs with
//! clang, embedded here) counts the tracked processes' syscalls in the kernel; this side loads
//! it, marks the workload's first process, follows the ring buffer of fork/exec/exit bitmaps for
//! attribution, and reads the counts at the end. No stop, no ptrace, no seccomp filter in the
//! workload: its syscalls run at full speed.

pub mod attribution;
mod btf_ids;
mod core_cache;
mod facts;
mod follow;
mod loader;
pub mod running;
mod supervise;

pub use follow::follow;
pub use supervise::supervise;

use std::os::fd::{AsFd, AsRawFd, BorrowedFd};

use aya::maps::{Array, HashMap, MapData, PerCpuArray, RingBuf};
use aya::programs::{BtfTracePoint, Program};
use aya::{Btf, Ebpf, EbpfLoader};

use crate::model::{Abi, Recording, args, files};
use attribution::{ABIS, Attribution, NR_MAX, WORDS};
use facts::Facts;

const OBJECT: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/recorder.bpf.o"));

/// The kernel program's hooks: (program, tracepoint).
const HOOKS: [&str; 4] = [
    "sys_enter",
    "sched_process_exec",
    "sched_process_fork",
    "sched_process_exit",
];

/// The ring buffer's size: attribution events only, or paths too.
const RING: u32 = 1 << 20;
const RING_FILES: u32 = 16 << 20;

const EV_EXEC: u32 = 1;
const EV_EXIT: u32 = 2;
const EV_FORK: u32 = 3;
const EV_FILE: u32 = 4;
const EV_PORT: u32 = 5;
const EV_ADOPT: u32 = 6;
/// The size of the kernel program's `struct task_state`: the bitmap, then `until_exec`.
const TASK_STATE: usize = WORDS * 8 + 8;
/// Offsets in a bitmap event: type, tgid, the bitmap, `last`, then for an exec the length of
/// the new image's path and the path.
const EV_LAST: usize = 8 + WORDS * 8;
const EV_EXEC_LEN: usize = EV_LAST + 4;
const EV_EXEC_PATH: usize = EV_EXEC_LEN + 4;
/// How often user space reads the ring: the kernel wakes it earlier only when a quarter of the
/// ring is used, so that forks, execs and exits cost no context switch.
const READ_EVERY: std::time::Duration = std::time::Duration::from_millis(50);
/// Slots of the `stats` map.
const STATS: [&str; 7] = [
    "tasks could not be tracked (no kernel memory for their storage): their syscalls are missing",
    "attribution events were lost (ring buffer full): executables may be misattributed",
    "syscalls had numbers beyond the recorder's tables (x32?) and were not counted",
    "argument values could not be kept (the kernel table is full): --args values are missing",
    "path or port events were lost (ring buffer full): --landlock/--apparmor rules are missing",
    "paths were deeper or longer than the recorder follows and were left out",
    "paths or addresses were not readable in the workload's memory at entry (page not resident) and were left out (--backend notify reads them)",
];

/// What the optional parts of the recorder are loaded for.
#[derive(Debug, Default, Clone, Copy)]
pub struct Wants {
    /// Argument values (`--args`).
    pub args: bool,
    /// Paths and ports (`--landlock`, `--apparmor`).
    pub files: bool,
    /// Which running tasks join the recording (`record --attach`).
    pub scope: AttachScope,
}

/// `record --attach`: the tasks that join the recording at their next syscall or fork, as the
/// kernel program tells them apart (its `scope_*` constants).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub enum AttachScope {
    /// None: the workload syscage starts (`Probe::track`).
    #[default]
    None,
    /// Processes user space names (`Probe::track_task`): nothing to test per syscall.
    Pids,
    /// The tasks of a cgroup v2 and its descendants: its id (the directory's inode) and its
    /// level (0 is the root cgroup).
    Cgroup { level: u32, id: u64 },
    /// The tasks of a mount namespace, by its inode.
    MountNamespace(u64),
}

impl AttachScope {
    /// (scope_mode, scope_level, scope_id) for the kernel program.
    fn globals(self) -> (u32, u32, u64) {
        match self {
            AttachScope::None => (0, 0, 0),
            AttachScope::Pids => (0, 0, 0),
            AttachScope::Cgroup { level, id } => (2, level, id),
            AttachScope::MountNamespace(inum) => (3, 0, inum),
        }
    }
}

/// What the kernel program could not keep, by kind (see `STATS`), and bitmaps of unknown
/// processes.
#[derive(Debug, Default, Clone)]
pub struct Losses {
    pub stats: [u64; STATS.len()],
    pub unattributed: u64,
}

impl Losses {
    /// One line per kind of loss, empty when nothing was lost.
    pub fn describe(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .stats
            .iter()
            .zip(STATS)
            .filter(|(n, _)| **n > 0)
            .map(|(n, what)| format!("{n} {what}"))
            .collect();
        if self.unattributed > 0 {
            out.push(format!(
                "{} bitmaps came from processes whose fork was not seen",
                self.unattributed
            ));
        }
        out
    }
}

/// The programs, still attached after `finish` (tracking no task any more): dropping this
/// detaches them, which waits for RCU grace periods — keep it until the results are out.
pub struct Detach(#[allow(dead_code)] Ebpf);

/// The loaded and attached recorder.
pub struct Probe {
    bpf: Ebpf,
    ring: RingBuf<MapData>,
    facts: Facts,
}

/// The executable process `tgid` runs, as it sees it: a container's process names its file
/// inside the container's root (the host sees /proc/PID/exe under that root's path).
pub fn running_exe(tgid: u32) -> String {
    let Ok(exe) = std::fs::read_link(format!("/proc/{tgid}/exe")) else {
        return "?".into();
    };
    let exe = exe.to_string_lossy().into_owned();
    match std::fs::read_link(format!("/proc/{tgid}/root")) {
        Ok(root) if root.as_os_str() != "/" => {
            let root = root.to_string_lossy();
            match exe.strip_prefix(root.as_ref()) {
                Some(rest) if rest.starts_with('/') => rest.to_string(),
                _ => exe,
            }
        }
        _ => exe,
    }
}

fn seen_of(bytes: &[u8]) -> [u64; WORDS] {
    let mut seen = [0u64; WORDS];
    for (i, w) in seen.iter_mut().enumerate() {
        let at = 8 + i * 8;
        if let Some(b) = bytes.get(at..at + 8) {
            *w = u64::from_le_bytes(b.try_into().unwrap_or_default());
        }
    }
    seen
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    bytes
        .get(at..at + 8)
        .map(|b| u64::from_le_bytes(b.try_into().unwrap_or_default()))
        .unwrap_or(0)
}

/// `path` of process `tgid` as this process can open it: through the process's root (a
/// container's) while it lives, else as it is.
fn seen_by(tgid: u32, path: &str) -> String {
    let root = format!("/proc/{tgid}/root");
    if std::path::Path::new(&root).exists() {
        format!("{root}{path}")
    } else {
        path.to_string()
    }
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    bytes
        .get(at..at + 4)
        .map(|b| u32::from_le_bytes(b.try_into().unwrap_or_default()))
        .unwrap_or(0)
}

/// A BTF holding the tracepoints' `btf_trace_*` typedefs at their kernel ids (`btf_ids`).
/// The ids are kept beside the per-boot relocated object (`cache`), sparing the next start a
/// read and walk of the 5.5 MB BTF (~5 ms here).
fn tracepoint_btf(cache: Option<&std::path::Path>) -> Result<Btf, aya::BtfError> {
    let names: Vec<String> = HOOKS
        .iter()
        .chain(std::iter::once(&"sys_exit"))
        .map(|h| format!("btf_trace_{h}"))
        .collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let ids = match cache.and_then(|c| core_cache::read_ids(c, &names)) {
        Some(ids) => ids,
        None => {
            let raw = std::fs::read("/sys/kernel/btf/vmlinux").map_err(|error| {
                aya::BtfError::FileError {
                    path: "/sys/kernel/btf/vmlinux".into(),
                    error,
                }
            })?;
            let ids = btf_ids::typedef_ids(&raw, &names).ok_or(aya::BtfError::InvalidHeader)?;
            if let Some(c) = cache {
                core_cache::store_ids(c, &names, &ids);
            }
            ids
        }
    };
    Btf::parse(&btf_ids::minimal(&names, &ids), aya::Endianness::default())
}

/// The BTF the programs attach by: `tracepoint_btf`, else the kernel's whole BTF.
fn attach_btf(cache: Option<&std::path::Path>) -> Result<Btf, String> {
    tracepoint_btf(cache)
        .or_else(|_| Btf::from_sys_fs())
        .map_err(|e| format!("reading the kernel's BTF: {e}"))
}

/// Why eBPF cannot be used here, checked before loading: root or CAP_BPF+CAP_PERFMON, and the
/// kernel's BTF.
pub fn unavailable() -> Option<String> {
    let eff = caps::read(None, caps::CapSet::Effective).unwrap_or_default();
    let can = eff.contains(&caps::Capability::CAP_SYS_ADMIN)
        || (eff.contains(&caps::Capability::CAP_BPF)
            && eff.contains(&caps::Capability::CAP_PERFMON));
    if !can {
        return Some("needs root (or CAP_BPF and CAP_PERFMON)".into());
    }
    if !std::path::Path::new("/sys/kernel/btf/vmlinux").exists() {
        return Some("the kernel has no BTF (/sys/kernel/btf/vmlinux is missing)".into());
    }
    None
}

impl Probe {
    /// Loads the program and attaches its hooks (and the optional ones `wants` asks for).
    /// Nothing is tracked yet.
    pub fn load(wants: Wants) -> Result<Probe, String> {
        if let Some(why) = unavailable() {
            return Err(why);
        }
        // CO-RE relocated once per boot (core_cache); copied either way: the ELF parser wants
        // aligned data, include_bytes! gives no alignment.
        let cache = core_cache::path(OBJECT);
        let (object, fresh, relocated) = match cache.as_deref().and_then(core_cache::read) {
            Some(bytes) => (bytes, false, true),
            None => match core_cache::relocate(OBJECT) {
                Ok(bytes) => (bytes, true, true),
                // aya relocates it itself.
                Err(_) => (OBJECT.to_vec(), false, false),
            },
        };
        // The tracepoints' BTF ids, from a walk of the kernel's raw BTF and a minimal BTF
        // holding just them (aya's own loader parses the whole 5.5 MB once more for CO-RE;
        // parsing it twice cost ~10 ms on two cores here). The full parse remains the fallback.
        let btf = attach_btf(cache.as_deref())?;
        // Task storage is used by the kernel program only; aya has no wrapper for it.
        let want_args = u32::from(wants.args);
        let want_files = u32::from(wants.files);
        let (scope_mode, scope_level, scope_id) = wants.scope.globals();
        let load = |object: &[u8], btf: &Btf, relocated: bool| -> Result<Ebpf, String> {
            let mut loader = if relocated {
                loader::without_kernel_btf().0
            } else {
                EbpfLoader::new()
            };
            let mut bpf = loader
                .allow_unsupported_maps()
                .override_global("want_args", &want_args, true)
                .override_global("want_files", &want_files, true)
                .override_global("scope_mode", &scope_mode, true)
                .override_global("scope_level", &scope_level, true)
                .override_global("scope_id", &scope_id, true)
                .map_max_entries("events", if wants.files { RING_FILES } else { RING })
                // Without --args only clone's namespace flags are kept: a few values, and a
                // preallocated table of 16k costs its allocation at every start.
                .map_max_entries("argvals", if wants.args { 16384 } else { 1024 })
                .load(object)
                .map_err(|e| format!("loading the eBPF recorder: {e}"))?;
            // clone's namespace flags are always kept (a profile restricts them unless the
            // workload created namespaces); the other arguments with --args.
            set_argspecs(&mut bpf, wants.args)?;
            if wants.files {
                set_pathspecs(&mut bpf)?;
            }
            // sys_exit only tells which opens created their file: loaded for paths only.
            let hooks: Vec<&str> = HOOKS
                .into_iter()
                .chain(wants.files.then_some("sys_exit"))
                .collect();
            // Verified side by side: each load is the kernel verifying one program, on its
            // own CPU.
            let mut progs: Vec<(&str, &mut Program)> = bpf
                .programs_mut()
                .filter(|(name, _)| hooks.contains(name))
                .collect();
            if let Some(missing) = hooks.iter().find(|h| !progs.iter().any(|(n, _)| n == *h)) {
                return Err(format!("the eBPF object has no program {missing}"));
            }
            // Attached in HOOKS' order, sys_enter first.
            progs.sort_by_key(|(name, _)| hooks.iter().position(|h| h == name));
            let mut progs: Vec<(&str, &mut BtfTracePoint)> = progs
                .into_iter()
                .map(|(hook, prog)| {
                    prog.try_into()
                        .map(|p| (hook, p))
                        .map_err(|e| format!("eBPF program {hook}: {e}"))
                })
                .collect::<Result<_, String>>()?;
            std::thread::scope(|scope| {
                let loads: Vec<_> = progs
                    .iter_mut()
                    .map(|(hook, prog)| {
                        let hook: &str = hook;
                        scope.spawn(move || {
                            prog.load(hook, btf)
                                .map_err(|e| format!("loading the eBPF program for {hook}: {e}"))
                        })
                    })
                    .collect();
                loads
                    .into_iter()
                    .try_for_each(|l| l.join().unwrap_or_else(|_| Err("a load panicked".into())))
            })?;
            // A recording that ended less than a grace period ago (the last one, back to back)
            // would make the first attach wait for a normal grace period; an expedited one
            // ends it now. Without CAP_SYS_ADMIN the attach waits as before.
            let _ = crate::sandbox::sys::expedite_rcu_grace_period();
            for (hook, prog) in progs {
                prog.attach()
                    .map_err(|e| format!("attaching the eBPF program to {hook}: {e}"))?;
            }
            Ok(bpf)
        };
        let mut bpf = match (load(&object, &btf, relocated), &cache) {
            (Ok(bpf), Some(path)) => {
                if fresh {
                    core_cache::store(path, &object);
                }
                bpf
            }
            (Ok(bpf), None) => bpf,
            // What this boot kept does not load: dropped; aya relocates the object itself and
            // the tracepoints' ids are read from the kernel's BTF again.
            (Err(_), Some(path)) => {
                core_cache::discard(path);
                let original = OBJECT.to_vec();
                load(&original, &attach_btf(None)?, false)?
            }
            (Err(e), _) => return Err(e),
        };
        let ring = RingBuf::try_from(
            bpf.take_map("events")
                .ok_or("the eBPF object has no events map")?,
        )
        .map_err(|e| format!("eBPF events map: {e}"))?;
        Ok(Probe {
            bpf,
            ring,
            facts: Facts::default(),
        })
    }

    /// Tracks `pid` (a host pid) from its next exec on.
    pub fn track(&mut self, pid: u32) -> Result<(), String> {
        let mut target: Array<_, u32> = Array::try_from(
            self.bpf
                .map_mut("target")
                .ok_or("the eBPF object has no target map")?,
        )
        .map_err(|e| format!("eBPF target map: {e}"))?;
        target
            .set(0, pid, 0)
            .map_err(|e| format!("tracking process {pid}: {e}"))
    }

    /// Tracks thread `tid` from now on, all it does counted (what already runs, for
    /// `record --attach`): gives it task storage through a pidfd, or clears the `until_exec`
    /// the kernel set if the thread joined the scope first. Returns false if it is gone.
    pub fn track_task(&self, tid: i32) -> bool {
        let Some(aya::maps::Map::Unsupported(tasks)) = self.bpf.map("tasks") else {
            return false;
        };
        let Ok(fd) = crate::sandbox::sys::pidfd_open_thread(tid) else {
            return false;
        };
        let key = fd.as_raw_fd().to_ne_bytes();
        let mut value = [0u8; TASK_STATE];
        // Absent: zeros. Present: its bitmap kept (a syscall it makes in between can lose
        // its bit: its executable's name, never its count).
        let _ = crate::sandbox::sys::bpf_map_lookup(tasks.fd().as_fd(), &key, &mut value);
        value[WORDS * 8..].fill(0);
        crate::sandbox::sys::bpf_map_update(tasks.fd().as_fd(), &key, &value).is_ok()
    }

    /// Hands `attr` what the live tasks of its processes made since their last flush (their
    /// task storage, read by pidfd): at the end of an attach, processes still run.
    pub fn flush_live(&self, attr: &mut Attribution) {
        let Some(aya::maps::Map::Unsupported(tasks)) = self.bpf.map("tasks") else {
            return;
        };
        for tgid in attr.processes() {
            let Ok(threads) = std::fs::read_dir(format!("/proc/{tgid}/task")) else {
                continue;
            };
            for t in threads.flatten() {
                let Some(tid) = t.file_name().to_str().and_then(|t| t.parse().ok()) else {
                    continue;
                };
                let Ok(fd) = crate::sandbox::sys::pidfd_open_thread(tid) else {
                    continue;
                };
                let key = fd.as_raw_fd().to_ne_bytes();
                let mut value = [0u8; TASK_STATE];
                if crate::sandbox::sys::bpf_map_lookup(tasks.fd().as_fd(), &key, &mut value).is_ok()
                {
                    let mut seen = [0u64; WORDS];
                    for (w, b) in seen.iter_mut().zip(value[..WORDS * 8].chunks_exact(8)) {
                        *w = u64::from_ne_bytes(b.try_into().unwrap_or_default());
                    }
                    attr.exit(tgid, &seen, false);
                }
            }
        }
    }

    /// Waits until `other` is ready, the ring fills up (the kernel wakes readers early only
    /// then) or `READ_EVERY` has passed; returns whether `other` is ready (readable, or hung up).
    pub fn wait(&self, other: BorrowedFd<'_>) -> Result<bool, nix::errno::Errno> {
        use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
        let mut fds = [
            PollFd::new(self.ring.as_fd(), PollFlags::POLLIN),
            PollFd::new(other, PollFlags::POLLIN),
        ];
        let every = PollTimeout::try_from(READ_EVERY).unwrap_or(PollTimeout::MAX);
        match poll(&mut fds, every) {
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(e),
        }
        Ok(fds[1].revents().is_some_and(|r| {
            r.intersects(PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR)
        }))
    }

    /// Calls and distinct (ABI, syscall) pairs so far, from the kernel's exact counts (one map
    /// lookup); zeros when they cannot be read.
    pub fn totals(&self) -> (u64, usize) {
        let Some(map) = self.bpf.map("counts") else {
            return (0, 0);
        };
        let Ok(counts) = PerCpuArray::<_, [u64; ABIS.len() * NR_MAX]>::try_from(map) else {
            return (0, 0);
        };
        let Ok(per_cpu) = counts.get(&0, 0) else {
            return (0, 0);
        };
        let mut sum = vec![0u64; ABIS.len() * NR_MAX];
        for cpu in per_cpu.iter() {
            for (s, c) in sum.iter_mut().zip(cpu.iter()) {
                *s += c;
            }
        }
        (sum.iter().sum(), sum.iter().filter(|c| **c > 0).count())
    }

    /// Hands every waiting event to `attr` (and the facts).
    pub fn drain(&mut self, attr: &mut Attribution) {
        while let Some(item) = self.ring.next() {
            let bytes: &[u8] = &item;
            let tgid = u32_at(bytes, 4);
            match u32_at(bytes, 0) {
                EV_EXEC => {
                    let len = u32_at(bytes, EV_EXEC_LEN) as usize;
                    let path = bytes
                        .get(EV_EXEC_PATH..EV_EXEC_PATH + len)
                        .unwrap_or_default();
                    let given_len = u32_at(bytes, EV_LAST) as usize;
                    let given = bytes
                        .get(EV_EXEC_PATH + len..EV_EXEC_PATH + len + given_len)
                        .unwrap_or_default();
                    let given = String::from_utf8_lossy(given);
                    // Relative as given: made absolute with the process's cwd while it lives.
                    let given = if given.starts_with('/') || given.is_empty() {
                        files::join("/", &given)
                    } else {
                        match std::fs::read_link(format!("/proc/{tgid}/cwd")) {
                            Ok(cwd) => files::join(&cwd.to_string_lossy(), &given),
                            Err(_) => given.into_owned(),
                        }
                    };
                    let exe = String::from_utf8_lossy(path);
                    // The kernel ran `exe` for `given`: the same file, or its interpreter.
                    // Through its root, or as seen here once the process has gone (as facts;
                    // only an absolute path: a relative one would be read from our own cwd).
                    let is_script = crate::tracer::events::is_script;
                    let script = exe != given
                        && (is_script(&seen_by(tgid, &given))
                            || (given.starts_with('/') && is_script(&given)));
                    attr.exec(tgid, &seen_of(bytes), &exe, &given, script);
                }
                EV_EXIT => attr.exit(tgid, &seen_of(bytes), u32_at(bytes, EV_LAST) != 0),
                EV_FORK => attr.fork(tgid, u32_at(bytes, 8)),
                EV_ADOPT => attr.adopt(tgid, &running_exe(tgid)),
                EV_FILE => {
                    let len = u32_at(bytes, 12) as usize;
                    let raw = bytes.get(24..24 + len).unwrap_or_default();
                    let end = raw.iter().position(|b| *b == 0).unwrap_or(raw.len());
                    let path = files::join("/", &String::from_utf8_lossy(&raw[..end]));
                    let flags = u64_at(bytes, 16);
                    let access = u32_at(bytes, 8);
                    let on_disk = |p: &str| seen_by(tgid, p);
                    self.facts.file(path, access, flags, &on_disk);
                }
                EV_PORT => self
                    .facts
                    .port(u32_at(bytes, 8) != 0, bytes.get(12..16).unwrap_or_default()),
                _ => {}
            }
        }
    }

    /// The recording of `command`: exact counts from the kernel, names from `attr` (fed the
    /// last events here), the optional facts; and what was lost.
    pub fn finish(
        mut self,
        mut attr: Attribution,
        command: Vec<String>,
    ) -> Result<(Recording, Losses, Detach), String> {
        self.drain(&mut attr);
        let per_cpu = |bpf: &Ebpf, name: &str, len: usize| -> Result<Vec<u64>, String> {
            let map: PerCpuArray<_, u64> = PerCpuArray::try_from(
                bpf.map(name)
                    .ok_or_else(|| format!("the eBPF object has no {name} map"))?,
            )
            .map_err(|e| format!("eBPF {name} map: {e}"))?;
            (0..len as u32)
                .map(|i| {
                    map.get(&i, 0)
                        .map(|v| v.iter().sum())
                        .map_err(|e| format!("reading eBPF {name}[{i}]: {e}"))
                })
                .collect()
        };
        let counts = {
            let map: PerCpuArray<_, [u64; ABIS.len() * NR_MAX]> = PerCpuArray::try_from(
                self.bpf
                    .map("counts")
                    .ok_or("the eBPF object has no counts map")?,
            )
            .map_err(|e| format!("eBPF counts map: {e}"))?;
            let per_cpu = map
                .get(&0, 0)
                .map_err(|e| format!("reading the eBPF counts: {e}"))?;
            let mut sum = vec![0u64; ABIS.len() * NR_MAX];
            for cpu in per_cpu.iter() {
                sum.iter_mut().zip(cpu.iter()).for_each(|(s, c)| *s += c);
            }
            sum
        };
        let stats = per_cpu(&self.bpf, "stats", STATS.len())?;
        let mut losses = Losses {
            unattributed: attr.unattributed,
            ..Losses::default()
        };
        losses.stats.copy_from_slice(&stats[..STATS.len()]);
        {
            let map: HashMap<_, [u64; 3], u8> = HashMap::try_from(
                self.bpf
                    .map("argvals")
                    .ok_or("the eBPF object has no argvals map")?,
            )
            .map_err(|e| format!("eBPF argvals map: {e}"))?;
            for key in map.keys() {
                let key = key.map_err(|e| format!("reading the eBPF argument values: {e}"))?;
                self.facts.arg(key[0], [key[1], key[2]]);
            }
        }
        let mut rec = attr.finish(&counts, command);
        self.facts.apply(&mut rec);
        Ok((rec, losses, Detach(self.bpf)))
    }
}

/// Tells the kernel program which arguments of which x86_64 syscalls are paths, and what is
/// done to them (model::files): [n, flags index, path 0, path 1, dirfd 0, dirfd 1, access 0,
/// access 1].
fn set_pathspecs(bpf: &mut Ebpf) -> Result<(), String> {
    let mut specs: Array<_, [u8; 8]> = Array::try_from(
        bpf.map_mut("pathspecs")
            .ok_or("the eBPF object has no pathspecs map")?,
    )
    .map_err(|e| format!("eBPF pathspecs map: {e}"))?;
    for nr in 0..NR_MAX as u32 {
        let Some(name) = Abi::X86_64.syscall_name(i64::from(nr)) else {
            continue;
        };
        let pas = files::path_args(name);
        if pas.is_empty() {
            continue;
        }
        let mut spec = [0u8, facts::NONE, 0, 0, facts::NONE, facts::NONE, 0, 0];
        spec[0] = pas.len().min(2) as u8;
        for (i, pa) in pas.iter().take(2).enumerate() {
            spec[2 + i] = pa.path as u8;
            spec[4 + i] = pa.dirfd.map_or(facts::NONE, |d| d as u8);
            spec[6 + i] = facts::access_code(pa.access);
            if let Some(f) = pa.flags {
                spec[1] = f as u8;
            }
        }
        specs
            .set(nr, spec, 0)
            .map_err(|e| format!("eBPF pathspecs[{nr}]: {e}"))?;
    }
    Ok(())
}

/// Tells the kernel program which arguments of which x86_64 syscalls to keep: all of them with
/// `all` (--args), else clone's alone.
fn set_argspecs(bpf: &mut Ebpf, all: bool) -> Result<(), String> {
    let mut specs: Array<_, [u64; 4]> = Array::try_from(
        bpf.map_mut("argspecs")
            .ok_or("the eBPF object has no argspecs map")?,
    )
    .map_err(|e| format!("eBPF argspecs map: {e}"))?;
    for nr in 0..NR_MAX as u32 {
        let Some(k) = Abi::X86_64
            .syscall_name(i64::from(nr))
            .filter(|n| all || *n == "clone")
            .and_then(args::kept)
        else {
            continue;
        };
        let info =
            1 | u64::from(k.pid_kind) << 1 | (k.args[0] as u64) << 8 | (k.args[1] as u64) << 16;
        specs
            .set(nr, [info, k.masks[0], k.masks[1], 0], 0)
            .map_err(|e| format!("eBPF argspecs[{nr}]: {e}"))?;
    }
    Ok(())
}
