//! A Landlock ruleset from a recording's file and port facts, and its JSON file format. Pure.
//!
//! Precision follows what Landlock can express and what survives small changes between runs:
//! - executed files: execute (and read) on that file only;
//! - read files: read beneath their directory (a program that read one locale file reads its
//!   siblings on another run); listed directories: read_dir on the directory;
//! - written existing files: write and truncate on that file only;
//! - created or removed files: make/remove (and write) beneath their directory;
//! - TCP ports bound and connected (Landlock ABI 4+).
//!
//! Everything else is denied once the ruleset is enforced (`syscage run --landlock FILE`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::model::Recording;
use crate::model::files::{CREATE, EXEC, READ, READDIR, REMOVE, WRITE};

pub const FORMAT: &str = "syscage-landlock/1";

/// Access rights by their Landlock names (`LANDLOCK_ACCESS_FS_*` in lower case).
pub const ACCESS_NAMES: &[&str] = &[
    "execute",
    "write_file",
    "read_file",
    "read_dir",
    "remove_dir",
    "remove_file",
    "make_char",
    "make_dir",
    "make_reg",
    "make_sock",
    "make_fifo",
    "make_block",
    "make_sym",
    "refer",
    "truncate",
    "ioctl_dev",
];

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PathRule {
    pub path: String,
    pub access: BTreeSet<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ruleset {
    pub format: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub comment: String,
    pub paths: Vec<PathRule>,
    #[serde(default)]
    pub tcp_bind: BTreeSet<u16>,
    #[serde(default)]
    pub tcp_connect: BTreeSet<u16>,
}

fn parent(path: &str) -> String {
    match path.rfind('/') {
        Some(0) | None => "/".into(),
        Some(i) => path[..i].to_string(),
    }
}

/// The ruleset a recording needs.
pub fn from_recording(rec: &Recording) -> Ruleset {
    let mut rules: BTreeMap<String, BTreeSet<&str>> = BTreeMap::new();
    let mut grant = |path: String, rights: &[&'static str]| {
        rules
            .entry(path)
            .or_default()
            .extend(rights.iter().copied());
    };
    for (path, acc) in &rec.files {
        let dev = path.starts_with("/dev/");
        for a in acc {
            match a.as_str() {
                EXEC => grant(path.clone(), &["execute", "read_file"]),
                READ if dev => grant(path.clone(), &["read_file", "ioctl_dev"]),
                READ => grant(parent(path), &["read_file"]),
                READDIR => grant(path.clone(), &["read_dir"]),
                WRITE if dev => grant(path.clone(), &["write_file", "ioctl_dev"]),
                WRITE => grant(path.clone(), &["write_file", "truncate"]),
                CREATE => grant(
                    parent(path),
                    &[
                        "make_reg",
                        "make_dir",
                        "make_sym",
                        "make_sock",
                        "make_fifo",
                        "write_file",
                        "read_file",
                        "truncate",
                        "remove_file",
                    ],
                ),
                REMOVE => grant(parent(path), &["remove_file", "remove_dir"]),
                _ => {}
            }
        }
    }
    // A rule whose rights an ancestor already grants beneath it adds nothing.
    let snapshot = rules.clone();
    rules.retain(|path, rights| {
        let mut p = path.clone();
        while p != "/" {
            p = parent(&p);
            if snapshot.get(&p).is_some_and(|up| rights.is_subset(up)) {
                return false;
            }
        }
        true
    });
    Ruleset {
        format: FORMAT.into(),
        comment: format!(
            "Landlock ruleset recorded by syscage from: {}",
            rec.commands
                .iter()
                .map(|c| c.join(" "))
                .collect::<Vec<_>>()
                .join(" | ")
        ),
        paths: rules
            .into_iter()
            .map(|(path, access)| PathRule {
                path,
                access: access.into_iter().map(str::to_string).collect(),
            })
            .collect(),
        tcp_bind: rec.ports.get("bind").cloned().unwrap_or_default(),
        tcp_connect: rec.ports.get("connect").cloned().unwrap_or_default(),
    }
}

pub fn to_json(r: &Ruleset) -> String {
    let mut s = serde_json::to_string_pretty(r).unwrap_or_default();
    s.push('\n');
    s
}

/// Parses a ruleset file; errors name the file, line and column or the rule at fault.
pub fn parse(bytes: &[u8], path: &Path) -> Result<Ruleset, String> {
    let r: Ruleset = serde_json::from_slice(bytes)
        .map_err(|e| format!("{}:{}:{}: {e}", path.display(), e.line(), e.column()))?;
    if r.format != FORMAT {
        return Err(format!(
            "{}: format \"{}\" is not {FORMAT}",
            path.display(),
            r.format
        ));
    }
    for (i, rule) in r.paths.iter().enumerate() {
        if !rule.path.starts_with('/') {
            return Err(format!(
                "{}: paths[{i}]: \"{}\" is not an absolute path",
                path.display(),
                rule.path
            ));
        }
        if let Some(bad) = rule
            .access
            .iter()
            .find(|a| !ACCESS_NAMES.contains(&a.as_str()))
        {
            return Err(format!(
                "{}: paths[{i}]: unknown access right \"{bad}\" (known: {})",
                path.display(),
                ACCESS_NAMES.join(", ")
            ));
        }
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_follow_what_was_done() {
        let mut rec = Recording::new(vec!["w".into()]);
        let mut f = |p: &str, a: &[&str]| {
            rec.files
                .insert(p.into(), a.iter().map(|s| s.to_string()).collect());
        };
        f("/usr/bin/dash", &[EXEC]);
        f("/usr/lib/x86_64-linux-gnu/libc.so.6", &[READ]);
        f("/usr/lib/x86_64-linux-gnu/libm.so.6", &[READ]);
        f("/var/out/log", &[CREATE, WRITE]);
        f("/dev/null", &[WRITE]);
        f("/usr/lib/x86_64-linux-gnu/sub/x", &[READ]);
        rec.ports.insert("bind".into(), BTreeSet::from([8080]));
        let r = from_recording(&rec);
        let get = |p: &str| {
            r.paths
                .iter()
                .find(|x| x.path == p)
                .map(|x| x.access.iter().map(String::as_str).collect::<Vec<_>>())
        };
        assert_eq!(get("/usr/bin/dash"), Some(vec!["execute", "read_file"]));
        assert_eq!(get("/usr/lib/x86_64-linux-gnu"), Some(vec!["read_file"]));
        assert_eq!(
            get("/usr/lib/x86_64-linux-gnu/sub"),
            None,
            "covered by its parent's rule"
        );
        assert!(get("/var/out").unwrap().contains(&"make_reg"));
        assert_eq!(get("/dev/null"), Some(vec!["ioctl_dev", "write_file"]));
        assert_eq!(r.tcp_bind, BTreeSet::from([8080]));
        let text = to_json(&r);
        assert_eq!(parse(text.as_bytes(), Path::new("l.json")).unwrap(), r);
    }

    #[test]
    fn bad_rulesets_are_named() {
        let e = parse(
            br#"{"format":"syscage-landlock/1","paths":[{"path":"/x","access":["fly"]}]}"#,
            Path::new("l.json"),
        )
        .unwrap_err();
        assert!(e.contains("paths[0]") && e.contains("fly"), "{e}");
        let e = parse(b"{\"format\":", Path::new("l.json")).unwrap_err();
        assert!(e.starts_with("l.json:1:"), "{e}");
        let e = parse(
            br#"{"format":"syscage-landlock/1","paths":[{"path":"rel","access":[]}]}"#,
            Path::new("l.json"),
        )
        .unwrap_err();
        assert!(e.contains("absolute"), "{e}");
    }
}
