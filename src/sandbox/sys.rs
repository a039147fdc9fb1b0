//! Every raw kernel call syscage makes that nix does not wrap. Each `unsafe` block says why it is
//! sound; callers get safe functions returning `io::Result`.

use std::ffi::CStr;
use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

fn check(ret: libc::c_long) -> io::Result<libc::c_long> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// fork(2) with namespace flags: the raw clone syscall with no new stack, so the child continues
/// here on a copy of the parent's stack, as bwrap's `raw_clone` does. Returns `None` in the child.
///
/// The caller must be single-threaded, so no lock (malloc, stdio) is held by a thread that does
/// not exist in the child.
pub fn clone_process(flags: libc::c_int) -> io::Result<Option<libc::pid_t>> {
    let flags = (flags | libc::SIGCHLD) as libc::c_ulong;
    // SAFETY: clone without CLONE_VM and with a null stack behaves like fork: the child gets a
    // private copy of the address space. The caller guarantees it is single-threaded.
    let ret = unsafe { libc::syscall(libc::SYS_clone, flags, 0usize, 0usize, 0usize, 0usize) };
    match check(ret)? {
        0 => Ok(None),
        pid => Ok(Some(pid as libc::pid_t)),
    }
}

/// `_exit(2)`: ends the process without running atexit handlers or flushing stdio buffers that a
/// forked child shares with its parent.
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit never returns and touches no Rust state.
    unsafe { libc::_exit(code) }
}

/// `open_tree(path, OPEN_TREE_CLONE | AT_RECURSIVE)`: a detached copy of the mount tree at `path`,
/// taken before anything is mounted over it.
pub fn clone_mount_tree(path: &CStr) -> io::Result<OwnedFd> {
    open_tree_clone(path, libc::AT_RECURSIVE as libc::c_uint)
}

/// `open_tree(path, OPEN_TREE_CLONE | O_CLOEXEC | extra)`: a detached copy of the mount at `path`.
fn open_tree_clone(path: &CStr, extra: libc::c_uint) -> io::Result<OwnedFd> {
    const OPEN_TREE_CLONE: libc::c_uint = 1;
    let flags = OPEN_TREE_CLONE | libc::O_CLOEXEC as libc::c_uint | extra;
    // SAFETY: path is a valid NUL-terminated string; the returned fd is owned by us alone.
    let fd =
        check(unsafe { libc::syscall(libc::SYS_open_tree, libc::AT_FDCWD, path.as_ptr(), flags) })?;
    // SAFETY: open_tree returned a new file descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// `move_mount(fd, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH)`: attaches a detached tree.
pub fn attach_mount_tree(tree: &OwnedFd, target: &CStr) -> io::Result<()> {
    const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 0x4;
    // SAFETY: both strings are valid NUL-terminated strings and the fd is open.
    check(unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            tree.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_FDCWD,
            target.as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH,
        )
    })?;
    Ok(())
}

/// `move_mount(tree, "", target, "", F_EMPTY_PATH | T_EMPTY_PATH)`: attaches a detached tree
/// onto the very directory or file `target` was opened on (no path lookup, no symlink).
pub fn attach_mount_tree_at(tree: &OwnedFd, target: &OwnedFd) -> io::Result<()> {
    const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 0x4;
    const MOVE_MOUNT_T_EMPTY_PATH: libc::c_uint = 0x40;
    // SAFETY: both descriptors are open and the empty strings are NUL-terminated.
    check(unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            tree.as_raw_fd(),
            c"".as_ptr(),
            target.as_raw_fd(),
            c"".as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH,
        )
    })?;
    Ok(())
}

pub const MOUNT_ATTR_RDONLY: u64 = 0x1;
pub const MOUNT_ATTR_NOSUID: u64 = 0x2;
pub const MOUNT_ATTR_NODEV: u64 = 0x4;

#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

/// `mount_setattr(fd, "", AT_EMPTY_PATH | AT_RECURSIVE, {attr_set})`: sets flags on every mount of
/// a tree at once, which a `MS_REMOUNT` cannot do (it changes only the top mount).
pub fn set_tree_attrs(tree: &OwnedFd, attr_set: u64) -> io::Result<()> {
    let attr = MountAttr {
        attr_set,
        attr_clr: 0,
        propagation: 0,
        userns_fd: 0,
    };
    let flags = (libc::AT_EMPTY_PATH | libc::AT_RECURSIVE) as libc::c_uint;
    // SAFETY: attr is a valid mount_attr of the size passed; the path is an empty C string.
    check(unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            tree.as_raw_fd(),
            c"".as_ptr(),
            flags,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    })?;
    Ok(())
}

