//! The sandbox's filesystem: a read-only copy of the host `/` (or `--rootfs`), a fresh `/proc`,
//! a minimal `/dev`, a tmpfs `/tmp`, and the user's `--rw`/`--ro`/`--tmpfs` mounts.
//!
//! `plan` validates every path in the parent, before any namespace exists. `apply` runs in the
//! child: it takes detached copies of every source tree first (`open_tree`), so nothing it mounts
//! later can hide a source, then builds the new root and pivots into it.

use std::ffi::CString;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use nix::mount::{MntFlags, MsFlags, mount, umount2};

use super::SandboxError;
use super::in_root::Root;
use super::sys;

/// A mount the user asked for with `--rw`, `--ro` or `--tmpfs`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserMount {
    Bind { path: PathBuf, readonly: bool },
    Tmpfs { path: PathBuf },
}

/// Device nodes bound from the host into the sandbox's `/dev`.
const DEVICES: &[&str] = &["null", "zero", "full", "random", "urandom", "tty"];
/// Existing directories the new root may be attached over, in our private mount namespace only.
const STAGING: &[&str] = &[
    "/tmp", "/mnt", "/run", "/var/tmp", "/opt", "/srv", "/media", "/home",
];

#[derive(Debug, Clone)]
pub struct MountPlan {
    /// Host directory that becomes `/`.
    pub root: PathBuf,
    pub is_host_root: bool,
    /// Where the new root is attached before `pivot_root`.
    pub staging: PathBuf,
    /// Validated user mounts, parents before children; bind sources are canonical host paths.
    pub mounts: Vec<PlannedMount>,
}

#[derive(Debug, Clone)]
pub struct PlannedMount {
    pub source: Option<PathBuf>,
    pub target: PathBuf,
    pub readonly: bool,
    pub is_dir: bool,
    pub flag: &'static str,
    /// The bind's tree, copied by the launcher when it is root (see `copy_sources`).
    pub tree: Option<std::sync::Arc<OwnedFd>>,
}

fn canonical(path: &Path, what: &str) -> Result<PathBuf, SandboxError> {
    path.canonicalize().map_err(|source| SandboxError::Step {
        step: format!("{what} {}", path.display()),
        source,
    })
}

/// The flag the working directory's own read-only bind is reported under (see `sandbox::run`).
pub const WORKDIR: &str = "working directory";

/// Validates the root and every user mount; `workdir`, a directory to bind in read-only at
/// its own path (the working directory a sandbox mount would hide), is applied like `--ro`
/// but is not the user's: without a mount namespace nothing hides it, and it is left out.
pub fn plan(
    rootfs: Option<&Path>,
    user: &[UserMount],
    workdir: Option<&Path>,
) -> Result<MountPlan, SandboxError> {
    let root = match rootfs {
        Some(r) => {
            let c = canonical(r, "--rootfs")?;
            if !c.is_dir() {
                return Err(SandboxError::Message(format!(
                    "--rootfs {}: not a directory",
                    r.display()
                )));
            }
            c
        }
        None => PathBuf::from("/"),
    };
    let staging = STAGING
        .iter()
        .map(PathBuf::from)
        .find(|p| p.symlink_metadata().is_ok_and(|m| m.is_dir()))
        .ok_or_else(|| {
            SandboxError::Message(format!(
                "no directory to stage the new root on (tried {})",
                STAGING.join(", ")
            ))
        })?;
    let mut mounts = Vec::new();
    for m in user {
        let (flag, path) = match m {
            UserMount::Bind { path, readonly } => (if *readonly { "--ro" } else { "--rw" }, path),
            UserMount::Tmpfs { path } => ("--tmpfs", path),
        };
        if !path.is_absolute() {
            return Err(SandboxError::Message(format!(
                "{flag} {}: the path must be absolute",
                path.display()
            )));
        }
        mounts.push(match m {
            UserMount::Bind { path, readonly } => {
                let source = canonical(path, flag)?;
                PlannedMount {
                    is_dir: source.is_dir(),
                    target: source.clone(),
                    source: Some(source),
                    readonly: *readonly,
                    flag,
                    tree: None,
                }
            }
            UserMount::Tmpfs { path } => PlannedMount {
                source: None,
                target: normalise(path),
                readonly: false,
                is_dir: true,
                flag,
                tree: None,
            },
        });
    }
    if let Some(dir) = workdir {
        let source = canonical(dir, WORKDIR)?;
        mounts.push(PlannedMount {
            is_dir: true,
            target: source.clone(),
            source: Some(source),
            readonly: true,
            flag: WORKDIR,
            tree: None,
        });
    }
    // Parents first, so that `--tmpfs /a --rw /a/b` does not hide /a/b.
    mounts.sort_by_key(|m| m.target.components().count());
    Ok(MountPlan {
        is_host_root: rootfs.is_none(),
        root,
        staging,
        mounts,
    })
}

