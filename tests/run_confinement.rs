//! `syscage run` with no options: every default claimed in the README, checked from inside a real
//! workload, and for each one an attempt to break it.

mod common;

use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

use common::*;

#[test]
fn status_shows_every_set_empty_nnp_and_seccomp() {
    let out = syscage_run(&["run", "--", "cat", "/proc/self/status"]);
    out.assert_code(0);
    for set in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"] {
        assert_eq!(status_field(&out.stdout, set), "0000000000000000", "{set}");
    }
    assert_eq!(status_field(&out.stdout, "NoNewPrivs"), "1");
    assert_eq!(status_field(&out.stdout, "Seccomp"), "2");
    // The workload is not PID 1: syscage's init is, and reaps for it.
    assert_eq!(status_field(&out.stdout, "PPid"), "1");
}

#[test]
fn root_maps_to_an_unprivileged_range_when_root_invokes() {
    let out = syscage_run(&[
        "run",
        "--",
        "sh",
        "-c",
        "cat /proc/self/uid_map /proc/self/gid_map; id -u",
    ]);
    out.assert_code(0);
    let lines: Vec<Vec<&str>> = out
        .stdout
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(lines[0], ["0", "1000000000", "65536"], "{}", out.stdout);
    assert_eq!(lines[1], ["0", "1000000000", "65536"], "{}", out.stdout);
    assert_eq!(lines[2], ["0"]);
    // The base is configurable.
    let out = syscage_run(&[
        "run",
        "--userns-base",
        "1200000000",
        "--",
        "cat",
        "/proc/self/uid_map",
    ]);
    out.assert_code(0);
    assert!(
        out.stdout
            .split_whitespace()
            .eq(["0", "1200000000", "65536"]),
        "{}",
        out.stdout
    );
}

#[test]
fn a_program_can_switch_to_another_user_inside() {
    // 65536 ids are mapped, so a program with CAP_SETUID can become `nobody`-like uid 1000.
    let out = syscage_run(&[
        "run",
        "--cap-add",
        "SETUID",
        "--cap-add",
        "SETGID",
        "--",
        "python3",
        "-c",
        "import os; os.setgid(1000); os.setuid(1000); print(os.getuid(), open('/proc/self/uid_map').read().split())",
    ]);
    out.assert_code(0);
    assert!(out.stdout.starts_with("1000 "), "{}", out.stdout);
}

#[test]
fn namespaces_are_new_except_the_network() {
    let script = "for n in user mnt pid ipc uts net; do echo $n $(readlink /proc/self/ns/$n); done";
    let inside = syscage_run(&["run", "--", "sh", "-c", script]);
    inside.assert_code(0);
    let outside = run_command({
        let mut c = Command::new("sh");
        c.args(["-c", script]);
        c
    });
    for (i, o) in inside.stdout.lines().zip(outside.stdout.lines()) {
        if i.starts_with("net ") {
            assert_eq!(i, o, "the network is shared by default");
        } else {
            assert_ne!(i, o, "{i} must be a new namespace");
        }
    }
    let net = syscage_run(&[
        "run",
        "--net",
        "none",
        "--",
        "sh",
        "-c",
        "readlink /proc/self/ns/net; cat /proc/net/dev",
    ]);
    net.assert_code(0);
    assert_ne!(
        net.stdout.lines().next(),
        outside
            .stdout
            .lines()
            .find(|l| l.starts_with("net "))
            .map(|l| &l[4..])
    );
    let ifaces: Vec<&str> = net
        .stdout
        .lines()
        .skip(3)
        .map(|l| l.trim().split(':').next().unwrap())
        .collect();
    assert_eq!(
        ifaces,
        ["lo"],
        "only loopback in --net none: {}",
        net.stdout
    );
}