/// `seccomp(SECCOMP_SET_MODE_FILTER, flags, prog)` with a compiled BPF program (8-byte
/// instructions). Returns the syscall's value: the listener descriptor with
/// `SECCOMP_FILTER_FLAG_NEW_LISTENER`, 0 otherwise.
pub fn load_seccomp_filter(program: &[u8], flags: libc::c_uint) -> io::Result<libc::c_long> {
    if program.is_empty()
        || !program
            .len()
            .is_multiple_of(std::mem::size_of::<libc::sock_filter>())
    {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    // Copy into properly aligned instructions: the byte buffer has no alignment guarantee.
    let insns: Vec<libc::sock_filter> = program
        .chunks_exact(8)
        .map(|c| libc::sock_filter {
            code: u16::from_ne_bytes([c[0], c[1]]),
            jt: c[2],
            jf: c[3],
            k: u32::from_ne_bytes([c[4], c[5], c[6], c[7]]),
        })
        .collect();
    let prog = libc::sock_fprog {
        len: insns.len() as libc::c_ushort,
        filter: insns.as_ptr() as *mut libc::sock_filter,
    };
    const SECCOMP_SET_MODE_FILTER: libc::c_uint = 1;
    // SAFETY: prog points at insns, which outlives the call; the kernel copies the program.
    check(unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            SECCOMP_SET_MODE_FILTER,
            flags,
            &prog as *const libc::sock_fprog,
        )
    })
}

pub const SECCOMP_FILTER_FLAG_NEW_LISTENER: libc::c_uint = 1 << 3;
/// Once the supervisor has received a notification, only a fatal signal ends the task's wait
/// for the answer (Linux 5.19).
pub const SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV: libc::c_uint = 1 << 5;

/// Closes every descriptor from `first` up: one `close_range` call instead of a /proc walk.
pub fn close_from(first: u32) -> io::Result<()> {
    // SAFETY: close_range only closes descriptors; the caller owns no Rust objects above `first`
    // that it will use afterwards.
    check(unsafe { libc::syscall(libc::SYS_close_range, first, u32::MAX, 0u32) })?;
    Ok(())
}

/// prctl with integer arguments only.
fn prctl_int(option: libc::c_int, arg2: libc::c_ulong) -> io::Result<libc::c_long> {
    // SAFETY: every option this module passes takes integers, no pointers.
    let r = unsafe {
        libc::prctl(
            option,
            arg2,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
        )
    };
    check(libc::c_long::from(r))
}

/// Drops one capability from the bounding set.
pub fn drop_bounding_cap(cap: u32) -> io::Result<()> {
    prctl_int(libc::PR_CAPBSET_DROP, libc::c_ulong::from(cap)).map(drop)
}

/// Whether a capability is in the bounding set (numbers past the kernel's last give EINVAL).
pub fn bounding_has(cap: u32) -> io::Result<bool> {
    Ok(prctl_int(libc::PR_CAPBSET_READ, libc::c_ulong::from(cap))? == 1)
}

/// Clears the ambient capability set.
pub fn clear_ambient_caps() -> io::Result<()> {
    // PR_CAP_AMBIENT takes the sub-operation as its second argument.
    prctl_int(
        libc::PR_CAP_AMBIENT,
        libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
    )
    .map(drop)
}

/// Adds `cap` to the ambient set (it must be permitted and inheritable).
pub fn raise_ambient_cap(cap: u32) -> io::Result<()> {
    // SAFETY: prctl with integer arguments only.
    check(libc::c_long::from(unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_RAISE as libc::c_ulong,
            libc::c_ulong::from(cap),
            0 as libc::c_ulong,
            0 as libc::c_ulong,
        )
    }))?;
    Ok(())
}

/// Sets the effective, permitted and inheritable capability sets (low and high words).
pub fn set_capabilities(effective: u64, permitted: u64, inheritable: u64) -> io::Result<()> {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: libc::c_int,
    }
    #[repr(C)]
    #[derive(Clone, Copy)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;
    let mut header = Header {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let word = |v: u64, i: u32| (v >> (32 * i)) as u32;
    let data = [0, 1].map(|i| Data {
        effective: word(effective, i),
        permitted: word(permitted, i),
        inheritable: word(inheritable, i),
    });
    // SAFETY: header and data are the v3 layout capset expects (two data words), both live
    // across the call.
    check(unsafe { libc::syscall(libc::SYS_capset, &mut header as *mut Header, data.as_ptr()) })?;
    Ok(())
}

/// A signal set from libc, for the signals nix's `Signal` enum cannot name (real-time signals).
pub struct SignalSet(libc::sigset_t);

impl SignalSet {
    pub fn empty() -> Self {
        let mut set = MaybeUninit::<libc::sigset_t>::uninit();
        // SAFETY: sigemptyset initialises the set it is given.
        unsafe { libc::sigemptyset(set.as_mut_ptr()) };
        // SAFETY: initialised just above.
        SignalSet(unsafe { set.assume_init() })
    }

    pub fn add(&mut self, sig: libc::c_int) {
        // SAFETY: the set is initialised; an invalid signal number only makes sigaddset fail.
        unsafe { libc::sigaddset(&mut self.0, sig) };
    }

