//! Files an analysed root holds, opened only when they are regular files. The root may be an
//! image someone else built: a FIFO at `/etc/ld.so.cache` would block the analysis for ever
//! (an open for reading waits for a writer), a character device never ends (`/dev/zero`) and
//! its very open can act (a watchdog starts counting, a tape rewinds). So the path is checked
//! without opening it (lstat: a device is never opened), opened without following a symlink
//! and without blocking, and the open file checked again (fstat: what was opened is what is
//! read, should the path have changed in between).

use std::fs::{File, Metadata};
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// A configuration file larger than this is not read.
pub const MAX_CONFIG: u64 = 64 * 1024;

/// Opens the regular file at host path `host` (symlinks already resolved inside the root).
pub fn open(host: &Path) -> Result<(File, Metadata), String> {
    let shown = host.display();
    let before = std::fs::symlink_metadata(host).map_err(|e| format!("{shown}: {e}"))?;
    if !before.is_file() {
        return Err(format!("{shown}: not a regular file"));
    }
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(host)
        .map_err(|e| format!("{shown}: {e}"))?;
    let meta = file.metadata().map_err(|e| format!("{shown}: {e}"))?;
    if !meta.is_file() {
        return Err(format!("{shown}: not a regular file"));
    }
    Ok((file, meta))
}

/// The whole regular file at `host`, if it is at most `max` bytes long.
pub fn read(host: &Path, max: u64) -> Result<Vec<u8>, String> {
    let (file, meta) = open(host)?;
    if meta.len() > max {
        return Err(format!(
            "{}: {} bytes, larger than the {max} read",
            host.display(),
            meta.len()
        ));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    // A file growing while read stops at the bound all the same.
    file.take(max)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("{}: {e}", host.display()))?;
    Ok(bytes)
}

/// The first `n` bytes of the regular file at `host` (fewer if it is shorter).
pub fn head(host: &Path, n: usize) -> Result<Vec<u8>, String> {
    let (file, _) = open(host)?;
    let mut bytes = Vec::with_capacity(n);
    file.take(n as u64)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("{}: {e}", host.display()))?;
    Ok(bytes)
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
            let err = read(p, 1 << 20).unwrap_err();
            assert!(
                err.contains(what) && err.contains(&*p.to_string_lossy()),
                "{err}"
            );
        }
        assert_eq!(read(&plain, 10).unwrap(), b"0123456789");
        assert!(
            read(&plain, 9)
                .unwrap_err()
                .contains("10 bytes, larger than the 9")
        );
        assert_eq!(head(&plain, 4).unwrap(), b"0123");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