#[test]
fn root_is_read_only_and_tmp_is_writable() {
    let out = syscage_run(&[
        "run",
        "--",
        "sh",
        "-c",
        "touch /usr/syscage-probe 2>&1; mkdir /etc/x 2>&1; touch /sys/x 2>&1; echo data > /tmp/f && cat /tmp/f; \
         touch /dev/shm/ok && echo shm-ok",
    ]);
    out.assert_code(0);
    assert_eq!(
        out.stdout.matches("Read-only file system").count(),
        3,
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("data\n") && out.stdout.contains("shm-ok"),
        "{}",
        out.stdout
    );
    assert!(!std::path::Path::new("/usr/syscage-probe").exists());
}

#[test]
fn proc_is_fresh_and_dev_is_minimal() {
    let out = syscage_run(&[
        "run",
        "--",
        "sh",
        "-c",
        "ls /proc | grep -E '^[0-9]+$' | wc -l; ls /dev; hostname",
    ]);
    out.assert_code(0);
    let mut lines = out.stdout.lines();
    let pids: u32 = lines.next().unwrap().trim().parse().unwrap();
    assert!(
        pids <= 6,
        "only the sandbox's processes are visible, saw {pids}"
    );
    let dev: Vec<&str> = lines.by_ref().take_while(|l| *l != "syscage").collect();
    for node in ["null", "zero", "full", "random", "urandom", "tty"] {
        assert!(dev.contains(&node), "/dev/{node} missing: {dev:?}");
    }
    for absent in ["sda", "vda", "mem", "kmsg", "console"] {
        assert!(
            !dev.contains(&absent),
            "/dev/{absent} must not be there: {dev:?}"
        );
    }
    let data = syscage_run(&[
        "run",
        "--",
        "sh",
        "-c",
        "head -c 4 /dev/zero | od -An -tx1; echo x > /dev/null && echo null-ok",
    ]);
    data.assert_code(0);
    assert!(
        data.stdout.contains("00 00 00 00") && data.stdout.contains("null-ok"),
        "{}",
        data.stdout
    );
}

#[test]
fn every_dropped_capability_is_refused_and_granted_with_cap_add() {
    // Each operation needs one capability inside the sandbox's own namespaces. The control run
    // with --cap-add shows the probe would notice if the capability were still there.
    let checks = [
        ("chown", "CHOWN", "EPERM"),
        ("dac_override", "DAC_OVERRIDE", "EACCES"),
        ("setuid", "SETUID", "EPERM"),
        ("setgid", "SETGID", "EPERM"),
        ("setpcap", "SETPCAP", "EPERM"),
        ("sys_chroot", "SYS_CHROOT", "EPERM"),
        ("sys_admin", "SYS_ADMIN", "EPERM"),
        ("net_raw", "NET_RAW", "EPERM"),
        ("net_admin", "NET_ADMIN", "EPERM"),
        ("net_bind_service", "NET_BIND_SERVICE", "EACCES"),
    ];
    for (check, cap, errno) in checks {
        let denied = probe_run(&["--net", "none"], &["cap", check]);
        denied.assert_code(0);
        assert_eq!(
            denied.line("cap "),
            format!("cap {check}: {errno}"),
            "without {cap}"
        );
        let granted = probe_run(&["--net", "none", "--cap-add", cap], &["cap", check]);
        granted.assert_code(0);
        assert_eq!(
            granted.line("cap "),
            format!("cap {check}: ok"),
            "with --cap-add {cap}"
        );
    }
}

#[test]
fn cap_add_keeps_only_the_named_capability() {
    let out = syscage_run(&[
        "run",
        "--cap-add",
        "CAP_NET_RAW",
        "--",
        "cat",
        "/proc/self/status",
    ]);
    out.assert_code(0);
    let want = format!("{:016x}", 1u64 << 13);
    for set in ["CapPrm", "CapEff", "CapBnd"] {
        assert_eq!(status_field(&out.stdout, set), want, "{set}");
    }
    assert_eq!(status_field(&out.stdout, "CapInh"), "0000000000000000");
    let bad = syscage_run(&["run", "--cap-add", "FLY", "--", "true"]);
    bad.assert_code(125);
    assert!(bad.stderr.contains("--cap-add FLY"), "{}", bad.stderr);
}

