//! One ELF object as the analysis needs it: its code, where its functions start, what its GOT
//! slots and PLT stubs lead to, which code addresses its data holds, what it exports and what
//! the loader must map with it. Read through `object` (the low-level ELF layer) and `gimli`
//! (`.eh_frame`, for the function starts of stripped objects).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use object::LittleEndian as LE;

use super::bounds::{self, Held, Layout};
use super::decode::Target;
use object::elf;
use object::read::elf::{Dyn as _, FileHeader, ProgramHeader as _, SectionHeader, Sym as _};

/// What a GOT slot (or a PLT stub through it) leads to once the loader has filled it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Slot {
    /// A symbol, resolved in the loader's search order.
    Symbol(String),
    /// An address in this object (R_X86_64_RELATIVE).
    Local(u64),
    /// An IFUNC resolver in this object (R_X86_64_IRELATIVE): the function is what it returns.
    Resolver(u64),
}

/// A defined, exported function.
#[derive(Debug, Clone, Copy)]
pub struct Export {
    pub addr: u64,
    pub ifunc: bool,
}

/// An executable region, decoded function by function.
#[derive(Debug)]
pub struct Code {
    pub addr: u64,
    pub bytes: Vec<u8>,
    pub name: String,
}

#[derive(Debug)]
pub struct Object {
    /// The path the loader knows it by, inside the analysed root.
    pub path: String,
    pub entry: Option<u64>,
    pub is_exec: bool,
    /// The code has relocations of its own (DT_TEXTREL): an immediate operand may be an
    /// address even though the object is position-independent.
    pub textrel: bool,
    pub interp: Option<String>,
    pub needed: Vec<String>,
    /// DT_SONAME: a name the loader knows the object by once loaded, whatever its file's.
    pub soname: Option<String>,
    pub runpath: Vec<String>,
    pub rpath: Vec<String>,
    pub code: Vec<Code>,
    /// Function starts and their names (symbols where the object has them).
    pub starts: BTreeMap<u64, Option<String>>,
    pub exports: HashMap<String, Vec<Export>>,
    /// Every slot the loader fills, by its address.
    pub slots: HashMap<u64, Slot>,
    /// PLT stubs: [start, end) → the slot they jump through.
    pub stubs: Vec<(u64, u64, Slot)>,
    /// What only the loader writes: the GOT sections and the RELRO segment, [start, end). A
    /// slot elsewhere (a function pointer variable in .data) can be changed by the program.
    pub fixed: Vec<(u64, u64)>,
    /// Code addresses held in data (relocated pointers, and for position-dependent objects any
    /// aligned word that is a function start): functions whose address is taken.
    pub data_refs: BTreeSet<u64>,
    /// The same words by the data object holding them: which count always, which only once
    /// their object is referred to (`bounds`).
    pub held: Held,
    /// Symbols whose address data holds (R_X86_64_64, GLOB_DAT).
    pub data_symbol_refs: BTreeSet<String>,
    /// Constructors and destructors the loader calls (init/fini arrays, DT_INIT, DT_FINI).
    pub init: Vec<u64>,
    /// Read-only data, for string constants (`dlopen("libfoo.so")`).
    pub rodata: Vec<(u64, Vec<u8>)>,
    /// A hash of the file's bytes: the cache key.
    pub hash: String,
    /// Go code (a `.gopclntab`): Go's register ABI, functions from its function table.
    pub go: bool,
    /// Go only: the span of Go's functions [start, end); code outside it is C's.
    pub go_text: Option<(u64, u64)>,
    /// Go only: aligned words of writable data holding a small number (< 1024), by address,
    /// that no data word points at. Go keeps some syscall numbers in package variables
    /// (`unix.FcntlSyscall`); `analyze` uses one where no code writes or takes its address.
    pub statics: HashMap<u64, u64>,
    /// Where an FDE ends and neither another FDE nor a start follows: what comes after, up to
    /// the next start, is padding, data some assembly keeps in .text (OpenSSL's and libgcrypt's
    /// tables, whose bytes decode to anything, `syscall` included), or the function's own code
    /// (glibc's clone ends its FDE before the syscall). See `analyze::object_facts`.
    pub gaps: BTreeSet<u64>,
    /// Landing pads outside the function whose LSDA names them (GCC's `.cold` parts):
    /// (function start, pad). The unwinder enters them; no code jumps there.
    pub landing: Vec<(u64, u64)>,
    /// FDEs whose LSDA could not be read: where their landing pads are is not known.
    pub unread_lsda: Vec<u64>,
    /// `.eh_frame` (address, bytes) and the text and GOT addresses its pointers are relative
    /// to: to find the frame (CFA) rule at an address (`Object::cfa_at`).
    pub eh_frame: Option<EhFrame>,
}

