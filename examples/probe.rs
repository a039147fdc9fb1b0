//! A probe payload for confinement tests (in the spirit of bwrap's `tests/try-syscall.c`): each
//! check makes one operation with arguments chosen so that a kernel that allows it answers
//! differently (EINVAL, ESRCH, success) from a filter or a missing capability that refuses it.
//! Every check prints one line, `NAME: ok` or `NAME: ERRNO`, and the probe exits 0.
//!
//!     probe syscall keyctl|unshare-user|ptrace|mount|bpf|personality|netlink|clone3|getppid|
//!                   fork|clone-newuser
//!     probe int80 getpid|getppid|keyctl      (i386 syscalls through `int 0x80`)
//!     probe cap chown|dac_override|setuid|setgid|setpcap|sys_chroot|sys_admin|net_raw|
//!               net_admin|net_bind_service
//!     probe fds                              (lists open descriptors above 2)
//!     probe fd-escape N                      (creates a file through inherited descriptor N)
//!     probe tiocsti                          (pushes a byte into the terminal on stdin)
//!     probe after MS NAME...                 (sleeps MS ms, then the syscall checks)
//!     probe repeat N NAME                    (the check N times; one line: NAME xN: ERRNO...)
//!     probe count-numbers MS                 (syscall numbers 1000, 1001, ... for MS ms; prints
//!                                             how many calls and their outcomes)
//!     probe paced N MS NAME                  (the check N times, MS ms apart; one line with the
//!                                             outcomes and the slowest call in microseconds)
//!     probe pid-reuse MS NAME                (exits at once, leaving a child that forks until a
//!                                             grandchild gets the exited pid, which makes the
//!                                             check: a pid-reuse attack on whoever trusted it)
//!     probe trap NAME handler|ignore|block   (the check with SIGSYS handled (SA_RESTART),
//!                                             ignored or blocked: how a trap action reaches it)
//!     probe seize-parent MS                  (PTRACE_SEIZE of its parent in a loop from its first
//!                                             instruction for MS ms; `ok` once attached, with
//!                                             the proof: the parent made to call getppid)

use std::ffi::CString;
use std::io::Write;

use nix::errno::Errno;

fn report(name: &str, ret: i64) {
    let line = if ret < 0 {
        format!("{name}: {:?}\n", Errno::last())
    } else {
        format!("{name}: ok\n")
    };
    // One write per line: the probe may be killed right after.
    let _ = std::io::stdout().write_all(line.as_bytes());
    let _ = std::io::stdout().flush();
}

fn report_raw(name: &str, ret: i64) {
    // int 0x80 returns -errno directly instead of setting errno.
    let line = if ret < 0 {
        format!("{name}: {:?}\n", Errno::from_raw(-ret as i32))
    } else {
        format!("{name}: ok\n")
    };
    let _ = std::io::stdout().write_all(line.as_bytes());
    let _ = std::io::stdout().flush();
}

fn c(s: &str) -> CString {
    CString::new(s).expect("no NUL in probe strings")
}

fn syscall_check(name: &str) {
    report(name, syscall_raw(name));
}

/// `NAME xN: ok|ERRNO[ xCOUNT]...`: the outcomes of N calls, counted.
fn repeat(n: u64, name: &str) {
    let mut counts: std::collections::BTreeMap<String, u64> = Default::default();
    for _ in 0..n {
        let r = syscall_raw(name);
        let key = if r < 0 {
            format!("{:?}", Errno::last())
        } else {
            "ok".into()
        };
        *counts.entry(key).or_default() += 1;
    }
    let parts: Vec<String> = counts.iter().map(|(k, v)| format!("{k} x{v}")).collect();
    let _ = writeln!(std::io::stdout(), "{name} x{n}: {}", parts.join(" "));
}

