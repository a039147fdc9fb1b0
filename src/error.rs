//! The library's top-level error and the exit codes syscage documents.

use std::path::PathBuf;

use crate::profile::seccomp::ProfileError;
use crate::sandbox::SandboxError;

/// Exit codes, as `docker run` uses them. The workload's own status passes through unchanged;
/// a workload killed by signal N gives 128+N.
pub mod exit {
    /// syscage's own failure: bad flags, bad profile, setup failure.
    pub const SYSCAGE_ERROR: i32 = 125;
    /// The command was found but could not be executed.
    pub const NOT_EXECUTABLE: i32 = 126;
    /// The command was not found.
    pub const NOT_FOUND: i32 = 127;
    /// Base added to a signal number when the workload was killed by it.
    pub const SIGNAL_BASE: i32 = 128;
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Profile(#[from] ProfileError),
    #[error(transparent)]
    Sandbox(#[from] SandboxError),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Usage(String),
    /// Bad input that names its own file and position.
    #[error("{0}")]
    Input(String),
}

impl Error {
    /// Every error that reaches `main` is syscage's own: the workload's statuses never travel as errors.
    pub fn exit_code(&self) -> i32 {
        exit::SYSCAGE_ERROR
    }
}
