//! Landlock ruleset files.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = syscage::profile::landlock::parse(data, Path::new("fuzz.json")) {
        let _ = syscage::profile::landlock::to_json(&r);
    }
});