/// The flag of a tmpfs put over a host directory the sandbox's root may not search (root's
/// `/root`, 0700, seen by the default host uid 1000000000), so that a bind below it can be reached.
/// It hides nothing the sandbox could have read there.
pub const UNSEARCHABLE: &str = "unsearchable parent";

/// The highest directory above `dir` (not `dir` itself) that a process whose ids are host ids
/// for which `mapped` holds, with capabilities only over inodes it maps, may not search.
pub fn unsearchable_ancestor(dir: &Path, mapped: &dyn Fn(u32) -> bool) -> Option<PathBuf> {
    use std::os::unix::fs::MetadataExt;
    let parent = dir.parent()?;
    let mut cur = PathBuf::from("/");
    for c in parent.components() {
        let Component::Normal(n) = c else { continue };
        cur.push(n);
        let Ok(meta) = std::fs::metadata(&cur) else {
            return None;
        };
        let (uid, gid, mode) = (meta.uid(), meta.gid(), meta.mode());
        let searchable = mode & 0o001 != 0
            || (mapped(uid) && mapped(gid))
            || (mapped(uid) && mode & 0o100 != 0)
            || (mapped(gid) && mode & 0o010 != 0);
        if !searchable {
            return Some(cur);
        }
    }
    None
}

/// Puts a tmpfs over each directory that hides a bind target from the sandbox's root (see
/// `UNSEARCHABLE`), unless a mount of the plan already replaces it; returns those directories.
pub fn reach_binds(plan: &mut MountPlan, mapped: &dyn Fn(u32) -> bool) -> Vec<PathBuf> {
    if !plan.is_host_root {
        return Vec::new();
    }
    let mut added: Vec<PathBuf> = Vec::new();
    for m in plan.mounts.iter().filter(|m| m.source.is_some()) {
        let Some(a) = unsearchable_ancestor(&m.target, mapped) else {
            continue;
        };
        let replaced = plan
            .mounts
            .iter()
            .any(|o| o.source.is_none() && a.starts_with(&o.target))
            || added.iter().any(|o| a.starts_with(o));
        if !replaced {
            added.retain(|o| !o.starts_with(&a));
            added.push(a);
        }
    }
    for a in &added {
        plan.mounts.push(PlannedMount {
            source: None,
            target: a.clone(),
            readonly: false,
            is_dir: true,
            flag: UNSEARCHABLE,
            tree: None,
        });
    }
    plan.mounts.sort_by_key(|m| m.target.components().count());
    added
}

/// Copies every bind's mount tree now, in the launcher, when it runs as root: the sandbox's root
/// (another host uid) may not be able to reach a source such as a directory under `/root`.
/// The copies are detached trees the sandbox attaches as they are.
pub fn copy_sources(plan: &mut MountPlan) -> Result<(), SandboxError> {
    if !nix::unistd::geteuid().is_root() {
        return Ok(());
    }
    for m in &mut plan.mounts {
        if let Some(src) = &m.source {
            let tree = bind_tree(m, src)?;
            m.tree = Some(std::sync::Arc::new(tree));
        }
    }
    Ok(())
}

