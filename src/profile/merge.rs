//! Union of seccomp profiles (several test runs, several replicas). Pure.
//!
//! A syscall is allowed by the union when either profile allows it: rules are unioned as rules,
//! so an argument-restricted ALLOW stays restricted (a union of conditions, never a silent
//! widening to "any argument"), an unconditional ALLOW subsumes restricted ones, and a denial
//! (such as ENOSYS for a libc fallback) survives only for names neither profile allows.
//! Commutative and idempotent: rules are deduplicated and sorted, comments united.

use std::collections::{BTreeMap, BTreeSet};

use oci_spec::runtime::{Arch, LinuxSeccompAction};

use super::seccomp::{SeccompProfile, SyscallRule};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MergeError {
    #[error(
        "{a} and {b} have different default actions ({da:?}/{ea:?} vs {db:?}/{eb:?}): a union of an allowlist and a denylist is not a profile"
    )]
    DefaultDiffers {
        a: String,
        b: String,
        da: LinuxSeccompAction,
        ea: Option<u32>,
        db: LinuxSeccompAction,
        eb: Option<u32>,
    },
    #[error(
        "{0}: conditional rules (includes/excludes, archMap) must be resolved first; merge the OCI form (`syscage` profiles are)"
    )]
    Conditional(String),
}

fn lets_through(a: LinuxSeccompAction) -> bool {
    matches!(
        a,
        LinuxSeccompAction::ScmpActAllow | LinuxSeccompAction::ScmpActLog
    )
}

/// One rule per name, the unit the union works on.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    action: String,
    errno: Option<u32>,
    args: Vec<(u32, u64, u64, String)>,
}

fn key(r: &SyscallRule) -> Key {
    Key {
        action: format!("{:?}", r.action),
        errno: r.errno_ret,
        args: r
            .args
            .iter()
            .flatten()
            .map(|a| (a.index, a.value, a.value_two, format!("{:?}", a.op)))
            .collect(),
    }
}

/// Merges profiles named by `names` (for messages).
pub fn merge(profiles: &[(String, SeccompProfile)]) -> Result<SeccompProfile, MergeError> {
    let Some((first_name, first)) = profiles.first() else {
        return Ok(SeccompProfile {
            comment: None,
            default_action: LinuxSeccompAction::ScmpActErrno,
            default_errno_ret: Some(libc::EPERM as u32),
            architectures: None,
            arch_map: None,
            flags: None,
            listener_path: None,
            listener_metadata: None,
            syscalls: None,
        });
    };
    // name → key → (rule template, comments)
    let mut by_name: BTreeMap<String, BTreeMap<Key, (SyscallRule, BTreeSet<String>)>> =
        BTreeMap::new();
    let mut arches: Vec<Arch> = Vec::new();
    for (name, p) in profiles {
        // ERRNO without errnoRet is EPERM.
        let default = |p: &SeccompProfile| {
            let errno = (p.default_action == LinuxSeccompAction::ScmpActErrno)
                .then(|| p.default_errno_ret.unwrap_or(libc::EPERM as u32));
            (p.default_action, errno)
        };
        if default(p) != default(first) {
            return Err(MergeError::DefaultDiffers {
                a: first_name.clone(),
                b: name.clone(),
                da: first.default_action,
                ea: first.default_errno_ret,
                db: p.default_action,
                eb: p.default_errno_ret,
            });
        }
        if p.arch_map.as_ref().is_some_and(|m| !m.is_empty()) {
            return Err(MergeError::Conditional(name.clone()));
        }
        for a in p.architectures.iter().flatten() {
            if !arches.contains(a) {
                arches.push(*a);
            }
        }
        for r in p.syscalls.iter().flatten() {
            if r.includes.is_some() || r.excludes.is_some() {
                return Err(MergeError::Conditional(name.clone()));
            }
            for n in r.names.iter().flatten().chain(r.name.iter()) {
                let entry = by_name
                    .entry(n.clone())
                    .or_default()
                    .entry(key(r))
                    .or_insert_with(|| {
                        let mut t = r.clone();
                        t.names = Some(vec![n.clone()]);
                        t.name = None;
                        t.comment = None;
                        (t, BTreeSet::new())
                    });
                if let Some(c) = &r.comment
                    && !c.is_empty()
                {
                    entry.1.insert(c.clone());
                }
            }
        }
    }
    let mut rules = Vec::new();
    for (_, variants) in by_name {
        let unconditional_allow = variants
            .values()
            .any(|(r, _)| lets_through(r.action) && r.args.as_ref().is_none_or(Vec::is_empty));
        let any_allow = variants.values().any(|(r, _)| lets_through(r.action));
        for (_, (mut r, comments)) in variants {
            let restricted = r.args.as_ref().is_some_and(|a| !a.is_empty());
            // Once allowed with any arguments, restricted allows and all denials are moot; a
            // denial of a name some profile allows would take back what that profile allowed.
            if unconditional_allow && (restricted || !lets_through(r.action)) {
                continue;
            }
            if any_allow && !lets_through(r.action) && !restricted {
                continue;
            }
            if !comments.is_empty() {
                r.comment = Some(comments.into_iter().collect::<Vec<_>>().join("; "));
            }
            rules.push(r);
        }
    }
    // Allows stay one rule per syscall (each with its own comment, as `record` writes them);
    // denials that differ only in their names are grouped back into one rule.
    let mut grouped: Vec<SyscallRule> = Vec::new();
    for r in rules {
        if let Some(g) = grouped
            .iter_mut()
            .find(|g| !lets_through(r.action) && g.comment == r.comment && key(g) == key(&r))
        {
            g.names
                .get_or_insert_with(Vec::new)
                .extend(r.names.unwrap_or_default());
            continue;
        }
        grouped.push(r);
    }
    grouped.sort_by(|a, b| {
        let la = lets_through(a.action);
        let lb = lets_through(b.action);
        lb.cmp(&la)
            .then(a.names.cmp(&b.names))
            .then(key(a).cmp(&key(b)))
    });
    let mut flags: Vec<_> = Vec::new();
    for f in profiles.iter().flat_map(|(_, p)| p.flags.iter().flatten()) {
        if !flags.contains(f) {
            flags.push(*f);
        }
    }
    flags.sort_by_key(|f| format!("{f:?}"));
    // What an input says it cannot hold (an attach's missing start-up) stays said, by input.
    let comments: BTreeSet<String> = profiles
        .iter()
        .filter_map(|(name, p)| p.comment.as_ref().map(|c| format!("{name}: {c}")))
        .collect();
    Ok(SeccompProfile {
        comment: (!comments.is_empty())
            .then(|| comments.into_iter().collect::<Vec<_>>().join("; ")),
        default_action: first.default_action,
        default_errno_ret: first.default_errno_ret,
        architectures: (!arches.is_empty()).then(|| order_arches(arches)),
        arch_map: None,
        flags: (!flags.is_empty()).then_some(flags),
        listener_path: None,
        listener_metadata: None,
        syscalls: Some(grouped),
    })
}

