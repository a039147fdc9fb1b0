//! `syscage oci apply`: put a seccomp profile into an OCI bundle's config.json.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use crate::error::Error;
use crate::output;
use crate::profile::{oci, seccomp};

#[derive(Debug, Subcommand)]
pub enum OciCommand {
    /// Write a profile into a bundle's `linux.seccomp` (Docker profiles are resolved for the
    /// bundle's bounding capabilities, as Docker does); everything else in config.json is kept
    /// byte for byte, and the result is validated as an OCI runtime spec.
    Apply(ApplyArgs),
    /// Write a profile routed to `syscage agent` as a standalone OCI seccomp file, for runtimes
    /// that take one (podman: `--security-opt seccomp=FILE`, which passes listenerPath on).
    /// Resolved for Docker's and podman's default capabilities.
    Profile(ProfileArgs),
}

#[derive(Debug, Args)]
pub struct ProfileArgs {
    /// The profile: Docker or OCI seccomp JSON (e.g. from `syscage record`).
    #[arg(long, value_name = "PROFILE")]
    pub seccomp: PathBuf,
    /// The agent's socket (`syscage agent --socket`).
    #[arg(long, value_name = "SOCKET")]
    pub agent: PathBuf,
    /// The agent denies what the profile does not list, and reports it.
    #[arg(long, conflicts_with = "learn")]
    pub monitor: bool,
    /// The agent allows what the profile does not list (not enforced) and records it.
    #[arg(long)]
    pub learn: bool,
    /// Where to write the OCI seccomp JSON.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: PathBuf,
}

/// Docker's (and podman's) default capabilities: what a profile's `includes.caps` is resolved for
/// when no bundle says otherwise.
const DEFAULT_CAPS: [&str; 11] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_NET_BIND_SERVICE",
    "CAP_SETFCAP",
    "CAP_SETGID",
    "CAP_SETPCAP",
    "CAP_SETUID",
    "CAP_SYS_CHROOT",
];

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// The bundle directory (holding config.json).
    #[arg(long, value_name = "DIR")]
    pub bundle: PathBuf,
    /// The profile: Docker or OCI seccomp JSON (e.g. from `syscage record`).
    #[arg(long, value_name = "PROFILE")]
    pub seccomp: PathBuf,
    /// Route the syscalls the profile does not list to `syscage agent` listening at SOCKET
    /// (`linux.seccomp.listenerPath`), with --monitor or --learn. Every rule of the profile keeps
    /// its action; `write` is never routed (runc refuses it).
    #[arg(long, value_name = "SOCKET")]
    pub agent: Option<PathBuf>,
    /// With --agent: the agent denies them as the profile does, and reports them.
    #[arg(long, requires = "agent", conflicts_with = "learn")]
    pub monitor: bool,
    /// With --agent: the agent allows them (not enforced) and records them per container.
    #[arg(long, requires = "agent")]
    pub learn: bool,
}

fn invalid(path: &std::path::Path, e: impl std::fmt::Display) -> Error {
    Error::Input(format!(
        "{}: not a valid OCI runtime config: {e}",
        path.display()
    ))
}

/// The profile with the syscalls it does not list routed to the agent at `agent`, and a note
/// saying how many.
fn route(
    resolved: &seccomp::ResolvedFilter,
    agent: &std::path::Path,
    monitor: bool,
    learn: bool,
) -> Result<(seccomp::SeccompProfile, String), Error> {
    use crate::profile::watch::{self, Metadata, Mode};
    let mode = match (monitor, learn) {
        (true, false) => Mode::Monitor,
        (false, true) => Mode::Learn,
        _ => return Err(Error::Usage("--agent needs --monitor or --learn".into())),
    };
    if !agent.is_absolute() {
        return Err(Error::Usage(format!(
            "--agent {}: the runtime connects to it from the bundle's context: give an absolute path",
            agent.display()
        )));
    }
    // Each listed ABI's table, as the runtime's libseccomp knows it.
    let names = resolved
        .arches
        .iter()
        .filter_map(|arch| crate::model::Abi::from_seccomp_arch(*arch))
        .flat_map(|abi| abi.syscall_names())
        .filter(|n| libseccomp::ScmpSyscall::from_name(n).is_ok())
        .map(str::to_string)
        .collect();
    let (routed, n) = watch::route_to_agent(resolved, &names);
    let mut oci_profile = routed.to_oci();
    oci_profile.listener_path = Some(agent.display().to_string());
    oci_profile.listener_metadata = Some(
        Metadata {
            mode,
            default: resolved.default_action,
        }
        .encode(),
    );
    Ok((
        oci_profile,
        format!(
            "; {n} unlisted syscalls routed to the agent at {} ({} mode)",
            agent.display(),
            mode.name()
        ),
    ))
}

