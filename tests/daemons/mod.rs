//! The tests' own container daemons — Docker and containerd, each with its own roots, socket
//! and cgroup — and the clean-up of what they leave on the host.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use crate::common::*;

/// A Docker daemon of the test's own (Debian's docker.io): its own data and exec roots and
/// socket, no bridge, no iptables rules, the vfs storage driver (works on any file system).
pub struct Docker {
    pub dir: TempDir,
    daemon: Child,
    pub host: String,
    /// dockerd makes /run/docker/plugins whatever its roots: removed on drop if it made it.
    made_run_dir: bool,
    /// The cgroup its containers go under (in every hierarchy): removed on drop.
    cgroup_parent: String,
}

impl Docker {
    pub fn start() -> Docker {
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

    pub fn command(&self) -> Command {
        let mut c = Command::new("/usr/bin/docker");
        c.env("DOCKER_HOST", &self.host);
        c
    }

    pub fn cmd(&self, args: &[&str]) -> std::process::Output {
        self.command().args(args).output().unwrap()
    }

    /// `docker import` of the root file system `root` as `image`.
    pub fn import(&self, root: &Path, image: &str) {
        let tar = self.dir.join(&format!("{}.tar", unique("rootfs")));
        tar_of(root, &tar);
        let o = self.cmd(&["import", tar.to_str().unwrap(), image]);
        assert!(
            o.status.success(),
            "docker import: {}",
            String::from_utf8_lossy(&o.stderr)
        );
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
        unmount_under(self.dir.path());
        remove_cgroup_everywhere(&self.cgroup_parent);
        if self.made_run_dir {
            // Only if empty: another daemon may have started to use it since.
            let _ = std::fs::remove_dir("/run/docker/plugins");
            let _ = std::fs::remove_dir("/run/docker");
        }
    }
}

/// A containerd of the test's own: its own root, state and socket, the CRI plugin off.
pub struct Containerd {
    pub dir: TempDir,
    daemon: Child,
    pub address: String,
    /// Its namespace, also the cgroup its containers go under: removed on drop.
    pub namespace: String,
}

impl Containerd {
    pub fn start() -> Containerd {
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

    pub fn env(&self, c: &mut Command) {
        c.env("CONTAINERD_ADDRESS", &self.address)
            .env("CONTAINERD_NAMESPACE", &self.namespace);
    }

    pub fn ctr(&self, args: &[&str]) -> std::process::Output {
        let mut c = Command::new("/usr/bin/ctr");
        self.env(&mut c);
        c.args(args).output().unwrap()
    }

    /// The root file system `root` as an image of this containerd, made offline: podman
    /// imports it and saves an OCI archive, `ctr images import` takes that. Returns its name.
    pub fn import(&self, root: &Path, tag: &str) -> String {
        let tar = self.dir.join(&format!("{}.tar", unique("rootfs")));
        tar_of(root, &tar);
        let image = format!("localhost/{}:test", unique(tag));
        podman(&["import", "-q", tar.to_str().unwrap(), &image]).assert_code(0);
        let oci = self.dir.join(&format!("{}.oci.tar", unique("image")));
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
        let o = self.ctr(&["images", "import", oci.to_str().unwrap()]);
        assert!(
            o.status.success(),
            "ctr images import: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        image
    }
}

/// `tar -C root -cf tar .`
pub fn tar_of(root: &Path, tar: &Path) {
    let mut c = Command::new("tar");
    c.arg("-C").arg(root).arg("-cf").arg(tar).arg(".");
    run_command(c).assert_code(0);
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
        unmount_under(self.dir.path());
    }
}

/// Removes the (empty) cgroup `name` at the top of every hierarchy, v1 and v2, where a
/// runtime the test ran made it.
pub fn remove_cgroup_everywhere(name: &str) {
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

/// Lazily unmounts every mount under `dir` (deepest first): what a daemon left under its roots
/// (network namespace files, shm, overlay and vfs layers).
pub fn unmount_under(dir: &Path) {
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut under: Vec<&str> = mounts
        .lines()
        .filter_map(|l| l.split_whitespace().nth(4))
        .filter(|m| Path::new(m).starts_with(dir))
        .collect();
    under.sort_by_key(|m| std::cmp::Reverse(m.len()));
    for m in under {
        let _ = Command::new("umount").args(["-l", m]).status();
    }
}