/// Native-first ordering, as the generator writes them.
fn order_arches(mut arches: Vec<Arch>) -> Vec<Arch> {
    arches.sort_by_key(|a| (*a != Arch::ScmpArchX86_64, format!("{a:?}")));
    arches
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::seccomp::parse;
    use std::path::Path;

    fn p(text: &str) -> (String, SeccompProfile) {
        (
            "p".into(),
            parse(text.as_bytes(), Path::new("p.json")).unwrap().0,
        )
    }

    fn names(p: &SeccompProfile, action: LinuxSeccompAction) -> Vec<String> {
        p.syscalls
            .iter()
            .flatten()
            .filter(|r| r.action == action)
            .flat_map(|r| r.names.clone().unwrap())
            .collect()
    }

    const A: &str = r#"{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86_64"],"syscalls":[
        {"names":["read"],"action":"SCMP_ACT_ALLOW","comment":"a: 3 calls"},
        {"names":["socket"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":1,"op":"SCMP_CMP_EQ"}]},
        {"names":["clone3","statx"],"action":"SCMP_ACT_ERRNO","errnoRet":38}]}"#;
    const B: &str = r#"{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86"],"syscalls":[
        {"names":["read"],"action":"SCMP_ACT_ALLOW","comment":"b: 1 call"},
        {"names":["socket"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":2,"op":"SCMP_CMP_EQ"}]},
        {"names":["statx"],"action":"SCMP_ACT_ALLOW"},
        {"names":["clone3"],"action":"SCMP_ACT_ERRNO","errnoRet":38}]}"#;

    #[test]
    fn union_keeps_argument_rules_and_drops_moot_denials() {
        let m = merge(&[p(A), p(B)]).unwrap();
        let socket: Vec<_> = m
            .syscalls
            .iter()
            .flatten()
            .filter(|r| r.names.as_ref().unwrap().contains(&"socket".into()))
            .collect();
        assert_eq!(socket.len(), 2, "AF_UNIX or AF_INET, never any family");
        assert!(
            socket
                .iter()
                .all(|r| r.args.as_ref().is_some_and(|a| a.len() == 1))
        );
        assert!(names(&m, LinuxSeccompAction::ScmpActAllow).contains(&"statx".to_string()));
        assert_eq!(
            names(&m, LinuxSeccompAction::ScmpActErrno),
            ["clone3"],
            "statx's ENOSYS is moot once allowed"
        );
        let read = m
            .syscalls
            .iter()
            .flatten()
            .find(|r| r.names.as_ref().unwrap() == &["read"])
            .unwrap();
        assert_eq!(read.comment.as_deref(), Some("a: 3 calls; b: 1 call"));
        assert_eq!(m.comment, None);
        // A profile's own comment (what it cannot hold) survives, named by its input.
        let mut pa = parse(A.as_bytes(), Path::new("a")).unwrap().0;
        pa.comment = Some("attached: the start-up is not in it".into());
        let pb = parse(B.as_bytes(), Path::new("b")).unwrap().0;
        let m2 = merge(&[("b.json".into(), pb), ("a.json".into(), pa)]).unwrap();
        assert_eq!(
            m2.comment.as_deref(),
            Some("a.json: attached: the start-up is not in it")
        );
        assert_eq!(m.architectures.as_ref().unwrap().len(), 2);
    }

    #[test]
    fn commutative_and_idempotent() {
        let ab = merge(&[p(A), p(B)]).unwrap();
        let ba = merge(&[p(B), p(A)]).unwrap();
        assert_eq!(ab, ba);
        assert_eq!(
            merge(&[("m".into(), ab.clone()), ("m".into(), ab.clone())]).unwrap(),
            ab
        );
        assert_eq!(merge(&[p(A)]).unwrap(), merge(&[p(A), p(A)]).unwrap());
    }

    #[test]
    fn refuses_mixed_defaults_and_conditional_rules() {
        let allow = p(r#"{"defaultAction":"SCMP_ACT_ALLOW"}"#);
        assert!(matches!(
            merge(&[p(A), allow]),
            Err(MergeError::DefaultDiffers { .. })
        ));
        let docker = (
            "d".into(),
            parse(
                include_bytes!("../../profiles/docker-default.json"),
                Path::new("d"),
            )
            .unwrap()
            .0,
        );
        let r = merge(&[p(A), docker]);
        assert!(matches!(r, Err(MergeError::Conditional(_))), "{r:?}");
    }
}
