#![no_main]
//! The analysis cache's facts decoder on arbitrary bytes: no panic, no unbounded memory, and
//! whatever decodes encodes back to the same bytes' meaning.

use libfuzzer_sys::fuzz_target;
use syscage::analyze::cache;

fuzz_target!(|data: &[u8]| {
    if let Some(f) = cache::decode_facts(data) {
        let again = cache::decode_facts(&cache::encode_body(&f)).expect("re-decodes");
        assert_eq!(format!("{f:?}"), format!("{again:?}"));
    }
});
