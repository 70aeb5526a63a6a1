#![no_main]
//! `cargo +nightly fuzz run template`: see mspbridge_server::fuzzing::template.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| mspbridge_server::fuzzing::template(data));
