//! The recorder object with its CO-RE relocations already applied for the running kernel, kept
//! for the boot. aya relocates on every load by matching each relocated type against all of the
//! kernel's ~130,000 BTF types, allocating every name: 25-30 ms of the ~70 ms an eBPF `record`
//! took to start here. The result depends only on the object and the kernel's BTF, so it is
//! computed once: the relocated instructions are written back into a copy of the ELF and its
//! `.BTF.ext` CO-RE records emptied, leaving aya nothing to relocate.
//!
//! Kept in `/run/syscage/ebpf` (a tmpfs: gone at the next boot, the only time the kernel can
//! change; `SYSCAGE_EBPF_CACHE_DIR` elsewhere), named by a SHA-256 of the object, the boot id and
//! the kernel's BTF size, written atomically into a directory of the caller's alone. A copy is
//! used only from a directory and file owned by the caller and writable by no one else (what it
//! holds is loaded into the kernel). A copy that does not load is removed and the object
//! relocated afresh (`Probe::load`).

use std::path::{Path, PathBuf};

use object::{Object as _, ObjectSection as _};
use sha2::{Digest, Sha256};

/// `$SYSCAGE_EBPF_CACHE_DIR`, else `/run/syscage/ebpf`.
fn dir() -> PathBuf {
    std::env::var_os("SYSCAGE_EBPF_CACHE_DIR")
        .filter(|d| !d.is_empty())
        .map_or_else(|| PathBuf::from("/run/syscage/ebpf"), PathBuf::from)
}

/// Where the relocated copy of `object` for this boot lives.
pub fn path(object: &[u8]) -> Option<PathBuf> {
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
    let btf = std::fs::metadata("/sys/kernel/btf/vmlinux").ok()?.len();
    let mut h = Sha256::new();
    h.update(object);
    h.update(boot.trim().as_bytes());
    h.update(btf.to_le_bytes());
    let hex: String = h.finalize()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Some(dir().join(format!("recorder-{hex}.o")))
}

/// The relocated copy, if this boot made one: a regular file, never a link, in a directory
/// and file of the caller's alone.
pub fn read(path: &Path) -> Option<Vec<u8>> {
    use crate::sandbox::filter_cache::trusted;
    let dir = std::fs::symlink_metadata(path.parent()?).ok()?;
    let meta = std::fs::symlink_metadata(path).ok()?;
    if !dir.is_dir() || !trusted(&dir) || !meta.file_type().is_file() || !trusted(&meta) {
        return None;
    }
    std::fs::read(path).ok()
}

/// Relocates `object` against the kernel's BTF and returns the ELF with the relocated
/// instructions in place and no CO-RE records left.
pub fn relocate(object: &[u8]) -> Result<Vec<u8>, String> {
    // Copied: both ELF parsers want aligned data, and include_bytes! gives no alignment (a
    // build where the object happened to be unaligned relocated nothing).
    let object = object.to_vec();
    let object = object.as_slice();
    let btf = aya::Btf::from_sys_fs().map_err(|e| format!("the kernel's BTF: {e}"))?;
    let mut obj = aya_obj::Object::parse(object).map_err(|e| format!("the eBPF object: {e}"))?;
    obj.relocate_btf(&btf)
        .map_err(|e| format!("CO-RE relocation: {e}"))?;
    let elf = object::File::parse(object).map_err(|e| format!("the eBPF object: {e}"))?;
    let mut out = object.to_vec();
    for f in obj.functions.values() {
        let section = elf
            .section_by_index(f.section_index)
            .map_err(|e| format!("function {}: {e}", f.name))?;
        let (start, size) = section
            .file_range()
            .ok_or_else(|| format!("function {}: its section has no data", f.name))?;
        let at = start as usize + f.section_offset;
        let bytes: Vec<u8> = f
            .instructions
            .iter()
            .flat_map(|i| {
                let mut b = [0u8; 8];
                b[0] = i.code;
                b[1] = (i.src_reg() << 4) | (i.dst_reg() & 0x0f);
                b[2..4].copy_from_slice(&i.off.to_le_bytes());
                b[4..8].copy_from_slice(&i.imm.to_le_bytes());
                b
            })
            .collect();
        if f.section_offset + bytes.len() > size as usize {
            return Err(format!("function {} overruns its section", f.name));
        }
        out[at..at + bytes.len()].copy_from_slice(&bytes);
    }
    let ext = elf
        .section_by_name(".BTF.ext")
        .and_then(|s| s.file_range())
        .ok_or("the eBPF object has no .BTF.ext")?;
    // btf_ext_header: magic, version, flags, hdr_len, func_info off/len, line_info off/len,
    // core_relo off/len (u32 each after the first four bytes).
    let hdr_len = u32::from_le_bytes(
        out.get(ext.0 as usize + 4..ext.0 as usize + 8)
            .and_then(|b| b.try_into().ok())
            .ok_or(".BTF.ext: no header")?,
    );
    if hdr_len < 32 {
        return Err(format!(
            ".BTF.ext: a header of {hdr_len} bytes has no CO-RE records"
        ));
    }
    let len_at = ext.0 as usize + 28;
    out[len_at..len_at + 4].copy_from_slice(&0u32.to_le_bytes());
    Ok(out)
}

