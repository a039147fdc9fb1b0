//! `syscage oci apply`: a profile written into a real bundle, enforced by crun and runc.

mod common;

use common::*;

fn keyctl_in(bundle: &Bundle) -> Out {
    bundle.run()
}

#[test]
fn apply_writes_linux_seccomp_and_the_runtimes_enforce_it() {
    for runtime in ["crun", "runc"] {
        // A bundle without any seccomp profile, running the probe.
        let dir = TempDir::new("noprofile");
        let open = dir.join("open.json");
        std::fs::write(&open, r#"{"defaultAction":"SCMP_ACT_ALLOW"}"#).unwrap();
        let args = vec![
            "/bin/probe".to_string(),
            "syscall".into(),
            "keyctl".into(),
            "getppid".into(),
        ];
        let bundle = Bundle::new(runtime, &args, &open, false);
        std::fs::copy(probe(), bundle.dir.join("rootfs/bin/probe")).unwrap();
        // Strip the seccomp object so apply has to insert it.
        bundle.edit_config(|v| {
            v["linux"].as_object_mut().unwrap().remove("seccomp");
        });
        let cfg = bundle.dir.join("config.json");
        let before = std::fs::read_to_string(&cfg).unwrap();
        let control = keyctl_in(&bundle);
        assert_ne!(
            control.assert_code(0).line("keyctl"),
            "keyctl: EPERM",
            "{runtime}: control"
        );

        let docker = fixture("docker-default-seccomp.json");
        syscage_run(&[
            "oci",
            "apply",
            "--bundle",
            bundle.dir.str(),
            "--seccomp",
            docker.to_str().unwrap(),
        ])
        .assert_code(0);
        let after = std::fs::read_to_string(&cfg).unwrap();
        // Every original line is still there, in order: only the seccomp object was added.
        let mut rest = after.lines();
        for line in before.lines() {
            assert!(
                rest.any(|l| l == line),
                "{runtime}: line {line:?} changed or moved"
            );
        }
        let out = keyctl_in(&bundle);
        assert_eq!(
            out.assert_code(0).line("keyctl"),
            "keyctl: EPERM",
            "{runtime}: {}",
            out.stderr
        );
        assert_eq!(out.line("getppid"), "getppid: ok");

        // Applying again replaces the object (idempotent on the rest).
        syscage_run(&[
            "oci",
            "apply",
            "--bundle",
            bundle.dir.str(),
            "--seccomp",
            docker.to_str().unwrap(),
        ])
        .assert_code(0);
        assert_eq!(std::fs::read_to_string(&cfg).unwrap(), after);
    }
}

#[test]
fn apply_names_bad_bundles_and_profiles() {
    let dir = TempDir::new("badbundle");
    let docker = fixture("docker-default-seccomp.json");
    let out = syscage_run(&[
        "oci",
        "apply",
        "--bundle",
        dir.str(),
        "--seccomp",
        docker.to_str().unwrap(),
    ]);
    out.assert_code(125);
    assert!(out.stderr.contains("config.json"), "{}", out.stderr);
    std::fs::write(dir.join("config.json"), "{\n  \"ociVersion\": 1,\n").unwrap();
    let out = syscage_run(&[
        "oci",
        "apply",
        "--bundle",
        dir.str(),
        "--seccomp",
        docker.to_str().unwrap(),
    ]);
    out.assert_code(125);
    assert!(out.stderr.contains("config.json:"), "{}", out.stderr);
    std::fs::write(
        dir.join("config.json"),
        r#"{"ociVersion":"1.0.2","root":{"path":"rootfs"}}"#,
    )
    .unwrap();
    let bad = dir.join("bad.json");
    std::fs::write(&bad, r#"{"defaultAction":"SCMP_ACT_NOPE"}"#).unwrap();
    let out = syscage_run(&[
        "oci",
        "apply",
        "--bundle",
        dir.str(),
        "--seccomp",
        bad.to_str().unwrap(),
    ]);
    out.assert_code(125);
    assert!(out.stderr.contains("bad.json:1:"), "{}", out.stderr);
    // A config without "linux" gets one.
    syscage_run(&[
        "oci",
        "apply",
        "--bundle",
        dir.str(),
        "--seccomp",
        docker.to_str().unwrap(),
    ])
    .assert_code(0);
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("config.json")).unwrap()).unwrap();
    assert_eq!(v["linux"]["seccomp"]["defaultAction"], "SCMP_ACT_ERRNO");
    assert_eq!(v["root"]["path"], "rootfs");
}
