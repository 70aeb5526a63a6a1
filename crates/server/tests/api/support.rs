//! `spawn_app()`: a real service on port 0 with a temporary database, the simulators it talks
//! to, and small HTTP helpers.

use std::net::SocketAddr;

use mspbridge_core::config;
use mspbridge_server::service::{Service, ServiceOptions};
use mspbridge_simulators::auditor::{self, AuditorSimConfig, AuditorSimulator};
use mspbridge_simulators::connectwise::{self, ConnectWiseSimulator, SimulatorConfig};
use mspbridge_store::{AlertFilter, Store};
use serde_json::Value;

pub const TOKEN: &str = "intake-token-4f1b9c0d7e";
pub const OTHER_TOKEN: &str = "second-token-aa81";
pub const AUDITOR_PASSWORD: &str = "auditor-pw-77aa";
pub const MAX_BODY_BYTES: usize = 16 * 1024;

pub struct TestApp {
    pub service: Option<Service>,
    pub base_url: String,
    pub http: reqwest::Client,
    pub _connectwise: ConnectWiseSimulator,
    pub _auditor: AuditorSimulator,
    pub _dir: tempfile::TempDir,
}

impl TestApp {
    pub fn store(&self) -> std::sync::Arc<dyn Store> {
        self.service.as_ref().unwrap().store()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// POSTs `body` (raw text) with the intake token.
    pub async fn post_raw(&self, path: &str, body: impl Into<reqwest::Body>) -> reqwest::Response {
        self.http
            .post(self.url(path))
            .bearer_auth(TOKEN)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        let response = self.post_raw(path, body.to_string()).await;
        status_and_json(response).await
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        let response = self
            .http
            .get(self.url(path))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        status_and_json(response).await
    }

    /// Every stored alert, ascending id.
    pub async fn stored_alerts(&self) -> Vec<mspbridge_store::Alert> {
        self.store()
            .list_alerts(AlertFilter::default(), 1000)
            .await
            .unwrap()
    }

    pub async fn stop(mut self) {
        self.service.take().unwrap().shutdown().await.unwrap();
    }
}

pub async fn status_and_json(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let json = serde_json::from_str(&text)
        .unwrap_or_else(|error| panic!("status {status}: body is not JSON ({error}): {text}"));
    (status, json)
}

/// Asserts the one error shape and returns (code, message).
pub fn error_of(body: &Value) -> (String, String) {
    let error = &body["error"];
    let code = error["code"]
        .as_str()
        .unwrap_or_else(|| panic!("no error.code in {body}"));
    let message = error["message"]
        .as_str()
        .unwrap_or_else(|| panic!("no error.message in {body}"));
    assert_eq!(body.as_object().unwrap().len(), 1, "{body}");
    (code.to_string(), message.to_string())
}

pub fn config_text(dir: &std::path::Path, connectwise: &str, auditor: &str) -> String {
    let cw = SimulatorConfig::default();
    format!(
        r#"
[server]
database = "sqlite://{db}"
api_tokens = ["{TOKEN}", "{OTHER_TOKEN}"]
max_body_bytes = {MAX_BODY_BYTES}
missing_attachments_dir = "{missing}"

[connectwise]
site = "{connectwise}"
company_id = "{company}"
public_key = "{public}"
private_key = "{private}"
client_id = "mspbridge-tests"

[connectwise.ticket]
company_id = 250
board_id = 3

[[sources]]
name = "auditor-acme"
kind = "netwrix-auditor"
url = "{auditor}"
username = "ACME\\svc-mspbridge"
password = "{AUDITOR_PASSWORD}"
client = "Acme"

[[sources]]
name = "hooks"
kind = "webhook"

[[sources]]
name = "prometheus"
kind = "alertmanager"
client = "Globex"

[[clients]]
name = "Acme"
email = "it@acme.example"
connectwise = {{ company_id = 250, board_id = 3, team_id = 26 }}

[[clients]]
name = "Globex"
email = "security@globex.example"
"#,
        db = dir.join("mspbridge.db").display(),
        missing = dir.join("missing").display(),
        company = cw.company_id,
        public = cw.public_key,
        private = cw.private_key,
    )
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(None).await
}

/// The app with `server.intake_rate_limit = rate` when given (e.g. `"2/1h"`).
pub async fn spawn_app_with(rate: Option<&str>) -> TestApp {
    let loopback: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let connectwise = connectwise::spawn(SimulatorConfig::default(), loopback)
        .await
        .unwrap();
    let auditor = auditor::spawn(
        AuditorSimConfig::new("ACME\\svc-mspbridge", AUDITOR_PASSWORD),
        loopback,
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut text = config_text(dir.path(), &connectwise.base_url(), auditor.base_url());
    if let Some(rate) = rate {
        text = text.replacen(
            "[server]\n",
            &format!("[server]\nintake_rate_limit = \"{rate}\"\n"),
            1,
        );
    }
    let config = config::parse_str(&text, "test.toml").unwrap();
    let mut options = ServiceOptions::new("tests-host");
    options.listen = Some(loopback);
    let service = Service::start(config.clone(), options).await.unwrap();
    TestApp {
        base_url: service.base_url(),
        service: Some(service),
        http: reqwest::Client::new(),

        _connectwise: connectwise,
        _auditor: auditor,
        _dir: dir,
    }
}
