//! A cache of compiled seccomp programs, keyed by everything the program depends on (profile bytes,
//! kept capabilities, kernel version, arch, libseccomp and syscage versions). crun and runc spend
//! 13-17 ms compiling Docker's profile on every start; a hit here costs one small file read.
//!
//! Entries store the full key and are compared byte for byte, so a hash collision can never load
//! the wrong program. The directory and files must belong to the current user and not be writable
//! by anyone else, or the cache is ignored: a swapped program would be a swapped policy.
//! Every failure here just means "compile again"; the cache is never required.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::PathBuf;

use super::compiled::CompiledFilter;

const MAGIC: &[u8] = b"SYSCAGE-BPF-2\n";
/// Entries kept; the least recently written go first (every syscage build has its own keys).
const KEEP: usize = 64;
/// Upper bound on an entry: 4096 BPF instructions is the kernel's limit per program.
const MAX_ENTRY: u64 = 16 << 20;

/// Identifies this build of syscage (its executable's size and modification time), so that a
/// rebuilt binary never trusts programs compiled by an older resolver or compiler.
pub fn build_id() -> Vec<u8> {
    std::fs::metadata("/proc/self/exe")
        .map(|m| format!("{}:{}:{}", m.len(), m.mtime(), m.mtime_nsec()).into_bytes())
        .unwrap_or_default()
}

/// Joins key parts with length prefixes so that distinct part lists never give the same key.
pub fn key(parts: &[&[u8]]) -> Vec<u8> {
    let mut k = Vec::new();
    for p in parts {
        put(&mut k, p);
    }
    k
}

fn fnv1a(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// `$SYSCAGE_CACHE_DIR`, else `$XDG_CACHE_HOME/syscage`, else `$HOME/.cache/syscage`.
pub fn dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("SYSCAGE_CACHE_DIR") {
        return (!d.is_empty()).then(|| PathBuf::from(d));
    }
    if let Some(x) = std::env::var_os("XDG_CACHE_HOME").filter(|x| !x.is_empty()) {
        return Some(PathBuf::from(x).join("syscage"));
    }
    let home = std::env::var_os("HOME").filter(|h| !h.is_empty())?;
    Some(PathBuf::from(home).join(".cache/syscage"))
}

/// Ours alone: owned by the effective uid, writable by no group or other.
pub(crate) fn trusted(meta: &fs::Metadata) -> bool {
    meta.uid() == nix::unistd::geteuid().as_raw() && meta.mode() & 0o022 == 0
}

fn entry_path(key: &[u8]) -> Option<PathBuf> {
    let dir = dir()?;
    let meta = fs::symlink_metadata(&dir).ok()?;
    if !meta.is_dir() || !trusted(&meta) {
        return None;
    }
    Some(dir.join(format!("{:016x}.bpf", fnv1a(key))))
}

pub fn lookup(key: &[u8]) -> Option<CompiledFilter> {
    let path = entry_path(key)?;
    let mut file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .ok()?;
    let meta = file.metadata().ok()?;
    if !meta.is_file() || !trusted(&meta) || meta.len() > MAX_ENTRY {
        return None;
    }
    let mut buf = Vec::with_capacity(meta.len() as usize);
    file.read_to_end(&mut buf).ok()?;
    decode(&buf, key)
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Some(a)
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    fn bytes(&mut self) -> Option<&'a [u8]> {
        let n = usize::try_from(self.u64()?).ok()?;
        self.take(n)
    }
    fn string(&mut self) -> Option<String> {
        String::from_utf8(self.bytes()?.to_vec()).ok()
    }
}

fn decode(buf: &[u8], key: &[u8]) -> Option<CompiledFilter> {
    let mut r = Reader(buf);
    if r.take(MAGIC.len())? != MAGIC || r.bytes()? != key {
        return None;
    }
    let load_flags = u32::try_from(r.u64()?).ok()?;
    let summary = r.string()?;
    let n = r.u64()?;
    let mut warnings = Vec::new();
    for _ in 0..n.min(10_000) {
        warnings.push(r.string()?);
    }
    let program = r.bytes()?.to_vec();
    if !r.0.is_empty() || program.is_empty() || program.len() % 8 != 0 {
        return None;
    }
    Some(CompiledFilter {
        program,
        load_flags,
        summary,
        warnings,
    })
}

