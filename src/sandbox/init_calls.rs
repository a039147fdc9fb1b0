// The syscalls the sandbox's init may make once it has loaded its own filter (see
// `init_filter.rs`). Also read by build.rs, which compiles the filter at build time: plain data,
// nothing but this list.

/// What the init calls after loading its filter (`monitor::forward_until_exit`, `sys::exit_now`),
/// and what the Rust runtime may call on its behalf on those paths.
pub const INIT_CALLS: &[&str] = &[
    // Reaping the workload and orphans.
    "wait4",
    "waitid",
    // Waiting for signals and forwarding them.
    "rt_sigtimedwait",
    "rt_sigprocmask",
    "rt_sigreturn",
    "restart_syscall",
    "kill",
    // Ending with the workload's status.
    "exit",
    "exit_group",
    // Memory, should an error path allocate; a message on stderr.
    "brk",
    "mmap",
    "munmap",
    "mremap",
    "madvise",
    "futex",
    "write",
    "sigaltstack",
    "clock_gettime",
    "clock_nanosleep",
];
