//! What a recorded profile refuses, what `record` guarantees about the workload's life, its exit
//! statuses and bad input, and recording as an unprivileged user.

mod common;

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use common::*;

fn record_probe(dir: &TempDir, backend: &str, probe_args: &[&str]) -> std::path::PathBuf {
    let profile = dir.join(&format!("{backend}.json"));
    let mut c = clean_command(syscage());
    c.args(["record", "-q", "--backend", backend, "-o"])
        .arg(&profile)
        .arg("--")
        .arg(probe())
        .args(probe_args);
    run_command(c).assert_code(0);
    profile
}

#[test]
fn a_recorded_probe_cannot_make_one_extra_syscall() {
    let dir = TempDir::new("sec");
    for backend in ["notify", "ptrace", "ebpf"] {
        // Benign mode: one harmless syscall. Each attack mode differs by exactly one syscall.
        let profile = record_probe(&dir, backend, &["syscall", "getppid"]);
        let benign = probe_run(
            &["--seccomp", profile.to_str().unwrap()],
            &["syscall", "getppid"],
        );
        assert_eq!(
            benign.assert_code(0).line("getppid"),
            "getppid: ok",
            "{backend}: the benign mode runs"
        );
        for attack in PROBE_ATTACKS {
            let out = probe_run(
                &["--seccomp", profile.to_str().unwrap()],
                &["syscall", attack],
            );
            out.assert_code(0);
            assert_eq!(
                out.line(&format!("{attack}:")),
                format!("{attack}: EPERM"),
                "{backend}: {attack}"
            );
            // Control: without the profile the same call is not refused by seccomp.
            let open = probe_run(&["--seccomp", "unconfined"], &["syscall", attack]);
            if matches!(attack, "keyctl" | "ptrace" | "netlink") {
                assert_ne!(
                    open.line(&format!("{attack}:")),
                    format!("{attack}: EPERM"),
                    "control for {attack}"
                );
            }
        }
        // The workload was 64-bit only: its profile lists only x86_64, so int 0x80 is killed.
        let out = probe_run(
            &["--seccomp", profile.to_str().unwrap()],
            &["int80", "getpid"],
        );
        out.assert_code(128 + libc::SIGSYS);
        assert!(!out.stdout.contains("int80"), "{}", out.stdout);
    }
}

#[test]
fn int80_is_recorded_under_its_i386_name_and_its_abi() {
    let dir = TempDir::new("i386");
    let profile = dir.join("p.json");
    let mut sets = Vec::new();
    for backend in ["ebpf", "notify", "ptrace"] {
        let rec = dir.join(&format!("{backend}.rec"));
        let mut c = clean_command(syscage());
        c.args(["record", "-q", "--backend", backend, "-o"])
            .arg(&profile)
            .arg("--recording")
            .arg(&rec)
            .arg("--")
            .arg(probe())
            .args(["int80", "getpid", "getppid"]);
        run_command(c).assert_code(0);
        let names = recorded_names(&rec);
        // i386 20 and 64 are getpid and getppid; the x86_64 table would say writev and semget.
        assert!(
            names.contains(&("i386".into(), "getpid".into())),
            "{backend}: {names:?}"
        );
        assert!(
            names.contains(&("i386".into(), "getppid".into())),
            "{backend}: {names:?}"
        );
        assert!(!names.contains(&("i386".into(), "writev".into())));
        sets.push(names);
    }
    assert_eq!(sets[0], sets[1], "ebpf and notify record the same set");
    assert_eq!(sets[1], sets[2], "notify and ptrace record the same set");
    let text = std::fs::read_to_string(&profile).unwrap();
    assert!(
        text.contains("SCMP_ARCH_X86\""),
        "the i386 ABI is listed: {text}"
    );
    // And the profile runs it.
    let out = probe_run(
        &["--seccomp", profile.to_str().unwrap()],
        &["int80", "getpid", "getppid"],
    );
    assert_eq!(
        out.assert_code(0).line("int80 getppid"),
        "int80 getppid: ok"
    );
}

