//! The recording: what a traced workload did, as pure data. Deterministic (sorted maps and sets)
//! so that the same run gives byte-identical output, and mergeable.

pub mod abi;
pub mod args;
pub mod container_id;
pub mod files;
pub mod flags;
pub mod recording;
pub mod violation;

pub use abi::Abi;
pub use recording::{Recording, SyscallStats};