fn bind_tree(m: &PlannedMount, src: &Path) -> Result<OwnedFd, SandboxError> {
    let tree = clone_tree(src)?;
    let attrs = sys::MOUNT_ATTR_NOSUID
        | sys::MOUNT_ATTR_NODEV
        | if m.readonly {
            sys::MOUNT_ATTR_RDONLY
        } else {
            0
        };
    io_step(
        || format!("{} {}: setting mount flags", m.flag, src.display()),
        sys::set_tree_attrs(&tree, attrs),
    )?;
    Ok(tree)
}

/// Directories whose host contents the sandbox replaces with its own (fresh /tmp, /dev, /proc).
const REPLACED: &[(&str, &str)] = &[
    ("/tmp", "a fresh tmpfs"),
    ("/dev", "a minimal /dev"),
    ("/proc", "a fresh /proc"),
];

/// Whether the sandbox hides `dir` (a host directory, with the host's `/` as root) behind one of
/// its own mounts, and which: (the mount point, what replaces it). A user mount that covers
/// `dir` (`--rw`/`--ro` of it or a parent) shows it again; a `--tmpfs` hides it too.
pub fn hidden_by_sandbox(dir: &Path, user: &[UserMount]) -> Option<(&'static str, &'static str)> {
    if covered_by_bind(dir, user) {
        return None;
    }
    REPLACED
        .iter()
        .find(|(root, _)| dir.starts_with(root))
        .copied()
}

/// Whether a user bind (`--rw`/`--ro` of `dir` or a parent) shows `dir` in the sandbox.
pub fn covered_by_bind(dir: &Path, user: &[UserMount]) -> bool {
    user.iter().any(|m| match m {
        UserMount::Bind { path, .. } => dir.starts_with(normalise(path)),
        UserMount::Tmpfs { .. } => false,
    })
}

fn normalise(path: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for c in path.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => {
                out.pop();
            }
            _ => {}
        }
    }
    out
}

fn cpath(p: &Path) -> Result<CString, SandboxError> {
    CString::new(p.as_os_str().as_bytes())
        .map_err(|_| SandboxError::Message(format!("{}: path contains a NUL byte", p.display())))
}

fn step<T>(what: impl FnOnce() -> String, r: nix::Result<T>) -> Result<T, SandboxError> {
    r.map_err(|e| SandboxError::Step {
        step: what(),
        source: e.into(),
    })
}

fn io_step<T>(what: impl FnOnce() -> String, r: std::io::Result<T>) -> Result<T, SandboxError> {
    r.map_err(|source| SandboxError::Step {
        step: what(),
        source,
    })
}

/// A bind's tree: copied by the launcher, or here.
enum Tree<'a> {
    Copied(&'a std::sync::Arc<OwnedFd>),
    Own(OwnedFd),
}

impl Tree<'_> {
    fn fd(&self) -> &OwnedFd {
        match self {
            Tree::Copied(t) => t,
            Tree::Own(t) => t,
        }
    }
}

fn clone_tree(path: &Path) -> Result<OwnedFd, SandboxError> {
    io_step(
        || format!("copying the mount tree at {}", path.display()),
        sys::clone_mount_tree(&cpath(path)?),
    )
}

fn attach(tree: &OwnedFd, target: &Path) -> Result<(), SandboxError> {
    io_step(
        || format!("mounting onto {}", target.display()),
        sys::attach_mount_tree(tree, &cpath(target)?),
    )
}

fn mount_fs(fstype: &str, target: &Path, flags: MsFlags, data: &str) -> nix::Result<()> {
    mount(Some(fstype), target, Some(fstype), flags, Some(data))
}

