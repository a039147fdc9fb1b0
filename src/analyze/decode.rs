//! One function's facts, from its machine code (decoded by iced-x86): the syscall sites with the
//! number each can make, the calls and jumps it makes (with the argument registers' values at
//! each, for wrappers such as glibc's `syscall()`), its indirect branches, and the code
//! addresses it takes. Numbers come from a forward data flow over the function's basic blocks
//! that tracks, per register, a small set of constants or "the caller's parameter N".

use std::collections::{BTreeMap, BTreeSet};

use iced_x86::{
    Decoder, DecoderOptions, FlowControl, Instruction, InstructionInfoFactory, Mnemonic, OpAccess,
    OpKind, Register,
};

/// Constants beyond this many make a value unknown.
const MAX_CONSTS: usize = 16;

/// What a register holds at a point of the function.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Val {
    /// Not known: a load, an arithmetic result, a call's return.
    Top,
    /// One of these constants.
    Consts(BTreeSet<u64>),
    /// The function's integer parameter N, unchanged: the calling convention's register N
    /// (SysV: rdi, rsi, rdx, rcx, r8, r9), or for N >= `STACK_PARAM0` the stack argument
    /// N - `STACK_PARAM0` (Go's ABI0 passes everything there).
    Param(u8),
}

impl Val {
    fn one(v: u64) -> Val {
        Val::Consts(BTreeSet::from([v]))
    }

    fn join(&self, o: &Val) -> Val {
        match (self, o) {
            (a, b) if a == b => a.clone(),
            (Val::Consts(a), Val::Consts(b)) => {
                let u: BTreeSet<u64> = a.union(b).copied().collect();
                if u.len() > MAX_CONSTS {
                    Val::Top
                } else {
                    Val::Consts(u)
                }
            }
            _ => Val::Top,
        }
    }

    fn map(&self, f: impl Fn(u64) -> u64) -> Val {
        match self {
            Val::Consts(c) => Val::Consts(c.iter().map(|v| f(*v)).collect()),
            v => v.clone(),
        }
    }
}

/// The kind of syscall instruction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Trap {
    /// `syscall`: the x86_64 table.
    Syscall,
    /// `int 0x80` or `sysenter`: the i386 table.
    I386,
}

impl Trap {
    /// The syscall table the instruction enters.
    pub fn abi(self) -> crate::model::Abi {
        match self {
            Trap::Syscall => crate::model::Abi::X86_64,
            Trap::I386 => crate::model::Abi::I386,
        }
    }
}

#[derive(Debug, Clone)]
pub struct SysSite {
    pub at: u64,
    pub trap: Trap,
    pub nr: Val,
    /// The number and first three arguments come from one struct (`int nr; long args[3]`):
    /// glibc's set*id broadcast (`struct xid_command`), replaying on each thread the call
    /// that the initiating thread's own wrapper (`setuid`, ...) makes from its own site.
    pub replay: bool,
}

/// Where a call or jump goes, before the loader's resolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// A code address of this object (a function, or a PLT stub).
    Addr(u64),
    /// Through the GOT slot at this address (`call [rip+slot]`).
    Slot(u64),
}

#[derive(Debug, Clone)]
pub struct CallSite {
    pub at: u64,
    pub target: Target,
    /// A jump out of the function (a tail call) rather than a call.
    pub jump: bool,
    /// The parameter registers at the call, in the calling convention's order (SysV: rdi,
    /// rsi, rdx, rcx, r8, r9; Go's register ABI: rax, rbx, rcx, rdi, rsi, r8-r11).
    pub args: Args,
}

impl CallSite {
    /// A jump at `at` to `target` with nothing known of the registers (a fall-through, a
    /// landing pad, a part an unread jump may enter).
    pub fn jump_to(at: u64, target: u64) -> CallSite {
        CallSite {
            at,
            target: Target::Addr(target),
            jump: true,
            args: Args::default(),
        }
    }
}

/// A call's parameters that are known (a constant, or the caller's own parameter), by
/// position; the others are `Top`. Most are unknown: a dense array per call site held most
/// of the memory of a large analysis.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Args(Box<[(u8, Val)]>);

static TOP: Val = Val::Top;

impl Args {
    pub fn new(all: [Val; MAX_PARAMS]) -> Args {
        Args(
            all.into_iter()
                .enumerate()
                .filter(|(_, v)| *v != Val::Top)
                .map(|(k, v)| (k as u8, v))
                .collect(),
        )
    }

    /// Parameter `k` (`Top` when unknown or out of range).
    pub fn get(&self, k: usize) -> &Val {
        self.0
            .iter()
            .find(|(i, _)| usize::from(*i) == k)
            .map_or(&TOP, |(_, v)| v)
    }

    /// The known parameters, by position.
    pub fn known(&self) -> impl Iterator<Item = (usize, &Val)> {
        self.0.iter().map(|(k, v)| (usize::from(*k), v))
    }
}

#[derive(Debug, Clone, Default)]
pub struct Facts {
    pub syscalls: Vec<SysSite>,
    pub calls: Vec<CallSite>,
    /// Indirect calls and jumps (not jump tables) whose targets only the taken set bounds.
    pub indirect: Vec<u64>,
    /// Code addresses this function takes (lea, immediates): each a possible indirect target.
    pub taken: BTreeSet<u64>,
    /// GOT slots it reads without calling through them (a function's address loaded); every
    /// address it reads or writes relative to rip.
    pub slot_refs: BTreeSet<u64>,
    /// Data addresses it takes (lea) or calls and jumps through: with `slot_refs`, the data
    /// objects whose function pointers it may use (`bounds`).
    pub data_refs: BTreeSet<u64>,
}

/// The stubs of a PLT section: each runs up to a `jmp [rip+slot]`; ([start, end), slot).
pub fn plt_stubs(addr: u64, bytes: &[u8]) -> Vec<(u64, u64, u64)> {
    let mut d = Decoder::with_ip(64, bytes, addr, DecoderOptions::NONE);
    let mut out = Vec::new();
    let mut start = addr;
    while d.can_decode() {
        let i = d.decode();
        if i.flow_control() == FlowControl::IndirectBranch
            && i.op0_kind() == OpKind::Memory
            && i.is_ip_rel_memory_operand()
        {
            // PLT0's jump to the resolver goes through a slot without a relocation: the caller
            // keeps only stubs whose slot the loader fills.
            out.push((start, i.next_ip(), i.ip_rel_memory_address()));
            start = i.next_ip();
        }
    }
    out
}

/// Register index of a general-purpose register (any width), in iced's RAX..R15 order.
fn gpr(r: Register) -> Option<usize> {
    let f = r.full_register();
    let i = (f as u32).wrapping_sub(Register::RAX as u32) as usize;
    (i < 16).then_some(i)
}

const RAX: usize = 0;
const RCX: usize = 1;
const RDX: usize = 2;
const RSI: usize = 6;
const RDI: usize = 7;
const R8: usize = 8;
const R9: usize = 9;
const R10: usize = 10;
const R11: usize = 11;
const RBX: usize = 3;
const RSP: usize = 4;
const RBP: usize = 5;
const R14: usize = 14;
const R15: usize = 15;
/// Register parameters a convention may have, then the stack arguments a call site records.
pub const STACK_PARAM0: usize = 9;
const STACK_PARAMS: usize = 6;
pub const MAX_PARAMS: usize = STACK_PARAM0 + STACK_PARAMS;

/// A calling convention: the integer parameter registers, in order, and what a call may
/// change.
pub struct CallConv {
    params: &'static [usize],
    pub clobber: Clobber,
}

/// C's (the SysV x86-64 ABI).
pub const SYSV: CallConv = CallConv {
    params: &[RDI, RSI, RDX, RCX, R8, R9],
    clobber: ABI_CLOBBER,
};

/// Go's register ABI (ABIInternal): only RSP, RBP, R14 (the goroutine) and R15 survive a call.
pub const GO: CallConv = CallConv {
    params: &[RAX, RBX, RCX, RDI, RSI, R8, R9, R10, R11],
    clobber: !((1 << RSP) | (1 << RBP) | (1 << R14) | (1 << R15)),
};
const CLOBBERED_BY_CALL: [usize; 9] = [RAX, RCX, RDX, RSI, RDI, R8, R9, R10, R11];

/// What is known at a point of the function: the registers, and the 8-byte stack slots
/// spilled and reloaded around calls (Go spills everything: every register is caller-saved
/// in its ABI), by offset from the stack pointer at entry while that offset is known.
#[derive(Debug, Clone, PartialEq, Eq)]
struct State {
    regs: [Val; 16],
    /// rsp minus rsp at entry, while known (push, pop, sub/add rsp with constants).
    sp: Option<i64>,
    /// (offset from entry rsp, size in bytes, value), sorted by offset; empty when sp is not known.
    slots: Vec<(i64, u8, Val)>,
}

impl std::ops::Index<usize> for State {
    type Output = Val;
    fn index(&self, r: usize) -> &Val {
        &self.regs[r]
    }
}

