//! The seccomp filter of syscage's own init inside the sandbox.
//!
//! The init stays in the sandbox beside the workload (as PID 1: forwarding signals, reaping). It is
//! non-dumpable before the workload exists, which is what keeps the workload's `ptrace` away from
//! it; this filter is the second wall: once the init has dropped everything else, it can make only
//! the calls it needs to wait, forward signals and exit (`init_calls.rs`), so that even a tracer
//! that got hold of it could not make it call anything the workload's own profile denies.
//! Everything else fails with EPERM rather than killing the init (which would end the workload).
//!
//! Compiled by libseccomp in build.rs, not at each start: a run pays nothing for it (compiling it
//! here cost ~2 ms a start, and a cache is not always writable, e.g. in an entrypoint).

include!("init_calls.rs");

/// The BPF program, for this build's target architecture (other ABIs: killed, libseccomp's
/// default for a foreign arch).
pub const PROGRAM: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/init_filter.bpf"));

#[cfg(test)]
mod tests {
    use super::*;
    use libseccomp::{ScmpAction, ScmpFilterContext, ScmpSyscall};

    #[test]
    fn the_built_program_is_what_libseccomp_compiles_from_the_list() {
        let mut ctx = ScmpFilterContext::new(ScmpAction::Errno(libc::EPERM)).unwrap();
        ctx.set_ctl_nnp(false).unwrap();
        for name in INIT_CALLS {
            ctx.add_rule(ScmpAction::Allow, ScmpSyscall::from_name(name).unwrap())
                .unwrap();
        }
        let now = crate::sandbox::filter::export(&ctx).unwrap();
        assert_eq!(PROGRAM, now.as_slice());
    }
}
