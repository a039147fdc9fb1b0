//! `syscage hook` with the real runtimes: a container declaring the hook is recorded, the profile
//! is written at poststop, and the same container then runs under that profile with a syscall
//! outside it denied. crun, runc (hooks in config.json) and podman (hooks.d + annotation).

mod common;

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// A bundle running `probe ARGS` (the probe copied into the busybox root), optionally declaring
/// the hook (with `--output-dir OUT`) and carrying `annotations`.
fn probe_bundle(
    runtime: &'static str,
    probe_args: &[&str],
    hook_out: Option<&Path>,
    annotations: &[(&str, String)],
) -> Bundle {
    let mut args = vec!["/bin/probe".to_string()];
    args.extend(probe_args.iter().map(|s| s.to_string()));
    args_bundle(runtime, args, hook_out, annotations)
}

fn hook_entry(out: &Path) -> serde_json::Value {
    serde_json::json!({
        "path": syscage_inside().to_str().unwrap(),
        "args": ["syscage", "hook", "--output-dir", out.to_str().unwrap()],
    })
}

fn args_bundle(
    runtime: &'static str,
    args: Vec<String>,
    hook_out: Option<&Path>,
    annotations: &[(&str, String)],
) -> Bundle {
    let dir = TempDir::new("open");
    let open = dir.join("open.json");
    std::fs::write(&open, r#"{"defaultAction":"SCMP_ACT_ALLOW"}"#).unwrap();
    let bundle = Bundle::new(runtime, &args, &open, false);
    std::fs::copy(probe(), bundle.dir.join("rootfs/bin/probe")).unwrap();
    bundle.edit_config(|v| {
        v["linux"].as_object_mut().unwrap().remove("seccomp");
        if let Some(out) = hook_out {
            let h = hook_entry(out);
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

/// Every file beneath `dir` (relative paths), symlinks not followed.
fn tree(dir: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            out.insert(p.strip_prefix(dir).unwrap().display().to_string());
            if e.file_type().unwrap().is_dir() {
                todo.push(p);
            }
        }
    }
    out
}

#[test]
fn crun_and_runc_record_through_the_hook_and_enforce_the_result() {
    for runtime in ["crun", "runc"] {
        let out_dir = TempDir::new("hookout");
        let bundle = probe_bundle(
            runtime,
            &["syscall", "getppid"],
            Some(out_dir.path()),
            &[
                ("io.syscage.record", "app/recorded.json".into()),
                (
                    "io.syscage.record.apparmor",
                    out_dir.join("recorded.apparmor").display().to_string(),
                ),
                ("io.syscage.record.recording", "app/recorded.rec".into()),
            ],
        );
        let out = bundle.run();
        assert_eq!(
            out.assert_code(0).line("getppid"),
            "getppid: ok",
            "{runtime}: {}",
            out.stderr
        );
        let profile = out_dir.join("app/recorded.json");
        assert!(
            profile.exists(),
            "{runtime}: the hook wrote no profile: {}",
            out.stderr
        );
        // The raw recording too, which report reads.
        let rec = out_dir.join("app/recorded.rec");
        let report = syscage_run(&["report", rec.to_str().unwrap()]);
        assert!(
            report.assert_code(0).stdout.contains("getppid"),
            "{runtime}: {}",
            report.stdout
        );
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&profile), 0o600, "profiles are private");
        assert_eq!(mode(&out_dir.join("app")), 0o700);
        // The AppArmor profile names paths as the container sees them: its program, run.
        let aa = std::fs::read_to_string(out_dir.join("recorded.apparmor")).unwrap();
        assert!(aa.contains("  /bin/probe rmix,"), "{runtime}:\n{aa}");
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
            let b = probe_bundle(runtime, args, None, &[]);
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
        let out = probe_bundle(runtime, &["syscall", "keyctl"], None, &[]).run();
        assert_ne!(out.assert_code(0).line("keyctl"), "keyctl: EPERM");
    }
}

#[test]
fn the_hook_does_nothing_without_the_annotation() {
    let out_dir = TempDir::new("noann");
    let bundle = probe_bundle("crun", &["syscall", "getppid"], Some(out_dir.path()), &[]);
    let out = bundle.run();
    assert_eq!(out.assert_code(0).line("getppid"), "getppid: ok");
    assert!(tree(out_dir.path()).is_empty());
}

/// Annotations come from whoever creates the container; the hook runs as root. Nothing they
/// name outside the output directory is written or read, and the container still runs.
#[test]
fn annotations_cannot_make_the_hook_write_or_read_outside_its_output_dir() {
    let area = TempDir::new("confine");
    let out_dir = area.join("out");
    let elsewhere = area.join("elsewhere");
    std::fs::create_dir(&out_dir).unwrap();
    std::fs::create_dir(&elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, out_dir.join("link")).unwrap();
    std::os::unix::fs::symlink(elsewhere.join("f.json"), out_dir.join("flink.json")).unwrap();
    nix::unistd::mkfifo(
        &out_dir.join("fifo.json"),
        nix::sys::stat::Mode::from_bits_truncate(0o600),
    )
    .unwrap();
    std::fs::write(
        elsewhere.join("base.json"),
        r#"{"defaultAction":"SCMP_ACT_ALLOW"}"#,
    )
    .unwrap();
    let victim = format!("/etc/{}.json", unique("syscage-victim"));
    let escape = format!("../../{}.json", unique("syscage-escape"));
    let escape_target = area
        .path()
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join(&escape[6..]);
    let before_out = tree(&out_dir);
    let before_elsewhere = tree(&elsewhere);
    let before_area_parent = tree(area.path().parent().unwrap());
    let cases: Vec<(&str, String)> = vec![
        ("io.syscage.record", victim.clone()),
        ("io.syscage.record", "/etc/cron.d/syscage-victim".into()),
        ("io.syscage.record", escape.clone()),
        (
            "io.syscage.record",
            format!("{}/../x.json", out_dir.display()),
        ),
        ("io.syscage.record", "link/p.json".into()),
        ("io.syscage.record", "flink.json".into()),
        ("io.syscage.record", "fifo.json".into()),
        ("io.containers.trace-syscall", "of:/etc/x.json".into()),
        (
            "io.containers.trace-syscall",
            format!("if:{};of:ok.json", elsewhere.join("base.json").display()),
        ),
        (
            "io.containers.trace-syscall",
            "if:link/base.json;of:ok.json".into(),
        ),
        (
            "io.containers.trace-syscall",
            "if:/etc/shadow;of:ok.json".into(),
        ),
    ];
    let logs = TempDir::new("hooklog");
    for (i, (key, value)) in cases.into_iter().enumerate() {
        for runtime in ["crun", "runc"] {
            // crun keeps hooks' stderr only where this annotation says; runc shows it only
            // when a hook fails.
            let log = logs.join(&format!("{i}.log"));
            let b = probe_bundle(
                runtime,
                &["syscall", "getppid"],
                Some(&out_dir),
                &[
                    (key, value.clone()),
                    ("run.oci.hooks.stderr", log.display().to_string()),
                ],
            );
            let out = b.run();
            assert_eq!(
                out.assert_code(0).line("getppid"),
                "getppid: ok",
                "{runtime} {key}={value}: the container must run: {}",
                out.stderr
            );
            if runtime == "crun" {
                let said = std::fs::read_to_string(&log).unwrap_or_default();
                assert!(
                    said.contains("not recording") && said.contains(key),
                    "{key}={value}: the refusal is said: {said}"
                );
            }
        }
    }
    assert!(!Path::new(&victim).exists(), "{victim} was written");
    assert!(!Path::new("/etc/cron.d/syscage-victim").exists());
    assert!(
        !escape_target.exists(),
        "{} was written",
        escape_target.display()
    );
    assert_eq!(
        tree(&out_dir),
        before_out,
        "nothing written in the output dir"
    );
    assert_eq!(
        tree(&elsewhere),
        before_elsewhere,
        "nothing written through the symlink"
    );
    let mut after_parent = tree(area.path().parent().unwrap());
    let mut before_parent = before_area_parent;
    // Other tests run in parallel in the same parent: compare only this test's names.
    let mine = |s: &String| {
        s.contains("syscage-escape")
            || s.starts_with(area.path().file_name().unwrap().to_str().unwrap())
    };
    after_parent.retain(mine);
    before_parent.retain(mine);
    assert_eq!(after_parent, before_parent);
}

#[test]
fn oci_seccomp_bpf_hook_annotation_with_a_baseline() {
    let out_dir = TempDir::new("tracesyscall");
    std::fs::write(out_dir.join("base.json"), r#"{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86_64"],"syscalls":[{"names":["sync"],"action":"SCMP_ACT_ALLOW"}]}"#).unwrap();
    let bundle = probe_bundle(
        "runc",
        &["syscall", "getppid"],
        Some(out_dir.path()),
        &[(
            "io.containers.trace-syscall",
            format!("if:base.json;of:{}", out_dir.join("p.json").display()),
        )],
    );
    bundle.run().assert_code(0);
    let allowed = allowed_names(&out_dir.join("p.json"));
    assert!(allowed.contains("sync"), "the baseline is extended");
    assert!(allowed.contains("getppid"));
}

/// Both shipped hooks.d files match a container carrying both annotations: the hook runs twice
/// at each stage. The runtime must not hang; one recorder serves both outputs.
#[test]
fn a_hook_listed_twice_never_holds_the_runtime() {
    for runtime in ["crun", "runc"] {
        let out_dir = TempDir::new("twice");
        let bundle = probe_bundle(
            runtime,
            &["syscall", "getppid"],
            None,
            &[
                ("io.syscage.record", "a.json".into()),
                ("io.containers.trace-syscall", "of:b.json".into()),
            ],
        );
        let h = hook_entry(out_dir.path());
        bundle.edit_config(|v| {
            v["hooks"] = serde_json::json!({
                "prestart": [h.clone(), h.clone()],
                "poststop": [h.clone(), h],
            });
        });
        let started = Instant::now();
        let out = bundle.run();
        let took = started.elapsed();
        assert_eq!(
            out.assert_code(0).line("getppid"),
            "getppid: ok",
            "{runtime}: {}",
            out.stderr
        );
        assert!(took < Duration::from_secs(15), "{runtime}: took {took:?}");
        for f in ["a.json", "b.json"] {
            let names = allowed_names(&out_dir.join(f));
            assert!(names.contains("getppid"), "{runtime}: {f}: {names:?}");
        }
    }
}

fn tracer_of(pid: u32) -> u32 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("TracerPid:"))
        .map(|v| v.trim().parse().unwrap())
        .unwrap_or(0)
}