#[test]
fn killing_syscage_mid_recording_leaves_no_workload_behind() {
    let dir = TempDir::new("kill");
    for (i, backend) in ["notify", "ptrace", "ebpf"].iter().enumerate() {
        let marker = format!("{}.{}5", 70000 + std::process::id() % 9000, i);
        let _guard = KillOnDrop(marker.clone());
        let mut child = clean_command(syscage())
            .args(["record", "-q", "--backend", backend, "-o"])
            .arg(dir.join("k.json"))
            .args([
                "--",
                "/usr/bin/dash",
                "-c",
                &format!("sleep {marker} & sleep {marker} & echo ready; wait"),
            ])
            .stdout(Stdio::piped())
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "ready");
        // Control: the background sleeps run (they may exec a moment after "ready").
        wait_for_process_with_arg(&marker, false, "control: the workload never ran");
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(child.id() as i32),
            nix::sys::signal::Signal::SIGKILL,
        )
        .unwrap();
        child.wait().unwrap();
        wait_for_process_with_arg(
            &marker,
            true,
            &format!("{backend}: the workload outlived syscage's SIGKILL"),
        );
    }
}

#[test]
fn signals_are_forwarded_and_statuses_pass_through() {
    let dir = TempDir::new("sig");
    let p = dir.join("p.json");
    let ps = p.to_str().unwrap();
    for backend in ["notify", "ptrace", "ebpf"] {
        syscage_run(&[
            "record",
            "-q",
            "--backend",
            backend,
            "-o",
            ps,
            "--",
            "/usr/bin/dash",
            "-c",
            "exit 7",
        ])
        .assert_code(7);
        syscage_run(&[
            "record",
            "-q",
            "--backend",
            backend,
            "-o",
            ps,
            "--",
            "/usr/bin/dash",
            "-c",
            "kill -KILL $$",
        ])
        .assert_code(137);
        let nf = syscage_run(&[
            "record",
            "-q",
            "--backend",
            backend,
            "-o",
            ps,
            "--",
            "no-such-command-r",
        ]);
        nf.assert_code(127);
        let mut child = clean_command(syscage())
            .args(["record", "-q", "--backend", backend, "-o", ps, "--", "/usr/bin/python3", "-u", "-c",
                "import signal, sys, time\nsignal.signal(signal.SIGUSR1, lambda *a: sys.exit(42))\nprint('ready')\ntime.sleep(60)"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "ready");
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(child.id() as i32),
            nix::sys::signal::Signal::SIGUSR1,
        )
        .unwrap();
        assert_eq!(child.wait().unwrap().code(), Some(42), "{backend}");
        assert!(
            allowed_names(&p).contains("rt_sigreturn"),
            "{backend}: the handler's return was recorded"
        );
    }
}

#[test]
fn unwritable_output_is_reported_before_the_workload_starts() {
    let dir = TempDir::new("out");
    let marker = dir.join("workload-ran");
    let touch = format!("touch {}", marker.display());
    for args in [
        vec![
            "record",
            "-o",
            "/no/such/dir/p.json",
            "--",
            "/usr/bin/dash",
            "-c",
            &touch,
        ],
        vec![
            "record",
            "-o",
            dir.str(),
            "--",
            "/usr/bin/dash",
            "-c",
            &touch,
        ],
        vec![
            "record",
            "-o",
            "/var/tmp/x.json",
            "--recording",
            "/no/such/r.json",
            "--",
            "/usr/bin/dash",
            "-c",
            &touch,
        ],
        vec![
            "record",
            "-o",
            "/var/tmp/x.json",
            "--runtime",
            "docker",
            "--",
            "/usr/bin/dash",
            "-c",
            &touch,
        ],
    ] {
        let out = syscage_run(&args);
        out.assert_code(125);
        assert!(!marker.exists(), "the workload must not run: {args:?}");
        assert!(
            out.stderr.contains("/no/such")
                || out.stderr.contains(dir.str())
                || out.stderr.contains("--runtime docker"),
            "{}",
            out.stderr
        );
    }
    assert!(!std::path::Path::new("/var/tmp/x.json").exists());
}

