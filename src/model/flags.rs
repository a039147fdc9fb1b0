//! Argument values as strace shows them (`CLONE_VM|CLONE_FS|SIGCHLD`, `AF_INET`,
//! `O_WRONLY|O_CREAT`), for monitor events, beside the raw values. Pure; x86_64 layouts.

/// (bit, name) tables. Values are the kernel's (include/uapi), the same on every Linux ABI
/// syscage serves unless noted.
const CLONE: &[(u64, &str)] = &[
    (0x100, "CLONE_VM"),
    (0x200, "CLONE_FS"),
    (0x400, "CLONE_FILES"),
    (0x800, "CLONE_SIGHAND"),
    (0x1000, "CLONE_PIDFD"),
    (0x2000, "CLONE_PTRACE"),
    (0x4000, "CLONE_VFORK"),
    (0x8000, "CLONE_PARENT"),
    (0x10000, "CLONE_THREAD"),
    (0x20000, "CLONE_NEWNS"),
    (0x40000, "CLONE_SYSVSEM"),
    (0x80000, "CLONE_SETTLS"),
    (0x100000, "CLONE_PARENT_SETTID"),
    (0x200000, "CLONE_CHILD_CLEARTID"),
    (0x400000, "CLONE_DETACHED"),
    (0x800000, "CLONE_UNTRACED"),
    (0x1000000, "CLONE_CHILD_SETTID"),
    (0x2000000, "CLONE_NEWCGROUP"),
    (0x4000000, "CLONE_NEWUTS"),
    (0x8000000, "CLONE_NEWIPC"),
    (0x10000000, "CLONE_NEWUSER"),
    (0x20000000, "CLONE_NEWPID"),
    (0x40000000, "CLONE_NEWNET"),
    (0x80000000, "CLONE_IO"),
];

const OPEN: &[(u64, &str)] = &[
    (0o100, "O_CREAT"),
    (0o200, "O_EXCL"),
    (0o400, "O_NOCTTY"),
    (0o1000, "O_TRUNC"),
    (0o2000, "O_APPEND"),
    (0o4000, "O_NONBLOCK"),
    (0o10000, "O_DSYNC"),
    (0o20000, "O_ASYNC"),
    (0o40000, "O_DIRECT"),
    (0o200000, "O_DIRECTORY"),
    (0o400000, "O_NOFOLLOW"),
    (0o1000000, "O_NOATIME"),
    (0o2000000, "O_CLOEXEC"),
    (0o10000000, "O_PATH"),
    (0o20000000, "O_TMPFILE_DIR"),
];

const PROT: &[(u64, &str)] = &[(1, "PROT_READ"), (2, "PROT_WRITE"), (4, "PROT_EXEC")];

const SOCK_TYPE_FLAGS: &[(u64, &str)] = &[(0o4000, "SOCK_NONBLOCK"), (0o2000000, "SOCK_CLOEXEC")];

fn family(n: u64) -> Option<&'static str> {
    Some(match n {
        0 => "AF_UNSPEC",
        1 => "AF_UNIX",
        2 => "AF_INET",
        10 => "AF_INET6",
        16 => "AF_NETLINK",
        17 => "AF_PACKET",
        38 => "AF_ALG",
        40 => "AF_VSOCK",
        44 => "AF_XDP",
        _ => return None,
    })
}

fn sock_type(n: u64) -> Option<&'static str> {
    Some(match n {
        1 => "SOCK_STREAM",
        2 => "SOCK_DGRAM",
        3 => "SOCK_RAW",
        4 => "SOCK_RDM",
        5 => "SOCK_SEQPACKET",
        10 => "SOCK_PACKET",
        _ => return None,
    })
}

fn signal(n: u64) -> Option<String> {
    let name = match n {
        0 => return None,
        1 => "SIGHUP",
        2 => "SIGINT",
        9 => "SIGKILL",
        15 => "SIGTERM",
        17 => "SIGCHLD",
        n => return Some(format!("{n}")),
    };
    Some(name.to_string())
}

