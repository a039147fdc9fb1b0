//! Docker and OCI seccomp JSON: the document types, a parser whose errors name the file, line and
//! column, and `resolve`, which evaluates Docker's conditional rules (`includes`/`excludes` on caps,
//! arches and kernel version, `archMap`) for one target into a flat list of rules.
//!
//! Pure: no syscalls. Compiling the result to BPF lives in `sandbox::filter`.

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

use oci_spec::runtime::{Arch, LinuxSeccompAction, LinuxSeccompFilterFlag, LinuxSeccompOperator};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Docker's seccomp profile, a superset of the OCI runtime-spec `linux.seccomp` object.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SeccompProfile {
    /// What the profile cannot hold, said where its users look (an attached recording's
    /// missing start-up). Runtimes ignore the key; `generate k8s` moves it to an annotation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    pub default_action: LinuxSeccompAction,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_errno_ret: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub architectures: Option<Vec<Arch>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arch_map: Option<Vec<ArchMapEntry>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flags: Option<Vec<LinuxSeccompFilterFlag>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listener_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listener_metadata: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub syscalls: Option<Vec<SyscallRule>>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ArchMapEntry {
    pub architecture: Arch,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_architectures: Option<Vec<Arch>>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SyscallRule {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub names: Option<Vec<String>>,
    /// Docker's older single-name form.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub action: LinuxSeccompAction,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errno_ret: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<Vec<SyscallArg>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub includes: Option<Condition>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub excludes: Option<Condition>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SyscallArg {
    pub index: u32,
    pub value: u64,
    #[serde(default)]
    pub value_two: u64,
    pub op: LinuxSeccompOperator,
}

/// Docker's `includes`/`excludes`: a rule applies when every listed cap is held (includes) or
/// none is (excludes), the native arch is (not) listed, and the kernel is at least (below) minKernel.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caps: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arches: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_kernel: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("{path}: cannot read seccomp profile: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}:{line}:{column}: {message}")]
    Syntax {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{path}: {location}: {message}")]
    Invalid {
        path: PathBuf,
        location: String,
        message: String,
    },
    #[error(
        "{path}: {location}: unknown syscall \"{name}\" (not a syscall on any architecture syscage or libseccomp knows)"
    )]
    UnknownSyscall {
        path: PathBuf,
        location: String,
        name: String,
    },
}

/// What a profile is resolved for: the native arch, the capabilities the workload keeps
/// (as `CAP_*` names), and the running kernel's version.
#[derive(Debug, Clone)]
pub struct Target {
    pub arch: Arch,
    pub caps: BTreeSet<String>,
    pub kernel: (u32, u32),
}

/// A seccomp action with its data, as the kernel sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Action {
    KillProcess,
    KillThread,
    Trap,
    Errno(u16),
    Trace(u16),
    Log,
    Allow,
    Notify,
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::KillProcess => f.write_str("kill process"),
            Action::KillThread => f.write_str("kill thread"),
            Action::Trap => f.write_str("trap"),
            Action::Errno(e) => write!(f, "errno {e} ({})", errno_name(*e)),
            Action::Trace(v) => write!(f, "trace {v}"),
            Action::Log => f.write_str("log"),
            Action::Allow => f.write_str("allow"),
            Action::Notify => f.write_str("notify"),
        }
    }
}

/// Short names of the errno values profiles use, for messages.
pub fn errno_name(e: u16) -> &'static str {
    match e {
        1 => "EPERM",
        13 => "EACCES",
        22 => "EINVAL",
        38 => "ENOSYS",
        _ => "errno",
    }
}

/// One argument comparison, `args[index] op value` (for MASKED_EQ: `args[index] & value == value_two`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArgCmp {
    pub index: u32,
    pub op: LinuxSeccompOperator,
    pub value: u64,
    pub value_two: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResolvedRule {
    pub name: String,
    pub action: Action,
    pub args: Vec<ArgCmp>,
    /// Where the rule came from, e.g. `syscalls[3].names[7]`, for messages.
    pub location: String,
}

/// A profile evaluated for one target: what a BPF compiler needs, nothing conditional left.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResolvedFilter {
    pub default_action: Action,
    pub arches: Vec<Arch>,
    pub flags: Vec<LinuxSeccompFilterFlag>,
    pub rules: Vec<ResolvedRule>,
}