#[derive(Debug, Clone)]
pub struct EhFrame {
    pub addr: u64,
    pub bytes: Vec<u8>,
    pub text: Option<u64>,
    pub got: Option<u64>,
}

/// Where the frame is at an address (DWARF's CFA rule): a register and an offset; `None` for a
/// rule given as an expression.
pub type Cfa = Option<(u16, i64)>;

#[derive(Debug, thiserror::Error)]
pub enum ElfError {
    #[error("{path}: {what}")]
    Bad { path: String, what: String },
}

fn bad(path: &str, what: impl Into<String>) -> ElfError {
    ElfError::Bad {
        path: path.to_string(),
        what: what.into(),
    }
}

/// The machine an ELF file is for, from its header alone: "x86_64", "i386", or another name.
pub fn machine(data: &[u8]) -> Option<&'static str> {
    if data.len() < 20 || &data[..4] != b"\x7fELF" {
        return None;
    }
    let m = u16::from_le_bytes([data[18], data[19]]);
    Some(match (data[4], m) {
        (2, 62) => "x86_64",
        (1, 3) => "i386",
        (1, 62) => "x32",
        (2, 183) => "aarch64",
        _ => "another machine",
    })
}

pub fn parse(path: &str, data: &[u8]) -> Result<Object, ElfError> {
    parse_with(path, data, None)
}

