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
    /// The kernel runs it as a signal handler: any function whose address is taken, once a
    /// handler can be installed (no indirect call in the code need be reachable).
    Handler,
}

/// Why a function is in the address-taken pool: `--explain`'s evidence for an indirect edge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Taken {
    /// Reachable code takes its address.
    Code(FnId),
    /// A word in object `.0`'s data that counts always (no sized data object holds it).
    Data(usize),
    /// A word in the data object at `start` of object `obj`, live because function `by`
    /// refers into it (`None`: another live object points into it).
    Object {
        obj: usize,
        start: u64,
        by: Option<FnId>,
    },
    /// Data names it (a GOT slot or a pointer relocated against its symbol).
    Named(Arc<str>),
}

/// One way a syscall is reached: the function and site that makes it, and the wrapper it went
/// through (when the number was passed to one).
#[derive(Debug, Clone)]
pub struct Evidence {
    pub function: FnId,
    pub at: u64,
    pub via: Option<FnId>,
}

/// The syscalls that install a signal handler, by table.
const HANDLER_INSTALLERS: [(Trap, &str); 4] = [
    (Trap::Syscall, "rt_sigaction"),
    (Trap::I386, "rt_sigaction"),
    (Trap::I386, "sigaction"),
    (Trap::I386, "signal"),
];

/// A site whose number is not known: the result is incomplete.
#[derive(Debug, Clone)]
pub struct Unresolved {
    pub function: FnId,
    pub at: u64,
    pub why: String,
}

/// The call targets of one object's functions (by function start, one entry per call site),
/// with the imported names no object defined when they were bound. Objects loaded later come
/// after it in the search order, so its bindings hold in a later round unless one of them
/// defines a name that was unbound.
pub struct ObjectTargets {
    by_function: HashMap<u64, FnTargets>,
    unbound: Vec<Arc<str>>,
}

/// One function's call sites: the targets of each, and the imported names it calls (by site
/// index: the dlopen, dlsym and rule triggers).
#[derive(Default)]
struct FnTargets {
    sites: Vec<Targets>,
    imports: Vec<(usize, Arc<str>)>,
}

pub struct Graph<'a> {
    /// The first object (search order) exporting each name.
    exports: HashMap<&'a str, usize>,
    pub objs: &'a [Object],
    pub facts: &'a [super::ObjectFacts],
    /// Targets of every call site, by object.
    targets: Vec<Arc<ObjectTargets>>,
    /// Functions whose syscall number comes from their parameter k, for (k, table).
    pub wrappers: HashMap<FnId, BTreeSet<(u8, Trap)>>,
    /// Functions that pass their parameter k on as `dlopen`'s name (systemd's
    /// `dlopen_many_sym_or_warn`): the name is read at their call sites.
    dl_wrappers: HashMap<FnId, BTreeSet<(u8, ())>>,
    /// Objects of the earlier round whose call targets were bound again (a name they import
    /// is defined by an object loaded since).
    rebound: Vec<usize>,
}

/// Marks `f` reached from `from` (at `at`, by `e`) and queues it, the first time only.
fn visit(f: FnId, from: Option<FnId>, at: u64, e: Edge, r: &mut Reach, q: &mut VecDeque<FnId>) {
    if let std::collections::hash_map::Entry::Vacant(v) = r.parent.entry(f) {
        v.insert((from, at, e));
        q.push_back(f);
    }
}

