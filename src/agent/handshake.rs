//! A runtime's connection to the agent while its message arrives. Read without blocking from the
//! agent's one loop, so that no client — silent, slow, or sending garbage or descriptors it
//! should not — delays another or any container's routed syscalls: each handshake has one
//! deadline for the whole message (not per byte), a size limit, and a descriptor limit; every
//! descriptor a message carried is owned here, so it is closed whatever becomes of it.

use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use crate::sandbox::sys;

/// A whole handshake, from accept to the last byte.
pub const DEADLINE: Duration = Duration::from_secs(5);
/// The largest state message read (runtimes send well under 64 KiB).
pub const MAX_MESSAGE: usize = 1 << 20;
/// Descriptors one connection may bring: runtimes send the listener and at most a pidfd.
pub const MAX_FDS: usize = 4;

pub struct Pending {
    pub stream: UnixStream,
    data: Vec<u8>,
    fds: Vec<OwnedFd>,
    pub deadline: Instant,
}

/// Where a handshake stands after reading what was there.
pub enum Progress {
    /// Waiting for more.
    More,
    /// The whole message and the descriptors that came with it.
    Done(Vec<u8>, Vec<OwnedFd>),
    Failed(String),
}

impl Pending {
    pub fn new(stream: UnixStream, now: Instant) -> std::io::Result<Pending> {
        stream.set_nonblocking(true)?;
        Ok(Pending {
            stream,
            data: Vec::new(),
            fds: Vec::new(),
            deadline: now + DEADLINE,
        })
    }

    /// Reads whatever has arrived, without waiting.
    pub fn read(&mut self) -> Progress {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let r = match sys::recv_with_fds(self.stream.as_raw_fd(), &mut buf) {
                Ok(r) => r,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Progress::More,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Progress::Failed(format!("receiving the container state: {e}")),
            };
            // Owned from here: dropped (closed) with this handshake if it fails.
            self.fds.extend(r.fds);
            if r.truncated || self.fds.len() > MAX_FDS {
                return Progress::Failed(format!(
                    "the message carried more descriptors than a runtime sends ({MAX_FDS} at most)"
                ));
            }
            if r.bytes == 0 {
                return self.done();
            }
            self.data.extend_from_slice(&buf[..r.bytes]);
            // runc and crun send the whole state in one message; stop once it parses.
            if serde_json::from_slice::<serde::de::IgnoredAny>(&self.data).is_ok() {
                return self.done();
            }
            if self.data.len() > MAX_MESSAGE {
                return Progress::Failed(format!(
                    "the container state is larger than {} KiB",
                    MAX_MESSAGE >> 10
                ));
            }
        }
    }

    fn done(&mut self) -> Progress {
        if self.data.is_empty() {
            return Progress::Failed("the connection closed without a message".into());
        }
        Progress::Done(
            std::mem::take(&mut self.data),
            std::mem::take(&mut self.fds),
        )
    }
}
