//! `syscage report`: a recording as a readable table, the syscalls seen only once, and likely
//! siblings of what was seen that the run did not exercise (hints for more test coverage). Pure.

use std::collections::{BTreeMap, BTreeSet};

use crate::model::Recording;
use crate::model::recording::executable_label;

/// Syscalls that do the same job in different ways: a program that used one may use another
/// on a different code path, libc version or kernel.
pub const SIBLINGS: &[&[&str]] = &[
    &["open", "openat", "openat2", "creat"],
    &["stat", "lstat", "fstat", "newfstatat", "statx"],
    &["access", "faccessat", "faccessat2"],
    &["read", "pread64", "readv", "preadv", "preadv2"],
    &["write", "pwrite64", "writev", "pwritev", "pwritev2"],
    &["dup", "dup2", "dup3"],
    &["pipe", "pipe2"],
    &[
        "poll",
        "ppoll",
        "select",
        "pselect6",
        "epoll_wait",
        "epoll_pwait",
        "epoll_pwait2",
    ],
    &["epoll_create", "epoll_create1"],
    &["wait4", "waitid"],
    &["clone", "clone3", "fork", "vfork"],
    &["execve", "execveat"],
    &["rename", "renameat", "renameat2"],
    &["unlink", "unlinkat", "rmdir"],
    &["mkdir", "mkdirat"],
    &["chmod", "fchmod", "fchmodat", "fchmodat2"],
    &["chown", "fchown", "lchown", "fchownat"],
    &["link", "linkat", "symlink", "symlinkat"],
    &["readlink", "readlinkat"],
    &["getdents", "getdents64"],
    &["accept", "accept4"],
    &["sendto", "sendmsg", "sendmmsg"],
    &["recvfrom", "recvmsg", "recvmmsg"],
    &["signalfd", "signalfd4"],
    &["eventfd", "eventfd2"],
    &["inotify_init", "inotify_init1"],
    &["futex", "futex_waitv"],
    &["nanosleep", "clock_nanosleep"],
    &["getrlimit", "prlimit64", "setrlimit"],
    &["utime", "utimes", "utimensat", "futimesat"],
    &["truncate", "ftruncate"],
    &["exit", "exit_group"],
];