    pub fn contains(&self, sig: libc::c_int) -> bool {
        // SAFETY: the set is initialised.
        unsafe { libc::sigismember(&self.0, sig) == 1 }
    }

    /// Blocks this set; returns the mask that was in force before.
    pub fn block(&self) -> io::Result<SignalSet> {
        let mut old = SignalSet::empty();
        // SAFETY: both sets are initialised and valid for the call.
        let r = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &self.0, &mut old.0) };
        if r != 0 {
            return Err(io::Error::from_raw_os_error(r));
        }
        Ok(old)
    }

    /// Blocks these signals and returns the old mask with a signalfd that delivers them: the
    /// way every loop of ours waits for signals beside its other descriptors.
    pub fn block_into_fd(&self) -> io::Result<(SignalSet, OwnedFd)> {
        let old = self.block()?;
        Ok((old, signalfd(self)?))
    }

    /// Replaces the signal mask with this set.
    pub fn set_mask(&self) -> io::Result<()> {
        // SAFETY: the set is initialised; the old mask is not requested.
        let r = unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &self.0, std::ptr::null_mut()) };
        if r != 0 {
            return Err(io::Error::from_raw_os_error(r));
        }
        Ok(())
    }

    /// Waits at most `timeout` for one of the (blocked) signals in this set; `None` on timeout.
    pub fn wait_timeout(&self, timeout: std::time::Duration) -> io::Result<Option<libc::c_int>> {
        let ts = libc::timespec {
            tv_sec: timeout.as_secs() as _,
            tv_nsec: timeout.subsec_nanos() as libc::c_long,
        };
        // SAFETY: the set and the timespec are initialised; no siginfo is requested.
        let r = unsafe { libc::sigtimedwait(&self.0, std::ptr::null_mut(), &ts) };
        if r >= 0 {
            return Ok(Some(r));
        }
        let e = io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EAGAIN) | Some(libc::EINTR) => Ok(None),
            _ => Err(e),
        }
    }

    /// Waits for one of the (blocked) signals in this set and returns its number.
    pub fn wait(&self) -> io::Result<libc::c_int> {
        loop {
            // SAFETY: the set is initialised; no siginfo is requested.
            let r = unsafe { libc::sigwaitinfo(&self.0, std::ptr::null_mut()) };
            if r >= 0 {
                return Ok(r);
            }
            let e = io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::EINTR) {
                return Err(e);
            }
        }
    }
}

/// Brings the loopback interface up in a new network namespace (as `--net none` in Docker does).
pub fn loopback_up() -> io::Result<()> {
    // SAFETY: socket takes no pointers; the result is checked and owned below.
    let fd = check(
        unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) }
            as libc::c_long,
    )?;
    // SAFETY: socket returned a new descriptor that nothing else owns.
    let sock = unsafe { OwnedFd::from_raw_fd(fd as RawFd) };
    // SAFETY: ifreq is plain data; all-zero is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(b"lo\0") {
        *dst = *src as libc::c_char;
    }
    let get = libc::SIOCGIFFLAGS as libc::Ioctl;
    // SAFETY: req is a valid ifreq naming "lo"; SIOCGIFFLAGS fills ifru_flags.
    check(unsafe { libc::ioctl(sock.as_raw_fd(), get, &mut req) } as libc::c_long)?;
    // SAFETY: reading and writing the flags member of the union SIOCGIFFLAGS just filled.
    unsafe { req.ifr_ifru.ifru_flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short };
    let set = libc::SIOCSIFFLAGS as libc::Ioctl;
    // SAFETY: req is a valid ifreq with the flags to set.
    check(unsafe { libc::ioctl(sock.as_raw_fd(), set, &req) } as libc::c_long)?;
    Ok(())
}

/// kill(2) with a raw signal number: nix's `Signal` cannot name real-time signals.
pub fn send_signal(pid: libc::pid_t, sig: libc::c_int) -> io::Result<()> {
    // SAFETY: kill takes no pointers.
    check(unsafe { libc::kill(pid, sig) } as libc::c_long)?;
    Ok(())
}

/// `tgkill(tgid, tid, sig)`: a signal for one thread, which must belong to `tgid`.
pub fn tgkill(tgid: libc::pid_t, tid: libc::pid_t, sig: libc::c_int) -> io::Result<()> {
    // SAFETY: takes integers only.
    check(unsafe { libc::syscall(libc::SYS_tgkill, tgid, tid, sig) })?;
    Ok(())
}

/// Starts `child` as a new process that shares our memory until it execs or exits (what
/// posix_spawn does): no page tables are copied, and we are suspended meanwhile. `child` must end
/// in `execve` or `exit_now`, never return into our frames.
pub fn spawn_shared(child: &mut dyn FnMut() -> isize) -> io::Result<libc::pid_t> {
    let mut stack = vec![0u8; 256 * 1024];
    let flags = nix::sched::CloneFlags::CLONE_VM | nix::sched::CloneFlags::CLONE_VFORK;
    // SAFETY: CLONE_VFORK suspends us until the child execs or exits, so the child is the only
    // one touching the shared memory (including the heap and `stack`, which outlives it) while
    // it runs; it never returns into our stack frames.
    let pid =
        unsafe { nix::sched::clone(Box::new(child), &mut stack, flags, Some(libc::SIGCHLD)) }?;
    Ok(pid.as_raw())
}

