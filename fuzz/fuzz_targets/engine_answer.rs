//! What a container engine's CLI answered about a container (`record --attach container:`):
//! another program's output, shaped by whoever names containers. Whatever it says, a pid
//! taken from it is a valid pid written in it, never one made up or truncated.
#![no_main]

use libfuzzer_sys::fuzz_target;
use syscage::tracer::engines::{ENGINES, parse_answer};

fuzz_target!(|data: &[u8]| {
    let Some((first, rest)) = data.split_first() else {
        return;
    };
    let engine = ENGINES[*first as usize % ENGINES.len()];
    let text = String::from_utf8_lossy(rest);
    if let Ok(Some(pid)) = parse_answer(engine, "web", &text) {
        assert!(pid > 0 && pid <= 1 << 22, "{engine}: pid {pid} from {text:?}");
        assert!(text.contains(&pid.to_string()), "{engine}: {pid} not in {text:?}");
    }
});
