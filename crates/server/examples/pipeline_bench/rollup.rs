//! The roll-up count of one decided alert: a stored payload counted through a parsed
//! `serde_json::Value` against counted straight from its text, as the store does.

use std::time::Instant;

use mspbridge_store::rollup::{alert_counts, alert_counts_in_text};

use super::setup;

pub fn run(counts: u32) {
    let payload = setup::native_alert("a-1", "Password Reset", "acme");
    println!(
        "## Roll-up count of one stored payload ({} bytes, one record), {counts} counts each way",
        payload.len()
    );
    println!("| round | parsed Value (µs per count) | from the text (µs per count) |");
    println!("|---:|---:|---:|");
    for round in 1..=3 {
        let parsed = per_count(counts, || {
            let value = serde_json::from_str(&payload).unwrap_or_default();
            alert_counts("Password Reset", &value).len()
        });
        let scanned = per_count(counts, || {
            alert_counts_in_text("Password Reset", &payload).len()
        });
        println!("| {round} | {parsed:.2} | {scanned:.2} |");
    }
    println!();
}

/// Microseconds per call of `count`, over `counts` calls.
fn per_count(counts: u32, count: impl Fn() -> usize) -> f64 {
    let started = Instant::now();
    let mut total = 0;
    for _ in 0..counts {
        total += std::hint::black_box(count());
    }
    assert!(total >= counts as usize, "every alert counts its type");
    started.elapsed().as_secs_f64() * 1e6 / f64::from(counts)
}