impl std::ops::IndexMut<usize> for State {
    fn index_mut(&mut self, r: usize) -> &mut Val {
        &mut self.regs[r]
    }
}

impl State {
    fn join(&self, o: &State) -> State {
        let sp = if self.sp == o.sp { self.sp } else { None };
        let slots = if sp.is_some() {
            self.slots
                .iter()
                .filter_map(|(off, size, v)| {
                    let (_, s2, v2) = o.slots.iter().find(|(o2, _, _)| o2 == off)?;
                    let j = v.join(v2);
                    (s2 == size && j != Val::Top).then_some((*off, *size, j))
                })
                .collect()
        } else {
            Vec::new()
        };
        State {
            regs: std::array::from_fn(|r| self.regs[r].join(&o.regs[r])),
            sp,
            slots,
        }
    }

    /// Forgets the slots `[off, off + size)` overlaps.
    fn clobber_slots(&mut self, off: i64, size: i64) {
        self.slots
            .retain(|(o, s, _)| *o + i64::from(*s) <= off || *o >= off + size);
    }

    fn store(&mut self, off: i64, size: u8, v: Val) {
        self.clobber_slots(off, i64::from(size));
        if v != Val::Top {
            let at = self.slots.partition_point(|(o, _, _)| *o < off);
            self.slots.insert(at, (off, size, v));
        }
    }

    fn load(&self, off: i64, size: u8) -> Val {
        match self.slots.iter().find(|(o, _, _)| *o == off) {
            Some((_, s, v)) if *s == size => v.clone(),
            // The low half of a spilled constant.
            Some((_, 8, v @ Val::Consts(_))) if size == 4 => v.map(|x| x & 0xffff_ffff),
            _ => Val::Top,
        }
    }

    /// rsp + `disp` as an offset from the entry rsp, if known.
    fn at(&self, disp: u64) -> Option<i64> {
        self.sp.map(|sp| sp.wrapping_add(disp as i64))
    }
}

fn entry_state(cc: &CallConv) -> State {
    let mut s = top_state();
    s.sp = Some(0);
    for (i, r) in cc.params.iter().enumerate() {
        s[*r] = Val::Param(i as u8);
    }
    // The stack arguments, above the return address.
    for k in 0..STACK_PARAMS {
        s.slots
            .push((8 + 8 * k as i64, 8, Val::Param((STACK_PARAM0 + k) as u8)));
    }
    s
}

/// What the decoder knows of the object's address space.
pub struct Ranges<'a> {
    /// The object's code, [start, end) ranges.
    pub code: &'a [(u64, u64)],
    /// Whether an immediate operand can be a code address: only in position-dependent code
    /// (ET_EXEC) or code with text relocations. In PIC a constant that happens to fall in the
    /// code's range (a size, a flag mask such as O_CLOEXEC's 0x80000) is never an address, and
    /// taking it for one pulls unrelated functions into the indirect-call pool.
    pub immediates: bool,
    /// Read-only data (address, bytes): where switch tables are.
    pub rodata: &'a [(u64, Vec<u8>)],
    /// Read-only data addresses the code takes (`lea`): a switch table ends where the next
    /// one starts, whatever the entries beyond would decode to.
    pub data_taken: &'a BTreeSet<u64>,
    /// Whether an address is a slot only the loader writes (the GOT, RELRO): a call through
    /// it goes where the slot is bound. A call through a function pointer the program can
    /// change (a variable in .data, whatever it starts as) is an indirect call.
    pub loader_slot: &'a dyn Fn(u64) -> bool,
}

impl Ranges<'_> {
    fn contains(&self, a: u64) -> bool {
        self.code.iter().any(|(s, e)| a >= *s && a < *e)
    }

    /// `N` bytes of read-only data at `a`.
    fn read<const N: usize>(&self, a: u64) -> Option<[u8; N]> {
        rodata_at(self.rodata, a)?.get(..N)?.try_into().ok()
    }
}

/// The read-only data `rodata` (address, bytes) holds from `addr` to the end of its section.
pub fn rodata_at(rodata: &[(u64, Vec<u8>)], addr: u64) -> Option<&[u8]> {
    rodata.iter().find_map(|(a, b)| {
        let off = usize::try_from(addr.checked_sub(*a)?).ok()?;
        b.get(off..).filter(|rest| !rest.is_empty())
    })
}

/// Whether execution never goes on to the next instruction: ret, jmp, ud2, hlt, int3.
pub fn ends_flow(i: &Instruction) -> bool {
    matches!(
        i.flow_control(),
        FlowControl::Return | FlowControl::UnconditionalBranch | FlowControl::IndirectBranch
    ) || matches!(i.mnemonic(), Mnemonic::Ud2 | Mnemonic::Int3 | Mnemonic::Hlt)
}

/// The instructions of a function's body, decoded linearly.
pub fn decode_body(start: u64, bytes: &[u8]) -> Vec<Instruction> {
    let mut decoder = Decoder::with_ip(64, bytes, start, DecoderOptions::NONE);
    let mut instrs: Vec<Instruction> = Vec::with_capacity(bytes.len() / 4);
    while decoder.can_decode() {
        instrs.push(decoder.decode());
    }
    instrs
}

/// Bit mask of the registers a call may change (bit i: register index i).
pub type Clobber = u16;
/// What any call may change under the SysV ABI.
pub const ABI_CLOBBER: Clobber = {
    let mut m = 0u16;
    let mut k = 0;
    while k < CLOBBERED_BY_CALL.len() {
        m |= 1 << CLOBBERED_BY_CALL[k];
        k += 1;
    }
    m
};

/// What a function does to registers and where it goes, before anything is known of others.
pub struct Summary {
    /// The registers its own instructions write.
    pub writes: Clobber,
    /// Near calls it makes (targets), `None` for an indirect one.
    pub calls: Vec<Option<u64>>,
    /// Jumps out of its body (tail calls), `None` for an indirect one.
    pub jumps: Vec<Option<u64>>,
    /// Whether it has a `ret`.
    pub returns: bool,
}

/// The general-purpose registers `i` writes, one bit each (iced's RAX..R15 order).
fn written(info: &mut InstructionInfoFactory, i: &Instruction) -> Clobber {
    let mut w = 0;
    for u in info.info(i).used_registers() {
        if matches!(
            u.access(),
            OpAccess::Write | OpAccess::ReadWrite | OpAccess::CondWrite | OpAccess::ReadCondWrite
        ) && let Some(r) = gpr(u.register())
        {
            w |= 1 << r;
        }
    }
    w
}

pub fn summary(instrs: &[Instruction], start: u64, end: u64) -> Summary {
    let mut info = InstructionInfoFactory::new();
    let mut s = Summary {
        writes: 0,
        calls: Vec::new(),
        jumps: Vec::new(),
        returns: false,
    };
    for i in instrs {
        s.writes |= written(&mut info, i);
        match i.flow_control() {
            FlowControl::Call if is_near(i) => s.calls.push(Some(i.near_branch_target())),
            FlowControl::UnconditionalBranch | FlowControl::ConditionalBranch => {
                let t = i.near_branch_target();
                if t < start || t >= end {
                    s.jumps.push(Some(t));
                }
            }
            FlowControl::IndirectCall => s.calls.push(None),
            FlowControl::IndirectBranch => s.jumps.push(None),
            FlowControl::Return => s.returns = true,
            _ => {}
        }
    }
    s
}