#[test]
fn default_filter_denies_dangerous_syscalls_and_keeps_libc_fallbacks() {
    let out = probe_run(
        &[],
        &[
            "syscall",
            "keyctl",
            "unshare-user",
            "mount",
            "bpf",
            "personality",
            "clone3",
            "getppid",
        ],
    );
    out.assert_code(0);
    for denied in ["keyctl", "unshare-user", "mount", "bpf", "personality"] {
        assert_eq!(out.line(&format!("{denied}:")), format!("{denied}: EPERM"));
    }
    assert_eq!(
        out.line("clone3:"),
        "clone3: ENOSYS",
        "glibc needs ENOSYS to fall back to clone"
    );
    assert_eq!(out.line("getppid:"), "getppid: ok");
    // Control: without seccomp the same keyctl call reaches the kernel, which rejects the
    // bogus key id differently.
    let open = probe_run(
        &["--seccomp", "unconfined"],
        &["syscall", "keyctl", "clone3"],
    );
    assert_ne!(open.line("keyctl:"), "keyctl: EPERM");
    assert_eq!(open.line("clone3:"), "clone3: EINVAL");
    assert!(
        open.stderr.contains("seccomp is disabled"),
        "{}",
        open.stderr
    );
}

#[test]
fn int80_goes_through_the_i386_table_and_is_killed_without_it() {
    // Docker's default lists x86: i386 getpid is allowed, i386 keyctl denied like its 64-bit twin.
    let out = probe_run(&[], &["int80", "getpid", "keyctl"]);
    out.assert_code(0);
    assert_eq!(out.line("int80 getpid"), "int80 getpid: ok");
    assert_eq!(out.line("int80 keyctl"), "int80 keyctl: EPERM");
    // A 64-bit-only profile: every int 0x80 call kills the process (SIGSYS, 128+31).
    let dir = TempDir::new("x64");
    let profile = dir.join("x64.json");
    std::fs::write(
        &profile,
        r#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64"]}"#,
    )
    .unwrap();
    let p = probe();
    let script = format!("{0} syscall getppid; exec {0} int80 getpid", p.display());
    let killed = syscage_run(&[
        "run",
        "--seccomp",
        profile.to_str().unwrap(),
        "--",
        "sh",
        "-c",
        &script,
    ]);
    killed.assert_code(128 + libc::SIGSYS);
    assert_eq!(
        killed.line("getppid"),
        "getppid: ok",
        "64-bit calls still work"
    );
    assert!(!killed.stdout.contains("int80"), "{}", killed.stdout);
}

