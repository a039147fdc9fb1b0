//! `record --landlock` writes a ruleset from the files and TCP ports a workload used;
//! `run --landlock` enforces it: the workload runs, anything outside fails with EACCES.

mod common;

use std::net::TcpListener;

use common::*;

const MAPPED_ROOT: u32 = 1_000_000_000;

fn dirs() -> (TempDir, std::path::PathBuf, std::path::PathBuf) {
    let t = TempDir::new("ll");
    let (ok, other) = (t.join("ok"), t.join("other"));
    for d in [&ok, &other] {
        std::fs::create_dir(d).unwrap();
        // Writable for root inside the sandbox, so that only Landlock can refuse.
        nix::unistd::chown(d.as_path(), Some(MAPPED_ROOT.into()), None).unwrap();
    }
    (t, ok, other)
}

fn run_with(t: &TempDir, ruleset: Option<&std::path::Path>, extra: &[&str], script: &str) -> Out {
    let mut c = clean_command(syscage());
    c.args(["run", "--rw", t.str()]);
    if let Some(r) = ruleset {
        c.arg("--landlock").arg(r);
    }
    c.args(extra).args(["--", "/usr/bin/dash", "-c", script]);
    run_command(c)
}

#[test]
fn recorded_ruleset_runs_the_workload_and_refuses_the_rest() {
    let (t, ok, other) = dirs();
    let rules = t.join("rules.json");
    let workload = format!(
        "cat /etc/hostname > {}/out; ls /usr/share/common-licenses > /dev/null; echo done",
        ok.display()
    );
    let mut c = clean_command(syscage());
    c.args(["record", "-q", "-o"])
        .arg(t.join("p.json"))
        .arg("--landlock")
        .arg(&rules)
        .args(["--", "/usr/bin/dash", "-c", &workload]);
    assert_eq!(run_command(c).assert_code(0).stdout, "done\n");
    std::fs::remove_file(ok.join("out")).unwrap();

    // The workload runs under its ruleset, fully enforced (--strict would refuse otherwise).
    let out = run_with(&t, Some(&rules), &["--strict", "-v"], &workload);
    assert_eq!(out.assert_code(0).stdout, "done\n", "{}", out.stderr);
    assert!(
        out.stderr.contains("landlock: ABI") && out.stderr.contains("fully enforced"),
        "{}",
        out.stderr
    );
    assert!(ok.join("out").exists());

    // A write, an exec and a read outside what was recorded fail with EACCES...
    let attacks = format!(
        "echo x > {}/out; /usr/bin/id; cat /usr/share/common-licenses/GPL-3 >/dev/null; echo end",
        other.display()
    );
    let out = run_with(&t, Some(&rules), &[], &attacks);
    assert_eq!(
        out.stderr.matches("Permission denied").count(),
        3,
        "{}",
        out.stderr
    );
    assert!(!other.join("out").exists());
    // ...and succeed without the ruleset (control).
    let out = run_with(&t, None, &[], &attacks);
    assert!(!out.stderr.contains("Permission denied"), "{}", out.stderr);
    assert!(other.join("out").exists());
}

#[test]
fn tcp_ports_outside_the_recording_are_refused() {
    let (t, _, _) = dirs();
    let rules = t.join("net.json");
    // The recorded workload binds an ephemeral port and connects nowhere.
    let bind =
        "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(1); print('bound')";
    let mut c = clean_command(syscage());
    c.args(["record", "-q", "-o"])
        .arg(t.join("p.json"))
        .arg("--landlock")
        .arg(&rules)
        .args(["--", "/usr/bin/python3", "-c", bind]);
    run_command(c).assert_code(0);
    let text = std::fs::read_to_string(&rules).unwrap();
    assert!(text.contains("\"tcp_bind\": [\n    0\n  ]"), "{text}");

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let connect = format!(
        "import socket\ntry:\n    socket.create_connection(('127.0.0.1', {port})); print('connected')\nexcept OSError as e: print(e.errno)"
    );
    let py = |ruleset: Option<&std::path::Path>, code: &str| {
        let mut c = clean_command(syscage());
        c.arg("run");
        if let Some(r) = ruleset {
            c.arg("--landlock").arg(r);
        }
        c.args(["--", "/usr/bin/python3", "-c", code]);
        run_command(c)
    };
    assert_eq!(py(Some(&rules), bind).assert_code(0).stdout, "bound\n");
    assert_eq!(
        py(Some(&rules), &connect).assert_code(0).stdout,
        "13\n",
        "EACCES for an unrecorded port"
    );
    assert_eq!(
        py(None, &connect).assert_code(0).stdout,
        "connected\n",
        "control"
    );
}

#[test]
fn bad_rulesets_are_named() {
    let (t, _, _) = dirs();
    let bad = t.join("bad.json");
    for (text, needle) in [
        (
            "{\"format\": \"syscage-landlock/1\", \"paths\": [ }",
            "bad.json:1:",
        ),
        (
            r#"{"format":"syscage-landlock/1","paths":[{"path":"/usr","access":["fly"]}]}"#,
            "unknown access right \"fly\"",
        ),
        (r#"{"format":"other","paths":[]}"#, "format \"other\""),
    ] {
        std::fs::write(&bad, text).unwrap();
        let out = run_with(&t, Some(&bad), &[], "true");
        out.assert_code(125);
        assert!(
            out.stderr.contains(needle),
            "want {needle:?}: {}",
            out.stderr
        );
    }
    let out = run_with(&t, Some(&t.join("missing.json")), &[], "true");
    out.assert_code(125);
    assert!(out.stderr.contains("missing.json"), "{}", out.stderr);
}
