//! `syscage record`: runs a workload and records every syscall of every task it starts.
//!
//! Processes as in `run`: the parent supervises; an init in a new pid namespace (and a user
//! namespace when the caller is not root, mapping the caller to itself so the workload sees its own
//! ids) makes syscage's death the workload's death; the workload loads the tracing filter as its
//! very last step before `execve`, so nothing syscage does itself is recorded. Two backends:
//! seccomp user notification (default) and ptrace with `SECCOMP_RET_TRACE`.

pub mod attach;
#[cfg(feature = "ebpf")]
pub mod ebpf;
pub mod engines;
pub mod events;
mod memory;
mod notify;
pub mod progress;
mod ptrace;

use std::convert::Infallible;
use std::ffi::OsString;
use std::os::fd::OwnedFd;

use nix::sched::CloneFlags;
use nix::sys::prctl;
use nix::sys::signal::Signal;
use nix::sys::socket::{AddressFamily, SockFlag, SockType, socketpair};
use nix::unistd::Pid;

use crate::exit;
use crate::model::Recording;
use crate::sandbox::sys::{self, SignalSet};
use crate::sandbox::{SandboxError, exec, monitor};
pub use events::Scope;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Backend {
    /// eBPF where it can load (root, kernel BTF, a build with the `ebpf` feature), else notify.
    Auto,
    /// eBPF: counted in the kernel, no stop per syscall.
    Ebpf,
    /// seccomp user notification: one round trip to syscage per syscall, no ptrace.
    #[default]
    Notify,
    /// ptrace with a `SECCOMP_RET_TRACE` filter: for workloads that use a notify listener themselves.
    Ptrace,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Auto => "auto",
            Backend::Ebpf => "ebpf",
            Backend::Notify => "notify",
            Backend::Ptrace => "ptrace",
        }
    }
}

#[derive(Debug, Clone)]
pub struct RecordConfig {
    pub command: Vec<OsString>,
    pub backend: Backend,
    pub scope: Scope,
    /// When the recording ends: when the last process exits (default) or the first.
    pub until: monitor::Until,
    /// No notes on stderr (the summary's `--quiet`).
    pub quiet: bool,
    /// Argument values are wanted (`--args`, AppArmor's network rules, the recording file).
    /// The stop-based backends always record them; eBPF loads that part only when asked.
    pub wants_args: bool,
    /// Paths and ports are wanted (`--landlock`, `--apparmor`, the recording file).
    pub wants_files: bool,
}

/// What a recording run produced.
pub struct Outcome {
    /// `None` when the workload never started (command not found, setup failure).
    pub recording: Option<Recording>,
    /// The workload's status as syscage exits with it.
    pub exit_code: i32,
    /// The backend that recorded, and why it was chosen.
    pub backend: Backend,
    pub backend_reason: String,
    /// What the backend could not keep (kernel buffers, tables), one line each.
    pub losses: Vec<String>,
}

pub(crate) fn step(what: &str) -> impl FnOnce(nix::errno::Errno) -> SandboxError + '_ {
    move |e| SandboxError::Step {
        step: what.to_string(),
        source: e.into(),
    }
}

pub(crate) fn io_step(what: &str) -> impl FnOnce(std::io::Error) -> SandboxError + '_ {
    move |source| SandboxError::Step {
        step: what.to_string(),
        source,
    }
}

/// A filter that sends every syscall of every ABI to the supervisor.
fn tracing_filter(backend: Backend) -> Result<Vec<u8>, SandboxError> {
    use libseccomp::{ScmpAction, ScmpArch, ScmpFilterContext};
    let fail = |e: libseccomp::error::SeccompError| {
        SandboxError::Message(format!("building the tracing filter: {e}"))
    };
    let action = match backend {
        Backend::Ptrace => ScmpAction::Trace(0),
        // eBPF needs no filter in the workload (the program is never loaded then).
        _ => ScmpAction::Notify,
    };
    let mut ctx = ScmpFilterContext::new(action).map_err(fail)?;
    // i386 (int 0x80, 32-bit programs) and x32 are recorded too, not killed.
    for arch in [ScmpArch::X86, ScmpArch::X32] {
        if ScmpArch::native() == ScmpArch::X8664 {
            ctx.add_arch(arch).map_err(fail)?;
        }
    }
    ctx.set_ctl_nnp(false).map_err(fail)?;
    crate::sandbox::filter::export(&ctx).map_err(io_step("exporting the tracing filter"))
}

