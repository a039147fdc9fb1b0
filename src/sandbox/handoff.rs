//! Handing the workload's seccomp listener to its supervisor: the workload sends a pidfd of
//! itself and the descriptor number its listener will get, loads its filter, and the supervisor
//! takes the listener with `pidfd_getfd`. (The listener is close-on-exec: it never reaches the
//! program the workload execs.) Used by `record` and by `run --monitor/--learn`.

use std::io::IoSlice;
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

use nix::sys::socket::{ControlMessage, ControlMessageOwned, MsgFlags, recvmsg, sendmsg};

use super::{SandboxError, sys};

fn step(what: &str, e: nix::errno::Errno) -> SandboxError {
    SandboxError::Step {
        step: what.to_string(),
        source: e.into(),
    }
}

/// In the workload, before its filter is loaded: sends a pidfd of itself and the number the
/// listener will get (the lowest free descriptor). Returns the pidfd, which must stay open until
/// the filter is loaded (closing it would free a lower number); it is close-on-exec.
pub fn send_pidfd(sock: &OwnedFd) -> Result<OwnedFd, String> {
    let pidfd =
        sys::pidfd_open(nix::unistd::getpid().as_raw()).map_err(|e| format!("pidfd_open: {e}"))?;
    let next_fd = sys::lowest_free_fd().map_err(|e| format!("F_DUPFD: {e}"))?;
    let fds = [pidfd.as_raw_fd()];
    let bytes = next_fd.to_ne_bytes();
    sendmsg::<()>(
        sock.as_raw_fd(),
        &[IoSlice::new(&bytes)],
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::empty(),
        None,
    )
    .map_err(|e| format!("handing the pidfd over: {e}"))?;
    Ok(pidfd)
}

pub fn receive_pidfd(sock: &OwnedFd) -> Result<Option<(OwnedFd, i32)>, SandboxError> {
    let mut buf = [0u8; 4];
    let mut iov = [std::io::IoSliceMut::new(&mut buf)];
    let mut space = nix::cmsg_space!([std::os::fd::RawFd; 1]);
    let msg = loop {
        match recvmsg::<()>(
            sock.as_raw_fd(),
            &mut iov,
            Some(&mut space),
            MsgFlags::MSG_CMSG_CLOEXEC,
        ) {
            Err(nix::errno::Errno::EINTR) => continue,
            r => break r.map_err(|e| step("receiving the workload's pidfd", e))?,
        }
    };
    if msg.bytes == 0 {
        return Ok(None);
    }
    let mut fd = None;
    for c in msg
        .cmsgs()
        .map_err(|e| step("reading the workload's message", e))?
    {
        if let ControlMessageOwned::ScmRights(fds) = c {
            fd = fds.first().copied().map(sys::adopt_received_fd);
        }
    }
    let fd = fd.ok_or_else(|| SandboxError::Message("the workload sent no pidfd".into()))?;
    Ok(Some((fd, i32::from_ne_bytes(buf))))
}

/// Takes the workload's listener (descriptor `fd_no` in it, created by its filter load).
pub fn take_listener(pidfd: &OwnedFd, fd_no: i32) -> Result<OwnedFd, SandboxError> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(fd) = sys::pidfd_getfd(pidfd, fd_no) {
            let link = std::fs::read_link(format!(
                "/proc/self/fd/{}",
                std::os::fd::AsRawFd::as_raw_fd(&fd)
            ));
            if link.is_ok_and(|l| l.to_string_lossy() == "anon_inode:seccomp notify") {
                return Ok(fd);
            }
        }
        // Not loaded yet, or the workload failed (it says why on stderr and exits).
        if Instant::now() > deadline {
            return Err(SandboxError::Message(
                "the workload did not load its seccomp filter within 10 s".into(),
            ));
        }
        if sys::pidfd_exited(pidfd) {
            return Err(SandboxError::Message(
                "the workload exited before its seccomp listener could be taken".into(),
            ));
        }
        std::thread::sleep(Duration::from_micros(20));
    }
}
