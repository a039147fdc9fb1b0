//! A minimal Docker/OCI seccomp profile from a recording. Pure and deterministic: the same set of
//! syscalls gives a byte-identical file.
//!
//! Rules (DESIGN.md): deny with EPERM by default; list only the ABIs the workload used; always
//! allow execve, exit and exit_group, the calls a recording sees only by chance (rt_sigreturn,
//! restart_syscall, futex) and the vDSO's fallbacks; allow what the chosen container runtime
//! does after loading the filter (measured, kept as data in `profiles/runtime-base.json`); give ENOSYS to the
//! libc-fallback syscalls the workload did not use; one rule per syscall with a comment saying
//! how often it was made and by which executable first.

use std::collections::{BTreeMap, BTreeSet};

use oci_spec::runtime::{Arch, LinuxSeccompAction};
use serde::Deserialize;

use super::seccomp::{SeccompProfile, SyscallArg, SyscallRule};
use crate::model::args::{self as argdefs, CLONE, CLONE_NS_MASK, PROT_EXEC, SOCK_FLAGS};
use crate::model::recording::executable_label;
use crate::model::{Abi, Recording};
use oci_spec::runtime::LinuxSeccompOperator as Op;

/// Syscalls every process needs to start, stop and be stopped; `exit_group` never returns, so
/// tools that count returning calls (`strace -c`) miss it. `rt_sigreturn` and `restart_syscall`
/// are issued by code the kernel sets up, not by the program's choice, so a recording sees them
/// only when a signal came at the right time: without them a handler's return is a SIGSEGV and
/// a sleep resumed after SIGSTOP/SIGCONT or a cgroup freeze (`docker pause`) fails with EPERM. `futex` is made only
/// under lock contention, which a recording at low load may never meet, and glibc aborts when it
/// fails. `getpid` and `gettid` are what glibc's `raise` (hence `abort`) asks before `tgkill`:
/// without them an abort is reported as a SIGSEGV. Docker allows them all.
pub const REQUIRED: &[(&str, &str)] = &[
    ("execve", "required: starts the workload"),
    ("exit", "required: ends a thread"),
    ("exit_group", "required: ends the process"),
    (
        "rt_sigreturn",
        "required: returns from a signal handler (recorded only when a handler ran)",
    ),
    (
        "futex",
        "required: glibc's locks wait through it only when threads contend, and abort when it fails (recorded only under contention)",
    ),
    (
        "restart_syscall",
        "required: the kernel resumes an interrupted sleep with it after a stop, a cgroup freeze or a debugger (recorded only when one happened)",
    ),
    (
        "getpid",
        "required: glibc's abort() and raise() name the process to tgkill with it (recorded only when the program asked or aborted); denied, an abort ends in SIGSEGV instead of SIGABRT",
    ),
    (
        "gettid",
        "required: glibc's abort() and raise() ask for the thread's id before signalling it (recorded only when the program aborted); denied, an abort ends in SIGSEGV instead of SIGABRT",
    ),
];

/// What the vDSO answers in user space: a recording never sees these, yet the program makes
/// the syscall wherever the vDSO falls back — a node whose clock source has no vDSO support
/// (Xen, Hyper-V without its TSC page, a TSC found unstable after a live migration). Docker
/// allows them all; `analyze` adds them too.
pub const VDSO_FALLBACKS: &[(&str, &str)] = &[
    (
        "clock_gettime",
        "required: the vDSO answers it here and falls back to the syscall on a clock source without vDSO support (Xen, Hyper-V, an unstable TSC)",
    ),
    (
        "clock_getres",
        "required: the vDSO's fallback, as clock_gettime",
    ),
    (
        "gettimeofday",
        "required: the vDSO's fallback, as clock_gettime",
    ),
    ("time", "required: the vDSO's fallback, as clock_gettime"),
    ("getcpu", "required: the vDSO's fallback, as clock_gettime"),
];

/// What only i386 has, for profiles that list that ABI: the return from a handler installed
/// without SA_SIGINFO (`signal()`), and the 64-bit-time clock calls its vDSO falls back to.
const I386_REQUIRED: &[(&str, &str)] = &[
    (
        "sigreturn",
        "required on i386: returns from a handler installed without SA_SIGINFO",
    ),
    (
        "clock_gettime64",
        "required on i386: the vDSO's fallback, as clock_gettime",
    ),
    (
        "clock_getres_time64",
        "required on i386: the vDSO's fallback, as clock_gettime",
    ),
];

