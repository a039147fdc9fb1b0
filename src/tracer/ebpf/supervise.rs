//! The recording loop of the eBPF backend: release the workload once its first process is
//! tracked, follow the ring buffer while it runs, forward signals, and read the counts when the
//! recorder's init has exited.

use std::os::fd::{AsFd, OwnedFd};

use nix::unistd::Pid;

use super::attribution::Attribution;
use super::{Losses, Probe};
use crate::model::Recording;
use crate::sandbox::SandboxError;
use crate::sandbox::sys;
use crate::tracer::{io_step, reaped, step};

/// Records until the init exits; returns its exit code, the recording and what was lost.
pub fn supervise(
    child: Pid,
    pidfd: &OwnedFd,
    sock: &OwnedFd,
    sigfd: &OwnedFd,
    mut probe: Probe,
    command: Vec<String>,
    progress: &mut crate::tracer::progress::Progress,
) -> Result<(i32, Recording, Losses), SandboxError> {
    let pid = sys::pidfd_pid(pidfd).map_err(io_step("finding the workload's pid"))?;
    probe.track(pid as u32).map_err(SandboxError::Message)?;
    nix::unistd::write(sock, b"G").map_err(step("releasing the workload"))?;
    let mut attr = Attribution::new(pid as u32);
    let code = loop {
        if let Some(code) = reaped(child)? {
            break code;
        }
        let signal = probe.wait(sigfd.as_fd()).map_err(step("poll"))?;
        // Read on every turn: the kernel wakes this loop early only when the ring fills up.
        probe.drain(&mut attr);
        if progress.due() {
            let (calls, syscalls) = probe.totals();
            progress.show(calls, syscalls, Some(attr.live()));
        }
        if signal {
            let sig = sys::signalfd_read(sigfd).map_err(io_step("reading signals"))?;
            if sig != libc::SIGCHLD {
                let _ = sys::send_signal(child.as_raw(), sig);
            }
        }
    };
    let (rec, losses, _detached_on_return) =
        probe.finish(attr, command).map_err(SandboxError::Message)?;
    Ok((code, rec, losses))
}