/// `parse`, with the object's debug file (the caller checked its build-id is the object's) for
/// the bounds of its data objects (`bounds`).
pub fn parse_with(path: &str, data: &[u8], debug: Option<&[u8]>) -> Result<Object, ElfError> {
    match machine(data) {
        None => return Err(bad(path, "not an ELF file")),
        Some("x86_64") => {}
        Some(m) => {
            return Err(bad(
                path,
                format!("an {m} object: only x86_64 objects are analysed"),
            ));
        }
    }
    let e = LE;
    let hdr = elf::FileHeader64::<LE>::parse(data)
        .map_err(|err| bad(path, format!("invalid ELF header: {err}")))?;
    let is_exec = hdr.e_type(e) == elf::ET_EXEC;
    let sections = hdr
        .sections(e, data)
        .map_err(|err| bad(path, format!("invalid section table: {err}")))?;
    let phdrs = hdr
        .program_headers(e, data)
        .map_err(|err| bad(path, format!("invalid program headers: {err}")))?;
    let mut obj = Object {
        path: path.to_string(),
        entry: None,
        is_exec,
        textrel: false,
        interp: None,
        needed: Vec::new(),
        soname: None,
        runpath: Vec::new(),
        rpath: Vec::new(),
        code: Vec::new(),
        starts: BTreeMap::new(),
        exports: HashMap::new(),
        slots: HashMap::new(),
        stubs: Vec::new(),
        fixed: Vec::new(),
        data_refs: BTreeSet::new(),
        held: Held::default(),
        data_symbol_refs: BTreeSet::new(),
        init: Vec::new(),
        rodata: Vec::new(),
        hash: content_hash(data),
        statics: HashMap::new(),
        gaps: BTreeSet::new(),
        landing: Vec::new(),
        unread_lsda: Vec::new(),
        eh_frame: None,
        go: false,
        go_text: None,
    };
    for ph in phdrs {
        if ph.p_type(e) == elf::PT_GNU_RELRO {
            let (a, n) = (ph.p_vaddr(e), ph.p_memsz(e));
            obj.fixed.push((a, a.saturating_add(n)));
        }
        if ph.p_type(e) == elf::PT_INTERP
            && let Ok(bytes) = ph.data(e, data)
        {
            let end = bytes.iter().position(|b| *b == 0).unwrap_or(bytes.len());
            obj.interp = Some(String::from_utf8_lossy(&bytes[..end]).into_owned());
        }
    }
    let entry = hdr.e_entry(e);
    obj.entry = (entry != 0).then_some(entry);

    // Sections: code, read-only data, data (for pointers), by address.
    let mut data_sections: Vec<(u64, &[u8])> = Vec::new();
    let mut writable: Vec<(u64, &[u8])> = Vec::new();
    let mut tls: Vec<(u64, u64)> = Vec::new();
    let mut spans: Vec<(u64, u64)> = Vec::new();
    for s in sections.iter() {
        let name = sections
            .section_name(e, s)
            .map(|n| String::from_utf8_lossy(n).into_owned())
            .unwrap_or_default();
        let flags = s.sh_flags(e);
        let addr = s.sh_addr(e);
        if flags & u64::from(elf::SHF_ALLOC) != 0 && flags & u64::from(elf::SHF_EXECINSTR) == 0 {
            let span = (addr, addr.saturating_add(s.sh_size(e)));
            if flags & u64::from(elf::SHF_TLS) != 0 {
                tls.push(span);
            }
            spans.push(span);
        }
        if s.sh_type(e) == elf::SHT_NOBITS || flags & u64::from(elf::SHF_ALLOC) == 0 {
            continue;
        }
        let Ok(bytes) = s.data(e, data) else {
            return Err(bad(
                path,
                format!("section {name}: its data lies outside the file"),
            ));
        };
        if addr.checked_add(bytes.len() as u64).is_none() {
            return Err(bad(
                path,
                format!("section {name}: its addresses run past the end of the address space"),
            ));
        }
        if flags & u64::from(elf::SHF_EXECINSTR) != 0 {
            obj.code.push(Code {
                addr,
                bytes: bytes.to_vec(),
                name,
            });
        } else if flags & u64::from(elf::SHF_WRITE) == 0 {
            obj.rodata.push((addr, bytes.to_vec()));
            data_sections.push((addr, bytes));
        } else {
            if name == ".got" || name == ".got.plt" {
                obj.fixed.push((addr, addr + bytes.len() as u64));
            }
            data_sections.push((addr, bytes));
            writable.push((addr, bytes));
        }
    }

    // Symbols: function starts (symtab when not stripped, dynsym always) and exports.
    let mut exported: Vec<(u64, u64)> = Vec::new();
    for sh_type in [elf::SHT_SYMTAB, elf::SHT_DYNSYM] {
        let Ok(table) = sections.symbols(e, data, sh_type) else {
            continue;
        };
        let strings = table.strings();
        for sym in table.iter() {
            let t = sym.st_type();
            let bind = sym.st_bind();
            // Defined and visible to other objects (and to dlsym).
            let is_export = sh_type == elf::SHT_DYNSYM
                && sym.st_shndx(e) != elf::SHN_UNDEF
                && (bind == elf::STB_GLOBAL || bind == elf::STB_WEAK)
                && sym.st_visibility() != elf::STV_HIDDEN;
            if is_export && t == elf::STT_OBJECT {
                let a = sym.st_value(e);
                exported.push((a, a.saturating_add(sym.st_size(e).max(1))));
            }
            if t != elf::STT_FUNC && t != elf::STT_GNU_IFUNC {
                continue;
            }
            if sym.st_shndx(e) == elf::SHN_UNDEF {
                continue;
            }
            let addr = sym.st_value(e);
            let name = sym
                .name(e, strings)
                .map(|n| String::from_utf8_lossy(n).into_owned())
                .ok();
            let entry = obj.starts.entry(addr).or_insert(None);
            if entry.is_none() {
                *entry = name.clone();
            }
            if is_export && let Some(n) = name {
                obj.exports.entry(n).or_default().push(Export {
                    addr,
                    ifunc: t == elf::STT_GNU_IFUNC,
                });
            }
        }
    }
    if let Some(entry) = obj.entry {
        obj.starts
            .entry(entry)
            .or_insert_with(|| Some("_start".into()));
    }
    let fde_ends = eh_frame_starts(&sections, data, &mut obj);
    go_starts(&sections, data, &mut obj);
    for c in &obj.code {
        // A region with no known start at its beginning still holds code: it starts a function.
        obj.starts.entry(c.addr).or_insert(None);
    }

    // Relocations: GOT slots, data pointers, init arrays.
    let read_word = |addr: u64| -> Option<u64> {
        data_sections.iter().find_map(|(a, b)| {
            let off = addr.checked_sub(*a)? as usize;
            let w = b.get(off..off.checked_add(8)?)?;
            Some(u64::from_le_bytes(w.try_into().ok()?))
        })
    };
    let mut relocated: HashMap<u64, u64> = HashMap::new();
    // Every relocated word holding an address of this object: (where, value).
    let mut words: Vec<(u64, u64)> = Vec::new();
    for s in sections.iter() {
        let Ok(Some((relas, link))) = s.rela(e, data) else {
            continue;
        };
        let symtab = sections.symbol_table_by_index(e, data, link).ok();
        for r in relas {
            let offset = r.r_offset.get(e);
            let info = r.r_info.get(e);
            let (sym, rtype) = ((info >> 32) as u32, (info & 0xffff_ffff) as u32);
            let addend = r.r_addend.get(e) as u64;
            let name = || -> Option<String> {
                let t = symtab.as_ref()?;
                let sym = t.symbol(object::SymbolIndex(sym as usize)).ok()?;
                let n = sym.name(e, t.strings()).ok()?;
                Some(String::from_utf8_lossy(n).into_owned())
            };
            match rtype {
                elf::R_X86_64_RELATIVE => {
                    obj.slots.insert(offset, Slot::Local(addend));
                    obj.data_refs.insert(addend);
                    relocated.insert(offset, addend);
                    words.push((offset, addend));
                }
                elf::R_X86_64_IRELATIVE => {
                    obj.slots.insert(offset, Slot::Resolver(addend));
                    obj.data_refs.insert(addend);
                    relocated.insert(offset, addend);
                    words.push((offset, addend));
                }
                elf::R_X86_64_JUMP_SLOT | elf::R_X86_64_GLOB_DAT | elf::R_X86_64_64 => {
                    if let Some(n) = name().filter(|n| !n.is_empty()) {
                        if rtype != elf::R_X86_64_JUMP_SLOT {
                            obj.data_symbol_refs.insert(n.clone());
                        }
                        obj.slots.insert(offset, Slot::Symbol(n));
                    } else if rtype == elf::R_X86_64_64 {
                        // Against section symbols (sym 0 or local): an address plus addend.
                        obj.data_refs.insert(addend);
                        words.push((offset, addend));
                    }
                }
                _ => {}
            }
        }
    }
    // Packed relative relocations (DT_RELR, as glibc's own programs use): the addend is the
    // word in place; an even entry is an address, an odd one a bitmap of the 63 words after.
    for s in sections.iter().filter(|s| s.sh_type(e) == elf::SHT_RELR) {
        let Ok(b) = s.data(e, data) else { continue };
        let mut base = 0u64;
        let mut add = |addr: u64| {
            if let Some(v) = read_word(addr) {
                obj.slots.insert(addr, Slot::Local(v));
                obj.data_refs.insert(v);
                relocated.insert(addr, v);
                words.push((addr, v));
            }
        };
        for w in b.chunks_exact(8) {
            let entry = u64::from_le_bytes(w.try_into().unwrap_or_default());
            if entry & 1 == 0 {
                add(entry);
                base = entry.wrapping_add(8);
            } else {
                for bit in 1..64 {
                    if entry >> bit & 1 == 1 {
                        add(base.wrapping_add((bit - 1) * 8));
                    }
                }
                base = base.wrapping_add(63 * 8);
            }
        }
    }
    // Position-dependent code holds plain addresses in its data: any aligned word that is a
    // function start counts as taken.
    if is_exec {
        for (_, b) in &data_sections {
            for w in b.chunks_exact(8) {
                let v = u64::from_le_bytes(w.try_into().unwrap_or_default());
                if obj.starts.contains_key(&v) {
                    obj.data_refs.insert(v);
                }
            }
        }
    }

    if obj.go {
        go_statics(&mut obj, &data_sections, &writable);
    }

    // The loader's calls: init/fini arrays and DT_INIT/DT_FINI.
    if let Ok(Some((dyns, strtab_index))) = sections.dynamic(e, data) {
        let strings = sections.strings(e, data, strtab_index).ok();
        let string = |v: u64| -> Option<String> {
            let s = strings.as_ref()?.get(v as u32).ok()?;
            Some(String::from_utf8_lossy(s).into_owned())
        };
        let mut arrays: Vec<(u64, u64)> = Vec::new();
        let mut pending: HashMap<i64, u64> = HashMap::new();
        for d in dyns {
            let tag = d.d_tag(e);
            let val = d.d_val(e);
            match tag {
                elf::DT_NULL => break,
                elf::DT_NEEDED => obj.needed.extend(string(val)),
                elf::DT_SONAME => obj.soname = string(val),
                elf::DT_RUNPATH => {
                    obj.runpath = string(val)
                        .map(|s| s.split(':').map(str::to_string).collect())
                        .unwrap_or_default()
                }
                elf::DT_RPATH => {
                    obj.rpath = string(val)
                        .map(|s| s.split(':').map(str::to_string).collect())
                        .unwrap_or_default()
                }
                elf::DT_INIT | elf::DT_FINI => obj.init.push(val),
                elf::DT_TEXTREL => obj.textrel = true,
                elf::DT_FLAGS if val & u64::from(elf::DF_TEXTREL) != 0 => obj.textrel = true,
                elf::DT_INIT_ARRAY
                | elf::DT_FINI_ARRAY
                | elf::DT_PREINIT_ARRAY
                | elf::DT_INIT_ARRAYSZ
                | elf::DT_FINI_ARRAYSZ
                | elf::DT_PREINIT_ARRAYSZ => {
                    pending.insert(tag, val);
                }
                _ => {}
            }
        }
        for (a, sz) in [
            (elf::DT_INIT_ARRAY, elf::DT_INIT_ARRAYSZ),
            (elf::DT_FINI_ARRAY, elf::DT_FINI_ARRAYSZ),
            (elf::DT_PREINIT_ARRAY, elf::DT_PREINIT_ARRAYSZ),
        ] {
            if let (Some(addr), Some(size)) = (pending.get(&a), pending.get(&sz)) {
                arrays.push((*addr, *size));
            }
        }
        for (addr, size) in arrays {
            for i in 0..(size / 8).min(1 << 16) {
                let slot = addr.wrapping_add(i * 8);
                let target = relocated.get(&slot).copied().or_else(|| read_word(slot));
                if let Some(t) = target.filter(|t| *t != 0 && *t != u64::MAX) {
                    obj.init.push(t);
                }
            }
        }
    } else {
        // A static executable: its init/fini arrays by section.
        for s in sections.iter() {
            let t = s.sh_type(e);
            if (t == elf::SHT_INIT_ARRAY || t == elf::SHT_FINI_ARRAY || t == elf::SHT_PREINIT_ARRAY)
                && let Ok(b) = s.data(e, data)
            {
                let addr = s.sh_addr(e);
                for (i, w) in b.chunks_exact(8).enumerate() {
                    let slot = addr.wrapping_add(i as u64 * 8);
                    let v = relocated
                        .get(&slot)
                        .copied()
                        .unwrap_or_else(|| u64::from_le_bytes(w.try_into().unwrap_or_default()));
                    if v != 0 && v != u64::MAX {
                        obj.init.push(v);
                    }
                }
            }
        }
    }
    for a in obj.init.clone() {
        obj.starts.entry(a).or_insert(None);
    }
    // Code that addresses data absolutely (position-dependent, text relocations) or Go's
    // (whose runtime walks its tables from one module header) keeps every word.
    obj.held = if obj.is_exec || obj.textrel || obj.go {
        Held::all(&obj.data_refs)
    } else {
        // From the debug file only, not the object's own `.symtab`: a stripped and an
        // unstripped build of one program give one result.
        let sized = debug.map(bounds::sized_objects).unwrap_or_default();
        Held::new(Layout {
            words: &words,
            sized: &sized,
            exported: &exported,
            tls: &tls,
            sections: spans,
        })
    };
    for end in fde_ends {
        let in_code = obj
            .code
            .iter()
            .any(|c| end > c.addr && end < c.addr + c.bytes.len() as u64);
        if in_code && !obj.starts.contains_key(&end) {
            obj.gaps.insert(end);
        }
    }
    Ok(obj)
}