/// Keeps `bytes` at `path` for the rest of the boot (best effort: a failure only costs the
/// next start the relocation).
pub fn store(path: &Path, bytes: &[u8]) {
    use std::os::unix::fs::DirBuilderExt;
    let Some(dir) = path.parent() else { return };
    if std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .is_err()
    {
        return;
    }
    let ours = std::fs::symlink_metadata(dir)
        .is_ok_and(|m| m.is_dir() && crate::sandbox::filter_cache::trusted(&m));
    if ours && crate::output::write_atomic(path, bytes).is_ok() {
        prune(dir, KEEP);
    }
}

/// Copies kept per boot: one per syscage build that recorded (an upgrade, a debug and a
/// release build), so that builds used side by side do not relocate in turn.
const KEEP: usize = 4;

/// Removes all but the `keep` newest copies in `dir` (and their ids): each build stores its
/// own, and a tmpfs should not fill with those of builds long replaced.
fn prune(dir: &Path, keep: usize) {
    let copy = |name: &str| name.starts_with("recorder-") && name.ends_with(".o");
    for old in crate::sandbox::filter_cache::beyond_newest(dir, keep, copy) {
        discard(&old);
    }
}

/// The tracepoints' BTF ids kept beside the copy at `path`, if they are for `names`.
pub fn read_ids(path: &Path, names: &[&str]) -> Option<Vec<u32>> {
    let text = read(&path.with_extension("ids"))?;
    let text = String::from_utf8(text).ok()?;
    let mut ids = Vec::new();
    let mut lines = text.lines();
    for n in names {
        let (name, id) = lines.next()?.split_once(' ')?;
        if name != *n {
            return None;
        }
        ids.push(id.parse().ok().filter(|i| *i > 0)?);
    }
    lines.next().is_none().then_some(ids)
}

/// Keeps the tracepoints' ids beside the copy at `path` ("NAME ID" lines).
pub fn store_ids(path: &Path, names: &[&str], ids: &[u32]) {
    let text: String = names
        .iter()
        .zip(ids)
        .map(|(n, i)| format!("{n} {i}\n"))
        .collect();
    store(&path.with_extension("ids"), text.as_bytes());
}

/// Removes what this boot kept for the object at `path`: it did not load.
pub fn discard(path: &Path) {
    let _ = std::fs::remove_file(path);
    let _ = std::fs::remove_file(path.with_extension("ids"));
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_the_newest_copies_are_kept() {
        let dir = std::env::temp_dir().join(format!("syscage-core-cache-{}", std::process::id()));
        std::fs::create_dir(&dir).unwrap();
        let now = std::time::SystemTime::now();
        for i in 0..6u64 {
            for ext in ["o", "ids"] {
                let f = std::fs::File::create(dir.join(format!("recorder-{i}.{ext}"))).unwrap();
                // Older as i grows.
                f.set_modified(now - std::time::Duration::from_secs(60 * i))
                    .unwrap();
            }
        }
        std::fs::write(dir.join("unrelated"), b"").unwrap();
        super::prune(&dir, 4);
        let mut left: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        std::fs::remove_dir_all(&dir).unwrap();
        let want = [
            "recorder-0.ids",
            "recorder-0.o",
            "recorder-1.ids",
            "recorder-1.o",
            "recorder-2.ids",
            "recorder-2.o",
            "recorder-3.ids",
            "recorder-3.o",
            "unrelated",
        ];
        assert_eq!(left, want);
    }
}