/// Inside `root` (the staged new root), the path where `p` (absolute) will appear.
fn inside(root: &Path, p: &Path) -> PathBuf {
    root.join(p.strip_prefix("/").unwrap_or(p))
}

/// What `apply` did, for the report, and what it could not do.
#[derive(Debug, Default)]
pub struct MountReport {
    pub applied: Vec<String>,
    pub missing: Vec<String>,
}

/// Builds the new root and pivots into it. Runs in the child, inside the new mount namespace.
pub fn apply(plan: &MountPlan) -> Result<MountReport, SandboxError> {
    let mut report = MountReport::default();
    let ns = MsFlags::MS_NOSUID | MsFlags::MS_NODEV;

    // Nothing we mount may propagate back to the host.
    step(
        || "making / a private mount tree".into(),
        mount(
            None::<&str>,
            "/",
            None::<&str>,
            MsFlags::MS_REC | MsFlags::MS_PRIVATE,
            None::<&str>,
        ),
    )?;

    // Detached copies of every source, before anything is mounted over one of them.
    let root = clone_tree(&plan.root)?;
    io_step(
        || format!("making the copy of {} read-only", plan.root.display()),
        sys::set_tree_attrs(
            &root,
            sys::MOUNT_ATTR_RDONLY | sys::MOUNT_ATTR_NOSUID | sys::MOUNT_ATTR_NODEV,
        ),
    )?;
    let mut devices = Vec::new();
    for name in DEVICES {
        let host = Path::new("/dev").join(name);
        match sys::clone_mount_tree(&cpath(&host)?) {
            Ok(fd) => devices.push((*name, fd)),
            Err(e) => report.missing.push(format!("/dev/{name} ({e})")),
        }
    }
    let mut binds = Vec::new();
    for m in &plan.mounts {
        let Some(src) = &m.source else {
            binds.push(None);
            continue;
        };
        binds.push(Some(match &m.tree {
            Some(t) => Tree::Copied(t),
            None => Tree::Own(bind_tree(m, src)?),
        }));
    }

    let new = plan.staging.as_path();
    attach(&root, new)?;
    report.applied.push(format!(
        "root: {} read-only (recursive, nosuid, nodev)",
        plan.root.display()
    ));
    // Every target below is resolved inside the new root, and mounted through the descriptor
    // that resolution gave.
    let in_root = io_step(
        || format!("opening the new root at {}", new.display()),
        Root::open(new),
    )?;

    // A fresh /proc shows only the new pid namespace. Where the kernel refuses (a /proc with
    // masked paths, as in containers), the read-only copy of the old one stays.
    let proc_dir = inside(new, Path::new("/proc"));
    let mut fresh_proc = false;
    match in_root.system_dir(Path::new("/proc")) {
        Ok(t) => match mount_fs("proc", &t.mount_path(), ns | MsFlags::MS_NOEXEC, "") {
            Ok(()) => {
                fresh_proc = true;
                report
                    .applied
                    .push("/proc: fresh for the new pid namespace".into())
            }
            Err(e) => report
                .missing
                .push(format!("fresh /proc ({e}); the read-only host /proc stays")),
        },
        Err(why) => report.missing.push(format!("fresh /proc ({why})")),
    }

    // Below /dev, /dev/* is our own tmpfs: paths there are ours.
    let dev = inside(new, Path::new("/dev"));
    let dev_target = in_root.system_dir(Path::new("/dev"));
    if let Ok(t) = &dev_target {
        step(
            || format!("mounting a tmpfs on {}", dev.display()),
            mount_fs(
                "tmpfs",
                &t.mount_path(),
                MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
                "mode=0755,size=512k",
            ),
        )?;
        for (name, fd) in &devices {
            let node = dev.join(name);
            io_step(
                || format!("creating {}", node.display()),
                std::fs::File::create(&node),
            )?;
            attach(fd, &node)?;
        }
        for (link, to) in [
            ("fd", "/proc/self/fd"),
            ("stdin", "/proc/self/fd/0"),
            ("stdout", "/proc/self/fd/1"),
            ("stderr", "/proc/self/fd/2"),
            ("ptmx", "pts/ptmx"),
        ] {
            io_step(
                || format!("creating /dev/{link}"),
                std::os::unix::fs::symlink(to, dev.join(link)),
            )?;
        }
        let pts = dev.join("pts");
        let shm = dev.join("shm");
        io_step(|| "creating /dev/pts".into(), std::fs::create_dir(&pts))?;
        io_step(|| "creating /dev/shm".into(), std::fs::create_dir(&shm))?;
        if let Err(e) = mount_fs(
            "devpts",
            &pts,
            MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
            "newinstance,ptmxmode=0666,mode=620",
        ) {
            report.missing.push(format!("/dev/pts ({e})"));
        }
        step(
            || "mounting a tmpfs on /dev/shm".into(),
            mount_fs("tmpfs", &shm, ns, "mode=1777"),
        )?;
        report.applied.push(format!(
            "/dev: minimal ({}, pts, shm)",
            devices.iter().map(|d| d.0).collect::<Vec<_>>().join(" ")
        ));
    }
    if let Err(why) = dev_target {
        report.missing.push(format!("minimal /dev ({why})"));
    }

    if fresh_proc {
        // The host's /dev/null (still reachable before the pivot) masks, whatever /dev became.
        harden_proc(&proc_dir, Path::new("/dev/null"), &mut report);
    }

    match in_root.system_dir(Path::new("/tmp")) {
        Ok(t) => {
            step(
                || "mounting a tmpfs on /tmp".into(),
                mount_fs("tmpfs", &t.mount_path(), ns, "mode=1777"),
            )?;
            report.applied.push("/tmp: fresh tmpfs".into());
        }
        Err(why) => report.missing.push(format!("tmpfs /tmp ({why})")),
    }

    let mut placeholders = Vec::new();
    for (m, tree) in plan.mounts.iter().zip(&binds) {
        let target = io_step(
            || {
                format!(
                    "{} {}: its mount point in the new root",
                    m.flag,
                    m.target.display()
                )
            },
            in_root.user_target(&m.target, m.is_dir),
        )?;
        match tree {
            Some(tree) => io_step(
                || format!("{} {}: mounting", m.flag, m.target.display()),
                sys::attach_mount_tree_at(tree.fd(), target.fd()),
            )?,
            None => step(
                || format!("{} {}", m.flag, m.target.display()),
                mount_fs(
                    "tmpfs",
                    &target.mount_path(),
                    ns,
                    if m.flag == UNSEARCHABLE {
                        "mode=0755"
                    } else {
                        "mode=1777"
                    },
                ),
            )?,
        }
        if m.flag == UNSEARCHABLE {
            placeholders.push(&m.target);
        }
        if m.flag == WORKDIR || m.flag == UNSEARCHABLE {
            // Said by the launcher, with why.
            continue;
        }
        report.applied.push(if target.in_root == m.target {
            format!("{} {}", m.flag, m.target.display())
        } else {
            format!(
                "{} {} (a symlink in the root: mounted on {})",
                m.flag,
                m.target.display(),
                target.in_root.display()
            )
        });
    }

    // A placeholder tmpfs holds its mount points and nothing else: read-only like the root it
    // stands in, once they exist (resolved again: the first descriptor is the directory below).
    for t in placeholders {
        let top = io_step(
            || format!("{UNSEARCHABLE} {}: its mount in the new root", t.display()),
            in_root.user_target(t, true),
        )?;
        step(
            || format!("{UNSEARCHABLE} {}: making it read-only", t.display()),
            mount(
                None::<&str>,
                &top.mount_path(),
                None::<&str>,
                MsFlags::MS_REMOUNT
                    | MsFlags::MS_BIND
                    | MsFlags::MS_RDONLY
                    | MsFlags::MS_NOSUID
                    | MsFlags::MS_NODEV,
                None::<&str>,
            ),
        )?;
    }

    // Enter the new root; the old one is detached so nothing outside stays reachable.
    step(
        || format!("chdir {}", new.display()),
        nix::unistd::chdir(new),
    )?;
    step(|| "pivot_root".into(), nix::unistd::pivot_root(".", "."))?;
    step(
        || "detaching the old root".into(),
        umount2(".", MntFlags::MNT_DETACH),
    )?;
    step(|| "chdir /".into(), nix::unistd::chdir("/"))?;
    Ok(report)
}

