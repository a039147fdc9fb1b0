//! Seccomp: choose the profile, resolve it for this workload, compile it to BPF with libseccomp
//! (binary-tree optimisation, unlisted ABIs killed) in the parent, and load it in the child.
//! Compiled programs are cached by content (see `filter_cache`), so a start pays only a file read.

use std::collections::BTreeSet;
use std::io::{Read, Seek};
use std::path::{Path, PathBuf};

use libseccomp::{
    ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterAttr, ScmpFilterContext,
    ScmpSyscall,
};
use oci_spec::runtime::{Arch, LinuxSeccompFilterFlag, LinuxSeccompOperator};

use super::SandboxError;
pub use super::compiled::CompiledFilter;
use super::filter_cache;
use crate::profile::seccomp::{
    self, Action, ArgCmp, ProfileError, ResolvedFilter, Target, arch_name, known_syscall,
};
use crate::profile::watch;

/// Docker's default profile (moby/profiles `seccomp/default.json`), built in so that `run` with no
/// options is already confined. Provenance in `profiles/README.md`.
pub const BUILTIN_PROFILE: &str = include_str!("../../profiles/docker-default.json");
pub const BUILTIN_NAME: &str = "builtin:docker-default";

/// Which seccomp profile a run uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SeccompChoice {
    Builtin,
    File(PathBuf),
    Unconfined,
}

/// The seccomp arch of this build, and the target the profile is resolved for.
pub fn native_arch() -> Arch {
    match std::env::consts::ARCH {
        "x86" => Arch::ScmpArchX86,
        "aarch64" => Arch::ScmpArchAarch64,
        "arm" => Arch::ScmpArchArm,
        "riscv64" => Arch::ScmpArchRiscv64,
        "s390x" => Arch::ScmpArchS390x,
        "powerpc64" => Arch::ScmpArchPpc64le,
        "loongarch64" => Arch::ScmpArchLoongarch64,
        _ => Arch::ScmpArchX86_64,
    }
}

fn kernel_release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// The chosen profile's name and bytes; `None` for unconfined.
fn source(choice: &SeccompChoice) -> Result<Option<(String, Vec<u8>)>, SandboxError> {
    Ok(Some(match choice {
        SeccompChoice::Unconfined => return Ok(None),
        SeccompChoice::Builtin => (BUILTIN_NAME.into(), BUILTIN_PROFILE.as_bytes().to_vec()),
        SeccompChoice::File(path) => {
            let bytes = std::fs::read(path).map_err(|source| ProfileError::Read {
                path: path.clone(),
                source,
            })?;
            (path.display().to_string(), bytes)
        }
    }))
}

/// What a profile is resolved for on this machine, for a workload keeping `caps`.
pub fn target(caps: BTreeSet<String>) -> Target {
    Target {
        arch: native_arch(),
        caps,
        kernel: seccomp::parse_kernel(&kernel_release()).unwrap_or((0, 0)),
    }
}

/// Parses, resolves and compiles the chosen profile for a workload keeping `caps` (`CAP_*` names).
pub fn prepare(
    choice: &SeccompChoice,
    caps: &BTreeSet<String>,
) -> Result<Option<CompiledFilter>, SandboxError> {
    let Some((name, bytes)) = source(choice)? else {
        return Ok(None);
    };
    let target = target(caps.clone());
    let key = cache_key(&target, caps, &bytes, "run");
    if let Some(hit) = filter_cache::lookup(&key) {
        return Ok(Some(name_entries(hit, &name)));
    }
    let path = Path::new(&name);
    let (resolved, program, warnings, rules) = validate(&bytes, path, &target)?;
    let compiled = CompiledFilter {
        program,
        load_flags: load_flags(&resolved.flags),
        summary: format!(
            "{}; {rules} rules; default {}",
            resolved
                .arches
                .iter()
                .map(|a| arch_name(*a)
                    .trim_start_matches("SCMP_ARCH_")
                    .to_ascii_lowercase())
                .collect::<Vec<_>>()
                .join(", "),
            resolved.default_action
        ),
        warnings,
    };
    filter_cache::store(&key, &compiled);
    Ok(Some(name_entries(compiled, &name)))
}

/// Everything the compiled program depends on, for the cache (`use_` tells plain runs from each
/// watch mode, whose programs differ).
fn cache_key(target: &Target, caps: &BTreeSet<String>, bytes: &[u8], use_: &str) -> Vec<u8> {
    filter_cache::key(&[
        env!("CARGO_PKG_VERSION").as_bytes(),
        &filter_cache::build_id(),
        libseccomp_version().as_bytes(),
        arch_name(target.arch).as_bytes(),
        format!("{:?}", target.kernel).as_bytes(),
        caps.iter()
            .cloned()
            .collect::<Vec<_>>()
            .join(",")
            .as_bytes(),
        bytes,
        use_.as_bytes(),
    ])
}

