//! `syscage agent`: a long-running listener for container runtimes. crun and runc connect to
//! `linux.seccomp.listenerPath` when they start a container whose profile routes syscalls to a
//! listener (`syscage oci apply --agent`), and send the container's state with its seccomp
//! listener. The agent serves every container at once from one loop: it answers each routed
//! syscall (the ones the profile does not list) as the container's metadata says — denied as
//! the profile would (monitor) or allowed and recorded (learn) — writes one event stream, and
//! one delta per container when it ends.
//!
//! When the agent is not running, the runtime cannot connect and refuses to start the
//! container. When it dies, the kernel fails every routed syscall of the containers it served
//! (ENOSYS: still denied, never allowed); a restarted agent serves new containers.

pub mod handshake;
pub mod request;

use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

use handshake::{Pending, Progress};

use crate::error::Error;
use crate::hook::outdir::OutputDir;
use crate::profile::watch::{Mode, Watch};
use crate::sandbox::sys;
use crate::sandbox::watch::{Events, Sink, Watcher};

pub struct AgentOptions {
    pub socket: PathBuf,
    pub events: Option<Events>,
    pub learn_dir: Option<PathBuf>,
}

/// One container being served.
pub struct Served {
    id: String,
    /// What the agent says when it starts serving it.
    pub notes: Vec<String>,
    listener: OwnedFd,
    watcher: Watcher,
    delta: Option<PathBuf>,
}

fn listen(path: &Path) -> Result<UnixListener, Error> {
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    // A socket left by an agent that died is replaced; anything else is not ours to remove.
    if let Ok(m) = std::fs::symlink_metadata(path) {
        if !m.file_type().is_socket() {
            return Err(Error::Usage(format!(
                "--socket {}: exists and is not a socket",
                path.display()
            )));
        }
        if UnixStream::connect(path).is_ok() {
            return Err(Error::Usage(format!(
                "--socket {}: another agent is listening there",
                path.display()
            )));
        }
        std::fs::remove_file(path).map_err(io)?;
    }
    // Only the runtime's user (root, or a rootless runtime's user) may hand containers over:
    // the socket is created with that mode (a chmod after bind leaves a window in which anyone
    // the umask lets in can connect). The agent is single-threaded here, so the umask change
    // affects nothing else.
    let old = nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o177));
    let bound = UnixListener::bind(path);
    nix::sys::stat::umask(old);
    let l = bound.map_err(io)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
    l.set_nonblocking(true).map_err(io)?;
    Ok(l)
}

