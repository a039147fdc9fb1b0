//! The ptrace backend: the workload's filter returns SECCOMP_RET_TRACE for every syscall, so each
//! one is a single ptrace stop (not two as with PTRACE_SYSCALL), decoded with
//! PTRACE_GET_SYSCALL_INFO. Forks, vforks, clones and execs are followed; EXITKILL kills every
//! tracee if syscage dies.

use std::collections::HashSet;
use std::os::fd::OwnedFd;

use nix::sys::ptrace::{self, Options};
use nix::sys::signal::Signal;
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

use super::events::Recorder;
use super::{io_step, step};
use crate::sandbox::SandboxError;
use crate::sandbox::monitor;
use crate::sandbox::sys;

const EVENT_SECCOMP: i32 = libc::PTRACE_EVENT_SECCOMP;
const EVENT_STOP: i32 = libc::PTRACE_EVENT_STOP;

/// Attaches to the workload, lets it go on, and records until the init exits.
pub fn supervise(
    child: Pid,
    pidfd: &OwnedFd,
    sock: &OwnedFd,
    recorder: &mut Recorder,
    progress: &mut super::progress::Progress,
) -> Result<i32, SandboxError> {
    let pid = Pid::from_raw(sys::pidfd_pid(pidfd).map_err(io_step("finding the workload's pid"))?);
    let options = Options::PTRACE_O_TRACESECCOMP
        | Options::PTRACE_O_TRACEFORK
        | Options::PTRACE_O_TRACEVFORK
        | Options::PTRACE_O_TRACECLONE
        | Options::PTRACE_O_TRACEEXEC
        | Options::PTRACE_O_EXITKILL;
    ptrace::seize(pid, options).map_err(step("PTRACE_SEIZE of the workload"))?;
    nix::unistd::write(sock, b"G").map_err(step("releasing the workload"))?;

    // Signals are forwarded by a thread of their own, so that this one can block in waitpid:
    // one wake-up per stop instead of two (signalfd, then waitpid).
    let forward = forwarded_signals();
    let target = child.as_raw();
    std::thread::spawn(move || {
        while let Ok(sig) = forward.wait() {
            let _ = sys::send_signal(target, sig);
        }
    });

    let mut known: HashSet<Pid> = HashSet::from([pid]);
    loop {
        let status = match waitpid(None, Some(WaitPidFlag::__WALL)) {
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(step("waitpid")(e)),
            Ok(s) => s,
        };
        match status {
            WaitStatus::Exited(p, _) | WaitStatus::Signaled(p, _, _) if p == child => {
                if let Some(code) = monitor::exit_code(status) {
                    return Ok(code);
                }
            }
            WaitStatus::Exited(p, _) | WaitStatus::Signaled(p, _, _) => {
                known.remove(&p);
                recorder.forget(p.as_raw() as u32);
            }
            WaitStatus::PtraceEvent(p, _, EVENT_SECCOMP) => {
                if let Ok(ev) = sys::ptrace_seccomp_info(p.as_raw()) {
                    recorder.event(&ev);
                }
                if progress.due() {
                    let (calls, syscalls) = recorder.progress();
                    progress.show(calls, syscalls, Some(known.len()));
                }
                let _ = ptrace::cont(p, None);
            }
            WaitStatus::PtraceEvent(p, sig, EVENT_STOP) => {
                // A new task's first stop, or a group stop (SIGSTOP and friends) of a known one.
                if known.insert(p)
                    || !matches!(
                        sig,
                        Signal::SIGSTOP | Signal::SIGTSTP | Signal::SIGTTIN | Signal::SIGTTOU
                    )
                {
                    let _ = ptrace::cont(p, None);
                } else {
                    let _ = sys::ptrace_listen(p.as_raw());
                }
            }
            WaitStatus::PtraceEvent(p, _, _) => {
                known.insert(p);
                let _ = ptrace::cont(p, None);
            }
            // A signal on its way to the tracee: deliver it.
            WaitStatus::Stopped(p, sig) => {
                let _ = ptrace::cont(p, Some(sig));
            }
            _ => {}
        }
    }
}

/// The handled signals but SIGCHLD (which stays blocked: waitpid reports children).
fn forwarded_signals() -> sys::SignalSet {
    let all = monitor::handled_signals();
    let mut set = sys::SignalSet::empty();
    for sig in 1..=libc::SIGRTMAX() {
        if sig != libc::SIGCHLD && all.contains(sig) {
            set.add(sig);
        }
    }
    set
}
