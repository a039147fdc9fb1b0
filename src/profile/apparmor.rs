//! An AppArmor profile from a recording: file rules from the paths the workload used, network
//! rules from the socket families and types it created, capability rules inferred from the
//! privileged operations it attempted, and `abstractions/base` for the dynamic loader and libc.
//! Pure and deterministic.
//!
//! This kernel has no AppArmor: profiles are checked with `apparmor_parser -Q -K` (syntax and
//! semantics), never enforced here.

use std::collections::{BTreeMap, BTreeSet};

use crate::model::Recording;
use crate::model::args;
use crate::model::files::{CREATE, EXEC, READ, READDIR, REMOVE, WRITE};

/// Address family numbers → AppArmor network domain names.
fn family(n: u64) -> Option<&'static str> {
    Some(match n {
        1 => "unix",
        2 => "inet",
        10 => "inet6",
        16 => "netlink",
        17 => "packet",
        _ => return None,
    })
}

fn sock_type(n: u64) -> Option<&'static str> {
    Some(match n {
        1 => "stream",
        2 => "dgram",
        3 => "raw",
        5 => "seqpacket",
        _ => return None,
    })
}

/// Capabilities a syscall needs when it does something privileged (as root in a container):
/// an inference from syscalls and recorded arguments, not an observation of the kernel's checks.
fn capabilities(rec: &Recording) -> BTreeSet<&'static str> {
    let mut caps = BTreeSet::new();
    for s in &rec.syscalls {
        let cap = match s.name.as_str() {
            "chown" | "fchown" | "lchown" | "fchownat" => Some("chown"),
            "setuid" | "setreuid" | "setresuid" => Some("setuid"),
            "setgid" | "setregid" | "setresgid" | "setgroups" => Some("setgid"),
            "chroot" => Some("sys_chroot"),
            "mount" | "umount2" | "sethostname" | "setdomainname" | "pivot_root" => {
                Some("sys_admin")
            }
            "mknod" | "mknodat" => Some("mknod"),
            "capset" => Some("setpcap"),
            _ => None,
        };
        caps.extend(cap);
        if s.name == "socket"
            && let Some(values) = s.args.get(args::SOCKET)
            && values.iter().any(|v| v & 0xffff_ffff == 3)
        {
            caps.insert("net_raw");
        }
    }
    if rec
        .ports
        .get("bind")
        .is_some_and(|p| p.iter().any(|p| *p != 0 && *p < 1024))
    {
        caps.insert("net_bind_service");
    }
    caps
}

fn quote(path: &str) -> String {
    if path
        .chars()
        .any(|c| c.is_whitespace() || c == '"' || c == '#')
    {
        format!("\"{}\"", path.replace('"', "\\\""))
    } else {
        path.to_string()
    }
}

fn is_library(path: &str) -> bool {
    path.contains(".so") && (path.starts_with("/lib") || path.starts_with("/usr/lib"))
}

