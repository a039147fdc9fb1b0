//! Function pointers held in data, by the data object that holds them. A relocated word inside
//! a sized data object (from the symbol table of the object's debug file, found by build-id
//! as Debian's `-dbg` and `-dbgsym` packages install it) is a taken function only once
//! something that runs refers into that object: reachable code, or a pointer in another live
//! object. Words no sized object holds, words in TLS, in exported objects (any other object
//! or `dlsym` can reach them by name) and in `DW.ref.*` (the unwinder reads them from
//! `.eh_frame`) count always. An object without its debug file has no bounds: every word
//! counts.

use std::collections::BTreeSet;

use object::LittleEndian as LE;
use object::elf;
use object::read::elf::{FileHeader, SectionHeader, Sym as _};

/// How far outside an object's bounds a reference may land and still mean the object: a
/// compiler folds a small constant offset into the address it takes (`lea rax, [table-8]`
/// for `table[i-1]`). Its end is always included (a loop's bound, `table + n`); a reference
/// into no object at all means the objects on both sides of it (a larger offset).
pub const SLACK: u64 = 16;

/// A sized data object holding relocated words.
#[derive(Debug, Clone)]
pub struct DataObject {
    pub start: u64,
    pub end: u64,
    /// The values of its relocated words: code addresses (functions taken) or data addresses
    /// (other objects it points into).
    pub words: Vec<u64>,
}

/// The relocated words of an object, split by whether they count always.
#[derive(Debug, Clone, Default)]
pub struct Held {
    /// Values of the words that count whatever runs.
    pub always: BTreeSet<u64>,
    /// The gated objects, sorted by start.
    pub objects: Vec<DataObject>,
    /// The largest end among `objects[..=i]`: where a backward scan can stop.
    max_end: Vec<u64>,
    /// Allocated data sections [start, end): code referring to either bound walks the section
    /// (a linker set such as `__libc_subfreeres`, from `__start_` to `__stop_`).
    sections: Vec<(u64, u64)>,
    /// Every sized object [start, end), merged where they overlap: where a reference lands
    /// inside none.
    spans: Vec<(u64, u64)>,
}

/// What `Held::new` splits.
pub struct Layout<'a> {
    /// Relocated words: (where, value).
    pub words: &'a [(u64, u64)],
    /// Sized data objects [start, end) from a symbol table, and whether each counts always.
    pub sized: &'a [(u64, u64, bool)],
    /// Exported data objects [start, end) (`.dynsym`).
    pub exported: &'a [(u64, u64)],
    /// TLS sections [start, end): their words are a template, read through `fs`, never by
    /// address.
    pub tls: &'a [(u64, u64)],
    /// Allocated data sections [start, end).
    pub sections: Vec<(u64, u64)>,
}

impl Held {
    /// Every word counts always (no bounds are known, or the object's code addresses data
    /// absolutely: a position-dependent program, text relocations, Go).
    pub fn all(values: &BTreeSet<u64>) -> Held {
        Held {
            always: values.clone(),
            ..Held::default()
        }
    }

    pub fn new(l: Layout<'_>) -> Held {
        let inside =
            |spans: &[(u64, u64)], a: u64| spans.iter().any(|(s, e)| (*s..*e).contains(&a));
        // Overlapping symbols (aliases, a member's own symbol) merged: a word belongs to the
        // outermost object, which any reference into it means.
        let mut sized: Vec<(u64, u64, bool)> = l.sized.to_vec();
        sized.sort();
        let mut spans: Vec<(u64, u64, bool)> = Vec::new();
        for (s, e, always) in sized {
            match spans.last_mut() {
                Some(last) if s < last.1 => {
                    last.1 = last.1.max(e);
                    last.2 |= always;
                }
                _ => spans.push((s, e, always)),
            }
        }
        let mut objects: Vec<DataObject> = Vec::new();
        let mut index: std::collections::HashMap<u64, usize> = Default::default();
        let mut h = Held::default();
        for &(at, v) in l.words {
            let i = spans.partition_point(|(s, _, _)| *s <= at);
            let holder = i
                .checked_sub(1)
                .map(|i| spans[i])
                .filter(|(_, e, _)| at < *e);
            match holder {
                Some((s, e, false)) if !inside(l.exported, at) && !inside(l.tls, at) => {
                    let k = *index.entry(s).or_insert_with(|| {
                        objects.push(DataObject {
                            start: s,
                            end: e,
                            words: Vec::new(),
                        });
                        objects.len() - 1
                    });
                    objects[k].words.push(v);
                }
                _ => {
                    h.always.insert(v);
                }
            }
        }
        objects.sort_by_key(|o| (o.start, o.end));
        let mut m = 0;
        h.max_end = objects
            .iter()
            .map(|o| {
                m = m.max(o.end);
                m
            })
            .collect();
        h.objects = objects;
        h.sections = l.sections;
        h.spans = spans.iter().map(|(s, e, _)| (*s, *e)).collect();
        h
    }

