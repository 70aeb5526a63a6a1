#![no_main]
//! `cargo +nightly fuzz run intake_native`: see mspbridge_server::fuzzing::intake_native.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| mspbridge_server::fuzzing::intake_native(data));