/// Runs the agent until SIGTERM or SIGINT.
pub fn main(opts: AgentOptions) -> Result<i32, Error> {
    let learn_dir = match &opts.learn_dir {
        Some(d) => {
            std::fs::create_dir_all(d).map_err(|source| Error::Io {
                path: d.clone(),
                source,
            })?;
            Some(OutputDir::open(d).map_err(Error::Usage)?)
        }
        None => None,
    };
    let mut sink = Sink::open(&opts.events).map_err(|e| Error::Usage(e.to_string()))?;
    sys::catch_stop_signals().map_err(|source| Error::Io {
        path: opts.socket.clone(),
        source,
    })?;
    let listener = listen(&opts.socket)?;
    eprintln!(
        "syscage: agent: listening on {}{}{}",
        opts.socket.display(),
        match &opts.events {
            Some(Events::File(p)) => format!("; events to {}", p.display()),
            Some(Events::Stderr) => "; events to stderr".into(),
            None => String::new(),
        },
        match &opts.learn_dir {
            Some(d) => format!("; deltas to {}", d.display()),
            None => String::new(),
        }
    );
    let mut served: Vec<Served> = Vec::new();
    let mut pending: Vec<Pending> = Vec::new();
    while !sys::stop_requested() {
        let now = Instant::now();
        // Wake for the nearest handshake deadline too.
        let wait = pending
            .iter()
            .map(|p| p.deadline.saturating_duration_since(now))
            .min()
            .unwrap_or(Duration::from_millis(200))
            .min(Duration::from_millis(200));
        let ready: Vec<Option<PollFlags>> = {
            let mut fds = vec![PollFd::new(listener.as_fd(), PollFlags::POLLIN)];
            fds.extend(
                served
                    .iter()
                    .map(|s| PollFd::new(s.listener.as_fd(), PollFlags::POLLIN)),
            );
            fds.extend(
                pending
                    .iter()
                    .map(|p| PollFd::new(p.stream.as_fd(), PollFlags::POLLIN)),
            );
            let ms = u16::try_from(wait.as_millis()).unwrap_or(200).max(1);
            match poll(&mut fds, PollTimeout::from(ms)) {
                Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                Err(e) => {
                    return Err(Error::Io {
                        path: opts.socket.clone(),
                        source: e.into(),
                    });
                }
            }
            fds.iter().map(|f| f.revents()).collect()
        };
        // Notifications first: a container must never wait on a new connection.
        let mut gone = Vec::new();
        for (i, s) in served.iter_mut().enumerate() {
            let Some(ev) = ready.get(i + 1).copied().flatten() else {
                continue;
            };
            if ev.contains(PollFlags::POLLIN) {
                sink.lines(s.watcher.serve(&s.listener));
            } else if ev.intersects(PollFlags::POLLHUP | PollFlags::POLLERR | PollFlags::POLLNVAL) {
                gone.push(i);
            }
        }
        // Handshakes: whatever arrived, without waiting for more; then the expired ones go.
        let base = 1 + served.len();
        let mut finished = Vec::new();
        for (i, p) in pending.iter_mut().enumerate() {
            let readable = ready
                .get(base + i)
                .copied()
                .flatten()
                .is_some_and(|e| !e.is_empty());
            if !readable {
                continue;
            }
            match p.read() {
                Progress::More => {}
                Progress::Done(data, fds) => finished.push((i, Ok((data, fds)))),
                Progress::Failed(e) => finished.push((i, Err(e))),
            }
        }
        let now = Instant::now();
        for (i, p) in pending.iter().enumerate() {
            if p.deadline <= now && !finished.iter().any(|(j, _)| *j == i) {
                finished.push((
                    i,
                    Err(format!(
                        "no whole message within {} s",
                        handshake::DEADLINE.as_secs()
                    )),
                ));
            }
        }
        finished.sort_by_key(|(i, _)| *i);
        for (i, result) in finished.into_iter().rev() {
            drop(pending.remove(i));
            match result.and_then(|(data, fds)| admit(data, fds, opts.learn_dir.as_deref())) {
                Ok(s) => {
                    for n in &s.notes {
                        eprintln!("syscage: agent: {n}");
                    }
                    served.push(s);
                }
                Err(e) => refused(&e),
            }
        }
        for i in gone.into_iter().rev() {
            let s = served.remove(i);
            finish(s, learn_dir.as_ref(), &mut sink);
        }
        for s in served.iter_mut() {
            sink.lines(s.watcher.tick());
        }
        if ready
            .first()
            .copied()
            .flatten()
            .is_some_and(|e| e.contains(PollFlags::POLLIN))
        {
            while let Ok((stream, _)) = listener.accept() {
                if pending.len() >= MAX_PENDING {
                    // The longest-waiting handshake makes room: a new runtime is not locked
                    // out by clients that connect and say nothing.
                    drop(pending.remove(0));
                    refused(&format!(
                        "{MAX_PENDING} handshakes were under way; the oldest was dropped"
                    ));
                }
                match Pending::new(stream, Instant::now()) {
                    Ok(p) => pending.push(p),
                    Err(e) => refused(&format!("setting up the connection: {e}")),
                }
            }
        }
    }
    // Stopped: what was learned so far is written; the containers' routed syscalls fail from
    // now on (the kernel answers ENOSYS without a listener).
    for s in served.drain(..) {
        finish(s, learn_dir.as_ref(), &mut sink);
    }
    let _ = std::fs::remove_file(&opts.socket);
    eprintln!("syscage: agent: stopped");
    Ok(0)
}

