//! Pure profile formats: parsing, resolving and (later) generating. No syscalls here.

pub mod apparmor;
pub mod arch;
pub mod generate;
pub mod k8s;
pub mod landlock;
pub mod lint;
pub mod merge;
pub mod oci;
pub mod report;
pub mod seccomp;
pub mod watch;
