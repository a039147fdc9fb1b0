//! The runtime tests must pass on a machine nobody prepared: crun refuses hybrid cgroup hosts
//! (this machine kind's), and an earlier suite only passed after a hand-made v1 hugetlb mount.
//! Here crun runs with every v1 hugetlb hierarchy removed (in a private mount namespace, so the
//! host keeps whatever it has), and the host's cgroup mounts are the same before and after.

mod common;

use std::process::Command;

use common::*;

/// The cgroup mounts of the host (this test process's mount namespace).
fn host_cgroup_mounts() -> Vec<String> {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter(|l| l.contains(" - cgroup"))
        .map(|l| {
            l.split(' ')
                .skip(4)
                .take(1)
                .chain(l.split(" - ").skip(1))
                .collect()
        })
        .collect()
}

#[test]
fn crun_starts_without_a_v1_hugetlb_mount_and_leaves_host_mounts_alone() {
    let before = host_cgroup_mounts();
    let args = vec!["/bin/sh".to_string(), "-c".into(), "echo started".into()];
    let dir = TempDir::new("fresh");
    let open = dir.join("open.json");
    std::fs::write(&open, r#"{"defaultAction":"SCMP_ACT_ALLOW"}"#).unwrap();
    let bundle = Bundle::new("crun", &args, &open, false);
    // The same command line the other tests use, preceded by the removal of every cgroup v1
    // hugetlb mount (and a check that none is left) inside a private mount namespace.
    let rt = runtime_command("crun");
    let mut c = Command::new("unshare");
    c.args(["--mount", "sh", "-c"]).arg(concat!(
        "for m in $(grep -E ' - cgroup [^ ]+ [^ ]*hugetlb' /proc/self/mountinfo | cut -d' ' -f5); ",
        "do umount -l \"$m\" || exit 90; done; ",
        "if grep -qE ' - cgroup [^ ]+ [^ ]*hugetlb' /proc/self/mountinfo; then exit 91; fi; ",
        "exec \"$@\""
    ));
    c.arg("sh").arg(rt.get_program()).args(rt.get_args());
    c.arg("--root").arg(bundle.dir.join("state"));
    c.args(["run", "-b", bundle.dir.str(), &bundle.id]);
    let out = run_command(c);
    assert_eq!(
        out.code, 0,
        "crun without a v1 hugetlb hierarchy: {}",
        out.stderr
    );
    assert_eq!(out.stdout.trim(), "started");
    assert_eq!(
        host_cgroup_mounts(),
        before,
        "running crun changed the host's cgroup mounts"
    );
}
