//! Which objects the dynamic loader maps for a program, found as it finds them: the program
//! interpreter, DT_NEEDED breadth first with DT_RPATH / DT_RUNPATH (`$ORIGIN`), the root's
//! `/etc/ld.so.cache`, then the default directories. Paths are the loader's, inside the analysed
//! root; symlinks are followed inside that root, never out of it.

use std::path::{Path, PathBuf};

/// Where the x86_64 loader looks last (glibc's system directories on a multiarch Debian).
pub const DEFAULT_DIRS: &[&str] = &[
    "/lib/x86_64-linux-gnu",
    "/usr/lib/x86_64-linux-gnu",
    "/lib64",
    "/usr/lib64",
    "/lib",
    "/usr/lib",
];

/// Largest object read: beyond it the file is refused, not mapped whole into memory.
pub const MAX_OBJECT: u64 = 1 << 30;
/// A cache of every library of a large distribution is a few hundred kilobytes.
const MAX_LD_SO_CACHE: u64 = 64 << 20;

/// The analysed filesystem: `/`, an unpacked image, or a bundle's rootfs.
#[derive(Debug, Clone)]
pub struct Root {
    pub dir: PathBuf,
    cache: Vec<(String, String)>,
}

impl Root {
    pub fn new(dir: &Path) -> Root {
        let mut r = Root {
            dir: dir.to_path_buf(),
            cache: Vec::new(),
        };
        if let Some(host) = r.host("/etc/ld.so.cache")
            && let Ok(bytes) = super::rootfile::read(&host, MAX_LD_SO_CACHE)
        {
            r.cache = parse_ld_so_cache(&bytes);
        }
        r
    }

    /// The host path of `path` (absolute, inside the root), its symlinks resolved inside the
    /// root; `None` when it does not exist.
    pub fn host(&self, path: &str) -> Option<PathBuf> {
        self.resolve(path).map(|p| self.on_host(&p))
    }

    fn on_host(&self, p: &str) -> PathBuf {
        self.dir.join(p.trim_start_matches('/'))
    }

    /// `path` with every symlink resolved inside the root (as a chroot would), or `None`.
    pub fn resolve(&self, path: &str) -> Option<String> {
        let mut todo: Vec<String> = path
            .split('/')
            .filter(|c| !c.is_empty())
            .map(str::to_string)
            .rev()
            .collect();
        let mut done: Vec<String> = Vec::new();
        let mut hops = 0;
        while let Some(c) = todo.pop() {
            match c.as_str() {
                "." => continue,
                ".." => {
                    done.pop();
                    continue;
                }
                _ => {}
            }
            let cand = format!(
                "/{}",
                [done.join("/"), c.clone()]
                    .join("/")
                    .trim_start_matches('/')
            );
            let host = self.on_host(&cand);
            let meta = std::fs::symlink_metadata(&host).ok()?;
            if meta.file_type().is_symlink() {
                hops += 1;
                if hops > 40 {
                    return None;
                }
                let target = std::fs::read_link(&host).ok()?;
                let t = target.to_string_lossy();
                if t.starts_with('/') {
                    done.clear();
                }
                for part in t.split('/').filter(|p| !p.is_empty()).rev() {
                    todo.push(part.to_string());
                }
            } else {
                done.push(c);
            }
        }
        Some(format!("/{}", done.join("/")))
    }

    /// Finds library `name` needed by the object at `from` (its path in the root), with that
    /// object's and the program's search paths, as the loader would.
    pub fn find_library(
        &self,
        name: &str,
        from: &str,
        rpath: &[String],
        runpath: &[String],
    ) -> Option<String> {
        if name.contains('/') {
            let p = if name.starts_with('/') {
                name.to_string()
            } else {
                format!("{}/{name}", parent(from))
            };
            return self.is_file(&p).then_some(p);
        }
        let origin = parent(from);
        let expand = |d: &str| {
            d.replace("${ORIGIN}", &origin)
                .replace("$ORIGIN", &origin)
                .replace("${LIB}", "lib/x86_64-linux-gnu")
                .replace("$LIB", "lib/x86_64-linux-gnu")
                .replace("${PLATFORM}", "x86_64")
                .replace("$PLATFORM", "x86_64")
        };
        // DT_RPATH counts only without DT_RUNPATH.
        let dirs: Vec<String> = if runpath.is_empty() {
            rpath.iter().map(|d| expand(d)).collect()
        } else {
            runpath.iter().map(|d| expand(d)).collect()
        };
        for d in dirs.iter().filter(|d| !d.is_empty()) {
            let p = format!("{}/{name}", d.trim_end_matches('/'));
            if self.is_file(&p) {
                return Some(p);
            }
        }
        if let Some((_, p)) = self.cache.iter().find(|(k, _)| k == name)
            && self.is_file(p)
        {
            return Some(p.clone());
        }
        DEFAULT_DIRS
            .iter()
            .map(|d| format!("{d}/{name}"))
            .find(|p| self.is_file(p))
    }