fn syscall_raw(name: &str) -> i64 {
    // SAFETY: (whole block) every call passes either no pointers or valid pointers to live data;
    // the probe exists to make these calls.
    unsafe {
        match name {
            "keyctl" => libc::syscall(libc::SYS_keyctl, 0, 0x7fff_fff0i64, 0),
            "unshare-user" => libc::unshare(libc::CLONE_NEWUSER) as i64,
            "ptrace" => libc::ptrace(libc::PTRACE_ATTACH, 0x3fff_fff0, 0, 0) as i64,
            "mount" => {
                let t = c("/proc/probe-no-such-dir");
                libc::mount(
                    std::ptr::null(),
                    t.as_ptr(),
                    std::ptr::null(),
                    libc::MS_REMOUNT,
                    std::ptr::null(),
                ) as i64
            }
            "bpf" => libc::syscall(libc::SYS_bpf, 0, 0, 0),
            "personality" => libc::personality(0x0400000) as i64,
            "netlink" => libc::socket(libc::AF_NETLINK, libc::SOCK_RAW, libc::NETLINK_ROUTE) as i64,
            "clone3" => libc::syscall(libc::SYS_clone3, 0, 0),
            "getppid" => libc::syscall(libc::SYS_getppid),
            "fork" => clone_and_wait(0),
            "clone-newuser" => clone_and_wait(libc::CLONE_NEWUSER as u64),
            other => {
                eprintln!("probe: unknown syscall check {other}");
                std::process::exit(2);
            }
        }
    }
}

/// Raw clone(flags|SIGCHLD) with no new stack: the child exits at once, the parent reaps it.
///
/// # Safety
/// Fork-like clone in a single-threaded probe; the child only calls _exit.
unsafe fn clone_and_wait(flags: u64) -> i64 {
    // SAFETY: see the function's contract.
    let pid = unsafe { libc::syscall(libc::SYS_clone, flags | libc::SIGCHLD as u64, 0, 0, 0, 0) };
    if pid == 0 {
        // SAFETY: ends the child without touching shared state.
        unsafe { libc::_exit(0) };
    }
    if pid > 0 {
        // SAFETY: waits for our own child; status is a valid out pointer.
        unsafe { libc::waitpid(pid as libc::pid_t, std::ptr::null_mut(), 0) };
    }
    pid
}

/// An i386 syscall from this 64-bit process. rbx is reserved by LLVM, so swap it in and out.
#[cfg(target_arch = "x86_64")]
fn int80(nr: u64, a: u64, b: u64, d: u64) -> i64 {
    let ret: u64;
    // SAFETY: int 0x80 is a syscall; rbx is restored before the asm block ends and no memory
    // the compiler knows of is touched by the calls the probe makes.
    unsafe {
        std::arch::asm!(
            "xchg {a}, rbx",
            "int 0x80",
            "xchg {a}, rbx",
            a = inout(reg) a => _,
            inlateout("rax") nr => ret,
            in("rcx") b,
            in("rdx") d,
        );
    }
    i64::from(ret as u32 as i32)
}

fn int80_check(name: &str) {
    let r = match name {
        "getpid" => int80(20, 0, 0, 0),
        "getppid" => int80(64, 0, 0, 0),
        "keyctl" => int80(288, 0, 0x7fff_fff0, 0),
        other => {
            eprintln!("probe: unknown int80 check {other}");
            std::process::exit(2);
        }
    };
    report_raw(&format!("int80 {name}"), r);
}

fn scratch(tag: &str) -> CString {
    let path = format!("/tmp/probe-{tag}-{}", std::process::id());
    let _ = std::fs::remove_file(&path);
    std::fs::write(&path, b"x").expect("probe needs a writable /tmp");
    c(&path)
}

