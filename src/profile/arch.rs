//! One profile for x86_64 and aarch64 nodes: `--arch x86_64,aarch64`. Pure.
//!
//! aarch64 has only the generic syscall table, so a program that calls `open` or `fork` on
//! x86_64 calls `openat` or `clone` on aarch64. The equivalents are data
//! (`profiles/arch-equivalents.json`, each with its reason), never guessed from names.
//!
//! A seccomp JSON's rules are per name, not per architecture (Docker's `includes.arches` is
//! Docker's alone; runc, crun and containerd apply every rule to every listed architecture, and
//! skip a name an architecture lacks). So a translated profile allows, on each architecture, the
//! union: the recorded calls and their equivalents. The equivalents are chosen so that the
//! x86_64 call is always the weaker one (open is openat at AT_FDCWD; fork is clone without
//! namespace flags, which `only` enforces), so the union grants x86_64 no power the recorded
//! calls did not.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use oci_spec::runtime::{Arch, LinuxSeccompAction, LinuxSeccompOperator};
use serde::Deserialize;

use super::generate::is_always_allowed;
use super::seccomp::{SeccompProfile, SyscallArg, SyscallRule, rule_names};
use crate::model::Abi;
use crate::model::args::CLONE_NS_MASK;

const DATA: &str = include_str!("../../profiles/arch-equivalents.json");

/// The architectures translation knows, in the order profiles list them.
pub const TRANSLATABLE: &[Abi] = &[Abi::X86_64, Abi::Aarch64];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// What aarch64's libc calls instead; the first is the direct equivalent.
    pub aarch64: Vec<String>,
    /// For each aarch64 call: where each x86_64 argument sits in it (None: no counterpart).
    pub args: BTreeMap<String, Vec<Option<u32>>>,
    /// Conditions an aarch64 call always gets, by name.
    #[serde(default)]
    pub only: BTreeMap<String, String>,
    pub why: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SameName {
    /// Where each x86_64 argument sits in the aarch64 call of the same name.
    pub aarch64: Vec<u32>,
    pub why: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Table {
    pub comment: String,
    pub x86_64_to_aarch64: BTreeMap<String, Entry>,
    pub no_equivalent: BTreeMap<String, String>,
    pub same_name_args: BTreeMap<String, SameName>,
    pub x86_64_start: BTreeMap<String, String>,
    pub vdso: Vdso,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Vdso {
    pub comment: String,
    pub x86_64: Vec<String>,
    pub aarch64: Vec<String>,
}

/// The shipped table; its consistency is a unit test.
pub fn table() -> &'static Table {
    static T: OnceLock<Table> = OnceLock::new();
    T.get_or_init(|| {
        serde_json::from_str(DATA).unwrap_or_else(|e| {
            // Compiled in and tested: only a broken build gets here.
            panic!("profiles/arch-equivalents.json: {e}")
        })
    })
}

/// `x86_64,aarch64` (also amd64/arm64 and the SCMP_ARCH_ names).
pub fn parse_arches(s: &str) -> Result<Vec<Abi>, String> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim) {
        let abi = Abi::parse(part).ok_or_else(|| {
            format!("--arch {s}: unknown architecture {part:?} (known: x86_64, aarch64)")
        })?;
        if !TRANSLATABLE.contains(&abi) {
            return Err(format!(
                "--arch {s}: {part} is not translated (only x86_64 and aarch64 are); i386 and x32 stay listed when the profile lists them beside x86_64"
            ));
        }
        if !out.contains(&abi) {
            out.push(abi);
        }
    }
    out.sort_by_key(|a| TRANSLATABLE.iter().position(|t| t == a));
    Ok(out)
}

/// The condition named by an entry's `only`.
fn only_condition(name: &str) -> Option<SyscallArg> {
    match name {
        "no-namespace-flags" => Some(SyscallArg {
            index: 0,
            value: CLONE_NS_MASK,
            value_two: 0,
            op: LinuxSeccompOperator::ScmpCmpMaskedEq,
        }),
        _ => None,
    }
}

/// What a translation did, for the summary and the tests.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Translation {
    pub to: Vec<Abi>,
    /// (added name, its architecture, the name it stands for, that name's architecture, why).
    pub added: Vec<(String, Abi, String, Abi, String)>,
    /// Names the target architecture has no counterpart for, with why.
    pub no_equivalent: Vec<(String, String)>,
    /// Argument conditions not carried over (the rule there allows any value in that position).
    pub args_dropped: Vec<String>,
    /// Names that exist on none of the profile's architectures any more.
    pub dropped: Vec<String>,
    /// Equivalents not added because the profile already has a rule of its own for them.
    pub kept_own: Vec<String>,
}