/// Function starts from `.eh_frame`'s FDEs: every function the compiler emitted unwind
/// information for, which is every C/C++/Rust function of a Debian object, stripped or not.
/// Adds every FDE's start to `obj.starts`; returns the ends of FDEs where no other FDE goes on.
fn eh_frame_starts(
    sections: &object::read::elf::SectionTable<'_, elf::FileHeader64<LE>>,
    data: &[u8],
    obj: &mut Object,
) -> Vec<u64> {
    use gimli::UnwindSection;
    let e = LE;
    let mut ranges: Vec<(u64, u64)> = Vec::new();
    let Some((_, eh)) = sections
        .iter()
        .enumerate()
        .find(|(_, s)| sections.section_name(e, s).is_ok_and(|n| n == b".eh_frame"))
    else {
        return Vec::new();
    };
    let Ok(bytes) = eh.data(e, data) else {
        return Vec::new();
    };
    let frame = gimli::EhFrame::new(bytes, gimli::LittleEndian);
    let addr_of = |name: &[u8]| {
        sections
            .iter()
            .find(|s| sections.section_name(e, s).is_ok_and(|n| n == name))
            .map(|s| s.sh_addr(e))
    };
    let saved = EhFrame {
        addr: eh.sh_addr(e),
        bytes: bytes.to_vec(),
        text: addr_of(b".text"),
        got: addr_of(b".got"),
    };
    let bases = saved.bases();
    obj.eh_frame = Some(saved);
    let except = sections.iter().find_map(|s| {
        (sections
            .section_name(e, s)
            .is_ok_and(|n| n == b".gcc_except_table"))
        .then(|| Some((s.sh_addr(e), s.data(e, data).ok()?)))
        .flatten()
    });
    let mut entries = frame.entries(&bases);
    let mut cies = HashMap::new();
    // A corrupt table ends the walk; what was read counts (starts only add precision).
    while let Ok(Some(entry)) = entries.next() {
        if let gimli::CieOrFde::Fde(partial) = entry {
            let fde = partial.parse(|_, bases, offset| {
                if let Some(c) = cies.get(&offset.0) {
                    return Ok(std::clone::Clone::clone(c));
                }
                let cie = frame.cie_from_offset(bases, offset)?;
                cies.insert(offset.0, cie.clone());
                Ok(cie)
            });
            if let Ok(fde) = fde {
                // A signal trampoline's FDE starts one byte before its code (so that the
                // unwinder's pc-1 lookup finds it): the function starts after that byte.
                let start = fde
                    .initial_address()
                    .wrapping_add(u64::from(fde.is_signal_trampoline()));
                obj.starts.entry(start).or_insert(None);
                let end = fde.initial_address().wrapping_add(fde.len());
                ranges.push((start, end));
                if let Some(p) = fde.lsda() {
                    let pads = match (p, except) {
                        (gimli::Pointer::Direct(a), Some(t)) => {
                            super::lsda::landing_pads(t, a, start)
                        }
                        _ => None,
                    };
                    match pads {
                        Some(pads) => obj.landing.extend(
                            pads.into_iter()
                                .filter(|p| !(start..end).contains(p))
                                .map(|p| (start, p)),
                        ),
                        None => obj.unread_lsda.push(start),
                    }
                }
            }
        }
    }
    // Ends covered by no FDE (an FDE starting at or spanning the end continues the code).
    ranges.sort_unstable();
    let mut ends = Vec::new();
    let mut reach = 0u64;
    for (k, &(_, end)) in ranges.iter().enumerate() {
        reach = reach.max(end);
        let next = ranges.get(k + 1).map(|r| r.0);
        if end == reach && next.is_none_or(|n| n > end) {
            ends.push(end);
        }
    }
    ends
}

