//! `--user UID[:GID]` and `--ulimit NAME=SOFT[:HARD]`: who the workload runs as inside the
//! sandbox, and its resource limits. Names are resolved in the sandbox root's `/etc/passwd` and
//! `/etc/group` (the host's, or `--rootfs`'s, opened with `RESOLVE_IN_ROOT` so a symlink in the
//! image cannot point at a host file); the parsing is pure and unit-tested.

use std::ffi::CString;
use std::path::Path;

use super::SandboxError;
use super::sys;

/// The user the workload runs as (ids inside the sandbox's user namespace).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub uid: u32,
    pub gid: u32,
    /// From the passwd entry, when there is one (for HOME).
    pub home: Option<String>,
}

/// One `/etc/passwd` or `/etc/group` entry: name, id, and (passwd) primary gid and home.
fn entries(text: &str) -> impl Iterator<Item = (&str, u32, Option<u32>, Option<&str>)> {
    text.lines().filter_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        let id = f.get(2)?.parse().ok()?;
        Some((
            *f.first()?,
            id,
            f.get(3).and_then(|g| g.parse().ok()),
            f.get(5).copied(),
        ))
    })
}

fn numeric(s: &str) -> Option<u32> {
    s.parse()
        .ok()
        .filter(|_| s.bytes().all(|b| b.is_ascii_digit()))
}

/// Resolves `spec` (`UID`, `NAME`, `UID:GID`, `NAME:GROUP`...) against the texts of
/// `/etc/passwd` and `/etc/group`. A user without a passwd entry and no group given gets its
/// uid as gid (never root's group by accident).
pub fn resolve_user(spec: &str, passwd: &str, group: &str) -> Result<User, String> {
    let (u, g) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    if u.is_empty() || g == Some("") {
        return Err(format!(
            "--user {spec:?}: expected UID[:GID] or NAME[:GROUP]"
        ));
    }
    let entry =
        match numeric(u) {
            Some(uid) => entries(passwd).find(|e| e.1 == uid),
            None => Some(entries(passwd).find(|e| e.0 == u).ok_or_else(|| {
                format!("--user {spec}: no user {u:?} in the sandbox's /etc/passwd")
            })?),
        };
    let uid = numeric(u).or(entry.map(|e| e.1)).unwrap_or(0);
    let gid = match g {
        Some(g) => match numeric(g) {
            Some(gid) => gid,
            None => entries(group)
                .find(|e| e.0 == g)
                .map(|e| e.1)
                .ok_or_else(|| {
                    format!("--user {spec}: no group {g:?} in the sandbox's /etc/group")
                })?,
        },
        None => entry.and_then(|e| e.2).unwrap_or(uid),
    };
    Ok(User {
        uid,
        gid,
        home: entry.and_then(|e| e.3).map(str::to_string),
    })
}

/// Reads `etc/NAME` inside the sandbox root `root`, resolved as if `root` were `/`. A missing
/// file reads as empty.
fn read_in_root(root: &Path, name: &str) -> Result<String, SandboxError> {
    let dir = std::fs::File::open(root).map_err(|source| SandboxError::Step {
        step: format!("opening the sandbox root {}", root.display()),
        source,
    })?;
    let rel = CString::new(format!("etc/{name}")).unwrap_or_default();
    match sys::openat2(
        &dir,
        &rel,
        libc::O_RDONLY | libc::O_NONBLOCK,
        0,
        libc::RESOLVE_IN_ROOT,
    ) {
        Ok(fd) => {
            let mut text = String::new();
            std::io::Read::read_to_string(
                &mut std::io::Read::take(std::fs::File::from(fd), 16 << 20),
                &mut text,
            )
            .map_err(|source| SandboxError::Step {
                step: format!("reading {}/etc/{name}", root.display()),
                source,
            })?;
            Ok(text)
        }
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(String::new()),
        Err(source) => Err(SandboxError::Step {
            step: format!("opening {}/etc/{name}", root.display()),
            source,
        }),
    }
}

