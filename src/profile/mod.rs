//! Pure profile formats: parsing, resolving and (later) generating. No syscalls here.

pub mod seccomp;
