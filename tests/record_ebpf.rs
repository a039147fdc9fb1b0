//! The eBPF backend records exactly the workload: from its exec on, every process and thread it
//! creates, and nothing else. Two recordings at once each get only their own syscalls, and a
//! busy process outside the workload adds nothing.

mod common;

use std::process::{Command, Stdio};

use common::*;

/// A python workload that runs for about `secs`, making `marker` (an os function with its own
/// syscall) in a loop, in a thread and in a child process.
fn workload(marker: &str, secs: f64) -> Vec<String> {
    let code = format!(
        "import os, threading, time\n\
         def spin():\n    t = time.time()\n    while time.time() - t < {secs}: {marker}\n\
         th = threading.Thread(target=spin); th.start()\n\
         pid = os.fork()\n\
         if pid == 0:\n    spin(); os._exit(0)\n\
         spin(); th.join(); os.waitpid(pid, 0)\n"
    );
    vec!["/usr/bin/python3".into(), "-c".into(), code]
}

#[test]
fn concurrent_recordings_and_a_busy_neighbour_do_not_mix() {
    let dir = TempDir::new("ebpfmix");
    // The neighbour: started first, busy with two syscalls the workloads never make.
    let mut neighbour = Command::new("/usr/bin/python3")
        .args([
            "-c",
            "import os, time\nt = time.time()\nwhile time.time() - t < 4: os.getsid(0); os.times()",
        ])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let start = |tag: &str, marker: &str| {
        let rec = dir.join(&format!("{tag}.rec"));
        let mut c = clean_command(syscage());
        c.args(["record", "-q", "--backend", "ebpf", "-o"])
            .arg(dir.join(&format!("{tag}.json")))
            .arg("--recording")
            .arg(&rec)
            .arg("--")
            .args(workload(marker, 1.5));
        c.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        (c.spawn().unwrap(), rec)
    };
    let (a, a_rec) = start("a", "os.getpriority(os.PRIO_PROCESS, 0)");
    let (b, b_rec) = start("b", "os.getresuid()");
    finish(a).assert_code(0);
    finish(b).assert_code(0);
    let _ = neighbour.kill();
    let _ = neighbour.wait();
    let a = recorded_names(&a_rec);
    let b = recorded_names(&b_rec);
    let has = |set: &std::collections::BTreeSet<(String, String)>, n: &str| {
        set.contains(&("x86_64".to_string(), n.to_string()))
    };
    assert!(has(&a, "getpriority") && !has(&a, "getresuid"), "a: {a:?}");
    assert!(has(&b, "getresuid") && !has(&b, "getpriority"), "b: {b:?}");
    for (tag, set) in [("a", &a), ("b", &b)] {
        assert!(
            !has(set, "getsid") && !has(set, "times"),
            "{tag} holds the neighbour's syscalls: {set:?}"
        );
        // Threads and the forked child are recorded (clone for both, wait4 by the parent).
        assert!(has(set, "wait4") && has(set, "clone3"), "{tag}: {set:?}");
    }
}

#[test]
fn syscage_own_setup_is_not_recorded() {
    // What syscage does before the workload's exec (namespaces, mounts, the hand-over of a
    // pidfd) is not the workload's: a static program that makes a dozen syscalls shows it.
    let dir = TempDir::new("ebpfown");
    let mut sets = Vec::new();
    for backend in ["ebpf", "notify"] {
        let rec = dir.join(&format!("{backend}.rec"));
        let mut c = clean_command(syscage());
        c.args(["record", "-q", "--backend", backend, "-o"])
            .arg(dir.join("p.json"))
            .arg("--recording")
            .arg(&rec)
            .args(["--", "/bin/busybox", "true"]);
        run_command(c).assert_code(0);
        sets.push(recorded_names(&rec));
    }
    let names: Vec<&String> = sets[0].iter().map(|(_, n)| n).collect();
    for own in [
        "mount",
        "clone",
        "unshare",
        "pivot_root",
        "pidfd_open",
        "sendmsg",
        "wait4",
    ] {
        assert!(!names.iter().any(|n| *n == own), "{own} in {names:?}");
    }
    assert_eq!(sets[0], sets[1], "eBPF and notify start at the same point");
}

/// The files, ports and argument values of a recording, as comparable text.
fn facts(recording: &std::path::Path) -> (String, String, String) {
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(recording).unwrap()).unwrap();
    let args: Vec<String> = v["syscalls"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["args"].as_object().is_some_and(|a| !a.is_empty()))
        .map(|s| format!("{} {}", s["name"], s["args"]))
        .collect();
    (
        serde_json::to_string_pretty(&v["files"]).unwrap(),
        v["ports"].to_string(),
        args.join("\n"),
    )
}

