//! Helpers shared by the integration tests: the real binary, the probe payload, temp dirs, test
//! users, and running with a timeout. Everything a test creates is removed on drop.
#![allow(dead_code)]

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

pub fn syscage() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_syscage"))
}

/// The probe example, built by `cargo test` next to the test binaries.
fn built_probe() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let p = exe
        .parent()
        .and_then(Path::parent)
        .expect("target dir")
        .join("examples/probe");
    assert!(
        p.is_file(),
        "{} is missing: run the tests with `cargo test` (which builds examples)",
        p.display()
    );
    p
}

static VISIBLE: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();

extern "C" fn remove_visible() {
    if let Some(dir) = VISIBLE.get() {
        let _ = std::fs::remove_dir_all(dir);
        let _ = dir.parent().map(std::fs::remove_dir);
    }
}

/// Copies of the binaries that run *inside* sandboxes, in a directory sandboxes can see: the
/// checkout may live under /tmp, which a sandbox replaces with an empty tmpfs. Removed at exit.
fn visible_dir() -> &'static Path {
    VISIBLE.get_or_init(|| {
        let base = Path::new("/var/tmp/syscage-tests");
        std::fs::create_dir_all(base).expect("create /var/tmp/syscage-tests");
        let _ = std::fs::set_permissions(base, std::fs::Permissions::from_mode(0o1777));
        let dir = base.join(format!("bin-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create the binaries dir");
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        for (src, name) in [(built_probe(), "probe"), (syscage(), "syscage")] {
            std::fs::copy(src, dir.join(name)).expect("copy a test binary");
        }
        // SAFETY: registering a plain extern "C" function to run at exit.
        unsafe { libc::atexit(remove_visible) };
        dir
    })
}

/// A private compiled-filter cache for this test process (removed at exit with the binaries),
/// so tests leave nothing in the invoking user's ~/.cache.
pub fn test_cache_dir() -> PathBuf {
    let dir = visible_dir().join("cache");
    if !dir.exists() {
        let _ = std::fs::create_dir(&dir);
        let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700));
    }
    dir
}

/// `syscage` as a command, with the test cache, run from `/`: `run` keeps the working
/// directory and refuses one it cannot reach, and the checkout may live anywhere (under /tmp,
/// under root's 0700 home). Tests about the working directory set their own.
pub fn syscage_cmd() -> Command {
    let mut c = Command::new(syscage());
    c.env("SYSCAGE_CACHE_DIR", test_cache_dir())
        .current_dir("/");
    c
}

/// The self-contained build (`make static-test`), which runs in a root with nothing but busybox.
pub fn static_syscage() -> PathBuf {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("target/static/x86_64-unknown-linux-musl/debug/syscage");
    assert!(
        p.is_file(),
        "{} is missing: run `make static-test` (make test does)",
        p.display()
    );
    p
}

/// The probe, at a path every sandbox (and every test user) can execute.
pub fn probe() -> PathBuf {
    visible_dir().join("probe")
}

/// syscage itself at a path visible inside a sandbox (for running syscage inside syscage).
pub fn syscage_inside() -> PathBuf {
    visible_dir().join("syscage")
}

pub fn fixture(name: &str) -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    assert!(p.is_file(), "fixture {} is missing", p.display());
    p
}

/// A finished process: its exit code as syscage reports them (128+N for signal N) and output.
#[derive(Debug)]
pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    pub fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code, code,
            "unexpected exit code\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self.assert_no_panic()
    }
    pub fn assert_no_panic(&self) -> &Self {
        assert!(
            !self.stderr.contains("panicked"),
            "syscage panicked:\n{}",
            self.stderr
        );
        self
    }
    pub fn line(&self, prefix: &str) -> String {
        self.stdout
            .lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| {
                panic!(
                    "no line starting with {prefix:?} in:\n{}\nstderr:\n{}",
                    self.stdout, self.stderr
                )
            })
            .to_string()
    }
}

pub const TIMEOUT: Duration = Duration::from_secs(90);

