//! Monitor and learn under Docker by the entrypoint route: Debian's Docker (20.10) drops
//! `listenerPath` from `--security-opt seccomp=`, so the agent cannot serve its containers; the
//! static syscage as the container's entrypoint (`syscage run --seccomp P --monitor - -- APP`,
//! `--learn DELTA`) serves its own listener instead. Run with Docker's defaults — its default
//! seccomp profile and capabilities, nothing added: denials are reported, a missed path is
//! learned, the healed profile enforced; what Docker refuses (namespaces) is said.

mod common;
mod daemons;

use std::path::{Path, PathBuf};

use common::*;
use daemons::Docker;

/// The workload: a busybox shell that makes a directory (a code path its recording missed).
const APP: &str = "/bin/busybox mkdir /out/made && echo made || echo mkdir-refused; echo app-ran";

/// The app's profile as syscage records it, from a run that never made a directory.
fn recorded_profile(work: &TempDir) -> PathBuf {
    let p = work.join("app.json");
    let mut c = syscage_cmd();
    c.args(["record", "-q", "-o"])
        .arg(&p)
        .args(["--", busybox().to_str().unwrap(), "sh", "-c"])
        .arg(APP.replace("mkdir /out/made", "true"));
    run_command(c).assert_code(0);
    p
}

/// `docker run --rm --network none -v OUT:/out IMAGE /bin/syscage run ARGS... -- sh -c APP`,
/// with Docker's default seccomp profile and capabilities.
fn run_app(docker: &Docker, image: &str, out: &Path, run_args: &[&str]) -> Out {
    let vol = format!("{}:/out", out.display());
    let mut c = docker.command();
    c.args(["run", "--rm", "--network", "none", "-v", &vol, image])
        .args(["/bin/syscage", "run"])
        .args(run_args)
        .args(["--", "/bin/busybox", "sh", "-c", APP]);
    run_command(c)
}

#[test]
fn under_docker_defaults_the_entrypoint_monitors_learns_and_enforces_the_healed_profile() {
    let work = TempDir::new("epdocker");
    let docker = Docker::start();
    let root = work.join("rootfs");
    busybox_rootfs(&root);
    std::fs::create_dir(root.join("out")).unwrap();
    std::fs::copy(static_syscage(), root.join("bin/syscage")).unwrap();
    let app = recorded_profile(&work);
    std::fs::copy(&app, root.join("etc/app.json")).unwrap();
    let image = "syscage-entrypoint:test";
    docker.import(&root, image);

    // Monitor: the missed path is still denied, and reported (on stderr, as JSON lines).
    let out = work.join("monitor");
    std::fs::create_dir(&out).unwrap();
    let m = run_app(
        &docker,
        image,
        &out,
        &["--seccomp", "/etc/app.json", "--monitor", "-"],
    );
    m.assert_code(0);
    assert!(
        m.stdout.contains("mkdir-refused") && m.stdout.contains("app-ran"),
        "{}\n{}",
        m.stdout,
        m.stderr
    );
    let denial = m
        .stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|e| {
            e["event"] == "first" && matches!(e["syscall"].as_str(), Some("mkdir" | "mkdirat"))
        })
        .unwrap_or_else(|| panic!("no mkdir denial reported: {}", m.stderr));
    assert_eq!(denial["reason"], "unlisted", "{denial}");
    assert!(
        denial["action"].as_str().unwrap_or("").contains("EPERM"),
        "{denial}"
    );
    // What Docker's defaults refuse, said rather than hidden; the rest applied.
    assert!(
        m.stderr.contains("not applied: user namespace"),
        "{}",
        m.stderr
    );

    // Learn: the missed path runs, and is written to the delta in the bound directory.
    let out = work.join("learn");
    std::fs::create_dir(&out).unwrap();
    let l = run_app(
        &docker,
        image,
        &out,
        &["--seccomp", "/etc/app.json", "--learn", "/out/delta.rec"],
    );
    l.assert_code(0);
    assert!(l.stdout.contains("made"), "{}\n{}", l.stdout, l.stderr);
    let delta = out.join("delta.rec");
    let learned = recorded_names(&delta);
    assert!(
        learned.iter().any(|(_, n)| n == "mkdir" || n == "mkdirat"),
        "mkdir was not learned: {learned:?}"
    );

    // The healed profile, enforced by the same entrypoint: the path works, nothing reported.
    let healed = work.join("healed.json");
    let mut c = syscage_cmd();
    c.args(["merge", "-o"]).arg(&healed).arg(&app).arg(&delta);
    run_command(c).assert_code(0);
    std::fs::copy(&healed, out.join("healed.json")).unwrap();
    std::fs::remove_dir(out.join("made")).unwrap();
    let h = run_app(
        &docker,
        image,
        &out,
        &["--seccomp", "/out/healed.json", "--monitor", "-"],
    );
    h.assert_code(0);
    assert!(h.stdout.contains("made"), "{}\n{}", h.stdout, h.stderr);
    assert!(
        !h.stderr.contains("\"event\""),
        "a denial under the healed profile: {}",
        h.stderr
    );
}
