//! Monitor and learn modes (`run --monitor`, `run --learn`, `syscage agent`): which syscalls of a
//! profile reach the supervisor, and what it answers. Pure.
//!
//! Everything the profile allows stays in the kernel, untouched. What it leaves to its default
//! action is routed to the supervisor (seccomp user notification) instead, and so are its
//! unconditional deny rules, except ENOSYS ones: those are the profile's intended answer to a
//! libc probe (clone3, statx...), kept in the kernel, never reported. The supervisor
//! then answers as the profile would have (monitor), or lets syscalls the profile does not list
//! at all through (learn). A listed syscall whose arguments no rule allowed (an argument rule,
//! e.g. a socket family) is denied in both modes: learning never widens an argument rule.
//! Deny rules with argument conditions act in the kernel, as written, without an event.

use std::collections::{BTreeMap, BTreeSet};

use super::seccomp::{Action, ResolvedFilter};

/// The errno of a libc-fallback rule (38 on every Linux ABI syscage builds for).
const ENOSYS: u16 = 38;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Deny as the profile does, and report.
    Monitor,
    /// Allow what the profile does not list, record it, and report.
    Learn,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Monitor => "monitor",
            Mode::Learn => "learn",
        }
    }
}

/// Why a syscall reached the supervisor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Why {
    /// The profile does not list it: its default action applies.
    Unlisted,
    /// The profile lists it, but no rule allowed these argument values.
    Arguments,
    /// An explicit rule of the profile denies it.
    Rule,
    /// Its number names no syscall of its ABI: answered as the profile's default, never learned.
    UnknownNumber,
}

impl Why {
    pub fn name(self) -> &'static str {
        match self {
            Why::Unlisted => "unlisted",
            Why::Arguments => "arguments",
            Why::Rule => "rule",
            Why::UnknownNumber => "unknown-number",
        }
    }
}

/// The supervisor's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// Let the syscall run (learn mode, or a `log` action).
    Allow,
    /// Deny it as this action of the profile does.
    Deny(Action),
}

impl Answer {
    /// As the events say it.
    pub fn describe(self, mode: Mode) -> String {
        match self {
            Answer::Allow if mode == Mode::Learn => "allowed (learn)".into(),
            Answer::Allow => "allowed (log)".into(),
            Answer::Deny(a) => a.to_string(),
        }
    }
}

/// What the supervisor needs to answer notifications for one profile.
#[derive(Debug, Clone)]
pub struct Watch {
    pub mode: Mode,
    default: Action,
    /// Syscalls an unconditional non-allow rule names, with its action.
    explicit: BTreeMap<String, Action>,
    /// Syscalls some rule names (with or without arguments).
    listed: BTreeSet<String>,
}

impl Watch {
    /// The answer for a number that names no syscall: the profile's default in both modes (a
    /// profile cannot list it, so learning it would heal nothing; and a workload must not grow
    /// a delta, or the events, by counting through numbers).
    pub fn decide_unknown(&self) -> (Answer, Why) {
        (deny(self.default), Why::UnknownNumber)
    }

    /// The answer and reason for a notified call of `name`.
    pub fn decide(&self, name: &str) -> (Answer, Why) {
        if let Some(a) = self.explicit.get(name) {
            return (deny(*a), Why::Rule);
        }
        if self.listed.contains(name) {
            return (deny(self.default), Why::Arguments);
        }
        match self.mode {
            Mode::Learn => (Answer::Allow, Why::Unlisted),
            Mode::Monitor => (deny(self.default), Why::Unlisted),
        }
    }
}

/// `log` lets the syscall run; every other action denies it.
fn deny(a: Action) -> Answer {
    match a {
        Action::Log | Action::Allow => Answer::Allow,
        other => Answer::Deny(other),
    }
}

/// The filter to load for `mode` (the profile with its denials routed to the supervisor) and
/// what the supervisor answers.
pub fn prepare(filter: &ResolvedFilter, mode: Mode) -> (ResolvedFilter, Watch) {
    let mut out = filter.clone();
    let mut explicit = BTreeMap::new();
    let mut listed = BTreeSet::new();
    for rule in &mut out.rules {
        listed.insert(rule.name.clone());
        // An ENOSYS rule is the profile's intended answer to a libc probe (clone3, statx...),
        // which the caller then falls back from: not a denial to report, and nothing to learn.
        let fallback = rule.action == Action::Errno(ENOSYS);
        if rule.action != Action::Allow && rule.args.is_empty() && !fallback {
            explicit.entry(rule.name.clone()).or_insert(rule.action);
            rule.action = Action::Notify;
        }
    }
    // A profile that allows by default denies only through its rules. Otherwise the default
    // notifies, and rules that would notify too are left out (libseccomp refuses a rule whose
    // action is the default's).
    if filter.default_action != Action::Allow {
        out.default_action = Action::Notify;
        out.rules.retain(|r| r.action != Action::Notify);
    }
    let watch = Watch {
        mode,
        default: filter.default_action,
        explicit,
        listed,
    };
    (out, watch)
}

