//! Docker/OCI seccomp JSON: parse, resolve for two targets, lint, translate between x86_64 and
//! aarch64, and turn into OCI form.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use syscage::profile::seccomp::{Target, parse, resolve};

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
        translate_all(&profile);
        let _ = syscage::profile::merge::merge(&[("a".into(), profile.clone()), ("b".into(), profile)]);
    }
});

/// Translation between x86_64 and aarch64 never panics and is idempotent.
fn translate_all(p: &syscage::profile::seccomp::SeccompProfile) {
    use syscage::model::Abi;
    use syscage::profile::arch::{listed, translate};
    for (from, to) in [
        (vec![Abi::X86_64], vec![Abi::X86_64, Abi::Aarch64]),
        (vec![Abi::Aarch64], vec![Abi::X86_64]),
        (vec![Abi::X86_64], vec![Abi::Aarch64]),
    ] {
        if let Ok((once, _)) = translate(p, &from, &to) {
            let again = translate(&once, &listed(&once), &to).map(|(t, _)| t);
            assert_eq!(again.as_ref(), Ok(&once), "translating twice changed the profile");
        }
    }
}