/// A coarse category for the table.
pub fn category(name: &str) -> &'static str {
    const GROUPS: &[(&str, &[&str])] = &[
        (
            "network",
            &[
                "socket",
                "socketpair",
                "bind",
                "listen",
                "accept",
                "accept4",
                "connect",
                "getsockname",
                "getpeername",
                "sendto",
                "sendmsg",
                "sendmmsg",
                "recvfrom",
                "recvmsg",
                "recvmmsg",
                "setsockopt",
                "getsockopt",
                "shutdown",
            ],
        ),
        (
            "memory",
            &[
                "mmap",
                "munmap",
                "mprotect",
                "mremap",
                "madvise",
                "brk",
                "mlock",
                "munlock",
                "mincore",
                "msync",
                "pkey_mprotect",
                "membarrier",
            ],
        ),
        (
            "process",
            &[
                "clone",
                "clone3",
                "fork",
                "vfork",
                "execve",
                "execveat",
                "exit",
                "exit_group",
                "wait4",
                "waitid",
                "getpid",
                "getppid",
                "gettid",
                "set_tid_address",
                "arch_prctl",
                "prctl",
                "sched_yield",
                "sched_getaffinity",
                "sched_setaffinity",
                "set_robust_list",
                "rseq",
                "futex",
                "getpgrp",
                "setpgid",
                "getpgid",
                "setsid",
                "getsid",
                "prlimit64",
                "getrlimit",
                "setrlimit",
                "getrusage",
                "personality",
                "unshare",
                "setns",
                "ptrace",
            ],
        ),
        (
            "signals",
            &[
                "rt_sigaction",
                "rt_sigprocmask",
                "rt_sigreturn",
                "rt_sigsuspend",
                "rt_sigtimedwait",
                "sigaltstack",
                "kill",
                "tgkill",
                "tkill",
                "signalfd",
                "signalfd4",
                "pause",
                "alarm",
            ],
        ),
        (
            "time",
            &[
                "clock_gettime",
                "clock_getres",
                "clock_nanosleep",
                "nanosleep",
                "gettimeofday",
                "time",
                "timerfd_create",
                "timerfd_settime",
                "timer_create",
                "timer_settime",
                "setitimer",
                "getitimer",
            ],
        ),
        (
            "identity",
            &[
                "getuid",
                "geteuid",
                "getgid",
                "getegid",
                "getgroups",
                "setuid",
                "setgid",
                "setreuid",
                "setregid",
                "setresuid",
                "setresgid",
                "getresuid",
                "getresgid",
                "setgroups",
                "capget",
                "capset",
            ],
        ),
        (
            "ipc",
            &[
                "pipe",
                "pipe2",
                "eventfd",
                "eventfd2",
                "shmget",
                "shmat",
                "shmdt",
                "shmctl",
                "semget",
                "semop",
                "semctl",
                "msgget",
                "msgsnd",
                "msgrcv",
                "msgctl",
                "mq_open",
                "memfd_create",
            ],
        ),
        (
            "events",
            &[
                "poll",
                "ppoll",
                "select",
                "pselect6",
                "epoll_create",
                "epoll_create1",
                "epoll_ctl",
                "epoll_wait",
                "epoll_pwait",
                "epoll_pwait2",
                "inotify_init",
                "inotify_init1",
                "inotify_add_watch",
                "inotify_rm_watch",
                "io_uring_setup",
                "io_uring_enter",
            ],
        ),
        (
            "security",
            &[
                "seccomp",
                "landlock_create_ruleset",
                "landlock_add_rule",
                "landlock_restrict_self",
                "keyctl",
                "add_key",
                "request_key",
                "bpf",
            ],
        ),
        (
            "system",
            &[
                "uname",
                "sysinfo",
                "getrandom",
                "getcpu",
                "syslog",
                "mount",
                "umount2",
                "pivot_root",
                "chroot",
                "sethostname",
                "setdomainname",
                "reboot",
                "ioctl",
            ],
        ),
    ];
    GROUPS
        .iter()
        .find(|(_, names)| names.contains(&name))
        .map(|(c, _)| *c)
        .unwrap_or("files")
}

/// Unseen siblings of seen syscalls: (seen, [unseen...]).
pub fn unexercised_siblings(seen: &BTreeSet<&str>) -> Vec<(String, Vec<String>)> {
    SIBLINGS
        .iter()
        .filter_map(|group| {
            let used: Vec<&str> = group.iter().copied().filter(|n| seen.contains(n)).collect();
            let missing: Vec<String> = group
                .iter()
                .filter(|n| !seen.contains(*n))
                .map(|n| n.to_string())
                .collect();
            (!used.is_empty() && !missing.is_empty()).then(|| (used.join(", "), missing))
        })
        .collect()
}

/// Which syscalls each executable made (every executable a recording names for a syscall).
pub fn by_executable(rec: &Recording) -> BTreeMap<&str, BTreeSet<&str>> {
    let mut out: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for s in &rec.syscalls {
        for e in &s.executables {
            out.entry(e.as_str()).or_default().insert(s.name.as_str());
        }
    }
    out
}

/// The report as JSON, for machines: the same facts as `render`.
pub fn to_json(rec: &Recording) -> serde_json::Value {
    let seen: BTreeSet<&str> = rec.syscalls.iter().map(|x| x.name.as_str()).collect();
    serde_json::json!({
        "commands": rec.commands,
        "abis": rec.abis().iter().map(|a| a.as_str()).collect::<Vec<_>>(),
        "total_calls": rec.total_calls(),
        "syscalls": rec.syscalls.iter().map(|x| serde_json::json!({
            "name": x.name,
            "abi": x.abi.as_str(),
            "count": x.count,
            "category": category(&x.name),
            "first_executable": x.first_executable,
            "executables": x.executables,
            "args": x.args,
        })).collect::<Vec<_>>(),
        "seen_once": rec.syscalls.iter().filter(|x| x.count == 1).map(|x| x.name.as_str()).collect::<Vec<_>>(),
        "by_executable": by_executable(rec),
        "unexercised_siblings": unexercised_siblings(&seen)
            .into_iter()
            .map(|(used, missing)| serde_json::json!({"used": used, "missing": missing}))
            .collect::<Vec<_>>(),
        "files": rec.files.len(),
        "ports": rec.ports,
        "started_as": rec.started_as,
        "scripts": rec.scripts,
    })
}