fn pid_with_arg(arg: &str) -> u32 {
    host_pid_with_arg(arg).unwrap_or_else(|| panic!("no process with argument {arg}"))
}

/// The recorder of a container: its pid, kept by the hook in its state directory.
fn recorder_of(container_id: &str) -> u32 {
    let f = format!("/run/syscage/hooks/{container_id}.pid");
    std::fs::read_to_string(&f)
        .unwrap_or_else(|e| panic!("{f}: {e}"))
        .trim()
        .parse()
        .unwrap()
}

/// SIGTERM to the recorder: it stops recording (ptrace: detaches; eBPF: drops its program), the
/// container runs on untraced, what was recorded is written as FILE.partial, and the runtime
/// finishes normally.
#[test]
fn a_recorder_stopped_by_sigterm_detaches_and_leaves_a_partial_profile() {
    for (runtime, backend) in [
        ("crun", "ptrace"),
        ("runc", "ptrace"),
        ("crun", "ebpf"),
        ("runc", "ebpf"),
    ] {
        let out_dir = TempDir::new("partial");
        let marker = format!("{}", 500000 + std::process::id() % 400000);
        let _cleanup = KillOnDrop(marker.clone());
        let bundle = args_bundle(
            runtime,
            vec![
                "/bin/sh".into(),
                "-c".into(),
                format!("/bin/probe syscall getppid; sleep {marker}; echo still-running"),
            ],
            None,
            &[("io.syscage.record", "p.json".into())],
        );
        let mut h = hook_entry(out_dir.path());
        h["args"]
            .as_array_mut()
            .unwrap()
            .extend([backend.into(), backend.into()]);
        h["args"][4] = "--backend".into();
        bundle.edit_config(|v| {
            v["hooks"] = serde_json::json!({"createRuntime": [h.clone()], "poststop": [h]});
        });
        let mut cmd = bundle.command();
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let child = cmd.spawn().unwrap();
        wait_for_process_with_arg(&marker, false, "the container's sleep never started");
        let sleeper = pid_with_arg(&marker);
        let recorder = recorder_of(&bundle.id);
        if backend == "ptrace" {
            assert_eq!(
                tracer_of(sleeper),
                recorder,
                "{runtime}: the container is traced"
            );
        }
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(recorder as i32),
            nix::sys::signal::Signal::SIGTERM,
        )
        .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while tracer_of(sleeper) != 0 || Path::new(&format!("/proc/{recorder}")).exists() {
            assert!(
                Instant::now() < deadline,
                "{runtime} {backend}: the recorder did not detach and exit"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(
            host_has_process_with_arg(&marker),
            "{runtime} {backend}: the container keeps running"
        );
        let partial = out_dir.join("p.json.partial");
        assert!(
            partial.exists(),
            "{runtime} {backend}: {:?}",
            tree(out_dir.path())
        );
        assert!(
            !out_dir.join("p.json").exists(),
            "a partial profile is never taken for a whole one"
        );
        assert!(
            allowed_names(&partial).contains("getppid"),
            "{runtime} {backend}"
        );
        // The container goes on to its end, untraced.
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(sleeper as i32),
            nix::sys::signal::Signal::SIGTERM,
        )
        .unwrap();
        let out = finish(child);
        assert_eq!(out.code, 0, "{runtime} {backend}: {}", out.stderr);
        assert!(out.stdout.contains("still-running"), "{}", out.stdout);
    }
}

