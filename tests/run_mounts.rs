//! `--rw`, `--ro`, `--tmpfs` and `--rootfs`.

mod common;

use std::os::unix::fs::{MetadataExt, PermissionsExt};

use common::*;

/// The host uid that root inside maps to when root runs syscage (see run_confinement.rs).
const MAPPED_ROOT: u32 = 1_000_000_000;

#[test]
fn rw_binds_are_writable_and_ro_binds_are_not() {
    let rw = TempDir::new("rw");
    let ro = TempDir::new("ro");
    // Root inside is host uid MAPPED_ROOT, so it owns the writable directory (as with Docker's
    // userns-remap, volumes belong to the remapped id).
    nix::unistd::chown(
        rw.path(),
        Some(MAPPED_ROOT.into()),
        Some(MAPPED_ROOT.into()),
    )
    .unwrap();
    std::fs::write(ro.join("data"), "host data").unwrap();
    let script = format!(
        "echo from-sandbox > {rw}/out && echo rw-ok; cat {ro}/data; echo; (echo x > {ro}/new) 2>&1; rm {ro}/data 2>&1; true",
        rw = rw.str(),
        ro = ro.str()
    );
    let out = syscage_run(&[
        "run",
        "--rw",
        rw.str(),
        "--ro",
        ro.str(),
        "--",
        "sh",
        "-c",
        &script,
    ]);
    out.assert_code(0);
    assert!(
        out.stdout.contains("rw-ok") && out.stdout.contains("host data"),
        "{}",
        out.stdout
    );
    assert_eq!(
        out.stdout.matches("Read-only file system").count(),
        2,
        "{}",
        out.stdout
    );
    assert_eq!(
        std::fs::read_to_string(rw.join("out")).unwrap(),
        "from-sandbox\n"
    );
    assert_eq!(
        std::fs::metadata(rw.join("out")).unwrap().uid(),
        MAPPED_ROOT
    );
    assert!(ro.join("data").exists() && !ro.join("new").exists());
    // Without --rw the same directory is read-only like the rest of the root.
    let plain = syscage_run(&[
        "run",
        "--",
        "sh",
        "-c",
        &format!("touch {}/x 2>&1", rw.str()),
    ]);
    assert!(
        plain.stdout.contains("Read-only file system"),
        "{}",
        plain.stdout
    );
}

#[test]
fn binds_below_tmp_and_tmpfs_mounts() {
    let dir = TempDir::new("tmpfs");
    let out = syscage_run(&[
        "run",
        "--tmpfs",
        dir.str(),
        "--",
        "sh",
        "-c",
        &format!(
            "echo inside > {0}/f && cat {0}/f; grep -c ' {0} tmpfs' /proc/self/mounts",
            dir.str()
        ),
    ]);
    out.assert_code(0);
    assert_eq!(out.stdout, "inside\n1\n");
    assert!(!dir.join("f").exists(), "the tmpfs hid the host directory");
}

#[test]
fn rootfs_runs_a_static_busybox_root_read_only() {
    let root = TempDir::new("rootfs");
    busybox_rootfs(root.path());
    std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = syscage_run(&[
        "run",
        "--rootfs",
        root.str(),
        "--",
        "/bin/sh",
        "-c",
        "ls /; touch /etc/x 2>&1; echo ok > /tmp/t && cat /tmp/t; cat /proc/self/status | grep NoNewPrivs; ls /dev",
    ]);
    out.assert_code(0);
    for needle in [
        "bin\n",
        "Read-only file system",
        "ok\n",
        "NoNewPrivs:\t1",
        "null",
    ] {
        assert!(
            out.stdout.contains(needle),
            "missing {needle:?}:\n{}",
            out.stdout
        );
    }
    // Host files are not reachable from the busybox root.
    let out = syscage_run(&[
        "run",
        "--rootfs",
        root.str(),
        "--",
        "/bin/sh",
        "-c",
        "ls /usr 2>&1; ls /work 2>&1",
    ]);
    assert_eq!(
        out.stdout.matches("No such file or directory").count(),
        2,
        "{}",
        out.stdout
    );
    syscage_run(&["run", "--rootfs", root.str(), "--", "/bin/nothing"]).assert_code(127);
}

