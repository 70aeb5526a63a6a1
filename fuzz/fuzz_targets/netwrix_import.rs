#![no_main]
//! `cargo +nightly fuzz run netwrix_import`: see mspbridge_server::fuzzing::netwrix_import.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| mspbridge_server::fuzzing::netwrix_import(data));