struct Plan {
    cfg: RecordConfig,
    exec: exec::ExecPlan,
    program: Vec<u8>,
    signals: SignalSet,
    old_mask: SignalSet,
}

#[cfg(feature = "ebpf")]
type Probe = ebpf::Probe;
#[cfg(not(feature = "ebpf"))]
type Probe = std::convert::Infallible;

/// The backend to record with and why. An eBPF program is loaded later, while the recorder's
/// init prepares the workload (`load_probe`): the two take milliseconds each and need not wait
/// for one another.
fn choose_backend(cfg: &RecordConfig) -> Result<(Backend, String), SandboxError> {
    let filter_scope = cfg.scope == Scope::AfterFilterLoad;
    #[cfg(feature = "ebpf")]
    let unavailable = ebpf::unavailable;
    #[cfg(not(feature = "ebpf"))]
    let unavailable = || Some("this syscage was built without the ebpf feature".to_string());
    match cfg.backend {
        Backend::Auto if filter_scope => Ok((Backend::Notify, "auto".into())),
        Backend::Auto => Ok(match unavailable() {
            None => (Backend::Ebpf, "auto: root and the kernel's BTF".into()),
            Some(why) => (Backend::Notify, format!("auto: eBPF unavailable: {why}")),
        }),
        Backend::Ebpf if filter_scope => Err(SandboxError::Message(
            "--backend ebpf cannot scope a recording to after a filter load".into(),
        )),
        Backend::Ebpf => match unavailable() {
            None => Ok((Backend::Ebpf, "requested".into())),
            Some(why) => Err(SandboxError::Message(format!("--backend ebpf: {why}"))),
        },
        other => Ok((other, "requested".into())),
    }
}

/// Loads and attaches the eBPF recorder.
fn load_probe(cfg: &RecordConfig) -> Result<Probe, String> {
    #[cfg(feature = "ebpf")]
    return ebpf::Probe::load(ebpf::Wants {
        args: cfg.wants_args,
        files: cfg.wants_files,
        ..Default::default()
    });
    #[cfg(not(feature = "ebpf"))]
    {
        let _ = cfg;
        Err("this syscage was built without the ebpf feature".into())
    }
}