impl Watch {
    /// For a container whose runtime routes to the agent exactly the syscalls its profile does
    /// not list (`route_to_agent`): every notification is an unlisted syscall.
    pub fn for_agent(mode: Mode, default: Action) -> Watch {
        Watch {
            mode,
            default,
            explicit: BTreeMap::new(),
            listed: BTreeSet::new(),
        }
    }
}

/// Syscalls no runtime lets a profile route to a listener: runc refuses SCMP_ACT_NOTIFY for
/// `write` (measured with runc 1.1.5), so they keep the profile's default action.
pub const NEVER_ROUTED: [&str; 1] = ["write"];

/// For `oci apply --monitor/--learn --agent`: the profile with an explicit notify rule for every
/// syscall of `names` (each listed ABI's table, as the caller's libseccomp knows it) that it
/// does not list. runc refuses a notify default action, so the complement is spelled out; every
/// rule of the profile keeps its action, and so does its default for listed syscalls whose
/// arguments no rule allows. Returns the filter and the routed names.
pub fn route_to_agent(
    filter: &ResolvedFilter,
    names: &BTreeSet<String>,
) -> (ResolvedFilter, usize) {
    let listed: BTreeSet<&str> = filter.rules.iter().map(|r| r.name.as_str()).collect();
    let mut out = filter.clone();
    if filter.default_action == Action::Allow {
        return (out, 0);
    }
    let mut routed = 0;
    for n in names {
        if !listed.contains(n.as_str()) && !NEVER_ROUTED.contains(&n.as_str()) {
            out.rules.push(super::seccomp::ResolvedRule {
                name: n.clone(),
                action: Action::Notify,
                args: Vec::new(),
                location: "syscage: routed to the agent".into(),
            });
            routed += 1;
        }
    }
    (out, routed)
}

/// What a container's `listenerMetadata` tells the agent: the mode and the profile's default
/// action, e.g. `syscage mode=learn default=errno:1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Metadata {
    pub mode: Mode,
    pub default: Action,
}

impl Metadata {
    pub fn encode(&self) -> String {
        let d = match self.default {
            Action::KillProcess => "kill-process".to_string(),
            Action::KillThread => "kill-thread".into(),
            Action::Trap => "trap".into(),
            Action::Errno(e) => format!("errno:{e}"),
            Action::Trace(v) => format!("trace:{v}"),
            Action::Log => "log".into(),
            Action::Allow => "allow".into(),
            Action::Notify => "notify".into(),
        };
        format!("syscage mode={} default={d}", self.mode.name())
    }

