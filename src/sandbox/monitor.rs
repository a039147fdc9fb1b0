//! Signals and exit statuses: the parent forwards what it receives to the sandbox's init, the init
//! forwards to the workload and reaps orphans, and both turn the final status into an exit code.

use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

use super::sys::{self, SignalSet};
use crate::exit;

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

/// The sandbox's init's status, as `forward_until_exit(init, set, false)` gives it, or earlier:
/// the init writes the workload's exit code (4 bytes) on `status` before its own exit when
/// nothing else is left in the sandbox, and we return then, without waiting for the init's
/// teardown (the init is then reaped by whoever adopts it when we exit).
pub fn forward_until_reported(
    init: Pid,
    set: &SignalSet,
    status: &std::os::fd::OwnedFd,
) -> std::io::Result<i32> {
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    use std::os::fd::AsFd;
    let sigfd = sys::signalfd(set)?;
    let mut status = Some(status);
    loop {
        if let Some(code) = reap(init, false)? {
            return Ok(code);
        }
        let mut fds = vec![PollFd::new(sigfd.as_fd(), PollFlags::POLLIN)];
        if let Some(s) = status {
            fds.push(PollFd::new(s.as_fd(), PollFlags::POLLIN));
        }
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(_) | Err(Errno::EINTR) => {}
            Err(e) => return Err(e.into()),
        }
        let ready = |i: usize| {
            fds.get(i)
                .and_then(|f| f.revents())
                .is_some_and(|r| !r.is_empty())
        };
        let (signalled, said) = (ready(0), ready(1));
        if said && let Some(s) = status {
            let mut code = [0u8; 4];
            // Four bytes in one write are read whole (PIPE_BUF); anything else is the init gone
            // without a word: its exit status says the rest.
            match nix::unistd::read(s, &mut code) {
                Ok(4) => return Ok(i32::from_le_bytes(code)),
                Err(Errno::EINTR) => {}
                _ => status = None,
            }
        }
        if signalled {
            let sig = sys::signalfd_read(&sigfd)?;
            if sig != libc::SIGCHLD {
                let _ = sys::send_signal(init.as_raw(), sig);
            }
        }
    }
}

/// Whether the caller has no child left (after reaping any that have exited): in the sandbox's
/// init once the workload is reaped, nothing else runs in its pid namespace then.
pub fn no_children_left() -> bool {
    loop {
        match waitpid(None, Some(WaitPidFlag::WNOHANG | WaitPidFlag::__WALL)) {
            Ok(WaitStatus::StillAlive) => return false,
            Ok(_) | Err(Errno::EINTR) => {}
            Err(Errno::ECHILD) => return true,
            Err(_) => return false,
        }
    }
}

/// The target's exit code once it has exited (only it is reaped).
pub fn reap_exited(target: Pid) -> std::io::Result<Option<i32>> {
    reap(target, false)
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

/// When a recording ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Until {
    /// When the last process of the workload has exited, as `strace -f` (daemons, background
    /// jobs and double forks are recorded whole).
    #[default]
    LastExits,
    /// When the first process exits; the rest are killed (container semantics).
    FirstExits,
}

/// Signals that ask the workload to end: once the first process has exited, they go to the
/// processes it left (their top ones), and `STOP_GRACE` later whatever still runs is killed.
const STOPPING: &[libc::c_int] = &[libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT];
pub const STOP_GRACE: Duration = Duration::from_secs(5);

/// The caller's descendants as /proc shows them (pid, parent), the caller's own pid first.
/// The recorder's init is a pid namespace's init or a child subreaper: every process the workload
/// left is beneath it.
fn descendants() -> Vec<(u32, u32)> {
    let Some(me) = std::fs::read_link("/proc/self")
        .ok()
        .and_then(|l| l.to_str()?.parse::<u32>().ok())
    else {
        return Vec::new();
    };
    let mut parent_of = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        if let Some(ppid) = sys::proc_stat_field(pid, 1).and_then(|p| u32::try_from(p).ok()) {
            parent_of.push((pid, ppid));
        }
    }
    let mut tree = vec![(me, 0)];
    let mut i = 0;
    while i < tree.len() {
        let p = tree[i].0;
        tree.extend(parent_of.iter().filter(|(_, pp)| *pp == p).copied());
        i += 1;
    }
    tree
}

