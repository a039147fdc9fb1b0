//! A server under load, recorded by `record --attach` in each engine: a redis container (Debian's
//! redis, serving on a unix socket in a directory bound from the host) started by podman, Docker,
//! containerd, crun and runc, loaded by redis-benchmark, attached for a second or two. The
//! recording holds the serving syscalls and one the server made only after the attach (SAVE's
//! rename); the container, restarted under the profile the attach gave merged with a recording
//! of the server's start-up (what no attach can see), serves again and saves — under the
//! start-up recording alone it cannot save, so the attach is what made the profile whole.

mod attach;
mod common;
mod daemons;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use attach::*;
use common::*;
use daemons::*;

/// The server, Debian's redis-check-rdb started as redis-server (redis-tools), on a unix socket
/// only: the containers need no network.
const REDIS: &str = "/usr/bin/redis-check-rdb";

fn redis_args(dir: &str, server: &str) -> Vec<String> {
    [
        server,
        "--port",
        "0",
        "--unixsocket",
        &format!("{dir}/r.sock"),
        "--unixsocketperm",
        "700",
        "--dir",
        dir,
        "--save",
        "",
        "--appendonly",
        "no",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// `redis-cli -s SOCK ARGS...`: its stdout, trimmed.
fn cli(sock: &Path, args: &[&str]) -> String {
    let o = Command::new("/usr/bin/redis-cli")
        .arg("-s")
        .arg(sock)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("redis-cli: {e} (install redis-tools; .ci/run does)"));
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

/// Waits (up to 30 s) until the server on `sock` answers PING.
fn wait_pong(sock: &Path, what: &str) {
    let start = Instant::now();
    while !(sock.exists() && cli(sock, &["PING"]) == "PONG") {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{what}: the server never answered on {}",
            sock.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A directory for one server's socket and dump, bound at /data in its container.
fn data_dir(work: &TempDir, n: &str) -> PathBuf {
    let d = work.join(n);
    std::fs::create_dir(&d).unwrap();
    d
}

/// The root file system of the server image: busybox, the host's /usr bound at run time (the
/// server and its libraries), /data for the bound directory.
fn server_rootfs(root: &Path) {
    busybox_rootfs(root);
    for d in ["usr", "data"] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    std::os::unix::fs::symlink("usr/lib", root.join("lib")).unwrap();
    std::os::unix::fs::symlink("usr/lib64", root.join("lib64")).unwrap();
    std::os::unix::fs::symlink(REDIS, root.join("bin/redis-server")).unwrap();
}

/// The server image's root file system, made under `work`.
fn server_root(work: &TempDir) -> PathBuf {
    let root = work.join("rootfs");
    server_rootfs(&root);
    root
}

/// One engine's way to run the server container.
trait Engine {
    /// The `--attach` target of a container it started.
    fn target(&self, id: &str) -> String;
    /// What syscage needs in its environment to find the engine's containers.
    fn env(&self, _: &mut Command) {}
    /// The OCI runtime under it (the profile's runtime base set).
    fn runtime(&self) -> &'static str;
    /// Starts the server with `data` bound at /data, under `profile` or the engine's default;
    /// returns its id.
    fn start(&mut self, data: &Path, profile: Option<&Path>) -> String;
    /// Stops and removes it.
    fn stop(&mut self, id: &str);
}

/// The server's start-up (and shutdown), recorded on the host from the same binary: what an
/// attach cannot see. Returns (recording, profile).
fn record_start(work: &TempDir, runtime: &str) -> (PathBuf, PathBuf) {
    let d = data_dir(work, "start");
    let server = d.join("redis-server");
    std::os::unix::fs::symlink(REDIS, &server).unwrap();
    let (rec, prof) = (d.join("start.rec"), d.join("start.json"));
    let mut c = syscage_cmd();
    c.args(["record", "-q", "--runtime", runtime, "-o"])
        .arg(&prof)
        .arg("--recording")
        .arg(&rec)
        .arg("--")
        .args(redis_args(d.to_str().unwrap(), server.to_str().unwrap()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let child = c.spawn().unwrap();
    let sock = d.join("r.sock");
    wait_pong(&sock, "the start-up recording");
    cli(&sock, &["SHUTDOWN", "NOSAVE"]);
    finish_within(child, Duration::from_secs(30)).assert_code(0);
    (rec, prof)
}

/// Serves under load, is attached, restarted under the profiles: see the file's comment.
fn serve_attach_restart(engine: &mut dyn Engine, work: &TempDir) {
    let data = data_dir(work, "served");
    let sock = data.join("r.sock");
    let id = engine.start(&data, None);
    wait_pong(&sock, "the first container");
    // Load before the attach and during it: redis-benchmark loops, connecting anew each round.
    let load = shell_group(&format!(
        "exec /usr/bin/redis-benchmark -s {} -l -q -c 4 -n 4000 -t set,get,incr,lpush >/dev/null",
        sock.display()
    ));
    std::thread::sleep(Duration::from_millis(300));
    let (out, rec) = (work.join("attach.json"), work.join("attach.rec"));
    let mut c = syscage_cmd();
    engine.env(&mut c);
    let (child, err) = attach_with(c, &engine.target(&id), &out, &rec);
    std::thread::sleep(Duration::from_millis(1500));
    // Only after the attach: the server saves its data set (rename of its temporary dump).
    assert_eq!(cli(&sock, &["SAVE"]), "OK");
    std::thread::sleep(Duration::from_millis(200));
    let err = stop(child, err);
    drop(load);
    let got = names(&rec);
    for serving in ["accept4", "epoll_wait", "read", "write", "rename"] {
        assert!(
            got.contains(serving),
            "{serving} missing from the attached recording: {got:?}\n{err}"
        );
    }
    assert!(
        err.contains(&format!("from the {} runtime base", engine.runtime())),
        "{err}"
    );
    engine.stop(&id);

    let (start_rec, start_only) = record_start(work, engine.runtime());
    let merged = work.join("merged.json");
    let mut c = syscage_cmd();
    c.args(["merge", "--runtime", engine.runtime(), "-o"])
        .arg(&merged)
        .arg(&start_rec)
        .arg(&rec);
    run_command(c).assert_code(0);

    // Under the start-up recording alone the server starts but cannot save.
    let data = data_dir(work, "start-only");
    let sock = data.join("r.sock");
    let id = engine.start(&data, Some(&start_only));
    wait_pong(&sock, "the container under the start-up profile");
    let saved = cli(&sock, &["SAVE"]);
    assert!(
        saved.starts_with("ERR"),
        "SAVE without the attached recording: {saved:?}"
    );
    engine.stop(&id);

    // Under the merged profile it serves again, under load, and saves.
    let data = data_dir(work, "restarted");
    let sock = data.join("r.sock");
    let id = engine.start(&data, Some(&merged));
    wait_pong(&sock, "the container restarted under the merged profile");
    assert_eq!(cli(&sock, &["SET", "k", "v"]), "OK");
    assert_eq!(cli(&sock, &["GET", "k"]), "v");
    let bench = Command::new("/usr/bin/redis-benchmark")
        .arg("-s")
        .arg(&sock)
        .args(["-q", "-c", "4", "-n", "2000", "-t", "set,get,incr,lpush"])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&bench.stdout);
    assert!(
        bench.status.success() && said.matches("requests per second").count() == 4,
        "redis-benchmark under the merged profile: {said}{}",
        String::from_utf8_lossy(&bench.stderr)
    );
    assert_eq!(cli(&sock, &["SAVE"]), "OK");
    assert!(data.join("dump.rdb").exists());
    engine.stop(&id);
}

struct Podman {
    image: String,
    started: Vec<RemoveContainer>,
}

impl Engine for Podman {
    fn target(&self, id: &str) -> String {
        format!("container:podman:{id}")
    }
    fn runtime(&self) -> &'static str {
        "crun"
    }
    fn start(&mut self, data: &Path, profile: Option<&Path>) -> String {
        let name = unique("redis");
        let mut args: Vec<String> = PODMAN_RUN.iter().map(|s| s.to_string()).collect();
        args.retain(|a| a != "--rm");
        args.extend(["-d".into(), "--name".into(), name.clone(), "-v".into()]);
        args.push(format!("{}:/data", data.display()));
        if let Some(p) = profile {
            args.extend(["--security-opt".into(), format!("seccomp={}", p.display())]);
        }
        args.push(self.image.clone());
        args.extend(redis_args("/data", "/bin/redis-server"));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = podman(&args);
        self.started.push(RemoveContainer(name.clone()));
        o.assert_code(0);
        name
    }
    fn stop(&mut self, id: &str) {
        podman(&["rm", "-f", "-t", "0", id]);
    }
}

#[test]
fn a_redis_container_of_podman_is_recorded_under_load_and_restarts_under_its_profile() {
    let work = TempDir::new("srvpodman");
    let tar = work.join("rootfs.tar");
    tar_of(&server_root(&work), &tar);
    let image = format!("localhost/{}:test", unique("redis"));
    podman(&["import", "-q", tar.to_str().unwrap(), &image]).assert_code(0);
    let _image = PodmanImage(image.clone());
    let mut engine = Podman {
        image,
        started: Vec::new(),
    };
    serve_attach_restart(&mut engine, &work);
}

struct DockerEngine {
    docker: Docker,
    image: String,
}

impl Engine for DockerEngine {
    fn target(&self, id: &str) -> String {
        format!("container:docker:{id}")
    }
    fn env(&self, c: &mut Command) {
        c.env("DOCKER_HOST", &self.docker.host);
    }
    fn runtime(&self) -> &'static str {
        "runc"
    }
    fn start(&mut self, data: &Path, profile: Option<&Path>) -> String {
        let name = unique("redis");
        let mut args: Vec<String> = ["run", "-d", "--network", "none", "-v", "/usr:/usr:ro"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        args.extend(["--name".into(), name.clone(), "-v".into()]);
        args.push(format!("{}:/data", data.display()));
        if let Some(p) = profile {
            args.extend(["--security-opt".into(), format!("seccomp={}", p.display())]);
        }
        args.push(self.image.clone());
        args.extend(redis_args("/data", "/bin/redis-server"));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = self.docker.cmd(&args);
        assert!(
            o.status.success(),
            "docker run: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        name
    }
    fn stop(&mut self, id: &str) {
        let _ = self.docker.cmd(&["rm", "-f", id]);
    }
}

#[test]
fn a_redis_container_of_docker_is_recorded_under_load_and_restarts_under_its_profile() {
    let work = TempDir::new("srvdocker");
    let docker = Docker::start();
    let image = "syscage-redis:test".to_string();
    docker.import(&server_root(&work), &image);
    let mut engine = DockerEngine { docker, image };
    serve_attach_restart(&mut engine, &work);
}

struct CtrEngine {
    ctd: Containerd,
    image: String,
}

impl Engine for CtrEngine {
    fn target(&self, id: &str) -> String {
        format!("container:ctr:{id}")
    }
    fn env(&self, c: &mut Command) {
        self.ctd.env(c);
    }
    fn runtime(&self) -> &'static str {
        "runc"
    }
    fn start(&mut self, data: &Path, profile: Option<&Path>) -> String {
        let id = unique("redis");
        let mut args: Vec<String> = ["run", "-d"].iter().map(|s| s.to_string()).collect();
        args.extend([
            "--mount".into(),
            "type=bind,src=/usr,dst=/usr,options=rbind:ro".into(),
            "--mount".into(),
            format!(
                "type=bind,src={},dst=/data,options=rbind:rw",
                data.display()
            ),
        ]);
        if let Some(p) = profile {
            args.extend([
                "--seccomp".into(),
                "--seccomp-profile".into(),
                p.display().to_string(),
            ]);
        }
        args.extend([self.image.clone(), id.clone()]);
        args.extend(redis_args("/data", "/bin/redis-server"));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = self.ctd.ctr(&args);
        assert!(
            o.status.success(),
            "ctr run: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        id
    }
    fn stop(&mut self, id: &str) {
        let _ = self.ctd.ctr(&["task", "kill", "-s", "KILL", id]);
        let start = Instant::now();
        while !self.ctd.ctr(&["task", "rm", id]).status.success()
            && start.elapsed() < Duration::from_secs(10)
        {
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.ctd.ctr(&["container", "rm", id]);
    }
}

#[test]
fn a_redis_container_of_containerd_is_recorded_under_load_and_restarts_under_its_profile() {
    let work = TempDir::new("srvctr");
    let ctd = Containerd::start();
    let image = ctd.import(&server_root(&work), "redis");
    let mut engine = CtrEngine { ctd, image };
    serve_attach_restart(&mut engine, &work);
}

/// crun or runc from a bundle of the test's own, its state under the bundle
/// (`SYSCAGE_RUNTIME_ROOT` tells syscage where).
struct Runtime {
    runtime: &'static str,
    /// Each container with its bundle (the container is deleted before its bundle's directory).
    running: Vec<(DeleteContainer, Bundle)>,
    state: Option<PathBuf>,
}

impl Engine for Runtime {
    fn target(&self, id: &str) -> String {
        format!("container:{}:{id}", self.runtime)
    }
    fn env(&self, c: &mut Command) {
        if let Some(s) = &self.state {
            c.env("SYSCAGE_RUNTIME_ROOT", s);
        }
    }
    fn runtime(&self) -> &'static str {
        self.runtime
    }
    fn start(&mut self, data: &Path, profile: Option<&Path>) -> String {
        let default = fixture("docker-default-seccomp.json");
        let b = Bundle::new(
            self.runtime,
            &redis_args("/data", "/bin/redis-server"),
            profile.unwrap_or(&default),
            false,
        );
        let root = b.dir.join("rootfs");
        std::fs::create_dir_all(root.join("data")).unwrap();
        std::os::unix::fs::symlink(REDIS, root.join("bin/redis-server")).unwrap();
        let data = data.display().to_string();
        b.edit_config(|cfg| {
            cfg["mounts"].as_array_mut().unwrap().push(serde_json::json!(
                {"destination": "/data", "type": "bind", "source": data, "options": ["rbind", "rw"]}
            ));
        });
        let run = b.command().stdout(Stdio::null()).spawn().unwrap();
        let state = b.dir.join("state");
        self.state = Some(state.clone());
        let id = b.id.clone();
        let container = DeleteContainer {
            runtime: self.runtime,
            state,
            id: id.clone(),
            run,
        };
        self.running.push((container, b));
        id
    }
    fn stop(&mut self, id: &str) {
        if let Some(i) = self.running.iter().position(|(c, _)| c.id == id) {
            drop(self.running.remove(i));
        }
    }
}

#[test]
fn redis_containers_of_crun_and_runc_are_recorded_under_load_and_restart_under_their_profiles() {
    for runtime in ["crun", "runc"] {
        let work = TempDir::new(&format!("srv{runtime}"));
        let mut engine = Runtime {
            runtime,
            running: Vec::new(),
            state: None,
        };
        serve_attach_restart(&mut engine, &work);
    }
}
