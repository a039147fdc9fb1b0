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
    /// The function's integer parameter N (rdi, rsi, rdx, rcx, r8, r9), unchanged.
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

#[derive(Debug, Clone)]
pub struct SysSite {
    pub at: u64,
    pub trap: Trap,
    pub nr: Val,
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
    pub args: [Val; MAX_PARAMS],
}

#[derive(Debug, Clone, Default)]
pub struct Facts {
    pub syscalls: Vec<SysSite>,
    pub calls: Vec<CallSite>,
    /// Indirect calls and jumps (not jump tables) whose targets only the taken set bounds.
    pub indirect: Vec<u64>,
    /// Code addresses this function takes (lea, immediates): each a possible indirect target.
    pub taken: BTreeSet<u64>,
    /// GOT slots it reads without calling through them (a function's address loaded).
    pub slot_refs: BTreeSet<u64>,
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
pub const MAX_PARAMS: usize = 9;

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

type State = [Val; 16];

fn entry_state(cc: &CallConv) -> State {
    let mut s: State = std::array::from_fn(|_| Val::Top);
    for (i, r) in cc.params.iter().enumerate() {
        s[*r] = Val::Param(i as u8);
    }
    s
}

/// Whether `code` (a range of an object's code) contains `addr`.
pub struct Ranges<'a> {
    pub code: &'a [(u64, u64)],
}

impl Ranges<'_> {
    fn contains(&self, a: u64) -> bool {
        self.code.iter().any(|(s, e)| a >= *s && a < *e)
    }
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

pub fn summary(instrs: &[Instruction], start: u64, end: u64) -> Summary {
    let mut info = InstructionInfoFactory::new();
    let mut s = Summary {
        writes: 0,
        calls: Vec::new(),
        jumps: Vec::new(),
        returns: false,
    };
    for i in instrs {
        for u in info.info(i).used_registers() {
            if matches!(
                u.access(),
                OpAccess::Write
                    | OpAccess::ReadWrite
                    | OpAccess::CondWrite
                    | OpAccess::ReadCondWrite
            ) && let Some(r) = gpr(u.register())
            {
                s.writes |= 1 << r;
            }
        }
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
            for i in &instrs[blocks[b].0..=blocks[b].1] {
                step(i, &mut st, &mut info, cc, clobber);
            }
            for s in succs(b) {
                let new = match &inputs[s] {
                    None => st.clone(),
                    Some(old) => std::array::from_fn(|r| old[r].join(&st[r])),
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
            record(i, &st, &instrs[*first..idx], start, end, code, cc, &mut f);
            step(i, &mut st, &mut info, cc, clobber);
        }
    }
    f
}

fn top_state() -> State {
    std::array::from_fn(|_| Val::Top)
}

fn args_of(st: &State, cc: &CallConv) -> [Val; MAX_PARAMS] {
    std::array::from_fn(|k| cc.params.get(k).map_or(Val::Top, |r| st[*r].clone()))
}

/// The facts of a function without its values: every call's arguments and every syscall
/// number unknown. Enough for a function that makes no syscall and calls no wrapper (most of
/// them), at a fraction of the data flow's cost.
pub fn scan(start: u64, end: u64, instrs: &[Instruction], code: &Ranges<'_>) -> Facts {
    let top = top_state();
    let mut f = Facts::default();
    for (idx, i) in instrs.iter().enumerate() {
        let before = &instrs[idx.saturating_sub(8)..idx];
        record(i, &top, before, start, end, code, &SYSV, &mut f);
    }
    f
}

/// The facts instruction `i` adds, seen with the state before it; `before` is the block so far.
#[allow(clippy::too_many_arguments)]
fn record(
    i: &Instruction,
    st: &State,
    before: &[Instruction],
    start: u64,
    end: u64,
    code: &Ranges<'_>,
    cc: &CallConv,
    f: &mut Facts,
) {
    let at = i.ip();
    match i.mnemonic() {
        Mnemonic::Syscall => f.syscalls.push(SysSite {
            at,
            trap: Trap::Syscall,
            nr: st[RAX].clone(),
        }),
        Mnemonic::Sysenter => f.syscalls.push(SysSite {
            at,
            trap: Trap::I386,
            nr: st[RAX].clone(),
        }),
        Mnemonic::Int if i.immediate(0) == 0x80 => f.syscalls.push(SysSite {
            at,
            trap: Trap::I386,
            nr: st[RAX].clone(),
        }),
        _ => {}
    }
    match i.flow_control() {
        // FlowControl::Call also covers SYSCALL and SYSENTER: only near calls have a target.
        FlowControl::Call if is_near(i) => f.calls.push(CallSite {
            at,
            target: Target::Addr(i.near_branch_target()),
            jump: false,
            args: args_of(st, cc),
        }),
        FlowControl::UnconditionalBranch | FlowControl::ConditionalBranch => {
            let t = i.near_branch_target();
            if t < start || t >= end {
                f.calls.push(CallSite {
                    at,
                    target: Target::Addr(t),
                    jump: true,
                    args: args_of(st, cc),
                });
            }
        }
        FlowControl::IndirectCall | FlowControl::IndirectBranch => {
            let jump = i.flow_control() == FlowControl::IndirectBranch;
            if i.op0_kind() == OpKind::Memory && i.is_ip_rel_memory_operand() {
                f.calls.push(CallSite {
                    at,
                    target: Target::Slot(i.ip_rel_memory_address()),
                    jump,
                    args: args_of(st, cc),
                });
            } else if !(jump && is_jump_table(i, before)) {
                f.indirect.push(at);
            }
        }
        _ => {
            // Addresses this instruction takes or reads.
            if i.is_ip_rel_memory_operand() {
                let a = i.ip_rel_memory_address();
                if i.mnemonic() == Mnemonic::Lea {
                    if code.contains(a) {
                        f.taken.insert(a);
                    }
                } else {
                    f.slot_refs.insert(a);
                }
            }
            for op in 0..i.op_count() {
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

/// The state after `i`.
fn step(
    i: &Instruction,
    st: &mut State,
    info: &mut InstructionInfoFactory,
    cc: &CallConv,
    clobber: &dyn Fn(u64) -> Option<Clobber>,
) {
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
    // Everything written becomes unknown, then the tracked value is set.
    let inf = info.info(i);
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
    for (r, v) in st.iter_mut().enumerate() {
        if changed & (1 << r) != 0 {
            *v = Val::Top;
        }
    }
    if let Some(((a, _), (b, _))) = xchg {
        st.swap(a, b);
        return;
    }
    if let (Some(v), Some((d, _))) = (tracked, dst) {
        st[d] = v;
    }
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

    fn facts(code: &[u8]) -> Facts {
        let end = 0x1000 + code.len() as u64;
        let ranges = [(0x1000u64, end)];
        let instrs = decode_body(0x1000, code);
        function(
            0x1000,
            end,
            &instrs,
            &Ranges { code: &ranges },
            &SYSV,
            &|_| Some(ABI_CLOBBER),
        )
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

    #[test]
    fn int_0x80_is_the_i386_table() {
        // mov eax, 1; int 0x80
        let f = facts(&[0xb8, 1, 0, 0, 0, 0xcd, 0x80]);
        assert_eq!(f.syscalls[0].trap, Trap::I386);
        assert_eq!(f.syscalls[0].nr, Val::one(1));
    }
}
