use super::*;
use crate::profile::seccomp::parse;
use std::path::Path;

fn profile(json: &str) -> SeccompProfile {
    parse(json.as_bytes(), Path::new("p.json")).unwrap().0
}

/// An allowed name with its (argument index, value) conditions.
type Allowed = (String, Option<Vec<(u32, u64)>>);

fn allowed(p: &SeccompProfile) -> Vec<Allowed> {
    let mut out: Vec<_> = p
        .syscalls
        .iter()
        .flatten()
        .filter(|r| r.action == LinuxSeccompAction::ScmpActAllow)
        .flat_map(|r| {
            let args = r
                .args
                .as_ref()
                .map(|a| a.iter().map(|c| (c.index, c.value)).collect());
            r.names
                .iter()
                .flatten()
                .map(move |n| (n.clone(), args.clone()))
        })
        .collect();
    out.sort();
    out
}

fn names(p: &SeccompProfile) -> Vec<String> {
    let mut v: Vec<String> = allowed(p).into_iter().map(|(n, _)| n).collect();
    v.dedup();
    v
}

const X86: &str = r#"{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":1,
  "architectures":["SCMP_ARCH_X86_64"],"syscalls":[
  {"names":["read","arch_prctl","stat","fork","execve"],"action":"SCMP_ACT_ALLOW"},
  {"names":["open"],"action":"SCMP_ACT_ALLOW","args":[{"index":1,"value":0,"op":"SCMP_CMP_EQ"}]},
  {"names":["clone"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":2114060288,"valueTwo":0,"op":"SCMP_CMP_MASKED_EQ"}]},
  {"names":["clone3"],"action":"SCMP_ACT_ERRNO","errnoRet":38}]}"#;

#[test]
fn the_table_covers_every_x86_64_call_aarch64_lacks() {
    let t = table();
    let x86_only: BTreeSet<&str> = Abi::X86_64
        .syscall_names()
        .filter(|n| Abi::Aarch64.syscall_nr(n).is_none())
        .collect();
    for n in &x86_only {
        let mapped = t.x86_64_to_aarch64.contains_key(*n);
        let none = t.no_equivalent.contains_key(*n);
        assert!(
            mapped ^ none,
            "{n}: in exactly one of x86_64_to_aarch64 and no_equivalent"
        );
    }
    for (n, e) in &t.x86_64_to_aarch64 {
        assert!(
            x86_only.contains(n.as_str()),
            "{n} is not an x86_64-only call"
        );
        assert!(!e.why.is_empty() && !e.aarch64.is_empty(), "{n}");
        let keys: Vec<&String> = e.args.keys().collect();
        let mut listed: Vec<&String> = e.aarch64.iter().collect();
        listed.sort();
        assert_eq!(keys, listed, "{n}: one argument map per aarch64 call");
        for target in &e.aarch64 {
            assert!(Abi::Aarch64.syscall_nr(target).is_some(), "{n} → {target}");
            // libseccomp, which the runtimes compile with, knows it for aarch64.
            let s =
                libseccomp::ScmpSyscall::from_name_by_arch(target, libseccomp::ScmpArch::Aarch64)
                    .unwrap();
            assert!(s.as_raw_syscall() >= 0, "{target}");
        }
        for c in e.only.values() {
            assert!(only_condition(c).is_some(), "{n}: unknown condition {c}");
        }
    }
    for n in t.no_equivalent.keys() {
        assert!(x86_only.contains(n.as_str()), "{n}");
    }
    for n in t
        .x86_64_start
        .keys()
        .chain(t.same_name_args.keys())
        .chain(&t.vdso.x86_64)
    {
        assert!(Abi::X86_64.syscall_nr(n).is_some(), "{n}");
    }
    for n in &t.vdso.aarch64 {
        assert!(Abi::Aarch64.syscall_nr(n).is_some(), "{n}");
    }
}

#[test]
fn x86_64_to_both_adds_the_aarch64_forms_with_their_arguments() {
    let (p, tr) = translate(&profile(X86), &[Abi::X86_64], &[Abi::X86_64, Abi::Aarch64]).unwrap();
    assert_eq!(
        p.architectures,
        Some(vec![Arch::ScmpArchX86_64, Arch::ScmpArchAarch64])
    );
    let a = allowed(&p);
    // open's flags (argument 1) are openat's argument 2.
    assert!(a.contains(&("openat".into(), Some(vec![(2, 0)]))), "{a:?}");
    assert!(a.contains(&("newfstatat".into(), None)));
    // fork becomes clone, only without namespace flags.
    assert!(a.contains(&("clone".into(), Some(vec![(0, CLONE_NS_MASK)]))));
    assert!(!a.iter().any(|(n, args)| n == "clone" && args.is_none()));
    // The x86_64 names stay: the profile serves both.
    assert!(a.contains(&("open".into(), Some(vec![(1, 0)]))));
    assert_eq!(tr.no_equivalent.len(), 1);
    assert_eq!(tr.no_equivalent[0].0, "arch_prctl");
    assert!(tr.dropped.is_empty());
    // aarch64 is new: its vDSO calls may be syscalls there (qemu-user has no vDSO).
    assert!(a.contains(&("clock_gettime".into(), None)));
    // No reverse additions for a profile recorded on x86_64.
    assert!(!names(&p).contains(&"lstat".to_string()));
    // ENOSYS rules are kept as they are.
    assert!(
        p.syscalls
            .as_ref()
            .unwrap()
            .iter()
            .any(|r| r.errno_ret == Some(38))
    );
    assert!(
        tr.lines()[0].contains("open → openat (aarch64)"),
        "{:?}",
        tr.lines()
    );
}

#[test]
fn translating_twice_changes_nothing() {
    let once = translate(&profile(X86), &[Abi::X86_64], &[Abi::X86_64, Abi::Aarch64])
        .unwrap()
        .0;
    let from = listed(&once);
    let (twice, tr) = translate(&once, &from, &[Abi::X86_64, Abi::Aarch64]).unwrap();
    assert_eq!(once, twice);
    assert!(tr.added.is_empty());
}

#[test]
fn to_aarch64_alone_drops_what_aarch64_lacks() {
    let (p, tr) = translate(&profile(X86), &[Abi::X86_64], &[Abi::Aarch64]).unwrap();
    assert_eq!(p.architectures, Some(vec![Arch::ScmpArchAarch64]));
    let n = names(&p);
    assert!(n.contains(&"openat".to_string()) && !n.contains(&"open".to_string()));
    assert_eq!(tr.dropped, ["arch_prctl", "fork", "open", "stat"]);
}

#[test]
fn what_every_profile_gets_is_not_reported_as_dropped() {
    // `time` is a vDSO fallback every generated profile allows; aarch64 has no such syscall.
    let json = r#"{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86_64"],
        "syscalls":[{"names":["read","time","open"],"action":"SCMP_ACT_ALLOW"}]}"#;
    let (p, tr) = translate(&profile(json), &[Abi::X86_64], &[Abi::Aarch64]).unwrap();
    assert!(!names(&p).contains(&"time".to_string()));
    assert_eq!(tr.dropped, ["open"]);
}

