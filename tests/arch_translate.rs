//! `--arch x86_64,aarch64` checked against real arm64 programs: Debian's arm64 busybox,
//! coreutils and python3.11 run under qemu-aarch64-static, whose `-strace` log names every aarch64 syscall they
//! make. A profile recorded from the x86_64 builds and translated must allow each of them; a
//! profile made from the arm64 calls and translated to x86_64 must run the x86_64 builds under
//! the real kernel's seccomp. The untranslated profiles fail both, so the checks have teeth.
//!
//! Needs `scripts/fetch-arm64.sh target/arm64` (make test runs it) and qemu-user-static.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use syscage::model::Abi;

fn arm64_root() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/arm64/root");
    assert!(
        root.join("bin/busybox").is_file()
            && root.join("bin/ls").is_file()
            && root.join("usr/bin/python3.11").is_file(),
        "{} lacks Debian's arm64 busybox, coreutils and python3.11: run scripts/fetch-arm64.sh target/arm64 (make test does)",
        root.display()
    );
    root
}

fn qemu() -> &'static str {
    let q = "/usr/bin/qemu-aarch64-static";
    assert!(
        Path::new(q).is_file(),
        "{q} is missing: install Debian's qemu-user-static (scripts/install-deps.sh test does)"
    );
    q
}

/// A program by name: the host's (x86_64) or the arm64 root's.
fn program(root: &Path, name: &str) -> String {
    for dir in ["bin", "usr/bin"] {
        let p = root.join(dir).join(name);
        if p.is_file() {
            return p.to_str().unwrap().to_string();
        }
    }
    panic!("{name} is not in {}", root.display());
}

/// The same steps for this machine's x86_64 programs and for the arm64 builds in `root`.
fn both_steps(root: &Path) -> (Vec<Vec<String>>, Vec<Vec<String>>) {
    let host = Path::new("/");
    (
        steps(&busybox().to_string_lossy(), &|n| program(host, n)),
        steps(&program(root, "busybox"), &|n| program(root, n)),
    )
}

/// The workload, one command per step, run in a directory prepared by `prepare`; the same steps
/// on both architectures. Busybox's shell only uses builtins here: with no binfmt handler its
/// exec of an arm64 applet would fail (and PATH is empty, so no host program stands in).
fn steps(bb: &str, core: &dyn Fn(&str) -> String) -> Vec<Vec<String>> {
    let v = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let mut out = vec![v(&[
        bb,
        "sh",
        "-c",
        "echo hello | while read x; do echo \"$x\" > sh.out; done; test -s sh.out && echo ok",
    ])];
    // Python (its minimal standard library: -I -S): a thread, a fork over a pipe, files.
    out.push(
        [
            core("python3.11").as_str(),
            "-I",
            "-S",
            "-c",
            "import os, threading\n\
             t = threading.Thread(target=lambda: os.listdir('.')); t.start(); t.join()\n\
             r, w = os.pipe()\n\
             pid = os.fork()\n\
             if pid == 0:\n    os.write(w, b'x'); os._exit(0)\n\
             os.waitpid(pid, 0); print(os.read(r, 1), os.stat('in.txt').st_size)\n\
             os.mkdir('p-d'); os.symlink('p-d', 'p-l'); os.readlink('p-l')\n\
             open('p-f', 'w').write('x'); os.rename('p-f', 'p-g')\n\
             os.unlink('p-g'); os.unlink('p-l'); os.rmdir('p-d')\n",
        ]
        .map(str::to_string)
        .to_vec(),
    );
    // Each tool works on files of its own (b-..., c-...), so one directory serves both.
    for (tag, tool) in [("b-", None), ("c-", Some(core))] {
        let f = |n: &str| format!("{tag}{n}");
        let (a, b, c, d) = (f("a.txt"), f("b.txt"), f("c.txt"), f("d"));
        let (de, def) = (format!("{d}/e"), format!("{d}/e/f"));
        for args in [
            vec!["ls", "-la", "."],
            vec!["cp", "in.txt", &a],
            vec!["mv", &a, &b],
            vec!["ln", "-s", &b, &c],
            vec!["readlink", &c],
            vec!["cat", &c],
            vec!["sort", "in.txt"],
            vec!["head", "-n", "2", "in.txt"],
            vec!["wc", "-l", "in.txt"],
            vec!["mkdir", "-p", &de],
            vec!["touch", &def],
            vec!["chmod", "600", &def],
            vec!["stat", &def],
            vec!["sha256sum", "in.txt"],
            vec!["du", "-s", "."],
            vec!["id", "-u"],
            vec!["rm", "-r", &d, &b, &c],
        ] {
            let mut step = match tool {
                None => vec![bb.to_string(), args[0].to_string()],
                Some(core) => vec![core(args[0])],
            };
            step.extend(args[1..].iter().map(|s| s.to_string()));
            out.push(step);
        }
    }
    out
}

