//! Retention runs once per cluster: two processes (two stores) on one PostgreSQL database each
//! look at the schedule, and exactly one of them runs each pass.

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use mspbridge_core::config::parse_str;
use mspbridge_server::retention::{run_pass_once_per_cluster, TURN_KEY};
use mspbridge_store::{NewEvent, Store};
use serde_json::json;

fn at(seconds: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap() + chrono::Duration::seconds(seconds)
}

/// Both processes try at the same instant; returns how many ran a pass.
async fn both_try(
    first: &Arc<dyn Store>,
    second: &Arc<dyn Store>,
    config: &mspbridge_core::config::Config,
    now: DateTime<Utc>,
) -> usize {
    let (a, b) = tokio::join!(
        run_pass_once_per_cluster(first.as_ref(), config, now),
        run_pass_once_per_cluster(second.as_ref(), config, now)
    );
    usize::from(a.unwrap().is_some()) + usize::from(b.unwrap().is_some())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_on_postgres_run_each_retention_pass_once() {
    let Some(url) = mspbridge_store::conformance::fresh_postgres_url().await else {
        return;
    };
    let config = parse_str(
        &format!(
            "[server]\ndatabase = \"{url}\"\n\n[retention]\nevery = \"60s\"\nevents = \"1h\"\n"
        ),
        "retention.toml",
    )
    .unwrap();
    let first = mspbridge_store::open_store(&url).await.unwrap();
    let second = mspbridge_store::open_store(&url).await.unwrap();

    // Events old enough for the first pass to forget.
    for n in 0..5 {
        first
            .append_event(NewEvent {
                code: 1000,
                at: at(-7200 + n),
                client: None,
                subject: None,
                message: format!("old event {n}"),
                details: json!({}),
            })
            .await
            .unwrap();
    }
    let (a, b) = tokio::join!(
        run_pass_once_per_cluster(first.as_ref(), &config, at(0)),
        run_pass_once_per_cluster(second.as_ref(), &config, at(0))
    );
    let reports: Vec<_> = [a.unwrap(), b.unwrap()].into_iter().flatten().collect();
    assert_eq!(reports.len(), 1, "exactly one process runs the first pass");
    assert_eq!(
        reports[0].events, 5,
        "the pass that ran forgot the old events"
    );

    assert_eq!(
        both_try(&first, &second, &config, at(10)).await,
        0,
        "no pass before the interval is (almost) over, whichever process looks"
    );
    for (n, second_offset) in [60, 120, 180].into_iter().enumerate() {
        assert_eq!(
            both_try(&first, &second, &config, at(second_offset)).await,
            1,
            "pass {} runs once",
            n + 2
        );
    }
    let turn = first.get_kv(TURN_KEY).await.unwrap().unwrap();
    assert_eq!(turn["at"], json!(at(180).timestamp_micros()));

    // One process alone keeps the schedule (the other one gone).
    second.close().await;
    assert!(
        run_pass_once_per_cluster(first.as_ref(), &config, at(240))
            .await
            .unwrap()
            .is_some(),
        "a lone process still runs every pass"
    );
    first.close().await;
}
