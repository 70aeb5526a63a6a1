#![no_main]
//! `cargo +nightly fuzz run connectwise_conditions`: see mspbridge_server::fuzzing::connectwise_conditions.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| mspbridge_server::fuzzing::connectwise_conditions(data));
