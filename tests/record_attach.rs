//! `record --attach`: what already runs is recorded from the attach on — a process tree, a
//! podman container (with `podman exec` into it), a cgroup — and nothing else; the target runs
//! on untouched when syscage ends or is killed; bad targets are refused.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// Starts `record --attach TARGET` and returns once it says it is attached (its stderr is
/// then drained on a thread, returned by the handle).
fn attach(target: &str, out: &Path, rec: &Path) -> (Child, std::thread::JoinHandle<String>) {
    attach_with(syscage_cmd(), target, out, rec)
}

/// `attach` with a prepared syscage command (its environment).
fn attach_with(
    mut c: Command,
    target: &str,
    out: &Path,
    rec: &Path,
) -> (Child, std::thread::JoinHandle<String>) {
    c.args(["record", "--attach", target, "-o"])
        .arg(out)
        .arg("--recording")
        .arg(rec)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        let n = err.read_line(&mut line).unwrap();
        seen.push_str(&line);
        assert!(
            n > 0,
            "record --attach {target} ended before attaching: {seen}"
        );
        if line.contains("attached to ") {
            break;
        }
    }
    let rest = std::thread::spawn(move || {
        let mut s = seen;
        let _ = std::io::Read::read_to_string(&mut err, &mut s);
        s
    });
    (child, rest)
}

/// Ends the recording with SIGTERM, as an operator's Ctrl-C would, and returns its stderr.
fn stop(mut child: Child, err: std::thread::JoinHandle<String>) -> String {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let status = child.wait().unwrap();
    let err = err.join().unwrap();
    assert_eq!(status.code(), Some(0), "record --attach: {err}");
    err
}

fn wait_for(path: &Path, what: &str) {
    let start = Instant::now();
    while !path.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{what} never happened"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn names(rec: &Path) -> std::collections::BTreeSet<String> {
    recorded_names(rec).into_iter().map(|(_, n)| n).collect()
}

/// A python process tree: a child forked before the attach, the parent, a child forked after;
/// each makes its own marker syscall once `go` exists, then they wait for `end`.
const TREE: &str = "import os, sys, time\n\
d = sys.argv[1]\n\
def until(name):\n    while not os.path.exists(os.path.join(d, name)): time.sleep(0.02)\n\
early = os.fork()\n\
if early == 0:\n    until('go'); os.getpgid(0); open(os.path.join(d, 'early-done'), 'w').close(); until('end'); os._exit(0)\n\
open(os.path.join(d, 'ready'), 'w').close()\n\
until('go')\n\
os.times()\n\
late = os.fork()\n\
if late == 0:\n    os.getsid(0); os._exit(0)\n\
os.waitpid(late, 0)\n\
open(os.path.join(d, 'done'), 'w').close()\n\
until('end')\n\
os.waitpid(early, 0)\n";

#[test]
fn a_process_tree_is_recorded_from_the_attach_on_and_nothing_else() {
    let dir = TempDir::new("attachpid");
    let mut tree = group({
        let mut c = Command::new("/usr/bin/python3");
        c.args(["-c", TREE, dir.str()]);
        c
    });
    let _kill_tree = KillPid(tree.id());
    // A neighbour outside the tree, busy with a syscall the tree never makes.
    let mut neighbour = group({
        let mut c = Command::new("/usr/bin/python3");
        c.args([
            "-c",
            "import os, time\nt = time.time()\nwhile time.time() - t < 20: os.getpriority(os.PRIO_PROCESS, 0); time.sleep(0.01)",
        ]);
        c
    });
    let _kill_neighbour = KillPid(neighbour.id());
    wait_for(&dir.join("ready"), "the tree's start");
    let (out, rec) = (dir.join("p.json"), dir.join("p.rec"));
    let (child, err) = attach(&format!("pid:{}", tree.id()), &out, &rec);
    std::fs::write(dir.join("go"), "").unwrap();
    wait_for(&dir.join("done"), "the tree's markers");
    wait_for(&dir.join("early-done"), "the early child's marker");
    let err = stop(child, err);
    // The target outlives the recording, untouched.
    assert!(
        tree.try_wait().unwrap().is_none(),
        "the tree was stopped: {err}"
    );
    let got = names(&rec);
    for marker in ["times", "getsid", "getpgid", "wait4"] {
        assert!(got.contains(marker), "{marker} missing from {got:?}\n{err}");
    }
    assert!(
        !got.contains("getpriority"),
        "the neighbour was recorded: {got:?}"
    );
    assert!(allowed_names(&out).contains("getsid"));
    assert!(
        err.contains("what it did before is not in this recording"),
        "{err}"
    );
    std::fs::write(dir.join("end"), "").unwrap();
    assert!(tree.wait().unwrap().success());
    let _ = neighbour.kill();
    let _ = neighbour.wait();
}

