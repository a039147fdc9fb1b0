//! Third-party seccomp profiles enforced by `syscage run`, and every kind of bad input.

mod common;

use std::path::Path;

use common::*;

const PY_WORKLOAD: &str = "import threading, subprocess, os\n\
    res = []\n\
    ts = [threading.Thread(target=lambda i=i: res.append(i * i)) for i in range(4)]\n\
    [t.start() for t in ts]; [t.join() for t in ts]\n\
    out = subprocess.run(['sh', '-c', 'echo child'], capture_output=True, text=True).stdout.strip()\n\
    print(sorted(res), out, os.getpid())\n";

#[test]
fn docker_and_containers_common_profiles_load_and_enforce() {
    // Docker denies keyctl; containers/common (podman) allows it, so the kernel answers the bogus
    // key id with ENOKEY. Both deny personality(READ_IMPLIES_EXEC): Docker with EPERM,
    // containers/common with its default ENOSYS. Docker gives clone3 ENOSYS so that glibc falls
    // back to clone; containers/common allows clone3 (the kernel rejects the probe's NULL args).
    for (name, keyctl_errno, personality_errno, clone3) in [
        ("docker-default-seccomp.json", "EPERM", "EPERM", "ENOSYS"),
        (
            "containers-common-seccomp.json",
            "ENOKEY",
            "ENOSYS",
            "EINVAL",
        ),
    ] {
        let profile = fixture(name);
        let profile = profile.to_str().unwrap();
        let py = syscage_run(&[
            "run",
            "--seccomp",
            profile,
            "--",
            "python3",
            "-c",
            PY_WORKLOAD,
        ]);
        py.assert_code(0);
        assert!(
            py.stdout.starts_with("[0, 1, 4, 9] child "),
            "{name}: {}",
            py.stdout
        );
        let p = probe_run(
            &["--seccomp", profile],
            &["syscall", "keyctl", "personality", "clone3", "getppid"],
        );
        p.assert_code(0);
        assert_eq!(
            p.line("keyctl:"),
            format!("keyctl: {keyctl_errno}"),
            "{name}"
        );
        assert_eq!(
            p.line("personality:"),
            format!("personality: {personality_errno}"),
            "{name}"
        );
        assert_eq!(p.line("clone3:"), format!("clone3: {clone3}"), "{name}");
        assert_eq!(p.line("getppid:"), "getppid: ok", "{name}");
    }
}

#[test]
fn oci_linux_seccomp_objects_and_config_json_are_accepted() {
    let dir = TempDir::new("oci");
    let object = r#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86"],
        "syscalls":[{"names":["keyctl"],"action":"SCMP_ACT_ERRNO","errnoRet":38},
                    {"names":["getppid"],"action":"SCMP_ACT_ERRNO","errnoRet":13}]}"#;
    let config = format!(
        r#"{{"ociVersion":"1.0.2","process":{{"args":["sh"]}},"linux":{{"seccomp":{object}}}}}"#
    );
    for (file, text) in [
        ("seccomp.json", object.to_string()),
        ("config.json", config),
    ] {
        let path = dir.join(file);
        std::fs::write(&path, text).unwrap();
        let out = probe_run(
            &["--seccomp", path.to_str().unwrap()],
            &["syscall", "keyctl", "getppid"],
        );
        out.assert_code(0);
        assert_eq!(out.line("keyctl:"), "keyctl: ENOSYS", "{file}");
        assert_eq!(out.line("getppid:"), "getppid: EACCES", "{file}");
    }
}

#[test]
fn argument_rules_are_enforced() {
    let dir = TempDir::new("args");
    let path = dir.join("p.json");
    // socket allowed only for AF_INET (2) and AF_UNIX (1): two comparisons of the same argument
    // become two rules, as in runc.
    std::fs::write(
        &path,
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
            {"names":["socket"],"action":"SCMP_ACT_ERRNO","errnoRet":97,
             "args":[{"index":0,"value":16,"op":"SCMP_CMP_EQ"},{"index":0,"value":17,"op":"SCMP_CMP_EQ"}]},
            {"names":["personality"],"action":"SCMP_ACT_ERRNO","errnoRet":1,
             "args":[{"index":0,"value":4194304,"valueTwo":4194304,"op":"SCMP_CMP_MASKED_EQ"}]}]}"#,
    )
    .unwrap();
    let out = syscage_run(&[
        "run",
        "--seccomp",
        path.to_str().unwrap(),
        "--",
        "python3",
        "-c",
        "import socket, errno\n\
         for fam in (socket.AF_UNIX, socket.AF_INET, socket.AF_NETLINK, socket.AF_PACKET):\n\
         \x20   try: socket.socket(fam, socket.SOCK_RAW if fam in (16, 17) else socket.SOCK_STREAM); print(fam, 'ok')\n\
         \x20   except OSError as e: print(fam, errno.errorcode[e.errno])\n",
    ]);
    out.assert_code(0);
    assert_eq!(out.stdout, "1 ok\n2 ok\n16 EAFNOSUPPORT\n17 EAFNOSUPPORT\n");
    let p = probe_run(
        &["--seccomp", path.to_str().unwrap()],
        &["syscall", "personality"],
    );
    assert_eq!(p.line("personality"), "personality: EPERM");
}