/// Files of a fresh /proc that leak host-wide information (Docker masks the same).
const PROC_MASKED_FILES: &[&str] = &[
    "kcore",
    "keys",
    "latency_stats",
    "timer_list",
    "timer_stats",
    "sched_debug",
];
const PROC_MASKED_DIRS: &[&str] = &["acpi", "asound", "scsi"];
/// Parts of /proc that change kernel state: read-only.
const PROC_READ_ONLY: &[&str] = &["bus", "fs", "irq", "sys", "sysrq-trigger"];

/// Masks and write-protects /proc as Docker does: a fresh /proc shows the new pid namespace's
/// processes but still the host's kernel interfaces.
fn harden_proc(proc_dir: &Path, dev_null: &Path, report: &mut MountReport) {
    let mut failed = Vec::new();
    for f in PROC_MASKED_FILES {
        let target = proc_dir.join(f);
        if target.exists()
            && mount(
                Some(dev_null),
                &target,
                None::<&str>,
                MsFlags::MS_BIND,
                None::<&str>,
            )
            .is_err()
        {
            failed.push(format!("/proc/{f}"));
        }
    }
    for d in PROC_MASKED_DIRS {
        let target = proc_dir.join(d);
        if target.is_dir()
            && mount_fs(
                "tmpfs",
                &target,
                MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
                "size=0",
            )
            .is_err()
        {
            failed.push(format!("/proc/{d}"));
        }
    }
    let flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    for p in PROC_READ_ONLY {
        let target = proc_dir.join(p);
        let done = target.exists()
            && mount(
                Some(&target),
                &target,
                None::<&str>,
                MsFlags::MS_BIND | MsFlags::MS_REC,
                None::<&str>,
            )
            .is_ok()
            && mount(
                None::<&str>,
                &target,
                None::<&str>,
                MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | flags,
                None::<&str>,
            )
            .is_ok();
        if target.exists() && !done {
            failed.push(format!("/proc/{p} read-only"));
        }
    }
    if failed.is_empty() {
        report.applied.push(
            "/proc: kcore, keys, timer_list... masked; sys, sysrq-trigger, irq, bus, fs read-only"
                .into(),
        );
    } else {
        report
            .missing
            .push(format!("/proc hardening ({})", failed.join(", ")));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_orders_parents_first_and_names_missing_paths() {
        let p = plan(
            None,
            &[
                UserMount::Tmpfs {
                    path: "/a/b/c".into(),
                },
                UserMount::Tmpfs { path: "/a".into() },
            ],
            None,
        )
        .unwrap();
        assert_eq!(p.mounts[0].target, PathBuf::from("/a"));
        let err = plan(
            None,
            &[UserMount::Bind {
                path: "/no/such/dir".into(),
                readonly: false,
            }],
            None,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("--rw /no/such/dir"), "{err}");
        let err = plan(Some(Path::new("/no/such/root")), &[], None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("--rootfs /no/such/root"), "{err}");
        let err = plan(None, &[UserMount::Tmpfs { path: "rel".into() }], None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("absolute"), "{err}");
    }

    #[test]
    fn normalise_removes_dots() {
        assert_eq!(normalise(Path::new("/a/./b/../c")), PathBuf::from("/a/c"));
    }
}
