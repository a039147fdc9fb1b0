//! `syscage record`.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, ValueEnum};

use crate::error::Error;
use crate::output;
use crate::profile::generate;
use crate::tracer::{self, Backend, RecordConfig, Scope};

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum BackendArg {
    /// eBPF where it can load (root or CAP_BPF+CAP_PERFMON, kernel BTF), otherwise notify
    Auto,
    /// eBPF: syscalls counted in the kernel, no stop per syscall (root, kernel BTF)
    Ebpf,
    /// seccomp user notification (fastest stop-based backend; works unprivileged)
    Notify,
    /// ptrace with SECCOMP_RET_TRACE (for workloads that use a seccomp notify listener themselves)
    Ptrace,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum UntilArg {
    /// Until the last process of the workload exits, like `strace -f`: daemons and
    /// background jobs are recorded whole.
    Last,
    /// Until the first process exits; the processes it left are killed (container semantics).
    First,
}

#[derive(Debug, Args)]
pub struct RecordArgs {
    /// Where to write the seccomp profile (Docker/OCI JSON).
    #[arg(short = 'o', long = "output", value_name = "PROFILE.json")]
    pub output: PathBuf,
    #[arg(long, value_enum, default_value = "auto")]
    pub backend: BackendArg,
    /// When the recording ends. With `last`, Ctrl-C or SIGTERM to syscage still ends it: the
    /// signal goes to the first process, then to every process left, which are killed 5 s
    /// later if still running. The exit status is always the first process's.
    #[arg(long, value_enum, default_value = "last")]
    pub until: UntilArg,
    /// The runtime that will enforce the profile: its own post-filter syscalls are added.
    #[arg(long, value_name = "syscage|crun|runc|any", default_value = "any")]
    pub runtime: String,
    /// Also write the raw recording (for `merge` and `report`).
    #[arg(long, value_name = "FILE")]
    pub recording: Option<PathBuf>,
    /// Also write an AppArmor profile (file, network and capability rules). Check it with
    /// `apparmor_parser -Q -K FILE`.
    #[arg(long, value_name = "FILE")]
    pub apparmor: Option<PathBuf>,
    /// Also write a Landlock ruleset from the files and TCP ports the workload used (enforce it
    /// with `syscage run --landlock FILE`).
    #[arg(long, value_name = "FILE")]
    pub landlock: Option<PathBuf>,
    /// Also narrow syscalls to the argument values the workload used (socket families, clone
    /// namespace flags, ioctl requests, prctl options, personas, PROT_EXEC...). Off by default:
    /// argument rules turn code paths the run did not exercise into failures more often.
    #[arg(long)]
    pub args: bool,
    #[arg(long, value_name = "ARCHES", help = super::arch::HELP)]
    pub arch: Option<String>,
    /// No summary on stderr.
    #[arg(short, long)]
    pub quiet: bool,
    /// When the recording ends, analyse the program's files (`syscage analyze`) and print the
    /// gap: what its code can reach that this run never exercised, riskiest first.
    #[arg(long)]
    pub analyze: bool,
    /// Record only what each task does after it loads a seccomp filter, up to its next execve:
    /// how the runtime base sets in profiles/runtime-base.json are measured.
    #[arg(long, hide = true)]
    pub after_seccomp_load: bool,
    #[arg(long, hide = true)]
    pub no_runtime_base: bool,
    /// Record what already runs instead of starting a command (eBPF, root): pid:N (that
    /// process and every descendant), container:NAME or container:ENGINE:NAME (every process
    /// of a podman, docker, containerd (ctr), crun or runc container, by its mount namespace),
    /// or cgroup:PATH (cgroup v2). Ends on Ctrl-C/SIGTERM, after --duration, or when the target
    /// is gone. The target is never stopped or signalled.
    #[arg(long, value_name = "TARGET", conflicts_with = "command")]
    pub attach: Option<String>,
    /// With --attach: stop recording after this long (e.g. 30s, 5m, 1h; plain numbers are seconds).
    #[arg(long, value_name = "D", requires = "attach")]
    pub duration: Option<String>,
    /// The command and its arguments.
    #[arg(
        required_unless_present = "attach",
        trailing_var_arg = true,
        value_name = "CMD"
    )]
    pub command: Vec<OsString>,
}

/// `--duration`: 30, 30s, 5m, 1h.
fn duration(s: &str) -> Result<std::time::Duration, Error> {
    let (n, unit) = match s
        .char_indices()
        .find(|(_, c)| !c.is_ascii_digit() && *c != '.')
    {
        Some((i, _)) => (&s[..i], &s[i..]),
        None => (s, "s"),
    };
    let scale = match unit {
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        _ => f64::NAN,
    };
    n.parse::<f64>()
        .ok()
        .map(|n| n * scale)
        .filter(|v| v.is_finite() && *v > 0.0 && *v < 1e9)
        .map(std::time::Duration::from_secs_f64)
        .ok_or_else(|| {
            Error::Usage(format!(
                "--duration {s}: expected a positive number of seconds, or a number with s, m or h"
            ))
        })
}

