//! AppArmor output: golden files for a fixed recording, and `apparmor_parser -Q -K` on golden and
//! freshly recorded profiles. (This kernel has no AppArmor: profiles are parsed and compiled, not
//! enforced.)

mod common;

use std::path::Path;
use std::process::Command;

use common::*;

fn parser_check(profile: &Path) -> Out {
    let mut c = Command::new("apparmor_parser");
    c.args(["-Q", "-K"]).arg(profile);
    let out = run_command(c);
    assert!(
        !out.stderr.contains("No such file or directory") || out.code == 0,
        "apparmor_parser is missing: install the Debian package apparmor (.ci/run does)"
    );
    out
}

#[test]
fn golden_outputs_for_a_fixed_recording() {
    let dir = TempDir::new("golden");
    let (aa, ll, sc) = (
        dir.join("web.apparmor"),
        dir.join("web.landlock.json"),
        dir.join("web.seccomp.json"),
    );
    let rec = fixture("golden/web.rec");
    syscage_run(&[
        "merge",
        rec.to_str().unwrap(),
        "-o",
        sc.to_str().unwrap(),
        "--apparmor",
        aa.to_str().unwrap(),
        "--landlock",
        ll.to_str().unwrap(),
    ])
    .assert_code(0);
    for (got, golden) in [
        (&aa, "golden/web.apparmor"),
        (&ll, "golden/web.landlock.json"),
        (&sc, "golden/web.seccomp.json"),
    ] {
        assert_eq!(
            std::fs::read_to_string(got).unwrap(),
            std::fs::read_to_string(fixture(golden)).unwrap(),
            "{golden} changed: review the difference and update the golden file if it is right"
        );
    }
    assert_eq!(
        parser_check(&fixture("golden/web.apparmor")).code,
        0,
        "the golden profile must compile"
    );
}

#[test]
fn recorded_profiles_pass_apparmor_parser_and_broken_ones_do_not() {
    let dir = TempDir::new("aa");
    let aa = dir.join("py.apparmor");
    let mut c = clean_command(syscage());
    c.args(["record", "-q", "-o"]).arg(dir.join("p.json")).arg("--apparmor").arg(&aa).args([
        "--", "/usr/bin/python3", "-c",
        "import socket, os; socket.socket(); socket.socket(socket.AF_UNIX); os.listdir('/etc'); print('ok')",
    ]);
    assert_eq!(run_command(c).assert_code(0).stdout, "ok\n");
    let text = std::fs::read_to_string(&aa).unwrap();
    for needle in [
        "include <abstractions/base>",
        "network inet stream,",
        "network unix stream,",
        "/usr/bin/python3 rmix,",
        "/etc/ r,",
    ] {
        assert!(text.contains(needle), "missing {needle:?}:\n{text}");
    }
    let out = parser_check(&aa);
    assert_eq!(
        out.code, 0,
        "apparmor_parser rejected the profile: {}",
        out.stderr
    );
    // Control: the check is real — a broken rule is rejected.
    let broken = dir.join("broken.apparmor");
    std::fs::write(
        &broken,
        text.replace("network inet stream,", "network inet streamz,"),
    )
    .unwrap();
    assert_ne!(parser_check(&broken).code, 0);
}

