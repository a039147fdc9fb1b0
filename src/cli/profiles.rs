//! `syscage check`, `syscage merge` and `syscage report`: tools around profiles and recordings.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};

use crate::error::Error;
use crate::model::Recording;
use crate::model::recording::FORMAT;
use crate::output;
use crate::profile::lint::{self, Report, Severity};
use crate::profile::seccomp::{self, ResolvedFilter, SeccompProfile, Target};
use crate::profile::{generate, merge, report};
use crate::sandbox::filter::{BUILTIN_PROFILE, native_arch};

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The profile to lint (Docker or OCI JSON, or an OCI config.json).
    pub profile: PathBuf,
    /// What to compare with: Docker's default (built in) or another profile.
    #[arg(
        long,
        value_name = "docker-default|FILE",
        default_value = "docker-default"
    )]
    pub against: String,
    /// Capabilities the workload keeps (they enable Docker's conditional rules).
    #[arg(long = "cap-add", value_name = "CAP")]
    pub cap_add: Vec<String>,
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// Exit 1 when a finding is at least this severe (info, low, medium, high, critical).
    #[arg(long, value_name = "SEVERITY")]
    pub fail_on: Option<String>,
    /// An analysis (`analyze --recording`): list what the program can reach that the profile
    /// denies (riskiest first), and what it allows that the program cannot reach.
    #[arg(long, value_name = "FILE")]
    pub analysis: Option<PathBuf>,
}

fn target(caps: &[String]) -> Target {
    Target {
        arch: native_arch(),
        caps: caps.iter().map(|c| seccomp::cap_name(c)).collect(),
        kernel: seccomp::parse_kernel(
            std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .unwrap_or_default()
                .trim(),
        )
        .unwrap_or((0, 0)),
    }
}

fn resolve_bytes(bytes: &[u8], path: &Path, t: &Target) -> Result<ResolvedFilter, Error> {
    let (p, _) = seccomp::parse(bytes, path)?;
    Ok(seccomp::resolve(&p, t, path)?)
}

/// A file's bytes; the error names it.
pub(super) fn read(path: &Path) -> Result<Vec<u8>, Error> {
    std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })
}

/// Every syscall name of the native ABI: what an allow-by-default profile lets through.
fn universe() -> BTreeSet<String> {
    syscalls::x86_64::Sysno::iter()
        .map(|s| s.name().to_string())
        .collect()
}

pub fn check(a: CheckArgs) -> Result<i32, Error> {
    let fail_on = a
        .fail_on
        .as_deref()
        .map(|s| {
            Severity::parse(s).ok_or_else(|| {
                Error::Usage(format!(
                    "--fail-on {s}: expected info, low, medium, high or critical"
                ))
            })
        })
        .transpose()?;
    let t = target(&a.cap_add);
    // What `run` refuses fails here (exit 125), and what it warns about is said here too.
    let (f, _, warnings, _) = crate::sandbox::filter::validate(&read(&a.profile)?, &a.profile, &t)
        .map_err(|e| Error::Usage(e.to_string()))?;
    for w in &warnings {
        eprintln!("syscage: warning: {}: {w}", a.profile.display());
    }
    let (against_name, against_bytes) = match a.against.as_str() {
        "docker-default" => (
            "docker-default".to_string(),
            BUILTIN_PROFILE.as_bytes().to_vec(),
        ),
        other => (other.to_string(), read(Path::new(other))?),
    };
    let other = resolve_bytes(&against_bytes, Path::new(&against_name), &t)?;
    let report = Report {
        profile: a.profile.display().to_string(),
        findings: lint::lint(&f, t.arch),
        comparison: Some(lint::compare(&f, &other, &against_name, &universe())),
    };
    let gap = match &a.analysis {
        Some(p) => {
            let analysis = read_recording(p)?;
            Some(report::coverage_gap(&allowed(&f, &analysis), &analysis))
        }
        None => None,
    };
    match a.format {
        Format::Text => {
            print!("{}", lint::render(&report));
            if let Some(g) = &gap {
                print!("{}", report::render_profile_gap(g));
            }
        }
        Format::Json => {
            let mut v = serde_json::to_value(&report).unwrap_or_default();
            if let Some(g) = &gap {
                v["analysis"] = serde_json::json!({
                    "reachable_denied": g.unrecorded.iter().map(|(abi, n, risk)| serde_json::json!({"abi": abi, "name": n, "risk": risk})).collect::<Vec<_>>(),
                    "allowed_unreachable": g.unreachable.iter().map(|(abi, n)| serde_json::json!({"abi": abi, "name": n})).collect::<Vec<_>>(),
                });
            }
            println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        }
    }
    let failed = fail_on.is_some_and(|min| report.findings.iter().any(|f| f.severity >= min));
    Ok(i32::from(failed))
}

