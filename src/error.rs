//! The library's top-level error. The exit codes are in `exit`.

use std::path::PathBuf;

use crate::exit;
use crate::profile::seccomp::ProfileError;
use crate::sandbox::SandboxError;

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
