#![no_main]
//! `cargo +nightly fuzz run intake_netwrix`: see mspbridge_server::fuzzing::intake_netwrix.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| mspbridge_server::fuzzing::intake_netwrix(data));
