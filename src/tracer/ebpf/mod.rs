//! The eBPF recording backend: the CO-RE program in `recorder.bpf.c` (built by build.rs with
//! clang, embedded here) counts the tracked processes' syscalls in the kernel; this side loads
//! it, marks the workload's first process, follows the ring buffer of fork/exec/exit bitmaps for
//! attribution, and reads the counts at the end. No stop, no ptrace, no seccomp filter in the
//! workload: its syscalls run at full speed.

pub mod attribution;
mod follow;
mod supervise;

pub use follow::follow;
pub use supervise::supervise;

use std::os::fd::{AsFd, BorrowedFd};

use aya::maps::{Array, MapData, PerCpuArray, RingBuf};
use aya::programs::BtfTracePoint;
use aya::{Btf, Ebpf, EbpfLoader};

use attribution::{ABIS, Attribution, NR_MAX, WORDS};

const OBJECT: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/recorder.bpf.o"));

/// The kernel program's hooks: (program, tracepoint).
const HOOKS: [&str; 4] = [
    "sys_enter",
    "sched_process_exec",
    "sched_process_fork",
    "sched_process_exit",
];

const EV_EXEC: u32 = 1;
const EV_EXIT: u32 = 2;
const EV_FORK: u32 = 3;
/// Offsets in a bitmap event: type, tgid, the bitmap, `last`, the exec's file name.
const EV_LAST: usize = 8 + WORDS * 8;
const EV_FILENAME: usize = EV_LAST + 4;
/// Slots of the `stats` map.
const STATS: [&str; 3] = [
    "tasks could not be tracked (no kernel memory for their storage): their syscalls are missing",
    "attribution events were lost (ring buffer full): executables may be misattributed",
    "syscalls had numbers beyond the recorder's tables (x32?) and were not counted",
];

/// What the kernel program could not keep, by kind (see `STATS`), and bitmaps of unknown
/// processes.
#[derive(Debug, Default, Clone)]
pub struct Losses {
    pub stats: [u64; 3],
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

/// The loaded and attached recorder.
pub struct Probe {
    bpf: Ebpf,
    ring: RingBuf<MapData>,
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

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    bytes
        .get(at..at + 4)
        .map(|b| u32::from_le_bytes(b.try_into().unwrap_or_default()))
        .unwrap_or(0)
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
    /// Loads the program and attaches its four hooks. Nothing is tracked yet.
    pub fn load() -> Result<Probe, String> {
        if let Some(why) = unavailable() {
            return Err(why);
        }
        // Copied: the ELF parser wants aligned data, include_bytes! gives no alignment.
        let object = OBJECT.to_vec();
        // The kernel's BTF (5 MB that sysfs hands out 4 KB at a time) is parsed twice: by
        // aya's loader for the CO-RE relocations, and here for finding the tracepoints. Both at
        // once, on two cores: the main part of the load time. (The thread is joined before
        // this returns: the caller forks a single-threaded process afterwards.)
        let parse = std::thread::spawn(Btf::from_sys_fs);
        // Task storage is used by the kernel program only; aya has no wrapper for it.
        let loaded = EbpfLoader::new()
            .allow_unsupported_maps()
            .load(&object)
            .map_err(|e| format!("loading the eBPF recorder: {e}"));
        let btf = parse
            .join()
            .map_err(|_| "reading the kernel's BTF: the parser panicked".to_string())?
            .map_err(|e| format!("reading the kernel's BTF: {e}"))?;
        let mut bpf = loaded?;
        for hook in HOOKS {
            let prog: &mut BtfTracePoint = bpf
                .program_mut(hook)
                .ok_or_else(|| format!("the eBPF object has no program {hook}"))?
                .try_into()
                .map_err(|e| format!("eBPF program {hook}: {e}"))?;
            prog.load(hook, &btf)
                .map_err(|e| format!("loading the eBPF program for {hook}: {e}"))?;
            prog.attach()
                .map_err(|e| format!("attaching the eBPF program to {hook}: {e}"))?;
        }
        let ring = RingBuf::try_from(
            bpf.take_map("events")
                .ok_or("the eBPF object has no events map")?,
        )
        .map_err(|e| format!("eBPF events map: {e}"))?;
        Ok(Probe { bpf, ring })
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

    /// The ring buffer's descriptor, readable when events wait.
    pub fn events_fd(&self) -> BorrowedFd<'_> {
        self.ring.as_fd()
    }

    /// Hands every waiting event to `attr`. `exe_of` names a process's new executable (the
    /// caller reads /proc; `filename` is the exec's argument, for when it cannot).
    pub fn drain(&mut self, attr: &mut Attribution, exe_of: &dyn Fn(u32, &str) -> String) {
        while let Some(item) = self.ring.next() {
            let bytes: &[u8] = &item;
            let tgid = u32_at(bytes, 4);
            match u32_at(bytes, 0) {
                EV_EXEC => {
                    let name = bytes.get(EV_FILENAME..).unwrap_or_default();
                    let end = name.iter().position(|b| *b == 0).unwrap_or(name.len());
                    let filename = String::from_utf8_lossy(&name[..end]);
                    attr.exec(tgid, &seen_of(bytes), &exe_of(tgid, &filename));
                }
                EV_EXIT => attr.exit(tgid, &seen_of(bytes), u32_at(bytes, EV_LAST) != 0),
                EV_FORK => attr.fork(tgid, u32_at(bytes, 8)),
                _ => {}
            }
        }
    }

    /// The exact counts (`abi * NR_MAX + nr`) and what was lost; the last events go to `attr`.
    pub fn finish(mut self, attr: &mut Attribution) -> Result<(Vec<u64>, Losses), String> {
        self.drain(attr, &|_, f| f.to_string());
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
        losses.stats.copy_from_slice(&stats[..3]);
        Ok((counts, losses))
    }
}
