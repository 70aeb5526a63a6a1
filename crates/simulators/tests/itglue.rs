//! Behaviour of the IT Glue simulator over real HTTP on loopback, one test per F-behaviour of the
//! IT Glue notes (F1–F27), plus seeding and fault injection.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use chrono::{TimeZone, Utc};
use mspbridge_simulators::itglue::{
    self, FaultKind, FaultRule, ItGlueSeed, ItGlueSimConfig, ItGlueSimulator, ManualClock,
    RateLimit, TraitValue,
};
use reqwest::header::CONTENT_TYPE;
use reqwest::Method;
use serde_json::{json, Value};

#[path = "itglue/asset_types.rs"]
mod asset_types;
#[path = "itglue/assets.rs"]
mod assets;
#[path = "itglue/documents.rs"]
mod documents;
#[path = "itglue/files.rs"]
mod files;
#[path = "itglue/operations.rs"]
mod operations;
#[path = "itglue/records.rs"]
mod records;
#[path = "itglue/transport.rs"]
mod transport;

const KEY: &str = "ITG.test0123456789abcdef";
const JSONAPI: &str = "application/vnd.api+json";

struct Sim {
    sim: ItGlueSimulator,
    http: reqwest::Client,
}

struct Reply {
    status: u16,
    content_type: String,
    headers: reqwest::header::HeaderMap,
    text: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|e| panic!("response is not JSON ({e}): {}", self.text))
    }
}

async fn start() -> Sim {
    start_with(|_| {}).await
}

async fn start_with(adjust: impl FnOnce(&mut ItGlueSimConfig)) -> Sim {
    let mut config = ItGlueSimConfig::demo(KEY);
    adjust(&mut config);
    let sim = itglue::spawn(config, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("simulator starts");
    Sim {
        sim,
        http: reqwest::Client::new(),
    }
}

impl Sim {
    fn url(&self, path: &str) -> String {
        format!("{}{}", self.sim.base_url(), path)
    }

    async fn raw(&self, request: reqwest::RequestBuilder) -> Reply {
        let response = request.send().await.expect("request reaches the simulator");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let content_type = headers
            .get(CONTENT_TYPE)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let text = response.text().await.unwrap();
        Reply {
            status,
            content_type,
            headers,
            text,
        }
    }

    async fn get(&self, path: &str) -> Reply {
        self.raw(self.http.get(self.url(path)).header("x-api-key", KEY))
            .await
    }

    async fn send(&self, method: Method, path: &str, body: &Value) -> Reply {
        self.raw(
            self.http
                .request(method, self.url(path))
                .header("x-api-key", KEY)
                .header(CONTENT_TYPE, JSONAPI)
                .body(body.to_string()),
        )
        .await
    }

    async fn post(&self, path: &str, body: &Value) -> Reply {
        self.send(Method::POST, path, body).await
    }

    async fn patch(&self, path: &str, body: &Value) -> Reply {
        self.send(Method::PATCH, path, body).await
    }

    /// POST /flexible_assets with the given attributes.
    async fn post_asset(&self, attrs: Value) -> Reply {
        let body = json!({"data": {"type": "flexible_assets", "attributes": attrs}});
        self.post("/flexible_assets", &body).await
    }

    /// Creates the product's report type and returns its id.
    async fn create_report_type(&self) -> i64 {
        let reply = self
            .post(
                "/flexible_asset_types",
                &report_type_body("Security Report"),
            )
            .await;
        assert_eq!(reply.status, 201, "{}", reply.text);
        id_of(&reply.json()["data"])
    }

    /// Creates a report asset in Acme and returns its id.
    async fn create_report(&self, type_id: i64, name: &str, file: &[u8]) -> i64 {
        let reply = self
            .post(
                "/flexible_assets",
                &json!({"data": {"type": "flexible-assets", "attributes": {
                "organization-id": 10, "flexible-asset-type-id": type_id,
                "traits": {
                    "report-name": name,
                    "report-generation-date": "2026-11-20",
                    "report-file": {"content": b64(file), "file_name": "report.html"},
                    "expiry-date": "2027-11-20"
                }}}}),
            )
            .await;
        assert_eq!(reply.status, 201, "{}", reply.text);
        id_of(&reply.json()["data"])
    }
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn id_of(resource: &Value) -> i64 {
    resource["id"]
        .as_str()
        .expect("id is a string")
        .parse()
        .unwrap()
}

fn names(doc: &Value) -> Vec<String> {
    doc["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r["attributes"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect()
}

fn report_type_body(name: &str) -> Value {
    json!({"data": {"type": "flexible_asset_types",
    "attributes": {"name": name, "description": "Published by mspbridge", "icon": "file", "show-in-menu": true},
    "relationships": {"flexible-asset-fields": {"data": [
        {"type": "flexible_asset_fields", "attributes": {"order": 1, "name": "Report Name", "kind": "Text", "required": true, "show-in-list": true, "use-for-title": true}},
        {"type": "flexible_asset_fields", "attributes": {"order": 2, "name": "Report Generation Date", "kind": "Date", "required": true, "show-in-list": true}},
        {"type": "flexible_asset_fields", "attributes": {"order": 3, "name": "Report File", "kind": "Upload", "required": false, "show-in-list": false}},
        {"type": "flexible_asset_fields", "attributes": {"order": 4, "name": "Expiry Date", "kind": "Date", "required": false, "show-in-list": true, "expiration": true}}
    ]}}}})
}

fn error_titles(doc: &Value) -> Vec<String> {
    doc["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["title"].as_str().unwrap().to_owned())
        .collect()
}
