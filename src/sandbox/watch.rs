//! `run --monitor` and `run --learn`: the parent serves the workload's seccomp listener. Only the
//! syscalls the profile denies reach it (`profile::watch`); it answers as the profile would
//! (monitor) or lets unlisted ones through (learn), and reports each in JSON lines
//! (`model::violation`), bounded under floods. Signals are forwarded as in a plain run.

use std::io::Write;
use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::unistd::Pid;

use super::{SandboxError, monitor, sys};
use crate::model::violation::{Call, Throttle, UNKNOWN};
use crate::model::{Abi, Recording};
use crate::profile::seccomp::Action;
use crate::profile::watch::{Answer, Mode, Watch};

/// Where events go: a file (appended to) or syscage's standard error (`-`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Events {
    Stderr,
    File(PathBuf),
}

/// Learn mode's recorder of what was let through (`tracer::events::Recorder`, which the
/// launcher does not depend on: the caller supplies it).
pub trait Learner {
    /// A call about to be let through (its paths are read before it runs).
    fn event(&mut self, ev: &sys::SyscallEvent);
    fn finish(self: Box<Self>, command: Vec<String>) -> Recording;
}

/// Makes a learner for one watched workload.
pub type MakeLearner = fn() -> Box<dyn Learner>;

/// What `run --monitor/--learn` was asked for.
#[derive(Debug, Clone)]
pub struct WatchConfig {
    /// Makes learn mode's recorder.
    pub learner: MakeLearner,
    pub mode: Mode,
    pub events: Option<Events>,
    /// `--learn`: what is let through is recorded (the caller writes it).
    pub learn: bool,
    /// Names the run in every event.
    pub id: String,
}

/// How often repeated calls are reported.
const PERIOD: Duration = Duration::from_secs(1);

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Where event lines are written.
pub struct Sink {
    out: Option<Box<dyn Write>>,
}

impl Sink {
    pub fn open(e: &Option<Events>) -> Result<Sink, SandboxError> {
        let out: Option<Box<dyn Write>> = match e {
            None => None,
            Some(Events::Stderr) => Some(Box::new(std::io::stderr())),
            Some(Events::File(p)) => Some(Box::new(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(p)
                    .map_err(|source| SandboxError::Step {
                        step: format!("--monitor {}", p.display()),
                        source,
                    })?,
            )),
        };
        Ok(Sink { out })
    }

    /// Each line goes out in one write with its newline: the workload shares stderr, and
    /// several supervisors may append to one file; a line split in two writes interleaves.
    pub fn lines(&mut self, lines: impl IntoIterator<Item = String>) {
        if let Some(o) = &mut self.out {
            for mut l in lines {
                l.push('\n');
                let _ = o.write_all(l.as_bytes());
            }
            let _ = o.flush();
        }
    }
}

/// PF_FORKNOEXEC: the task was forked and has not exec'd since.
const PF_FORKNOEXEC: u64 = 0x40;

/// Whether `pid` has not exec'd since it was forked (field 9 of /proc/PID/stat, after the
/// parenthesised command name, which may itself hold spaces and parentheses).
fn fork_no_exec(pid: u32) -> bool {
    sys::proc_stat_field(pid, 6).is_some_and(|flags| flags & PF_FORKNOEXEC != 0)
}

/// The task that will exec the workload's program, held by a pidfd: its pid alone could come
/// round again to another task (pid reuse) once it has exited.
struct Launcher {
    pid: u32,
    pidfd: OwnedFd,
}

/// The state of one watched workload: answers, events, the learned recording.
pub struct Watcher {
    watch: Watch,
    /// Until it execs (or exits), the launcher's own calls are let through (see
    /// `exempt_launcher`); `None` for good from then on.
    launcher: Option<Launcher>,
    throttle: Throttle,
    /// Learn mode: what was let through, with the paths and ports of those calls (as `record`
    /// gets them), bounded.
    learned: Box<dyn Learner>,
    last_tick: Instant,
    /// The filter waits killably once a notification is received: a signal sent before the
    /// answer is then delivered as the call returns, without interrupting it.
    killable_wait: bool,
    /// By task: what was read of it for the executable it last ran (argv[0] verified, NSpid),
    /// read anew when the executable differs (an exec, or a pid reused by another program).
    tasks: std::collections::HashMap<u32, TaskFacts>,
}