/// Analyses the function at `start` whose body (up to the next function's start) decoded to
/// `instrs`. `clobber` says which registers a near call to an address may change: what the
/// callee writes, where the object's own code shows it (compilers rely on that: gcc's IPA-RA
/// keeps values in caller-saved registers across calls to local functions that leave them).
pub fn function(
    start: u64,
    end: u64,
    instrs: &[Instruction],
    code: &Ranges<'_>,
    cc: &CallConv,
    clobber: &dyn Fn(u64) -> Option<Clobber>,
    global: &dyn Fn(u64) -> Option<u64>,
) -> Facts {
    // Basic blocks: leaders at the start, at branch targets inside, after every branch.
    let mut leaders: BTreeSet<u64> = BTreeSet::from([start]);
    for i in instrs {
        match i.flow_control() {
            FlowControl::ConditionalBranch | FlowControl::UnconditionalBranch => {
                let t = i.near_branch_target();
                if t >= start && t < end {
                    leaders.insert(t);
                }
                leaders.insert(i.next_ip());
            }
            FlowControl::IndirectBranch
            | FlowControl::Return
            | FlowControl::Exception
            | FlowControl::Interrupt => {
                leaders.insert(i.next_ip());
            }
            _ => {}
        }
    }
    // Instruction index of each leader.
    let mut block_of: BTreeMap<u64, usize> = BTreeMap::new();
    let mut blocks: Vec<(usize, usize)> = Vec::new(); // [first, last] instruction indices
    let mut cur: Option<usize> = None;
    for (idx, i) in instrs.iter().enumerate() {
        if leaders.contains(&i.ip()) || cur.is_none() {
            if let Some(b) = cur {
                blocks[b].1 = idx - 1;
            }
            block_of.insert(i.ip(), blocks.len());
            cur = Some(blocks.len());
            blocks.push((idx, idx));
        }
    }
    if let Some(b) = cur {
        blocks[b].1 = instrs.len().saturating_sub(1);
    }
    if instrs.is_empty() {
        return Facts::default();
    }
    let succs = |b: usize| -> Vec<usize> {
        let last = &instrs[blocks[b].1];
        let mut out = Vec::new();
        let fall = block_of.get(&last.next_ip()).copied();
        match last.flow_control() {
            FlowControl::ConditionalBranch => {
                out.extend(block_of.get(&last.near_branch_target()).copied());
                out.extend(fall);
            }
            FlowControl::UnconditionalBranch => {
                out.extend(block_of.get(&last.near_branch_target()).copied());
            }
            FlowControl::IndirectBranch | FlowControl::Return | FlowControl::Exception => {}
            FlowControl::Interrupt if last.mnemonic() == Mnemonic::Ud2 => {}
            _ => out.extend(fall),
        }
        out
    };

    // Forward data flow to a fixpoint. Blocks no known edge reaches (jump-table targets,
    // landing pads) start knowing nothing.
    let ctx = Ctx {
        cc,
        clobber,
        global,
        escaped: escapes(instrs),
    };
    let mut info = InstructionInfoFactory::new();
    let mut inputs: Vec<Option<State>> = vec![None; blocks.len()];
    inputs[0] = Some(entry_state(cc));
    let mut work: Vec<usize> = vec![0];
    let mut reached = vec![false; blocks.len()];
    loop {
        while let Some(b) = work.pop() {
            reached[b] = true;
            let Some(mut st) = inputs[b].clone() else {
                continue;
            };
            let mut dead = false;
            for i in &instrs[blocks[b].0..=blocks[b].1] {
                // Nothing runs after a call that never returns (a panic): its block does not
                // flow on, so its state (another stack depth) joins nowhere.
                if i.flow_control() == FlowControl::Call
                    && is_near(i)
                    && clobber(i.near_branch_target()).is_none()
                {
                    dead = true;
                    break;
                }
                step(i, &mut st, &mut info, &ctx);
            }
            if dead {
                continue;
            }
            for s in succs(b) {
                let new = match &inputs[s] {
                    None => st.clone(),
                    Some(old) => old.join(&st),
                };
                if inputs[s].as_ref() != Some(&new) {
                    inputs[s] = Some(new);
                    work.push(s);
                } else if !reached[s] {
                    work.push(s);
                }
            }
        }
        // Blocks still unreached (jump-table targets, landing pads): from an unknown state.
        // Alignment padding between them (nops, int3) is never entered.
        let padding = |b: usize| {
            instrs[blocks[b].0..=blocks[b].1]
                .iter()
                .all(|i| matches!(i.mnemonic(), Mnemonic::Nop | Mnemonic::Int3))
        };
        match (0..blocks.len()).find(|b| !reached[*b] && !padding(*b)) {
            Some(b) => {
                inputs[b] = Some(top_state());
                work.push(b);
            }
            None => break,
        }
    }

    // The facts, with each block's fixpoint state.
    let mut f = Facts::default();
    for (b, (first, last)) in blocks.iter().enumerate() {
        let mut st = inputs[b].clone().unwrap_or_else(top_state);
        for idx in *first..=*last {
            let i = &instrs[idx];
            let site = (instrs, idx, &instrs[*first..idx]);
            record(i, &st, site, start, end, code, cc, &mut f);
            step(i, &mut st, &mut info, &ctx);
        }
    }
    f
}

fn top_state() -> State {
    State {
        regs: std::array::from_fn(|_| Val::Top),
        sp: None,
        slots: Vec::new(),
    }
}

/// The arguments at a call: the convention's registers, then the 8-byte stack words at
/// rsp, rsp+8, ... (the callee's stack arguments). At a jump (a tail call) the return address
/// is already on the stack: they start at rsp+8 (Go's ABI0 trampolines, such as
/// `unix.RawSyscall` jumping to `syscall.RawSyscall`, pass their own arguments on so).
fn args_of(st: &State, cc: &CallConv, jump: bool) -> [Val; MAX_PARAMS] {
    let base = if jump { 8 } else { 0 };
    std::array::from_fn(|k| {
        if k < STACK_PARAM0 {
            cc.params.get(k).map_or(Val::Top, |r| st[*r].clone())
        } else {
            st.at(base + 8 * (k - STACK_PARAM0) as u64)
                .map_or(Val::Top, |off| st.load(off, 8))
        }
    })
}

/// The facts of a function without its values: every call's arguments and every syscall
/// number unknown. Enough for a function that makes no syscall and calls no wrapper (most of
/// them), at a fraction of the data flow's cost.
pub fn scan(start: u64, end: u64, instrs: &[Instruction], code: &Ranges<'_>) -> Facts {
    let top = top_state();
    let mut f = Facts::default();
    for (idx, i) in instrs.iter().enumerate() {
        let before = &instrs[idx.saturating_sub(8)..idx];
        record(
            i,
            &top,
            (instrs, idx, before),
            start,
            end,
            code,
            &SYSV,
            &mut f,
        );
    }
    f
}

/// The facts instruction `i` adds, seen with the state before it; `site`: the function's
/// body, `i`'s index in it, and the block so far.
#[allow(clippy::too_many_arguments)]
fn record(
    i: &Instruction,
    st: &State,
    (body, idx, before): (&[Instruction], usize, &[Instruction]),
    start: u64,
    end: u64,
    code: &Ranges<'_>,
    cc: &CallConv,
    f: &mut Facts,
) {
    let at = i.ip();
    // A jump out of the function (a tail call, a switch case in another part) as a call.
    let jump_out = |t: u64, f: &mut Facts| {
        if t < start || t >= end {
            f.calls.push(CallSite {
                at,
                target: Target::Addr(t),
                jump: true,
                args: Args::new(args_of(st, cc, true)),
            });
        }
    };
    match i.mnemonic() {
        Mnemonic::Syscall => f.syscalls.push(SysSite {
            at,
            trap: Trap::Syscall,
            nr: st[RAX].clone(),
            replay: st[RAX] == Val::Top && is_xid_command(before),
        }),
        Mnemonic::Sysenter => f.syscalls.push(SysSite {
            at,
            trap: Trap::I386,
            nr: st[RAX].clone(),
            replay: false,
        }),
        Mnemonic::Int if i.immediate(0) == 0x80 => f.syscalls.push(SysSite {
            at,
            trap: Trap::I386,
            nr: st[RAX].clone(),
            replay: false,
        }),
        _ => {}
    }
    match i.flow_control() {
        // FlowControl::Call also covers SYSCALL and SYSENTER: only near calls have a target.
        FlowControl::Call if is_near(i) => f.calls.push(CallSite {
            at,
            target: Target::Addr(i.near_branch_target()),
            jump: false,
            args: Args::new(args_of(st, cc, false)),
        }),
        FlowControl::UnconditionalBranch | FlowControl::ConditionalBranch => {
            jump_out(i.near_branch_target(), f)
        }
        FlowControl::IndirectCall | FlowControl::IndirectBranch => {
            let jump = i.flow_control() == FlowControl::IndirectBranch;
            if i.is_ip_rel_memory_operand() {
                f.data_refs.insert(i.ip_rel_memory_address());
            }
            match through(i, (body, idx), before, code) {
                Through::Slot(slot) => f.calls.push(CallSite {
                    at,
                    target: Target::Slot(slot),
                    jump,
                    args: Args::new(args_of(st, cc, jump)),
                }),
                Through::Anywhere => f.indirect.push(at),
                // A switch's cases outside the body (GCC moves cold ones to `f.cold`, a
                // function of its own): jumps out, as tail calls are.
                Through::Table => {
                    for t in switch_targets(body, idx, code) {
                        jump_out(t, f);
                    }
                }
            }
        }
        _ => {
            // Addresses this instruction takes or reads.
            if i.is_ip_rel_memory_operand() {
                let a = i.ip_rel_memory_address();
                if i.mnemonic() == Mnemonic::Lea {
                    if code.contains(a) {
                        f.taken.insert(a);
                    } else {
                        f.data_refs.insert(a);
                    }
                } else {
                    f.slot_refs.insert(a);
                }
            }
            for op in (0..i.op_count()).filter(|_| code.immediates) {
                if matches!(
                    i.op_kind(op),
                    OpKind::Immediate32 | OpKind::Immediate32to64 | OpKind::Immediate64
                ) {
                    let v = i.immediate(op);
                    if code.contains(v) {
                        f.taken.insert(v);
                    }
                }
            }
        }
    }
}