fn with_fd3(cmd: &mut Command, fd: std::os::fd::RawFd) {
    // SAFETY: dup2 in the forked child before exec; no allocation, no locks.
    unsafe {
        cmd.pre_exec(move || {
            // dup2 onto itself would keep O_CLOEXEC: clear it instead.
            let r = if fd == 3 {
                libc::fcntl(3, libc::F_SETFD, 0)
            } else {
                libc::dup2(fd, 3)
            };
            if r < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

#[test]
fn inherited_descriptors_are_closed_unless_preserved() {
    // fd 3 is a directory on the host: through it a workload could create files outside the
    // sandbox. It must be closed; with --preserve-fds 1 the same probe gets through (control).
    let dir = TempDir::new("fd");
    // Root inside is host uid 1000000000: let it write there, so only the closed fd can stop it.
    nix::unistd::chown(dir.path(), Some(1_000_000_000.into()), None).unwrap();
    let host_dir = std::fs::File::open(dir.path()).unwrap();
    let p = probe();
    for (opts, expect) in [
        (vec![], "fd-escape 3: EBADF"),
        (vec!["--preserve-fds", "1"], "fd-escape 3: ok"),
    ] {
        let mut cmd = syscage_cmd();
        cmd.arg("run")
            .args(&opts)
            .arg("--")
            .arg(&p)
            .args(["fd-escape", "3"]);
        with_fd3(&mut cmd, host_dir.as_raw_fd());
        let out = run_command(cmd);
        out.assert_code(0);
        assert_eq!(out.line("fd-escape"), expect);
    }
    assert!(
        dir.join("escaped-through-fd").exists(),
        "the control run must create the file"
    );
    let mut cmd = syscage_cmd();
    cmd.arg("run").arg("--").arg(&p).arg("fds");
    with_fd3(&mut cmd, host_dir.as_raw_fd());
    let out = run_command(cmd);
    assert_eq!(out.line("open fds"), "open fds: none");
}

#[test]
fn tiocsti_cannot_inject_into_the_callers_terminal() {
    let pty = nix::pty::openpty(None, None).expect("openpty");
    let run = |wrapped: bool| {
        let mut cmd = if wrapped {
            let mut c = syscage_cmd();
            c.arg("run").arg("--").arg(probe());
            c
        } else {
            Command::new(probe())
        };
        cmd.arg("tiocsti");
        cmd.stdin(Stdio::from(pty.slave.try_clone().unwrap()));
        // SAFETY: setsid and TIOCSCTTY in the forked child make the pty its controlling terminal,
        // as for a user at a terminal.
        unsafe {
            cmd.pre_exec(|| {
                if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        finish(cmd.spawn().unwrap())
    };
    // Control: the bare probe on its controlling terminal can push input (legacy_tiocsti=1 here).
    let control = run(false);
    assert_eq!(
        control.line("tiocsti"),
        "tiocsti: ok",
        "TIOCSTI must work outside the sandbox for this test to mean anything (sysctl dev.tty.legacy_tiocsti=1)"
    );
    let out = run(true);
    out.assert_code(0);
    assert_eq!(out.line("tiocsti"), "tiocsti: EPERM");
}

#[test]
fn hostname_is_private() {
    let out = syscage_run(&["run", "--hostname", "box1", "--", "hostname"]);
    out.assert_code(0);
    assert_eq!(out.stdout.trim(), "box1");
}

#[test]
fn verbose_reports_what_was_applied() {
    let out = syscage_run(&["run", "-v", "--", "true"]);
    out.assert_code(0);
    for needle in [
        "user namespace: root → host uid/gid 1000000000",
        "namespaces: user, mount, pid, ipc, uts",
        "root: / read-only",
        "capabilities: none",
        "no_new_privs: set",
        "seccomp: builtin:docker-default (x86_64, x86, x32;",
        "file descriptors: 0-2",
    ] {
        assert!(
            out.stderr.contains(needle),
            "missing {needle:?} in:\n{}",
            out.stderr
        );
    }
}

#[test]
fn proc_leaks_are_masked_and_kernel_knobs_read_only() {
    // Host-wide kernel information is masked in the fresh /proc...
    for f in ["/proc/timer_list", "/proc/keys", "/proc/sched_debug"] {
        if std::path::Path::new(f).exists() {
            let out = syscage_run(&["run", "--", "sh", "-c", &format!("wc -c < {f}")]);
            assert_eq!(out.assert_code(0).stdout.trim(), "0", "{f} is masked");
        }
    }
    // ...and /proc/sys is read-only even for a workload holding CAP_SYS_ADMIN in its namespaces:
    // the UTS-namespaced hostname knob refuses, while the sethostname syscall (control) works.
    let out = syscage_run(&[
        "run",
        "--cap-add",
        "SYS_ADMIN",
        "--",
        "sh",
        "-c",
        "(echo viaproc > /proc/sys/kernel/hostname) 2>&1; hostname viasyscall && hostname",
    ]);
    out.assert_code(0);
    assert!(
        out.stdout.contains("Read-only file system"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.trim_end().ends_with("viasyscall"),
        "{}",
        out.stdout
    );
}
