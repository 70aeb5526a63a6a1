//! A real Prometheus Alertmanager as the sender: one receiver pointed at `serve`'s Alertmanager
//! intake, two clients routed by a `customer` label onto their own ConnectWise companies, a
//! severity map, a group of three instances and the intake rate limit.
//!
//! Alertmanager (Debian's `prometheus-alertmanager`, installed by `scripts/test`) is started here
//! on a free loopback port with its own config and storage in a temporary directory and clustering
//! off; alerts are posted to its API and everything it delivers is checked in the ConnectWise
//! simulator. Outcomes are polled for with a deadline.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::Utc;
use mspbridge_core::config;
use mspbridge_server::service::{Service, ServiceOptions};
use mspbridge_simulators::connectwise::{self, ConnectWiseSimulator, SimulatorConfig};
use serde_json::{json, Value};

const TOKEN: &str = "am-intake-token-5c2e";
const DEADLINE: Duration = Duration::from_secs(40);

/// The Alertmanager binary: `MSPBRIDGE_ALERTMANAGER` or Debian's path.
fn alertmanager_binary() -> PathBuf {
    let path = std::env::var_os("MSPBRIDGE_ALERTMANAGER")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/prometheus-alertmanager"));
    assert!(
        path.exists(),
        "{} is missing: install Debian's prometheus-alertmanager (scripts/test does) or set \
         MSPBRIDGE_ALERTMANAGER",
        path.display()
    );
    path
}