#[test]
fn profiles_are_deterministic_and_written_atomically() {
    let dir = TempDir::new("det");
    let a = dir.join("a.json");
    let b = dir.join("b.json");
    for p in [&a, &b] {
        let mut c = clean_command(syscage());
        c.args(["record", "-q", "-o"]).arg(p).args([
            "--",
            "/usr/bin/ls",
            "/usr/share/common-licenses",
        ]);
        run_command(c).assert_code(0);
    }
    assert_eq!(
        std::fs::read(&a).unwrap(),
        std::fs::read(&b).unwrap(),
        "same set, same bytes"
    );
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 2, "no temporary files left: {names:?}");
    let text = std::fs::read_to_string(&a).unwrap();
    assert!(
        text.contains("\"comment\": \"x86_64: "),
        "a comment per syscall: {text}"
    );
    assert!(
        text.contains("\"errnoRet\": 38"),
        "ENOSYS for unused libc fallbacks"
    );
    assert!(text.contains("\"exit_group\""));
}

#[test]
fn unprivileged_users_can_record() {
    let user = TestUser::new(true);
    let out_dir = TempDir::new("urec");
    nix::unistd::chown(out_dir.path(), Some(user.uid().into()), None).unwrap();
    let profile = out_dir.join("p.json");
    for backend in ["notify", "ptrace"] {
        let out = user.run(&[
            "record",
            "--backend",
            backend,
            "-o",
            profile.to_str().unwrap(),
            "--",
            "/usr/bin/id",
            "-u",
        ]);
        out.assert_code(0);
        // The workload sees its own uid, as without syscage.
        assert_eq!(out.stdout.trim(), user.uid().to_string(), "{backend}");
        assert!(out.stderr.contains("recorded"), "{}", out.stderr);
        assert!(
            allowed_names(&profile).contains("getuid")
                || allowed_names(&profile).contains("geteuid")
        );
    }
    let out = user.run(&[
        "run",
        "--seccomp",
        profile.to_str().unwrap(),
        "--",
        "/usr/bin/id",
        "-u",
    ]);
    assert_eq!(
        out.assert_code(0).stdout.trim(),
        "0",
        "root inside the run sandbox"
    );
    // eBPF needs root: auto falls back to notify and says why; asked for, it is refused before
    // the workload starts.
    let out = user.run(&[
        "record",
        "-o",
        profile.to_str().unwrap(),
        "--",
        "/usr/bin/id",
        "-u",
    ]);
    out.assert_code(0);
    assert!(
        out.stderr
            .contains("with the notify backend (auto: eBPF unavailable: needs root"),
        "{}",
        out.stderr
    );
    let marker = out_dir.join("ran");
    let out = user.run(&[
        "record",
        "--backend",
        "ebpf",
        "-o",
        profile.to_str().unwrap(),
        "--",
        "/usr/bin/touch",
        marker.to_str().unwrap(),
    ]);
    out.assert_code(125);
    assert!(
        out.stderr.contains("--backend ebpf: needs root"),
        "{}",
        out.stderr
    );
    assert!(!marker.exists(), "the workload must not start");
}