#[test]
fn aarch64_to_x86_64_adds_the_x86_64_forms_and_the_start() {
    let arm = r#"{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_AARCH64"],"syscalls":[
      {"names":["openat","newfstatat","pipe2","dup3","execve","ppoll"],"action":"SCMP_ACT_ALLOW"},
      {"names":["clone"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":2114060288,"valueTwo":0,"op":"SCMP_CMP_MASKED_EQ"}]},
      {"names":["unlinkat"],"action":"SCMP_ACT_ALLOW","args":[{"index":2,"value":512,"op":"SCMP_CMP_EQ"}]}]}"#;
    let (p, tr) = translate(&profile(arm), &[Abi::Aarch64], &[Abi::X86_64]).unwrap();
    assert_eq!(p.architectures, Some(vec![Arch::ScmpArchX86_64]));
    let a = allowed(&p);
    for n in [
        "open",
        "creat",
        "stat",
        "lstat",
        "pipe",
        "dup2",
        "poll",
        "pause",
        "fork",
        "vfork",
        "arch_prctl",
    ] {
        assert!(
            a.iter().any(|(m, args)| m == n && args.is_none()),
            "{n}: {a:?}"
        );
    }
    // unlinkat's flags (argument 2) have no place in unlink or rmdir: said, and unconditional.
    assert!(a.contains(&("unlink".into(), None)));
    assert!(
        tr.args_dropped
            .iter()
            .any(|d| d.contains("unlinkat → rmdir")),
        "{tr:?}"
    );
    // fork never needed the namespace mask: no message about dropping it.
    assert!(
        !tr.args_dropped.iter().any(|d| d.contains("→ fork")),
        "{tr:?}"
    );
    // dup2's first aarch64 form is dup3; fcntl alone does not bring it.
    assert!(tr.added.iter().all(|(_, _, from, _, _)| from != "fcntl"));
}

#[test]
fn an_own_rule_is_never_overridden() {
    let p = profile(
        r#"{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86_64"],"syscalls":[
      {"names":["open"],"action":"SCMP_ACT_ALLOW"},
      {"names":["openat"],"action":"SCMP_ACT_ERRNO","errnoRet":13}]}"#,
    );
    let (out, tr) = translate(&p, &[Abi::X86_64], &[Abi::X86_64, Abi::Aarch64]).unwrap();
    // aarch64 is new: its vDSO fallbacks come too, but openat keeps its own EACCES.
    assert_eq!(
        names(&out),
        ["clock_getres", "clock_gettime", "gettimeofday", "open"]
    );
    assert_eq!(tr.kept_own.len(), 1, "{tr:?}");
}

#[test]
fn clone_conditions_on_moved_arguments_are_not_enforced_on_the_wrong_one() {
    let p = profile(
        r#"{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86_64"],"syscalls":[
      {"names":["clone"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":17,"op":"SCMP_CMP_EQ"},{"index":3,"value":0,"op":"SCMP_CMP_EQ"}]}]}"#,
    );
    let (out, tr) = translate(&p, &[Abi::X86_64], &[Abi::X86_64, Abi::Aarch64]).unwrap();
    let clone: Vec<Allowed> = allowed(&out)
        .into_iter()
        .filter(|(n, _)| n == "clone")
        .collect();
    assert_eq!(clone, [("clone".into(), Some(vec![(0, 17)]))]);
    assert!(
        tr.args_dropped
            .iter()
            .any(|d| d.contains("clone: argument 3")),
        "{tr:?}"
    );
}

#[test]
fn conditional_profiles_and_unknown_arches_are_refused() {
    let docker = include_str!("../../../profiles/docker-default.json");
    let p = profile(docker);
    assert!(translate(&p, &[Abi::X86_64], &[Abi::Aarch64]).is_err());
    assert_eq!(
        parse_arches("arm64, amd64").unwrap(),
        [Abi::X86_64, Abi::Aarch64]
    );
    assert!(
        parse_arches("x86_64,riscv64")
            .unwrap_err()
            .contains("riscv64")
    );
    assert!(parse_arches("i386").unwrap_err().contains("not translated"));
}
