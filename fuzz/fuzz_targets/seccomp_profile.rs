//! Docker/OCI seccomp JSON: parse, resolve for two targets, lint, translate between x86_64 and
//! aarch64, and turn into OCI form.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use syscage::profile::seccomp::{Target, parse, resolve};

#[path = "../shared/arch_round_trip.rs"]
mod arch_round_trip;

fuzz_target!(|data: &[u8]| {
    let path = Path::new("fuzz.json");
    if let Ok((profile, _)) = parse(data, path) {
        for caps in [vec![], vec!["CAP_SYS_ADMIN".to_string()]] {
            let t = Target {
                arch: oci_spec::runtime::Arch::ScmpArchX86_64,
                caps: caps.into_iter().collect(),
                kernel: (6, 18),
            };
            if let Ok(f) = resolve(&profile, &t, path) {
                let _ = syscage::profile::lint::lint(&f, t.arch);
                let _ = f.to_oci();
            }
        }
        arch_round_trip::translate_all(&profile);
        let _ = syscage::profile::merge::merge(&[("a".into(), profile.clone()), ("b".into(), profile)]);
    }
});
