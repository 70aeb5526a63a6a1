//! Measures intake and claim throughput of the SQLite store on a temporary file.
//!
//! Run with `cargo run -p mspbridge-store --example store_throughput [alerts] [batch]`.
//! It prints rates rather than asserting them: timings belong in benchmark reports, not
//! in tests.

use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use mspbridge_store::{open_store, NewAlert, NewJob};
use serde_json::json;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let total: usize = args
        .next()
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(100_000);
    let batch: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(1_000);
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}", dir.path().join("throughput.db").display());
    let store = open_store(&url).await?;
    let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();

    let started = Instant::now();
    let mut accepted = 0usize;
    while accepted < total {
        let alerts: Vec<NewAlert> = (accepted..(accepted + batch).min(total))
            .map(|i| NewAlert {
                source: "auditor".into(),
                source_alert_id: format!("alert-{i}/record-{i}"),
                client: Some(format!("client-{}", i % 50)),
                alert_name: "Account locked out".into(),
                occurred_at: now,
                received_at: now,
                payload:
                    json!({"Who": "CORP\\alice", "Action": "Modified", "Where": "dc01", "n": i})
                        .into(),
            })
            .collect();
        accepted += store.accept_alerts_batch(alerts).await?.len();
    }
    report("accepted alerts", accepted, started.elapsed());

    let jobs = total.min(20_000);
    let started = Instant::now();
    for i in 0..jobs {
        store
            .enqueue_job(NewJob {
                kind: "ticket.update".into(),
                serial_key: Some(if i % 2 == 0 {
                    "busy-key".into()
                } else {
                    format!("key-{i}")
                }),
                payload: json!({"alert": i}),
                run_at: now,
                idempotency_key: None,
                created_at: now,
            })
            .await?;
    }
    report("enqueued jobs", jobs, started.elapsed());

    let started = Instant::now();
    let mut done = 0usize;
    loop {
        let claimed = store
            .claim_jobs("bench", now, Duration::from_secs(60), 64)
            .await?;
        if claimed.is_empty() {
            break;
        }
        for job in &claimed {
            let token = job.lease_token.as_deref().unwrap_or_default();
            store.complete_job(job.id, token, now).await?;
        }
        done += claimed.len();
    }
    report("claimed and completed jobs", done, started.elapsed());
    store.close().await;
    Ok(())
}

fn report(what: &str, count: usize, elapsed: Duration) {
    let rate = count as f64 / elapsed.as_secs_f64().max(f64::EPSILON);
    println!("{what}: {count} in {elapsed:.2?} ({rate:.0}/s)");
}
