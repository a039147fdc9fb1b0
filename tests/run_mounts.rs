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
