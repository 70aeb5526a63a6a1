//! Netwrix Auditor failing while `mspbridge serve` runs, through the real binary and the
//! simulators over loopback: the Integration API answering 503 four times in a row, an outage,
//! a refused connection (Auditor down, then started on the same port) and a certificate that does
//! not match the pin (then the pinned one again). Every ticket gets its activity record once
//! Auditor answers — no blank `Who:` or `Action:` — and a working source's client gets its ticket
//! while the failing source's alerts still wait. Past the source's `enrich_give_up` the ticket
//! says that the record could not be fetched and why.
//!
//! The outage lasts 3 s by default; `MSPBRIDGE_FAULT_OUTAGE_SECS=30` runs the full 30 s outage.

mod support;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Child;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use mspbridge_simulators::auditor::{
    self, demo_records, new_rid, AuditorFault, AuditorSimConfig, AuditorSimTls, AuditorSimulator,
    SimRecord,
};
use mspbridge_simulators::connectwise::{self, ConnectWiseSimulator, SimulatorConfig};
use mspbridge_store::{AlertState, Store};
use serde_json::{json, Value};
use support::{free_port, start_serve, stop_gracefully, wait_for, wait_ready};

const TOKEN: &str = "fault-test-token";
const AUDITOR_USER: &str = "ACME\\svc";
const AUDITOR_PASSWORD: &str = "auditor-pw";
const ACME_COMPANY: i64 = 250;
const GLOBEX_COMPANY: i64 = 251;
/// The Netwrix alerts each scenario sends for Acme: alert type and the account in its record.
const ACME_ALERTS: [(&str, &str); 3] = [
    ("Password Reset", "ACME\\anna"),
    ("Failed Logon", "ACME\\bob"),
    ("Group Membership Changed", "ACME\\carol"),
];
/// How long anything here may take before the test gives up: generous, never a speed check.
const DEADLINE: Duration = Duration::from_secs(60);

fn outage() -> Duration {
    let secs = std::env::var("MSPBRIDGE_FAULT_OUTAGE_SECS")
        .ok()
        .and_then(|value| value.parse::<u64>().ok())
        .unwrap_or(3);
    Duration::from_secs(secs)
}

/// The activity records of [`ACME_ALERTS`], with their RIDs fixed up front so a simulator started
/// later serves the same ones.
fn acme_records() -> Vec<SimRecord> {
    let template = demo_records().remove(0);
    ACME_ALERTS
        .iter()
        .enumerate()
        .map(|(n, (_, who))| {
            let mut record = template.clone();
            record.rid = Some(new_rid(
                Utc::now() + chrono::Duration::milliseconds(n as i64),
            ));
            record.who = (*who).to_string();
            record
        })
        .collect()
}

async fn auditor_on(
    addr: SocketAddr,
    records: Vec<SimRecord>,
    tls: Option<AuditorSimTls>,
) -> AuditorSimulator {
    let mut config = AuditorSimConfig::new(AUDITOR_USER, AUDITOR_PASSWORD).with_records(records);
    if let Some(tls) = tls {
        config = config.with_tls(tls);
    }
    auditor::spawn(config, addr).await.unwrap()
}

fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// `serve` with an Auditor source for Acme (at `auditor_url`, `extra` appended to the source) and
/// a webhook source for Globex, against a ConnectWise simulator.
struct Bridge {
    dir: tempfile::TempDir,
    port: u16,
    log: PathBuf,
    cw: ConnectWiseSimulator,
    serve: Option<Child>,
    http: reqwest::Client,
}

impl Bridge {
    async fn start(auditor_url: &str, extra: &str) -> Bridge {
        let cw = connectwise::spawn(SimulatorConfig::default(), "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let sim = SimulatorConfig::default();
        let config = dir.path().join("mspbridge.toml");
        std::fs::write(
            &config,
            format!(
                r#"[server]
listen = "127.0.0.1:{port}"
database = "sqlite://{database}"
api_tokens = ["{TOKEN}"]

[connectwise]
site = "{site}"
company_id = "{company}"
public_key = "{public}"
private_key = "{private}"
client_id = "fault-test"
request_timeout = "5s"

[connectwise.ticket]
company_id = 42
board_id = 1

[jobs]
initial_backoff = "500ms"
max_backoff = "2s"

[[sources]]
name = "auditor-acme"
kind = "netwrix-auditor"
url = "{auditor_url}"
username = 'ACME\svc'
password = "{AUDITOR_PASSWORD}"
client = "Acme"
{extra}

[[sources]]
name = "globex-hook"
kind = "webhook"
client = "Globex"

[[clients]]
name = "Acme"
connectwise = {{ company_id = {ACME_COMPANY}, board_id = 3 }}

[[clients]]
name = "Globex"
connectwise = {{ company_id = {GLOBEX_COMPANY}, board_id = 3 }}
"#,
                database = dir.path().join("mspbridge.db").display(),
                site = cw.base_url(),
                company = sim.company_id,
                public = sim.public_key,
                private = sim.private_key,
            ),
        )
        .unwrap();
        let log = dir.path().join("serve.log");
        let serve = start_serve(&config, &log);
        wait_ready(port, &log).await;
        Bridge {
            dir,
            port,
            log,
            cw,
            serve: Some(serve),
            http: reqwest::Client::new(),
        }
    }

    async fn post(&self, path: &str, body: Value) {
        let response = self
            .http
            .post(format!("http://127.0.0.1:{}{path}", self.port))
            .bearer_auth(TOKEN)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            202,
            "{path}: {:?}",
            response.text().await
        );
    }