/// Function starts and names from Go's function table (`.gopclntab`, Go 1.18 and later), which
/// stripped Go programs keep: the runtime needs it.
fn go_starts(
    sections: &object::read::elf::SectionTable<'_, elf::FileHeader64<LE>>,
    data: &[u8],
    obj: &mut Object,
) {
    let Some(t) = go_pclntab(sections, data) else {
        return;
    };
    let u32_at =
        |o: usize| -> Option<u32> { Some(u32::from_le_bytes(t.get(o..o + 4)?.try_into().ok()?)) };
    let u64_at =
        |o: usize| -> Option<u64> { Some(u64::from_le_bytes(t.get(o..o + 8)?.try_into().ok()?)) };
    let Some(magic) = u32_at(0) else { return };
    if !matches!(magic, 0xffff_fff0 | 0xffff_fff1) || t.get(7) != Some(&8) {
        return;
    }
    obj.go = true;
    let (Some(nfunc), Some(text), Some(names), Some(pcln)) =
        (u64_at(8), u64_at(24), u64_at(32), u64_at(64))
    else {
        return;
    };
    // The function table has one more entry than functions: the end of Go's text. What lies
    // outside (C code an external link added: crt, cgo) follows the C ABI.
    let end = u32_at(pcln as usize + (nfunc as usize).min(1 << 22) * 8)
        .map_or(u64::MAX, |e| text.wrapping_add(u64::from(e)));
    obj.go_text = Some((text, end));
    for i in 0..(nfunc as usize).min(1 << 22) {
        let at = pcln as usize + i * 8;
        let (Some(entry), Some(funcoff)) = (u32_at(at), u32_at(at + 4)) else {
            break;
        };
        let name = u32_at(pcln as usize + funcoff as usize + 4).and_then(|off| {
            let b = t.get(names as usize + off as usize..)?;
            let end = b.iter().take(4096).position(|c| *c == 0)?;
            std::str::from_utf8(&b[..end]).ok().map(str::to_string)
        });
        let addr = text.wrapping_add(u64::from(entry));
        let slot = obj.starts.entry(addr).or_insert(None);
        if slot.is_none() {
            *slot = name;
        }
    }
}