/// `pidfd_open(pid, 0)`.
pub fn pidfd_open(pid: libc::pid_t) -> io::Result<OwnedFd> {
    // SAFETY: takes integers only; the returned descriptor is owned by us alone.
    let fd = check(unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0u32) })?;
    // SAFETY: a new descriptor nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// `pidfd_open(tid, PIDFD_THREAD)`: a pidfd for one thread (Linux 6.9).
pub fn pidfd_open_thread(tid: libc::pid_t) -> io::Result<OwnedFd> {
    const PIDFD_THREAD: u32 = libc::O_EXCL as u32;
    // SAFETY: takes integers only; the returned descriptor is owned by us alone.
    let fd = check(unsafe { libc::syscall(libc::SYS_pidfd_open, tid, PIDFD_THREAD) })?;
    // SAFETY: a new descriptor nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// `bpf(BPF_MAP_LOOKUP_ELEM)`: the value under `key` in map `map`, copied into `value` (which
/// must be the map's value size; a task storage map's key is a pidfd).
pub fn bpf_map_lookup(
    map: std::os::fd::BorrowedFd<'_>,
    key: &[u8],
    value: &mut [u8],
) -> io::Result<()> {
    const BPF_MAP_LOOKUP_ELEM: libc::c_long = 1;
    bpf_map_elem(BPF_MAP_LOOKUP_ELEM, map, key, value.as_mut_ptr() as u64, 0)
}

/// `bpf(BPF_MAP_UPDATE_ELEM, BPF_ANY)`: stores `value` under `key`; `value` must be the map's
/// value size.
pub fn bpf_map_update(
    map: std::os::fd::BorrowedFd<'_>,
    key: &[u8],
    value: &[u8],
) -> io::Result<()> {
    const BPF_MAP_UPDATE_ELEM: libc::c_long = 2;
    bpf_map_elem(BPF_MAP_UPDATE_ELEM, map, key, value.as_ptr() as u64, 0)
}

/// One map element command on `key`, with the value at address `value` (sized by the caller).
fn bpf_map_elem(
    cmd: libc::c_long,
    map: std::os::fd::BorrowedFd<'_>,
    key: &[u8],
    value: u64,
    flags: u64,
) -> io::Result<()> {
    // The first fields of union bpf_attr for the map element commands.
    #[repr(C)]
    struct MapElem {
        map_fd: u32,
        pad: u32,
        key: u64,
        value: u64,
        flags: u64,
    }
    let attr = MapElem {
        map_fd: map.as_raw_fd() as u32,
        pad: 0,
        key: key.as_ptr() as u64,
        value,
        flags,
    };
    // SAFETY: `attr` points at `key` and at the value, which the two callers borrow for the
    // call and size as the map's key and value; the kernel reads or writes only those sizes.
    check(unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            &attr as *const MapElem,
            std::mem::size_of::<MapElem>() as libc::c_uint,
        )
    })?;
    Ok(())
}

/// One syscall as the kernel reports it to a supervisor: the task, the audit arch, the number and
/// the raw arguments.
#[derive(Debug, Clone, Copy, Default)]
pub struct SyscallEvent {
    pub id: u64,
    pub pid: u32,
    pub arch: u32,
    pub nr: i64,
    pub args: [u64; 6],
}

#[repr(C)]
#[derive(Default)]
struct SeccompData {
    nr: libc::c_int,
    arch: u32,
    instruction_pointer: u64,
    args: [u64; 6],
}

#[repr(C)]
#[derive(Default)]
struct SeccompNotif {
    id: u64,
    pid: u32,
    flags: u32,
    data: SeccompData,
}

#[repr(C)]
struct SeccompNotifResp {
    id: u64,
    val: i64,
    error: i32,
    flags: u32,
}

// _IOWR('!', 0, struct seccomp_notif) and _IOWR('!', 1, struct seccomp_notif_resp).
const SECCOMP_IOCTL_NOTIF_RECV: libc::Ioctl = 0xc050_2100u32 as libc::Ioctl;
const SECCOMP_IOCTL_NOTIF_SEND: libc::Ioctl = 0xc018_2101u32 as libc::Ioctl;
const SECCOMP_USER_NOTIF_FLAG_CONTINUE: u32 = 1;

/// Receives one user notification (the struct must be zeroed, as the kernel requires).
pub fn notif_recv(listener: &OwnedFd) -> io::Result<SyscallEvent> {
    let mut n = SeccompNotif::default();
    // SAFETY: n is a zeroed seccomp_notif of the size encoded in the ioctl number.
    let r = unsafe { libc::ioctl(listener.as_raw_fd(), SECCOMP_IOCTL_NOTIF_RECV, &mut n) };
    check(libc::c_long::from(r))?;
    Ok(SyscallEvent {
        id: n.id,
        pid: n.pid,
        arch: n.data.arch,
        nr: i64::from(n.data.nr),
        args: n.data.args,
    })
}