/// What an event says of a task beyond its executable, read once per task and executable.
struct TaskFacts {
    exe: String,
    /// The path it was started by where that names `exe` differently (see `exe_name`).
    started_as: Option<String>,
    /// The pid it has in its own pid namespace.
    nspid: Option<u32>,
}

impl Watcher {
    pub fn new(watch: Watch, id: &str, learned: Box<dyn Learner>) -> Watcher {
        Watcher {
            watch,
            launcher: None,
            throttle: Throttle::new(id),
            learned,
            last_tick: Instant::now(),
            killable_wait: false,
            tasks: std::collections::HashMap::new(),
        }
    }

    /// The filter was loaded with SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV.
    pub fn waits_killably(&mut self) {
        self.killable_wait = true;
    }

    /// The path task `pid` was started by (where it names `exe` differently) and its NSpid,
    /// read once per task and executable: one lookup and no allocation on every later call.
    fn task_facts(&mut self, pid: u32, exe: &str) -> (Option<String>, Option<u32>) {
        if let Some(t) = self.tasks.get(&pid).filter(|t| t.exe == exe) {
            return (t.started_as.clone(), t.nspid);
        }
        if self.tasks.len() >= 4096 {
            self.tasks.clear();
        }
        let facts = TaskFacts {
            exe: exe.to_string(),
            started_as: super::exe_name::started_by(pid, exe),
            nspid: std::fs::read_to_string(format!("/proc/{pid}/status"))
                .ok()
                .and_then(|s| crate::model::violation::innermost_pid(&s)),
        };
        let out = (facts.started_as.clone(), facts.nspid);
        self.tasks.insert(pid, facts);
        out
    }

    /// Looked up on every call: the task may have exec'd since the last one.
    fn exe(pid: u32) -> String {
        std::fs::read_link(format!("/proc/{pid}/exe"))
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_else(|_| "?".into())
    }

    /// Whoever loaded the filter may still have work to do under it before it execs the
    /// workload's program: syscage's own workload task waits for the supervisor to hold the
    /// listener (a `read`), crun's container init forks a helper to send the listener, waits
    /// for it and kills it. Those calls are the launcher's, let through unreported, and only
    /// while the task that will exec the program (`init`, a pidfd taken when the listener
    /// arrived) has neither exec'd since it was forked (PF_FORKNOEXEC in /proc/PID/stat:
    /// readable by anyone, where a rootless agent cannot read the executable of crun's
    /// non-dumpable init) nor exited, and only from tasks that have not exec'd either. The
    /// workload's own code runs only after that exec: from then on, never again. A launcher
    /// that exec'd itself (`runc init`) gets no exemption at all, and needs none.
    /// Returns whether the launcher is still at work (its calls are then let through until it
    /// execs or exits).
    pub fn exempt_launcher(&mut self, init: Option<OwnedFd>) -> bool {
        self.launcher = init.and_then(|pidfd| {
            let pid = sys::pidfd_pid(&pidfd).ok()? as u32;
            let l = Launcher { pid, pidfd };
            Self::still_launching(&l).then_some(l)
        });
        self.launcher.is_some()
    }

    /// The launcher has not exec'd or exited. Its flags are read first and its pidfd checked
    /// after: if it is still alive then, the pid read was its own, not a reused one.
    fn still_launching(l: &Launcher) -> bool {
        fork_no_exec(l.pid) && !sys::pidfd_exited(&l.pidfd)
    }

    fn is_launcher(&mut self, pid: u32) -> bool {
        let Some(l) = &self.launcher else {
            return false;
        };
        if !Self::still_launching(l) {
            self.launcher = None;
            return false;
        }
        fork_no_exec(pid)
    }

