//! Monitor and learn modes (`run --monitor`, `run --learn`, `syscage agent`): which syscalls of a
//! profile reach the supervisor, and what it answers. Pure.
//!
//! Everything the profile allows stays in the kernel, untouched. What it leaves to its default
//! action is routed to the supervisor (seccomp user notification) instead, and so are its
//! unconditional deny rules (e.g. the ENOSYS fallbacks of generated profiles). The supervisor
//! then answers as the profile would have (monitor), or lets syscalls the profile does not list
//! at all through (learn). A listed syscall whose arguments no rule allowed (an argument rule,
//! e.g. a socket family) is denied in both modes: learning never widens an argument rule.
//! Deny rules with argument conditions act in the kernel, as written, without an event.

use std::collections::{BTreeMap, BTreeSet};

use super::seccomp::{Action, ResolvedFilter};

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
}

impl Why {
    pub fn name(self) -> &'static str {
        match self {
            Why::Unlisted => "unlisted",
            Why::Arguments => "arguments",
            Why::Rule => "rule",
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
        if rule.action != Action::Allow && rule.args.is_empty() {
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
        // Notified by the default: no rule of its own.
        assert_eq!(action("clone3"), None);
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
        assert_eq!(
            w.decide("clone3"),
            (Answer::Deny(Action::Errno(38)), Why::Rule)
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
        assert_eq!(
            w.decide("clone3"),
            (Answer::Deny(Action::Errno(38)), Why::Rule)
        );
        assert_eq!(Answer::Allow.describe(Mode::Learn), "allowed (learn)");
    }

    #[test]
    fn an_allow_by_default_profile_routes_only_its_rules() {
        let mut p = profile();
        p.default_action = Action::Allow;
        let (f, w) = prepare(&p, Mode::Monitor);
        assert_eq!(f.default_action, Action::Allow);
        let clone3 = f.rules.iter().find(|r| r.name == "clone3").unwrap();
        assert_eq!(clone3.action, Action::Notify);
        assert_eq!(
            w.decide("clone3"),
            (Answer::Deny(Action::Errno(38)), Why::Rule)
        );
    }
}
