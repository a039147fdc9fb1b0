//! `syscage check`: lints a resolved seccomp profile. Pure.
//!
//! Findings: dangerous syscalls allowed (data in `profiles/dangerous-syscalls.json`, a reason
//! each), `clone`/`personality`/`socket` allowed with any argument, missing `execve`/`exit_group`/
//! `rt_sigreturn`/`restart_syscall`/`clock_gettime` (and, low, what abort() needs), EPERM where libc needs ENOSYS to fall back, extra ABIs; plus a comparison with Docker's
//! default (what the profile allows beyond it and below it).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

use oci_spec::runtime::Arch;

use super::arch;
use super::generate::{REQUIRED, libc_fallbacks};
use super::seccomp::{Action, ResolvedFilter, arch_name};
use crate::model::Abi;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn parse(s: &str) -> Option<Severity> {
        match s.to_ascii_lowercase().as_str() {
            "info" => Some(Severity::Info),
            "low" => Some(Severity::Low),
            "medium" => Some(Severity::Medium),
            "high" => Some(Severity::High),
            "critical" => Some(Severity::Critical),
            _ => None,
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Info => "INFO",
            Severity::Low => "LOW",
            Severity::Medium => "MEDIUM",
            Severity::High => "HIGH",
            Severity::Critical => "CRITICAL",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub severity: Severity,
    /// A stable identifier for scripts: dangerous-syscall, unrestricted-args, missing-required,
    /// eperm-fallback, extra-abi, allow-by-default, arch-missing-equivalent, arch-foreign-name,
    /// missing-start.
    pub code: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub syscall: Option<String>,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Comparison {
    pub against: String,
    pub allowed: usize,
    pub against_allowed: usize,
    /// Allowed here, not there.
    pub beyond: Vec<String>,
    /// Allowed there, not here.
    pub below: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    pub profile: String,
    pub findings: Vec<Finding>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comparison: Option<Comparison>,
}

const DANGEROUS: &str = include_str!("../../profiles/dangerous-syscalls.json");

#[derive(Deserialize)]
struct DangerFile {
    syscalls: BTreeMap<String, (String, String)>,
}

/// name → (severity, reason), from `profiles/dangerous-syscalls.json`.
pub fn dangerous() -> BTreeMap<String, (Severity, String)> {
    serde_json::from_str::<DangerFile>(DANGEROUS)
        .map(|f| {
            f.syscalls
                .into_iter()
                .filter_map(|(n, (s, r))| Some((n, (Severity::parse(&s)?, r))))
                .collect()
        })
        .unwrap_or_default()
}

fn lets_through(a: Action) -> bool {
    matches!(a, Action::Allow | Action::Log)
}

/// How a syscall fares under a filter: allowed with any arguments, with some, or not at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Allowance {
    Always,
    Sometimes,
    Never,
}

pub fn allowance(f: &ResolvedFilter, name: &str) -> Allowance {
    let rules: Vec<_> = f.rules.iter().filter(|r| r.name == name).collect();
    // What happens when no argument rule matches: the syscall's own rule, else the default.
    let fallback = rules
        .iter()
        .find(|r| r.args.is_empty())
        .map(|r| r.action)
        .unwrap_or(f.default_action);
    if lets_through(fallback) {
        Allowance::Always
    } else if rules.iter().any(|r| lets_through(r.action)) {
        Allowance::Sometimes
    } else {
        Allowance::Never
    }
}

/// The names a filter lets through (with any or some arguments); under an allow-by-default
/// filter, every name in `universe` not denied outright.
pub fn allowed_names(f: &ResolvedFilter, universe: &BTreeSet<String>) -> BTreeSet<String> {
    let mut names: BTreeSet<String> = f
        .rules
        .iter()
        .filter(|r| lets_through(r.action))
        .map(|r| r.name.clone())
        .collect();
    if lets_through(f.default_action) {
        names.extend(
            universe
                .iter()
                .filter(|n| allowance(f, n) != Allowance::Never)
                .cloned(),
        );
    }
    names
}

/// Lints `f`; `native` is the ABI this machine runs programs in.
pub fn lint(f: &ResolvedFilter, native: Arch) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut push = |severity, code: &str, syscall: Option<&str>, message: String| {
        out.push(Finding {
            severity,
            code: code.into(),
            syscall: syscall.map(str::to_string),
            message,
        })
    };
    if lets_through(f.default_action) {
        push(
            Severity::High,
            "allow-by-default",
            None,
            "the default action lets every unlisted syscall through: a denylist, not a least-privilege profile".into(),
        );
    }
    for (name, (sev, reason)) in dangerous() {
        match allowance(f, &name) {
            Allowance::Always => push(
                sev,
                "dangerous-syscall",
                Some(&name),
                format!("{name} is allowed: {reason}"),
            ),
            Allowance::Sometimes => push(
                sev.min(Severity::Low),
                "dangerous-syscall",
                Some(&name),
                format!("{name} is allowed for some arguments: {reason}"),
            ),
            Allowance::Never => {}
        }
    }
    for (name, sev, why) in [
        (
            "clone",
            Severity::Medium,
            "it can create namespaces (CLONE_NEWUSER...): allow it only with the namespace flags masked off, as Docker does",
        ),
        (
            "personality",
            Severity::Medium,
            "personas such as READ_IMPLIES_EXEC weaken the process: allow only the values programs use",
        ),
        (
            "socket",
            Severity::Low,
            "every address family is allowed, netlink and packet sockets included",
        ),
    ] {
        if allowance(f, name) == Allowance::Always {
            push(
                sev,
                "unrestricted-args",
                Some(name),
                format!("{name} is allowed with any arguments: {why}"),
            );
        }
    }
    // Every syscall generate adds to each profile (REQUIRED), and what else a profile needs
    // though it is added only where allowed (the vDSO fallback, abort's signal).
    let required = REQUIRED
        .iter()
        .map(|(name, _)| *name)
        .chain(["clock_gettime", "tgkill"]);
    for name in required {
        let (sev, what) = missing_consequence(name);
        if allowance(f, name) == Allowance::Never {
            push(
                sev,
                "missing-required",
                Some(name),
                format!("{name} is not allowed: {what}"),
            );
        }
    }
    for (name, why) in libc_fallbacks() {
        if allowance(f, &name) != Allowance::Never {
            continue;
        }
        let errno = f
            .rules
            .iter()
            .find(|r| r.name == name && r.args.is_empty())
            .map(|r| r.action)
            .unwrap_or(f.default_action);
        if let Action::Errno(e) = errno
            && e != libc::ENOSYS as u16
        {
            push(
                Severity::Medium,
                "eperm-fallback",
                Some(&name),
                format!("{name} gets errno {e}, not ENOSYS: {why}, but only on ENOSYS"),
            );
        }
    }
    let listed: Vec<Abi> = f
        .arches
        .iter()
        .filter_map(|a| Abi::from_seccomp_arch(*a))
        .collect();
    let allowed: BTreeSet<String> = f
        .rules
        .iter()
        .filter(|r| r.action == Action::Allow)
        .map(|r| r.name.clone())
        .collect();
    for (name, abi, missing) in arch::missing_equivalents(&allowed, &listed) {
        push(
            Severity::Medium,
            "arch-missing-equivalent",
            Some(&name),
            format!(
                "{abi} is listed and {name} is allowed, but {abi} has no {name}: programs there call {} instead, which the profile denies (translate with --arch x86_64,aarch64)",
                missing.join(" and ")
            ),
        );
    }
    let all = [Abi::X86_64, Abi::I386, Abi::Aarch64];
    for name in &allowed {
        let exists = |a: &Abi| a.syscall_nr(name).is_some();
        if !listed.is_empty() && !listed.iter().any(exists) && all.iter().any(exists) {
            let names: Vec<&str> = listed.iter().map(|a| a.as_str()).collect();
            push(
                Severity::Low,
                "arch-foreign-name",
                Some(name),
                format!(
                    "{name} is not a syscall on any listed architecture ({}): its rule does nothing",
                    names.join(", ")
                ),
            );
        }
    }
    if listed.contains(&Abi::X86_64) && !lets_through(f.default_action) {
        // arch_prctl alone: every x86_64 program makes it (pread64 only dynamic ones do).
        for (name, why) in arch::table()
            .x86_64_start
            .iter()
            .filter(|(n, _)| *n == "arch_prctl")
        {
            if allowance(f, name) == Allowance::Never {
                push(
                    Severity::Medium,
                    "missing-start",
                    Some(name),
                    format!("x86_64 is listed but {name} is not allowed: {why}"),
                );
            }
        }
    }
    // Another machine's ABI (aarch64 on x86_64) cannot be entered here: not attack surface.
    let other_machine = |a: Arch| {
        matches!(
            (Abi::from_seccomp_arch(a), Abi::from_seccomp_arch(native)),
            (Some(Abi::Aarch64), Some(Abi::X86_64))
                | (Some(Abi::X86_64 | Abi::I386 | Abi::X32), Some(Abi::Aarch64))
        )
    };
    for a in &f.arches {
        if *a != native && !other_machine(*a) {
            push(
                Severity::Low,
                "extra-abi",
                None,
                format!(
                    "{} is listed: its syscalls are reachable by any process ({}); drop it unless the workload runs such code",
                    arch_name(*a),
                    match arch_name(*a).as_str() {
                        "SCMP_ARCH_X86" => "i386, through int 0x80",
                        "SCMP_ARCH_X32" => "x32: the x86_64 calls with the x32 bit set",
                        _ => "a foreign ABI",
                    }
                ),
            );
        }
    }
    out.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then(a.syscall.cmp(&b.syscall))
            .then(a.code.cmp(&b.code))
    });
    out
}