    /// The gated objects a reference to `addr` may mean: those within `SLACK` of it (their end
    /// included); for code referring into no object, the nearest on either side in its
    /// section; and every object of a section whose end it is, or whose start it is when code
    /// refers to it (a pointer in data to a section's first object means that object; a
    /// pointer to its end can only be a bound). `also`: whether the same code refers to
    /// another address too.
    pub fn objects_at(&self, addr: u64, from_code: bool, also: &dyn Fn(u64) -> bool) -> Vec<usize> {
        let mut out = Vec::new();
        if self.objects.is_empty() {
            return out;
        }
        let hi = self
            .objects
            .partition_point(|o| o.start <= addr.saturating_add(SLACK));
        for i in (0..hi).rev() {
            if self.max_end[i].saturating_add(SLACK) <= addr {
                break;
            }
            if addr <= self.objects[i].end.saturating_add(SLACK) {
                out.push(i);
            }
        }
        let in_object = {
            let i = self.spans.partition_point(|(s, _)| *s <= addr);
            i.checked_sub(1).is_some_and(|i| addr < self.spans[i].1)
        };
        let section = self.sections.iter().find(|(s, e)| (*s..*e).contains(&addr));
        if from_code
            && !in_object
            && let Some((s, e)) = section
        {
            let next = self.objects.partition_point(|o| o.start <= addr);
            if self.objects.get(next).is_some_and(|o| o.start < *e) {
                out.push(next);
            }
            if let Some(p) = next.checked_sub(1).filter(|p| self.objects[*p].start >= *s) {
                out.push(p);
            }
        }
        // One address is often the end of a section and the start of the next (linker sets
        // lie side by side): a section counts when the same code also refers to its other
        // bound, as a walk from `__start_` to `__stop_` does; when none pairs so, every one.
        let bounded: Vec<(u64, u64, bool)> = self
            .sections
            .iter()
            .filter(|(s, e)| (from_code && addr == *s) || addr == *e)
            .map(|&(s, e)| {
                let other = if addr == s { e } else { s };
                (s, e, from_code && also(other))
            })
            .collect();
        let paired = bounded.iter().any(|b| b.2);
        for (s, e, _) in bounded.into_iter().filter(|b| b.2 || !paired) {
            out.extend(
                (0..self.objects.len()).filter(|i| (s..e).contains(&self.objects[*i].start)),
            );
        }
        out.sort_unstable();
        out.dedup();
        out
    }
}

/// The GNU build-id of an ELF file.
pub fn build_id(data: &[u8]) -> Option<Vec<u8>> {
    let e = LE;
    let hdr = elf::FileHeader64::<LE>::parse(data).ok()?;
    let sections = hdr.sections(e, data).ok()?;
    for s in sections.iter() {
        let Ok(Some(mut notes)) = s.notes(e, data) else {
            continue;
        };
        while let Ok(Some(n)) = notes.next() {
            if n.name() == b"GNU" && n.n_type(e) == elf::NT_GNU_BUILD_ID {
                return Some(n.desc().to_vec());
            }
        }
    }
    None
}

/// Where a debug file with `id` lies under a root: Debian's `-dbg` and `-dbgsym` packages.
pub fn debug_path(id: &[u8]) -> Option<String> {
    let hex: String = id.iter().map(|b| format!("{b:02x}")).collect();
    (hex.len() > 2).then(|| format!("/usr/lib/debug/.build-id/{}/{}.debug", &hex[..2], &hex[2..]))
}