/// Records `cfg.command`. The workload's exit status comes back in the outcome.
pub fn record(cfg: &RecordConfig) -> Result<Outcome, SandboxError> {
    // Parent: everything that can fail is checked before the workload starts.
    let (backend, backend_reason) = choose_backend(cfg)?;
    let auto = cfg.backend == Backend::Auto;
    let mut cfg = cfg.clone();
    cfg.backend = backend;
    let cfg = &cfg;
    let program = if backend == Backend::Ebpf {
        Vec::new()
    } else {
        tracing_filter(backend)?
    };
    let exec = exec::prepare(&cfg.command, None, true, &exec::EnvSpec::default())?;
    let signals = monitor::handled_signals();
    let (old_mask, sigfd) = signals
        .block_into_fd()
        .map_err(io_step("blocking signals into a signalfd"))?;
    let (sock, sock_child) = socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .map_err(step("creating the hand-off socket"))?;
    let (release_rx, release_tx) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(step("creating the release pipe"))?;
    let plan = Plan {
        cfg: cfg.clone(),
        exec,
        program,
        signals,
        old_mask,
    };

    // A pid namespace whose init dies with us: the workload cannot outlive its supervisor.
    let userns = !nix::unistd::geteuid().is_root();
    let mut flags = CloneFlags::CLONE_NEWPID | CloneFlags::CLONE_NEWNS;
    if userns {
        flags |= CloneFlags::CLONE_NEWUSER;
    }
    // Without a pid namespace (a runtime's profile forbids it), ptrace's EXITKILL still ties the
    // tracees' lives to ours; a notify listener has no such guarantee, so it is refused.
    let (child, namespaced) = match sys::clone_process(flags.bits()) {
        Ok(pid) => (pid, true),
        Err(e) if cfg.backend == Backend::Ptrace => {
            eprintln!(
                "syscage: warning: no pid namespace ({e}); recording with ptrace, whose EXITKILL kills the workload if syscage dies"
            );
            (sys::clone_process(0).map_err(io_step("fork"))?, false)
        }
        Err(e) => {
            return Err(SandboxError::Message(format!(
                "cannot create the pid namespace that ties the workload's life to syscage's ({e}); \
                 `--backend ptrace` can record without one"
            )));
        }
    };
    let child = match child {
        Some(pid) => Pid::from_raw(pid),
        None => {
            drop((release_tx, sock, sigfd));
            init(&plan, release_rx, sock_child, namespaced)
        }
    };
    drop((release_rx, sock_child));
    if userns && namespaced {
        // The caller maps to itself, so the workload sees its own uid and gid.
        let uid = nix::unistd::getuid().as_raw();
        let gid = nix::unistd::getgid().as_raw();
        let maps = [
            ("setgroups", "deny\n".to_string()),
            ("uid_map", format!("{uid} {uid} 1\n")),
            ("gid_map", format!("{gid} {gid} 1\n")),
        ];
        for (file, text) in maps {
            if let Err(e) = std::fs::write(format!("/proc/{child}/{file}"), text) {
                let _ = nix::sys::signal::kill(child, Signal::SIGKILL);
                return Err(SandboxError::Step {
                    step: format!("writing /proc/{child}/{file}"),
                    source: e,
                });
            }
        }
    }
    if !namespaced {
        // The workload sees us (no pid namespace): never traceable by it.
        prctl::set_dumpable(false).map_err(step("PR_SET_DUMPABLE 0"))?;
    }
    nix::unistd::write(&release_tx, b"R").map_err(step("releasing the recorder's init"))?;
    let _lifeline = release_tx;
    // The init mounts its /proc and prepares the workload meanwhile; nothing runs before the
    // probe tracks it ("G" below).
    let probe = match backend {
        Backend::Ebpf => match load_probe(cfg) {
            Ok(p) => Some(p),
            Err(why) => {
                // Nothing of the workload has run: the init and what it started go.
                let _ = nix::sys::signal::kill(child, Signal::SIGKILL);
                let _ = nix::sys::wait::waitpid(child, Some(nix::sys::wait::WaitPidFlag::__WALL));
                if !auto {
                    return Err(SandboxError::Message(format!("--backend ebpf: {why}")));
                }
                // As before the attempt: the next start blocks its signals afresh.
                plan.old_mask
                    .set_mask()
                    .map_err(io_step("restoring the signal mask"))?;
                drop((sock, sigfd));
                let mut notify = cfg.clone();
                notify.backend = Backend::Notify;
                let mut out = record(&notify)?;
                out.backend_reason = format!("auto: eBPF unavailable: {why}");
                return Ok(out);
            }
        },
        _ => None,
    };

    // The workload sends a pidfd of itself (its courier sends the listener after the load).
    let Some(pidfd) = crate::sandbox::handoff::receive_pidfd(&sock)? else {
        // It never got that far (command not found, setup error): its status says why.
        let code = wait_child(child, &sigfd)?;
        return Ok(Outcome {
            recording: None,
            exit_code: code,
            backend,
            backend_reason,
            losses: Vec::new(),
        });
    };
    // On a terminal, say at once that the recording runs and how it ends (a long-running
    // service otherwise shows nothing until it stops); never in pipes or CI logs.
    if !cfg.quiet && nix::unistd::isatty(std::io::stderr()).unwrap_or(false) {
        let pid = sys::pidfd_pid(&pidfd)
            .map(|p| format!(" (pid {p})"))
            .unwrap_or_default();
        eprintln!(
            "syscage: recording {}{pid} with the {} backend ({backend_reason}); it ends when the workload does, or on Ctrl-C, and then the profile is written",
            cfg.command
                .first()
                .map(|c| c.to_string_lossy().into_owned())
                .unwrap_or_default(),
            backend.name()
        );
    }
    let mut progress = progress::Progress::new(cfg.quiet);
    let command: Vec<String> = cfg
        .command
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    #[cfg(feature = "ebpf")]
    if let Some(probe) = probe {
        let (code, rec, losses) =
            ebpf::supervise(child, &pidfd, &sock, &sigfd, probe, command, &mut progress)?;
        progress.done();
        return Ok(Outcome {
            recording: Some(rec),
            exit_code: code,
            backend,
            backend_reason,
            losses: losses.describe(),
        });
    }
    #[cfg(not(feature = "ebpf"))]
    drop(probe);
    let mut recorder = events::Recorder::new(cfg.scope);
    let code = match cfg.backend {
        Backend::Ptrace => ptrace::supervise(child, &pidfd, &sock, &mut recorder, &mut progress)?,
        _ => notify::supervise(child, &pidfd, &sock, &sigfd, &mut recorder, &mut progress)?,
    };
    progress.done();
    Ok(Outcome {
        recording: Some(recorder.finish(command)),
        exit_code: code,
        backend,
        backend_reason,
        losses: Vec::new(),
    })
}