/// Go's function table: its own section when Go's linker linked the program; inside
/// `.data.rel.ro` (or `.rodata`), found by its header, when an external linker did (Debian's
/// PIE builds, dockerd among them), in a program that says it is Go.
fn go_pclntab<'a>(
    sections: &object::read::elf::SectionTable<'_, elf::FileHeader64<LE>>,
    data: &'a [u8],
) -> Option<&'a [u8]> {
    let e = LE;
    let named = |name: &[u8]| {
        sections
            .iter()
            .find(|s| sections.section_name(e, s).is_ok_and(|n| n == name))
    };
    if let Some(s) = named(b".gopclntab") {
        return s.data(e, data).ok();
    }
    named(b".go.buildinfo").or_else(|| named(b".note.go.buildid"))?;
    [&b".data.rel.ro"[..], b".rodata"]
        .into_iter()
        .find_map(|name| {
            let d = named(name)?.data(e, data).ok()?;
            // Magic (Go 1.18-1.19, 1.20 on), two zero bytes, x86's instruction quantum, pointer size.
            (0..d.len().saturating_sub(72))
                .step_by(8)
                .find(|at| {
                    matches!(
                        &d[*at..*at + 8],
                        [0xf0 | 0xf1, 0xff, 0xff, 0xff, 0, 0, 1, 8]
                    )
                })
                .map(|at| &d[at..])
        })
}