#[test]
fn podman_records_through_hooks_d_and_enforces_the_result() {
    let work = TempDir::new("podman");
    // Removed when the test ends.
    let imported = PodmanImage::with_probe(&work, "syscage-hook");
    let image = imported.0.as_str();
    let hooks = work.join("hooks.d");
    std::fs::create_dir(&hooks).unwrap();
    let shipped = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/hooks/syscage-record.json"
    ))
    .unwrap();
    let out_dir = work.join("profiles");
    std::fs::write(
        hooks.join("syscage-record.json"),
        shipped
            .replace("/usr/local/bin/syscage", syscage_inside().to_str().unwrap())
            .replace("/var/lib/syscage", out_dir.to_str().unwrap()),
    )
    .unwrap();
    let profile = out_dir.join("podman.json");
    let base = PODMAN_RUN;
    let annotation = "io.syscage.record=podman.json".to_string();
    let mut args: Vec<&str> = base.to_vec();
    args.extend([
        "--hooks-dir",
        hooks.to_str().unwrap(),
        "--annotation",
        &annotation,
        image,
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
        args.extend(["--security-opt", &sec, image, "/bin/probe"]);
        args.extend(probe_args);
        let out = podman(&args);
        assert_eq!(out.assert_code(0).line(line), expect, "{}", out.stderr);
    }
}

