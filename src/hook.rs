//! `syscage hook`: an OCI runtime hook that records a container's syscalls.
//!
//! Declared for `createRuntime`/`prestart` and `poststop` (see `hooks/` for podman and CRI-O), it
//! reads the container State JSON on stdin and acts only when the container carries
//! `io.syscage.record=PATH` (or oci-seccomp-bpf-hook's `io.containers.trace-syscall=[if:BASE;]of:PATH`).
//! At start it attaches a detached recorder to the container's process (ptrace: no kernel
//! headers, no compiler, no eBPF), returning only once the recorder is attached, so nothing after
//! the runtime's exec of the container's program is missed; the recorder writes the profile
//! (and, on request, AppArmor and Landlock files) atomically when the container's last process
//! exits. At `poststop` the hook waits for that and reports failures with a non-zero status.
//! Without the annotations it does nothing and exits 0.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use oci_spec::runtime::{ContainerState, State};

use crate::error::Error;
use crate::model::Recording;
use crate::output;
use crate::profile::{apparmor, generate, landlock, merge, seccomp};
use crate::sandbox::sys;
use crate::tracer::{attach, events};

pub const RECORD: &str = "io.syscage.record";
pub const RECORD_APPARMOR: &str = "io.syscage.record.apparmor";
pub const RECORD_LANDLOCK: &str = "io.syscage.record.landlock";
/// oci-seccomp-bpf-hook's annotation: `of:OUTPUT` or `if:BASELINE;of:OUTPUT`.
pub const TRACE_SYSCALL: &str = "io.containers.trace-syscall";

/// What the annotations ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub output: PathBuf,
    pub baseline: Option<PathBuf>,
    pub apparmor: Option<PathBuf>,
    pub landlock: Option<PathBuf>,
}

fn absolute(key: &str, v: &str) -> Result<PathBuf, Error> {
    let p = PathBuf::from(v.trim());
    if !p.is_absolute() {
        return Err(Error::Usage(format!(
            "annotation {key}: \"{v}\" is not an absolute path"
        )));
    }
    Ok(p)
}

/// Parses the annotations; `None` when the container did not ask to be recorded.
pub fn request(annotations: &HashMap<String, String>) -> Result<Option<Request>, Error> {
    let (output, baseline) = if let Some(v) = annotations.get(RECORD) {
        (absolute(RECORD, v)?, None)
    } else if let Some(v) = annotations.get(TRACE_SYSCALL) {
        let mut of = None;
        let mut base = None;
        for part in v.split(';').map(str::trim).filter(|p| !p.is_empty()) {
            match part.split_once(':') {
                Some(("of", p)) => of = Some(absolute(TRACE_SYSCALL, p)?),
                Some(("if", p)) => base = Some(absolute(TRACE_SYSCALL, p)?),
                _ => {
                    return Err(Error::Usage(format!(
                        "annotation {TRACE_SYSCALL}: \"{part}\" is neither of:PATH nor if:PATH"
                    )));
                }
            }
        }
        let of = of.ok_or_else(|| {
            Error::Usage(format!(
                "annotation {TRACE_SYSCALL}: \"{v}\" has no of:PATH"
            ))
        })?;
        (of, base)
    } else {
        return Ok(None);
    };
    let opt = |k: &str| annotations.get(k).map(|v| absolute(k, v)).transpose();
    Ok(Some(Request {
        output,
        baseline,
        apparmor: opt(RECORD_APPARMOR)?,
        landlock: opt(RECORD_LANDLOCK)?,
    }))
}