/// The calls `abort()` makes to signal its thread, and the index of their signal argument:
/// glibc's `tgkill(pid, tid, sig)`, musl's `tkill(tid, sig)`. Allowed for SIGABRT alone where
/// nothing else allows them.
const ABORT_SIGNALS: &[(&str, u32)] = &[("tgkill", 2), ("tkill", 1)];

/// What every profile allows whatever was recorded: `REQUIRED` and `VDSO_FALLBACKS`.
fn always_allowed() -> impl Iterator<Item = &'static (&'static str, &'static str)> {
    REQUIRED.iter().chain(VDSO_FALLBACKS)
}

/// Whether every profile syscage generates allows `name` whatever was recorded.
pub fn is_always_allowed(name: &str) -> bool {
    always_allowed()
        .chain(I386_REQUIRED)
        .any(|(n, _)| *n == name)
}

const RUNTIME_BASE: &str = include_str!("../../profiles/runtime-base.json");
const LIBC_FALLBACKS: &str = include_str!("../../profiles/libc-fallbacks.json");

#[derive(Debug, Clone, Deserialize)]
pub struct BaseSet {
    /// Which runtime build the set was measured from.
    pub measured: String,
    pub syscalls: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct BaseFile {
    runtimes: BTreeMap<String, BaseSet>,
}

#[derive(Deserialize)]
struct FallbackFile {
    syscalls: BTreeMap<String, String>,
}

/// The runtimes a profile can be generated for.
pub const RUNTIMES: &[&str] = &["syscage", "crun", "runc"];

/// The measured base sets shipped in `profiles/runtime-base.json`, by runtime.
pub fn runtime_bases() -> BTreeMap<String, BaseSet> {
    serde_json::from_str::<BaseFile>(RUNTIME_BASE)
        .map(|f| f.runtimes)
        .unwrap_or_default()
}

/// `profiles/libc-fallbacks.json`: name → why ENOSYS.
pub fn libc_fallbacks() -> BTreeMap<String, String> {
    serde_json::from_str::<FallbackFile>(LIBC_FALLBACKS)
        .map(|f| f.syscalls)
        .unwrap_or_default()
}

/// `runtime` is one of `RUNTIMES` or `any` (their union).
pub fn base_for(runtime: &str) -> Option<BTreeMap<String, String>> {
    let bases = runtime_bases();
    let chosen: Vec<&str> = match runtime {
        "any" => RUNTIMES.to_vec(),
        r if RUNTIMES.contains(&r) => vec![r],
        _ => return None,
    };
    let mut out: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for r in &chosen {
        for name in bases
            .get(*r)
            .map(|b| b.syscalls.keys())
            .into_iter()
            .flatten()
        {
            out.entry(name.clone()).or_default().push(r);
        }
    }
    Some(
        out.into_iter()
            .map(|(name, rs)| (name, format!("runtime base ({})", rs.join(", "))))
            .collect(),
    )
}

/// What went into a generated profile, for the summary line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub recorded: usize,
    pub allowed: usize,
    pub from_base: usize,
    pub enosys: usize,
    /// Syscalls allowed only with recorded argument values (`--args`).
    pub narrowed: usize,
    pub abis: Vec<Abi>,
    /// Recorded syscalls without a name in the ABI's table (left to the default action).
    pub unnamed: Vec<String>,
}

fn rule(
    names: Vec<String>,
    action: LinuxSeccompAction,
    errno: Option<u32>,
    comment: String,
) -> SyscallRule {
    SyscallRule {
        names: Some(names),
        name: None,
        action,
        errno_ret: errno,
        args: None,
        comment: Some(comment),
        includes: None,
        excludes: None,
    }
}

fn cmp(index: u32, op: Op, value: u64, value_two: u64) -> SyscallArg {
    SyscallArg {
        index,
        value,
        value_two,
        op,
    }
}

