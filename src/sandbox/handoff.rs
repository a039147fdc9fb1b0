//! Handing the workload's seccomp listener to its supervisor. The workload sends a pidfd of
//! itself, starts a courier thread and loads its filter; the load's listener goes to the courier
//! through memory (no syscall: from the load on, every syscall of the loading thread may stop
//! for a supervisor that does not hold the listener yet), and the courier, created before the
//! load and so outside the filter, sends it over the socket. No ptrace right is needed: Docker's
//! default profile refuses pidfd_getfd without CAP_SYS_PTRACE. (The listener is close-on-exec
//! and the courier dies at the exec: neither reaches the program the workload execs.) Used by
//! `record` and by `run --monitor/--learn`.

use std::io::IoSlice;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::time::{Duration, Instant};

use nix::sys::socket::{ControlMessage, ControlMessageOwned, MsgFlags, recvmsg, sendmsg};

use super::{SandboxError, sys};

fn step(what: &str, e: nix::errno::Errno) -> SandboxError {
    SandboxError::Step {
        step: what.to_string(),
        source: e.into(),
    }
}

/// The one-byte tags of the two messages.
const PIDFD: u8 = b'P';
const LISTENER: u8 = b'L';

/// Sends `fd` with a one-byte message `tag`.
fn send_fd(sock: &OwnedFd, tag: u8, fd: RawFd) -> nix::Result<usize> {
    let fds = [fd];
    sendmsg::<()>(
        sock.as_raw_fd(),
        &[IoSlice::new(&[tag])],
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::empty(),
        None,
    )
}

/// In the workload, before its filter is loaded: sends a pidfd of itself. Returns the pidfd
/// (close-on-exec).
pub fn send_pidfd(sock: &OwnedFd) -> Result<OwnedFd, String> {
    let pidfd =
        sys::pidfd_open(nix::unistd::getpid().as_raw()).map_err(|e| format!("pidfd_open: {e}"))?;
    send_fd(sock, PIDFD, pidfd.as_raw_fd()).map_err(|e| format!("handing the pidfd over: {e}"))?;
    Ok(pidfd)
}

/// Not yet loaded / given up (the workload failed before its load).
const WAITING: i32 = -1;
const GIVEN_UP: i32 = -2;

/// The thread that carries the listener to the supervisor (see the module's comment).
pub struct Courier {
    listener: Arc<AtomicI32>,
    sent: Arc<AtomicBool>,
}

impl Courier {
    /// Starts the courier, before the filter is loaded.
    pub fn start(sock: &OwnedFd) -> Result<Courier, String> {
        let sock = sock
            .try_clone()
            .map_err(|e| format!("duplicating the hand-off socket: {e}"))?;
        let listener = Arc::new(AtomicI32::new(WAITING));
        let sent = Arc::new(AtomicBool::new(false));
        let (l, done) = (listener.clone(), sent.clone());
        std::thread::Builder::new()
            .name("syscage-courier".into())
            .stack_size(64 * 1024)
            .spawn(move || {
                let fd = loop {
                    match l.load(Ordering::Acquire) {
                        WAITING => std::thread::sleep(Duration::from_micros(20)),
                        fd => break fd,
                    }
                };
                if fd >= 0 {
                    // A failure leaves the supervisor without a listener: it says so.
                    let _ = send_fd(&sock, LISTENER, fd);
                }
                done.store(true, Ordering::Release);
            })
            .map_err(|e| format!("starting the listener's courier thread: {e}"))?;
        Ok(Courier { listener, sent })
    }

    /// After the load, in the loading thread: gives the courier the listener, no syscall made.
    pub fn deliver(&self, listener: RawFd) {
        self.listener.store(listener, Ordering::Release);
    }

    /// Spins, no syscall made, until the courier has sent the listener: for a workload that
    /// execs at once (the exec would end the courier).
    pub fn wait_sent(&self) {
        while !self.sent.load(Ordering::Acquire) {
            std::hint::spin_loop();
        }
    }
}

impl Drop for Courier {
    fn drop(&mut self) {
        // The load failed: the courier ends without sending.
        let _ =
            self.listener
                .compare_exchange(WAITING, GIVEN_UP, Ordering::AcqRel, Ordering::Acquire);
    }
}

/// Receives one descriptor sent with tag `tag`; `Ok(None)` at EOF.
fn receive_fd(sock: &OwnedFd, tag: u8, what: &str) -> Result<Option<OwnedFd>, SandboxError> {
    let mut buf = [0u8; 1];
    let mut iov = [std::io::IoSliceMut::new(&mut buf)];
    let mut space = nix::cmsg_space!([RawFd; 1]);
    let msg = loop {
        match recvmsg::<()>(
            sock.as_raw_fd(),
            &mut iov,
            Some(&mut space),
            MsgFlags::MSG_CMSG_CLOEXEC,
        ) {
            Err(nix::errno::Errno::EINTR) => continue,
            r => break r.map_err(|e| step(&format!("receiving {what}"), e))?,
        }
    };
    if msg.bytes == 0 {
        return Ok(None);
    }
    let mut fd = None;
    for c in msg
        .cmsgs()
        .map_err(|e| step(&format!("reading the message with {what}"), e))?
    {
        if let ControlMessageOwned::ScmRights(fds) = c {
            fd = fds.first().copied().map(sys::adopt_received_fd);
        }
    }
    let fd = fd.ok_or_else(|| SandboxError::Message(format!("the workload sent no {what}")))?;
    if buf[0] != tag {
        return Err(SandboxError::Message(format!(
            "the workload sent something else than {what}"
        )));
    }
    Ok(Some(fd))
}

/// The workload's pidfd; `Ok(None)` if it ended before sending it (command not found...).
pub fn receive_pidfd(sock: &OwnedFd) -> Result<Option<OwnedFd>, SandboxError> {
    receive_fd(sock, PIDFD, "the workload's pidfd")
}

/// Receives the workload's listener from its courier, within 10 s, unless the workload ends.
pub fn take_listener(pidfd: &OwnedFd, sock: &OwnedFd) -> Result<OwnedFd, SandboxError> {
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(SandboxError::Message(
                "the workload did not load its seccomp filter within 10 s".into(),
            ));
        }
        let mut fds = [
            PollFd::new(sock.as_fd(), PollFlags::POLLIN),
            PollFd::new(pidfd.as_fd(), PollFlags::POLLIN),
        ];
        let ms = u16::try_from(left.as_millis()).unwrap_or(u16::MAX);
        match poll(&mut fds, PollTimeout::from(ms)) {
            Err(nix::errno::Errno::EINTR) | Ok(0) => continue,
            Err(e) => return Err(step("waiting for the workload's listener", e)),
            Ok(_) => {}
        }
        let ready = |f: &PollFd| f.revents().is_some_and(|r| !r.is_empty());
        if ready(&fds[0]) {
            // The workload failed before its load: it says why on stderr and exits (EOF).
            let Some(fd) = receive_fd(sock, LISTENER, "the workload's seccomp listener")? else {
                return Err(SandboxError::Message(
                    "the workload exited before its seccomp listener could be taken".into(),
                ));
            };
            let link = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd()));
            if !link.is_ok_and(|l| l.to_string_lossy() == "anon_inode:seccomp notify") {
                return Err(SandboxError::Message(
                    "the workload sent a descriptor that is no seccomp listener".into(),
                ));
            }
            return Ok(fd);
        }
        if ready(&fds[1]) {
            return Err(SandboxError::Message(
                "the workload exited before its seccomp listener could be taken".into(),
            ));
        }
    }
}
