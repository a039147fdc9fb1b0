//! What the eBPF recorder's optional parts report: paths and what was done to them, inet ports
//! (`--landlock`, `--apparmor`), and kept argument values (`--args`). The loader feeds the raw
//! events and map keys, this turns them into the recording's facts; the filesystem is looked at
//! only through the `on_disk` path the caller gives.

use std::collections::{BTreeMap, BTreeSet};

use crate::model::{Abi, Recording, args, files};

/// Bits of a path event's `access`, in the kernel program's order.
const ACCESS: [&str; 6] = [
    files::READ,
    files::READDIR,
    files::WRITE,
    files::CREATE,
    files::REMOVE,
    files::EXEC,
];

/// A path argument whose access follows from the open flags.
pub const FROM_FLAGS: u8 = 0xff;
/// With `FROM_FLAGS`, bits 8-9 of a path event's access: the opened file is not a directory,
/// or is one (a failed open leaves them 0).
const DIR_NO: u32 = 1;
const DIR_YES: u32 = 2;
/// No such argument (no directory fd, no flags).
pub const NONE: u8 = 0xff;

/// How the kernel program is told what a path argument's access is: a bit index of `ACCESS`,
/// or `FROM_FLAGS`.
pub fn access_code(access: Option<&str>) -> u8 {
    access
        .and_then(|a| ACCESS.iter().position(|x| *x == a))
        .map_or(FROM_FLAGS, |i| i as u8)
}

#[derive(Default)]
pub struct Facts {
    exec_seen: BTreeSet<String>,
    files: BTreeMap<String, BTreeSet<&'static str>>,
    ports: BTreeMap<&'static str, BTreeSet<u16>>,
    /// x86_64 syscall name → label → values.
    args: BTreeMap<&'static str, BTreeMap<&'static str, BTreeSet<u64>>>,
}