/// `--user SPEC` resolved in the sandbox root.
pub fn user(spec: &str, root: &Path) -> Result<User, SandboxError> {
    let passwd = read_in_root(root, "passwd")?;
    let group = read_in_root(root, "group")?;
    resolve_user(spec, &passwd, &group).map_err(SandboxError::Message)
}

/// One `--ulimit`: the resource and its soft and hard values (`u64::MAX` is unlimited).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ulimit {
    pub name: &'static str,
    pub resource: super::sys::RlimitResource,
    pub soft: u64,
    pub hard: u64,
}

/// Docker's names for `--ulimit`.
const RESOURCES: &[(&str, super::sys::RlimitResource)] = &[
    ("as", libc::RLIMIT_AS),
    ("core", libc::RLIMIT_CORE),
    ("cpu", libc::RLIMIT_CPU),
    ("data", libc::RLIMIT_DATA),
    ("fsize", libc::RLIMIT_FSIZE),
    ("locks", libc::RLIMIT_LOCKS),
    ("memlock", libc::RLIMIT_MEMLOCK),
    ("msgqueue", libc::RLIMIT_MSGQUEUE),
    ("nice", libc::RLIMIT_NICE),
    ("nofile", libc::RLIMIT_NOFILE),
    ("nproc", libc::RLIMIT_NPROC),
    ("rss", libc::RLIMIT_RSS),
    ("rtprio", libc::RLIMIT_RTPRIO),
    ("rttime", libc::RLIMIT_RTTIME),
    ("sigpending", libc::RLIMIT_SIGPENDING),
    ("stack", libc::RLIMIT_STACK),
];

fn limit_value(spec: &str, v: &str) -> Result<u64, String> {
    match v {
        "unlimited" | "-1" => Ok(u64::MAX),
        _ => numeric(v)
            .map(u64::from)
            .or_else(|| {
                v.parse::<u64>()
                    .ok()
                    .filter(|_| v.bytes().all(|b| b.is_ascii_digit()))
            })
            .ok_or_else(|| format!("--ulimit {spec}: {v:?} is not a number or \"unlimited\"")),
    }
}

/// Parses `NAME=SOFT[:HARD]` (the hard limit defaults to the soft one, as in Docker).
pub fn parse_ulimit(spec: &str) -> Result<Ulimit, String> {
    let (name, values) = spec
        .split_once('=')
        .ok_or_else(|| format!("--ulimit {spec}: expected NAME=SOFT[:HARD]"))?;
    let &(name, resource) = RESOURCES.iter().find(|(n, _)| *n == name).ok_or_else(|| {
        format!(
            "--ulimit {spec}: unknown limit {name:?} (one of {})",
            RESOURCES.iter().map(|r| r.0).collect::<Vec<_>>().join(", ")
        )
    })?;
    let (soft, hard) = match values.split_once(':') {
        Some((s, h)) => (limit_value(spec, s)?, limit_value(spec, h)?),
        None => {
            let v = limit_value(spec, values)?;
            (v, v)
        }
    };
    if soft > hard {
        return Err(format!(
            "--ulimit {spec}: the soft limit is above the hard one"
        ));
    }
    Ok(Ulimit {
        name,
        resource,
        soft,
        hard,
    })
}

/// Fails now, before any namespace exists, for a hard limit that could not be set later: raising
/// one needs CAP_SYS_RESOURCE, which is tried on syscage's own process (harmless: it only raises
/// what syscage itself may use). Lowering always works.
pub fn check_ulimits(limits: &[Ulimit]) -> Result<(), String> {
    for l in limits {
        let (soft, hard) = sys::get_rlimit(l.resource)
            .map_err(|e| format!("--ulimit {}: getrlimit: {e}", l.name))?;
        if l.hard > hard {
            sys::set_rlimit(l.resource, soft.min(hard), l.hard).map_err(|e| {
                format!(
                    "--ulimit {}: cannot raise the hard limit from {hard} to {}: {e} (needs CAP_SYS_RESOURCE on the host)",
                    l.name, l.hard
                )
            })?;
        }
    }
    Ok(())
}

