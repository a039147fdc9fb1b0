//! `record --attach container:…` with each engine: podman, crun, runc, Docker and containerd
//! containers are found through the engine, recorded by their mount namespace (an exec into them
//! too, the runtime's own setup not), and the profile is enforced by that engine.

mod attach;
mod common;
mod daemons;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use attach::*;
use common::*;
use daemons::*;

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

/// Docker: a container recorded by `--attach container:docker:NAME` (its daemon found through
/// DOCKER_HOST), `docker exec` recorded from its exec on and runc's own setup not, and the
/// profile enforced by `docker run --security-opt seccomp=`: the workload runs, an attack fails.
#[test]
fn a_docker_container_is_recorded_and_docker_enforces_the_profile() {
    let docker = Docker::start();
    let root = docker.dir.join("rootfs");
    busybox_rootfs(&root);
    let image = "syscage-attach:test";
    docker.import(&root, image);
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

/// containerd: an image imported offline (`ctr images import` of an OCI archive podman made),
/// a `ctr run` container recorded by `--attach container:ctr:ID` (CONTAINERD_ADDRESS), `ctr task
/// exec` recorded from its exec on, and `ctr run --seccomp-profile` enforcing the profile.
#[test]
fn a_containerd_container_is_recorded_and_ctr_enforces_the_profile() {
    let ctd = Containerd::start();
    let root = ctd.dir.join("rootfs");
    busybox_rootfs(&root);
    let image = ctd.import(&root, "ctd");
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
