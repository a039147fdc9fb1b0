//! `syscage analyze`: every syscall a program's code can reach, from its ELF files alone.
//!
//! The objects the loader would map (`loader`) are read (`elf`); each function's machine code
//! gives its syscall sites, calls and taken addresses (`decode`); the call graph over all of
//! them gives what is reachable from the entry points and constructors (`graph`); documented
//! rules add what is loaded by name at run time (`rules`). The result is a recording, in the
//! format `record` writes. Reads files only: no process state.

mod bounds;
pub mod cache;
pub mod decode;
pub mod elf;
pub mod graph;
pub mod loader;
mod lsda;
mod parallel;
pub mod plugins;
pub mod rootfile;
pub mod rules;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use crate::model::Abi;
use crate::model::recording::{Builder, Recording};
use decode::Facts;

/// Facts of one object's functions, by start address; shared between programs.
pub type ObjectFacts = std::sync::Arc<BTreeMap<u64, Facts>>;
use elf::{Cfa, Object};
use graph::{Edge, FnId, Graph};
use loader::Root;

#[derive(Debug, Clone, Default)]
pub struct Options {
    pub root: PathBuf,
    pub programs: Vec<String>,
    /// Libraries a program loads by a name the analysis cannot see (`--dlopen`).
    pub dlopen: Vec<String>,
    /// Syscalls to explain (a shortest path to a site of each).
    pub explain: Vec<String>,
    /// Reuse and keep each object's facts in the per-object cache (`cache::dir()`).
    pub cache: bool,
    /// Libraries (paths in the root) loaded with every export a root, each with why
    /// (`--libraries-from`: a recording saw the program open them).
    pub preload: Vec<(String, String)>,
}

#[derive(Debug, thiserror::Error)]
pub enum AnalyzeError {
    #[error(transparent)]
    Elf(#[from] elf::ElfError),
    #[error("{0}")]
    Message(String),
}

/// One syscall the analysis found reachable.
#[derive(Debug, Clone)]
pub struct Found {
    /// Objects holding a site (or a call to a wrapper with the number).
    pub objects: BTreeSet<String>,
    pub sites: usize,
}

#[derive(Debug, Default)]
pub struct Analysis {
    /// What was analysed for each program given (a script's interpreter, for a script).
    pub programs: Vec<(String, String)>,
    pub objects: Vec<String>,
    pub functions: usize,
    pub reachable: usize,
    pub syscalls: BTreeMap<(Abi, String), Found>,
    /// Added by rule, with why.
    pub added: BTreeMap<String, String>,
    /// Why the result may miss syscalls: unresolved sites, computed dlopen names, missing
    /// libraries. Empty when complete.
    pub incomplete: Vec<String>,
    pub unresolved_sites: usize,
    /// Objects a rule loaded, with the rule.
    pub loaded_by_rule: Vec<(String, String)>,
    pub explained: Vec<String>,
    /// What the analysis did that a user should know (a script followed to its interpreter).
    pub notes: Vec<String>,
}

impl Analysis {
    pub fn is_complete(&self) -> bool {
        self.incomplete.is_empty()
    }

    /// The analysis as a recording (`record --recording`'s format): one entry per syscall, its
    /// count the number of sites, its executables the objects holding them.
    pub fn to_recording(&self) -> Recording {
        let mut b = Builder::default();
        for ((abi, name), f) in &self.syscalls {
            for o in &f.objects {
                b.add(*abi, name, 0, o);
            }
        }
        for name in self.added.keys() {
            b.add(Abi::X86_64, name, 0, "(added by rule)");
        }
        let command: Vec<String> = std::iter::once("syscage analyze".to_string())
            .chain(self.programs.iter().map(|(p, _)| p.clone()))
            .collect();
        b.finish(command)
    }
}

/// Loads `program` and what the loader maps with it.
struct Image {
    objs: Vec<Object>,
    missing: Vec<String>,
    /// Index of the program interpreter, if any.
    interp: Option<usize>,
    /// Extra roots: objects loaded by rule (every export), by object index, with the rule.
    rule_roots: Vec<(usize, String)>,
    /// Objects whose computed `dlopen` and `dlsym` a rule covers (an interpreter's module
    /// loader, a plugin host), with the rule.
    covered: Vec<(String, String)>,
    /// Objects read ahead, in parallel, for the rules about to load them (by path).
    prefetched: HashMap<String, Result<Object, AnalyzeError>>,
}

impl Image {
    fn index_of(&self, path: &str) -> Option<usize> {
        self.objs.iter().position(|o| o.path == path)
    }

    /// The object already loaded under the bare name `name`, which the loader takes before
    /// searching: its file's name or its DT_SONAME (`libfoo.so.1` for `libfoo.so.1.2.3`).
    fn loaded_as(&self, name: &str) -> Option<&Object> {
        if name.contains('/') {
            return None;
        }
        self.objs
            .iter()
            .find(|o| o.path.rsplit('/').next() == Some(name) || o.soname.as_deref() == Some(name))
    }

