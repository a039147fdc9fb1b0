//! The BTF ids of the tracepoints' `btf_trace_*` typedefs, found by walking the kernel's raw BTF
//! without building it (aya's full parse allocates every one of its 130,000 types: ~13 ms here,
//! and aya's loader parses it once more for CO-RE), and a minimal BTF holding just those
//! typedefs at the same ids, which is all aya's tracepoint loader looks at. Pure.

const MAGIC: u16 = 0xeb9f;

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// Bytes that follow a type's 12-byte header, by kind (include/uapi/linux/btf.h).
fn trailing(kind: u32, vlen: usize) -> Option<usize> {
    Some(match kind {
        1 | 14 | 17 => 4,             // INT, VAR, DECL_TAG
        3 => 12,                      // ARRAY
        4 | 5 | 15 | 19 => vlen * 12, // STRUCT, UNION, DATASEC, ENUM64
        6 | 13 => vlen * 8,           // ENUM, FUNC_PROTO
        2 | 7 | 8 | 9 | 10 | 11 | 12 | 16 | 18 => 0,
        _ => return None,
    })
}

const KIND_TYPEDEF: u32 = 8;

/// The ids of the typedefs named `names`, in order; `None` if the BTF is not understood or a
/// name is missing.
pub fn typedef_ids(btf: &[u8], names: &[&str]) -> Option<Vec<u32>> {
    if u16::from_le_bytes(btf.get(0..2)?.try_into().ok()?) != MAGIC {
        return None;
    }
    let hdr_len = u32_at(btf, 4)? as usize;
    let (type_off, type_len) = (u32_at(btf, 8)? as usize, u32_at(btf, 12)? as usize);
    let (str_off, str_len) = (u32_at(btf, 16)? as usize, u32_at(btf, 20)? as usize);
    let types = btf.get(hdr_len + type_off..hdr_len + type_off + type_len)?;
    let strings = btf.get(hdr_len + str_off..hdr_len + str_off + str_len)?;
    let name_at = |off: usize| -> Option<&[u8]> {
        let s = strings.get(off..)?;
        Some(&s[..s.iter().position(|b| *b == 0)?])
    };
    let mut ids: Vec<Option<u32>> = vec![None; names.len()];
    let (mut at, mut id) = (0usize, 1u32);
    while at < types.len() {
        let name_off = u32_at(types, at)? as usize;
        let info = u32_at(types, at + 4)?;
        let (kind, vlen) = ((info >> 24) & 0x1f, (info & 0xffff) as usize);
        if kind == KIND_TYPEDEF && name_off != 0 {
            let name = name_at(name_off)?;
            if let Some(i) = names.iter().position(|n| n.as_bytes() == name) {
                ids[i] = Some(id);
            }
        }
        at += 12 + trailing(kind, vlen)?;
        id += 1;
    }
    ids.into_iter().collect()
}

/// A BTF blob in which each of `names` is a typedef with the id it has in the kernel's
/// (`ids`); every other id is an anonymous pointer placeholder.
pub fn minimal(names: &[&str], ids: &[u32]) -> Vec<u8> {
    let mut strings = vec![0u8];
    let mut name_offs = Vec::new();
    for n in names {
        name_offs.push(strings.len() as u32);
        strings.extend_from_slice(n.as_bytes());
        strings.push(0);
    }
    let max = ids.iter().copied().max().unwrap_or(0);
    let mut types = Vec::with_capacity(max as usize * 12);
    for id in 1..=max {
        let (name_off, kind) = match ids.iter().position(|i| *i == id) {
            // A typedef of type 0 (void): only its name and kind are looked at.
            Some(i) => (name_offs[i], KIND_TYPEDEF),
            None => (0, 2), // PTR to void
        };
        types.extend_from_slice(&name_off.to_le_bytes());
        types.extend_from_slice(&(kind << 24).to_le_bytes());
        types.extend_from_slice(&0u32.to_le_bytes());
    }
    let mut out = Vec::new();
    out.extend_from_slice(&MAGIC.to_le_bytes());
    out.push(1); // version
    out.push(0); // flags
    out.extend_from_slice(&24u32.to_le_bytes()); // hdr_len
    out.extend_from_slice(&0u32.to_le_bytes()); // type_off
    out.extend_from_slice(&(types.len() as u32).to_le_bytes());
    out.extend_from_slice(&(types.len() as u32).to_le_bytes()); // str_off
    out.extend_from_slice(&(strings.len() as u32).to_le_bytes());
    out.extend_from_slice(&types);
    out.extend_from_slice(&strings);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use aya::Btf;
    use aya_obj::btf::BtfKind;

    #[test]
    fn ids_match_aya_full_parse_and_the_minimal_btf_keeps_them() {
        let Ok(raw) = std::fs::read("/sys/kernel/btf/vmlinux") else {
            panic!("this machine has no /sys/kernel/btf/vmlinux (the eBPF recorder needs it)");
        };
        let names = ["btf_trace_sys_enter", "btf_trace_sched_process_exit"];
        let ids = typedef_ids(&raw, &names).expect("the kernel's BTF is walked");
        let full = Btf::parse(&raw, aya::Endianness::default()).unwrap();
        let mini = Btf::parse(&minimal(&names, &ids), aya::Endianness::default()).unwrap();
        for (n, id) in names.iter().zip(&ids) {
            assert_eq!(full.id_by_type_name_kind(n, BtfKind::Typedef).unwrap(), *id);
            assert_eq!(mini.id_by_type_name_kind(n, BtfKind::Typedef).unwrap(), *id);
        }
        assert_eq!(typedef_ids(&raw, &["btf_trace_no_such_thing"]), None);
        assert_eq!(typedef_ids(b"not btf", &names), None);
    }
}