/// Waits for the init to exit, forwarding signals meanwhile; returns its exit code.
pub(crate) fn wait_child(child: Pid, sigfd: &OwnedFd) -> Result<i32, SandboxError> {
    loop {
        if let Some(code) = reaped(child)? {
            return Ok(code);
        }
        let sig = sys::signalfd_read(sigfd).map_err(io_step("reading signals"))?;
        if sig != libc::SIGCHLD {
            let _ = sys::send_signal(child.as_raw(), sig);
        }
    }
}

/// The init's exit code, once it has exited.
pub(crate) fn reaped(child: Pid) -> Result<Option<i32>, SandboxError> {
    use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
    match waitpid(child, Some(WaitPidFlag::WNOHANG | WaitPidFlag::__WALL)) {
        Ok(WaitStatus::StillAlive) | Err(nix::errno::Errno::EINTR) => Ok(None),
        Ok(status) => Ok(monitor::exit_code(status)),
        Err(e) => Err(step("waiting for the recorder's init")(e)),
    }
}

/// The recorder's init: PID 1 of the new pid namespace, with a fresh /proc so that pids the
/// workload sees match /proc; forwards signals and reaps until the workload exits.
fn init(plan: &Plan, release: OwnedFd, sock: OwnedFd, namespaced: bool) -> ! {
    match init_steps(plan, release, sock, namespaced) {
        Ok(never) => match never {},
        Err(e) => {
            eprintln!("syscage: error: {e}");
            sys::exit_now(exit::SYSCAGE_ERROR)
        }
    }
}

