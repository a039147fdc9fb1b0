//! The live line a long recording shows on a terminal: how long it has run and what it has
//! seen so far, redrawn in place at most once a second, and wiped before the summary. Never in
//! pipes or CI logs (stderr not a terminal), never with `--quiet`.

use std::io::Write;
use std::time::{Duration, Instant};

/// Nothing is drawn for recordings shorter than this: a short command just prints its summary.
const FIRST_AFTER: Duration = Duration::from_secs(2);
const EVERY: Duration = Duration::from_secs(1);

pub struct Progress {
    enabled: bool,
    start: Instant,
    next: Instant,
    drawn: bool,
}

impl Progress {
    pub fn new(quiet: bool) -> Progress {
        let now = Instant::now();
        Progress {
            enabled: !quiet && nix::unistd::isatty(std::io::stderr()).unwrap_or(false),
            start: now,
            next: now + FIRST_AFTER,
            drawn: false,
        }
    }

    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// Whether a line is due (cheap enough for every turn of a loop that is not per syscall).
    pub fn due(&self) -> bool {
        self.enabled && Instant::now() >= self.next
    }

    /// Draws the line if due: `calls` so far, `syscalls` distinct, `processes` alive.
    pub fn show(&mut self, calls: u64, syscalls: usize, processes: Option<usize>) {
        if !self.due() {
            return;
        }
        let now = Instant::now();
        self.next = now + EVERY;
        let secs = now.duration_since(self.start).as_secs();
        let procs = processes
            .map(|p| format!(", {p} {}", if p == 1 { "process" } else { "processes" }))
            .unwrap_or_default();
        let mut e = std::io::stderr().lock();
        // \r and erase-line: the line is redrawn in place; the workload's own output may
        // interleave, and the next redraw starts a clean line again.
        let _ = write!(
            e,
            "\r\x1b[Ksyscage: recording for {secs} s: {}, {}{procs} (Ctrl-C ends it)",
            crate::output::plural(calls as usize, "call"),
            crate::output::plural(syscalls, "syscall"),
        );
        let _ = e.flush();
        self.drawn = true;
    }

    /// Wipes the line, before the summary.
    pub fn done(&mut self) {
        if self.drawn {
            let mut e = std::io::stderr().lock();
            let _ = write!(e, "\r\x1b[K");
            let _ = e.flush();
            self.drawn = false;
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.done();
    }
}