/// Reads and parses a profile file.
pub fn load(path: &Path) -> Result<(SeccompProfile, Vec<String>), ProfileError> {
    let bytes = std::fs::read(path).map_err(|source| ProfileError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse(&bytes, path)
}

/// Parses a Docker seccomp profile, an OCI `linux.seccomp` object, or a whole OCI `config.json`
/// (its `linux.seccomp`). Returns the profile and warnings about fields syscage does not know,
/// because a misspelt `args` would otherwise silently allow every argument.
pub fn parse(bytes: &[u8], path: &Path) -> Result<(SeccompProfile, Vec<String>), ProfileError> {
    let syntax = |e: serde_json::Error| ProfileError::Syntax {
        path: path.to_owned(),
        line: e.line(),
        column: e.column(),
        message: strip_position(&e.to_string()),
    };
    let value: Value = serde_json::from_slice(bytes).map_err(syntax)?;
    let (profile, value) = match serde_json::from_slice::<SeccompProfile>(bytes) {
        Ok(p) => (p, value),
        Err(first) => match value.pointer("/linux/seccomp") {
            // A whole config.json: positions inside it are lost, so re-parse only that object.
            Some(inner) if value.get("defaultAction").is_none() => {
                let text = serde_json::to_vec(inner).unwrap_or_default();
                let p = serde_json::from_slice::<SeccompProfile>(&text).map_err(|e| {
                    ProfileError::Invalid {
                        path: path.to_owned(),
                        location: "linux.seccomp".into(),
                        message: strip_position(&e.to_string()),
                    }
                })?;
                (p, inner.clone())
            }
            _ => return Err(syntax(first)),
        },
    };
    let mut warnings = Vec::new();
    lint_unknown_fields(&value, &mut warnings);
    validate(&profile, path)?;
    Ok((profile, warnings))
}

fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

const TOP_FIELDS: &[&str] = &[
    "defaultAction",
    "defaultErrnoRet",
    "defaultErrno",
    "architectures",
    "archMap",
    "flags",
    "listenerPath",
    "listenerMetadata",
    "syscalls",
    "comment",
];
// "errno" is containers/common's symbolic twin of errnoRet (informational; errnoRet counts).
const RULE_FIELDS: &[&str] = &[
    "names", "name", "action", "errnoRet", "errno", "args", "comment", "includes", "excludes",
];
const ARG_FIELDS: &[&str] = &["index", "value", "valueTwo", "op"];
const COND_FIELDS: &[&str] = &["caps", "arches", "minKernel"];

fn lint_unknown_fields(value: &Value, warnings: &mut Vec<String>) {
    let mut check = |v: &Value, known: &[&str], at: &str| {
        if let Some(obj) = v.as_object() {
            for key in obj.keys().filter(|k| !known.contains(&k.as_str())) {
                warnings.push(format!("{at}: unknown field \"{key}\" ignored"));
            }
        }
    };
    check(value, TOP_FIELDS, "(top level)");
    let Some(rules) = value.get("syscalls").and_then(Value::as_array) else {
        return;
    };
    for (i, rule) in rules.iter().enumerate() {
        check(rule, RULE_FIELDS, &format!("syscalls[{i}]"));
        if let Some(args) = rule.get("args").and_then(Value::as_array) {
            for (j, arg) in args.iter().enumerate() {
                check(arg, ARG_FIELDS, &format!("syscalls[{i}].args[{j}]"));
            }
        }
        for key in ["includes", "excludes"] {
            if let Some(c) = rule.get(key) {
                check(c, COND_FIELDS, &format!("syscalls[{i}].{key}"));
            }
        }
    }
}

fn validate(profile: &SeccompProfile, path: &Path) -> Result<(), ProfileError> {
    let invalid = |location: String, message: String| ProfileError::Invalid {
        path: path.to_owned(),
        location,
        message,
    };
    if profile
        .architectures
        .as_ref()
        .is_some_and(|a| !a.is_empty())
        && profile.arch_map.as_ref().is_some_and(|a| !a.is_empty())
    {
        return Err(invalid(
            "(top level)".into(),
            "both \"architectures\" and \"archMap\" are given; use one".into(),
        ));
    }
    action_of(
        profile.default_action,
        profile.default_errno_ret,
        || "defaultAction".into(),
        path,
    )?;
    if profile.default_action == LinuxSeccompAction::ScmpActNotify {
        return Err(invalid(
            "defaultAction".into(),
            "SCMP_ACT_NOTIFY as the default action would stop every syscall, including the runtime's own".into(),
        ));
    }
    for (i, rule) in profile.syscalls.iter().flatten().enumerate() {
        let names = rule_names(rule);
        if names.is_empty() {
            return Err(invalid(
                format!("syscalls[{i}]"),
                "rule has no \"names\" (or \"name\")".into(),
            ));
        }
        for (j, name) in names.iter().enumerate() {
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                return Err(invalid(
                    format!("syscalls[{i}].names[{j}]"),
                    format!("\"{name}\" is not a syscall name"),
                ));
            }
        }
        action_of(
            rule.action,
            rule.errno_ret,
            || format!("syscalls[{i}].action"),
            path,
        )?;
        if rule.action == LinuxSeccompAction::ScmpActNotify && profile.listener_path.is_none() {
            return Err(invalid(
                format!("syscalls[{i}].action"),
                "SCMP_ACT_NOTIFY needs a \"listenerPath\" for the seccomp agent".into(),
            ));
        }
        for (j, arg) in rule.args.iter().flatten().enumerate() {
            if arg.index > 5 {
                return Err(invalid(
                    format!("syscalls[{i}].args[{j}].index"),
                    format!("argument index {} is out of range 0..=5", arg.index),
                ));
            }
        }
        for (key, cond) in [("includes", &rule.includes), ("excludes", &rule.excludes)] {
            if let Some(k) = cond.as_ref().and_then(|c| c.min_kernel.as_deref())
                && parse_kernel(k).is_none()
            {
                return Err(invalid(
                    format!("syscalls[{i}].{key}.minKernel"),
                    format!("\"{k}\" is not a kernel version like \"4.8\""),
                ));
            }
        }
    }
    Ok(())
}