fn put(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(&(b.len() as u64).to_le_bytes());
    out.extend_from_slice(b);
}

fn encode(key: &[u8], f: &CompiledFilter) -> Vec<u8> {
    let mut out = MAGIC.to_vec();
    put(&mut out, key);
    out.extend_from_slice(&u64::from(f.load_flags).to_le_bytes());
    put(&mut out, f.summary.as_bytes());
    out.extend_from_slice(&(f.warnings.len() as u64).to_le_bytes());
    for w in &f.warnings {
        put(&mut out, w.as_bytes());
    }
    put(&mut out, &f.program);
    out
}

/// Stores an entry atomically (temp file + rename); silently does nothing when it cannot.
pub fn store(key: &[u8], f: &CompiledFilter) {
    let Some(dir) = dir() else { return };
    if fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
        .is_err()
    {
        return;
    }
    let Some(path) = entry_path(key) else { return };
    let tmp = dir.join(format!(".tmp-{}-{:x}", std::process::id(), fnv1a(key)));
    let written = (|| -> std::io::Result<()> {
        let mut file: File = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&tmp)?;
        file.write_all(&encode(key, f))?;
        file.sync_data()?;
        fs::rename(&tmp, &path)
    })();
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
        return;
    }
    prune(&dir);
}

/// Keeps the cache at `KEEP` entries, removing the oldest.
fn prune(dir: &std::path::Path) {
    for path in beyond_newest(dir, KEEP, |name| name.ends_with(".bpf")) {
        let _ = fs::remove_file(path);
    }
}

/// The entries of `dir` whose name `is_entry` accepts, all but the `keep` most recently
/// modified: what a cache pruned to `keep` entries removes.
pub(crate) fn beyond_newest(
    dir: &std::path::Path,
    keep: usize,
    is_entry: impl Fn(&str) -> bool,
) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<(std::time::SystemTime, PathBuf)> = entries
        .flatten()
        .filter(|e| is_entry(&e.file_name().to_string_lossy()))
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .collect();
    files.sort();
    let stale = files.len().saturating_sub(keep);
    files.into_iter().take(stale).map(|(_, p)| p).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> CompiledFilter {
        CompiledFilter {
            program: vec![6, 0, 0, 0, 0, 0, 0xff, 0x7f],
            load_flags: 2,
            summary: "s".into(),
            warnings: vec!["w1".into(), "w2".into()],
        }
    }

    #[test]
    fn round_trip_and_key_mismatch() {
        let k = key(&[b"a", b"bc"]);
        let enc = encode(&k, &sample());
        assert_eq!(decode(&enc, &k), Some(sample()));
        assert_eq!(decode(&enc, &key(&[b"ab", b"c"])), None);
    }

    #[test]
    fn prune_keeps_the_newest_entries() {
        let dir = std::env::temp_dir().join(format!("syscage-prune-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        for i in 0..KEEP + 6 {
            fs::write(dir.join(format!("{i:016x}.bpf")), b"x").unwrap();
            let t = std::time::SystemTime::UNIX_EPOCH
                + std::time::Duration::from_secs(1_000_000 + i as u64);
            fs::File::options()
                .write(true)
                .open(dir.join(format!("{i:016x}.bpf")))
                .unwrap()
                .set_modified(t)
                .unwrap();
        }
        fs::write(dir.join("other"), b"kept").unwrap();
        prune(&dir);
        let left: Vec<String> = fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(left.len(), KEEP + 1);
        assert!(
            !left.contains(&format!("{:016x}.bpf", 0)),
            "the oldest went first"
        );
        assert!(left.contains(&format!("{:016x}.bpf", KEEP + 5)));
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn truncated_or_garbage_entries_are_ignored() {
        let k = key(&[b"x"]);
        let enc = encode(&k, &sample());
        for n in 0..enc.len() {
            assert_eq!(decode(&enc[..n], &k), None, "prefix {n}");
        }
        assert_eq!(decode(b"garbage", &k), None);
    }
}
