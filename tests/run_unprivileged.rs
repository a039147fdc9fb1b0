//! The same confinement checks when an ordinary user invokes syscage: one user with an
//! /etc/subuid range (newuidmap path) and one without (maps only itself).

mod common;

use common::*;

fn check_user(user: &TestUser, expect_map: &[&str]) {
    let uid = user.uid().to_string();
    let out = user.run(&[
        "run",
        "--",
        "sh",
        "-c",
        "echo $(cat /proc/self/uid_map); id -u; cat /proc/self/status",
    ]);
    out.assert_code(0);
    let mut lines = out.stdout.lines();
    let map: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    let want: Vec<String> = expect_map.iter().map(|s| s.replace("UID", &uid)).collect();
    assert_eq!(map, want, "{}", out.stdout);
    assert_eq!(lines.next(), Some("0"), "root inside");
    for set in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"] {
        assert_eq!(status_field(&out.stdout, set), "0000000000000000", "{set}");
    }
    assert_eq!(status_field(&out.stdout, "NoNewPrivs"), "1");
    assert_eq!(status_field(&out.stdout, "Seccomp"), "2");

    // Read-only root, writable tmp.
    let fs = user.run(&[
        "run",
        "--",
        "sh",
        "-c",
        "touch /usr/x 2>&1; touch /tmp/ok && echo tmp-ok",
    ]);
    fs.assert_code(0);
    assert!(
        fs.stdout.contains("Read-only file system") && fs.stdout.contains("tmp-ok"),
        "{}",
        fs.stdout
    );

    // Seccomp, int 0x80, capabilities, fds.
    let p = user.probe();
    let sec = user.run(&[
        "run",
        "--",
        &p,
        "syscall",
        "keyctl",
        "unshare-user",
        "clone3",
    ]);
    sec.assert_code(0);
    assert_eq!(sec.line("keyctl"), "keyctl: EPERM");
    assert_eq!(sec.line("unshare-user"), "unshare-user: EPERM");
    assert_eq!(sec.line("clone3"), "clone3: ENOSYS");
    let i = user.run(&["run", "--", &p, "int80", "getpid", "keyctl"]);
    assert_eq!(i.line("int80 getpid"), "int80 getpid: ok");
    assert_eq!(i.line("int80 keyctl"), "int80 keyctl: EPERM");
    // (chown to another id is no test here: with a one-id map there is no other id to give.)
    let caps = user.run(&["run", "--", &p, "cap", "sys_chroot", "sys_admin", "setpcap"]);
    assert_eq!(caps.line("cap sys_chroot"), "cap sys_chroot: EPERM");
    assert_eq!(caps.line("cap sys_admin"), "cap sys_admin: EPERM");
    assert_eq!(caps.line("cap setpcap"), "cap setpcap: EPERM");
    // Control for the capability probe: kept capabilities work for this user too.
    let kept = user.run(&[
        "run",
        "--cap-add",
        "SYS_ADMIN",
        "--",
        &p,
        "cap",
        "sys_admin",
    ]);
    assert_eq!(kept.line("cap sys_admin"), "cap sys_admin: ok");

    // Exit statuses and signals.
    user.run(&["run", "--", "sh", "-c", "exit 9"])
        .assert_code(9);
    user.run(&["run", "--", "sh", "-c", "kill -KILL $$"])
        .assert_code(137);
    user.run(&["run", "--", "no-such-cmd-q"]).assert_code(127);
}

#[test]
fn unprivileged_user_with_subordinate_ids() {
    let user = TestUser::new(true);
    // 0 is the user itself; the rest comes from /etc/subuid through newuidmap.
    let subuid = std::fs::read_to_string("/etc/subuid").unwrap();
    let start = subuid
        .lines()
        .find(|l| l.starts_with(&format!("{}:", user.name)))
        .expect("useradd gave the user a subuid range (needs /etc/subuid and the uidmap package)")
        .split(':')
        .nth(1)
        .unwrap()
        .to_string();
    check_user(&user, &["0", "UID", "1", "1", &start, "65535"]);
}

#[test]
fn unprivileged_user_without_subordinate_ids() {
    let user = TestUser::new(false);
    check_user(&user, &["0", "UID", "1"]);
}
