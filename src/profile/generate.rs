//! A minimal Docker/OCI seccomp profile from a recording. Pure and deterministic: the same set of
//! syscalls gives a byte-identical file.
//!
//! Rules (DESIGN.md): deny with EPERM by default; list only the ABIs the workload used; always
//! allow execve, exit and exit_group; allow what the chosen container runtime does after loading
//! the filter (measured, kept as data in `profiles/runtime-base.json`); give ENOSYS to the
//! libc-fallback syscalls the workload did not use; one rule per syscall with a comment saying
//! how often it was made and by which executable first.

use std::collections::{BTreeMap, BTreeSet};

use oci_spec::runtime::{Arch, LinuxSeccompAction};
use serde::Deserialize;

use super::seccomp::{SeccompProfile, SyscallRule};
use crate::model::{Abi, Recording};

/// Syscalls every process needs to start and stop; `exit_group` never returns, so tools that
/// count returning calls (`strace -c`) miss it.
pub const REQUIRED: &[(&str, &str)] = &[
    ("execve", "required: starts the workload"),
    ("exit", "required: ends a thread"),
    ("exit_group", "required: ends the process"),
];

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
            s.abi, s.count, s.first_executable
        ));
    }
    summary.recorded = seen.len();
    let mut allowed: BTreeMap<String, String> =
        seen.into_iter().map(|(n, d)| (n, d.join("; "))).collect();
    for (name, why) in REQUIRED {
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
    summary.allowed = allowed.len();
    let mut rules: Vec<SyscallRule> = allowed
        .into_iter()
        .map(|(name, comment)| rule(vec![name], LinuxSeccompAction::ScmpActAllow, None, comment))
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
        assert_eq!(
            allowed,
            ["clone3", "execve", "exit", "exit_group", "getpid", "read"]
        );
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
        assert!(names.contains(&"statx".to_string()) && !names.contains(&"clone3".to_string()));
        assert_eq!((s.recorded, s.allowed, s.from_base), (3, 6, 0));
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
