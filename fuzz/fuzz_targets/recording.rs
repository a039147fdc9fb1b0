//! Recordings: parse, merge, generate every output from them.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use syscage::model::Recording;
use syscage::profile::{apparmor, generate, landlock, report};

fuzz_target!(|data: &[u8]| {
    if let Ok(rec) = Recording::parse(data, Path::new("fuzz.rec")) {
        let merged = rec.clone().merge(rec.clone());
        let base = generate::base_for("any").unwrap_or_default();
        let _ = generate::seccomp_profile_with(&merged, &base, true);
        let _ = apparmor::profile(&merged);
        let _ = landlock::from_recording(&merged);
        let _ = report::render(&merged);
    }
});
