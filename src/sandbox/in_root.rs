//! Mount targets inside the staged new root, resolved by the kernel inside it (`openat2`), never
//! through the host's tree: a `--rootfs` whose `tmp` is a symlink to `/etc`, or whose `dev` points
//! at `proc`, must neither get a tmpfs on the host's `/etc` (in our mount namespace) nor have
//! syscage report a fresh `/tmp` it did not make. Targets are mounted through the descriptor
//! the resolution gave (`/proc/self/fd/N`), so what was checked is what is mounted on.

use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use super::sys;

/// The root directory of the staged tree.
pub struct Root {
    dir: OwnedFd,
    /// Where it is staged on the host side of our mount namespace (for messages and readlink).
    staged: PathBuf,
}

/// A resolved target: its descriptor and the path that mounts through it.
pub struct Target {
    fd: OwnedFd,
    /// Where the target is inside the root (differs from the asked path when a symlink in the
    /// root was followed).
    pub in_root: PathBuf,
}

impl Target {
    /// The magic link to mount on: the very directory or file that was resolved.
    pub fn mount_path(&self) -> PathBuf {
        PathBuf::from(format!("/proc/self/fd/{}", self.fd.as_raw_fd()))
    }

    pub fn fd(&self) -> &OwnedFd {
        &self.fd
    }
}

fn relative(p: &Path) -> CString {
    let rel: PathBuf = p
        .components()
        .filter(|c| matches!(c, Component::Normal(_)))
        .collect();
    let bytes = if rel.as_os_str().is_empty() {
        b".".to_vec()
    } else {
        rel.as_os_str().as_bytes().to_vec()
    };
    CString::new(bytes).unwrap_or_else(|_| c".".to_owned())
}

impl Root {
    pub fn open(staged: &Path) -> std::io::Result<Root> {
        let dir = sys::openat2(
            &std::fs::File::open("/")?,
            &CString::new(staged.as_os_str().as_bytes()).map_err(std::io::Error::other)?,
            libc::O_PATH | libc::O_DIRECTORY,
            0,
            0,
        )?;
        Ok(Root {
            dir,
            staged: staged.to_path_buf(),
        })
    }

    /// A system mount point (`/proc`, `/dev`, `/tmp`): a real directory at exactly that path,
    /// no symlink in it. Errors say what is there instead.
    pub fn system_dir(&self, p: &Path) -> Result<Target, String> {
        let resolve =
            libc::RESOLVE_BENEATH | libc::RESOLVE_NO_SYMLINKS | libc::RESOLVE_NO_MAGICLINKS;
        match sys::openat2(
            &self.dir,
            &relative(p),
            libc::O_PATH | libc::O_DIRECTORY,
            0,
            resolve,
        ) {
            Ok(fd) => Ok(Target {
                fd,
                in_root: p.to_path_buf(),
            }),
            Err(e) if e.raw_os_error() == Some(libc::ELOOP) => Err(format!(
                "{} is a symlink in the root{} (not followed)",
                p.display(),
                self.link_target(p)
                    .map(|t| format!(", to {}", t.display()))
                    .unwrap_or_default()
            )),
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
                Err(format!("no {} directory in the root", p.display()))
            }
            Err(e) if e.raw_os_error() == Some(libc::ENOTDIR) => {
                Err(format!("{} is not a directory in the root", p.display()))
            }
            Err(e) => Err(format!("{}: {e}", p.display())),
        }
    }

    fn link_target(&self, p: &Path) -> Option<PathBuf> {
        std::fs::read_link(self.staged.join(relative(p).to_str().ok()?)).ok()
    }

    /// A user mount's target (`--rw`, `--ro`, `--tmpfs`), symlinks followed as the workload will
    /// see them (inside the root, never out of it); created when missing, directory by
    /// directory, each relative to the one before.
    pub fn user_target(&self, p: &Path, is_dir: bool) -> std::io::Result<Target> {
        let in_root = libc::RESOLVE_IN_ROOT | libc::RESOLVE_NO_MAGICLINKS;
        let open = |path: &Path| sys::openat2(&self.dir, &relative(path), libc::O_PATH, 0, in_root);
        let fd = match open(p) {
            Ok(fd) => fd,
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
                self.create(p, is_dir)?;
                open(p)?
            }
            Err(e) => return Err(e),
        };
        let shown = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd()))
            .ok()
            .and_then(|l| {
                l.strip_prefix(&self.staged)
                    .ok()
                    .map(|r| Path::new("/").join(r))
            })
            .unwrap_or_else(|| p.to_path_buf());
        Ok(Target { fd, in_root: shown })
    }

    /// Creates `p` (and missing parents) inside the root.
    fn create(&self, p: &Path, is_dir: bool) -> std::io::Result<()> {
        let in_root = libc::RESOLVE_IN_ROOT | libc::RESOLVE_NO_MAGICLINKS;
        let parts: Vec<&std::ffi::OsStr> = p
            .components()
            .filter_map(|c| match c {
                Component::Normal(n) => Some(n),
                _ => None,
            })
            .collect();
        let mut done = PathBuf::from("/");
        for (i, name) in parts.iter().enumerate() {
            let last = i + 1 == parts.len();
            let parent = sys::openat2(
                &self.dir,
                &relative(&done),
                libc::O_PATH | libc::O_DIRECTORY,
                0,
                in_root,
            )?;
            let cname = CString::new(name.as_bytes()).map_err(std::io::Error::other)?;
            let made = if last && !is_dir {
                sys::create_file_at(&parent, &cname)
            } else {
                sys::mkdir_at(&parent, &cname)
            };
            match made {
                Ok(()) => {}
                Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {}
                Err(e) => return Err(e),
            }
            done.push(name);
        }
        Ok(())
    }
}