/// The `--runtime` base set, or an error naming the bad value.
pub(super) fn runtime_base(
    runtime: &str,
) -> Result<std::collections::BTreeMap<String, String>, Error> {
    generate::base_for(runtime).ok_or_else(|| {
        Error::Usage(format!(
            "--runtime {runtime}: expected one of {}, any",
            generate::RUNTIMES.join(", ")
        ))
    })
}

pub fn run(a: RecordArgs) -> Result<i32, Error> {
    // Report an unwritable output now, not after a long run.
    output::check_writable(&a.output)?;
    for extra in [&a.recording, &a.landlock, &a.apparmor]
        .into_iter()
        .flatten()
    {
        output::check_writable(extra)?;
    }
    // A bad --arch is refused before the run, not after it.
    super::arch::parse(a.arch.as_deref())?;
    if let Some(t) = &a.attach {
        return attached(&a, t);
    }
    let base = if a.no_runtime_base {
        Default::default()
    } else {
        runtime_base(&a.runtime)?
    };
    let program = a.command.first().map(|c| c.to_string_lossy().into_owned());
    let outcome = tracer::record(&RecordConfig {
        command: a.command.clone(),
        backend: match a.backend {
            BackendArg::Auto => Backend::Auto,
            BackendArg::Ebpf => Backend::Ebpf,
            BackendArg::Notify => Backend::Notify,
            BackendArg::Ptrace => Backend::Ptrace,
        },
        scope: if a.after_seccomp_load {
            Scope::AfterFilterLoad
        } else {
            Scope::All
        },
        until: match a.until {
            UntilArg::Last => crate::sandbox::monitor::Until::LastExits,
            UntilArg::First => crate::sandbox::monitor::Until::FirstExits,
        },
        quiet: a.quiet,
        // The recording file carries everything; eBPF loads what is asked for only.
        wants_args: a.args || a.apparmor.is_some() || a.recording.is_some(),
        wants_files: a.landlock.is_some() || a.apparmor.is_some() || a.recording.is_some(),
    })?;
    for loss in &outcome.losses {
        eprintln!("syscage: warning: {loss}");
    }
    let Some(rec) = outcome.recording else {
        if !a.quiet {
            eprintln!("syscage: the workload did not start; no profile written");
        }
        return Ok(outcome.exit_code);
    };
    write_outputs(
        &a,
        &rec,
        &base,
        &a.runtime,
        &format!(
            "with the {} backend ({})",
            outcome.backend.name(),
            outcome.backend_reason
        ),
        None,
    )?;
    if a.analyze
        && let Some(p) = program
    {
        analysis_gap(p, &rec);
    }
    Ok(outcome.exit_code)
}

#[cfg(not(feature = "ebpf"))]
fn attached(_: &RecordArgs, _: &str) -> Result<i32, Error> {
    Err(Error::Usage(
        "--attach records with eBPF: this syscage was built without the ebpf feature".into(),
    ))
}

/// `--attach TARGET`: what already runs, until a signal, `--duration` or the target's end.
#[cfg(feature = "ebpf")]
fn attached(a: &RecordArgs, target: &str) -> Result<i32, Error> {
    use crate::tracer::ebpf::running;
    if a.after_seccomp_load || a.analyze {
        return Err(Error::Usage(
            "--attach records what runs already: --analyze and --after-seccomp-load need a command"
                .into(),
        ));
    }
    if !matches!(a.backend, BackendArg::Auto | BackendArg::Ebpf) {
        return Err(Error::Usage(
            "--attach records with eBPF only (the other backends must start the workload)".into(),
        ));
    }
    let target: running::Target = target.parse().map_err(Error::Usage)?;
    let limit = a.duration.as_deref().map(duration).transpose()?;
    // Ctrl-C and SIGTERM end the recording (the profile is written then), nothing else.
    let mut signals = crate::sandbox::sys::SignalSet::empty();
    signals.add(libc::SIGINT);
    signals.add(libc::SIGTERM);
    let (_, stop) = signals.block_into_fd().map_err(|e| {
        Error::Sandbox(crate::sandbox::SandboxError::Message(format!(
            "blocking SIGINT and SIGTERM into a signalfd: {e}"
        )))
    })?;
    let wants_args = a.args || a.apparmor.is_some() || a.recording.is_some();
    let wants_files = a.landlock.is_some() || a.apparmor.is_some() || a.recording.is_some();
    let quiet = a.quiet;
    let tell = |notes: &[String]| {
        if !quiet {
            for n in notes {
                eprintln!("syscage: {n}");
            }
        }
    };
    let rec =
        running::record(&target, wants_args, wants_files, limit, &stop, &tell).map_err(|e| {
            Error::Sandbox(crate::sandbox::SandboxError::Message(format!(
                "--attach: {e}"
            )))
        })?;
    // The runtime that runs the target, unless one was asked for: a restart under the
    // profile must get through its own start.
    let runtime = match (a.runtime.as_str(), rec.runtime) {
        ("any", Some(r)) => r.to_string(),
        (r, _) => r.to_string(),
    };
    let base = if a.no_runtime_base {
        Default::default()
    } else {
        runtime_base(&runtime)?
    };
    for loss in rec.losses.describe() {
        eprintln!("syscage: warning: {loss}");
    }
    if !a.quiet {
        eprintln!("syscage: the recording ended: {}", rec.ended);
    }
    let how = "by attaching with eBPF";
    write_outputs(a, &rec.recording, &base, &runtime, how, Some(rec.comment))?;
    Ok(0)
}