/// A root whose `tmp` and `dev` are symlinks (`tmp -> /etc`, `dev -> proc`): mount targets are
/// resolved inside the root, never through the host's tree. /tmp and /dev are not replaced
/// (said, with the reason, and refused by --strict), /proc stays a fresh proc, -v claims
/// nothing that was not done, and a user mount through a symlink lands inside the root — a
/// symlink to a host path cannot make syscage create anything on the host.
#[test]
fn mount_targets_in_a_rootfs_resolve_inside_it() {
    let root = TempDir::new("symroot");
    busybox_rootfs(root.path());
    std::fs::remove_dir(root.join("tmp")).unwrap();
    std::fs::remove_dir(root.join("dev")).unwrap();
    std::os::unix::fs::symlink("/etc", root.join("tmp")).unwrap();
    std::os::unix::fs::symlink("proc", root.join("dev")).unwrap();
    std::fs::create_dir_all(root.join("data/real")).unwrap();
    std::os::unix::fs::symlink("/data/real", root.join("link")).unwrap();
    // An absolute symlink naming a host directory that the root does not have.
    let host = TempDir::new("hostside");
    // Writable by the sandbox's root, so only the resolution can keep it from writing here.
    std::fs::set_permissions(host.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    std::os::unix::fs::symlink(host.path(), root.join("escape")).unwrap();

    let out = syscage_run(&[
        "run",
        "-v",
        "--rootfs",
        root.str(),
        "--",
        "/bin/sh",
        "-c",
        "ls /proc | grep -c '^1$'; touch /tmp/x 2>&1; ls -l / | grep ' dev '",
    ]);
    out.assert_code(0);
    for said in [
        "not applied: tmpfs /tmp (/tmp is a symlink in the root, to /etc (not followed))",
        "not applied: minimal /dev (/dev is a symlink in the root, to proc (not followed))",
        "/proc: fresh for the new pid namespace",
    ] {
        assert!(out.stderr.contains(said), "{said}:\n{}", out.stderr);
    }
    for claim in ["/tmp: fresh tmpfs", "/dev: minimal"] {
        assert!(
            !out.stderr.contains(claim),
            "claimed {claim}:\n{}",
            out.stderr
        );
    }
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(
        lines[0], "1",
        "/proc is a proc of the new pid namespace: {}",
        out.stdout
    );
    assert!(lines[1].contains("Read-only file system"), "{}", out.stdout);
    assert!(lines[2].ends_with("dev -> proc"), "{}", out.stdout);

    syscage_run(&["run", "--strict", "--rootfs", root.str(), "--", "/bin/true"]).assert_code(125);

    // --tmpfs through a symlink: mounted where the symlink leads inside the root.
    let out = syscage_run(&[
        "run",
        "-v",
        "--rootfs",
        root.str(),
        "--tmpfs",
        "/link",
        "--",
        "/bin/sh",
        "-c",
        "touch /link/f && ls /data/real",
    ]);
    assert_eq!(out.assert_code(0).stdout, "f\n", "{}", out.stderr);
    assert!(
        out.stderr
            .contains("--tmpfs /link (a symlink in the root: mounted on /data/real)"),
        "{}",
        out.stderr
    );
    // Through a symlink to a host path: resolved in the root, where it does not exist and the
    // read-only root refuses to create it; nothing appears on the host.
    let out = syscage_run(&[
        "run",
        "--rootfs",
        root.str(),
        "--tmpfs",
        "/escape/sub",
        "--",
        "/bin/true",
    ]);
    out.assert_code(125);
    assert!(out.stderr.contains("--tmpfs /escape/sub"), "{}", out.stderr);
    assert!(
        !host.join("sub").exists(),
        "a directory was created on the host through the root's symlink"
    );
}