/// The ids of the eBPF programs process `pid` holds (from its descriptors' fdinfo).
fn prog_ids(pid: u32) -> Vec<String> {
    let mut ids = Vec::new();
    for fd in std::fs::read_dir(format!("/proc/{pid}/fdinfo"))
        .into_iter()
        .flatten()
        .flatten()
    {
        let info = std::fs::read_to_string(fd.path()).unwrap_or_default();
        for l in info.lines() {
            if let Some(id) = l.strip_prefix("prog_id:") {
                ids.push(id.trim().to_string());
            }
        }
    }
    ids
}

/// Whether any process holds eBPF program `id`.
fn prog_held(id: &str) -> bool {
    for p in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(fds) = std::fs::read_dir(p.path().join("fdinfo")) else {
            continue;
        };
        for fd in fds.flatten() {
            let info = std::fs::read_to_string(fd.path()).unwrap_or_default();
            if info
                .lines()
                .any(|l| l.strip_prefix("prog_id:").map(str::trim) == Some(id))
            {
                return true;
            }
        }
    }
    false
}

#[test]
fn killing_syscage_mid_recording_leaves_the_target_running_and_nothing_in_the_kernel() {
    let dir = TempDir::new("attachkill");
    let count = dir.join("count");
    // The target counts in a file: it must go on counting after syscage is killed.
    let script = format!(
        "i=0; while :; do i=$((i+1)); echo $i > {0}.tmp; mv {0}.tmp {0}; sleep 0.05; done",
        count.display()
    );
    let target = group({
        let mut c = Command::new("/bin/sh");
        c.args(["-c", &script]);
        c
    });
    let target = Group(target);
    wait_for(&count, "the target's first count");
    let (mut child, err) = attach(
        &format!("pid:{}", target.id()),
        &dir.join("k.json"),
        &dir.join("k.rec"),
    );
    let progs = prog_ids(child.id());
    assert!(
        !progs.is_empty(),
        "syscage holds no eBPF program while attached"
    );
    child.kill().unwrap();
    child.wait().unwrap();
    drop(err);
    let read = || {
        std::fs::read_to_string(&count)
            .unwrap_or_default()
            .trim()
            .parse::<u64>()
            .unwrap_or(0)
    };
    let before = read();
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        read() > before,
        "the target stopped counting when syscage was killed"
    );
    assert!(
        !dir.join("k.json").exists(),
        "a profile was written by a killed recording"
    );
    // The kernel frees the programs with the last descriptor: give RCU a moment.
    let start = Instant::now();
    while progs.iter().any(|id| prog_held(id)) {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "eBPF programs {progs:?} are still held after syscage was killed"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_podman_container_is_recorded_by_its_mount_namespace_including_exec() {
    let dir = TempDir::new("attachpodman");
    let image = PodmanImage::with_probe(&dir, "attach");
    let run = |name: &str, script: &str, extra: &[&str]| {
        let mut args: Vec<&str> = PODMAN_RUN.to_vec();
        args.retain(|a| *a != "--rm");
        args.extend(["-d", "--name", name]);
        args.extend(extra);
        args.extend([image.0.as_str(), "/bin/sh", "-c", script]);
        podman(&args)
    };
    let (a, b) = (unique("attach-a"), unique("attach-b"));
    let _ca = RemoveContainer(a.clone());
    let _cb = RemoveContainer(b.clone());
    // A serves: a loop that syncs once /tmp/go exists. B, the same image, makes its marker
    // (sched_getaffinity through nproc) all the time.
    run(
        &a,
        "while :; do /bin/busybox sleep 0.05; [ -e /tmp/go ] && /bin/busybox sync; done",
        &[],
    )
    .assert_code(0);
    run(
        &b,
        "while :; do /bin/busybox nproc >/dev/null; /bin/busybox sleep 0.05; done",
        &[],
    )
    .assert_code(0);
    let (out, rec) = (dir.join("c.json"), dir.join("c.rec"));
    let (child, err) = attach(&format!("container:{a}"), &out, &rec);
    // After the attach: a syscall the loop had never made, and an exec into the container.
    podman(&["exec", &a, "/bin/busybox", "touch", "/tmp/go"]).assert_code(0);
    podman(&["exec", &a, "/bin/busybox", "ionice"]).assert_code(0);
    std::thread::sleep(Duration::from_millis(300));
    let err = stop(child, err);
    assert!(err.contains("found by podman inspect"), "{err}");
    let got = names(&rec);
    assert!(
        got.contains("sync"),
        "the post-attach syscall is missing: {got:?}\n{err}"
    );
    assert!(
        got.contains("ioprio_get"),
        "podman exec was not recorded: {got:?}"
    );
    assert!(
        !got.contains("sched_getaffinity"),
        "the other container was recorded: {got:?}"
    );
    // The exec helper (crun) runs unfiltered until it execs the command: its setup (setns,
    // capset, seccomp) is the runtime's, not the workload's, and must not widen the profile.
    for runtime_only in ["setns", "capset", "seccomp"] {
        assert!(
            !got.contains(runtime_only),
            "{runtime_only} of the exec helper was recorded: {got:?}"
        );
    }
    // Restarted under the profile, the container runs; an attack is refused.
    let mut args: Vec<&str> = PODMAN_RUN.to_vec();
    let sec = format!("seccomp={}", out.display());
    args.extend(["--security-opt", &sec, image.0.as_str(), "/bin/sh", "-c"]);
    let mut serve = args.clone();
    serve.push("for i in 1 2 3; do /bin/busybox sleep 0.05; /bin/busybox touch /tmp/go; /bin/busybox sync; done; echo served");
    let served = podman(&serve);
    assert_eq!(served.code, 0, "{}", served.stderr);
    assert!(served.stdout.contains("served"));
    let mut attack = args.clone();
    attack.push("/bin/busybox unshare -U true");
    let refused = podman(&attack);
    assert_ne!(refused.code, 0, "unshare ran under the recorded profile");
    assert!(
        refused.stderr.contains("Operation not permitted"),
        "{}",
        refused.stderr
    );
}

/// crun and runc containers, found by `RUNTIME state` under the bundle's own state directory
/// (`SYSCAGE_RUNTIME_ROOT`): the loop's post-attach syscall is recorded and the profile takes
/// that runtime's base set.
#[test]
fn crun_and_runc_containers_are_found_by_their_state() {
    for runtime in ["crun", "runc"] {
        let args: Vec<String> = [
            "/bin/sh",
            "-c",
            "while :; do /bin/busybox sleep 0.05; [ -e /tmp/go ] && /bin/busybox sync; done",
        ]
        .iter()
        .map(|a| a.to_string())
        .collect();
        let b = Bundle::new(
            runtime,
            &args,
            &fixture("docker-default-seccomp.json"),
            false,
        );
        let container = b.command().stdout(Stdio::null()).spawn().unwrap();
        let state = b.dir.join("state");
        let _running = DeleteContainer {
            runtime,
            state: state.clone(),
            id: b.id.clone(),
            run: container,
        };
        // Running once `state` says so.
        let start = Instant::now();
        loop {
            let out = Command::new(runtime)
                .arg("--root")
                .arg(&state)
                .args(["state", &b.id])
                .output()
                .unwrap();
            if String::from_utf8_lossy(&out.stdout).contains("\"running\"") {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "{runtime}: the container never ran"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let (out, rec) = (b.dir.join("a.json"), b.dir.join("a.rec"));
        let mut c = syscage_cmd();
        c.env("SYSCAGE_RUNTIME_ROOT", &state);
        let (child, err) = attach_with(c, &format!("container:{runtime}:{}", b.id), &out, &rec);
        // The root is read-only inside; the host writes the trigger into it.
        std::fs::write(b.dir.join("rootfs/tmp/go"), "").unwrap();
        std::thread::sleep(Duration::from_millis(300));
        let err = stop(child, err);
        assert!(err.contains(&format!("found by {runtime} state")), "{err}");
        assert!(
            err.contains(&format!("from the {runtime} runtime base")),
            "{err}"
        );
        let got = names(&rec);
        assert!(got.contains("sync"), "{runtime}: {got:?}\n{err}");
    }
}

/// A Docker daemon of the test's own (Debian's docker.io): its own data and exec roots and
/// socket, no bridge, no iptables rules, the vfs storage driver (works on any file system).
struct Docker {
    dir: TempDir,
    daemon: Child,
    host: String,
    /// dockerd makes /run/docker/plugins whatever its roots: removed on drop if it made it.
    made_run_dir: bool,
    /// The cgroup its containers go under (in every hierarchy): removed on drop.
    cgroup_parent: String,
}

impl Docker {
    fn start() -> Docker {
        let dir = TempDir::new("dockerd");
        let host = format!("unix://{}", dir.join("d.sock").display());
        let log = std::fs::File::create(dir.join("dockerd.log")).unwrap();
        let made_run_dir = !Path::new("/run/docker").exists();
        let cgroup_parent = unique("syscage-docker");
        let daemon = Command::new("/usr/sbin/dockerd")
            .arg("--data-root")
            .arg(dir.join("data"))
            .arg("--exec-root")
            .arg(dir.join("exec"))
            .arg("--pidfile")
            .arg(dir.join("dockerd.pid"))
            .args([
                "-H",
                &host,
                "--bridge=none",
                "--iptables=false",
                "--ip-masq=false",
            ])
            .args(["--ip6tables=false", "--storage-driver=vfs"])
            .arg(format!("--cgroup-parent=/{cgroup_parent}"))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "/usr/sbin/dockerd: {e} (install the Debian package docker.io; .ci/run does)"
                )
            });
        let d = Docker {
            dir,
            daemon,
            host,
            made_run_dir,
            cgroup_parent,
        };
        let start = Instant::now();
        while !d.cmd(&["version"]).status.success() {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "dockerd did not answer: {}",
                std::fs::read_to_string(d.dir.join("dockerd.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        d
    }

    fn command(&self) -> Command {
        let mut c = Command::new("/usr/bin/docker");
        c.env("DOCKER_HOST", &self.host);
        c
    }

    fn cmd(&self, args: &[&str]) -> std::process::Output {
        self.command().args(args).output().unwrap()
    }
}

impl Drop for Docker {
    fn drop(&mut self) {
        let ids = self.cmd(&["ps", "-aq"]);
        for id in String::from_utf8_lossy(&ids.stdout).split_whitespace() {
            let _ = self.cmd(&["rm", "-f", id]);
        }
        let _ = Command::new("kill")
            .args(["-TERM", &self.daemon.id().to_string()])
            .status();
        let start = Instant::now();
        while self.daemon.try_wait().ok().flatten().is_none() {
            if start.elapsed() > Duration::from_secs(20) {
                let _ = self.daemon.kill();
                let _ = self.daemon.wait();
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        // What the daemon left mounted under its roots (network namespace files, shm).
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let mut under: Vec<&str> = mounts
            .lines()
            .filter_map(|l| l.split_whitespace().nth(4))
            .filter(|m| Path::new(m).starts_with(self.dir.path()))
            .collect();
        under.sort_by_key(|m| std::cmp::Reverse(m.len()));
        for m in under {
            let _ = Command::new("umount").args(["-l", m]).status();
        }
        remove_cgroup_everywhere(&self.cgroup_parent);
        if self.made_run_dir {
            // Only if empty: another daemon may have started to use it since.
            let _ = std::fs::remove_dir("/run/docker/plugins");
            let _ = std::fs::remove_dir("/run/docker");
        }
    }
}

/// Docker: a container recorded by `--attach container:docker:NAME` (its daemon found through
/// DOCKER_HOST), `docker exec` recorded from its exec on and runc's own setup not, and the
/// profile enforced by `docker run --security-opt seccomp=`: the workload runs, an attack fails.
#[test]
fn a_docker_container_is_recorded_and_docker_enforces_the_profile() {
    let docker = Docker::start();
    let root = docker.dir.join("rootfs");
    busybox_rootfs(&root);
    let tar = docker.dir.join("rootfs.tar");
    let mut c = Command::new("tar");
    c.arg("-C").arg(&root).arg("-cf").arg(&tar).arg(".");
    run_command(c).assert_code(0);
    let image = "syscage-attach:test";
    let imported = docker.cmd(&["import", tar.to_str().unwrap(), image]);
    assert!(
        imported.status.success(),
        "docker import: {}",
        String::from_utf8_lossy(&imported.stderr)
    );
    let name = unique("dk");
    let loop_ = "while :; do /bin/busybox sleep 0.05; [ -e /tmp/go ] && /bin/busybox sync; done";
    let started = docker.cmd(&[
        "run",
        "-d",
        "--network",
        "none",
        "--name",
        &name,
        image,
        "/bin/sh",
        "-c",
        loop_,
    ]);
    assert!(
        started.status.success(),
        "docker run: {}",
        String::from_utf8_lossy(&started.stderr)
    );
    let (out, rec) = (docker.dir.join("d.json"), docker.dir.join("d.rec"));
    let mut c = syscage_cmd();
    c.env("DOCKER_HOST", &docker.host);
    let (child, err) = attach_with(c, &format!("container:docker:{name}"), &out, &rec);
    for exec in [&["touch", "/tmp/go"][..], &["ionice"][..]] {
        let mut args = vec!["exec", name.as_str(), "/bin/busybox"];
        args.extend(exec);
        let o = docker.cmd(&args);
        assert!(
            o.status.success(),
            "docker exec {exec:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    std::thread::sleep(Duration::from_millis(300));
    let err = stop(child, err);
    assert!(err.contains("found by docker inspect"), "{err}");
    assert!(err.contains("from the runc runtime base"), "{err}");
    let got = names(&rec);
    assert!(
        got.contains("sync") && got.contains("ioprio_get"),
        "{got:?}\n{err}"
    );
    for runtime_only in ["setns", "unshare", "capset"] {
        assert!(
            !got.contains(runtime_only),
            "runc's {runtime_only} was recorded: {got:?}"
        );
    }
    let sec = format!("seccomp={}", out.display());
    let serve = "for i in 1 2 3; do /bin/busybox sleep 0.05; /bin/busybox touch /tmp/go; /bin/busybox sync; done; echo served";
    let served = docker.cmd(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--security-opt",
        &sec,
        image,
        "/bin/sh",
        "-c",
        serve,
    ]);
    assert!(
        served.status.success() && String::from_utf8_lossy(&served.stdout).contains("served"),
        "docker run under the recorded profile: {}",
        String::from_utf8_lossy(&served.stderr)
    );
    let attack = docker.cmd(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--security-opt",
        &sec,
        image,
        "/bin/busybox",
        "unshare",
        "-U",
        "true",
    ]);
    assert!(
        !attack.status.success(),
        "unshare ran under the recorded profile"
    );
    assert!(
        String::from_utf8_lossy(&attack.stderr).contains("Operation not permitted"),
        "{}",
        String::from_utf8_lossy(&attack.stderr)
    );
}

/// A containerd of the test's own: its own root, state and socket, the CRI plugin off.
struct Containerd {
    dir: TempDir,
    daemon: Child,
    address: String,
    /// Its namespace, also the cgroup its containers go under: removed on drop.
    namespace: String,
}

impl Containerd {
    fn start() -> Containerd {
        let dir = TempDir::new("containerd");
        let address = dir.join("c.sock").display().to_string();
        std::fs::write(
            dir.join("config.toml"),
            format!(
                "version = 2\nroot = \"{}\"\nstate = \"{}\"\ndisabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n[grpc]\n  address = \"{address}\"\n",
                dir.join("root").display(),
                dir.join("state").display()
            ),
        )
        .unwrap();
        let log = std::fs::File::create(dir.join("containerd.log")).unwrap();
        let daemon = Command::new("/usr/bin/containerd")
            .arg("--config")
            .arg(dir.join("config.toml"))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("/usr/bin/containerd: {e} (install the Debian package containerd, which docker.io brings; .ci/run does)")
            });
        let c = Containerd {
            dir,
            daemon,
            address,
            namespace: unique("syscage-ctd"),
        };
        let start = Instant::now();
        while !c.ctr(&["version"]).status.success() {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "containerd did not answer: {}",
                std::fs::read_to_string(c.dir.join("containerd.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        c
    }

    fn env(&self, c: &mut Command) {
        c.env("CONTAINERD_ADDRESS", &self.address)
            .env("CONTAINERD_NAMESPACE", &self.namespace);
    }

    fn ctr(&self, args: &[&str]) -> std::process::Output {
        let mut c = Command::new("/usr/bin/ctr");
        self.env(&mut c);
        c.args(args).output().unwrap()
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        let tasks = self.ctr(&["task", "ls", "-q"]);
        for t in String::from_utf8_lossy(&tasks.stdout).split_whitespace() {
            let _ = self.ctr(&["task", "kill", "-s", "KILL", t]);
            let start = Instant::now();
            while !self.ctr(&["task", "rm", t]).status.success()
                && start.elapsed() < Duration::from_secs(10)
            {
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        let containers = self.ctr(&["container", "ls", "-q"]);
        for c in String::from_utf8_lossy(&containers.stdout).split_whitespace() {
            let _ = self.ctr(&["container", "rm", c]);
        }
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
        remove_cgroup_everywhere(&self.namespace);
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let mut under: Vec<&str> = mounts
            .lines()
            .filter_map(|l| l.split_whitespace().nth(4))
            .filter(|m| Path::new(m).starts_with(self.dir.path()))
            .collect();
        under.sort_by_key(|m| std::cmp::Reverse(m.len()));
        for m in under {
            let _ = Command::new("umount").args(["-l", m]).status();
        }
    }
}

/// containerd: an image imported offline (`ctr images import` of an OCI archive podman made),
/// a `ctr run` container recorded by `--attach container:ctr:ID` (CONTAINERD_ADDRESS), `ctr task
/// exec` recorded from its exec on, and `ctr run --seccomp-profile` enforcing the profile.
#[test]
fn a_containerd_container_is_recorded_and_ctr_enforces_the_profile() {
    let ctd = Containerd::start();
    let root = ctd.dir.join("rootfs");
    busybox_rootfs(&root);
    let tar = ctd.dir.join("rootfs.tar");
    let mut c = Command::new("tar");
    c.arg("-C").arg(&root).arg("-cf").arg(&tar).arg(".");
    run_command(c).assert_code(0);
    let image = format!("localhost/{}:test", unique("ctd"));
    podman(&["import", "-q", tar.to_str().unwrap(), &image]).assert_code(0);
    let oci = ctd.dir.join("image.oci.tar");
    let saved = podman(&[
        "save",
        "--format",
        "oci-archive",
        "-o",
        oci.to_str().unwrap(),
        &image,
    ]);
    let _ = podman(&["rmi", "-f", &image]);
    saved.assert_code(0);
    let imported = ctd.ctr(&["images", "import", oci.to_str().unwrap()]);
    assert!(
        imported.status.success(),
        "ctr images import: {}",
        String::from_utf8_lossy(&imported.stderr)
    );
    let id = unique("ct");
    let loop_ = "while :; do /bin/busybox sleep 0.05; [ -e /tmp/go ] && /bin/busybox sync; done";
    let started = ctd.ctr(&["run", "-d", &image, &id, "/bin/sh", "-c", loop_]);
    assert!(
        started.status.success(),
        "ctr run: {}",
        String::from_utf8_lossy(&started.stderr)
    );
    let (out, rec) = (ctd.dir.join("c.json"), ctd.dir.join("c.rec"));
    let mut c = syscage_cmd();
    ctd.env(&mut c);
    let (child, err) = attach_with(c, &format!("container:ctr:{id}"), &out, &rec);
    for (n, exec) in [&["touch", "/tmp/go"][..], &["ionice"][..]]
        .iter()
        .enumerate()
    {
        let exec_id = format!("e{n}");
        let mut args = vec![
            "task",
            "exec",
            "--exec-id",
            exec_id.as_str(),
            id.as_str(),
            "/bin/busybox",
        ];
        args.extend(exec.iter());
        let o = ctd.ctr(&args);
        assert!(
            o.status.success(),
            "ctr task exec {exec:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    std::thread::sleep(Duration::from_millis(300));
    let err = stop(child, err);
    assert!(err.contains("found by ctr task ls"), "{err}");
    let got = names(&rec);
    assert!(
        got.contains("sync") && got.contains("ioprio_get"),
        "{got:?}\n{err}"
    );
    assert!(!got.contains("setns"), "runc's setns was recorded: {got:?}");
    let serve = "for i in 1 2 3; do /bin/busybox sleep 0.05; /bin/busybox touch /tmp/go; /bin/busybox sync; done; echo served";
    let (id2, id3) = (unique("ct"), unique("ct"));
    let prof = out.to_str().unwrap();
    let served = ctd.ctr(&[
        "run",
        "--rm",
        "--seccomp",
        "--seccomp-profile",
        prof,
        &image,
        &id2,
        "/bin/sh",
        "-c",
        serve,
    ]);
    assert!(
        served.status.success() && String::from_utf8_lossy(&served.stdout).contains("served"),
        "ctr run under the recorded profile: {}",
        String::from_utf8_lossy(&served.stderr)
    );
    let attack = ctd.ctr(&[
        "run",
        "--rm",
        "--seccomp",
        "--seccomp-profile",
        prof,
        &image,
        &id3,
        "/bin/busybox",
        "unshare",
        "-U",
        "true",
    ]);
    assert!(
        !attack.status.success(),
        "unshare ran under the recorded profile"
    );
}

#[test]
fn a_cgroup_is_recorded_with_what_joins_it_later() {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let mount = mountinfo
        .lines()
        .find(|l| l.contains(" - cgroup2 ") && l.split_whitespace().nth(3) == Some("/"))
        .and_then(|l| l.split_whitespace().nth(4))
        .expect("cgroup v2 is not mounted: the kernel here has it; mount cgroup2 (systemd does)")
        .to_string();
    let dir = TempDir::new("attachcg");
    let name = unique("syscage-attach");
    let cg = Path::new(&mount).join(&name);
    std::fs::create_dir(&cg).unwrap();
    let _rm = RemoveCgroup(cg.clone());
    let go = dir.join("go");
    let script = format!(
        "echo $$ > {}/cgroup.procs; exec /bin/sh -c 'while :; do sleep 0.05; [ -e {} ] && sync; done'",
        cg.display(),
        go.display()
    );
    let target = group({
        let mut c = Command::new("/bin/sh");
        c.args(["-c", &script]);
        c
    });
    let _target = Group(target);
    let start = Instant::now();
    while std::fs::read_to_string(cg.join("cgroup.procs"))
        .unwrap_or_default()
        .trim()
        .is_empty()
    {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the target never joined {}",
            cg.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let (out, rec) = (dir.join("g.json"), dir.join("g.rec"));
    let (child, err) = attach(&format!("cgroup:{name}"), &out, &rec);
    std::fs::write(&go, "").unwrap();
    std::thread::sleep(Duration::from_millis(400));
    let err = stop(child, err);
    let got = names(&rec);
    assert!(
        got.contains("sync") && got.contains("execve"),
        "{got:?}\n{err}"
    );
}

/// The recording ends by itself when the target is gone — a process tree that exits, a
/// container that stops — and the profile is written then.
#[test]
fn the_recording_ends_when_the_target_is_gone() {
    let dir = TempDir::new("attachgone");
    let go = dir.join("go");
    let script = format!(
        "while [ ! -e {0} ]; do sleep 0.05; done; sync; (sleep 0.2; sync) & wait",
        go.display()
    );
    let target = group({
        let mut c = Command::new("/bin/sh");
        c.args(["-c", &script]);
        c
    });
    let _target = Group(target);
    let (out, rec) = (dir.join("g.json"), dir.join("g.rec"));
    let (mut child, err) = attach(&format!("pid:{}", _target.id()), &out, &rec);
    std::fs::write(&go, "").unwrap();
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the recording did not end with its target"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let err = err.join().unwrap();
    assert_eq!(status.code(), Some(0), "{err}");
    assert!(err.contains("exited"), "{err}");
    assert!(names(&rec).contains("sync") && out.exists(), "{err}");

    // A podman container that stops during the recording.
    let image = PodmanImage::with_probe(&dir, "attachgone");
    let name = unique("attach-gone");
    let _c = RemoveContainer(name.clone());
    let mut args: Vec<&str> = PODMAN_RUN.to_vec();
    args.retain(|a| *a != "--rm");
    args.extend(["-d", "--name", &name, image.0.as_str(), "/bin/sh", "-c"]);
    args.push("while [ ! -e /tmp/go ]; do /bin/busybox sleep 0.05; done; /bin/busybox sync");
    podman(&args).assert_code(0);
    let (out, rec) = (dir.join("c.json"), dir.join("c.rec"));
    let (mut child, err) = attach(&format!("container:podman:{name}"), &out, &rec);
    podman(&["exec", &name, "/bin/busybox", "touch", "/tmp/go"]).assert_code(0);
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the recording did not end with its container"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let err = err.join().unwrap();
    assert_eq!(status.code(), Some(0), "{err}");
    assert!(err.contains(&format!("{name} exited")), "{err}");
    assert!(names(&rec).contains("sync") && out.exists(), "{err}");
}

#[test]
fn bad_targets_are_refused_and_leave_nothing() {
    let dir = TempDir::new("attachbad");
    let out = dir.join("never.json");
    // kthreadd (pid 2) is a kernel thread on every Linux.
    for (target, says) in [
        ("pid:2", "kernel thread"),
        ("pid:4294967295", "no such process"),
        ("container:syscage-no-such-box", "not found"),
        ("container:nosuchengine:x", "unknown engine"),
        ("cgroup:syscage-no-such-cgroup", "cgroup"),
        ("box:1", "expected pid:N"),
    ] {
        let o = run_command({
            let mut c = syscage_cmd();
            c.args(["record", "--attach", target, "-o"]).arg(&out);
            c
        });
        o.assert_code(125).assert_no_panic();
        assert!(o.stderr.contains(says), "{target}: {}", o.stderr);
        assert!(!out.exists(), "{target}: a profile was written");
    }
    let o = run_command({
        let mut c = syscage_cmd();
        c.args(["record", "--attach", "pid:1", "--duration", "soon", "-o"])
            .arg(&out);
        c
    });
    o.assert_code(125);
    assert!(o.stderr.contains("--duration soon"), "{}", o.stderr);
    // Unprivileged: no eBPF, said plainly.
    let user = TestUser::new(false);
    let o = user.run(&[
        "record",
        "--attach",
        "pid:1",
        "-o",
        "/tmp/never-written.json",
    ]);
    o.assert_code(125);
    assert!(o.stderr.contains("root"), "{}", o.stderr);
}

/// Kills the process group a target was started in (`group`), whatever is left of it.
struct KillPid(u32);

impl Drop for KillPid {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.0)])
            .status();
    }
}

/// A target started with `group`: its whole group killed and the target reaped on drop.
struct Group(Child);

impl Group {
    fn id(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        drop(KillPid(self.0.id()));
        let _ = self.0.wait();
    }
}

/// `cmd` in a process group of its own, so that the test can kill all it started.
fn group(mut cmd: Command) -> Child {
    use std::os::unix::process::CommandExt;
    cmd.process_group(0).spawn().unwrap()
}

/// A crun or runc container a test runs: deleted by force, its `run` reaped, on drop.
struct DeleteContainer {
    runtime: &'static str,
    state: std::path::PathBuf,
    id: String,
    run: Child,
}

impl Drop for DeleteContainer {
    fn drop(&mut self) {
        let _ = runtime_command(self.runtime)
            .arg("--root")
            .arg(&self.state)
            .args(["delete", "-f", &self.id])
            .output();
        let _ = self.run.kill();
        let _ = self.run.wait();
    }
}

struct RemoveContainer(String);

impl Drop for RemoveContainer {
    fn drop(&mut self) {
        let _ = runtime_command("podman")
            .args(["rm", "-f", "-t", "0", &self.0])
            .output();
    }
}

/// Removes the (empty) cgroup `name` at the top of every hierarchy, v1 and v2, where a
/// runtime the test ran made it.
fn remove_cgroup_everywhere(name: &str) {
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    for l in mounts.lines() {
        let Some((left, right)) = l.split_once(" - ") else {
            continue;
        };
        if !right.starts_with("cgroup") {
            continue;
        }
        if let Some(m) = left.split_whitespace().nth(4) {
            let _ = std::fs::remove_dir(Path::new(m).join(name));
        }
    }
}

/// Removes a cgroup made by a test, first killing what is left in it.
struct RemoveCgroup(std::path::PathBuf);

impl Drop for RemoveCgroup {
    fn drop(&mut self) {
        for _ in 0..50 {
            let procs = std::fs::read_to_string(self.0.join("cgroup.procs")).unwrap_or_default();
            for p in procs.split_whitespace() {
                let _ = Command::new("kill").args(["-KILL", p]).status();
            }
            if std::fs::remove_dir(&self.0).is_ok() || !self.0.exists() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}