/// Applies the limits to the calling process (the workload, before exec).
pub fn apply_ulimits(limits: &[Ulimit]) -> Result<(), String> {
    for l in limits {
        sys::set_rlimit(l.resource, l.soft, l.hard).map_err(|e| {
            let hint = if e.raw_os_error() == Some(libc::EPERM) {
                " (raising a hard limit needs CAP_SYS_RESOURCE on the host)"
            } else {
                ""
            };
            format!("--ulimit {}: setrlimit: {e}{hint}", l.name)
        })?;
    }
    Ok(())
}

/// Switches the calling process (root in the sandbox, before its capabilities are dropped) to
/// `user`, with no supplementary groups. With `keep_caps` the permitted set survives the switch.
pub fn switch_to(user: &User, keep_caps: bool) -> Result<(), String> {
    if keep_caps {
        nix::sys::prctl::set_keepcaps(true).map_err(|e| format!("PR_SET_KEEPCAPS: {e}"))?;
    }
    // EPERM after `setgroups deny` (an unprivileged caller without subordinate ids): the
    // sandbox then has no group to drop but the caller's own.
    match nix::unistd::setgroups(&[]) {
        Ok(()) | Err(nix::errno::Errno::EPERM) => {}
        Err(e) => return Err(format!("--user: setgroups([]): {e}")),
    }
    let unmapped = |what: &str, id: u32, e: nix::errno::Errno| {
        if e == nix::errno::Errno::EINVAL {
            format!(
                "--user: {what} {id} is not mapped in the sandbox's user namespace (see `syscage run -v`)"
            )
        } else {
            format!("--user: set{what}({id}): {e}")
        }
    };
    let g = nix::unistd::Gid::from_raw(user.gid);
    nix::unistd::setresgid(g, g, g).map_err(|e| unmapped("gid", user.gid, e))?;
    let u = nix::unistd::Uid::from_raw(user.uid);
    nix::unistd::setresuid(u, u, u).map_err(|e| unmapped("uid", user.uid, e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\napp:x:1000:1001::/home/app:/bin/sh\nbroken line\n";
    const GROUP: &str = "root:x:0:\nnogroup:x:65534:\nstaff:x:50:app\napp:x:1001:\n";

    fn u(spec: &str) -> Result<(u32, u32, Option<String>), String> {
        resolve_user(spec, PASSWD, GROUP).map(|u| (u.uid, u.gid, u.home))
    }

    #[test]
    fn users_by_name_and_number() {
        assert_eq!(u("app").unwrap(), (1000, 1001, Some("/home/app".into())));
        assert_eq!(u("1000").unwrap(), (1000, 1001, Some("/home/app".into())));
        assert_eq!(u("app:staff").unwrap().1, 50);
        assert_eq!(
            u("nobody:0").unwrap(),
            (65534, 0, Some("/nonexistent".into()))
        );
        assert_eq!(
            u("4242").unwrap(),
            (4242, 4242, None),
            "no entry: its own gid, not root's"
        );
        assert_eq!(u("4242:7").unwrap().1, 7);
        assert!(u("ghost").unwrap_err().contains("no user \"ghost\""));
        assert!(u("app:ghosts").unwrap_err().contains("no group"));
        for bad in ["", ":1", "1:", "-1"] {
            assert!(u(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn ulimits_in_dockers_spelling() {
        let l = parse_ulimit("nofile=256:512").unwrap();
        assert_eq!((l.name, l.soft, l.hard), ("nofile", 256, 512));
        let l = parse_ulimit("core=0").unwrap();
        assert_eq!((l.soft, l.hard), (0, 0));
        assert_eq!(parse_ulimit("stack=unlimited").unwrap().hard, u64::MAX);
        for bad in [
            "nofile",
            "fly=1",
            "nofile=x",
            "nofile=10:5",
            "nofile=1:2:3",
            "nofile=-5",
        ] {
            assert!(parse_ulimit(bad).is_err(), "{bad:?}");
        }
    }
}