#[test]
fn args_profiles_narrow_socket_families_and_clone_flags_and_still_run_everywhere() {
    let dir = TempDir::new("args");
    let script = "import socket, threading\n\
        a = socket.socket(socket.AF_UNIX); b = socket.socket(socket.AF_INET)\n\
        t = threading.Thread(target=print, args=('thread ok',)); t.start(); t.join()\n";
    let args = ["/usr/bin/python3".to_string(), "-c".into(), script.into()];
    let narrow = dir.join("args.json");
    let wide = dir.join("wide.json");
    for (p, extra) in [(&narrow, Some("--args")), (&wide, None)] {
        let mut c = clean_command(syscage());
        c.args(["record", "-q"])
            .args(extra)
            .arg("-o")
            .arg(p)
            .arg("--")
            .args(&args);
        assert_eq!(run_command(c).assert_code(0).stdout, "thread ok\n");
    }
    // The narrowed profile runs the workload under syscage run, crun and runc.
    let mut c = clean_command(syscage());
    c.args(["run", "--seccomp"])
        .arg(&narrow)
        .arg("--")
        .args(&args);
    assert_eq!(run_command(c).assert_code(0).stdout, "thread ok\n");
    for runtime in ["crun", "runc"] {
        let out = Bundle::new(runtime, &args, &narrow, false).run();
        assert_eq!(
            (out.code, out.stdout.as_str()),
            (0, "thread ok\n"),
            "{runtime}: {}",
            out.stderr
        );
    }
    // Families the workload never opened are denied; the wide profile (control) allows them.
    let families = "import socket\n\
        for fam, typ in ((16, 3), (2, 2), (1, 1), (2, 1)):\n\
        \x20   try: socket.socket(fam, typ); print(fam, typ, 'ok')\n\
        \x20   except OSError as e: print(fam, typ, e.errno)\n";
    let run = |p: &std::path::Path| {
        let mut c = clean_command(syscage());
        c.args(["run", "--seccomp"])
            .arg(p)
            .args(["--", "/usr/bin/python3", "-c", families]);
        run_command(c).assert_code(0).stdout.clone()
    };
    assert_eq!(
        run(&narrow),
        "16 3 1\n2 2 1\n1 1 ok\n2 1 ok\n",
        "netlink and UDP denied (EPERM)"
    );
    assert_eq!(run(&wide), "16 3 ok\n2 2 ok\n1 1 ok\n2 1 ok\n");
    let text = std::fs::read_to_string(&narrow).unwrap();
    assert!(text.contains("\"clone3\"") && text.contains("\"errnoRet\": 38"));
}

#[test]
fn args_profiles_refuse_clone_with_namespace_flags() {
    let dir = TempDir::new("clone");
    let narrow = dir.join("args.json");
    let wide = dir.join("wide.json");
    for (p, extra) in [(&narrow, Some("--args")), (&wide, None)] {
        let mut c = clean_command(syscage());
        c.args(["record", "-q"])
            .args(extra)
            .arg("-o")
            .arg(p)
            .arg("--")
            .arg(probe())
            .args(["syscall", "fork"]);
        run_command(c).assert_code(0);
    }
    let ok = probe_run(
        &["--seccomp", narrow.to_str().unwrap()],
        &["syscall", "fork"],
    );
    assert_eq!(ok.assert_code(0).line("fork"), "fork: ok");
    let denied = probe_run(
        &["--seccomp", narrow.to_str().unwrap()],
        &["syscall", "clone-newuser"],
    );
    assert_eq!(
        denied.assert_code(0).line("clone-newuser"),
        "clone-newuser: EPERM"
    );
    // Without --args too: the workload created no namespace, so its clone is allowed only
    // without namespace flags, as in Docker's default (issue 14).
    let plain = probe_run(
        &["--seccomp", wide.to_str().unwrap()],
        &["syscall", "fork", "clone-newuser"],
    );
    assert_eq!(plain.assert_code(0).line("fork"), "fork: ok");
    assert_eq!(plain.line("clone-newuser"), "clone-newuser: EPERM");
    // Control: a workload that does create one gets a profile that lets it, with every backend
    // (eBPF keeps clone's namespace flags even without --args).
    for backend in ["ebpf", "notify", "ptrace"] {
        let own = dir.join(&format!("newuser-{backend}.json"));
        let mut c = clean_command(syscage());
        c.args(["record", "-q", "--backend", backend, "-o"])
            .arg(&own)
            .arg("--")
            .arg(probe())
            .args(["syscall", "clone-newuser"]);
        run_command(c).assert_code(0);
        let control = probe_run(
            &["--seccomp", own.to_str().unwrap()],
            &["syscall", "clone-newuser"],
        );
        assert_eq!(
            control.assert_code(0).line("clone-newuser"),
            "clone-newuser: ok",
            "{backend}"
        );
    }
}