/// Whether the instructions just before a `syscall` load eax from `[B]` and rdi, rsi, rdx from
/// `[B+8]`, `[B+16]`, `[B+24]` (glibc's `struct xid_command`), each the last write of its
/// register.
fn is_xid_command(before: &[Instruction]) -> bool {
    let last_write = |r: Register| {
        before.iter().rev().take(8).find(|i| {
            i.op_count() >= 1 && i.op0_kind() == OpKind::Register && i.op0_register() == r
        })
    };
    let mut base = None;
    for (r, disp) in [
        (Register::EAX, 0u64),
        (Register::RDI, 8),
        (Register::RSI, 16),
        (Register::RDX, 24),
    ] {
        let Some(i) = last_write(r) else {
            return false;
        };
        if i.mnemonic() != Mnemonic::Mov
            || i.op1_kind() != OpKind::Memory
            || i.memory_index() != Register::None
            || i.memory_displacement64() != disp
            || base.is_some_and(|b| b != i.memory_base())
        {
            return false;
        }
        base = Some(i.memory_base());
    }
    true
}

/// Where an indirect call or jump goes.
#[derive(PartialEq)]
enum Through {
    /// Where the slot only the loader writes (the GOT, RELRO) is bound.
    Slot(u64),
    /// A switch's case, read from its table (`switch_targets`).
    Table,
    /// Any function whose address is taken.
    Anywhere,
}

/// Where the indirect call or jump `i` (`body[idx]`) goes; `before`: the instructions before
/// it.
fn through(
    i: &Instruction,
    (body, idx): (&[Instruction], usize),
    before: &[Instruction],
    code: &Ranges<'_>,
) -> Through {
    if i.op0_kind() == OpKind::Memory
        && i.is_ip_rel_memory_operand()
        && (code.loader_slot)(i.ip_rel_memory_address())
    {
        Through::Slot(i.ip_rel_memory_address())
    } else if let Some(slot) = slot_in_register(body, idx, code) {
        Through::Slot(slot)
    } else if i.flow_control() == FlowControl::IndirectBranch && is_jump_table(i, before) {
        Through::Table
    } else {
        Through::Anywhere
    }
}

/// The loader's slot a `call reg` or `jmp reg` (`body[idx]`) goes through when `reg` was just
/// loaded from it: crtstuff's calls of weak symbols (`mov rax, [rip+slot]; test rax, rax; je 1f;
/// jmp rax`) and `-fno-plt` code. The load must be the last write of `reg` on the straight line
/// to the call, and nothing else may enter that line: no call or syscall on it, no branch of the
/// body into it, and no switch in the body (its cases could land there).
fn slot_in_register(body: &[Instruction], idx: usize, code: &Ranges<'_>) -> Option<u64> {
    let i = body.get(idx)?;
    if i.op0_kind() != OpKind::Register || i.op0_register().size() != 8 {
        return None;
    }
    let reg = gpr(i.op0_register())?;
    let mut info = InstructionInfoFactory::new();
    let mut k = idx;
    let load = loop {
        k = k.checked_sub(1)?;
        let p = &body[k];
        if ends_flow(p)
            || matches!(
                p.flow_control(),
                FlowControl::Call | FlowControl::IndirectCall
            )
        {
            return None;
        }
        if written(&mut info, p) & (1 << reg) != 0 {
            break p;
        }
    };
    if load.mnemonic() != Mnemonic::Mov
        || load.op0_kind() != OpKind::Register
        || load.op0_register() != i.op0_register()
        || load.op1_kind() != OpKind::Memory
        || !load.is_ip_rel_memory_operand()
        || !(code.loader_slot)(load.ip_rel_memory_address())
    {
        return None;
    }
    let line = load.next_ip()..=i.ip();
    let entered = body
        .iter()
        .enumerate()
        .any(|(j, p)| match p.flow_control() {
            FlowControl::ConditionalBranch | FlowControl::UnconditionalBranch => {
                line.contains(&p.near_branch_target())
            }
            FlowControl::IndirectBranch => {
                j != idx && is_jump_table(p, &body[j.saturating_sub(8)..j])
            }
            _ => false,
        });
    (!entered).then(|| load.ip_rel_memory_address())
}

/// A switch's jump through a table inside the function: `notrack jmp` (CET builds), a jump
/// through `[table + index*8]` (position-dependent code), or through a register loaded by
/// `movsxd reg, [base + index*4]` in the same block (the relative tables of PIC code). Its
/// targets are the function's own code, analysed whole anyway. A table of function pointers
/// (8-byte entries, relocated) is not taken for one: those targets are in the taken set.
fn is_jump_table(i: &Instruction, before: &[Instruction]) -> bool {
    if i.segment_prefix() == Register::DS {
        return true;
    }
    if i.op0_kind() == OpKind::Memory {
        return i.memory_index() != Register::None && i.memory_base() == Register::None;
    }
    before.iter().rev().take(8).any(|p| {
        p.mnemonic() == Mnemonic::Movsxd
            && p.op1_kind() == OpKind::Memory
            && p.memory_index() != Register::None
            && p.memory_index_scale() == 4
    })
}

/// The registers `p` may change for the code after it: what it writes (implicit writes count:
/// mul's rdx, xchg's second operand), and for a call what the callee may clobber.
fn changes(info: &mut InstructionInfoFactory, p: &Instruction) -> Clobber {
    let call = matches!(
        p.flow_control(),
        FlowControl::Call | FlowControl::IndirectCall
    );
    written(info, p) | if call { SYSV.clobber } else { 0 }
}

/// The index of the last instruction in `body[from..at]` that changes `r` (`changes`).
fn last_writer(
    info: &mut InstructionInfoFactory,
    body: &[Instruction],
    from: usize,
    at: usize,
    r: Register,
) -> Option<usize> {
    let bit: Clobber = 1 << gpr(r)?;
    body[from..at]
        .iter()
        .rposition(|p| changes(info, p) & bit != 0)
        .map(|k| from + k)
}