pub(crate) fn rule_names(rule: &SyscallRule) -> Vec<&String> {
    rule.names
        .iter()
        .flatten()
        .chain(rule.name.iter())
        .collect()
}

/// Converts an OCI action and its `errnoRet` to a kernel action.
fn action_of(
    action: LinuxSeccompAction,
    errno_ret: Option<u32>,
    at: impl Fn() -> String,
    path: &Path,
) -> Result<Action, ProfileError> {
    let ret = |default: u32| -> Result<u16, ProfileError> {
        let v = errno_ret.unwrap_or(default);
        // The kernel caps SECCOMP_RET_DATA used as an errno at MAX_ERRNO.
        if v > 4095 {
            return Err(ProfileError::Invalid {
                path: path.to_owned(),
                location: at(),
                message: format!("errno {v} is out of range 0..=4095"),
            });
        }
        Ok(v as u16)
    };
    Ok(match action {
        LinuxSeccompAction::ScmpActKill | LinuxSeccompAction::ScmpActKillThread => {
            Action::KillThread
        }
        LinuxSeccompAction::ScmpActKillProcess => Action::KillProcess,
        LinuxSeccompAction::ScmpActTrap => Action::Trap,
        LinuxSeccompAction::ScmpActErrno => Action::Errno(ret(libc::EPERM as u32)?),
        LinuxSeccompAction::ScmpActNotify => Action::Notify,
        LinuxSeccompAction::ScmpActTrace => Action::Trace(ret(0)?),
        LinuxSeccompAction::ScmpActLog => Action::Log,
        LinuxSeccompAction::ScmpActAllow => Action::Allow,
    })
}

/// "4.8" or "5.10.0-rc1" → (4, 8).
pub fn parse_kernel(s: &str) -> Option<(u32, u32)> {
    let mut parts = s.split(['.', '-', '+']);
    let major = parts.next()?.parse().ok()?;
    let minor = parts
        .next()
        .map(|m| {
            m.chars()
                .take_while(char::is_ascii_digit)
                .collect::<String>()
        })
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    Some((major, minor))
}