/// Sends `sig` to the processes the workload left: with `all`, every one of them (and, in a pid
/// namespace, `kill(-1)` reaches exactly those); otherwise only the top ones, the init's own
/// children (a daemon's main process), which then stop their children their own way, so that
/// the recording holds the workload's real shutdown path. Returns how many processes were left.
fn signal_rest(sig: libc::c_int, all: bool, whole_ns: bool) -> usize {
    let tree = descendants();
    let me = tree.first().map(|t| t.0);
    // Without a /proc of its own pid namespace the pids /proc shows are not the namespace's.
    let own_proc = me == Some(1) || !whole_ns;
    if whole_ns && (all || !own_proc) {
        let _ = sys::send_signal(-1, sig);
    } else {
        for (pid, ppid) in &tree[1.min(tree.len())..] {
            if all || Some(*ppid) == me {
                let _ = sys::send_signal(*pid as libc::pid_t, sig);
            }
        }
    }
    tree.len().saturating_sub(1)
}

/// The recorder's init: forwards signals to the first process while it lives, reaps everything,
/// and returns the first process's exit code once the recording is over (`until`). Stop signals
/// that arrive after the first process exited go to every process left. With `notes`, says on
/// stderr when the recording goes on after the first process.
pub fn supervise_tree(
    first: Pid,
    set: &SignalSet,
    until: Until,
    whole_ns: bool,
    notes: bool,
) -> std::io::Result<i32> {
    let mut first_code = None;
    // The stop signal asked for, and when the processes left after the first got it.
    let mut stop: Option<libc::c_int> = None;
    let mut rest_told: Option<Instant> = None;
    let mut noted = None;
    loop {
        // Reap whatever has exited.
        let all_gone = loop {
            match waitpid(None, Some(WaitPidFlag::WNOHANG | WaitPidFlag::__WALL)) {
                Ok(WaitStatus::StillAlive) => break false,
                Ok(status) => {
                    if status.pid() == Some(first)
                        && let Some(code) = exit_code(status)
                    {
                        first_code = Some(code);
                        if let Some(sig) = stop {
                            signal_rest(sig, false, whole_ns);
                            rest_told = Some(Instant::now());
                        }
                    }
                }
                Err(Errno::EINTR) => {}
                Err(Errno::ECHILD) => break true,
                Err(e) => return Err(e.into()),
            }
        };
        if all_gone {
            return Ok(first_code.unwrap_or(exit::SYSCAGE_ERROR));
        }
        if let (Some(code), Until::LastExits, true, None) = (first_code, until, notes, noted) {
            let left = descendants().len().saturating_sub(1);
            let (n, it) = if left == 1 {
                ("1 process".to_string(), "it exits")
            } else {
                (format!("{left} processes"), "they exit")
            };
            eprintln!(
                "syscage: the workload's first process exited with status {code}; recording the {n} it left until {it} (Ctrl-C ends the recording; --until first stops them instead)"
            );
            noted = Some(());
        }
        if first_code.is_some() && until == Until::FirstExits {
            let n = signal_rest(libc::SIGKILL, true, whole_ns);
            if n > 0 {
                eprintln!(
                    "syscage: the workload's first process exited; stopped {n} process{} still running (--until first)",
                    if n == 1 { "" } else { "es" }
                );
            }
            // Reap them; none can start anew.
            while !matches!(waitpid(None, Some(WaitPidFlag::__WALL)), Err(Errno::ECHILD)) {}
            return Ok(first_code.unwrap_or(exit::SYSCAGE_ERROR));
        }
        let sig = match rest_told {
            Some(since) => {
                let left = (since + STOP_GRACE).saturating_duration_since(Instant::now());
                match set.wait_timeout(left)? {
                    Some(sig) => sig,
                    None => {
                        // The grace period is over: what is left is killed.
                        if left.is_zero() || since + STOP_GRACE <= Instant::now() {
                            let n = signal_rest(libc::SIGKILL, true, whole_ns);
                            if n > 0 {
                                eprintln!(
                                    "syscage: killed {n} process{} still running {} s after the stop signal",
                                    if n == 1 { "" } else { "es" },
                                    STOP_GRACE.as_secs()
                                );
                            }
                        }
                        continue;
                    }
                }
            }
            None => set.wait()?,
        };
        if sig == libc::SIGCHLD {
            continue;
        }
        if STOPPING.contains(&sig) {
            stop = Some(sig);
        }
        if first_code.is_none() {
            let _ = sys::send_signal(first.as_raw(), sig);
        } else {
            signal_rest(sig, false, whole_ns);
            if STOPPING.contains(&sig) && rest_told.is_none() {
                rest_told = Some(Instant::now());
            }
        }
    }
}
