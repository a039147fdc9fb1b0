//! Recording a process that already runs (a container's init, from a runtime hook) with eBPF:
//! tracked from its next exec on, until every process it leads to has exited or `stop()` says
//! so. Nothing is attached to the container: stopping is just dropping the program.

use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use super::attribution::Attribution;
use super::{Losses, Probe};
use crate::model::Recording;
use crate::sandbox::sys;
use crate::tracer::attach::Traced;

/// How often processes are checked against /proc, in case an exit event was lost.
const PRUNE_EVERY: Duration = Duration::from_secs(1);

/// Follows `pid` (already passed to `probe.track`) until its processes are gone or `stop()`.
/// The programs come back still attached: drop them once the results are out.
pub fn follow(
    mut probe: Probe,
    pid: u32,
    stop: &dyn Fn() -> bool,
) -> Result<(Traced, Recording, Losses, super::Detach), String> {
    let first = sys::pidfd_open(pid as i32).map_err(|e| format!("pidfd_open({pid}): {e}"))?;
    let mut attr = Attribution::new(pid);
    let mut pruned = Instant::now();
    let traced = loop {
        if stop() {
            break Traced::Detached;
        }
        let first_gone = probe
            .wait(first.as_fd())
            .map_err(|e| format!("poll: {e}"))?;
        // Read on every turn: the kernel wakes this loop early only when the ring fills up.
        probe.drain(&mut attr);
        if !attr.started() {
            // It died before its exec: there is nothing to record.
            if first_gone {
                break Traced::Finished;
            }
            continue;
        }
        if pruned.elapsed() >= PRUNE_EVERY {
            attr.prune(&|tgid| std::path::Path::new(&format!("/proc/{tgid}")).exists());
            pruned = Instant::now();
        }
        if attr.live() == 0 {
            break Traced::Finished;
        }
    };
    let (rec, losses, detach) = probe.finish(attr, vec![format!("container process {pid}")])?;
    Ok((traced, rec, losses, detach))
}