/// Argument conditions for `name` from its recorded samples: one alternative (an OR) per
/// recorded value. `None` means "any arguments" (nothing narrower is known to be safe).
pub fn arg_rules(
    name: &str,
    samples: &BTreeMap<String, BTreeSet<u64>>,
) -> Option<Vec<Vec<SyscallArg>>> {
    let each = |label: &str, f: &dyn Fn(u64) -> Vec<SyscallArg>| -> Option<Vec<Vec<SyscallArg>>> {
        let values = samples.get(label)?;
        Some(values.iter().map(|v| f(*v)).collect())
    };
    let low32 = 0xffff_ffff;
    match name {
        "socket" => each(argdefs::SOCKET, &|v| {
            vec![
                cmp(0, Op::ScmpCmpEq, v >> 32, 0),
                cmp(1, Op::ScmpCmpMaskedEq, !SOCK_FLAGS & low32, v & low32),
            ]
        }),
        "clone" => each(argdefs::CLONE, &|v| {
            vec![cmp(0, Op::ScmpCmpMaskedEq, CLONE_NS_MASK, v)]
        }),
        "unshare" => each(argdefs::UNSHARE, &|v| vec![cmp(0, Op::ScmpCmpEq, v, 0)]),
        "setns" => each(argdefs::SETNS, &|v| vec![cmp(1, Op::ScmpCmpEq, v, 0)]),
        "personality" => each(argdefs::PERSONALITY, &|v| vec![cmp(0, Op::ScmpCmpEq, v, 0)]),
        "prctl" => each(argdefs::PRCTL, &|v| vec![cmp(0, Op::ScmpCmpEq, v, 0)]),
        "ioctl" => each(argdefs::IOCTL, &|v| {
            vec![cmp(1, Op::ScmpCmpMaskedEq, low32, v)]
        }),
        "mmap" | "mprotect" | "pkey_mprotect" => {
            // Only narrowed when the workload never asked for executable memory.
            let used = samples.get(argdefs::PROT)?;
            (used.iter().all(|v| *v == 0))
                .then(|| vec![vec![cmp(2, Op::ScmpCmpMaskedEq, PROT_EXEC, 0)]])
        }
        _ => None,
    }
}

/// Builds the profile for `rec` plus the runtime base set `base` (name → reason). With `args`,
/// syscalls whose deciding arguments were recorded are allowed only with the recorded values
/// (`record --args`); clone3 then gets ENOSYS, because its flags live in memory where seccomp
/// cannot see them, and glibc falls back to clone, whose flags are checked.
pub fn seccomp_profile_with(
    rec: &Recording,
    base: &BTreeMap<String, String>,
    args: bool,
) -> (SeccompProfile, Summary) {
    let (mut p, mut summary) = seccomp_profile(rec, base);
    if !args {
        return (p, summary);
    }
    let mut samples: BTreeMap<&str, BTreeMap<String, BTreeSet<u64>>> = BTreeMap::new();
    for s in rec.syscalls.iter().filter(|s| s.abi == native_abi()) {
        let entry = samples.entry(s.name.as_str()).or_default();
        for (label, values) in &s.args {
            entry
                .entry(label.clone())
                .or_default()
                .extend(values.iter().copied());
        }
    }
    let keep_open =
        |name: &str| base.contains_key(name) || always_allowed().any(|(n, _)| *n == name);
    let mut rules = Vec::new();
    for r in p.syscalls.take().unwrap_or_default() {
        let name = r
            .names
            .as_ref()
            .and_then(|n| n.first())
            .cloned()
            .unwrap_or_default();
        let narrowed = (r.action == LinuxSeccompAction::ScmpActAllow && !keep_open(&name))
            .then(|| samples.get(name.as_str()).and_then(|s| arg_rules(&name, s)))
            .flatten();
        match narrowed {
            Some(alternatives) => {
                summary.narrowed += 1;
                for a in alternatives {
                    let mut n = r.clone();
                    n.args = Some(a);
                    n.comment = r
                        .comment
                        .as_ref()
                        .map(|c| format!("{c}; only with the recorded argument values"));
                    rules.push(n);
                }
            }
            None => rules.push(r),
        }
    }
    rules.sort_by(|a, b| {
        let allow = |r: &SyscallRule| r.action == LinuxSeccompAction::ScmpActAllow;
        allow(b).cmp(&allow(a)).then(a.names.cmp(&b.names))
    });
    p.syscalls = Some(rules);
    (p, summary)
}

/// Whether the recorded workload created or joined namespaces: it called unshare or setns, or
/// clone with namespace flags (when argument values were recorded). Its clone then stays
/// unrestricted by the default profile (`record --args` narrows it to the recorded flags).
fn creates_namespaces(rec: &Recording) -> bool {
    rec.syscalls.iter().any(|s| {
        matches!(s.name.as_str(), "unshare" | "setns")
            || (s.name == "clone"
                && s.args
                    .get(CLONE)
                    .is_some_and(|v| v.iter().any(|f| f & CLONE_NS_MASK != 0)))
    })
}

