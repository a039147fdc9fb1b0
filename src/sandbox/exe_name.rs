//! The path a process was started by, for monitor and agent events (`"started_as"` beside
//! `"executable"`, as `record` keeps them). A supervisor sees no exec, so the
//! started-by path is the process's argv[0] (through its PATH when it has no `/`), and is shown
//! only when it names that very file: argv[0] is the process's to write and must never put a
//! false name beside the true one.

use std::path::{Path, PathBuf};

/// The path `pid` was started by, when it names `exe` (from /proc/PID/exe) differently.
pub fn started_by(pid: u32, exe: &str) -> Option<String> {
    if !exe.starts_with('/') {
        return None;
    }
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let argv0 = cmdline.split(|b| *b == 0).next()?;
    let argv0 = std::str::from_utf8(argv0).ok()?;
    if argv0.is_empty() || argv0.len() > 4096 {
        return None;
    }
    let candidates: Vec<PathBuf> = if argv0.contains('/') {
        let base = if argv0.starts_with('/') {
            PathBuf::from("/")
        } else {
            std::fs::read_link(format!("/proc/{pid}/cwd")).ok()?
        };
        vec![lexical_join(&base, argv0)]
    } else {
        search_path(pid)
            .into_iter()
            .map(|d| lexical_join(Path::new(&d), argv0))
            .collect()
    };
    let root = format!("/proc/{pid}/root");
    candidates.into_iter().find_map(|c| {
        let on_disk = format!("{root}{}", c.display());
        let real = std::fs::canonicalize(&on_disk).ok()?;
        let shown = c.to_string_lossy().into_owned();
        (real.ends_with(exe.trim_start_matches('/')) && shown != exe).then_some(shown)
    })
}

/// The process's PATH, or the usual one when it has none (or its environment is unreadable).
fn search_path(pid: u32) -> Vec<String> {
    let env = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
    let path = env
        .split(|b| *b == 0)
        .find_map(|kv| kv.strip_prefix(b"PATH="))
        .and_then(|v| std::str::from_utf8(v).ok())
        .unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    path.split(':')
        .filter(|d| d.starts_with('/'))
        .take(64)
        .map(str::to_string)
        .collect()
}

fn lexical_join(base: &Path, rel: &str) -> PathBuf {
    let mut out = PathBuf::from("/");
    for part in base
        .to_string_lossy()
        .split('/')
        .chain(rel.split('/'))
        .filter(|p| !p.is_empty() && *p != ".")
    {
        if part == ".." {
            out.pop();
        } else {
            out.push(part);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_lexically() {
        assert_eq!(
            lexical_join(Path::new("/a/b"), "../c/./d"),
            PathBuf::from("/a/c/d")
        );
        assert_eq!(lexical_join(Path::new("/"), "/x//y"), PathBuf::from("/x/y"));
    }

    #[test]
    fn a_false_argv0_is_never_shown() {
        // This test process: argv[0] is the test binary itself, which is its exe.
        let me = std::fs::read_link("/proc/self/exe").unwrap();
        let pid = std::process::id();
        assert_eq!(started_by(pid, &me.to_string_lossy()), None);
        // A file argv[0] does not name is never labelled with it.
        assert_eq!(started_by(pid, "/usr/bin/true"), None);
    }
}
