//! The command: its argv and environment prepared in the parent, and its lookup inside the
//! sandbox (after `pivot_root`, before seccomp) so that "not found" and "not executable" are
//! reported as 127 and 126 even under a profile that would deny the error message's own write.

use std::ffi::{CString, OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::SandboxError;
use crate::exit;

const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

#[derive(Debug, Clone)]
pub struct ExecPlan {
    pub program: OsString,
    pub argv: Vec<CString>,
    pub envp: Vec<CString>,
    search_path: OsString,
    /// Working directory inside the sandbox, and whether the user chose it.
    pub cwd: PathBuf,
    pub cwd_explicit: bool,
}

fn cstring(s: &OsStr, what: &str) -> Result<CString, SandboxError> {
    CString::new(s.as_bytes())
        .map_err(|_| SandboxError::Message(format!("{what} {:?} contains a NUL byte", s)))
}

/// The workload's environment: the caller's (or none with `clear`), then `set` (`K=V`, or `K` to
/// take K from the caller's), then `home` for HOME unless `set` gave one.
#[derive(Debug, Clone, Default)]
pub struct EnvSpec {
    pub clear: bool,
    pub set: Vec<String>,
    pub home: Option<String>,
}

fn environment(spec: &EnvSpec) -> Result<Vec<(OsString, OsString)>, SandboxError> {
    let mut env: Vec<(OsString, OsString)> = if spec.clear {
        Vec::new()
    } else {
        std::env::vars_os().collect()
    };
    let mut put = |k: OsString, v: OsString| {
        env.retain(|(old, _)| *old != k);
        env.push((k, v));
    };
    let mut home_set = false;
    for item in &spec.set {
        let (k, v) = match item.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (item.as_str(), None),
        };
        if k.is_empty() || k.contains('\0') || v.is_some_and(|v| v.contains('\0')) {
            return Err(SandboxError::Message(format!(
                "--env {item:?}: expected NAME=VALUE or NAME"
            )));
        }
        home_set |= k == "HOME";
        match v {
            Some(v) => put(k.into(), v.into()),
            // Docker's `-e NAME`: the caller's value, if it has one.
            None => {
                if let Some(v) = std::env::var_os(k) {
                    put(k.into(), v)
                }
            }
        }
    }
    if let (Some(home), false) = (&spec.home, home_set) {
        put("HOME".into(), home.into());
    }
    Ok(env)
}

pub fn prepare(
    command: &[OsString],
    cwd: Option<&Path>,
    host_root: bool,
    env: &EnvSpec,
) -> Result<ExecPlan, SandboxError> {
    let program = command
        .first()
        .filter(|p| !p.is_empty())
        .ok_or_else(|| {
            SandboxError::Message(
                "no command given (usage: syscage run [OPTIONS] -- CMD [ARGS...])".into(),
            )
        })?
        .clone();
    let argv = command
        .iter()
        .map(|a| cstring(a, "argument"))
        .collect::<Result<Vec<_>, _>>()?;
    let mut search_path = OsString::from(DEFAULT_PATH);
    let mut envp = Vec::new();
    for (k, v) in environment(env)? {
        if k == "PATH" {
            search_path = v.clone();
        }
        let mut kv = k.into_vec();
        kv.push(b'=');
        kv.extend_from_slice(v.as_bytes());
        envp.push(cstring(OsStr::from_bytes(&kv), "environment variable")?);
    }
    let (cwd, cwd_explicit) = match cwd {
        Some(c) if c.is_absolute() => (c.to_owned(), true),
        Some(c) => {
            return Err(SandboxError::Message(format!(
                "--cwd {}: the path must be absolute",
                c.display()
            )));
        }
        None if host_root => (
            std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/")),
            false,
        ),
        None => (PathBuf::from("/"), false),
    };
    Ok(ExecPlan {
        program,
        argv,
        envp,
        search_path,
        cwd,
        cwd_explicit,
    })
}

/// A lookup failure: the exit code (126/127) and the message.
pub struct NotRunnable(pub i32, pub String);

