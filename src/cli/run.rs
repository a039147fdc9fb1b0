//! `syscage run`.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, ValueEnum};

use crate::error::Error;
use crate::sandbox::{self, NetMode, RunConfig, SeccompChoice, UserMount};

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Net {
    /// Share the caller's network.
    Host,
    /// A new network namespace with only loopback.
    None,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Seccomp profile (Docker or OCI JSON, or an OCI config.json); "unconfined" disables seccomp.
    /// Default: the built-in equivalent of Docker's default profile.
    #[arg(long, value_name = "FILE|unconfined")]
    pub seccomp: Option<String>,
    /// Use DIR as the (read-only) root filesystem instead of the host's /.
    #[arg(long, value_name = "DIR")]
    pub rootfs: Option<PathBuf>,
    /// Bind-mount a host path read-write at the same place (repeatable).
    #[arg(long, value_name = "PATH")]
    pub rw: Vec<PathBuf>,
    /// Bind-mount a host path read-only at the same place (repeatable).
    #[arg(long, value_name = "PATH")]
    pub ro: Vec<PathBuf>,
    /// Mount a fresh tmpfs at PATH (repeatable).
    #[arg(long, value_name = "PATH")]
    pub tmpfs: Vec<PathBuf>,
    /// Network: share the host's, or a new namespace with only loopback.
    #[arg(long, value_enum, default_value = "host")]
    pub net: Net,
    /// Keep a capability inside the sandbox (Docker's spelling: SETUID or CAP_SETUID; ALL).
    #[arg(long = "cap-add", value_name = "CAP")]
    pub cap_add: Vec<String>,
    /// Pass file descriptors 3..3+N-1 to the workload; all others above 2 are closed.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub preserve_fds: u32,
    /// Hostname inside the sandbox.
    #[arg(long)]
    pub hostname: Option<String>,
    /// Working directory inside the sandbox (default: the current one, or / with --rootfs).
    #[arg(long, value_name = "DIR")]
    pub cwd: Option<PathBuf>,
    /// First host uid/gid of the 65536 ids root maps to when root runs syscage.
    #[arg(long, value_name = "ID")]
    pub userns_base: Option<u32>,
    /// Enforce a Landlock ruleset written by `syscage record --landlock` (best effort across
    /// kernel ABIs; with --strict, refuse unless fully enforced).
    #[arg(long, value_name = "FILE")]
    pub landlock: Option<PathBuf>,
    /// Run the workload as this user inside the sandbox: UID[:GID] or NAME[:GROUP], names from
    /// the sandbox root's /etc/passwd and /etc/group; supplementary groups are dropped and HOME
    /// follows the user. Without GID: the user's primary group, or the uid itself.
    #[arg(short = 'u', long, value_name = "UID[:GID]")]
    pub user: Option<String>,
    /// Set an environment variable (NAME=VALUE), or pass the caller's (NAME); repeatable.
    #[arg(short = 'e', long = "env", value_name = "NAME[=VALUE]")]
    pub env: Vec<String>,
    /// Start from an empty environment (then add --env ones).
    #[arg(long)]
    pub clear_env: bool,
    /// A resource limit, in Docker's spelling: NAME=SOFT[:HARD] (nofile, nproc, core, cpu,
    /// as, fsize, memlock, stack, ...; "unlimited"); repeatable. The hard limit defaults to SOFT.
    #[arg(long, value_name = "NAME=SOFT[:HARD]")]
    pub ulimit: Vec<String>,
    /// Refuse to run (exit 125) when any confinement step cannot be applied.
    #[arg(long)]
    pub strict: bool,
    /// Print what was applied.
    #[arg(short, long)]
    pub verbose: bool,
    /// Report every syscall the profile denies, one JSON object per line, to FILE (appended) or
    /// to syscage's standard error ("-"). Denials still happen, with the profile's errno or
    /// action; what the profile allows runs untouched. Floods are bounded: the first call of
    /// each (executable, syscall) in full, then counts once a second, exact totals at the end.
    #[arg(long, value_name = "FILE|-")]
    pub monitor: Option<String>,
    /// Learn mode: syscalls the profile does not list are ALLOWED (not enforced) and recorded
    /// in DELTA, written atomically when the workload ends or syscage is stopped; `syscage merge
    /// PROFILE DELTA -o NEW.json` heals the profile. Argument rules and explicit denials of the
    /// profile still apply. Combine with --monitor to see each addition as it happens.
    #[arg(long, value_name = "DELTA")]
    pub learn: Option<PathBuf>,
    /// Names the run in --monitor events (default: run-PID).
    #[arg(long, value_name = "NAME")]
    pub id: Option<String>,
    /// The command and its arguments.
    #[arg(required = true, trailing_var_arg = true, value_name = "CMD")]
    pub command: Vec<OsString>,
}