    /// The DT_RPATH and DT_RUNPATH a search from `o` uses: its RPATH, then the program's (with
    /// the program's directory for `$ORIGIN`); its RUNPATH.
    fn search_paths(&self, o: &Object) -> (Vec<String>, Vec<String>) {
        let mut rpath = o.rpath.clone();
        rpath.extend(loader::with_origin(&self.objs[0].rpath, &self.objs[0].path));
        (rpath, o.runpath.clone())
    }
}

fn read_object(root: &Root, path: &str) -> Result<Object, AnalyzeError> {
    let host = root
        .host(path)
        .ok_or_else(|| AnalyzeError::Message(format!("{path}: no such file in the root")))?;
    let file = rootfile::open(&host).map_err(|e| {
        AnalyzeError::Message(match e.why {
            rootfile::Why::NotRegular => format!("{path}: not a regular file"),
            _ => e.to_string(),
        })
    })?;
    // The header first: a huge file that is not ELF is never read whole.
    let head = file.head(64).unwrap_or_default();
    if elf::machine(&head).is_none() {
        return Err(AnalyzeError::Message(format!("{path}: not an ELF file")));
    }
    if file.len > loader::MAX_OBJECT {
        return Err(AnalyzeError::Message(format!(
            "{path}: {} bytes, larger than the {} bytes analysed",
            file.len,
            loader::MAX_OBJECT
        )));
    }
    let data = file
        .read(loader::MAX_OBJECT)
        .map_err(|e| AnalyzeError::Message(e.to_string()))?;
    let debug = debug_file(root, &data);
    let mut o = elf::parse_with(path, &data, debug.as_deref())?;
    add_stubs(&mut o);
    Ok(o)
}

/// The debug file of a stripped object (Debian's `-dbg`/`-dbgsym` packages, by build-id) in
/// the root, its own build-id the object's: its symbol table bounds the object's data
/// (`bounds`). None when not installed.
fn debug_file(root: &Root, data: &[u8]) -> Option<Vec<u8>> {
    let id = bounds::build_id(data)?;
    let host = root.host(&bounds::debug_path(&id)?)?;
    let f = rootfile::open(&host).ok()?;
    if f.len > loader::MAX_OBJECT {
        return None;
    }
    // Another file at that path (a stale or foreign one) bounds nothing.
    symbol_sections(&f.file, f.len as usize).filter(|d| bounds::build_id(d) == Some(id))
}

/// The bytes of an ELF file `len` long where its header, section headers, symbol and string
/// tables and notes lie; zeros elsewhere (pages never touched). A debug file is mostly DWARF
/// that `bounds` never reads: libc's is 4 MB, its symbols a tenth of that.
fn symbol_sections(file: &std::fs::File, len: usize) -> Option<Vec<u8>> {
    use object::read::elf::{FileHeader as _, SectionHeader as _};
    use std::os::unix::fs::FileExt;
    let e = object::LittleEndian;
    let mut buf = vec![0u8; len];
    let fill = |buf: &mut [u8], off: u64, n: u64| -> Option<()> {
        let start = usize::try_from(off).ok()?;
        let end = start.checked_add(usize::try_from(n).ok()?)?;
        file.read_exact_at(buf.get_mut(start..end)?, off).ok()
    };
    fill(&mut buf, 0, 64)?;
    let hdr = object::elf::FileHeader64::<object::LittleEndian>::parse(&buf[..]).ok()?;
    let (shoff, n) = (hdr.e_shoff(e), u64::from(hdr.e_shnum(e)));
    fill(&mut buf, shoff, n.checked_mul(64)?)?;
    let hdr = object::elf::FileHeader64::<object::LittleEndian>::parse(&buf[..]).ok()?;
    let wanted: Vec<(u64, u64)> = hdr
        .section_headers(e, &buf[..])
        .ok()?
        .iter()
        .filter(|s| {
            matches!(
                s.sh_type(e),
                object::elf::SHT_SYMTAB | object::elf::SHT_STRTAB | object::elf::SHT_NOTE
            )
        })
        .map(|s| (s.sh_offset(e), s.sh_size(e)))
        .collect();
    for (off, size) in wanted {
        fill(&mut buf, off, size)?;
    }
    Some(buf)
}

/// The PLT stubs of `o`, each to the slot it jumps through, sorted.
fn add_stubs(o: &mut Object) {
    let stubs: Vec<(u64, u64, u64)> = o
        .code
        .iter()
        .filter(|c| c.name.starts_with(".plt") || c.name == ".iplt")
        .flat_map(|c| decode::plt_stubs(c.addr, &c.bytes))
        .collect();
    for (s, e, slot) in stubs {
        if let Some(t) = o.slots.get(&slot).cloned() {
            o.stubs.push((s, e, t));
        }
    }
    o.stubs.sort_by_key(|s| s.0);
}

/// The program `p` names in the root, `#!` scripts followed to their interpreter (up to 4).
fn program_path(root: &Root, p: &str, notes: &mut Vec<String>) -> Result<String, AnalyzeError> {
    let mut path = if p.contains('/') {
        p.to_string()
    } else {
        root.which(p)
            .ok_or_else(|| AnalyzeError::Message(format!("{p}: not found in the root's PATH")))?
    };
    let mut named_by: Option<String> = None;
    for _ in 0..4 {
        let resolved = root.resolve(&path).ok_or_else(|| {
            AnalyzeError::Message(match &named_by {
                Some(script) => format!(
                    "{script}: its #! interpreter {path} is not in the root (or is a symlink loop)"
                ),
                None => format!("{path}: no such file in the root (or a symlink loop)"),
            })
        })?;
        let host = root.host(&resolved).unwrap_or_default();
        let head = rootfile::head(&host, 256)
            .map_err(|e| AnalyzeError::Message(format!("{path}: {}", e.why)))?;
        if !head.starts_with(b"#!") {
            return Ok(resolved);
        }
        let line = String::from_utf8_lossy(&head[2..]);
        let line = line.lines().next().unwrap_or("").trim();
        let mut words = line.split_whitespace();
        let interp = words
            .next()
            .ok_or_else(|| AnalyzeError::Message(format!("{path}: a #! line without a program")))?;
        let next = if interp.ends_with("/env") {
            let prog = words.find(|w| !w.starts_with('-')).ok_or_else(|| {
                AnalyzeError::Message(format!("{path}: #!{line}: env without a program"))
            })?;
            root.which(prog).ok_or_else(|| {
                AnalyzeError::Message(format!("{path}: #!{line}: {prog} not found in the root"))
            })?
        } else {
            interp.to_string()
        };
        notes.push(format!(
            "{path} is a script run by {next}: {next} is analysed"
        ));
        named_by = Some(path);
        path = next;
    }
    Err(AnalyzeError::Message(format!(
        "{p}: #! interpreters nested too deep"
    )))
}

/// Maps the objects of one program: itself, its interpreter, DT_NEEDED breadth first.
fn load(root: &Root, program: &str) -> Result<Image, AnalyzeError> {
    let main = read_object(root, program)?;
    let mut img = Image {
        objs: vec![main],
        missing: Vec::new(),
        interp: None,
        rule_roots: Vec::new(),
        covered: Vec::new(),
        prefetched: HashMap::new(),
    };
    if let Some(i) = img.objs[0].interp.clone() {
        let p = root.resolve(&i).unwrap_or(i.clone());
        match read_object(root, &p) {
            Ok(o) => {
                img.objs.push(o);
                img.interp = Some(1);
            }
            Err(e) => img
                .missing
                .push(format!("the program interpreter {i}: {e}")),
        }
    }
    load_needed(root, &mut img, 0);
    Ok(img)
}

/// Loads what objects from index `from` on need, breadth first (the loader's order).
fn load_needed(root: &Root, img: &mut Image, from: usize) {
    let mut i = from;
    while i < img.objs.len() && img.objs.len() < 1024 {
        let o = &img.objs[i];
        let (path, needed) = (o.path.clone(), o.needed.clone());
        let (rpath, runpath) = img.search_paths(o);
        for n in needed {
            // The JVM's libjvm.so, loaded from its own directory, satisfies its plugins'
            // DT_NEEDED.
            if img.loaded_as(&n).is_some() {
                continue;
            }
            match root.find_library(&n, &path, &rpath, &runpath) {
                Some(p) => {
                    let p = root.resolve(&p).unwrap_or(p);
                    if img.index_of(&p).is_none() {
                        match read_object(root, &p) {
                            Ok(o) => img.objs.push(o),
                            Err(e) => img.missing.push(format!("{n} (needed by {path}): {e}")),
                        }
                    }
                }
                None => {
                    if !img.missing.iter().any(|m| m.starts_with(&format!("{n} "))) {
                        img.missing
                            .push(format!("{n} (needed by {path}): not found"));
                    }
                }
            }
        }
        i += 1;
    }
}

/// The path `dlopen(name)` called from the object at `from` opens, searched as the loader
/// does: an object already loaded under that name; then the caller's DT_RPATH and the
/// program's (where the caller has no DT_RUNPATH), the caller's DT_RUNPATH, the cache, the
/// default directories. (LD_LIBRARY_PATH is the environment's: not known here.)
fn find_by_rule(root: &Root, img: &Image, name: &str, from: &str) -> Option<String> {
    if name.starts_with('/') {
        return root.resolve(name);
    }
    if let Some(o) = img.loaded_as(name) {
        return Some(o.path.clone());
    }
    let (rpath, runpath) = match img.index_of(from) {
        Some(i) => img.search_paths(&img.objs[i]),
        None => (Vec::new(), Vec::new()),
    };
    root.find_library(name, from, &rpath, &runpath)
        .map(|p| root.resolve(&p).unwrap_or(p))
}

/// Reads ahead, in parallel, the objects `load_by_rule` will read for `loads` ((name, from)).
fn prefetch<'n>(root: &Root, img: &mut Image, loads: impl Iterator<Item = (&'n str, &'n str)>) {
    let mut paths: Vec<String> = loads
        .filter_map(|(name, from)| find_by_rule(root, img, name, from))
        .filter(|p| img.index_of(p).is_none() && !img.prefetched.contains_key(p))
        .collect();
    paths.sort();
    paths.dedup();
    let read = parallel::map(&paths, |p| read_object(root, p));
    img.prefetched.extend(paths.into_iter().zip(read));
}

