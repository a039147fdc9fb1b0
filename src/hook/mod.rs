//! `syscage hook`: an OCI runtime hook that records a container's syscalls.
//!
//! Declared for `createRuntime`/`prestart` and `poststop` (see `hooks/` for podman and CRI-O), it
//! reads the container State JSON on stdin and acts only when the container carries
//! `io.syscage.record=FILE` and/or oci-seccomp-bpf-hook's `io.containers.trace-syscall=[if:BASE;]of:FILE`.
//! Every file the annotations name lies beneath the output directory the administrator chose
//! (`--output-dir`, default `/var/lib/syscage`): anything else is refused, with the reason on
//! stderr, and the container runs unrecorded (`request`, `outdir`).
//!
//! At start the hook forks a detached recorder that attaches to the container's process (ptrace:
//! no kernel headers, no compiler, no eBPF) and returns once it is attached, so nothing after the
//! runtime's exec of the container's program is missed; the recorder writes the outputs
//! atomically when the container's last process exits. One recorder serves both annotations: a
//! second hook on a container already being recorded says so and exits at once. At `poststop` the
//! hook waits for the recorder's result and reports a failure with a non-zero status.
//!
//! Bounds: no wait of the hook is unbounded, so no input can hold the runtime.
//! - start: the recorder must be attached within `ATTACH_TIMEOUT` (10 s), or it is killed and the
//!   hook fails;
//! - poststop: the recorder must finish within `FINISH_TIMEOUT` (30 s); it is then told to stop
//!   (SIGTERM) and given `STOP_GRACE` (5 s) to write what it has;
//! - SIGTERM, SIGINT or SIGHUP to the hook passes the stop on to its recorder and ends the hook
//!   within `STOP_GRACE`. The same signals to the recorder detach it from the container (which
//!   runs on, untraced) and make it write what it recorded so far as `FILE.partial`.
//!
//! Without the annotations the hook does nothing and exits 0.

pub mod outdir;
mod recorder;
pub mod request;
mod sweep;

use std::io::Read;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::fcntl::{Flock, FlockArg};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use oci_spec::runtime::{ContainerState, State};

use crate::error::Error;
use crate::profile::seccomp::{self, SeccompProfile};
use crate::sandbox::sys;
pub use request::{
    RECORD, RECORD_APPARMOR, RECORD_LANDLOCK, RECORD_RECORDING, Refusal, Request, TRACE_SYSCALL,
};

/// The default of `--output-dir`.
pub const DEFAULT_OUTPUT_DIR: &str = "/var/lib/syscage";
pub const ATTACH_TIMEOUT: Duration = Duration::from_secs(10);
pub const FINISH_TIMEOUT: Duration = Duration::from_secs(30);
pub const STOP_GRACE: Duration = Duration::from_secs(5);

/// How the hook records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HookBackend {
    /// eBPF where it can load (runtimes run hooks as root; the kernel needs BTF), else ptrace.
    #[default]
    Auto,
    Ebpf,
    Ptrace,
}

/// How the hook was invoked.
#[derive(Debug, Clone)]
pub struct HookOptions {
    /// `createRuntime`, `prestart` or `poststop`; by default derived from the State's status.
    pub stage: Option<String>,
    pub output_dir: PathBuf,
    pub backend: HookBackend,
}

/// The hook as the runtime runs it: stop signals caught first (a runtime may start hooks with
/// them blocked), the State read from `stdin`, then `run`.
pub fn main(stdin: std::io::Stdin, opts: &HookOptions) -> Result<i32, Error> {
    sys::catch_stop_signals().map_err(|source| Error::Io {
        path: "signal handlers".into(),
        source,
    })?;
    let input = read_state(stdin)?;
    run(&input, opts)
}

/// Largest State JSON accepted (annotations included).
const MAX_STATE: u64 = 4 << 20;