    /// Parses `encode`'s output; an error names what is wrong.
    pub fn parse(text: &str) -> Result<Metadata, String> {
        let mut words = text.split_whitespace();
        if words.next() != Some("syscage") {
            return Err(format!(
                "listenerMetadata {text:?} is not syscage's (expected \"syscage mode=... default=...\")"
            ));
        }
        let (mut mode, mut default) = (None, None);
        for w in words {
            match w.split_once('=') {
                Some(("mode", "monitor")) => mode = Some(Mode::Monitor),
                Some(("mode", "learn")) => mode = Some(Mode::Learn),
                Some(("default", d)) => {
                    let num = |s: &str| {
                        s.parse::<u16>()
                            .map_err(|_| format!("listenerMetadata: bad number in {w:?}"))
                    };
                    default = Some(match d.split_once(':') {
                        Some(("errno", e)) => Action::Errno(num(e)?),
                        Some(("trace", v)) => Action::Trace(num(v)?),
                        _ => match d {
                            "kill-process" => Action::KillProcess,
                            "kill-thread" => Action::KillThread,
                            "trap" => Action::Trap,
                            "log" => Action::Log,
                            "allow" => Action::Allow,
                            _ => return Err(format!("listenerMetadata: unknown action in {w:?}")),
                        },
                    });
                }
                _ => return Err(format!("listenerMetadata: unknown word {w:?}")),
            }
        }
        Ok(Metadata {
            mode: mode.ok_or("listenerMetadata: no mode=")?,
            default: default.ok_or("listenerMetadata: no default=")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::seccomp::{ArgCmp, ResolvedRule};
    use oci_spec::runtime::{Arch, LinuxSeccompOperator};

    fn rule(name: &str, action: Action, args: Vec<ArgCmp>) -> ResolvedRule {
        ResolvedRule {
            name: name.into(),
            action,
            args,
            location: String::new(),
        }
    }

    fn profile() -> ResolvedFilter {
        let af_unix = ArgCmp {
            index: 0,
            op: LinuxSeccompOperator::ScmpCmpEq,
            value: 1,
            value_two: 0,
        };
        ResolvedFilter {
            default_action: Action::Errno(1),
            arches: vec![Arch::ScmpArchX86_64],
            flags: vec![],
            rules: vec![
                rule("read", Action::Allow, vec![]),
                rule("socket", Action::Allow, vec![af_unix]),
                rule("clone3", Action::Errno(38), vec![]),
                rule("ptrace", Action::KillProcess, vec![af_unix]),
            ],
        }
    }

    #[test]
    fn denials_are_routed_and_answered_as_the_profile_would() {
        let (f, w) = prepare(&profile(), Mode::Monitor);
        assert_eq!(f.default_action, Action::Notify);
        let action = |n: &str| f.rules.iter().find(|r| r.name == n).map(|r| r.action);
        assert_eq!(action("read"), Some(Action::Allow));
        assert_eq!(action("socket"), Some(Action::Allow));
        // An ENOSYS fallback stays in the kernel: the profile's intended answer, not reported.
        assert_eq!(action("clone3"), Some(Action::Errno(38)));
        // A deny rule with arguments stays in the kernel, as written.
        assert_eq!(action("ptrace"), Some(Action::KillProcess));
        assert_eq!(
            w.decide("uname"),
            (Answer::Deny(Action::Errno(1)), Why::Unlisted)
        );
        assert_eq!(
            w.decide("socket"),
            (Answer::Deny(Action::Errno(1)), Why::Arguments)
        );
    }

    #[test]
    fn learning_allows_only_what_the_profile_does_not_list() {
        let (_, w) = prepare(&profile(), Mode::Learn);
        assert_eq!(w.decide("uname"), (Answer::Allow, Why::Unlisted));
        // Learning never widens an argument rule or overrides an explicit denial.
        assert_eq!(
            w.decide("socket"),
            (Answer::Deny(Action::Errno(1)), Why::Arguments)
        );
        assert_eq!(Answer::Allow.describe(Mode::Learn), "allowed (learn)");
    }

    #[test]
    fn the_agent_gets_exactly_the_unlisted_syscalls_but_write() {
        let names: BTreeSet<String> = ["read", "write", "socket", "uname", "clone3", "ptrace"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let (f, n) = route_to_agent(&profile(), &names);
        let routed: Vec<&str> = f
            .rules
            .iter()
            .filter(|r| r.action == Action::Notify)
            .map(|r| r.name.as_str())
            .collect();
        assert_eq!(routed, ["uname"]);
        assert_eq!(n, 1);
        assert_eq!(
            f.default_action,
            Action::Errno(1),
            "runc refuses a notify default"
        );
        let w = Watch::for_agent(Mode::Monitor, Action::Errno(1));
        assert_eq!(
            w.decide("uname"),
            (Answer::Deny(Action::Errno(1)), Why::Unlisted)
        );
    }

    #[test]
    fn metadata_round_trips_and_bad_metadata_is_named() {
        for default in [
            Action::Errno(1),
            Action::Errno(38),
            Action::KillProcess,
            Action::Trap,
            Action::Log,
        ] {
            for mode in [Mode::Monitor, Mode::Learn] {
                let m = Metadata { mode, default };
                assert_eq!(Metadata::parse(&m.encode()), Ok(m));
            }
        }
        for bad in [
            "",
            "other mode=learn",
            "syscage mode=teach default=errno:1",
            "syscage mode=learn",
            "syscage mode=learn default=errno:x",
            "syscage mode=learn default=errno:99999",
            "syscage mode=learn default=nuke",
        ] {
            assert!(Metadata::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn an_allow_by_default_profile_routes_only_its_rules() {
        let mut p = profile();
        p.default_action = Action::Allow;
        let mut kexec = p.rules[0].clone();
        kexec.name = "kexec_load".into();
        kexec.action = Action::Errno(1);
        kexec.args.clear();
        p.rules.push(kexec);
        let (f, w) = prepare(&p, Mode::Monitor);
        assert_eq!(f.default_action, Action::Allow);
        let action = |n: &str| f.rules.iter().find(|r| r.name == n).map(|r| r.action);
        assert_eq!(action("kexec_load"), Some(Action::Notify));
        assert_eq!(action("clone3"), Some(Action::Errno(38)));
        assert_eq!(
            w.decide("kexec_load"),
            (Answer::Deny(Action::Errno(1)), Why::Rule)
        );
    }
}