/// The targets of the switch jump `body[idx]`, read from its table: `jmp [T + index*8]`
/// (absolute entries), or `movsxd rX, [rT + index*4]; add rX, rB (or lea rX, [rX + rB]);
/// jmp rX` with `lea rT, [rip+T]` and `lea rB, [rip+B]` (entries relative to B: T itself in
/// GCC's switches, a label of the function in glibc's printf). As many entries as the bound
/// check before it allows (`cmp index, N; ja`), else as long as they land in code; never past
/// the next data the code takes. Nothing when the table cannot be found (its cases inside the
/// body are decoded with it anyway; see `object_facts` for those outside it).
fn switch_targets(body: &[Instruction], idx: usize, code: &Ranges<'_>) -> Vec<u64> {
    let i = &body[idx];
    // What is searched for the table's parts and its bound: up to 24 instructions before.
    let from = idx.saturating_sub(24);
    let back = &body[from..idx];
    let full = |r: Register| r.full_register();
    let mut info = InstructionInfoFactory::new();
    let mut last_writer =
        |from: usize, at: usize, r: Register| last_writer(&mut info, body, from, at, r);
    // (table, entry size, index register, what entries are relative to, where the entry is
    // loaded)
    let (table, size, index, base, load_at) = if i.op0_kind() == OpKind::Memory {
        (i.memory_displacement64(), 8usize, i.memory_index(), 0, idx)
    } else {
        let x = full(i.op0_register());
        // What x is made of: `add x, rB` or `lea x, [rA + rB]`, one of them the entry.
        let Some(d_at) = last_writer(from, idx, x) else {
            return Vec::new();
        };
        let def = &body[d_at];
        let parts = match def.mnemonic() {
            Mnemonic::Add if def.op1_kind() == OpKind::Register => [x, full(def.op1_register())],
            Mnemonic::Lea
                if !def.is_ip_rel_memory_operand()
                    && def.memory_index_scale() == 1
                    && def.memory_displacement64() == 0 =>
            {
                [full(def.memory_base()), full(def.memory_index())]
            }
            _ => return Vec::new(),
        };
        // The entry: loaded by `movsxd entry, [rT + index*4]` before, the other part the base.
        let Some((m_at, m, other)) = parts.iter().enumerate().find_map(|(k, r)| {
            let m_at = last_writer(from, d_at, *r)?;
            let m = &body[m_at];
            (m.mnemonic() == Mnemonic::Movsxd
                && m.op1_kind() == OpKind::Memory
                && m.memory_index_scale() == 4)
                .then_some((m_at, m, parts[1 - k]))
        }) else {
            return Vec::new();
        };
        let lea_before = |at: Option<usize>| {
            let p = &body[at?];
            (p.mnemonic() == Mnemonic::Lea && p.is_ip_rel_memory_operand())
                .then(|| p.ip_rel_memory_address())
        };
        // Each a label: the last writer of its register in the function is `lea r, [rip+A]`.
        let (Some(t), Some(b)) = (
            lea_before(last_writer(0, m_at, m.memory_base())),
            lea_before(last_writer(0, d_at, other)),
        ) else {
            return Vec::new();
        };
        (
            t.wrapping_add(m.memory_displacement64()),
            4,
            m.memory_index(),
            b,
            m_at,
        )
    };
    // The bound: `cmp index, N` then `ja` (index > N goes elsewhere) or `jae` (index >= N);
    // the index may be a copy of the register compared (`movzx edx, cl`).
    let copied_from: Vec<Register> = back
        .iter()
        .filter(|p| {
            matches!(p.mnemonic(), Mnemonic::Mov | Mnemonic::Movzx)
                && p.op0_kind() == OpKind::Register
                && full(p.op0_register()) == full(index)
                && p.op1_kind() == OpKind::Register
        })
        .map(|p| full(p.op1_register()))
        .collect();
    // The check holds for the load only if, between the two, the index is written by nothing
    // but a copy of the register compared (nor that register by anything else).
    let holds = |c_at: usize, rc: Register, info: &mut InstructionInfoFactory| -> bool {
        let (Some(bi), Some(bc)) = (gpr(index), gpr(rc)) else {
            return false;
        };
        // (Extending the checked value keeps it within the bound: N < 2^31.)
        let copy = |p: &Instruction| {
            matches!(
                p.mnemonic(),
                Mnemonic::Mov | Mnemonic::Movzx | Mnemonic::Movsxd
            ) && p.op0_kind() == OpKind::Register
                && full(p.op0_register()) == full(index)
                && p.op1_kind() == OpKind::Register
                && full(p.op1_register()) == rc
        };
        c_at < load_at
            && body[c_at + 1..load_at].iter().all(|p| {
                let w = changes(info, p);
                let (to_index, to_rc) = (w & (1 << bi) != 0, w & (1 << bc) != 0);
                (!to_index || copy(p)) && (!to_rc || (rc == full(index) && copy(p)))
            })
    };
    let bound = back.windows(2).enumerate().rev().find_map(|(k, w)| {
        let (c, j) = (&w[0], &w[1]);
        (c.mnemonic() == Mnemonic::Cmp
            && c.op0_kind() == OpKind::Register
            && (full(c.op0_register()) == full(index)
                || copied_from.contains(&full(c.op0_register())))
            && matches!(
                c.op1_kind(),
                OpKind::Immediate8
                    | OpKind::Immediate8to32
                    | OpKind::Immediate8to64
                    | OpKind::Immediate32
                    | OpKind::Immediate32to64
            )
            && holds(from + k, full(c.op0_register()), &mut info))
        .then(|| match j.mnemonic() {
            Mnemonic::Ja => Some(c.immediate(1).wrapping_add(1)),
            Mnemonic::Jae => Some(c.immediate(1)),
            _ => None,
        })
        .flatten()
    });
    // And never past the next table (or other data) the code takes.
    let next = code
        .data_taken
        .range(table.saturating_add(1)..)
        .next()
        .map_or(u64::MAX, |n| (n - table) / size as u64);
    let limit = bound.unwrap_or(1024).min(next).min(4096) as usize;
    let mut out = Vec::new();
    for k in 0..limit {
        let at = table.wrapping_add((k * size) as u64);
        let t = if size == 8 {
            code.read::<8>(at).map(u64::from_le_bytes)
        } else {
            code.read::<4>(at)
                .map(|e| base.wrapping_add(i32::from_le_bytes(e) as i64 as u64))
        };
        match t {
            Some(t) if code.contains(t) => out.push(t),
            // With a bound, an entry outside code is skipped; without one, the table ends.
            Some(_) if bound.is_some() => {}
            _ => break,
        }
    }
    out
}

/// The switch jumps of `body` (`is_jump_table`) whose table `switch_targets` cannot read.
pub fn unread_switches(body: &[Instruction], code: &Ranges<'_>) -> Vec<u64> {
    let mut out = Vec::new();
    for (idx, i) in body.iter().enumerate() {
        if i.flow_control() == FlowControl::IndirectBranch
            && through(i, (body, idx), &body[idx.saturating_sub(8)..idx], code) == Through::Table
            && switch_targets(body, idx, code).is_empty()
        {
            out.push(i.ip());
        }
    }
    out
}

/// The state after `i`.
/// What the data flow of one function knows besides its state.
struct Ctx<'a> {
    cc: &'a CallConv,
    clobber: &'a dyn Fn(u64) -> Option<Clobber>,
    /// The constant an 8-byte global holds, where nothing can change it.
    global: &'a dyn Fn(u64) -> Option<u64>,
    /// Whether a stack address leaves rsp (see `escapes`).
    escaped: bool,
}

fn step(i: &Instruction, st: &mut State, info: &mut InstructionInfoFactory, ctx: &Ctx<'_>) {
    let (cc, clobber, escaped) = (ctx.cc, ctx.clobber, ctx.escaped);
    let dst = if i.op_count() >= 1 && i.op0_kind() == OpKind::Register {
        gpr(i.op0_register()).map(|r| (r, i.op0_register().size()))
    } else {
        None
    };
    let src_reg = if i.op_count() >= 2 && i.op1_kind() == OpKind::Register {
        gpr(i.op1_register()).map(|r| (r, i.op1_register().size()))
    } else {
        None
    };
    let width = |v: u64, size: usize| if size == 4 { v & 0xffff_ffff } else { v };
    // The value the destination gets, when this instruction is one that is tracked.
    let tracked: Option<Val> = match (i.mnemonic(), dst) {
        (Mnemonic::Mov, Some((_, size))) if size >= 4 => match i.op1_kind() {
            OpKind::Immediate32 | OpKind::Immediate32to64 | OpKind::Immediate64 => {
                Some(Val::one(width(i.immediate(1), size)))
            }
            OpKind::Register => src_reg.map(|(s, _)| st[s].map(|v| width(v, size))),
            OpKind::Memory if size == 8 && i.is_ip_rel_memory_operand() => {
                (ctx.global)(i.ip_rel_memory_address()).map(Val::one)
            }
            // A reload of a spilled register.
            OpKind::Memory
                if i.memory_base() == Register::RSP && i.memory_index() == Register::None =>
            {
                st.at(i.memory_displacement64())
                    .map(|off| st.load(off, size as u8))
            }
            _ => None,
        },
        (Mnemonic::Xor | Mnemonic::Sub, Some((d, size)))
            if size >= 4 && src_reg.is_some_and(|(s, _)| s == d) =>
        {
            Some(Val::one(0))
        }
        (Mnemonic::Lea, Some((_, size))) if size >= 4 => {
            if i.is_ip_rel_memory_operand() {
                Some(Val::one(width(i.ip_rel_memory_address(), size)))
            } else if i.memory_index() == Register::None
                && let Some(b) = gpr(i.memory_base())
            {
                let d = i.memory_displacement64();
                Some(st[b].map(|v| width(v.wrapping_add(d), size)))
                    .filter(|v| matches!(v, Val::Consts(_)))
            } else {
                None
            }
        }
        (Mnemonic::Add | Mnemonic::Sub | Mnemonic::Or | Mnemonic::And, Some((d, size)))
            if size >= 4
                && matches!(
                    i.op1_kind(),
                    OpKind::Immediate8to32
                        | OpKind::Immediate8to64
                        | OpKind::Immediate32
                        | OpKind::Immediate32to64
                ) =>
        {
            let imm = i.immediate(1);
            match &st[d] {
                Val::Consts(_) => Some(st[d].map(|v| {
                    width(
                        match i.mnemonic() {
                            Mnemonic::Add => v.wrapping_add(imm),
                            Mnemonic::Sub => v.wrapping_sub(imm),
                            Mnemonic::Or => v | imm,
                            _ => v & imm,
                        },
                        size,
                    )
                })),
                _ => None,
            }
        }
        (Mnemonic::Movsxd | Mnemonic::Movzx | Mnemonic::Movsx, Some((_, _))) => match src_reg {
            Some((s, 4)) if i.mnemonic() == Mnemonic::Movsxd => {
                Some(st[s].map(|v| v as u32 as i32 as i64 as u64))
            }
            Some((s, 1)) if i.mnemonic() == Mnemonic::Movzx => match &st[s] {
                Val::Consts(_) => Some(st[s].map(|v| v & 0xff)),
                _ => None,
            },
            Some((s, 2)) if i.mnemonic() == Mnemonic::Movzx => match &st[s] {
                Val::Consts(_) => Some(st[s].map(|v| v & 0xffff)),
                _ => None,
            },
            _ => None,
        },
        (m, Some((d, size))) if size >= 4 && is_cmov(m) => src_reg.map(|(s, _)| st[d].join(&st[s])),
        _ => None,
    };
    let xchg = (i.mnemonic() == Mnemonic::Xchg)
        .then_some(())
        .and(dst.zip(src_reg))
        .filter(|((_, a), (_, b))| *a == 8 && *b == 8);
    let popped =
        (i.mnemonic() == Mnemonic::Pop).then(|| st.sp.map_or(Val::Top, |sp| st.load(sp, 8)));
    let inf = info.info(i);
    let writes: Vec<MemWrite> = inf
        .used_memory()
        .iter()
        .filter(|u| {
            matches!(
                u.access(),
                OpAccess::Write
                    | OpAccess::ReadWrite
                    | OpAccess::CondWrite
                    | OpAccess::ReadCondWrite
            )
        })
        .map(|u| {
            (
                u.base(),
                u.index(),
                u.displacement(),
                u.memory_size().size(),
            )
        })
        .collect();
    let rsp_written = inf.used_registers().iter().any(|u| {
        u.register() == Register::RSP
            && matches!(
                u.access(),
                OpAccess::Write
                    | OpAccess::ReadWrite
                    | OpAccess::CondWrite
                    | OpAccess::ReadCondWrite
            )
    });
    stack(i, st, &writes, rsp_written, escaped);
    // Everything written becomes unknown, then the tracked value is set.
    for u in inf.used_registers() {
        if matches!(
            u.access(),
            OpAccess::Write | OpAccess::ReadWrite | OpAccess::CondWrite | OpAccess::ReadCondWrite
        ) && let Some(r) = gpr(u.register())
        {
            st[r] = Val::Top;
        }
    }
    let changed = match i.flow_control() {
        // A call that never returns changes nothing after it.
        FlowControl::Call if is_near(i) => clobber(i.near_branch_target()).unwrap_or(0),
        FlowControl::IndirectCall => cc.clobber,
        _ => 0,
    };
    for (r, v) in st.regs.iter_mut().enumerate() {
        if changed & (1 << r) != 0 {
            *v = Val::Top;
        }
    }
    if let Some(((a, _), (b, _))) = xchg {
        st.regs.swap(a, b);
        return;
    }
    if let (Some(v), Some((d, _))) = (tracked, dst) {
        st[d] = v;
    }
    if let (Some(v), Some((d, 8))) = (popped, dst) {
        st[d] = v;
    }
}