fn cap_check(name: &str) {
    // SAFETY: (whole block) pointers passed are to live CStrings or local structs.
    let r: i64 = unsafe {
        match name {
            "chown" => libc::chown(scratch("chown").as_ptr(), 1, 1) as i64,
            "dac_override" => {
                let p = scratch("dac");
                libc::chmod(p.as_ptr(), 0);
                let fd = libc::open(p.as_ptr(), libc::O_RDONLY);
                fd as i64
            }
            "setuid" => libc::setuid(1) as i64,
            "setgid" => libc::setgid(1) as i64,
            "setpcap" => libc::prctl(libc::PR_CAPBSET_DROP, 8, 0, 0, 0) as i64,
            "sys_chroot" => libc::chroot(c("/").as_ptr()) as i64,
            "sys_admin" => {
                let n = b"probe";
                libc::sethostname(n.as_ptr().cast(), n.len()) as i64
            }
            "net_raw" => libc::socket(libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_ICMP) as i64,
            "net_admin" => {
                let s = libc::socket(libc::AF_INET, libc::SOCK_DGRAM, 0);
                let mut req: libc::ifreq = std::mem::zeroed();
                req.ifr_name[0] = b'l' as libc::c_char;
                req.ifr_name[1] = b'o' as libc::c_char;
                if libc::ioctl(s, libc::SIOCGIFFLAGS, &mut req) < 0 {
                    -1
                } else {
                    libc::ioctl(s, libc::SIOCSIFFLAGS, &req) as i64
                }
            }
            "net_bind_service" => {
                let s = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
                let mut addr: libc::sockaddr_in = std::mem::zeroed();
                addr.sin_family = libc::AF_INET as libc::sa_family_t;
                addr.sin_port = 80u16.to_be();
                addr.sin_addr.s_addr = u32::from_be_bytes([127, 0, 0, 1]).to_be();
                libc::bind(
                    s,
                    (&addr as *const libc::sockaddr_in).cast(),
                    std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
                ) as i64
            }
            other => {
                eprintln!("probe: unknown capability check {other}");
                std::process::exit(2);
            }
        }
    };
    report(&format!("cap {name}"), r);
}

fn fds() {
    let open: Vec<String> = std::fs::read_dir("/proc/self/fd")
        .expect("probe needs /proc")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|n| n.parse::<i32>().ok())
        .filter(|fd| *fd > 2)
        // The directory stream itself has a descriptor; fcntl tells whether each one survived.
        // SAFETY: F_GETFD on a number only queries the descriptor table.
        .filter(|fd| unsafe { libc::fcntl(*fd, libc::F_GETFD) } >= 0)
        .filter(|fd| {
            std::fs::read_link(format!("/proc/self/fd/{fd}"))
                .map(|t| !t.to_string_lossy().starts_with("/proc/"))
                .unwrap_or(false)
        })
        .map(|fd| fd.to_string())
        .collect();
    println!(
        "open fds: {}",
        if open.is_empty() {
            "none".into()
        } else {
            open.join(" ")
        }
    );
}

/// `NAME xN: ok|ERRNO xCOUNT...; slowest US us`: N calls `ms` apart, timed one by one.
fn paced(n: u64, ms: u64, name: &str) {
    let mut counts: std::collections::BTreeMap<String, u64> = Default::default();
    let mut slowest = std::time::Duration::ZERO;
    for _ in 0..n {
        std::thread::sleep(std::time::Duration::from_millis(ms));
        let t = std::time::Instant::now();
        let r = syscall_raw(name);
        slowest = slowest.max(t.elapsed());
        let key = if r < 0 {
            format!("{:?}", Errno::last())
        } else {
            "ok".into()
        };
        *counts.entry(key).or_default() += 1;
    }
    let parts: Vec<String> = counts.iter().map(|(k, v)| format!("{k} x{v}")).collect();
    println!(
        "paced {name} x{n}: {}; slowest {} us",
        parts.join(" "),
        slowest.as_micros()
    );
}

/// The pid-reuse attack on an exemption that trusts a bare pid: this process (a container's
/// init, say) forks a child and exits; the child, in a session of its own, forks until one of
/// its children gets the exited pid, and that child makes the check, "pid-reuse PID: NAME: ..."
/// (or "pid-reuse PID: never came round" after `ms`).
fn pid_reuse(ms: u64, name: &str) {
    let target = nix::unistd::getpid().as_raw();
    // SAFETY: fork in a single-threaded process; the child only makes raw calls and prints.
    match unsafe { libc::fork() } {
        0 => {}
        -1 => {
            println!("pid-reuse {target}: fork: {:?}", Errno::last());
            return;
        }
        // The parent leaves without unwinding, as an init that exits would.
        // SAFETY: _exit never returns.
        _ => unsafe { libc::_exit(0) },
    }
    // SAFETY: (whole block) setsid/getppid/fork/waitpid/_exit take no pointers but the status
    // of a live local.
    unsafe {
        libc::setsid();
        while libc::getppid() == target {
            libc::usleep(1000);
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_millis(ms);
        while std::time::Instant::now() < deadline {
            let pid = libc::fork();
            if pid == 0 {
                if libc::getpid() == target {
                    let r = syscall_raw(name);
                    report(&format!("pid-reuse {target}: {name}"), r);
                }
                libc::_exit(0);
            }
            if pid < 0 {
                libc::usleep(1000);
                continue;
            }
            let mut status = 0;
            libc::waitpid(pid, &mut status, 0);
            if pid == target {
                return;
            }
        }
    }
    println!("pid-reuse {target}: never came round in {ms} ms");
}

static SIGSYS_SEEN: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
static SIGSYS_CODE: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);