/// What profile `f` lets through, as a recording of the native ABI (a rule with argument
/// conditions allows some calls: it counts); everything the analysis names when the default
/// action allows.
fn allowed(f: &ResolvedFilter, analysis: &Recording) -> Recording {
    use crate::model::Abi;
    let mut b = crate::model::recording::Builder::default();
    if f.default_action == seccomp::Action::Allow {
        for s in &analysis.syscalls {
            b.add(s.abi, &s.name, 0, "profile");
        }
    }
    for r in &f.rules {
        if r.action == seccomp::Action::Allow {
            b.add(Abi::X86_64, &r.name, 0, "profile");
        }
    }
    b.finish(vec!["profile".into()])
}

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// Recordings (from `record --recording`) and/or profiles (OCI form, as `record` writes).
    #[arg(required = true, value_name = "INPUT")]
    pub inputs: Vec<PathBuf>,
    /// Where to write the merged profile.
    #[arg(short = 'o', long = "output", value_name = "PROFILE.json")]
    pub output: PathBuf,
    /// Also write the merged recording (when inputs include recordings).
    #[arg(long, value_name = "FILE")]
    pub recording: Option<PathBuf>,
    /// Also write an AppArmor profile from the merged recordings.
    #[arg(long, value_name = "FILE")]
    pub apparmor: Option<PathBuf>,
    /// Also write a Landlock ruleset from the merged recordings.
    #[arg(long, value_name = "FILE")]
    pub landlock: Option<PathBuf>,
    /// Runtime base set for profiles generated from recordings (as in `record`).
    #[arg(long, value_name = "syscage|crun|runc|any", default_value = "any")]
    pub runtime: String,
    /// Each input is translated before the union (a profile recorded on x86_64 merges with
    /// one recorded on aarch64).
    #[arg(long, value_name = "ARCHES", help = super::arch::HELP)]
    pub arch: Option<String>,
}

pub fn merge(a: MergeArgs) -> Result<i32, Error> {
    let base = super::record::runtime_base(&a.runtime)?;
    let to = super::arch::parse(a.arch.as_deref())?;
    for out in [
        Some(&a.output),
        a.recording.as_ref(),
        a.apparmor.as_ref(),
        a.landlock.as_ref(),
    ]
    .into_iter()
    .flatten()
    {
        output::check_writable(out)?;
    }
    let mut recordings: Option<Recording> = None;
    let mut facts: Vec<(String, bool)> = Vec::new();
    let mut profiles: Vec<(String, SeccompProfile)> = Vec::new();
    for path in &a.inputs {
        let bytes = read(path)?;
        let is_recording = serde_json::from_slice::<serde_json::Value>(&bytes)
            .ok()
            .is_some_and(|v| v.get("format").and_then(|f| f.as_str()) == Some(FORMAT));
        if is_recording {
            let r = Recording::parse(&bytes, path).map_err(Error::Input)?;
            facts.push((path.display().to_string(), has_file_facts(&r)));
            recordings = Some(match recordings {
                Some(acc) => acc.merge(r),
                None => r,
            });
        } else {
            let (p, _) = seccomp::parse(&bytes, path)?;
            let what = path.display().to_string();
            let from = super::arch::of_profile(&p);
            let p = super::arch::apply(p, &from, to.as_deref(), &what, false)?;
            profiles.push((what, p));
        }
    }
    if let Some(rec) = &recordings {
        // Refused before anything is written.
        if a.apparmor.is_some() || a.landlock.is_some() {
            let what = match (&a.apparmor, &a.landlock) {
                (Some(_), Some(_)) => "--apparmor/--landlock",
                (Some(_), None) => "--apparmor",
                _ => "--landlock",
            };
            for w in require_file_facts(what, &facts)? {
                eprintln!("syscage: warning: {w}");
            }
        }
        let from = super::arch::of_recording(rec);
        let p = generate::seccomp_profile(rec, &base).0;
        let p = super::arch::apply(p, &from, to.as_deref(), "(recordings)", false)?;
        profiles.push(("(recordings)".into(), p));
        if let Some(out) = &a.recording {
            output::write_atomic(out, rec.to_json().as_bytes())?;
        }
        if let Some(out) = &a.apparmor {
            output::write_atomic(out, crate::profile::apparmor::profile(rec).as_bytes())?;
        }
        if let Some(out) = &a.landlock {
            let rules = crate::profile::landlock::from_recording(rec);
            output::write_atomic(out, crate::profile::landlock::to_json(&rules).as_bytes())?;
        }
    } else if a.apparmor.is_some() || a.landlock.is_some() || a.recording.is_some() {
        return Err(Error::Usage(
            "--recording, --apparmor and --landlock need at least one recording among the inputs (record with --recording FILE, or learn with run --learn)".into(),
        ));
    }
    let merged = merge::merge(&profiles).map_err(|e| Error::Input(e.to_string()))?;
    output::write_atomic(&a.output, generate::to_json(&merged).as_bytes())?;
    let allowed = merged
        .syscalls
        .iter()
        .flatten()
        .filter(|r| r.action == oci_spec::runtime::LinuxSeccompAction::ScmpActAllow)
        .flat_map(|r| r.names.iter().flatten())
        .collect::<BTreeSet<_>>()
        .len();
    eprintln!(
        "syscage: merged {}; the profile allows {allowed} syscalls; written to {}{}",
        output::plural(a.inputs.len(), "input"),
        a.output.display(),
        a.recording
            .as_ref()
            .map(|r| format!("; the merged recording to {}", r.display()))
            .unwrap_or_default()
    );
    Ok(0)
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// A recording written by `record --recording` or `merge --recording`.
    pub recording: PathBuf,
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// A `syscage analyze --recording` of the same program: list what its code can reach that
    /// the recording never saw (the coverage gap, riskiest first), and loudly what was recorded
    /// but is not reachable (an analysis bug).
    #[arg(long, value_name = "FILE")]
    pub analysis: Option<PathBuf>,
}