fn bad_profile(text: &[u8]) -> (Out, TempDir) {
    let dir = TempDir::new("bad");
    let path = dir.join("profile.json");
    std::fs::write(&path, text).unwrap();
    let out = syscage_run(&["run", "--seccomp", path.to_str().unwrap(), "--", "true"]);
    (out, dir)
}

#[test]
fn malformed_json_names_file_line_and_column() {
    let (out, dir) = bad_profile(b"{\n  \"defaultAction\": \"SCMP_ACT_ERRNO\",\n  \"syscalls\": [\n    {\"names\": [\"read\"] \"action\": 1}\n  ]\n}\n");
    out.assert_code(125);
    let want = format!("{}:4:", dir.join("profile.json").display());
    assert!(out.stderr.contains(&want), "{}", out.stderr);
}

#[test]
fn unknown_names_actions_and_arches_are_named() {
    let cases: [(&[u8], &str); 6] = [
        (br#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read","opne"],"action":"SCMP_ACT_ALLOW"}]}"#,
         r#"syscalls[0].names[1]: unknown syscall "opne""#),
        (br#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALOW"}]}"#,
         "SCMP_ACT_ALOW"),
        (br#"{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_Z80"]}"#, "SCMP_ARCH_Z80"),
        (br#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","args":[{"index":6,"value":1,"op":"SCMP_CMP_EQ"}]}]}"#,
         "syscalls[0].args[0].index"),
        (br#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":1,"op":"SCMP_CMP_ALMOST"}]}]}"#,
         "SCMP_CMP_ALMOST"),
        (br#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_NOTIFY"}]}"#,
         "listenerPath"),
    ];
    for (text, needle) in cases {
        let (out, _dir) = bad_profile(text);
        out.assert_code(125);
        assert!(
            out.stderr.contains(needle),
            "want {needle:?} in {}",
            out.stderr
        );
        assert!(out.stderr.contains("profile.json"), "{}", out.stderr);
    }
}

#[test]
fn syscalls_unknown_to_libseccomp_are_warnings_not_errors() {
    // mseal is a real syscall (Linux 6.10) that libseccomp 2.5 does not know: runc warns and goes on.
    let (out, _dir) = bad_profile(br#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mseal"],"action":"SCMP_ACT_ERRNO"}]}"#);
    out.assert_code(0);
    assert!(
        out.stderr.contains("warning") && out.stderr.contains("mseal"),
        "{}",
        out.stderr
    );
}

#[test]
fn garbage_profiles_never_panic() {
    let cases: [&[u8]; 9] = [
        b"",
        b"\xff\xfe\x00garbage",
        b"[]",
        b"null",
        b"{\"defaultAction\": 5}",
        b"{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"defaultErrnoRet\":-1}",
        b"{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"defaultErrnoRet\":99999999999999999999}",
        b"{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":[{\"names\":[\"\"],\"action\":\"SCMP_ACT_ALLOW\"}]}",
        b"{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"architectures\":[\"SCMP_ARCH_X86_64\"],\"archMap\":[{\"architecture\":\"SCMP_ARCH_X86_64\"}]}",
    ];
    for text in cases {
        let (out, _dir) = bad_profile(text);
        out.assert_code(125);
        assert!(
            out.stderr.contains("profile.json"),
            "{:?}: {}",
            String::from_utf8_lossy(text),
            out.stderr
        );
    }
}

#[test]
fn missing_paths_are_named() {
    for (args, needle) in [
        (
            vec!["run", "--seccomp", "/no/such/profile.json", "--", "true"],
            "/no/such/profile.json",
        ),
        (
            vec!["run", "--rootfs", "/no/such/rootfs", "--", "true"],
            "--rootfs /no/such/rootfs",
        ),
        (
            vec!["run", "--rw", "/no/such/dir", "--", "true"],
            "--rw /no/such/dir",
        ),
        (
            vec!["run", "--ro", "/no/such/ro", "--", "true"],
            "--ro /no/such/ro",
        ),
        (
            vec!["run", "--cwd", "/no/such/cwd", "--", "true"],
            "--cwd /no/such/cwd",
        ),
    ] {
        let out = syscage_run(&args);
        out.assert_code(125);
        assert!(
            out.stderr.contains(needle),
            "want {needle:?} in {}",
            out.stderr
        );
    }
}

/// Replaces the BPF program of a cache entry (format in src/sandbox/filter_cache.rs) with one
/// that allows everything.
fn swap_in_allow_all(entry: &Path) {
    let bytes = std::fs::read(entry).unwrap();
    let magic = b"SYSCAGE-BPF-2\n".len();
    let mut at = magic;
    let u64_at = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap()) as usize;
    at += 8 + u64_at(at); // key
    at += 8; // load flags
    at += 8 + u64_at(at); // summary
    let warnings = u64_at(at);
    at += 8;
    for _ in 0..warnings {
        at += 8 + u64_at(at);
    }
    let mut out = bytes[..at].to_vec();
    // BPF_RET|BPF_K SECCOMP_RET_ALLOW
    let allow: [u8; 8] = [0x06, 0, 0, 0, 0, 0, 0xff, 0x7f];
    out.extend_from_slice(&(allow.len() as u64).to_le_bytes());
    out.extend_from_slice(&allow);
    std::fs::write(entry, out).unwrap();
}

#[test]
fn compiled_filters_are_cached_and_an_untrusted_cache_is_ignored() {
    use std::os::unix::fs::PermissionsExt;
    let cache = TempDir::new("cache");
    std::fs::set_permissions(cache.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    let run = || {
        let mut cmd = syscage_cmd();
        cmd.env("SYSCAGE_CACHE_DIR", cache.path()).args([
            "run",
            "--",
            probe().to_str().unwrap(),
            "syscall",
            "keyctl",
        ]);
        run_command(cmd)
    };
    assert_eq!(run().assert_code(0).line("keyctl"), "keyctl: EPERM");
    let entries: Vec<_> = std::fs::read_dir(cache.path())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(entries.len(), 1, "one compiled program cached");
    let entry = &entries[0];

    // A truncated entry does not decode: it is recompiled, never loaded half.
    let bytes = std::fs::read(entry).unwrap();
    std::fs::write(entry, &bytes[..bytes.len() - 3]).unwrap();
    assert_eq!(run().assert_code(0).line("keyctl"), "keyctl: EPERM");
    assert_eq!(
        std::fs::read(entry).unwrap(),
        bytes,
        "the entry was rewritten whole"
    );

    // An allow-all program in an entry that others could have written is not trusted...
    swap_in_allow_all(entry);
    std::fs::set_permissions(entry, std::fs::Permissions::from_mode(0o666)).unwrap();
    assert_eq!(run().assert_code(0).line("keyctl"), "keyctl: EPERM");
    // ...and neither is one in a directory others can write to.
    swap_in_allow_all(entry);
    std::fs::set_permissions(entry, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::set_permissions(cache.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    assert_eq!(run().assert_code(0).line("keyctl"), "keyctl: EPERM");
    // Control: the same entry in a private cache is used, which shows the cache is really read.
    std::fs::set_permissions(cache.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    assert_ne!(run().assert_code(0).line("keyctl"), "keyctl: EPERM");
}

/// `run --monitor/--learn` compile their routed program once too, one entry per mode: the
/// second start reads it (shown by swapping an allow-all program into the entry).
#[test]
fn monitor_and_learn_filters_are_cached_per_mode() {
    use std::os::unix::fs::PermissionsExt;
    let cache = TempDir::new("wcache");
    std::fs::set_permissions(cache.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    let profile = fixture("docker-default-seccomp.json");
    let run = |mode: &[&str]| {
        let mut cmd = syscage_cmd();
        cmd.env("SYSCAGE_CACHE_DIR", cache.path())
            .args(["run", "--seccomp", profile.to_str().unwrap()])
            .args(mode)
            .args(["--", probe().to_str().unwrap(), "syscall", "keyctl"]);
        run_command(cmd)
    };
    let entries = || -> Vec<std::path::PathBuf> {
        let mut v: Vec<_> = std::fs::read_dir(cache.path())
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .collect();
        v.sort();
        v
    };
    let monitor = ["--monitor", "-"];
    let first = run(&monitor);
    assert_eq!(first.assert_code(0).line("keyctl"), "keyctl: EPERM");
    assert!(
        first.stderr.contains("\"syscall\":\"keyctl\""),
        "{}",
        first.stderr
    );
    let after_monitor = entries();
    assert_eq!(after_monitor.len(), 1, "one compiled program cached");
    let again = run(&monitor);
    assert_eq!(again.assert_code(0).line("keyctl"), "keyctl: EPERM");
    assert!(
        again.stderr.contains("\"syscall\":\"keyctl\""),
        "{}",
        again.stderr
    );
    assert_eq!(entries(), after_monitor, "the second start compiled anew");
    let out = TempDir::new("wcachedelta");
    let delta = out.join("delta.rec");
    run(&["--learn", delta.to_str().unwrap()]).assert_code(0);
    assert_eq!(entries().len(), 2, "learn mode has an entry of its own");
    // Control: the monitor's entry is what the next start loads.
    swap_in_allow_all(&after_monitor[0]);
    let swapped = run(&monitor);
    assert_ne!(swapped.assert_code(0).line("keyctl"), "keyctl: EPERM");
}
