//! `make demo` is what a new user runs first: it must show the loop working (record, report,
//! check, run, an attack blocked). Runs scripts/demo.sh with this build.

mod common;

use std::process::Command;

use common::*;

#[test]
fn the_demo_records_runs_and_blocks_the_attack() {
    let mut c = Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/demo.sh"));
    c.arg(syscage()).env("SYSCAGE_CACHE_DIR", test_cache_dir());
    let out = run_command(c);
    out.assert_code(0);
    let text = &out.stdout;
    for expect in [
        "syscage record -o app.json",
        "syscage report app.rec",
        "findings",
        "attacker: spawned a shell, running as root",
        "attacker: unshare(CLONE_NEWUSER) -> succeeded",
        "attacker: spawning a shell -> Operation not permitted",
        "attacker: unshare(CLONE_NEWUSER) -> Operation not permitted",
        "write /usr: EROFS",
    ] {
        assert!(
            text.contains(expect),
            "{expect:?} missing from:\n{text}\n{}",
            out.stderr
        );
    }
    // The confined app still works: its page is fetched in every run of it.
    assert_eq!(text.matches("app: GET / ->").count(), 4, "{text}");
}
