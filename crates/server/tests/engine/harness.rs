//! The engine test harness: a temporary SQLite store, the ConnectWise and Auditor simulators on
//! loopback, a manual clock and an engine wired to all of them.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use mspbridge_connectors::connectwise::{ConnectWiseClient, ConnectWiseSettings};
use mspbridge_connectors::netwrix::{AuditorClient, AuditorPassword, AuditorSettings};
use mspbridge_connectors::Backoff;
use mspbridge_core::alert::{ActivityRecord, Alert};
use mspbridge_core::clock::{Clock, ManualClock};
use mspbridge_core::config::{self, Config};
use mspbridge_server::engine::{self, Engine, EngineDeps, EngineOptions};
use mspbridge_server::jobs::JobPolicy;
use mspbridge_simulators::auditor::{self, AuditorSimConfig, AuditorSimulator};
use mspbridge_simulators::connectwise::{self as cw_sim, ConnectWiseSimulator, SimulatorConfig};
use mspbridge_store::{
    open_store, Alert as StoredAlert, AlertFilter, AlertState, EventFilter, Store,
};
use serde_json::Value;
use tempfile::TempDir;

pub const SOURCE: &str = "auditor-acme";
pub const AUDITOR_USER: &str = "ACME\\svc-mspbridge";
pub const AUDITOR_PASSWORD: &str = "auditor-test-password";
pub const MINUTE: Duration = Duration::from_secs(60);

pub fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

pub fn start_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 8, 12, 41).unwrap()
}

pub struct Harness {
    pub dir: TempDir,
    pub cw: ConnectWiseSimulator,
    pub auditor: AuditorSimulator,
    pub clock: ManualClock,
    pub config: Arc<Config>,
    pub store: Arc<dyn Store>,
    /// The engine, made on first use (so a test may still swap parts before).
    pub engine: OnceLock<Engine>,
    /// The site the engine talks to (the simulator, or a proxy in front of it).
    pub site: String,
    pub request_timeout: Duration,
}

impl Harness {
    pub async fn new(rules: &str) -> Harness {
        Harness::build(rules, None, Duration::from_secs(10)).await
    }

    pub async fn build(rules: &str, site: Option<String>, request_timeout: Duration) -> Harness {
        Harness::build_with_ticket(REOPEN_TO_31, rules, site, request_timeout).await
    }

    /// A harness whose `[connectwise.ticket]` ends with `ticket` (the reopen settings) instead
    /// of [`REOPEN_TO_31`].
    pub async fn with_ticket(ticket: &str, rules: &str) -> Harness {
        Harness::build_with_ticket(ticket, rules, None, Duration::from_secs(10)).await
    }

