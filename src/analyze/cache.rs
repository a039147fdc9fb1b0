//! The per-object cache: an object's facts (`decode`), keyed by the SHA-256 of its bytes and
//! the analysis code that computed them, so libc is decoded once per machine, not once per
//! program. One file per object in `dir()`, written atomically (a temporary file renamed);
//! a file that does not decode exactly is ignored and rewritten, never trusted in part.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::sandbox::filter_cache::trusted;

use super::decode::{Args, CallSite, Facts, MAX_PARAMS, SysSite, Target, Trap, Val};

const MAGIC: &[u8; 8] = b"SCFACTS1";
/// The analysis code's key (build.rs): facts from another analysis are never read.
const ANALYSIS_KEY: &str = env!("SYSCAGE_ANALYSIS_KEY");

/// The cache directory: `analyze/` in syscage's cache (`$SYSCAGE_CACHE_DIR`, else
/// `$XDG_CACHE_HOME/syscage`, else `~/.cache/syscage`; `SYSCAGE_CACHE_DIR=` disables it).
pub fn dir() -> Option<PathBuf> {
    crate::sandbox::filter_cache::dir().map(|d| d.join("analyze"))
}

/// Makes `dir` (0700) and checks that it and its parent are ours alone: facts someone else
/// could write would let them hide syscalls from an analysis. Says why when it cannot be used.
pub fn open(dir: &Path) -> Result<(), String> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| format!("the analysis cache {}: {e}", dir.display()))?;
    for d in [dir.parent().unwrap_or(dir), dir] {
        let m = std::fs::symlink_metadata(d).map_err(|e| format!("{}: {e}", d.display()))?;
        if !m.is_dir() || !trusted(&m) {
            return Err(format!(
                "the analysis cache is not used: {} is owned by uid {}, writable by others \
                 (mode {:o}) or not a directory; it must be ours alone",
                d.display(),
                m.uid(),
                m.mode() & 0o7777
            ));
        }
    }
    Ok(())
}

fn path(dir: &Path, hash: &str) -> PathBuf {
    dir.join(format!("{hash}.facts"))
}

/// The facts cached for the object whose content hash is `hash`, if a valid file holds them.
pub fn load(dir: &Path, hash: &str) -> Option<BTreeMap<u64, Facts>> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path(dir, hash))
        .ok()?;
    let m = f.metadata().ok()?;
    if !m.is_file() || !trusted(&m) {
        return None;
    }
    let mut data = Vec::with_capacity(m.len() as usize);
    f.read_to_end(&mut data).ok()?;
    decode(&data, hash)
}

/// Stores `facts` for `hash`; a failure only costs the next run the work.
pub fn store(dir: &Path, hash: &str, facts: &BTreeMap<u64, Facts>) {
    let data = encode(facts, hash);
    let dest = path(dir, hash);
    let tmp = dir.join(format!(".{hash}.{}.tmp", std::process::id()));
    use std::os::unix::fs::OpenOptionsExt;
    let ok = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .and_then(|mut f| f.write_all(&data))
        .and_then(|_| std::fs::rename(&tmp, &dest));
    if ok.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
}

struct W(Vec<u8>);

impl W {
    fn u(&mut self, mut v: u64) {
        loop {
            let b = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                self.0.push(b);
                return;
            }
            self.0.push(b | 0x80);
        }
    }

    fn val(&mut self, v: &Val) {
        match v {
            Val::Top => self.u(0),
            Val::Consts(c) => {
                self.u(1);
                self.u(c.len() as u64);
                for x in c {
                    self.u(*x);
                }
            }
            Val::Param(k) => {
                self.u(2);
                self.u(u64::from(*k));
            }
        }
    }

    fn set(&mut self, s: &BTreeSet<u64>) {
        self.u(s.len() as u64);
        for x in s {
            self.u(*x);
        }
    }
}

fn header(hash: &str) -> Vec<u8> {
    let mut h = MAGIC.to_vec();
    h.extend_from_slice(ANALYSIS_KEY.as_bytes());
    h.push(0);
    h.extend_from_slice(hash.as_bytes());
    h.push(0);
    h
}

pub fn encode(facts: &BTreeMap<u64, Facts>, hash: &str) -> Vec<u8> {
    let mut w = W(header(hash));
    encode_facts(facts, &mut w);
    w.0
}

/// The facts without a header (see `decode_facts`).
pub fn encode_body(facts: &BTreeMap<u64, Facts>) -> Vec<u8> {
    let mut w = W(Vec::new());
    encode_facts(facts, &mut w);
    w.0
}

fn encode_facts(facts: &BTreeMap<u64, Facts>, w: &mut W) {
    w.u(facts.len() as u64);
    for (start, f) in facts {
        w.u(*start);
        w.u(f.syscalls.len() as u64);
        for s in &f.syscalls {
            w.u(s.at);
            w.u(match s.trap {
                Trap::Syscall => 0,
                Trap::I386 => 1,
            });
            w.val(&s.nr);
            w.u(u64::from(s.replay));
        }
        w.u(f.calls.len() as u64);
        for c in &f.calls {
            w.u(c.at);
            match c.target {
                Target::Addr(a) => {
                    w.u(0);
                    w.u(a);
                }
                Target::Slot(a) => {
                    w.u(1);
                    w.u(a);
                }
            }
            w.u(u64::from(c.jump));
            for k in 0..MAX_PARAMS {
                w.val(c.args.get(k));
            }
        }
        w.u(f.indirect.len() as u64);
        for a in &f.indirect {
            w.u(*a);
        }
        w.set(&f.taken);
        w.set(&f.slot_refs);
        w.set(&f.data_refs);
    }
}