/// Every AppArmor and Landlock output made from a learn delta, from a recording merged with a
/// delta, and for programs named with `-`, spaces and dots (started by absolute and by relative
/// path) is accepted by its consumer: `apparmor_parser -Q -K`, and `run --landlock` running the
/// program. An input without file facts (a delta alone) is refused, not turned into an
/// allow-list of nothing; beside a recording, it is named in a warning.
#[test]
fn outputs_from_deltas_and_odd_names_parse_in_their_consumers() {
    let dir = TempDir::new("aanames");
    // A recording that saw files but not its program's exec, of a command given by name only
    // (before: `profile syscage-redis-server redis-server`, a syntax error).
    let bare = dir.join("bare.rec");
    std::fs::write(
        &bare,
        r#"{"format":"syscage-recording/1","commands":[["redis-server","--port","7"]],"syscalls":[],"files":{"/var/lib/redis/dump.rdb":["write"]}}"#,
    )
    .unwrap();
    let aa = dir.join("bare.apparmor");
    let mut c = clean_command(syscage());
    c.arg("merge")
        .arg(&bare)
        .arg("-o")
        .arg(dir.join("bare.json"))
        .arg("--apparmor")
        .arg(&aa);
    run_command(c).assert_code(0);
    let text = std::fs::read_to_string(&aa).unwrap();
    assert!(
        text.contains("profile syscage-redis-server flags="),
        "{text}"
    );
    let parsed = parser_check(&aa);
    assert_eq!(parsed.code, 0, "{}\n{text}", parsed.stderr);
    for name in ["my-app", "my app", "my.app.v2"] {
        let prog = dir.join(name);
        std::fs::copy("/usr/bin/true", &prog).unwrap();
        for started_as in [prog.to_str().unwrap().to_string(), format!("./{name}")] {
            let tag = name.replace(' ', "_");
            let (p, rec, delta) = (
                dir.join(&format!("{tag}.json")),
                dir.join(&format!("{tag}.rec")),
                dir.join(&format!("{tag}.delta")),
            );
            // Not quiet: what the recording lost, if anything, is said on stderr and shown
            // below when the program cannot run under its own ruleset.
            let mut c = clean_command(syscage());
            c.current_dir(dir.path())
                .args(["record", "-o"])
                .arg(&p)
                .arg("--recording")
                .arg(&rec)
                .args(["--", &started_as]);
            let recorded = run_command(c);
            recorded.assert_code(0);
            // A profile missing one call of the program, healed by learn mode.
            let mut v: serde_json::Value =
                serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
            let rules = v["syscalls"].as_array_mut().unwrap();
            for r in rules.iter_mut() {
                r["names"].as_array_mut().unwrap().retain(|n| n != "close");
            }
            rules.retain(|r| !r["names"].as_array().unwrap().is_empty());
            let lacking = dir.join(&format!("{tag}.lacking.json"));
            std::fs::write(&lacking, serde_json::to_vec(&v).unwrap()).unwrap();
            let mut c = clean_command(syscage());
            c.current_dir(dir.path())
                .args(["run", "--seccomp"])
                .arg(&lacking)
                .arg("--learn")
                .arg(&delta)
                .args(["--", &started_as]);
            run_command(c).assert_code(0);

            let (aa, ll) = (dir.join("out.apparmor"), dir.join("out.landlock"));
            let merge = |inputs: &[&std::path::Path]| {
                let mut c = clean_command(syscage());
                c.arg("merge")
                    .args(inputs)
                    .arg("-o")
                    .arg(dir.join("m.json"))
                    .arg("--apparmor")
                    .arg(&aa)
                    .arg("--landlock")
                    .arg(&ll);
                run_command(c)
            };
            let alone = merge(&[&delta]);
            alone.assert_code(125);
            assert!(
                alone.stderr.contains("carries no file facts"),
                "{}",
                alone.stderr
            );
            for inputs in [vec![rec.as_path()], vec![rec.as_path(), delta.as_path()]] {
                let _ = std::fs::remove_file(&aa);
                let out = merge(&inputs);
                out.assert_code(0);
                assert_eq!(
                    out.stderr
                        .contains("carries no file facts (a learn delta?)"),
                    inputs.len() == 2,
                    "{}",
                    out.stderr
                );
                let parsed = parser_check(&aa);
                assert_eq!(
                    parsed.code,
                    0,
                    "{name} started as {started_as}: apparmor_parser: {}\n{}",
                    parsed.stderr,
                    std::fs::read_to_string(&aa).unwrap()
                );
                let mut c = clean_command(syscage());
                c.current_dir(dir.path())
                    .args(["run", "--landlock"])
                    .arg(&ll)
                    .args(["--", &started_as]);
                let ran = run_command(c);
                assert_eq!(
                    ran.code,
                    0,
                    "{name} under its Landlock ruleset: {}\nrecorded: {}\nrecording's files: {:?}",
                    ran.stderr,
                    recorded.stderr,
                    serde_json::from_slice::<serde_json::Value>(&std::fs::read(&rec).unwrap())
                        .ok()
                        .map(|v| v["files"].clone())
                );
            }
            let k8s = syscage_run(&[
                "generate",
                "k8s",
                "--name",
                "app",
                "--recording",
                delta.to_str().unwrap(),
                "--apparmor",
            ]);
            k8s.assert_code(125);
            assert!(
                k8s.stderr.contains("carries no file facts"),
                "{}",
                k8s.stderr
            );
        }
    }
}
