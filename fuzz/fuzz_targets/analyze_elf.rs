#![no_main]
//! The analysis front end on arbitrary bytes: ELF parsing, relocations, PLT stubs, .eh_frame,
//! decoding and the data flow of every function, the call graph. Errors are fine; panics,
//! hangs and unbounded memory are not.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = syscage::analyze::analyze_bytes(data);
});