/// `oci profile`: the routed profile as a standalone file.
fn profile(a: ProfileArgs) -> Result<i32, Error> {
    let (profile, warnings) = seccomp::load(&a.seccomp)?;
    for w in warnings {
        eprintln!("syscage: warning: {}: {w}", a.seccomp.display());
    }
    let caps = DEFAULT_CAPS.iter().map(|c| c.to_string()).collect();
    let resolved = seccomp::resolve(&profile, &crate::sandbox::filter::target(caps), &a.seccomp)?;
    let (routed, note) = route(&resolved, &a.agent, a.monitor, a.learn)?;
    let text = serde_json::to_string_pretty(&routed).map_err(|e| invalid(&a.seccomp, e))?;
    output::write_atomic(&a.output, format!("{text}\n").as_bytes())?;
    eprintln!(
        "syscage: {}: written from {} ({} rules{note})",
        a.output.display(),
        a.seccomp.display(),
        resolved.rules.len()
    );
    Ok(0)
}

pub fn run(cmd: OciCommand) -> Result<i32, Error> {
    let a = match cmd {
        OciCommand::Apply(a) => a,
        OciCommand::Profile(p) => return profile(p),
    };
    let config = a.bundle.join("config.json");
    let text = std::fs::read_to_string(&config).map_err(|source| Error::Io {
        path: config.clone(),
        source,
    })?;
    let spec: oci_spec::runtime::Spec = serde_json::from_str(&text).map_err(|e| {
        Error::Input(format!(
            "{}:{}:{}: {e}",
            config.display(),
            e.line(),
            e.column()
        ))
    })?;
    let caps = spec
        .process()
        .as_ref()
        .and_then(|p| p.capabilities().as_ref())
        .and_then(|c| c.bounding().clone())
        .unwrap_or_default()
        .iter()
        .map(|c| seccomp::cap_name(&c.to_string()))
        .collect();
    let (profile, warnings) = seccomp::load(&a.seccomp)?;
    for w in warnings {
        eprintln!("syscage: warning: {}: {w}", a.seccomp.display());
    }
    let resolved = seccomp::resolve(&profile, &crate::sandbox::filter::target(caps), &a.seccomp)?;
    let mut oci_profile = resolved.to_oci();
    let mut routed_note = String::new();
    if let Some(agent) = &a.agent {
        let (routed, note) = route(&resolved, agent, a.monitor, a.learn)?;
        oci_profile = routed;
        routed_note = note;
    }
    let value = serde_json::to_value(oci_profile).map_err(|e| invalid(&a.seccomp, e))?;
    let updated = oci::set_seccomp(&text, &value).map_err(|e| invalid(&config, e))?;
    // Validate what we are about to write: it must still be an OCI config with our profile.
    let check: oci_spec::runtime::Spec =
        serde_json::from_str(&updated).map_err(|e| invalid(&config, e))?;
    if check
        .linux()
        .as_ref()
        .and_then(|l| l.seccomp().as_ref())
        .is_none()
    {
        return Err(invalid(&config, "linux.seccomp missing after the edit"));
    }
    output::write_atomic(&config, updated.as_bytes())?;
    eprintln!(
        "syscage: {}: linux.seccomp set from {} ({} rules{routed_note})",
        config.display(),
        a.seccomp.display(),
        resolved.rules.len()
    );
    Ok(0)
}
