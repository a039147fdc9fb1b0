//! `syscage check`, `merge` and `report` on real profiles and recordings.

mod common;

use common::*;

fn rec(dir: &TempDir, tag: &str, args: &[&str]) -> (std::path::PathBuf, std::path::PathBuf) {
    let p = dir.join(&format!("{tag}.json"));
    let r = dir.join(&format!("{tag}.rec"));
    let mut c = clean_command(syscage());
    c.args(["record", "-q", "-o"])
        .arg(&p)
        .arg("--recording")
        .arg(&r)
        .arg("--")
        .args(args);
    run_command(c).assert_code(0);
    (p, r)
}

#[test]
fn check_flags_dangerous_profiles_and_gates_ci() {
    let docker = fixture("docker-default-seccomp.json");
    let d = docker.to_str().unwrap();
    let out = syscage_run(&["check", d]);
    out.assert_code(0);
    assert!(
        out.stdout.contains("HIGH     ptrace is allowed"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("against docker-default: allows 369 syscalls (369 there); 0 beyond it"),
        "{}",
        out.stdout
    );
    syscage_run(&["check", d, "--fail-on", "high"]).assert_code(1);
    syscage_run(&["check", d, "--fail-on", "critical"]).assert_code(0);
    syscage_run(&["check", d, "--fail-on", "severe"]).assert_code(125);

    let dir = TempDir::new("check");
    let bad = dir.join("bad.json");
    std::fs::write(
        &bad,
        r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[
        {"names":["read","write","keyctl","clone","init_module"],"action":"SCMP_ACT_ALLOW"}]}"#,
    )
    .unwrap();
    let out = syscage_run(&[
        "check",
        bad.to_str().unwrap(),
        "--format",
        "json",
        "--fail-on",
        "high",
    ]);
    out.assert_code(1);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).expect("json output");
    let findings = v["findings"].as_array().unwrap();
    let has = |code: &str, sys: &str| {
        findings
            .iter()
            .any(|f| f["code"] == code && f["syscall"] == sys)
    };
    assert!(has("dangerous-syscall", "init_module") && findings[0]["severity"] == "critical");
    assert!(has("dangerous-syscall", "keyctl"));
    assert!(has("unrestricted-args", "clone"));
    assert!(has("missing-required", "exit_group") && has("missing-required", "execve"));
    assert!(has("eperm-fallback", "clone3"));
    let beyond = v["comparison"]["beyond"].as_array().unwrap();
    assert!(beyond.iter().any(|n| n == "init_module"), "{beyond:?}");

    // A recorded profile has nothing to report and is far below Docker's default.
    let (profile, _) = rec(&dir, "ls", &["/usr/bin/ls", "/"]);
    let out = syscage_run(&["check", profile.to_str().unwrap(), "--fail-on", "low"]);
    out.assert_code(0);
    assert!(out.stdout.contains(": 0 findings"), "{}", out.stdout);
    assert!(out.stdout.contains("0 beyond it"), "{}", out.stdout);
    // --against another profile.
    let out = syscage_run(&["check", d, "--against", profile.to_str().unwrap()]);
    assert!(
        out.assert_code(0).stdout.contains("below it"),
        "{}",
        out.stdout
    );
    // Bad input is named.
    std::fs::write(&bad, "{\n\"defaultAction\": }").unwrap();
    let out = syscage_run(&["check", bad.to_str().unwrap()]);
    out.assert_code(125);
    assert!(out.stderr.contains("bad.json:2:"), "{}", out.stderr);
}