/// Go's GOARCH for a seccomp arch: Docker's `includes.arches` are written in Go's names.
pub fn go_arch(arch: Arch) -> &'static str {
    match arch {
        Arch::ScmpArchX86_64 => "amd64",
        Arch::ScmpArchX86 => "386",
        Arch::ScmpArchX32 => "x32",
        Arch::ScmpArchAarch64 => "arm64",
        Arch::ScmpArchArm => "arm",
        Arch::ScmpArchPpc64le => "ppc64le",
        Arch::ScmpArchPpc64 => "ppc64",
        Arch::ScmpArchS390x => "s390x",
        Arch::ScmpArchS390 => "s390",
        Arch::ScmpArchRiscv64 => "riscv64",
        Arch::ScmpArchLoongarch64 => "loong64",
        Arch::ScmpArchMips64 => "mips64",
        Arch::ScmpArchMipsel64 => "mips64le",
        Arch::ScmpArchMips => "mips",
        Arch::ScmpArchMipsel => "mipsle",
        _ => "unknown",
    }
}

/// The libseccomp/OCI spelling of an arch, e.g. `SCMP_ARCH_X86_64`.
pub fn arch_name(arch: Arch) -> String {
    serde_json::to_value(arch)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| format!("{arch:?}"))
}

/// Normalises a capability name to Docker's `CAP_*` spelling.
pub fn cap_name(name: &str) -> String {
    let upper = name.trim().to_ascii_uppercase();
    if upper.starts_with("CAP_") {
        upper
    } else {
        format!("CAP_{upper}")
    }
}

impl Condition {
    fn is_empty(&self) -> bool {
        self.caps.as_ref().is_none_or(Vec::is_empty)
            && self.arches.as_ref().is_none_or(Vec::is_empty)
            && self.min_kernel.is_none()
    }
}

/// Evaluates the profile for `target`: conditions, archMap, per-rule actions, runc's split of
/// repeated argument indexes into separate rules, and drops rules equal to the default action.
pub fn resolve(
    profile: &SeccompProfile,
    target: &Target,
    path: &Path,
) -> Result<ResolvedFilter, ProfileError> {
    let default_action = action_of(
        profile.default_action,
        profile.default_errno_ret,
        || "defaultAction".into(),
        path,
    )?;
    let mut arches = vec![target.arch];
    let extra: Vec<Arch> = match (&profile.architectures, &profile.arch_map) {
        (Some(a), _) if !a.is_empty() => a.clone(),
        (_, Some(map)) => map
            .iter()
            .filter(|e| e.architecture == target.arch)
            .flat_map(|e| {
                std::iter::once(e.architecture).chain(e.sub_architectures.iter().flatten().copied())
            })
            .collect(),
        _ => Vec::new(),
    };
    for a in extra {
        if !arches.contains(&a) {
            arches.push(a);
        }
    }
    let native = go_arch(target.arch);
    let mut rules = Vec::new();
    for (i, rule) in profile.syscalls.iter().flatten().enumerate() {
        if let Some(inc) = rule.includes.as_ref().filter(|c| !c.is_empty()) {
            let caps_ok = inc
                .caps
                .iter()
                .flatten()
                .all(|c| target.caps.contains(&cap_name(c)));
            let arch_ok = inc
                .arches
                .as_ref()
                .is_none_or(|a| a.is_empty() || a.iter().any(|x| x == native));
            let kernel_ok = inc
                .min_kernel
                .as_deref()
                .and_then(parse_kernel)
                .is_none_or(|k| target.kernel >= k);
            if !(caps_ok && arch_ok && kernel_ok) {
                continue;
            }
        }
        if let Some(exc) = rule.excludes.as_ref().filter(|c| !c.is_empty()) {
            let caps_hit = exc
                .caps
                .iter()
                .flatten()
                .any(|c| target.caps.contains(&cap_name(c)));
            let arch_hit = exc.arches.iter().flatten().any(|x| x == native);
            let kernel_hit = exc
                .min_kernel
                .as_deref()
                .and_then(parse_kernel)
                .is_some_and(|k| target.kernel >= k);
            if caps_hit || arch_hit || kernel_hit {
                continue;
            }
        }
        let action = action_of(
            rule.action,
            rule.errno_ret,
            || format!("syscalls[{i}].action"),
            path,
        )?;
        if action == default_action {
            continue;
        }
        let args: Vec<ArgCmp> = rule
            .args
            .iter()
            .flatten()
            .map(|a| ArgCmp {
                index: a.index,
                op: a.op,
                value: a.value,
                value_two: a.value_two,
            })
            .collect();
        // libseccomp refuses one rule comparing the same argument twice; runc adds one rule per
        // comparison instead (an OR), and profiles are written for that behaviour.
        let repeated = args
            .iter()
            .enumerate()
            .any(|(k, a)| args[..k].iter().any(|b| b.index == a.index));
        let groups: Vec<Vec<ArgCmp>> = if repeated {
            args.iter().map(|a| vec![*a]).collect()
        } else {
            vec![args]
        };
        for (j, name) in rule_names(rule).into_iter().enumerate() {
            for g in &groups {
                rules.push(ResolvedRule {
                    name: name.clone(),
                    action,
                    args: g.clone(),
                    location: format!("syscalls[{i}].names[{j}]"),
                });
            }
        }
    }
    Ok(ResolvedFilter {
        default_action,
        arches,
        flags: profile.flags.clone().unwrap_or_default(),
        rules,
    })
}

