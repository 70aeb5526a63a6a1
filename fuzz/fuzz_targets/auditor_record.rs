#![no_main]
//! `cargo +nightly fuzz run auditor_record`: see mspbridge_server::fuzzing::auditor_record.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| mspbridge_server::fuzzing::auditor_record(data));