/// The sized data objects of `data`'s `.symtab` (a debug file's): [start, end), and whether
/// the object counts always (`DW.ref.*`).
pub fn sized_objects(data: &[u8]) -> Vec<(u64, u64, bool)> {
    let e = LE;
    let Ok(hdr) = elf::FileHeader64::<LE>::parse(data) else {
        return Vec::new();
    };
    let Ok(sections) = hdr.sections(e, data) else {
        return Vec::new();
    };
    let Ok(table) = sections.symbols(e, data, elf::SHT_SYMTAB) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for sym in table.iter() {
        let shndx = sym.st_shndx(e);
        let size = sym.st_size(e);
        if sym.st_type() != elf::STT_OBJECT
            || size == 0
            || shndx == elf::SHN_UNDEF
            || shndx >= elf::SHN_LORESERVE
        {
            continue;
        }
        let start = sym.st_value(e);
        let Some(end) = start.checked_add(size) else {
            continue;
        };
        let always = sym
            .name(e, table.strings())
            .is_ok_and(|n| n.starts_with(b"DW.ref."));
        out.push((start, end, always));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held(words: &[(u64, u64)], sized: &[(u64, u64, bool)]) -> Held {
        Held::new(Layout {
            words,
            sized,
            exported: &[(0x9000, 0x9100)],
            tls: &[(0xa000, 0xa100)],
            sections: vec![(0x1000, 0x2000), (0x9000, 0xb000)],
        })
    }

    #[test]
    fn words_split_by_their_holder() {
        let h = held(
            &[
                (0x1010, 0x500),  // in a sized object: gated
                (0x1018, 0x1800), // the same object, a data pointer
                (0x1900, 0x600),  // in no object: always
                (0x9010, 0x700),  // exported: always
                (0xa010, 0x800),  // TLS: always
                (0x1a00, 0x900),  // DW.ref: always
            ],
            &[
                (0x1000, 0x1020, false),
                (0x1800, 0x1810, false),
                (0x9000, 0x9100, false),
                (0xa000, 0xa020, false),
                (0x1a00, 0x1a08, true),
            ],
        );
        assert_eq!(
            h.always.iter().copied().collect::<Vec<_>>(),
            [0x600, 0x700, 0x800, 0x900]
        );
        assert_eq!(h.objects.len(), 1);
        assert_eq!(h.objects[0].words, [0x500, 0x1800]);
    }

    #[test]
    fn a_reference_means_the_objects_near_it_or_a_whole_section() {
        let h = held(
            &[(0x1400, 1), (0x1800, 2), (0x1f00, 3)],
            &[
                (0x1400, 0x1408, false),
                (0x1700, 0x1780, false), // no relocated word: not gated
                (0x1800, 0x1808, false),
                (0x1f00, 0x1f08, false),
            ],
        );
        assert_eq!(h.objects_at(0x1404, true, &|_| false), [0]);
        // A small folded offset (`table - 8`), a loop's bound (one past the end).
        assert_eq!(h.objects_at(0x1800 - 8, false, &|_| false), [1]);
        assert_eq!(h.objects_at(0x1808, false, &|_| false), [1]);
        // Code referring into no object (a larger folded offset) means both neighbours; a
        // pointer in data there means none; code referring into another object, that one.
        assert_eq!(h.objects_at(0x1600, true, &|_| false), [0, 1]);
        assert!(h.objects_at(0x1600, false, &|_| false).is_empty());
        assert!(h.objects_at(0x1740, true, &|_| false).is_empty());
        // __start_/__stop_ of a linker set: everything in it.
        assert_eq!(h.objects_at(0x2000, false, &|_| false), [0, 1, 2]);
        assert_eq!(h.objects_at(0x1000, true, &|_| false), [0, 1, 2]);
        // A pointer in data to a section's first object is a pointer to that object.
        assert!(h.objects_at(0x1000, false, &|_| false).is_empty());
    }

    #[test]
    fn a_bound_two_sections_share_means_the_one_whose_other_bound_code_refers_to() {
        // Two linker sets side by side: 0x2000 ends the first and starts the second (whose
        // first object, holding no pointer, lies there).
        let h = Held::new(Layout {
            words: &[(0x1400, 1), (0x9800, 3)],
            sized: &[
                (0x1400, 0x1408, false),
                (0x2000, 0x2008, false),
                (0x9800, 0x9808, false),
            ],
            exported: &[],
            tls: &[],
            sections: vec![(0x1000, 0x2000), (0x2000, 0x9900)],
        });
        assert_eq!(
            h.objects_at(0x2000, true, &|_| false),
            [0, 1],
            "no pair: both"
        );
        assert_eq!(h.objects_at(0x2000, true, &|a| a == 0x1000), [0]);
        assert_eq!(h.objects_at(0x2000, true, &|a| a == 0x9900), [1]);
        // A pointer in data: only the section it ends.
        assert_eq!(h.objects_at(0x2000, false, &|_| false), [0]);
    }
}