pub fn render(rec: &Recording) -> String {
    let mut s = String::new();
    let width = rec
        .syscalls
        .iter()
        .map(|x| x.name.len())
        .max()
        .unwrap_or(7)
        .max(7);
    s.push_str(&format!(
        "{:<width$}  {:<7}  {:>9}  {:<9}  first executable\n",
        "syscall", "abi", "count", "category"
    ));
    let mut rows: Vec<_> = rec.syscalls.iter().collect();
    rows.sort_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then(a.name.cmp(&b.name))
            .then(a.abi.cmp(&b.abi))
    });
    for x in &rows {
        s.push_str(&format!(
            "{:<width$}  {:<7}  {:>9}  {:<9}  {}\n",
            x.name,
            x.abi.as_str(),
            x.count,
            category(&x.name),
            executable_label(rec, &x.first_executable)
        ));
    }
    s.push_str(&format!(
        "\n{} syscalls, {} calls, ABIs: {}; commands: {}\n",
        rec.syscalls.len(),
        rec.total_calls(),
        rec.abis()
            .iter()
            .map(|a| a.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        rec.commands
            .iter()
            .map(|c| c.join(" "))
            .collect::<Vec<_>>()
            .join(" | ")
    ));
    let once: Vec<&str> = rec
        .syscalls
        .iter()
        .filter(|x| x.count == 1)
        .map(|x| x.name.as_str())
        .collect();
    s.push_str(&format!(
        "\nseen only once ({}): {}\n  (a code path exercised once may have siblings the run did not reach)\n",
        once.len(),
        once.join(" ")
    ));
    let with_args: Vec<_> = rec.syscalls.iter().filter(|x| !x.args.is_empty()).collect();
    if !with_args.is_empty() {
        s.push_str("\nargument values recorded (what `record --args` narrows to):\n");
        for x in with_args {
            for (label, values) in &x.args {
                let shown: Vec<String> = values.iter().map(|v| format!("{v:#x}")).collect();
                s.push_str(&format!("  {} {label}: {}\n", x.name, shown.join(" ")));
            }
        }
        if rec.syscalls.iter().any(|x| {
            x.args
                .get(crate::model::args::TARGET)
                .is_some_and(|t| t.contains(&2) || t.contains(&3))
        }) {
            s.push_str("  note: the workload signalled process groups or every process it may (kill with pid -1 or < -1)\n");
        }
    }
    let by_exe = by_executable(rec);
    if by_exe.len() > 1 {
        s.push_str("\nby executable:\n");
        for (exe, names) in &by_exe {
            s.push_str(&format!(
                "  {} ({}): {}\n",
                executable_label(rec, exe),
                names.len(),
                names.iter().copied().collect::<Vec<_>>().join(" ")
            ));
        }
    }
    let seen: BTreeSet<&str> = rec.syscalls.iter().map(|x| x.name.as_str()).collect();
    let siblings = unexercised_siblings(&seen);
    if !siblings.is_empty() {
        s.push_str("\nlikely siblings not exercised (test more paths, or merge recordings from other runs):\n");
        for (used, missing) in siblings {
            s.push_str(&format!("  {used} → also {}\n", missing.join(", ")));
        }
    }
    s
}