/// The profile text. `name` becomes `syscage-<name>`; it attaches to the recorded program.
pub fn profile(rec: &Recording) -> String {
    let program = rec
        .commands
        .first()
        .and_then(|c| c.first())
        .cloned()
        .unwrap_or_else(|| "workload".into());
    let base = program.rsplit('/').next().unwrap_or("workload");
    let name: String = base
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    // The attachment: the first executable the recording saw exec'd under that name, or the
    // command when it is an absolute path. AppArmor attaches only to absolute paths (a bare
    // `redis-server` there is a syntax error): without one, the profile has a name only.
    let attach = rec
        .files
        .iter()
        .find(|(p, a)| a.contains(EXEC) && p.ends_with(&format!("/{base}")))
        .map(|(p, _)| p.clone())
        .or_else(|| program.starts_with('/').then(|| program.clone()));
    // AppArmor attaches to the file the kernel runs: through a symlink, its target.
    let link = attach.as_ref().and_then(|a| {
        rec.started_as
            .iter()
            .find(|(_, given)| given.contains(a))
            .map(|(exe, _)| (a.clone(), exe.clone()))
    });
    let attach = match &link {
        Some((_, exe)) => Some(exe.clone()),
        None => attach,
    };

    let mut rules: BTreeMap<String, BTreeSet<char>> = BTreeMap::new();
    for (path, acc) in &rec.files {
        let is_dir = acc.contains(READDIR);
        let key = if is_dir {
            format!("{}/", path.trim_end_matches('/'))
        } else {
            path.clone()
        };
        let perms = rules.entry(key).or_default();
        for a in acc {
            match a.as_str() {
                READ | READDIR => {
                    perms.insert('r');
                }
                WRITE | CREATE | REMOVE => {
                    perms.insert('w');
                }
                EXEC => {
                    perms.extend(['r', 'i', 'x', 'm']);
                }
                _ => {}
            }
        }
        if is_library(path) {
            perms.extend(['r', 'm']);
        }
    }
    // AppArmor mediates the file a symlink names: its target gets the link's permissions.
    for (exe, given) in &rec.started_as {
        let perms: BTreeSet<char> = given
            .iter()
            .filter_map(|g| rules.get(g))
            .flatten()
            .copied()
            .collect();
        if !perms.is_empty() {
            rules.entry(exe.clone()).or_default().extend(perms);
        }
    }
    let mut net: BTreeSet<String> = BTreeSet::new();
    for s in rec.syscalls.iter().filter(|s| s.name == "socket") {
        for v in s.args.get(args::SOCKET).into_iter().flatten() {
            if let (Some(f), Some(t)) = (family(v >> 32), sock_type(v & 0xffff_ffff)) {
                net.insert(format!("{f} {t}"));
            }
        }
    }
    let mut out = String::new();
    out.push_str(&format!(
        "# AppArmor profile generated by syscage from: {}\n",
        rec.commands
            .iter()
            .map(|c| c.join(" "))
            .collect::<Vec<_>>()
            .join(" | ")
            .replace('\n', " ")
    ));
    out.push_str("# Check with: apparmor_parser -Q -K FILE. Load with: apparmor_parser -r FILE\n");
    out.push_str("abi <abi/3.0>,\n\ninclude <tunables/global>\n\n");
    if let Some((given, exe)) = &link {
        out.push_str(&format!(
            "# Started as {given}, which is {exe}: AppArmor attaches to the file the kernel runs.\n"
        ));
    }
    match &attach {
        Some(a) => out.push_str(&format!(
            "profile syscage-{name} {} flags=(attach_disconnected) {{\n",
            quote(a)
        )),
        None => {
            out.push_str(&format!(
                "# No absolute path of {program:?} was recorded: this profile attaches to no program by\n# itself; name it (aa-exec -p syscage-{name}, a container's apparmor profile).\n"
            ));
            out.push_str(&format!(
                "profile syscage-{name} flags=(attach_disconnected) {{\n"
            ));
        }
    }
    out.push_str("  # the dynamic loader, libc and what every program needs\n");
    out.push_str("  include <abstractions/base>\n\n");
    let caps = capabilities(rec);
    if !caps.is_empty() {
        for c in &caps {
            out.push_str(&format!("  capability {c},\n"));
        }
        out.push('\n');
    }
    for n in &net {
        out.push_str(&format!("  network {n},\n"));
    }
    if !net.is_empty() {
        out.push('\n');
    }
    for (path, perms) in &rules {
        // AppArmor's canonical order: r w m i x (ix = inherit-execute).
        let mut p = String::new();
        for c in ['r', 'w', 'm', 'i', 'x'] {
            if perms.contains(&c) {
                p.push(c);
            }
        }
        out.push_str(&format!("  {} {p},\n", quote(path)));
    }
    out.push_str("}\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_for_files_network_and_caps() {
        let mut rec = Recording::new(vec!["/usr/bin/srv".into(), "--port".into(), "80".into()]);
        let mut f = |p: &str, a: &[&str]| {
            rec.files
                .insert(p.into(), a.iter().map(|s| s.to_string()).collect());
        };
        f("/usr/bin/srv", &[EXEC]);
        f("/usr/lib/x86_64-linux-gnu/libc.so.6", &[READ]);
        f("/var/log/srv.log", &[CREATE, WRITE]);
        f("/etc/srv", &[READDIR]);
        f("/srv data/x", &[READ]);
        rec.ports.insert("bind".into(), BTreeSet::from([80]));
        let mut b = crate::model::recording::Builder::default();
        b.add(crate::model::Abi::X86_64, "socket", 1, "/usr/bin/srv");
        let mut socket = b.finish(vec![]).syscalls.remove(0);
        socket
            .args
            .insert(args::SOCKET.into(), BTreeSet::from([2 << 32 | 1]));
        rec.syscalls.push(socket);
        let text = profile(&rec);
        assert!(
            text.contains("profile syscage-srv /usr/bin/srv flags=(attach_disconnected) {"),
            "{text}"
        );
        assert!(text.contains("  include <abstractions/base>\n"));
        assert!(text.contains("  /usr/bin/srv rmix,\n"), "{text}");
        assert!(text.contains("  /usr/lib/x86_64-linux-gnu/libc.so.6 rm,\n"));
        assert!(text.contains("  /var/log/srv.log w,\n"));
        assert!(text.contains("  /etc/srv/ r,\n"));
        assert!(text.contains("  \"/srv data/x\" r,\n"));
        assert!(text.contains("  network inet stream,\n"));
        assert!(text.contains("  capability net_bind_service,\n"));
        assert_eq!(text, profile(&rec), "deterministic");

        // Started through a symlink: attached to (and allowed) the file the kernel runs.
        rec.started_as.insert(
            "/usr/bin/srv-real".into(),
            BTreeSet::from(["/usr/bin/srv".into()]),
        );
        let text = profile(&rec);
        assert!(
            text.contains("# Started as /usr/bin/srv, which is /usr/bin/srv-real")
                && text.contains(
                    "profile syscage-srv /usr/bin/srv-real flags=(attach_disconnected) {"
                )
                && text.contains("  /usr/bin/srv-real rmix,\n"),
            "{text}"
        );
    }
}