/// The profile and the optional files from `rec`, written atomically; then the summary.
fn write_outputs(
    a: &RecordArgs,
    rec: &crate::model::Recording,
    base: &std::collections::BTreeMap<String, String>,
    runtime: &str,
    how: &str,
    comment: Option<String>,
) -> Result<(), Error> {
    let (profile, summary) = generate::seccomp_profile_with(rec, base, a.args);
    let to = super::arch::parse(a.arch.as_deref())?;
    let from = super::arch::of_recording(rec);
    let mut profile = super::arch::apply(
        profile,
        &from,
        to.as_deref(),
        &a.output.display().to_string(),
        a.quiet,
    )?;
    profile.comment = comment;
    output::write_atomic(&a.output, generate::to_json(&profile).as_bytes())?;
    if let Some(r) = &a.recording {
        output::write_atomic(r, rec.to_json().as_bytes())?;
    }
    if let Some(aa) = &a.apparmor {
        output::write_atomic(aa, crate::profile::apparmor::profile(rec).as_bytes())?;
    }
    if let Some(l) = &a.landlock {
        let rules = crate::profile::landlock::from_recording(rec);
        output::write_atomic(l, crate::profile::landlock::to_json(&rules).as_bytes())?;
    }
    if !a.quiet {
        let abis: Vec<&str> = summary.abis.iter().map(|x| x.as_str()).collect();
        eprintln!(
            "syscage: recorded {} syscalls ({} calls; ABIs: {}) {}; profile allows {} ({} from the {} runtime base{}), ENOSYS for {} unused libc fallbacks; written to {}",
            summary.recorded,
            rec.total_calls(),
            abis.join(", "),
            how,
            summary.allowed,
            summary.from_base,
            runtime,
            if a.args {
                format!("; {} narrowed to recorded arguments", summary.narrowed)
            } else {
                String::new()
            },
            summary.enosys,
            a.output.display()
        );
        if !summary.unnamed.is_empty() {
            eprintln!(
                "syscage: warning: syscalls without a name in this build's tables were left to the default action: {}",
                summary.unnamed.join(", ")
            );
        }
    }
    Ok(())
}

/// `--analyze`: the recorded program's static analysis beside the recording.
fn analysis_gap(program: String, rec: &crate::model::Recording) {
    let program = crate::analyze::host_program(&program);
    let opts = crate::analyze::Options {
        root: crate::analyze::host_root(),
        programs: vec![program.clone()],
        cache: true,
        ..Default::default()
    };
    match crate::analyze::analyze(&opts) {
        Ok(an) => {
            let gap = crate::profile::report::coverage_gap(rec, &an.to_recording());
            let top: Vec<String> = gap
                .unrecorded
                .iter()
                .take(8)
                .map(|(_, n, risk)| format!("{n} ({})", risk.split(':').next().unwrap_or("")))
                .collect();
            eprintln!(
                "syscage: analysis of {program}: {} syscalls reachable{}; {} of them never recorded in this run{}{}",
                an.syscalls.len() + an.added.len(),
                if an.is_complete() {
                    ""
                } else {
                    " (incomplete)"
                },
                gap.unrecorded.len(),
                if top.is_empty() {
                    String::new()
                } else {
                    format!(", riskiest first: {}", top.join(", "))
                },
                if gap.unreachable.is_empty() {
                    String::new()
                } else {
                    format!(
                        "; recorded but not reachable (an analysis bug, or another program ran): {}",
                        gap.unreachable
                            .iter()
                            .map(|(_, n)| n.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                }
            );
        }
        Err(e) => eprintln!("syscage: --analyze: {e}"),
    }
}
