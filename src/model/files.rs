//! File and network facts from a recording, for AppArmor and Landlock: which paths were read,
//! listed, written, created, removed or executed, and which inet ports were bound or connected.
//! The decoding of syscall arguments into these facts is pure; reading the strings from the
//! tracee's memory is the tracer's job.

/// What a syscall did to a path.
pub const READ: &str = "read";
pub const READDIR: &str = "readdir";
pub const WRITE: &str = "write";
pub const CREATE: &str = "create";
pub const REMOVE: &str = "remove";
pub const EXEC: &str = "exec";

/// Where a path argument lives: (directory fd argument index or None for AT_FDCWD, path
/// argument index).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PathArg {
    pub dirfd: Option<usize>,
    pub path: usize,
    /// What happens to it; `None` means "decide from the open flags in argument `flags`".
    pub access: Option<&'static str>,
    pub flags: Option<usize>,
}

const fn p(dirfd: Option<usize>, path: usize, access: &'static str) -> PathArg {
    PathArg {
        dirfd,
        path,
        access: Some(access),
        flags: None,
    }
}

/// The path arguments of an x86_64 syscall.
pub fn path_args(name: &str) -> Vec<PathArg> {
    match name {
        "open" => vec![PathArg {
            dirfd: None,
            path: 0,
            access: None,
            flags: Some(1),
        }],
        "openat" => vec![PathArg {
            dirfd: Some(0),
            path: 1,
            access: None,
            flags: Some(2),
        }],
        "creat" => vec![p(None, 0, CREATE)],
        "execve" => vec![p(None, 0, EXEC)],
        "execveat" => vec![p(Some(0), 1, EXEC)],
        "mkdir" => vec![p(None, 0, CREATE)],
        "mkdirat" => vec![p(Some(0), 1, CREATE)],
        "mknod" => vec![p(None, 0, CREATE)],
        "mknodat" => vec![p(Some(0), 1, CREATE)],
        "unlink" | "rmdir" => vec![p(None, 0, REMOVE)],
        "unlinkat" => vec![p(Some(0), 1, REMOVE)],
        "rename" => vec![p(None, 0, REMOVE), p(None, 1, CREATE)],
        "renameat" | "renameat2" => vec![p(Some(0), 1, REMOVE), p(Some(2), 3, CREATE)],
        "link" => vec![p(None, 1, CREATE)],
        "linkat" => vec![p(Some(2), 3, CREATE)],
        "symlink" => vec![p(None, 1, CREATE)],
        "symlinkat" => vec![p(Some(1), 2, CREATE)],
        "truncate" => vec![p(None, 0, WRITE)],
        _ => Vec::new(),
    }
}

/// What an `open` with these flags does to a path that `exists` (and is a directory or not).
pub fn open_access(flags: u64, exists: bool, is_dir: bool) -> Vec<&'static str> {
    const O_ACCMODE: u64 = 3;
    const O_CREAT: u64 = 0o100;
    const O_TRUNC: u64 = 0o1000;
    const O_PATH: u64 = 0o10000000;
    if flags & O_PATH != 0 {
        return Vec::new();
    }
    let mut out = Vec::new();
    if !exists && flags & O_CREAT != 0 {
        out.push(CREATE);
    }
    match flags & O_ACCMODE {
        0 if is_dir => out.push(READDIR),
        0 => out.push(READ),
        1 => out.push(WRITE),
        _ => {
            out.push(READ);
            out.push(WRITE);
        }
    }
    if flags & O_TRUNC != 0 && !out.contains(&WRITE) {
        out.push(WRITE);
    }
    out
}

/// Joins a possibly relative path onto its base directory, lexically ("." and ".." resolved,
/// symlinks not).
pub fn join(base: &str, path: &str) -> String {
    let mut parts: Vec<&str> = if path.starts_with('/') {
        Vec::new()
    } else {
        base.split('/').filter(|s| !s.is_empty()).collect()
    };
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    format!("/{}", parts.join("/"))
}

