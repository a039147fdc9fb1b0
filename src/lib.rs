//! syscage: record the syscalls a workload makes, generate least-privilege profiles from the
//! recording, and run processes confined by them.

pub mod agent;
pub mod analyze;
pub mod cli;
pub mod error;
pub mod exit;
pub mod hook;
pub mod model;
pub mod output;
pub mod profile;
pub mod sandbox;
pub mod tracer;

pub use error::Error;