pub fn compare(
    f: &ResolvedFilter,
    other: &ResolvedFilter,
    against: &str,
    universe: &BTreeSet<String>,
) -> Comparison {
    let ours = allowed_names(f, universe);
    let theirs = allowed_names(other, universe);
    Comparison {
        against: against.into(),
        allowed: ours.len(),
        against_allowed: theirs.len(),
        beyond: ours.difference(&theirs).cloned().collect(),
        below: theirs.difference(&ours).cloned().collect(),
    }
}

/// Human-readable report.
pub fn render(r: &Report) -> String {
    let mut s = String::new();
    for f in &r.findings {
        s.push_str(&format!("{:<8} {}\n", f.severity.to_string(), f.message));
    }
    let count = |sev| r.findings.iter().filter(|f| f.severity == sev).count();
    s.push_str(&format!(
        "{}: {} findings ({} critical, {} high, {} medium, {} low, {} info)\n",
        r.profile,
        r.findings.len(),
        count(Severity::Critical),
        count(Severity::High),
        count(Severity::Medium),
        count(Severity::Low),
        count(Severity::Info)
    ));
    if let Some(c) = &r.comparison {
        s.push_str(&format!(
            "against {}: allows {} syscalls ({} there); {} beyond it{}{}; {} below it\n",
            c.against,
            c.allowed,
            c.against_allowed,
            c.beyond.len(),
            if c.beyond.is_empty() { "" } else { ": " },
            c.beyond.join(" "),
            c.below.len()
        ));
    }
    s
}