/// Adds the library `name` (as `dlopen` would find it from `from`) and what it needs; its
/// exports become roots. Returns whether anything new was loaded.
fn load_by_rule(root: &Root, img: &mut Image, name: &str, from: &str, rule: &str) -> bool {
    let Some(p) = find_by_rule(root, img, name, from) else {
        return false;
    };
    if let Some(i) = img.index_of(&p) {
        if !img.rule_roots.iter().any(|(j, _)| *j == i) {
            img.rule_roots.push((i, rule.to_string()));
            return true;
        }
        return false;
    }
    let read = img
        .prefetched
        .remove(&p)
        .unwrap_or_else(|| read_object(root, &p));
    match read {
        Ok(o) => {
            let before = img.objs.len();
            img.objs.push(o);
            img.rule_roots.push((before, rule.to_string()));
            load_needed(root, img, before);
            true
        }
        Err(_) => false,
    }
}

/// A `dlopen` or `dlsym` (`what`) of a computed name at `at` in `f`: a note when a rule covers
/// its object, else the result is incomplete, saying `otherwise`.
fn computed_name(
    a: &mut Analysis,
    g: &Graph<'_>,
    img: &Image,
    (what, f, at): (&str, FnId, u64),
    otherwise: &str,
) {
    let site = format!("{what} with a computed name at {at:#x} in {}", g.name(f));
    match img.covered.iter().find(|(o, _)| *o == img.objs[f.0].path) {
        Some((_, rule)) => a
            .notes
            .push(format!("{site}: covered by the rule for {rule}")),
        None => a.incomplete.push(format!("{site}: {otherwise}")),
    }
}

/// Go runtime functions that never return to their caller: panics and fatal errors (Go's
/// compiler ends a block after calling them).
fn go_noreturn(name: &str) -> bool {
    matches!(
        name,
        "runtime.gopanic"
            | "runtime.throw"
            | "runtime.fatal"
            | "runtime.fatalthrow"
            | "runtime.fatalpanic"
            | "runtime.goexit1"
            | "runtime.Goexit"
            | "runtime.panicdivide"
            | "runtime.panicshift"
            | "runtime.panicmem"
            | "runtime.panicmemAddr"
            | "runtime.panicwrap"
            | "runtime.panicnildottype"
            | "runtime.panicdottypeE"
            | "runtime.panicdottypeI"
            | "runtime.panicmakeslicelen"
            | "runtime.panicmakeslicecap"
            | "runtime.panicunsafeslicelen"
            | "runtime.panicunsafeslicenilptr"
    ) || [
        "runtime.panicIndex",
        "runtime.panicSlice",
        "runtime.goPanic",
    ]
    .iter()
    .any(|p| name.starts_with(p))
}