/// Where the recorder keeps its lock and result per container.
fn state_dir() -> PathBuf {
    if nix::unistd::geteuid().is_root() {
        PathBuf::from("/run/syscage/hooks")
    } else {
        std::env::var_os("XDG_RUNTIME_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(std::env::temp_dir)
            .join("syscage/hooks")
    }
}

fn safe_id(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Runs the hook with the State JSON `input`; `stage` overrides the stage derived from the
/// container status ("stopped" means poststop).
pub fn run(input: &[u8], stage: Option<&str>) -> Result<i32, Error> {
    let state: State = serde_json::from_slice(input).map_err(|e| {
        Error::Input(format!(
            "container state on stdin:{}:{}: {e}",
            e.line(),
            e.column()
        ))
    })?;
    let annotations = state.annotations().clone().unwrap_or_default();
    let Some(req) = request(&annotations)? else {
        return Ok(0);
    };
    let dir = state_dir();
    std::fs::DirBuilder::new()
        .recursive(true)
        .create(&dir)
        .map_err(|source| Error::Io {
            path: dir.clone(),
            source,
        })?;
    let base = dir.join(safe_id(state.id()));
    let stopping = match stage {
        Some(s) => s == "poststop",
        None => *state.status() == ContainerState::Stopped,
    };
    let result = if stopping {
        finish(&base, &req)
    } else {
        start(&state, &req, &base)
    };
    // Some runtimes (crun) show only a hook's exit status: keep its message where users look.
    if let Err(e) = &result {
        let _ = std::fs::write(base.with_extension("log"), format!("{e}\n"));
    }
    result
}

fn start(state: &State, req: &Request, base: &Path) -> Result<i32, Error> {
    let pid = state.pid().ok_or_else(|| {
        Error::Input(
            "container state has no pid: the hook must run at createRuntime or prestart".into(),
        )
    })?;
    // Report an unwritable output now, while the runtime can still show it.
    for out in [
        Some(&req.output),
        req.apparmor.as_ref(),
        req.landlock.as_ref(),
    ]
    .into_iter()
    .flatten()
    {
        output::check_writable(out)?;
    }
    let _ = std::fs::remove_file(base.with_extension("result"));
    let (rx, tx) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|e| Error::Usage(format!("pipe: {e}")))?;
    match sys::clone_process(0).map_err(|source| Error::Io {
        path: "fork".into(),
        source,
    })? {
        Some(_) => {
            drop(tx);
            // Wait until the recorder is attached (or says why it cannot be).
            let mut msg = String::new();
            std::fs::File::from(rx).read_to_string(&mut msg).ok();
            if msg == "attached" {
                Ok(0)
            } else {
                Err(Error::Usage(format!(
                    "syscage hook: cannot record container {}: {}",
                    state.id(),
                    if msg.is_empty() {
                        "the recorder died"
                    } else {
                        &msg
                    }
                )))
            }
        }
        None => {
            drop(rx);
            recorder(pid, req, base, tx)
        }
    }
}

/// The detached recorder: never returns.
fn recorder(pid: i32, req: &Request, base: &Path, ready: std::os::fd::OwnedFd) -> ! {
    // Out of the runtime's session and away from its pipes: the runtime must not wait for us.
    let _ = nix::unistd::setsid();
    // Nothing the runtime passed to its hook may stay open here: runtimes and conmon wait for
    // their pipes to close.
    let _ = sys::stdio_to_devnull();
    let _ = sys::close_all_except(std::os::fd::AsRawFd::as_raw_fd(&ready));
    let mut ready = std::fs::File::from(ready);
    // The lock is held for the recorder's whole life; poststop waits on it.
    let lock = std::fs::File::create(base.with_extension("lock"))
        .ok()
        .and_then(|f| nix::fcntl::Flock::lock(f, nix::fcntl::FlockArg::LockExclusive).ok());
    let Some(lock) = lock else {
        let _ = ready.write_all(b"cannot take the recorder's lock");
        sys::exit_now(1);
    };
    let tasks = match attach::attach(pid) {
        Ok(t) => t,
        Err(e) => {
            let _ = ready.write_all(format!("{e}").as_bytes());
            sys::exit_now(1);
        }
    };
    let _ = ready.write_all(b"attached");
    drop(ready);
    let mut rec = events::Recorder::new(events::Scope::All);
    let result = attach::trace(tasks, &mut rec, true)
        .map_err(Error::from)
        .and_then(|()| write_outputs(req, rec.finish(vec![format!("container process {pid}")])));
    let text = match result {
        Ok(()) => "ok".to_string(),
        Err(e) => e.to_string(),
    };
    let _ = output::write_atomic(&base.with_extension("result"), text.as_bytes());
    drop(lock);
    sys::exit_now(0)
}

fn write_outputs(req: &Request, rec: Recording) -> Result<(), Error> {
    let basebase = generate::base_for("any").unwrap_or_default();
    let mut profile = generate::seccomp_profile(&rec, &basebase).0;
    if let Some(b) = &req.baseline {
        let (baseline, _) = seccomp::load(b)?;
        profile = merge::merge(&[
            (b.display().to_string(), baseline),
            ("recording".into(), profile),
        ])
        .map_err(|e| Error::Input(e.to_string()))?;
    }
    output::write_atomic(&req.output, generate::to_json(&profile).as_bytes())?;
    if let Some(p) = &req.apparmor {
        output::write_atomic(p, apparmor::profile(&rec).as_bytes())?;
    }
    if let Some(p) = &req.landlock {
        output::write_atomic(
            p,
            landlock::to_json(&landlock::from_recording(&rec)).as_bytes(),
        )?;
    }
    Ok(())
}

/// poststop: waits for the recorder to finish (it writes when the container's last process has
/// exited), then reports its result.
fn finish(base: &Path, req: &Request) -> Result<i32, Error> {
    let lock_path = base.with_extension("lock");
    let lock = std::fs::File::open(&lock_path).map_err(|_| {
        Error::Usage(format!(
            "no recording was started for this container (no {})",
            lock_path.display()
        ))
    })?;
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut file = lock;
    loop {
        match nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusiveNonblock) {
            Ok(_held) => break,
            Err((f, _)) if Instant::now() < deadline => {
                file = f;
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(_) => {
                return Err(Error::Usage(
                    "the recorder did not finish within 30 s".into(),
                ));
            }
        }
    }
    let result = std::fs::read_to_string(base.with_extension("result"))
        .unwrap_or_else(|_| "the recorder ended without a result".into());
    let _ = std::fs::remove_file(&lock_path);
    let _ = std::fs::remove_file(base.with_extension("result"));
    if result == "ok" {
        Ok(0)
    } else {
        Err(Error::Input(format!(
            "recording to {} failed: {result}",
            req.output.display()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ann(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn annotations() {
        assert_eq!(request(&ann(&[])).unwrap(), None);
        let r = request(&ann(&[
            (RECORD, "/out/p.json"),
            (RECORD_LANDLOCK, "/out/l.json"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(r.output, PathBuf::from("/out/p.json"));
        assert_eq!(r.landlock, Some(PathBuf::from("/out/l.json")));
        let r = request(&ann(&[(TRACE_SYSCALL, "if:/base.json;of:/out.json")]))
            .unwrap()
            .unwrap();
        assert_eq!(
            (r.output, r.baseline),
            (
                PathBuf::from("/out.json"),
                Some(PathBuf::from("/base.json"))
            )
        );
        assert!(request(&ann(&[(TRACE_SYSCALL, "if:/base.json")])).is_err());
        assert!(request(&ann(&[(RECORD, "relative.json")])).is_err());
        assert!(request(&ann(&[(TRACE_SYSCALL, "to:/x")])).is_err());
    }
}
