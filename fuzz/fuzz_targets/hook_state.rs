//! The OCI hook's input: the container State JSON on stdin and its annotations, which whoever can
//! create a container chooses. Whatever they say, the paths the hook would use stay relative to
//! its output directory, with no `..`.
#![no_main]

use std::path::{Component, Path};

use libfuzzer_sys::fuzz_target;
use syscage::hook::{self, request};

fn confined(p: &Path) {
    assert!(p.is_relative(), "{p:?}");
    assert!(p.components().count() > 0, "{p:?}");
    assert!(
        p.components().all(|c| matches!(c, Component::Normal(_))),
        "{p:?}"
    );
}

fuzz_target!(|data: &[u8]| {
    let dir = Path::new("/var/lib/syscage");
    if let Ok(state) = hook::parse_state(data) {
        let ann = state.annotations().clone().unwrap_or_default();
        if let Ok(Some(req)) = request::request(&ann, dir) {
            req.outputs().for_each(confined);
            req.targets
                .iter()
                .filter_map(|t| t.baseline.as_deref())
                .for_each(confined);
        }
    }
    if let Ok(s) = std::str::from_utf8(data)
        && let Ok(p) = request::confine("k", s, dir)
    {
        confined(&p);
    }
});
