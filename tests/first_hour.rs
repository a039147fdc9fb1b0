//! A new user's first hour (issue 14): the README's quick start followed literally, from the
//! directories a user really works in.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use common::*;

/// A directory under /tmp (which the sandbox replaces with a fresh tmpfs), removed on drop.
struct TmpProject(std::path::PathBuf);

impl TmpProject {
    fn new(parent: &Path) -> TmpProject {
        let dir = parent.join(unique("quickstart"));
        std::fs::create_dir_all(&dir).unwrap();
        // The README's `./app --serve`: a script that says where it runs and reads a file
        // beside it.
        std::fs::write(
            dir.join("app"),
            "#!/bin/sh\necho \"app $1 in $(pwd): $(cat data.txt)\"\n",
        )
        .unwrap();
        std::fs::set_permissions(dir.join("app"), std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::write(dir.join("data.txt"), "hello").unwrap();
        TmpProject(dir)
    }
}

impl Drop for TmpProject {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn syscage_in(dir: &Path, args: &[&str]) -> Out {
    let mut c = syscage_cmd();
    c.current_dir(dir).args(args);
    run_command(c)
}

#[test]
fn the_quick_start_works_literally_from_a_directory_under_tmp() {
    let p = TmpProject::new(Path::new("/tmp"));
    let dir = p.0.as_path();
    let want = format!("app --serve in {}: hello\n", dir.display());
    let rec = syscage_in(dir, &["record", "-o", "app.json", "--", "./app", "--serve"]);
    assert_eq!(rec.assert_code(0).stdout, want, "{}", rec.stderr);
    let run = syscage_in(
        dir,
        &[
            "run",
            "-v",
            "--seccomp",
            "app.json",
            "--",
            "./app",
            "--serve",
        ],
    );
    assert_eq!(run.assert_code(0).stdout, want, "{}", run.stderr);
    assert!(
        run.stderr.contains(&format!(
            "working directory {}: bound read-only from the host (/tmp is a fresh tmpfs in the sandbox; --rw {} to write there)",
            dir.display(),
            dir.display()
        )),
        "{}",
        run.stderr
    );
    // Read-only unless asked; --rw makes it writable, as Docker's -v would.
    let ro = syscage_in(dir, &["run", "--", "sh", "-c", "touch new 2>&1; pwd"]);
    assert!(
        ro.assert_code(0).stdout.contains("Read-only file system"),
        "{}",
        ro.stdout
    );
    let d = dir.to_str().unwrap();
    // Root invoking: the directory is root's, which the sandbox's root (host uid 1000000000) is
    // not; said before the run, with the way out, which works.
    let rw = syscage_in(
        dir,
        &["run", "--rw", d, "--", "sh", "-c", "touch new 2>&1; pwd"],
    );
    assert!(
        rw.assert_code(0).stdout.contains("Permission denied"),
        "{}",
        rw.stdout
    );
    assert!(
        rw.stderr.contains(&format!(
            "--rw {d}: owned by host uid 0, which the sandbox does not map (its root is host uid 1000000000): writes there will fail; --userns-base 0"
        )),
        "{}",
        rw.stderr
    );
    let rw = syscage_in(
        dir,
        &[
            "run",
            "--userns-base",
            "0",
            "--rw",
            d,
            "--",
            "sh",
            "-c",
            "touch new && pwd",
        ],
    );
    assert_eq!(rw.assert_code(0).stdout, format!("{d}\n"), "{}", rw.stderr);
    assert!(!rw.stderr.contains("does not map"), "{}", rw.stderr);
    assert!(dir.join("new").exists());
}

/// Under a parent the sandbox's root may not search (root's 0700 home, as root invokes it): the
/// program still runs where it was started (the parent is a tmpfs in the sandbox holding only the
/// working directory, read-only, so nothing else of it shows); a working directory that is itself
/// closed to the sandbox's root is an error naming why and the option that fixes it, which then
/// works. An unprivileged user's own 0700 home is theirs inside too, and just works.
#[test]
fn a_working_directory_under_a_closed_parent_runs_and_one_closed_itself_is_an_error() {
    let base = TempDir::new("private");
    std::fs::set_permissions(base.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    std::fs::write(base.join("secret"), "s3cret").unwrap();
    let p = TmpProject::new(base.path());
    let dir = p.0.as_path();
    let want = format!("app --serve in {}: hello\n", dir.display());
    let out = syscage_in(dir, &["run", "-v", "--", "./app", "--serve"]);
    assert_eq!(out.assert_code(0).stdout, want, "{}", out.stderr);
    assert!(
        out.stderr.contains(&format!(
            "working directory {}: bound read-only from the host ({} may not be searched by the sandbox's root, host uid 1000000000",
            dir.display(),
            base.path().display()
        )),
        "{}",
        out.stderr
    );
    // Nothing beside it shows, nothing is written through it; the host's secret stays unread
    // by the path it always had.
    let probe = format!(
        "ls -a {b}; cat {b}/secret 2>&1; touch new 2>&1; touch {b}/x 2>&1; true",
        b = base.str()
    );
    let out = syscage_in(dir, &["run", "--", "sh", "-c", &probe]);
    let text = &out.assert_code(0).stdout;
    let name = dir.file_name().unwrap().to_str().unwrap();
    assert!(text.contains(name), "{text}");
    assert!(!text.contains("s3cret"), "{text}");
    assert!(text.contains("No such file"), "{text}");
    assert_eq!(text.matches("Read-only file system").count(), 2, "{text}");
    assert!(!dir.join("new").exists() && !base.join("x").exists());

    // A bind below the closed parent is reached the same way.
    std::fs::create_dir(base.join("data")).unwrap();
    std::fs::write(base.join("data/f"), "data").unwrap();
    let data = base.join("data");
    let out = syscage_in(
        Path::new("/"),
        &[
            "run",
            "--ro",
            data.to_str().unwrap(),
            "--",
            "cat",
            data.join("f").to_str().unwrap(),
        ],
    );
    assert_eq!(out.assert_code(0).stdout, "data", "{}", out.stderr);

    // Closed itself: an error, and the fix it names works.
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    let out = syscage_in(dir, &["run", "--", "./app", "--serve"]);
    out.assert_code(125);
    assert!(
        out.stderr.contains(&format!(
            "the working directory {} is not reachable in the sandbox: the sandbox's root is host uid 1000000000",
            dir.display()
        )) && out.stderr.contains("--userns-base 0"),
        "{}",
        out.stderr
    );
    let out = syscage_in(
        dir,
        &["run", "--userns-base", "0", "--", "./app", "--serve"],
    );
    assert_eq!(out.assert_code(0).stdout, want);

    let user = TestUser::new(true);
    let home = nix::unistd::User::from_name(&user.name)
        .unwrap()
        .unwrap()
        .dir;
    let proj = home.join("proj");
    let mut mk = Command::new("runuser");
    mk.args(["-u", &user.name, "--", "sh", "-c"])
        .arg("chmod 700 ~ && mkdir ~/proj && printf '#!/bin/sh\\necho \"app $1 in $(pwd)\"\\n' > ~/proj/app && chmod +x ~/proj/app");
    run_command(mk).assert_code(0);
    let mut c = Command::new("runuser");
    c.args(["-u", &user.name, "--"])
        .arg(user.syscage())
        .args(["run", "--", "./app", "--serve"])
        .current_dir(&proj);
    let out = run_command(c);
    assert_eq!(
        out.assert_code(0).stdout,
        format!("app --serve in {}\n", proj.display()),
        "{}",
        out.stderr
    );
}

/// `check` is the CI gate: whatever `run` refuses, `check` fails (125, the same message), and
/// whatever `run` warns about, `check` warns about too.
#[test]
fn check_and_run_agree_on_every_bad_profile() {
    let dir = TempDir::new("agree");
    let cases = [
        (
            "misspelt syscall",
            r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read","wirte"],"action":"SCMP_ACT_ALLOW"}]}"#,
        ),
        (
            "misspelt field",
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","arg":[]}]}"#,
        ),
        ("unknown action", r#"{"defaultAction":"SCMP_ACT_MAYBE"}"#),
        (
            "unknown arch",
            r#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_Z80"]}"#,
        ),
        ("syntax", r#"{"defaultAction":"SCMP_ACT_ALLOW","#),
        (
            "unknown to libseccomp",
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mseal"],"action":"SCMP_ACT_ERRNO"}]}"#,
        ),
        ("fine", r#"{"defaultAction":"SCMP_ACT_ALLOW"}"#),
    ];
    for (what, text) in cases {
        let path = dir.join("p.json");
        std::fs::write(&path, text).unwrap();
        let p = path.to_str().unwrap();
        let check = syscage_run(&["check", p]);
        let run = syscage_run(&["run", "--seccomp", p, "--", "/bin/true"]);
        check.assert_no_panic();
        run.assert_no_panic();
        assert_eq!(
            (check.code == 125, check.code),
            (run.code == 125, if run.code == 125 { 125 } else { 0 }),
            "{what}: check exited {}, run {}\ncheck: {}\nrun: {}",
            check.code,
            run.code,
            check.stderr,
            run.stderr
        );
        let said = |err: &str| -> Vec<String> {
            err.lines()
                .filter(|l| l.starts_with("syscage: error:") || l.starts_with("syscage: warning:"))
                .map(str::to_string)
                .collect()
        };
        assert_eq!(said(&check.stderr), said(&run.stderr), "{what}");
        if what != "fine" {
            assert!(!said(&run.stderr).is_empty(), "{what}: run says something");
        }
    }
}

/// A threaded program's default recording passes syscage's own lint at `--fail-on medium`
/// (clone3 gets ENOSYS, clone is allowed without namespace flags, as in Docker's profile), runs
/// under it, and under `--monitor` the intended ENOSYS is not reported as a denial.
#[test]
fn a_threaded_programs_recording_passes_its_own_lint_and_monitors_clean() {
    let dir = TempDir::new("threads");
    let cmd = [
        "/usr/bin/python3",
        "-c",
        // Python's join waits for the thread's Python code, not for its OS thread: without the
        // pause, the process may exit before glibc's thread exit (madvise of its stack, exit)
        // runs, and a recording then lacks calls that a later run makes.
        "import threading, time\nt = threading.Thread(target=lambda: None)\nt.start(); t.join(); time.sleep(0.3)\nprint('ok')",
    ];
    let profile = dir.join("p.json");
    let p = profile.to_str().unwrap();
    let mut args = vec!["record", "-q", "-o", p, "--"];
    args.extend(cmd);
    syscage_run(&args).assert_code(0);
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&profile).unwrap()).unwrap();
    let rule_of = |name: &str| {
        v["syscalls"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["names"].as_array().unwrap().iter().any(|n| n == name))
            .cloned()
            .unwrap()
    };
    assert_eq!(rule_of("clone3")["errnoRet"], 38);
    assert_eq!(rule_of("clone")["args"][0]["op"], "SCMP_CMP_MASKED_EQ");
    let check = syscage_run(&["check", "--fail-on", "medium", p]);
    assert_eq!(check.code, 0, "{}", check.stdout);
    let ev = dir.join("ev.jsonl");
    let mut args = vec![
        "run",
        "--seccomp",
        p,
        "--monitor",
        ev.to_str().unwrap(),
        "--",
    ];
    args.extend(cmd);
    let out = syscage_run(&args);
    assert_eq!(out.assert_code(0).stdout, "ok\n", "{}", out.stderr);
    let events = std::fs::read_to_string(&ev).unwrap_or_default();
    assert!(events.is_empty(), "no denial to report: {events}");
}

/// Recordings are easy to get and hard to lose: `report` given a profile says what it is and how
/// to get a recording; `merge --recording` writes the merged recording, or refuses when no input
/// is a recording (before: exit 0 and nothing written).
#[test]
fn report_and_merge_say_what_a_recording_is() {
    let dir = TempDir::new("recs");
    let profile = dir.join("p.json");
    let rec = dir.join("r.rec");
    let mut c = clean_command(syscage());
    c.args(["record", "-q", "-o"])
        .arg(&profile)
        .arg("--recording")
        .arg(&rec)
        .args(["--", "/bin/true"]);
    run_command(c).assert_code(0);
    let p = profile.to_str().unwrap();
    let out = syscage_run(&["report", p]);
    out.assert_code(125);
    assert!(
        out.stderr
            .contains("this is a seccomp profile, not a recording")
            && out.stderr.contains("record --recording FILE"),
        "{}",
        out.stderr
    );
    let merged_rec = dir.join("m.rec");
    let m = merged_rec.to_str().unwrap();
    let out = syscage_run(&[
        "merge",
        p,
        "-o",
        dir.join("m.json").to_str().unwrap(),
        "--recording",
        m,
    ]);
    out.assert_code(125);
    assert!(
        out.stderr.contains("need at least one recording"),
        "{}",
        out.stderr
    );
    assert!(!merged_rec.exists());
    let out = syscage_run(&[
        "merge",
        p,
        rec.to_str().unwrap(),
        "-o",
        dir.join("m.json").to_str().unwrap(),
        "--recording",
        m,
    ]);
    assert!(
        out.assert_code(0).stderr.contains("merged 2 inputs"),
        "{}",
        out.stderr
    );
    syscage_run(&["report", m]).assert_code(0);
}

/// A profile made for the agent, run without it: said (its routed calls fail with ENOSYS), by
/// `run` and by `check` alike; `check` names an x32 entry as x32, not i386.
#[test]
fn an_agent_routed_profile_run_without_the_agent_is_said() {
    let dir = TempDir::new("routed");
    let plain = dir.join("p.json");
    std::fs::write(&plain, r#"{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X32"],"syscalls":[{"names":["read","write","exit_group","execve","brk","mmap","arch_prctl","access","openat","newfstatat","close","pread64","set_tid_address","set_robust_list","rseq","prlimit64","munmap","getrandom","mprotect","fstat"],"action":"SCMP_ACT_ALLOW"}]}"#).unwrap();
    let routed = dir.join("routed.json");
    syscage_run(&[
        "oci",
        "profile",
        "--seccomp",
        plain.to_str().unwrap(),
        "--agent",
        dir.join("no.sock").to_str().unwrap(),
        "--monitor",
        "-o",
        routed.to_str().unwrap(),
    ])
    .assert_code(0);
    let r = routed.to_str().unwrap();
    let run = syscage_run(&["run", "--seccomp", r, "--", "/bin/true"]);
    let check = syscage_run(&["check", r]);
    for out in [&run, &check] {
        assert!(
            out.stderr.contains("to a seccomp listener (SCMP_ACT_NOTIFY) that nothing serves here: they fail with ENOSYS"),
            "{}",
            out.stderr
        );
    }
    let check = syscage_run(&["check", plain.to_str().unwrap()]);
    assert!(
        check.stdout.contains("SCMP_ARCH_X32 is listed") && !check.stdout.contains("i386"),
        "{}",
        check.stdout
    );
}

/// The shell command `line` run on a terminal of its own: script(1), from util-linux (on every
/// Debian).
fn on_a_terminal(line: &str) -> Command {
    let mut c = Command::new("script");
    c.args(["-qec", line, "/dev/null"])
        .env("SYSCAGE_CACHE_DIR", test_cache_dir());
    c
}

/// `record` on a terminal says at once that it records and how the recording ends; in a pipe
/// (CI, scripts) it does not.
#[test]
fn record_says_it_is_recording_on_a_terminal_only() {
    let dir = TempDir::new("tty");
    let out_file = dir.join("p.json");
    let line = format!(
        "{} record -o {} -- /bin/true",
        syscage().display(),
        out_file.display()
    );
    let tty = run_command(on_a_terminal(&line));
    assert_eq!(tty.code, 0, "{}{}", tty.stdout, tty.stderr);
    assert!(
        tty.stdout.contains("syscage: recording /bin/true (pid ")
            && tty.stdout.contains("on Ctrl-C"),
        "{}",
        tty.stdout
    );
    let piped = syscage_run(&[
        "record",
        "-o",
        out_file.to_str().unwrap(),
        "--",
        "/bin/true",
    ]);
    assert!(
        !piped.assert_code(0).stderr.contains("syscage: recording"),
        "{}",
        piped.stderr
    );

    // A long recording shows a live count, redrawn in place and wiped before the summary, with
    // every backend; in a pipe, none.
    let workload = "sh -c 'for i in 1 2 3 4 5 6 7 8; do sleep 0.4; done'";
    let runs: Vec<_> = ["ebpf", "ptrace", "notify"]
        .into_iter()
        .map(|backend| {
            let line = format!(
                "{} record --backend {backend} -o {} -- {workload}",
                syscage().display(),
                dir.join(&format!("{backend}.json")).display()
            );
            let c = on_a_terminal(&line);
            (backend, std::thread::spawn(move || run_command(c)))
        })
        .collect();
    for (backend, t) in runs {
        let tty = t.join().unwrap();
        assert_eq!(tty.code, 0, "{backend}: {}{}", tty.stdout, tty.stderr);
        let live: Vec<&str> = tty
            .stdout
            .split('\r')
            .filter(|l| l.starts_with("\x1b[Ksyscage: recording for "))
            .collect();
        assert!(!live.is_empty(), "{backend}: {:?}", tty.stdout);
        assert!(
            live.iter().any(|l| l.contains(" calls, ")
                && l.contains(" syscalls")
                && l.ends_with("(Ctrl-C ends it)")),
            "{backend}: {live:?}"
        );
        // Wiped: the summary starts on a clean line.
        assert!(
            tty.stdout.contains("\r\x1b[Ksyscage: recorded "),
            "{backend}: {:?}",
            tty.stdout
        );
    }
    let piped = syscage_run(&[
        "record",
        "-o",
        out_file.to_str().unwrap(),
        "--",
        "sh",
        "-c",
        "sleep 2.5",
    ]);
    assert!(
        !piped.assert_code(0).stderr.contains("recording for"),
        "{}",
        piped.stderr
    );
}

/// `report` breaks a recording down by executable, and says the same in JSON for machines.
#[test]
fn report_breaks_down_by_executable_and_speaks_json() {
    let dir = TempDir::new("byexe");
    let rec = dir.join("r.rec");
    let mut c = clean_command(syscage());
    c.args(["record", "-q", "-o"])
        .arg(dir.join("p.json"))
        .arg("--recording")
        .arg(&rec)
        .args([
            "--",
            "/bin/sh",
            "-c",
            "/bin/ls / >/dev/null; /bin/cat /etc/hostname >/dev/null",
        ]);
    run_command(c).assert_code(0);
    let r = rec.to_str().unwrap();
    let text = syscage_run(&["report", r]);
    assert!(
        text.assert_code(0).stdout.contains("\nby executable:\n"),
        "{}",
        text.stdout
    );
    // Started as /bin/ls: on a merged /usr that is /usr/bin/ls, shown beside it.
    for exe in ["/bin/ls (→ /usr/bin/ls)", "/bin/cat (→ /usr/bin/cat)"] {
        assert!(
            text.stdout.contains(&format!("  {exe} (")),
            "{exe}: {}",
            text.stdout
        );
    }
    let json = syscage_run(&["report", "--format", "json", r]);
    let v: serde_json::Value = serde_json::from_str(&json.assert_code(0).stdout).unwrap();
    assert!(v["syscalls"].as_array().unwrap().len() > 5);
    assert!(
        v["by_executable"]["/usr/bin/cat"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n == "openat")
    );
    assert!(v["total_calls"].as_u64().unwrap() > 0);
}

/// A program started through a symlink (Debian's /usr/bin/redis-server → redis-check-rdb) or as
/// a `#!` script (a pyenv shim) is shown by the path it was started by, with the file the kernel
/// ran beside it, in every output and by every backend; AppArmor attaches to the file the kernel
/// runs; monitor events name it the same way.
#[test]
fn programs_are_named_by_the_path_they_were_started_by_everywhere() {
    let t = TempDir::new("names");
    let link = t.join("hello");
    std::os::unix::fs::symlink("/usr/bin/printf", &link).unwrap();
    let shim = t.join("shim");
    std::fs::write(&shim, "#!/usr/bin/printf\n").unwrap();
    std::fs::set_permissions(&shim, std::fs::Permissions::from_mode(0o755)).unwrap();
    let link_s = link.to_str().unwrap();
    let shim_s = shim.to_str().unwrap();
    let both = format!("{link_s}, {shim_s} (→ /usr/bin/printf)");
    // Debian's /bin/sh and /usr/bin/sh are links to dash.
    let real = std::fs::canonicalize("/usr/bin/sh").unwrap();
    for backend in ["ebpf", "ptrace", "notify"] {
        let rec = t.join(&format!("{backend}.rec"));
        let prof = t.join(&format!("{backend}.json"));
        let aa = t.join(&format!("{backend}.aa"));
        let out = syscage_run(&[
            "record",
            "-q",
            "--backend",
            backend,
            "--apparmor",
            aa.to_str().unwrap(),
            "--recording",
            rec.to_str().unwrap(),
            "-o",
            prof.to_str().unwrap(),
            "--",
            "sh",
            "-c",
            &format!("{link_s} 'a\\n' && {shim_s} && true"),
        ]);
        out.assert_code(0);
        let report = syscage_run(&["report", rec.to_str().unwrap()]);
        let text = &report.assert_code(0).stdout;
        assert!(text.contains(&both), "{backend}: {text}");
        let json = syscage_run(&["report", "--format", "json", rec.to_str().unwrap()]);
        let v: serde_json::Value = serde_json::from_str(&json.assert_code(0).stdout).unwrap();
        assert_eq!(
            v["started_as"]["/usr/bin/printf"][0], link_s,
            "{backend}: {v}"
        );
        assert_eq!(v["scripts"]["/usr/bin/printf"][0], shim_s, "{backend}: {v}");
        let p = std::fs::read_to_string(&prof).unwrap();
        assert!(p.contains(&both), "{backend}: {p}");
        let a = std::fs::read_to_string(&aa).unwrap();
        assert!(
            a.contains(&format!(
                "# Started as /usr/bin/sh, which is {}: AppArmor attaches to the file the kernel runs.",
                real.display()
            )) && a.contains(&format!(
                "profile syscage-sh {} flags=(attach_disconnected) {{",
                real.display()
            )),
            "{backend}: {a}"
        );
        let parsed = run_command({
            let mut c = Command::new("apparmor_parser");
            c.args(["-Q", "-K"]).arg(&aa);
            c
        });
        parsed.assert_code(0);
    }

    // Monitor: a program started through a link to sh, under a profile that denies what it does.
    let mysh = t.join("mysh");
    std::os::unix::fs::symlink("/bin/sh", &mysh).unwrap();
    let out = syscage_run(&[
        "run",
        "--seccomp",
        t.join("ptrace.json").to_str().unwrap(),
        "--monitor",
        "-",
        "--",
        mysh.to_str().unwrap(),
        "-c",
        "uname -r >/dev/null; true",
    ]);
    assert!(
        out.stderr
            .contains(&format!("\"executable\":\"{}\"", real.display()))
            && out
                .stderr
                .contains(&format!("\"started_as\":\"{}\"", mysh.display())),
        "{}",
        out.stderr
    );
}
