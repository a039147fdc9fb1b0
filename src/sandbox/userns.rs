//! User-namespace id maps. Root inside the sandbox always maps to an unprivileged host id:
//! a 65536-id range when root invokes syscage (like Docker's userns-remap, so programs can still
//! switch users), otherwise the caller itself or, through newuidmap, its `/etc/subuid` range.

use std::path::Path;
use std::process::Command;

use super::SandboxError;

/// Host id where root's 65536-id range starts unless `--userns-base` or an `/etc/subuid` entry
/// for a user named `syscage` says otherwise. Far above any real account.
pub const DEFAULT_BASE: u32 = 1_000_000_000;
pub const RANGE: u32 = 65536;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdMap {
    /// Invoked by root: ids 0..count inside are host ids base..base+count.
    Range { base: u32, count: u32 },
    /// An unprivileged caller with subordinate ids: 0 is the caller, 1.. the subordinate range.
    Subordinate {
        uid: u32,
        gid: u32,
        sub_uid: (u32, u32),
        sub_gid: (u32, u32),
    },
    /// An unprivileged caller without subordinate ids: 0 is the caller, nothing else is mapped.
    Caller { uid: u32, gid: u32 },
}

impl IdMap {
    pub fn describe(&self) -> String {
        match self {
            IdMap::Range { base, count } => format!("root → host uid/gid {base} ({count} ids)"),
            IdMap::Subordinate { uid, sub_uid, .. } => format!(
                "root → host uid {uid}, 1..{} → subordinate ids from {}",
                sub_uid.1, sub_uid.0
            ),
            IdMap::Caller { uid, gid } => format!("root → host uid {uid} / gid {gid} (one id)"),
        }
    }

    /// The ids 0..n mapped inside (uids and gids alike).
    pub fn inside_ids(&self) -> u32 {
        match self {
            IdMap::Range { count, .. } => *count,
            IdMap::Subordinate {
                sub_uid, sub_gid, ..
            } => 1 + sub_uid.1.min(sub_gid.1),
            IdMap::Caller { .. } => 1,
        }
    }

    /// Whether supplementary groups can be cleared inside (not after `setgroups deny`).
    pub fn can_setgroups(&self) -> bool {
        !matches!(self, IdMap::Caller { .. })
    }
}

/// Parses `/etc/subuid`-style text for `name` or numeric `id`: the first `start:count`.
pub fn find_subid(text: &str, name: Option<&str>, id: u32) -> Option<(u32, u32)> {
    text.lines().find_map(|line| {
        let mut f = line.trim().split(':');
        let who = f.next()?;
        let start = f.next()?.parse().ok()?;
        let count: u32 = f.next()?.parse().ok()?;
        let matches = Some(who) == name || who.parse::<u32>().ok() == Some(id);
        (matches && count > 0).then_some((start, count))
    })
}

fn which(tool: &str) -> Option<std::path::PathBuf> {
    ["/usr/bin", "/bin", "/usr/sbin", "/sbin", "/usr/local/bin"]
        .iter()
        .map(|d| Path::new(d).join(tool))
        .find(|p| p.is_file())
}

/// Chooses the map for the calling user.
pub fn plan(base: Option<u32>) -> IdMap {
    let uid = nix::unistd::geteuid().as_raw();
    let gid = nix::unistd::getegid().as_raw();
    let subuid = std::fs::read_to_string("/etc/subuid").unwrap_or_default();
    let subgid = std::fs::read_to_string("/etc/subgid").unwrap_or_default();
    if uid == 0 {
        let base = base
            .or_else(|| find_subid(&subuid, Some("syscage"), u32::MAX).map(|r| r.0))
            .unwrap_or(DEFAULT_BASE);
        return IdMap::Range { base, count: RANGE };
    }
    let name = nix::unistd::User::from_uid(uid.into())
        .ok()
        .flatten()
        .map(|u| u.name);
    let sub_uid = find_subid(&subuid, name.as_deref(), uid);
    let sub_gid = find_subid(&subgid, name.as_deref(), uid);
    match (sub_uid, sub_gid, which("newuidmap"), which("newgidmap")) {
        (Some(su), Some(sg), Some(_), Some(_)) => IdMap::Subordinate {
            uid,
            gid,
            sub_uid: (su.0, su.1.min(RANGE - 1)),
            sub_gid: (sg.0, sg.1.min(RANGE - 1)),
        },
        _ => IdMap::Caller { uid, gid },
    }
}

fn write_proc(pid: i32, file: &str, text: &str) -> Result<(), SandboxError> {
    let path = format!("/proc/{pid}/{file}");
    std::fs::write(&path, text).map_err(|source| SandboxError::Step {
        step: format!("writing \"{}\" to {path}", text.trim()),
        source,
    })
}

fn run_helper(tool: &str, pid: i32, own: u32, sub: (u32, u32)) -> Result<(), SandboxError> {
    let out = Command::new(which(tool).unwrap_or_else(|| tool.into()))
        .args([pid, 0, own as i32, 1, 1, sub.0 as i32, sub.1 as i32].map(|v| v.to_string()))
        .output()
        .map_err(|source| SandboxError::Step {
            step: format!("running {tool}"),
            source,
        })?;
    if !out.status.success() {
        return Err(SandboxError::Message(format!(
            "{tool} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}

/// Writes the maps of the child `pid`. Falls back to mapping only the caller when the planned map
/// is refused (root inside a container whose own map lacks the range, a broken newuidmap), and
/// returns the map that was actually written plus a note about the fallback.
pub fn write(pid: i32, plan: &IdMap) -> Result<(IdMap, Option<String>), SandboxError> {
    let first = match plan {
        IdMap::Range { base, count } => write_proc(pid, "uid_map", &format!("0 {base} {count}\n"))
            .and_then(|_| write_proc(pid, "gid_map", &format!("0 {base} {count}\n"))),
        IdMap::Subordinate {
            uid,
            gid,
            sub_uid,
            sub_gid,
        } => run_helper("newuidmap", pid, *uid, *sub_uid)
            .and_then(|_| run_helper("newgidmap", pid, *gid, *sub_gid)),
        IdMap::Caller { uid, gid } => return write_caller(pid, *uid, *gid).map(|m| (m, None)),
    };
    match first {
        Ok(()) => Ok((plan.clone(), None)),
        // uid_map is written once: a refused write left it empty, so the fallback can still try.
        Err(e) => {
            let uid = nix::unistd::geteuid().as_raw();
            let gid = nix::unistd::getegid().as_raw();
            let map = write_caller(pid, uid, gid)?;
            Ok((
                map,
                Some(format!(
                    "{} not applied ({e}); mapped root to the caller only",
                    plan.describe()
                )),
            ))
        }
    }
}

fn write_caller(pid: i32, uid: u32, gid: u32) -> Result<IdMap, SandboxError> {
    // An unprivileged writer must deny setgroups before gid_map (CVE-2014-8989).
    write_proc(pid, "setgroups", "deny\n")?;
    write_proc(pid, "uid_map", &format!("0 {uid} 1\n"))?;
    write_proc(pid, "gid_map", &format!("0 {gid} 1\n"))?;
    Ok(IdMap::Caller { uid, gid })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subid_lookup_by_name_or_uid() {
        let text = "alice:100000:65536\n1001:200000:1000\nbad line\nzero:5:0\n";
        assert_eq!(find_subid(text, Some("alice"), 7), Some((100000, 65536)));
        assert_eq!(find_subid(text, Some("bob"), 1001), Some((200000, 1000)));
        assert_eq!(find_subid(text, Some("zero"), 9), None);
        assert_eq!(find_subid(text, None, 4), None);
    }
}