/// NotFound for anything that is not there to run (a missing file, an unreadable directory in
/// the way, as shells treat them); PermissionDenied for a file that exists but cannot run.
fn executable(p: &Path) -> Result<(), std::io::Error> {
    let meta =
        std::fs::metadata(p).map_err(|_| std::io::Error::from(std::io::ErrorKind::NotFound))?;
    if !meta.is_file() || meta.permissions().mode() & 0o111 == 0 {
        return Err(std::io::Error::from_raw_os_error(libc::EACCES));
    }
    Ok(())
}

/// Finds the program as `execvp` would: a name with a slash is used as is, anything else is
/// searched in `$PATH`.
pub fn resolve(plan: &ExecPlan) -> Result<CString, NotRunnable> {
    let name = Path::new(&plan.program);
    let shown = name.display();
    let found = if plan.program.as_bytes().contains(&b'/') {
        match executable(name) {
            Ok(()) => name.to_owned(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(NotRunnable(
                    exit::NOT_FOUND,
                    format!("{shown}: no such file"),
                ));
            }
            Err(e) => {
                return Err(NotRunnable(
                    exit::NOT_EXECUTABLE,
                    format!("{shown}: cannot execute: {e}"),
                ));
            }
        }
    } else {
        let mut denied = None;
        let hit = std::env::split_paths(&plan.search_path)
            .map(|dir| dir.join(name))
            .find(|p| match executable(p) {
                Ok(()) => true,
                Err(e) => {
                    if e.kind() != std::io::ErrorKind::NotFound && denied.is_none() {
                        denied = Some((p.clone(), e));
                    }
                    false
                }
            });
        match (hit, denied) {
            (Some(p), _) => p,
            (None, Some((p, e))) => {
                return Err(NotRunnable(
                    exit::NOT_EXECUTABLE,
                    format!("{}: cannot execute: {e}", p.display()),
                ));
            }
            (None, None) => {
                return Err(NotRunnable(
                    exit::NOT_FOUND,
                    format!("{shown}: command not found"),
                ));
            }
        }
    };
    CString::new(found.into_os_string().into_vec())
        .map_err(|_| NotRunnable(exit::NOT_FOUND, format!("{shown}: invalid path")))
}

/// Maps an `execve` failure to the exit code and message.
pub fn exec_failure(plan: &ExecPlan, err: nix::errno::Errno) -> NotRunnable {
    let shown = Path::new(&plan.program).display().to_string();
    match err {
        nix::errno::Errno::ENOENT => NotRunnable(
            exit::NOT_FOUND,
            format!("{shown}: no such file (or its interpreter is missing)"),
        ),
        nix::errno::Errno::EPERM => NotRunnable(
            exit::NOT_EXECUTABLE,
            format!("{shown}: execve was refused (does the seccomp profile allow execve?)"),
        ),
        e => NotRunnable(
            exit::NOT_EXECUTABLE,
            format!("{shown}: cannot execute: {e}"),
        ),
    }
}

/// Ends a child that cannot go on: the message on stderr, then `_exit(code)`.
pub fn die(code: i32, msg: &str) -> ! {
    eprintln!("syscage: {msg}");
    super::sys::exit_now(code)
}

/// The child's first steps, shared by `run` and `record`: the caller's signal mask back, and the
/// command looked up (127/126 on failure).
pub fn start_child(plan: &ExecPlan, mask: &super::sys::SignalSet) -> CString {
    if let Err(e) = mask.set_mask() {
        die(
            exit::SYSCAGE_ERROR,
            &format!("error: restoring the signal mask: {e}"),
        );
    }
    match resolve(plan) {
        Ok(p) => p,
        Err(NotRunnable(code, msg)) => die(code, &msg),
    }
}

/// The child's last step: execve, or exit 127/126 saying why.
pub fn exec(plan: &ExecPlan, path: &CString) -> ! {
    let err = match nix::unistd::execve(path, &plan.argv, &plan.envp) {
        Err(e) => e,
        Ok(never) => match never {},
    };
    let NotRunnable(code, msg) = exec_failure(plan, err);
    die(code, &msg)
}
