//! The launcher: the only code that changes process state.
//!
//! Three processes: the parent (syscage as invoked) prepares everything, clones the sandbox's init
//! into new namespaces, writes its id maps and then only forwards signals; the init builds the
//! filesystem, forks the workload and stays as its PID 1 (forwarding signals, reaping orphans); the
//! workload drops the last privileges, loads seccomp and execs. `run` reads top to bottom.

pub mod caps;
pub mod compiled;
pub mod exe_name;
pub mod exec;
pub mod filter;
pub mod filter_cache;
pub mod handoff;
pub mod identity;
mod in_root;
mod init_filter;
pub mod landlock;
pub mod monitor;
pub mod mounts;
pub(crate) mod sys;
pub mod userns;
pub mod watch;

use std::convert::Infallible;
use std::ffi::OsString;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::PathBuf;

use nix::sched::CloneFlags;
use nix::sys::prctl;
use nix::sys::signal::Signal;
use nix::unistd::{Gid, Pid, Uid};

pub use filter::SeccompChoice;
pub use mounts::UserMount;

use crate::exit;
use crate::profile::seccomp::ProfileError;

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error(transparent)]
    Profile(#[from] ProfileError),
    #[error("{step}: {source}")]
    Step {
        step: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Message(String),
    #[error("--strict: could not apply {0}")]
    Strict(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NetMode {
    /// Share the caller's network namespace.
    #[default]
    Host,
    /// A new network namespace with only loopback.
    None,
}

/// Everything `syscage run` was asked to do.
#[derive(Debug, Clone, Default)]
pub struct RunConfig {
    pub command: Vec<OsString>,
    pub seccomp: Option<SeccompChoice>,
    pub rootfs: Option<PathBuf>,
    pub mounts: Vec<UserMount>,
    pub net: NetMode,
    pub cap_add: Vec<String>,
    pub preserve_fds: u32,
    pub hostname: Option<String>,
    pub cwd: Option<PathBuf>,
    pub userns_base: Option<u32>,
    /// A Landlock ruleset (`syscage record --landlock`) to enforce.
    pub landlock: Option<PathBuf>,
    /// `--user UID[:GID]` or `NAME[:GROUP]`, resolved in the sandbox root's /etc/passwd.
    pub user: Option<String>,
    /// `--env`, `--clear-env`.
    pub env: Vec<String>,
    pub clear_env: bool,
    /// `--ulimit NAME=SOFT[:HARD]`.
    pub ulimits: Vec<String>,
    pub strict: bool,
    pub verbose: bool,
    /// `--monitor`, `--learn`: the profile's denials go to syscage.
    pub watch: Option<watch::WatchConfig>,
}

fn warn(msg: &str) {
    eprintln!("syscage: warning: {msg}");
}

/// A step that could not be applied: refused under `--strict`, otherwise said on stderr.
fn not_applied(strict: bool, what: String) -> Result<(), SandboxError> {
    if strict {
        return Err(SandboxError::Strict(what));
    }
    warn(&format!("not applied: {what}"));
    Ok(())
}

/// What the parent hands to the sandbox's init and the workload.
struct Plan {
    cfg: RunConfig,
    filter: Option<filter::CompiledFilter>,
    kept: caps::KeptCaps,
    last_cap: u32,
    mounts: mounts::MountPlan,
    exec: exec::ExecPlan,
    idmap: userns::IdMap,
    landlock: Option<crate::profile::landlock::Ruleset>,
    user: Option<identity::User>,
    ulimits: Vec<identity::Ulimit>,
    signals: sys::SignalSet,
    old_mask: sys::SignalSet,
    watch: Option<WatchPlan>,
    /// Said with -v: how the working directory was kept.
    cwd_note: Option<String>,
}

/// `--monitor`/`--learn`: the answers, and the socket the workload hands its listener over on.
struct WatchPlan {
    watch: crate::profile::watch::Watch,
    parent_sock: OwnedFd,
    child_sock: OwnedFd,
}

/// How a run ended: the exit code syscage should exit with, and with `--learn` what the
/// workload was let do beyond its profile (for the caller to write) and how many calls.
pub struct Outcome {
    pub code: i32,
    pub learned: Option<(crate::model::Recording, u64)>,
}

impl From<i32> for Outcome {
    fn from(code: i32) -> Outcome {
        Outcome {
            code,
            learned: None,
        }
    }
}

/// Runs the command confined.
pub fn run(cfg: &RunConfig) -> Result<Outcome, SandboxError> {
    // Parent: everything that can fail is checked before any namespace exists.
    let kept = caps::parse(&cfg.cap_add)?;
    let choice = cfg.seccomp.clone().unwrap_or(SeccompChoice::Builtin);
    let (filter, watch) = match &cfg.watch {
        Some(w) => {
            let (f, answers) = filter::prepare_watch(&choice, &kept.names, w.mode)?;
            (Some(f), Some(answers))
        }
        None => (filter::prepare(&choice, &kept.names)?, None),
    };
    match &filter {
        Some(f) if choice != SeccompChoice::Builtin => f.warnings.iter().for_each(|w| warn(w)),
        // The built-in profile's warnings are known and reviewed: notes, and only on request.
        Some(f) if cfg.verbose => f
            .warnings
            .iter()
            .for_each(|w| eprintln!("syscage: note: {w}")),
        Some(_) => {}
        None => warn("seccomp is disabled (--seccomp unconfined): every syscall is allowed"),
    }
    let user = match &cfg.user {
        Some(spec) => Some(identity::user(
            spec,
            cfg.rootfs.as_deref().unwrap_or(std::path::Path::new("/")),
        )?),
        None => None,
    };
    let ulimits = cfg
        .ulimits
        .iter()
        .map(|u| identity::parse_ulimit(u))
        .collect::<Result<Vec<_>, _>>()
        .map_err(SandboxError::Message)?;
    identity::check_ulimits(&ulimits).map_err(SandboxError::Message)?;
    let env = exec::EnvSpec {
        clear: cfg.clear_env,
        set: cfg.env.clone(),
        // As Docker: HOME follows --user (its passwd entry's home, or /).
        home: user
            .as_ref()
            .map(|u| u.home.clone().unwrap_or_else(|| "/".into())),
    };
    let exec = exec::prepare(&cfg.command, cfg.cwd.as_deref(), cfg.rootfs.is_none(), &env)?;
    // The program runs where it was started: a working directory that one of the sandbox's own
    // mounts would hide (a project under /tmp), or that its root may not reach (root's 0700
    // /root seen by host uid 1000000000), is bound in read-only, as `-v DIR -w DIR` would.
    let idmap = userns::plan(cfg.userns_base);
    let unmapped_root = match idmap {
        userns::IdMap::Range { base, count } if base != 0 => Some((base, count)),
        _ => None,
    };
    let mapped = move |id: u32| match unmapped_root {
        Some((base, count)) => (base..base.saturating_add(count)).contains(&id),
        None => true,
    };
    let mut workdir = None;
    let mut cwd_note = None;
    if cfg.rootfs.is_none() {
        let cwd = exec.cwd.display();
        if let Some((root, what)) = mounts::hidden_by_sandbox(&exec.cwd, &cfg.mounts) {
            workdir = Some(exec.cwd.as_path());
            cwd_note = Some(format!(
                "working directory {cwd}: bound read-only from the host ({root} is {what} in the sandbox; --rw {cwd} to write there)"
            ));
        } else if let Some(a) = mounts::unsearchable_ancestor(&exec.cwd, &mapped)
            && !mounts::covered_by_bind(&exec.cwd, &cfg.mounts)
        {
            workdir = Some(exec.cwd.as_path());
            cwd_note = Some(format!(
                "working directory {cwd}: bound read-only from the host ({} may not be searched by the sandbox's root, host uid {}, and is a tmpfs holding it in the sandbox; --rw {cwd} to write there, --userns-base 0 to see the host's {0})",
                a.display(),
                unmapped_root.map_or(0, |r| r.0)
            ));
        }
    }
    let mut mounts = mounts::plan(cfg.rootfs.as_deref(), &cfg.mounts, workdir)?;
    if unmapped_root.is_some() {
        for a in mounts::reach_binds(&mut mounts, &mapped) {
            if cfg.verbose {
                eprintln!(
                    "syscage: {}: a tmpfs in the sandbox, holding the mounts below it (the sandbox's root may not search the host's)",
                    a.display()
                );
            }
        }
    }
    mounts::copy_sources(&mut mounts)?;
    for w in rw_owner_warnings(&mounts, &idmap) {
        warn(&w);
    }
    if let Some(u) = &user
        && u.uid.max(u.gid) >= idmap.inside_ids()
    {
        return Err(SandboxError::Message(format!(
            "--user {}: uid {} / gid {} is not mapped in the sandbox's user namespace, which maps ids 0-{} ({})",
            cfg.user.as_deref().unwrap_or_default(),
            u.uid,
            u.gid,
            idmap.inside_ids() - 1,
            idmap.describe()
        )));
    }
    let landlock = match &cfg.landlock {
        Some(path) => {
            let bytes = std::fs::read(path).map_err(|source| SandboxError::Step {
                step: format!("--landlock {}", path.display()),
                source,
            })?;
            Some(crate::profile::landlock::parse(&bytes, path).map_err(SandboxError::Message)?)
        }
        None => None,
    };

    // Signals arriving from now on wait in the queue and are forwarded once the workload runs.
    let signals = monitor::handled_signals();
    let old_mask = signals.block().map_err(|source| SandboxError::Step {
        step: "blocking signals".into(),
        source,
    })?;
    let watch = match watch {
        Some(w) => {
            use nix::sys::socket::{AddressFamily, SockFlag, SockType, socketpair};
            let (parent_sock, child_sock) = socketpair(
                AddressFamily::Unix,
                SockType::SeqPacket,
                None,
                SockFlag::SOCK_CLOEXEC,
            )
            .map_err(|e| step_err("creating the listener hand-over socket", e))?;
            Some(WatchPlan {
                watch: w,
                parent_sock,
                child_sock,
            })
        }
        None => None,
    };
    let plan = Plan {
        cfg: cfg.clone(),
        filter,
        kept,
        last_cap: caps::last_cap(),
        mounts,
        exec,
        idmap,
        landlock,
        user,
        ulimits,
        signals,
        old_mask,
        watch,
        cwd_note,
    };
    let (release_rx, release_tx) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|e| step_err("creating the release pipe", e))?;
    // The init says the workload's status on this before its own exit (see `init_steps`).
    let (status_rx, status_tx) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|e| step_err("creating the status pipe", e))?;

    // New namespaces, falling back step by step where the kernel or a runtime refuses them.
    let (child, ns) = clone_sandbox(&plan)?;
    let Some(child) = child else {
        drop(release_tx);
        drop(status_rx);
        init(&plan, ns, release_rx, status_tx);
    };
    drop(release_rx);
    drop(status_tx);

    // Parent: map ids, then let the child go on. A failure kills the child.
    let map_kind = if ns.contains(CloneFlags::CLONE_NEWUSER) {
        match userns::write(child.as_raw(), &plan.idmap) {
            Ok((map, note)) => {
                if let Some(n) = note {
                    not_applied(cfg.strict, n).inspect_err(|_| kill_child(child))?;
                }
                if map.can_setgroups() { b'R' } else { b'C' }
            }
            Err(e) => {
                kill_child(child);
                return Err(e);
            }
        }
    } else {
        b'N'
    };
    if !ns.contains(CloneFlags::CLONE_NEWPID) {
        // Without a pid namespace the workload sees us, with its uid and without a filter: never
        // traceable by it.
        prctl::set_dumpable(false).map_err(|e| step_err("PR_SET_DUMPABLE 0", e))?;
    }
    nix::unistd::write(&release_tx, &[map_kind])
        .map_err(|e| step_err("releasing the sandbox", e))?;
    // The write end stays open for our lifetime: the init sees it hang up if we die early.
    let _lifeline = release_tx;

    if let (Some(wp), Some(wc)) = (&plan.watch, &cfg.watch) {
        return supervise_watched(child, &plan, wp, wc);
    }
    // Monitor: forward signals to the init until it reports the workload's status or exits.
    monitor::forward_until_reported(child, &plan.signals, &status_rx)
        .map(Outcome::from)
        .map_err(|source| SandboxError::Step {
            step: "waiting for the sandbox".into(),
            source,
        })
}

/// `--monitor`/`--learn`: takes the workload's listener, then serves it until the init exits.
fn supervise_watched(
    child: Pid,
    plan: &Plan,
    wp: &WatchPlan,
    wc: &watch::WatchConfig,
) -> Result<Outcome, SandboxError> {
    let wait = || {
        monitor::forward_until_exit(child, &plan.signals, false).map_err(|source| {
            SandboxError::Step {
                step: "waiting for the sandbox".into(),
                source,
            }
        })
    };
    // The workload says nothing if it fails before its filter (command not found...).
    let Some(pidfd) = handoff::receive_pidfd(&wp.parent_sock)? else {
        return wait().map(Outcome::from);
    };
    let listener = match handoff::take_listener(&pidfd, &wp.parent_sock) {
        Ok(l) => l,
        Err(e) => {
            // Still alive, it waits for a release that will never come: end the sandbox.
            let alive = !sys::pidfd_exited(&pidfd);
            if alive {
                let _ = nix::sys::signal::kill(child, Signal::SIGKILL);
            }
            let code = wait()?;
            if alive || code == exit::SYSCAGE_ERROR {
                return Err(e);
            }
            return Ok(code.into());
        }
    };
    // The workload waits for this before it execs: its listener is ours by now.
    nix::unistd::write(&wp.parent_sock, b"G").map_err(|e| step_err("releasing the workload", e))?;
    if wc.mode == crate::profile::watch::Mode::Learn {
        eprintln!(
            "syscage: learn mode: syscalls the profile does not list are allowed (not enforced) and recorded"
        );
    }
    let command = plan
        .cfg
        .command
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let handed = watch::Handed {
        listener,
        workload: pidfd,
        killable_wait: plan
            .filter
            .as_ref()
            .is_some_and(|f| f.load_flags & sys::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV != 0),
    };
    let watched = watch::supervise(child, &plan.signals, handed, wp.watch.clone(), wc, command)?;
    Ok(Outcome {
        code: watched.code,
        learned: watched.learned,
    })
}

/// A `--rw` directory that the sandbox's root cannot write: root invoking maps root inside to
/// an unprivileged host range, so a root-owned directory is read-only in practice (and git says
/// "dubious ownership"). Said before the run, with the two ways out.
fn rw_owner_warnings(mounts: &mounts::MountPlan, idmap: &userns::IdMap) -> Vec<String> {
    use std::os::unix::fs::MetadataExt;
    let userns::IdMap::Range { base, count } = *idmap else {
        return Vec::new();
    };
    if base == 0 {
        return Vec::new();
    }
    mounts
        .mounts
        .iter()
        .filter(|m| m.flag == "--rw")
        .filter_map(|m| {
            let src = m.source.as_ref()?;
            let meta = std::fs::metadata(src).ok()?;
            let mapped = (base..base.saturating_add(count)).contains(&meta.uid());
            let open_to_all = meta.mode() & 0o002 != 0;
            (!mapped && !open_to_all).then(|| {
                format!(
                    "--rw {}: owned by host uid {}, which the sandbox does not map (its root is host uid {base}): writes there will fail; --userns-base 0 makes root inside host root, or chown it to {base}",
                    src.display(),
                    meta.uid()
                )
            })
        })
        .collect()
}

fn step_err(step: &str, e: nix::errno::Errno) -> SandboxError {
    SandboxError::Step {
        step: step.into(),
        source: e.into(),
    }
}

fn kill_child(child: Pid) {
    let _ = nix::sys::signal::kill(child, Signal::SIGKILL);
    let _ = nix::sys::wait::waitpid(child, None);
}

fn ns_names(flags: CloneFlags) -> String {
    [
        (CloneFlags::CLONE_NEWUSER, "user"),
        (CloneFlags::CLONE_NEWNS, "mount"),
        (CloneFlags::CLONE_NEWPID, "pid"),
        (CloneFlags::CLONE_NEWIPC, "ipc"),
        (CloneFlags::CLONE_NEWUTS, "uts"),
        (CloneFlags::CLONE_NEWNET, "network"),
    ]
    .iter()
    .filter(|(f, _)| flags.contains(*f))
    .map(|(_, n)| *n)
    .collect::<Vec<_>>()
    .join(", ")
}

/// Clones the init into every namespace it can get. Without a user namespace (a runtime whose
/// seccomp profile forbids it) it tries the others alone (they need CAP_SYS_ADMIN), then none.
fn clone_sandbox(plan: &Plan) -> Result<(Option<Pid>, CloneFlags), SandboxError> {
    let mut others = CloneFlags::CLONE_NEWNS
        | CloneFlags::CLONE_NEWPID
        | CloneFlags::CLONE_NEWIPC
        | CloneFlags::CLONE_NEWUTS;
    if plan.cfg.net == NetMode::None {
        others |= CloneFlags::CLONE_NEWNET;
    }
    let strict = plan.cfg.strict;
    let mut attempts = [
        others | CloneFlags::CLONE_NEWUSER,
        others,
        CloneFlags::empty(),
    ]
    .into_iter();
    let mut tried = attempts.next().unwrap_or(others);
    loop {
        match sys::clone_process(tried.bits()) {
            Ok(pid) => return Ok((pid.map(Pid::from_raw), tried)),
            Err(e) => {
                let Some(next) = attempts.next() else {
                    return Err(SandboxError::Step {
                        step: "fork".into(),
                        source: e,
                    });
                };
                let lost = tried.difference(next);
                let explicit = lost.contains(CloneFlags::CLONE_NEWNET)
                    || (lost.contains(CloneFlags::CLONE_NEWNS) && plan.cfg.rootfs.is_some());
                if explicit {
                    // An explicit request (--net none, --rootfs) is never silently dropped.
                    return Err(SandboxError::Message(format!(
                        "cannot create the {} namespaces that --net none/--rootfs need: {e}",
                        ns_names(lost)
                    )));
                }
                not_applied(
                    strict,
                    format!("{} namespace(s) (clone: {e})", ns_names(lost)),
                )?;
                tried = next;
            }
        }
    }
}

/// The sandbox's init: never returns. Errors are printed and end it with status 125.
fn init(plan: &Plan, ns: CloneFlags, release: OwnedFd, status: OwnedFd) -> ! {
    match init_steps(plan, ns, release, status) {
        Ok(never) => match never {},
        Err(e) => {
            eprintln!("syscage: error: {e}");
            sys::exit_now(exit::SYSCAGE_ERROR)
        }
    }
}

fn become_root(map_kind: u8) -> Result<(), SandboxError> {
    let root = Gid::from_raw(0);
    nix::unistd::setresgid(root, root, root).map_err(|e| step_err("setresgid(0)", e))?;
    // The caller's supplementary groups would still grant access to host files.
    if map_kind != b'C' {
        nix::unistd::setgroups(&[]).map_err(|e| step_err("setgroups([])", e))?;
    }
    let root = Uid::from_raw(0);
    nix::unistd::setresuid(root, root, root).map_err(|e| step_err("setresuid(0)", e))
}

fn parent_gone(release: &OwnedFd) -> bool {
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    use std::os::fd::AsFd;
    let mut fds = [PollFd::new(release.as_fd(), PollFlags::POLLIN)];
    match poll(&mut fds, PollTimeout::ZERO) {
        Ok(_) => fds[0]
            .revents()
            .is_some_and(|r| r.contains(PollFlags::POLLHUP)),
        Err(_) => true,
    }
}

fn init_steps(
    plan: &Plan,
    ns: CloneFlags,
    release: OwnedFd,
    status: OwnedFd,
) -> Result<Infallible, SandboxError> {
    let cfg = &plan.cfg;
    let strict = cfg.strict;
    let mut report: Vec<String> = Vec::new();

    // Die with the parent, and wait until it has written our id maps.
    prctl::set_pdeathsig(Signal::SIGKILL).map_err(|e| step_err("PR_SET_PDEATHSIG", e))?;
    let mut kind = [0u8];
    match nix::unistd::read(&release, &mut kind) {
        Ok(1) => {}
        // The parent failed (and said why) or died: leave without a word.
        _ => sys::exit_now(exit::SYSCAGE_ERROR),
    }
    // Never traceable by the workload: non-dumpable before the workload exists and before any
    // credential change (not after the init's capabilities are gone, which left a window in
    // which a workload with the same uid could PTRACE_SEIZE it). Not earlier: the parent could
    // not have written our id maps.
    prctl::set_dumpable(false).map_err(|e| step_err("PR_SET_DUMPABLE 0", e))?;
    if ns.contains(CloneFlags::CLONE_NEWUSER) {
        become_root(kind[0])?;
        // Changing credentials cleared the parent-death signal: set it again, then make sure the
        // parent did not die in between (its end of the release pipe would have hung up).
        prctl::set_pdeathsig(Signal::SIGKILL).map_err(|e| step_err("PR_SET_PDEATHSIG", e))?;
        if parent_gone(&release) {
            sys::exit_now(exit::SYSCAGE_ERROR);
        }
        if cfg.verbose {
            let mut map = plan.idmap.describe();
            if kind[0] == b'C' && !matches!(plan.idmap, userns::IdMap::Caller { .. }) {
                map = "root → the caller's own uid/gid (one id)".into();
            }
            report.push(format!("user namespace: {map}"));
        }
    }
    if cfg.verbose {
        report.push(format!(
            "namespaces: {}{}",
            ns_names(ns),
            if ns.contains(CloneFlags::CLONE_NEWNET) {
                ""
            } else {
                " (network shared with the host)"
            }
        ));
    }

    drop(release);

    // Filesystem: read-only root, fresh /proc, minimal /dev, tmpfs /tmp, the user's mounts.
    if ns.contains(CloneFlags::CLONE_NEWNS) {
        let m = mounts::apply(&plan.mounts)?;
        report.extend(m.applied);
        for what in m.missing {
            not_applied(strict, what)?;
        }
    } else {
        not_applied(
            strict,
            "read-only root, fresh /proc, minimal /dev, tmpfs /tmp (no mount namespace)".into(),
        )?;
        if plan
            .mounts
            .mounts
            .iter()
            .any(|m| m.readonly && m.flag != mounts::WORKDIR)
        {
            return Err(SandboxError::Message("--ro needs a mount namespace".into()));
        }
    }
    if let Err(e) = nix::unistd::chdir(&plan.exec.cwd) {
        if plan.exec.cwd_explicit {
            return Err(step_err(&format!("--cwd {}", plan.exec.cwd.display()), e));
        }
        // Never silently elsewhere: a relative command or path would mean something else.
        let why = match (e, &plan.idmap) {
            (nix::errno::Errno::EACCES, userns::IdMap::Range { base, .. })
                if ns.contains(CloneFlags::CLONE_NEWUSER) && *base != 0 =>
            {
                format!(
                    "the sandbox's root is host uid {base}, which may not search it or a directory above it; --userns-base 0 makes it host root"
                )
            }
            (nix::errno::Errno::ENOENT, _) => "it is not in the sandbox's root".to_string(),
            (e, _) => e.desc().to_string(),
        };
        return Err(SandboxError::Message(format!(
            "the working directory {} is not reachable in the sandbox: {why} (run from another directory, or give --cwd DIR)",
            plan.exec.cwd.display()
        )));
    }
    if let Some(note) = &plan.cwd_note
        && ns.contains(CloneFlags::CLONE_NEWNS)
    {
        report.push(note.clone());
    }
    if ns.contains(CloneFlags::CLONE_NEWUTS) {
        let name = cfg.hostname.as_deref().unwrap_or("syscage");
        nix::unistd::sethostname(name).map_err(|e| step_err(&format!("sethostname {name}"), e))?;
    }
    if ns.contains(CloneFlags::CLONE_NEWNET) {
        sys::loopback_up().map_err(|source| SandboxError::Step {
            step: "bringing up lo in the new network namespace".into(),
            source,
        })?;
    }

    // A new session without a terminal: the workload cannot push input into the caller's
    // terminal with TIOCSTI.
    nix::unistd::setsid().map_err(|e| step_err("setsid", e))?;
    // Only stdin, stdout, stderr and the descriptors passed with --preserve-fds stay open (and
    // the listener hand-over socket and our status pipe, which are close-on-exec).
    let mut keep: Vec<std::os::fd::RawFd> = (3..3 + cfg.preserve_fds as i32).collect();
    keep.push(status.as_raw_fd());
    if let Some(wp) = &plan.watch {
        keep.push(std::os::fd::AsRawFd::as_raw_fd(&wp.child_sock));
    }
    sys::close_all_except(&keep).map_err(|source| SandboxError::Step {
        step: "closing inherited file descriptors".into(),
        source,
    })?;

    if cfg.verbose {
        if let Some(u) = &plan.user {
            report.push(format!(
                "user: uid {} gid {}, no supplementary groups",
                u.uid, u.gid
            ));
        }
        for l in &plan.ulimits {
            let v = |x: u64| {
                if x == u64::MAX {
                    "unlimited".to_string()
                } else {
                    x.to_string()
                }
            };
            report.push(format!("ulimit {}: {}:{}", l.name, v(l.soft), v(l.hard)));
        }
        report.push(format!("capabilities: {}", caps::describe(&plan.kept)));
        report.push("no_new_privs: set".into());
        report.push(format!(
            "syscage's init (PID 1): non-dumpable, no capabilities, its own filter ({} calls: wait, signals, exit)",
            init_filter::INIT_CALLS.len()
        ));
        report.push(match &plan.filter {
            Some(f) => format!("seccomp: {}", f.summary),
            None => "seccomp: none (--seccomp unconfined)".into(),
        });
        report.push(format!(
            "file descriptors: 0-2{}; new session without a controlling terminal",
            match cfg.preserve_fds {
                0 => String::new(),
                n => format!(" and 3-{}", 2 + n),
            }
        ));
        for line in &report {
            eprintln!("syscage: {line}");
        }
    }

    // Bounding set: inherited by the workload, so emptied once here.
    for what in caps::drop_bounding(plan.kept.mask, plan.last_cap) {
        not_applied(strict, what)?;
    }

    let (workload_pid, init_ready) = spawn_workload(plan).map_err(|source| SandboxError::Step {
        step: "starting the workload".into(),
        source,
    })?;
    // The init keeps nothing it could be robbed of: no capabilities, no descriptors the workload
    // was not given, and (non-dumpable since before the workload existed) it cannot be ptraced
    // by it. Its own filter then limits it to waiting, forwarding signals and exiting.
    if cfg.preserve_fds > 0 || plan.watch.is_some() {
        let mut keep: Vec<_> = init_ready.iter().map(AsRawFd::as_raw_fd).collect();
        keep.push(status.as_raw_fd());
        let _ = sys::close_all_except(&keep);
    }
    let _ = caps::drop_bounding(0, plan.last_cap);
    let _ = caps::drop_to(0, false);
    let _ = prctl::set_no_new_privs();
    if !ns.contains(CloneFlags::CLONE_NEWPID) {
        // Without a pid namespace, orphans still come back to us to be reaped.
        let _ = prctl::set_child_subreaper(true);
    }
    if let Err(e) = sys::load_seccomp_filter(init_filter::PROGRAM, 0) {
        // The workload runs already (or waits for the byte below): say so, and stay to reap it.
        warn(&format!(
            "the sandbox's init could not load its own filter: {e}"
        ));
    }
    if let Some(ready) = init_ready {
        // The workload may go on: we are filtered (see spawn_workload).
        let _ = nix::unistd::write(&ready, b"F");
    }
    let code = monitor::forward_until_exit(workload_pid, &plan.signals, true)
        .unwrap_or(exit::SYSCAGE_ERROR);
    // Nothing else left in the sandbox (every orphan comes back to us): say the status now, so
    // that the caller need not wait for our exit's teardown of the namespaces and of our memory,
    // a tenth of a short run's time. Otherwise the caller waits for our exit, which (as PID 1)
    // kills everything left in the namespace and waits for it.
    if monitor::no_children_left() {
        let _ = nix::unistd::write(&status, &code.to_le_bytes());
    }
    sys::exit_now(code)
}

/// CAP_SYS_PTRACE, which overrides non-dumpability where the workload holds it over the init.
const CAP_SYS_PTRACE: u64 = 1 << 19;

/// Starts the workload; returns its pid and, when it waits for us, the pipe to release it on.
///
/// Plain runs share our memory until the exec (vfork: no page-table copy; we wait meanwhile):
/// the workload can only reach us after its exec, when we are non-dumpable. Two cases fork it
/// with a memory of its own instead. Under --monitor/--learn the supervisor outside takes the
/// workload's listener with pidfd_getfd, which needs the workload dumpable while we are not.
/// And a workload keeping CAP_SYS_PTRACE (--cap-add) where no user namespace of its own
/// separates it from ours could trace us despite non-dumpability: it must not exec before our
/// own filter is loaded, so it waits for a byte on a pipe (read before its own filter exists).
fn spawn_workload(plan: &Plan) -> std::io::Result<(Pid, Option<OwnedFd>)> {
    let traces = plan.kept.mask & CAP_SYS_PTRACE != 0;
    if plan.watch.is_none() && !traces {
        let pid = sys::spawn_shared(&mut || workload(plan, None))?;
        return Ok((Pid::from_raw(pid), None));
    }
    let (wait, ready) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
    match sys::clone_process(0)? {
        Some(pid) => {
            drop(wait);
            Ok((Pid::from_raw(pid), Some(ready)))
        }
        None => {
            drop(ready);
            workload(plan, Some(wait))
        }
    }
}

/// The workload's last steps: no_new_privs, capabilities, seccomp last, then execve.
fn workload(plan: &Plan, init_ready: Option<OwnedFd>) -> ! {
    let fail = exec::die;
    let path = exec::start_child(&plan.exec, &plan.old_mask);
    if let Err(e) = prctl::set_no_new_privs() {
        fail(
            exit::SYSCAGE_ERROR,
            &format!("error: setting no_new_privs: {e}"),
        );
    }
    // Landlock after no_new_privs (it needs it), before capabilities and seccomp.
    if let Some(rules) = &plan.landlock {
        match landlock::apply(rules) {
            Ok(a) => {
                if plan.cfg.verbose {
                    eprintln!(
                        "syscage: landlock: ABI {}, {} ({} path rules, {} port rules)",
                        a.abi, a.status, a.path_rules, a.port_rules
                    );
                    if !a.missing.is_empty() {
                        eprintln!(
                            "syscage: landlock: no such path in the sandbox, rule skipped: {}",
                            a.missing.join(" ")
                        );
                    }
                }
                if !a.fully
                    && let Err(e) = not_applied(
                        plan.cfg.strict,
                        format!("the full Landlock ruleset (ABI {}: {})", a.abi, a.status),
                    )
                {
                    fail(exit::SYSCAGE_ERROR, &format!("error: {e}"));
                }
            }
            Err(e) => fail(exit::SYSCAGE_ERROR, &format!("error: {e}")),
        }
    }
    if let Err(e) = identity::apply_ulimits(&plan.ulimits) {
        fail(exit::SYSCAGE_ERROR, &format!("error: {e}"));
    }
    // The user switch needs CAP_SETUID/CAP_SETGID: before capabilities are dropped. A non-root
    // user keeps what --cap-add asked for only through the ambient set (as with bwrap).
    let ambient = plan.user.as_ref().is_some_and(|u| u.uid != 0);
    if let Some(u) = &plan.user
        && let Err(e) = identity::switch_to(u, plan.kept.mask != 0)
    {
        fail(exit::SYSCAGE_ERROR, &format!("error: {e}"));
    }
    if let Err(e) = caps::drop_to(plan.kept.mask, ambient) {
        fail(exit::SYSCAGE_ERROR, &format!("error: {e}"));
    }
    // --monitor/--learn: the supervisor takes the listener the filter load creates.
    let _pidfd = match &plan.watch {
        // Dumpable after every credential change (a --user switch resets it), in our own memory
        // (spawn_workload): the init stays non-dumpable.
        Some(_) if prctl::set_dumpable(true).is_err() => fail(
            exit::SYSCAGE_ERROR,
            "error: PR_SET_DUMPABLE 1 in the workload",
        ),
        Some(wp) => match handoff::send_pidfd(&wp.child_sock) {
            Ok(fd) => Some(fd),
            Err(e) => fail(exit::SYSCAGE_ERROR, &format!("error: {e}")),
        },
        None => None,
    };
    if let Some(ready) = &init_ready {
        // Until the init has its own filter (see spawn_workload); EOF if it died. The pipe
        // stays open until the exec (close-on-exec).
        let mut byte = [0u8];
        let _ = nix::unistd::read(ready, &mut byte);
    }
    let courier = plan.watch.as_ref().map(|wp| {
        handoff::Courier::start(&wp.child_sock)
            .unwrap_or_else(|e| fail(exit::SYSCAGE_ERROR, &format!("error: {e}")))
    });
    // Seccomp last: nothing syscage does after this needs to be allowed by the profile.
    if let Some(f) = &plan.filter {
        match sys::load_seccomp_filter(&f.program, f.load_flags) {
            Ok(listener) => {
                if let Some(c) = &courier
                    && f.load_flags & sys::SECCOMP_FILTER_FLAG_NEW_LISTENER != 0
                {
                    c.deliver(listener as RawFd);
                }
            }
            Err(e) => fail(
                exit::SYSCAGE_ERROR,
                &format!("error: loading the seccomp filter: {e}"),
            ),
        }
    }
    if let Some(wp) = &plan.watch {
        // Until the supervisor holds the listener; any answer will do (the supervisor lets
        // this one read through if the profile routes it).
        let mut go = [0u8];
        let _ = nix::unistd::read(&wp.child_sock, &mut go);
    }
    exec::exec(&plan.exec, &path)
}