/// Lets a notified syscall go on as if no filter had stopped it.
pub fn notif_continue(listener: &OwnedFd, id: u64) -> io::Result<()> {
    let resp = SeccompNotifResp {
        id,
        val: 0,
        error: 0,
        flags: SECCOMP_USER_NOTIF_FLAG_CONTINUE,
    };
    // SAFETY: resp is a seccomp_notif_resp of the size encoded in the ioctl number.
    let r = unsafe { libc::ioctl(listener.as_raw_fd(), SECCOMP_IOCTL_NOTIF_SEND, &resp) };
    check(libc::c_long::from(r))?;
    Ok(())
}

/// Takes ownership of a descriptor received with SCM_RIGHTS.
pub fn adopt_received_fd(fd: RawFd) -> OwnedFd {
    // SAFETY: the kernel installed this descriptor in our table for us alone (SCM_RIGHTS), and
    // nothing else owns it.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// Fails a notified syscall with `errno` (its return value is `-errno`).
pub fn notif_error(listener: &OwnedFd, id: u64, errno: i32) -> io::Result<()> {
    let resp = SeccompNotifResp {
        id,
        val: 0,
        error: -errno,
        flags: 0,
    };
    // SAFETY: resp is a seccomp_notif_resp of the size encoded in the ioctl number.
    let r = unsafe { libc::ioctl(listener.as_raw_fd(), SECCOMP_IOCTL_NOTIF_SEND, &resp) };
    check(libc::c_long::from(r))?;
    Ok(())
}

#[repr(C)]
struct PtraceSyscallInfo {
    op: u8,
    pad: [u8; 3],
    arch: u32,
    instruction_pointer: u64,
    stack_pointer: u64,
    // The seccomp member of the union: nr, args, ret_data (and padding to its size).
    nr: u64,
    args: [u64; 6],
    ret_data: u32,
    pad2: u32,
}

const PTRACE_GET_SYSCALL_INFO: libc::c_uint = 0x420e;
const PTRACE_SYSCALL_INFO_ENTRY: u8 = 1;
const PTRACE_SYSCALL_INFO_SECCOMP: u8 = 3;

/// `PTRACE_GET_SYSCALL_INFO` of a stopped tracee, which must be at a stop of kind `op` (entry
/// and seccomp stops carry the syscall number and arguments at the same offsets).
fn ptrace_syscall_info(pid: libc::pid_t, op: u8) -> io::Result<SyscallEvent> {
    let mut info = PtraceSyscallInfo {
        op: 0,
        pad: [0; 3],
        arch: 0,
        instruction_pointer: 0,
        stack_pointer: 0,
        nr: 0,
        args: [0; 6],
        ret_data: 0,
        pad2: 0,
    };
    // SAFETY: the kernel writes at most the size we pass into info, which is that large.
    check(unsafe {
        libc::ptrace(
            PTRACE_GET_SYSCALL_INFO as _,
            pid,
            std::mem::size_of::<PtraceSyscallInfo>(),
            &mut info as *mut PtraceSyscallInfo,
        )
    })?;
    if info.op != op {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "not the expected kind of syscall stop",
        ));
    }
    Ok(SyscallEvent {
        id: 0,
        pid: pid as u32,
        arch: info.arch,
        nr: info.nr as i64,
        args: info.args,
    })
}

/// The syscall of a tracee at a seccomp stop (SECCOMP_RET_TRACE).
pub fn ptrace_seccomp_info(pid: libc::pid_t) -> io::Result<SyscallEvent> {
    ptrace_syscall_info(pid, PTRACE_SYSCALL_INFO_SECCOMP)
}

/// The syscall of a tracee at a syscall-entry stop (PTRACE_SYSCALL).
pub fn ptrace_syscall_entry(pid: libc::pid_t) -> io::Result<SyscallEvent> {
    ptrace_syscall_info(pid, PTRACE_SYSCALL_INFO_ENTRY)
}

/// Numeric field `n` of /proc/PID/stat counted from the state (0; field 3 in proc(5)): after
/// the command's closing parenthesis, the command itself may hold spaces and parentheses.
pub fn proc_stat_field(pid: u32, n: usize) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(')')?
        .1
        .split_whitespace()
        .nth(n)?
        .parse()
        .ok()
}