/// Reads the State JSON from the runtime: at most `MAX_STATE` bytes, and at most
/// `ATTACH_TIMEOUT` waiting for it (a runtime that never closes the pipe must not hold us).
pub fn read_state(stdin: std::io::Stdin) -> Result<Vec<u8>, Error> {
    let deadline = Instant::now() + ATTACH_TIMEOUT;
    let fd = stdin.as_fd();
    let mut input = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || sys::stop_requested() {
            return Err(Error::Usage(format!(
                "the container state did not arrive on stdin within {} s",
                ATTACH_TIMEOUT.as_secs()
            )));
        }
        let mut fds = [PollFd::new(fd, PollFlags::POLLIN)];
        let ms =
            PollTimeout::try_from(left.as_millis().min(60_000) as i32).unwrap_or(PollTimeout::MAX);
        match poll(&mut fds, ms) {
            Ok(0) | Err(nix::errno::Errno::EINTR) => continue,
            Ok(_) => {}
            Err(e) => {
                return Err(Error::Usage(format!(
                    "reading the container state from stdin: {e}"
                )));
            }
        }
        let mut buf = [0u8; 65536];
        match nix::unistd::read(fd, &mut buf) {
            Ok(0) => return Ok(input),
            Ok(n) => input.extend_from_slice(&buf[..n]),
            Err(nix::errno::Errno::EINTR | nix::errno::Errno::EAGAIN) => {}
            Err(e) => {
                return Err(Error::Usage(format!(
                    "reading the container state from stdin: {e}"
                )));
            }
        }
        if input.len() as u64 > MAX_STATE {
            return Err(Error::Input(format!(
                "container state on stdin: larger than {MAX_STATE} bytes"
            )));
        }
    }
}

/// The State JSON on stdin, parsed.
pub fn parse_state(input: &[u8]) -> Result<State, Error> {
    serde_json::from_slice(input).map_err(|e| {
        Error::Input(format!(
            "container state on stdin:{}:{}: {e}",
            e.line(),
            e.column()
        ))
    })
}

/// Where the recorder keeps its lock, pid and result per container (the runtime's, not the
/// container's, so annotations cannot point it elsewhere; `SYSCAGE_HOOK_STATE_DIR`, set in the
/// hook's declaration, moves it).
fn state_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("SYSCAGE_HOOK_STATE_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    if nix::unistd::geteuid().is_root() {
        PathBuf::from("/run/syscage/hooks")
    } else {
        std::env::var_os("XDG_RUNTIME_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(std::env::temp_dir)
            .join("syscage/hooks")
    }
}

/// Runs the hook with the State JSON `input`.
pub fn run(input: &[u8], opts: &HookOptions) -> Result<i32, Error> {
    let state = parse_state(input)?;
    let annotations = state.annotations().clone().unwrap_or_default();
    let id = state.id();
    let req = match request::request(&annotations, &opts.output_dir) {
        Ok(Some(req)) => req,
        Ok(None) => return Ok(0),
        Err(refusal) => {
            // The container's creator chose the annotations: say no, and let it run.
            eprintln!("syscage hook: not recording container {id}: {refusal}");
            return Ok(0);
        }
    };
    let dir = state_dir();
    std::fs::DirBuilder::new()
        .recursive(true)
        .create(&dir)
        .map_err(|source| Error::Io {
            path: dir.clone(),
            source,
        })?;
    // One to one: ids such as web.1 and web_1 must never share a lock or a pid file.
    let Some(name) = crate::model::container_id::file_name(id) else {
        eprintln!(
            "syscage hook: not recording container {id}: its id is too long to name a state file ({} bytes at most, escaped)",
            crate::model::container_id::MAX_NAME
        );
        return Ok(0);
    };
    for (gone, kinds) in sweep::sweep(&dir, &name, std::time::SystemTime::now()) {
        eprintln!(
            "syscage hook: removed the state of container {gone} ({}): the container is gone and its poststop hook never ran",
            kinds.join(", ")
        );
    }
    let base = dir.join(&name);
    let stopping = match opts.stage.as_deref() {
        Some(s) => s == "poststop",
        None => *state.status() == ContainerState::Stopped,
    };
    // Which process is the container, so that a later run can tell it is gone.
    if !stopping && let Some(owner) = state.pid().and_then(sweep::owner_line) {
        let _ = std::fs::write(base.with_extension("owner"), owner);
    }
    let result = if stopping {
        finish(&base, id)
    } else {
        start(&state, req, opts, &base)
    };
    // Some runtimes (crun) show only a hook's exit status: keep its message where users look.
    if let Err(e) = &result {
        let _ = std::fs::write(base.with_extension("log"), format!("{e}\n"));
    }
    result
}

/// What the recorder needs, prepared (and checked) before it is forked: every output's open
/// parent directory and every baseline already parsed.
pub(crate) struct Prepared {
    pub pid: i32,
    pub backend: HookBackend,
    pub profiles: Vec<(outdir::Slot, Option<(PathBuf, SeccompProfile)>)>,
    pub apparmor: Option<outdir::Slot>,
    pub landlock: Option<outdir::Slot>,
    pub recording: Option<outdir::Slot>,
}