/// How bad a profile that never allows `name` is, for the syscalls every profile needs.
fn missing_consequence(name: &str) -> (Severity, &'static str) {
    let exits = "processes cannot exit cleanly (exit loops, SIGSYS at exit)";
    let abort = "glibc's abort() cannot signal itself and ends in SIGSEGV instead of SIGABRT (a misreported crash)";
    match name {
        "execve" => (Severity::High, "the runtime cannot start the workload"),
        "exit" | "exit_group" => (Severity::High, exits),
        "rt_sigreturn" => (
            Severity::High,
            "every return from a signal handler crashes the process (SIGSEGV); a recording sees it only when a handler ran",
        ),
        "futex" => (
            Severity::High,
            "glibc's locks wait through it when threads contend and abort when it fails: a threaded program dies under load; a recording at low load may never see it",
        ),
        "clock_gettime" => (
            Severity::Medium,
            "the vDSO answers it on most machines; where it falls back to the syscall (Xen, Hyper-V, a TSC found unstable after a live migration) every clock read fails",
        ),
        "restart_syscall" => (
            Severity::Medium,
            "a sleep interrupted by SIGSTOP/SIGCONT, a cgroup freeze (docker pause) or a debugger fails with EPERM when resumed",
        ),
        "gettid" | "getpid" => (Severity::Low, abort),
        "tgkill" => (
            Severity::Low,
            "glibc's abort() cannot raise SIGABRT and ends in SIGSEGV (a misreported crash); allow it for SIGABRT (argument 2 == 6) at least",
        ),
        // A syscall added to REQUIRED without a consequence here still gets a finding.
        _ => (
            Severity::Medium,
            "every profile syscage generates allows it",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::seccomp::{Target, parse, resolve};
    use oci_spec::runtime::Arch;
    use std::path::Path;

    fn filter(text: &str) -> ResolvedFilter {
        let (p, _) = parse(text.as_bytes(), Path::new("t.json")).unwrap();
        let t = Target {
            arch: Arch::ScmpArchX86_64,
            caps: Default::default(),
            kernel: (6, 18),
        };
        resolve(&p, &t, Path::new("t.json")).unwrap()
    }

    #[test]
    fn every_syscall_generate_requires_has_its_own_consequence() {
        let (_, fallback) = missing_consequence("none_such");
        for (name, _) in REQUIRED {
            assert_ne!(missing_consequence(name).1, fallback, "{name}");
        }
    }

    #[test]
    fn flags_dangerous_and_missing_and_eperm_fallbacks() {
        let f = filter(
            r#"{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86"],
            "syscalls":[{"names":["read","keyctl","clone","exit_group"],"action":"SCMP_ACT_ALLOW"}]}"#,
        );
        let findings = lint(&f, Arch::ScmpArchX86_64);
        let has = |code: &str, sys: Option<&str>| {
            findings
                .iter()
                .any(|x| x.code == code && x.syscall.as_deref() == sys)
        };
        assert!(has("dangerous-syscall", Some("keyctl")));
        assert!(has("unrestricted-args", Some("clone")));
        assert!(has("missing-required", Some("execve")));
        assert!(!has("missing-required", Some("exit_group")));
        assert!(has("missing-required", Some("rt_sigreturn")));
        assert!(has("missing-required", Some("restart_syscall")));
        assert!(has("missing-required", Some("clock_gettime")));
        assert!(has("missing-required", Some("gettid")));
        assert!(has("missing-required", Some("tgkill")));
        // futex is required since generate adds it to every profile: check said nothing.
        assert!(findings.iter().any(|x| x.code == "missing-required"
            && x.syscall.as_deref() == Some("futex")
            && x.severity == Severity::High));
        assert!(has("eperm-fallback", Some("clone3")));
        assert!(has("extra-abi", None));
        assert_eq!(findings[0].severity, Severity::High, "sorted by severity");
    }

    #[test]
    fn docker_default_passes_its_own_rules_and_compares_to_itself() {
        let text = include_str!("../../profiles/docker-default.json");
        let f = filter(text);
        let findings = lint(&f, Arch::ScmpArchX86_64);
        // Docker keeps clone restricted, clone3 at ENOSYS, and denies the dangerous set for a
        // process without capabilities; it does allow ptrace (kernel >= 4.8) and personality
        // only for known values.
        assert!(
            !findings
                .iter()
                .any(|x| x.syscall.as_deref() == Some("clone"))
        );
        assert!(!findings.iter().any(|x| x.code == "missing-required"));
        assert!(
            findings
                .iter()
                .any(|x| x.syscall.as_deref() == Some("ptrace") && x.severity == Severity::High)
        );
        let universe = BTreeSet::new();
        let c = compare(&f, &f, "itself", &universe);
        assert!(c.beyond.is_empty() && c.below.is_empty());
        assert!(c.allowed > 300);
    }

    #[test]
    fn allow_by_default_profiles_are_flagged() {
        let f = filter(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["keyctl"],"action":"SCMP_ACT_ERRNO"}]}"#,
        );
        let findings = lint(&f, Arch::ScmpArchX86_64);
        assert!(findings.iter().any(|x| x.code == "allow-by-default"));
        assert!(findings.iter().any(|x| x.syscall.as_deref() == Some("bpf")));
        assert!(
            !findings
                .iter()
                .any(|x| x.syscall.as_deref() == Some("keyctl"))
        );
    }
}