/// `A|B|0x40` for the named bits of `v`, the rest in hex; `0` for none.
fn bits(v: u64, table: &[(u64, &str)]) -> String {
    let mut left = v;
    let mut parts: Vec<String> = Vec::new();
    for (bit, name) in table {
        if v & bit != 0 {
            parts.push((*name).to_string());
            left &= !bit;
        }
    }
    if left != 0 {
        parts.push(format!("{left:#x}"));
    }
    if parts.is_empty() {
        "0".into()
    } else {
        parts.join("|")
    }
}

fn open_flags(v: u64) -> String {
    let access = match v & 3 {
        0 => "O_RDONLY",
        1 => "O_WRONLY",
        2 => "O_RDWR",
        _ => "O_ACCMODE",
    };
    match bits(v & !3, OPEN).as_str() {
        "0" => access.to_string(),
        rest => format!("{access}|{rest}"),
    }
}

/// The decoded arguments of one call of `syscall`, by argument index; empty when syscage has no
/// decoder for it. Only values (flags, families): pointers are never dereferenced here.
pub fn decode(syscall: &str, a: &[u64; 6]) -> Vec<(usize, String)> {
    match syscall {
        "clone" => {
            // The low byte is the exit signal.
            let flags = bits(a[0] & !0xff, CLONE);
            let sig = signal(a[0] & 0xff);
            vec![(
                0,
                match (flags.as_str(), sig) {
                    ("0", Some(s)) => s,
                    (f, Some(s)) => format!("{f}|{s}"),
                    (f, None) => f.to_string(),
                },
            )]
        }
        "unshare" => vec![(0, bits(a[0], CLONE))],
        "setns" => vec![(1, bits(a[1], CLONE))],
        "socket" | "socketpair" => {
            let mut out = Vec::new();
            if let Some(f) = family(a[0]) {
                out.push((0, f.to_string()));
            }
            let t = a[1] & 0xf;
            if let Some(name) = sock_type(t) {
                out.push((
                    1,
                    match bits(a[1] & !0xf, SOCK_TYPE_FLAGS).as_str() {
                        "0" => name.to_string(),
                        rest => format!("{name}|{rest}"),
                    },
                ));
            }
            out
        }
        "open" => vec![(1, open_flags(a[1]))],
        "openat" => vec![(2, open_flags(a[2]))],
        "mmap" | "mprotect" | "pkey_mprotect" => vec![(2, bits(a[2], PROT))],
        "kill" | "tkill" => signal(a[1]).map(|s| vec![(1, s)]).unwrap_or_default(),
        "tgkill" => signal(a[2]).map(|s| vec![(2, s)]).unwrap_or_default(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn as_strace_shows_them() {
        // glibc's fork: CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD.
        assert_eq!(
            decode("clone", &[0x1200011, 0, 0, 0, 0, 0]),
            [(
                0,
                "CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD".to_string()
            )]
        );
        assert_eq!(
            decode("unshare", &[0x10000000, 0, 0, 0, 0, 0]),
            [(0, "CLONE_NEWUSER".to_string())]
        );
        assert_eq!(
            decode("socket", &[2, 1 | 0o2000000, 0, 0, 0, 0]),
            [
                (0, "AF_INET".to_string()),
                (1, "SOCK_STREAM|SOCK_CLOEXEC".to_string())
            ]
        );
        assert_eq!(
            decode("openat", &[0, 0, 0o1 | 0o100 | 0o2000000, 0, 0, 0]),
            [(2, "O_WRONLY|O_CREAT|O_CLOEXEC".to_string())]
        );
        assert_eq!(
            decode("mmap", &[0, 0, 5, 0, 0, 0]),
            [(2, "PROT_READ|PROT_EXEC".to_string())]
        );
        assert_eq!(
            decode("unshare", &[0x1_0000_0000_0000, 0, 0, 0, 0, 0]),
            [(0, "0x1000000000000".to_string())],
            "unknown bits stay visible"
        );
        assert!(decode("read", &[0; 6]).is_empty());
    }
}