fn prepare(dir: &Path) {
    std::fs::write(dir.join("in.txt"), "pear\napple\nfig\n").unwrap();
}

/// The steps whose output is the same wherever they run.
fn deterministic(step: &[String]) -> bool {
    let name = Path::new(&step[0]).file_name().unwrap().to_str().unwrap();
    let applet = if name == "busybox" {
        step[1].as_str()
    } else {
        name
    };
    [
        "readlink",
        "cat",
        "sort",
        "head",
        "wc",
        "sha256sum",
        "sh",
        "python3.11",
    ]
    .contains(&applet)
}

/// Names of the aarch64 syscalls in a `qemu -strace` log.
fn strace_names(log: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for line in log.lines() {
        let Some((pid, rest)) = line.split_once(' ') else {
            continue;
        };
        if pid.parse::<u32>().is_err() {
            continue;
        }
        if let Some(nr) = rest.strip_prefix("Unknown syscall ") {
            let nr: i64 = nr.trim().parse().unwrap();
            let name = Abi::Aarch64
                .syscall_name(nr)
                .unwrap_or_else(|| panic!("aarch64 syscall {nr} has no name: {line}"));
            out.insert(name.to_string());
        } else if let Some((name, _)) = rest.split_once('(')
            && !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            out.insert(name.to_string());
        }
    }
    out
}

/// Runs the arm64 steps under qemu in a fresh directory: the aarch64 syscalls of each step.
fn arm64_calls(root: &Path, steps: &[Vec<String>]) -> Vec<BTreeSet<String>> {
    let w = TempDir::new("arch-arm64");
    prepare(w.path());
    let empty = w.join("no-programs");
    std::fs::create_dir(&empty).unwrap();
    let mut out = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        let log = w.join(&format!("strace-{i}.log"));
        let mut c = Command::new(qemu());
        c.env_clear()
            .env("PATH", &empty)
            .env("LC_ALL", "C")
            .current_dir(w.path())
            .arg("-L")
            .arg(root)
            .arg("-D")
            .arg(&log)
            .arg("-strace")
            .args(step);
        let o = run_command(c);
        assert_eq!(o.code, 0, "arm64 {step:?}: {}", o.stderr);
        let names = strace_names(&std::fs::read_to_string(&log).unwrap());
        assert!(
            names.contains("exit_group") && names.len() > 10,
            "arm64 {step:?}: too few syscalls in the strace log: {names:?}"
        );
        out.push(names);
    }
    out
}

struct X86Run {
    recordings: Vec<PathBuf>,
    stdout: Vec<String>,
}

/// Records each x86_64 step with syscage (eBPF or whatever `auto` picks) in a fresh directory.
fn record_x86(work: &TempDir, steps: &[Vec<String>]) -> X86Run {
    let w = work.join("x86");
    std::fs::create_dir(&w).unwrap();
    prepare(&w);
    let mut run = X86Run {
        recordings: Vec::new(),
        stdout: Vec::new(),
    };
    for (i, step) in steps.iter().enumerate() {
        let rec = work.join(&format!("x86-{i}.rec.json"));
        let mut c = clean_command(syscage());
        c.current_dir(&w).env("LC_ALL", "C").args([
            "record",
            "-q",
            "--recording",
            rec.to_str().unwrap(),
            "-o",
            work.join(&format!("x86-{i}.json")).to_str().unwrap(),
            "--",
        ]);
        c.args(step);
        let o = run_command(c);
        assert_eq!(o.code, 0, "x86_64 {step:?}: {}", o.stderr);
        run.recordings.push(rec);
        run.stdout.push(o.stdout);
    }
    run
}