fn init_steps(
    plan: &Plan,
    release: OwnedFd,
    sock: OwnedFd,
    namespaced: bool,
) -> Result<Infallible, SandboxError> {
    prctl::set_pdeathsig(Signal::SIGKILL).map_err(step("PR_SET_PDEATHSIG"))?;
    let mut byte = [0u8];
    if nix::unistd::read(&release, &mut byte) != Ok(1) {
        sys::exit_now(exit::SYSCAGE_ERROR);
    }
    drop(release);
    // Never traceable by the workload (which would make calls the recording never sees): the
    // workload gets a memory of its own below and marks only that dumpable, for the supervisor's
    // pidfd_getfd or PTRACE_SEIZE.
    prctl::set_dumpable(false).map_err(step("PR_SET_DUMPABLE 0"))?;
    if namespaced {
        fresh_proc()?;
    } else {
        // Not PID 1: orphans come back to us anyway, to be reaped.
        let _ = prctl::set_child_subreaper(true);
    }
    let workload = match sys::clone_process(0).map_err(io_step("starting the workload"))? {
        Some(pid) => Pid::from_raw(pid),
        None => workload(plan, &sock),
    };
    drop(sock);
    // Recorded until the last process of the workload exits (or the first, on request): a
    // daemon's fork or a background job is part of the workload.
    let code = monitor::supervise_tree(
        workload,
        &plan.signals,
        plan.cfg.until,
        namespaced,
        !plan.cfg.quiet,
    )
    .unwrap_or(exit::SYSCAGE_ERROR);
    sys::exit_now(code)
}

/// A private view of the mount tree with a /proc for the new pid namespace, so that the pids the
/// workload sees match /proc.
fn fresh_proc() -> Result<(), SandboxError> {
    use nix::mount::{MsFlags, mount};
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_SLAVE,
        None::<&str>,
    )
    .map_err(step("making / a slave mount tree"))?;
    if let Err(e) = mount(
        Some("proc"),
        "/proc",
        Some("proc"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        None::<&str>,
    ) {
        eprintln!(
            "syscage: warning: could not mount a /proc for the new pid namespace ({e}); /proc/<pid> paths inside the workload refer to host pids"
        );
    }
    Ok(())
}

/// The workload: hands a pidfd of itself to the supervisor, loads the tracing filter, execs.
fn workload(plan: &Plan, sock: &OwnedFd) -> ! {
    let fail = exec::die;
    if let Err(e) = prctl::set_dumpable(true) {
        fail(
            exit::SYSCAGE_ERROR,
            &format!("error: PR_SET_DUMPABLE 1 in the workload: {e}"),
        );
    }
    // Looked up before the filter is loaded: the lookup is syscage's, not the workload's.
    let path = exec::start_child(&plan.exec, &plan.old_mask);
    // A pidfd of this process goes to the supervisor.
    let _pidfd = match crate::sandbox::handoff::send_pidfd(sock) {
        Ok(fd) => fd,
        Err(e) => fail(exit::SYSCAGE_ERROR, &format!("error: {e}")),
    };
    let mut flags = 0;
    match plan.cfg.backend {
        // Wait until the supervisor is attached (a traced syscall without a tracer fails), or
        // until it tracks this process (eBPF: its exec starts the recording).
        Backend::Ptrace | Backend::Ebpf => {
            let mut go = [0u8];
            if nix::unistd::read(sock, &mut go) != Ok(1) {
                sys::exit_now(exit::SYSCAGE_ERROR);
            }
        }
        _ => flags = sys::SECCOMP_FILTER_FLAG_NEW_LISTENER,
    }
    if plan.cfg.backend == Backend::Ebpf {
        exec::exec(&plan.exec, &path)
    }
    // Only the notify backend's filter makes a listener.
    let courier = (flags != 0).then(|| {
        crate::sandbox::handoff::Courier::start(sock)
            .unwrap_or_else(|e| fail(exit::SYSCAGE_ERROR, &format!("error: {e}")))
    });
    // Last step: from here on every syscall is the workload's.
    match sys::load_seccomp_filter(&plan.program, flags) {
        Ok(listener) => {
            if let Some(c) = &courier {
                c.deliver(listener as std::os::fd::RawFd);
                c.wait_sent();
            }
        }
        Err(e) => fail(
            exit::SYSCAGE_ERROR,
            &format!("error: loading the tracing filter: {e}"),
        ),
    }
    exec::exec(&plan.exec, &path)
}