impl Translation {
    /// Lines for stderr.
    pub fn lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        let to: Vec<&str> = self.to.iter().map(|a| a.as_str()).collect();
        let mut by_target: BTreeMap<(Abi, &str), Vec<&str>> = BTreeMap::new();
        for (name, abi, from, _, _) in &self.added {
            by_target.entry((*abi, from)).or_default().push(name);
        }
        let added: Vec<String> = by_target
            .iter()
            .map(|((abi, from), names)| format!("{from} → {} ({abi})", names.join("+")))
            .collect();
        out.push(format!(
            "profile for {}: {} equivalent{} added{}",
            to.join(" and "),
            self.added.len(),
            if self.added.len() == 1 { "" } else { "s" },
            if added.is_empty() {
                String::new()
            } else {
                format!(": {}", added.join(", "))
            }
        ));
        for (name, why) in &self.no_equivalent {
            out.push(format!("no equivalent for {name}: {why}"));
        }
        for a in &self.args_dropped {
            out.push(format!("argument condition not carried over: {a}"));
        }
        for n in &self.kept_own {
            out.push(format!("kept the profile's own rule: {n}"));
        }
        if !self.dropped.is_empty() {
            out.push(format!(
                "dropped (not a syscall on {}): {}",
                to.join(" or "),
                self.dropped.join(", ")
            ));
        }
        out
    }
}

/// The profile's x86_64/aarch64 architectures: what it was recorded or written for.
pub fn listed(p: &SeccompProfile) -> Vec<Abi> {
    p.architectures
        .iter()
        .flatten()
        .filter_map(|a| Abi::from_seccomp_arch(*a))
        .filter(|a| TRANSLATABLE.contains(a))
        .collect()
}

fn exists(abi: Abi, name: &str) -> bool {
    abi.syscall_nr(name).is_some()
}

/// Maps `args` through `map` (x86_64 position → target position); conditions on positions
/// with no counterpart are dropped and described in `dropped`.
fn map_args(
    args: &[SyscallArg],
    map: impl Fn(u32) -> Option<u32>,
    what: &str,
    dropped: &mut Vec<String>,
) -> Vec<SyscallArg> {
    let mut out = Vec::new();
    for a in args {
        match map(a.index) {
            Some(i) => out.push(SyscallArg { index: i, ..*a }),
            None => dropped.push(format!(
                "{what}: argument {} has no counterpart, so the rule there allows any value in it",
                a.index
            )),
        }
    }
    out
}

