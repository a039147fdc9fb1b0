//! Reading syscall arguments out of a stopped tracee's memory (the task is blocked in the
//! notification or ptrace stop, so what we read is what the kernel is about to see).

use std::io::IoSliceMut;

use nix::sys::uio::{RemoteIoVec, process_vm_readv};
use nix::unistd::Pid;

const PAGE: usize = 4096;

/// Reads `len` bytes at `addr`.
pub fn bytes(pid: u32, addr: u64, len: usize) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; len];
    let remote = [RemoteIoVec {
        base: usize::try_from(addr).ok()?,
        len,
    }];
    let n = process_vm_readv(
        Pid::from_raw(pid as i32),
        &mut [IoSliceMut::new(&mut buf)],
        &remote,
    )
    .ok()?;
    buf.truncate(n);
    Some(buf)
}

/// Reads a NUL-terminated string of at most PATH_MAX bytes, a page at a time so that a string
/// ending just before an unmapped page is still read.
pub fn c_string(pid: u32, addr: u64) -> Option<String> {
    if addr == 0 {
        return None;
    }
    let mut out = Vec::new();
    let mut at = addr;
    while out.len() < PAGE {
        let chunk = PAGE - (at as usize % PAGE);
        let part = bytes(pid, at, chunk)?;
        if let Some(end) = part.iter().position(|b| *b == 0) {
            out.extend_from_slice(&part[..end]);
            return String::from_utf8(out).ok();
        }
        if part.len() < chunk {
            return None;
        }
        out.extend_from_slice(&part);
        at += chunk as u64;
    }
    None
}