pub struct Reach {
    pub parent: HashMap<FnId, (Option<FnId>, u64, Edge)>,
    /// (table, number) → how it is reached.
    pub syscalls: BTreeMap<(Trap, u64), Vec<Evidence>>,
    pub unresolved: Vec<Unresolved>,
    /// Sites that replay on every thread a call made elsewhere (see `SysSite::replay`).
    pub replays: Vec<Unresolved>,
    /// Sites whose number their library resolves by name at run time (`named_number`): counted
    /// as that syscall, by rule.
    pub by_name: Vec<Unresolved>,
    /// Imported symbols reachable code calls (for dlopen, NSS and iconv rules).
    pub imports_called: HashSet<String>,
    /// `dlopen` calls: the library name when it is a constant, with the call site.
    pub dlopens: Vec<(FnId, u64, Option<String>)>,
    /// The `dlopens` whose constant was read at a call of a `dlopen` wrapper: dlopen itself is
    /// called from the wrapper's object, whose search path counts (`wrapper_objects`).
    pub wrapped: BTreeSet<(FnId, u64)>,
    /// `dlsym` calls with a computed name: (caller, site).
    pub dlsyms: Vec<(FnId, u64)>,
    /// `dlopen` calls (direct, or of a `dlopen` wrapper) whose name is the caller's own
    /// parameter: resolved at the caller's callers, unless the caller is entered unknown.
    passed_dlopens: Vec<(FnId, u64)>,
    pub reachable: usize,
    // Carried into a later round's graph (`Graph::reach_more`):
    /// Address-taken functions: in data of mapped objects (always), in reachable code.
    pub pool: HashMap<FnId, Taken>,
    /// Pool members not yet made reachable through the indirect calls.
    pending: Vec<FnId>,
    /// Entered with parameters nobody in the graph chose: wrappers there have unknown numbers.
    entered_unknown: HashSet<FnId>,
    /// The first indirect call found reachable (the evidence for every pool member), or the
    /// site that installs a signal handler when no indirect call is reachable.
    indirect_from: Option<(FnId, u64, Edge)>,
    /// How many objects the pool has seen the data of.
    objects: usize,
    /// Data objects (object, index in its `held.objects`) something that runs refers into:
    /// their function pointers are in the pool.
    live: HashSet<(usize, usize)>,
}

impl Reach {
    /// The objects whose code calls `dlopen` (or a wrapper) with a name it was passed: where a
    /// wrapped name is opened from.
    pub fn wrapper_objects(&self) -> BTreeSet<usize> {
        self.passed_dlopens.iter().map(|(f, _)| f.0).collect()
    }

    /// Adds functions to the pool, for `why`.
    fn take(&mut self, fs: Vec<FnId>, why: &Taken) {
        for f in fs {
            if let std::collections::hash_map::Entry::Vacant(v) = self.pool.entry(f) {
                v.insert(why.clone());
                self.pending.push(f);
            }
        }
    }
}