/// Facts of every function of `o`: its code partitioned at the function starts.
fn object_facts(o: &Object) -> BTreeMap<u64, Facts> {
    let ranges: Vec<(u64, u64)> = o
        .code
        .iter()
        .map(|c| (c.addr, c.addr + c.bytes.len() as u64))
        .collect();
    // Every body, decoded once.
    let mut bodies: BTreeMap<u64, (u64, Vec<iced_x86::Instruction>)> = BTreeMap::new();
    // What was dropped from bodies as data (below), kept to be put back.
    struct Tail {
        start: u64,
        /// Where the FDE ended: the body's real code lies before.
        gap: u64,
        dropped: Vec<iced_x86::Instruction>,
    }
    let mut tails: Vec<Tail> = Vec::new();
    for c in o
        .code
        .iter()
        .filter(|c| !c.name.starts_with(".plt") && c.name != ".iplt")
    {
        let end = c.addr + c.bytes.len() as u64;
        let starts: Vec<u64> = o.starts.range(c.addr..end).map(|(a, _)| *a).collect();
        for (k, s) in starts.iter().enumerate() {
            let e = starts.get(k + 1).copied().unwrap_or(end);
            let bytes = &c.bytes[(s - c.addr) as usize..(e - c.addr) as usize];
            let mut instrs = decode::decode_body(*s, bytes);
            // After an FDE that ends with a way out (ret, jmp, ud2...), what follows up to the
            // next start is never fallen into: from its first invalid instruction on it is
            // data (code holds none).
            if let Some(&gap) = o.gaps.range(s + 1..e).next()
                && let Some(k) = instrs.iter().position(|i| i.next_ip() == gap)
                && decode::ends_flow(&instrs[k])
                && let Some(bad) = instrs[k + 1..]
                    .iter()
                    .position(|i| i.code() == iced_x86::Code::INVALID)
            {
                let dropped = instrs.split_off(k + 1 + bad);
                tails.push(Tail {
                    start: *s,
                    gap,
                    dropped,
                });
            }
            bodies.insert(*s, (e, instrs));
        }
    }
    // Unless real code branches into what was dropped: then the body counts whole, as before.
    if !tails.is_empty() {
        // By where the dropped part starts; the parts do not overlap.
        tails.sort_unstable_by_key(|t| t.dropped[0].ip());
        let gap_of: HashMap<u64, u64> = tails.iter().map(|t| (t.start, t.gap)).collect();
        let mut whole: BTreeSet<usize> = BTreeSet::new();
        for (s, (_, instrs)) in &bodies {
            let real_until = gap_of.get(s).copied().unwrap_or(u64::MAX);
            for i in instrs.iter().take_while(|i| i.ip() < real_until) {
                if !matches!(
                    i.flow_control(),
                    iced_x86::FlowControl::Call
                        | iced_x86::FlowControl::UnconditionalBranch
                        | iced_x86::FlowControl::ConditionalBranch
                ) {
                    continue;
                }
                let t = i.near_branch_target();
                let k = tails.partition_point(|x| x.dropped[0].ip() <= t);
                if let Some(k) = k.checked_sub(1)
                    && t < bodies[&tails[k].start].0
                {
                    whole.insert(k);
                }
            }
        }
        for k in whole {
            let t = &mut tails[k];
            if let Some((_, instrs)) = bodies.get_mut(&t.start) {
                instrs.append(&mut t.dropped);
            }
        }
    }
    let loader_slot = |a: u64| o.loader_slot(a);
    // Read-only data the code takes the address of: where each switch table ends.
    let in_rodata = |a: u64| decode::rodata_at(&o.rodata, a).is_some();
    let data_taken: BTreeSet<u64> = bodies
        .values()
        .flat_map(|(_, b)| b.iter())
        .filter_map(|i| {
            if i.mnemonic() == iced_x86::Mnemonic::Lea && i.is_ip_rel_memory_operand() {
                Some(i.ip_rel_memory_address())
            } else if i.op_count() >= 1
                && (0..i.op_count()).any(|k| i.op_kind(k) == iced_x86::OpKind::Memory)
                && i.memory_base() == iced_x86::Register::None
                && i.memory_index() != iced_x86::Register::None
            {
                // Position-dependent code indexes a table by its absolute address.
                Some(i.memory_displacement64())
            } else {
                None
            }
        })
        .filter(|a| in_rodata(*a))
        .collect();
    let r = decode::Ranges {
        code: &ranges,
        immediates: o.is_exec || o.textrel,
        rodata: &o.rodata,
        data_taken: &data_taken,
        loader_slot: &loader_slot,
    };
    // What each function may change, with what its callees in this object change, to a
    // fixpoint; a call leaving the object (PLT) or going anywhere (indirect) changes what the
    // ABI lets it. Functions that never return (no `ret`, every way out into another that
    // never returns: abort, _dl_fatal_printf) change nothing for their callers.
    let sums: BTreeMap<u64, decode::Summary> = bodies
        .iter()
        .map(|(s, (e, instrs))| (*s, decode::summary(instrs, *s, *e)))
        .collect();
    let callee = |t: Option<u64>| -> Option<u64> {
        let t = t?;
        if o.stub_at(t).is_some() {
            return None;
        }
        o.function_of(t).filter(|f| bodies.contains_key(f))
    };
    let mut noreturn: BTreeSet<u64> = sums
        .iter()
        .filter(|(_, s)| !s.returns)
        .map(|(a, _)| *a)
        .collect();
    loop {
        let before = noreturn.len();
        let keep: Vec<u64> = noreturn
            .iter()
            .copied()
            .filter(|f| {
                sums[f]
                    .jumps
                    .iter()
                    .all(|j| callee(*j).is_some_and(|t| noreturn.contains(&t)))
            })
            .collect();
        noreturn = keep.into_iter().collect();
        if noreturn.len() == before {
            break;
        }
    }
    // Go's panics never return to their caller (a recovered panic resumes in the deferring
    // frame), but their code holds `ret`s the summary cannot rule out. After such a call Go
    // places the next block's code (the stack-growth tail that jumps back to the entry): were
    // the call to return, another stack depth would flow there and lose every stack slot.
    if o.go {
        noreturn.extend(
            o.starts
                .iter()
                .filter(|(a, n)| bodies.contains_key(*a) && n.as_deref().is_some_and(go_noreturn))
                .map(|(a, _)| *a),
        );
    }
    // Each function's own convention: Go's inside Go's text, C's elsewhere. A call to what
    // is not known clobbers what either convention lets it.
    let cc_of = |f: u64| -> &decode::CallConv {
        match o.go_text {
            Some((start, end)) if (start..end).contains(&f) => &decode::GO,
            _ => &decode::SYSV,
        }
    };
    let unknown_clobber = if o.go {
        decode::GO.clobber | decode::SYSV.clobber
    } else {
        decode::SYSV.clobber
    };
    let mut clob: BTreeMap<u64, decode::Clobber> =
        sums.iter().map(|(s, x)| (*s, x.writes)).collect();
    loop {
        let mut changed = false;
        for (s, x) in &sums {
            let mut m = clob[s];
            for t in x.calls.iter().chain(&x.jumps) {
                m |= match callee(*t) {
                    Some(f) if noreturn.contains(&f) => 0,
                    Some(f) => clob[&f],
                    None => unknown_clobber,
                };
            }
            if m != clob[s] {
                clob.insert(*s, m);
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    let clobber = |t: u64| -> Option<decode::Clobber> {
        match callee(Some(t)) {
            Some(f) if noreturn.contains(&f) => None,
            // Callee-saved registers come back as they were, whatever the callee did.
            Some(f) => Some(clob[&f] & cc_of(f).clobber),
            None => Some(unknown_clobber),
        }
    };
    // Go's package variables holding a number that nothing can change.
    let mut statics = o.statics.clone();
    decode::drop_written_statics(&mut statics, bodies.values().flat_map(|(_, b)| b.iter()));
    let global = |a: u64| statics.get(&a).copied();
    // Values (the data flow) only where they matter: functions with a syscall site or a call
    // through the PLT/GOT (a wrapper or dlopen elsewhere), then callers of this object's
    // wrappers (a function whose parameter reaches a syscall number), to a fixpoint.
    let mut facts: BTreeMap<u64, Facts> = bodies
        .iter()
        .map(|(s, (e, instrs))| (*s, decode::scan(*s, *e, instrs, &r)))
        .collect();
    let local_target = |c: &decode::CallSite| -> Option<u64> {
        match c.target {
            decode::Target::Addr(a) if o.stub_at(a).is_none() => o.function_of(a),
            _ => None,
        }
    };
    let mut callers: HashMap<u64, Vec<u64>> = HashMap::new();
    for (s, f) in &facts {
        for c in &f.calls {
            if let Some(t) = local_target(c) {
                callers.entry(t).or_default().push(*s);
            }
        }
    }
    let mut need: BTreeSet<u64> = facts
        .iter()
        .filter(|(_, f)| {
            !f.syscalls.is_empty() || f.calls.iter().any(|c| local_target(c).is_none())
        })
        .map(|(s, _)| *s)
        .collect();
    let mut valued: BTreeSet<u64> = BTreeSet::new();
    let mut wrap: HashMap<u64, BTreeSet<u8>> = HashMap::new();
    while !need.is_empty() {
        for s in std::mem::take(&mut need) {
            if valued.insert(s) {
                let (e, instrs) = &bodies[&s];
                facts.insert(
                    s,
                    decode::function(s, *e, instrs, &r, cc_of(s), &clobber, &global),
                );
            }
        }
        // Wrappers among what has values, to a fixpoint; their callers need values next.
        loop {
            let mut grew = false;
            for s in &valued {
                let f = &facts[s];
                let mut ks: BTreeSet<u8> = f
                    .syscalls
                    .iter()
                    .filter_map(|x| match x.nr {
                        decode::Val::Param(k) => Some(k),
                        _ => None,
                    })
                    .collect();
                for c in &f.calls {
                    if let Some(t) = local_target(c)
                        && let Some(tk) = wrap.get(&t)
                    {
                        for k in tk {
                            if let decode::Val::Param(j) = *c.args.get(*k as usize) {
                                ks.insert(j);
                            }
                        }
                    }
                    // A dlopen wrapper: its callers' values name the library.
                    if let Some(k) = o.call_symbol(&c.target).and_then(graph::dlopen_name_arg)
                        && let decode::Val::Param(j) = *c.args.get(k)
                    {
                        ks.insert(j);
                    }
                }
                let cur = wrap.entry(*s).or_default();
                if !ks.is_subset(cur) {
                    cur.extend(ks);
                    grew = true;
                }
            }
            if !grew {
                break;
            }
        }
        for (w, ks) in &wrap {
            if !ks.is_empty() {
                for c in callers.get(w).into_iter().flatten() {
                    if !valued.contains(c) {
                        need.insert(*c);
                    }
                }
            }
        }
    }
    // A body whose last instruction lets execution go on runs into the next function (glibc's
    // `__memcpy_chk` variants check the size, then fall into `memcpy`): a jump there. A call
    // last is one that never returns (compilers put nothing after those).
    // (Not where what followed an unwind entry was dropped as data: that body's last
    // instructions are data read as code.)
    let trimmed: BTreeSet<u64> = tails
        .iter()
        .filter(|t| !t.dropped.is_empty())
        .map(|t| t.start)
        .collect();
    for (s, (e, instrs)) in bodies.iter().filter(|(s, _)| !trimmed.contains(s)) {
        let last = instrs
            .iter()
            .rev()
            .find(|i| !matches!(i.mnemonic(), iced_x86::Mnemonic::Nop));
        if let Some(i) = last
            && !decode::ends_flow(i)
            && i.code() != iced_x86::Code::INVALID
            && !matches!(
                i.flow_control(),
                iced_x86::FlowControl::Call | iced_x86::FlowControl::IndirectCall
            )
            && bodies.contains_key(e)
            && let Some(f) = facts.get_mut(s)
        {
            f.calls.push(decode::CallSite::jump_to(i.ip(), *e));
        }
    }
    // Code the unwinder enters: landing pads outside their function (none in Debian's GCC
    // and clang objects, which keep pads beside the calls; kept for those that do not).
    for (f, pad) in &o.landing {
        if let Some(x) = facts.get_mut(f) {
            x.calls.push(decode::CallSite::jump_to(*f, *pad));
        }
    }
    unseen_entries(o, &bodies, &r, &mut facts);
    facts
}

/// How code may enter a part of its object that nothing visibly reaches.
#[derive(PartialEq)]
enum Unseen {
    /// A switch jump whose table was not found.
    Switch,
    /// An indirect jump that is no switch (a computed goto), made inside a frame.
    Computed,
    /// An LSDA that could not be read: its function's landing pads may be anywhere.
    Lsda,
}

/// A switch jump whose table was not found, a computed goto, or an LSDA that could not be
/// read may enter a part of the object that nothing visibly reaches (a case GCC moved to
/// `f.cold`): such jumps go to every such part ("orphans": no call, jump, taken address,
/// export or constructor names them) that has the jump's frame rule somewhere in it — a case
/// runs in its switch's frame — or to every orphan where the rule is not known. An indirect
/// jump whose frame is a function's at entry is taken for a tail call (the taken set bounds
/// it) and not followed here. Dead code is an orphan too, so this costs precision only where
/// a table is not read.
fn unseen_entries(
    o: &Object,
    bodies: &BTreeMap<u64, (u64, Vec<iced_x86::Instruction>)>,
    r: &decode::Ranges<'_>,
    facts: &mut BTreeMap<u64, Facts>,
) {
    let mut from: Vec<(u64, u64, Unseen)> = bodies
        .iter()
        .flat_map(|(s, (_, b))| {
            decode::unread_switches(b, r)
                .into_iter()
                .map(|j| (*s, j, Unseen::Switch))
        })
        .collect();
    for (s, f) in facts.iter() {
        let Some((_, b)) = bodies.get(s) else {
            continue;
        };
        for j in &f.indirect {
            let k = b.partition_point(|i| i.ip() < *j);
            if b.get(k).is_some_and(|i| {
                i.ip() == *j && i.flow_control() == iced_x86::FlowControl::IndirectBranch
            }) {
                from.push((*s, *j, Unseen::Computed));
            }
        }
    }
    from.extend(o.unread_lsda.iter().map(|f| (*f, *f, Unseen::Lsda)));
    if from.is_empty() {
        return;
    }
    let orphans = orphans(o, facts);
    if orphans.is_empty() {
        return;
    }
    let wanted: BTreeSet<u64> = from
        .iter()
        .filter(|(_, _, k)| *k != Unseen::Lsda)
        .map(|(_, j, _)| *j)
        .chain(orphans.iter().copied())
        .collect();
    let rules = o.frame_rules(&wanted);
    let rule_at = |j: u64| -> Option<Cfa> {
        let rows = rules.get(&j)?;
        rows.iter()
            .rev()
            .find(|(from, _)| *from <= j)
            .map(|(_, c)| *c)
    };
    // Every rule a function has anywhere.
    let has_rule = |t: u64, rule: Cfa| {
        rules
            .get(&t)
            .is_none_or(|rows| rows.iter().any(|(_, c)| *c == rule))
    };
    // A function's frame at its entry: the return address just above rsp.
    const ENTRY: Cfa = Some((7, 8));
    for (f, j, kind) in from {
        let rule = match kind {
            Unseen::Lsda => None,
            Unseen::Switch => rule_at(j),
            Unseen::Computed => match rule_at(j) {
                Some(rule) if rule != ENTRY => Some(rule),
                _ => continue,
            },
        };
        let Some(x) = facts.get_mut(&f) else {
            continue;
        };
        for t in orphans
            .iter()
            .filter(|t| rule.is_none_or(|rule| has_rule(**t, rule)))
        {
            x.calls.push(decode::CallSite::jump_to(j, *t));
        }
    }
}

/// The functions of `o` nothing in it visibly reaches: no call or jump of its code goes there,
/// no code or data takes its address, and it is neither exported, a constructor nor the entry.
fn orphans(o: &Object, facts: &BTreeMap<u64, Facts>) -> Vec<u64> {
    let mut targeted: BTreeSet<u64> = BTreeSet::new();
    for f in facts.values() {
        for c in &f.calls {
            if let decode::Target::Addr(a) = c.target
                && let Some(t) = o.function_of(a)
            {
                targeted.insert(t);
            }
        }
        targeted.extend(f.taken.iter().filter_map(|a| o.function_of(*a)));
    }
    let data = o.data_refs.iter().chain(&o.init).chain(&o.entry);
    let exported = o.exports.values().flatten().map(|e| &e.addr);
    targeted.extend(data.chain(exported).filter_map(|a| o.function_of(*a)));
    facts
        .keys()
        .filter(|s| !targeted.contains(s))
        .copied()
        .collect()
}

/// Facts of every object, in parallel, reusing what `known` already holds (by content hash:
/// shared by the programs of one analysis) and what the cache directory `cache` holds.
fn all_facts(objs: &[Object], known: &Known, cache: Option<&Path>) -> Vec<ObjectFacts> {
    let todo: Vec<&Object> = {
        let k = known.lock().unwrap_or_else(|e| e.into_inner());
        objs.iter().filter(|o| !k.contains_key(&o.hash)).collect()
    };
    let computed = parallel::map(&todo, |o| {
        let cached = cache.and_then(|d| cache::load(d, &o.hash));
        cached.unwrap_or_else(|| {
            let f = object_facts(o);
            if let Some(d) = cache {
                cache::store(d, &o.hash, &f);
            }
            f
        })
    });
    let mut k = known.lock().unwrap_or_else(|e| e.into_inner());
    for (o, f) in todo.iter().zip(computed) {
        k.entry(o.hash.clone())
            .or_insert_with(|| std::sync::Arc::new(f));
    }
    objs.iter().map(|o| k[&o.hash].clone()).collect()
}

/// Facts already computed, by content hash.
type Known = std::sync::Mutex<HashMap<String, ObjectFacts>>;

/// Analyses every program of `opts` and unites the results.
pub fn analyze(opts: &Options) -> Result<Analysis, AnalyzeError> {
    let root = Root::new(&opts.root);
    let mut total = Analysis::default();
    let known: Known = Default::default();
    let cache_dir = if opts.cache {
        match cache::dir() {
            Some(d) => match cache::open(&d) {
                Ok(()) => Some(d),
                Err(e) => {
                    total.notes.push(e);
                    None
                }
            },
            None => {
                total.notes.push(
                    "no analysis cache: SYSCAGE_CACHE_DIR is empty, or there is no HOME".into(),
                );
                None
            }
        }
    } else {
        None
    };
    let mut paths = Vec::new();
    for p in &opts.programs {
        let mut notes = Vec::new();
        let path = program_path(&root, p, &mut notes)?;
        paths.push((p.clone(), path, notes));
    }
    // Programs in parallel (a whole root): the objects they share are analysed once.
    let results = parallel::map(&paths, |(_, path, _)| {
        analyze_one(&root, path, opts, &known, cache_dir.as_deref())
    });
    for ((p, path, notes), a) in paths.into_iter().zip(results) {
        total.programs.push((p, path));
        total.notes.extend(notes);
        merge_into(&mut total, a?);
    }
    parallel::drop_later(known);
    Ok(total)
}

fn merge_into(total: &mut Analysis, a: Analysis) {
    for o in a.objects {
        if !total.objects.contains(&o) {
            total.objects.push(o);
        }
    }
    total.functions += a.functions;
    total.reachable += a.reachable;
    for (k, f) in a.syscalls {
        let e = total.syscalls.entry(k).or_insert(Found {
            objects: BTreeSet::new(),
            sites: 0,
        });
        e.objects.extend(f.objects);
        e.sites += f.sites;
    }
    total.added.extend(a.added);
    total.incomplete.extend(a.incomplete);
    total.unresolved_sites += a.unresolved_sites;
    total.loaded_by_rule.extend(a.loaded_by_rule);
    total.explained.extend(a.explained);
    total.notes.extend(a.notes);
}

fn analyze_one(
    root: &Root,
    program: &str,
    opts: &Options,
    known: &Known,
    cache: Option<&Path>,
) -> Result<Analysis, AnalyzeError> {
    let mut img = load(root, program)?;
    for d in &opts.dlopen {
        if !load_by_rule(root, &mut img, d, program, "--dlopen") {
            img.missing
                .push(format!("--dlopen {d}: not found in the root"));
        }
    }
    let mut unreadable = 0;
    for (lib, why) in &opts.preload {
        if img.index_of(lib).is_none() && !load_by_rule(root, &mut img, lib, program, why) {
            unreadable += 1;
        }
    }
    if unreadable > 0 {
        img.missing.push(format!(
            "{unreadable} of the libraries given (--libraries-from) are not x86_64 ELF objects in the root"
        ));
    }
    rules::interpreter_modules(root, &mut img, program);
    let mut applied_rules: BTreeSet<String> = BTreeSet::new();
    // The previous round's call targets and what it reached: objects are only appended, so a
    // round continues the last one.
    let mut earlier = Vec::new();
    let mut reached = None;
    let mut rounds = 0;
    loop {
        rounds += 1;
        let facts = all_facts(&img.objs, known, cache);
        // Rules that load more objects: constant dlopen names, NSS, iconv, libgcc_s. Until
        // one loads something new, this round's graph is the result.
        let (loads, new_rules) = {
            let g = Graph::new(&img.objs, &facts, &earlier, &is_plugin_host);
            let roots = roots(&g, &img);
            let reach = g.reach_more(reached.take(), &roots);
            let mut loads: Vec<(String, String, String)> = Vec::new();
            // Searched from the caller; a name passed to a wrapper also from each object whose
            // code passes a name on to dlopen (the wrapper's: its DT_RUNPATH is the one the
            // loader uses).
            let wrappers = reach.wrapper_objects();
            for (f, at, n) in &reach.dlopens {
                if let Some(n) = n {
                    let wrapped = reach.wrapped.contains(&(*f, *at));
                    let via = wrappers.iter().filter(|o| wrapped && **o != f.0);
                    for o in std::iter::once(&f.0).chain(via) {
                        let from = img.objs[*o].path.clone();
                        loads.push((n.clone(), from, format!("dlopen(\"{n}\")")));
                    }
                }
            }
            let mut new_rules = Vec::new();
            // A plugin host whose computed dlopen or dlsym is reachable: its modules.
            let hosts: BTreeSet<usize> = reach
                .dlopens
                .iter()
                .filter(|(_, _, n)| n.is_none())
                .map(|(f, _, _)| f.0)
                .chain(reach.dlsyms.iter().map(|(f, _)| f.0))
                .collect();
            for i in hosts {
                let path = &img.objs[i].path;
                let Some(h) = plugins::host_of(path) else {
                    continue;
                };
                let rule = h.rule();
                if !img.covered.iter().any(|(o, _)| o == path) {
                    img.covered.push((path.clone(), rule.clone()));
                }
                if !applied_rules.contains(&rule) {
                    for m in h.modules(root) {
                        loads.push((m, path.clone(), rule.clone()));
                    }
                    new_rules.push(rule);
                }
            }
            // NSS, iconv and libgcc_s are opened by libc: from its directory and paths.
            let libc = img
                .loaded_as("libc.so.6")
                .map_or(program, |o| o.path.as_str())
                .to_string();
            for (rule, libs) in rules::by_imports(root, &reach.imports_called) {
                if !applied_rules.contains(&rule) {
                    for l in libs {
                        loads.push((l, libc.clone(), rule.clone()));
                    }
                    new_rules.push(rule);
                }
            }
            if rounds >= 8
                || !loads
                    .iter()
                    .any(|(n, from, _)| rule_adds(root, &img, n, from))
            {
                let mut a = finish(&g, &img, &reach, opts);
                a.notes.extend(unfound_dlopens(root, &img, &loads));
                let targets = g.targets();
                drop(g);
                parallel::drop_later((img, facts, targets, reach));
                return Ok(a);
            }
            earlier = g.targets();
            reached = Some(reach);
            (loads, new_rules)
        };
        applied_rules.extend(new_rules);
        prefetch(
            root,
            &mut img,
            loads.iter().map(|(n, f, _)| (n.as_str(), f.as_str())),
        );
        for (name, from, rule) in &loads {
            load_by_rule(root, &mut img, name, from, rule);
        }
    }
}

/// A note for each constant `dlopen` name no search of the loader's finds in the root: the
/// program's own `dlopen` fails there too, so nothing is missed, unless it is found in a way
/// the analysis cannot see (`LD_LIBRARY_PATH`): said rather than dropped silently.
fn unfound_dlopens(root: &Root, img: &Image, loads: &[(String, String, String)]) -> Vec<String> {
    let mut names: BTreeMap<&str, (Vec<&str>, bool)> = BTreeMap::new();
    for (n, from, rule) in loads {
        if rule.starts_with("dlopen(") {
            let e = names.entry(n.as_str()).or_default();
            e.0.push(from.as_str());
            e.1 |= find_by_rule(root, img, n, from).is_some();
        }
    }
    names
        .into_iter()
        .filter(|(_, (_, found))| !found)
        .map(|(n, (from, _))| {
            format!(
                "dlopen(\"{n}\") (from {}): not found in the root where the loader looks, so it fails there too; if the program finds it another way (LD_LIBRARY_PATH), pass it with --dlopen LIB",
                from.join(", ")
            )
        })
        .collect()
}

/// Whether `load_by_rule` would add an object or a rule root.
fn rule_adds(root: &Root, img: &Image, name: &str, from: &str) -> bool {
    match find_by_rule(root, img, name, from) {
        Some(p) => match img.index_of(&p) {
            Some(i) => !img.rule_roots.iter().any(|(j, _)| *j == i),
            None => true,
        },
        None => false,
    }
}

/// Where execution starts: the program's entry, the interpreter's, every constructor and
/// destructor the loader calls, every export of an object loaded by rule.
fn roots(g: &Graph<'_>, img: &Image) -> Vec<(FnId, String)> {
    let mut out = Vec::new();
    let objs = &img.objs;
    if let Some(e) = objs[0].entry {
        out.extend(
            g.code_ref(0, e)
                .into_iter()
                .map(|f| (f, format!("the entry point of {}", objs[0].path))),
        );
    }
    if let Some(i) = img.interp
        && let Some(e) = objs[i].entry
    {
        out.extend(
            g.code_ref(i, e)
                .into_iter()
                .map(|f| (f, format!("the entry point of {}", objs[i].path))),
        );
    }
    for (i, o) in objs.iter().enumerate() {
        for a in &o.init {
            out.extend(
                g.code_ref(i, *a)
                    .into_iter()
                    .map(|f| (f, format!("a constructor or destructor of {}", o.path))),
            );
        }
    }
    for (i, rule) in &img.rule_roots {
        for (name, exps) in &objs[*i].exports {
            for e in exps {
                out.extend(g.code_ref(*i, e.addr).into_iter().map(|f| {
                    (
                        f,
                        format!("{name}, exported by {} (loaded by {rule})", objs[*i].path),
                    )
                }));
            }
        }
    }
    out
}

fn finish(g: &Graph<'_>, img: &Image, reach: &graph::Reach, opts: &Options) -> Analysis {
    let mut a = Analysis {
        objects: img.objs.iter().map(|o| o.path.clone()).collect(),
        functions: g.facts.iter().map(|f| f.len()).sum(),
        reachable: reach.reachable,
        unresolved_sites: reach.unresolved.len(),
        ..Default::default()
    };
    for ((trap, nr), ev) in &reach.syscalls {
        let abi = trap.abi();
        let name = abi
            .syscall_name(*nr as i64)
            .map(str::to_string)
            .unwrap_or_else(|| format!("unknown_{nr}"));
        let f = a.syscalls.entry((abi, name)).or_insert(Found {
            objects: BTreeSet::new(),
            sites: 0,
        });
        for e in ev {
            f.objects.insert(img.objs[e.function.0].path.clone());
        }
        f.sites += ev.len();
    }
    for (name, why) in rules::always(&a.syscalls) {
        if !a.syscalls.contains_key(&(Abi::X86_64, name.to_string())) {
            a.added.insert(name.to_string(), why.to_string());
        }
    }
    for m in &img.missing {
        a.incomplete.push(format!("a library is missing: {m}"));
    }
    for (f, at, _) in reach.dlopens.iter().filter(|(_, _, name)| name.is_none()) {
        computed_name(
            &mut a,
            g,
            img,
            ("dlopen", *f, *at),
            "pass what it loads with --dlopen LIB",
        );
    }
    if !reach.unresolved.is_empty() {
        let shown: Vec<String> = reach
            .unresolved
            .iter()
            .take(20)
            .map(|u| format!("{:#x} in {}: {}", u.at, g.name(u.function), u.why))
            .collect();
        a.incomplete.push(format!(
            "{} unresolved syscall site{}: {}{}",
            reach.unresolved.len(),
            if reach.unresolved.len() == 1 { "" } else { "s" },
            shown.join("; "),
            if reach.unresolved.len() > 20 {
                "; ..."
            } else {
                ""
            }
        ));
    }
    for (obj, _) in &img.covered {
        if let Some(h) = plugins::host_of(obj) {
            a.notes.push(h.about());
        }
    }
    for (f, at) in &reach.dlsyms {
        computed_name(
            &mut a,
            g,
            img,
            ("dlsym", *f, *at),
            "the function it finds is not followed",
        );
    }
    if !reach.replays.is_empty() {
        let shown: Vec<String> = reach
            .replays
            .iter()
            .map(|u| format!("{:#x} in {} ({})", u.at, g.name(u.function), u.why))
            .collect();
        a.notes.push(format!(
            "not unresolved: {} site{} replaying on every thread a call whose own site is analysed: {}",
            shown.len(),
            if shown.len() == 1 { "" } else { "s" },
            shown.join("; ")
        ));
    }
    if let Some(first) = reach.by_name.first() {
        let sites: Vec<String> = reach
            .by_name
            .iter()
            .map(|u| format!("{:#x} in {}", u.at, g.name(u.function)))
            .collect();
        a.notes.push(format!(
            "resolved by rule: {} site{} whose number the library finds by name at run time ({}): {}",
            sites.len(),
            if sites.len() == 1 { "" } else { "s" },
            first.why,
            sites.join("; ")
        ));
    }
    for (i, rule) in &img.rule_roots {
        a.loaded_by_rule
            .push((img.objs[*i].path.clone(), rule.clone()));
    }
    for name in &opts.explain {
        a.explained.push(explain(g, reach, name));
    }
    a
}

/// One shortest path from an entry point to a site of syscall `name`.
fn explain(g: &Graph<'_>, reach: &graph::Reach, name: &str) -> String {
    let mut best: Option<(usize, Vec<String>)> = None;
    for ((trap, nr), evs) in &reach.syscalls {
        if trap.abi().syscall_name(*nr as i64) != Some(name) {
            continue;
        }
        for ev in evs {
            let mut lines = vec![format!(
                "{name} ({}): syscall site at {:#x} in {}{}",
                trap.abi().as_str(),
                ev.at,
                g.name(ev.function),
                ev.via
                    .map(|v| format!(", through the wrapper {}", g.name(v)))
                    .unwrap_or_default()
            )];
            let mut cur = ev.function;
            let mut seen = BTreeSet::new();
            while let Some((from, at, edge)) = reach.parent.get(&cur) {
                if !seen.insert(cur) {
                    break;
                }
                let how = match edge {
                    Edge::Root(why) => format!("{} is {why}", g.name(cur)),
                    Edge::Call => format!("called at {at:#x} by"),
                    Edge::TailJump => format!("jumped to at {at:#x} by"),
                    Edge::Import(s) => format!("{s}, through the PLT/GOT at {at:#x}, by"),
                    Edge::Ifunc(s) => format!("an implementation of the IFUNC {s}, at {at:#x}, by"),
                    Edge::Indirect => format!(
                        "its address is taken ({}): it may be the target of the indirect call at {at:#x} in",
                        taken_why(g, reach, cur)
                    ),
                    Edge::Handler => format!(
                        "its address is taken ({}): the kernel may run it as the signal handler installed at {at:#x} in",
                        taken_why(g, reach, cur)
                    ),
                };
                match from {
                    Some(f) => {
                        lines.push(format!("  {how} {}", g.name(*f)));
                        cur = *f;
                    }
                    None => {
                        lines.push(format!("  {how}"));
                        break;
                    }
                }
            }
            if best.as_ref().is_none_or(|(n, _)| lines.len() < *n) {
                best = Some((lines.len(), lines));
            }
        }
    }
    match best {
        Some((_, lines)) => lines.join("\n"),
        None => format!("{name}: not reachable"),
    }
}

/// Where the address of pool member `f` is taken, for `--explain`.
fn taken_why(g: &Graph<'_>, reach: &graph::Reach, f: graph::FnId) -> String {
    use graph::Taken;
    match reach.pool.get(&f) {
        Some(Taken::Code(by)) => format!("in the code of {}", g.name(*by)),
        Some(Taken::Data(o)) => format!("held in the data of {}", g.objs[*o].path),
        Some(Taken::Object { obj, start, by }) => format!(
            "held in the data object at {start:#x} of {}, {}",
            g.objs[*obj].path,
            match by {
                Some(b) => format!("which {} refers to", g.name(*b)),
                None => "which live data points into".into(),
            }
        ),
        Some(Taken::Named(n)) => format!("{n}, named in data"),
        None => "by rule".into(),
    }
}

/// The whole front end on one object given as bytes (the fuzz target's entry): parse, PLT
/// stubs, every function's facts, the graph and what its entry reaches. Returns how many
/// syscalls were found. No file is read.
pub fn analyze_bytes(data: &[u8]) -> Result<usize, AnalyzeError> {
    // The bytes as their own debug file too: its symbol table bounds the data objects.
    let mut o = elf::parse_with("fuzz", data, Some(data))?;
    add_stubs(&mut o);
    let img = Image {
        objs: vec![o],
        missing: Vec::new(),
        interp: None,
        rule_roots: Vec::new(),
        covered: Vec::new(),
        prefetched: HashMap::new(),
    };
    let facts = vec![std::sync::Arc::new(object_facts(&img.objs[0]))];
    let g = Graph::new(&img.objs, &facts, &[], &is_plugin_host);
    let reach = g.reach(&roots(&g, &img));
    let a = finish(
        &g,
        &img,
        &reach,
        &Options {
            explain: vec!["write".into()],
            ..Default::default()
        },
    );
    Ok(a.syscalls.len())
}

/// Every ELF executable in the usual program directories of `root` (paths inside it).
pub fn executables_in(root: &Path) -> Vec<String> {
    use std::os::unix::fs::PermissionsExt;
    let r = Root::new(root);
    let mut out = BTreeSet::new();
    for d in [
        "/bin",
        "/sbin",
        "/usr/bin",
        "/usr/sbin",
        "/usr/local/bin",
        "/usr/local/sbin",
    ] {
        let Some(host) = r.host(d) else { continue };
        let Ok(entries) = std::fs::read_dir(&host) else {
            continue;
        };
        for e in entries.flatten() {
            let path = format!(
                "{}/{}",
                r.resolve(d).unwrap_or(d.to_string()),
                e.file_name().to_string_lossy()
            );
            let Some(real) = r.resolve(&path) else {
                continue;
            };
            let Some(h) = r.host(&real) else { continue };
            let Ok(meta) = std::fs::symlink_metadata(&h) else {
                continue;
            };
            if !meta.is_file() || meta.permissions().mode() & 0o111 == 0 {
                continue;
            }
            let head = rootfile::head(&h, 20).unwrap_or_default();
            if elf::machine(&head) == Some("x86_64") {
                out.insert(real);
            }
        }
    }
    out.into_iter().collect()
}

/// A program named on the host's command line, as the analysis takes it: `./app` is what a
/// shell means by it (made absolute with the current directory); names and absolute paths as
/// they are.
pub fn host_program(p: &str) -> String {
    if p.contains('/') && !p.starts_with('/') {
        std::env::current_dir()
            .map(|d| d.join(p).to_string_lossy().into_owned())
            .unwrap_or_else(|_| p.to_string())
    } else {
        p.to_string()
    }
}

/// The default root: the host's.
pub fn host_root() -> PathBuf {
    Path::new("/").to_path_buf()
}

/// Whether the object at `path` is a plugin host (`profiles/plugin-hosts.json`).
fn is_plugin_host(path: &str) -> bool {
    plugins::host_of(path).is_some()
}