/// A signalfd for a (blocked) signal set.
pub fn signalfd(set: &SignalSet) -> io::Result<OwnedFd> {
    // SAFETY: the set is initialised; the returned descriptor is owned by us alone.
    let fd = check(unsafe { libc::signalfd(-1, &set.0, libc::SFD_CLOEXEC) } as libc::c_long)?;
    // SAFETY: a new descriptor nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// Reads one signal number from a signalfd.
pub fn signalfd_read(fd: &OwnedFd) -> io::Result<libc::c_int> {
    // SAFETY: signalfd_siginfo is plain data; all-zero is valid.
    let mut info: libc::signalfd_siginfo = unsafe { std::mem::zeroed() };
    let size = std::mem::size_of::<libc::signalfd_siginfo>();
    // SAFETY: info is writable for `size` bytes.
    let n = check(unsafe {
        libc::read(
            fd.as_raw_fd(),
            (&mut info as *mut libc::signalfd_siginfo).cast(),
            size,
        )
    } as libc::c_long)?;
    if n as usize != size {
        return Err(io::Error::from_raw_os_error(libc::EIO));
    }
    Ok(info.ssi_signo as libc::c_int)
}

/// Whether the process behind a pidfd has exited (a pidfd polls readable then).
pub fn pidfd_exited(pidfd: &OwnedFd) -> bool {
    let mut p = libc::pollfd {
        fd: pidfd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd, zero timeout.
    let r = unsafe { libc::poll(&mut p, 1, 0) };
    r > 0 && p.revents & libc::POLLIN != 0
}

/// The pid (in our namespace) of the process behind a pidfd, from /proc/self/fdinfo.
pub fn pidfd_pid(pidfd: &OwnedFd) -> io::Result<libc::pid_t> {
    let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{}", pidfd.as_raw_fd()))?;
    info.lines()
        .find_map(|l| l.strip_prefix("Pid:"))
        .and_then(|v| v.trim().parse().ok())
        .filter(|p: &libc::pid_t| *p > 0)
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no live pid behind the pidfd"))
}

/// `PTRACE_LISTEN`: leaves a tracee in group-stop while still reporting to us (nix lacks it).
pub fn ptrace_listen(pid: libc::pid_t) -> io::Result<()> {
    const PTRACE_LISTEN: libc::c_uint = 0x4208;
    // SAFETY: takes a pid and null addr/data.
    check(unsafe { libc::ptrace(PTRACE_LISTEN as _, pid, 0usize, 0usize) })?;
    Ok(())
}

/// `SECCOMP_IOCTL_NOTIF_SET_FLAGS(SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP)` (Linux 6.6+): the kernel
/// switches directly between the notifying task and the supervisor instead of waking it on
/// another CPU, which on VMs costs tens of microseconds per syscall.
pub fn notif_sync_wakeup(listener: &OwnedFd) -> io::Result<()> {
    const SECCOMP_IOCTL_NOTIF_SET_FLAGS: libc::Ioctl = 0x4008_2104;
    const SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP: u64 = 1;
    // SAFETY: the ioctl takes the flags by value.
    let r = unsafe {
        libc::ioctl(
            listener.as_raw_fd(),
            SECCOMP_IOCTL_NOTIF_SET_FLAGS,
            SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP,
        )
    };
    check(libc::c_long::from(r))?;
    Ok(())
}

/// The Landlock ABI version the kernel offers (0 when Landlock is unavailable).
pub fn landlock_abi() -> i32 {
    const LANDLOCK_CREATE_RULESET_VERSION: u32 = 1;
    // SAFETY: with a null attribute pointer and size 0, this flag only queries the version.
    let r = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<u8>(),
            0usize,
            LANDLOCK_CREATE_RULESET_VERSION,
        )
    };
    i32::try_from(r).unwrap_or(0).max(0)
}

/// Points stdin, stdout and stderr at /dev/null (a detached daemon must not hold its parent's
/// pipes open).
pub fn stdio_to_devnull() -> io::Result<()> {
    let null = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")?;
    for fd in 0..3 {
        // SAFETY: dup2 onto the standard descriptors, which this process owns; `null` stays
        // open across the calls.
        check(libc::c_long::from(unsafe {
            libc::dup2(null.as_raw_fd(), fd)
        }))?;
    }
    Ok(())
}

/// Closes every descriptor above 2 except those in `keep`.
pub fn close_all_except(keep: &[RawFd]) -> io::Result<()> {
    let mut keep: Vec<u32> = keep
        .iter()
        .map(|&fd| u32::try_from(fd).map_err(|_| io::Error::from_raw_os_error(libc::EBADF)))
        .collect::<io::Result<_>>()?;
    keep.sort_unstable();
    let mut first = 3u32;
    for k in keep {
        if k >= first {
            if k > first {
                // SAFETY: close_range only closes descriptors; none in the range is used
                // afterwards.
                check(unsafe { libc::syscall(libc::SYS_close_range, first, k - 1, 0u32) })?;
            }
            first = k + 1;
        }
    }
    close_from(first)
}