fn merge(work: &TempDir, out: &str, arch: Option<&str>, inputs: &[PathBuf]) -> (PathBuf, Out) {
    let p = work.join(out);
    let mut args = vec!["merge".to_string(), "-o".into(), p.to_str().unwrap().into()];
    if let Some(a) = arch {
        args.extend(["--arch".into(), a.into()]);
    }
    args.extend(["--runtime".into(), "syscage".into()]);
    args.extend(inputs.iter().map(|i| i.to_str().unwrap().to_string()));
    let o = syscage_run(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(o.code, 0, "merge: {}", o.stderr);
    (p, o)
}

fn architectures(profile: &Path) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(profile).unwrap()).unwrap();
    v["architectures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_profile_recorded_on_x86_64_allows_what_the_arm64_builds_call() {
    let root = arm64_root();
    let work = TempDir::new("arch-fwd");
    let (x86_steps, arm_steps) = both_steps(&root);
    let x86 = record_x86(&work, &x86_steps);
    let arm = arm64_calls(&root, &arm_steps);

    let (translated, o) = merge(&work, "both.json", Some("x86_64,aarch64"), &x86.recordings);
    assert!(o.stderr.contains("equivalents added"), "{}", o.stderr);
    assert!(
        o.stderr.contains("no equivalent for arch_prctl"),
        "{}",
        o.stderr
    );
    assert_eq!(
        architectures(&translated),
        ["SCMP_ARCH_X86_64", "SCMP_ARCH_AARCH64"]
    );
    let allowed = allowed_names(&translated);
    let (plain, _) = merge(&work, "x86.json", None, &x86.recordings);
    let plain_allowed = allowed_names(&plain);
    let mut missing_untranslated = BTreeSet::new();
    for (step, names) in arm_steps.iter().zip(&arm) {
        let missing: Vec<&String> = names.iter().filter(|n| !allowed.contains(*n)).collect();
        assert!(
            missing.is_empty(),
            "arm64 {step:?} calls {missing:?}, which the translated profile does not allow"
        );
        missing_untranslated.extend(
            names
                .iter()
                .filter(|n| !plain_allowed.contains(*n))
                .cloned(),
        );
        // Every aarch64 name is one libseccomp compiles for aarch64, as runtimes there will.
        for n in names {
            let s = libseccomp::ScmpSyscall::from_name_by_arch(n, libseccomp::ScmpArch::Aarch64)
                .unwrap_or_else(|e| panic!("{n}: {e}"));
            assert!(
                s.as_raw_syscall() >= 0,
                "{n} is not an aarch64 syscall for libseccomp"
            );
        }
    }
    // Without --arch, the arm64 programs' path calls are denied: the translation is what works.
    for n in ["faccessat", "mkdirat", "readlinkat", "renameat", "dup3"] {
        assert!(
            missing_untranslated.contains(n),
            "{n}: {missing_untranslated:?}"
        );
    }

    // `check` is clean on the translated profile and names what the naive one lacks on aarch64.
    syscage_run(&["check", "--fail-on", "medium", translated.to_str().unwrap()]).assert_code(0);
    let naive = work.join("naive.json");
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&plain).unwrap()).unwrap();
    v["architectures"] = serde_json::json!(["SCMP_ARCH_X86_64", "SCMP_ARCH_AARCH64"]);
    std::fs::write(&naive, v.to_string()).unwrap();
    let o = syscage_run(&["check", "--fail-on", "medium", naive.to_str().unwrap()]);
    o.assert_code(1);
    assert!(
        o.stdout.contains("arch-missing-equivalent") || o.stdout.contains("aarch64 has no access"),
        "{}",
        o.stdout
    );
    assert!(o.stdout.contains("faccessat"), "{}", o.stdout);
}