/// Paths relative to the cwd and to a directory fd, a created file and an existing one opened
/// with O_CREAT, directories made and removed, renames, links, symlinks, truncation, an exec
/// through a relative path and a script interpreter, binds and connects, socket families and
/// clone flags: eBPF records the same files, ports and argument values as notify.
#[test]
fn ebpf_records_the_same_paths_ports_and_arguments_as_notify() {
    let dir = TempDir::new("ebpffacts");
    let work = dir.join("work");
    std::fs::create_dir(&work).unwrap();
    std::fs::write(work.join("old"), "x").unwrap();
    std::fs::write(work.join("script.sh"), "#!/bin/sh\nexit 0\n").unwrap();
    std::fs::set_permissions(
        work.join("script.sh"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let code = r#"
import os, socket, subprocess
ports = []
for tag in ("a", "b"):
    os.mkdir(f"d-{tag}")
    fd = os.open(f"d-{tag}", os.O_RDONLY | os.O_DIRECTORY)
    with open(os.open("inner", os.O_WRONLY | os.O_CREAT, 0o600, dir_fd=fd), "w") as f: f.write("x")
    os.rename("inner", "moved", src_dir_fd=fd, dst_dir_fd=fd)
    os.unlink("moved", dir_fd=fd)
    os.close(fd)
    os.rmdir(f"d-{tag}")
    with open("old", "a") as f: f.write("y")
    with open(f"new-{tag}", "w") as f: f.write("z")
    os.truncate(f"new-{tag}", 0)
    os.link(f"new-{tag}", f"hard-{tag}")
    os.symlink("old", f"sym-{tag}")
    os.listdir(".")
    os.chdir(".."); os.chdir("work")
    subprocess.run(["./script.sh"], check=True)
    s = socket.socket(socket.AF_INET6); s.bind(("::1", 0)); s.listen()
    port = s.getsockname()[1]; ports.append(port)
    c = socket.socket(socket.AF_INET6); c.connect(("::1", port))
    u = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    for f in (c, s, u): f.close()
    for p in (f"new-{tag}", f"hard-{tag}", f"sym-{tag}"): os.unlink(p)
print(" ".join(map(str, sorted(ports))))
"#;
    let mut out = Vec::new();
    for backend in ["notify", "ebpf"] {
        let rec = dir.join(&format!("{backend}.rec"));
        let mut c = clean_command(syscage());
        c.current_dir(&work)
            .args(["record", "-q", "--args", "--backend", backend, "-o"])
            .arg(dir.join(&format!("{backend}.json")))
            .arg("--recording")
            .arg(&rec)
            .args(["--", "/usr/bin/python3", "-c", code]);
        let o = run_command(c);
        let ports = o.assert_code(0).stdout.trim().replace(' ', ",");
        assert!(!o.stderr.contains("warning"), "{backend}: {}", o.stderr);
        let f = facts(&rec);
        // The ports the kernel chose, as the workload printed them.
        assert_eq!(
            f.1,
            format!("{{\"bind\":[0],\"connect\":[{ports}]}}"),
            "{backend}"
        );
        out.push(f);
    }
    let (notify, ebpf) = (&out[0], &out[1]);
    let w = work.display().to_string();
    let files: serde_json::Value = serde_json::from_str(&notify.0).unwrap();
    let has = |path: &str, acc: &[&str]| {
        let got: Vec<&str> = files[path]
            .as_array()
            .map(|a| a.iter().filter_map(|x| x.as_str()).collect())
            .unwrap_or_default();
        acc.iter().all(|a| got.contains(a))
    };
    for (what, path, acc) in [
        (
            "a created file",
            format!("{w}/new-a"),
            &["create", "write"][..],
        ),
        (
            "a dirfd-relative create",
            format!("{w}/d-a/inner"),
            &["create"],
        ),
        (
            "a removed directory",
            format!("{w}/d-b"),
            &["create", "remove"],
        ),
        (
            "an exec through a relative path",
            format!("{w}/script.sh"),
            &["exec"],
        ),
        ("a script's interpreter", "/bin/sh".to_string(), &["exec"]),
    ] {
        assert!(
            has(&path, acc),
            "notify lacks {what}: {path} {acc:?}:\n{}",
            notify.0
        );
    }
    assert!(
        has(&format!("{w}/old"), &["write"]) && !has(&format!("{w}/old"), &["create"]),
        "an existing file opened with O_CREAT is written, not created"
    );
    assert_eq!(notify.0, ebpf.0, "files differ (notify, then ebpf)");
    assert!(notify.2.contains("socket"), "{}", notify.2);
    assert_eq!(notify.2, ebpf.2, "argument values differ");
}

/// The recorder relocated once per boot (`/run/syscage/ebpf`, here a directory of the test's
/// own through `SYSCAGE_EBPF_CACHE_DIR`): kept after a recording; a copy that does not load
/// (garbage, or tracepoint ids that are wrong) is dropped, the recording made from the object
/// relocated afresh, and the copy made anew by the next one; a copy in a directory others can
/// write to is never read.
#[test]
fn the_relocated_recorder_is_kept_per_boot_and_a_bad_copy_is_replaced() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new("ebpfcore");
    let cache = TempDir::new("ebpfcorecache");
    std::fs::set_permissions(cache.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    let record = |name: &str| {
        let out = dir.join(name);
        let mut c = syscage_cmd();
        c.env("SYSCAGE_EBPF_CACHE_DIR", cache.path())
            .args(["record", "-q", "--backend", "ebpf", "-o"])
            .arg(&out)
            .args(["--", "/usr/bin/python3", "-c", "import os; os.getsid(0)"]);
        run_command(c).assert_code(0);
        assert!(allowed_names(&out).contains("getsid"), "{name}");
    };
    let only = |ext: &str| -> std::path::PathBuf {
        let found: Vec<_> = std::fs::read_dir(cache.path())
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == ext))
            .collect();
        assert_eq!(found.len(), 1, "{ext}: {found:?}");
        found[0].clone()
    };
    let elf = |p: &std::path::Path| std::fs::read(p).unwrap_or_default().starts_with(b"\x7fELF");
    record("a.json");
    let copy = only("o");
    assert!(elf(&copy));
    // Garbage: dropped, the recording made all the same, the copy made anew next time.
    std::fs::write(&copy, b"not an eBPF object").unwrap();
    record("b.json");
    assert!(!copy.exists(), "the garbage copy was kept");
    record("c.json");
    assert!(elf(&only("o")), "the copy was not made anew");
    // The tracepoints' ids kept beside it, wrong (well-formed, other numbers): the programs do
    // not load with them, so both are dropped and the recording is made all the same.
    let ids = only("ids");
    let text = std::fs::read_to_string(&ids).unwrap();
    assert!(text.starts_with("btf_trace_sys_enter "), "{text:?}");
    let wrong: String = text
        .lines()
        .map(|l| format!("{} 1\n", l.split(' ').next().unwrap()))
        .collect();
    std::fs::write(&ids, &wrong).unwrap();
    record("d.json");
    record("e.json");
    assert_eq!(std::fs::read_to_string(only("ids")).unwrap(), text);
    // A directory others can write to: what it holds is never read (the garbage would have
    // been dropped had it been tried), nor anything stored there.
    let copy = only("o");
    std::fs::write(&copy, b"not an eBPF object").unwrap();
    std::fs::set_permissions(cache.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    record("f.json");
    assert_eq!(std::fs::read(&copy).unwrap(), b"not an eBPF object");
}

/// The program is loaded while the recorder's init prepares the workload. When the kernel then
/// refuses it (here: root of a user namespace, which holds CAP_SYS_ADMIN there but may not load
/// eBPF), `auto` records with notify instead and the workload runs once; `--backend ebpf` fails
/// with the kernel's reason, before the workload ran, and writes nothing.
#[test]
fn a_refused_load_falls_back_or_fails_before_the_workload_runs() {
    let dir = TempDir::new("ebpfrefused");
    let marker = dir.join("runs");
    let script = format!("echo run >> {}", marker.display());
    let record = |backend: &str, out: &str| {
        let mut c = Command::new("unshare");
        c.args(["-Ur"])
            .arg(syscage())
            .args(["record", "--backend", backend, "-o"])
            .arg(dir.join(out))
            .args(["--", "/bin/sh", "-c", &script]);
        run_command(c)
    };
    let o = record("auto", "auto.json");
    o.assert_code(0);
    assert!(
        o.stderr
            .contains("notify backend (auto: eBPF unavailable: loading the eBPF recorder"),
        "{}",
        o.stderr
    );
    assert!(dir.join("auto.json").is_file());
    assert_eq!(std::fs::read_to_string(&marker).unwrap(), "run\n");
    let o = record("ebpf", "ebpf.json");
    o.assert_code(125);
    assert!(
        o.stderr
            .contains("--backend ebpf: loading the eBPF recorder"),
        "{}",
        o.stderr
    );
    assert!(!dir.join("ebpf.json").exists());
    assert_eq!(
        std::fs::read_to_string(&marker).unwrap(),
        "run\n",
        "the workload ran"
    );
}