/// Alertmanager as a child process, killed when dropped.
struct Alertmanager {
    child: Child,
    url: String,
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

async fn start_alertmanager(dir: &Path, webhook: &str) -> Alertmanager {
    let config = format!(
        r#"
global:
  resolve_timeout: 10s
route:
  receiver: mspbridge
  group_by: ['alertname', 'customer']
  group_wait: 1s
  group_interval: 2s
  repeat_interval: 1h
receivers:
  - name: mspbridge
    webhook_configs:
      - url: "{webhook}"
        send_resolved: true
        http_config:
          authorization:
            type: Bearer
            credentials: "{TOKEN}"
"#
    );
    let config_path = dir.join("alertmanager.yml");
    std::fs::write(&config_path, config).unwrap();
    let storage = dir.join("alertmanager-data");
    std::fs::create_dir_all(&storage).unwrap();
    let port = free_port();
    let child = Command::new(alertmanager_binary())
        .arg(format!("--config.file={}", config_path.display()))
        .arg(format!("--storage.path={}", storage.display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg(format!("--web.external-url=http://127.0.0.1:{port}"))
        .arg("--cluster.listen-address=")
        .arg("--log.level=warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("starting Alertmanager");
    let alertmanager = Alertmanager {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    let http = reqwest::Client::new();
    let ready = format!("{}/-/ready", alertmanager.url);
    wait_for("Alertmanager to be ready", || async {
        http.get(&ready)
            .send()
            .await
            .ok()
            .filter(|response| response.status().is_success())
            .map(|_| ())
    })
    .await;
    alertmanager
}

/// Polls `check` until it gives a value, failing after [`DEADLINE`].
async fn wait_for<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let started = Instant::now();
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(started.elapsed() < DEADLINE, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn config_text(dir: &Path, cw: &ConnectWiseSimulator) -> String {
    let sim = SimulatorConfig::default();
    format!(
        r#"
[server]
database = "sqlite://{db}"
api_tokens = ["{TOKEN}"]
intake_rate_limit = "1/2s"

[connectwise]
site = "{site}"
company_id = "{company}"
public_key = "{public}"
private_key = "{private}"
client_id = "mspbridge-tests"

[connectwise.ticket]
company_id = 42
board_id = 3
priority_id = 4
summary = "%AlertName% (%Label:customer%)"
description = "%Annotation:summary%\n%Labels%"

[rules]
consolidation_interval = 0

[[sources]]
name = "prom"
kind = "alertmanager"
close_on_resolve = "Completed"

[[clients]]
name = "Acme Corporation"
aliases = ["acme"]
connectwise = {{ company_id = 250 }}

[[clients]]
name = "Globex Corporation"
aliases = ["globex"]
connectwise = {{ company_id = 251 }}

[[routes]]
name = "customer-label"
match = {{ source = "prom", labels.customer = {{ exists = true }} }}
client_from = "labels.customer"
severity_map.critical = {{ priority_id = 8, severity = "High", impact = "High" }}
"#,
        db = dir.join("mspbridge.db").display(),
        site = cw.base_url(),
        company = sim.company_id,
        public = sim.public_key,
        private = sim.private_key,
    )
}

fn am_alert(customer: &str, name: &str, instance: &str, severity: &str, ends_in: i64) -> Value {
    let now = Utc::now();
    json!({
        "labels": {"alertname": name, "customer": customer, "instance": instance,
                   "severity": severity, "job": "node"},
        "annotations": {"summary": format!("{name} on {instance}")},
        "endsAt": (now + chrono::Duration::seconds(ends_in)).to_rfc3339(),
        "generatorURL": format!("http://prometheus.example/graph?g0.expr={name}"),
    })
}

async fn post_alerts(http: &reqwest::Client, alertmanager: &Alertmanager, alerts: Value) {
    let response = http
        .post(format!("{}/api/v2/alerts", alertmanager.url))
        .json(&alerts)
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
}

fn ticket_of_company(cw: &ConnectWiseSimulator, company: i64) -> Option<Value> {
    cw.state()
        .tickets()
        .into_iter()
        .find(|ticket| ticket["company"]["id"].as_i64() == Some(company))
}

fn notes_text(cw: &ConnectWiseSimulator, ticket_id: i64) -> Vec<String> {
    cw.state()
        .notes(ticket_id)
        .iter()
        .filter_map(|note| note["text"].as_str().map(str::to_string))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_alertmanager_routes_groups_and_resolves_through_serve() {
    let loopback: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let cw = connectwise::spawn(SimulatorConfig::default(), loopback)
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = config::parse_str(&config_text(dir.path(), &cw), "test.toml").unwrap();
    let mut options = ServiceOptions::new("tests-host");
    options.listen = Some(loopback);
    let service = Service::start(config, options).await.unwrap();
    let webhook = format!(
        "{}/api/v1/alerts/alertmanager?source=prom",
        service.base_url()
    );
    let alertmanager = start_alertmanager(dir.path(), &webhook).await;
    let http = reqwest::Client::new();

    // Two groups at once (one per customer): two notifications within the rate limit's 2 s, so
    // one of them is answered 503 and Alertmanager delivers it again.
    post_alerts(
        &http,
        &alertmanager,
        json!([
            am_alert("acme", "HighLoad", "web-1:9100", "critical", 3600),
            am_alert("acme", "HighLoad", "web-2:9100", "critical", 3600),
            am_alert("acme", "HighLoad", "web-3:9100", "critical", 3600),
            am_alert("globex", "DiskFull", "db-1:9100", "warning", 3600),
        ]),
    )
    .await;

    let acme = wait_for("the Acme ticket", || async { ticket_of_company(&cw, 250) }).await;
    let globex = wait_for("the Globex ticket", || async {
        ticket_of_company(&cw, 251)
    })
    .await;
    assert_eq!(acme["summary"], "HighLoad (acme)");
    assert_eq!(
        acme["priority"]["id"], 8,
        "critical maps to priority 1: {acme}"
    );
    assert_eq!(acme["severity"], "High");
    assert_eq!(acme["impact"], "High");
    assert_eq!(globex["summary"], "DiskFull (globex)");
    assert_eq!(
        globex["priority"]["id"], 4,
        "warning is not mapped: {globex}"
    );
    let acme_id = acme["id"].as_i64().unwrap();
    // ConnectWise keeps the initial description as the ticket's first note.
    let description = wait_for("the description", || async {
        notes_text(&cw, acme_id)
            .into_iter()
            .find(|note| note.contains("Instances:"))
    })
    .await;
    for expected in [
        "customer=acme",
        "Instances: web-1:9100, web-2:9100, web-3:9100",
        "Source: http://prometheus.example/graph",
        &format!("Silence: {}/#/silences/new?filter=", alertmanager.url),
    ] {
        assert!(
            description.contains(expected),
            "{expected:?} in {description}"
        );
    }
    assert_eq!(cw.state().tickets().len(), 2, "one ticket per group");

    // The instances that joined the ticket are named in its notes.
    wait_for("notes naming the instances that joined", || async {
        let updates: Vec<String> = notes_text(&cw, acme_id)
            .into_iter()
            .filter(|note| note.contains("more \"HighLoad\" alert"))
            .collect();
        let joined = updates.join("\n");
        let named = updates.len() == 2
            || ["web-2:9100", "web-3:9100", "web-1:9100"]
                .iter()
                .filter(|instance| joined.contains(*instance))
                .count()
                == 2;
        named.then_some(())
    })
    .await;
    let notes_before = notes_text(&cw, acme_id);
    assert!(
        notes_before.iter().all(|note| !note.contains("Resolved")),
        "{notes_before:?}"
    );

    // Two of three resolve: no resolve note yet.
    post_alerts(
        &http,
        &alertmanager,
        json!([
            am_alert("acme", "HighLoad", "web-1:9100", "critical", -1),
            am_alert("acme", "HighLoad", "web-2:9100", "critical", -1),
        ]),
    )
    .await;
    let store = service.store();
    wait_for("the two resolutions to be processed", || async {
        let alerts = store
            .list_alerts(mspbridge_store::AlertFilter::default(), 100)
            .await
            .unwrap();
        let resolved = alerts
            .iter()
            .filter(|alert| alert.source_alert_id.ends_with("/resolved"))
            .filter(|alert| alert.state != mspbridge_store::AlertState::Queued)
            .count();
        (resolved == 2).then_some(())
    })
    .await;
    let resolved_notes = |cw: &ConnectWiseSimulator| {
        notes_text(cw, acme_id)
            .into_iter()
            .filter(|note| note.contains("Resolved"))
            .collect::<Vec<_>>()
    };
    assert!(resolved_notes(&cw).is_empty(), "{:?}", resolved_notes(&cw));

    // The last one resolves: one note naming all three, and the ticket is completed.
    post_alerts(
        &http,
        &alertmanager,
        json!([am_alert("acme", "HighLoad", "web-3:9100", "critical", -1)]),
    )
    .await;
    let note = wait_for("the resolve note", || async {
        resolved_notes(&cw).into_iter().next()
    })
    .await;
    for instance in ["web-1:9100", "web-2:9100", "web-3:9100"] {
        assert!(note.contains(instance), "{instance} in {note}");
    }
    wait_for("the ticket to be completed", || async {
        let ticket = cw.state().ticket(acme_id)?;
        (ticket["status"]["name"] == "Completed").then_some(())
    })
    .await;
    assert_eq!(resolved_notes(&cw).len(), 1);
    assert!(ticket_of_company(&cw, 250).is_some());
    assert_eq!(cw.state().tickets().len(), 2);

    // The ticket's event says which route matched.
    let created = store
        .list_events(mspbridge_store::EventFilter {
            code: Some(mspbridge_core::events::TICKET_CREATED),
            ..mspbridge_store::EventFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(created.len(), 2);
    for event in &created {
        assert_eq!(event.details["route"], "customer-label", "{event:?}");
        assert!(
            event.message.contains("(route \"customer-label\")"),
            "{}",
            event.message
        );
    }

    // The alerts API says which route each alert took.
    let listed: Value = http
        .get(format!("{}/api/v1/alerts", service.base_url()))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let listed = listed
        .as_array()
        .or_else(|| listed["alerts"].as_array())
        .cloned()
        .unwrap_or_else(|| panic!("no alerts in {listed}"));
    assert!(!listed.is_empty());
    for alert in &listed {
        assert_eq!(alert["route"], "customer-label", "{alert}");
    }

    // At least one delivery was refused with 503 and still landed (both tickets exist).
    let metrics = http
        .get(format!("{}/metrics", service.base_url()))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let limited: f64 = metrics
        .lines()
        .find(|line| line.starts_with("mspbridge_intake_rate_limited_total"))
        .and_then(|line| line.split_whitespace().last())
        .and_then(|value| value.parse().ok())
        .unwrap_or(0.0);
    assert!(limited >= 1.0, "no delivery was rate limited:\n{metrics}");

    drop(alertmanager);
    service.shutdown().await.unwrap();
}
