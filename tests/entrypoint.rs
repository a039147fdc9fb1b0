//! syscage as a container's entrypoint (`ENTRYPOINT ["syscage", "run", "--seccomp", ...]`),
//! inside a crun container under Docker's default profile, which forbids creating namespaces:
//! `run` applies what it can, says what it could not, and `--strict` refuses.

mod common;

use common::*;

/// A busybox-only container whose entrypoint is `/bin/syscage run ARGS...`, confined by
/// Docker's default profile (resolved by `syscage oci apply` for crun's default capabilities).
fn entrypoint_bundle(run_args: &[&str]) -> Bundle {
    let dir = TempDir::new("epprofiles");
    let open = dir.join("open.json");
    std::fs::write(&open, r#"{"defaultAction":"SCMP_ACT_ALLOW"}"#).unwrap();
    let mut args = vec!["/bin/syscage".to_string(), "run".into()];
    args.extend(run_args.iter().map(|s| s.to_string()));
    let bundle = Bundle::new("crun", &args, &open, false);
    let root = bundle.dir.join("rootfs");
    std::fs::copy(static_syscage(), root.join("bin/syscage")).unwrap();
    // The application's own profile: everything but mkdir, which gets EACCES.
    std::fs::write(
        root.join("etc/app.json"),
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO","errnoRet":13}]}"#,
    )
    .unwrap();
    // No host /usr here: only busybox and the static syscage.
    bundle.edit_config(|v| {
        let mounts = v["mounts"].as_array_mut().unwrap();
        mounts.retain(|m| m["destination"] != "/usr");
        mounts.push(serde_json::json!({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev"]}));
    });
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
    bundle
}

const SCRIPT: &str = "grep -E '^(NoNewPrivs|Seccomp|Seccomp_filters|CapEff|CapPrm):' /proc/self/status; \
    busybox mkdir /tmp/x 2>&1 || echo mkdir-refused; echo workload-ran";

#[test]
fn inside_docker_default_run_applies_what_it_can_and_says_what_it_cannot() {
    let bundle = entrypoint_bundle(&[
        "--seccomp",
        "/etc/app.json",
        "--",
        "/bin/busybox",
        "sh",
        "-c",
        SCRIPT,
    ]);
    let out = bundle.run();
    out.assert_code(0);
    assert!(
        out.stdout.contains("workload-ran"),
        "{}\n{}",
        out.stdout,
        out.stderr
    );
    // The runtime's seccomp forbids namespaces: said, not hidden.
    assert!(
        out.stderr.contains("not applied: user namespace"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("not applied: read-only root"),
        "{}",
        out.stderr
    );
    // What could be applied was: no capabilities, no_new_privs, the app's filter on top of Docker's.
    assert_eq!(status_field(&out.stdout, "CapEff"), "0000000000000000");
    assert_eq!(status_field(&out.stdout, "CapPrm"), "0000000000000000");
    assert_eq!(status_field(&out.stdout, "NoNewPrivs"), "1");
    assert_eq!(status_field(&out.stdout, "Seccomp_filters"), "2");
    assert!(
        out.stdout.contains("Permission denied") && out.stdout.contains("mkdir-refused"),
        "the app profile is enforced: {}",
        out.stdout
    );
}

#[test]
fn inside_docker_default_strict_refuses() {
    let bundle = entrypoint_bundle(&[
        "--strict",
        "--seccomp",
        "/etc/app.json",
        "--",
        "/bin/busybox",
        "sh",
        "-c",
        SCRIPT,
    ]);
    let out = bundle.run();
    out.assert_code(125);
    assert!(!out.stdout.contains("workload-ran"));
    assert!(
        out.stderr.contains("--strict: could not apply"),
        "{}",
        out.stderr
    );
}
