//! syscage's own processes that a workload can see: the init that `run` (plain, --monitor,
//! --learn) and `record` leave beside it. The workload races `PTRACE_SEIZE` against its parent
//! from its first instruction; it must never attach, and where the kernel lets it attach anyway
//! (a workload keeping CAP_SYS_PTRACE in the init's own user namespace), the init's own filter
//! must refuse what it is made to call.

mod common;

use common::*;

/// How many times each launcher is raced. Before the init was made non-dumpable before any
/// credential change, an unprivileged `run` was attached roughly once in 5 to 50 runs.
const RACES: usize = 150;

fn assert_never_seized(what: &str, mut race: impl FnMut() -> Out) {
    for i in 0..RACES {
        let out = race();
        out.assert_code(0);
        let line = out.line("seize-parent:");
        assert!(
            line.starts_with("seize-parent: EPERM"),
            "{what}, run {i}: the workload attached to syscage's init: {line}\nstderr:\n{}",
            out.stderr
        );
    }
}

#[test]
fn an_unprivileged_runs_init_is_never_traceable_by_its_workload() {
    let user = TestUser::new(false);
    let p = user.probe();
    assert_never_seized("run (user)", || {
        user.run(&["run", "--", &p, "seize-parent", "20"])
    });
}

#[test]
fn a_root_runs_init_is_never_traceable_by_its_workload() {
    let p = probe();
    let p = p.to_str().unwrap();
    assert_never_seized("run (root)", || {
        syscage_run(&["run", "--", p, "seize-parent", "20"])
    });
}

#[test]
fn a_monitored_or_learning_runs_init_is_never_traceable_by_its_workload() {
    let user = TestUser::new(false);
    let up = user.probe();
    let dir = TempDir::new("seize");
    let delta = dir.join("delta.rec");
    let delta = delta.to_str().unwrap();
    // The builtin profile allows ptrace and the probe: nothing is routed, nothing to learn.
    assert_never_seized("run --monitor (user)", || {
        user.run(&[
            "run",
            "--monitor",
            "/dev/null",
            "--",
            &up,
            "seize-parent",
            "20",
        ])
    });
    let p = probe();
    let p = p.to_str().unwrap();
    assert_never_seized("run --learn (root)", || {
        syscage_run(&["run", "--learn", delta, "--", p, "seize-parent", "20"])
    });
}

#[test]
fn an_unprivileged_recorders_init_is_never_traceable_by_its_workload() {
    let user = TestUser::new(false);
    let p = user.probe();
    let dir = TempDir::new("seize-rec");
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .unwrap();
    let profile = dir.join("p.json");
    let profile = profile.to_str().unwrap();
    for backend in ["notify", "ptrace"] {
        assert_never_seized(&format!("record --backend {backend} (user)"), || {
            user.run(&[
                "record",
                "-q",
                "--backend",
                backend,
                "-o",
                profile,
                "--",
                &p,
                "seize-parent",
                "20",
            ])
        });
    }
}

/// The second wall. Without a user namespace of its own (here: none can be created) a workload
/// given CAP_SYS_PTRACE (--cap-add) holds it in the init's user namespace and may attach; what
/// it makes the init call is then refused by the init's own filter (getppid would return 0).
#[test]
fn a_traced_init_can_make_no_call_beyond_its_own_filter() {
    let script = format!(
        "echo 0 > /proc/sys/user/max_user_namespaces && exec {} run --cap-add SYS_PTRACE -- {} seize-parent 1000",
        syscage_inside().display(),
        probe().display()
    );
    let mut c = std::process::Command::new("unshare");
    c.args(["--user", "--map-root-user", "sh", "-c", &script])
        .current_dir("/");
    c.env("SYSCAGE_CACHE_DIR", test_cache_dir());
    let out = run_command(c);
    out.assert_code(0);
    assert!(
        out.stderr.contains("not applied: user namespace"),
        "the setup must deny the inner user namespace: {}",
        out.stderr
    );
    assert_eq!(
        out.line("seize-parent:")
            .split_once(';')
            .map(|(_, r)| r.trim().to_string()),
        Some("injected getppid: returned -1)".to_string()),
        "{}",
        out.stdout
    );
}

/// The listener's courier (a thread syscage starts in the workload before its filter load)
/// ends at the exec: the program runs alone in its process, holding no socket, listener, pidfd
/// or signalfd of syscage's — under `run --monitor`/`--learn` and `record` (notify), root and
/// unprivileged. (`record` passes the caller's own descriptors on, as the program would get them
/// without syscage; `run` closes them.)
#[test]
fn no_courier_thread_or_descriptor_reaches_the_workload() {
    let script = "ls /proc/self/task | wc -l; ls -l /proc/self/fd/";
    let check = |what: &str, o: Out| {
        o.assert_code(0);
        let mut lines = o.stdout.lines();
        assert_eq!(
            lines.next().map(str::trim),
            Some("1"),
            "{what}: {}",
            o.stdout
        );
        for l in lines {
            assert!(
                !l.contains("socket:") && !l.contains("anon_inode:"),
                "{what}: the workload holds {l}\n{}",
                o.stdout
            );
        }
    };
    let dir = TempDir::new("courier");
    let delta = dir.join("delta.rec");
    let sh = ["--", "/bin/sh", "-c", script];
    let mut args = vec!["run", "--monitor", "/dev/null"];
    args.extend(sh);
    check("run --monitor", syscage_run(&args));
    let mut args = vec!["run", "--learn", delta.to_str().unwrap()];
    args.extend(sh);
    check("run --learn", syscage_run(&args));
    let out = dir.join("r.json");
    let mut args = vec![
        "record",
        "-q",
        "--backend",
        "notify",
        "-o",
        out.to_str().unwrap(),
    ];
    args.extend(sh);
    check("record --backend notify", syscage_run(&args));
    let user = TestUser::new(false);
    let mut args = vec!["run", "--monitor", "/dev/null"];
    args.extend(sh);
    check("run --monitor (user)", user.run(&args));
}
