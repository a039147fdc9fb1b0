//! The call graph over every mapped object, and what is reachable in it. Calls are resolved as
//! the loader resolves them (PLT stubs and GOT slots to the first object in search order that
//! defines the symbol, IFUNCs to their resolver and every implementation it can return);
//! indirect calls may reach any function whose address is taken in data of a mapped object or
//! in reachable code (sysfilter's "vacuum"), refined to a fixpoint as reachable code grows.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use super::decode::{CallSite, Target, Trap, Val};
use super::elf::{Object, Slot};

/// FNV-1a over the key's words: the graph's maps hash millions of small keys (function ids,
/// symbol names), where SipHash's resistance to chosen keys buys nothing and costs a third of
/// the run.
#[derive(Default)]
pub struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for b in bytes {
            h = (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }

    fn write_u64(&mut self, v: u64) {
        let h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        self.0 = (h ^ v).wrapping_mul(0x0100_0000_01b3) ^ (v >> 29);
    }

    fn write_usize(&mut self, v: usize) {
        self.write_u64(v as u64);
    }
}

pub type HashMap<K, V> = std::collections::HashMap<K, V, BuildHasherDefault<Fnv>>;
pub type HashSet<K> = std::collections::HashSet<K, BuildHasherDefault<Fnv>>;

/// A function: (object index, start address).
pub type FnId = (usize, u64);

/// Where one call site can go, and how.
type Targets = Vec<(FnId, Edge)>;

/// How one function reaches another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Edge {
    /// The program's entry point, an interpreter's, or a constructor the loader runs.
    Root(String),
    Call,
    TailJump,
    /// Through the PLT or GOT, to `symbol` as the loader resolves it.
    Import(Arc<str>),
    /// An IFUNC resolver and the implementations it can return.
    Ifunc(Arc<str>),
    /// An indirect call: any function whose address is taken.
    Indirect,
}

/// One way a syscall is reached: the function and site that makes it, and the wrapper it went
/// through (when the number was passed to one).
#[derive(Debug, Clone)]
pub struct Evidence {
    pub function: FnId,
    pub at: u64,
    pub via: Option<FnId>,
}

/// A site whose number is not known: the result is incomplete.
#[derive(Debug, Clone)]
pub struct Unresolved {
    pub function: FnId,
    pub at: u64,
    pub why: String,
}

pub struct Graph<'a> {
    /// The first object (search order) exporting each name.
    exports: HashMap<&'a str, usize>,
    pub objs: &'a [Object],
    pub facts: &'a [super::ObjectFacts],
    /// Targets of every call site, by (object, function, site index).
    targets: HashMap<FnId, Vec<Targets>>,
    /// Functions whose syscall number comes from their parameter k, for (k, table).
    pub wrappers: HashMap<FnId, BTreeSet<(u8, Trap)>>,
}

pub struct Reach {
    pub parent: HashMap<FnId, (Option<FnId>, u64, Edge)>,
    /// (table, number) → how it is reached.
    pub syscalls: BTreeMap<(Trap, u64), Vec<Evidence>>,
    pub unresolved: Vec<Unresolved>,
    /// Sites that replay on every thread a call made elsewhere (see `SysSite::replay`).
    pub replays: Vec<Unresolved>,
    /// Imported symbols reachable code calls (for dlopen, NSS and iconv rules).
    pub imports_called: BTreeSet<String>,
    /// `dlopen` calls: the library name when it is a constant, with the call site.
    pub dlopens: Vec<(FnId, u64, Option<String>)>,
    /// `dlsym` calls with a computed name: (caller, site).
    pub dlsyms: Vec<(FnId, u64)>,
    pub reachable: usize,
}

