//! The agent's socket layer, driven by a fuzz input: a runtime-like client sends the input's
//! message over a real unix socket in chunks, with descriptors of every kind attached (a real
//! seccomp listener, files, pipes, memfds, pidfds; up to 100 at once), and the agent's
//! handshake reads it without blocking and admits or refuses it. Whatever comes, nothing
//! panics, the handshake ends, and no descriptor is left open. Shared by the `agent_request`
//! fuzz target and the corpus replay in `make test` (`tests/fuzz_corpus.rs`).

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::time::Instant;

use syscage::agent::handshake::{Pending, Progress};

/// A seccomp user-notification listener of this thread's own (it routes only `uselib`, which
/// nothing calls), so that admitted handshakes carry a real one.
pub fn own_listener() -> Option<OwnedFd> {
    const USELIB: u32 = 134;
    const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
    let insns = [
        // A foreign ABI: allowed (this filter only exists to create a listener).
        bpf(0x20, 0, 0, 4),                 // ld [arch]
        bpf(0x15, 0, 3, AUDIT_ARCH_X86_64), // jeq x86_64 ? next : allow
        bpf(0x20, 0, 0, 0),                 // ld [nr]
        bpf(0x15, 0, 1, USELIB),            // jeq uselib ? notify : allow
        bpf(0x06, 0, 0, 0x7fc0_0000),       // ret USER_NOTIF
        bpf(0x06, 0, 0, 0x7fff_0000),       // ret ALLOW
    ];
    let prog = libc::sock_fprog {
        len: insns.len() as u16,
        filter: insns.as_ptr() as *mut libc::sock_filter,
    };
    const SECCOMP_SET_MODE_FILTER: libc::c_long = 1;
    const NEW_LISTENER: libc::c_long = 1 << 3;
    // SAFETY: prctl takes integers; seccomp reads `prog`, which points at live instructions.
    let fd = unsafe {
        libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
        libc::syscall(
            libc::SYS_seccomp,
            SECCOMP_SET_MODE_FILTER,
            NEW_LISTENER,
            &prog as *const libc::sock_fprog,
        )
    };
    // SAFETY: a new descriptor the kernel gave us alone.
    (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

fn bpf(code: u16, jt: u8, jf: u8, k: u32) -> libc::sock_filter {
    libc::sock_filter { code, jt, jf, k }
}

pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
}

/// One descriptor of the kind `k` chooses.
fn descriptor(k: u8, listener: Option<&OwnedFd>) -> Option<OwnedFd> {
    match k % 5 {
        0 => listener.and_then(|l| l.try_clone().ok()),
        1 => std::fs::File::open("/dev/null").ok().map(OwnedFd::from),
        2 => {
            let (r, _w) = std::io::pipe().ok()?;
            Some(OwnedFd::from(r))
        }
        3 => {
            // SAFETY: a NUL-terminated name; the descriptor is new and ours.
            let fd = unsafe { libc::memfd_create(c"fuzz".as_ptr(), libc::MFD_CLOEXEC) };
            // SAFETY: as above.
            (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd) })
        }
        _ => {
            // SAFETY: integers only; the descriptor is new and ours.
            let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, libc::getpid(), 0) };
            // SAFETY: as above.
            (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
        }
    }
}

/// Sends `bytes` with `fds` attached.
fn send(sock: &UnixStream, bytes: &[u8], fds: &[RawFd]) {
    let mut iov = libc::iovec {
        iov_base: bytes.as_ptr() as *mut libc::c_void,
        iov_len: bytes.len(),
    };
    let mut control = vec![0u64; 512];
    // SAFETY: msghdr is plain data; the CMSG macros write inside `control`, sized for 253 fds.
    unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        if !fds.is_empty() {
            let len = std::mem::size_of_val(fds) as u32;
            msg.msg_control = control.as_mut_ptr().cast();
            msg.msg_controllen = libc::CMSG_SPACE(len) as usize;
            let c = libc::CMSG_FIRSTHDR(&msg);
            (*c).cmsg_level = libc::SOL_SOCKET;
            (*c).cmsg_type = libc::SCM_RIGHTS;
            (*c).cmsg_len = libc::CMSG_LEN(len) as usize;
            std::ptr::copy_nonoverlapping(fds.as_ptr(), libc::CMSG_DATA(c).cast(), fds.len());
        }
        libc::sendmsg(sock.as_raw_fd(), &msg, libc::MSG_DONTWAIT);
    }
}

/// `data`: byte 0, the chunk size (1 to 64; 0: the whole message at once); byte 1, how many
/// descriptors (values past 8 mean 100); then one byte per descriptor choosing its kind; the
/// rest is the message.
/// Returns how the handshake ended (admitted, or refused and why).
pub fn drive(data: &[u8], listener: Option<&OwnedFd>) -> Result<(), String> {
    let (Some(&chunk), Some(&count)) = (data.first(), data.get(1)) else {
        return Err("no input".into());
    };
    let n = if count % 16 > 8 {
        100
    } else {
        usize::from(count % 16)
    };
    let kinds: Vec<u8> = (0..n)
        .map(|i| data.get(2 + i).copied().unwrap_or(1))
        .collect();
    let message = data.get(2 + n.min(data.len())..).unwrap_or_default();
    let before = open_fds();
    let outcome = {
        let Ok((client, server)) = UnixStream::pair() else {
            return Err("socketpair".into());
        };
        let fds: Vec<OwnedFd> = kinds
            .iter()
            .filter_map(|k| descriptor(*k, listener))
            .collect();
        let raw: Vec<RawFd> = fds.iter().map(|f| f.as_raw_fd()).collect();
        let size = match usize::from(chunk % 65) {
            0 => message.len().max(1),
            c => c,
        };
        let mut pending = Pending::new(server, Instant::now()).expect("nonblocking socket");
        let mut chunks = message.chunks(size);
        // The first chunk carries the descriptors (an empty message carries them alone).
        send(&client, chunks.next().unwrap_or(b" "), &raw);
        drop(fds);
        let mut sender = Some((client, chunks));
        let mut result = None;
        for _ in 0..100_000 {
            match pending.read() {
                Progress::More => {}
                Progress::Done(bytes, fds) => {
                    result = Some(syscage::agent::admit(bytes, fds, None).map(|_| ()));
                    break;
                }
                Progress::Failed(e) => {
                    result = Some(Err(e));
                    break;
                }
            }
            // More: the next chunk, or the end of the message.
            match sender.as_mut().and_then(|(_, c)| c.next()) {
                Some(c) => send(&sender.as_ref().expect("sender").0, c, &[]),
                None => sender = None,
            }
        }
        result.expect("the handshake never ended")
    };
    assert_eq!(open_fds(), before, "a descriptor stayed open");
    outcome
}