pub fn run(a: RunArgs) -> Result<i32, Error> {
    use crate::profile::watch::Mode;
    use crate::sandbox::watch::{Events, WatchConfig};
    if let Some(d) = &a.learn {
        crate::output::check_writable(d)?;
    }
    let watch = (a.monitor.is_some() || a.learn.is_some()).then(|| WatchConfig {
        learner: crate::tracer::events::learner,
        mode: if a.learn.is_some() {
            Mode::Learn
        } else {
            Mode::Monitor
        },
        events: a.monitor.as_deref().map(|m| match m {
            "-" => Events::Stderr,
            path => Events::File(PathBuf::from(path)),
        }),
        learn: a.learn.is_some(),
        id: a
            .id
            .clone()
            .unwrap_or_else(|| format!("run-{}", std::process::id())),
    });
    let seccomp = a.seccomp.map(|s| match s.as_str() {
        "unconfined" => SeccompChoice::Unconfined,
        _ => SeccompChoice::File(PathBuf::from(s)),
    });
    let mut mounts: Vec<UserMount> = Vec::new();
    mounts.extend(a.rw.into_iter().map(|path| UserMount::Bind {
        path,
        readonly: false,
    }));
    mounts.extend(a.ro.into_iter().map(|path| UserMount::Bind {
        path,
        readonly: true,
    }));
    mounts.extend(a.tmpfs.into_iter().map(|path| UserMount::Tmpfs { path }));
    let cfg = RunConfig {
        command: a.command,
        seccomp,
        rootfs: a.rootfs,
        mounts,
        net: match a.net {
            Net::Host => NetMode::Host,
            Net::None => NetMode::None,
        },
        cap_add: a.cap_add,
        preserve_fds: a.preserve_fds,
        hostname: a.hostname,
        cwd: a.cwd,
        userns_base: a.userns_base,
        landlock: a.landlock,
        user: a.user,
        env: a.env,
        clear_env: a.clear_env,
        ulimits: a.ulimit,
        strict: a.strict,
        verbose: a.verbose,
        watch,
    };
    let outcome = sandbox::run(&cfg)?;
    if let (Some(delta), Some((learned, calls))) = (&a.learn, outcome.learned) {
        // Written when the workload ends, however it ends (a SIGTERM to syscage included).
        crate::output::write_atomic(delta, learned.to_json().as_bytes())?;
        let allowed = learned.total_calls();
        // Calls the profile denies even in learn mode (argument and explicit rules, numbers
        // that name no syscall) reached syscage too: say so, they are not in the delta.
        let denied = match calls.saturating_sub(allowed) {
            0 => String::new(),
            n => format!(
                "; {} denied as the profile does (see the events)",
                crate::output::plural(n as usize, "call")
            ),
        };
        eprintln!(
            "syscage: learn: {} syscalls outside the profile were allowed ({allowed} calls){denied}; written to {} (heal the profile: syscage merge PROFILE {} -o NEW.json)",
            learned.syscalls.len(),
            delta.display(),
            delta.display()
        );
    }
    Ok(outcome.code)
}