/// `openat2(dir, path, {flags, mode, resolve})`: opens `path` relative to `dir` with the
/// kernel enforcing `resolve` (e.g. `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS`) on every component,
/// which no sequence of path checks followed by `open` can do without a race.
pub fn openat2(
    dir: &impl AsRawFd,
    path: &CStr,
    flags: libc::c_int,
    mode: libc::mode_t,
    resolve: u64,
) -> io::Result<OwnedFd> {
    // SAFETY: open_how is plain data; all-zero is valid and the fields are set below.
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = (flags | libc::O_CLOEXEC) as u64;
    how.mode = u64::from(mode);
    how.resolve = resolve;
    // SAFETY: path is NUL-terminated, `how` is a valid open_how of the size passed; the result
    // is checked and owned below.
    let fd = check(unsafe {
        libc::syscall(
            libc::SYS_openat2,
            dir.as_raw_fd(),
            path.as_ptr(),
            &how as *const libc::open_how,
            std::mem::size_of::<libc::open_how>(),
        )
    })?;
    // SAFETY: openat2 returned a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// A resource number as getrlimit takes it (glibc has a type of its own; musl an int).
#[cfg(target_env = "gnu")]
pub type RlimitResource = libc::__rlimit_resource_t;
#[cfg(not(target_env = "gnu"))]
pub type RlimitResource = libc::c_int;

/// `getrlimit(resource)`: (soft, hard), `u64::MAX` for RLIM_INFINITY.
pub fn get_rlimit(resource: RlimitResource) -> io::Result<(u64, u64)> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: lim is a valid, writable rlimit.
    check(libc::c_long::from(unsafe {
        libc::getrlimit(resource, &mut lim)
    }))?;
    Ok((lim.rlim_cur, lim.rlim_max))
}

/// `setrlimit(resource, {soft, hard})`; `u64::MAX` is RLIM_INFINITY.
pub fn set_rlimit(resource: RlimitResource, soft: u64, hard: u64) -> io::Result<()> {
    let lim = libc::rlimit {
        rlim_cur: soft,
        rlim_max: hard,
    };
    // SAFETY: lim is a valid rlimit for the call.
    check(libc::c_long::from(unsafe {
        libc::setrlimit(resource, &lim)
    }))?;
    Ok(())
}

static STOP_REQUESTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

extern "C" fn on_stop_signal(_: libc::c_int) {
    STOP_REQUESTED.store(true, std::sync::atomic::Ordering::SeqCst);
    // A signal that lands just before a blocking call does not interrupt it: SIGALRM a second
    // later does, so a stop request is seen within a second whatever the process is waiting in.
    // SAFETY: alarm is async-signal-safe and takes no pointers.
    unsafe { libc::alarm(1) };
}

extern "C" fn on_alarm(_: libc::c_int) {
    if STOP_REQUESTED.load(std::sync::atomic::Ordering::SeqCst) {
        // SAFETY: as above; keeps interrupting blocking calls until the stop is handled.
        unsafe { libc::alarm(1) };
    }
}

/// Makes SIGTERM, SIGINT and SIGHUP set a flag (read with `stop_requested`) and interrupt
/// whatever blocking call the process is in (no SA_RESTART), instead of killing it. They are also
/// unblocked: a runtime may start hooks with signals blocked, which made them unstoppable.
pub fn catch_stop_signals() -> io::Result<()> {
    for (sig, handler) in [
        (libc::SIGTERM, on_stop_signal as extern "C" fn(libc::c_int)),
        (libc::SIGINT, on_stop_signal),
        (libc::SIGHUP, on_stop_signal),
        (libc::SIGALRM, on_alarm),
    ] {
        // SAFETY: sigaction is plain data; all-zero is a valid starting point.
        let mut act: libc::sigaction = unsafe { std::mem::zeroed() };
        act.sa_sigaction = handler as usize;
        act.sa_flags = 0;
        // SAFETY: act is initialised; the handlers only touch an atomic and call alarm.
        check(libc::c_long::from(unsafe {
            libc::sigemptyset(&mut act.sa_mask);
            libc::sigaction(sig, &act, std::ptr::null_mut())
        }))?;
        let mut set = SignalSet::empty();
        set.add(sig);
        // SAFETY: the set is initialised; the old mask is not requested.
        let r = unsafe { libc::pthread_sigmask(libc::SIG_UNBLOCK, &set.0, std::ptr::null_mut()) };
        if r != 0 {
            return Err(io::Error::from_raw_os_error(r));
        }
    }
    Ok(())
}

/// Whether SIGTERM, SIGINT or SIGHUP arrived since `catch_stop_signals`.
pub fn stop_requested() -> bool {
    STOP_REQUESTED.load(std::sync::atomic::Ordering::SeqCst)
}

/// What one `recv_with_fds` got: bytes, every descriptor the kernel installed for us (all of
/// them owned, so none leaks whatever happens next), and whether the kernel had to drop some
/// (more than fit, or a truncated control message).
pub struct Received {
    pub bytes: usize,
    pub fds: Vec<OwnedFd>,
    pub truncated: bool,
}

