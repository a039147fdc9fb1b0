//! Tracing a process that is already running (an OCI container's init, from a runtime hook):
//! PTRACE_SEIZE of every thread, syscall-entry stops (PTRACE_SYSCALL) decoded with
//! PTRACE_GET_SYSCALL_INFO, following forks, clones and execs. Without EXITKILL: if the tracer
//! dies, the container goes on untraced rather than being killed.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use nix::sys::ptrace::{self, Options};
use nix::sys::signal::Signal;
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

use super::events::Recorder;
use crate::sandbox::SandboxError;
use crate::sandbox::sys;

fn step(what: &str) -> impl FnOnce(nix::errno::Errno) -> SandboxError + '_ {
    move |e| SandboxError::Step {
        step: what.to_string(),
        source: e.into(),
    }
}

/// Attaches to every thread of `pid` and interrupts them: once this returns, no syscall of the
/// process can be missed, so a hook can let the runtime go on.
pub fn attach(pid: i32) -> Result<Vec<Pid>, SandboxError> {
    let options = Options::PTRACE_O_TRACESYSGOOD
        | Options::PTRACE_O_TRACEFORK
        | Options::PTRACE_O_TRACEVFORK
        | Options::PTRACE_O_TRACECLONE
        | Options::PTRACE_O_TRACEEXEC;
    let tasks: Vec<Pid> = std::fs::read_dir(format!("/proc/{pid}/task"))
        .map_err(|source| SandboxError::Step {
            step: format!("listing the threads of {pid}"),
            source,
        })?
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .map(Pid::from_raw)
        .collect();
    for t in &tasks {
        ptrace::seize(*t, options).map_err(step("PTRACE_SEIZE of the container"))?;
        ptrace::interrupt(*t).map_err(step("PTRACE_INTERRUPT"))?;
    }
    Ok(tasks)
}

/// How tracing ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Traced {
    /// Every tracee exited: the recording is whole.
    Finished,
    /// `stop` asked to end early: every tracee was detached and runs on untraced.
    Detached,
}

/// Traces until every tracee has exited, or until `stop()` returns true (checked after every
/// stop and whenever a signal interrupts the wait), then detaches from every tracee. With
/// `after_exec`, a task's syscalls are recorded only after its first execve (what the runtime
/// does before exec'ing the container's process is not the workload's); tasks it creates
/// afterwards are recorded from their start.
pub fn trace(
    initial: Vec<Pid>,
    recorder: &mut Recorder,
    after_exec: bool,
    stop: &dyn Fn() -> bool,
) -> Result<Traced, SandboxError> {
    let mut live: HashSet<Pid> = initial.iter().copied().collect();
    let mut recording: HashSet<Pid> = if after_exec {
        HashSet::new()
    } else {
        live.clone()
    };
    let mut seen: HashSet<Pid> = live.clone();
    while !live.is_empty() {
        if stop() {
            detach_all(live);
            return Ok(Traced::Detached);
        }
        let status = match waitpid(None, Some(WaitPidFlag::__WALL)) {
            Ok(s) => s,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(nix::errno::Errno::ECHILD) => break,
            Err(e) => return Err(step("waitpid")(e)),
        };
        match status {
            WaitStatus::Exited(p, _) | WaitStatus::Signaled(p, _, _) => {
                live.remove(&p);
                recording.remove(&p);
                recorder.forget(p.as_raw() as u32);
            }
            WaitStatus::PtraceSyscall(p) => {
                if recording.contains(&p)
                    && let Ok(ev) = sys::ptrace_syscall_entry(p.as_raw())
                {
                    recorder.event(&ev);
                }
                let _ = ptrace::syscall(p, None);
            }
            WaitStatus::PtraceEvent(p, _, libc::PTRACE_EVENT_EXEC) => {
                recording.insert(p);
                recorder.forget(p.as_raw() as u32);
                let _ = ptrace::syscall(p, None);
            }
            WaitStatus::PtraceEvent(p, _, ev)
                if ev == libc::PTRACE_EVENT_FORK
                    || ev == libc::PTRACE_EVENT_VFORK
                    || ev == libc::PTRACE_EVENT_CLONE =>
            {
                if let Ok(child) = ptrace::getevent(p) {
                    let child = Pid::from_raw(child as i32);
                    live.insert(child);
                    seen.insert(child);
                    if recording.contains(&p) {
                        recording.insert(child);
                    }
                }
                let _ = ptrace::syscall(p, None);
            }
            WaitStatus::PtraceEvent(p, sig, libc::PTRACE_EVENT_STOP) => {
                // The first stop of a new or just-attached task, or a group stop.
                live.insert(p);
                if seen.insert(p)
                    || !matches!(
                        sig,
                        Signal::SIGSTOP | Signal::SIGTSTP | Signal::SIGTTIN | Signal::SIGTTOU
                    )
                {
                    let _ = ptrace::syscall(p, None);
                } else {
                    let _ = sys::ptrace_listen(p.as_raw());
                }
                if !seen.contains(&p) {
                    seen.insert(p);
                }
            }
            WaitStatus::PtraceEvent(p, _, _) => {
                let _ = ptrace::syscall(p, None);
            }
            WaitStatus::Stopped(p, sig) => {
                // Deliver the signal the task was about to get.
                live.insert(p);
                let _ = ptrace::syscall(p, Some(sig));
            }
            _ => {}
        }
    }
    Ok(Traced::Finished)
}

/// How long detaching may take before the tracer simply exits (the kernel then detaches what
/// is left; a task stopped for a signal may lose that signal).
const DETACH_BOUND: Duration = Duration::from_secs(2);

/// Detaches from every tracee so that it runs on untraced: a running task is interrupted first
/// (PTRACE_DETACH needs a stopped tracee); a task stopped to receive a signal gets it.
fn detach_all(mut live: HashSet<Pid>) {
    for t in &live {
        let _ = ptrace::interrupt(*t);
    }
    let deadline = Instant::now() + DETACH_BOUND;
    while !live.is_empty() && Instant::now() < deadline {
        let status = match waitpid(None, Some(WaitPidFlag::__WALL | WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) | Err(nix::errno::Errno::EINTR) => {
                std::thread::sleep(Duration::from_millis(1));
                continue;
            }
            Ok(s) => s,
            Err(_) => break,
        };
        match status {
            WaitStatus::Exited(p, _) | WaitStatus::Signaled(p, _, _) => {
                live.remove(&p);
            }
            WaitStatus::Stopped(p, sig) => {
                let _ = ptrace::detach(p, Some(sig));
                live.remove(&p);
            }
            WaitStatus::PtraceEvent(p, _, ev) => {
                // A task forked just now is traced too: detach it as well.
                if (ev == libc::PTRACE_EVENT_FORK
                    || ev == libc::PTRACE_EVENT_VFORK
                    || ev == libc::PTRACE_EVENT_CLONE)
                    && let Ok(child) = ptrace::getevent(p)
                {
                    let child = Pid::from_raw(child as i32);
                    let _ = ptrace::interrupt(child);
                    live.insert(child);
                }
                let _ = ptrace::detach(p, None);
                live.remove(&p);
            }
            WaitStatus::PtraceSyscall(p) => {
                let _ = ptrace::detach(p, None);
                live.remove(&p);
            }
            _ => {}
        }
    }
}
