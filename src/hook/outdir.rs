//! The hook's output directory: the only place the hook (root, acting on annotations anyone who
//! can create a container chooses) writes to or reads baselines from. Every path is resolved by
//! the kernel with `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)`, so a symlink planted on the
//! way or a `..` cannot lead outside; special files are refused; what is created is private to
//! the directory's owner (files 0600, directories 0700).

use std::ffi::{CString, OsStr, OsString};
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::{Mode, SFlag};

use crate::sandbox::sys;

/// Largest baseline profile read (Docker's default is 20 KiB).
const MAX_BASELINE: u64 = 16 << 20;

const RESOLVE_BENEATH: u64 =
    libc::RESOLVE_BENEATH | libc::RESOLVE_NO_SYMLINKS | libc::RESOLVE_NO_MAGICLINKS;

/// An open output directory.
pub struct OutputDir {
    path: PathBuf,
    fd: OwnedFd,
}

/// A file about to be written beneath the output directory: its (open) parent and its name.
pub struct Slot {
    dir: OwnedFd,
    name: OsString,
    /// The full path, for messages.
    pub shown: PathBuf,
}

fn cstr(p: &OsStr) -> Result<CString, String> {
    CString::new(p.as_bytes()).map_err(|_| "the path contains a NUL byte".to_string())
}

fn kind(mode: libc::mode_t) -> &'static str {
    match SFlag::from_bits_truncate(mode & libc::S_IFMT) {
        SFlag::S_IFDIR => "a directory",
        SFlag::S_IFLNK => "a symbolic link",
        SFlag::S_IFIFO => "a FIFO",
        SFlag::S_IFSOCK => "a socket",
        SFlag::S_IFCHR | SFlag::S_IFBLK => "a device",
        _ => "not a regular file",
    }
}

fn resolve_error(e: std::io::Error) -> String {
    match e.raw_os_error() {
        Some(libc::ELOOP) => "a symbolic link is on the way (refused)".into(),
        Some(libc::EXDEV) => "the path leads outside the output directory".into(),
        _ => e.to_string(),
    }
}