/// AppArmor and Landlock rules come from a recording's file facts (paths, and the ports it
/// bound and connected): an input without any (a learn delta holds syscalls only) would make an
/// allow-list of nothing, which is refused; `partial` names inputs that lack them beside others
/// that have them, whose accesses the output then misses (said, not silent).
pub fn require_file_facts(what: &str, inputs: &[(String, bool)]) -> Result<Vec<String>, Error> {
    if inputs.iter().all(|(_, has)| !has) {
        return Err(Error::Usage(format!(
            "{what}: {} no file facts (paths): the rules would allow no file. A learn delta holds syscalls only; give a recording made with `record --recording FILE` (or --apparmor/--landlock), which records paths",
            if inputs.len() == 1 {
                format!("{} carries", inputs[0].0)
            } else {
                "none of the recordings carries".to_string()
            }
        )));
    }
    Ok(inputs
        .iter()
        .filter(|(_, has)| !has)
        .map(|(name, _)| {
            format!("{name} carries no file facts (a learn delta?): its file accesses are not in the {what} output")
        })
        .collect())
}

/// Whether a recording carries file facts: any real run execs its program at least.
pub fn has_file_facts(rec: &Recording) -> bool {
    !rec.files.is_empty() || !rec.ports.is_empty()
}

/// A seccomp profile given where a recording is expected: said plainly, with how to get one.
/// A recording (`record --recording`'s format); a seccomp profile given instead is said so.
pub(super) fn read_recording(path: &Path) -> Result<Recording, Error> {
    let bytes = read(path)?;
    not_a_profile(&bytes, path)?;
    Recording::parse(&bytes, path).map_err(Error::Input)
}

fn not_a_profile(bytes: &[u8], path: &Path) -> Result<(), Error> {
    let v: serde_json::Value = serde_json::from_slice(bytes).unwrap_or_default();
    if v.get("format").is_none()
        && (v.get("defaultAction").is_some() || v.get("syscalls").is_some())
    {
        return Err(Error::Input(format!(
            "{}: this is a seccomp profile, not a recording; `record --recording FILE` (or `merge --recording FILE`, or `run --learn FILE`) writes a recording, which report reads",
            path.display()
        )));
    }
    Ok(())
}

pub fn report(a: ReportArgs) -> Result<i32, Error> {
    let rec = read_recording(&a.recording)?;
    let gap = match &a.analysis {
        Some(p) => Some(report::coverage_gap(&rec, &read_recording(p)?)),
        None => None,
    };
    match a.format {
        Format::Text => {
            print!("{}", report::render(&rec));
            if let Some(g) = &gap {
                print!("{}", report::render_gap(g));
            }
        }
        Format::Json => {
            let mut v = report::to_json(&rec);
            if let Some(g) = &gap {
                v["analysis"] = serde_json::json!({
                    "reachable_unrecorded": g.unrecorded.iter().map(|(abi, n, risk)| serde_json::json!({"abi": abi, "name": n, "risk": risk})).collect::<Vec<_>>(),
                    "recorded_unreachable": g.unreachable.iter().map(|(abi, n)| serde_json::json!({"abi": abi, "name": n})).collect::<Vec<_>>(),
                });
            }
            println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        }
    }
    if let Some(g) = &gap
        && !g.unreachable.is_empty()
    {
        eprintln!(
            "syscage: warning: {} recorded syscalls are not reachable in the analysis: {}",
            g.unreachable.len(),
            g.unreachable
                .iter()
                .map(|(_, n)| n.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    Ok(0)
}