    fn is_file(&self, p: &str) -> bool {
        self.host(p).is_some_and(|h| h.is_file())
    }

    /// A program named without a `/`, looked up in the usual PATH of the root.
    pub fn which(&self, name: &str) -> Option<String> {
        [
            "/usr/local/sbin",
            "/usr/local/bin",
            "/usr/sbin",
            "/usr/bin",
            "/sbin",
            "/bin",
        ]
        .iter()
        .map(|d| format!("{d}/{name}"))
        .find(|p| self.is_file(p))
    }
}

/// An object's DT_RPATH entries with `$ORIGIN` made the directory of that object (at `path`):
/// the program's RPATH is searched for every object without a DT_RUNPATH, but its `$ORIGIN`
/// stays the program's directory.
pub fn with_origin(dirs: &[String], path: &str) -> Vec<String> {
    let origin = parent(path);
    dirs.iter()
        .map(|d| d.replace("${ORIGIN}", &origin).replace("$ORIGIN", &origin))
        .collect()
}

fn parent(p: &str) -> String {
    match p.rfind('/') {
        Some(0) | None => "/".into(),
        Some(i) => p[..i].to_string(),
    }
}

/// The x86_64 entries of glibc's `/etc/ld.so.cache` (the "glibc-ld.so.cache1.1" format, after
/// the old one when both are present): (library name, path), in the file's order.
pub fn parse_ld_so_cache(bytes: &[u8]) -> Vec<(String, String)> {
    const OLD: &[u8] = b"ld.so-1.7.0";
    const NEW: &[u8] = b"glibc-ld.so.cache1.1";
    let u32_at = |b: &[u8], o: usize| -> Option<u32> {
        Some(u32::from_le_bytes(b.get(o..o + 4)?.try_into().ok()?))
    };
    let mut base = 0usize;
    if bytes.starts_with(OLD) {
        let Some(n) = u32_at(bytes, 12) else {
            return Vec::new();
        };
        base = (16 + n as usize * 12 + 7) & !7;
    }
    let Some(b) = bytes.get(base..) else {
        return Vec::new();
    };
    if !b.starts_with(NEW) {
        return Vec::new();
    }
    let Some(nlibs) = u32_at(b, 20) else {
        return Vec::new();
    };
    let string = |off: u32| -> Option<String> {
        // Offsets count from the new header.
        let s = b.get(off as usize..)?;
        let end = s.iter().position(|c| *c == 0)?;
        std::str::from_utf8(&s[..end]).ok().map(str::to_string)
    };
    let mut out = Vec::new();
    for i in 0..(nlibs as usize).min(1 << 20) {
        let o = 48 + i * 24;
        let (Some(flags), Some(key), Some(value)) =
            (u32_at(b, o), u32_at(b, o + 4), u32_at(b, o + 8))
        else {
            break;
        };
        // FLAG_ELF_LIBC6 with FLAG_X8664_LIB64.
        if flags & 0xff != 3 || flags & 0xff00 != 0x0300 {
            continue;
        }
        if let (Some(k), Some(v)) = (string(key), string(value)) {
            out.push((k, v));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_machines_cache_agrees_with_ldconfig() {
        let bytes = std::fs::read("/etc/ld.so.cache").expect("/etc/ld.so.cache");
        let entries = parse_ld_so_cache(&bytes);
        let libc = entries
            .iter()
            .find(|(k, _)| k == "libc.so.6")
            .expect("libc.so.6 in the cache");
        assert!(libc.1.ends_with("/libc.so.6"), "{libc:?}");
        let out = std::process::Command::new("ldconfig")
            .arg("-p")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let listed = text.lines().filter(|l| l.contains("x86-64")).count();
        assert_eq!(entries.len(), listed, "{text}");
    }

    #[test]
    fn symlinks_resolve_inside_the_root() {
        let r = Root::new(Path::new("/"));
        let sh = r.resolve("/bin/sh").unwrap();
        assert_eq!(Path::new(&sh), std::fs::canonicalize("/bin/sh").unwrap());
        assert_eq!(r.resolve("/nonexistent/x"), None);
    }
}
