//! `syscage generate k8s`: Security Profiles Operator resources and a restricted securityContext.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::profiles::read;
use crate::error::Error;
use crate::model::Recording;
use crate::output;
use crate::profile::generate::native_abi;
use crate::profile::{generate, k8s, seccomp};

#[derive(Debug, Subcommand)]
pub enum GenerateCommand {
    /// A SeccompProfile (and, from a recording, an AppArmorProfile) for the Security Profiles
    /// Operator, plus the container securityContext that uses them ("restricted" Pod Security).
    K8s(Box<K8sArgs>),
    /// A profile holding only what a runtime itself needs after loading a container's filter
    /// (its measured base set, plus what every profile allows: execve, exit, exit_group,
    /// rt_sigreturn, futex, restart_syscall, what abort() needs, the vDSO's fallbacks): the
    /// starting point of a whole-container recording in learn mode (`oci apply --agent ...
    /// --learn`), which needs neither root nor ptrace.
    Base(BaseArgs),
}

#[derive(Debug, Args)]
pub struct BaseArgs {
    /// The runtime: syscage, crun or runc.
    #[arg(long, value_name = "RUNTIME")]
    pub runtime: String,
    /// Where to write the profile.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: std::path::PathBuf,
    #[arg(long, value_name = "ARCHES", help = super::arch::HELP)]
    pub arch: Option<String>,
}

fn base(a: BaseArgs) -> Result<i32, Error> {
    let base = super::record::runtime_base(&a.runtime)?;
    let rec = crate::model::Recording::new(vec![format!("{} base set", a.runtime)]);
    let to = super::arch::parse(a.arch.as_deref())?;
    let (profile, summary) = generate::seccomp_profile(&rec, &base);
    let what = a.output.display().to_string();
    let profile = super::arch::apply(profile, &[native_abi()], to.as_deref(), &what, false)?;
    output::write_atomic(&a.output, generate::to_json(&profile).as_bytes())?;
    eprintln!(
        "syscage: {}: the {} base set ({} syscalls allowed)",
        a.output.display(),
        a.runtime,
        summary.allowed
    );
    Ok(0)
}

#[derive(Debug, Args)]
pub struct K8sArgs {
    /// Resource name (also the localhost profile name).
    #[arg(long)]
    pub name: String,
    #[arg(long)]
    pub namespace: Option<String>,
    /// A seccomp profile (OCI form, as `record` writes; Docker profiles are resolved first).
    #[arg(
        long,
        value_name = "PROFILE",
        conflicts_with = "recording",
        required_unless_present = "recording"
    )]
    pub seccomp: Option<PathBuf>,
    /// A recording: the seccomp profile is generated from it (with --runtime's base set).
    #[arg(long, value_name = "FILE")]
    pub recording: Option<PathBuf>,
    /// Also an AppArmorProfile (needs --recording).
    #[arg(long)]
    pub apparmor: bool,
    #[arg(long, value_name = "syscage|crun|runc|any", default_value = "any")]
    pub runtime: String,
    #[arg(long, value_name = "ARCHES", help = super::arch::HELP)]
    pub arch: Option<String>,
    /// Output file (multi-document YAML); standard output when absent.
    #[arg(short = 'o', long = "output")]
    pub output: Option<PathBuf>,
    /// Also write the securityContext alone (YAML) to this file.
    #[arg(long, value_name = "FILE")]
    pub security_context: Option<PathBuf>,
    /// Also a Pod running IMAGE (the container named --name) under the profile, with the
    /// restricted securityContext; its command is what follows `--`.
    #[arg(long, value_name = "IMAGE")]
    pub pod: Option<String>,
    /// The Pod's container user (runAsNonRoot needs one that is not 0).
    #[arg(long, value_name = "UID", default_value_t = 65534, requires = "pod")]
    pub pod_user: u32,
    /// The Pod's restartPolicy (Always, OnFailure or Never); Kubernetes' default when absent.
    #[arg(long, value_name = "POLICY", requires = "pod")]
    pub restart_policy: Option<String>,
    /// Also write the seccomp profile where a kubelet (or `podman kube play
    /// --seccomp-profile-root DIR`) finds the Pod's Localhost profile: DIR/PATH (see
    /// --localhost-profile).
    #[arg(long, value_name = "DIR")]
    pub localhost_dir: Option<PathBuf>,
    /// The Pod's Localhost profile path beneath the node's seccomp root. Default: where the
    /// Security Profiles Operator installs it, operator/NAMESPACE/NAME.json. podman kube play
    /// (4.x) reads only the first component of the path: give it a flat NAME.json.
    #[arg(long, value_name = "PATH")]
    pub localhost_profile: Option<String>,
    /// The Pod's container command and arguments.
    #[arg(last = true, value_name = "CMD", requires = "pod")]
    pub command: Vec<String>,
}

fn valid_name(n: &str) -> bool {
    // A DNS-1123 subdomain, as Kubernetes requires for object names.
    !n.is_empty()
        && n.len() <= 253
        && n.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        && n.starts_with(|c: char| c.is_ascii_alphanumeric())
        && n.ends_with(|c: char| c.is_ascii_alphanumeric())
}