/// Everything `run` checks in a profile before it starts anything: parse (with the warnings
/// for fields it does not know), resolve for `target`, compile. Returns the resolved filter,
/// the program, every warning `run` prints and the number of rules. `check` calls the same, so
/// the CI gate fails on whatever `run` refuses and warns on whatever it warns about.
pub fn validate(
    bytes: &[u8],
    path: &Path,
    target: &Target,
) -> Result<(ResolvedFilter, Vec<u8>, Vec<String>, usize), SandboxError> {
    let (profile, mut warnings) = seccomp::parse(bytes, path)?;
    let resolved = seccomp::resolve(&profile, target, path)?;
    let (program, compile_warnings, rules) = compile(&resolved, path)?;
    warnings.extend(compile_warnings);
    // A profile made for the agent (`oci apply/profile --agent`): loaded as it is, nothing holds
    // its listener, and the kernel fails every routed call with ENOSYS.
    let routed = resolved
        .rules
        .iter()
        .filter(|r| r.action == Action::Notify)
        .count();
    if routed > 0 || resolved.default_action == Action::Notify {
        warnings.push(format!(
            "{} to a seccomp listener (SCMP_ACT_NOTIFY) that nothing serves here: they fail with ENOSYS. It was made for `syscage agent`; run the original profile, or use --monitor/--learn",
            if resolved.default_action == Action::Notify {
                "the default action sends every unlisted syscall".to_string()
            } else {
                format!("{routed} rules send their syscalls")
            }
        ));
    }
    Ok((resolved, program, warnings, rules))
}

/// The filter for `run --monitor/--learn` with the chosen profile: its denials routed to the
/// supervisor (`profile::watch`), and what the supervisor answers. The answers need the
/// resolved profile; the compiled program, the costly part, is cached as `run`'s is.
pub fn prepare_watch(
    choice: &SeccompChoice,
    caps: &BTreeSet<String>,
    mode: watch::Mode,
) -> Result<(CompiledFilter, watch::Watch), SandboxError> {
    let Some((name, bytes)) = source(choice)? else {
        return Err(SandboxError::Message(format!(
            "--{} needs a seccomp profile to watch, not --seccomp unconfined",
            mode.name()
        )));
    };
    let target = target(caps.clone());
    let path = Path::new(&name);
    let (profile, mut warnings) = seccomp::parse(&bytes, path)?;
    let resolved = seccomp::resolve(&profile, &target, path)?;
    let (routed, w) = watch::prepare(&resolved, mode);
    let key = cache_key(&target, caps, &bytes, mode.name());
    // Its warnings, the parse's included, depend only on what the key holds.
    if let Some(hit) = filter_cache::lookup(&key) {
        return Ok((name_entries(hit, &name), w));
    }
    let (program, compile_warnings, rules) = compile(&routed, path)?;
    warnings.extend(compile_warnings);
    let compiled = CompiledFilter {
        program,
        load_flags: load_flags(&resolved.flags)
            | super::sys::SECCOMP_FILTER_FLAG_NEW_LISTENER
            // A signal syscage sends (trap) must not interrupt the wait for its own answer.
            | if target.kernel >= (5, 19) {
                super::sys::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
            } else {
                0
            },
        summary: format!(
            "{rules} rules; default {}, whose denials go to syscage ({} mode)",
            resolved.default_action,
            mode.name()
        ),
        warnings,
    };
    filter_cache::store(&key, &compiled);
    Ok((name_entries(compiled, &name), w))
}

/// Cached entries are shared by identical profiles under different names; name them per use.
fn name_entries(mut f: CompiledFilter, name: &str) -> CompiledFilter {
    f.summary = format!("{name} ({})", f.summary);
    f.warnings = f.warnings.iter().map(|w| format!("{name}: {w}")).collect();
    f
}

fn libseccomp_version() -> String {
    libseccomp::ScmpVersion::current()
        .map(|v| format!("{}.{}.{}", v.major, v.minor, v.micro))
        .unwrap_or_default()
}

fn load_flags(flags: &[LinuxSeccompFilterFlag]) -> u32 {
    flags
        .iter()
        .map(|f| match f {
            LinuxSeccompFilterFlag::SeccompFilterFlagLog => 2,
            LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow => 4,
            // TSYNC is moot for a single-threaded child; WAIT_KILLABLE_RECV only concerns notify.
            LinuxSeccompFilterFlag::SeccompFilterFlagTsync
            | LinuxSeccompFilterFlag::SeccompFilterFlagWaitKillableRecv => 0,
        })
        .fold(0, |a, b| a | b)
}

fn scmp_action(a: Action) -> ScmpAction {
    match a {
        Action::KillProcess => ScmpAction::KillProcess,
        Action::KillThread => ScmpAction::KillThread,
        Action::Trap => ScmpAction::Trap,
        Action::Errno(e) => ScmpAction::Errno(i32::from(e)),
        Action::Trace(v) => ScmpAction::Trace(v),
        Action::Log => ScmpAction::Log,
        Action::Allow => ScmpAction::Allow,
        Action::Notify => ScmpAction::Notify,
    }
}

fn scmp_arch(a: Arch) -> Option<ScmpArch> {
    arch_name(a).parse().ok()
}

