//! The `--arch` property the seccomp_profile fuzz target checks and `tests/fuzz_corpus.rs`
//! replays on its corpus: one file, included by both (`#[path]`).

use syscage::model::Abi;
use syscage::profile::arch::{listed, translate};
use syscage::profile::seccomp::SeccompProfile;

/// Translation between x86_64 and aarch64 never panics and is idempotent.
pub fn translate_all(p: &SeccompProfile) {
    for (from, to) in [
        (vec![Abi::X86_64], vec![Abi::X86_64, Abi::Aarch64]),
        (vec![Abi::Aarch64], vec![Abi::X86_64]),
        (vec![Abi::X86_64], vec![Abi::Aarch64]),
    ] {
        if let Ok((once, _)) = translate(p, &from, &to) {
            let again = translate(&once, &listed(&once), &to).map(|(t, _)| t);
            assert_eq!(
                again.as_ref(),
                Ok(&once),
                "translating twice changed the profile"
            );
        }
    }
}