pub fn run(cmd: GenerateCommand) -> Result<i32, Error> {
    let a = match cmd {
        GenerateCommand::K8s(a) => *a,
        GenerateCommand::Base(b) => return base(b),
    };
    if a.apparmor && a.recording.is_none() {
        return Err(Error::Usage(
            "--apparmor needs --recording (AppArmor rules come from recorded files and sockets)"
                .into(),
        ));
    }
    for n in std::iter::once(&a.name).chain(a.namespace.iter()) {
        if !valid_name(n) {
            return Err(Error::Usage(format!(
                "{n:?}: not a valid Kubernetes name (lower-case letters, digits, '-', '.')"
            )));
        }
    }
    for out in [a.output.as_ref(), a.security_context.as_ref()]
        .into_iter()
        .flatten()
    {
        output::check_writable(out)?;
    }
    let ns = a.namespace.as_deref();
    let to = super::arch::parse(a.arch.as_deref())?;
    let mut docs = Vec::new();
    let profile = match (&a.seccomp, &a.recording) {
        (Some(p), _) => {
            let (prof, _) = seccomp::parse(&read(p)?, p)?;
            let target = seccomp::Target {
                arch: crate::sandbox::filter::native_arch(),
                caps: Default::default(),
                kernel: (u32::MAX, 0),
            };
            // Docker's conditional rules are resolved for a container without capabilities.
            let prof = if prof.arch_map.is_some()
                || prof
                    .syscalls
                    .iter()
                    .flatten()
                    .any(|r| r.includes.is_some() || r.excludes.is_some())
            {
                seccomp::resolve(&prof, &target, p)?.to_oci()
            } else {
                prof
            };
            let from = super::arch::of_profile(&prof);
            super::arch::apply(prof, &from, to.as_deref(), &p.display().to_string(), false)?
        }
        (None, Some(r)) => {
            let rec = Recording::parse(&read(r)?, r).map_err(Error::Input)?;
            let base = super::record::runtime_base(&a.runtime)?;
            if a.apparmor {
                super::profiles::require_file_facts(
                    "--apparmor",
                    &[(
                        r.display().to_string(),
                        super::profiles::has_file_facts(&rec),
                    )],
                )?;
                docs.push(k8s::apparmor_profile(&a.name, ns, &rec));
            }
            let from = super::arch::of_recording(&rec);
            let prof = generate::seccomp_profile(&rec, &base).0;
            super::arch::apply(prof, &from, to.as_deref(), &r.display().to_string(), false)?
        }
        (None, None) => return Err(Error::Usage("--seccomp or --recording is required".into())),
    };
    if let Some(r) = &a.restart_policy
        && !["Always", "OnFailure", "Never"].contains(&r.as_str())
    {
        return Err(Error::Usage(format!(
            "--restart-policy {r}: expected Always, OnFailure or Never"
        )));
    }
    let localhost = a
        .localhost_profile
        .clone()
        .unwrap_or_else(|| k8s::localhost_profile(&a.name, ns));
    let descending = std::path::Path::new(&localhost)
        .components()
        .all(|c| matches!(c, std::path::Component::Normal(_)));
    if localhost.is_empty() || !descending {
        return Err(Error::Usage(format!(
            "--localhost-profile {localhost:?}: must be a descending relative path"
        )));
    }
    if let Some(image) = &a.pod {
        docs.push(k8s::pod(
            &a.name,
            ns,
            &k8s::PodSpec {
                image,
                localhost_profile: &localhost,
                command: &a.command,
                run_as_user: a.pod_user,
                restart_policy: a.restart_policy.as_deref(),
                apparmor: a.apparmor,
            },
        ));
    }
    if let Some(dir) = &a.localhost_dir {
        let path = dir.join(&localhost);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|source| Error::Io {
                path: parent.to_owned(),
                source,
            })?;
        }
        output::write_atomic(&path, generate::to_json(&profile).as_bytes())?;
    }
    let (cr, warnings) = k8s::seccomp_profile(&a.name, ns, &profile);
    for w in warnings {
        eprintln!("syscage: warning: {w}");
    }
    docs.insert(0, cr);
    let sc = k8s::security_context(&a.name, &localhost, a.apparmor);
    let mut text = String::from(
        "# Generated by syscage: apply with kubectl (the Security Profiles Operator installs the profiles on the nodes).\n",
    );
    for d in &docs {
        text.push_str("---\n");
        text.push_str(&k8s::to_yaml(d));
    }
    text.push_str(
        "# The container's securityContext (meets the Pod Security \"restricted\" standard):\n",
    );
    for line in k8s::to_yaml(&sc).lines() {
        text.push_str(&format!("# {line}\n"));
    }
    match &a.output {
        Some(out) => output::write_atomic(out, text.as_bytes())?,
        None => print!("{text}"),
    }
    if let Some(out) = &a.security_context {
        output::write_atomic(out, k8s::to_yaml(&sc).as_bytes())?;
    }
    Ok(0)
}