fn scmp_cmp(a: &ArgCmp) -> ScmpArgCompare {
    let (op, datum) = match a.op {
        LinuxSeccompOperator::ScmpCmpNe => (ScmpCompareOp::NotEqual, a.value),
        LinuxSeccompOperator::ScmpCmpLt => (ScmpCompareOp::Less, a.value),
        LinuxSeccompOperator::ScmpCmpLe => (ScmpCompareOp::LessOrEqual, a.value),
        LinuxSeccompOperator::ScmpCmpEq => (ScmpCompareOp::Equal, a.value),
        LinuxSeccompOperator::ScmpCmpGe => (ScmpCompareOp::GreaterEqual, a.value),
        LinuxSeccompOperator::ScmpCmpGt => (ScmpCompareOp::Greater, a.value),
        // OCI: `value` is the mask and `valueTwo` the value compared after masking.
        LinuxSeccompOperator::ScmpCmpMaskedEq => (ScmpCompareOp::MaskedEqual(a.value), a.value_two),
    };
    ScmpArgCompare::new(a.index, op, datum)
}

fn seccomp_err(path: &Path, location: &str, what: String) -> SandboxError {
    SandboxError::Profile(ProfileError::Invalid {
        path: path.to_owned(),
        location: location.to_owned(),
        message: what,
    })
}

/// Compiles a resolved filter to a BPF program. Returns the program, warnings and the number of
/// rules that made it into the filter.
pub fn compile(
    filter: &ResolvedFilter,
    path: &Path,
) -> Result<(Vec<u8>, Vec<String>, usize), SandboxError> {
    let fail = |what: &str, e: libseccomp::error::SeccompError| {
        seccomp_err(path, "(filter)", format!("libseccomp: {what}: {e}"))
    };
    let mut ctx = ScmpFilterContext::new(scmp_action(filter.default_action))
        .map_err(|e| fail("creating the filter", e))?;
    // An ABI the profile does not list is attack surface the workload never needed: kill it.
    ctx.set_act_badarch(ScmpAction::KillProcess)
        .map_err(|e| fail("setting the bad-arch action", e))?;
    // Binary tree: flat cost for argument-checked syscalls in large profiles.
    ctx.set_filter_attr(ScmpFilterAttr::CtlOptimize, 2)
        .map_err(|e| fail("enabling the binary-tree optimisation", e))?;
    ctx.set_ctl_nnp(false)
        .map_err(|e| fail("leaving no_new_privs to the launcher", e))?;
    for arch in &filter.arches {
        let a = scmp_arch(*arch).ok_or_else(|| {
            seccomp_err(
                path,
                "architectures",
                format!("{} is not supported by libseccomp", arch_name(*arch)),
            )
        })?;
        ctx.add_arch(a)
            .map_err(|e| fail(&format!("adding {}", arch_name(*arch)), e))?;
    }
    let mut warnings = Vec::new();
    let mut unknown: BTreeSet<&str> = BTreeSet::new();
    let mut added = 0;
    for rule in &filter.rules {
        let sys = match ScmpSyscall::from_name(&rule.name) {
            Ok(s) => s,
            Err(_) if known_syscall(&rule.name) => {
                unknown.insert(&rule.name);
                continue;
            }
            Err(_) => {
                return Err(SandboxError::Profile(ProfileError::UnknownSyscall {
                    path: path.to_owned(),
                    location: rule.location.clone(),
                    name: rule.name.clone(),
                }));
            }
        };
        let cmps: Vec<ScmpArgCompare> = rule.args.iter().map(scmp_cmp).collect();
        match ctx.add_rule_conditional(scmp_action(rule.action), sys, &cmps) {
            Ok(_) => added += 1,
            Err(e) if e.errno() == Some(libseccomp::error::SeccompErrno::EEXIST) => {
                warnings.push(format!(
                    "{}: \"{}\" ({}) conflicts with an earlier rule for the same syscall; the earlier rule wins",
                    rule.location, rule.name, rule.action
                ));
            }
            Err(e) => {
                return Err(seccomp_err(
                    path,
                    &rule.location,
                    format!("libseccomp rejected the rule for \"{}\": {e}", rule.name),
                ));
            }
        }
    }
    if !unknown.is_empty() {
        warnings.push(format!(
            "{} syscalls unknown to libseccomp {} were skipped (the default action applies to them): {}",
            unknown.len(),
            libseccomp_version(),
            unknown.into_iter().collect::<Vec<_>>().join(", ")
        ));
    }
    let program = export(&ctx)
        .map_err(|e| seccomp_err(path, "(filter)", format!("exporting the BPF program: {e}")))?;
    Ok((program, warnings, added))
}

pub(crate) fn export(ctx: &ScmpFilterContext) -> std::io::Result<Vec<u8>> {
    let fd = nix::sys::memfd::memfd_create(c"syscage-bpf", nix::sys::memfd::MFdFlags::MFD_CLOEXEC)?;
    let mut file = std::fs::File::from(fd);
    ctx.export_bpf(&file).map_err(std::io::Error::other)?;
    file.rewind()?;
    let mut program = Vec::new();
    file.read_to_end(&mut program)?;
    Ok(program)
}
