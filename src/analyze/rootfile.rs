//! Files an analysed root holds, opened only when they are regular files. The root may be an
//! image someone else built: a FIFO at `/etc/ld.so.cache` would block the analysis for ever
//! (an open for reading waits for a writer), a character device never ends (`/dev/zero`) and
//! its very open can act (a watchdog starts counting, a tape rewinds). So the path is checked
//! without opening it (lstat: a device is never opened), opened without following a symlink
//! and without blocking, and the open file checked again (fstat: what was opened is what is
//! read, should the path have changed in between).

use std::fmt;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// A configuration file larger than this is not read.
pub const MAX_CONFIG: u64 = 64 * 1024;

/// Why a file of the root was not read.
#[derive(Debug)]
pub enum Why {
    NotRegular,
    Larger { len: u64, max: u64 },
    Io(std::io::Error),
}

impl fmt::Display for Why {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Why::NotRegular => write!(f, "not a regular file"),
            Why::Larger { len, max } => write!(f, "{len} bytes, larger than the {max} read"),
            Why::Io(e) => write!(f, "{e}"),
        }
    }
}

/// A file of the root not read, and why: shown as "HOST-PATH: why".
#[derive(Debug)]
pub struct Refusal {
    pub path: PathBuf,
    pub why: Why,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.why)
    }
}

/// A regular file of the root, open: everything read from it is read from this one file.
pub struct RootFile {
    pub file: File,
    pub len: u64,
    path: PathBuf,
}

/// Opens the regular file at host path `host` (symlinks already resolved inside the root).
pub fn open(host: &Path) -> Result<RootFile, Refusal> {
    let refused = |why| Refusal {
        path: host.to_path_buf(),
        why,
    };
    let before = std::fs::symlink_metadata(host).map_err(|e| refused(Why::Io(e)))?;
    if !before.is_file() {
        return Err(refused(Why::NotRegular));
    }
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(host)
        .map_err(|e| refused(Why::Io(e)))?;
    let meta = file.metadata().map_err(|e| refused(Why::Io(e)))?;
    if !meta.is_file() {
        return Err(refused(Why::NotRegular));
    }
    Ok(RootFile {
        file,
        len: meta.len(),
        path: host.to_path_buf(),
    })
}

impl RootFile {
    /// Up to `n` bytes from the start.
    fn first(&self, n: u64) -> Result<Vec<u8>, Refusal> {
        let mut bytes = Vec::with_capacity(n.min(self.len) as usize);
        (&self.file)
            .seek(SeekFrom::Start(0))
            .and_then(|_| (&self.file).take(n).read_to_end(&mut bytes))
            .map_err(|e| Refusal {
                path: self.path.clone(),
                why: Why::Io(e),
            })?;
        Ok(bytes)
    }

    /// The whole file, if it is at most `max` bytes long (a file growing while read stops at
    /// the bound all the same).
    pub fn read(&self, max: u64) -> Result<Vec<u8>, Refusal> {
        if self.len > max {
            return Err(Refusal {
                path: self.path.clone(),
                why: Why::Larger { len: self.len, max },
            });
        }
        self.first(max)
    }

    /// The first `n` bytes (fewer if it is shorter).
    pub fn head(&self, n: u64) -> Result<Vec<u8>, Refusal> {
        self.first(n)
    }
}

/// The whole regular file at `host`, if it is at most `max` bytes long.
pub fn read(host: &Path, max: u64) -> Result<Vec<u8>, Refusal> {
    open(host)?.read(max)
}

/// The first `n` bytes of the regular file at `host` (fewer if it is shorter).
pub fn head(host: &Path, n: u64) -> Result<Vec<u8>, Refusal> {
    open(host)?.head(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fifo_a_device_and_a_symlink_are_refused_without_blocking() {
        let dir = std::env::temp_dir().join(format!("syscage-rootfile-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let fifo = dir.join("fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        let link = dir.join("link");
        std::os::unix::fs::symlink("/etc/hostname", &link).unwrap();
        let plain = dir.join("plain");
        std::fs::write(&plain, b"0123456789").unwrap();
        for (p, what) in [
            (fifo.as_path(), "not a regular file"),
            (Path::new("/dev/null"), "not a regular file"),
            (link.as_path(), "not a regular file"),
            (dir.as_path(), "not a regular file"),
        ] {
            let err = read(p, 1 << 20).unwrap_err().to_string();
            assert!(
                err.contains(what) && err.contains(&*p.to_string_lossy()),
                "{err}"
            );
        }
        assert_eq!(read(&plain, 10).unwrap(), b"0123456789");
        assert!(
            read(&plain, 9)
                .unwrap_err()
                .to_string()
                .contains("10 bytes, larger than the 9")
        );
        assert_eq!(head(&plain, 4).unwrap(), b"0123");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