impl Facts {
    /// A path (absolute, as the process saw it) and what was done to it: `access` bits of
    /// `ACCESS`, or `FROM_FLAGS` for an open with `flags`. `on_disk` names where this process
    /// can look at it: whether an opened path is a directory, which interpreter an executable
    /// needs (the kernel opens it itself).
    pub fn file(
        &mut self,
        path: String,
        access: u32,
        flags: u64,
        on_disk: &dyn Fn(&str) -> String,
    ) {
        let acc: Vec<&'static str> = if access & 0xff == u32::from(FROM_FLAGS) {
            // An O_CREAT open's creation is reported by the exit hook, resolved: here the
            // path counts as existing. Whether it is a directory the kernel says when the
            // open succeeded; else it is looked at on disk, as the other backends do.
            let dir = match access >> 8 & 3 {
                DIR_NO => false,
                DIR_YES => true,
                _ => std::fs::metadata(on_disk(&path)).is_ok_and(|m| m.is_dir()),
            };
            files::open_access(flags, true, dir)
        } else {
            ACCESS
                .iter()
                .enumerate()
                .filter(|(i, _)| access & (1 << i) != 0)
                .map(|(_, a)| *a)
                .collect()
        };
        // The program's interpreter (ld.so, or a script's) runs too: read from the program's
        // file through its process's root, or — if the process has exited since that root was
        // looked at (a short program, a late drain) — as this process sees the path, rather
        // than losing the interpreter's exec right (a ruleset without it cannot start it).
        if acc.contains(&files::EXEC)
            && self.exec_seen.insert(path.clone())
            && let Some(interp) = crate::tracer::events::interpreter_on_disk(&on_disk(&path))
                .or_else(|| crate::tracer::events::interpreter_on_disk(&path))
        {
            self.files.entry(interp).or_default().insert(files::EXEC);
        }
        if !acc.is_empty() {
            self.files.entry(path).or_default().extend(acc);
        }
    }

    /// A bind or connect to the raw socket address `addr` (family and port bytes).
    pub fn port(&mut self, connect: bool, addr: &[u8]) {
        if let Some(port) = files::inet_port(addr) {
            let op = if connect { "connect" } else { "bind" };
            self.ports.entry(op).or_default().insert(port);
        }
    }

    /// A kept argument pair of x86_64 syscall `nr` (see `args::kept`).
    pub fn arg(&mut self, nr: u64, values: [u64; 2]) {
        let Some(name) = Abi::X86_64.syscall_name(nr as i64) else {
            return;
        };
        let Some(k) = args::kept(name) else {
            return;
        };
        if let Some((label, value)) = args::sample_kept(name, &k, values) {
            self.args
                .entry(name)
                .or_default()
                .entry(label)
                .or_default()
                .insert(value);
        }
    }

    /// Puts the facts into `rec`.
    pub fn apply(self, rec: &mut Recording) {
        for (path, acc) in self.files {
            rec.files
                .entry(path)
                .or_default()
                .extend(acc.into_iter().map(str::to_string));
        }
        for (op, ports) in self.ports {
            rec.ports.entry(op.to_string()).or_default().extend(ports);
        }
        for s in rec.syscalls.iter_mut().filter(|s| s.abi == Abi::X86_64) {
            if let Some(labels) = self.args.get(s.name.as_str()) {
                for (label, values) in labels {
                    s.args
                        .entry(label.to_string())
                        .or_default()
                        .extend(values.iter().copied());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::recording::{Builder, SyscallStats};

    #[test]
    fn events_become_the_recordings_facts() {
        let mut f = Facts::default();
        let here = |p: &str| p.to_string();
        f.file("/etc/hosts".into(), 1, 0, &here);
        f.file("/etc/hosts".into(), 4, 0, &here);
        f.file("/usr/bin/python3.11".into(), 32, 0, &here);
        f.file("/tmp/d".into(), 8 | 16, 0, &here);
        // openat(O_RDONLY|O_DIRECTORY) and O_WRONLY|O_CREAT|O_TRUNC (creation comes at exit)
        f.file("/etc".into(), FROM_FLAGS.into(), 0o200000, &here);
        f.file(
            "/nonexistent-dir".into(),
            FROM_FLAGS.into(),
            0o200000,
            &here,
        );
        // Opened as a directory, gone by the time the event is read: the kernel's word counts.
        f.file(
            "/gone".into(),
            u32::from(FROM_FLAGS) | DIR_YES << 8,
            0o200000,
            &here,
        );
        f.file("/tmp/new".into(), FROM_FLAGS.into(), 0o1101, &here);
        assert_eq!(access_code(Some(files::EXEC)), 5);
        assert_eq!(access_code(None), FROM_FLAGS);
        f.port(false, &[2, 0, 0x1f, 0x90]);
        f.port(true, &[10, 0, 0, 80]);
        f.port(true, &[1, 0, b'/', b't']); // AF_UNIX: no port
        // socket(AF_INET6, SOCK_STREAM): nr 41
        f.arg(41, [10, 1]);
        f.arg(9999, [1, 1]);
        let mut b = Builder::default();
        b.add_stats(SyscallStats {
            abi: Abi::X86_64,
            name: "socket".into(),
            count: 1,
            first_executable: "/x".into(),
            executables: Default::default(),
            pids: Default::default(),
            args: Default::default(),
        });
        let mut rec = b.finish(vec!["x".into()]);
        f.apply(&mut rec);
        let acc = |p: &str| rec.files[p].iter().cloned().collect::<Vec<_>>();
        assert_eq!(acc("/etc/hosts"), ["read", "write"]);
        assert_eq!(acc("/usr/bin/python3.11"), ["exec"]);
        assert_eq!(acc("/etc"), ["readdir"]);
        assert_eq!(acc("/nonexistent-dir"), ["read"]);
        assert_eq!(acc("/gone"), ["readdir"]);
        assert_eq!(acc("/tmp/new"), ["write"]);
        // python3.11 is an ELF: its loader is executed by the kernel.
        assert!(
            rec.files.keys().any(|p| p.contains("ld-linux")),
            "{:?}",
            rec.files
        );
        assert_eq!(acc("/tmp/d"), ["create", "remove"]);
        // The process gone before its events were read: its root no longer opens, and the
        // loader of the program it exec'd is still found.
        let mut g = Facts::default();
        let gone = |p: &str| format!("/proc/4294967295/root{p}");
        g.file("/usr/bin/true".into(), 32, 0, &gone);
        let mut late = Builder::default().finish(vec!["x".into()]);
        g.apply(&mut late);
        assert!(
            late.files.keys().any(|p| p.contains("ld-linux")),
            "{:?}",
            late.files
        );
        assert_eq!(rec.ports["bind"], BTreeSet::from([8080]));
        assert_eq!(rec.ports["connect"], BTreeSet::from([80]));
        assert_eq!(
            rec.syscalls[0].args[args::SOCKET],
            BTreeSet::from([10 << 32 | 1])
        );
    }
}
