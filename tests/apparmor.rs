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