fn prepare(
    state: &State,
    req: Request,
    out: &outdir::OutputDir,
    backend: HookBackend,
) -> Result<Prepared, String> {
    let pid = state.pid().ok_or_else(|| {
        "container state has no pid: the hook must run at createRuntime or prestart".to_string()
    })?;
    let named = |key: &'static str| move |why: String| format!("annotation {key}: {why}");
    let mut profiles = Vec::new();
    for t in &req.targets {
        let baseline = match &t.baseline {
            Some(b) => {
                let bytes = out.read(b).map_err(named(t.annotation))?;
                let shown = out.path().join(b);
                let (p, _) = seccomp::parse(&bytes, &shown)
                    .map_err(|e| named(t.annotation)(e.to_string()))?;
                Some((shown, p))
            }
            None => None,
        };
        profiles.push((out.slot(&t.output).map_err(named(t.annotation))?, baseline));
    }
    let slot = |key: &'static str, p: &Option<PathBuf>| {
        p.as_deref()
            .map(|p| out.slot(p).map_err(named(key)))
            .transpose()
    };
    Ok(Prepared {
        pid,
        backend,
        profiles,
        apparmor: slot(RECORD_APPARMOR, &req.apparmor)?,
        landlock: slot(RECORD_LANDLOCK, &req.landlock)?,
        recording: slot(RECORD_RECORDING, &req.recording)?,
    })
}

fn start(state: &State, req: Request, opts: &HookOptions, base: &Path) -> Result<i32, Error> {
    let id = state.id();
    let prepared = outdir::OutputDir::open(&opts.output_dir)
        .and_then(|out| prepare(state, req, &out, opts.backend));
    let prepared = match prepared {
        Ok(p) => p,
        Err(why) => {
            eprintln!("syscage hook: not recording container {id}: {why}");
            return Ok(0);
        }
    };
    // One recorder per container: the recorder takes this lock (without waiting) and holds it
    // for its whole life; a second hook's recorder finds it taken and says so.
    let lock_path = base.with_extension("lock");
    let lock_file = std::fs::File::create(&lock_path).map_err(|source| Error::Io {
        path: lock_path.clone(),
        source,
    })?;
    let (rx, tx) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|e| Error::Usage(format!("pipe: {e}")))?;
    let child = sys::clone_process(0).map_err(|source| Error::Io {
        path: "fork".into(),
        source,
    })?;
    let Some(child) = child else {
        drop(rx);
        recorder::run(prepared, base, lock_file, tx)
    };
    drop((tx, lock_file));
    match wait_attached(&rx) {
        Ok(Attach::Attached) => {
            let _ = std::fs::write(base.with_extension("pid"), child.to_string());
            Ok(0)
        }
        Ok(Attach::AlreadyRecorded) => {
            let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(child), None);
            eprintln!(
                "syscage hook: container {id} is already being recorded by another syscage hook (which serves every recording annotation); nothing more to do"
            );
            Ok(0)
        }
        Err(why) => {
            end_recorder(child);
            Err(Error::Usage(format!(
                "syscage hook: cannot record container {id}: {why}"
            )))
        }
    }
}

/// Tells the recorder to stop (it detaches and writes what it has), waits up to `STOP_GRACE`,
/// then kills it.
fn end_recorder(child: i32) {
    use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
    let pid = nix::unistd::Pid::from_raw(child);
    let _ = sys::send_signal(child, libc::SIGTERM);
    let deadline = Instant::now() + STOP_GRACE;
    while Instant::now() < deadline {
        match waitpid(pid, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) | Err(nix::errno::Errno::EINTR) => {
                std::thread::sleep(Duration::from_millis(10))
            }
            _ => return,
        }
    }
    let _ = sys::send_signal(child, libc::SIGKILL);
    let _ = waitpid(pid, None);
}

enum Attach {
    Attached,
    AlreadyRecorded,
}

/// Waits, at most `ATTACH_TIMEOUT`, for the recorder to say it is attached.
fn wait_attached(rx: &OwnedFd) -> Result<Attach, String> {
    let deadline = Instant::now() + ATTACH_TIMEOUT;
    let mut msg = Vec::new();
    loop {
        if sys::stop_requested() {
            return Err("the hook was stopped by a signal".into());
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(format!(
                "the recorder did not attach within {} s",
                ATTACH_TIMEOUT.as_secs()
            ));
        }
        let mut fds = [PollFd::new(rx.as_fd(), PollFlags::POLLIN)];
        let ms =
            PollTimeout::try_from(left.as_millis().min(60_000) as i32).unwrap_or(PollTimeout::MAX);
        match poll(&mut fds, ms) {
            Ok(0) | Err(nix::errno::Errno::EINTR) => continue,
            Ok(_) => {}
            Err(e) => return Err(format!("poll: {e}")),
        }
        let mut buf = [0u8; 512];
        match nix::unistd::read(rx, &mut buf) {
            Ok(0) => break,
            Ok(n) => msg.extend_from_slice(&buf[..n]),
            Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(format!("reading from the recorder: {e}")),
        }
    }
    let msg = String::from_utf8_lossy(&msg);
    if msg == recorder::ATTACHED {
        Ok(Attach::Attached)
    } else if msg == recorder::BUSY {
        Ok(Attach::AlreadyRecorded)
    } else if msg.is_empty() {
        Err("the recorder died".into())
    } else {
        Err(msg.into_owned())
    }
}