extern "C" fn on_sigsys(_: libc::c_int, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
    SIGSYS_SEEN.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    // SAFETY: the kernel passes a valid siginfo to an SA_SIGINFO handler.
    let code = unsafe { (*info).si_code };
    SIGSYS_CODE.store(code, std::sync::atomic::Ordering::SeqCst);
}

/// `trap NAME MODE: ERRNO|ok; SIGSYS xN si_code C` after making the call with SIGSYS handled
/// (SA_RESTART), ignored or blocked. Under a trap action the kernel runs the handler once with
/// si_code SYS_SECCOMP (1), and kills the process when SIGSYS is ignored or blocked.
fn trap(name: &str, mode: &str) {
    // SAFETY: (whole block) sigaction/sigprocmask with initialised structures; the handler
    // only touches atomics.
    unsafe {
        let mut act: libc::sigaction = std::mem::zeroed();
        libc::sigemptyset(&mut act.sa_mask);
        match mode {
            "handler" => {
                act.sa_sigaction = on_sigsys as *const () as usize;
                act.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART;
            }
            "ignore" => act.sa_sigaction = libc::SIG_IGN,
            _ => {
                let mut set: libc::sigset_t = std::mem::zeroed();
                libc::sigemptyset(&mut set);
                libc::sigaddset(&mut set, libc::SIGSYS);
                libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
                act.sa_sigaction = libc::SIG_DFL;
            }
        }
        libc::sigaction(libc::SIGSYS, &act, std::ptr::null_mut());
    }
    let r = syscall_raw(name);
    let outcome = if r < 0 {
        format!("{:?}", Errno::last())
    } else {
        "ok".into()
    };
    println!(
        "trap {name} {mode}: {outcome}; SIGSYS x{} si_code {}",
        SIGSYS_SEEN.load(std::sync::atomic::Ordering::SeqCst),
        SIGSYS_CODE.load(std::sync::atomic::Ordering::SeqCst)
    );
}

/// Calls ever new syscall numbers (none of them a syscall) for `ms` milliseconds: what a
/// supervisor keeps per number must not grow with them.
fn count_numbers(ms: u64) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_millis(ms);
    let mut counts: std::collections::BTreeMap<String, u64> = Default::default();
    let mut n = 0i64;
    while std::time::Instant::now() < deadline {
        // SAFETY: an unknown number takes no pointers; the kernel fails it.
        let r = unsafe { libc::syscall(1000 + n) };
        let key = if r < 0 {
            format!("{:?}", Errno::last())
        } else {
            "ok".into()
        };
        *counts.entry(key).or_default() += 1;
        n += 1;
    }
    let parts: Vec<String> = counts.iter().map(|(k, v)| format!("{k} x{v}")).collect();
    println!("count-numbers x{n}: {}", parts.join(" "));
}

/// Races the parent (a sandbox's init, which must never be traceable by its workload) from the
/// first instruction of main for `ms` milliseconds. On attach, proves control: the parent is
/// stopped, made to run getppid (a syscall of our choosing), and let go.
fn seize_parent(ms: u64) {
    let ppid = nix::unistd::getppid().as_raw();
    let deadline = std::time::Instant::now() + std::time::Duration::from_millis(ms);
    let mut tries = 0u64;
    let mut last = Errno::UnknownErrno;
    while std::time::Instant::now() < deadline {
        tries += 1;
        // SAFETY: PTRACE_SEIZE takes integers only.
        let r = unsafe { libc::ptrace(libc::PTRACE_SEIZE, ppid, 0, 0) };
        if r == 0 {
            let injected = inject_getppid(ppid);
            println!("seize-parent: ok (attempt {tries}; injected getppid: {injected})");
            return;
        }
        last = Errno::last();
    }
    println!("seize-parent: {last:?} ({tries} attempts)");
}