struct R<'a>(&'a [u8]);

impl R<'_> {
    fn u(&mut self) -> Option<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let (&b, rest) = self.0.split_first()?;
            self.0 = rest;
            v |= u64::from(b & 0x7f).checked_shl(shift)?;
            if b & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    }

    /// A count, bounded by what the rest of the file could hold (one byte per item at least).
    fn n(&mut self) -> Option<usize> {
        let n = usize::try_from(self.u()?).ok()?;
        (n <= self.0.len()).then_some(n)
    }

    fn val(&mut self) -> Option<Val> {
        Some(match self.u()? {
            0 => Val::Top,
            1 => {
                let n = self.n()?;
                let mut c = BTreeSet::new();
                for _ in 0..n {
                    c.insert(self.u()?);
                }
                Val::Consts(c)
            }
            2 => Val::Param(u8::try_from(self.u()?).ok()?),
            _ => return None,
        })
    }

    fn set(&mut self) -> Option<BTreeSet<u64>> {
        let n = self.n()?;
        let mut s = BTreeSet::new();
        for _ in 0..n {
            s.insert(self.u()?);
        }
        Some(s)
    }
}

pub fn decode(data: &[u8], hash: &str) -> Option<BTreeMap<u64, Facts>> {
    decode_facts(data.strip_prefix(header(hash).as_slice())?)
}

/// The facts after the header (fuzzed on their own: no input reaches them through a header).
pub fn decode_facts(body: &[u8]) -> Option<BTreeMap<u64, Facts>> {
    let mut r = R(body);
    let n = r.n()?;
    let mut out = BTreeMap::new();
    for _ in 0..n {
        let start = r.u()?;
        let mut f = Facts::default();
        for _ in 0..r.n()? {
            let at = r.u()?;
            let trap = match r.u()? {
                0 => Trap::Syscall,
                1 => Trap::I386,
                _ => return None,
            };
            let nr = r.val()?;
            let replay = r.u()? == 1;
            f.syscalls.push(SysSite {
                at,
                trap,
                nr,
                replay,
            });
        }
        for _ in 0..r.n()? {
            let at = r.u()?;
            let target = match r.u()? {
                0 => Target::Addr(r.u()?),
                1 => Target::Slot(r.u()?),
                _ => return None,
            };
            let jump = r.u()? == 1;
            let mut args: [Val; MAX_PARAMS] = std::array::from_fn(|_| Val::Top);
            for a in &mut args {
                *a = r.val()?;
            }
            f.calls.push(CallSite {
                at,
                target,
                jump,
                args: Args::new(args),
            });
        }
        for _ in 0..r.n()? {
            f.indirect.push(r.u()?);
        }
        f.taken = r.set()?;
        f.slot_refs = r.set()?;
        f.data_refs = r.set()?;
        out.insert(start, f);
    }
    r.0.is_empty().then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> BTreeMap<u64, Facts> {
        let mut f = Facts::default();
        f.syscalls.push(SysSite {
            at: 0x1005,
            trap: Trap::Syscall,
            nr: Val::Consts(BTreeSet::from([0, 60, 231])),
            replay: false,
        });
        f.syscalls.push(SysSite {
            at: 0x1010,
            trap: Trap::I386,
            nr: Val::Top,
            replay: true,
        });
        let mut args: [Val; MAX_PARAMS] = std::array::from_fn(|_| Val::Top);
        args[0] = Val::Param(3);
        args[9] = Val::Consts(BTreeSet::from([u64::MAX]));
        f.calls.push(CallSite {
            at: 0x1020,
            target: Target::Slot(0x4000),
            jump: true,
            args: Args::new(args),
        });
        f.indirect.push(0x1030);
        f.taken.insert(0x2000);
        f.slot_refs.insert(0x4008);
        f.data_refs.insert(0x5010);
        BTreeMap::from([(0x1000, f), (0x2000, Facts::default())])
    }

    fn same(a: &BTreeMap<u64, Facts>, b: &BTreeMap<u64, Facts>) -> bool {
        format!("{a:?}") == format!("{b:?}")
    }

    #[test]
    fn facts_come_back_as_they_were_stored() {
        let f = sample();
        let back = decode(&encode(&f, "h1"), "h1").unwrap();
        assert!(same(&f, &back));
    }

    #[test]
    fn another_object_truncation_or_garbage_is_a_miss_not_a_panic() {
        let data = encode(&sample(), "h1");
        assert!(decode(&data, "h2").is_none(), "another object's facts");
        for cut in 0..data.len() {
            assert!(decode(&data[..cut], "h1").is_none(), "cut at {cut}");
        }
        let mut longer = data.clone();
        longer.push(0);
        assert!(decode(&longer, "h1").is_none(), "trailing bytes");
        for k in header("h1").len()..data.len() {
            let mut bad = data.clone();
            bad[k] ^= 0xff;
            let _ = decode(&bad, "h1");
        }
    }

    #[test]
    fn the_cache_directory_must_be_ours_alone() {
        use std::os::unix::fs::PermissionsExt;
        let top = std::env::temp_dir().join(format!("syscage-cache-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&top);
        let d = top.join("analyze");
        open(&d).unwrap();
        store(&d, "h1", &sample());
        assert!(same(&load(&d, "h1").unwrap(), &sample()));
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o777)).unwrap();
        let e = open(&d).unwrap_err();
        assert!(e.contains("writable by others"), "{e}");
        std::fs::remove_dir_all(&top).unwrap();
    }
}