/// Translates `p`, written for `from` (the architectures its names were recorded on), into a
/// profile for exactly `to`. i386 and x32 stay listed when `p` lists them and `to` has x86_64;
/// architectures translation does not know stay listed as they are.
///
/// To aarch64: every name aarch64 lacks gets its equivalents. To x86_64 from a profile not
/// recorded there: every call with an x86_64 form gets it (the x86_64 libc calls `stat`
/// where the aarch64 one calls `newfstatat`), and `x86_64_start` is added. Idempotent.
pub fn translate(
    p: &SeccompProfile,
    from: &[Abi],
    to: &[Abi],
) -> Result<(SeccompProfile, Translation), String> {
    if p.arch_map.as_ref().is_some_and(|m| !m.is_empty())
        || p.syscalls
            .iter()
            .flatten()
            .any(|r| r.includes.is_some() || r.excludes.is_some())
    {
        return Err("conditional rules (includes/excludes, archMap) must be resolved first: translate the OCI form (`syscage` profiles are)".into());
    }
    let t = table();
    let forward = to.contains(&Abi::Aarch64);
    let reverse = to.contains(&Abi::X86_64) && !from.contains(&Abi::X86_64);
    let mut tr = Translation {
        to: to.to_vec(),
        ..Default::default()
    };
    let own: Vec<SyscallRule> = p.syscalls.clone().unwrap_or_default();
    // Names with an unconditional rule of the profile's own: an equivalent never overrides one.
    let unconditional: BTreeMap<String, (LinuxSeccompAction, Option<u32>)> = own
        .iter()
        .filter(|r| r.args.as_ref().is_none_or(Vec::is_empty))
        .flat_map(|r| {
            rule_names(r)
                .into_iter()
                .map(|n| (n.clone(), (r.action, r.errno_ret)))
        })
        .collect();
    let mut added: Vec<SyscallRule> = Vec::new();
    let mut push = |rule: SyscallRule, tr: &mut Translation| {
        let name = rule
            .names
            .as_ref()
            .map(|n| n[0].clone())
            .unwrap_or_default();
        if let Some((action, errno)) = unconditional.get(&name) {
            if (*action, *errno) != (rule.action, rule.errno_ret) {
                let kept = format!("{name} (the equivalent would be {:?})", rule.action);
                if !tr.kept_own.contains(&kept) {
                    tr.kept_own.push(kept);
                }
            }
            return false;
        }
        if own.contains(&rule) || added.iter().any(|r| same_rule(r, &rule)) {
            return false;
        }
        added.push(rule);
        true
    };
    for rule in &own {
        let args = rule.args.clone().unwrap_or_default();
        for name in rule_names(rule) {
            if forward && exists(Abi::X86_64, name) && !exists(Abi::Aarch64, name) {
                if let Some(e) = t.x86_64_to_aarch64.get(name.as_str()) {
                    for target in &e.aarch64 {
                        let map = e.args.get(target).cloned().unwrap_or_default();
                        let mut mapped = map_args(
                            &args,
                            |i| map.get(i as usize).copied().flatten(),
                            &format!("{name} → {target}"),
                            &mut tr.args_dropped,
                        );
                        mapped.extend(e.only.get(target).and_then(|c| only_condition(c)));
                        let r = derived(
                            rule,
                            target,
                            mapped,
                            format!("aarch64 form of {name} (x86_64): {}", e.why),
                        );
                        if push(r, &mut tr) {
                            tr.added.push((
                                target.clone(),
                                Abi::Aarch64,
                                name.clone(),
                                Abi::X86_64,
                                e.why.clone(),
                            ));
                        }
                    }
                } else if !from.contains(&Abi::Aarch64) {
                    let why = t
                        .no_equivalent
                        .get(name.as_str())
                        .cloned()
                        .unwrap_or_else(|| "not in profiles/arch-equivalents.json".into());
                    if !tr.no_equivalent.iter().any(|(n, _)| n == name) {
                        tr.no_equivalent.push((name.clone(), why));
                    }
                }
            }
            if reverse && exists(Abi::Aarch64, name) {
                for (legacy, e) in &t.x86_64_to_aarch64 {
                    if e.aarch64.first() != Some(name) {
                        continue;
                    }
                    let map = e.args.get(name).cloned().unwrap_or_default();
                    // `only` narrows the aarch64 call; the x86_64 call is that narrow by itself.
                    let only = e.only.get(name).and_then(|c| only_condition(c));
                    let own_args: Vec<SyscallArg> =
                        args.iter().filter(|a| Some(**a) != only).copied().collect();
                    let mapped = map_args(
                        &own_args,
                        |p| map.iter().position(|m| *m == Some(p)).map(|i| i as u32),
                        &format!("{name} → {legacy}"),
                        &mut tr.args_dropped,
                    );
                    let r = derived(
                        rule,
                        legacy,
                        mapped,
                        format!("x86_64 form of {name} (aarch64): {}", e.why),
                    );
                    if push(r, &mut tr) {
                        tr.added.push((
                            legacy.clone(),
                            Abi::X86_64,
                            name.clone(),
                            Abi::Aarch64,
                            e.why.clone(),
                        ));
                    }
                }
            }
        }
    }
    let allow = |name: &str, comment: String| SyscallRule {
        names: Some(vec![name.to_string()]),
        name: None,
        action: LinuxSeccompAction::ScmpActAllow,
        errno_ret: None,
        args: None,
        comment: Some(comment),
        includes: None,
        excludes: None,
    };
    if reverse {
        for (name, why) in &t.x86_64_start {
            if push(allow(name, format!("x86_64 start: {why}")), &mut tr) {
                tr.added.push((
                    name.clone(),
                    Abi::X86_64,
                    "(start)".into(),
                    Abi::Aarch64,
                    why.clone(),
                ));
            }
        }
    }
    for abi in to.iter().filter(|a| !from.contains(a)) {
        let names = if *abi == Abi::X86_64 {
            &t.vdso.x86_64
        } else {
            &t.vdso.aarch64
        };
        for name in names {
            let why = "vDSO fallback: a syscall where the other machine's clocksource (a VM's, qemu-user's) has no vDSO path";
            if push(allow(name, format!("{abi} {why}")), &mut tr) {
                tr.added
                    .push((name.clone(), *abi, "(vDSO)".into(), *abi, why.into()));
            }
        }
    }
    let mut rules: Vec<SyscallRule> = own.iter().cloned().chain(added).collect();
    // Same-name calls whose argument positions differ (clone): one rule serves both
    // architectures, so a condition on a moved position is removed rather than enforced on the
    // wrong argument.
    let changes = to.iter().any(|a| !from.contains(a)) || from.iter().any(|a| !to.contains(a));
    if changes {
        for r in &mut rules {
            let Some(args) = r.args.as_mut() else {
                continue;
            };
            for name in r.names.iter().flatten().chain(r.name.iter()) {
                let Some(s) = t.same_name_args.get(name) else {
                    continue;
                };
                args.retain(|a| {
                    let stays = s.aarch64.get(a.index as usize) == Some(&a.index);
                    if !stays {
                        tr.args_dropped.push(format!(
                            "{name}: argument {} is in another position on the other architecture ({}); the rule allows any value there",
                            a.index, s.why
                        ));
                    }
                    stays
                });
            }
            if args.is_empty() {
                r.args = None;
            }
        }
    }
    // Names that exist on no architecture of the result go.
    let out_abis: Vec<Abi> = to
        .iter()
        .copied()
        .chain(
            p.architectures
                .iter()
                .flatten()
                .filter_map(|a| Abi::from_seccomp_arch(*a))
                .filter(|a| matches!(a, Abi::I386 | Abi::X32) && to.contains(&Abi::X86_64)),
        )
        .collect();
    let foreign = p
        .architectures
        .iter()
        .flatten()
        .any(|a| Abi::from_seccomp_arch(*a).is_none());
    if !foreign {
        // Only names syscage's tables know elsewhere: a name newer than its tables stays.
        let gone = |n: &str| {
            !out_abis.iter().any(|a| exists(*a, n))
                && [Abi::X86_64, Abi::I386, Abi::Aarch64]
                    .iter()
                    .any(|a| exists(*a, n))
        };
        let mut dropped = BTreeSet::new();
        for r in &mut rules {
            if let Some(names) = r.names.as_mut() {
                names.retain(|n| {
                    if gone(n) {
                        dropped.insert(n.clone());
                    }
                    !gone(n)
                });
            }
            if r.name.as_deref().is_some_and(gone) {
                dropped.extend(r.name.take());
            }
        }
        // What syscage adds to every profile (`time`, a vDSO fallback aarch64 lacks) was not
        // the user's: leaving it out of the report keeps "dropped" to what they recorded.
        dropped.retain(|n| !is_always_allowed(n));
        rules.retain(|r| r.names.as_ref().is_some_and(|n| !n.is_empty()) || r.name.is_some());
        tr.dropped = dropped.into_iter().collect();
    }
    let mut arches: Vec<Arch> = to.iter().map(|a| a.seccomp_arch()).collect();
    for a in p.architectures.iter().flatten() {
        let keep = match Abi::from_seccomp_arch(*a) {
            Some(Abi::I386 | Abi::X32) => to.contains(&Abi::X86_64),
            Some(_) => false,
            None => true,
        };
        if keep && !arches.contains(a) {
            arches.push(*a);
        }
    }
    let mut out = p.clone();
    out.architectures = Some(arches);
    out.syscalls = Some(rules);
    Ok((out, tr))
}

