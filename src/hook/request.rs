//! What a container's annotations ask the hook to record, and where: pure, so it is unit-tested
//! and fuzzed without a runtime. The annotations come from whoever can create a container, so
//! every path they name is confined to the output directory the administrator chose: a relative
//! path beneath it (or an absolute one that lies beneath it), without `..`. Symlinks and special
//! files are refused later, by the kernel (`outdir`).

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};

pub const RECORD: &str = "io.syscage.record";
pub const RECORD_APPARMOR: &str = "io.syscage.record.apparmor";
pub const RECORD_LANDLOCK: &str = "io.syscage.record.landlock";
/// The raw recording (`record --recording`), for report, merge and generate.
pub const RECORD_RECORDING: &str = "io.syscage.record.recording";
/// oci-seccomp-bpf-hook's annotation: `of:OUTPUT` or `if:BASELINE;of:OUTPUT`.
pub const TRACE_SYSCALL: &str = "io.containers.trace-syscall";

/// Longest path and name the hook accepts (PATH_MAX and NAME_MAX).
const MAX_PATH: usize = 4096;
const MAX_NAME: usize = 255;

/// One seccomp profile to write: a path relative to the output directory, and the baseline it
/// extends (`if:` of oci-seccomp-bpf-hook's annotation), relative as well.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub annotation: &'static str,
    pub output: PathBuf,
    pub baseline: Option<PathBuf>,
}

/// Everything the annotations ask for. Both recording annotations may be present (both shipped
/// hooks.d files then match): one recorder serves them all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub targets: Vec<Target>,
    pub apparmor: Option<PathBuf>,
    pub landlock: Option<PathBuf>,
    pub recording: Option<PathBuf>,
}

impl Request {
    /// Every output path, for messages and checks.
    pub fn outputs(&self) -> impl Iterator<Item = &Path> {
        self.targets
            .iter()
            .map(|t| t.output.as_path())
            .chain(self.apparmor.as_deref())
            .chain(self.landlock.as_deref())
            .chain(self.recording.as_deref())
    }
}

/// Why the annotations were not acted on; the hook says so and lets the container run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("annotation {key}={value:?}: {reason}")]
pub struct Refusal {
    pub key: String,
    pub value: String,
    pub reason: String,
}

fn refuse(key: &str, value: &str, reason: impl Into<String>) -> Refusal {
    Refusal {
        key: key.to_string(),
        value: value.chars().take(300).collect(),
        reason: reason.into(),
    }
}

/// `value` as a path relative to `output_dir`, or why it cannot be one.
pub fn confine(key: &str, value: &str, output_dir: &Path) -> Result<PathBuf, Refusal> {
    let v = value.trim();
    if v.is_empty() {
        return Err(refuse(key, value, "empty path"));
    }
    if v.len() > MAX_PATH || v.contains('\0') {
        return Err(refuse(key, value, "not a usable path"));
    }
    let p = Path::new(v);
    let rel = if p.is_absolute() {
        p.strip_prefix(output_dir).map_err(|_| {
            refuse(
                key,
                value,
                format!(
                    "outside the hook's output directory {} (name a file relative to it)",
                    output_dir.display()
                ),
            )
        })?
    } else {
        p
    };
    let mut out = PathBuf::new();
    for c in rel.components() {
        match c {
            Component::Normal(n) if n.len() <= MAX_NAME => out.push(n),
            Component::Normal(_) => return Err(refuse(key, value, "a path component is too long")),
            Component::CurDir => {}
            Component::ParentDir => {
                return Err(refuse(key, value, "\"..\" is not allowed in the path"));
            }
            Component::RootDir | Component::Prefix(_) => {
                return Err(refuse(key, value, "not a relative path"));
            }
        }
    }
    if out.as_os_str().is_empty() || v.ends_with('/') {
        return Err(refuse(key, value, "names a directory, not a file"));
    }
    Ok(out)
}