/// Runs `syscage hook --stage STAGE` directly with `state` on stdin, with every signal blocked as
/// a runtime may leave them; returns the running hook.
fn spawn_hook(
    out: &Path,
    stage: &str,
    backend: &str,
    state: &serde_json::Value,
) -> std::process::Child {
    use std::io::Write;
    use std::os::unix::process::CommandExt;
    let mut c = syscage_cmd();
    c.args([
        "hook",
        "--stage",
        stage,
        "--backend",
        backend,
        "--output-dir",
        out.to_str().unwrap(),
    ])
    .stdin(Stdio::piped())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        c.pre_exec(|| {
            let mut all: libc::sigset_t = std::mem::zeroed();
            libc::sigfillset(&mut all);
            libc::pthread_sigmask(libc::SIG_BLOCK, &all, std::ptr::null_mut());
            Ok(())
        });
    }
    let mut child = c.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(state.to_string().as_bytes())
        .unwrap();
    child
}

/// SIGTERM to a poststop hook still waiting for its recorder (here: a process of the container
/// outlives it) ends both within seconds, even though the hook was started with every signal
/// blocked; the workload runs on, untraced, and what was recorded is written as `.partial`.
#[test]
fn a_hook_stopped_by_sigterm_ends_its_recorder_and_itself_promptly() {
    for backend in ["ptrace", "ebpf"] {
        hook_stopped_by_sigterm(backend);
    }
}