/// Handshakes under way at once, at most.
const MAX_PENDING: usize = 64;

fn refused(why: &str) {
    eprintln!(
        "syscage: agent: refused a connection (a container's routed syscalls would fail with ENOSYS): {why}"
    );
}

/// Checks a whole handshake (the state and the descriptors that came with it) and sets up the
/// container's service. Every descriptor not kept is closed on return. (Public for the fuzz
/// target that drives the socket layer.)
pub fn admit(
    data: Vec<u8>,
    mut fds: Vec<OwnedFd>,
    learn_dir: Option<&Path>,
) -> Result<Served, String> {
    let mut notes = Vec::new();
    let r = request::parse(&data, fds.len(), learn_dir.unwrap_or(Path::new("/")))?;
    // Taken by index, highest first, so that the other index still holds.
    let (listener, pidfd) = match r.pidfd_index {
        Some(p) if p > r.fd_index => {
            let pidfd = fds.swap_remove(p);
            (fds.swap_remove(r.fd_index), Some(pidfd))
        }
        Some(p) => {
            let listener = fds.swap_remove(r.fd_index);
            (listener, Some(fds.swap_remove(p)))
        }
        None => (fds.swap_remove(r.fd_index), None),
    };
    // Anything else sent as the listener (a file, /dev/zero, a socket) would be polled for
    // ever: refused, as `run` refuses it.
    if !sys::is_seccomp_listener(&listener) {
        return Err(format!(
            "container {}: \"seccompFd\" is not a seccomp notify descriptor",
            r.id
        ));
    }
    // The process that will exec the container's program, held from now on (its bare pid
    // could be reused once it exits): the runtime's pidfd when it sent one and it is that
    // process, else one opened now, while the runtime still waits for us.
    let pidfd = pidfd
        .filter(|p| sys::is_pidfd(p) && sys::pidfd_pid(p).ok() == Some(r.pid))
        .or_else(|| sys::pidfd_open(r.pid).ok());
    // The container waits for each answer: wake it on this CPU (Linux 6.6; best effort).
    let _ = sys::notif_sync_wakeup(&listener);
    let mode = match (r.meta.mode, learn_dir) {
        (Mode::Learn, None) => {
            notes.push(format!(
                "container {} asks for learn mode but the agent has no --learn DIR: monitoring it",
                r.id
            ));
            Mode::Monitor
        }
        (m, _) => m,
    };
    let mut watcher = Watcher::new(
        Watch::for_agent(mode, r.meta.default),
        &r.id,
        crate::tracer::events::learner(),
    );
    let launching = watcher.exempt_launcher(pidfd);
    notes.push(format!(
        "serving container {} (pid {}, {} mode{})",
        r.id,
        r.pid,
        mode.name(),
        if launching {
            "; the runtime's init has not exec'd yet: its own calls pass until it does"
        } else {
            ""
        }
    ));
    Ok(Served {
        notes,
        watcher,
        delta: (mode == Mode::Learn).then_some(r.delta),
        id: r.id,
        listener,
    })
}

/// A container is gone (or the agent stops): its totals, and its delta in learn mode.
fn finish(s: Served, learn_dir: Option<&OutputDir>, sink: &mut Sink) {
    let (lines, learned, calls) = s.watcher.finish(vec![format!("container {}", s.id)]);
    sink.lines(lines);
    eprintln!(
        "syscage: agent: container {} ended: {} routed to the agent",
        s.id,
        crate::output::plural(calls as usize, "call")
    );
    if let (Some(rel), Some(dir)) = (&s.delta, learn_dir) {
        let written = dir
            .slot(rel)
            .and_then(|slot| slot.write_atomic(learned.to_json().as_bytes(), ""));
        match written {
            Ok(p) => eprintln!(
                "syscage: agent: container {}: {} syscalls outside its profile allowed ({calls} calls); delta in {}",
                s.id,
                learned.syscalls.len(),
                p.display()
            ),
            Err(e) => eprintln!("syscage: agent: container {}: delta not written: {e}", s.id),
        }
    }
}