    async fn build_with_ticket(
        ticket: &str,
        rules: &str,
        site: Option<String>,
        request_timeout: Duration,
    ) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let cw = cw_sim::spawn(SimulatorConfig::default(), loopback())
            .await
            .unwrap();
        let auditor = auditor::spawn(
            AuditorSimConfig::new(AUDITOR_USER, AUDITOR_PASSWORD),
            loopback(),
        )
        .await
        .unwrap();
        let site = site.unwrap_or_else(|| cw.base_url());
        let config = Arc::new(test_config(&dir, &site, auditor.base_url(), ticket, rules));
        let store = open_store(&format!(
            "sqlite://{}",
            dir.path().join("mspbridge.db").display()
        ))
        .await
        .unwrap();
        let clock = ManualClock::new(start_time());
        Harness {
            engine: OnceLock::new(),
            dir,
            cw,
            auditor,
            clock,
            config,
            store,
            site,
            request_timeout,
        }
    }

    /// The engine on the harness's store.
    pub fn engine(&self) -> &Engine {
        self.engine
            .get_or_init(|| self.new_engine(self.store.clone()))
    }

    pub fn connectwise(&self) -> ConnectWiseClient {
        let mut settings = ConnectWiseSettings::new(
            url::Url::parse(&self.site).unwrap(),
            "demo_msp",
            "demo-public",
            "demo-private",
            "mspbridge-tests",
        );
        settings.codebase = Some("v4_6_release/".to_string());
        settings.request_timeout = self.request_timeout;
        ConnectWiseClient::new(settings).unwrap()
    }

    pub fn auditor_client(&self) -> AuditorClient {
        let mut settings = AuditorSettings::new(
            url::Url::parse(self.auditor.base_url()).unwrap(),
            AUDITOR_USER,
            AuditorPassword::new(AUDITOR_PASSWORD),
        );
        settings.records_per_request = self.config.rules.activity_record_web_requests.limit;
        settings.timeout = self.config.rules.activity_record_web_requests.timeout;
        AuditorClient::new(settings).unwrap()
    }

    pub fn new_engine(&self, store: Arc<dyn Store>) -> Engine {
        Engine::with_options(
            EngineDeps {
                store,
                config: self.config.clone(),
                clock: Arc::new(self.clock.clone()),
                connectwise: Some(Arc::new(self.connectwise())),
                auditors: HashMap::from([(SOURCE.to_string(), self.auditor_client())]),
                host_name: "bridge01".to_string(),
                worker_id: "worker-test".to_string(),
                itglue: Default::default(),
            },
            options(),
        )
    }

    /// A Password Reset record in the Auditor simulator; returns its RID.
    pub fn password_reset(&self, who: &str) -> String {
        let mut record = auditor::demo_records().remove(0);
        record.rid = None;
        record.who = who.to_string();
        self.auditor.add_records(vec![record]).remove(0)
    }

    /// Accepts a Netwrix response action for `rid` at the clock's time.
    pub async fn fire(&self, alert_name: &str, alert_id: &str, rid: &str) {
        let alert = Alert::netwrix(SOURCE, alert_id, rid, Some(alert_name), self.clock.now());
        engine::accept(&self.store, alert, self.clock.now())
            .await
            .unwrap();
    }

    /// Queues `count` alerts named `alert_name` that carry their record (no enrichment call), in
    /// store batches, as a backlog left by an outage would be.
    pub async fn queue_backlog(&self, alert_name: &str, count: usize) {
        static BACKLOGS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let backlog = BACKLOGS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let now = self.clock.now();
        let alerts: Vec<_> = (0..count)
            .map(|n| {
                let id = format!("backlog-{backlog}-{n}");
                let mut alert = Alert::netwrix(SOURCE, &id, "", Some(alert_name), now);
                alert.records.push(ActivityRecord {
                    who: format!("ACME\\user{}", n % 50),
                    action: "Modified".to_string(),
                    object_type: "user".to_string(),
                    what: format!("\\acme.example\\Users\\user{n}"),
                    where_: "dc01.acme.example".to_string(),
                    ..ActivityRecord::default()
                });
                mspbridge_server::intake::to_new_alert(&alert, now).unwrap()
            })
            .collect();
        for batch in alerts.chunks(5_000) {
            self.store
                .accept_alerts_batch(batch.to_vec())
                .await
                .unwrap();
        }
    }

    /// Alerts still waiting in the queue.
    pub async fn queued_alerts(&self) -> u64 {
        let states = self.store.count_alerts_by_state().await.unwrap();
        states
            .into_iter()
            .find(|(state, _)| *state == AlertState::Queued)
            .map_or(0, |(_, count)| count)
    }

    /// The alerts taken off the queue as processed (at most 10,000), oldest first.
    pub async fn processed_alerts(&self) -> Vec<StoredAlert> {
        let filter = AlertFilter {
            state: Some(AlertState::Processed),
            ..AlertFilter::default()
        };
        self.store.list_alerts(filter, 10_000).await.unwrap()
    }

    /// Accepts an Alertmanager notification (webhook payload version 4) from the `prometheus`
    /// source for one alert `fingerprint` named `alert_name`, `firing` or `resolved`.
    pub async fn alertmanager(&self, alert_name: &str, fingerprint: &str, status: &str) {
        let payload = serde_json::json!({
            "version": "4",
            "status": status,
            "receiver": "mspbridge",
            "alerts": [{
                "status": status,
                "labels": {"alertname": alert_name, "instance": "fs1:9100", "job": "node"},
                "annotations": {"summary": "/data is 97% full"},
                "startsAt": "2026-11-23T07:00:00Z",
                "endsAt": if status == "resolved" { "2026-11-23T07:45:00Z" } else { "0001-01-01T00:00:00Z" },
                "fingerprint": fingerprint
            }]
        });
        let payload: mspbridge_server::api::intake::AlertmanagerPayload =
            serde_json::from_value(payload).unwrap();
        let now = self.clock.now();
        for alert in payload.into_alerts("prometheus", now).unwrap() {
            engine::accept(&self.store, alert, now).await.unwrap();
        }
    }

    pub async fn run(&self) {
        self.engine().run_until_idle().await.unwrap();
    }

    pub fn tickets(&self) -> Vec<Value> {
        self.cw.state().tickets()
    }

    pub fn only_ticket(&self) -> Value {
        let tickets = self.tickets();
        assert_eq!(tickets.len(), 1, "{tickets:#?}");
        tickets.into_iter().next().unwrap()
    }

    pub fn notes(&self, ticket: &Value) -> Vec<String> {
        self.cw
            .state()
            .notes(id(ticket))
            .iter()
            .map(|note| note["text"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    /// ConnectWise requests other than setup lookups, as `METHOD path`.
    pub fn ticket_calls(&self) -> Vec<String> {
        self.cw
            .state()
            .requests()
            .iter()
            .filter(|request| {
                request.path.contains("/service/tickets")
                    || request.path.contains("/system/documents")
            })
            .map(|request| format!("{} {}", request.method, strip_api(&request.path)))
            .collect()
    }

    /// Every ConnectWise request, as `METHOD path`.
    pub fn all_calls(&self) -> Vec<String> {
        self.cw
            .state()
            .requests()
            .iter()
            .map(|request| format!("{} {}", request.method, strip_api(&request.path)))
            .collect()
    }

    pub async fn events(&self, code: u32) -> Vec<String> {
        self.store
            .list_events(EventFilter {
                code: Some(code),
                ..EventFilter::default()
            })
            .await
            .unwrap()
            .into_iter()
            .map(|event| event.message)
            .collect()
    }

    pub fn advance(&self, by: Duration) {
        self.clock.advance(by);
    }
}

pub fn options() -> EngineOptions {
    EngineOptions {
        jobs: Some(JobPolicy {
            backoff: Backoff::new(Duration::from_secs(5), Duration::from_secs(120)),
            max_attempts: 6,
            max_age: Duration::from_secs(7 * 24 * 3600),
            lease: Duration::from_secs(300),
        }),
        ..EngineOptions::default()
    }
}

/// The harness's reopen settings: statuses 34 and 35 are closed, reopening sets 31.
pub const REOPEN_TO_31: &str = "reopen_closed_statuses = [34, 35]\nreopen_new_status = 31";

pub fn test_config(
    dir: &TempDir,
    site: &str,
    auditor_url: &str,
    ticket: &str,
    rules: &str,
) -> Config {
    let missing = dir.path().join("missing");
    let text = format!(
        r#"
[server]
missing_attachments_dir = "{missing}"

[connectwise]
site = "{site}"
company_id = "demo_msp"
public_key = "demo-public"
private_key = "demo-private"
client_id = "mspbridge-tests"
codebase = "v4_6_release/"

[connectwise.ticket]
company_id = 250
board_id = 3
team_id = 26
{ticket}

[rules]
{rules}

[[sources]]
name = "{SOURCE}"
kind = "netwrix-auditor"
url = "{auditor_url}"
username = 'ACME\svc-mspbridge'
password = "{AUDITOR_PASSWORD}"
client = "Acme"
enrich_give_up = "10m"

[[sources]]
name = "prometheus"
kind = "alertmanager"
client = "Acme"

[[clients]]
name = "Acme"
email = "it@acme.example"
"#,
        missing = missing.display()
    );
    config::parse_str(&text, "engine-test.toml").unwrap_or_else(|error| panic!("{error}"))
}

pub fn id(ticket: &Value) -> i64 {
    ticket["id"].as_i64().unwrap()
}

pub fn strip_api(path: &str) -> String {
    match path.find("/apis/3.0") {
        Some(index) => path[index + "/apis/3.0".len()..].to_string(),
        None => path.to_string(),
    }
}

pub fn count(calls: &[String], prefix: &str) -> usize {
    calls.iter().filter(|call| call.starts_with(prefix)).count()
}
