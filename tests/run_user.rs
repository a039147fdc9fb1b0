//! `run --user`, `--env`, `--clear-env`, `--ulimit`: the workload runs as the user asked for,
//! with no supplementary groups and no way back to root; cannot change root's files; sees its
//! limits and exactly the environment asked for.

mod common;

use std::os::unix::fs::PermissionsExt;

use common::*;

#[test]
fn the_workload_runs_as_the_user_asked_for() {
    let out = syscage_run(&[
        "run",
        "--user",
        "1000:1000",
        "--",
        "sh",
        "-c",
        "id -u; id -g; grep -E '^(Groups|CapEff|CapPrm)' /proc/self/status; echo HOME=$HOME",
    ]);
    out.assert_code(0);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(&lines[..2], ["1000", "1000"], "{}", out.stdout);
    assert_eq!(
        status_field(&out.stdout, "Groups"),
        "",
        "no supplementary groups"
    );
    assert_eq!(status_field(&out.stdout, "CapEff"), "0000000000000000");
    assert_eq!(status_field(&out.stdout, "CapPrm"), "0000000000000000");
    // By name, from the sandbox root's /etc/passwd, with its primary group and home.
    let out = syscage_run(&[
        "run",
        "--user",
        "nobody",
        "--",
        "sh",
        "-c",
        "id; echo HOME=$HOME",
    ]);
    out.assert_code(0);
    assert!(
        out.stdout
            .starts_with("uid=65534(nobody) gid=65534(nogroup) groups=65534(nogroup)"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("HOME=/nonexistent"), "{}", out.stdout);
}

#[test]
fn the_user_cannot_become_root_again_nor_change_roots_files() {
    let dir = TempDir::new("user");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    // Root of the sandbox creates the file (it is owned by the sandbox's root).
    let rw = dir.str();
    syscage_run(&[
        "run",
        "--rw",
        rw,
        "--",
        "sh",
        "-c",
        &format!("echo root > {rw}/f; chmod 644 {rw}/f"),
    ])
    .assert_code(0);
    let attempt = format!(
        "echo changed >> {rw}/f && echo WROTE; python3 -c 'import os\ntry:\n os.setuid(0); print(\"SETUID-OK\")\nexcept OSError as e: print(\"setuid:\", e.strerror)'"
    );
    let out = syscage_run(&[
        "run", "--user", "1000", "--rw", rw, "--", "sh", "-c", &attempt,
    ]);
    out.assert_code(0);
    assert!(!out.stdout.contains("WROTE"), "{}", out.stdout);
    assert!(out.stderr.contains("Permission denied"), "{}", out.stderr);
    assert!(
        out.stdout.contains("setuid: Operation not permitted"),
        "{}",
        out.stdout
    );
    assert_eq!(std::fs::read_to_string(dir.join("f")).unwrap(), "root\n");
    // Control: the sandbox's root can.
    let out = syscage_run(&["run", "--rw", rw, "--", "sh", "-c", &attempt]);
    assert!(out.stdout.contains("WROTE"), "{}", out.stderr);
}

#[test]
fn a_capability_added_for_a_user_reaches_it_through_the_ambient_set() {
    let cmd = "touch /tmp/x; chown 1:1 /tmp/x && echo CHOWNED";
    let without = syscage_run(&["run", "--user", "1000", "--", "sh", "-c", cmd]);
    assert!(!without.stdout.contains("CHOWNED"), "{}", without.stdout);
    let with = syscage_run(&[
        "run",
        "--user",
        "1000",
        "--cap-add",
        "CHOWN",
        "--",
        "sh",
        "-c",
        cmd,
    ]);
    assert!(
        with.stdout.contains("CHOWNED"),
        "{}{}",
        with.stdout,
        with.stderr
    );
}

#[test]
fn ulimits_are_seen_by_the_workload() {
    let out = syscage_run(&[
        "run",
        "--ulimit",
        "nofile=256:512",
        "--ulimit",
        "core=0",
        "--ulimit",
        "nproc=200",
        "--user",
        "1000",
        "--",
        "python3",
        "-c",
        "import resource as r; print(*r.getrlimit(r.RLIMIT_NOFILE), *r.getrlimit(r.RLIMIT_CORE), *r.getrlimit(r.RLIMIT_NPROC))",
    ]);
    out.assert_code(0);
    assert_eq!(out.stdout.trim(), "256 512 0 0 200 200");
    // The workload cannot raise them again.
    let out = syscage_run(&[
        "run",
        "--ulimit",
        "nofile=256:512",
        "--",
        "sh",
        "-c",
        "ulimit -n 4096 2>&1; ulimit -n",
    ]);
    assert!(out.stdout.trim_end().ends_with("256"), "{}", out.stdout);
}

#[test]
fn env_and_clear_env() {
    let mut c = syscage_cmd();
    c.env("SYSCAGE_TEST_PASSED", "from-caller")
        .env("SYSCAGE_TEST_DROPPED", "x")
        .args([
            "run",
            "--clear-env",
            "--env",
            "A=1",
            "--env",
            "B=two=2",
            "--env",
            "SYSCAGE_TEST_PASSED",
            "--env",
            "SYSCAGE_TEST_UNSET",
            "--",
            "/usr/bin/env",
        ]);
    let out = run_command(c);
    out.assert_code(0);
    let mut vars: Vec<&str> = out.stdout.lines().collect();
    vars.sort();
    assert_eq!(vars, ["A=1", "B=two=2", "SYSCAGE_TEST_PASSED=from-caller"]);
    // Without --clear-env the caller's environment passes, --env overrides it.
    let mut c = syscage_cmd();
    c.env("SYSCAGE_TEST_X", "old")
        .args(["run", "-e", "SYSCAGE_TEST_X=new", "--", "/usr/bin/env"]);
    let out = run_command(c);
    assert!(out.stdout.lines().any(|l| l == "SYSCAGE_TEST_X=new"));
    assert!(!out.stdout.contains("SYSCAGE_TEST_X=old"));
}

#[test]
fn names_resolve_inside_the_rootfs_never_through_a_host_path() {
    let dir = TempDir::new("userroot");
    let root = dir.join("root");
    busybox_rootfs(&root);
    // An image whose /etc/passwd is an absolute symlink: it means the image's file, not the host's.
    std::fs::remove_file(root.join("etc/passwd")).unwrap();
    std::fs::write(
        root.join("etc/image-passwd"),
        "app:x:4242:4343::/home/app:/bin/sh\n",
    )
    .unwrap();
    std::os::unix::fs::symlink("/etc/image-passwd", root.join("etc/passwd")).unwrap();
    let out = syscage_run(&[
        "run",
        "--rootfs",
        dir.join("root").to_str().unwrap(),
        "--user",
        "app",
        "--",
        "/bin/sh",
        "-c",
        "echo $(id -u) $(id -g) $HOME",
    ]);
    out.assert_code(0);
    assert_eq!(out.stdout.trim(), "4242 4343 /home/app");
    // A host user is not found in the image.
    let out = syscage_run(&[
        "run",
        "--rootfs",
        dir.join("root").to_str().unwrap(),
        "--user",
        "nobody",
        "--",
        "/bin/true",
    ]);
    out.assert_code(125);
    assert!(out.stderr.contains("no user \"nobody\""), "{}", out.stderr);
}

#[test]
fn bad_user_env_and_ulimit_values_are_named() {
    for (args, expect) in [
        (&["--user", "ghost"][..], "--user ghost: no user \"ghost\""),
        (&["--user", "1000:ghosts"][..], "no group \"ghosts\""),
        (&["--user", "70000"][..], "not mapped"),
        (&["--ulimit", "fly=1"][..], "--ulimit fly=1: unknown limit"),
        (&["--ulimit", "nofile=10:5"][..], "soft limit is above"),
        (
            &["--ulimit", "nofile=99999999"][..],
            "cannot raise the hard limit",
        ),
        (&["--env", "=x"][..], "--env \"=x\""),
    ] {
        let mut full = vec!["run"];
        full.extend_from_slice(args);
        full.extend(["--", "true"]);
        let out = syscage_run(&full);
        out.assert_code(125);
        assert!(out.stderr.contains(expect), "{args:?}: {}", out.stderr);
    }
}

#[test]
fn unprivileged_callers_switch_users_within_their_subordinate_range() {
    let with = TestUser::new(true);
    let out = with.run(&["run", "--user", "1000", "--", "id", "-u"]);
    out.assert_code(0);
    assert_eq!(out.stdout.trim(), "1000");
    let without = TestUser::new(false);
    let out = without.run(&["run", "--user", "1000", "--", "id", "-u"]);
    out.assert_code(125);
    assert!(out.stderr.contains("not mapped"), "{}", out.stderr);
}