/// A memory operand `i` writes: base, index, displacement, size in bytes.
type MemWrite = (Register, Register, u64, usize);

/// What `i` does to the stack pointer and the stack slots.
fn stack(i: &Instruction, st: &mut State, writes: &[MemWrite], rsp_written: bool, escaped: bool) {
    let m = i.mnemonic();
    match m {
        Mnemonic::Push => {
            let v = match i.op0_kind() {
                OpKind::Register => gpr(i.op0_register()).map_or(Val::Top, |r| st[r].clone()),
                OpKind::Immediate8to64 | OpKind::Immediate32to64 => Val::one(i.immediate(0)),
                _ => Val::Top,
            };
            st.sp = st.sp.map(|sp| sp - 8);
            if let Some(sp) = st.sp {
                st.store(sp, 8, v);
            }
            return;
        }
        Mnemonic::Pop => {
            // The register's value is set by the caller of `stack` from `popped`; the pop
            // itself only moves rsp (see `step`).
            st.sp = st.sp.map(|sp| sp + 8);
            return;
        }
        _ => {}
    }
    let is_call = matches!(
        i.flow_control(),
        FlowControl::Call | FlowControl::IndirectCall | FlowControl::Return
    );
    if rsp_written && !is_call {
        let imm = matches!(
            i.op1_kind(),
            OpKind::Immediate8to64 | OpKind::Immediate32to64
        );
        st.sp = match m {
            Mnemonic::Sub if imm => st.sp.map(|sp| sp.wrapping_sub(i.immediate(1) as i64)),
            Mnemonic::Add if imm => st.sp.map(|sp| sp.wrapping_add(i.immediate(1) as i64)),
            Mnemonic::Lea
                if i.memory_base() == Register::RSP && i.memory_index() == Register::None =>
            {
                st.at(i.memory_displacement64())
            }
            _ => None,
        };
    } else if m == Mnemonic::Leave {
        st.sp = None;
    }
    if st.sp.is_none() {
        st.slots.clear();
        return;
    }
    match i.flow_control() {
        FlowControl::Call | FlowControl::IndirectCall => {
            // The callee's frames go below rsp; a callee that was given a stack address
            // may write anywhere in the frame.
            let sp = st.sp.unwrap_or(0);
            if escaped {
                st.slots.clear();
            } else {
                st.slots.retain(|(o, _, _)| *o >= sp);
            }
            return;
        }
        FlowControl::Return => return,
        _ => {}
    }
    // Stores.
    for (base, index, disp, size) in writes.iter().copied() {
        if base == Register::RSP && index == Register::None {
            let Some(off) = st.at(disp) else {
                continue;
            };
            let v = if m == Mnemonic::Mov && (size == 8 || size == 4) {
                match i.op1_kind() {
                    OpKind::Register => gpr(i.op1_register()).map_or(Val::Top, |r| {
                        if size == 4 {
                            st[r].map(|x| x & 0xffff_ffff)
                        } else {
                            st[r].clone()
                        }
                    }),
                    OpKind::Immediate32 => Val::one(i.immediate(1) & 0xffff_ffff),
                    OpKind::Immediate32to64 => Val::one(i.immediate(1)),
                    _ => Val::Top,
                }
            } else {
                Val::Top
            };
            if size > 0 && size <= 64 {
                st.store(off, size as u8, v);
            } else {
                st.slots.clear();
            }
        } else if escaped || matches!(base, Register::RSP | Register::RBP) || index == Register::RSP
        {
            st.slots.clear();
        }
    }
    // String stores (rep stos/movs) write through rdi, a stack address only if one escaped.
    if escaped
        && matches!(
            m,
            Mnemonic::Stosb
                | Mnemonic::Stosw
                | Mnemonic::Stosd
                | Mnemonic::Stosq
                | Mnemonic::Movsb
                | Mnemonic::Movsw
                | Mnemonic::Movsd
                | Mnemonic::Movsq
        )
    {
        st.slots.clear();
    }
}

/// Drops from `statics` (Go's package variables holding a number, by address) every one that
/// an instruction of the object writes or takes the address of, or of anything in the 64 bytes
/// below it (the base of a small struct holding it, written through a pointer). Plain loads and
/// compares leave them.
pub fn drop_written_statics<'a>(
    statics: &mut std::collections::HashMap<u64, u64>,
    instrs: impl Iterator<Item = &'a Instruction>,
) {
    // Addresses taken: each drops the statics of the 64 bytes from it, once all are known (a
    // scan of every static per `lea` was quadratic: minutes on dockerd).
    let mut taken = Vec::new();
    for i in instrs {
        if statics.is_empty() {
            return;
        }
        if !i.is_ip_rel_memory_operand() {
            continue;
        }
        let a = i.ip_rel_memory_address();
        let m = i.mnemonic();
        let plain_load = (m == Mnemonic::Mov && i.op0_kind() == OpKind::Register)
            || matches!(m, Mnemonic::Cmp | Mnemonic::Test);
        if plain_load {
            continue;
        }
        if m == Mnemonic::Lea {
            taken.push(a);
        } else {
            statics.remove(&a);
        }
    }
    let mut keys: Vec<u64> = statics.keys().copied().collect();
    keys.sort_unstable();
    for a in taken {
        let from = keys.partition_point(|k| *k < a);
        let to = keys.partition_point(|k| *k < a.saturating_add(64));
        for k in &keys[from..to] {
            statics.remove(k);
        }
    }
}

/// Whether the function lets a stack address out of rsp: into another register (but rbp, the
/// frame pointer) or memory. Then any store or call may write its frame.
pub fn escapes(instrs: &[Instruction]) -> bool {
    instrs.iter().any(|i| {
        let to_other = i.op_count() >= 1
            && i.op0_kind() == OpKind::Register
            && !matches!(
                i.op0_register().full_register(),
                Register::RSP | Register::RBP
            );
        let stack_base = matches!(i.memory_base(), Register::RSP | Register::RBP);
        match i.mnemonic() {
            Mnemonic::Lea => to_other && stack_base,
            Mnemonic::Mov | Mnemonic::Xchg => {
                (to_other
                    && i.op1_kind() == OpKind::Register
                    && matches!(i.op1_register(), Register::RSP | Register::RBP))
                    || (i.op0_kind() == OpKind::Memory
                        && i.op1_kind() == OpKind::Register
                        && i.op1_register() == Register::RSP)
            }
            Mnemonic::Push => matches!(i.op0_register(), Register::RSP),
            _ => false,
        }
    })
}

fn is_near(i: &Instruction) -> bool {
    matches!(
        i.op0_kind(),
        OpKind::NearBranch16 | OpKind::NearBranch32 | OpKind::NearBranch64
    )
}

