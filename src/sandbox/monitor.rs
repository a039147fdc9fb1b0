//! Signals and exit statuses: the parent forwards what it receives to the sandbox's init, the init
//! forwards to the workload and reaps orphans, and both turn the final status into an exit code.

use nix::errno::Errno;
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

use super::sys::{self, SignalSet};
use crate::error::exit;

/// Signals that are not forwarded: they cannot be caught, are raised by the process's own faults,
/// or implement job control on the caller's terminal.
const NOT_FORWARDED: &[libc::c_int] = &[
    libc::SIGKILL,
    libc::SIGSTOP,
    libc::SIGSEGV,
    libc::SIGBUS,
    libc::SIGILL,
    libc::SIGFPE,
    libc::SIGTRAP,
    libc::SIGSYS,
    libc::SIGABRT,
    libc::SIGTSTP,
    libc::SIGTTIN,
    libc::SIGTTOU,
    libc::SIGPIPE,
];

/// Every signal syscage handles itself: the forwarded ones (including real-time signals) and
/// SIGCHLD. Blocked before cloning so that none arriving during setup is lost.
pub fn handled_signals() -> SignalSet {
    let mut set = SignalSet::empty();
    for sig in 1..=libc::SIGRTMAX() {
        // glibc reserves the first real-time signals for itself.
        let reserved = sig > 31 && sig < libc::SIGRTMIN();
        if !NOT_FORWARDED.contains(&sig) && !reserved {
            set.add(sig);
        }
    }
    set
}

/// 128+N for a signal, the status otherwise.
pub fn exit_code(status: WaitStatus) -> Option<i32> {
    match status {
        WaitStatus::Exited(_, code) => Some(code),
        WaitStatus::Signaled(_, sig, _) => Some(exit::SIGNAL_BASE + sig as i32),
        _ => None,
    }
}

/// Forwards every handled signal to `target` until it exits, and returns its exit code.
/// With `reap_all` (the sandbox's init) it also reaps every other child: orphans of the workload
/// are re-parented to it.
pub fn forward_until_exit(target: Pid, set: &SignalSet, reap_all: bool) -> std::io::Result<i32> {
    loop {
        if let Some(code) = reap(target, reap_all)? {
            return Ok(code);
        }
        let sig = set.wait()?;
        if sig == libc::SIGCHLD {
            continue;
        }
        // The target may be gone already; its SIGCHLD is then pending and ends the loop.
        let _ = sys::send_signal(target.as_raw(), sig);
    }
}

/// Reaps whatever has exited; returns the target's exit code once it has.
fn reap(target: Pid, reap_all: bool) -> std::io::Result<Option<i32>> {
    let which = if reap_all { None } else { Some(target) };
    loop {
        match waitpid(which, Some(WaitPidFlag::WNOHANG | WaitPidFlag::__WALL)) {
            Ok(WaitStatus::StillAlive) => return Ok(None),
            Ok(status) => {
                if status.pid() == Some(target)
                    && let Some(code) = exit_code(status)
                {
                    return Ok(Some(code));
                }
            }
            Err(Errno::EINTR) => {}
            Err(Errno::ECHILD) => return Ok(None),
            Err(e) => return Err(e.into()),
        }
    }
}