    /// Receives and answers one notification; returns the event lines to print.
    pub fn serve(&mut self, listener: &OwnedFd) -> Vec<String> {
        let ev = match sys::notif_recv(listener) {
            Ok(ev) => ev,
            // The task died while its notification waited: nothing to answer.
            Err(_) => return Vec::new(),
        };
        let Some((abi, nr)) = Abi::from_audit(ev.arch, ev.nr) else {
            let _ = sys::notif_error(listener, ev.id, libc::ENOSYS);
            return Vec::new();
        };
        if self.is_launcher(ev.pid) {
            let _ = sys::notif_continue(listener, ev.id);
            return Vec::new();
        }
        // Every number outside the ABI's table is one key, "unknown": never learned, and a
        // workload counting through numbers adds no keys, lines or memory.
        let (name, (answer, why)) = match abi.syscall_name(nr) {
            Some(n) => (n.to_string(), self.watch.decide(n)),
            None => (UNKNOWN.to_string(), self.watch.decide_unknown()),
        };
        let exe = Self::exe(ev.pid);
        let (started_as, nspid) = self.task_facts(ev.pid, &exe);
        match answer {
            Answer::Allow => {
                if self.watch.mode == Mode::Learn {
                    // Before it runs: whether an open creates its file is read from the disk.
                    self.learned.event(&ev);
                }
                let _ = sys::notif_continue(listener, ev.id);
            }
            Answer::Deny(a) => deny(listener, ev.id, ev.pid, a, self.killable_wait),
        }
        let call = Call {
            pid: ev.pid,
            nspid,
            exe,
            started_as,
            abi,
            nr,
            syscall: name,
            args: ev.args,
            action: answer.describe(self.watch.mode),
            why: why.name(),
        };
        self.throttle.see(&call, now()).into_iter().collect()
    }

    /// The periodic lines, once a period has passed.
    pub fn tick(&mut self) -> Vec<String> {
        if self.last_tick.elapsed() < PERIOD {
            return Vec::new();
        }
        self.last_tick = Instant::now();
        self.throttle.tick(now())
    }

    /// The final lines and the learned recording.
    pub fn finish(self, command: Vec<String>) -> (Vec<String>, Recording, u64) {
        let calls = self.throttle.calls();
        (
            self.throttle.finish(now()),
            self.learned.finish(command),
            calls,
        )
    }
}

/// Denies a notified call as `action` would.
fn deny(listener: &OwnedFd, id: u64, pid: u32, action: Action, killable_wait: bool) {
    let errno = match action {
        Action::Errno(e) => i32::from(e),
        Action::KillProcess | Action::KillThread => {
            // seccomp kills with SIGSYS; a process cannot catch SIGKILL, so nothing it does
            // after this call runs.
            let _ = sys::send_signal(pid as i32, libc::SIGKILL);
            libc::EPERM
        }
        Action::Trap => return trap(listener, id, pid, killable_wait),
        // No tracer: the kernel fails a traced syscall with ENOSYS.
        _ => libc::ENOSYS,
    };
    let _ = sys::notif_error(listener, id, errno);
}