fn is_cmov(m: Mnemonic) -> bool {
    matches!(
        m,
        Mnemonic::Cmova
            | Mnemonic::Cmovae
            | Mnemonic::Cmovb
            | Mnemonic::Cmovbe
            | Mnemonic::Cmove
            | Mnemonic::Cmovg
            | Mnemonic::Cmovge
            | Mnemonic::Cmovl
            | Mnemonic::Cmovle
            | Mnemonic::Cmovne
            | Mnemonic::Cmovno
            | Mnemonic::Cmovnp
            | Mnemonic::Cmovns
            | Mnemonic::Cmovo
            | Mnemonic::Cmovp
            | Mnemonic::Cmovs
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The facts of `code` as one function at 0x1000 under `cc`, every call changing what
    /// the convention lets it.
    fn facts_in(code: &[u8], cc: &CallConv) -> Facts {
        let end = 0x1000 + code.len() as u64;
        let ranges = [(0x1000u64, end)];
        let instrs = decode_body(0x1000, code);
        function(
            0x1000,
            end,
            &instrs,
            &Ranges {
                code: &ranges,
                immediates: true,
                rodata: &[],
                data_taken: &BTreeSet::new(),
                loader_slot: &|_| false,
            },
            cc,
            &|_| Some(cc.clobber),
            &|_| None,
        )
    }

    fn facts(code: &[u8]) -> Facts {
        facts_in(code, &SYSV)
    }

    /// `mov edi, 0x1008; lea rsi, [rip+0]; ret`: an immediate and a rip-relative address, both
    /// inside the code.
    const IMM_AND_LEA: [u8; 13] = [0xbf, 0x08, 0x10, 0, 0, 0x48, 0x8d, 0x35, 0, 0, 0, 0, 0xc3];

    fn taken_with(immediates: bool) -> BTreeSet<u64> {
        let ranges = [(0x1000u64, 0x1000 + IMM_AND_LEA.len() as u64)];
        let instrs = decode_body(0x1000, &IMM_AND_LEA);
        let r = Ranges {
            code: &ranges,
            immediates,
            rodata: &[],
            data_taken: &BTreeSet::new(),
            loader_slot: &|_| false,
        };
        function(
            0x1000,
            ranges[0].1,
            &instrs,
            &r,
            &SYSV,
            &|_| Some(SYSV.clobber),
            &|_| None,
        )
        .taken
    }

    /// The addresses `f`'s jumps out of its function go to.
    fn jumps(f: Facts) -> Vec<u64> {
        f.calls
            .iter()
            .filter_map(|c| match c.target {
                Target::Addr(a) if c.jump => Some(a),
                _ => None,
            })
            .collect()
    }

    /// The facts of the function at 0x1000 up to `end`, with values and scanned.
    fn valued_and_scanned(instrs: &[Instruction], end: u64, r: &Ranges<'_>) -> [Facts; 2] {
        let valued = function(
            0x1000,
            end,
            instrs,
            r,
            &SYSV,
            &|_| Some(SYSV.clobber),
            &|_| None,
        );
        [valued, scan(0x1000, end, instrs, r)]
    }

    /// The facts of `code` at 0x1000 where the 8 bytes at 0x3000 are a loader's slot, both
    /// with values and scanned.
    fn with_slot_at_0x3000(code: &[u8]) -> [Facts; 2] {
        let end = 0x1000 + code.len() as u64;
        let ranges = [(0x1000u64, end)];
        let r = Ranges {
            code: &ranges,
            immediates: false,
            rodata: &[],
            data_taken: &BTreeSet::new(),
            loader_slot: &|a| a == 0x3000,
        };
        valued_and_scanned(&decode_body(0x1000, code), end, &r)
    }

    /// crtstuff's `deregister_tm_clones`: a weak symbol's GOT slot loaded, tested, jumped
    /// through. The jump goes where the slot is bound, not to any taken function.
    const CRTSTUFF: [u8; 15] = [
        0x48, 0x8b, 0x05, 0xf9, 0x1f, 0, 0, // mov rax, [rip+0x1ff9] (0x3000)
        0x48, 0x85, 0xc0, // test rax, rax
        0x74, 0x02, // je 0x100e
        0xff, 0xe0, // jmp rax
        0xc3, // ret
    ];

    #[test]
    fn a_jump_through_a_register_just_loaded_from_the_got_goes_where_the_slot_is_bound() {
        for f in with_slot_at_0x3000(&CRTSTUFF) {
            assert!(f.indirect.is_empty(), "{:?}", f.indirect);
            assert!(
                f.calls
                    .iter()
                    .any(|c| c.target == Target::Slot(0x3000) && c.jump),
                "the jump is not through the slot"
            );
        }
    }

    #[test]
    fn a_register_loaded_from_the_got_is_not_trusted_where_other_paths_join_or_data_can_change() {
        // ...; ret; mov rax, [rdi]; jmp 0x100c: another value reaches the `jmp rax`.
        let mut joined = CRTSTUFF.to_vec();
        joined.extend([0x48, 0x8b, 0x07, 0xeb, 0xf8]);
        for f in with_slot_at_0x3000(&joined) {
            assert_eq!(f.indirect, vec![0x100c]);
        }
        // The same load from 0x3008, a variable the program can write.
        let mut variable = CRTSTUFF;
        variable[3] = 0x01;
        variable[4] = 0x20;
        for f in with_slot_at_0x3000(&variable) {
            assert_eq!(f.indirect, vec![0x100c]);
        }
        // mov eax, [rip+...]: 32 bits of the slot are no address.
        let mut narrow = CRTSTUFF.to_vec();
        narrow.remove(0);
        narrow[2] = 0xfa;
        for f in with_slot_at_0x3000(&narrow) {
            assert_eq!(f.indirect.len(), 1);
        }
    }

    /// strftime's switch: bound checked on `cl`, indexed by a copy of it in `edx`.
    #[test]
    fn a_switch_table_is_read_up_to_the_bound_of_the_register_its_index_was_copied_from() {
        // cmp cl, 0x7a; ja out; lea rdi, [rip+0x1ff4] (0x3000); movzx edx, cl;
        // movsxd rdx, [rdi+rdx*4]; add rdx, rdi; jmp rdx; out: ret
        let code: [u8; 25] = [
            0x80, 0xf9, 0x7a, 0x77, 0x13, 0x48, 0x8d, 0x3d, 0xf4, 0x1f, 0, 0, 0x0f, 0xb6, 0xd1,
            0x48, 0x63, 0x14, 0x97, 0x48, 0x01, 0xfa, 0xff, 0xe2, 0xc3,
        ];
        // 123 entries (0..=0x7a), then what the next table's would read as: in code too.
        let table: Vec<u8> = (0..200i64)
            .flat_map(|k| ((0x1100 + 16 * k - 0x3000) as i32).to_le_bytes())
            .collect();
        let ranges = [(0x1000u64, 0x2000u64)];
        let rodata = [(0x3000u64, table)];
        let r = Ranges {
            code: &ranges,
            immediates: false,
            rodata: &rodata,
            data_taken: &BTreeSet::new(),
            loader_slot: &|_| false,
        };
        let instrs = decode_body(0x1000, &code);
        let end = 0x1000 + code.len() as u64;
        let [valued, scanned] = valued_and_scanned(&instrs, end, &r);
        let want: Vec<u64> = (0..123).map(|k| 0x1100 + 16 * k).collect();
        assert_eq!(jumps(valued), want);
        assert_eq!(jumps(scanned), want);
        // With no bound check, the next data the code takes ends the table.
        let no_cmp = &instrs[2..];
        let taken = BTreeSet::from([0x3000 + 4 * 10]);
        let r = Ranges {
            data_taken: &taken,
            ..r
        };
        assert_eq!(jumps(scan(0x1005, end, no_cmp, &r)), want[..10]);
    }

    /// glibc's printf: entries relative to a label (B), not to the table; and the string
    /// functions' `lea r10, [r10 + r9]` that adds them.
    #[test]
    fn a_switch_table_is_read_relative_to_the_base_the_jump_adds() {
        // f (0x1000): cmp edx, 9; ja out; lea rdi, [rip+0x1ff0] (T = 0x2ffc);
        //   lea rsi, [rip+0x10] (B = 0x1023); movsxd rax, [rdi+rdx*4]; add rax, rsi; jmp rax;
        //   out: ret
        // g (0x101d): lea r10, [rip+0x1fe0] (T = 0x3004); movsxd r9, [r10+r9*4];
        //   lea r10, [r10+r9]; jmp r10
        let code: [u8; 47] = [
            0x83, 0xfa, 0x09, 0x77, 0x17, 0x48, 0x8d, 0x3d, 0xf0, 0x1f, 0x00, 0x00, 0x48, 0x8d,
            0x35, 0x10, 0x00, 0x00, 0x00, 0x48, 0x63, 0x04, 0x97, 0x48, 0x01, 0xf0, 0xff, 0xe0,
            0xc3, 0x4c, 0x8d, 0x15, 0xe0, 0x1f, 0x00, 0x00, 0x4f, 0x63, 0x0c, 0x8a, 0x4f, 0x8d,
            0x14, 0x0a, 0x41, 0xff, 0xe2,
        ];
        let ranges = [(0x1000u64, 0x2000u64)];
        // f's 10 entries (the bound) relative to B, then more that would land in code too.
        let t: Vec<u8> = (0..20i64)
            .flat_map(|k| ((0x1100 + 16 * k - 0x1023) as i32).to_le_bytes())
            .collect();
        let rodata = [(0x2ffcu64, t)];
        let r = Ranges {
            code: &ranges,
            immediates: false,
            rodata: &rodata,
            data_taken: &BTreeSet::new(),
            loader_slot: &|_| false,
        };
        let instrs = decode_body(0x1000, &code[..29]);
        let want: Vec<u64> = (0..10).map(|k| 0x1100 + 16 * k).collect();
        assert_eq!(jumps(scan(0x1000, 0x101d, &instrs, &r)), want);
        // The base overwritten after its lea (`mov rsi, rbx`): its value is not known, and the
        // table is left unread rather than read against the stale label.
        let mut moved = code[..19].to_vec();
        moved.extend([0x48, 0x89, 0xde]);
        moved.extend(&code[19..29]);
        let instrs = decode_body(0x1000, &moved);
        assert!(jumps(scan(0x1000, 0x1020, &instrs, &r)).is_empty());
        assert_eq!(unread_switches(&instrs, &r), [0x101d]);
        // The index changed after its check (`add edx, 1`): the check bounds nothing, the
        // table is read while its entries land in code (all 20).
        let mut shifted = code[..19].to_vec();
        shifted.extend([0x83, 0xc2, 0x01]);
        shifted.extend(&code[19..29]);
        let instrs = decode_body(0x1000, &shifted);
        let all: Vec<u64> = (0..20).map(|k| 0x1100 + 16 * k).collect();
        assert_eq!(jumps(scan(0x1000, 0x1020, &instrs, &r)), all);
        // The jumped register written again after the add, implicitly (`xchg rbx, rax`: its
        // first operand is rbx): what is jumped to is no longer the table's entry.
        let mut swapped = code[..26].to_vec();
        swapped.extend([0x48, 0x93]);
        swapped.extend(&code[26..29]);
        let instrs = decode_body(0x1000, &swapped);
        assert!(jumps(scan(0x1000, 0x1020, &instrs, &r)).is_empty());
        assert_eq!(unread_switches(&instrs, &r), [0x101c]);
        // g's entries relative to its table, read while they land in code.
        let t: Vec<u8> = [0x1200i64, 0x1210, 0x1220, 0x9000]
            .iter()
            .flat_map(|a| ((a - 0x3004) as i32).to_le_bytes())
            .collect();
        let rodata = [(0x3004u64, t)];
        let r = Ranges {
            rodata: &rodata,
            ..r
        };
        let instrs = decode_body(0x101d, &code[29..]);
        assert_eq!(
            jumps(scan(0x101d, 0x1030, &instrs, &r)),
            [0x1200, 0x1210, 0x1220]
        );
        assert!(unread_switches(&instrs, &r).is_empty());
    }

    #[test]
    fn an_immediate_is_an_address_only_in_position_dependent_code() {
        // ET_EXEC: `mov edi, offset f` takes f. PIC: the same bytes are a constant (a size, a
        // flag mask), and only the rip-relative lea takes an address.
        assert_eq!(taken_with(true), BTreeSet::from([0x1008, 0x100c]));
        assert_eq!(taken_with(false), BTreeSet::from([0x100c]));
    }

    #[test]
    fn constant_numbers_through_moves_and_xor() {
        // mov eax, 39; syscall; xor eax, eax; syscall; mov ecx, 60; mov eax, ecx; syscall; ret
        let f = facts(&[
            0xb8, 39, 0, 0, 0, 0x0f, 0x05, 0x31, 0xc0, 0x0f, 0x05, 0xb9, 60, 0, 0, 0, 0x89, 0xc8,
            0x0f, 0x05, 0xc3,
        ]);
        let nrs: Vec<Val> = f.syscalls.iter().map(|s| s.nr.clone()).collect();
        assert_eq!(nrs, vec![Val::one(39), Val::one(0), Val::one(60)]);
    }

    #[test]
    fn a_wrapper_takes_its_number_from_a_parameter() {
        // glibc's syscall(): mov rax, rdi; mov rdi, rsi; syscall; ret
        let f = facts(&[0x48, 0x89, 0xf8, 0x48, 0x89, 0xf7, 0x0f, 0x05, 0xc3]);
        assert_eq!(f.syscalls[0].nr, Val::Param(0));
    }

    #[test]
    fn paths_join_into_sets_and_calls_clobber() {
        // test edi, edi; je L; mov eax, 1; jmp S; L: mov eax, 2; S: syscall; call 0; syscall; ret
        let f = facts(&[
            0x85, 0xff, 0x74, 0x07, 0xb8, 1, 0, 0, 0, 0xeb, 0x05, 0xb8, 2, 0, 0, 0, 0x0f, 0x05,
            0xe8, 0, 0, 0, 0, 0x0f, 0x05, 0xc3,
        ]);
        assert_eq!(f.syscalls[0].nr, Val::Consts(BTreeSet::from([1, 2])));
        assert_eq!(f.syscalls[1].nr, Val::Top, "a call's return is unknown");
        assert_eq!(f.calls.len(), 1);
    }

    fn go_facts(code: &[u8]) -> Facts {
        facts_in(code, &GO)
    }

    // sub rsp, 0x28; mov [rsp+0x20], rax
    const SPILL: [u8; 9] = [0x48, 0x83, 0xec, 0x28, 0x48, 0x89, 0x44, 0x24, 0x20];
    const CALL: [u8; 5] = [0xe8, 0, 0, 0, 0];
    // mov rax, [rsp+0x20]; syscall; add rsp, 0x28; ret
    const RELOAD_SYSCALL: [u8; 12] = [
        0x48, 0x8b, 0x44, 0x24, 0x20, 0x0f, 0x05, 0x48, 0x83, 0xc4, 0x28, 0xc3,
    ];

    #[test]
    fn a_number_spilled_around_a_call_is_reloaded() {
        // Go's syscall.Syscall: every register dies at the call; the spilled slot does not.
        let f = go_facts(&[&SPILL[..], &CALL, &RELOAD_SYSCALL].concat());
        assert_eq!(f.syscalls[0].nr, Val::Param(0));
    }

    #[test]
    fn a_frame_whose_address_escapes_forgets_its_slots_at_calls() {
        // ...; lea rdi, [rsp+0x20]; call: the callee may write the slot.
        let lea = [0x48, 0x8d, 0x7c, 0x24, 0x20];
        let f = go_facts(&[&SPILL[..], &lea, &CALL, &RELOAD_SYSCALL].concat());
        assert_eq!(f.syscalls[0].nr, Val::Top);
    }

    #[test]
    fn stack_arguments_are_parameters_and_call_arguments() {
        // Go ABI0: mov rax, [rsp+8]; syscall; ret — the first stack argument.
        let f = facts(&[0x48, 0x8b, 0x44, 0x24, 0x08, 0x0f, 0x05, 0xc3]);
        assert_eq!(f.syscalls[0].nr, Val::Param(STACK_PARAM0 as u8));
        // sub rsp, 0x18; mov qword [rsp], 0x66; call: 0x66 is the callee's first stack argument.
        let f = facts(&[
            0x48, 0x83, 0xec, 0x18, 0x48, 0xc7, 0x04, 0x24, 0x66, 0, 0, 0, 0xe8, 0, 0, 0, 0, 0xc3,
        ]);
        assert_eq!(*f.calls[0].args.get(STACK_PARAM0), Val::one(0x66));
    }

    #[test]
    fn a_tail_jump_passes_the_stack_arguments_on() {
        // Go's unix.RawSyscall (ABI0): jmp syscall.RawSyscall — the callee's stack arguments
        // are the trampoline's own, above the return address.
        let f = facts(&[0xe9, 0x00, 0x01, 0, 0]);
        assert!(f.calls[0].jump);
        let own = |k: usize| Val::Param((STACK_PARAM0 + k) as u8);
        assert_eq!(*f.calls[0].args.get(STACK_PARAM0), own(0));
        assert_eq!(*f.calls[0].args.get(STACK_PARAM0 + 1), own(1));
    }

    #[test]
    fn glibc_set_id_broadcast_is_a_replay() {
        // mov rsi, [rbx+0x10]; mov rdi, [rbx+8]; mov rdx, [rbx+0x18]; mov eax, [rbx]; syscall
        let f = facts(&[
            0x48, 0x8b, 0x73, 0x10, 0x48, 0x8b, 0x7b, 0x08, 0x48, 0x8b, 0x53, 0x18, 0x8b, 0x03,
            0x0f, 0x05, 0xc3,
        ]);
        assert!(f.syscalls[0].replay && f.syscalls[0].nr == Val::Top);
        // Any other load of the number is not.
        let f = facts(&[0x8b, 0x03, 0x0f, 0x05, 0xc3]);
        assert!(!f.syscalls[0].replay);
    }

    #[test]
    fn int_0x80_is_the_i386_table() {
        // mov eax, 1; int 0x80
        let f = facts(&[0xb8, 1, 0, 0, 0, 0xcd, 0x80]);
        assert_eq!(f.syscalls[0].trap, Trap::I386);
        assert_eq!(f.syscalls[0].nr, Val::one(1));
    }
}
