//! Where a step is impossible, syscage applies the others, says what it could not apply, and
//! `--strict` refuses instead. A real case: syscage inside syscage, whose Docker-equivalent
//! profile forbids creating namespaces, exactly like an entrypoint under `docker run`.

mod common;

use common::*;

fn nested(inner: &[&str]) -> Out {
    let s = syscage_inside();
    let mut args = vec!["run", "--", s.to_str().unwrap(), "run"];
    args.extend_from_slice(inner);
    syscage_run(&args)
}

#[test]
fn without_namespaces_the_other_steps_still_apply_and_are_reported() {
    let out = nested(&["--", "cat", "/proc/self/status"]);
    out.assert_code(0);
    assert!(
        out.stderr.contains("not applied: user namespace(s)"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("not applied: mount, pid, ipc, uts namespace(s)"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("not applied: read-only root"),
        "{}",
        out.stderr
    );
    for set in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"] {
        assert_eq!(status_field(&out.stdout, set), "0000000000000000", "{set}");
    }
    assert_eq!(status_field(&out.stdout, "NoNewPrivs"), "1");
    // The inner filter is stacked on the outer one: both apply.
    assert_eq!(status_field(&out.stdout, "Seccomp_filters"), "2");
}

#[test]
fn the_inner_filter_is_enforced_on_top() {
    let dir = TempDir::new("nest");
    let profile = dir.join("deny-getppid.json");
    std::fs::write(
        &profile,
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["getppid"],"action":"SCMP_ACT_ERRNO","errnoRet":13}]}"#,
    )
    .unwrap();
    let p = probe();
    let out = nested(&[
        "--seccomp",
        profile.to_str().unwrap(),
        "--",
        p.to_str().unwrap(),
        "syscall",
        "getppid",
        "keyctl",
    ]);
    out.assert_code(0);
    assert_eq!(out.line("getppid"), "getppid: EACCES");
    assert_eq!(
        out.line("keyctl"),
        "keyctl: EPERM",
        "the outer default still applies"
    );
}

#[test]
fn strict_refuses_to_run_when_a_step_is_missing() {
    let out = nested(&["--strict", "--", "echo", "must not run"]);
    out.assert_code(125);
    assert!(!out.stdout.contains("must not run"));
    assert!(
        out.stderr
            .contains("--strict: could not apply user namespace"),
        "{}",
        out.stderr
    );
}

#[test]
fn explicit_isolation_requests_are_never_dropped() {
    let out = nested(&["--net", "none", "--", "echo", "must not run"]);
    out.assert_code(125);
    assert!(!out.stdout.contains("must not run"));
    assert!(out.stderr.contains("--net none"), "{}", out.stderr);
}

#[test]
fn strict_runs_when_everything_applies() {
    syscage_run(&["run", "--strict", "--", "true"]).assert_code(0);
}

#[test]
fn record_inside_a_sandbox_falls_back_to_ptrace_without_a_pid_namespace() {
    let dir = TempDir::new("nestrec");
    nix::unistd::chown(dir.path(), Some(1_000_000_000.into()), None).unwrap();
    let profile = dir.join("p.json");
    let s = syscage_inside();
    let run = |backend: &str| {
        syscage_run(&[
            "run",
            "--rw",
            dir.str(),
            "--",
            s.to_str().unwrap(),
            "record",
            "--backend",
            backend,
            "-o",
            profile.to_str().unwrap(),
            "--",
            "/usr/bin/dash",
            "-c",
            "echo recorded-inside",
        ])
    };
    let out = run("ptrace");
    out.assert_code(0);
    assert!(out.stdout.contains("recorded-inside"));
    assert!(
        out.stderr.contains("no pid namespace") && out.stderr.contains("EXITKILL"),
        "{}",
        out.stderr
    );
    assert!(allowed_names(&profile).contains("write"));
    // notify has no way to tie the workload's life to syscage's there: refused, with the way out.
    let out = run("notify");
    out.assert_code(125);
    assert!(out.stderr.contains("--backend ptrace"), "{}", out.stderr);
    assert!(!out.stdout.contains("recorded-inside"));
}