/// Small numbers in Go's writable data that no data word points at (see `Object::statics`).
fn go_statics(obj: &mut Object, data: &[(u64, &[u8])], writable: &[(u64, &[u8])]) {
    for (a, b) in writable {
        if a % 8 != 0 {
            continue;
        }
        for (k, w) in b.chunks_exact(8).enumerate() {
            let v = u64::from_le_bytes(w.try_into().unwrap_or_default());
            if v < 1024 {
                obj.statics.insert(a + 8 * k as u64, v);
            }
        }
    }
    for (_, b) in data {
        for w in b.chunks_exact(8) {
            let v = u64::from_le_bytes(w.try_into().unwrap_or_default());
            obj.statics.remove(&v);
        }
    }
}

/// SHA-256 of the content: the key of the per-object cache (`cache`), which must not let one
/// file pass for another.
fn content_hash(data: &[u8]) -> String {
    use sha2::Digest;
    let d = sha2::Sha256::digest(data);
    d.iter().map(|b| format!("{b:02x}")).collect()
}

impl EhFrame {
    fn bases(&self) -> gimli::BaseAddresses {
        let mut b = gimli::BaseAddresses::default().set_eh_frame(self.addr);
        if let Some(t) = self.text {
            b = b.set_text(t);
        }
        if let Some(g) = self.got {
            b = b.set_got(g);
        }
        b
    }
}