impl OutputDir {
    /// Opens `path` (an administrator's choice, trusted), creating it 0700 if it is missing.
    pub fn open(path: &Path) -> Result<OutputDir, String> {
        if !path.is_absolute() {
            return Err(format!(
                "--output-dir {}: must be an absolute path",
                path.display()
            ));
        }
        if !path.exists() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(path)
                .map_err(|e| format!("creating the output directory {}: {e}", path.display()))?;
        }
        let fd = nix::fcntl::open(
            path,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| format!("opening the output directory {}: {e}", path.display()))?;
        Ok(OutputDir {
            path: path.to_owned(),
            fd,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Opens (creating 0700 where missing) the parent directories of `rel`, each step beneath
    /// the output directory and through no symlink, and checks that `rel` itself is absent or
    /// a regular file.
    pub fn slot(&self, rel: &Path) -> Result<Slot, String> {
        let shown = self.path.join(rel);
        let name = rel
            .file_name()
            .ok_or_else(|| format!("{}: names no file", shown.display()))?
            .to_owned();
        let mut dir = self
            .fd
            .try_clone()
            .map_err(|e| format!("{}: {e}", self.path.display()))?;
        if let Some(parent) = rel.parent() {
            for comp in parent.components() {
                let c = cstr(comp.as_os_str())?;
                match nix::sys::stat::mkdirat(
                    dir.as_fd(),
                    c.as_c_str(),
                    Mode::from_bits_truncate(0o700),
                ) {
                    Ok(()) | Err(Errno::EEXIST) => {}
                    Err(e) => {
                        return Err(format!("{}: creating a directory: {e}", shown.display()));
                    }
                }
                dir = sys::openat2(
                    &dir,
                    &c,
                    libc::O_PATH | libc::O_DIRECTORY | libc::O_NOFOLLOW,
                    0,
                    RESOLVE_BENEATH,
                )
                .map_err(|e| {
                    // O_NOFOLLOW|O_DIRECTORY on a symlink says ENOTDIR: name what is there.
                    let what = match nix::sys::stat::fstatat(
                        dir.as_fd(),
                        c.as_c_str(),
                        AtFlags::AT_SYMLINK_NOFOLLOW,
                    ) {
                        Ok(st) if st.st_mode & libc::S_IFMT != libc::S_IFDIR => {
                            format!(
                                "{} is {} (refused)",
                                comp.as_os_str().to_string_lossy(),
                                kind(st.st_mode)
                            )
                        }
                        _ => resolve_error(e),
                    };
                    format!("{}: {what}", shown.display())
                })?;
            }
        }
        let slot = Slot { dir, name, shown };
        slot.check_target()?;
        Ok(slot)
    }

    /// Reads a regular file beneath the output directory (a baseline profile).
    pub fn read(&self, rel: &Path) -> Result<Vec<u8>, String> {
        let shown = self.path.join(rel);
        let c = cstr(rel.as_os_str())?;
        // O_NONBLOCK: opening a FIFO must not block the hook (it is refused just below).
        let fd = sys::openat2(
            &self.fd,
            &c,
            libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY,
            0,
            RESOLVE_BENEATH,
        )
        .map_err(|e| format!("{}: {}", shown.display(), resolve_error(e)))?;
        let st = nix::sys::stat::fstat(&fd).map_err(|e| format!("{}: {e}", shown.display()))?;
        if st.st_mode & libc::S_IFMT != libc::S_IFREG {
            return Err(format!(
                "{}: {} (refused)",
                shown.display(),
                kind(st.st_mode)
            ));
        }
        let mut bytes = Vec::new();
        std::fs::File::from(fd)
            .take(MAX_BASELINE + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| format!("{}: {e}", shown.display()))?;
        if bytes.len() as u64 > MAX_BASELINE {
            return Err(format!(
                "{}: larger than {MAX_BASELINE} bytes",
                shown.display()
            ));
        }
        Ok(bytes)
    }
}

impl Slot {
    /// The parent directory's descriptor (kept open across the recorder's fork).
    pub fn raw_fd(&self) -> std::os::fd::RawFd {
        self.dir.as_raw_fd()
    }

    /// The target must be absent or a regular file: never write over a FIFO, device, socket,
    /// directory or symlink.
    fn check_target(&self) -> Result<(), String> {
        match nix::sys::stat::fstatat(
            self.dir.as_fd(),
            self.name.as_os_str(),
            AtFlags::AT_SYMLINK_NOFOLLOW,
        ) {
            Ok(st) if st.st_mode & libc::S_IFMT == libc::S_IFREG => Ok(()),
            Ok(st) => Err(format!(
                "{}: {} (refused)",
                self.shown.display(),
                kind(st.st_mode)
            )),
            Err(Errno::ENOENT) => Ok(()),
            Err(e) => Err(format!("{}: {e}", self.shown.display())),
        }
    }

    /// Writes `contents` whole or not at all (a 0600 temporary file beside it, synced, renamed
    /// over it), as `name` + `suffix`. Returns the path written.
    pub fn write_atomic(&self, contents: &[u8], suffix: &str) -> Result<PathBuf, String> {
        let mut name = self.name.clone();
        name.push(suffix);
        let shown = self.shown.with_file_name(&name);
        let target = Slot {
            dir: self
                .dir
                .try_clone()
                .map_err(|e| format!("{}: {e}", shown.display()))?,
            name: name.clone(),
            shown: shown.clone(),
        };
        target.check_target()?;
        let mut tmp = OsString::from(".");
        tmp.push(&name);
        tmp.push(format!(".syscage-{}.tmp", std::process::id()));
        let fail = |e: &dyn std::fmt::Display| format!("{}: {e}", shown.display());
        let fd = nix::fcntl::openat(
            self.dir.as_fd(),
            tmp.as_os_str(),
            OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::from_bits_truncate(0o600),
        )
        .map_err(|e| fail(&e))?;
        let mut f = std::fs::File::from(fd);
        let written = f
            .write_all(contents)
            .and_then(|()| f.sync_all())
            .map_err(|e| fail(&e))
            .and_then(|()| {
                nix::fcntl::renameat(
                    self.dir.as_fd(),
                    tmp.as_os_str(),
                    self.dir.as_fd(),
                    name.as_os_str(),
                )
                .map_err(|e| fail(&e))
            });
        if written.is_err() {
            let _ = nix::unistd::unlinkat(
                self.dir.as_fd(),
                tmp.as_os_str(),
                nix::unistd::UnlinkatFlags::NoRemoveDir,
            );
        }
        written.map(|()| shown)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("syscage-outdir-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn writes_beneath_and_refuses_symlinks_and_special_files() {
        let base = scratch("w");
        let outside = base.join("outside");
        std::fs::create_dir(&outside).unwrap();
        let od = OutputDir::open(&base.join("out")).unwrap();
        let p = od
            .slot(Path::new("a/b/p.json"))
            .unwrap()
            .write_atomic(b"{}", "")
            .unwrap();
        assert_eq!(p, base.join("out/a/b/p.json"));
        assert_eq!(std::fs::read(&p).unwrap(), b"{}");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(
            std::fs::metadata(base.join("out/a"))
                .unwrap()
                .permissions()
                .mode()
                & 0o777,
            0o700
        );
        // A symlink planted in the directory, to a directory and to a file.
        std::os::unix::fs::symlink(&outside, base.join("out/link")).unwrap();
        std::os::unix::fs::symlink(outside.join("f"), base.join("out/flink")).unwrap();
        let e = od.slot(Path::new("link/p.json")).err().unwrap();
        assert!(e.contains("symbolic link"), "{e}");
        assert!(od.slot(Path::new("flink")).is_err());
        assert!(od.read(Path::new("link/x")).is_err());
        assert!(od.read(Path::new("flink")).is_err());
        // A FIFO is neither written nor read (and opening it does not block).
        nix::unistd::mkfifo(&base.join("out/fifo"), Mode::from_bits_truncate(0o600)).unwrap();
        assert!(od.slot(Path::new("fifo")).is_err());
        assert!(od.read(Path::new("fifo")).err().unwrap().contains("FIFO"));
        assert!(od.slot(Path::new("a")).is_err(), "a directory");
        assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0);
        assert_eq!(od.read(Path::new("a/b/p.json")).unwrap(), b"{}");
        std::fs::remove_dir_all(&base).unwrap();
    }
}
