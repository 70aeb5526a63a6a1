//! Moving an installation to PostgreSQL with the binary: `migrate --to` copies the database a
//! `demo` run made, row for row, and refuses to copy into a database that holds anything.
//!
//! Needs `MSPBRIDGE_TEST_POSTGRES_URL` (scripts/test starts a throw-away cluster and sets it);
//! without it the tests say so and pass, except under CI (`CI` set), where that is a failure.

use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;

use mspbridge_store::conformance::fresh_postgres_url as fresh_url;
use mspbridge_store::{
    open_store, AlertFilter, EventFilter, IncidentFilter, JobFilter, ReportFilter, Store,
};

const BIN: &str = env!("CARGO_BIN_EXE_mspbridge");

async fn mspbridge(args: Vec<String>) -> Output {
    tokio::task::spawn_blocking(move || {
        Command::new(BIN)
            .args(&args)
            .env_remove("MSPBRIDGE_CONFIG")
            .output()
            .expect("the binary runs")
    })
    .await
    .unwrap()
}

fn text(output: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Everything a store holds that the port can list, for comparing two stores.
async fn contents(store: &Arc<dyn Store>) -> String {
    let alerts = store
        .list_alerts(AlertFilter::default(), 100_000)
        .await
        .unwrap();
    let mut decisions = Vec::new();
    for alert in &alerts {
        decisions.push(store.alert_decisions(alert.id).await.unwrap());
    }
    let jobs = store
        .list_jobs(JobFilter::default(), 100_000)
        .await
        .unwrap();
    let incidents = store
        .list_incidents(IncidentFilter::default())
        .await
        .unwrap();
    let mut buffers = Vec::new();
    let mut history = Vec::new();
    for incident in &incidents {
        buffers.push(store.incident_buffer(&incident.key).await.unwrap());
        history.push(
            store
                .incidents_for_key_since(&incident.key, chrono::DateTime::<chrono::Utc>::MIN_UTC)
                .await
                .unwrap(),
        );
    }
    let events = store
        .list_events(EventFilter {
            limit: Some(100_000),
            ..EventFilter::default()
        })
        .await
        .unwrap();
    let reports = store.list_reports(ReportFilter::default()).await.unwrap();
    let mut html = Vec::new();
    for report in &reports {
        html.push(store.get_report(report.id).await.unwrap().unwrap().html);
    }
    let systems = store.list_systems(None).await.unwrap();
    let mappings = store.list_mappings(None).await.unwrap();
    let mut directories = Vec::new();
    for instance in mappings.iter().map(|m| m.instance.clone()) {
        directories.push(store.itglue_directory(&instance).await.unwrap());
    }
    let tickets: Vec<_> = {
        let mut found = Vec::new();
        for job in &jobs {
            if let Some(xref) = job.payload.get("external_xref").and_then(|v| v.as_str()) {
                found.push(store.get_ticket_request(xref).await.unwrap());
            }
        }
        found
    };
    // The report roll-ups of every client, and the rows of every table retention bounds.
    let clients: std::collections::BTreeSet<String> = alerts
        .iter()
        .filter_map(|alert| alert.client.clone())
        .chain(events.iter().filter_map(|event| event.client.clone()))
        .collect();
    let first = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap();
    let last = chrono::NaiveDate::from_ymd_opt(9999, 12, 31).unwrap();
    let mut rollups = Vec::new();
    for client in &clients {
        rollups.push(store.report_rollups(client, first, last).await.unwrap());
    }
    let table_rows = store.storage_stats().await.unwrap().rows;
    format!(
        "{alerts:?}\n{decisions:?}\n{jobs:?}\n{incidents:?}\n{buffers:?}\n{history:?}\n{events:?}\n{reports:?}\n\
         {html:?}\n{systems:?}\n{mappings:?}\n{directories:?}\n{tickets:?}\n{rollups:?}\n\
         {table_rows:?}\n{:?}",
        store.queue_depth().await.unwrap()
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn migrate_to_postgres_copies_a_demo_database_and_refuses_a_non_empty_target() {
    let Some(target) = fresh_url().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let demo = mspbridge(
        ["demo", "--once", "--dir", dir.path().to_str().unwrap()]
            .map(String::from)
            .to_vec(),
    )
    .await;
    assert!(demo.status.success(), "demo failed:\n{}", text(&demo));
    let config = dir.path().join("mspbridge.toml");
    let migrate = |to: &str| {
        ["-c", config.to_str().unwrap(), "migrate", "--to", to]
            .map(String::from)
            .to_vec()
    };

    let copied = mspbridge(migrate(&target)).await;
    assert!(copied.status.success(), "{}", text(&copied));
    let rows: u64 = String::from_utf8_lossy(&copied.stdout)
        .trim()
        .parse()
        .expect("the row count on stdout");
    assert!(rows > 20, "the demo made more than {rows} rows");

    let sqlite = open_store(&format!(
        "sqlite://{}",
        dir.path().join("mspbridge.db").display()
    ))
    .await
    .unwrap();
    let postgres = open_store(&target).await.unwrap();
    let before = contents(&sqlite).await;
    let after = contents(&postgres).await;
    assert!(before.len() > 1_000, "the demo left data behind");
    assert!(
        before.contains("kind: Type"),
        "the demo counted report roll-ups"
    );
    assert!(
        before.contains("rule: Routing"),
        "the demo's alerts carry their rule decisions"
    );
    assert_eq!(before, after, "PostgreSQL holds exactly what SQLite held");
    assert_eq!(
        sqlite.get_kv("itglue.automap.last").await.unwrap(),
        postgres.get_kv("itglue.automap.last").await.unwrap()
    );

    // The copy continues the ids: a new alert gets the next one.
    let next = postgres
        .accept_alert(mspbridge_store::NewAlert {
            source: "webhook".into(),
            source_alert_id: "after-the-move".into(),
            client: None,
            alert_name: "Password Reset".into(),
            occurred_at: chrono::Utc::now(),
            received_at: chrono::Utc::now(),
            payload: serde_json::json!({}).into(),
        })
        .await
        .unwrap();
    let highest = sqlite
        .list_alerts(AlertFilter::default(), 100_000)
        .await
        .unwrap()
        .last()
        .map(|alert| alert.id)
        .unwrap_or(0);
    assert!(next.is_new() && next.alert_id() > highest);
    sqlite.close().await;
    postgres.close().await;

    let again = mspbridge(migrate(&target)).await;
    assert!(!again.status.success(), "a second copy must be refused");
    assert!(text(&again).contains("not empty"), "{}", text(&again));

    // The password of the target never shows, even in a failure.
    let refused = mspbridge(migrate("postgres://mspbridge:hunter2@127.0.0.1:1/none")).await;
    assert!(!refused.status.success());
    assert!(!text(&refused).contains("hunter2"), "{}", text(&refused));
    assert!(Path::new(&dir.path().join("mspbridge.db")).exists());
}
