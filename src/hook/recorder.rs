//! The hook's detached recorder: attaches to the container's process, traces it until its last
//! process exits (or until SIGTERM/SIGINT/SIGHUP, then detaches and writes what it has as
//! `.partial`), and writes the outputs beneath the output directory.

use std::io::Write;
use std::path::Path;

use nix::fcntl::{Flock, FlockArg};

use super::Prepared;
use crate::model::Recording;
use crate::output;
use crate::profile::{apparmor, generate, landlock, merge};
use crate::sandbox::sys;
use crate::tracer::attach::{self, Traced};
use crate::tracer::events;

pub const ATTACHED: &str = "attached";
pub const BUSY: &str = "busy";
pub const OK: &str = "ok";
pub const PARTIAL: &str = "partial:";
/// Lines after the first of a result: what the recorder could not keep.
pub const WARNING: &str = "warning: ";

/// The recorder's whole life; never returns.
pub fn run(p: Prepared, base: &Path, lock: std::fs::File, ready: std::os::fd::OwnedFd) -> ! {
    // Out of the runtime's session and away from its pipes: the runtime must not wait for us.
    let _ = nix::unistd::setsid();
    let _ = sys::stdio_to_devnull();
    {
        use std::os::fd::AsRawFd;
        let mut keep = vec![ready.as_raw_fd(), lock.as_raw_fd()];
        for (slot, _) in &p.profiles {
            keep.push(slot.raw_fd());
        }
        keep.extend(
            p.apparmor
                .iter()
                .chain(p.landlock.iter())
                .chain(p.recording.iter())
                .map(|s| s.raw_fd()),
        );
        let _ = sys::close_all_except(&keep);
    }
    let mut ready = Some(std::fs::File::from(ready));
    // Held until exit; poststop waits on it. Never waited for: a holder means another recorder.
    let lock = match Flock::lock(lock, FlockArg::LockExclusiveNonblock) {
        Ok(l) => l,
        Err((_, e)) => {
            let msg = if e == nix::errno::Errno::EWOULDBLOCK {
                BUSY.to_string()
            } else {
                format!("locking the recorder's lock file: {e}")
            };
            say(&mut ready, &msg);
            sys::exit_now(1);
        }
    };
    let (traced, recording, warnings) = match record(&p, &mut ready) {
        Ok(r) => r,
        Err(e) => {
            // Before the hook was told "attached", it reports this; after, the result does.
            if ready.is_some() {
                say(&mut ready, &e);
                sys::exit_now(1);
            }
            let _ = output::write_atomic(&base.with_extension("result"), e.as_bytes());
            sys::exit_now(1);
        }
    };
    let mut text = match traced {
        Traced::Finished => match write_outputs(&p, &recording, "") {
            Ok(_) => OK.to_string(),
            Err(e) => e,
        },
        Traced::Detached => match write_outputs(&p, &recording, ".partial") {
            Ok(written) => format!(
                "{PARTIAL} stopped by a signal and detached from the container, which runs on untraced; what was recorded ({} syscalls) is in {}",
                recording.syscalls.len(),
                written.join(", ")
            ),
            Err(e) => e,
        },
    };
    for w in warnings {
        text.push_str(&format!("\n{WARNING}{w}"));
    }
    let _ = output::write_atomic(&base.with_extension("result"), text.as_bytes());
    drop(lock);
    sys::exit_now(0)
}

/// Tells the waiting hook `msg` and closes the pipe: the hook reads until then.
fn say(ready: &mut Option<std::fs::File>, msg: &str) {
    if let Some(mut r) = ready.take() {
        let _ = r.write_all(msg.as_bytes());
    }
}

/// Records with eBPF where it can (nothing attached to the container, no stop per syscall),
/// else with ptrace; says "attached" on `ready` once nothing after the container's exec can be
/// missed. Returns how it ended, the recording and warnings about what was lost.
fn record(
    p: &Prepared,
    ready: &mut Option<std::fs::File>,
) -> Result<(Traced, Recording, Vec<String>), String> {
    #[cfg(feature = "ebpf")]
    if p.backend != super::HookBackend::Ptrace {
        use crate::tracer::ebpf;
        // AppArmor's rules need the paths and the socket families, Landlock's the paths.
        let wants = ebpf::Wants {
            args: p.apparmor.is_some() || p.recording.is_some(),
            files: p.apparmor.is_some() || p.landlock.is_some() || p.recording.is_some(),
            ..Default::default()
        };
        let probe = ebpf::Probe::load(wants).and_then(|mut probe| {
            probe.track(p.pid as u32)?;
            Ok(probe)
        });
        match probe {
            Ok(probe) => {
                say(ready, ATTACHED);
                let (traced, rec, losses, detach) =
                    ebpf::follow(probe, p.pid as u32, &sys::stop_requested)?;
                // Detaching waits for RCU grace periods: the poststop hook must not. The
                // programs go when this process exits, after the result and the lock.
                std::mem::forget(detach);
                return Ok((traced, rec, losses.describe()));
            }
            Err(why) if p.backend == super::HookBackend::Ebpf => {
                return Err(format!("--backend ebpf: {why}"));
            }
            Err(_) => {}
        }
    }
    #[cfg(not(feature = "ebpf"))]
    if p.backend == super::HookBackend::Ebpf {
        return Err("--backend ebpf: this syscage was built without the ebpf feature".into());
    }
    let tasks = attach::attach(p.pid).map_err(|e| e.to_string())?;
    say(ready, ATTACHED);
    let mut rec = events::Recorder::new(events::Scope::All);
    let traced =
        attach::trace(tasks, &mut rec, true, &sys::stop_requested).map_err(|e| e.to_string())?;
    Ok((
        traced,
        rec.finish(vec![format!("container process {}", p.pid)]),
        Vec::new(),
    ))
}

/// Writes every requested output (named with `suffix`); returns the paths written.
fn write_outputs(p: &Prepared, rec: &Recording, suffix: &str) -> Result<Vec<String>, String> {
    let runtime_base = generate::base_for("any").unwrap_or_default();
    let recorded = generate::seccomp_profile(rec, &runtime_base).0;
    let mut written = Vec::new();
    for (slot, baseline) in &p.profiles {
        let profile = match baseline {
            Some((path, b)) => merge::merge(&[
                (path.display().to_string(), b.clone()),
                ("recording".into(), recorded.clone()),
            ])
            .map_err(|e| e.to_string())?,
            None => recorded.clone(),
        };
        written.push(slot.write_atomic(generate::to_json(&profile).as_bytes(), suffix)?);
    }
    if let Some(slot) = &p.apparmor {
        written.push(slot.write_atomic(apparmor::profile(rec).as_bytes(), suffix)?);
    }
    if let Some(slot) = &p.landlock {
        let rules = landlock::from_recording(rec);
        written.push(slot.write_atomic(landlock::to_json(&rules).as_bytes(), suffix)?);
    }
    if let Some(slot) = &p.recording {
        written.push(slot.write_atomic(rec.to_json().as_bytes(), suffix)?);
    }
    Ok(written.iter().map(|w| w.display().to_string()).collect())
}
