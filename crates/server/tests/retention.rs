//! Retention end to end through the running service: under steady intake the alerts and ticket
//! request tables stay near their `limit` and end at or under it once intake stops, while the
//! intake still de-duplicates a repeat inside `keep` and accepts the same id again after it.
//!
//! The scenario of the product's acceptance check is `limit = 100, keep = "10s"`, 40 alerts/s for
//! 90 s, then 45 s idle. The suite runs it scaled down (keep 2 s, 10 s of intake, 5 s idle); the
//! full length runs with `RETENTION_E2E_KEEP_SECS=10 RETENTION_E2E_LOAD_SECS=90
//! RETENTION_E2E_IDLE_SECS=45`.

use std::time::{Duration, Instant};

use mspbridge_core::config::parse_str;
use mspbridge_server::service::{Service, ServiceOptions};
use mspbridge_simulators::connectwise::{self, SimulatorConfig};
use serde_json::{json, Value};

const TOKEN: &str = "retention-e2e-token-7d41";
const LIMIT: u64 = 100;
const RATE: u64 = 40;

fn env_secs(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .map(|text| text.trim().parse().expect("a whole number of seconds"))
        .unwrap_or(default)
}

fn config(database: &std::path::Path, site: &str, keep: u64) -> mspbridge_core::config::Config {
    let cw = SimulatorConfig::default();
    let text = format!(
        r#"
[server]
listen = "127.0.0.1:0"
database = "sqlite://{db}"
api_tokens = ["{TOKEN}"]
missing_attachments_dir = "{missing}"

[connectwise]
site = "{site}"
company_id = "{company}"
public_key = "{public}"
private_key = "{private}"
client_id = "mspbridge-retention-test"

[connectwise.ticket]
company_id = 250
board_id = 3
team_id = 26

[rules]
ticket_flood_limit = 1000000
consolidation_interval = "1s"
activity_record_requests = {{ limit = {LIMIT}, keep = "{keep}s" }}
ticket_requests = {{ limit = {LIMIT}, keep = "{keep}s" }}

[[sources]]
name = "e2e"
kind = "webhook"

[[clients]]
name = "Acme"
connectwise = {{ company_id = 250, board_id = 3, team_id = 26 }}
"#,
        db = database.display(),
        missing = database.with_extension("missing").display(),
        company = cw.company_id,
        public = cw.public_key,
        private = cw.private_key,
    );
    parse_str(&text, "retention-e2e.toml").expect("the test configuration is valid")
}

/// Posts one alert; returns the intake's `duplicate` answer.
async fn post(http: &reqwest::Client, base: &str, alert_id: &str, alert_name: &str) -> bool {
    let body = json!({
        "source": "e2e",
        "alert_id": alert_id,
        "alert_name": alert_name,
        "client": "Acme",
        "occurred_at": chrono::Utc::now().to_rfc3339(),
        "records": [{"who": "ACME\\j.doe", "action": "Modified", "where": "dc01"}],
    });
    let response = http
        .post(format!("{base}/api/v1/alerts"))
        .bearer_auth(TOKEN)
        .json(&body)
        .send()
        .await
        .expect("the intake answers");
    let status = response.status().as_u16();
    let answer: Value = response.json().await.expect("a JSON answer");
    assert_eq!(status, 202, "alert {alert_id}: {answer}");
    answer["duplicate"]
        .as_bool()
        .expect("duplicate is a boolean")
}

/// The value of the sample `name` (with its labels, e.g. `x{table="alerts"}`) from `/metrics`.
async fn metric(http: &reqwest::Client, base: &str, name: &str) -> u64 {
    let text = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .expect("/metrics answers")
        .text()
        .await
        .expect("a text body");
    let prefix = format!("{name} ");
    text.lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no {name} in /metrics:\n{text}"))
        .trim()
        .parse::<f64>()
        .expect("a number") as u64
}