impl Action {
    /// The OCI action and `errnoRet` for this action.
    pub fn to_oci(self) -> (LinuxSeccompAction, Option<u32>) {
        match self {
            Action::KillProcess => (LinuxSeccompAction::ScmpActKillProcess, None),
            Action::KillThread => (LinuxSeccompAction::ScmpActKillThread, None),
            Action::Trap => (LinuxSeccompAction::ScmpActTrap, None),
            Action::Errno(e) => (LinuxSeccompAction::ScmpActErrno, Some(u32::from(e))),
            Action::Trace(v) => (LinuxSeccompAction::ScmpActTrace, Some(u32::from(v))),
            Action::Log => (LinuxSeccompAction::ScmpActLog, None),
            Action::Allow => (LinuxSeccompAction::ScmpActAllow, None),
            Action::Notify => (LinuxSeccompAction::ScmpActNotify, None),
        }
    }
}

impl ResolvedFilter {
    /// The OCI runtime-spec `linux.seccomp` object for this filter (what Docker hands to runc):
    /// rules with the same action and arguments share one entry, in first-seen order.
    pub fn to_oci(&self) -> SeccompProfile {
        let mut groups: Vec<SyscallRule> = Vec::new();
        for r in &self.rules {
            let (action, errno_ret) = r.action.to_oci();
            let args: Option<Vec<SyscallArg>> = (!r.args.is_empty()).then(|| {
                r.args
                    .iter()
                    .map(|a| SyscallArg {
                        index: a.index,
                        value: a.value,
                        value_two: a.value_two,
                        op: a.op,
                    })
                    .collect()
            });
            match groups
                .iter_mut()
                .find(|g| g.action == action && g.errno_ret == errno_ret && g.args == args)
            {
                Some(g) => g.names.get_or_insert_with(Vec::new).push(r.name.clone()),
                None => groups.push(SyscallRule {
                    names: Some(vec![r.name.clone()]),
                    name: None,
                    action,
                    errno_ret,
                    args,
                    comment: None,
                    includes: None,
                    excludes: None,
                }),
            }
        }
        let (default_action, default_errno_ret) = self.default_action.to_oci();
        SeccompProfile {
            comment: None,
            default_action,
            default_errno_ret,
            architectures: Some(self.arches.clone()),
            arch_map: None,
            flags: (!self.flags.is_empty()).then(|| self.flags.clone()),
            listener_path: None,
            listener_metadata: None,
            syscalls: Some(groups),
        }
    }
}

