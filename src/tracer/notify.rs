//! The seccomp user-notification backend: every syscall of the workload stops until syscage has
//! recorded it and answered CONTINUE.

use std::os::fd::{AsFd, OwnedFd};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::unistd::Pid;

use super::events::Recorder;
use super::{io_step, reaped};
use crate::sandbox::SandboxError;
use crate::sandbox::sys;

/// Records every notified syscall until the init exits; returns the exit code.
pub fn supervise(
    child: Pid,
    pidfd: &OwnedFd,
    sock: &OwnedFd,
    sigfd: &OwnedFd,
    recorder: &mut Recorder,
    progress: &mut super::progress::Progress,
) -> Result<i32, SandboxError> {
    let listener = match crate::sandbox::handoff::take_listener(pidfd, sock) {
        Ok(l) => Some(l),
        Err(e) => {
            let code = super::wait_child(child, sigfd)?;
            if code == crate::exit::SYSCAGE_ERROR {
                return Err(e);
            }
            return Ok(code);
        }
    };
    let mut listener = listener;
    // Best effort: older kernels simply wake the supervisor the usual way.
    if let Some(l) = &listener {
        let _ = sys::notif_sync_wakeup(l);
    }
    // The init's exit is seen through SIGCHLD on the signalfd, so the hot path is one poll, one
    // receive and one answer per syscall.
    if let Some(code) = reaped(child)? {
        return Ok(code);
    }
    loop {
        let mut fds = [
            PollFd::new(sigfd.as_fd(), PollFlags::POLLIN),
            // With no listener left, poll only the signalfd (a negative fd is skipped).
            PollFd::new(
                listener
                    .as_ref()
                    .map(|l| l.as_fd())
                    .unwrap_or(sigfd.as_fd()),
                if listener.is_some() {
                    PollFlags::POLLIN
                } else {
                    PollFlags::empty()
                },
            ),
        ];
        // On a terminal the live line is redrawn even while the workload is idle.
        let timeout = if progress.enabled() {
            PollTimeout::from(1000u16)
        } else {
            PollTimeout::NONE
        };
        match poll(&mut fds, timeout) {
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(super::step("poll")(e)),
        }
        let sig_ready = fds[0]
            .revents()
            .is_some_and(|r| r.contains(PollFlags::POLLIN));
        let notif = fds[1].revents().unwrap_or(PollFlags::empty());
        if let Some(l) = &listener {
            if notif.contains(PollFlags::POLLIN) {
                // ENOENT: the task was interrupted or died before we answered: normal.
                if let Ok(ev) = sys::notif_recv(l) {
                    recorder.event(&ev);
                    let _ = sys::notif_continue(l, ev.id);
                }
            } else if notif.intersects(PollFlags::POLLHUP | PollFlags::POLLERR) {
                // No task uses the filter any more.
                listener = None;
            }
        }
        if progress.due() {
            let (calls, syscalls) = recorder.progress();
            progress.show(calls, syscalls, None);
        }
        if sig_ready {
            let sig = sys::signalfd_read(sigfd).map_err(io_step("reading signals"))?;
            if sig != libc::SIGCHLD {
                let _ = sys::send_signal(child.as_raw(), sig);
            } else if let Some(code) = reaped(child)? {
                return Ok(code);
            }
        }
    }
}