/// One non-blocking `recvmsg` on a stream socket. Every SCM_RIGHTS descriptor in the control
/// data is adopted, also when the kernel flags truncation: nix's parser refuses a truncated
/// buffer, which left the descriptors already installed open for good. The control buffer holds
/// the kernel's SCM_MAX_FD (253) descriptors (and credentials), so a message is never truncated for its fds.
pub fn recv_with_fds(sock: RawFd, buf: &mut [u8]) -> io::Result<Received> {
    // Room for SCM_MAX_FD (253) descriptors plus one SCM_CREDENTIALS message, u64-aligned.
    const SPACE: usize = 2048;
    let mut control = [0u64; SPACE / 8];
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: msghdr is plain data; all-zero is a valid starting point.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = SPACE as _;
    // SAFETY: msg points at iov (over `buf`) and `control`, both live and writable for the
    // lengths given; the kernel writes at most those.
    let n = unsafe { libc::recvmsg(sock, &mut msg, libc::MSG_DONTWAIT | libc::MSG_CMSG_CLOEXEC) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut fds = Vec::new();
    // SAFETY: the CMSG_* macros walk the control buffer the kernel filled, bounded by
    // msg_controllen (which the kernel set to what it wrote); every SCM_RIGHTS payload is an
    // array of descriptors it installed for us, read unaligned.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(&msg);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_RIGHTS {
                let data = libc::CMSG_DATA(c);
                let len = (*c).cmsg_len as usize - (data as usize - c as usize);
                for i in 0..len / std::mem::size_of::<RawFd>() {
                    let fd = std::ptr::read_unaligned(data.cast::<RawFd>().add(i));
                    fds.push(OwnedFd::from_raw_fd(fd));
                }
            }
            c = libc::CMSG_NXTHDR(&msg, c);
        }
    }
    Ok(Received {
        bytes: n as usize,
        fds,
        truncated: msg.msg_flags & libc::MSG_CTRUNC != 0,
    })
}

/// What an anonymous-inode descriptor is, as /proc shows its link (`anon_inode:seccomp notify`,
/// `anon_inode:[pidfd]`); `None` for anything else (files, sockets, devices).
pub fn anon_inode_kind(fd: &OwnedFd) -> Option<String> {
    let link = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())).ok()?;
    link.to_str()?
        .strip_prefix("anon_inode:")
        .map(str::to_string)
}

/// Whether `fd` is a seccomp user-notification listener.
pub fn is_seccomp_listener(fd: &OwnedFd) -> bool {
    anon_inode_kind(fd).as_deref() == Some("seccomp notify")
}

/// Whether `fd` is a pidfd.
pub fn is_pidfd(fd: &OwnedFd) -> bool {
    anon_inode_kind(fd).as_deref() == Some("[pidfd]")
}

/// `mkdirat(dir, name, 0755)`: one directory, relative to an (O_PATH) directory descriptor.
pub fn mkdir_at(dir: &OwnedFd, name: &CStr) -> io::Result<()> {
    // SAFETY: name is NUL-terminated and dir is open.
    check(libc::c_long::from(unsafe {
        libc::mkdirat(dir.as_raw_fd(), name.as_ptr(), 0o755)
    }))?;
    Ok(())
}

/// Creates an empty file `name` in `dir` (a mount point for a file bind): never follows a
/// symlink, never truncates.
pub fn create_file_at(dir: &OwnedFd, name: &CStr) -> io::Result<()> {
    // SAFETY: name is NUL-terminated and dir is open; the new descriptor is closed at once.
    let fd = check(libc::c_long::from(unsafe {
        libc::openat(
            dir.as_raw_fd(),
            name.as_ptr(),
            libc::O_CREAT | libc::O_EXCL | libc::O_WRONLY | libc::O_NOFOLLOW | libc::O_CLOEXEC,
            0o644,
        )
    }))?;
    // SAFETY: a descriptor we just opened and own alone.
    drop(unsafe { OwnedFd::from_raw_fd(fd as RawFd) });
    Ok(())
}

/// Ends an RCU grace period now: a detached clone of the root mount, dropped at once, makes the
/// kernel dissolve it behind an expedited grace period (~30 µs here). Tracepoint attachment
/// after a detach less than a grace period ago otherwise waits for a normal one
/// (`tracepoint_add_func`'s 1→0→1 sync: ~9 ms on this VM), which every back-to-back recording
/// paid. Needs CAP_SYS_ADMIN; does nothing visible (the clone is never attached anywhere).
pub fn expedite_rcu_grace_period() -> io::Result<()> {
    // The root mount alone (not recursive): dropping it is the point.
    drop(open_tree_clone(c"/", 0)?);
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn expediting_a_grace_period_leaves_no_mount_behind() {
        let before = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        let done = super::expedite_rcu_grace_period();
        // open_tree(OPEN_TREE_CLONE) needs CAP_SYS_ADMIN: as root (eBPF's user) it must work.
        assert_eq!(done.is_ok(), nix::unistd::geteuid().is_root(), "{done:?}");
        assert_eq!(
            before,
            std::fs::read_to_string("/proc/self/mountinfo").unwrap()
        );
    }
}