/// Whether `name` is a syscall on any architecture in the `syscalls` crate's tables; used to tell a
/// typo (an error) from a syscall this libseccomp is merely too old to know (a warning).
pub fn known_syscall(name: &str) -> bool {
    use std::str::FromStr;
    syscalls::x86_64::Sysno::from_str(name).is_ok()
        || syscalls::x86::Sysno::from_str(name).is_ok()
        || syscalls::aarch64::Sysno::from_str(name).is_ok()
        || syscalls::arm::Sysno::from_str(name).is_ok()
        || syscalls::riscv64::Sysno::from_str(name).is_ok()
        || syscalls::powerpc::Sysno::from_str(name).is_ok()
        || syscalls::powerpc64::Sysno::from_str(name).is_ok()
        || syscalls::s390x::Sysno::from_str(name).is_ok()
        || syscalls::mips::Sysno::from_str(name).is_ok()
        || syscalls::mips64::Sysno::from_str(name).is_ok()
        || syscalls::loongarch64::Sysno::from_str(name).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(caps: &[&str]) -> Target {
        Target {
            arch: Arch::ScmpArchX86_64,
            caps: caps.iter().map(|c| c.to_string()).collect(),
            kernel: (6, 18),
        }
    }

    const DOCKER: &str = include_str!("../../profiles/docker-default.json");

    #[test]
    fn docker_default_resolves_for_no_caps() {
        let (p, warnings) = parse(DOCKER.as_bytes(), Path::new("d.json")).unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        let r = resolve(&p, &target(&[]), Path::new("d.json")).unwrap();
        assert_eq!(r.default_action, Action::Errno(1));
        assert_eq!(
            r.arches,
            vec![Arch::ScmpArchX86_64, Arch::ScmpArchX86, Arch::ScmpArchX32]
        );
        let find = |n: &str| r.rules.iter().filter(|x| x.name == n).collect::<Vec<_>>();
        assert_eq!(find("clone3")[0].action, Action::Errno(38));
        assert!(find("keyctl").is_empty(), "keyctl must stay denied");
        assert!(find("mount").is_empty(), "mount needs CAP_SYS_ADMIN");
        assert_eq!(find("read")[0].action, Action::Allow);
        // personality: three argument-restricted rules (plus more), never unconditional.
        assert!(find("personality").iter().all(|x| !x.args.is_empty()));
        // arch_prctl is included for amd64.
        assert_eq!(find("arch_prctl").len(), 1);
        // s390-only rules are excluded.
        assert!(find("s390_pci_mmio_read").is_empty());
    }

    #[test]
    fn caps_enable_docker_groups() {
        let (p, _) = parse(DOCKER.as_bytes(), Path::new("d.json")).unwrap();
        let r = resolve(&p, &target(&["CAP_SYS_ADMIN"]), Path::new("d.json")).unwrap();
        assert!(r.rules.iter().any(|x| x.name == "mount"));
        // With CAP_SYS_ADMIN clone3 is allowed instead of getting ENOSYS.
        let clone3: Vec<_> = r.rules.iter().filter(|x| x.name == "clone3").collect();
        assert_eq!(clone3.len(), 1);
        assert_eq!(clone3[0].action, Action::Allow);
    }

    #[test]
    fn syntax_errors_have_line_and_column() {
        let text = b"{\n  \"defaultAction\": \"SCMP_ACT_ERRNO\",\n  \"syscalls\": [ {\"names\": [\"read\"], \"action\": \"SCMP_ACT_NOPE\"} ]\n}";
        let err = parse(text, Path::new("p.json")).unwrap_err().to_string();
        assert!(err.starts_with("p.json:3:"), "{err}");
        assert!(err.contains("SCMP_ACT_NOPE"), "{err}");
        let err = parse(b"{\"defaultAction\": ", Path::new("q.json"))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("q.json:1:"), "{err}");
    }

    #[test]
    fn unknown_arch_is_an_error() {
        let text = br#"{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_VAX"]}"#;
        let err = parse(text, Path::new("a.json")).unwrap_err().to_string();
        assert!(err.contains("SCMP_ARCH_VAX"), "{err}");
    }

    #[test]
    fn repeated_arg_index_splits_rules() {
        let text = br#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["socket"],"action":"SCMP_ACT_ALLOW",
            "args":[{"index":0,"value":1,"op":"SCMP_CMP_EQ"},{"index":0,"value":2,"op":"SCMP_CMP_EQ"}]}]}"#;
        let (p, _) = parse(text, Path::new("s.json")).unwrap();
        let r = resolve(&p, &target(&[]), Path::new("s.json")).unwrap();
        assert_eq!(r.rules.len(), 2);
        assert!(r.rules.iter().all(|x| x.args.len() == 1));
    }

    #[test]
    fn misspelt_fields_warn() {
        let text = br#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["socket"],"action":"SCMP_ACT_ALLOW","arg":[]}]}"#;
        let (_, w) = parse(text, Path::new("s.json")).unwrap();
        assert_eq!(
            w,
            vec!["syscalls[0]: unknown field \"arg\" ignored".to_string()]
        );
    }

    #[test]
    fn oci_config_json_is_accepted() {
        let text = br#"{"ociVersion":"1.0.2","linux":{"seccomp":{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64"]}}}"#;
        let (p, _) = parse(text, Path::new("config.json")).unwrap();
        assert_eq!(p.default_action, LinuxSeccompAction::ScmpActAllow);
    }

    #[test]
    fn bad_values_are_named() {
        for (text, needle) in [
            (
                &br#"{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":99999}"#[..],
                "defaultAction",
            ),
            (
                br#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","args":[{"index":9,"value":0,"op":"SCMP_CMP_EQ"}]}]}"#,
                "syscalls[0].args[0].index",
            ),
            (
                br#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"action":"SCMP_ACT_ALLOW"}]}"#,
                "syscalls[0]",
            ),
            (
                br#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["re ad"],"action":"SCMP_ACT_ALLOW"}]}"#,
                "syscalls[0].names[0]",
            ),
        ] {
            let err = parse(text, Path::new("b.json")).unwrap_err().to_string();
            assert!(err.contains(needle), "{err}");
        }
    }

    #[test]
    fn known_syscalls_cover_other_arches() {
        for n in [
            "read",
            "chown32",
            "socketcall",
            "riscv_flush_icache",
            "arch_prctl",
        ] {
            assert!(known_syscall(n), "{n}");
        }
        assert!(!known_syscall("opne"));
    }

    #[test]
    fn oci_output_round_trips_through_resolve() {
        let (p, _) = parse(DOCKER.as_bytes(), Path::new("d.json")).unwrap();
        let t = target(&["CAP_KILL"]);
        let r = resolve(&p, &t, Path::new("d.json")).unwrap();
        let oci = r.to_oci();
        let text = serde_json::to_vec(&oci).unwrap();
        let (back, w) = parse(&text, Path::new("oci.json")).unwrap();
        assert!(w.is_empty());
        let again = resolve(&back, &t, Path::new("oci.json")).unwrap();
        assert_eq!(again.rules.len(), r.rules.len());
        assert_eq!(again.default_action, r.default_action);
        let names = |f: &ResolvedFilter| {
            f.rules
                .iter()
                .map(|x| (x.name.clone(), x.action, x.args.len()))
                .collect::<BTreeSet<_>>()
        };
        assert_eq!(names(&again), names(&r));
    }

    /// Thousands of corrupted variants of the real profiles: truncations, byte flips, spliced
    /// fragments. Parsing and resolving must return, never panic.
    #[test]
    fn mutated_profiles_never_panic() {
        let seeds = [
            DOCKER.as_bytes(),
            include_bytes!("../../tests/fixtures/containers-common-seccomp.json"),
        ];
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let tokens: [&[u8]; 8] = [
            b"{",
            b"}",
            b"[",
            b"\"",
            b"-1",
            b"99999999999999999999",
            b"null",
            b"\"SCMP_ACT_ERRNO\"",
        ];
        for _ in 0..3000 {
            let seed = seeds[(next() % 2) as usize];
            let mut bytes = seed.to_vec();
            for _ in 0..1 + next() % 4 {
                let at = (next() as usize) % bytes.len().max(1);
                match next() % 4 {
                    0 => bytes.truncate(at),
                    1 => {
                        if let Some(b) = bytes.get_mut(at) {
                            *b = next() as u8;
                        }
                    }
                    2 => {
                        let t = tokens[(next() % tokens.len() as u64) as usize];
                        bytes.splice(at..at, t.iter().copied());
                    }
                    _ => {
                        let end = (at + (next() % 64) as usize).min(bytes.len());
                        bytes.drain(at..end);
                    }
                }
            }
            if let Ok((p, _)) = parse(&bytes, Path::new("m.json")) {
                let _ = resolve(&p, &target(&["CAP_SYS_ADMIN"]), Path::new("m.json"));
            }
        }
    }

    #[test]
    fn kernel_versions_parse() {
        assert_eq!(parse_kernel("6.18.44-fc-v669"), Some((6, 18)));
        assert_eq!(parse_kernel("4.8"), Some((4, 8)));
        assert_eq!(parse_kernel("5"), Some((5, 0)));
        assert_eq!(parse_kernel("x"), None);
    }
}