    /// Auditor's response action for each of `records` (in [`ACME_ALERTS`] order).
    async fn send_acme_alerts(&self, records: &[SimRecord]) {
        for (n, ((name, _), record)) in ACME_ALERTS.iter().zip(records).enumerate() {
            self.post(
                "/api/v1/alerts/netwrix",
                json!({
                    "alert_id": format!("acme-alert-{n}"),
                    "record_id": record.rid.clone().unwrap(),
                    "source": "auditor-acme",
                    "alert_name": name,
                }),
            )
            .await;
        }
    }

    /// One alert of the working source, sent after the failing source's.
    async fn send_globex_alert(&self) {
        self.post(
            "/api/v1/alerts",
            json!({
                "source": "globex-hook",
                "alert_id": "globex-1",
                "alert_name": "Disk Full",
                "occurred_at": Utc::now().to_rfc3339(),
                "records": [{
                    "who": "GLOBEX\\ops",
                    "action": "Modified",
                    "object_type": "volume",
                    "what": "D:",
                    "when": Utc::now().to_rfc3339(),
                    "where": "fs01.globex.example"
                }]
            }),
        )
        .await;
    }

    fn tickets_of(&self, company: i64) -> Vec<Value> {
        self.cw
            .state()
            .tickets()
            .into_iter()
            .filter(|ticket| ticket["company"]["id"] == company)
            .collect()
    }

    /// The ticket's description (its first note).
    fn description(&self, ticket: &Value) -> String {
        let notes = self.cw.state().notes(ticket["id"].as_i64().unwrap());
        notes
            .first()
            .and_then(|note| note["text"].as_str())
            .unwrap_or_default()
            .to_string()
    }

    async fn store(&self) -> Arc<dyn Store> {
        mspbridge_store::open_store(&format!(
            "sqlite://{}",
            self.dir.path().join("mspbridge.db").display()
        ))
        .await
        .unwrap()
    }

    async fn enriching(&self) -> u64 {
        let store = self.store().await;
        let count = store.count_alerts(AlertState::Enriching).await.unwrap();
        store.close().await;
        count
    }

    /// Waits for Globex's ticket while Auditor still fails, then checks that every Acme alert is
    /// still waiting for its record and none has a ticket: the working source was not held up.
    async fn globex_goes_first(&self) {
        self.send_globex_alert().await;
        let globex = wait_for(DEADLINE, || async {
            self.tickets_of(GLOBEX_COMPANY).len() == 1
        })
        .await;
        assert!(
            globex,
            "Globex's ticket did not come; see {}",
            self.log.display()
        );
        assert!(
            self.tickets_of(ACME_COMPANY).is_empty(),
            "an Acme ticket was opened without its record"
        );
        assert_eq!(
            self.enriching().await,
            ACME_ALERTS.len() as u64,
            "the Acme alerts wait for their records"
        );
    }

    /// Every Acme alert has its ticket, each with its record: no blank field.
    async fn every_acme_ticket_has_its_record(&self) {
        let all = wait_for(DEADLINE, || async {
            self.tickets_of(ACME_COMPANY).len() == ACME_ALERTS.len()
        })
        .await;
        assert!(
            all,
            "the Acme tickets did not come; see {}",
            self.log.display()
        );
        for (name, who) in ACME_ALERTS {
            let ticket = self
                .tickets_of(ACME_COMPANY)
                .into_iter()
                .find(|ticket| ticket["summary"] == format!("[mspbridge] {name}"))
                .unwrap_or_else(|| panic!("no ticket for {name}"));
            let description = self.description(&ticket);
            assert!(
                description.contains(&format!("Who: {who}\n")),
                "{description}"
            );
            assert_no_blank_field(&description);
            assert!(
                !description.contains("could not be fetched"),
                "{description}"
            );
        }
        assert_eq!(self.enriching().await, 0);
    }

    fn stop(mut self) {
        stop_gracefully(self.serve.take().unwrap());
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        if let Some(mut serve) = self.serve.take() {
            serve.kill().ok();
            serve.wait().ok();
        }
    }
}