/// Builds the profile for `rec` plus the runtime base set `base` (name → reason).
pub fn seccomp_profile(
    rec: &Recording,
    base: &BTreeMap<String, String>,
) -> (SeccompProfile, Summary) {
    let mut summary = Summary::default();
    // name → per-ABI descriptions, in ABI order.
    let mut seen: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for s in &rec.syscalls {
        if s.name.starts_with("unknown_") {
            summary.unnamed.push(format!("{}:{}", s.abi, s.name));
            continue;
        }
        let calls = if s.count == 1 { "call" } else { "calls" };
        seen.entry(s.name.clone()).or_default().push(format!(
            "{}: {} {calls}, first by {}",
            s.abi,
            s.count,
            executable_label(rec, &s.first_executable)
        ));
    }
    summary.recorded = seen.len();
    let mut allowed: BTreeMap<String, String> =
        seen.into_iter().map(|(n, d)| (n, d.join("; "))).collect();
    // clone3's flags live in memory, where seccomp cannot see them: it gets ENOSYS (below, with
    // the other fallbacks) and glibc falls back to clone, whose flags are checked — Docker's
    // choice, and what `check` asks for.
    if allowed.remove("clone3").is_some() {
        allowed.entry("clone".into()).or_insert_with(|| {
            "glibc falls back to clone when clone3 gets ENOSYS (clone3 was recorded)".into()
        });
    }
    let namespaces = creates_namespaces(rec);
    let i386 = if rec.abis().contains(&Abi::I386) {
        I386_REQUIRED
    } else {
        &[]
    };
    for (name, why) in always_allowed().chain(i386) {
        allowed
            .entry(name.to_string())
            .or_insert_with(|| why.to_string());
    }
    for (name, why) in base {
        if !allowed.contains_key(name) {
            summary.from_base += 1;
            allowed.insert(name.clone(), why.clone());
        }
    }
    // abort(): glibc raises SIGABRT with tgkill (after getpid and gettid, required above),
    // musl with tkill. Where neither the recording nor the runtime's base has them, that
    // signal only: denied, the abort ends in SIGSEGV (glibc's fallback), a misreported crash.
    let abort_only: Vec<&(&str, u32)> = ABORT_SIGNALS
        .iter()
        .filter(|(name, _)| !allowed.contains_key(*name))
        .collect();
    for (name, _) in &abort_only {
        allowed.insert(
            name.to_string(),
            "required: abort() signals its own thread with SIGABRT through it (recorded only when the program aborted); only that signal".into(),
        );
    }
    summary.allowed = allowed.len();
    let mut rules: Vec<SyscallRule> = allowed
        .into_iter()
        .map(|(name, comment)| {
            if name == "clone" && !namespaces {
                let mut r = rule(
                    vec![name],
                    LinuxSeccompAction::ScmpActAllow,
                    None,
                    format!("{comment}; without namespace flags (as Docker's default), since the workload created no namespace"),
                );
                r.args = Some(vec![cmp(0, Op::ScmpCmpMaskedEq, CLONE_NS_MASK, 0)]);
                return r;
            }
            if let Some((_, sig_arg)) = abort_only.iter().find(|(n, _)| *n == name) {
                let mut r = rule(vec![name], LinuxSeccompAction::ScmpActAllow, None, comment);
                r.args = Some(vec![cmp(*sig_arg, Op::ScmpCmpEq, libc::SIGABRT as u64, 0)]);
                return r;
            }
            rule(vec![name], LinuxSeccompAction::ScmpActAllow, None, comment)
        })
        .collect();
    let allowed_names: BTreeSet<&str> = rules
        .iter()
        .flat_map(|r| r.names.iter().flatten().map(String::as_str))
        .collect();
    let enosys: Vec<String> = libc_fallbacks()
        .into_keys()
        .filter(|n| !allowed_names.contains(n.as_str()))
        .collect();
    summary.enosys = enosys.len();
    if !enosys.is_empty() {
        rules.push(rule(
            enosys,
            LinuxSeccompAction::ScmpActErrno,
            Some(libc::ENOSYS as u32),
            "not used: ENOSYS, not EPERM, so that libc falls back to the older call (see profiles/libc-fallbacks.json)".into(),
        ));
    }
    // The ABIs used; the runtime base and the required calls are native, and x86_64 is the
    // native ABI of every workload this build can start.
    let mut abis: BTreeSet<Abi> = rec.abis();
    abis.insert(native_abi());
    summary.abis = abis.iter().copied().collect();
    let architectures: Vec<Arch> = abis.iter().map(|a| a.seccomp_arch()).collect();
    (
        SeccompProfile {
            comment: None,
            default_action: LinuxSeccompAction::ScmpActErrno,
            default_errno_ret: Some(libc::EPERM as u32),
            architectures: Some(architectures),
            arch_map: None,
            flags: None,
            listener_path: None,
            listener_metadata: None,
            syscalls: Some(rules),
        },
        summary,
    )
}