impl<'a> Graph<'a> {
    /// The graph over `objs`; `earlier` holds the call targets of a previous round's graph over
    /// a prefix of `objs` (the same objects, in the same order), reused where still bound alike.
    /// `is_host`: whether the object at a path loads plugins by names it computes (its own
    /// loader is then no `dlopen` wrapper: see `find_wrappers`).
    pub fn new(
        objs: &'a [Object],
        facts: &'a [super::ObjectFacts],
        earlier: &[Arc<ObjectTargets>],
        is_host: &dyn Fn(&str) -> bool,
    ) -> Graph<'a> {
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
            targets: Vec::new(),
            wrappers: HashMap::default(),
            dl_wrappers: HashMap::default(),
            rebound: Vec::new(),
        };
        // Per object, in parallel: most of a large program's graph is binding call sites.
        let objects: Vec<usize> = (0..facts.len()).collect();
        let targets = super::parallel::map(&objects, |&oi| {
            if let Some(t) = earlier.get(oi)
                && !t.unbound.iter().any(|n| g.exports.contains_key(&**n))
            {
                return (t.clone(), false);
            }
            (Arc::new(g.object_targets(oi)), oi < earlier.len())
        });
        g.rebound = (0..targets.len()).filter(|i| targets[*i].1).collect();
        let targets = targets.into_iter().map(|(t, _)| t).collect();
        g.targets = targets;
        g.find_wrappers(is_host);
        g
    }

    /// The call targets of every function of object `oi`.
    fn object_targets(&self, oi: usize) -> ObjectTargets {
        let mut symbols: HashMap<&'a str, Targets> = HashMap::default();
        let mut names: HashMap<&'a str, Arc<str>> = HashMap::default();
        let mut t = ObjectTargets {
            by_function: HashMap::default(),
            unbound: Vec::new(),
        };
        for (start, f) in self.facts[oi].iter() {
            let mut ft = FnTargets::default();
            for (i, c) in f.calls.iter().enumerate() {
                ft.sites
                    .push(self.call_targets(oi, *start, c, &mut symbols, &mut t.unbound));
                if let Some(n) = self.objs[oi].call_symbol(&c.target) {
                    let n = names.entry(n).or_insert_with(|| n.into());
                    ft.imports.push((i, n.clone()));
                }
            }
            t.by_function.insert(*start, ft);
        }
        t.unbound.sort();
        t.unbound.dedup();
        t
    }

    /// Every object's call targets, for the next round's graph.
    pub fn targets(&self) -> Vec<Arc<ObjectTargets>> {
        self.targets.clone()
    }

    fn site_targets(&self, f: FnId) -> &[Targets] {
        self.fn_targets(f).map_or(&[], |t| t.sites.as_slice())
    }

    fn fn_targets(&self, f: FnId) -> Option<&FnTargets> {
        self.targets[f.0].by_function.get(&f.1)
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

    /// Where call site `c` of function `from` in object `o` goes; imports are bound once per
    /// name (`symbols`), and names no object defines are added to `unbound`.
    fn call_targets(
        &self,
        o: usize,
        from: u64,
        c: &CallSite,
        symbols: &mut HashMap<&'a str, Targets>,
        unbound: &mut Vec<Arc<str>>,
    ) -> Targets {
        let obj: &'a Object = &self.objs[o];
        let slot = obj.call_slot(&c.target);
        if let Some(Slot::Symbol(n)) = slot {
            let t = symbols
                .entry(n.as_str())
                .or_insert_with(|| self.symbol(n))
                .clone();
            if t.is_empty() && !self.exports.contains_key(n.as_str()) {
                unbound.push(n.as_str().into());
            }
            return t;
        }
        match c.target {
            Target::Slot(_) => slot.map(|s| self.slot(o, s)).unwrap_or_default(),
            Target::Addr(a) => {
                if let Some(slot) = slot {
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

    /// Wrappers, to a fixpoint: a function passing its own parameter j to a wrapper's
    /// parameter k is a wrapper on j. Syscall wrappers (the number) and `dlopen` wrappers (the
    /// library's name) alike.
    fn find_wrappers(&mut self, is_host: &dyn Fn(&str) -> bool) {
        let mut sys: HashMap<FnId, BTreeSet<(u8, Trap)>> = HashMap::default();
        let mut dl: HashMap<FnId, BTreeSet<(u8, ())>> = HashMap::default();
        for (o, fs) in self.facts.iter().enumerate() {
            // A plugin host's own loader passes names it computes: its dlopen stays computed
            // there, where the host's rule covers it.
            let host = is_host(&self.objs[o].path);
            for (start, f) in fs.iter() {
                for s in &f.syscalls {
                    if let Val::Param(k) = s.nr {
                        sys.entry((o, *start)).or_default().insert((k, s.trap));
                    }
                }
                for (i, n) in self.fn_targets((o, *start)).map_or(&[][..], |t| &t.imports) {
                    if !host
                        && let Some(arg) = dlopen_name_arg(n)
                        && let Val::Param(k) = f.calls[*i].args.get(arg)
                    {
                        dl.entry((o, *start)).or_default().insert((*k, ()));
                    }
                }
            }
        }
        // Callers that pass one of their parameters on: target → (caller, site index).
        let mut passing: HashMap<FnId, Vec<(FnId, usize)>> = HashMap::default();
        for (o, fs) in self.facts.iter().enumerate() {
            for (start, f) in fs.iter() {
                let per_site = self.site_targets((o, *start));
                for (i, (c, ts)) in f.calls.iter().zip(per_site).enumerate() {
                    if c.args.known().any(|(_, a)| matches!(a, Val::Param(_))) {
                        for (t, _) in ts {
                            passing.entry(*t).or_default().push(((o, *start), i));
                        }
                    }
                }
            }
        }
        self.wrappers = self.through_callers(sys, &passing);
        self.dl_wrappers = self.through_callers(dl, &passing);
    }

    /// `w` closed over the callers that pass their own parameter on to a wrapper's.
    fn through_callers<T: Copy + Ord>(
        &self,
        mut w: HashMap<FnId, BTreeSet<(u8, T)>>,
        passing: &HashMap<FnId, Vec<(FnId, usize)>>,
    ) -> HashMap<FnId, BTreeSet<(u8, T)>> {
        let mut work: Vec<FnId> = w.keys().copied().collect();
        while let Some(t) = work.pop() {
            let kts: Vec<(u8, T)> = w.get(&t).into_iter().flatten().copied().collect();
            for (caller, i) in passing.get(&t).into_iter().flatten() {
                let c = &self.facts[caller.0][&caller.1].calls[*i];
                for (k, x) in &kts {
                    if let Val::Param(j) = *c.args.get(*k as usize)
                        && w.entry(*caller).or_default().insert((j, *x))
                    {
                        work.push(*caller);
                    }
                }
            }
        }
        w
    }

    /// Everything reachable from `roots`.
    pub fn reach(&self, roots: &[(FnId, String)]) -> Reach {
        self.reach_more(None, roots)
    }

    /// Everything reachable from `roots`, continuing `earlier`: what a previous round's graph
    /// over a prefix of these objects reached (objects are only ever appended).
    pub fn reach_more(&self, earlier: Option<Reach>, roots: &[(FnId, String)]) -> Reach {
        let mut r = earlier.unwrap_or_else(|| Reach {
            parent: HashMap::default(),
            syscalls: BTreeMap::new(),
            unresolved: Vec::new(),
            replays: Vec::new(),
            by_name: Vec::new(),
            imports_called: HashSet::default(),
            dlopens: Vec::new(),
            wrapped: BTreeSet::new(),
            dlsyms: Vec::new(),
            passed_dlopens: Vec::new(),
            reachable: 0,
            pool: HashMap::default(),
            pending: Vec::new(),
            entered_unknown: HashSet::default(),
            indirect_from: None,
            objects: 0,
            live: HashSet::default(),
        });
        let mut queue: VecDeque<FnId> = VecDeque::new();
        for (f, why) in roots {
            r.entered_unknown.insert(*f);
            visit(*f, None, f.1, Edge::Root(why.clone()), &mut r, &mut queue);
        }
        // What was reached in an object bound again goes through its new targets.
        queue.extend(r.parent.keys().filter(|f| self.rebound.contains(&f.0)));
        let seen = r.objects;
        for (o, obj) in self.objs.iter().enumerate() {
            if o >= seen || self.rebound.contains(&o) {
                for a in &obj.held.always {
                    r.take(self.code_ref(o, *a), &Taken::Data(o));
                    self.refer(o, *a, None, &|_| false, &mut r);
                }
            }
            // A name unbound before may be defined now.
            for n in &obj.data_symbol_refs {
                r.take(self.exported(n), &Taken::Named(n.as_str().into()));
            }
        }
        r.objects = self.objs.len();
        // Until no signal handler makes the pool reachable that no indirect call did.
        loop {
            self.spread(&mut r, &mut queue);
            r.reachable = r.parent.len();
            // A dlopen wrapper entered with parameters nobody in the graph chose opens a name
            // nobody can tell.
            for (f, at) in &r.passed_dlopens {
                if r.entered_unknown.contains(f) {
                    r.dlopens.push((*f, *at, None));
                }
            }
            r.dlopens.sort();
            r.dlopens.dedup();
            r.dlsyms.sort();
            r.dlsyms.dedup();
            self.numbers(&mut r);
            // The kernel calls a handler the program installs: any function whose address is
            // taken may be one, even where no indirect call is reachable (a static program).
            if r.indirect_from.is_none()
                && !r.pending.is_empty()
                && let Some((f, at)) = self.installs_handler(&r)
            {
                r.indirect_from = Some((f, at, Edge::Handler));
                continue;
            }
            return r;
        }
    }

    /// Follows every call of what `queue` holds, and of what that reaches; indirect calls (or
    /// handlers) enter the address-taken pool, which grows with reachable code: to a fixpoint.
    fn spread(&self, r: &mut Reach, queue: &mut VecDeque<FnId>) {
        loop {
            while let Some(f) = queue.pop_front() {
                let Some(facts) = self.facts[f.0].get(&f.1) else {
                    continue;
                };
                for t in &facts.taken {
                    r.take(self.code_ref(f.0, *t), &Taken::Code(f));
                }
                if !self.objs[f.0].held.objects.is_empty() {
                    let also =
                        |a: u64| facts.slot_refs.contains(&a) || facts.data_refs.contains(&a);
                    for a in facts.slot_refs.iter().chain(&facts.data_refs) {
                        self.refer(f.0, *a, Some(f), &also, r);
                    }
                }
                for s in &facts.slot_refs {
                    if let Some(Slot::Symbol(n)) = self.objs[f.0].slots.get(s)
                        && !r.imports_called.contains(n)
                    {
                        r.imports_called.insert(n.clone());
                    }
                }
                if r.indirect_from.is_none()
                    && let Some(at) = facts.indirect.first()
                {
                    r.indirect_from = Some((f, *at, Edge::Indirect));
                }
                let Some(ft) = self.fn_targets(f) else {
                    continue;
                };
                for (i, n) in &ft.imports {
                    let c = &facts.calls[*i];
                    let n: &str = n;
                    if !r.imports_called.contains(n) {
                        r.imports_called.insert(n.to_string());
                    }
                    if let Some(arg) = dlopen_name_arg(n) {
                        self.dlopen_name(f, c.at, c.args.get(arg), false, r);
                    }
                    // A function looked up by name is called through the pointer: every
                    // definition of a constant name is reachable (V8 finds `pkey_alloc`
                    // so); a computed name could be any export.
                    if matches!(n, "dlsym" | "dlvsym") {
                        let names: Vec<Option<String>> = match c.args.get(1) {
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
                                        visit(t, Some(f), c.at, e.clone(), r, queue);
                                    }
                                }
                                None => r.dlsyms.push((f, c.at)),
                            }
                        }
                    }
                }
                for (c, ts) in facts.calls.iter().zip(&ft.sites) {
                    for (t, e) in ts {
                        for (k, ()) in self.dl_wrappers.get(t).into_iter().flatten() {
                            self.dlopen_name(f, c.at, c.args.get(*k as usize), true, r);
                        }
                        visit(*t, Some(f), c.at, e.clone(), r, queue);
                    }
                }
            }
            // Indirect calls reach the pool; the pool grows with reachable code: to a fixpoint.
            let Some((from, at, edge)) = r.indirect_from.clone() else {
                break;
            };
            if r.pending.is_empty() {
                break;
            }
            for f in std::mem::take(&mut r.pending) {
                r.entered_unknown.insert(f);
                visit(f, Some(from), at, edge.clone(), r, queue);
            }
        }
    }

    /// Something that runs refers to `addr` in object `o`: function `by` (which refers to the
    /// addresses `also` holds too), or (`None`) a word in live data. The data objects it may mean are live, their function pointers taken,
    /// and the objects they point into live in turn.
    fn refer(
        &self,
        o: usize,
        addr: u64,
        by: Option<FnId>,
        also: &dyn Fn(u64) -> bool,
        r: &mut Reach,
    ) {
        let held = &self.objs[o].held;
        let mut todo = vec![(addr, by)];
        while let Some((a, by)) = todo.pop() {
            for i in held.objects_at(a, by.is_some(), also) {
                if r.live.insert((o, i)) {
                    let why = Taken::Object {
                        obj: o,
                        start: held.objects[i].start,
                        by,
                    };
                    for w in &held.objects[i].words {
                        let f = self.code_ref(o, *w);
                        if f.is_empty() {
                            todo.push((*w, None));
                        }
                        r.take(f, &why);
                    }
                }
            }
        }
    }

    /// The syscall numbers of everything reachable, from scratch (wrappers may have changed),
    /// with what stays unresolved and why.
    fn numbers(&self, r: &mut Reach) {
        r.syscalls.clear();
        r.unresolved.clear();
        r.replays.clear();
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
                        if r.entered_unknown.contains(f) {
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
            let per_site = self.site_targets(*f);
            for (c, ts) in facts.calls.iter().zip(per_site) {
                for (t, _) in ts {
                    for (k, trap) in self.wrappers.get(t).into_iter().flatten() {
                        match c.args.get(*k as usize) {
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
                                if r.entered_unknown.contains(f) && !self.wrappers.contains_key(f) {
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
                            Val::Top => match self.named_number(*f, *trap) {
                                Some((n, why)) => {
                                    r.syscalls.entry((*trap, n)).or_default().push(Evidence {
                                        function: *f,
                                        at: c.at,
                                        via: Some(*t),
                                    });
                                    r.by_name.push(Unresolved {
                                        function: *f,
                                        at: c.at,
                                        why: why.into(),
                                    });
                                }
                                None => r.unresolved.push(Unresolved {
                                    function: *f,
                                    at: c.at,
                                    why: format!(
                                        "the number passed to the wrapper {} is computed or loaded",
                                        self.name(*t)
                                    ),
                                }),
                            },
                        }
                    }
                }
            }
        }
        r.unresolved.sort_by_key(|u| (u.function, u.at));
        r.unresolved.dedup_by_key(|u| (u.function, u.at));
        r.by_name.sort_by_key(|u| (u.function, u.at));
        r.by_name.dedup_by_key(|u| (u.function, u.at));
    }

    /// A reachable site that can install a signal handler (rt_sigaction; on i386 also
    /// sigaction and signal), if any.
    fn installs_handler(&self, r: &Reach) -> Option<(FnId, u64)> {
        HANDLER_INSTALLERS
            .iter()
            .find_map(|(trap, name)| {
                let nr = u64::try_from(trap.abi().syscall_nr(name)?).ok()?;
                r.syscalls.get(&(*trap, nr))?.first()
            })
            .map(|e| (e.function, e.at))
    }

    /// What a `dlopen` (or a `dlopen` wrapper's call) with name `name` at `at` in `f` opens:
    /// constants are library names (NULL, the program's own handle, opens nothing); the
    /// caller's own parameter is read at its callers; anything else is a computed name.
    fn dlopen_name(&self, f: FnId, at: u64, name: &Val, wrapped: bool, r: &mut Reach) {
        match name {
            Val::Consts(v) => {
                for a in v.iter().filter(|a| **a != 0) {
                    r.dlopens.push((f, at, self.objs[f.0].c_string(*a)));
                }
                if wrapped {
                    r.wrapped.insert((f, at));
                }
            }
            Val::Param(_) if self.dl_wrappers.contains_key(&f) => r.passed_dlopens.push((f, at)),
            _ => r.dlopens.push((f, at, None)),
        }
    }

    /// A library that finds a syscall's number by its name at run time and keeps it in a
    /// variable, so no constant reaches its calls of `syscall()`: the number, and why.
    /// libseccomp (2.4 and later, `src/system.c`) resolves `"seccomp"` for the native
    /// architecture (`arch_syscall_resolve_name`) into `_nr_seccomp` and makes every
    /// `seccomp(2)` call — filter load, action, flag and notification-size probes — through it;
    /// its other calls (prctl) go through libc's named wrappers.
    fn named_number(&self, f: FnId, trap: Trap) -> Option<(u64, &'static str)> {
        let file = self.objs[f.0].path.rsplit('/').next().unwrap_or_default();
        if !file.starts_with("libseccomp.so.2") {
            return None;
        }
        let nr = trap.abi().syscall_nr("seccomp")?;
        Some((
            u64::try_from(nr).ok()?,
            "libseccomp resolves seccomp's number by name at run time and makes every seccomp(2) call with it",
        ))
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

/// Which argument of the loader function `n` names the library (`dlmopen`'s first is a
/// namespace), if `n` is one.
pub fn dlopen_name_arg(n: &str) -> Option<usize> {
    match n {
        "dlopen" | "__libc_dlopen_mode" => Some(0),
        "dlmopen" => Some(1),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_handler_installer_names_a_syscall_of_its_table() {
        for (trap, name) in HANDLER_INSTALLERS {
            assert!(trap.abi().syscall_nr(name).is_some(), "{name} on {trap:?}");
        }
    }
}