/// `SCMP_ACT_TRAP` as near as a supervisor can: the kernel skips the call and forces SIGSYS
/// (si_code SYS_SECCOMP) on the calling thread before it returns to user space, killing it when
/// SIGSYS is blocked or ignored. Here: a thread that blocks or ignores SIGSYS is killed
/// (SIGKILL: a supervisor cannot force SIGSYS past a block); otherwise SIGSYS is sent to that
/// thread (si_code SI_TKILL, no si_syscall) and the call fails with ENOSYS. With a killable
/// wait (`run`) the signal goes first, so the handler runs as the call returns, as with the
/// kernel; otherwise (a runtime's filter, whose flags the agent does not know) the answer goes
/// first, since a signal arriving during an interruptible wait would interrupt the call (EINTR,
/// or restarts again and again under SA_RESTART), and the handler runs just after the return.
fn trap(listener: &OwnedFd, id: u64, tid: u32, killable_wait: bool) {
    let status = std::fs::read_to_string(format!("/proc/{tid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map(str::trim)
            .map(str::to_string)
    };
    let mask = |name: &str| {
        field(name)
            .and_then(|v| u64::from_str_radix(&v, 16).ok())
            .unwrap_or(0)
    };
    let sigsys = 1u64 << (libc::SIGSYS - 1);
    let tgid = field("Tgid:").and_then(|v| v.parse::<i32>().ok());
    if (mask("SigBlk:") | mask("SigIgn:")) & sigsys != 0 {
        let _ = sys::send_signal(tgid.unwrap_or(tid as i32), libc::SIGKILL);
        let _ = sys::notif_error(listener, id, libc::ENOSYS);
        return;
    }
    let signal = || {
        if let Some(tgid) = tgid {
            let _ = sys::tgkill(tgid, tid as i32, libc::SIGSYS);
        }
    };
    if killable_wait {
        signal();
        let _ = sys::notif_error(listener, id, libc::ENOSYS);
    } else {
        let _ = sys::notif_error(listener, id, libc::ENOSYS);
        signal();
    }
}

/// What the workload handed over: its filter's listener, and a pidfd of the task that loaded
/// the filter and will exec the program (see `Watcher::exempt_launcher`).
pub struct Handed {
    pub listener: OwnedFd,
    pub workload: OwnedFd,
    /// The filter was loaded with SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV.
    pub killable_wait: bool,
}

/// Serves the listener and forwards signals to `init` until it exits, writing the events.
pub fn supervise(
    init: Pid,
    signals: &sys::SignalSet,
    handed: Handed,
    watch: Watch,
    cfg: &WatchConfig,
    command: Vec<String>,
) -> Result<Watched, SandboxError> {
    let Handed {
        listener,
        workload,
        killable_wait,
    } = handed;
    let step = |what: &str| {
        let what = what.to_string();
        move |source: std::io::Error| SandboxError::Step { step: what, source }
    };
    let sigfd = sys::signalfd(signals).map_err(step("creating a signalfd"))?;
    let mut sink = Sink::open(&cfg.events)?;
    let mut w = Watcher::new(watch, &cfg.id, (cfg.learner)());
    w.exempt_launcher(Some(workload));
    if killable_wait {
        w.waits_killably();
    }
    // The workload waits for each answer: wake it on this CPU (Linux 6.6; best effort).
    let _ = sys::notif_sync_wakeup(&listener);
    let mut listener = Some(listener);
    // The init's exit is seen through SIGCHLD (a wait per notification would cost more than
    // the notification itself), so check once now in case it came before the signalfd.
    let mut check_exit = true;
    let code = loop {
        if check_exit
            && let Some(code) =
                monitor::reap_exited(init).map_err(step("waiting for the sandbox"))?
        {
            break code;
        }
        check_exit = false;
        let (sig, note) = {
            let mut fds = vec![PollFd::new(sigfd.as_fd(), PollFlags::POLLIN)];
            if let Some(l) = &listener {
                fds.push(PollFd::new(l.as_fd(), PollFlags::POLLIN));
            }
            match poll(&mut fds, PollTimeout::from(200u16)) {
                Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                Err(e) => return Err(step("poll")(e.into())),
            }
            let r = |i: usize| fds.get(i).and_then(|f| f.revents());
            (r(0).is_some_and(|e| e.contains(PollFlags::POLLIN)), r(1))
        };
        if let Some(ev) = note {
            if ev.contains(PollFlags::POLLIN) {
                if let Some(l) = &listener {
                    let lines = w.serve(l);
                    sink.lines(lines);
                }
            } else if ev.intersects(PollFlags::POLLHUP | PollFlags::POLLERR) {
                // Every task of the filter is gone.
                listener = None;
            }
        }
        sink.lines(w.tick());
        if sig {
            let s = sys::signalfd_read(&sigfd).map_err(step("reading signals"))?;
            if s == libc::SIGCHLD {
                check_exit = true;
            } else {
                let _ = sys::send_signal(init.as_raw(), s);
            }
        }
    };
    let (lines, learned, calls) = w.finish(command);
    sink.lines(lines);
    if !cfg.learn && calls > 0 {
        eprintln!(
            "syscage: monitor: {calls} {} denied by the profile{}",
            if calls == 1 { "call" } else { "calls" },
            match &cfg.events {
                Some(Events::File(p)) => format!("; events in {}", p.display()),
                _ => String::new(),
            }
        );
    }
    Ok(Watched {
        code,
        learned: cfg.learn.then_some((learned, calls)),
    })
}

/// How a watched run ended: the init's exit code, and in learn mode what was let through (to
/// be written by the caller) with the number of calls.
pub struct Watched {
    pub code: i32,
    pub learned: Option<(Recording, u64)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fork_no_exec_tells_a_forked_runtime_from_an_execd_program() {
        use std::os::unix::process::CommandExt;
        // A subshell is a fork of sh that never execs; this test binary was exec'd.
        let mut child = std::process::Command::new("sh")
            .args(["-c", "(sleep 5; :) & echo $!; wait"])
            .stdout(std::process::Stdio::piped())
            .process_group(0)
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(child.stdout.as_mut().unwrap()),
            &mut line,
        )
        .unwrap();
        let subshell: u32 = line.trim().parse().unwrap();
        assert!(fork_no_exec(subshell));
        assert!(!fork_no_exec(std::process::id()));
        assert!(!fork_no_exec(child.id()), "sh itself was exec'd");
        // The whole group: sh, the subshell and its sleep.
        let _ = nix::sys::signal::killpg(
            nix::unistd::Pid::from_raw(child.id() as i32),
            nix::sys::signal::Signal::SIGKILL,
        );
        let _ = child.wait();
    }
}
