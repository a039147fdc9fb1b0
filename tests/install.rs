//! `make install DESTDIR=... PREFIX=...` installs what a distribution package would, and each
//! piece works: the binary runs, bash loads the completion, the man pages are roff, the hooks.d
//! files point at the installed binary.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use common::*;

fn files(root: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            if e.file_type().unwrap().is_dir() {
                todo.push(e.path());
            } else {
                out.insert(e.path().strip_prefix(root).unwrap().display().to_string());
            }
        }
    }
    out
}

#[test]
fn make_install_puts_binary_man_pages_completions_and_hooks_in_place() {
    let dest = TempDir::new("install");
    // This build's binary (`-o static`: make does not build the self-contained one for the test).
    let out = run_command({
        let mut c = Command::new("make");
        c.current_dir(env!("CARGO_MANIFEST_DIR"))
            .args(["-s", "-o", "static", "install", "PREFIX=/usr"])
            .arg(format!("DESTDIR={}", dest.str()))
            .arg(format!("SYSCAGE_INSTALL={}", syscage().display()));
        c
    });
    out.assert_code(0);
    let got = files(dest.path());
    let mut want: BTreeSet<String> = [
        "usr/bin/syscage",
        "usr/share/bash-completion/completions/syscage",
        "usr/share/zsh/site-functions/_syscage",
        "usr/share/fish/vendor_completions.d/syscage.fish",
        "usr/share/containers/oci/hooks.d/syscage-record.json",
        "usr/share/containers/oci/hooks.d/syscage-trace-syscall.json",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    for page in [
        "syscage",
        "syscage-run",
        "syscage-record",
        "syscage-hook",
        "syscage-merge",
        "syscage-check",
        "syscage-report",
        "syscage-analyze",
        "syscage-generate",
        "syscage-generate-k8s",
        "syscage-generate-base",
        "syscage-oci",
        "syscage-oci-apply",
        "syscage-oci-profile",
        "syscage-agent",
        "syscage-completions",
    ] {
        want.insert(format!("usr/share/man/man1/{page}.1"));
    }
    assert_eq!(got, want);

    let root = dest.path().join("usr");
    let bin = root.join("bin/syscage");
    let v = run_command({
        let mut c = Command::new(&bin);
        c.arg("--version");
        c
    });
    assert!(
        v.assert_code(0).stdout.starts_with("syscage "),
        "{}",
        v.stdout
    );
    // bash loads the completion and it completes subcommands.
    let comp = root.join("share/bash-completion/completions/syscage");
    let b = run_command({
        let mut c = Command::new("bash");
        c.arg("-c").arg(format!(
            "source {} && complete -p syscage && COMP_WORDS=(syscage re) && COMP_CWORD=1 && _syscage syscage re syscage && echo ${{COMPREPLY[*]}}",
            comp.display()
        ));
        c
    });
    b.assert_code(0);
    assert!(b.stdout.contains("-F _syscage syscage"), "{}", b.stdout);
    assert!(
        b.stdout.contains("record") && b.stdout.contains("report"),
        "{}",
        b.stdout
    );
    // roff pages naming their options.
    let run = std::fs::read_to_string(root.join("share/man/man1/syscage-run.1")).unwrap();
    assert!(run.contains(".TH syscage-run 1"), "{run}");
    assert!(run.contains("\\-\\-user") && run.contains("\\-\\-seccomp"));
    assert!(run.contains(".SH EXAMPLES"), "{run}");
    let top = std::fs::read_to_string(root.join("share/man/man1/syscage.1")).unwrap();
    assert!(
        top.contains(".SH ENVIRONMENT") && top.contains("SYSCAGE_CACHE_DIR"),
        "{top}"
    );

    // The hooks.d files name the installed binary.
    for f in ["syscage-record.json", "syscage-trace-syscall.json"] {
        let v: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(root.join("share/containers/oci/hooks.d").join(f)).unwrap(),
        )
        .unwrap();
        assert_eq!(v["hook"]["path"], "/usr/bin/syscage", "{f}");
        assert_eq!(v["hook"]["args"][3], "/var/lib/syscage", "{f}");
    }
}