/// Stops the seized `pid`, rewinds it onto a `syscall` instruction it just ran with getppid in
/// rax, and reports what it returned: an injected syscall the parent's own filter (if any)
/// decides on.
fn inject_getppid(pid: i32) -> String {
    // SAFETY: (whole block) ptrace calls on a tracee we seized, with pointers to live locals.
    unsafe {
        if libc::ptrace(libc::PTRACE_INTERRUPT, pid, 0, 0) != 0 {
            return format!("interrupt: {:?}", Errno::last());
        }
        let mut status = 0;
        if libc::waitpid(pid, &mut status, libc::__WALL) != pid {
            return format!("waitpid: {:?}", Errno::last());
        }
        let mut regs: libc::user_regs_struct = std::mem::zeroed();
        if libc::ptrace(libc::PTRACE_GETREGS, pid, 0, &mut regs) != 0 {
            return format!("getregs: {:?}", Errno::last());
        }
        let saved = regs;
        // The init waits in a syscall: rip points just past its 2-byte `syscall` instruction.
        regs.rax = libc::SYS_getppid as u64;
        regs.orig_rax = u64::MAX;
        regs.rip -= 2;
        libc::ptrace(libc::PTRACE_SETREGS, pid, 0, &regs);
        libc::ptrace(libc::PTRACE_SINGLESTEP, pid, 0, 0);
        libc::waitpid(pid, &mut status, libc::__WALL);
        let mut after: libc::user_regs_struct = std::mem::zeroed();
        libc::ptrace(libc::PTRACE_GETREGS, pid, 0, &mut after);
        libc::ptrace(libc::PTRACE_SETREGS, pid, 0, &saved);
        libc::ptrace(libc::PTRACE_DETACH, pid, 0, 0);
        format!("returned {}", after.rax as i64)
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| args.get(i).map(String::as_str).unwrap_or("");
    match arg(0) {
        "syscall" => args[1..].iter().for_each(|n| syscall_check(n)),
        "int80" => args[1..].iter().for_each(|n| int80_check(n)),
        "cap" => args[1..].iter().for_each(|n| cap_check(n)),
        "fds" => fds(),
        "after" => {
            let ms: u64 = arg(1).parse().unwrap_or(0);
            // Always slept (also for 0 ms), so that a profile recorded with 0 allows it.
            std::thread::sleep(std::time::Duration::from_millis(ms.max(1)));
            args[2..].iter().for_each(|n| syscall_check(n));
        }
        "repeat" => repeat(arg(1).parse().unwrap_or(1), arg(2)),
        "seize-parent" => seize_parent(arg(1).parse().unwrap_or(100)),
        "count-numbers" => count_numbers(arg(1).parse().unwrap_or(100)),
        "trap" => trap(arg(1), arg(2)),
        "paced" => paced(
            arg(1).parse().unwrap_or(1),
            arg(2).parse().unwrap_or(0),
            arg(3),
        ),
        "pid-reuse" => pid_reuse(arg(1).parse().unwrap_or(10_000), arg(2)),
        "fd-escape" => {
            let fd: i32 = arg(1).parse().unwrap_or(3);
            let name = c("escaped-through-fd");
            // SAFETY: name is a live CString; fd is just a number the kernel validates.
            let r =
                unsafe { libc::openat(fd, name.as_ptr(), libc::O_CREAT | libc::O_WRONLY, 0o644) };
            report(&format!("fd-escape {fd}"), i64::from(r));
        }
        "tiocsti" => {
            let byte = b'x';
            // SAFETY: TIOCSTI reads one byte from the pointer, which points at a live local.
            let r = unsafe { libc::ioctl(0, libc::TIOCSTI, &byte as *const u8) };
            report("tiocsti", i64::from(r));
        }
        _ => {
            eprintln!("usage: probe syscall|int80|cap NAME... | fds | fd-escape N | tiocsti");
            std::process::exit(2);
        }
    }
}
