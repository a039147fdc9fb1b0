//! The exit codes syscage documents, as `docker run` uses them. The workload's own status passes
//! through unchanged; a workload killed by signal N gives 128+N. Plain constants, depended on by
//! every module and depending on none.

/// syscage's own failure: bad flags, bad profile, setup failure.
pub const SYSCAGE_ERROR: i32 = 125;
/// The command was found but could not be executed.
pub const NOT_EXECUTABLE: i32 = 126;
/// The command was not found.
pub const NOT_FOUND: i32 = 127;
/// Base added to a signal number when the workload was killed by it.
pub const SIGNAL_BASE: i32 = 128;
/// `syscage analyze`: the result may miss syscalls (an unresolved site, a computed dlopen name,
/// a missing library); the profile is still written.
pub const ANALYSIS_INCOMPLETE: i32 = 3;