/// A recording beside a static analysis of the same program (`syscage analyze`).
#[derive(Debug, Default)]
pub struct Gap {
    /// Reachable in the code but never recorded: what a test run missed, riskiest first
    /// (severity from `profiles/dangerous-syscalls.json`, else the syscall's category).
    pub unrecorded: Vec<(String, String, String)>,
    /// Recorded but not reachable: the analysis missed it (each one is a bug in the analysis,
    /// or the recording ran another program).
    pub unreachable: Vec<(String, String)>,
}

pub fn coverage_gap(rec: &Recording, analysis: &Recording) -> Gap {
    let seen: BTreeSet<(String, String)> = rec
        .syscalls
        .iter()
        .map(|s| (s.abi.as_str().to_string(), s.name.clone()))
        .collect();
    let reach: BTreeSet<(String, String)> = analysis
        .syscalls
        .iter()
        .map(|s| (s.abi.as_str().to_string(), s.name.clone()))
        .collect();
    let danger = super::lint::dangerous();
    let mut unrecorded: Vec<(String, String, String)> = reach
        .difference(&seen)
        .map(|(abi, n)| {
            let risk = match danger.get(n) {
                Some((sev, why)) => format!("{sev}: {why}"),
                None => category(n).to_string(),
            };
            (abi.clone(), n.clone(), risk)
        })
        .collect();
    let rank = |r: &str| {
        ["critical", "high", "medium", "low", "info"]
            .iter()
            .position(|p| r.to_ascii_lowercase().starts_with(p))
            .unwrap_or(5)
    };
    unrecorded.sort_by(|a, b| rank(&a.2).cmp(&rank(&b.2)).then(a.1.cmp(&b.1)));
    Gap {
        unrecorded,
        unreachable: seen.difference(&reach).cloned().collect(),
    }
}

pub fn render_gap(g: &Gap) -> String {
    let mut s = String::new();
    if !g.unreachable.is_empty() {
        s.push_str(&format!(
            "\nRECORDED BUT NOT REACHABLE in the analysis ({}): the analysis missed them, or the recording ran another program:\n",
            g.unreachable.len()
        ));
        for (abi, n) in &g.unreachable {
            s.push_str(&format!("  {n} ({abi})\n"));
        }
    }
    s.push_str(&format!(
        "\nreachable but never recorded ({}): a test run that exercises them, or a profile that allows them, closes the gap:\n",
        g.unrecorded.len()
    ));
    for (abi, n, risk) in &g.unrecorded {
        s.push_str(&format!("  {n:<20} {abi:<7} {risk}\n"));
    }
    s
}

/// `check --analysis`: the gap between what a profile allows (`g`'s "recorded" side) and what
/// the program can reach.
pub fn render_profile_gap(g: &Gap) -> String {
    let mut s = format!(
        "\nreachable but not allowed ({}): denied if the code path runs, riskiest first:\n",
        g.unrecorded.len()
    );
    for (abi, n, risk) in &g.unrecorded {
        s.push_str(&format!("  {n:<20} {abi:<7} {risk}\n"));
    }
    s.push_str(&format!(
        "\nallowed but not reachable from the program ({}): the runtime's or another program's, or removable:\n",
        g.unreachable.len()
    ));
    for (abi, n) in &g.unreachable {
        s.push_str(&format!("  {n} ({abi})\n"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Abi;
    use crate::model::recording::Builder;

    #[test]
    fn table_once_and_siblings() {
        let mut b = Builder::default();
        for _ in 0..3 {
            b.add(Abi::X86_64, "read", 1, "/bin/cat");
        }
        b.add(Abi::X86_64, "openat", 1, "/bin/cat");
        b.add(Abi::X86_64, "socket", 1, "/bin/cat");
        let text = render(&b.finish(vec!["cat".into()]));
        assert!(text.lines().nth(1).unwrap().starts_with("read "), "{text}");
        assert!(text.contains("seen only once (2): openat socket"), "{text}");
        assert!(
            text.contains("openat → also open, openat2, creat"),
            "{text}"
        );
        assert!(text.contains("network"));
        assert_eq!(category("mmap"), "memory");
        assert_eq!(category("fsync"), "files");
    }
}
