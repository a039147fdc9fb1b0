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

pub mod request;

use std::io::IoSliceMut;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::socket::{ControlMessageOwned, MsgFlags, recvmsg};

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
struct Served {
    id: String,
    listener: OwnedFd,
    watcher: Watcher,
    delta: Option<PathBuf>,
}

/// The largest state message read (runtimes send well under 64 KiB).
const MAX_MESSAGE: usize = 1 << 20;

/// Reads a runtime's message: the state JSON (until the runtime closes its end) and the
/// descriptors that came with it.
fn receive(stream: &UnixStream) -> Result<(Vec<u8>, Vec<OwnedFd>), String> {
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .map_err(|e| format!("socket timeout: {e}"))?;
    let mut data = Vec::new();
    let mut fds = Vec::new();
    loop {
        let mut buf = vec![0u8; 64 * 1024];
        let mut iov = [IoSliceMut::new(&mut buf)];
        let mut space = nix::cmsg_space!([std::os::fd::RawFd; 8]);
        let msg = recvmsg::<()>(
            stream.as_raw_fd(),
            &mut iov,
            Some(&mut space),
            MsgFlags::MSG_CMSG_CLOEXEC,
        )
        .map_err(|e| format!("receiving the container state: {e}"))?;
        for c in msg
            .cmsgs()
            .map_err(|e| format!("reading descriptors: {e}"))?
        {
            if let ControlMessageOwned::ScmRights(r) = c {
                fds.extend(r.into_iter().map(sys::adopt_received_fd));
            }
        }
        let n = msg.bytes;
        if n == 0 {
            break;
        }
        data.extend_from_slice(&buf[..n]);
        // runc and crun send the whole state in one message; stop once it parses.
        if serde_json::from_slice::<serde::de::IgnoredAny>(&data).is_ok() {
            break;
        }
        if data.len() > MAX_MESSAGE {
            return Err("the container state is larger than 1 MiB".into());
        }
    }
    Ok((data, fds))
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
    let l = UnixListener::bind(path).map_err(io)?;
    // Only the runtime's user (root, or a rootless runtime's user) may hand containers over.
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
    while !sys::stop_requested() {
        let ready: Vec<Option<PollFlags>> = {
            let mut fds = vec![PollFd::new(listener.as_fd(), PollFlags::POLLIN)];
            fds.extend(
                served
                    .iter()
                    .map(|s| PollFd::new(s.listener.as_fd(), PollFlags::POLLIN)),
            );
            match poll(&mut fds, PollTimeout::from(200u16)) {
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
            } else if ev.intersects(PollFlags::POLLHUP | PollFlags::POLLERR) {
                gone.push(i);
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
                match accept(&stream, opts.learn_dir.as_deref()) {
                    Ok(s) => served.push(s),
                    Err(e) => eprintln!(
                        "syscage: agent: refused a container (its routed syscalls will fail with ENOSYS): {e}"
                    ),
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

fn accept(stream: &UnixStream, learn_dir: Option<&Path>) -> Result<Served, String> {
    let (data, mut fds) = receive(stream)?;
    let r = request::parse(&data, fds.len(), learn_dir.unwrap_or(Path::new("/")))?;
    let listener = fds.swap_remove(r.fd_index);
    // The container waits for each answer: wake it on this CPU (Linux 6.6; best effort).
    let _ = sys::notif_sync_wakeup(&listener);
    let mode = match (r.meta.mode, learn_dir) {
        (Mode::Learn, None) => {
            eprintln!(
                "syscage: agent: container {} asks for learn mode but the agent has no --learn DIR: monitoring it",
                r.id
            );
            Mode::Monitor
        }
        (m, _) => m,
    };
    eprintln!(
        "syscage: agent: serving container {} (pid {}, {} mode)",
        r.id,
        r.pid,
        mode.name()
    );
    let mut watcher = Watcher::new(Watch::for_agent(mode, r.meta.default), &r.id);
    watcher.exempt_launcher(r.pid as u32);
    Ok(Served {
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