fn hook_stopped_by_sigterm(backend: &str) {
    let out_dir = TempDir::new("hooksig");
    let marker = format!("{}", 100000 + std::process::id() % 400000);
    let _cleanup = KillOnDrop(marker.clone());
    struct Workload(std::process::Child);
    impl Drop for Workload {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    // Like a container's init: recorded from its exec on, which comes once the hook is done.
    let mut workload = Workload(
        Command::new("sh")
            .args([
                "-c",
                &format!("sleep 0.3; exec sh -c 'while :; do sleep 0.05; done; : {marker}'"),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut state = serde_json::json!({
        "ociVersion": "1.0.2",
        "id": unique("sigctr"),
        "status": "created",
        "pid": workload.0.id(),
        "bundle": "/",
        "annotations": {"io.syscage.record": "w.json"},
    });
    let start = finish(spawn_hook(out_dir.path(), "prestart", backend, &state));
    assert_eq!(start.code, 0, "{backend}: {}", start.stderr);
    std::thread::sleep(Duration::from_millis(600));
    if backend == "ptrace" {
        assert_ne!(tracer_of(workload.0.id()), 0, "the workload is traced");
    }
    state["status"] = serde_json::json!("stopped");
    let stop = spawn_hook(out_dir.path(), "poststop", backend, &state);
    std::thread::sleep(Duration::from_millis(300));
    let t = Instant::now();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(stop.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let out = finish(stop);
    assert!(
        t.elapsed() < Duration::from_secs(8),
        "{backend}: the hook took {:?} to end",
        t.elapsed()
    );
    assert!(out.stderr.contains("partial"), "{backend}: {}", out.stderr);
    let partial = out_dir.join("w.json.partial");
    let names = allowed_names(&partial);
    assert!(
        names.contains("clock_nanosleep") || names.contains("nanosleep"),
        "{backend}: {names:?}"
    );
    assert_eq!(tracer_of(workload.0.id()), 0, "the workload was detached");
    assert!(
        workload.0.try_wait().unwrap().is_none(),
        "{backend}: the workload runs on"
    );
}

/// Ids that differ only where the old state-file names replaced characters (`web.1`, `web_1`)
/// get state files of their own: the second container's poststop must not stop the first's
/// recorder (before, the first was left with only a `.partial` profile).
#[test]
fn containers_whose_ids_differ_only_in_punctuation_keep_their_own_recorders() {
    let out_dir = TempDir::new("idpair");
    let marker = format!("{}", 500000 + (std::process::id() + 7) % 400000);
    let _cleanup = KillOnDrop(marker.clone());
    let mut long = args_bundle(
        "crun",
        vec![
            "/bin/sh".into(),
            "-c".into(),
            // Not ending in the sleep: sh would exec it as the container's PID 1, which
            // ignores a SIGTERM from outside.
            format!("/bin/probe syscall getppid; sleep {marker}; echo done"),
        ],
        Some(out_dir.path()),
        &[("io.syscage.record", "dot.json".into())],
    );
    let base = unique("web");
    long.id = format!("{base}.1");
    let mut short = probe_bundle(
        "crun",
        &["syscall", "getppid"],
        Some(out_dir.path()),
        &[("io.syscage.record", "underscore.json".into())],
    );
    short.id = format!("{base}_1");
    let mut cmd = long.command();
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = cmd.spawn().unwrap();
    wait_for_process_with_arg(&marker, false, "the first container's sleep never started");
    // The second runs to its end (its poststop included) while the first is recorded.
    let out = short.run();
    assert_eq!(
        out.assert_code(0).line("getppid"),
        "getppid: ok",
        "{}",
        out.stderr
    );
    assert!(
        out_dir.join("underscore.json").exists(),
        "{:?}",
        tree(out_dir.path())
    );
    assert!(
        !out_dir.join("dot.json.partial").exists(),
        "the second container's poststop stopped the first one's recorder"
    );
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid_with_arg(&marker) as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let out = finish(child);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out_dir.join("dot.json").exists() && !out_dir.join("dot.json.partial").exists(),
        "the first container's whole profile: {:?}\n{}",
        tree(out_dir.path()),
        out.stderr
    );
    assert!(allowed_names(&out_dir.join("dot.json")).contains("getppid"));
}

/// The state of containers whose poststop hook never ran is removed by the next hook run once
/// they are gone: not while a recorder holds its lock, not while the container's init runs (the
/// same process: pid and start time), not within ten minutes of its last change.
#[test]
fn state_of_containers_gone_without_poststop_is_removed_at_the_next_hook_run() {
    // A state directory of the test's own: other tests' hooks sweep /run/syscage/hooks too.
    let state_dir = TempDir::new("hookstate");
    let dir = state_dir.path();
    let stems: Vec<String> = ["gone", "fresh", "running", "locked", "reused"]
        .iter()
        .map(|k| unique(&format!("sweep-{k}")))
        .collect();
    let [gone, fresh, running, locked, reused] = [0, 1, 2, 3, 4].map(|i| stems[i].as_str());
    let write = |stem: &str, ext: &str, text: &str| {
        std::fs::write(dir.join(format!("{stem}.{ext}")), text).unwrap();
    };
    // A pid no process has (reaped), and this test's own process as a running container.
    let mut exited = Command::new("/bin/true").spawn().unwrap();
    let dead = exited.id();
    exited.wait().unwrap();
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let start: u64 = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .nth(19)
        .unwrap()
        .parse()
        .unwrap();
    let me = std::process::id();
    for (stem, owner) in [
        (gone, format!("{dead} 1")),
        (fresh, format!("{dead} 1")),
        (running, format!("{me} {start}")),
        (locked, format!("{dead} 1")),
        // This process's pid with another start time: the pid was reused, the container is gone.
        (reused, format!("{me} {}", start + 1)),
    ] {
        write(stem, "owner", &owner);
        write(stem, "log", "syscage hook: cannot record container: ...\n");
        write(stem, "lock", "");
        write(stem, "result", "ok\n");
    }
    // All but `fresh` last changed an hour ago.
    for stem in [gone, running, locked, reused] {
        let mut c = Command::new("touch");
        c.args(["-d", "1 hour ago"]);
        for ext in ["owner", "log", "lock", "result"] {
            c.arg(dir.join(format!("{stem}.{ext}")));
        }
        run_command(c).assert_code(0);
    }
    // A recorder would hold the lock of `locked`.
    let holder = Command::new("flock")
        .arg(dir.join(format!("{locked}.lock")))
        .args(["sleep", "30"])
        .spawn()
        .unwrap();
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _holder = Kill(holder);
    let start_wait = Instant::now();
    while Command::new("flock")
        .args(["-n"])
        .arg(dir.join(format!("{locked}.lock")))
        .arg("true")
        .status()
        .unwrap()
        .success()
    {
        assert!(
            start_wait.elapsed() < Duration::from_secs(10),
            "flock never held the lock"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // Any hook run sweeps: a poststop of a container that was never recorded.
    let out = TempDir::new("hooksweep");
    let state = serde_json::json!({
        "ociVersion": "1.0.2",
        "id": unique("sweeper"),
        "status": "stopped",
        "bundle": out.str(),
        "annotations": {"io.syscage.record": "x.json"},
    });
    let mut c = syscage_cmd();
    c.env("SYSCAGE_HOOK_STATE_DIR", dir)
        .args(["hook", "--stage", "poststop", "--output-dir", out.str()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut hook = c.spawn().unwrap();
    {
        use std::io::Write;
        let mut stdin = hook.stdin.take().unwrap();
        stdin.write_all(state.to_string().as_bytes()).unwrap();
    }
    let o = finish(hook);
    o.assert_code(0);
    for stem in [gone, reused] {
        assert!(
            o.stderr
                .contains(&format!("removed the state of container {stem} (")),
            "{stem}: {}",
            o.stderr
        );
        for ext in ["owner", "log", "lock", "result"] {
            assert!(
                !dir.join(format!("{stem}.{ext}")).exists(),
                "{stem}.{ext} left"
            );
        }
    }
    for stem in [fresh, running, locked] {
        assert!(!o.stderr.contains(stem), "{stem} removed: {}", o.stderr);
        for ext in ["owner", "log", "lock", "result"] {
            assert!(
                dir.join(format!("{stem}.{ext}")).exists(),
                "{stem}.{ext} removed"
            );
        }
    }
}