fn same_rule(a: &SyscallRule, b: &SyscallRule) -> bool {
    (&a.names, a.action, a.errno_ret, &a.args) == (&b.names, b.action, b.errno_ret, &b.args)
}

/// A rule for `name` with `rule`'s action and the given conditions.
fn derived(rule: &SyscallRule, name: &str, args: Vec<SyscallArg>, comment: String) -> SyscallRule {
    SyscallRule {
        names: Some(vec![name.to_string()]),
        name: None,
        action: rule.action,
        errno_ret: rule.errno_ret,
        args: (!args.is_empty()).then_some(args),
        comment: Some(comment),
        includes: None,
        excludes: None,
    }
}

/// For `check`: on each listed architecture, names the profile allows that do not exist there
/// while their equivalents are not allowed. (name, architecture, missing equivalents).
pub fn missing_equivalents(
    allowed: &BTreeSet<String>,
    listed: &[Abi],
) -> Vec<(String, Abi, Vec<String>)> {
    let t = table();
    let mut out = Vec::new();
    if !listed.contains(&Abi::Aarch64) {
        return out;
    }
    for name in allowed {
        if exists(Abi::Aarch64, name) || !exists(Abi::X86_64, name) {
            continue;
        }
        if let Some(e) = t.x86_64_to_aarch64.get(name) {
            let missing: Vec<String> = e
                .aarch64
                .iter()
                .filter(|n| !allowed.contains(*n))
                .cloned()
                .collect();
            if !missing.is_empty() {
                out.push((name.clone(), Abi::Aarch64, missing));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests;