impl Object {
    /// For each of `addrs`, the frame rules of the FDE that covers it: (from where, rule), in
    /// address order. An address no FDE covers is left out.
    pub fn frame_rules(&self, addrs: &BTreeSet<u64>) -> HashMap<u64, Vec<(u64, Cfa)>> {
        use gimli::UnwindSection;
        let mut out = HashMap::new();
        let Some(eh) = &self.eh_frame else {
            return out;
        };
        let frame = gimli::EhFrame::new(&eh.bytes, gimli::LittleEndian);
        let bases = eh.bases();
        let mut ctx = gimli::UnwindContext::new();
        let mut entries = frame.entries(&bases);
        while let Ok(Some(entry)) = entries.next() {
            let gimli::CieOrFde::Fde(partial) = entry else {
                continue;
            };
            let Ok(fde) = partial.parse(|_, b, o| frame.cie_from_offset(b, o)) else {
                continue;
            };
            let start = fde.initial_address();
            let Some(end) = start.checked_add(fde.len()) else {
                continue;
            };
            if addrs.range(start..end).next().is_none() {
                continue;
            }
            let Ok(mut table) = gimli::UnwindTable::new(&frame, &bases, &mut ctx, &fde) else {
                continue;
            };
            let mut rows = Vec::new();
            while let Ok(Some(row)) = table.next_row() {
                let cfa = match row.cfa() {
                    gimli::CfaRule::RegisterAndOffset { register, offset } => {
                        Some((register.0, *offset))
                    }
                    gimli::CfaRule::Expression(_) => None,
                };
                rows.push((row.start_address(), cfa));
            }
            for a in addrs.range(start..end) {
                out.insert(*a, rows.clone());
            }
        }
        out
    }

    /// The string constant at `addr`, if it lies in read-only data.
    pub fn c_string(&self, addr: u64) -> Option<String> {
        let rest = super::decode::rodata_at(&self.rodata, addr)?;
        let end = rest.iter().take(4096).position(|c| *c == 0)?;
        std::str::from_utf8(&rest[..end]).ok().map(str::to_string)
    }

    /// The function (its start) whose body holds `addr`, if `addr` is code of this object.
    pub fn function_of(&self, addr: u64) -> Option<u64> {
        if !self
            .code
            .iter()
            .any(|c| addr >= c.addr && addr < c.addr + c.bytes.len() as u64)
        {
            return None;
        }
        self.starts.range(..=addr).next_back().map(|(a, _)| *a)
    }

    /// The slot a call to `target` goes through: the GOT slot it names, or the one the PLT stub
    /// it lands in jumps through.
    pub fn call_slot(&self, target: &Target) -> Option<&Slot> {
        match *target {
            Target::Slot(s) => self.slots.get(&s),
            Target::Addr(a) => self.stub_at(a),
        }
    }

    /// Whether the word at `a` is a slot the loader fills and nothing writes after it (the
    /// GOT, RELRO): a call through it goes where the slot is bound.
    pub fn loader_slot(&self, a: u64) -> bool {
        self.slots.contains_key(&a) && self.fixed.iter().any(|(s, e)| (*s..*e).contains(&a))
    }

    /// The symbol a call to `target` goes to through the PLT or GOT, if it does.
    pub fn call_symbol(&self, target: &Target) -> Option<&str> {
        match self.call_slot(target)? {
            Slot::Symbol(n) => Some(n),
            _ => None,
        }
    }

    /// The PLT stub holding `addr`, if any: the slot it jumps through.
    pub fn stub_at(&self, addr: u64) -> Option<&Slot> {
        // Sorted by start (see `analyze::read_object`).
        let i = self.stubs.partition_point(|(s, _, _)| *s <= addr);
        let (s, e, slot) = self.stubs.get(i.checked_sub(1)?)?;
        (addr >= *s && addr < *e).then_some(slot)
    }
}
