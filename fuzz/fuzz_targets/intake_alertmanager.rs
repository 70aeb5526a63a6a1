#![no_main]
//! `cargo +nightly fuzz run intake_alertmanager`: see mspbridge_server::fuzzing::intake_alertmanager.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| mspbridge_server::fuzzing::intake_alertmanager(data));
