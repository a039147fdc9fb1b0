//! Library use: resolve a Docker seccomp profile for a set of capabilities and either compile it to
//! BPF (what bubblewrap's `--seccomp FD` takes) or print the OCI `linux.seccomp` object (what runc
//! and crun take). The benchmark uses it to give bwrap, crun and runc the same filter syscage uses.
//!
//!     profile_tool bpf PROFILE OUT.bpf [CAP...]
//!     profile_tool oci PROFILE [CAP...]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use syscage::profile::seccomp::{self, Target};
use syscage::sandbox::filter::{self, SeccompChoice};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = || -> ! {
        eprintln!("usage: profile_tool bpf PROFILE OUT.bpf [CAP...] | oci PROFILE [CAP...]");
        std::process::exit(2)
    };
    let (mode, profile) = match (args.first(), args.get(1)) {
        (Some(m), Some(p)) => (m.as_str(), PathBuf::from(p)),
        _ => usage(),
    };
    let caps_from = |i: usize| -> BTreeSet<String> {
        args[i.min(args.len())..]
            .iter()
            .map(|c| seccomp::cap_name(c))
            .collect()
    };
    match mode {
        "bpf" => {
            let out = args.get(2).unwrap_or_else(|| usage());
            let compiled = filter::prepare(&SeccompChoice::File(profile), &caps_from(3))
                .unwrap_or_else(|e| fail(&e.to_string()))
                .unwrap_or_else(|| fail("no filter"));
            std::fs::write(out, &compiled.program).unwrap_or_else(|e| fail(&format!("{out}: {e}")));
        }
        "oci" => {
            let (p, _) = seccomp::load(&profile).unwrap_or_else(|e| fail(&e.to_string()));
            let target = Target {
                arch: filter::native_arch(),
                caps: caps_from(2),
                kernel: seccomp::parse_kernel(
                    std::fs::read_to_string("/proc/sys/kernel/osrelease")
                        .unwrap_or_default()
                        .trim(),
                )
                .unwrap_or((0, 0)),
            };
            let resolved = seccomp::resolve(&p, &target, Path::new(&profile))
                .unwrap_or_else(|e| fail(&e.to_string()));
            println!(
                "{}",
                serde_json::to_string_pretty(&resolved.to_oci()).unwrap_or_default()
            );
        }
        _ => usage(),
    }
}

fn fail(msg: &str) -> ! {
    eprintln!("profile_tool: {msg}");
    std::process::exit(1)
}