#[test]
fn merge_unites_runs_commutatively_and_the_result_runs_both() {
    let dir = TempDir::new("merge");
    let ls = ["/usr/bin/ls", "/usr/share/common-licenses"];
    let py = [
        "/usr/bin/python3",
        "-c",
        "import socket; socket.socket(); print('ok')",
    ];
    let (pa, ra) = rec(&dir, "a", &ls);
    let (pb, rb) = rec(&dir, "b", &py);
    let m1 = dir.join("m1.json");
    let m2 = dir.join("m2.json");
    let mr = dir.join("m.rec");
    syscage_run(&[
        "merge",
        ra.to_str().unwrap(),
        rb.to_str().unwrap(),
        "-o",
        m1.to_str().unwrap(),
        "--recording",
        mr.to_str().unwrap(),
    ])
    .assert_code(0);
    syscage_run(&[
        "merge",
        rb.to_str().unwrap(),
        ra.to_str().unwrap(),
        "-o",
        m2.to_str().unwrap(),
    ])
    .assert_code(0);
    assert_eq!(
        std::fs::read_to_string(&m1).unwrap(),
        std::fs::read_to_string(&m2).unwrap(),
        "commutative, byte for byte"
    );
    let (a, b, m) = (allowed_names(&pa), allowed_names(&pb), allowed_names(&m1));
    assert_eq!(m, a.union(&b).cloned().collect(), "the union of both runs");
    assert!(!a.contains("socket") && m.contains("socket"));
    // Profiles merge the same way, and merging a profile with itself changes nothing.
    let m3 = dir.join("m3.json");
    syscage_run(&[
        "merge",
        pa.to_str().unwrap(),
        pb.to_str().unwrap(),
        "-o",
        m3.to_str().unwrap(),
    ])
    .assert_code(0);
    assert_eq!(allowed_names(&m3), m);
    let same = dir.join("same.json");
    syscage_run(&[
        "merge",
        pa.to_str().unwrap(),
        pa.to_str().unwrap(),
        "-o",
        same.to_str().unwrap(),
    ])
    .assert_code(0);
    assert_eq!(
        std::fs::read_to_string(&same).unwrap(),
        std::fs::read_to_string(&pa).unwrap(),
        "idempotent"
    );
    // The merged profile runs both workloads.
    for args in [&ls[..], &py[..]] {
        let mut c = clean_command(syscage());
        c.args(["run", "--seccomp"]).arg(&m1).arg("--").args(args);
        run_command(c).assert_code(0);
    }
    // Mixing an allowlist with an allow-by-default profile is refused, naming both.
    let allow = dir.join("allow.json");
    std::fs::write(&allow, r#"{"defaultAction":"SCMP_ACT_ALLOW"}"#).unwrap();
    let out = syscage_run(&[
        "merge",
        pa.to_str().unwrap(),
        allow.to_str().unwrap(),
        "-o",
        m2.to_str().unwrap(),
    ]);
    out.assert_code(125);
    assert!(
        out.stderr.contains("allow.json") && out.stderr.contains("default actions"),
        "{}",
        out.stderr
    );
    // The merged recording reports both commands.
    let out = syscage_run(&["report", mr.to_str().unwrap()]);
    out.assert_code(0);
    assert!(
        out.stdout.contains("/usr/bin/ls") && out.stdout.contains("/usr/bin/python3"),
        "{}",
        out.stdout
    );
}

#[test]
fn report_shows_table_once_seen_and_siblings() {
    let dir = TempDir::new("report");
    let (_, r) = rec(&dir, "cat", &["/usr/bin/cat", "/etc/hostname"]);
    let out = syscage_run(&["report", r.to_str().unwrap()]);
    out.assert_code(0);
    let first = out.stdout.lines().next().unwrap();
    assert!(
        first.starts_with("syscall") && first.contains("first executable"),
        "{first}"
    );
    assert!(out.stdout.contains("openat") && out.stdout.contains("/usr/bin/cat"));
    assert!(out.stdout.contains("seen only once"));
    assert!(
        out.stdout.contains("openat → also open, openat2, creat"),
        "{}",
        out.stdout
    );
    // Not a recording: named, 125.
    let out = syscage_run(&[
        "report",
        fixture("docker-default-seccomp.json").to_str().unwrap(),
    ]);
    out.assert_code(125);
    assert!(
        out.stderr.contains("docker-default-seccomp.json"),
        "{}",
        out.stderr
    );
}