#[test]
fn a_profile_from_the_arm64_calls_runs_the_x86_64_builds_confined() {
    let root = arm64_root();
    let work = TempDir::new("arch-rev");
    let (x86_steps, arm_steps) = both_steps(&root);
    let arm = arm64_calls(&root, &arm_steps);

    // An aarch64 recording of the calls qemu saw.
    let union: BTreeSet<&String> = arm.iter().flatten().collect();
    let syscalls: Vec<serde_json::Value> = union
        .iter()
        .map(|n| {
            serde_json::json!({"abi": "aarch64", "name": n, "count": 1,
                "first_executable": "/bin/busybox", "executables": ["/bin/busybox"], "pids": [1]})
        })
        .collect();
    let rec = work.join("arm64.rec.json");
    std::fs::write(
        &rec,
        serde_json::json!({"format": "syscage-recording/1",
            "commands": [["qemu-aarch64-static", "busybox and coreutils"]], "syscalls": syscalls})
        .to_string(),
    )
    .unwrap();
    let (x86_profile, o) = merge(
        &work,
        "x86.json",
        Some("x86_64"),
        std::slice::from_ref(&rec),
    );
    assert_eq!(architectures(&x86_profile), ["SCMP_ARCH_X86_64"]);
    for n in [
        "arch_prctl",
        "access",
        "stat",
        "lstat",
        "pipe",
        "dup2",
        "open",
    ] {
        assert!(allowed_names(&x86_profile).contains(n), "{n}: {}", o.stderr);
    }
    let (untranslated, _) = merge(&work, "arm.json", None, std::slice::from_ref(&rec));

    let reference = record_x86(&work, &x86_steps);
    let confined = |profile: &Path, tag: &str| -> Vec<Out> {
        let w = work.join(tag);
        std::fs::create_dir(&w).unwrap();
        prepare(&w);
        let mut outs = Vec::new();
        for step in &x86_steps {
            let mut c = clean_command(syscage());
            c.env("LC_ALL", "C").args([
                "run",
                "--seccomp",
                profile.to_str().unwrap(),
                // Root inside is host root: the directory is root's.
                "--userns-base",
                "0",
                "--rw",
                w.to_str().unwrap(),
                "--cwd",
                w.to_str().unwrap(),
                "-e",
                "LC_ALL",
                "--",
            ]);
            c.args(step);
            outs.push(run_command(c));
        }
        outs
    };
    let outs = confined(&x86_profile, "confined");
    let mut failures = BTreeMap::new();
    for ((step, o), want) in x86_steps.iter().zip(&outs).zip(&reference.stdout) {
        if o.code != 0 || (deterministic(step) && &o.stdout != want) {
            failures.insert(
                format!("{step:?}"),
                format!("{:?}: {}{}", o.code, o.stdout, o.stderr),
            );
        }
    }
    assert!(
        failures.is_empty(),
        "x86_64 steps failed under the translated profile: {failures:#?}"
    );
    // The aarch64 names alone do not start an x86_64 program.
    let outs = confined(&untranslated, "untranslated");
    assert!(
        outs.iter().all(|o| o.code != 0),
        "the untranslated profile ran x86_64 steps: {:?}",
        outs.iter().map(|o| o.code).collect::<Vec<_>>()
    );
}

#[test]
fn record_and_generate_take_arch_and_refuse_bad_names() {
    let work = TempDir::new("arch-cli");
    let out = work.join("p.json");
    let o = syscage_run(&[
        "record",
        "--arch",
        "amd64,arm64",
        "-o",
        out.to_str().unwrap(),
        "--",
        busybox().to_str().unwrap(),
        "ls",
        "/",
    ]);
    o.assert_code(0);
    assert!(
        o.stderr.contains("profile for x86_64 and aarch64"),
        "{}",
        o.stderr
    );
    assert_eq!(
        architectures(&out),
        ["SCMP_ARCH_X86_64", "SCMP_ARCH_AARCH64"]
    );
    syscage_run(&["check", "--fail-on", "medium", out.to_str().unwrap()]).assert_code(0);
    // An aarch64-only Kubernetes profile from it: no x86_64-only name is left in it.
    let o = syscage_run(&[
        "generate",
        "k8s",
        "--name",
        "arm",
        "--arch",
        "aarch64",
        "--seccomp",
        out.to_str().unwrap(),
    ]);
    o.assert_code(0);
    assert!(o.stdout.contains("- \"SCMP_ARCH_AARCH64\""), "{}", o.stdout);
    assert!(!o.stdout.contains("SCMP_ARCH_X86_64"), "{}", o.stdout);
    for gone in ["\"arch_prctl\"", "\"readlink\"", "\"open\""] {
        assert!(!o.stdout.contains(gone), "{gone}: {}", o.stdout);
    }
    assert!(o.stdout.contains("\"readlinkat\""), "{}", o.stdout);

    let out = work.join("bad.json");
    let o = syscage_run(&[
        "record",
        "--arch",
        "x86_64,sparc",
        "-o",
        out.to_str().unwrap(),
        "--",
        "touch",
        work.join("ran").to_str().unwrap(),
    ]);
    o.assert_code(125);
    assert!(o.stderr.contains("sparc"), "{}", o.stderr);
    assert!(!work.join("ran").exists() && !out.exists());
    let o = syscage_run(&[
        "merge",
        "--arch",
        "i386",
        "-o",
        out.to_str().unwrap(),
        "/dev/null",
    ]);
    o.assert_code(125);
    assert!(o.stderr.contains("not translated"), "{}", o.stderr);
}