fn reader<R: Read + Send + 'static>(mut r: R) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    })
}

/// Waits for a child with output pipes, killing it after `TIMEOUT`.
pub fn finish(child: Child) -> Out {
    finish_within(child, TIMEOUT)
}

/// `finish` with a deadline of its own (a static analysis of a large program in the debug
/// build, beside the rest of the suite on two cores).
pub fn finish_within(mut child: Child, timeout: Duration) -> Out {
    let out = child.stdout.take().map(reader);
    let err = child.stderr.take().map(reader);
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("timed out after {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let code = status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0));
    Out {
        code,
        stdout: out.map(|h| h.join().unwrap()).unwrap_or_default(),
        stderr: err.map(|h| h.join().unwrap()).unwrap_or_default(),
    }
}

pub fn run_command(mut cmd: Command) -> Out {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    finish(cmd.spawn().expect("spawn"))
}

/// `syscage ARGS...`
pub fn syscage_run(args: &[&str]) -> Out {
    let mut cmd = syscage_cmd();
    cmd.args(args);
    run_command(cmd)
}

/// `syscage run [opts] -- probe ARGS...`
pub fn probe_run(opts: &[&str], probe_args: &[&str]) -> Out {
    let p = probe();
    let mut args = vec!["run"];
    args.extend_from_slice(opts);
    args.push("--");
    args.push(p.to_str().unwrap());
    args.extend_from_slice(probe_args);
    syscage_run(&args)
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

pub fn unique(tag: &str) -> String {
    format!(
        "{tag}{}x{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    )
}

/// A temporary directory under /var/tmp, which sandboxes see (their /tmp is a fresh tmpfs).
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let base = Path::new("/var/tmp/syscage-tests");
        std::fs::create_dir_all(base).expect("create /var/tmp/syscage-tests");
        let _ = std::fs::set_permissions(base, std::fs::Permissions::from_mode(0o1777));
        let dir = base.join(unique(tag));
        std::fs::create_dir(&dir).expect("create temp dir");
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        TempDir(dir)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
    pub fn join(&self, p: &str) -> PathBuf {
        self.0.join(p)
    }
    pub fn str(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
        // The shared parent goes too once the last test using it is done (fails while in use).
        if let Some(base) = self.0.parent() {
            let _ = std::fs::remove_dir(base);
        }
    }
}

fn retry(mut cmd: impl FnMut() -> std::process::Output, what: &str) {
    for _ in 0..100 {
        let out = cmd();
        if out.status.success() {
            return;
        }
        let err = String::from_utf8_lossy(&out.stderr);
        // useradd/userdel fail while another test holds the lock on /etc/passwd or /etc/subuid.
        if !(err.contains("lock") || err.contains("try again")) {
            panic!("{what} failed: {err}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{what}: /etc/passwd stayed locked");
}

/// A user created for one test and deleted (with its home) on drop. With `subids`, the user gets
/// an /etc/subuid range (newuidmap path); without, it is a system user with none.
pub struct TestUser {
    pub name: String,
    /// Copies of the syscage binary and the probe the user can execute.
    pub bin: TempDir,
}

impl TestUser {
    pub fn new(subids: bool) -> TestUser {
        assert!(
            nix::unistd::geteuid().is_root(),
            "the unprivileged tests create users and must run as root (CI runs as root)"
        );
        let name = unique("sct");
        retry(
            || {
                let mut c = Command::new("useradd");
                if subids {
                    c.args(["-m", "-s", "/bin/sh"]);
                } else {
                    c.args(["-r", "-M", "-s", "/bin/sh"]);
                }
                c.arg(&name)
                    .output()
                    .expect("useradd (install the passwd package)")
            },
            "useradd",
        );
        let bin = TempDir::new("bin");
        for (src, dst) in [(syscage(), "syscage"), (built_probe(), "probe")] {
            std::fs::copy(&src, bin.join(dst)).expect("copy binary");
        }
        TestUser { name, bin }
    }

    pub fn syscage(&self) -> String {
        self.bin.join("syscage").to_string_lossy().into_owned()
    }
    pub fn probe(&self) -> String {
        self.bin.join("probe").to_string_lossy().into_owned()
    }

    /// Runs `syscage ARGS` as this user through runuser.
    pub fn run(&self, args: &[&str]) -> Out {
        let mut cmd = Command::new("runuser");
        cmd.args(["-u", &self.name, "--"])
            .arg(self.syscage())
            .args(args);
        cmd.current_dir("/");
        run_command(cmd)
    }

    pub fn uid(&self) -> u32 {
        nix::unistd::User::from_name(&self.name)
            .unwrap()
            .expect("test user exists")
            .uid
            .as_raw()
    }
}

impl Drop for TestUser {
    fn drop(&mut self) {
        // Kill anything left running under the test user's uid before removing it.
        let _ = Command::new("pkill")
            .args(["-KILL", "-u", &self.name])
            .output();
        let name = self.name.clone();
        retry(
            || {
                Command::new("userdel")
                    .args(["-r", &name])
                    .output()
                    .unwrap()
            },
            "userdel",
        );
    }
}

/// Busybox-static, for root filesystems and OCI bundles.
pub fn busybox() -> PathBuf {
    let p = PathBuf::from("/bin/busybox");
    assert!(
        p.is_file(),
        "/bin/busybox is missing: install the Debian package busybox-static (.ci/run does)"
    );
    p
}

/// A minimal root filesystem: static busybox with its applets, and the usual mount points.
pub fn busybox_rootfs(dir: &Path) {
    for d in ["bin", "proc", "dev", "tmp", "etc", "sys"] {
        std::fs::create_dir_all(dir.join(d)).unwrap();
    }
    std::fs::copy(busybox(), dir.join("bin/busybox")).unwrap();
    for applet in [
        "sh", "ls", "cat", "echo", "touch", "id", "true", "sleep", "grep", "hostname",
    ] {
        std::os::unix::fs::symlink("busybox", dir.join("bin").join(applet)).unwrap();
    }
    std::fs::write(dir.join("etc/passwd"), "root:x:0:0:root:/:/bin/sh\n").unwrap();
}

/// Reads a field of /proc/self/status as printed by `grep` inside a sandbox.
pub fn status_field(text: &str, field: &str) -> String {
    text.lines()
        .find(|l| l.starts_with(&format!("{field}:")))
        .map(|l| l[field.len() + 1..].trim().to_string())
        .unwrap_or_else(|| panic!("{field} missing from:\n{text}"))
}

/// The environment workloads get everywhere (record, run, crun, runc), so that their lookups
/// are the same.
pub const WORKLOAD_PATH: &str = "/usr/bin:/bin";

/// A command with a clean environment: only PATH.
pub fn clean_command(program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut c = Command::new(program);
    c.env_clear()
        .env("PATH", WORKLOAD_PATH)
        .env("SYSCAGE_CACHE_DIR", test_cache_dir())
        .current_dir("/");
    c
}

/// The allowed syscall names of a seccomp profile (rules with SCMP_ACT_ALLOW).
pub fn allowed_names(profile: &Path) -> std::collections::BTreeSet<String> {
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(profile).unwrap()).unwrap();
    v["syscalls"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["action"] == "SCMP_ACT_ALLOW")
        .flat_map(|r| {
            r["names"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| n.as_str().unwrap().to_string())
        })
        .collect()
}

/// The (abi, name) pairs of a recording.
pub fn recorded_names(recording: &Path) -> std::collections::BTreeSet<(String, String)> {
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(recording).unwrap()).unwrap();
    v["syscalls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["abi"].as_str().unwrap().to_string(),
                s["name"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// From `strace -f -o FILE syscage record ... -- CMD`, the names of the syscalls the workload
/// made. syscage is three tasks: the supervisor (strace's first pid, and the threads it starts),
/// its init (the supervisor's clone) and the task that execs CMD (the
/// second execve in the trace). Every other task in the
/// trace descends from the workload. (Clone results inside the pid namespace are namespace pids,
/// so they cannot be used to follow children.)
pub fn strace_workload_syscalls(trace: &str) -> std::collections::BTreeSet<String> {
    // (pid, name or None for "resumed", the rest of the line)
    let lines: Vec<(u32, Option<&str>, &str)> = trace
        .lines()
        .filter_map(|line| {
            let (pid, rest) = line.split_once(char::is_whitespace)?;
            let pid = pid.parse::<u32>().ok()?;
            let rest = rest.trim_start();
            if rest.starts_with("+++") || rest.starts_with("---") || rest.starts_with("<...") {
                return None;
            }
            let name = rest.split('(').next()?;
            name.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
                .then_some((pid, Some(name), rest))
        })
        .collect();
    let Some(supervisor) = lines.first().map(|l| l.0) else {
        return Default::default();
    };
    // The supervisor's first clone result, on the clone line or on its "resumed" line.
    let (init_at, init) = trace
        .lines()
        .enumerate()
        .filter(|(_, l)| l.starts_with(&format!("{supervisor} ")))
        .filter(|(_, l)| l.contains(" clone(") || l.contains("<... clone resumed>"))
        .find_map(|(i, l)| Some((i, l.rsplit("= ").next()?.trim().parse::<u32>().ok()?)))
        .map_or((usize::MAX, None), |(i, p)| (i, Some(p)));
    // The supervisor's own threads: every task seen before it starts the init, and the threads
    // it starts later (clone3 with CLONE_THREAD, its result on that line or the resumed one).
    let mut own: std::collections::BTreeSet<u32> = trace
        .lines()
        .take(init_at)
        .filter_map(|l| l.split_once(char::is_whitespace)?.0.parse().ok())
        .collect();
    let mut pending = false;
    for l in trace
        .lines()
        .filter(|l| l.starts_with(&format!("{supervisor} ")))
    {
        let result = || l.rsplit("= ").next()?.trim().parse::<u32>().ok();
        if l.contains(" clone3(") && l.contains("CLONE_THREAD") {
            match result() {
                Some(t) => own.extend([t]),
                None => pending = true,
            }
        } else if pending && l.contains("<... clone3 resumed>") {
            own.extend(result());
            pending = false;
        }
    }
    let Some((exec_line, workload)) = lines
        .iter()
        .enumerate()
        .filter(|(_, (_, n, _))| *n == Some("execve"))
        .nth(1)
        .map(|(i, (p, _, _))| (i, *p))
    else {
        return Default::default();
    };
    lines
        .iter()
        .enumerate()
        .filter(|(i, (pid, _, _))| {
            !own.contains(pid) && Some(*pid) != init && (*pid != workload || *i >= exec_line)
        })
        .filter_map(|(_, (_, name, _))| name.map(str::to_string))
        .collect()
}

/// `scripts/cgroup2-ns.sh`: runs a command in a private mount namespace whose /sys/fs/cgroup is
/// pure cgroup2, changing nothing on the host.
pub fn cgroup2_ns() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/cgroup2-ns.sh")
}

/// A container runtime (crun, runc) or podman as a command that starts on any host, hybrid
/// cgroups included (crun refuses those): crun and podman run through `cgroup2_ns()` and leave
/// cgroups alone. runc handles hybrid hosts itself and runs as it is.
pub fn runtime_command(runtime: &str) -> Command {
    match runtime {
        "crun" => {
            let mut c = Command::new(cgroup2_ns());
            c.args(["crun", "--cgroup-manager=disabled"]);
            c
        }
        "podman" => {
            let mut c = Command::new(cgroup2_ns());
            c.arg("podman");
            c
        }
        other => Command::new(other),
    }
}

/// An OCI bundle: a busybox-static root filesystem with the host's /usr bound read-only (for
/// python3, dash and coreutils), running `args` under `profile`.
/// A `RUNTIME spec` config edited to run `args` (no terminal, PATH, cwd /) in a read-only
/// `rootfs` with the host's /usr bound read-only (the busybox roots the tests build).
pub fn run_from_busybox_root(cfg: &mut serde_json::Value, args: &[String]) {
    cfg["process"]["args"] = serde_json::json!(args);
    cfg["process"]["terminal"] = serde_json::json!(false);
    cfg["process"]["env"] = serde_json::json!([format!("PATH={WORKLOAD_PATH}")]);
    cfg["process"]["cwd"] = serde_json::json!("/");
    cfg["root"] = serde_json::json!({"path": "rootfs", "readonly": true});
    cfg["mounts"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!(
        {"destination": "/usr", "type": "bind", "source": "/usr", "options": ["rbind", "ro"]}));
}

/// The probe's syscall attacks a profile recorded from its benign mode must refuse with EPERM.
pub const PROBE_ATTACKS: [&str; 7] = [
    "keyctl",
    "unshare-user",
    "ptrace",
    "mount",
    "bpf",
    "personality",
    "netlink",
];

/// `podman run` on this VM kind: explicit ulimits (podman asks for more than the hard limit),
/// no cgroup setup (crun runs in a pure-cgroup2 private namespace, see `runtime_command`), no
/// network, the host's /usr for the probe image's libraries.
pub const PODMAN_RUN: [&str; 10] = [
    "run",
    "--rm",
    "--net=none",
    "--cgroups=disabled",
    "--ulimit",
    "nofile=1024:1024",
    "--ulimit",
    "nproc=1024:1024",
    "-v",
    "/usr:/usr:ro",
];

/// `podman ARGS...` (through `runtime_command`).
pub fn podman(args: &[&str]) -> Out {
    let mut c = runtime_command("podman");
    c.args(args);
    run_command(c)
}

/// A local podman image (removed on drop): the busybox root with the probe, the host's /usr to
/// be mounted at run time.
pub struct PodmanImage(pub String);

impl PodmanImage {
    pub fn with_probe(work: &TempDir, tag: &str) -> PodmanImage {
        let root = work.join("rootfs");
        busybox_rootfs(&root);
        std::fs::copy(probe(), root.join("bin/probe")).unwrap();
        std::os::unix::fs::symlink("usr/lib", root.join("lib")).unwrap();
        std::os::unix::fs::symlink("usr/lib64", root.join("lib64")).unwrap();
        std::fs::create_dir_all(root.join("usr")).unwrap();
        let tar = work.join("rootfs.tar");
        let mut c = Command::new("tar");
        c.arg("-C").arg(&root).arg("-cf").arg(&tar).arg(".");
        run_command(c).assert_code(0);
        let image = format!("localhost/{}:test", unique(tag));
        let imported = podman(&["import", "-q", tar.to_str().unwrap(), &image]);
        assert_eq!(
            imported.code, 0,
            "podman import: {} (install the Debian package podman; .ci/run does)",
            imported.stderr
        );
        PodmanImage(image)
    }
}

impl Drop for PodmanImage {
    fn drop(&mut self) {
        let _ = runtime_command("podman")
            .args(["rmi", "-f", &self.0])
            .output();
    }
}

pub struct Bundle {
    pub dir: TempDir,
    pub runtime: &'static str,
    pub id: String,
}

impl Bundle {
    pub fn new(
        runtime: &'static str,
        args: &[String],
        profile: &Path,
        host_network: bool,
    ) -> Bundle {
        let dir = TempDir::new(runtime);
        let root = dir.join("rootfs");
        for d in ["bin", "proc", "dev", "tmp", "usr", "etc", "sys"] {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
        std::fs::copy(busybox(), root.join("bin/busybox")).unwrap();
        std::os::unix::fs::symlink("busybox", root.join("bin/sh")).unwrap();
        std::os::unix::fs::symlink("usr/lib", root.join("lib")).unwrap();
        std::os::unix::fs::symlink("usr/lib64", root.join("lib64")).unwrap();
        std::fs::write(root.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n").unwrap();
        let out = Command::new(runtime)
            .arg("spec")
            .current_dir(dir.path())
            .output()
            .unwrap_or_else(|e| {
                panic!("{runtime} spec: {e} (install the Debian package {runtime}; .ci/run does)")
            });
        assert!(
            out.status.success(),
            "{runtime} spec: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let cfg_path = dir.join("config.json");
        let mut cfg: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&cfg_path).unwrap()).unwrap();
        run_from_busybox_root(&mut cfg, args);
        if host_network {
            let ns = cfg["linux"]["namespaces"].as_array_mut().unwrap();
            ns.retain(|n| n["type"] != "network");
        }
        cfg["linux"]["seccomp"] = serde_json::from_slice(&std::fs::read(profile).unwrap()).unwrap();
        std::fs::write(&cfg_path, serde_json::to_vec_pretty(&cfg).unwrap()).unwrap();
        Bundle {
            dir,
            runtime,
            id: unique("sc-ctr"),
        }
    }

    fn runtime_command(&self) -> Command {
        let mut c = runtime_command(self.runtime);
        c.arg("--root").arg(self.dir.join("state"));
        c
    }

    /// `RUNTIME kill ID SIGNAL`: `run` in the foreground does not forward signals it gets.
    pub fn kill(&self, sig: &str) {
        let out = self
            .runtime_command()
            .args(["kill", &self.id, sig])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{} kill: {}",
            self.runtime,
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The command that runs the bundle in the foreground (state under the bundle dir).
    pub fn command(&self) -> Command {
        let mut c = self.runtime_command();
        c.args(["run", "-b", self.dir.str(), &self.id]);
        c
    }

    pub fn run(&self) -> Out {
        run_command(self.command())
    }

    /// Edits config.json as JSON.
    pub fn edit_config(&self, edit: impl FnOnce(&mut serde_json::Value)) {
        let cfg = self.dir.join("config.json");
        let mut v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&cfg).unwrap()).unwrap();
        edit(&mut v);
        std::fs::write(&cfg, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
    }
}

/// The first host process whose command line (`/proc/PID/cmdline`: arguments separated by NUL,
/// or the title a daemon wrote over them) `matches`.
pub fn host_pid_matching(matches: impl Fn(&[u8]) -> bool) -> Option<u32> {
    std::fs::read_dir("/proc").unwrap().flatten().find_map(|e| {
        let pid: u32 = e.file_name().to_str()?.parse().ok()?;
        let cmd = std::fs::read(e.path().join("cmdline")).ok()?;
        matches(&cmd).then_some(pid)
    })
}

/// A host process that has `arg` as one of its arguments (a unique marker a test started).
pub fn host_pid_with_arg(arg: &str) -> Option<u32> {
    host_pid_matching(|c| c.split(|b| *b == 0).any(|a| a == arg.as_bytes()))
}

/// Whether a host process has `arg` as one of its arguments (a unique marker a test started).
pub fn host_has_process_with_arg(arg: &str) -> bool {
    host_pid_with_arg(arg).is_some()
}

/// Waits (up to 10 s) until a process with `arg` exists or, with `gone`, until none does.
pub fn wait_for_process_with_arg(arg: &str, gone: bool, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while host_has_process_with_arg(arg) == gone {
        assert!(Instant::now() < deadline, "{what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Kills leftovers of a failed test by their unique `sleep` argument, so a failure cannot leave
/// processes behind or hang the suite.
pub struct KillOnDrop(pub String);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = Command::new("pkill")
            .args(["-KILL", "-f", &format!("sleep {}", self.0)])
            .output();
    }
}

/// Compiles the C source `src` (written to `NAME.c` in `dir`) with gcc and `flags` into
/// `dir/NAME`.
pub fn cc(dir: &Path, name: &str, src: &str, flags: &[&str]) -> PathBuf {
    let c = dir.join(format!("{name}.c"));
    std::fs::write(&c, src).unwrap();
    let out = dir.join(name);
    let mut cmd = Command::new("gcc");
    cmd.arg("-o").arg(&out).arg(&c).args(flags);
    let r = run_command(cmd);
    assert_eq!(r.code, 0, "gcc {name} (install gcc): {}", r.stderr);
    out
}