async fn table_rows(http: &reqwest::Client, base: &str, table: &str) -> u64 {
    metric(
        http,
        base,
        &format!("mspbridge_table_rows{{table=\"{table}\"}}"),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tables_end_at_their_limits_and_dedup_follows_keep() {
    let keep = env_secs("RETENTION_E2E_KEEP_SECS", 2);
    let load = env_secs("RETENTION_E2E_LOAD_SECS", 10);
    let idle = env_secs("RETENTION_E2E_IDLE_SECS", 5);
    let simulator = connectwise::spawn(SimulatorConfig::default(), "127.0.0.1:0".parse().unwrap())
        .await
        .expect("the ConnectWise simulator starts");
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("mspbridge.db");
    let mut options = ServiceOptions::new("retention-e2e");
    options.listen = Some("127.0.0.1:0".parse().unwrap());
    let service = Service::start(config(&database, &simulator.base_url(), keep), options)
        .await
        .expect("serve starts");
    let base = service.base_url();
    let http = reqwest::Client::new();

    // Inside keep, a repeat is a duplicate.
    assert!(!post(&http, &base, "probe", "Probe").await);
    assert!(
        post(&http, &base, "probe", "Probe").await,
        "a repeat inside keep"
    );

    // One alert in four is of a new type and opens a ticket (so ticket requests grow at a quarter
    // of the alert rate); the others repeat one type and are consolidated into its ticket.
    let started = Instant::now();
    let total = load * RATE;
    let mut peak_alerts = 0;
    for n in 0..total {
        let due = Duration::from_millis(n * 1000 / RATE);
        if let Some(wait) = due.checked_sub(started.elapsed()) {
            tokio::time::sleep(wait).await;
        }
        let name = if n % 4 == 0 {
            format!("Type {n}")
        } else {
            "Repeated".to_string()
        };
        assert!(!post(&http, &base, &format!("a{n}"), &name).await);
        if n % (RATE * 2) == 0 {
            // Decided alerts only: retention never touches those still queued.
            let rows = table_rows(&http, &base, "alerts").await;
            let queued = metric(&http, &base, "mspbridge_alerts_queued").await;
            peak_alerts = peak_alerts.max(rows.saturating_sub(queued));
        }
    }
    // Retention never removes an alert the engine has not decided yet: on a slow machine the
    // engine may still be working through the last seconds of intake, so the idle time starts
    // when it has caught up.
    let caught_up = Instant::now();
    while metric(&http, &base, "mspbridge_alerts_queued").await > 0 {
        assert!(
            caught_up.elapsed() < Duration::from_secs(300),
            "the engine never caught up with the intake"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let backlog = caught_up.elapsed();
    tokio::time::sleep(Duration::from_secs(idle)).await;

    let alerts = table_rows(&http, &base, "alerts").await;
    let requests = table_rows(&http, &base, "ticket_requests").await;
    let tickets = simulator.state().tickets().len() as u64;
    println!(
        "keep {keep}s, {RATE}/s for {load}s (posted in {posting:.1?}), engine caught up \
         {backlog:.1?} later, {idle}s idle: {total} alerts, {tickets} tickets; decided alerts \
         peaked at {peak_alerts}, ended at {alerts}; ticket_requests ended at {requests}",
        posting = caught_up - started,
    );
    let types = total.div_ceil(4) + 1;
    assert!(
        tickets >= types,
        "every alert type opened a ticket ({tickets} of {types})"
    );
    assert!(
        alerts <= LIMIT,
        "alerts end at or under the limit: {alerts}"
    );
    assert!(
        requests <= LIMIT,
        "ticket requests end at or under the limit: {requests}"
    );
    assert!(
        peak_alerts <= LIMIT + 2 * RATE * keep.max(1),
        "decided alerts stay near the limit while loaded: {peak_alerts}"
    );

    // After keep (and a pass), the probe's id is forgotten and accepted again.
    assert!(
        !post(&http, &base, "probe", "Probe").await,
        "the same id is accepted again after keep"
    );
    service.shutdown().await.expect("serve stops");
}