/// Parses the annotations; `None` when the container did not ask to be recorded.
pub fn request(
    annotations: &HashMap<String, String>,
    output_dir: &Path,
) -> Result<Option<Request>, Refusal> {
    let mut targets = Vec::new();
    if let Some(v) = annotations.get(RECORD) {
        targets.push(Target {
            annotation: RECORD,
            output: confine(RECORD, v, output_dir)?,
            baseline: None,
        });
    }
    if let Some(v) = annotations.get(TRACE_SYSCALL) {
        let mut of = None;
        let mut base = None;
        for part in v.split(';').map(str::trim).filter(|p| !p.is_empty()) {
            match part.split_once(':') {
                Some(("of", p)) => of = Some(confine(TRACE_SYSCALL, p, output_dir)?),
                Some(("if", p)) => base = Some(confine(TRACE_SYSCALL, p, output_dir)?),
                _ => {
                    return Err(refuse(
                        TRACE_SYSCALL,
                        v,
                        format!("{part:?} is neither of:PATH nor if:PATH"),
                    ));
                }
            }
        }
        let output = of.ok_or_else(|| refuse(TRACE_SYSCALL, v, "no of:PATH"))?;
        targets.push(Target {
            annotation: TRACE_SYSCALL,
            output,
            baseline: base,
        });
    }
    if targets.is_empty() {
        return Ok(None);
    }
    let opt = |k: &str| {
        annotations
            .get(k)
            .map(|v| confine(k, v, output_dir))
            .transpose()
    };
    let req = Request {
        targets,
        apparmor: opt(RECORD_APPARMOR)?,
        landlock: opt(RECORD_LANDLOCK)?,
        recording: opt(RECORD_RECORDING)?,
    };
    // Two outputs in one file would overwrite each other.
    let mut seen = std::collections::BTreeSet::new();
    for o in req.outputs() {
        if !seen.insert(o) {
            return Err(refuse(
                "annotations",
                &o.display().to_string(),
                "the same file is named for two outputs",
            ));
        }
    }
    Ok(Some(req))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIR: &str = "/var/lib/syscage";

    fn ann(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn req(pairs: &[(&str, &str)]) -> Result<Option<Request>, Refusal> {
        request(&ann(pairs), Path::new(DIR))
    }

    #[test]
    fn annotations_name_files_beneath_the_output_dir() {
        assert_eq!(req(&[]).unwrap(), None);
        let r = req(&[
            (RECORD, "app/p.json"),
            (RECORD_LANDLOCK, "/var/lib/syscage/l.json"),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(r.targets[0].output, PathBuf::from("app/p.json"));
        assert_eq!(r.landlock, Some(PathBuf::from("l.json")));
        let r = req(&[(TRACE_SYSCALL, "if:base.json;of:./out.json")])
            .unwrap()
            .unwrap();
        assert_eq!(
            (&r.targets[0].output, &r.targets[0].baseline),
            (
                &PathBuf::from("out.json"),
                &Some(PathBuf::from("base.json"))
            )
        );
    }

    #[test]
    fn both_annotations_are_served_together() {
        let r = req(&[(RECORD, "a.json"), (TRACE_SYSCALL, "of:b.json")])
            .unwrap()
            .unwrap();
        let outs: Vec<&Path> = r.outputs().collect();
        assert_eq!(outs, [Path::new("a.json"), Path::new("b.json")]);
        assert!(req(&[(RECORD, "a.json"), (TRACE_SYSCALL, "of:a.json")]).is_err());
    }

    #[test]
    fn escapes_and_malformed_values_are_refused() {
        for bad in [
            "/etc/cron.d/victim",
            "/var/lib/syscagex/p.json",
            "../../etc/passwd",
            "a/../../b",
            "a/..",
            "",
            "  ",
            ".",
            "dir/",
            "/var/lib/syscage",
            "/var/lib/syscage/",
            "a\0b",
        ] {
            assert!(req(&[(RECORD, bad)]).is_err(), "{bad:?} accepted");
        }
        assert!(req(&[(TRACE_SYSCALL, "if:base.json")]).is_err());
        assert!(req(&[(TRACE_SYSCALL, "to:x")]).is_err());
        assert!(req(&[(TRACE_SYSCALL, "if:/etc/shadow;of:x.json")]).is_err());
        assert!(req(&[(RECORD, "ok.json"), (RECORD_APPARMOR, "/etc/apparmor.d/x")]).is_err());
        let long = "a".repeat(300);
        assert!(req(&[(RECORD, &long)]).is_err());
        let e = req(&[(RECORD, "/etc/cron.d/victim")])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("io.syscage.record") && e.contains("outside"),
            "{e}"
        );
    }
}