impl<'a> Graph<'a> {
    pub fn new(objs: &'a [Object], facts: &'a [super::ObjectFacts]) -> Graph<'a> {
        let mut exports: HashMap<&'a str, usize> = HashMap::default();
        for (i, o) in objs.iter().enumerate() {
            for name in o.exports.keys() {
                exports.entry(name.as_str()).or_insert(i);
            }
        }
        let mut g = Graph {
            exports,
            objs,
            facts,
            targets: HashMap::default(),
            wrappers: HashMap::default(),
        };
        let mut targets = HashMap::default();
        for (oi, fs) in facts.iter().enumerate() {
            for (start, f) in fs.iter() {
                let t: Vec<Vec<(FnId, Edge)>> = f
                    .calls
                    .iter()
                    .map(|c| g.call_targets(oi, *start, c))
                    .collect();
                targets.insert((oi, *start), t);
            }
        }
        g.targets = targets;
        g.find_wrappers();
        g
    }

    fn function(&self, o: usize, addr: u64) -> Option<FnId> {
        self.objs[o].function_of(addr).map(|f| (o, f))
    }

    /// What a code address taken in object `o` can run: its function, or through a PLT stub
    /// (a position-dependent program's function pointer to an import) what the stub reaches.
    pub fn code_ref(&self, o: usize, addr: u64) -> Vec<FnId> {
        if let Some(slot) = self.objs[o].stub_at(addr) {
            return self.slot(o, slot).into_iter().map(|(f, _)| f).collect();
        }
        self.function(o, addr).into_iter().collect()
    }

    /// The functions exported under `name` (every definition in the first object defining it).
    pub fn exported(&self, name: &str) -> Vec<FnId> {
        self.symbol(name).into_iter().map(|(f, _)| f).collect()
    }

    /// The definitions of `name` the loader binds to: every definition (all versions) in the
    /// first object of the search order that exports it; IFUNCs to their resolver and what it
    /// can return.
    fn symbol(&self, name: &str) -> Vec<(FnId, Edge)> {
        let Some(&o) = self.exports.get(name) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for e in self.objs[o].exports.get(name).into_iter().flatten() {
            if e.ifunc {
                out.extend(self.ifunc(o, e.addr, name));
            } else if let Some(f) = self.function(o, e.addr) {
                out.push((f, Edge::Import(name.into())));
            }
        }
        out
    }

    /// Every function defined under `name` in any mapped object (`dlsym` on a handle can find
    /// one that an earlier object shadows for the loader).
    fn definitions(&self, name: &str) -> Vec<FnId> {
        let mut out = Vec::new();
        for (o, obj) in self.objs.iter().enumerate() {
            for e in obj.exports.get(name).into_iter().flatten() {
                if e.ifunc {
                    out.extend(self.ifunc(o, e.addr, name).into_iter().map(|(f, _)| f));
                } else {
                    out.extend(self.function(o, e.addr));
                }
            }
        }
        out
    }

    fn ifunc(&self, o: usize, resolver: u64, name: &str) -> Vec<(FnId, Edge)> {
        let mut out = Vec::new();
        if let Some(r) = self.function(o, resolver) {
            let name: Arc<str> = name.into();
            out.push((r, Edge::Ifunc(name.clone())));
            if let Some(f) = self.facts[o].get(&r.1) {
                for t in &f.taken {
                    out.extend(self.function(o, *t).map(|i| (i, Edge::Ifunc(name.clone()))));
                }
            }
        }
        out
    }

    fn slot(&self, o: usize, slot: &Slot) -> Vec<(FnId, Edge)> {
        match slot {
            Slot::Symbol(n) => self.symbol(n),
            Slot::Local(a) => self
                .function(o, *a)
                .map(|f| (f, Edge::Call))
                .into_iter()
                .collect(),
            Slot::Resolver(a) => self.ifunc(o, *a, "(IRELATIVE)"),
        }
    }

    fn call_targets(&self, o: usize, from: u64, c: &CallSite) -> Vec<(FnId, Edge)> {
        let obj = &self.objs[o];
        match c.target {
            Target::Slot(s) => match obj.slots.get(&s) {
                Some(slot) => self.slot(o, slot),
                None => Vec::new(),
            },
            Target::Addr(a) => {
                if let Some(slot) = obj.stub_at(a) {
                    return self.slot(o, slot);
                }
                match self.function(o, a) {
                    Some(f) if f.1 != from || !c.jump => {
                        vec![(f, if c.jump { Edge::TailJump } else { Edge::Call })]
                    }
                    _ => Vec::new(),
                }
            }
        }
    }

    /// The symbol a call site goes to through the PLT or GOT, if it does.
    pub fn import_name(&self, o: usize, c: &CallSite) -> Option<&str> {
        let obj = &self.objs[o];
        let slot = match c.target {
            Target::Slot(s) => obj.slots.get(&s)?,
            Target::Addr(a) => obj.stub_at(a)?,
        };
        match slot {
            Slot::Symbol(n) => Some(n),
            _ => None,
        }
    }

    /// Wrappers, to a fixpoint: a function passing its own parameter j to a wrapper's
    /// parameter k is a wrapper on j.
    fn find_wrappers(&mut self) {
        let mut w: HashMap<FnId, BTreeSet<(u8, Trap)>> = HashMap::default();
        for (o, fs) in self.facts.iter().enumerate() {
            for (start, f) in fs.iter() {
                for s in &f.syscalls {
                    if let Val::Param(k) = s.nr {
                        w.entry((o, *start)).or_default().insert((k, s.trap));
                    }
                }
            }
        }
        loop {
            let mut added = Vec::new();
            for ((o, start), per_site) in &self.targets {
                let f = &self.facts[*o][start];
                for (c, ts) in f.calls.iter().zip(per_site) {
                    for (t, _) in ts {
                        for (k, trap) in w.get(t).into_iter().flatten() {
                            if let Val::Param(j) = c.args[*k as usize]
                                && !w
                                    .get(&(*o, *start))
                                    .is_some_and(|s| s.contains(&(j, *trap)))
                            {
                                added.push(((*o, *start), (j, *trap)));
                            }
                        }
                    }
                }
            }
            if added.is_empty() {
                break;
            }
            for (f, kt) in added {
                w.entry(f).or_default().insert(kt);
            }
        }
        self.wrappers = w;
    }

    /// Everything reachable from `roots`.
    pub fn reach(&self, roots: &[(FnId, String)]) -> Reach {
        let mut r = Reach {
            parent: HashMap::default(),
            syscalls: BTreeMap::new(),
            unresolved: Vec::new(),
            replays: Vec::new(),
            imports_called: BTreeSet::new(),
            dlopens: Vec::new(),
            dlsyms: Vec::new(),
            reachable: 0,
        };
        let mut queue: VecDeque<FnId> = VecDeque::new();
        let visit = |f: FnId,
                     from: Option<FnId>,
                     at: u64,
                     e: Edge,
                     r: &mut Reach,
                     q: &mut VecDeque<FnId>| {
            if let std::collections::hash_map::Entry::Vacant(v) = r.parent.entry(f) {
                v.insert((from, at, e));
                q.push_back(f);
            }
        };
        for (f, why) in roots {
            visit(*f, None, f.1, Edge::Root(why.clone()), &mut r, &mut queue);
        }
        // Address-taken functions: in data of mapped objects (always), in reachable code.
        let mut pool: BTreeSet<FnId> = BTreeSet::new();
        for (o, obj) in self.objs.iter().enumerate() {
            for a in &obj.data_refs {
                pool.extend(self.code_ref(o, *a));
            }
            for n in &obj.data_symbol_refs {
                pool.extend(self.exported(n));
            }
        }
        let mut indirect_from: Option<(FnId, u64)> = None;
        let mut pooled: HashSet<FnId> = HashSet::default();
        // Entered with parameters nobody in the graph chose: wrappers there have unknown numbers.
        let mut entered_unknown: HashSet<FnId> = roots.iter().map(|(f, _)| *f).collect();
        loop {
            while let Some(f) = queue.pop_front() {
                let Some(facts) = self.facts[f.0].get(&f.1) else {
                    continue;
                };
                for t in &facts.taken {
                    pool.extend(self.code_ref(f.0, *t));
                }
                for s in &facts.slot_refs {
                    if let Some(Slot::Symbol(n)) = self.objs[f.0].slots.get(s) {
                        r.imports_called.insert(n.clone());
                    }
                }
                if indirect_from.is_none()
                    && let Some(at) = facts.indirect.first()
                {
                    indirect_from = Some((f, *at));
                }
                let per_site = &self.targets[&f];
                for (c, ts) in facts.calls.iter().zip(per_site) {
                    if let Some(n) = self.import_name(f.0, c) {
                        r.imports_called.insert(n.to_string());
                        if matches!(n, "dlopen" | "dlmopen" | "__libc_dlopen_mode") {
                            let arg = if n == "dlmopen" { 1 } else { 0 };
                            match &c.args[arg] {
                                Val::Consts(v) => {
                                    for a in v {
                                        r.dlopens.push((f, c.at, self.objs[f.0].c_string(*a)));
                                    }
                                }
                                _ => r.dlopens.push((f, c.at, None)),
                            }
                        }
                        // A function looked up by name is called through the pointer: every
                        // definition of a constant name is reachable (V8 finds `pkey_alloc`
                        // so); a computed name could be any export.
                        if matches!(n, "dlsym" | "dlvsym") {
                            let names: Vec<Option<String>> = match &c.args[1] {
                                Val::Consts(v) => {
                                    v.iter().map(|a| self.objs[f.0].c_string(*a)).collect()
                                }
                                _ => vec![None],
                            };
                            for name in names {
                                match name {
                                    Some(name) => {
                                        let e = Edge::Import(name.as_str().into());
                                        for t in self.definitions(&name) {
                                            visit(t, Some(f), c.at, e.clone(), &mut r, &mut queue);
                                        }
                                    }
                                    None => r.dlsyms.push((f, c.at)),
                                }
                            }
                        }
                    }
                    for (t, e) in ts {
                        visit(*t, Some(f), c.at, e.clone(), &mut r, &mut queue);
                    }
                }
            }
            // Indirect calls reach the pool; the pool grows with reachable code: to a fixpoint.
            let Some((from, at)) = indirect_from else {
                break;
            };
            let fresh: Vec<FnId> = pool
                .iter()
                .filter(|f| !pooled.contains(f))
                .copied()
                .collect();
            if fresh.is_empty() {
                break;
            }
            for f in fresh {
                pooled.insert(f);
                entered_unknown.insert(f);
                visit(f, Some(from), at, Edge::Indirect, &mut r, &mut queue);
            }
        }
        r.reachable = r.parent.len();

        // Syscall numbers of everything reachable.
        for f in r.parent.keys() {
            let Some(facts) = self.facts[f.0].get(&f.1) else {
                continue;
            };
            for s in &facts.syscalls {
                match &s.nr {
                    Val::Consts(v) => {
                        for n in v {
                            r.syscalls.entry((s.trap, *n)).or_default().push(Evidence {
                                function: *f,
                                at: s.at,
                                via: None,
                            });
                        }
                    }
                    Val::Param(k) => {
                        if entered_unknown.contains(f) {
                            r.unresolved.push(Unresolved {
                                function: *f,
                                at: s.at,
                                why: format!(
                                    "a wrapper (number from parameter {}) entered through an indirect call or as an entry point",
                                    k + 1
                                ),
                            });
                        }
                    }
                    Val::Top if s.replay && self.objs[f.0].path.ends_with("/libc.so.6") => {
                        r.replays.push(Unresolved {
                            function: *f,
                            at: s.at,
                            why: "glibc's set*id broadcast to every thread".into(),
                        })
                    }
                    Val::Top => r.unresolved.push(Unresolved {
                        function: *f,
                        at: s.at,
                        why: "the number is computed or loaded".into(),
                    }),
                }
            }
            let per_site = &self.targets[f];
            for (c, ts) in facts.calls.iter().zip(per_site) {
                for (t, _) in ts {
                    for (k, trap) in self.wrappers.get(t).into_iter().flatten() {
                        match &c.args[*k as usize] {
                            Val::Consts(v) => {
                                for n in v {
                                    r.syscalls.entry((*trap, *n)).or_default().push(Evidence {
                                        function: *f,
                                        at: c.at,
                                        via: Some(*t),
                                    });
                                }
                            }
                            Val::Param(_) => {
                                if entered_unknown.contains(f) && !self.wrappers.contains_key(f) {
                                    r.unresolved.push(Unresolved {
                                        function: *f,
                                        at: c.at,
                                        why: "passes its own parameter as a wrapper's number"
                                            .into(),
                                    });
                                }
                            }
                            Val::Top if self.is_go_broadcast(*f) => r.replays.push(Unresolved {
                                function: *f,
                                at: c.at,
                                why: "Go's AllThreadsSyscall broadcast to every thread".into(),
                            }),
                            Val::Top => r.unresolved.push(Unresolved {
                                function: *f,
                                at: c.at,
                                why: format!(
                                    "the number passed to the wrapper {} is computed or loaded",
                                    self.name(*t)
                                ),
                            }),
                        }
                    }
                }
            }
        }
        r.unresolved.sort_by_key(|u| (u.function, u.at));
        r.unresolved.dedup_by_key(|u| (u.function, u.at));
        r
    }

    /// Go's runtime replays `syscall.AllThreadsSyscall`'s call on every other thread from
    /// `runtime.runPerThreadSyscall`, with the number the initiating thread passed to its own
    /// `Syscall6` (a site resolved at its callers).
    fn is_go_broadcast(&self, f: FnId) -> bool {
        let o = &self.objs[f.0];
        o.go && o.starts.get(&f.1).cloned().flatten().as_deref()
            == Some("runtime.runPerThreadSyscall")
    }

    /// A function's name for people: its symbol, or its address, with its object.
    pub fn name(&self, f: FnId) -> String {
        let o = &self.objs[f.0];
        match o.starts.get(&f.1).cloned().flatten() {
            Some(n) => format!("{n} ({})", o.path),
            None => format!("{:#x} ({})", f.1, o.path),
        }
    }
}
