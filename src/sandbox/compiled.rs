//! A compiled seccomp filter: what `filter` produces and `filter_cache` stores (plain data, so
//! the two depend on it and not on each other).

/// A compiled filter ready for `seccomp(SECCOMP_SET_MODE_FILTER)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompiledFilter {
    pub program: Vec<u8>,
    /// SECCOMP_FILTER_FLAG_* bits from the profile's `flags`.
    pub load_flags: u32,
    /// One line for the report: profile, ABIs, rule count, default action.
    pub summary: String,
    /// Warnings to print on every run (unknown fields, syscalls libseccomp does not know).
    pub warnings: Vec<String>,
}
