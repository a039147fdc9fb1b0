//! `syscage hook` with the real runtimes: a container declaring the hook is recorded, the profile
//! is written at poststop, and the same container then runs under that profile with a syscall
//! outside it denied. crun, runc (hooks in config.json) and podman (hooks.d + annotation).

mod common;

use std::process::Command;

use common::*;

/// A bundle running `probe ARGS` (the probe copied into the busybox root), optionally declaring
/// the hook and carrying `annotations`.
fn probe_bundle(
    runtime: &'static str,
    probe_args: &[&str],
    hook: bool,
    annotations: &[(&str, String)],
) -> Bundle {
    let dir = TempDir::new("open");
    let open = dir.join("open.json");
    std::fs::write(&open, r#"{"defaultAction":"SCMP_ACT_ALLOW"}"#).unwrap();
    let mut args = vec!["/bin/probe".to_string()];
    args.extend(probe_args.iter().map(|s| s.to_string()));
    let bundle = Bundle::new(runtime, &args, &open, false);
    std::fs::copy(probe(), bundle.dir.join("rootfs/bin/probe")).unwrap();
    bundle.edit_config(|v| {
        v["linux"].as_object_mut().unwrap().remove("seccomp");
        if hook {
            let h = serde_json::json!({"path": syscage_inside().to_str().unwrap(), "args": ["syscage", "hook"]});
            v["hooks"] = serde_json::json!({"createRuntime": [h.clone()], "poststop": [h]});
        }
        let ann: serde_json::Map<String, serde_json::Value> = annotations
            .iter()
            .map(|(k, val)| (k.to_string(), serde_json::json!(val)))
            .collect();
        v["annotations"] = serde_json::Value::Object(ann);
    });
    bundle
}

#[test]
fn crun_and_runc_record_through_the_hook_and_enforce_the_result() {
    for runtime in ["crun", "runc"] {
        let out_dir = TempDir::new("hookout");
        let profile = out_dir.join("recorded.json");
        let apparmor = out_dir.join("recorded.apparmor");
        let bundle = probe_bundle(
            runtime,
            &["syscall", "getppid"],
            true,
            &[
                ("io.syscage.record", profile.to_string_lossy().into_owned()),
                (
                    "io.syscage.record.apparmor",
                    apparmor.to_string_lossy().into_owned(),
                ),
            ],
        );
        let out = bundle.run();
        assert_eq!(
            out.assert_code(0).line("getppid"),
            "getppid: ok",
            "{runtime}: {}",
            out.stderr
        );
        assert!(
            profile.exists(),
            "{runtime}: the hook wrote no profile: {}",
            out.stderr
        );
        assert!(apparmor.exists());
        let allowed = allowed_names(&profile);
        for n in ["getppid", "write", "exit_group"] {
            assert!(allowed.contains(n), "{runtime}: {n} missing");
        }
        // The runtime's own setup before exec is not the workload's: no pivot_root, no mount.
        assert!(
            !allowed.contains("pivot_root") && !allowed.contains("mount"),
            "{runtime}: {allowed:?}"
        );

        // The same container under the recorded profile: works; one syscall more is denied.
        for (args, line, expect) in [
            (&["syscall", "getppid"][..], "getppid", "getppid: ok"),
            (&["syscall", "keyctl"][..], "keyctl", "keyctl: EPERM"),
        ] {
            let b = probe_bundle(runtime, args, false, &[]);
            syscage_run(&[
                "oci",
                "apply",
                "--bundle",
                b.dir.str(),
                "--seccomp",
                profile.to_str().unwrap(),
            ])
            .assert_code(0);
            let out = b.run();
            assert_eq!(
                out.assert_code(0).line(line),
                expect,
                "{runtime}: {}",
                out.stderr
            );
        }
        // Control: without the profile keyctl reaches the kernel.
        let out = probe_bundle(runtime, &["syscall", "keyctl"], false, &[]).run();
        assert_ne!(out.assert_code(0).line("keyctl"), "keyctl: EPERM");
    }
}

#[test]
fn the_hook_does_nothing_without_the_annotation_and_fails_loudly_on_bad_ones() {
    let out_dir = TempDir::new("noann");
    let bundle = probe_bundle("crun", &["syscall", "getppid"], true, &[]);
    let out = bundle.run();
    assert_eq!(out.assert_code(0).line("getppid"), "getppid: ok");
    assert!(std::fs::read_dir(out_dir.path()).unwrap().next().is_none());
    // A relative output path: the hook fails, the runtime refuses to start the container.
    let bundle = probe_bundle(
        "crun",
        &["syscall", "getppid"],
        true,
        &[("io.syscage.record", "relative.json".into())],
    );
    let out = bundle.run();
    assert_ne!(out.code, 0);
    // crun reports the hook's failure (the hook's own message goes to the runtime's log).
    assert!(out.stderr.contains("hook"), "{}", out.stderr);
    assert!(!out.stdout.contains("getppid"));
}

#[test]
fn oci_seccomp_bpf_hook_annotation_with_a_baseline() {
    let out_dir = TempDir::new("tracesyscall");
    let baseline = out_dir.join("base.json");
    std::fs::write(&baseline, r#"{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86_64"],"syscalls":[{"names":["sync"],"action":"SCMP_ACT_ALLOW"}]}"#).unwrap();
    let profile = out_dir.join("p.json");
    let bundle = probe_bundle(
        "runc",
        &["syscall", "getppid"],
        true,
        &[(
            "io.containers.trace-syscall",
            format!("if:{};of:{}", baseline.display(), profile.display()),
        )],
    );
    bundle.run().assert_code(0);
    let allowed = allowed_names(&profile);
    assert!(allowed.contains("sync"), "the baseline is extended");
    assert!(allowed.contains("getppid"));
}

fn podman(args: &[&str]) -> Out {
    let mut c = runtime_command("podman");
    c.args(args);
    run_command(c)
}

#[test]
fn podman_records_through_hooks_d_and_enforces_the_result() {
    let work = TempDir::new("podman");
    // Image: the busybox root with the probe; the host's /usr is mounted at run time.
    let root = work.join("rootfs");
    busybox_rootfs(&root);
    std::fs::copy(probe(), root.join("bin/probe")).unwrap();
    std::os::unix::fs::symlink("usr/lib", root.join("lib")).unwrap();
    std::os::unix::fs::symlink("usr/lib64", root.join("lib64")).unwrap();
    std::fs::create_dir_all(root.join("usr")).unwrap();
    let tar = work.join("rootfs.tar");
    let t = run_command({
        let mut c = Command::new("tar");
        c.arg("-C").arg(&root).arg("-cf").arg(&tar).arg(".");
        c
    });
    t.assert_code(0);
    let image = format!("localhost/{}:test", unique("syscage-hook"));
    let imported = podman(&["import", "-q", tar.to_str().unwrap(), &image]);
    assert_eq!(
        imported.code, 0,
        "podman import: {} (install the Debian package podman; .ci/run does)",
        imported.stderr
    );
    struct RemoveImage(String);
    impl Drop for RemoveImage {
        fn drop(&mut self) {
            let _ = runtime_command("podman")
                .args(["rmi", "-f", &self.0])
                .output();
        }
    }
    let _image = RemoveImage(image.clone());

    let hooks = work.join("hooks.d");
    std::fs::create_dir(&hooks).unwrap();
    let shipped = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/hooks/syscage-record.json"
    ))
    .unwrap();
    std::fs::write(
        hooks.join("syscage-record.json"),
        shipped.replace("/usr/local/bin/syscage", syscage_inside().to_str().unwrap()),
    )
    .unwrap();
    let profile = work.join("podman.json");
    // This VM: explicit ulimits (podman asks for more than the hard limit) and no cgroup setup
    // (crun runs in a pure-cgroup2 private namespace, see `runtime_command`).
    let base = [
        "run",
        "--rm",
        "--net=none",
        "--cgroups=disabled",
        "--ulimit",
        "nofile=1024:1024",
        "--ulimit",
        "nproc=1024:1024",
        "-v",
        "/usr:/usr:ro",
    ];
    let annotation = format!("io.syscage.record={}", profile.display());
    let mut args: Vec<&str> = base.to_vec();
    args.extend([
        "--hooks-dir",
        hooks.to_str().unwrap(),
        "--annotation",
        &annotation,
        &image,
        "/bin/probe",
        "syscall",
        "getppid",
    ]);
    let out = podman(&args);
    assert_eq!(
        out.assert_code(0).line("getppid"),
        "getppid: ok",
        "{}",
        out.stderr
    );
    assert!(
        allowed_names(&profile).contains("getppid"),
        "the hook wrote the profile under podman --rm"
    );

    let sec = format!("seccomp={}", profile.display());
    for (probe_args, line, expect) in [
        (["syscall", "getppid"], "getppid", "getppid: ok"),
        (["syscall", "keyctl"], "keyctl", "keyctl: EPERM"),
    ] {
        let mut args: Vec<&str> = base.to_vec();
        args.extend(["--security-opt", &sec, &image, "/bin/probe"]);
        args.extend(probe_args);
        let out = podman(&args);
        assert_eq!(out.assert_code(0).line(line), expect, "{}", out.stderr);
    }
}
