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

/// What an in-kernel recorder keeps of one call for `sample`: two arguments (by index),
/// masked; with `pid_kind`, the first is reduced to its kind of signal target first (0, -1,
/// another group, one process). `sample` on the kept values equals `sample` on the call's
/// (tested below), so the kernel keeps few distinct values and the labels stay defined here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kept {
    pub args: [usize; 2],
    pub masks: [u64; 2],
    pub pid_kind: bool,
}

const LOW: u64 = 0xffff_ffff;

/// The arguments `sample` looks at for `name`, if any.
pub fn kept(name: &str) -> Option<Kept> {
    let one = |arg: usize, mask: u64| Kept {
        args: [arg, arg],
        masks: [mask, mask],
        pid_kind: false,
    };
    Some(match name {
        "socket" => Kept {
            args: [0, 1],
            masks: [LOW, LOW & !SOCK_FLAGS],
            pid_kind: false,
        },
        "clone" => one(0, CLONE_NS_MASK),
        "unshare" | "personality" | "prctl" => one(0, LOW),
        "setns" | "ioctl" => one(1, LOW),
        "mmap" | "mprotect" | "pkey_mprotect" => one(2, PROT_EXEC),
        "kill" | "tgkill" => Kept {
            pid_kind: true,
            ..one(0, LOW)
        },
        _ => return None,
    })
}

/// What the kernel keeps of `a` under `k` (the same reduction, for tests and for rebuilding
/// the arguments `sample` reads from a kept pair).
pub fn keep(k: &Kept, a: &[u64; 6]) -> [u64; 2] {
    let mut v = [a[k.args[0]], a[k.args[1]]];
    if k.pid_kind {
        v[0] = match v[0] as u32 as i32 {
            0 => 0,
            -1 => LOW,
            p if p < -1 => LOW - 1,
            _ => 1,
        };
    }
    [v[0] & k.masks[0], v[1] & k.masks[1]]
}

/// The sample of a call of which only `kept` values are known.
pub fn sample_kept(name: &str, k: &Kept, values: [u64; 2]) -> Option<(&'static str, u64)> {
    let mut a = [0u64; 6];
    // The second index may repeat the first: it then carries the same value.
    a[k.args[1]] = values[1];
    a[k.args[0]] = values[0];
    sample(name, &a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_values_give_the_same_samples() {
        let names = [
            "socket",
            "clone",
            "unshare",
            "setns",
            "personality",
            "prctl",
            "ioctl",
            "mmap",
            "mprotect",
            "pkey_mprotect",
            "kill",
            "tgkill",
        ];
        // Deterministic pseudo-random arguments plus the interesting edges.
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let edges = [
            0,
            1,
            u64::MAX,
            u64::MAX - 1,
            0xffff_ffff,
            0x8000_0000,
            7,
            0x80805,
        ];
        for name in names {
            let k = kept(name).unwrap();
            for round in 0..2000 {
                let mut a = [0u64; 6];
                for (i, v) in a.iter_mut().enumerate() {
                    *v = if round % 3 == 0 {
                        edges[(round / 3 + i) % edges.len()]
                    } else {
                        next()
                    };
                }
                assert_eq!(
                    sample_kept(name, &k, keep(&k, &a)),
                    sample(name, &a),
                    "{name} {a:x?}"
                );
            }
        }
        // Every syscall `sample` knows has a kept form, and no other.
        for nr in 0..1024 {
            if let Some(name) = crate::model::Abi::X86_64.syscall_name(nr) {
                assert_eq!(
                    kept(name).is_some(),
                    sample(name, &[0; 6]).is_some(),
                    "{name}"
                );
            }
        }
    }

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