fn assert_no_blank_field(description: &str) {
    for field in ["Who:", "Action:"] {
        let line = description
            .lines()
            .find(|line| line.starts_with(field))
            .unwrap_or_else(|| panic!("no {field} line in {description}"));
        assert!(
            !line[field.len()..].trim().is_empty(),
            "blank {field} in {description}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auditor_busy_four_times_in_a_row_then_every_ticket_has_its_record() {
    let records = acme_records();
    let auditor = auditor_on(loopback(0), records.clone(), None).await;
    auditor.faults().push_times(AuditorFault::ServiceBusy, 4);
    let bridge = Bridge::start(auditor.base_url(), "").await;
    bridge.send_acme_alerts(&records).await;
    bridge.send_globex_alert().await;
    bridge.every_acme_ticket_has_its_record().await;
    assert_eq!(bridge.tickets_of(GLOBEX_COMPANY).len(), 1);
    let busy = auditor
        .requests()
        .iter()
        .filter(|request| request.path.contains("activity_records"))
        .count();
    assert!(
        busy > 4,
        "the four 503s were answered and then the records fetched: {busy}"
    );
    bridge.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_auditor_outage_delays_no_other_client_and_loses_no_record() {
    let outage = outage();
    println!("Auditor outage of {outage:?} (MSPBRIDGE_FAULT_OUTAGE_SECS)");
    let records = acme_records();
    let auditor = auditor_on(loopback(0), records.clone(), None).await;
    auditor.faults().set_always(Some(AuditorFault::ServiceBusy));
    let down_since = std::time::Instant::now();
    let bridge = Bridge::start(auditor.base_url(), "").await;
    bridge.send_acme_alerts(&records).await;
    bridge.globex_goes_first().await;
    tokio::time::sleep(outage.saturating_sub(down_since.elapsed())).await;
    assert!(
        bridge.tickets_of(ACME_COMPANY).is_empty(),
        "no Acme ticket during the outage"
    );
    auditor.faults().clear();
    bridge.every_acme_ticket_has_its_record().await;
    bridge.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auditor_refusing_connections_then_started_on_the_same_port() {
    let records = acme_records();
    let port = free_port();
    let bridge = Bridge::start(&format!("http://127.0.0.1:{port}"), "").await;
    bridge.send_acme_alerts(&records).await;
    bridge.globex_goes_first().await;
    let auditor = auditor_on(loopback(port), records, None).await;
    bridge.every_acme_ticket_has_its_record().await;
    assert!(!auditor.requests().is_empty());
    bridge.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_that_fails_the_pin_then_the_pinned_one_again() {
    let records = acme_records();
    // Auditor's own certificate, which the source pins.
    let pinned = auditor_on(
        loopback(0),
        Vec::new(),
        Some(AuditorSimTls::self_signed_localhost()),
    )
    .await;
    let pin = pinned.certificate_sha256_hex().unwrap();
    let identity = pinned.tls_identity().unwrap();
    pinned.shutdown().await;
    // Another certificate on Auditor's address: the pin refuses it.
    let wrong = auditor_on(
        loopback(0),
        records.clone(),
        Some(AuditorSimTls::self_signed_localhost()),
    )
    .await;
    assert_ne!(wrong.certificate_sha256_hex().unwrap(), pin);
    let addr = wrong.local_addr();
    let bridge = Bridge::start(
        &format!("https://127.0.0.1:{}", addr.port()),
        &format!("tls_certificate_sha256 = \"{pin}\""),
    )
    .await;
    bridge.send_acme_alerts(&records).await;
    bridge.globex_goes_first().await;
    assert!(
        wrong.requests().is_empty(),
        "no request was sent over the connection that failed the pin"
    );
    wrong.shutdown().await;
    let right = auditor_on(addr, records, Some(identity)).await;
    bridge.every_acme_ticket_has_its_record().await;
    assert!(!right.requests().is_empty());
    bridge.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_enrich_give_up_the_ticket_says_why_the_record_is_missing() {
    let records = acme_records();
    let auditor = auditor_on(loopback(0), records.clone(), None).await;
    auditor.faults().set_always(Some(AuditorFault::ServiceBusy));
    let bridge = Bridge::start(auditor.base_url(), "enrich_give_up = \"2s\"").await;
    bridge.send_acme_alerts(&records[..1]).await;
    let given_up = wait_for(DEADLINE, || async {
        !bridge.tickets_of(ACME_COMPANY).is_empty()
    })
    .await;
    assert!(
        given_up,
        "no ticket after enrich_give_up; see {}",
        bridge.log.display()
    );
    let ticket = bridge.tickets_of(ACME_COMPANY).remove(0);
    let description = bridge.description(&ticket);
    let rid = records[0].rid.as_deref().unwrap();
    assert!(
        description.contains(&format!(
            "The activity record {rid} could not be fetched from Netwrix Auditor"
        )),
        "{description}"
    );
    assert!(description.contains("503"), "{description}");
    assert_no_blank_field(&description);
    bridge.stop();
}