/// The port of an AF_INET or AF_INET6 socket address (raw bytes), if it is one.
pub fn inet_port(addr: &[u8]) -> Option<u16> {
    let family = u16::from_ne_bytes([*addr.first()?, *addr.get(1)?]);
    let inet = family == libc::AF_INET as u16 || family == libc::AF_INET6 as u16;
    inet.then(|| u16::from_be_bytes([addr[2], addr.get(3).copied().unwrap_or(0)]))
        .filter(|_| addr.len() >= 4)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_flags_and_paths() {
        assert_eq!(open_access(0, true, false), [READ]);
        assert_eq!(open_access(0o200000, true, true), [READDIR]);
        assert_eq!(open_access(1 | 0o100, false, false), [CREATE, WRITE]);
        assert_eq!(open_access(2, true, false), [READ, WRITE]);
        assert!(open_access(0o10000000, true, false).is_empty());
        assert_eq!(join("/home/a", "../b/./c"), "/home/b/c");
        assert_eq!(join("/x", "/etc/hosts"), "/etc/hosts");
        assert_eq!(join("/", ".."), "/");
        let sin = [2u8, 0, 0x1f, 0x90, 127, 0, 0, 1];
        assert_eq!(inet_port(&sin), Some(8080));
        assert_eq!(inet_port(&[1, 0, b'/', 0]), None);
    }
}

/// The interpreter the kernel itself opens (and needs execute permission on) when `bytes` (the
/// start of an executable) is exec'd: a script's `#!` program or an ELF's PT_INTERP loader.
pub fn interpreter(bytes: &[u8]) -> Option<String> {
    if let Some(rest) = bytes.strip_prefix(b"#!") {
        let line = rest.split(|b| *b == b'\n').next()?;
        let text = std::str::from_utf8(line).ok()?;
        return text.split_whitespace().next().map(str::to_string);
    }
    // 64-bit little-endian ELF only (this build's programs).
    if bytes.len() < 64 || &bytes[..4] != b"\x7fELF" || bytes[4] != 2 || bytes[5] != 1 {
        return None;
    }
    let u16_at = |o: usize| Some(u16::from_le_bytes(bytes.get(o..o + 2)?.try_into().ok()?));
    let u32_at = |o: usize| Some(u32::from_le_bytes(bytes.get(o..o + 4)?.try_into().ok()?));
    let u64_at = |o: usize| Some(u64::from_le_bytes(bytes.get(o..o + 8)?.try_into().ok()?));
    let phoff = usize::try_from(u64_at(32)?).ok()?;
    let phentsize = usize::from(u16_at(54)?);
    let phnum = usize::from(u16_at(56)?);
    for i in 0..phnum.min(256) {
        let ph = phoff.checked_add(i.checked_mul(phentsize)?)?;
        if u32_at(ph)? == 3 {
            let off = usize::try_from(u64_at(ph + 8)?).ok()?;
            let size = usize::try_from(u64_at(ph + 32)?).ok()?;
            let raw = bytes.get(off..off.checked_add(size)?)?;
            let end = raw.iter().position(|b| *b == 0).unwrap_or(raw.len());
            return std::str::from_utf8(&raw[..end]).ok().map(str::to_string);
        }
    }
    None
}

#[cfg(test)]
mod interp_tests {
    use super::*;

    #[test]
    fn finds_script_and_elf_interpreters() {
        assert_eq!(interpreter(b"#!/bin/sh -e\necho"), Some("/bin/sh".into()));
        let dash = std::fs::read("/usr/bin/dash").unwrap_or_default();
        assert_eq!(
            interpreter(&dash).as_deref(),
            Some("/lib64/ld-linux-x86-64.so.2")
        );
        assert_eq!(interpreter(b"\x7fELF garbage"), None);
        assert_eq!(interpreter(&[0u8; 100]), None);
    }
}