pub fn native_abi() -> Abi {
    match std::env::consts::ARCH {
        "aarch64" => Abi::Aarch64,
        _ => Abi::X86_64,
    }
}

/// Pretty JSON with a trailing newline.
pub fn to_json(p: &SeccompProfile) -> String {
    let mut s = serde_json::to_string_pretty(p).unwrap_or_default();
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::recording::Builder;

    fn recording(events: &[(Abi, &str, &str)]) -> Recording {
        let mut b = Builder::default();
        for (abi, n, exe) in events {
            b.add(*abi, n, 1, exe);
        }
        b.finish(vec!["w".into()])
    }

    #[test]
    fn minimal_profile_with_required_calls_fallbacks_and_abis() {
        let rec = recording(&[
            (Abi::X86_64, "read", "/bin/cat"),
            (Abi::X86_64, "read", "/bin/cat"),
            (Abi::X86_64, "clone3", "/bin/cat"),
            (Abi::I386, "getpid", "/bin/a32"),
        ]);
        let (p, s) = seccomp_profile(&rec, &BTreeMap::new());
        assert_eq!(p.default_errno_ret, Some(1));
        assert_eq!(
            p.architectures,
            Some(vec![Arch::ScmpArchX86_64, Arch::ScmpArchX86])
        );
        let rules = p.syscalls.as_ref().unwrap();
        let allowed: Vec<&str> = rules
            .iter()
            .filter(|r| r.action == LinuxSeccompAction::ScmpActAllow)
            .map(|r| r.names.as_ref().unwrap()[0].as_str())
            .collect();
        // clone3 was recorded: ENOSYS, and clone (which glibc falls back to) without
        // namespace flags, as the workload created none.
        assert_eq!(
            allowed,
            [
                "clock_getres",
                "clock_getres_time64",
                "clock_gettime",
                "clock_gettime64",
                "clone",
                "execve",
                "exit",
                "exit_group",
                "futex",
                "getcpu",
                "getpid",
                "gettid",
                "gettimeofday",
                "read",
                "restart_syscall",
                "rt_sigreturn",
                "sigreturn",
                "tgkill",
                "time",
                "tkill"
            ]
        );
        let clone = rules
            .iter()
            .find(|r| r.names.as_ref().unwrap()[0] == "clone")
            .unwrap();
        assert_eq!(clone.args.as_ref().unwrap()[0].value, CLONE_NS_MASK);
        let read = rules
            .iter()
            .find(|r| r.names.as_ref().unwrap()[0] == "read")
            .unwrap();
        assert_eq!(
            read.comment.as_deref(),
            Some("x86_64: 2 calls, first by /bin/cat")
        );
        let enosys = rules.last().unwrap();
        assert_eq!(enosys.errno_ret, Some(38));
        let names = enosys.names.as_ref().unwrap();
        assert!(names.contains(&"statx".to_string()) && names.contains(&"clone3".to_string()));
        assert_eq!((s.recorded, s.allowed, s.from_base), (3, 20, 0));
    }

    /// abort() must end in SIGABRT under any profile: tgkill and tkill for that signal only,
    /// unless recorded (then as recorded).
    #[test]
    fn abort_signals_are_allowed_for_sigabrt_unless_recorded() {
        let base = BTreeMap::new();
        let sig = |p: &SeccompProfile, n: &str| -> Option<Option<(u32, u64)>> {
            p.syscalls
                .as_ref()?
                .iter()
                .find(|r| r.names.as_ref().unwrap()[0] == n)
                .map(|r| r.args.as_ref().map(|a| (a[0].index, a[0].value)))
        };
        let (p, _) = seccomp_profile(&recording(&[(Abi::X86_64, "read", "/x")]), &base);
        assert_eq!(sig(&p, "tgkill"), Some(Some((2, 6))));
        assert_eq!(sig(&p, "tkill"), Some(Some((1, 6))));
        let (p, _) = seccomp_profile(&recording(&[(Abi::X86_64, "tgkill", "/x")]), &base);
        assert_eq!(sig(&p, "tgkill"), Some(None));
        let tgkills = p.syscalls.as_ref().unwrap().iter();
        assert_eq!(
            tgkills
                .filter(|r| r.names.as_ref().unwrap()[0] == "tgkill")
                .count(),
            1
        );
    }

    #[test]
    fn args_narrow_recorded_values_but_not_the_runtime_base() {
        let mut b = Builder::default();
        b.add(Abi::X86_64, "read", 1, "/x");
        b.add(Abi::X86_64, "clone3", 1, "/x");
        let mut rec = b.finish(vec!["w".into()]);
        let mut socket = rec.syscalls[0].clone();
        socket.name = "socket".into();
        socket.args.insert(
            argdefs::SOCKET.into(),
            BTreeSet::from([1 << 32 | 1, 2 << 32 | 1]),
        );
        let mut prctl = socket.clone();
        prctl.name = "prctl".into();
        prctl.args = BTreeMap::from([(argdefs::PRCTL.to_string(), BTreeSet::from([15]))]);
        rec.syscalls.push(socket);
        rec.syscalls.push(prctl);
        let base = base_for("runc").unwrap();
        let (p, s) = seccomp_profile_with(&rec, &base, true);
        let rules = p.syscalls.unwrap();
        let of = |n: &str| {
            rules
                .iter()
                .filter(|r| r.names.as_ref().unwrap().contains(&n.to_string()))
                .collect::<Vec<_>>()
        };
        assert_eq!(of("socket").len(), 2, "one alternative per family");
        assert!(
            of("socket")
                .iter()
                .all(|r| r.args.as_ref().unwrap().len() == 2)
        );
        assert!(
            of("prctl")[0].args.is_none(),
            "runc needs prctl after the filter: not narrowed"
        );
        assert_eq!(of("clone3")[0].errno_ret, Some(38));
        assert_eq!(
            of("clone")[0].args.as_ref().unwrap()[0].value,
            CLONE_NS_MASK
        );
        assert!(s.narrowed >= 1);
        // Without --args nothing is narrowed but clone's namespace flags (and abort's signal
        // where nothing allowed tgkill and tkill).
        let (plain, _) = seccomp_profile_with(&rec, &base, false);
        assert!(plain.syscalls.unwrap().iter().all(|r| r.args.is_none()
            || ["clone", "tgkill", "tkill"].contains(&r.names.as_ref().unwrap()[0].as_str())));
    }

    #[test]
    fn a_workload_that_creates_namespaces_keeps_clone_unrestricted() {
        for extra in ["unshare", "setns"] {
            let rec = recording(&[(Abi::X86_64, "clone3", "/x"), (Abi::X86_64, extra, "/x")]);
            let (p, _) = seccomp_profile(&rec, &BTreeMap::new());
            let rules = p.syscalls.unwrap();
            let clone = rules
                .iter()
                .find(|r| r.names.as_ref().unwrap() == &["clone"])
                .unwrap();
            assert!(clone.args.is_none(), "{extra}");
        }
    }

    #[test]
    fn deterministic_and_base_sets_are_data() {
        let rec = recording(&[(Abi::X86_64, "write", "/x"), (Abi::X86_64, "brk", "/x")]);
        let base = base_for("any").unwrap();
        let a = to_json(&seccomp_profile(&rec, &base).0);
        let rec2 = recording(&[(Abi::X86_64, "brk", "/x"), (Abi::X86_64, "write", "/x")]);
        assert_eq!(a, to_json(&seccomp_profile(&rec2, &base).0));
        for r in RUNTIMES {
            assert!(
                runtime_bases().contains_key(*r),
                "{r} base set missing from profiles/runtime-base.json"
            );
        }
        assert!(base_for("docker").is_none());
        // The generated file parses back as a profile.
        crate::profile::seccomp::parse(a.as_bytes(), std::path::Path::new("gen.json")).unwrap();
    }
}
