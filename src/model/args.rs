//! Which constant arguments of which syscalls are worth recording: the ones that decide what a
//! syscall can do (an address family, namespace flags, an ioctl request, PROT_EXEC). Pointer
//! arguments are never recorded or filtered: what they point to can change after the check.

/// Namespace bits of `clone`'s flags (CLONE_NEWTIME cannot be passed to clone: its low byte is
/// the exit signal). Docker masks the same bits.
pub const CLONE_NS_MASK: u64 = 0x7E02_0000;
/// `socket` type bits that are flags, not the type.
pub const SOCK_FLAGS: u64 = 0x800 | 0x80000;
pub const PROT_EXEC: u64 = 0x4;

/// Labels of recorded argument samples; the value meanings are documented per label.
pub const SOCKET: &str = "domain<<32|type";
pub const CLONE: &str = "namespace flags";
pub const UNSHARE: &str = "flags";
pub const SETNS: &str = "nstype";
pub const PERSONALITY: &str = "persona";
pub const PRCTL: &str = "option";
pub const IOCTL: &str = "request";
pub const PROT: &str = "PROT_EXEC used";
/// kill/tgkill targets by kind: 0 = the caller's own process group (pid 0), 1 = one process,
/// 2 = every process it may signal (pid -1), 3 = another process group (pid < -1).
pub const TARGET: &str = "target kind";

fn target_kind(pid: u64) -> u64 {
    match pid as u32 as i32 {
        0 => 0,
        -1 => 2,
        p if p < -1 => 3,
        _ => 1,
    }
}

/// The sample for one call of `name` (x86_64 argument layout), if it is one worth keeping.
pub fn sample(name: &str, a: &[u64; 6]) -> Option<(&'static str, u64)> {
    Some(match name {
        "socket" => (
            SOCKET,
            (a[0] & 0xffff_ffff) << 32 | (a[1] & !SOCK_FLAGS & 0xffff_ffff),
        ),
        "clone" => (CLONE, a[0] & CLONE_NS_MASK),
        "unshare" => (UNSHARE, a[0] & 0xffff_ffff),
        "setns" => (SETNS, a[1] & 0xffff_ffff),
        "personality" => (PERSONALITY, a[0] & 0xffff_ffff),
        "prctl" => (PRCTL, a[0] & 0xffff_ffff),
        "ioctl" => (IOCTL, a[1] & 0xffff_ffff),
        "mmap" | "mprotect" | "pkey_mprotect" => (PROT, u64::from(a[2] & PROT_EXEC != 0)),
        "kill" | "tgkill" => (TARGET, target_kind(a[0])),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_keep_only_the_deciding_bits() {
        // socket(AF_INET, SOCK_STREAM|SOCK_CLOEXEC, 0)
        assert_eq!(
            sample("socket", &[2, 1 | 0x80000, 0, 0, 0, 0]),
            Some((SOCKET, 2 << 32 | 1))
        );
        // A thread: CLONE_VM|CLONE_FS|... has no namespace bit.
        assert_eq!(
            sample("clone", &[0x3d0f00, 0, 0, 0, 0, 0]),
            Some((CLONE, 0))
        );
        assert_eq!(
            sample("clone", &[0x1000_0011, 0, 0, 0, 0, 0]),
            Some((CLONE, 0x1000_0000))
        );
        assert_eq!(sample("mmap", &[0, 4096, 5, 2, 3, 0]), Some((PROT, 1)));
        assert_eq!(sample("read", &[0; 6]), None);
        assert_eq!(
            sample("kill", &[u64::MAX, 9, 0, 0, 0, 0]),
            Some((TARGET, 2))
        );
        assert_eq!(sample("kill", &[1234, 15, 0, 0, 0, 0]), Some((TARGET, 1)));
    }
}