/// Waits for the recorder's lock from a thread blocked in flock(2), so the poststop hook goes on
/// the moment the recorder lets go (a 5 ms polling loop cost every container 2.5 ms on average).
struct LockWait(std::sync::mpsc::Receiver<()>);

impl LockWait {
    fn start(lock: std::fs::File) -> LockWait {
        let (tx, rx) = std::sync::mpsc::channel();
        // Usually free already: the recorder writes as soon as the container's last process
        // exits, before the runtime has cleaned up and called us.
        let lock = match Flock::lock(lock, FlockArg::LockExclusiveNonblock) {
            Ok(held) => {
                std::mem::forget(held);
                let _ = tx.send(());
                return LockWait(rx);
            }
            Err((f, _)) => f,
        };
        std::thread::spawn(move || {
            let mut file = lock;
            loop {
                match Flock::lock(file, FlockArg::LockExclusive) {
                    Ok(held) => {
                        let _ = tx.send(());
                        // Held until the hook exits, shortly after.
                        std::mem::forget(held);
                        return;
                    }
                    Err((f, e)) => {
                        file = f;
                        if e != nix::errno::Errno::EINTR {
                            std::thread::sleep(Duration::from_millis(5));
                        }
                    }
                }
            }
        });
        LockWait(rx)
    }

    /// Whether the lock was free before `until` (and, when `stoppable`, before a stop signal).
    fn until(&self, until: Instant, stoppable: bool) -> bool {
        loop {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() || (stoppable && sys::stop_requested()) {
                return false;
            }
            // Slices: a stop signal is seen within 100 ms.
            match self.0.recv_timeout(left.min(Duration::from_millis(100))) {
                Ok(()) => return true,
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return false,
            }
        }
    }
}

/// poststop: waits for the recorder to finish (it writes when the container's last process has
/// exited), then reports its result.
fn finish(base: &Path, id: &str) -> Result<i32, Error> {
    let lock_path = base.with_extension("lock");
    let Ok(lock) = std::fs::File::open(&lock_path) else {
        // Refused at start, or a second poststop hook after the first reported.
        eprintln!(
            "syscage hook: no recording in progress for container {id} (none was started, or it was already reported)"
        );
        return Ok(0);
    };
    let mut timed_out = false;
    let lock = LockWait::start(lock);
    if !lock.until(Instant::now() + FINISH_TIMEOUT, true) {
        // Still tracing (a process of the container outlived it, or the hook was stopped):
        // have the recorder detach and write what it has.
        timed_out = !sys::stop_requested();
        if let Some(pid) = std::fs::read_to_string(base.with_extension("pid"))
            .ok()
            .and_then(|s| s.trim().parse::<i32>().ok())
        {
            let _ = sys::send_signal(pid, libc::SIGTERM);
        }
        if !lock.until(Instant::now() + STOP_GRACE, false) {
            return Err(Error::Usage(format!(
                "the recorder of container {id} did not finish within {} s, nor stop when told to",
                (FINISH_TIMEOUT + STOP_GRACE).as_secs()
            )));
        }
    }
    let mut result = String::new();
    let _ = std::fs::File::open(base.with_extension("result"))
        .and_then(|f| f.take(64 << 10).read_to_string(&mut result));
    for ext in ["lock", "result", "pid", "owner"] {
        let _ = std::fs::remove_file(base.with_extension(ext));
    }
    if result.is_empty() {
        result = "the recorder ended without a result".into();
    }
    let mut lines = result.lines();
    let result = lines.next().unwrap_or_default().to_string();
    for w in lines.filter_map(|l| l.strip_prefix(recorder::WARNING)) {
        eprintln!("syscage hook: warning: container {id}: {w}");
    }
    if let Some(partial) = result.strip_prefix(recorder::PARTIAL) {
        eprintln!(
            "syscage hook: warning: container {id}: {}the recording is partial: {}",
            if timed_out {
                format!(
                    "the recorder was still running {} s after the container stopped; ",
                    FINISH_TIMEOUT.as_secs()
                )
            } else {
                String::new()
            },
            partial.trim()
        );
        return Ok(0);
    }
    if result == recorder::OK {
        Ok(0)
    } else {
        Err(Error::Input(format!(
            "recording container {id} failed: {result}"
        )))
    }
}
